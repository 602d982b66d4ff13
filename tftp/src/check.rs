//! # `tftp get --check`: grade any TFTP server
//!
//! The server serves a folder with the grader's two files in it (`tftp grader-files DIR`
//! writes them: their bytes are fixed, so the grader knows their SHA-256 without asking).
//! Eight steps:
//!
//! 1. a get in octet mode, RFC 1350 only (no options), checked by SHA-256;
//! 2. a file of more than 65,535 blocks of 512 bytes: block numbers roll over;
//! 3. a lost ACK: DATA 1 is not acknowledged, so it must come again, by the timer;
//! 4. every ACK sent twice, as a late ACK does: each block must still come once (the
//!    Sorcerer's Apprentice doubles them);
//! 5. a stranger writing to the transfer's port gets ERROR 5, and the transfer goes on
//!    (RFC 1350 section 4 says it should);
//! 6. a missing file gets ERROR 1;
//! 7. `../` and absolute paths get an ERROR, never a file;
//! 8. blksize, tsize and windowsize, when the server answers them with an OACK: values
//!    within what was asked, the right size, and the file intact (a server without options
//!    passes by ignoring them, as RFC 2347 allows).
//!
//! Every wait is cut by its step's deadline, and the whole run ends within a minute
//! ([`RUN_LIMIT`]), whatever the server does.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::grade::class::{self, ClassArgs, Grader, Target};
use common::grade::{run_steps, Report, Step, StepDeadline, RUN_LIMIT};
use sha2::{Digest, Sha256};

use crate::client::{self, ClientError, Options};
use crate::options::Wanted;
use crate::packet::{self, ErrorCode, Mode, Packet, Request, TftpOption};
use crate::transfer::{Failure, Timing};

/// The grader's small file, and its size.
pub const SMALL: &str = "check-small.bin";
pub const SMALL_SIZE: usize = 100_000;
/// The grader's large file: one block more than 65,536 blocks of 512 bytes, and a bit.
pub const ROLLOVER: &str = "check-rollover.bin";
pub const ROLLOVER_SIZE: usize = 65_537 * 512 + 100;
/// The first retransmission timeout the grader's transfers use.
const TRY: Duration = Duration::from_secs(1);
/// Two packets of one block this close together answer one ACK each: doubled.
const TWINS: Duration = Duration::from_millis(200);
/// The window the rollover step asks for.
const ROLLOVER_WINDOW: u16 = 64;
/// How long the grader waits after leaving a transfer early.
const SETTLE: Duration = Duration::from_millis(100);
/// Blocks the Sorcerer's Apprentice step follows.
const SAS_BLOCKS: u16 = 6;

/// The bytes of one of the grader's files: the same on every machine.
pub fn content(name: &str) -> Option<Vec<u8>> {
    let (size, seed) = match name {
        SMALL => (SMALL_SIZE, 1),
        ROLLOVER => (ROLLOVER_SIZE, 2),
        _ => return None,
    };
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut data = vec![0u8; size];
    rng.fill(&mut data);
    Some(data)
}

/// `tftp grader-files DIR`: writes the grader's files into `dir`.
pub fn write_files(dir: &Path) -> io::Result<Vec<(String, String)>> {
    let mut written = Vec::new();
    for name in [SMALL, ROLLOVER] {
        let data = content(name).unwrap_or_default();
        std::fs::write(dir.join(name), &data)?;
        written.push((hex::encode(Sha256::digest(&data)), name.to_string()));
    }
    Ok(written)
}

fn digest(name: &str) -> String {
    hex::encode(Sha256::digest(content(name).unwrap_or_default()))
}

