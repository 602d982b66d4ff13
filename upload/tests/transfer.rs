//! Upload v1 against a real server on port 0, with real files: what arrives, what is refused,
//! and that nothing half-done is ever left under a real name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use common::addr::Endpoint;
use common::progress::Progress;
use indicatif::{InMemoryTerm, ProgressDrawTarget};
use support::*;
use upload::client::{self, SendError};
use upload::protocol::ErrCode;

fn options(server: &TestServer) -> client::Options {
    let to: Endpoint = server.addr().to_string().parse().unwrap();
    let mut options = client::Options::new(to);
    options.quiet = true;
    options
}

#[test]
fn files_of_every_size_arrive_byte_identical_with_matching_digests() {
    let server = TestServer::start(|_, _| {});
    let sizes = [0usize, 1, 1 << 20, 64 << 20];
    let files: Vec<PathBuf> = sizes
        .iter()
        .map(|&len| random_file(server.root.path(), &format!("r{len}.bin"), len))
        .collect();
    let report = client::send_files(&files, &options(&server), &Progress::none());
    assert!(report.all_sent(), "{report}");
    for (path, result) in &report.files {
        let sent = result.as_ref().unwrap();
        let original = fs::read(path).unwrap();
        let stored = fs::read(server.dir().join(path.file_name().unwrap())).unwrap();
        assert!(original == stored, "{} differs", path.display());
        assert_eq!(sent.digest, sha256(&original));
        assert!(sent.verified);
    }
    // Nothing else in the folder: no partial files left behind.
    assert_eq!(
        server.stored(),
        ["r0.bin", "r1.bin", "r1048576.bin", "r67108864.bin"]
    );
    let report = server.stop();
    assert_eq!(report.uploads.stored, 4);
    assert_eq!(report.uploads.stored_bytes, (1 << 20) + (64 << 20) + 1);
}

#[test]
fn a_flipped_byte_gets_err_checksum_and_leaves_no_file() {
    let server = TestServer::start(|_, _| {});
    let original = vec![7u8; 100_000];
    let mut damaged = original.clone();
    damaged[54_321] ^= 0x01;
    let mut client = RawClient::connect(server.addr());
    assert_eq!(client.put(original.len() as u64, b"photo.jpg"), "GO 0");
    client.send(&damaged);
    // The digest of what the sender meant to send: the damaged bytes do not match it.
    client.send(format!("SHA256 {}\n", sha256_hex(&original)).as_bytes());
    let reply = client.line();
    assert!(reply.starts_with("ERR CHECKSUM "), "{reply}");
    assert!(server.stored().is_empty(), "{:?}", server.stored());
    // The connection is still in step: the same file, intact, goes through.
    assert!(client.upload("photo.jpg", &original).starts_with("OK "));
    assert_eq!(fs::read(server.dir().join("photo.jpg")).unwrap(), original);
    let report = server.stop();
    assert_eq!((report.uploads.stored, report.uploads.failed), (1, 1));
}

#[test]
fn a_client_gone_mid_file_leaves_nothing_and_the_server_serves_the_next() {
    let server = TestServer::start(|_, _| {});
    let mut client = RawClient::connect(server.addr());
    assert_eq!(client.put(1_000_000, b"half.bin"), "GO 0");
    client.send(&[1u8; 400_000]);
    drop(client);
    // The server notices the end of stream and deletes the partial file.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stored().is_empty() {
        assert!(Instant::now() < deadline, "{:?}", server.stored());
        thread::sleep(Duration::from_millis(10));
    }
    let mut next = RawClient::connect(server.addr());
    assert!(next.upload("next.bin", b"next").starts_with("OK "));
    assert_eq!(server.stored(), ["next.bin"]);
}

