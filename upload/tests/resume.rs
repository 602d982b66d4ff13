//! Resume, as a student meets it: a send that is killed (at 10%, 50% and 99%), a server that
//! is killed, then `upload send` again, which goes on from what the server holds and ends
//! in a file verified as a fresh one is. And what must not resume: a part changed behind
//! the server's back, another file of the same name, `--no-resume`, a server that keeps no
//! parts, and a server from before resume.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::testing::{run, ServerProcess};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_upload");
const LIMIT: Duration = Duration::from_secs(60);
/// The size of the test file: large enough for several reads, quick on any machine.
const SIZE: usize = 8 << 20;

/// What our sender says first on every connection.
fn hello_line() -> String {
    format!("HELLO {}\n", upload::client::EXTENSIONS.join(" "))
}

fn serve(dir: &Path, args: &[&str]) -> ServerProcess {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(args);
    ServerProcess::start(command)
}

/// `upload send FILE --to ADDR --json ARGS...`: the exit code, the JSON object, stderr.
fn send_json(
    file: &Path,
    to: std::net::SocketAddr,
    args: &[&str],
) -> (i32, serde_json::Value, String) {
    let mut command = Command::new(BIN);
    command
        .arg("send")
        .arg(file)
        .args(["--to", &to.to_string(), "--json", "--no-progress"])
        .args(args);
    let (code, out, err) = run(&mut command, LIMIT);
    let value = serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null);
    (code.unwrap_or(-1), value, err)
}

/// A sender through a relay that passes its control lines and `data` bytes of the file,
/// killed (SIGKILL, our own child by its PID) once they have passed; the relay then closes
/// the server's side. Returns when the server has noticed.
fn kill_sender_after(server: &ServerProcess, file: &Path, data: u64) {
    // What the sender says before the file's bytes: its HELLO and its RESUME.
    let name = file.file_name().unwrap().to_str().unwrap();
    let size = fs::metadata(file).unwrap().len();
    let control = format!("{}RESUME {size} {name}\n", hello_line()).len() as u64;
    let relay = Relay::start(server.addr, control + data);
    let mut sender: Child = Command::new(BIN)
        .arg("send")
        .arg(file)
        .args(["--to", &relay.addr.to_string(), "--no-progress"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let before = count(server, KEPT);
    relay.wait_for(control + data);
    sender.kill().unwrap();
    sender.wait().unwrap();
    relay.cut();
    let by = Instant::now() + LIMIT;
    while count(server, KEPT) == before {
        assert!(
            Instant::now() < by,
            "the server never kept it: {:?}",
            server.stdout()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the server logs when it keeps the part of a send that broke off.
const KEPT: &str = "partial file kept, to resume";

/// How many of the server's lines so far contain `needle`.
fn count(server: &ServerProcess, needle: &str) -> usize {
    server
        .stdout()
        .iter()
        .filter(|l| l.contains(needle))
        .count()
}

/// The record the server keeps beside the part of `name`.
fn record(dir: &Path, name: &str) -> Option<serde_json::Value> {
    let path = fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(&format!(".{name}.")) && n.ends_with(".resume.json")
        })?;
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

fn kept_part(dir: &Path, name: &str) -> PathBuf {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with(&format!(".{name}.")) && n.ends_with(".resume.part")
        })
        .unwrap_or_else(|| panic!("no kept part of {name} in {:?}", names(dir)))
}

/// Sends `file` to the server (storing into `dir`), which must take it whole, the bytes
/// sent starting at `resumed_at`.
fn send_whole(server: &ServerProcess, dir: &Path, file: &Path, args: &[&str], resumed_at: u64) {
    let (code, sent, err) = send_json(file, server.addr, args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sent["resumed_at"], resumed_at, "{sent}");
    assert_stored(dir, file, &sent);
}

/// The file arrived whole: the same bytes, verified, and nothing else left in the folder.
fn assert_stored(dir: &Path, original: &Path, sent: &serde_json::Value) {
    let bytes = fs::read(original).unwrap();
    assert_eq!(sent["verified"], true, "{sent}");
    assert_eq!(sent["sha256"], sha256_hex(&bytes), "{sent}");
    let name = original.file_name().unwrap().to_str().unwrap();
    assert_eq!(fs::read(dir.join(name)).unwrap(), bytes, "the stored bytes");
    assert_eq!(names(dir), [name], "nothing else is left");
}

#[test]
fn a_sender_killed_at_10_50_and_99_percent_resumes_to_a_verified_file() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    for percent in [10, 50, 99] {
        let file = random_file(root.path(), &format!("f{percent}.bin"), SIZE + percent);
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let data = (SIZE as u64 + percent as u64) * percent as u64 / 100;
        kill_sender_after(&server, &file, data);
        assert!(!dir.join(&name).exists(), "no file under its name yet");
        let kept = record(&dir, &name).unwrap_or_else(|| panic!("{:?}", names(&dir)));
        assert_eq!(
            kept["offset"], data,
            "the record has every byte that arrived"
        );
        let part = fs::metadata(kept_part(&dir, &name)).unwrap().len();
        assert_eq!(
            part, data,
            "the part holds what arrived, not the whole file's space"
        );
        let (code, sent, err) = send_json(&file, server.addr, &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(sent["resumed_at"], data, "{percent}%: {sent}");
        assert_stored(&dir, &file, &sent);
        fs::remove_file(dir.join(&name)).unwrap();
    }
    server.wait_for_stdout("offering to resume", LIMIT);
}

#[test]
fn the_plain_line_says_where_it_resumed() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let file = random_file(root.path(), "big.bin", SIZE);
    kill_sender_after(&server, &file, 3 << 20);
    let mut command = Command::new(BIN);
    command
        .arg("send")
        .arg(&file)
        .args(["--to", &server.addr.to_string(), "--no-progress"]);
    let (code, out, err) = run(&mut command, LIMIT);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("resumed at 3.0 MiB"), "{err}");
    assert!(
        out.starts_with(&sha256_hex(&fs::read(&file).unwrap())),
        "{out}"
    );
    let stored = server.wait_for_stdout("stored big.bin", LIMIT);
    assert!(stored.contains("resumed at 3.0 MiB"), "{stored}");
}

