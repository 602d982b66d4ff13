//! The book's side-by-side demos (`docs/demo.sh LESSON`), each played in its fallback mode
//! (`--plain`: no tmux, one terminal, each line prefixed with its side), on a port of its
//! own so the lessons can run at once. Each must end well, run every command it names,
//! and show the lesson's point. (`docs/transcripts.sh --check`, in CI, also compares every
//! lesson's output with the transcripts printed in the book.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Once;
use std::time::Duration;

use common::testing::{available, run, workspace_root};

const LIMIT: Duration = Duration::from_secs(120);

/// The lessons use every program: build them all once (cargo builds only this crate's).
fn build_programs() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let (code, _, err) = run(
            Command::new(env!("CARGO"))
                .args(["build", "--bins", "--quiet"])
                .current_dir(workspace_root()),
            Duration::from_secs(600),
        );
        assert_eq!(code, Some(0), "cargo build --bins failed: {err}");
    });
}

/// Plays LESSON on a free port; returns its output and the port, after the checks every
/// lesson must pass.
fn play(lesson: &str) -> Option<(String, u16)> {
    for (program, package) in [
        ("nc", "netcat-openbsd"),
        ("ss", "iproute2"),
        ("python3", "python3"),
    ] {
        if !available(program, package) {
            return None;
        }
    }
    build_programs();
    let port = free_port();
    let (code, out, err) = run(
        Command::new(workspace_root().join("docs/demo.sh")).args([
            "--plain",
            "--no-build",
            "--port",
            &port.to_string(),
            lesson,
        ]),
        LIMIT,
    );
    assert_eq!(code, Some(0), "{lesson}: {out}\n{err}");
    // Every line belongs to a side, and both sides ran commands.
    for line in out.lines() {
        assert!(
            ["server| ", "client| ", "side| "]
                .iter()
                .any(|p| line.starts_with(p)),
            "{lesson}: a line without its side: {line:?}"
        );
    }
    assert!(
        out.contains("server| $ "),
        "{lesson}: no server command\n{out}"
    );
    assert!(
        out.contains("client| $ "),
        "{lesson}: no client command\n{out}"
    );
    assert!(!out.contains("command not found"), "{lesson}:\n{out}");
    assert!(!out.contains("(exit status 127)"), "{lesson}:\n{out}");
    // Every server it started was stopped with Ctrl-C, and said so.
    assert!(out.contains("server| ^C"), "{lesson}:\n{out}");
    Some((out, port))
}

/// A port free for both TCP and UDP right now. Port 0 never picks a port that TIME_WAIT
/// connections still hold, which would stop the tutorial's server (it has no SO_REUSEADDR).
fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn assert_has(out: &str, lesson: &str, wanted: &[&str]) {
    for w in wanted {
        assert!(out.contains(w), "{lesson}: {w:?} missing in:\n{out}");
    }
}

#[test]
fn sockets() {
    if let Some((out, port)) = play("sockets") {
        assert_has(
            &out,
            "sockets",
            &[
                &format!("accepted: local 127.0.0.1:{port} <-> peer 127.0.0.1:"),
                // ss shows the held connection from the server's side.
                &format!("127.0.0.1:{port}    127.0.0.1:"),
            ],
        );
    }
}

#[test]
fn tcp_server() {
    if let Some((out, _)) = play("tcp-server") {
        assert_has(
            &out,
            "tcp-server",
            &["hello,b'li'", "client| (exit status 1)", "client| hello,bo"],
        );
    }
}

#[test]
fn tcp_client() {
    if let Some((out, _)) = play("tcp-client") {
        assert_has(
            &out,
            "tcp-client",
            &["client| b'Hello!'", "client| b'hello,li'", "127.0.0.1:1"],
        );
    }
}

#[test]
fn framing() {
    if let Some((out, _)) = play("framing") {
        assert_has(
            &out,
            "framing",
            &[
                r#"message "li\nbo\nca\n" (9 bytes)"#,
                r#"message "hel" (3 bytes)"#,
                r#"message "hello" (5 bytes)"#,
            ],
        );
    }
}

#[test]
fn backlog() {
    if let Some((out, port)) = play("backlog") {
        assert_has(
            &out,
            "backlog",
            &[
                &format!("127.0.0.1:{port}    127.0.0.1:"),
                &format!("could not listen on 127.0.0.1:{port}"),
                "side| waiting to connect: 14",
                "side| waiting to connect: 0",
            ],
        );
    }
}