#[test]
fn hostile_names_are_refused_and_nothing_is_written_outside_the_folder() {
    let server = TestServer::start(|_, _| {});
    let hostile: &[&[u8]] = &[
        b"",
        b".",
        b"..",
        b"../escape.txt",
        b"../../escape.txt",
        b"/tmp/escape.txt",
        b"sub/escape.txt",
        b"..\\escape.txt",
        b"C:\\escape.txt",
        b"C:escape.txt",
        b".hidden",
        b"bad\x1b[2Jname",
        b"bad\0name",
        b"\xff\xfe.bin",
        &[b'x'; 256],
    ];
    let mut client = RawClient::connect(server.addr());
    for name in hostile {
        let reply = client.put(5, name);
        assert!(reply.starts_with("ERR BAD_NAME "), "{name:?}: {reply}");
    }
    // A newline in a name ends the line: `PUT 5 a` is a whole request for a file "a", and
    // what followed the newline is the first of its 5 bytes, not a name and not lost.
    let reply = client.put(5, b"a\nb");
    assert_eq!(
        reply, "GO 0",
        "the request ended at the newline: name \"a\""
    );
    client.send(b"cde");
    let content = b"b\ncde";
    client.send(format!("SHA256 {}\n", sha256_hex(content)).as_bytes());
    let ok = client.line();
    assert_eq!(
        ok,
        format!("OK {}", sha256_hex(content)),
        "the bytes after the newline were the file's"
    );
    drop(client);
    let mut client = RawClient::connect(server.addr());
    assert!(client.upload("fine.txt", b"fine!").starts_with("OK "));
    assert_eq!(server.stored(), ["a", "fine.txt"]);
    assert_eq!(std::fs::read(server.dir().join("a")).unwrap(), content);
    // The test's root holds the upload folder and nothing else.
    assert_eq!(names(server.root.path()), ["uploads"]);
}

/// What Windows cannot hold is refused on every system, so a file any student's server
/// took can be copied to a Windows laptop; look-alikes are stored.
#[test]
fn names_windows_cannot_hold_are_refused_on_every_system() {
    let server = TestServer::start(|_, _| {});
    let mut client = RawClient::connect(server.addr());
    for name in [
        "CON",
        "prn",
        "AUX",
        "NUL",
        "nul.txt",
        "Com3.log",
        "COM1",
        "com9.tar.gz",
        "LPT1",
        "lpt9.doc",
        "a<b",
        "a>b",
        "a\"b",
        "a|b",
        "a?b",
        "a*b",
        "dot.",
        "space ",
        "x.txt.",
    ] {
        let reply = client.put(2, name.as_bytes());
        assert!(reply.starts_with("ERR BAD_NAME "), "{name:?}: {reply}");
    }
    for name in [
        "console.txt",
        "com10.txt",
        "nullable.rs",
        "lpt.txt",
        "aux-notes.md",
    ] {
        let reply = client.upload(name, b"ok");
        assert!(reply.starts_with("OK "), "{name:?}: {reply}");
    }
    assert_eq!(
        server.stored(),
        [
            "aux-notes.md",
            "com10.txt",
            "console.txt",
            "lpt.txt",
            "nullable.rs"
        ]
    );
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_in_the_folder_cannot_redirect_an_upload() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.txt");
    fs::write(&victim, b"precious").unwrap();
    let server = TestServer::start(|_, _| {});
    std::os::unix::fs::symlink(&victim, server.dir().join("link.txt")).unwrap();
    let mut client = RawClient::connect(server.addr());
    assert!(client.put(3, b"link.txt").starts_with("ERR EXISTS "));
    assert_eq!(fs::read(&victim).unwrap(), b"precious");

    // With --overwrite the link itself is replaced; its target is never written.
    let server = TestServer::start(|c, _| c.overwrite = true);
    std::os::unix::fs::symlink(&victim, server.dir().join("link.txt")).unwrap();
    let mut client = RawClient::connect(server.addr());
    assert!(client.upload("link.txt", b"new").starts_with("OK "));
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert_eq!(fs::read(server.dir().join("link.txt")).unwrap(), b"new");
}

