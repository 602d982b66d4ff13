//! # `tftp serve`: a TFTP server that is safe to leave running in a classroom
//!
//! Requests come to one port (69 for a system server; 6969 here, which needs no
//! privileges). Each transfer then gets a new socket on a new port, its own *transfer
//! ID*, and a thread that drives it ([`crate::drive`]); the request port stays free for the
//! next request. What it refuses, and why:
//!
//! - **Names** follow upload's rules ([`common::files::name`]): one plain file name, no
//!   path that leaves the folder, no absolute path, nothing Windows cannot hold. A symbolic
//!   link in the folder is not followed. Refused with ERROR 2.
//! - **Writes** only with `--allow-write`, into a hidden part file that is renamed into
//!   place once every block is in ([`common::files::store`]): a transfer that dies leaves
//!   nothing under the real name, and the part file goes with it. An existing file is kept
//!   (ERROR 6) unless `--overwrite`; a file over `--max-size` gets ERROR 3.
//! - **Load**: at most `--max-transfers` at once, and `--max-per-peer` from one address
//!   (loopback exempt unless `--limit-loopback`); a per-source rate limit on requests
//!   ([`common::ratelimit`]).
//! - **Reflection.** A request is 20 bytes; the answer to a read is a 516-byte DATA,
//!   resent on every timeout. With a forged source address, a TFTP server is an amplifier
//!   aimed at someone else (US-CERT TA14-017A: about 60×). Here a new peer that has never
//!   answered gets its first packet at most [`UNPROVEN_TRIES`] times, requests are rate
//!   limited per source, and the default address is loopback.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::addr::LimitScope;
use common::files::name;
use common::files::store::{self, CommitError, PartFile};
use common::output::{human_bytes, Log, Tag};
use common::ratelimit::{RateDecision, RateLimiter, DEFAULT_CAPACITY};
use common::server::admission::PeerSlots;
use common::server::limits::Limits;
use common::server::shutdown::Shutdown;

use crate::blocks::{BlockReader, BlockWriter};
use crate::drive::{self, Link};
use crate::options::{self, Policy};
use crate::packet::{self, ErrorCode, Packet, Request};
use crate::transfer::{Opening, Receiver, Sender, Status, Timing, DEFAULT_TIMING};

/// Where `tftp serve` listens unless told: this machine only, on a port that needs no
/// privileges (69, TFTP's own, needs root or CAP_NET_BIND_SERVICE on Linux and macOS).
pub const DEFAULT_ADDR: &str = "127.0.0.1:6969";
/// Transfers at once, in all.
pub const DEFAULT_MAX_TRANSFERS: usize = 64;
/// Transfers at once from one IP address.
pub const DEFAULT_MAX_PER_PEER: usize = 8;
/// Requests per second from one source address.
pub const DEFAULT_REQUEST_RATE: u32 = 20;
/// The largest file a write may store.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 30;
/// How many times the first packet of a read goes to a peer that has not answered yet:
/// the reflection defense (see the module docs). A real client that lost it asks again.
pub const UNPROVEN_TRIES: u32 = 3;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: PathBuf,
    pub allow_write: bool,
    pub overwrite: bool,
    pub max_size: u64,
    pub max_transfers: usize,
    pub max_per_peer: Option<usize>,
    pub scope: LimitScope,
    pub rate_limit: Option<u32>,
    pub max_blksize: usize,
    pub max_windowsize: u16,
    /// The retransmission timeout when a client asks for none.
    pub timeout: Duration,
    pub timing: Timing,
    pub quiet: bool,
    pub trace: bool,
}

impl Config {
    pub fn new(dir: PathBuf) -> Config {
        Config {
            dir,
            allow_write: false,
            overwrite: false,
            max_size: DEFAULT_MAX_SIZE,
            max_transfers: DEFAULT_MAX_TRANSFERS,
            max_per_peer: Some(DEFAULT_MAX_PER_PEER),
            scope: LimitScope::default(),
            rate_limit: Some(DEFAULT_REQUEST_RATE),
            max_blksize: packet::MAX_BLKSIZE,
            max_windowsize: 64,
            timeout: options::DEFAULT_TIMEOUT,
            timing: DEFAULT_TIMING,
            quiet: false,
            trace: false,
        }
    }
}

