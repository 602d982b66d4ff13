//! `udp-server` as the process a student runs: its start-up line, usage errors, Ctrl-C,
//! sharing a port number with tcp-server, and real peers (nc, the tutorial's client).

// A failed unwrap in a test is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::testing::{available, run, workspace_root, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_udp-server");
const LIMIT: Duration = Duration::from_secs(20);

fn server(args: &[&str]) -> ServerProcess {
    let mut cmd = Command::new(BIN);
    cmd.arg("127.0.0.1:0").args(args);
    ServerProcess::start(cmd)
}

#[test]
fn start_up_line_names_buffer_handler_and_faults() {
    let s = server(&[
        "--buffer",
        "1024",
        "--handler",
        "thread",
        "--drop",
        "0.3",
        "--seed",
        "5",
    ]);
    let first = &s.stdout()[0];
    for part in [
        "udp-server listening on",
        "UDP; buffer 1024 bytes",
        "handler thread",
        "SO_RCVBUF",
        "drop 0.3",
        "--seed 5",
        "rate limit 1000/s per source, loopback exempt",
    ] {
        assert!(first.contains(part), "{part:?} missing in {first}");
    }
    // Which sources the rate limit covers is said either way.
    let s = server(&["--limit-loopback", "--rate-limit", "50"]);
    let first = &s.stdout()[0];
    assert!(
        first.contains("rate limit 50/s per source, loopback included"),
        "{first}"
    );
}

#[cfg_attr(
    windows,
    ignore = "sends Ctrl-C with kill -INT; the Windows builds' Ctrl-C is checked by .ci/wine.sh"
)]
#[test]
fn logs_each_datagram_and_each_injected_fault_then_summarises_on_ctrl_c() {
    let mut s = server(&["--drop", "1.0", "--seed", "1"]);
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.send_to(b"lost?", s.addr).unwrap();
    let line = s.wait_for_stdout("injected fault", LIMIT);
    assert!(line.contains("injected fault: dropped, no reply"), "{line}");
    assert!(
        s.stdout()
            .iter()
            .any(|l| l.contains("datagram \"lost?\" (5 bytes)")),
        "{:?}",
        s.stdout()
    );
    assert_eq!(s.interrupt().code(), Some(0));
    let last = s.stdout().last().cloned().unwrap_or_default();
    assert!(
        last.contains("summary: 1 datagrams in")
            && last.contains("1 drops")
            && last.contains("kernel drops: 0"),
        "{last}"
    );
}

#[test]
fn runs_beside_tcp_server_on_the_same_port_number() {
    // TCP and UDP ports are separate: tcp-server and udp-server both use port N.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let tcp_shutdown = common::server::Shutdown::new(&listener).unwrap();
    let stop = tcp_shutdown.clone();
    let config = tcp_server::Config {
        quiet: true,
        ..Default::default()
    };
    let tcp = std::thread::spawn(move || {
        tcp_server::serve(listener, config, common::server::Limits::default(), &stop)
    });
    let mut cmd = Command::new(BIN);
    cmd.arg(addr.to_string());
    let s = ServerProcess::start(cmd);
    assert_eq!(s.addr, addr);
    // UDP on port N answers...
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.send_to(b"x", addr).unwrap();
    let mut buf = [0u8; 16];
    let n = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hi!x");
    // ...and so does TCP on port N.
    let mut t = std::net::TcpStream::connect(addr).unwrap();
    t.write_all(b"y\nexit\n").unwrap();
    let mut out = Vec::new();
    t.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"Hello!\nhello,y\n");
    tcp_shutdown.trigger();
    tcp.join().unwrap().unwrap();
}

/// A process that reads nothing while datagrams pour in: its receive queue (SO_RCVBUF)
/// fills and the kernel drops the rest, which the summary reports.
#[cfg(target_os = "linux")]
#[test]
fn a_full_receive_queue_shows_as_kernel_drops() {
    let mut s = server(&["--recv-buffer", "4096", "-q"]);
    let pid = s.child.id().to_string();
    // SIGSTOP: the server stops reading (our own child, by its PID).
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..2000 {
        let _ = c.send_to(&[b'f'; 100], s.addr);
    }
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(s.interrupt().code(), Some(0));
    let last = s.stdout().last().cloned().unwrap_or_default();
    let drops: u64 = last
        .split("kernel drops: ")
        .nth(1)
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or_else(|| panic!("no kernel drops in {last}"));
    assert!(drops > 0, "{last}");
    // Every datagram either reached the program or was counted as dropped.
    let got: u64 = last
        .split("summary: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(got + drops, 2000, "{last}");
}

#[test]
fn trace_dumps_each_datagram_both_ways() {
    let s = server(&["--trace", "-q"]);
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.send_to(b"li", s.addr).unwrap();
    let mut buf = [0u8; 16];
    let n = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hi!li");
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let err = s.stderr().join("\n");
        if err.contains("send 5 bytes") {
            assert!(
                err.contains("recv 2 bytes") && err.contains("6c 69"),
                "{err}"
            );
            assert!(
                err.contains("48 69 21 6c 69") && err.contains("Hi!li"),
                "{err}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no trace: {err}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_taken_udp_port_says_so_and_exits_1() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run(Command::new(BIN).arg(&addr), LIMIT);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with(&format!(
            "udp-server: could not listen on {addr}: address already in use"
        )),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for (args, want) in [
        (&["99999"][..], "invalid port 99999"),
        (
            &["0", "--drop", "1.5"][..],
            "--drop 1.5: a probability must be between 0 and 1",
        ),
        (&["0", "--delay", "50..10"][..], "goes backwards"),
        (
            &["0", "--delay", "soon"][..],
            "not a whole number of milliseconds",
        ),
        (&["0", "--handler", "fork"][..], "invalid value 'fork'"),
        (&["0", "--buffer", "0"][..], "must be at least 1"),
    ] {
        let (code, out, err) = run(Command::new(BIN).args(args), LIMIT);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn nc_is_a_client_too() {
    if !available("nc", "netcat-openbsd") {
        return;
    }
    let s = server(&[]);
    let script = format!(
        "printf 'hello!' | nc -u -w1 {} {}",
        s.addr.ip(),
        s.addr.port()
    );
    let (code, out, err) = run(Command::new("sh").args(["-c", &script]), LIMIT);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Hi!hello!");
}

#[test]
fn the_tutorials_python_client_gets_its_reply() {
    if !available("python3", "python3") {
        return;
    }
    let s = server(&[]);
    let mut cmd = Command::new("python3");
    cmd.arg("-u")
        .arg(workspace_root().join("docs/python/udp_user.py"))
        .arg(s.addr.port().to_string());
    let (code, out, err) = run(&mut cmd, LIMIT);
    assert_eq!(code, Some(0), "{err}");
    // Python prints the bytes object; the reply has no b'..' inside (the tutorial's server would).
    assert_eq!(out, "b'Hi!hello!'\n");
}

/// `--generate`: every flag of `--help` is in the man page, and the completions load.
#[test]
fn the_man_page_has_every_flag_and_the_completions_load() {
    common::testing::generate::check(std::path::Path::new(BIN));
}
