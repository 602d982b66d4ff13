//! Grading a class as a teacher does: 30 servers, ten of them faulty in the ways students'
//! servers are, graded by the binary with its defaults (`--targets`, `--jobs` as it comes,
//! `--report`). Every server gets its own verdict whatever its neighbours do (the correct
//! ones all pass while the faulty ones are stuck), and the whole class is done within the
//! three minutes the grader promises.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::Limits;
use common::testing::run;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-client");
/// What the grader promises for a class of 30.
const CLASS_LIMIT: Duration = Duration::from_secs(180);

/// One of our servers, in-process, with its defaults.
fn ours(model: tcp_server::Model) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = tcp_server::Config {
        model,
        quiet: true,
        ..Default::default()
    };
    let server = tcp_server::spawn(listener, config, Limits::default()).unwrap();
    let addr = server.addr;
    // Runs until the test process ends.
    std::mem::forget(server);
    addr
}

#[test]
fn a_class_of_30_some_faulty_is_graded_in_parallel_within_three_minutes() {
    // (name, address, expected row: "passed 12/12", or the start of its first failure)
    let mut class: Vec<(String, SocketAddr, &str)> = Vec::new();
    for i in 0..8 {
        class.push((
            format!("thread{i}"),
            ours(tcp_server::Model::Thread),
            "passed 12/12",
        ));
        class.push((
            format!("poll{i}"),
            ours(tcp_server::Model::Poll),
            "passed 12/12",
        ));
    }
    for i in 0..2 {
        class.push((
            format!("bytes{i}"),
            support::threaded(support::byte_by_byte),
            "passed 12/12",
        ));
        class.push((
            format!("hello{i}"),
            support::threaded(support::hello),
            "passed 12/12",
        ));
    }
    let greeting = "FAILED  0/12";
    for i in 0..2 {
        class.push((
            format!("one-at-a-time{i}"),
            support::one_at_a_time(),
            "FAILED 10/12",
        ));
        class.push((
            format!("silent{i}"),
            support::threaded(support::never_greets),
            greeting,
        ));
    }
    class.push((
        "mute".into(),
        support::threaded(support::greets_then_silent),
        greeting,
    ));
    class.push((
        "clingy".into(),
        support::threaded(support::never_closes),
        greeting,
    ));
    class.push((
        "resets".into(),
        support::threaded(support::resets),
        greeting,
    ));
    class.push(("dies".into(), support::dies_after(7), "FAILED  3/12"));
    let (full, _filling, _listener) = support::never_accepts();
    class.push(("full".into(), full, "FAILED  0/0"));
    class.push(("absent".into(), support::closed_port(), "FAILED  0/0"));
    assert_eq!(class.len(), 30);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("class.txt");
    let report = dir.path().join("class.html");
    let lines: String = class
        .iter()
        .map(|(name, addr, _)| format!("{name} {addr}\n"))
        .collect();
    std::fs::write(&file, format!("# a class of 30\n{lines}")).unwrap();

    let started = Instant::now();
    let (code, out, err) = run(
        Command::new(BIN).args([
            "--check",
            "--attacks",
            "--targets",
            file.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ]),
        CLASS_LIMIT,
    );
    let took = started.elapsed();
    common::testing::tell(format_args!(
        "class: 30 servers graded in {:.1} s\n{out}{err}",
        took.as_secs_f64()
    ));
    assert_eq!(code, Some(1), "{out}{err}");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 31, "{out}");
    for ((name, _, expected), row) in class.iter().zip(&rows) {
        assert!(
            row.starts_with(&format!("{name} ")) && row.contains(expected),
            "{name}: expected {expected:?} in {row:?}\n{out}"
        );
    }
    let reason = |name: &str| {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("{name} ")))
            .unwrap();
        row.to_string()
    };
    assert!(reason("one-at-a-time0")
        .contains("a silent client does not block the others: while one client said nothing"));
    assert!(reason("silent0").contains("no greeting: timed out after 5 s (--timeout)"));
    assert!(reason("mute").contains("no reply to \"li\": timed out after 5 s (--timeout)"));
    assert!(reason("clingy").contains("no end of stream after exit: timed out after 5 s"));
    // Wine 8's server takes a reset's error off the socket (SO_ERROR) first, so there a
    // read may see end of stream instead; Windows and Linux report the reset.
    let reset = reason("resets");
    assert!(
        reset.contains("connection reset by peer")
            || (cfg!(wine) && reset.contains("end of stream")),
        "{reset}"
    );
    assert!(reason("dies").contains("a message one byte at a time: could not connect"));
    assert!(reason("full").contains("timed out (no answer in 5.0 s"));
    assert!(reason("absent").contains("connection refused"));
    assert_eq!(rows[30], "20 of 30 servers passed the attacks", "{out}");
    assert!(err.contains("graded 30 servers in"), "{err}");

    // The teacher's page: a row for every server, the reasons in it.
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("<tr class=\"passed\">").count(), 20);
    assert_eq!(html.matches("<tr class=\"failed\">").count(), 10);
    assert!(html.contains("<strong>20 of 30</strong> servers passed every step."));
    assert!(html.contains(concat!("by tcp-client ", env!("CARGO_PKG_VERSION"))));
    assert!(html.contains("no greeting: timed out after 5 s (--timeout)"));
}
