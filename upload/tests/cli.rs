//! The `upload` binary as a student runs it: exit codes, messages, what goes to stdout and
//! stderr, a sender killed mid-file, and both directions of talk with the tutorial's own
//! programs (their Python 3 ports under docs/python/).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::testing::{available, run, workspace_root, ServerProcess};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_upload");
const LIMIT: Duration = Duration::from_secs(60);

fn upload() -> Command {
    Command::new(BIN)
}

/// `upload serve 127.0.0.1:0 --dir DIR ARGS...` as a process.
fn serve(dir: &Path, args: &[&str]) -> ServerProcess {
    let mut command = upload();
    command
        .args(["serve", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(args);
    ServerProcess::start(command)
}

fn send(server: &ServerProcess, files: &[&Path], args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = upload();
    command
        .arg("send")
        .args(files)
        .args(["--to", &server.addr.to_string()])
        .args(args);
    run(&mut command, LIMIT)
}

#[test]
fn a_sent_file_prints_a_sha256sum_line_and_a_plain_line_per_file() {
    let root = tempfile::tempdir().unwrap();
    let a = random_file(root.path(), "a.bin", 123_456);
    let b = random_file(root.path(), "b.bin", 7);
    let server = serve(&root.path().join("in"), &[]);
    let (code, out, err) = send(&server, &[&a, &b], &[]);
    assert_eq!(code, Some(0), "{err}");
    // stdout is exactly what sha256sum prints for the same files.
    let expected = format!(
        "{}  {}\n{}  {}\n",
        sha256_hex(&fs::read(&a).unwrap()),
        a.display(),
        sha256_hex(&fs::read(&b).unwrap()),
        b.display()
    );
    assert_eq!(out, expected);
    // stderr is not a terminal here: no bars, one plain line per file with name, size,
    // seconds, rate and digest.
    assert!(!err.contains('\u{1b}'), "control characters in {err:?}");
    let line = err
        .lines()
        .find(|l| l.contains("sent ") && l.contains("a.bin"))
        .unwrap();
    assert!(line.contains("120.6 KiB in "), "{line}");
    assert!(
        line.contains(" s (") && line.contains("MB/s), sha256 "),
        "{line}"
    );
    assert!(line.contains(&sha256_hex(&fs::read(&a).unwrap())), "{line}");
    assert!(err.contains("sent 2 of 2 files"), "{err}");
    // And the server's copies check out with the real sha256sum.
    if available("sha256sum", "coreutils") {
        let sums = root.path().join("sums");
        fs::write(&sums, out.replace(&root.path().display().to_string(), "in")).unwrap();
        let (code, _, err) = run(
            Command::new("sha256sum")
                .arg("-c")
                .arg(&sums)
                .current_dir(root.path()),
            LIMIT,
        );
        assert_eq!(code, Some(0), "{err}");
    }
}

#[test]
fn tcp_info_is_read_during_each_file_and_at_its_end() {
    let root = tempfile::tempdir().unwrap();
    // Paced to 2 MB/s for half a second, so that readings fall during the file.
    let a = random_file(root.path(), "a.bin", 1_000_000);
    let server = serve(&root.path().join("in"), &[]);
    let pace = [
        "--limit-rate",
        "2M",
        "--tcp-info",
        "--tcp-info-interval",
        "100",
    ];
    let (code, out, err) = send(&server, &[&a], &pace);
    assert_eq!(code, Some(0), "{err}");
    let during = err
        .lines()
        .filter(|l| l.contains("tcp-info +") && l.contains("(during the file)"))
        .count();
    let end: Vec<&str> = err.lines().filter(|l| l.contains("(at the end)")).collect();
    assert!(during >= 2, "a reading every 100 ms of about 500: {err}");
    assert_eq!(end.len(), 1, "{err}");
    let real = cfg!(any(target_os = "linux", target_os = "macos"));
    assert!(
        end[0].contains(": rtt ") || (!real && end[0].contains("not available on this system")),
        "{}",
        end[0]
    );
    assert!(
        out.starts_with(&sha256_hex(&fs::read(&a).unwrap())),
        "the sha256sum line stays: {out}"
    );
    // --json: one object per file on stdout instead, with the readings in it.
    let b = random_file(root.path(), "b.bin", 300_000);
    let (code, out, err) = send(&server, &[&b], &["--tcp-info", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["sha256"], sha256_hex(&fs::read(&b).unwrap()));
    assert_eq!(v["size"], 300_000);
    assert_eq!(v["verified"], true);
    let samples = v["tcp_info"].as_array().unwrap();
    assert_eq!(samples.last().unwrap()["last"], true, "{v}");
    if real {
        assert!(samples.last().unwrap()["mss"].as_u64().unwrap() > 0, "{v}");
        // A loaded machine can lose a segment even on loopback, so the
        // count is not asserted to be 0; what must hold is that the two
        // counters are read together and that they are the file's scale.
        // (Linux has both counters; macOS has only the bytes.)
        let last = samples.last().unwrap();
        let segments = last["retransmitted_segments"].as_u64();
        let bytes = last["retransmitted_bytes"].as_u64();
        assert!(
            segments.is_some() || bytes.is_some(),
            "a counter is read: {v}"
        );
        if let (Some(segments), Some(bytes)) = (segments, bytes) {
            assert_eq!(segments == 0, bytes == 0, "segments and bytes agree: {v}");
        }
        assert!(
            bytes.unwrap_or(0) <= 300_000,
            "no more resent than was sent: {v}"
        );
    }
    assert!(
        !err.contains("tcp-info +"),
        "with --json the readings are not printed: {err}"
    );
}

#[test]
fn sum_prints_what_sha256sum_prints_and_fails_on_a_missing_file() {
    let root = tempfile::tempdir().unwrap();
    let a = random_file(root.path(), "a.bin", 600_000);
    let empty = random_file(root.path(), "empty.bin", 0);
    let (code, out, err) = run(upload().arg("sum").arg(&a).arg(&empty), LIMIT);
    assert_eq!(code, Some(0), "{err}");
    let expected = format!(
        "{}  {}\n{}  {}\n",
        sha256_hex(&fs::read(&a).unwrap()),
        a.display(),
        sha256_hex(b""),
        empty.display()
    );
    assert_eq!(out, expected);
    if available("sha256sum", "coreutils") {
        let (_, theirs, _) = run(Command::new("sha256sum").arg(&a).arg(&empty), LIMIT);
        assert_eq!(out, theirs);
    }
    let missing = root.path().join("missing.bin");
    let (code, out, err) = run(upload().arg("sum").arg(&missing).arg(&a), LIMIT);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("a.bin"),
        "the readable file is still summed: {out}"
    );
    assert!(
        err.contains("upload sum: cannot read") && err.contains("missing.bin"),
        "{err}"
    );
}

#[test]
fn a_terminal_gets_progress_bars() {
    if !available("script", "bsdutils") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let a = random_file(root.path(), "a.bin", 2 << 20);
    let server = serve(&root.path().join("in"), &[]);
    // script(1) runs the sender on a pseudo-terminal, as a student's terminal would.
    let line = format!(
        "{BIN} send {} --to {} --limit-rate 8M",
        a.display(),
        server.addr
    );
    let (code, out, err) = run(
        Command::new("script").args(["-qefc", &line, "/dev/null"]),
        LIMIT,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("a.bin ✓"), "{out}");
    assert!(out.contains("2.00 MiB/2.00 MiB"), "{out}");
    assert!(out.contains("=>") || out.contains("=="), "no bar in {out}");
}

#[test]
fn exit_codes_and_messages() {
    let root = tempfile::tempdir().unwrap();
    let a = random_file(root.path(), "a.bin", 10);

    // Usage: no file given.
    let (code, _, err) = run(upload().arg("send"), LIMIT);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("FILE"), "{err}");
    let (code, _, _) = run(upload().args(["serve", "--max-size", "lots"]), LIMIT);
    assert_eq!(code, Some(2));

    // Nobody listening: one line that says what failed, where, and what to try.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let (code, out, err) = run(
        upload()
            .args(["send"])
            .arg(&a)
            .args(["--to", &port.to_string()]),
        LIMIT,
    );
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert!(
        err.contains(&format!(
            "could not connect to 127.0.0.1:{port}: connection refused"
        )),
        "{err}"
    );
    assert!(err.contains("is upload serve running?"), "{err}");

    // A refusal: exit 1, the code, the reason, what to try, and the summary.
    let server = serve(&root.path().join("in"), &[]);
    assert_eq!(send(&server, &[&a], &[]).0, Some(0));
    let missing = root.path().join("missing.bin");
    let (code, out, err) = send(&server, &[&a, &missing], &[]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("(ERR EXISTS); rename the file, or run the server with --overwrite"),
        "{err}"
    );
    assert!(err.contains("missing.bin: cannot read it"), "{err}");
    assert!(err.contains("sent 0 of 2 files"), "{err}");

    // A folder that cannot be one.
    let file = root.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let (code, _, err) = run(
        upload().args(["serve", "127.0.0.1:0", "--dir"]).arg(&file),
        LIMIT,
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("could not create the upload folder"), "{err}");
}