/// What a run of the server did.
#[derive(Debug, Default)]
pub struct Summary {
    pub requests: AtomicU64,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    /// Refused with an ERROR (names, missing files, writes off, ...).
    pub refused: AtomicU64,
    /// Dropped unanswered: over the rate limit or the transfer limits.
    pub dropped: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Datagrams from strangers to a transfer's port, answered with ERROR 5.
    pub strays: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        write!(
            f,
            "{} requests ({} reads, {} writes): {} completed, {} failed, {} refused, {} dropped (limits); {} sent, {} received; {} strays answered with ERROR 5",
            g(&self.requests),
            g(&self.reads),
            g(&self.writes),
            g(&self.completed),
            g(&self.failed),
            g(&self.refused),
            g(&self.dropped),
            human_bytes(g(&self.bytes_sent)),
            human_bytes(g(&self.bytes_received)),
            g(&self.strays),
        )
    }
}

/// What the request loop and the transfer threads share.
struct Shared {
    config: Config,
    log: Log,
    summary: Summary,
    stop: AtomicBool,
    /// Transfers running: their peers (a repeated request from one is not a new transfer)
    /// and the slots per address.
    active: Mutex<Active>,
}

#[derive(Default)]
struct Active {
    /// Each transfer's client and its request: the same request again from the same
    /// address and port is a repeat; another one (a new command from a client that keeps
    /// its socket) is a new transfer.
    peers: HashSet<(SocketAddr, Vec<u8>)>,
    slots: Option<PeerSlots>,
}

/// Serves `socket` until `shutdown` is triggered; returns the summary.
pub fn serve(socket: UdpSocket, config: Config, shutdown: &Shutdown) -> Summary {
    let log = Log::new(config.quiet);
    let limits = Limits {
        max_connections: config.max_transfers,
        max_per_peer: config.max_per_peer,
        scope: config.scope,
        ..Limits::default()
    };
    let shared = Arc::new(Shared {
        log,
        summary: Summary::default(),
        stop: AtomicBool::new(false),
        active: Mutex::new(Active {
            peers: HashSet::new(),
            slots: Some(PeerSlots::new(&limits)),
        }),
        config,
    });
    let mut limiter = shared
        .config
        .rate_limit
        .map(|rate| RateLimiter::new(rate, DEFAULT_CAPACITY, Instant::now()));
    let mut buf = vec![0u8; packet::RECV_BUFFER];
    let mut threads = Vec::new();
    let mut id = 0u64;
    loop {
        let received = socket.recv_from(&mut buf);
        if shutdown.is_triggered() {
            break;
        }
        let (n, from) = match received {
            Ok(r) => r,
            Err(e) if common::os::is_port_unreachable(&e) => continue,
            Err(e) => {
                shared.log.warn(format_args!("receive failed: {e}"));
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        threads.retain(|t: &thread::JoinHandle<()>| !t.is_finished());
        id += 1;
        let tag = Tag { id, peer: from };
        if shared.config.trace {
            common::output::trace(&tag, "<-", &buf[..n]);
        }
        // The rate limit comes first: a flood costs a table lookup, nothing more.
        if let Some(l) = limiter.as_mut() {
            if shared.config.scope.covers(from.ip())
                && l.check(from.ip(), Instant::now()) == RateDecision::Drop
            {
                add(&shared.summary.dropped, 1);
                continue;
            }
        }
        let (write, request) = match Packet::parse(&buf[..n]) {
            Ok(Packet::Rrq(r)) => (false, r),
            Ok(Packet::Wrq(r)) => (true, r),
            Ok(p) => {
                refuse(
                    &socket,
                    &shared,
                    &tag,
                    ErrorCode::IllegalOperation,
                    &format!(
                        "a {} on the request port: only RRQ and WRQ come here",
                        p.kind()
                    ),
                );
                continue;
            }
            // Mail mode (RFC 1350) delivers to a user: there are none here.
            Err(packet::ParseError::UnknownMode(mode)) if mode.eq_ignore_ascii_case("mail") => {
                refuse(
                    &socket,
                    &shared,
                    &tag,
                    ErrorCode::NoSuchUser,
                    "no such user: this server delivers no mail (mail mode is obsolete)",
                );
                continue;
            }
            Err(packet::ParseError::UnknownMode(mode)) => {
                let shown = common::output::preview(mode.as_bytes(), 20);
                refuse(
                    &socket,
                    &shared,
                    &tag,
                    ErrorCode::IllegalOperation,
                    &format!("unknown mode {shown}: octet and netascii are served"),
                );
                continue;
            }
            Err(e) => {
                // Not answered: an answer to junk is what a reflector sends. (An empty
                // datagram is also how Ctrl-C wakes this loop.)
                add(&shared.summary.dropped, 1);
                shared.log.event(
                    &tag,
                    format_args!("dropped, unanswered: not a TFTP packet ({e})"),
                );
                continue;
            }
        };
        add(&shared.summary.requests, 1);
        add(
            if write {
                &shared.summary.writes
            } else {
                &shared.summary.reads
            },
            1,
        );
        let key = (from, buf[..n].to_vec());
        match claim(&shared, &key) {
            Claim::Repeat => continue,
            Claim::Busy(why) => {
                add(&shared.summary.dropped, 1);
                shared.log.warn(format_args!("{tag}: not served: {why}"));
                let _ = socket.send_to(
                    &packet::error_packet(
                        ErrorCode::NotDefined,
                        &format!("server busy: {why}; try again later"),
                    ),
                    from,
                );
                continue;
            }
            Claim::Taken => {}
        }
        let local = match socket.local_addr() {
            Ok(a) => a,
            Err(e) => {
                release(&shared, &key);
                shared
                    .log
                    .warn(format_args!("{tag}: the server's address is unknown: {e}"));
                continue;
            }
        };
        let worker = Arc::clone(&shared);
        let spawned = thread::Builder::new().name(format!("tftp-{id}")).spawn({
            let key = key.clone();
            move || {
                transfer(&worker, &tag, local.ip(), write, &request);
                release(&worker, &key);
            }
        });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                release(&shared, &key);
                shared
                    .log
                    .warn(format_args!("{tag}: no thread for the transfer: {e}"));
            }
        }
    }
    // Ctrl-C: transfers in progress stop, and their part files are removed.
    shared.stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    Arc::try_unwrap(shared)
        .map(|s| s.summary)
        .unwrap_or_default()
}