#[test]
fn a_server_killed_mid_file_resumes_from_its_last_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let mut server = serve(&dir, &[]);
    let size = 40 << 20; // checkpoints every 16 MiB: at 16 and 32 MiB
    let file = random_file(root.path(), "big.bin", size);
    let control = format!("{}RESUME {size} big.bin\n", hello_line()).len() as u64;
    let relay = Relay::start(server.addr, control + (36 << 20));
    let mut sender = Command::new(BIN)
        .arg("send")
        .arg(&file)
        .args(["--to", &relay.addr.to_string(), "--no-progress"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    relay.wait_for(control + (36 << 20));
    // The server has the bytes; wait for its record to reach the 32 MiB checkpoint.
    let by = Instant::now() + LIMIT;
    let offset = loop {
        let offset = record(&dir, "big.bin").and_then(|r| r["offset"].as_u64());
        if offset.is_some_and(|o| o >= 32 << 20) {
            break offset.unwrap();
        }
        assert!(Instant::now() < by, "no checkpoint: {offset:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(offset < 36 << 20, "{offset}");
    // Our own child, by its PID: SIGKILL, no clean-up.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    sender.kill().unwrap();
    sender.wait().unwrap();
    relay.cut();

    let server = serve(&dir, &[]);
    server.wait_for_stdout("listening on", LIMIT);
    send_whole(&server, &dir, &file, &[], offset);
}

#[test]
fn a_part_changed_behind_the_servers_back_is_not_trusted() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let file = random_file(root.path(), "big.bin", SIZE);
    kill_sender_after(&server, &file, (SIZE / 2) as u64);
    // One byte of what arrived, changed on the server's disk.
    let part = kept_part(&dir, "big.bin");
    let mut bytes = fs::read(&part).unwrap();
    bytes[1000] ^= 0xff;
    fs::write(&part, bytes).unwrap();
    send_whole(&server, &dir, &file, &[], 0);
    server.wait_for_stdout("not trusted, deleted; starting at 0", LIMIT);
}

#[test]
fn another_file_of_the_same_name_starts_over() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let first = random_file(root.path(), "big.bin", SIZE);
    fs::create_dir(root.path().join("other")).unwrap();
    // The same name and size, other bytes.
    let mut bytes = fs::read(&first).unwrap();
    bytes[10] ^= 1;
    let second = root.path().join("other/big.bin");
    fs::write(&second, &bytes).unwrap();
    kill_sender_after(&server, &first, (SIZE / 2) as u64);
    send_whole(&server, &dir, &second, &[], 0);
    server.wait_for_stdout("does not begin with the part kept here", LIMIT);

    // Another size: the part is not even offered.
    fs::remove_file(dir.join("big.bin")).unwrap();
    kill_sender_after(&server, &first, (SIZE / 2) as u64);
    let third = random_file(&root.path().join("other"), "big.bin", SIZE + 1);
    send_whole(&server, &dir, &third, &[], 0);
    server.wait_for_stdout("was of a 8388608-byte file", LIMIT);
}

#[test]
fn no_resume_sends_it_all_and_keep_partial_0_keeps_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let file = random_file(root.path(), "big.bin", SIZE);
    kill_sender_after(&server, &file, (SIZE / 2) as u64);
    send_whole(&server, &dir, &file, &["--no-resume"], 0);
    drop(server);

    // A server that keeps no parts: a killed send leaves nothing, and the next starts at 0.
    let dir = root.path().join("in2");
    let server = serve(&dir, &["--keep-partial", "0"]);
    let line = server.wait_for_stdout("listening on", LIMIT);
    assert!(line.contains("no resume"), "{line}");
    let relay = Relay::start(server.addr, 1 << 20);
    let mut sender = Command::new(BIN)
        .arg("send")
        .arg(&file)
        .args(["--to", &relay.addr.to_string(), "--no-progress"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    relay.wait_for(1 << 20);
    sender.kill().unwrap();
    sender.wait().unwrap();
    relay.cut();
    server.wait_for_stdout("partial file deleted", LIMIT);
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    send_whole(&server, &dir, &file, &[], 0);
}

#[test]
fn kept_parts_are_counted_at_start_up_and_swept_after_keep_partial() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let file = random_file(root.path(), "big.bin", SIZE);
    kill_sender_after(&server, &file, 1 << 20);
    drop(server);
    // Started again: it says what it keeps, and does not call it a leftover.
    let mut server = serve(&dir, &[]);
    let said = server.wait_for_stdout("kept for resume", LIMIT);
    assert!(
        said.contains("1 partial file(s) kept for resume (1.0 MiB arrived)"),
        "{said}"
    );
    // Stopped (our own child, by its PID), so that all it said is in.
    server.child.kill().unwrap();
    server.wait(LIMIT);
    let warned = server.stderr();
    assert!(
        !warned.iter().any(|l| l.contains("safe to delete")),
        "{warned:?}"
    );
    drop(server);
    // With --keep-partial 0.0001 (a third of a second), it is old at the next start.
    std::thread::sleep(Duration::from_millis(600));
    let server = serve(&dir, &["--keep-partial", "0.0001"]);
    let said = server.wait_for_stdout("kept for resume", LIMIT);
    assert!(said.contains("1 older one(s) deleted now"), "{said}");
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
}

/// The lines an old server read, and the file's bytes.
type OldServerSaw = (Vec<String>, Vec<u8>);

/// A server from before extensions: it answers HELLO as an unknown command, then speaks
/// plain v1 (one file).
fn old_server() -> (std::net::SocketAddr, std::thread::JoinHandle<OldServerSaw>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut lines = Vec::new();
        let read_line = |reader: &mut BufReader<_>, lines: &mut Vec<String>| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            lines.push(line.trim_end().to_string());
            line
        };
        writer.write_all(b"UPLOAD/1 READY\n").unwrap();
        let hello = read_line(&mut reader, &mut lines);
        assert!(hello.starts_with("HELLO"), "{hello}");
        writer
            .write_all(b"ERR BAD_REQUEST unknown command \"HELLO\"\n")
            .unwrap();
        let put = read_line(&mut reader, &mut lines);
        let size: usize = put.split(' ').nth(1).unwrap().parse().unwrap();
        writer.write_all(b"GO 0\n").unwrap();
        let mut data = vec![0u8; size];
        reader.read_exact(&mut data).unwrap();
        let digest = read_line(&mut reader, &mut lines);
        let ok = format!(
            "OK {}\n",
            digest.trim_end().strip_prefix("SHA256 ").unwrap()
        );
        writer.write_all(ok.as_bytes()).unwrap();
        let _ = read_line(&mut reader, &mut lines);
        (lines, data)
    });
    (addr, handle)
}

