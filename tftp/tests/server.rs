//! The server and the client against each other, in one process: every transfer checked by
//! SHA-256, and every refusal by its ERROR code. A raw socket plays the client that
//! misbehaves (duplicates its ACKs, goes silent, writes from a wrong port).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::server::shutdown::Background;
use sha2::{Digest, Sha256};
use tftp::client::{self, ClientError, Options};
use tftp::options::Wanted;
use tftp::packet::{self, ErrorCode, Mode, Packet, Request, TftpOption};
use tftp::server::{Config, Summary};
use tftp::transfer::{Failure, Timing};

struct TestServer {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    server: Option<Background<Summary>>,
}

impl TestServer {
    fn start(tune: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().to_path_buf());
        config.quiet = true;
        config.allow_write = true;
        tune(&mut config);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let server = tftp::run::spawn(socket, config).unwrap();
        TestServer {
            dir,
            addr,
            server: Some(server),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn stop(mut self) -> Summary {
        self.server.take().unwrap().stop().unwrap()
    }

    /// The names in the folder, hidden ones too.
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

fn options(addr: SocketAddr, blksize: Option<usize>, windowsize: Option<u16>) -> Options {
    let mut o = Options::new(addr);
    o.wanted = Wanted {
        blksize,
        windowsize,
        ..Wanted::default()
    };
    o
}

fn got_error(e: ClientError) -> ErrorCode {
    match e {
        ClientError::Transfer(Failure::Peer { code, .. }) => code,
        other => panic!("expected an ERROR from the server, got {other}"),
    }
}

#[test]
fn files_of_every_size_go_both_ways_with_and_without_options() {
    let s = TestServer::start(|_| {});
    let work = tempfile::tempdir().unwrap();
    for (i, (len, blksize, windowsize)) in [
        (0, None, None),
        (1, None, None),
        (512, None, None),
        (512 * 3, Some(512), Some(2)),
        (100_000, None, None),
        (100_000, Some(1428), None),
        (300_001, Some(1428), Some(16)),
        (300_000, Some(65_464), Some(4)),
    ]
    .into_iter()
    .enumerate()
    {
        let data = content(len, i as u64);
        let name = format!("f{i}.bin");
        fs::write(s.path(&name), &data).unwrap();
        let o = options(s.addr, blksize, windowsize);
        let out = work.path().join(&name);
        let got = client::get(&o, &name, &out).unwrap();
        assert_eq!(fs::read(&out).unwrap(), data, "get {name}");
        assert_eq!(got.digest, sha256(&data));
        assert_eq!(got.settings.blksize, blksize.unwrap_or(512));
        assert_eq!(got.settings.windowsize, windowsize.unwrap_or(1));
        assert_eq!(got.settings.tsize, Some(len as u64), "tsize is answered");
        let put = client::put(&o, &out, &format!("back{i}.bin")).unwrap();
        assert_eq!(put.digest, sha256(&data));
        assert_eq!(
            fs::read(s.path(&format!("back{i}.bin"))).unwrap(),
            data,
            "put {name}"
        );
    }
    // A bare RFC 1350 request: no OACK, 512-byte blocks.
    let mut o = options(s.addr, None, None);
    o.no_options = true;
    let got = client::get(&o, "f4.bin", &work.path().join("bare.bin")).unwrap();
    assert_eq!(got.settings.tsize, None);
    assert_eq!(got.counters.blocks, 100_000 / 512 + 1);
    let names = s.names();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "no part file left: {names:?}"
    );
    let summary = s.stop();
    assert_eq!(summary.failed.load(Ordering::Relaxed), 0);
    assert_eq!(summary.completed.load(Ordering::Relaxed), 17);
}

#[test]
fn block_numbers_roll_over_past_65535_on_the_wire() {
    // 70,000 blocks of 8 bytes, 64 per window: block 65,536 is sent as 0.
    let s = TestServer::start(|_| {});
    let data = content(8 * 70_000 + 5, 9);
    fs::write(s.path("big.bin"), &data).unwrap();
    let work = tempfile::tempdir().unwrap();
    let o = options(s.addr, Some(8), Some(64));
    let got = client::get(&o, "big.bin", &work.path().join("big.bin")).unwrap();
    assert_eq!(got.counters.blocks, 70_001);
    assert_eq!(got.digest, sha256(&data));
    let put = client::put(&o, &work.path().join("big.bin"), "again.bin").unwrap();
    assert_eq!(put.counters.blocks, 70_001);
    assert_eq!(fs::read(s.path("again.bin")).unwrap(), data);
}

#[test]
fn netascii_converts_line_ends_both_ways() {
    let s = TestServer::start(|_| {});
    fs::write(s.path("notes.txt"), b"one\ntwo\r\n").unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut o = options(s.addr, None, None);
    o.mode = Mode::Netascii;
    let out = work.path().join("notes.txt");
    client::get(&o, "notes.txt", &out).unwrap();
    let nl = tftp::netascii::LOCAL_NEWLINE;
    assert_eq!(
        fs::read(&out).unwrap(),
        [&b"one"[..], nl, b"two", nl].concat()
    );
    client::put(&o, &out, "back.txt").unwrap();
    assert_eq!(
        fs::read(s.path("back.txt")).unwrap(),
        [&b"one"[..], nl, b"two", nl].concat()
    );
}

#[test]
fn every_refusal_has_its_error_code() {
    let s = TestServer::start(|c| c.max_size = 1000);
    fs::write(s.path("here.txt"), b"x").unwrap();
    fs::create_dir(s.path("sub")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let o = options(s.addr, None, None);
    let out = work.path().join("out");
    // Names that leave the folder, or that Windows cannot hold: ERROR 2.
    for bad in [
        "../here.txt",
        "/etc/passwd",
        "sub/x",
        "C:x",
        ".hidden",
        "CON",
        "nul.txt",
        "a?b",
        "",
        "sub",
    ] {
        let code = got_error(client::get(&o, bad, &out).unwrap_err());
        let want = if bad == "sub" {
            ErrorCode::FileNotFound
        } else {
            ErrorCode::AccessViolation
        };
        assert_eq!(code, want, "{bad:?}");
    }
    assert_eq!(
        got_error(client::get(&o, "missing.txt", &out).unwrap_err()),
        ErrorCode::FileNotFound
    );
    // An existing file is kept: ERROR 6.
    let local = work.path().join("local.txt");
    fs::write(&local, b"new").unwrap();
    assert_eq!(
        got_error(client::put(&o, &local, "here.txt").unwrap_err()),
        ErrorCode::FileExists
    );
    assert_eq!(fs::read(s.path("here.txt")).unwrap(), b"x");
    // Too large, told by tsize: ERROR 3 before any data.
    let big = work.path().join("big.bin");
    fs::write(&big, vec![0; 1001]).unwrap();
    assert_eq!(
        got_error(client::put(&o, &big, "big.bin").unwrap_err()),
        ErrorCode::DiskFull
    );
    // Too large, not told (no options): ERROR 3 when the limit is crossed, and no part
    // file is left.
    let mut bare = o.clone();
    bare.no_options = true;
    assert_eq!(
        got_error(client::put(&bare, &big, "big.bin").unwrap_err()),
        ErrorCode::DiskFull
    );
    // A failed get leaves nothing under the name asked for.
    assert!(!out.exists());
    // A link in the folder is not followed.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/hostname", s.path("link")).unwrap();
        assert_eq!(
            got_error(client::get(&o, "link", &out).unwrap_err()),
            ErrorCode::AccessViolation
        );
    }
    let names = s.names();
    assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
    assert!(!names.contains(&"big.bin".to_string()));
}

#[test]
fn writes_are_off_unless_allowed_and_overwrite_replaces() {
    let s = TestServer::start(|c| c.allow_write = false);
    let work = tempfile::tempdir().unwrap();
    let local = work.path().join("a.txt");
    fs::write(&local, b"hello").unwrap();
    let o = options(s.addr, None, None);
    assert_eq!(
        got_error(client::put(&o, &local, "a.txt").unwrap_err()),
        ErrorCode::AccessViolation
    );
    assert!(s.names().is_empty());
    let s = TestServer::start(|c| c.overwrite = true);
    fs::write(s.path("a.txt"), b"old").unwrap();
    let o = options(s.addr, None, None);
    client::put(&o, &local, "a.txt").unwrap();
    assert_eq!(fs::read(s.path("a.txt")).unwrap(), b"hello");
}

/// A raw client: one socket, packets by hand.
struct Raw {
    socket: UdpSocket,
    server: SocketAddr,
}

impl Raw {
    fn new(server: SocketAddr) -> Raw {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw { socket, server }
    }

