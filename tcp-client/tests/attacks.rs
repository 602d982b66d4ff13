//! The grader (`--check --attacks`) on real servers: ours passes; servers with the
//! tutorial's bugs fail, each at the step that shows the bug and with its reason; and a
//! correct server that writes its replies one byte at a time passes (the grader must be
//! right about TCP too).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::addr::LimitScope;
use common::frame::Framing;
use common::server::Limits;
use common::testing::run;
use tcp_client::attacks::{self, Report};

use support::{byte_by_byte, one_read_one_message, options, threaded as toy_server};

const BIN: &str = env!("CARGO_BIN_EXE_tcp-client");
const LIMIT: Duration = Duration::from_secs(120);

fn verdict<'a>(report: &'a Report, step: &str) -> &'a attacks::Verdict {
    report
        .steps
        .iter()
        .find(|s| s.step == step)
        .unwrap_or_else(|| panic!("no step {step:?} in {report:?}"))
}

#[test]
fn our_thread_server_passes_every_step() {
    our_server_passes_every_step(tcp_server::Model::Thread);
}

#[test]
fn our_poll_server_passes_every_step() {
    our_server_passes_every_step(tcp_server::Model::Poll);
}

/// Every attack, against our server in either model: with its defaults (the grader on
/// this machine is exempt from the limit per address), and with `--limit-loopback`, where
/// the flood meets `--max-per-peer` and the server still serves the fresh client.
fn our_server_passes_every_step(model: tcp_server::Model) {
    for scope in [LimitScope::ExceptLoopback, LimitScope::Everyone] {
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
        let server = tcp_server::spawn(listener, config, limits).unwrap();
        let report = attacks::run(&options(server.addr)).unwrap();
        assert!(report.passed, "{scope:?}: {report:#?}");
        assert_eq!(report.steps.len(), 12);
        assert!(
            verdict(&report, "a flood of connections from one address")
                .detail
                .contains("200 connections"),
            "{report:#?}"
        );
        let summary = server.stop().unwrap();
        match scope {
            LimitScope::ExceptLoopback => assert_eq!(summary.refused_per_peer, 0, "{summary}"),
            LimitScope::Everyone => assert!(
                summary.refused_per_peer > 0,
                "the flood met --max-per-peer: {summary}"
            ),
        }
    }
}

#[test]
fn a_correct_server_that_replies_a_byte_at_a_time_passes() {
    let report = attacks::run(&options(toy_server(byte_by_byte))).unwrap();
    assert!(report.passed, "{report:#?}");
}

#[test]
fn taking_one_read_as_one_message_fails_where_tcp_merges_and_splits() {
    let report = attacks::run(&options(toy_server(one_read_one_message))).unwrap();
    assert!(!report.passed);
    assert!(verdict(&report, "the tutorial's session").ok, "{report:#?}");
    let merged = verdict(&report, "several messages in one write");
    // "hello,li\nbo\nca" came back as one reply: its second line is no reply at all.
    assert!(
        !merged.ok && merged.detail.contains(r#"the reply to "bo" was "bo""#),
        "{merged:?}"
    );
    let split = verdict(&report, "a message one byte at a time");
    assert!(!split.ok, "{split:?}");
}

#[test]
fn the_tutorials_python_server_fails_with_the_lessons_reason() {
    let Some(py) = common::testing::tutorial_server("tcp.py", None) else {
        return;
    };
    let mut opts = options(py.addr);
    // Its greeting has no newline: only --framing raw can read it at all.
    opts.framing = Framing::Raw;
    let report = attacks::run(&opts).unwrap();
    assert!(!report.passed);
    let first = verdict(&report, "the tutorial's session");
    assert!(first.detail.contains("hello,b'li'"), "{first:?}");
    assert!(report.steps[1..]
        .iter()
        .all(|s| !s.ok && s.detail.starts_with("not tried")));
}

/// The asyncio port (docs/python/tcp_asyncio.py), one thread for every client as
/// `--model poll`, speaks the protocol correctly: it passes every step, the 50 clients at
/// once and the client that never reads included.
#[test]
fn the_asyncio_port_passes_every_step() {
    let Some(py) = common::testing::tutorial_server("tcp_asyncio.py", None) else {
        return;
    };
    let report = attacks::run(&options(py.addr)).unwrap();
    assert!(report.passed, "{report:#?}");
}

#[test]
fn the_binary_grades_a_class_from_a_targets_file_and_says_so_in_json() {
    let good = toy_server(byte_by_byte);
    let wrong = toy_server(one_read_one_message);
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("class.txt");
    std::fs::write(
        &file,
        format!("# the class\nalice {good}\nbob {wrong}   # merges\ncarol {closed}\n"),
    )
    .unwrap();
    let (code, out, err) = run(
        Command::new(BIN).args([
            "--check",
            "--attacks",
            "--timeout",
            "3",
            "--targets",
            file.to_str().unwrap(),
        ]),
        LIMIT,
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let rows: Vec<&str> = out.lines().collect();
    assert!(
        rows[0].starts_with("alice") && rows[0].contains("passed 12/12"),
        "{out}"
    );
    assert!(
        rows[1].starts_with("bob") && rows[1].contains("FAILED"),
        "{out}"
    );
    assert!(rows[1].contains("several messages in one write"), "{out}");
    assert!(
        rows[2].starts_with("carol") && rows[2].contains("connection refused"),
        "{out}"
    );
    assert_eq!(rows[3], "1 of 3 servers passed the attacks", "{out}");

    // --json with --targets: one object per server, in the file's order.
    std::fs::write(
        &file,
        format!("alice {good}\nbob {wrong}\ncarol {closed}\n"),
    )
    .unwrap();
    let (code, out, err) = run(
        Command::new(BIN).args([
            "--check",
            "--attacks",
            "--timeout",
            "3",
            "--json",
            "--targets",
            file.to_str().unwrap(),
        ]),
        LIMIT,
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let objects: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 3, "{out}");
    assert_eq!(objects[0]["name"], "alice");
    assert_eq!(objects[0]["passed"], true);
    assert_eq!(objects[0]["verdicts"].as_array().unwrap().len(), 12);
    assert_eq!(objects[1]["passed"], false);
    assert!(objects[2]["why"]
        .as_str()
        .unwrap()
        .contains("connection refused"));

    let (code, out, _) = run(
        Command::new(BIN).args([&good.to_string(), "--check", "--attacks", "--json"]),
        LIMIT,
    );
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["steps"].as_array().unwrap().len(), 12);

    // A bad targets file is a usage error that names the line.
    std::fs::write(&file, "alice\n").unwrap();
    let (code, _, err) = run(
        Command::new(BIN).args(["--check", "--targets", file.to_str().unwrap()]),
        LIMIT,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("line 1: expected `NAME ADDR`"), "{err}");
}