/// A file the grader gets into and then removes (client::get writes a file, as it must).
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Scratch {
        Scratch(std::env::temp_dir().join(format!(
            "tftp-check-{}-{}.bin",
            std::process::id(),
            fastrand::u64(..)
        )))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn grader_options(server: SocketAddr, deadline: StepDeadline) -> Options {
    let mut o = Options::new(server);
    o.timeout = TRY;
    o.timing = Timing {
        retries: 4,
        first_retries: 4,
        max_interval: Duration::from_secs(2),
        first_max_interval: Duration::from_secs(2),
    };
    o.until = Some(deadline.ends());
    o
}

fn failed(e: ClientError, deadline: StepDeadline) -> String {
    match e {
        ClientError::Transfer(Failure::Sent { message, .. }) if message.contains("out of time") => {
            deadline.ran_out()
        }
        other => other.to_string(),
    }
}

/// Steps 1 and 2: a plain get, checked by SHA-256.
fn plain_get(server: SocketAddr, name: &str, deadline: StepDeadline) -> Result<String, String> {
    let mut o = grader_options(server, deadline);
    if name == ROLLOVER {
        // 512-byte blocks, so that there are more than 65,535 of them; 64 at a time when
        // the server takes a window (RFC 7440), which makes 65,538 round trips 1,025, so
        // that a slow link (or Wine) is graded on the rollover, not on its round trips. A
        // server without options answers as RFC 1350 says, one block at a time.
        o.wanted = Wanted {
            blksize: Some(packet::DEFAULT_BLKSIZE),
            windowsize: Some(ROLLOVER_WINDOW),
            ..Wanted::default()
        };
    } else {
        o.no_options = true;
    }
    let out = Scratch::new();
    let r = client::get(&o, name, &out.0).map_err(|e| match &e {
        ClientError::Transfer(Failure::Peer { code: ErrorCode::FileNotFound, .. }) => {
            format!("{e} (the server must serve a folder with the grader's files: tftp grader-files DIR)")
        }
        _ => failed(e, deadline),
    })?;
    if r.digest != digest(name) {
        return Err(format!(
            "{} bytes arrived, but not the file's: SHA-256 {} instead of {}",
            r.bytes,
            r.digest,
            digest(name)
        ));
    }
    Ok(format!(
        "{} bytes in {} blocks, SHA-256 right ({:.1} MB/s{})",
        r.bytes,
        r.counters.blocks,
        r.bytes as f64 / r.elapsed.as_secs_f64().max(1e-6) / 1e6,
        if r.counters.resent > 0 {
            format!(", {} resent", r.counters.resent)
        } else {
            String::new()
        }
    ))
}

/// A socket that talks to a server by hand.
struct Probe {
    socket: UdpSocket,
    server: SocketAddr,
    deadline: StepDeadline,
    buf: Vec<u8>,
}

impl Probe {
    fn new(server: SocketAddr, deadline: StepDeadline) -> Result<Probe, String> {
        let any: SocketAddr = match server {
            SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(any).map_err(|e| format!("no UDP socket here: {e}"))?;
        Ok(Probe {
            socket,
            server,
            deadline,
            buf: vec![0; packet::RECV_BUFFER],
        })
    }

    fn request(&self, name: &str, options: &[(&str, &str)]) -> Result<(), String> {
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
        self.send(&packet::request_packet(false, &req), self.server)
    }

    fn send(&self, bytes: &[u8], to: SocketAddr) -> Result<(), String> {
        self.socket
            .send_to(bytes, to)
            .map(|_| ())
            .map_err(|e| format!("send to {to}: {e}"))
    }

    /// The next datagram within `wait` (and the step), from the server's IP; `None` on
    /// silence.
    fn recv(&mut self, wait: Duration) -> Result<Option<(Vec<u8>, SocketAddr, Instant)>, String> {
        let until = (Instant::now() + wait).min(self.deadline.ends());
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(|e| e.to_string())?;
            match self.socket.recv_from(&mut self.buf) {
                Ok((n, from)) if from.ip() == self.server.ip() => {
                    return Ok(Some((self.buf[..n].to_vec(), from, Instant::now())))
                }
                Ok(_) => continue,
                Err(e) if common::net::is_timeout(&e) || common::os::is_port_unreachable(&e) => {
                    continue
                }
                Err(e) => return Err(format!("receive: {e}")),
            }
        }
    }

    /// Waits for DATA `block`, skipping nothing else: anything else fails.
    fn expect_data(
        &mut self,
        block: u16,
        wait: Duration,
        what: &str,
    ) -> Result<(SocketAddr, Instant), String> {
        match self.recv(wait)? {
            Some((p, from, at)) => match Packet::parse(&p) {
                Ok(Packet::Data { block: b, .. }) if b == block => Ok((from, at)),
                Ok(Packet::Error { code, message }) => {
                    Err(format!("ERROR {code} {message:?} instead of {what}"))
                }
                Ok(other) => Err(format!("{} instead of {what}", describe(&other))),
                Err(e) => Err(format!("a packet that is not TFTP ({e}) instead of {what}")),
            },
            None if self.deadline.passed(Instant::now()) => {
                Err(format!("no {what}: {}", self.deadline.ran_out()))
            }
            None => Err(format!("no {what} within {} s", wait.as_secs_f64())),
        }
    }

    /// Ends a transfer the grader leaves early, politely, and gives the server a moment to
    /// be done with it: a server that serves one client at a time is then graded on each
    /// step, not on how many transfers it holds at once.
    fn abandon(&self, tid: SocketAddr) {
        let _ = self.send(
            &packet::error_packet(
                ErrorCode::NotDefined,
                "the grader is done with this transfer",
            ),
            tid,
        );
        std::thread::sleep(SETTLE);
    }
}

fn describe(p: &Packet) -> String {
    match p {
        Packet::Data { block, data } => format!("DATA {block} ({} bytes)", data.len()),
        Packet::Ack { block } => format!("ACK {block}"),
        Packet::Error { code, message } => format!("ERROR {code} {message:?}"),
        other => other.kind().to_string(),
    }
}

/// Step 3: a lost ACK. DATA 1 is not acknowledged: the server's timer must send it again.
fn lost_ack(server: SocketAddr, deadline: StepDeadline) -> Result<String, String> {
    let mut p = Probe::new(server, deadline)?;
    p.request(SMALL, &[])?;
    let (tid, first) = p.expect_data(1, Duration::from_secs(3), "DATA 1")?;
    let (again_from, again) = p.expect_data(
        1,
        deadline.left(Instant::now()),
        "DATA 1 again after a lost ACK (a timer)",
    )?;
    p.abandon(tid);
    if again_from != tid {
        return Err(format!(
            "DATA 1 came again from port {}, not the transfer's {}",
            again_from.port(),
            tid.port()
        ));
    }
    Ok(format!(
        "DATA 1 came again {:.1} s after the first, unacknowledged",
        again.duration_since(first).as_secs_f64()
    ))
}

/// Step 4: every ACK sent twice, as a late ACK crossing a retransmission does. Each block
/// must come once: a second copy right after is the answer to the twin ACK, the Sorcerer's
/// Apprentice.
fn duplicated_ack(server: SocketAddr, deadline: StepDeadline) -> Result<String, String> {
    let mut p = Probe::new(server, deadline)?;
    p.request(SMALL, &[])?;
    let (tid, at) = p.expect_data(1, Duration::from_secs(3), "DATA 1")?;
    let mut seen: HashMap<u16, Vec<Instant>> = HashMap::from([(1, vec![at])]);
    let ack_twice = |p: &Probe, block: u16| -> Result<(), String> {
        p.send(&packet::ack_packet(block), tid)?;
        p.send(&packet::ack_packet(block), tid)
    };
    ack_twice(&p, 1)?;
    for block in 2..=SAS_BLOCKS {
        let (_, at) = p.expect_data(block, Duration::from_secs(3), &format!("DATA {block}"))?;
        seen.entry(block).or_default().push(at);
        // Whatever else comes at once: a twin of this block.
        let until = Instant::now() + TWINS;
        while let Some((q, _, at)) = p.recv(until.saturating_duration_since(Instant::now()))? {
            if let Ok(Packet::Data { block: b, .. }) = Packet::parse(&q) {
                seen.entry(b).or_default().push(at);
            }
        }
        ack_twice(&p, block)?;
    }
    p.abandon(tid);
    let doubled: Vec<u16> = (2..=SAS_BLOCKS)
        .filter(|b| {
            seen.get(b)
                .is_some_and(|times| times.windows(2).any(|w| w[1].duration_since(w[0]) < TWINS))
        })
        .collect();
    if !doubled.is_empty() {
        return Err(format!(
            "blocks {doubled:?} came twice, one per copy of an ACK: the Sorcerer's Apprentice bug (RFC 1123 4.2.3.1: send DATA again only when the timer runs out)"
        ));
    }
    Ok(format!(
        "every ACK sent twice, and blocks 1-{SAS_BLOCKS} came once each"
    ))
}

/// Step 5: a stranger to the transfer.
fn stranger(server: SocketAddr, deadline: StepDeadline) -> Result<String, String> {
    let mut p = Probe::new(server, deadline)?;
    p.request(SMALL, &[])?;
    let (tid, _) = p.expect_data(1, Duration::from_secs(3), "DATA 1")?;
    let mut other = Probe::new(tid, deadline)?;
    other.send(&packet::ack_packet(1), tid)?;
    let answer = other.recv(Duration::from_secs(3))?;
    let verdict = match answer.as_ref().map(|(q, _, _)| Packet::parse(q)) {
        Some(Ok(Packet::Error { code: ErrorCode::UnknownTid, .. })) => Ok(()),
        Some(Ok(q)) => Err(format!("the stranger got {} instead of ERROR 5", describe(&q))),
        Some(Err(e)) => Err(format!("the stranger got a packet that is not TFTP ({e})")),
        None => Err("the stranger got no ERROR 5 (RFC 1350 section 4: a packet from a wrong port should get one; a socket connect()ed to the client drops it unseen)".to_string()),
    };
    verdict?;
    // The real client goes on.
    p.send(&packet::ack_packet(1), tid)?;
    p.expect_data(
        2,
        Duration::from_secs(3),
        "DATA 2 after the stranger (the transfer must go on)",
    )?;
    p.abandon(tid);
    Ok("the stranger got ERROR 5, and the transfer went on".into())
}

/// Waits for the ERROR a request must get.
fn expect_error(
    server: SocketAddr,
    name: &str,
    deadline: StepDeadline,
) -> Result<(ErrorCode, String), String> {
    let mut p = Probe::new(server, deadline)?;
    p.request(name, &[])?;
    match p.recv(Duration::from_secs(4))? {
        Some((q, from, _)) => match Packet::parse(&q) {
            Ok(Packet::Error { code, message }) => Ok((code, message)),
            Ok(Packet::Data { block, data }) => {
                p.abandon(from);
                Err(format!(
                    "DATA {block} ({} bytes): the server sent a file for {name:?}",
                    data.len()
                ))
            }
            Ok(other) => Err(format!("{} for {name:?}", describe(&other))),
            Err(e) => Err(format!("a packet that is not TFTP ({e}) for {name:?}")),
        },
        None => Err(format!("no answer to a request for {name:?}")),
    }
}

/// Step 6.
fn missing(server: SocketAddr, deadline: StepDeadline) -> Result<String, String> {
    let name = "tftp-check-no-such-file.bin";
    match expect_error(server, name, deadline)? {
        (ErrorCode::FileNotFound, m) => Ok(format!("ERROR 1 {m:?}")),
        (code, m) => Err(format!("ERROR {code} {m:?}, not ERROR 1 (file not found)")),
    }
}

/// Step 7.
fn traversal(server: SocketAddr, deadline: StepDeadline) -> Result<String, String> {
    let mut said = Vec::new();
    for name in [
        "../../../../../../etc/passwd",
        "/etc/passwd",
        "..\\..\\..\\windows\\win.ini",
    ] {
        let (code, _) = expect_error(server, name, deadline)?;
        said.push(format!("{name:?}: ERROR {code}"));
    }
    Ok(said.join(", "))
}

/// Step 8: the options, if the server takes them.
fn options(server: SocketAddr, deadline: StepDeadline) -> Result<String, String> {
    let mut o = grader_options(server, deadline);
    o.wanted = Wanted {
        blksize: Some(1428),
        windowsize: Some(4),
        timeout: None,
        tsize: None,
    };
    let out = Scratch::new();
    // client::get asks tsize too, and checks the OACK against what it asked.
    let r = client::get(&o, SMALL, &out.0).map_err(|e| failed(e, deadline))?;
    if r.digest != digest(SMALL) {
        return Err(format!(
            "with options, the bytes that arrived are not the file's (SHA-256 {})",
            r.digest
        ));
    }
    let s = r.settings;
    if s.tsize.is_some_and(|t| t != SMALL_SIZE as u64) {
        return Err(format!(
            "tsize {} in the OACK, but the file has {SMALL_SIZE} bytes",
            s.tsize.unwrap_or(0)
        ));
    }
    let default = crate::options::Settings::default();
    if s.blksize == default.blksize && s.windowsize == 1 && s.tsize.is_none() {
        return Ok("no OACK: the server takes no options (RFC 1350), which RFC 2347 allows".into());
    }
    Ok(format!(
        "OACK: blksize {}, windowsize {}, tsize {}; file intact",
        s.blksize,
        s.windowsize,
        s.tsize
            .map_or_else(|| "not answered".to_string(), |t| t.to_string())
    ))
}

type StepFn = fn(SocketAddr, StepDeadline) -> Result<String, String>;

/// The steps, their budgets, in order (together under a minute).
const STEPS: [(&str, u64, StepFn); 8] = [
    ("a get in octet mode", 8, |s, d| plain_get(s, SMALL, d)),
    ("block numbers roll over past 65,535", 20, |s, d| {
        plain_get(s, ROLLOVER, d)
    }),
    ("a lost ACK gets its DATA again", 7, lost_ack),
    ("a duplicated ACK is not answered twice", 5, duplicated_ack),
    ("a stranger to the transfer gets ERROR 5", 5, stranger),
    ("a missing file gets ERROR 1", 4, missing),
    ("paths out of the folder are refused", 5, traversal),
    ("blksize, tsize and windowsize", 6, options),
];

/// Grades the server at `server`.
pub fn run(server: SocketAddr, name: &str) -> Report {
    let steps = STEPS
        .iter()
        .map(|&(step, budget, f)| Step {
            name: step.to_string(),
            budget: Duration::from_secs(budget),
            heavy: false,
            run: Box::new(move |deadline| f(server, deadline)),
        })
        .collect();
    Report::new(
        name.to_string(),
        run_steps(
            steps,
            Some("the server did not serve the grader's file"),
            RUN_LIMIT,
        ),
    )
}

/// `tftp get --check`, against one server or the `--targets` of `class`. `Ok(true)` when
/// every server passed.
pub fn main(
    server: Option<&common::addr::Endpoint>,
    class: &ClassArgs,
    json: bool,
) -> Result<bool, class::CheckError> {
    let grade = |target: &Target| -> Result<Report, String> {
        let addr = target
            .addr
            .resolve()
            .map_err(|e| format!("cannot look up {}: {e}", target.addr))?
            .into_iter()
            .next()
            .ok_or_else(|| format!("{} has no address", target.addr))?;
        Ok(run(addr, &target.addr.to_string()))
    };
    let grader = Grader {
        program: "tftp",
        version: env!("CARGO_PKG_VERSION"),
        what: "check",
        command: "tftp get --check".into(),
        grade: &grade,
    };
    // With --targets the address is not used (clap asks for one or the other).
    let fallback;
    let one = match server {
        Some(s) => s,
        None => {
            fallback = common::addr::Endpoint::parse(crate::server::DEFAULT_ADDR)
                .map_err(|e| class::CheckError::Usage(e.to_string()))?;
            &fallback
        }
    };
    class::check(&grader, one, class, json)
}