    fn request(&self, write: bool, name: &str, options: &[(&str, &str)]) {
        let req = Request {
            filename: name.as_bytes().to_vec(),
            mode: Mode::Octet,
            options: options
                .iter()
                .map(|(n, v)| TftpOption {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        };
        self.socket
            .send_to(&packet::request_packet(write, &req), self.server)
            .unwrap();
    }

    fn recv(&self) -> (Vec<u8>, SocketAddr) {
        let mut buf = vec![0; 70_000];
        let (n, from) = self.socket.recv_from(&mut buf).unwrap();
        buf.truncate(n);
        (buf, from)
    }

    /// Receives until `wait` passes with nothing.
    fn drain(&self, wait: Duration) -> Vec<(Vec<u8>, SocketAddr, Instant)> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0; 70_000];
        while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
            out.push((buf[..n].to_vec(), from, Instant::now()));
            assert!(out.len() < 10_000);
        }
        self.socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        out
    }
}

fn error_code(bytes: &[u8]) -> Option<ErrorCode> {
    match Packet::parse(bytes) {
        Ok(Packet::Error { code, .. }) => Some(code),
        _ => None,
    }
}

#[test]
fn a_duplicated_ack_is_not_answered_twice() {
    // The Sorcerer's Apprentice: a client that sends every ACK twice. A buggy server sends
    // every block twice from then on.
    let s = TestServer::start(|_| {});
    fs::write(s.path("f.bin"), content(512 * 20 + 7, 1)).unwrap();
    let raw = Raw::new(s.addr);
    raw.request(false, "f.bin", &[]);
    let mut data_packets = 0;
    let mut blocks = std::collections::HashSet::new();
    loop {
        let (p, from) = raw.recv();
        let Ok(Packet::Data { block, data }) = Packet::parse(&p) else {
            panic!("{p:?}")
        };
        data_packets += 1;
        blocks.insert(block);
        let ack = packet::ack_packet(block);
        raw.socket.send_to(&ack, from).unwrap();
        raw.socket.send_to(&ack, from).unwrap();
        if data.len() < 512 {
            break;
        }
    }
    // Anything more would be a doubled block.
    let extra = raw.drain(Duration::from_millis(1500));
    assert_eq!(data_packets, 21);
    assert_eq!(blocks.len(), 21);
    assert!(
        extra.is_empty(),
        "{} packets after the last block",
        extra.len()
    );
}