#[test]
fn oversize_is_refused_before_any_data_and_the_connection_goes_on() {
    let server = TestServer::start(|c, _| c.max_size = 1000);
    let mut client = RawClient::connect(server.addr());
    let reply = client.put(1001, b"big.bin");
    assert!(reply.starts_with("ERR TOO_LARGE "), "{reply}");
    assert!(reply.contains("--max-size"), "{reply}");
    assert!(client.upload("small.bin", &[0u8; 1000]).starts_with("OK "));
    // The largest size there is: refused the same way, no overflow anywhere.
    assert!(client
        .put(u64::MAX, b"huge.bin")
        .starts_with("ERR TOO_LARGE "));
    assert_eq!(server.stored(), ["small.bin"]);
}

#[test]
fn too_little_free_space_is_refused_with_no_space() {
    // Ask the server to keep more free space than any disk has.
    let server = TestServer::start(|c, _| c.keep_free = u64::MAX / 2);
    let mut client = RawClient::connect(server.addr());
    let reply = client.put(10, b"a.bin");
    assert!(reply.starts_with("ERR NO_SPACE "), "{reply}");
    assert!(server.stored().is_empty());
}

#[test]
fn an_existing_file_is_refused_unless_the_server_overwrites() {
    let server = TestServer::start(|_, _| {});
    fs::write(server.dir().join("a.txt"), b"old").unwrap();
    let mut client = RawClient::connect(server.addr());
    assert!(client.put(3, b"a.txt").starts_with("ERR EXISTS "));
    assert_eq!(fs::read(server.dir().join("a.txt")).unwrap(), b"old");

    let server = TestServer::start(|c, _| c.overwrite = true);
    fs::write(server.dir().join("a.txt"), b"old").unwrap();
    let mut client = RawClient::connect(server.addr());
    assert!(client.upload("a.txt", b"new!").starts_with("OK "));
    assert_eq!(fs::read(server.dir().join("a.txt")).unwrap(), b"new!");
}

#[test]
fn malformed_requests_get_bad_request_and_the_server_goes_on() {
    let server = TestServer::start(|_, _| {});
    let mut client = RawClient::connect(server.addr());
    for bad in [
        &b"HELO\n"[..],
        b"FROM 5\n",
        b"PUT abc x\n",
        b"PUT -5 x\n",
        b"PUT 5\n",
        b"SHA256 00\n",
        b"\n",
    ] {
        client.send(bad);
        let reply = client.line();
        assert!(reply.starts_with("ERR BAD_REQUEST "), "{bad:?}: {reply}");
    }
    assert!(client.upload("ok.txt", b"ok").starts_with("OK "));
    // An endless line: refused after MAX_LINE bytes, and that connection is closed.
    client.send(&[b'P'; 10_000]);
    assert!(client.line().starts_with("ERR BAD_REQUEST "));
    assert_eq!(client.line(), "");
    // Binary garbage on a new connection: still no panic, the server answers the next one.
    let mut garbage = RawClient::connect(server.addr());
    garbage.send(&[0xff, 0x00, 0x13, b'\n', 0x80, 0x81, b'\n']);
    assert!(garbage.line().starts_with("ERR BAD_REQUEST "));
    let mut next = RawClient::connect(server.addr());
    assert!(next.upload("next.txt", b"x").starts_with("OK "));
}

#[test]
fn a_sender_that_stalls_mid_file_is_timed_out_and_its_part_deleted() {
    let server = TestServer::start(|_, l| l.idle_timeout = Some(Duration::from_millis(300)));
    let mut client = RawClient::connect(server.addr());
    assert_eq!(client.put(1000, b"slow.bin"), "GO 0");
    client.send(&[0u8; 500]);
    // ... and nothing more. The server gives up, says so, and closes.
    let reply = client.line();
    assert!(reply.starts_with("ERR TIMEOUT "), "{reply}");
    assert_eq!(client.line(), "");
    assert!(server.stored().is_empty(), "{:?}", server.stored());
    let report = server.stop();
    assert_eq!(report.uploads.failed, 1);
}