#[cfg_attr(
    windows,
    ignore = "sends Ctrl-C with kill -INT; the Windows builds' Ctrl-C is checked by .ci/wine.sh"
)]
#[test]
fn ctrl_c_prints_a_summary_of_the_uploads() {
    let root = tempfile::tempdir().unwrap();
    let a = random_file(root.path(), "a.bin", 1000);
    let mut server = serve(&root.path().join("in"), &["--max-size", "500"]);
    let b = random_file(root.path(), "b.bin", 100);
    let _ = send(&server, &[&a, &b], &[]);
    let status = server.interrupt();
    assert!(status.success());
    let last = server.stdout().last().cloned().unwrap();
    assert!(
        last.contains("uploads: 1 stored (100 B), 1 refused, 0 failed"),
        "{last}"
    );
}

#[test]
fn a_sender_killed_mid_file_leaves_no_file_and_the_server_serves_the_next() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let big = random_file(root.path(), "big.bin", 8 << 20);
    let server = serve(&dir, &[]);
    // Slowed down so that it is surely mid-file when killed.
    let mut sender = upload()
        .arg("send")
        .arg(&big)
        .args(["--to", &server.addr.to_string(), "--limit-rate", "2M"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    server.wait_for_stdout("\"big.bin\" (", LIMIT);
    thread::sleep(Duration::from_millis(500));
    // Our own child, by its PID.
    sender.kill().unwrap();
    sender.wait().unwrap();
    server.wait_for_stdout("the client left after", LIMIT);
    // Nothing under its name: only the hidden part, kept for a resume, and its record.
    let left = names(&dir);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.iter().all(|n| n.starts_with(".big.bin.")), "{left:?}");

    let small = random_file(root.path(), "small.bin", 1000);
    let (code, _, err) = send(&server, &[&small], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(names(&dir).last().map(String::as_str), Some("small.bin"));
}

#[test]
fn the_rust_sender_uploads_to_the_tutorials_server() {
    if !available("python3", "python3") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let file = random_file(root.path(), "yan.jpg", 300_000);
    let mut python = Command::new("python3");
    python
        .arg("-u")
        .arg(workspace_root().join("docs/python/upload.py"))
        .arg("0")
        .current_dir(root.path());
    let server = ServerProcess::start(python);
    let (code, out, err) = send(&server, &[&file], &["--protocol", "seed"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("server says 文件上传"), "{err}");
    assert!(err.contains("server says 传送完成"), "{err}");
    assert!(err.contains("not verified"), "{err}");
    let original = fs::read(&file).unwrap();
    assert!(out.starts_with(&sha256_hex(&original)));
    // The tutorial's server says "done" before it closes the file: wait for the last bytes.
    let stored = root.path().join("recv_yan.jpg");
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::metadata(&stored).map(|m| m.len()).unwrap_or(0) < original.len() as u64 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(20));
    }
    assert!(fs::read(&stored).unwrap() == original);
}

