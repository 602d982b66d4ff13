//! Folders, pipes and `upload get`, as a student meets them: `upload send photos/` with
//! nested, empty and hostile names in it; `producer | upload send - --name x` for 100 MiB,
//! and a pipe that breaks; `upload get x | sha256sum`. And the server against a raw
//! client that sends every hostile path there is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::testing::{run, ServerProcess};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_upload");
const LIMIT: Duration = Duration::from_secs(120);

fn serve(dir: &Path, args: &[&str]) -> ServerProcess {
    let mut command = Command::new(BIN);
    command
        .args(["serve", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(args);
    ServerProcess::start(command)
}

/// `upload ARGS... --to ADDR --no-progress`, run in `cwd`: exit code, stdout, stderr.
fn upload(cwd: &Path, server: &ServerProcess, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command
        .current_dir(cwd)
        .args(args)
        .args(["--to", &server.addr.to_string(), "--no-progress"]);
    let (code, out, err) = run(&mut command, LIMIT);
    (code.unwrap_or(-1), out, err)
}

/// Every file under `dir`, as `relative path -> bytes`, and every folder as `path/`.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name() {
        let entry = entry.unwrap();
        let relative = entry.path().strip_prefix(dir).unwrap();
        let name = relative.to_string_lossy().replace('\\', "/");
        if name == common::files::store::FOLDER_LOCK {
            continue;
        }
        if entry.file_type().is_dir() {
            found.push((format!("{name}/"), Vec::new()));
        } else if entry.file_type().is_symlink() {
            found.push((name, b"(a link)".to_vec()));
        } else {
            found.push((name, fs::read(entry.path()).unwrap()));
        }
    }
    found
}

#[test]
fn a_folder_arrives_whole_with_its_empty_folders_and_its_links_skipped() {
    let root = tempfile::tempdir().unwrap();
    let photos = root.path().join("photos");
    fs::create_dir_all(photos.join("2024").join("夏天")).unwrap();
    fs::create_dir_all(photos.join("empty").join("deeper")).unwrap();
    random_file(&photos, "a.jpg", 3000);
    random_file(&photos.join("2024"), "b c.jpg", 70_000);
    random_file(&photos.join("2024").join("夏天"), "海.png", 1);
    fs::write(photos.join("2024").join("zero.txt"), b"").unwrap();
    fs::write(photos.join("scratch.tmp"), b"leave me out").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc", photos.join("etc")).unwrap();
    let expected = tree(&photos);

    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let (code, out, err) = upload(
        root.path(),
        &server,
        &["send", "photos", "--exclude", "*.tmp"],
    );
    assert_eq!(code, 0, "{err}");
    // One sha256sum line per file, with the path as it is here: `sha256sum -c` reads them.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    let b = fs::read(photos.join("2024").join("b c.jpg")).unwrap();
    let local = Path::new("photos").join("2024").join("b c.jpg");
    assert!(
        lines.contains(&format!("{}  {}", sha256_hex(&b), local.display()).as_str()),
        "{out}"
    );
    assert!(err.contains("sent 4 of 4 files"), "{err}");
    assert!(err.contains("and 5 of 5 folders"), "{err}");
    #[cfg(unix)]
    assert!(
        err.contains("skipped") && err.contains("links are not followed"),
        "{err}"
    );
    // The same tree on the server, empty folders kept, without the excluded file or the link.
    let stored = tree(&dir.join("photos"));
    let wanted: Vec<_> = expected
        .into_iter()
        .filter(|(name, _)| name != "scratch.tmp" && name != "etc")
        .collect();
    assert_eq!(stored, wanted);
}

