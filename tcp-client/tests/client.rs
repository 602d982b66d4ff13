//! tcp-client against a real tcp-server (in-process, port 0), against the tutorial's own
//! Python server, and as the process a student runs: messages and exit codes.

// A failed unwrap in a test is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Cursor, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

use common::addr::Endpoint;
use common::frame::{Framing, DEFAULT_MAX_FRAME};
use common::server::{Background, Limits, Summary};
use common::testing::{available, run, workspace_root, ServerProcess};
use tcp_client::load::{self, LoadOptions};
use tcp_client::tutorial::run_check;
use tcp_client::{run_interactive, run_session, tutorial_messages, Options};

const BIN: &str = env!("CARGO_BIN_EXE_tcp-client");
const LIMIT: Duration = Duration::from_secs(30);

fn start(config: tcp_server::Config) -> Background<Summary> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    tcp_server::spawn(listener, config, Limits::default()).unwrap()
}

fn server(framing: Framing) -> Background<Summary> {
    start(tcp_server::Config {
        framing,
        quiet: true,
        ..Default::default()
    })
}

fn options(addr: SocketAddr, framing: Framing) -> Options {
    Options {
        addr: Endpoint::parse(&addr.to_string()).unwrap(),
        framing,
        max_frame: DEFAULT_MAX_FRAME,
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        trace: false,
        quiet: true,
        deadline: None,
        tcp_info: false,
    }
}

fn texts(transcript: &[Vec<u8>]) -> Vec<String> {
    transcript
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

#[test]
fn plays_the_tutorials_session_in_every_real_framing() {
    for framing in [Framing::Line, Framing::Length] {
        let s = server(framing);
        let got = run_session(&options(s.addr, framing), &tutorial_messages(), false).unwrap();
        assert_eq!(
            texts(&got),
            ["Hello!", "hello,li", "hello,bo", "hello,ca"],
            "{framing}"
        );
        let summary = s.stop().unwrap();
        assert_eq!(summary.closed[0], 1, "the server closed on exit: {summary}");
    }
}

#[test]
fn burst_with_framing_keeps_every_message() {
    let s = server(Framing::Line);
    let got = run_session(&options(s.addr, Framing::Line), &tutorial_messages(), true).unwrap();
    assert_eq!(texts(&got), ["Hello!", "hello,li", "hello,bo", "hello,ca"]);
    s.stop().unwrap();
}

#[test]
fn burst_without_framing_keeps_the_bytes_but_not_the_boundaries() {
    let s = server(Framing::Raw);
    let got = run_session(&options(s.addr, Framing::Raw), &tutorial_messages(), true).unwrap();
    assert_eq!(got[0], b"Hello!");
    // However the reads fell, every byte is there in order; how many replies there were
    // depends on timing (often fewer than three: merged messages).
    let rest: Vec<u8> = got[1..].concat();
    let text = String::from_utf8(rest).unwrap();
    let replies = text.matches("hello,").count();
    assert!((1..=4).contains(&replies), "{text}");
    assert!(text.replace("hello,", "").starts_with("liboca"), "{text}");
    s.stop().unwrap();
}

#[test]
fn interactive_sends_each_line_and_ends_at_end_of_input() {
    let s = server(Framing::Line);
    let mut input = Cursor::new(b"li\r\nbo\n\nca".to_vec());
    let got = run_interactive(&options(s.addr, Framing::Line), &mut input).unwrap();
    assert_eq!(
        texts(&got),
        ["Hello!", "hello,li", "hello,bo", "hello,", "hello,ca"]
    );
    let summary = s.stop().unwrap();
    assert_eq!(
        summary.closed[1], 1,
        "ended by our end of stream: {summary}"
    );
}

#[test]
fn check_passes_a_good_server_and_fails_a_wrong_one() {
    let good = server(Framing::Line);
    let steps = run_check(&options(good.addr, Framing::Line)).unwrap();
    assert_eq!(steps.len(), 5);
    assert!(steps.iter().all(|s| s.ok), "{steps:?}");
    good.stop().unwrap();

    let wrong = start(tcp_server::Config {
        reply_prefix: "hi,".into(),
        quiet: true,
        ..Default::default()
    });
    let steps = run_check(&options(wrong.addr, Framing::Line)).unwrap();
    assert!(steps[0].ok);
    assert!(!steps[1].ok);
    assert_eq!(steps[1].expected, "\"hello,li\"");
    assert_eq!(steps[1].got, "\"hi,li\"");
    wrong.stop().unwrap();
}

#[test]
fn load_counts_every_round_trip() {
    let s = server(Framing::Line);
    let report = load::run(
        &options(s.addr, Framing::Line),
        LoadOptions {
            connections: 8,
            count: 50,
            payload: 32,
        },
    )
    .unwrap();
    assert_eq!(report.connected, 8);
    assert_eq!(report.round_trips, 400);
    assert_eq!(report.errors, 0, "{:?}", report.error_examples);
    assert!(report.latency.p50_us > 0.0 && report.latency.p50_us <= report.latency.p99_us);
    assert!(report.latency.p99_us <= report.latency.max_us);
    assert!(report.round_trips_per_sec > 0.0);
    let summary = s.stop().unwrap();
    assert_eq!(
        summary.closed[0], 8,
        "each load connection said exit: {summary}"
    );
}

#[test]
fn load_reports_failures_instead_of_hiding_them() {
    // Nobody listens: every connection fails, and the report says so.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let report = load::run(
        &options(addr, Framing::Line),
        LoadOptions {
            connections: 3,
            count: 10,
            payload: 8,
        },
    )
    .unwrap();
    assert_eq!(report.connected, 0);
    assert_eq!(report.errors, 3);
    assert!(
        report.error_examples[0].contains("connection refused"),
        "{:?}",
        report.error_examples
    );
}