#[test]
fn the_tutorials_client_uploads_to_the_rust_server() {
    if !available("python3", "python3") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &["--protocol", "seed"]);
    let client = workspace_root().join("docs/python/upload_user.py");
    let mut sent = Vec::new();
    for (i, len) in [200_000usize, 5].into_iter().enumerate() {
        let file = random_file(root.path(), &format!("yan{i}.jpg"), len);
        let (code, out, err) = run(
            Command::new("python3")
                .arg(&client)
                .arg(server.addr.port().to_string())
                .arg(&file),
            LIMIT,
        );
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(out, "文件上传\n开始传送\n传送完成\n");
        sent.push(fs::read(&file).unwrap());
    }
    // The tutorial overwrote recv_yan.jpg; we keep both, each whole.
    assert_eq!(names(&dir), ["recv_yan-1.jpg", "recv_yan.jpg"]);
    assert!(fs::read(dir.join("recv_yan.jpg")).unwrap() == sent[0]);
    assert!(fs::read(dir.join("recv_yan-1.jpg")).unwrap() == sent[1]);
}

#[test]
fn the_tutorials_exchange_is_named_tutorial_and_seed_still_works() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &["--protocol", "tutorial"]);
    let banner = server.wait_for_stdout("listening on", LIMIT);
    assert!(banner.contains("protocol tutorial"), "{banner}");
    let file = random_file(root.path(), "yan.jpg", 4321);
    // The client by the new name, and by the old one that lessons and transcripts use.
    for name in ["tutorial", "seed"] {
        let (code, _, err) = send(&server, &[&file], &["--protocol", name]);
        assert_eq!(code, Some(0), "--protocol {name}: {err}");
        assert!(err.contains("server says 传送完成"), "{err}");
    }
    assert_eq!(names(&dir), ["recv_yan-1.jpg", "recv_yan.jpg"]);
}