#[test]
fn a_lost_ack_gets_the_block_again_after_the_timeout() {
    let s = TestServer::start(|c| c.timeout = Duration::from_millis(300));
    fs::write(s.path("f.bin"), b"short file").unwrap();
    let raw = Raw::new(s.addr);
    raw.request(false, "f.bin", &[]);
    let (first, from) = raw.recv();
    let t0 = Instant::now();
    // No ACK: the same DATA 1 comes again, after the timeout.
    let (again, from2) = raw.recv();
    assert_eq!(first, again);
    assert_eq!(from, from2);
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    raw.socket.send_to(&packet::ack_packet(1), from).unwrap();
}

#[test]
fn a_stranger_to_a_transfer_gets_error_5_and_the_transfer_goes_on() {
    let s = TestServer::start(|_| {});
    let data = content(512 * 3, 2);
    fs::write(s.path("f.bin"), &data).unwrap();
    let raw = Raw::new(s.addr);
    raw.request(false, "f.bin", &[]);
    let (p, tid) = raw.recv();
    assert!(matches!(
        Packet::parse(&p),
        Ok(Packet::Data { block: 1, .. })
    ));
    // Another port writes to the transfer's port.
    let stranger = Raw::new(tid);
    stranger
        .socket
        .send_to(&packet::ack_packet(1), tid)
        .unwrap();
    let (answer, from) = stranger.recv();
    assert_eq!(error_code(&answer), Some(ErrorCode::UnknownTid));
    assert_eq!(from, tid);
    // The real client goes on to the end.
    let mut got = match Packet::parse(&p) {
        Ok(Packet::Data { data, .. }) => data.to_vec(),
        _ => unreachable!(),
    };
    raw.socket.send_to(&packet::ack_packet(1), tid).unwrap();
    loop {
        let (p, _) = raw.recv();
        let Ok(Packet::Data { block, data }) = Packet::parse(&p) else {
            panic!()
        };
        got.extend_from_slice(data);
        raw.socket.send_to(&packet::ack_packet(block), tid).unwrap();
        if data.len() < 512 {
            break;
        }
    }
    assert_eq!(got, data);
    assert_eq!(s.stop().strays.load(Ordering::Relaxed), 1);
}