// ---- the binary ----

/// Our server in `model`, with its defaults but for the scope of the limit per address.
fn with_scope(model: tcp_server::Model, scope: common::addr::LimitScope) -> Background<Summary> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = tcp_server::Config {
        model,
        quiet: true,
        ..Default::default()
    };
    let limits = Limits {
        scope,
        ..Limits::default()
    };
    tcp_server::spawn(listener, config, limits).unwrap()
}

/// A class's first load test: 300 clients from this machine against a server with its
/// defaults, in each model. Loopback is exempt from the limit per address, so every client
/// is served.
#[test]
fn three_hundred_local_clients_are_all_served_by_a_default_server() {
    for model in [tcp_server::Model::Thread, tcp_server::Model::Poll] {
        let s = with_scope(model, common::addr::LimitScope::default());
        // (A generous --timeout, for Wine: see the next test.)
        let (code, out, err) = client(&[
            &s.addr.to_string(),
            "--connections",
            "300",
            "--count",
            "10",
            "--timeout",
            "60",
        ]);
        assert_eq!(code, Some(0), "{model}: {out}{err}");
        for line in [
            "connected:   300 of 300",
            "round trips: 3000 in",
            "refused:     0\n",
            "errors:      0",
        ] {
            assert!(out.contains(line), "{model}: {line:?} in {out}");
        }
        let summary = s.stop().unwrap();
        assert_eq!(summary.refused_per_peer, 0, "{summary}");
    }
}

/// With `--limit-loopback` the same load meets `--max-per-peer`: the clients past it are
/// counted as refused by the server, with its words and the flag that lifts the limit, not
/// as errors, and the run exits 1.
#[test]
fn load_past_the_limit_per_address_counts_refusals_and_names_the_limit() {
    for model in [tcp_server::Model::Thread, tcp_server::Model::Poll] {
        let s = with_scope(model, common::addr::LimitScope::Everyone);
        // A generous --timeout: under Wine, a hundred client threads and the server share
        // one wineserver, and a round trip can take seconds.
        let load = ["--connections", "100", "--count", "3", "--timeout", "60"];
        let addr = s.addr.to_string();
        let (code, out, err) = client(&[&[addr.as_str()][..], &load[..]].concat());
        assert_eq!(code, Some(1), "{model}: {out}{err}");
        for line in [
            "connected:   64 of 100",
            "refused:     36 by the server, which said \"error: server busy\": 64 were served at once, \
             which is tcp-server's default --max-per-peer",
            "--max-per-peer N to raise that, or 0 for no limit",
            "errors:      0",
        ] {
            assert!(out.contains(line), "{model}: {line:?} in {out}");
        }
        let summary = s.stop().unwrap();
        assert_eq!(summary.refused_per_peer, 36, "{summary}");
        // The same as JSON, from a fresh server (the first one's slots may still be on
        // their way back).
        let s = with_scope(model, common::addr::LimitScope::Everyone);
        let addr = s.addr.to_string();
        let (_, json, _) = client(&[&[addr.as_str()][..], &load[..], &["--json"][..]].concat());
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(v["refused_busy"], 36, "{json}");
        assert_eq!(v["errors"], 0, "{json}");
        assert_eq!(v["refusal"], "error: server busy", "{json}");
        s.stop().unwrap();
    }
}

