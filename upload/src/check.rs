//! # `upload send --check`: grade any upload server
//!
//! Upload v1 makes promises: a file under its final name is whole and verified; a hostile
//! name writes nothing; a wrong digest stores nothing; a sender that vanishes leaves
//! nothing behind; and the server goes on. The grader tries each, over the wire only, so
//! it can judge a server written in any language:
//!
//! 1. a normal upload, answered `OK` with the file's digest;
//! 2. hostile names (paths, hidden names, Windows device names), each refused with
//!    `ERR BAD_NAME`;
//! 3. a wrong digest, answered `ERR CHECKSUM`, and nothing stored under that name;
//! 4. a sender that vanishes half way through a file: nothing stored under its name;
//! 5. a normal upload still works, and the first file is still there.
//!
//! "Nothing stored under that name" is asked of the server itself: a new `PUT` of the
//! name must get `GO` (not `ERR EXISTS`); the grader then sends a wrong digest on purpose,
//! so its probe stores nothing either.
//!
//! With `--protocol seed`, the tutorial's exchange instead: one upload, then a sender that
//! disconnects early, after which the server must still serve the next sender. The
//! tutorial's server fails there: its `recv` returns nothing for ever, and it loops.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::addr::Endpoint;
use common::grade::{Report, Verdict};
use sha2::{Digest as _, Sha256};

use crate::protocol::{digest_hex, Digest, ErrCode, Reply, Request};
use crate::wire::Wire;

/// Bytes of each test file.
const FILE_SIZE: usize = 64 * 1024;
/// Names that must be refused.
pub const HOSTILE_NAMES: [&str; 8] = [
    "../escape.txt",
    "../../etc/passwd",
    "/tmp/escape.txt",
    "sub/dir.txt",
    ".hidden",
    "CON",
    "nul.txt",
    "what?.txt",
];

/// A file's content for the check: different for every name, so a mix-up shows.
fn content(name: &str) -> Vec<u8> {
    let seed: u64 = name.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..FILE_SIZE).map(|_| rng.u8(..)).collect()
}

fn sha256(bytes: &[u8]) -> Digest {
    Sha256::digest(bytes).into()
}

/// A connection speaking Upload v1, for the grader.
struct Session {
    wire: Wire,
}

impl Session {
    fn open(to: &Endpoint, timeout: Duration) -> Result<Session, String> {
        let stream =
            common::net::connect(to, timeout, "upload serve").map_err(|e| e.to_string())?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        let mut session = Session {
            wire: Wire::new(stream, None),
        };
        match session.reply()? {
            Reply::Ready => Ok(session),
            other => Err(format!("the greeting was \"{other}\", not UPLOAD/1 READY")),
        }
    }