#[test]
fn the_tutorial_server_survives_a_client_that_leaves_early_and_one_that_sends_no_size() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &["--protocol", "seed"]);
    // Announces 1000 bytes, sends 10, leaves: the tutorial's server would spin forever.
    let mut c = RawClient::connect_quiet(server.addr);
    let mut greeting = [0u8; 12];
    std::io::Read::read_exact(&mut c.reader, &mut greeting).unwrap();
    assert_eq!(&greeting, "文件上传".as_bytes());
    c.send(b"1000");
    let mut go = [0u8; 12];
    std::io::Read::read_exact(&mut c.reader, &mut go).unwrap();
    c.send(&[0u8; 10]);
    drop(c);
    server.wait_for_stdout("the client left after 10 of 1000 bytes", LIMIT);
    // Not a size at all.
    let mut c = RawClient::connect_quiet(server.addr);
    std::io::Read::read_exact(&mut c.reader, &mut greeting).unwrap();
    c.send(b"hello");
    server.wait_for_stdout("expected the size as digits", LIMIT);
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
}

#[test]
fn the_server_refuses_past_max_connections_with_err_busy() {
    let root = tempfile::tempdir().unwrap();
    let server = serve(&root.path().join("in"), &["--max-connections", "1"]);
    let _first = RawClient::connect(server.addr);
    let mut second = RawClient::connect_quiet(server.addr);
    let line = second.line();
    assert!(line.starts_with("ERR BUSY "), "{line}");
}

/// A real full disk: a 2 MiB tmpfs, mounted in a mount namespace of the test's own (needs
/// root or user namespaces; skipped with the reason otherwise).
#[test]
fn a_full_disk_gets_no_space_and_the_server_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("small-disk");
    fs::create_dir(&dir).unwrap();
    if !common::testing::namespaces_allowed() {
        return;
    }
    let script = format!(
        "mount -t tmpfs -o size=2m tmpfs '{}' && exec '{BIN}' serve 127.0.0.1:0 --dir '{}' --keep-free 0",
        dir.display(),
        dir.display()
    );
    let mut command = Command::new("unshare");
    command.args(["--mount", "--map-root-user", "sh", "-c", &script]);
    let server = ServerProcess::start(command);
    let big = random_file(root.path(), "big.bin", 3 << 20);
    let small = random_file(root.path(), "small.bin", 1000);
    let (code, out, err) = send(&server, &[&big, &small], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("(ERR NO_SPACE)"), "{err}");
    assert!(
        out.contains("small.bin"),
        "the next file went through: {out}"
    );
    let log = server.stdout().join("\n");
    assert!(!log.contains("stored big.bin"), "{log}");
}

// ---- the grader (send --check) ----

fn check(addr: std::net::SocketAddr, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = upload();
    command
        .args([
            "send",
            "--check",
            "--timeout",
            "3",
            "--to",
            &addr.to_string(),
        ])
        .args(args);
    run(&mut command, LIMIT)
}

#[test]
fn check_passes_our_server_in_both_protocols_and_leaves_only_whole_files() {
    let root = tempfile::tempdir().unwrap();
    let server = serve(&root.path().join("v1"), &["-q"]);
    let (code, out, err) = check(server.addr, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.ends_with("check passed: 5 of 5 steps passed\n"),
        "{out}"
    );
    // What the grader left: its two good uploads, whole; no probe, no partial file.
    let names = names(&root.path().join("v1"));
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names[0].ends_with("-after.bin") && names[1].ends_with("-first.bin"),
        "{names:?}"
    );

    let seed = serve(&root.path().join("seed"), &["-q", "--protocol", "seed"]);
    let (code, out, _) = check(seed.addr, &["--protocol", "seed", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["steps"].as_array().unwrap().len(), 2);
}

/// A server that trusts its clients: GO to every name, OK with whatever digest it is sent.
fn trusting_server(stream: std::net::TcpStream) {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut out = stream.try_clone().unwrap();
    let mut input = BufReader::new(stream);
    let _ = out.write_all(b"UPLOAD/1 READY\n");
    let mut line = String::new();
    while matches!(input.read_line(&mut line), Ok(n) if n > 0) {
        let words: Vec<&str> = line.trim_end().splitn(3, ' ').collect();
        if words.len() == 3 && words[0] == "PUT" {
            let size: usize = words[1].parse().unwrap_or(0);
            let _ = out.write_all(b"GO 0\n");
            let mut data = vec![0u8; size];
            if input.read_exact(&mut data).is_err() {
                return;
            }
            let mut digest = String::new();
            let _ = input.read_line(&mut digest);
            let claimed = digest.trim_end().trim_start_matches("SHA256 ");
            let _ = out.write_all(format!("OK {claimed}\n").as_bytes());
        }
        line.clear();
    }
}