#[test]
fn options_the_server_cannot_take_get_error_8_and_mail_error_7() {
    let s = TestServer::start(|_| {});
    fs::write(s.path("f.bin"), b"x").unwrap();
    let raw = Raw::new(s.addr);
    raw.request(false, "f.bin", &[("blksize", "4")]);
    assert_eq!(error_code(&raw.recv().0), Some(ErrorCode::OptionRefused));
    let mail = b"\x00\x02teacher\x00mail\x00";
    raw.socket.send_to(mail, s.addr).unwrap();
    assert_eq!(error_code(&raw.recv().0), Some(ErrorCode::NoSuchUser));
    // An ACK to the request port: ERROR 4.
    raw.socket.send_to(&packet::ack_packet(1), s.addr).unwrap();
    assert_eq!(error_code(&raw.recv().0), Some(ErrorCode::IllegalOperation));
}

#[test]
fn a_silent_reader_gets_the_first_block_three_times_at_most() {
    // The reflection defense: a request with a forged source would aim every retry at
    // the victim. A peer that has never answered gets DATA 1 at most three times.
    let s = TestServer::start(|c| c.timeout = Duration::from_millis(100));
    fs::write(s.path("f.bin"), content(4000, 3)).unwrap();
    let raw = Raw::new(s.addr);
    raw.request(false, "f.bin", &[]);
    let got = raw.drain(Duration::from_secs(2));
    assert_eq!(got.len(), tftp::server::UNPROVEN_TRIES as usize, "{got:?}");
}

#[test]
fn an_abandoned_write_times_out_and_leaves_no_part_file() {
    let s = TestServer::start(|c| {
        c.timeout = Duration::from_millis(100);
        c.timing = Timing {
            retries: 2,
            first_retries: 2,
            max_interval: Duration::from_millis(200),
            first_max_interval: Duration::from_millis(200),
        };
    });
    let raw = Raw::new(s.addr);
    raw.request(true, "half.bin", &[]);
    let (ack0, tid) = raw.recv();
    assert_eq!(Packet::parse(&ack0), Ok(Packet::Ack { block: 0 }));
    raw.socket
        .send_to(&packet::data_packet(1, &[1; 512]), tid)
        .unwrap();
    // The part file is made before ACK 0 is sent.
    assert!(
        s.names().iter().any(|n| n.ends_with(".part")),
        "{:?}",
        s.names()
    );
    // The client vanishes. After the retries, the transfer ends and its part file goes.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !s.names().is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(s.names().is_empty(), "{:?}", s.names());
    let summary = s.stop();
    assert_eq!(summary.failed.load(Ordering::Relaxed), 1);
}

#[test]
fn the_transfer_limit_answers_busy() {
    let s = TestServer::start(|c| {
        c.max_transfers = 1;
        c.timeout = Duration::from_secs(5);
    });
    fs::write(s.path("f.bin"), content(5000, 4)).unwrap();
    // One transfer, held open (its DATA 1 never acknowledged).
    let first = Raw::new(s.addr);
    first.request(false, "f.bin", &[]);
    let _ = first.recv();
    let second = Raw::new(s.addr);
    second.request(false, "f.bin", &[]);
    let (p, _) = second.recv();
    assert_eq!(error_code(&p), Some(ErrorCode::NotDefined));
    let Ok(Packet::Error { message, .. }) = Packet::parse(&p) else {
        panic!()
    };
    assert!(message.contains("busy"), "{message}");
    // A repeated request from the first client is not a second transfer, nor refused:
    // its transfer's own timer answers it.
    first.request(false, "f.bin", &[]);
    assert!(first.drain(Duration::from_millis(300)).is_empty());
    let summary = s.stop();
    assert_eq!(summary.requests.load(Ordering::Relaxed), 3);
    assert_eq!(summary.dropped.load(Ordering::Relaxed), 1);
}