/// And what it cannot take (a folder, a pipe) is refused here with the reason, while the
/// plain file still goes.
#[test]
fn a_server_from_before_resume_still_gets_the_file() {
    let root = tempfile::tempdir().unwrap();
    let file = random_file(root.path(), "a.bin", 100_000);
    let folder = root.path().join("t");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("x"), b"x").unwrap();
    let (addr, server) = old_server();
    let mut command = Command::new(BIN);
    command
        .arg("send")
        .arg(&folder)
        .arg(&file)
        .args(["-", "--name", "p"])
        .args(["--to", &addr.to_string(), "--no-progress"]);
    let (code, _, err) = run(&mut command, LIMIT);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("does not know HELLO"), "{err}");
    assert!(
        err.contains("cannot take folders: it lacks tree/1"),
        "{err}"
    );
    assert!(
        err.contains("cannot take standard input: it lacks stream/1"),
        "{err}"
    );
    assert!(err.contains("sent 1 of 3 files"), "{err}");
    let (lines, data) = server.join().unwrap();
    assert_eq!(
        lines[1], "PUT 100000 a.bin",
        "plain v1 after the refusal: {lines:?}"
    );
    assert_eq!(data, fs::read(&file).unwrap());
}

#[test]
fn a_second_server_on_the_same_folder_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let first = serve(&dir, &[]);
    first.wait_for_stdout("listening on", LIMIT);
    let mut command = Command::new(BIN);
    command.args(["serve", "127.0.0.1:0", "--dir"]).arg(&dir);
    let (code, _, err) = run(&mut command, LIMIT);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("another server is using this folder"), "{err}");
    drop(first);
    // Once the first is gone, the folder is free.
    let second = serve(&dir, &[]);
    second.wait_for_stdout("listening on", LIMIT);
}