#[test]
fn check_fails_a_server_that_trusts_names_and_digests() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || trusting_server(stream));
        }
    });
    let (code, out, _) = check(addr, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("ok    a normal upload"), "{out}");
    assert!(
        out.contains(r#"FAIL  hostile names: "../escape.txt" was accepted (GO)"#),
        "{out}"
    );
    assert!(out.contains("FAIL  a wrong digest:"), "{out}");
}

#[test]
fn check_fails_the_tutorials_server_after_an_early_disconnect() {
    let root = tempfile::tempdir().unwrap();
    let Some(server) = common::testing::tutorial_server("upload.py", Some(root.path())) else {
        return;
    };
    let (code, out, _) = check(server.addr, &["--protocol", "seed"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("ok    the tutorial's exchange"), "{out}");
    assert!(
        out.contains("FAIL  an early disconnect, then the next sender: 100 of 65536 bytes sent, then gone; the next sender: no answer: timed out after 3 s (--timeout): the server does not serve the next sender"),
        "{out}"
    );
    // (The tutorial's server now spins on recv() returning b'' for ever; dropping
    // `server` stops it, by its PID.)
}

/// Servers that never say a word, or greet and then never answer: the first cannot be
/// graded at all (one wait, one line), the second fails every step with the limit that ran
/// out; both within the grader's bound of a minute.
#[test]
fn check_ends_within_its_bound_against_servers_that_never_answer() {
    fn hold(mut stream: std::net::TcpStream, greet: bool) {
        use std::io::{Read, Write};
        if greet && stream.write_all(b"UPLOAD/1 READY\n").is_err() {
            return;
        }
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(120)));
        let mut sink = [0u8; 4096];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    }
    for greet in [false, true] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread::spawn(move || hold(stream, greet));
            }
        });
        let started = std::time::Instant::now();
        let (code, out, err) = run(
            upload().args([
                "send",
                "--check",
                "--timeout",
                "1",
                "--to",
                &addr.to_string(),
            ]),
            LIMIT,
        );
        assert!(started.elapsed() < common::grade::RUN_LIMIT, "{out}");
        assert_eq!(code, Some(1), "{out}");
        if greet {
            assert!(
                out.ends_with("check FAILED: 0 of 5 steps passed\n"),
                "{out}"
            );
            assert!(
                out.contains(
                    "FAIL  a normal upload: no reply to PUT: timed out after 1 s (--timeout)"
                ),
                "{out}"
            );
        } else {
            assert_eq!(
                err, "upload: no greeting: timed out after 1 s (--timeout)\n",
                "{out}"
            );
        }
    }
}

/// `--targets` for upload servers: a class graded at once, a row per server, a page.
#[test]
fn check_grades_a_class_of_upload_servers() {
    let root = tempfile::tempdir().unwrap();
    let good = serve(&root.path().join("good"), &["-q"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("class.txt");
    let page = dir.path().join("class.html");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    fs::write(&file, format!("alice {}\nbob {closed}\n", good.addr)).unwrap();
    let (code, out, err) = run(
        upload().args([
            "send",
            "--check",
            "--timeout",
            "3",
            "--targets",
            file.to_str().unwrap(),
            "--report",
            page.to_str().unwrap(),
        ]),
        LIMIT,
    );
    assert_eq!(code, Some(1), "{out}{err}");
    let rows: Vec<&str> = out.lines().collect();
    assert!(
        rows[0].starts_with("alice") && rows[0].contains("passed  5/5"),
        "{out}"
    );
    assert!(
        rows[1].starts_with("bob") && rows[1].contains("FAILED  0/0"),
        "{out}"
    );
    assert!(rows[1].contains("connection refused"), "{out}");
    assert_eq!(rows[2], "1 of 2 servers passed the check", "{out}");
    let html = fs::read_to_string(&page).unwrap();
    assert!(html.contains("upload send --check"), "{html}");
    assert_eq!(html.matches("<tr class=").count(), 2);
}

/// `--generate`: every flag of `--help` is in the man page, and the completions load.
#[test]
fn the_man_page_has_every_flag_and_the_completions_load() {
    common::testing::generate::check(std::path::Path::new(BIN));
}