#[test]
fn concurrent_uploads_of_different_files_all_arrive() {
    let server = TestServer::start(|_, _| {});
    let addr = server.addr();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            thread::spawn(move || {
                let bytes: Vec<u8> = (0..300_000u32).map(|j| (j * 7 + i) as u8).collect();
                let mut client = RawClient::connect(addr);
                let reply = client.upload(&format!("f{i}.bin"), &bytes);
                (bytes, reply)
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        let (bytes, reply) = h.join().unwrap();
        assert_eq!(reply, format!("OK {}", sha256_hex(&bytes)));
        assert_eq!(
            fs::read(server.dir().join(format!("f{i}.bin"))).unwrap(),
            bytes
        );
    }
    assert_eq!(server.stored().len(), 8);
}

#[test]
fn two_uploads_of_one_name_at_once_never_mix() {
    let server = TestServer::start(|_, _| {});
    let first = vec![b'A'; 200_000];
    let second = vec![b'B'; 200_000];
    let mut a = RawClient::connect(server.addr());
    let mut b = RawClient::connect(server.addr());
    assert_eq!(a.put(first.len() as u64, b"same.bin"), "GO 0");
    a.send(&first[..100_000]);
    // While A is half way, B asks for the same name: told to wait, not let in.
    let reply = b.put(second.len() as u64, b"same.bin");
    assert!(reply.starts_with("ERR BUSY "), "{reply}");
    a.send(&first[100_000..]);
    a.send(format!("SHA256 {}\n", sha256_hex(&first)).as_bytes());
    assert!(a.line().starts_with("OK "));
    // Afterwards B is refused because the file exists: A's file stays whole.
    assert!(b.upload("same.bin", &second).starts_with("ERR EXISTS "));
    assert_eq!(fs::read(server.dir().join("same.bin")).unwrap(), first);
}

#[test]
fn racing_overwrites_leave_one_whole_file() {
    let server = TestServer::start(|c, _| c.overwrite = true);
    let addr = server.addr();
    let contents: Vec<Vec<u8>> = (0..6u8).map(|i| vec![b'a' + i; 500_000]).collect();
    let handles: Vec<_> = contents
        .iter()
        .cloned()
        .map(|bytes| {
            thread::spawn(move || {
                // Retry while another upload of the name is in progress.
                for _ in 0..500 {
                    let reply = RawClient::connect(addr).upload("race.bin", &bytes);
                    if !reply.starts_with("ERR BUSY") {
                        return reply;
                    }
                    thread::sleep(Duration::from_millis(2));
                }
                panic!("always busy");
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().starts_with("OK "));
    }
    let stored = fs::read(server.dir().join("race.bin")).unwrap();
    assert!(contents.contains(&stored), "a mixed file");
    assert_eq!(server.stored(), ["race.bin"]);
}

#[test]
fn the_sender_reports_each_refusal_and_goes_on_with_the_next_file() {
    let server = TestServer::start(|c, _| c.max_size = 100);
    let root = server.root.path();
    let small = random_file(root, "small.bin", 50);
    let big = random_file(root, "big.bin", 101);
    let hidden = random_file(root, ".hidden", 10);
    let missing = root.join("missing.bin");
    let files = [big.clone(), hidden.clone(), missing.clone(), small.clone()];
    let report = client::send_files(&files, &options(&server), &Progress::none());
    assert!(!report.all_sent());
    let outcome: Vec<Option<ErrCode>> = report
        .files
        .iter()
        .map(|(_, r)| match r {
            Err(SendError::Refused(code, _)) => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(
        outcome,
        [Some(ErrCode::TooLarge), Some(ErrCode::BadName), None, None]
    );
    assert!(matches!(report.files[2].1, Err(SendError::Open(_))));
    assert!(report.files[3].1.is_ok());
    let summary = report.to_string();
    assert!(summary.starts_with("sent 1 of 4 files"), "{summary}");
    assert!(summary.contains("big.bin (ERR TOO_LARGE)"), "{summary}");
    assert_eq!(server.stored(), ["small.bin"]);
}

#[test]
fn a_full_disk_mid_file_stops_the_sender_at_once() {
    // The server answers ERR in the middle of a file; the sender must hear it while it is
    // still sending, not after pushing the whole file. A server stand-in that does just that:
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = thread::spawn(move || {
        use std::io::{BufRead, BufReader, Read, Write};
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(b"UPLOAD/1 READY\n").unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        // HELLO, answered as a server from before extensions would; then the PUT.
        reader.read_line(&mut line).unwrap();
        stream
            .write_all(b"ERR BAD_REQUEST unknown command \"HELLO\"\n")
            .unwrap();
        reader.read_line(&mut line).unwrap();
        stream.write_all(b"GO 0\n").unwrap();
        let mut first = vec![0u8; 2 << 20];
        reader.read_exact(&mut first).unwrap();
        stream
            .write_all(b"ERR NO_SPACE the server's disk is full\n")
            .unwrap();
        // Keep reading (as the real server lingers) and count what still comes.
        let mut rest = 0u64;
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            rest += n as u64;
        }
        rest
    });
    let dir = tempfile::tempdir().unwrap();
    let big = random_file(dir.path(), "big.bin", 256 << 20);
    let mut options = client::Options::new(addr.to_string().parse().unwrap());
    options.quiet = true;
    let report = client::send_files(&[big], &options, &Progress::none());
    match &report.files[0].1 {
        Err(SendError::Refused(ErrCode::NoSpace, text)) => assert!(text.contains("full")),
        other => panic!("{other:?}"),
    }
    let after_err = fake.join().unwrap();
    assert!(after_err < 64 << 20, "sent {after_err} bytes after the ERR");
}

#[test]
fn progress_bars_show_each_file_and_the_total() {
    let server = TestServer::start(|_, _| {});
    let a = random_file(server.root.path(), "alpha.bin", 300_000);
    let b = random_file(server.root.path(), "beta.bin", 200_000);
    let term = InMemoryTerm::new(10, 140);
    let progress = Progress::with_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
    let report = client::send_files(&[a, b], &options(&server), &progress);
    assert!(report.all_sent());
    let screen = term.contents();
    assert!(screen.contains("alpha.bin ✓"), "{screen}");
    assert!(screen.contains("beta.bin ✓"), "{screen}");
    assert!(screen.contains("195.31 KiB/195.31 KiB"), "{screen}");
}

/// One address cannot take every slot of the upload server either: past `--max-per-peer`
/// it gets `ERR BUSY`, while another address is served. (The two "hosts" are loopback
/// addresses, so the limit covers loopback here: `--limit-loopback`.)
#[test]
fn one_address_is_held_to_its_share() {
    let server = TestServer::start(|_, l| {
        l.max_per_peer = Some(2);
        l.scope = common::addr::LimitScope::Everyone;
    });
    let _a = RawClient::connect(server.addr());
    let _b = RawClient::connect(server.addr());
    let mut third = RawClient::connect_quiet(server.addr());
    let line = third.line();
    assert!(line.starts_with("ERR BUSY "), "{line}");
    let mut other = RawClient::connect_quiet_from([127, 0, 0, 2], server.addr());
    assert_eq!(other.line(), "UPLOAD/1 READY");
    assert!(other.upload("other.txt", b"served").starts_with("OK "));
    let report = server.stop();
    assert_eq!(report.connections.refused_per_peer, 1);
}

/// By default the limit per address leaves this machine's own senders alone.
#[test]
fn loopback_senders_are_exempt_by_default() {
    let server = TestServer::start(|_, l| l.max_per_peer = Some(2));
    let mut held: Vec<RawClient> = (0..5)
        .map(|_| RawClient::connect_quiet(server.addr()))
        .collect();
    for c in &mut held {
        assert_eq!(c.line(), "UPLOAD/1 READY");
    }
    let report = server.stop();
    assert_eq!(report.connections.refused_per_peer, 0);
}

/// Slowloris against the upload server: a control line trickled one byte at a time gets
/// `ERR TIMEOUT` when it runs out of time, though the sender is never idle for long.
#[test]
fn a_trickled_control_line_is_cut_off() {
    let server = TestServer::start(|_, l| {
        l.idle_timeout = Some(Duration::from_secs(5));
        l.message_timeout = Some(Duration::from_millis(500));
    });
    let mut client = RawClient::connect(server.addr());
    let started = Instant::now();
    for byte in b"PUT 5 slow.txt".iter().cycle().take(30) {
        if !client.try_send(&[*byte]) || started.elapsed() > Duration::from_secs(1) {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let line = client.line();
    assert!(line.starts_with("ERR TIMEOUT "), "{line}");
    assert!(line.contains("0.5 s after its first byte"), "{line}");
    let mut next = RawClient::connect(server.addr());
    assert!(next.upload("after.txt", b"fine!").starts_with("OK "));
    assert_eq!(server.stored(), ["after.txt"]);
    let report = server.stop();
    assert_eq!(report.connections.closed[6], 1, "{}", report.connections);
}

/// The resume extension line by line: HELLO names it, a RESUME with nothing kept is a PUT,
/// a RESUME after a break gets HAVE with the digest of what arrived, and FROM must answer
/// HAVE.
#[test]
fn resume_line_by_line() {
    let server = TestServer::start(|_, _| {});
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    let mut client = RawClient::connect(server.addr());
    client.send(b"HELLO other/3 resume/1\n");
    assert_eq!(client.line(), "HELLO resume/1", "only the one both have");
    client.send(b"FROM 5\n");
    assert!(client
        .line()
        .starts_with("ERR BAD_REQUEST FROM answers HAVE"));
    client.send(format!("RESUME {} r.bin\n", data.len()).as_bytes());
    assert_eq!(client.line(), "GO 0", "nothing kept: as after PUT");
    client.send(&data[..100_000]);
    drop(client);
    // The server notices and keeps the part, with a record of the 100,000 bytes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut client = loop {
        let mut client = RawClient::connect(server.addr());
        client.send(format!("RESUME {} r.bin\n", data.len()).as_bytes());
        let reply = client.line();
        if reply.starts_with("HAVE ") {
            assert_eq!(
                reply,
                format!("HAVE 100000 {}", sha256_hex(&data[..100_000]))
            );
            break client;
        }
        // Still busy with the first connection, or not kept yet: try again.
        assert!(Instant::now() < deadline, "{reply}: {:?}", server.stored());
        thread::sleep(Duration::from_millis(20));
    };
    client.send(b"FROM 7\n");
    assert!(client
        .line()
        .starts_with("ERR BAD_REQUEST expected FROM 100000 or FROM 0"));
    // The part is still kept after that: FROM it, the rest, the whole file's digest.
    let mut client = RawClient::connect(server.addr());
    client.send(format!("RESUME {} r.bin\n", data.len()).as_bytes());
    assert!(client.line().starts_with("HAVE 100000 "));
    client.send(b"FROM 100000\n");
    assert_eq!(client.line(), "GO 100000");
    client.send(&data[100_000..]);
    client.send(format!("SHA256 {}\n", sha256_hex(&data)).as_bytes());
    assert_eq!(client.line(), format!("OK {}", sha256_hex(&data)));
    assert_eq!(
        server.stored(),
        ["r.bin"],
        "the part and its record are gone"
    );
    assert_eq!(std::fs::read(server.dir().join("r.bin")).unwrap(), data);
}

#[test]
fn a_server_that_keeps_no_parts_offers_no_resume() {
    let server = TestServer::start(|c, _| c.keep_partial = None);
    let mut client = RawClient::connect(server.addr());
    client.send(b"HELLO resume/1\n");
    assert_eq!(client.line(), "HELLO");
    // A RESUME all the same is a PUT: GO 0, and a break leaves nothing.
    client.send(b"RESUME 1000 n.bin\n");
    assert_eq!(client.line(), "GO 0");
    client.send(&[1u8; 400]);
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.stored().is_empty() {
        assert!(Instant::now() < deadline, "{:?}", server.stored());
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_resumed_bar_starts_at_the_offset_and_says_so() {
    let server = TestServer::start(|_, _| {});
    let a = random_file(server.root.path(), "alpha.bin", 400_000);
    let data = std::fs::read(&a).unwrap();
    let mut client = RawClient::connect(server.addr());
    client.send(b"RESUME 400000 alpha.bin\n");
    assert_eq!(client.line(), "GO 0");
    client.send(&data[..(300 << 10)]);
    drop(client);
    let term = InMemoryTerm::new(10, 160);
    let progress = Progress::with_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
    let deadline = Instant::now() + Duration::from_secs(10);
    let sent = loop {
        let report = client::send_files(std::slice::from_ref(&a), &options(&server), &progress);
        let (_, result) = report.files.into_iter().next().unwrap();
        match result {
            Ok(sent) if sent.resumed_at > 0 => break sent,
            // The first connection not noticed yet: try again (the file is then whole,
            // and is deleted so that the next try can resume).
            other => {
                assert!(Instant::now() < deadline, "{other:?}");
                let _ = std::fs::remove_file(server.dir().join("alpha.bin"));
                thread::sleep(Duration::from_millis(20));
            }
        }
    };
    assert_eq!(sent.resumed_at, 300 << 10);
    assert_eq!(sent.digest, sha256(&data));
    let screen = term.contents();
    assert!(screen.contains("resumed at 300.0 KiB"), "{screen}");
    assert!(screen.contains("alpha.bin ✓"), "{screen}");
}

/// A sender gone after the last byte and before its SHA256 line: the whole part is kept,
/// and the next try has only the digest to send. And a PUT that stores the name takes the
/// kept part of it away.
#[test]
fn a_break_before_the_digest_keeps_it_all_and_a_put_clears_it() {
    let server = TestServer::start(|_, _| {});
    let data = vec![7u8; 50_000];
    let mut client = RawClient::connect(server.addr());
    client.send(b"RESUME 50000 w.bin\n");
    assert_eq!(client.line(), "GO 0");
    client.send(&data);
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut client = loop {
        let mut client = RawClient::connect(server.addr());
        client.send(b"RESUME 50000 w.bin\n");
        let reply = client.line();
        if reply.starts_with("HAVE ") {
            assert_eq!(reply, format!("HAVE 50000 {}", sha256_hex(&data)));
            break client;
        }
        assert!(Instant::now() < deadline, "{reply}: {:?}", server.stored());
        thread::sleep(Duration::from_millis(20));
    };
    client.send(b"FROM 50000\n");
    assert_eq!(client.line(), "GO 50000");
    client.send(format!("SHA256 {}\n", sha256_hex(&data)).as_bytes());
    assert_eq!(client.line(), format!("OK {}", sha256_hex(&data)));
    assert_eq!(server.stored(), ["w.bin"]);

    // Kept again for another name, then that name stored by a plain PUT: nothing is left.
    let mut client = RawClient::connect(server.addr());
    client.send(b"RESUME 50000 p.bin\n");
    assert_eq!(client.line(), "GO 0");
    client.send(&data[..1000]);
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.stored().len() < 3 {
        assert!(Instant::now() < deadline, "{:?}", server.stored());
        thread::sleep(Duration::from_millis(10));
    }
    loop {
        let mut client = RawClient::connect(server.addr());
        let reply = client.upload("p.bin", &data);
        if reply.starts_with("OK ") {
            break;
        }
        assert!(Instant::now() < deadline, "{reply}");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.stored(), ["p.bin", "w.bin"]);
}

/// A pipe's bar (`upload send -`, and the server's for a `STREAM`): bytes so far and the
/// rate, no percentage and no ETA, since nobody knows the end.
#[test]
fn a_bar_of_unknown_size_shows_bytes_and_rate_only() {
    let term = InMemoryTerm::new(4, 140);
    let progress = Progress::with_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
    let bar = progress.open_ended("pipe.bin");
    bar.inc(3 << 20);
    bar.finish("pipe.bin ✓");
    let screen = term.contents();
    assert!(screen.contains("pipe.bin ✓"), "{screen}");
    assert!(screen.contains("3.00 MiB so far"), "{screen}");
    assert!(!screen.contains('%') && !screen.contains("ETA"), "{screen}");
    // A file's bar, for contrast, has both its total and an ETA.
    let file = progress.file("f.bin", 4 << 20);
    file.inc(1 << 20);
    file.finish("f.bin ✓");
    assert!(term.contents().contains("ETA"), "{}", term.contents());
}