#[test]
fn hostile_names_in_a_folder_are_refused_and_the_rest_arrives() {
    let root = tempfile::tempdir().unwrap();
    let t = root.path().join("t");
    fs::create_dir_all(t.join(".git")).unwrap();
    fs::write(t.join(".git").join("config"), b"secret").unwrap();
    fs::write(t.join(".env"), b"secret").unwrap();
    fs::write(t.join("ok.txt"), b"ok").unwrap();
    // Names that Linux allows and Windows does not: refused on every system.
    #[cfg(unix)]
    {
        fs::write(t.join("nul.txt"), b"x").unwrap();
        fs::write(t.join("a:b"), b"x").unwrap();
    }
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let (code, _, err) = upload(root.path(), &server, &["send", "t"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(".git: not sent, nor anything in it"), "{err}");
    assert!(err.contains(".env: not sent"), "{err}");
    assert!(err.contains("not sent:"), "{err}");
    assert_eq!(
        tree(&dir),
        [
            ("t/".to_string(), Vec::new()),
            ("t/ok.txt".to_string(), b"ok".to_vec())
        ]
    );
}

/// `HELLO` with `extensions`, and the server's answer.
fn hello(client: &mut RawClient, extensions: &str) -> String {
    client.send(format!("HELLO {extensions}\n").as_bytes());
    client.line()
}

#[test]
fn the_server_checks_every_part_of_a_path() {
    let server = TestServer::start(|_, _| {});
    let mut client = RawClient::connect(server.addr());
    // Without tree/1, a path is still a bad name, and MKDIR is not known.
    assert!(client.put(1, b"a/b").starts_with("ERR BAD_NAME"));
    client.send(b"MKDIR a\n");
    assert!(client.line().starts_with("ERR BAD_REQUEST"));
    assert_eq!(hello(&mut client, "tree/1 x/9"), "HELLO tree/1");
    let deep = vec!["d"; 33].join("/");
    for hostile in [
        &b"../x"[..],
        b"a/../../x",
        b"/etc/x",
        b"a//b",
        b"a/",
        b"a/.git/config",
        b"a/./b",
        b"C:/x",
        b"a\\..\\b/c",
        b"a/nul/x",
        b"a/b\x1b[2J/c",
        b"a/trail./x",
        deep.as_bytes(),
    ] {
        let answer = client.put(1, hostile);
        assert!(answer.starts_with("ERR BAD_NAME"), "{hostile:?}: {answer}");
        let mut line = b"MKDIR ".to_vec();
        line.extend_from_slice(hostile);
        line.push(b'\n');
        client.send(&line);
        let answer = client.line();
        assert!(answer.starts_with("ERR BAD_NAME"), "{hostile:?}: {answer}");
    }
    // Nothing was made, inside the folder or beside it.
    assert!(server.stored().is_empty(), "{:?}", server.stored());
    assert_eq!(names(server.root.path()), ["uploads"]);
    // And what is right works, in the same connection.
    client.send(b"MKDIR a/b\n");
    assert_eq!(client.line(), "MADE");
    assert!(client.upload("a/b/c.txt", b"hello").starts_with("OK "));
    assert_eq!(fs::read(server.dir().join("a/b/c.txt")).unwrap(), b"hello");
    // A file where a folder should be.
    assert!(client.put(1, b"a/b/c.txt/d").starts_with("ERR EXISTS"));
}

#[cfg(unix)]
#[test]
fn a_link_planted_in_the_upload_folder_is_not_followed() {
    let server = TestServer::start(|_, _| {});
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(outside.path(), server.dir().join("out")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), server.dir().join("secret")).unwrap();
    let mut client = RawClient::connect(server.addr());
    assert_eq!(hello(&mut client, "tree/1 get/1"), "HELLO tree/1 get/1");
    assert!(client.put(1, b"out/x").starts_with("ERR EXISTS"));
    client.send(b"MKDIR out/y\n");
    assert!(client.line().starts_with("ERR EXISTS"));
    for name in ["out/secret", "secret"] {
        client.send(format!("GET {name}\n").as_bytes());
        let answer = client.line();
        assert!(answer.starts_with("ERR NOT_FOUND"), "{name}: {answer}");
    }
    assert_eq!(names(outside.path()), ["secret"]);
}

#[test]
fn a_pipe_of_100_mib_arrives_verified() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let mut rng = fastrand::Rng::with_seed(100);
    let mut bytes = vec![0u8; 100 << 20];
    rng.fill(&mut bytes);
    let mut sender = Command::new(BIN)
        .args(["send", "-", "--name", "pipe.bin", "--no-progress"])
        .args(["--to", &server.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = sender.stdin.take().unwrap();
    let writer = {
        let bytes = bytes.clone();
        // Written in odd pieces, as a program's output comes.
        std::thread::spawn(move || {
            for piece in bytes.chunks(100_003) {
                stdin.write_all(piece).unwrap();
            }
        })
    };
    let out = sender.wait_with_output().unwrap();
    writer.join().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), format!("{}  -", sha256_hex(&bytes)));
    assert!(stderr.contains("verified by the server"), "{stderr}");
    assert_eq!(fs::read(dir.join("pipe.bin")).unwrap(), bytes);
    server.wait_for_stdout("STREAM \"pipe.bin\" (size not known)", LIMIT);
}