enum Claim {
    Taken,
    /// A request from a peer whose transfer is running: its first answer was lost or is
    /// late; the transfer's own timer repeats it.
    Repeat,
    Busy(String),
}

fn claim(shared: &Shared, key: &(SocketAddr, Vec<u8>)) -> Claim {
    let from = key.0;
    let Ok(mut active) = shared.active.lock() else {
        return Claim::Busy("the server's table of transfers is broken".into());
    };
    if active.peers.contains(key) {
        return Claim::Repeat;
    }
    if active.peers.len() >= shared.config.max_transfers {
        return Claim::Busy(format!(
            "{} transfers at once (--max-transfers)",
            active.peers.len()
        ));
    }
    if let Some(slots) = active.slots.as_mut() {
        if let Err(open) = slots.claim(from.ip()) {
            return Claim::Busy(format!(
                "{open} transfers at once from {} (--max-per-peer)",
                from.ip()
            ));
        }
    }
    active.peers.insert(key.clone());
    Claim::Taken
}

fn release(shared: &Shared, key: &(SocketAddr, Vec<u8>)) {
    let from = key.0;
    if let Ok(mut active) = shared.active.lock() {
        if active.peers.remove(key) {
            if let Some(slots) = active.slots.as_mut() {
                slots.release(from.ip());
            }
        }
    }
}

/// Answers with an ERROR and counts the refusal.
fn refuse(socket: &UdpSocket, shared: &Shared, tag: &Tag, code: ErrorCode, message: &str) {
    add(&shared.summary.refused, 1);
    shared
        .log
        .event(tag, format_args!("refused: ERROR {code}: {message}"));
    let _ = socket.send_to(&packet::error_packet(code, message), tag.peer);
}

