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
//! With `--protocol tutorial`, the tutorial's exchange instead: one upload, then a sender that
//! disconnects early, after which the server must still serve the next sender. The
//! tutorial's server fails there: its `recv` returns nothing for ever, and it loops.
//!
//! Whatever the server does, the grade ends within bounds: every step has its own
//! deadline, which cuts every wait inside it (`--timeout` for each reply), and the run has
//! a minute ([`RUN_LIMIT`]). A failure says which limit ran out.

use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::addr::Endpoint;
use common::conn::SocketTimeouts;
use common::grade::class::{self, ClassArgs, Grader, Target};
use common::grade::{run_steps, Report, Step, StepDeadline, Wait, RUN_LIMIT};
use sha2::{Digest as _, Sha256};

use crate::protocol::{digest_hex, Digest, ErrCode, Reply, Request};
use crate::wire::{LineError, Wire};

/// Bytes of each test file.
const FILE_SIZE: usize = 64 * 1024;
/// The longest a step may take, every connection and reply in it included.
const STEP: Duration = Duration::from_secs(10);
/// Between two probes of a name, while the server notices a sender has gone.
const PROBE_PAUSE: Duration = Duration::from_millis(100);
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

/// How the grader waits: `--timeout` for each connect, read and write, within a step's
/// deadline.
#[derive(Debug, Clone, Copy)]
struct Waits {
    timeout: Duration,
    step: StepDeadline,
}

impl Waits {
    /// The wait of one connect, reply or write.
    fn wait(&self) -> Wait {
        Wait::new(Some(self.timeout), "--timeout", Some(self.step))
    }
}

/// What a failed read or write says: the limit that ran out, or the error.
fn io_failure(what: &str, e: &std::io::Error, wait: &Wait) -> String {
    if common::net::is_timeout(e) {
        format!("{what}: {}", wait.ran_out(Instant::now()))
    } else {
        format!("{what}: {}", common::net::describe(e))
    }
}

/// A connection speaking Upload v1, for the grader.
struct GraderConnection {
    wire: Wire,
    waits: Waits,
    timeouts: SocketTimeouts,
}

impl GraderConnection {
    fn open(to: &Endpoint, waits: Waits) -> Result<GraderConnection, String> {
        let stream = common::grade::connect(to, &waits.wait(), waits.timeout, "upload serve")
            .map_err(|e| e.to_string())?;
        let mut conn = GraderConnection {
            wire: Wire::new(stream, None),
            waits,
            timeouts: SocketTimeouts::default(),
        };
        match conn.reply("greeting")? {
            Reply::Ready => Ok(conn),
            other => Err(format!("the greeting was \"{other}\", not UPLOAD/1 READY")),
        }
    }

