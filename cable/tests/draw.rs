//! `cable draw` as a program, on every system (Windows and macOS too: it needs no
//! namespace): a capture written by the cable's own writer, drawn, and the bad inputs
//! answered with a line that names them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use cable::capture::Capture;
use etherparse::PacketBuilder;

const CABLE: &str = env!("CARGO_BIN_EXE_cable");

fn tcp(src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, ack: Option<u32>, syn: bool) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 64240);
    if syn {
        b = b.syn();
    }
    if let Some(a) = ack {
        b = b.ack(a);
    }
    let mut out = Vec::new();
    b.write(&mut out, &[]).unwrap();
    out
}

fn run(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = Command::new(CABLE).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_handshake_is_drawn_in_both_editions_words() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("hs.pcapng");
    let (c, s) = (([10, 99, 0, 2], 40000), ([10, 99, 0, 1], 9999));
    let mut cap = Capture::create(&pcap).unwrap();
    cap.record(Duration::ZERO, &tcp(c, s, 7, None, true), None)
        .unwrap();
    cap.record(
        Duration::from_millis(20),
        &tcp(s, c, 900, Some(8), true),
        Some("dropped: loss"),
    )
    .unwrap();
    cap.record(
        Duration::from_millis(1020),
        &tcp(s, c, 900, Some(8), true),
        Some("retransmission"),
    )
    .unwrap();
    cap.record(
        Duration::from_millis(1040),
        &tcp(c, s, 8, Some(901), false),
        None,
    )
    .unwrap();
    cap.finish().unwrap();
    drop(cap);
    for (lang, word) in [("en", "dropped (loss)"), ("zh-CN", "被丢弃 (loss)")] {
        let svg = dir.path().join(format!("{lang}.svg"));
        let (code, err) = run(&[
            "draw".as_ref(),
            pcap.as_os_str(),
            "-o".as_ref(),
            svg.as_os_str(),
            "--lang".as_ref(),
            lang.as_ref(),
        ]);
        assert_eq!(code, Some(0), "{err}");
        assert!(
            err.contains("connection 1 of 1: 10.99.0.2:40000 <-> 10.99.0.1:9999, 4 segments"),
            "{err}"
        );
        let doc = std::fs::read_to_string(&svg).unwrap();
        assert!(doc.starts_with("<svg"), "{doc}");
        assert!(
            doc.contains(">SYN seq=0<")
                && doc.contains(">SYN, ACK seq=0 ack=1<")
                && doc.contains(">ACK seq=1 ack=1<")
        );
        assert!(doc.contains(word), "{lang}: {doc}");
        assert!(
            doc.contains(">+1020.000 ms<") || doc.contains(">+1.020 s<"),
            "{doc}"
        );
    }
    let graph = dir.path().join("ts.svg");
    let (code, err) = run(&[
        "draw".as_ref(),
        pcap.as_os_str(),
        "--time-seq".as_ref(),
        "-o".as_ref(),
        graph.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(std::fs::read_to_string(&graph)
        .unwrap()
        .contains("Time-sequence graph"));
    // With the sender's cwnd readings (upload send --tcp-info --json), on a second axis.
    let readings = dir.path().join("send.json");
    std::fs::write(
        &readings,
        "{\"tcp_info\":[{\"t\":0.0,\"cwnd_segments\":10},{\"t\":1.0,\"cwnd_segments\":5}]}\n",
    )
    .unwrap();
    let with_cwnd = |readings: &std::path::Path| {
        run(&[
            "draw".as_ref(),
            pcap.as_os_str(),
            "--time-seq".as_ref(),
            "--cwnd".as_ref(),
            readings.as_os_str(),
            "-o".as_ref(),
            graph.as_os_str(),
        ])
    };
    let (code, err) = with_cwnd(&readings);
    assert_eq!(code, Some(0), "{err}");
    assert!(std::fs::read_to_string(&graph)
        .unwrap()
        .contains("cwnd (segments)"));
    std::fs::write(&readings, "not json at all").unwrap();
    let (code, err) = with_cwnd(&readings);
    assert_eq!(code, Some(1));
    assert!(err.contains("send.json: no line with readings"), "{err}");
    let (code, err) = run(&[
        "draw".as_ref(),
        pcap.as_os_str(),
        "--connection".as_ref(),
        "2".as_ref(),
        "-o".as_ref(),
        graph.as_os_str(),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("it has 1 TCP connections; --connection is from 1 to 1"),
        "{err}"
    );
}

#[test]
fn what_is_not_a_capture_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    let out = dir.path().join("x.svg");
    let (code, err) = run(&[
        "draw".as_ref(),
        junk.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is not a pcapng file"), "{err}");
    let (code, err) = run(&[
        "draw".as_ref(),
        dir.path().join("missing.pcapng").as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("cannot open the capture"), "{err}");
    assert!(!out.exists(), "nothing written");
}

/// `--generate`: every flag of `--help` is in the man page, and the completions load.
#[test]
fn the_man_page_has_every_flag_and_the_completions_load() {
    common::testing::generate::check(std::path::Path::new(CABLE));
}
