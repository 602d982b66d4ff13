//! The programs as a student runs them: a progress bar in a terminal, one line that says
//! what went wrong and what to try, and the exit status (0, 1 at run time, 2 for usage).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use common::testing::{available, ServerProcess};

const BIN: &str = env!("CARGO_BIN_EXE_tftp");

fn tftp() -> Command {
    let mut c = Command::new(BIN);
    c.stdin(Stdio::null());
    c
}

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn serve(dir: &std::path::Path, extra: &[&str]) -> ServerProcess {
    let mut c = Command::new(BIN);
    c.args(["serve", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(extra);
    ServerProcess::start(c)
}

#[test]
fn a_terminal_gets_a_progress_bar_sized_by_tsize() {
    if !available("script", "bsdutils") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), vec![7u8; 2 << 20]).unwrap();
    let server = serve(dir.path(), &[]);
    let out_file = dir.path().join("got.bin");
    // script(1) runs the client on a pseudo-terminal, as a student's terminal would.
    let line = format!("{BIN} get {} a.bin -o {}", server.addr, out_file.display());
    let (code, out, err) = run(Command::new("script").args(["-qefc", &line, "/dev/null"]));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("a.bin ✓"), "{out}");
    assert!(
        out.contains("2.00 MiB/2.00 MiB"),
        "the size from tsize: {out}"
    );
    // In a pipe: no bar, the sha256sum line.
    let (code, out, _) = run(tftp()
        .args(["get", &server.addr.to_string(), "a.bin", "-o"])
        .arg(&out_file));
    assert_eq!(code, Some(0));
    assert!(
        out.ends_with(&format!("  {}\n", out_file.display())),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "no escape codes in a pipe: {out:?}"
    );
}

#[test]
fn exit_codes_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    // Usage: no file named; a bad address; a folder that is not there.
    let (code, _, err) = run(tftp().args(["get", "127.0.0.1:6969"]));
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = run(tftp().args(["get", "localhost", "x"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing port"), "{err}");
    let (code, _, err) = run(tftp().args(["serve", "127.0.0.1:0", "--dir", "/no/such/folder"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--dir"), "{err}");
    // Nobody there: after the retries, one line with what to try.
    let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let (code, _, err) = run(tftp()
        .args([
            "get",
            &format!("127.0.0.1:{port}"),
            "x",
            "--timeout",
            "0.2",
            "--retries",
            "1",
            "-o",
        ])
        .arg(dir.path().join("x")));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no answer after 2 tries"), "{err}");
    assert!(err.contains("is a TFTP server running"), "{err}");
    assert!(
        !dir.path().join("x").exists(),
        "nothing under the name asked for"
    );
    // A refusal: the code, what it means, and the server's words.
    let server = serve(dir.path(), &[]);
    let (code, _, err) = run(tftp().args(["put", &server.addr.to_string(), BIN, "--as", "x.bin"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("ERROR 2") && err.contains("--allow-write"),
        "{err}"
    );
    // --json: one object per transfer, for scripts.
    std::fs::write(dir.path().join("j.txt"), b"json").unwrap();
    let (code, out, _) = run(tftp()
        .args(["get", &server.addr.to_string(), "j.txt", "--json", "-o"])
        .arg(dir.path().join("j2.txt")));
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["size"], 4);
    assert_eq!(v["blocks"], 1);
}

#[cfg(unix)]
#[test]
fn ctrl_c_on_a_get_leaves_no_part_file() {
    // A server that never answers: the client waits in its retries; Ctrl-C (SIGINT) ends
    // it, and the hidden part file goes with it.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let child = tftp()
        .args([
            "get",
            &silent.local_addr().unwrap().to_string(),
            "x.bin",
            "--timeout",
            "5",
            "-o",
        ])
        .arg(dir.path().join("x.bin"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The request arrives: the client is running, its part file made.
    let mut buf = [0u8; 600];
    silent
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    silent.recv_from(&mut buf).unwrap();
    let parts = || std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(parts(), 1, "the part file");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(parts(), 0, "nothing left in the folder");
}

/// `--generate`: every flag of `--help` is in the man page, and the completions load.
#[test]
fn the_man_page_has_every_flag_and_the_completions_load() {
    common::testing::generate::check(std::path::Path::new(BIN));
}