#[test]
fn a_pipe_that_breaks_leaves_no_file() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    // The sender killed mid-stream (our own child, by its PID).
    let mut sender = Command::new(BIN)
        .args(["send", "-", "--name", "broken.bin", "--no-progress"])
        .args(["--to", &server.addr.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = sender.stdin.take().unwrap();
    stdin.write_all(&vec![7u8; 3 << 20]).unwrap();
    server.wait_for_stdout("STREAM \"broken.bin\"", LIMIT);
    std::thread::sleep(Duration::from_millis(300));
    sender.kill().unwrap();
    sender.wait().unwrap();
    drop(stdin);
    server.wait_for_stdout("broken.bin: the client left after", LIMIT);
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
}

#[test]
fn a_stream_is_checked_as_a_file_is() {
    let server = TestServer::start(|config, _| config.max_size = 1000);
    let mut client = RawClient::connect(server.addr());
    // Without stream/1, STREAM is not known.
    client.send(b"STREAM x\n");
    assert!(client.line().starts_with("ERR BAD_REQUEST"));
    assert_eq!(hello(&mut client, "stream/1"), "HELLO stream/1");
    // A wrong digest: nothing stored, and the connection goes on.
    client.send(b"STREAM a.txt\n");
    assert_eq!(client.line(), "GO 0");
    client.send(b"DATA 3\nabc");
    client.send(format!("SHA256 {}\n", sha256_hex(b"abd")).as_bytes());
    assert!(client.line().starts_with("ERR CHECKSUM"));
    // Right, in three chunks.
    client.send(b"STREAM a.txt\n");
    assert_eq!(client.line(), "GO 0");
    client.send(b"DATA 1\naDATA 2\nbcDATA 1\nd");
    client.send(format!("SHA256 {}\n", sha256_hex(b"abcd")).as_bytes());
    assert_eq!(client.line(), format!("OK {}", sha256_hex(b"abcd")));
    assert_eq!(fs::read(server.dir().join("a.txt")).unwrap(), b"abcd");
    // An empty stream is an empty file.
    client.send(b"STREAM empty\n");
    assert_eq!(client.line(), "GO 0");
    client.send(format!("SHA256 {}\n", sha256_hex(b"")).as_bytes());
    assert!(client.line().starts_with("OK "));
    // Past --max-size: refused mid-stream, nothing stored.
    client.send(b"STREAM big\n");
    assert_eq!(client.line(), "GO 0");
    client.send(b"DATA 600\n");
    client.send(&[0u8; 600]);
    client.send(b"DATA 600\n");
    assert!(client.line().starts_with("ERR TOO_LARGE"));
    // A stream cut in the middle of a chunk.
    let mut client = RawClient::connect(server.addr());
    assert_eq!(hello(&mut client, "stream/1"), "HELLO stream/1");
    client.send(b"STREAM cut\n");
    assert_eq!(client.line(), "GO 0");
    client.send(b"DATA 10\nabc");
    drop(client);
    // The server deletes the part once it sees the end (bounded wait).
    let deadline = std::time::Instant::now() + LIMIT;
    while server.stored() != ["a.txt", "empty"] && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.stored(), ["a.txt", "empty"]);
    let report = server.stop();
    assert_eq!(report.uploads.stored, 2, "{report:?}");
}

#[test]
fn get_sends_a_stored_file_back_verified() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("in");
    let server = serve(&dir, &[]);
    let file = random_file(root.path(), "back.bin", 3 << 20);
    let bytes = fs::read(&file).unwrap();
    let (code, _, err) = upload(root.path(), &server, &["send", "back.bin"]);
    assert_eq!(code, 0, "{err}");
    // To standard output, as `upload get back.bin | sha256sum` reads it.
    let mut command = Command::new(BIN);
    command
        .args(["get", "back.bin", "--no-progress"])
        .args(["--to", &server.addr.to_string()])
        .stderr(Stdio::piped());
    let out = command.output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&sha256_hex(&bytes)) && err.contains("verified"),
        "{err}"
    );
    // Into a file with --output, which is replaced once verified.
    fs::write(root.path().join("copy.bin"), b"old").unwrap();
    let (code, out, err) = upload(root.path(), &server, &["get", "back.bin", "-o", "copy.bin"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert_eq!(fs::read(root.path().join("copy.bin")).unwrap(), bytes);
    // What may not be asked for, and what is not there: exit 1, a reason, nothing written.
    for (name, why) in [
        ("../back.bin", "BAD_NAME"),
        (".upload-serve.lock", "BAD_NAME"),
        ("missing", "NOT_FOUND"),
    ] {
        let (code, out, err) = upload(root.path(), &server, &["get", name]);
        assert_eq!((code, out.as_str()), (1, ""), "{name}: {err}");
        assert!(err.contains(why), "{name}: {err}");
    }
    let (code, _, err) = upload(root.path(), &server, &["get", "missing", "-o", "m.bin"]);
    assert_eq!(code, 1, "{err}");
    assert!(!root.path().join("m.bin").exists());
    let hidden: Vec<_> = names(root.path())
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}