/// A client turned away says so in every mode: refused by the server, with its words,
/// never "closed the connection".
#[test]
fn a_busy_reply_is_reported_as_a_refusal_in_every_mode() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = tcp_server::Config {
        quiet: true,
        ..Default::default()
    };
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let s = tcp_server::spawn(listener, config, limits).unwrap();
    let addr = s.addr.to_string();
    // The one slot, held (greeted, so it is being served).
    let mut held = std::net::TcpStream::connect(s.addr).unwrap();
    let mut greeting = [0u8; 7];
    std::io::Read::read_exact(&mut held, &mut greeting).unwrap();
    let refused = format!(
        "{addr}: refused by the server: \"error: server busy\" (it already serves as many clients"
    );
    for (args, out_has, err_has) in [
        (vec![addr.as_str()], None, Some(refused.as_str())),
        (vec![addr.as_str(), "-i"], None, Some(refused.as_str())),
        (
            vec![addr.as_str(), "--check"],
            Some(format!(
                "FAIL  greeting: expected \"Hello!\", got {refused}"
            )),
            None,
        ),
    ] {
        let (code, out, err) = run(
            Command::new(BIN)
                .args(&args)
                .stdin(std::process::Stdio::null()),
            LIMIT,
        );
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        if let Some(want) = out_has {
            assert!(out.contains(&want), "{args:?}: {out}");
        }
        if let Some(want) = err_has {
            assert!(err.contains(want), "{args:?}: {err}");
        }
        assert!(
            !format!("{out}{err}").contains("closed the connection"),
            "{args:?}: {out}{err}"
        );
    }
    drop(held);
    s.stop().unwrap();
}

fn client(args: &[&str]) -> (Option<i32>, String, String) {
    run(Command::new(BIN).args(args), LIMIT)
}