/// Opens the file an RRQ names: a plain file in the folder, not a link.
fn open_for_read(dir: &Path, name: &str) -> Result<(File, u64), (ErrorCode, String)> {
    let path = dir.join(name);
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err((
                ErrorCode::FileNotFound,
                format!("no file {name:?} in the server's folder"),
            ));
        }
        Err(e) => return Err((ErrorCode::AccessViolation, format!("{name:?}: {e}"))),
    };
    if meta.file_type().is_symlink() {
        return Err((
            ErrorCode::AccessViolation,
            format!("{name:?} is a symbolic link, which this server does not follow"),
        ));
    }
    if !meta.is_file() {
        return Err((ErrorCode::FileNotFound, format!("{name:?} is not a file")));
    }
    match File::open(&path) {
        Ok(f) => Ok((f, meta.len())),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err((
            ErrorCode::AccessViolation,
            format!("{name:?} cannot be read by the server"),
        )),
        Err(e) => Err((ErrorCode::AccessViolation, format!("{name:?}: {e}"))),
    }
}

/// One transfer, on its own socket, from the request to the summary line.
fn transfer(shared: &Shared, tag: &Tag, ip: IpAddr, write: bool, request: &Request) {
    let config = &shared.config;
    // A new socket on a new port: the server's transfer ID for this transfer.
    let socket = match UdpSocket::bind(SocketAddr::new(ip, 0)) {
        Ok(s) => s,
        Err(e) => {
            shared
                .log
                .warn(format_args!("{tag}: no socket for the transfer: {e}"));
            add(&shared.summary.failed, 1);
            return;
        }
    };
    let fail_early = |code: ErrorCode, message: String| {
        add(&shared.summary.refused, 1);
        shared
            .log
            .event(tag, format_args!("refused: ERROR {code}: {message}"));
        let _ = socket.send_to(&packet::error_packet(code, &message), tag.peer);
    };
    let shown = common::output::preview(&request.filename, common::output::PREVIEW_CHARS);
    let name = match name::check(&request.filename) {
        Ok(n) => n.to_string(),
        Err(why) => {
            return fail_early(
                ErrorCode::AccessViolation,
                format!("the name {shown} is refused: {why}"),
            )
        }
    };
    let kind = if write { "WRQ" } else { "RRQ" };
    let asked: Vec<String> = request
        .options
        .iter()
        .map(|o| format!("{}={}", o.name, o.value))
        .collect();
    shared.log.event(
        tag,
        format_args!(
            "{kind} {name:?} {}{}{}",
            request.mode,
            if asked.is_empty() { "" } else { ", options " },
            asked.join(" ")
        ),
    );
    let policy = Policy {
        max_blksize: config.max_blksize,
        max_windowsize: config.max_windowsize,
        max_size: config.max_size,
        timeout: config.timeout,
    };
    // The reflection defense: until the peer has answered once, its first packet goes
    // out at most UNPROVEN_TRIES times.
    let timing = Timing {
        first_retries: config.timing.first_retries.min(UNPROVEN_TRIES - 1),
        // Until the peer answers, the server's own timeout paces the tries, whatever the
        // request asked: a forged request holds a transfer for seconds.
        first_max_interval: config.timeout.min(config.timing.first_max_interval),
        ..config.timing
    };
    let started = Instant::now();
    let mut link = Link::new(&socket, tag.peer, true);
    link.stop = Some(&shared.stop);
    link.trace = config.trace;
    let ended = if write {
        if !config.allow_write {
            return fail_early(
                ErrorCode::AccessViolation,
                "writes are off on this server (start it with --allow-write)".into(),
            );
        }
        if !config.overwrite && fs::symlink_metadata(config.dir.join(&name)).is_ok() {
            return fail_early(
                ErrorCode::FileExists,
                format!("{name:?} is already on the server (it runs without --overwrite)"),
            );
        }
        let agreed = match options::agree(&request.options, true, request.mode, None, &policy) {
            Ok(a) => a,
            Err(r) => return fail_early(r.code, r.message),
        };
        let unique = format!("{}.{}", std::process::id(), tag.id);
        let part = match PartFile::create(&config.dir, &name, &unique) {
            Ok(p) => p,
            Err(e) => {
                return fail_early(
                    ErrorCode::AccessViolation,
                    format!("no part file in the folder: {e}"),
                )
            }
        };
        drive::size_buffers(&socket, agreed.settings.blksize, agreed.settings.windowsize);
        let opening = if agreed.oack.is_empty() {
            Opening::Immediate
        } else {
            Opening::Oack(packet::oack_packet(&agreed.oack))
        };
        let mut receiver = Receiver::new(
            agreed.settings,
            timing,
            opening,
            true,
            config.max_size,
            Instant::now(),
        );
        let overwrite = config.overwrite;
        let ended = drive::receive(
            &mut link,
            &mut receiver,
            BlockWriter::new(part, request.mode),
            &mut |_, _| {},
            &mut |mut part: PartFile, digest, receiver| {
                part.commit(&name, overwrite).map_err(|e| match e {
                    CommitError::Exists(n) => (
                        ErrorCode::FileExists,
                        format!("{n:?} appeared on the server meanwhile"),
                    ),
                    other => (
                        ErrorCode::DiskFull,
                        format!("the file could not be kept: {other}"),
                    ),
                })?;
                // Said now, not after the wait for a repeated last block.
                done_line(
                    shared,
                    tag,
                    "stored",
                    &name,
                    part_bytes(receiver),
                    started.elapsed(),
                    receiver.counters(),
                    receiver.settings(),
                    digest,
                );
                Ok(())
            },
        );
        add(&shared.summary.bytes_received, ended.file_bytes);
        (ended, receiver.counters(), receiver.settings())
    } else {
        let (file, size) = match open_for_read(&config.dir, &name) {
            Ok(f) => f,
            Err((code, message)) => return fail_early(code, message),
        };
        let agreed =
            match options::agree(&request.options, false, request.mode, Some(size), &policy) {
                Ok(a) => a,
                Err(r) => return fail_early(r.code, r.message),
            };
        drive::size_buffers(&socket, agreed.settings.blksize, agreed.settings.windowsize);
        let opening = if agreed.oack.is_empty() {
            Opening::Immediate
        } else {
            Opening::Oack(packet::oack_packet(&agreed.oack))
        };
        let mut sender = Sender::new(agreed.settings, timing, opening, Instant::now());
        let ended = drive::send(
            &mut link,
            &mut sender,
            BlockReader::new(file, request.mode),
            &mut |_, _| {},
        );
        add(&shared.summary.bytes_sent, ended.file_bytes);
        (ended, sender.counters(), sender.settings())
    };
    let (ended, counters, settings) = ended;
    add(&shared.summary.strays, link.strays);
    let elapsed = started.elapsed();
    match (&ended.status, &ended.digest) {
        (Status::Complete, Some(_)) if write => add(&shared.summary.completed, 1),
        (Status::Complete, Some(digest)) => {
            add(&shared.summary.completed, 1);
            done_line(
                shared,
                tag,
                "sent",
                &name,
                ended.file_bytes,
                elapsed,
                counters,
                settings,
                digest,
            );
        }
        (status, _) => {
            add(&shared.summary.failed, 1);
            let why = match status {
                Status::Failed(f) => f.to_string(),
                _ => "stopped".to_string(),
            };
            shared.log.event(
                tag,
                format_args!(
                    "{kind} {name:?} failed after {:.1} s: {why}",
                    elapsed.as_secs_f64()
                ),
            );
        }
    }
}

/// The bytes that arrived (in netascii mode, as they were on the wire).
fn part_bytes(receiver: &Receiver) -> u64 {
    receiver.counters().bytes
}

/// A transfer's last line: what moved, how fast, and the file's SHA-256.
#[allow(clippy::too_many_arguments)]
fn done_line(
    shared: &Shared,
    tag: &Tag,
    what: &str,
    name: &str,
    bytes: u64,
    elapsed: Duration,
    counters: crate::transfer::Counters,
    settings: crate::options::Settings,
    digest: &str,
) {
    shared.log.event(
        tag,
        format_args!(
            "{what} {name:?}: {} in {:.3} s ({}), blksize {}, windowsize {}, {} blocks, {} resent, {} duplicates ignored; sha256 {digest}",
            human_bytes(bytes),
            elapsed.as_secs_f64(),
            common::output::rate(bytes, elapsed),
            settings.blksize,
            settings.windowsize,
            counters.blocks,
            counters.resent,
            counters.duplicates,
        ),
    );
}

/// Part files left by a server that was killed: said at start-up (they are hidden, so a
/// teacher would not see them otherwise).
pub fn leftover_parts(dir: &Path) -> Vec<PathBuf> {
    store::leftover_parts(dir)
}