#[test]
fn udp() {
    if let Some((out, _)) = play("udp") {
        assert_has(
            &out,
            "udp",
            &[
                "client| Hi!hello!",
                "client| b'Hi!hello!'",
                "truncated: 1500 bytes arrived",
            ],
        );
    }
}

#[test]
fn udp_loss() {
    if let Some((out, port)) = play("udp-loss") {
        assert_has(
            &out,
            "udp-loss",
            &[
                "injected fault: dropped",
                &format!("no server at 127.0.0.1:{port}"),
            ],
        );
    }
}

#[test]
fn upload() {
    if let Some((out, _)) = play("upload") {
        assert_has(
            &out,
            "upload",
            &["  photo.jpg\n", "ERR EXISTS", "BAD_NAME", "recv_yan.jpg"],
        );
    }
}

#[test]
fn tftp() {
    if let Some((out, _)) = play("tftp") {
        assert_has(
            &out,
            "tftp",
            &[
                "  got.txt\n",
                "ERROR 2",
                "ERROR 1",
                "ERROR 6",
                "windowsize 16",
                "check passed: 8 of 8 steps passed",
                "FAIL  a duplicated ACK is not answered twice",
            ],
        );
    }
}

#[test]
fn tcp_vs_udp() {
    if let Some((out, _)) = play("tcp-vs-udp") {
        assert_has(
            &out,
            "tcp-vs-udp",
            &["side| tcp", "side| udp", "client| Hi!hello!"],
        );
    }
}

#[test]
fn systems() {
    if let Some((out, port)) = play("systems") {
        assert_has(
            &out,
            "systems",
            &[
                &format!("could not listen on 127.0.0.1:{port}: address already in use"),
                "ECONNREFUSED 111",
                "truncated: 3000 bytes arrived",
                &format!("no server at 127.0.0.1:{port}"),
                "the name is a Windows device name",
                "which Windows does not allow in file names",
                "stored console.txt",
            ],
        );
    }
}

#[test]
fn attacks() {
    if let Some((out, _)) = play("attacks") {
        assert_has(
            &out,
            "attacks",
            &[
                // The tutorial's server falls: accept() fails, and it accepts no one again.
                "OSError: [Errno 24] Too many open files",
                "timed out (no answer in 2.0 s",
                // Ours holds: the flood's excess refused, another address served.
                "37 refused (per peer)",
                "client| hello,li",
                "refused by the server: \"error: server busy\"",
                // Slowloris is cut off at the message timeout.
                "error: message not complete 2 s after its first byte, closing",
                "closed: message timeout after",
            ],
        );
    }
}

/// The threads and the memory (MiB) of each server of the one-thread lesson, in order,
/// from `hold --summary`'s lines.
fn held(out: &str) -> Vec<(u64, f64)> {
    out.lines()
        .filter(|l| l.contains("connections held and answered"))
        .map(|l| {
            let number_before = |word: &str| -> f64 {
                let end = l.find(word).unwrap_or_else(|| panic!("no {word:?} in {l}"));
                l[..end].split_whitespace().last().unwrap().parse().unwrap()
            };
            let rss_start = l.find("RSS ").unwrap() + 4;
            let rss = l[rss_start..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap();
            (number_before(" thread") as u64, rss)
        })
        .collect()
}

#[test]
fn one_thread() {
    if let Some((out, _)) = play("one-thread") {
        assert_eq!(
            out.matches("client| 10000 of 10000 connections held and answered")
                .count(),
            3,
            "every server answered every client:\n{out}"
        );
        let servers = held(&out);
        let [(thread_threads, thread_rss), (poll_threads, poll_rss), (asyncio_threads, _)] =
            servers[..]
        else {
            panic!("three servers expected: {servers:?}\n{out}");
        };
        // A thread per client, against one thread (and Ctrl-C's) for all of them.
        assert!(thread_threads >= 10_000, "{out}");
        assert!(poll_threads <= 2 && asyncio_threads <= 2, "{out}");
        assert!(poll_rss * 5.0 < thread_rss, "{out}");
    }
}

#[test]
fn every_lesson_has_a_test() {
    let lessons: Vec<String> = std::fs::read_dir(workspace_root().join("docs/demos"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".sh").map(str::to_string)
        })
        .collect();
    let this = include_str!("book_demos.rs");
    for lesson in lessons {
        assert!(
            this.contains(&format!("play(\"{lesson}\"")),
            "docs/demos/{lesson}.sh has no test here"
        );
    }
}