#[test]
fn tcp_info_is_printed_after_the_last_reply() {
    let s = server(Framing::Line);
    let (code, out, err) = client(&[&s.addr.to_string(), "-q", "--tcp-info"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out, "Hello!\nhello,li\nhello,bo\nhello,ca\n",
        "the replies are unchanged"
    );
    let line = err
        .lines()
        .find(|l| l.starts_with(&format!("tcp-info {}: ", s.addr)))
        .unwrap_or_else(|| panic!("{err}"));
    if cfg!(any(target_os = "linux", target_os = "macos")) {
        assert!(
            line.contains(": rtt ") && line.contains(" cwnd ") && line.contains(" mss "),
            "{line}"
        );
    } else {
        // Windows answers SIO_TCP_INFO from 10 1703 on; Wine does not.
        assert!(
            line.contains(": rtt ") || line.contains("not available on this system"),
            "{line}"
        );
    }
    let (code, _, err) = client(&[
        &s.addr.to_string(),
        "--tcp-info",
        "--connections",
        "2",
        "--count",
        "1",
    ]);
    assert_eq!(code, Some(2), "not with load mode: {err}");
    s.stop().unwrap();
}

#[test]
fn binary_prints_the_greeting_and_replies_on_stdout() {
    let s = server(Framing::Line);
    let (code, out, err) = client(&[&s.addr.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Hello!\nhello,li\nhello,bo\nhello,ca\n");
    assert!(
        err.contains(&format!("<-> peer {}", s.addr)),
        "the 4-tuple on stderr: {err}"
    );
    assert!(err.contains("sent \"li\" (2 bytes)"), "{err}");
    let (code, out, _) = client(&[&s.addr.to_string(), "-q", "one", "two words"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "Hello!\nhello,one\nhello,two words\n");
    s.stop().unwrap();
}

#[test]
fn localhost_names_are_resolved() {
    let s = server(Framing::Line);
    let port = s.addr.port().to_string();
    let (code, out, err) = client(&[&format!("localhost:{port}"), "-q", "hi"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Hello!\nhello,hi\n");
    // A bare port means 127.0.0.1.
    let (code, out, _) = client(&[&port, "-q", "hi"]);
    assert_eq!(code, Some(0));
    assert_eq!(out, "Hello!\nhello,hi\n");
    s.stop().unwrap();
}

#[test]
fn refused_connection_exits_1_and_says_what_to_try() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out, err) = client(&[&port.to_string()]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert_eq!(
        err,
        format!("tcp-client: could not connect to 127.0.0.1:{port}: connection refused (is tcp-server running?)\n")
    );
}

#[test]
fn a_silent_server_times_out_with_a_hint() {
    // The kernel completes the handshake for a listener that never accepts: a server that
    // says nothing.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let (code, _, err) = client(&[&addr, "--timeout", "0.3"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(
            "no greeting: timed out after 0.3 s (--timeout) (is the server slow, or does it not use --framing line too?)"
        ),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for (args, want) in [
        (&["127.0.0.1:99999"][..], "invalid port 99999"),
        (&["[::1"][..], "invalid IPv6 address"),
        (&["9999", "two\nlines"][..], "contains '\\n'"),
        (&["--connections", "3"][..], "--count"),
        (&["-i", "--check"][..], "cannot be used with"),
    ] {
        let (code, out, err) = client(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn trace_shows_every_read_and_write() {
    let s = server(Framing::Length);
    let (code, out, err) = client(&[
        &s.addr.to_string(),
        "--framing",
        "length",
        "--trace",
        "-q",
        "hi",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Hello!\nhello,hi\n");
    // The length header is there to see, byte for byte.
    assert!(
        err.contains("write 6 bytes") && err.contains("00 00 00 02 68 69"),
        "{err}"
    );
    assert!(
        err.contains("read ") && err.contains("00 00 00 06 48 65 6c 6c 6f 21"),
        "{err}"
    );
    s.stop().unwrap();
}

#[test]
fn check_exit_code_grades_the_server() {
    let s = server(Framing::Line);
    let (code, out, _) = client(&[&s.addr.to_string(), "--check"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.ends_with("check passed: 5 of 5 steps passed\n"),
        "{out}"
    );
    s.stop().unwrap();
}

#[test]
fn load_json_is_one_object() {
    let s = server(Framing::Line);
    let (code, out, err) = client(&[
        &s.addr.to_string(),
        "--connections",
        "4",
        "--count",
        "25",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["round_trips"], 100);
    assert_eq!(v["errors"], 0);
    assert!(v["latency"]["p99_us"].as_f64().unwrap() > 0.0);
    s.stop().unwrap();
}

#[test]
fn interactive_reads_stdin() {
    let s = server(Framing::Line);
    // What a student types, fed through a pipe (no shell, so it runs on Windows too).
    let mut child = Command::new(BIN)
        .args(["-q", "-i", &s.addr.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"li\nexit\nnever sent\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello!\nhello,li\n");
    s.stop().unwrap();
}

// ---- the tutorial's own Python server ----

fn python_server() -> Option<ServerProcess> {
    if !available("python3", "python3") {
        return None;
    }
    let mut cmd = Command::new("python3");
    cmd.arg("-u")
        .arg(workspace_root().join("docs/python/tcp.py"))
        .arg("0");
    Some(ServerProcess::start(cmd))
}

#[test]
fn raw_framing_talks_to_the_tutorials_python_server() {
    let Some(py) = python_server() else { return };
    let (code, out, err) = client(&[&py.addr.to_string(), "--framing", "raw", "-q"]);
    assert_eq!(code, Some(0), "{err}");
    // The tutorial's bugs, visible: replies carry Python's b'..', and `exit` is not
    // recognised, so it is answered too (then our end of stream closes the connection).
    assert_eq!(
        out,
        "Hello!\nhello,b'li'\nhello,b'bo'\nhello,b'ca'\nhello,b'exit'\n"
    );
}

#[test]
fn check_fails_the_tutorials_python_server() {
    let Some(py) = python_server() else { return };
    let (code, out, _) = client(&[&py.addr.to_string(), "--framing", "raw", "--check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL  reply to \"li\": expected \"hello,li\", got \"hello,b'li'\""),
        "{out}"
    );
    assert!(out.contains("check FAILED"), "{out}");
}

/// `--generate`: every flag of `--help` is in the man page, and the completions load.
#[test]
fn the_man_page_has_every_flag_and_the_completions_load() {
    common::testing::generate::check(std::path::Path::new(BIN));
}