    /// The next line from the server, each read's timeout cut to what is left of the step.
    fn reply(&mut self, waiting_for: &str) -> Result<Reply, String> {
        let wait = self.waits.wait();
        let timeouts = &mut self.timeouts;
        let line = self.wire.read_line_with(|stream| {
            let t = wait.timeout_at(Instant::now())?;
            timeouts.set_read(stream, t)
        });
        match line {
            Ok(Some(line)) => Reply::parse(line).map_err(|e| {
                format!(
                    "\"{}\" is no reply ({e})",
                    common::output::preview(line, common::output::PREVIEW_CHARS)
                )
            }),
            Ok(None) => Err("the server closed the connection".into()),
            Err(LineError::Io(e)) => Err(io_failure(&format!("no {waiting_for}"), &e, &wait)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Writes `bytes` (a control line or file data), each write within the step.
    fn send(&mut self, bytes: &[u8], what: &str) -> Result<(), String> {
        let wait = self.waits.wait();
        let timeouts = &mut self.timeouts;
        self.wire
            .write_with(bytes, |stream| {
                let t = wait.timeout_at(Instant::now())?;
                timeouts.set_write(stream, t)
            })
            .map_err(|e| io_failure(&format!("could not send {what}"), &e, &wait))
    }

    fn put(&mut self, size: usize, name: &str) -> Result<Reply, String> {
        let line = Request::Put {
            size: size as u64,
            name: name.as_bytes().to_vec(),
        }
        .to_line();
        self.send(&line, "PUT")?;
        self.reply("reply to PUT")
    }

    /// PUT, the bytes, the digest; the server's answer to the digest.
    fn upload(&mut self, name: &str, bytes: &[u8], digest: &Digest) -> Result<Reply, String> {
        match self.put(bytes.len(), name)? {
            Reply::Go(0) => {}
            other => return Ok(other),
        }
        self.send(bytes, "the file")?;
        let line = Request::Sha256(*digest).to_line();
        self.send(&line, "SHA256")?;
        self.reply("reply to SHA256")
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

/// A step of the grader, with `--timeout`: `(name, the step)`.
fn step<'a>(
    name: &str,
    timeout: Duration,
    run: impl Fn(Waits) -> Result<String, String> + 'a,
) -> Step<'a> {
    Step {
        name: name.to_string(),
        budget: STEP,
        heavy: false,
        run: Box::new(move |deadline| {
            run(Waits {
                timeout,
                step: deadline,
            })
        }),
    }
}

/// Runs the Upload v1 steps against `to`. Every step is tried: each shows another of the
/// server's promises, and each is short. Only a server that does not even greet (nothing
/// listens, or it is no upload server) is an `Err`: it cannot be graded at all.
pub fn run(to: &Endpoint, timeout: Duration) -> Result<Report, String> {
    // One connection first: "nothing greets there" is one clear error, not five failures.
    // It counts against the run's minute, as the steps do.
    let started = Instant::now();
    let first_connection = Waits {
        timeout,
        step: StepDeadline::new(STEP, started),
    };
    drop(GraderConnection::open(to, first_connection)?);
    let run_id = format!("{:x}", fastrand::u32(..));
    let [first, wrong, vanished, after] = names(&run_id);
    let (first, wrong, vanished, after) = (&first, &wrong, &vanished, &after);
    let steps = vec![
        step("a normal upload", timeout, |l| normal_upload(to, l, first)),
        step("hostile names", timeout, |l| hostile_names(to, l)),
        step("a wrong digest", timeout, |l| wrong_digest(to, l, wrong)),
        step("a sender that vanishes mid-file", timeout, |l| {
            vanishing_sender(to, l, vanished)
        }),
        step("a normal upload afterwards", timeout, |l| {
            normal_upload(to, l, after).and_then(|detail| {
                let mut s = GraderConnection::open(to, l)?;
                if s.exists(first)? {
                    Ok(format!("{detail}; {first} is still there"))
                } else {
                    Err(format!("{first}, stored in step 1, is gone"))
                }
            })
        }),
    ];
    let limit = RUN_LIMIT.saturating_sub(started.elapsed());
    Ok(Report::new(to.to_string(), run_steps(steps, None, limit)))
}

/// `upload send --check`, against `to` or the `--targets` of `class`, in `exchange`:
/// prints the verdicts (or JSON) and writes `--report`. `Ok(true)` when every server
/// passed; `Err` a message for a usage error (a bad targets file).
pub fn main(
    to: &Endpoint,
    exchange: crate::Exchange,
    timeout: Duration,
    class: &ClassArgs,
    json: bool,
) -> Result<bool, class::CheckError> {
    let grade = |target: &Target| -> Result<Report, String> {
        match exchange {
            crate::Exchange::V1 => run(&target.addr, timeout),
            crate::Exchange::Tutorial => Ok(run_tutorial(&target.addr, timeout)),
        }
    };
    let grader = Grader {
        program: "upload",
        version: env!("CARGO_PKG_VERSION"),
        what: "check",
        command: match exchange {
            crate::Exchange::V1 => "upload send --check".into(),
            crate::Exchange::Tutorial => "upload send --check --protocol tutorial".into(),
        },
        grade: &grade,
    };
    class::check(&grader, to, class, json)
}

fn normal_upload(to: &Endpoint, waits: Waits, name: &str) -> Result<String, String> {
    let bytes = content(name);
    let digest = sha256(&bytes);
    let mut s = GraderConnection::open(to, waits)?;
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

fn hostile_names(to: &Endpoint, waits: Waits) -> Result<String, String> {
    let mut s = GraderConnection::open(to, waits)?;
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

fn wrong_digest(to: &Endpoint, waits: Waits, name: &str) -> Result<String, String> {
    let bytes = content(name);
    let mut wrong = sha256(&bytes);
    wrong[0] ^= 0xff;
    let mut s = GraderConnection::open(to, waits)?;
    match s.upload(name, &bytes, &wrong)? {
        Reply::Err(ErrCode::Checksum, _) => {}
        other => return Err(format!("\"{other}\", not ERR CHECKSUM")),
    }
    if GraderConnection::open(to, waits)?.exists(name)? {
        return Err(format!("ERR CHECKSUM, but {name} was stored all the same"));
    }
    Ok("ERR CHECKSUM, and nothing stored".into())
}

fn vanishing_sender(to: &Endpoint, waits: Waits, name: &str) -> Result<String, String> {
    let bytes = content(name);
    let mut s = GraderConnection::open(to, waits)?;
    match s.put(bytes.len(), name)? {
        Reply::Go(0) => {}
        other => return Err(format!("\"{other}\", not GO 0")),
    }
    s.send(&bytes[..bytes.len() / 2], "half the file")?;
    // Gone without a word: the server sees the stream end in the middle of the file.
    let _ = s.wire.stream().shutdown(Shutdown::Both);
    drop(s);
    // The server needs a moment to notice; then the name must be free. Asked again until
    // --timeout has passed, or the step's deadline.
    let asked_until = Instant::now() + waits.timeout;
    loop {
        match GraderConnection::open(to, waits)?.exists(name) {
            Ok(false) => return Ok(format!("half of {name} sent, then gone: nothing stored")),
            Ok(true) => {
                return Err(format!(
                    "half of {name} sent, then gone: a file of that name is on the server (a partial file under its final name?)"
                ))
            }
            Err(why) if Instant::now() > asked_until || waits.step.passed(Instant::now()) => {
                return Err(why)
            }
            // ERR BUSY while the server still holds the name: ask again.
            Err(_) => std::thread::sleep(PROBE_PAUSE),
        }
    }
}

// ---- the tutorial's exchange -----------------------------------------------------------

/// `--protocol tutorial`: one upload the tutorial's way, a sender that disconnects early, then
/// the next sender must be served.
pub fn run_tutorial(to: &Endpoint, timeout: Duration) -> Report {
    let steps = vec![
        step("the tutorial's exchange", timeout, |l| {
            tutorial_upload(to, l)
        }),
        step("an early disconnect, then the next sender", timeout, |l| {
            tutorial_early_disconnect(to, l).and_then(|detail| {
                tutorial_upload(to, l)
                    .map(|_| format!("{detail}; the next sender was served"))
                    .map_err(|why| format!("{detail}; the next sender: {why}"))
            })
        }),
    ];
    Report::new(to.to_string(), run_steps(steps, None, RUN_LIMIT))
}

fn tutorial_upload(to: &Endpoint, waits: Waits) -> Result<String, String> {
    let bytes = content("seed");
    let wait = waits.wait();
    let stream = crate::client::tutorial::start(to, bytes.len() as u64, &wait, &mut |_| {})
        .map_err(|e| match &e {
            crate::client::tutorial::TutorialError::Io(io) if common::net::is_timeout(io) => {
                format!(
                    "no answer: {}: the server does not serve the next sender",
                    wait.ran_out(Instant::now())
                )
            }
            _ => e.to_string(),
        })?;
    write_within(&stream, &bytes, &wait)?;
    crate::client::tutorial::finish(&stream, &wait, &mut |_| {}).map_err(|e| match &e {
        crate::client::tutorial::TutorialError::Io(io) => io_failure("no 传送完成", io, &wait),
        _ => e.to_string(),
    })?;
    Ok(format!("{} bytes, 传送完成", bytes.len()))
}

/// Writes `bytes` raw, each write within `wait`.
fn write_within(stream: &TcpStream, bytes: &[u8], wait: &Wait) -> Result<(), String> {
    common::conn::write_all_with(stream, bytes, |s| {
        s.set_write_timeout(wait.timeout_at(Instant::now())?)
    })
    .map_err(|e| io_failure("could not send the file", &e, wait))
}

fn tutorial_early_disconnect(to: &Endpoint, waits: Waits) -> Result<String, String> {
    let bytes = content("seed-early");
    let wait = waits.wait();
    let stream: TcpStream =
        crate::client::tutorial::start(to, bytes.len() as u64, &wait, &mut |_| {})
            .map_err(|e| e.to_string())?;
    write_within(&stream, &bytes[..100], &wait)?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(format!("100 of {} bytes sent, then gone", bytes.len()))
}
