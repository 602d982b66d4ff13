//! The grader, `tftp get --check`, against servers whose verdicts are known: ours (passes
//! every step), the lab's Python answer key (passes), the same with the Sorcerer's
//! Apprentice bug (fails that step, and only that one), and a server that never answers
//! (fails, within the minute).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::grade::Report;
use common::testing::{available, ServerProcess};
use tftp::server::Config;

fn grader_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tftp::check::write_files(dir.path()).unwrap();
    dir
}

fn verdicts(report: &Report) -> Vec<(String, bool)> {
    report
        .steps
        .iter()
        .map(|v| (v.step.clone(), v.ok))
        .collect()
}

#[test]
fn our_server_passes_every_step() {
    let dir = grader_dir();
    let mut config = Config::new(dir.path().to_path_buf());
    config.quiet = true;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let server = tftp::run::spawn(socket, config).unwrap();
    let started = Instant::now();
    let report = tftp::check::run(addr, "ours");
    assert!(report.passed, "{:#?}", report.steps);
    assert_eq!(report.steps.len(), 8);
    assert!(started.elapsed() < Duration::from_secs(60));
    server.stop();
}

#[test]
fn a_server_that_never_answers_fails_within_the_minute() {
    // A socket that takes every datagram and answers none.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let started = Instant::now();
    let report = tftp::check::run(addr, "silent");
    let took = started.elapsed();
    assert!(!report.passed);
    assert!(took < Duration::from_secs(60), "{took:?}");
    // The first step fails; the others are not tried, and say why.
    assert!(!report.steps[0].ok, "{:?}", report.steps[0]);
    assert!(
        report.steps[1..].iter().all(|v| v.was_not_tried()),
        "{:#?}",
        report.steps
    );
}

/// Starts one of the lab's Python ports on port 0, serving `dir`.
fn python(script: &str, dir: &std::path::Path) -> (ServerProcess, SocketAddr) {
    let path = common::testing::workspace_root()
        .join("docs/python")
        .join(script);
    let mut cmd = Command::new("python3");
    cmd.arg("-u").arg(path).arg("0").arg(dir);
    let server = ServerProcess::start(cmd);
    let addr = server.addr;
    (server, addr)
}

#[test]
fn the_python_answer_key_passes_and_the_apprentice_fails_one_step() {
    if !available("python3", "python3") {
        return;
    }
    let dir = grader_dir();
    let (_good, addr) = python("tftp_server.py", dir.path());
    let report = tftp::check::run(addr, "tftp_server.py");
    assert!(report.passed, "{:#?}", report.steps);
    let (_bad, addr) = python("tftp_sas.py", dir.path());
    let report = tftp::check::run(addr, "tftp_sas.py");
    let failed: Vec<String> = verdicts(&report)
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        failed,
        ["a duplicated ACK is not answered twice"],
        "{:#?}",
        report.steps
    );
    let detail = &report.steps.iter().find(|v| !v.ok).unwrap().detail;
    assert!(detail.contains("Sorcerer's Apprentice"), "{detail}");
}

#[test]
fn the_command_grades_a_class_and_writes_the_report() {
    let dir = grader_dir();
    let mut config = Config::new(dir.path().to_path_buf());
    config.quiet = true;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let server = tftp::run::spawn(socket, config).unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let work = tempfile::tempdir().unwrap();
    let targets = work.path().join("class.txt");
    std::fs::write(
        &targets,
        format!("alice {addr}\nbob {}\n", silent.local_addr().unwrap()),
    )
    .unwrap();
    let html = work.path().join("grades.html");
    let out = Command::new(env!("CARGO_BIN_EXE_tftp"))
        .args(["get", "--check", "--targets"])
        .arg(&targets)
        .arg("--report")
        .arg(&html)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "bob fails: {stdout}");
    assert!(
        stdout.contains("alice") && stdout.contains("bob"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("alice") && page.contains("a duplicated ACK is not answered twice"));
    // One server, by address: exit 0.
    let out = Command::new(env!("CARGO_BIN_EXE_tftp"))
        .args(["get", "--check", &addr.to_string()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    server.stop();
}