    fn reply(&mut self) -> Result<Reply, String> {
        match self.wire.read_line() {
            Ok(Some(line)) => Reply::parse(line).map_err(|e| {
                format!(
                    "\"{}\" is no reply ({e})",
                    common::output::preview(line, common::output::PREVIEW_CHARS)
                )
            }),
            Ok(None) => Err("the server closed the connection".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn put(&mut self, size: usize, name: &str) -> Result<Reply, String> {
        let line = Request::Put {
            size: size as u64,
            name: name.as_bytes().to_vec(),
        }
        .to_line();
        self.wire.write_line(&line).map_err(|e| e.to_string())?;
        self.reply()
    }

    /// PUT, the bytes, the digest; the server's answer to the digest.
    fn upload(&mut self, name: &str, bytes: &[u8], digest: &Digest) -> Result<Reply, String> {
        match self.put(bytes.len(), name)? {
            Reply::Go(0) => {}
            other => return Ok(other),
        }
        self.wire.write_data(bytes).map_err(|e| e.to_string())?;
        let line = Request::Sha256(*digest).to_line();
        self.wire.write_line(&line).map_err(|e| e.to_string())?;
        self.reply()
    }

    /// Whether a file of that name is on the server: `ERR EXISTS` says yes; `GO` says no,
    /// and the probe then stores nothing (a wrong digest on purpose).
    fn exists(&mut self, name: &str) -> Result<bool, String> {
        let wrong = [0u8; 32];
        match self.upload(name, b"probe", &wrong)? {
            Reply::Err(ErrCode::Exists, _) => Ok(true),
            Reply::Err(ErrCode::Checksum, _) => Ok(false),
            other => Err(format!(
                "a probe of {name} with a wrong digest got \"{other}\", not ERR CHECKSUM"
            )),
        }
    }
}

/// Names for this run, so that a second run against the same server does not meet the
/// files of the first.
fn names(run: &str) -> [String; 4] {
    ["first", "wrong-digest", "vanished", "after"].map(|what| format!("check-{run}-{what}.bin"))
}

/// Runs the Upload v1 steps against `to`.
pub fn run(to: &Endpoint, timeout: Duration) -> Report {
    let run_id = format!("{:x}", fastrand::u32(..));
    let [first, wrong, vanished, after] = names(&run_id);
    let steps = vec![
        Verdict::of("a normal upload", normal_upload(to, timeout, &first)),
        Verdict::of("hostile names", hostile_names(to, timeout)),
        Verdict::of("a wrong digest", wrong_digest(to, timeout, &wrong)),
        Verdict::of(
            "a sender that vanishes mid-file",
            vanishing_sender(to, timeout, &vanished),
        ),
        Verdict::of(
            "a normal upload afterwards",
            normal_upload(to, timeout, &after).and_then(|detail| {
                let mut s = Session::open(to, timeout)?;
                if s.exists(&first)? {
                    Ok(format!("{detail}; {first} is still there"))
                } else {
                    Err(format!("{first}, stored in step 1, is gone"))
                }
            }),
        ),
    ];
    Report::new(to.to_string(), steps)
}

fn normal_upload(to: &Endpoint, timeout: Duration, name: &str) -> Result<String, String> {
    let bytes = content(name);
    let digest = sha256(&bytes);
    let mut s = Session::open(to, timeout)?;
    match s.upload(name, &bytes, &digest)? {
        Reply::Ok(d) if d == digest => Ok(format!(
            "{name}: {} bytes, OK with the right digest",
            bytes.len()
        )),
        Reply::Ok(d) => Err(format!(
            "OK with digest {}, but the file's is {}",
            digest_hex(&d),
            digest_hex(&digest)
        )),
        other => Err(format!("{name}: \"{other}\", not OK")),
    }
}

fn hostile_names(to: &Endpoint, timeout: Duration) -> Result<String, String> {
    let mut s = Session::open(to, timeout)?;
    for name in HOSTILE_NAMES {
        match s.put(5, name)? {
            Reply::Err(ErrCode::BadName, _) => {}
            Reply::Go(_) => {
                return Err(format!(
                    "{name:?} was accepted (GO): a client could write outside the folder, or where Windows cannot read"
                ))
            }
            other => return Err(format!("{name:?} got \"{other}\", not ERR BAD_NAME")),
        }
    }
    Ok(format!(
        "all {} refused with ERR BAD_NAME ({})",
        HOSTILE_NAMES.len(),
        HOSTILE_NAMES.join(", ")
    ))
}

fn wrong_digest(to: &Endpoint, timeout: Duration, name: &str) -> Result<String, String> {
    let bytes = content(name);
    let mut wrong = sha256(&bytes);
    wrong[0] ^= 0xff;
    let mut s = Session::open(to, timeout)?;
    match s.upload(name, &bytes, &wrong)? {
        Reply::Err(ErrCode::Checksum, _) => {}
        other => return Err(format!("\"{other}\", not ERR CHECKSUM")),
    }
    if Session::open(to, timeout)?.exists(name)? {
        return Err(format!("ERR CHECKSUM, but {name} was stored all the same"));
    }
    Ok("ERR CHECKSUM, and nothing stored".into())
}

fn vanishing_sender(to: &Endpoint, timeout: Duration, name: &str) -> Result<String, String> {
    let bytes = content(name);
    let mut s = Session::open(to, timeout)?;
    match s.put(bytes.len(), name)? {
        Reply::Go(0) => {}
        other => return Err(format!("\"{other}\", not GO 0")),
    }
    s.wire
        .write_data(&bytes[..bytes.len() / 2])
        .map_err(|e| e.to_string())?;
    // Gone without a word: the server sees the stream end in the middle of the file.
    let _ = s.wire.stream().shutdown(Shutdown::Both);
    drop(s);
    // The server needs a moment to notice; then the name must be free.
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match Session::open(to, timeout)?.exists(name) {
            Ok(false) => return Ok(format!("half of {name} sent, then gone: nothing stored")),
            Ok(true) => {
                return Err(format!(
                    "half of {name} sent, then gone: a file of that name is on the server (a partial file under its final name?)"
                ))
            }
            Err(why) if std::time::Instant::now() > deadline => return Err(why),
            // ERR BUSY while the server still holds the name: ask again.
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

// ---- the tutorial's exchange -----------------------------------------------------------

/// `--protocol seed`: one upload the tutorial's way, a sender that disconnects early, then
/// the next sender must be served.
pub fn run_seed(to: &Endpoint, timeout: Duration) -> Report {
    let steps = vec![
        Verdict::of("the tutorial's exchange", seed_upload(to, timeout)),
        Verdict::of(
            "an early disconnect, then the next sender",
            seed_early_disconnect(to, timeout).and_then(|detail| {
                seed_upload(to, timeout)
                    .map(|_| format!("{detail}; the next sender was served"))
                    .map_err(|why| format!("{detail}; the next sender: {why}"))
            }),
        ),
    ];
    Report::new(to.to_string(), steps)
}

fn seed_upload(to: &Endpoint, timeout: Duration) -> Result<String, String> {
    let bytes = content("seed");
    let stream =
        crate::seed::start(to, bytes.len() as u64, timeout, &mut |_| {}).map_err(|e| match &e {
            crate::seed::SeedError::Io(io) if common::net::is_timeout(io) => format!(
                "no answer within {:.1} s: the server does not serve the next sender",
                timeout.as_secs_f64()
            ),
            _ => e.to_string(),
        })?;
    (&stream).write_all(&bytes).map_err(|e| e.to_string())?;
    crate::seed::finish(&stream, &mut |_| {}).map_err(|e| e.to_string())?;
    Ok(format!("{} bytes, 传送完成", bytes.len()))
}

fn seed_early_disconnect(to: &Endpoint, timeout: Duration) -> Result<String, String> {
    let bytes = content("seed-early");
    let stream: TcpStream = crate::seed::start(to, bytes.len() as u64, timeout, &mut |_| {})
        .map_err(|e| e.to_string())?;
    (&stream)
        .write_all(&bytes[..100])
        .map_err(|e| e.to_string())?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(format!("100 of {} bytes sent, then gone", bytes.len()))
}
