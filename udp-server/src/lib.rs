//! # The UDP echo: the tutorial's `udp.py`, done right
//!
//! The protocol: every datagram gets a reply, `Hi!` + the datagram, sent back to its
//! sender. No connection, no greeting, no end. What the tutorial's version gets wrong:
//!
//! | `udp.py`                                              | here                                        |
//! |-------------------------------------------------------|---------------------------------------------|
//! | a new thread for every datagram: costs more than the work | answered on the receiving thread (`--handler inline`); `--handler thread` keeps the tutorial's way to compare |
//! | `recvfrom(1024)` silently cuts larger datagrams        | a 65,535-byte buffer cuts nothing; with `--buffer 1024` every cut is detected and logged with both sizes |
//! | replies `Hi!b'hello!'` (formats the bytes object)     | replies the bytes: `Hi!hello!`              |
//!
//! On loopback nothing is ever lost, so the lesson "UDP is unreliable" needs help: the
//! server can inject faults on purpose — drop a reply (`--drop 0.3`), send it twice
//! (`--duplicate 0.1`), or late (`--delay 10..200`, in ms, without holding up the other
//! replies) — repeatably with `--seed`. Every injected fault is logged as injected.

use std::collections::BinaryHeap;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub mod ratelimit;

use ratelimit::{RateLimiter, Verdict};

use common::addr::{Endpoint, LimitScope};
use common::net;
use common::os;
use common::output::{self, Log, Tag};
use common::server::shutdown::{Background, Shutdown};
use common::udp::{self, Receiver, UdpOptions};
use common::{EXIT_FAILURE, EXIT_OK};

/// What every reply starts with.
pub const DEFAULT_REPLY_PREFIX: &str = "Hi!";
/// The default receive buffer: larger than any datagram, so nothing is ever cut.
pub const DEFAULT_BUFFER: usize = 65_535;
/// Pause after a failed `recv_from` that is not the client's fault, so a persistent error
/// cannot spin the CPU.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(10);

/// How a datagram is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HandlerMode {
    /// On the receiving thread: no thread to create per datagram.
    #[default]
    Inline,
    /// A new thread per datagram, as the tutorial does (to compare the cost).
    Thread,
}

impl std::fmt::Display for HandlerMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HandlerMode::Inline => "inline",
            HandlerMode::Thread => "thread",
        })
    }
}

/// A reply delay: fixed (`50`) or uniformly random in a range (`10..200`), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub min: Duration,
    pub max: Duration,
}

impl std::str::FromStr for Delay {
    type Err = String;
    fn from_str(s: &str) -> Result<Delay, String> {
        let ms = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("'{t}' is not a whole number of milliseconds"))
        };
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (ms(a)?, ms(b)?),
            None => (ms(s)?, ms(s)?),
        };
        if min > max {
            return Err(format!("the range {s} goes backwards: write MIN..MAX"));
        }
        Ok(Delay { min, max })
    }
}

impl std::fmt::Display for Delay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{} ms", self.min.as_millis())
        } else {
            write!(f, "{}..{} ms", self.min.as_millis(), self.max.as_millis())
        }
    }
}

/// Faults injected on purpose, to see what UDP does about them (nothing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability of not replying at all.
    pub drop: f64,
    /// Probability of replying twice.
    pub duplicate: f64,
    /// Delay before replying.
    pub delay: Option<Delay>,
    /// Seed of the random choices: the same seed and the same datagrams give the same faults.
    pub seed: u64,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            drop: 0.0,
            duplicate: 0.0,
            delay: None,
            seed: 0,
        }
    }

    fn any(&self) -> bool {
        self.drop > 0.0 || self.duplicate > 0.0 || self.delay.is_some()
    }
}

impl std::fmt::Display for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.any() {
            return f.write_str("none");
        }
        write!(f, "drop {}, duplicate {}", self.drop, self.duplicate)?;
        if let Some(d) = self.delay {
            write!(f, ", delay {d}")?;
        }
        write!(
            f,
            ", seed {} (repeat the run with --seed {})",
            self.seed, self.seed
        )
    }
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub reply_prefix: Vec<u8>,
    /// The program's receive buffer, in bytes (the tutorial's is 1024).
    pub buffer: usize,
    pub handler: HandlerMode,
    pub faults: Faults,
    /// Replies per second to one source address, at most (`--rate-limit`); `None`: no limit.
    pub rate_limit: Option<u32>,
    /// Which sources the rate limit applies to: by default every one but loopback
    /// (`--limit-loopback` includes it).
    pub scope: LimitScope,
    pub trace: bool,
    pub quiet: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            reply_prefix: DEFAULT_REPLY_PREFIX.into(),
            buffer: DEFAULT_BUFFER,
            handler: HandlerMode::Inline,
            faults: Faults::none(),
            rate_limit: Some(ratelimit::DEFAULT_RATE),
            scope: LimitScope::default(),
            trace: false,
            quiet: false,
        }
    }
}

/// Everything `udp-server` needs to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: Endpoint,
    pub socket: UdpOptions,
    pub config: Config,
}

/// Counters, shared with the threads that send replies.
#[derive(Debug, Default)]
struct Stats {
    datagrams_in: AtomicU64,
    bytes_in: AtomicU64,
    datagrams_out: AtomicU64,
    bytes_out: AtomicU64,
    truncated: AtomicU64,
    injected_drops: AtomicU64,
    injected_duplicates: AtomicU64,
    injected_delays: AtomicU64,
    send_errors: AtomicU64,
    recv_errors: AtomicU64,
    unreachable: AtomicU64,
    rate_limited: AtomicU64,
}

/// What a server did, from start to shutdown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    /// Datagrams larger than the buffer, cut.
    pub truncated: u64,
    pub injected_drops: u64,
    pub injected_duplicates: u64,
    pub injected_delays: u64,
    pub send_errors: u64,
    pub recv_errors: u64,
    /// Datagrams dropped, not answered, because their source was over `--rate-limit`.
    pub rate_limited: u64,
    /// ICMP "port unreachable" reports for earlier replies (Windows reports them to the
    /// server's socket; Linux and macOS do not).
    pub unreachable: u64,
    /// Datagrams the kernel dropped because the receive queue was full (Linux).
    pub kernel_drops: Option<u64>,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "summary: {} datagrams in ({}), {} out ({}) in {:.1} s; {} truncated; injected: {} drops, \
             {} duplicates, {} delays; {} over the rate limit; {} send errors, {} receive errors; kernel drops: {}",
            self.datagrams_in,
            output::human_bytes(self.bytes_in),
            self.datagrams_out,
            output::human_bytes(self.bytes_out),
            self.elapsed.as_secs_f64(),
            self.truncated,
            self.injected_drops,
            self.injected_duplicates,
            self.injected_delays,
            self.rate_limited,
            self.send_errors,
            self.recv_errors,
            self.kernel_drops
                .map_or_else(|| os::NOT_AVAILABLE.to_string(), |n| n.to_string()),
        )?;
        if self.unreachable > 0 {
            write!(
                f,
                "; {} replies found nobody listening (ICMP)",
                self.unreachable
            )?;
        }
        Ok(())
    }
}

/// Sends replies and counts them; shared by the receiving thread, the per-datagram threads
/// and the delay thread.
#[derive(Debug)]
struct Sender {
    socket: Arc<UdpSocket>,
    stats: Stats,
    log: Log,
    trace: bool,
}

impl Sender {
    fn send(&self, reply: &[u8], copies: u32, tag: &Tag) {
        for _ in 0..copies {
            if self.trace {
                output::trace(tag, "send", reply);
            }
            match self.socket.send_to(reply, tag.peer) {
                Ok(n) => {
                    self.stats.datagrams_out.fetch_add(1, Ordering::Relaxed);
                    self.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    if common::os::is_message_too_long(&e) {
                        self.log.warn(format_args!(
                            "{tag}: the reply ({} bytes) is larger than one datagram can carry ({} over IPv4): not sent",
                            reply.len(),
                            udp::MAX_DATAGRAM_V4
                        ));
                    } else {
                        self.log
                            .warn(format_args!("{tag}: could not send the reply: {e}"));
                    }
                }
            }
        }
    }
}

/// A reply waiting for its time.
#[derive(Debug, PartialEq, Eq)]
struct Delayed {
    due: Instant,
    /// Tie-breaker: equal due times leave in arrival order.
    seq: u64,
    reply: Vec<u8>,
    copies: u32,
    tag: Tag,
}

impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: reverse, so the earliest reply is on top.
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One thread that sends delayed replies when they are due, so a long delay never holds up
/// the replies behind it.
struct DelayQueue {
    queue: Mutex<BinaryHeap<Delayed>>,
    ready: Condvar,
    stop: AtomicBool,
}

impl DelayQueue {
    fn start(sender: Arc<Sender>) -> std::io::Result<(Arc<DelayQueue>, thread::JoinHandle<()>)> {
        let q = Arc::new(DelayQueue {
            queue: Mutex::new(BinaryHeap::new()),
            ready: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let worker = Arc::clone(&q);
        let handle = thread::Builder::new()
            .name("delayed-replies".into())
            .spawn(move || worker.run(&sender))?;
        Ok((q, handle))
    }

    fn push(&self, item: Delayed) {
        if let Ok(mut q) = self.queue.lock() {
            q.push(item);
            self.ready.notify_one();
        }
    }

    fn run(&self, sender: &Sender) {
        let Ok(mut q) = self.queue.lock() else { return };
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            let wait = match q.peek() {
                Some(top) if top.due <= now => None,
                Some(top) => Some(top.due - now),
                None => Some(Duration::from_secs(3600)),
            };
            match wait {
                None => {
                    if let Some(item) = q.pop() {
                        // Send without holding the lock: the receiving thread may push.
                        drop(q);
                        sender.send(&item.reply, item.copies, &item.tag);
                        q = match self.queue.lock() {
                            Ok(q) => q,
                            Err(_) => return,
                        };
                    }
                }
                Some(d) => {
                    q = match self.ready.wait_timeout(q, d) {
                        Ok((q, _)) => q,
                        Err(_) => return,
                    };
                }
            }
        }
    }

    fn stop(&self) {
        // Under the lock: the worker checks the flag and starts waiting while holding it,
        // so the wake-up cannot fall between the two and be lost.
        let _queue = self.queue.lock();
        self.stop.store(true, Ordering::SeqCst);
        self.ready.notify_all();
    }
}

/// Says that a source went over the rate limit (once per run of drops).
#[cold]
fn warn_rate_limited(log: &Log, tag: &Tag, rate: Option<u32>) {
    log.warn(format_args!(
        "{tag}: more than --rate-limit {}/s from {}: its datagrams are dropped, unanswered, until it slows down",
        rate.unwrap_or(0),
        tag.peer.ip()
    ));
}

/// Says that a datagram was cut, with both sizes where the system tells the real one.
#[cold]
fn warn_truncated(log: &Log, tag: &Tag, datagram: &udp::Datagram, buffer: usize) {
    match datagram.sent_len {
        Some(sent) => log.warn(format_args!(
            "{tag}: truncated: {sent} bytes arrived, the buffer holds {buffer}: {} bytes lost (a bigger --buffer keeps them)",
            sent.saturating_sub(datagram.len)
        )),
        None => log.warn(format_args!(
            "{tag}: truncated: more than {buffer} bytes arrived, the buffer holds {buffer}: the rest is lost \
             ({} does not say how much; a bigger --buffer keeps it)",
            os::SYSTEM
        )),
    }
}

/// Answers datagrams on `socket` until `shutdown` is triggered.
pub fn serve(socket: UdpSocket, config: Config, shutdown: &Shutdown) -> Summary {
    let started = Instant::now();
    let log = Log::new(config.quiet);
    let socket = Arc::new(socket);
    let sender = Arc::new(Sender {
        socket: Arc::clone(&socket),
        stats: Stats::default(),
        log,
        trace: config.trace,
    });
    let stats = &sender.stats;
    let faults = config.faults;
    let mut rng = fastrand::Rng::with_seed(faults.seed);
    let mut delays: Option<(Arc<DelayQueue>, thread::JoinHandle<()>)> = None;
    let mut receiver = Receiver::new(config.buffer);
    let mut limiter = config
        .rate_limit
        .map(|rate| RateLimiter::new(rate, ratelimit::DEFAULT_CAPACITY, Instant::now()));
    let mut reply = Vec::new();
    let mut id: u64 = 0;

    // ANCHOR: recv_loop
    loop {
        let received = receiver.recv(&socket);
        if shutdown.is_triggered() {
            break;
        }
        let datagram = match received {
            Ok(d) => d,
            Err(e) if os::is_port_unreachable(&e) => {
                // Windows only: an ICMP "port unreachable" for an earlier reply. News about
                // a client that has gone, not a failure of ours: count it and go on.
                stats.unreachable.fetch_add(1, Ordering::Relaxed);
                log.warn(format_args!(
                    "an earlier reply found nobody listening (ICMP port unreachable, reported by {} as {}); going on",
                    os::SYSTEM,
                    net::describe(&e)
                ));
                continue;
            }
            Err(e) => {
                stats.recv_errors.fetch_add(1, Ordering::Relaxed);
                log.warn(format_args!("receive failed: {e}"));
                thread::sleep(RECV_ERROR_PAUSE);
                continue;
            }
        };
        id += 1;
        let tag = Tag {
            id,
            peer: datagram.from,
        };
        let data = receiver.bytes(&datagram);
        stats.datagrams_in.fetch_add(1, Ordering::Relaxed);
        stats
            .bytes_in
            .fetch_add(datagram.len as u64, Ordering::Relaxed);
        // Over its rate? Then no reply: a flood, or a reflection aimed at a forged source,
        // gets no more than --rate-limit replies a second (see `ratelimit`). This
        // machine's own clients are a student's measurements: exempt unless
        // --limit-loopback.
        let source = datagram.from.ip();
        if let (Some(limiter), true) = (&mut limiter, config.scope.covers(source)) {
            match limiter.check(source, Instant::now()) {
                Verdict::Allow => {}
                verdict => {
                    stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    if verdict == Verdict::DropFirst {
                        warn_rate_limited(&log, &tag, config.rate_limit);
                    }
                    continue;
                }
            }
        }
        if config.trace {
            output::trace(&tag, "recv", data);
        }
        if datagram.truncated {
            stats.truncated.fetch_add(1, Ordering::Relaxed);
            warn_truncated(&log, &tag, &datagram, receiver.size());
        }
        log.message(&tag, "datagram", data);
        // ANCHOR_END: recv_loop

        // Faults, decided here on the receiving thread, in arrival order: the same seed
        // and the same datagrams give the same faults.
        if faults.drop > 0.0 && rng.f64() < faults.drop {
            stats.injected_drops.fetch_add(1, Ordering::Relaxed);
            log.event(&tag, format_args!("injected fault: dropped, no reply"));
            continue;
        }
        let mut copies = 1;
        if faults.duplicate > 0.0 && rng.f64() < faults.duplicate {
            copies = 2;
            stats.injected_duplicates.fetch_add(1, Ordering::Relaxed);
            log.event(
                &tag,
                format_args!("injected fault: duplicated, two replies"),
            );
        }
        let delay = faults.delay.map(|d| {
            let span = (d.max - d.min).as_micros() as u64;
            d.min + Duration::from_micros(if span == 0 { 0 } else { rng.u64(0..=span) })
        });

        reply.clear();
        reply.extend_from_slice(&config.reply_prefix);
        reply.extend_from_slice(data);

        match (config.handler, delay) {
            (HandlerMode::Thread, _) => {
                // The tutorial's way: a thread for every datagram.
                let wait = delay.unwrap_or_default();
                if !wait.is_zero() {
                    stats.injected_delays.fetch_add(1, Ordering::Relaxed);
                    log.event(
                        &tag,
                        format_args!("injected fault: delayed {} ms", wait.as_millis()),
                    );
                }
                let (thread_sender, thread_reply) = (Arc::clone(&sender), reply.clone());
                let spawned = thread::Builder::new().spawn(move || {
                    thread::sleep(wait);
                    thread_sender.send(&thread_reply, copies, &tag);
                });
                if let Err(e) = spawned {
                    log.warn(format_args!(
                        "{tag}: could not start a thread ({e}); replying inline"
                    ));
                    sender.send(&reply, copies, &tag);
                }
            }
            (HandlerMode::Inline, Some(wait)) if !wait.is_zero() => {
                stats.injected_delays.fetch_add(1, Ordering::Relaxed);
                log.event(
                    &tag,
                    format_args!("injected fault: delayed {} ms", wait.as_millis()),
                );
                if delays.is_none() {
                    match DelayQueue::start(Arc::clone(&sender)) {
                        Ok(started) => delays = Some(started),
                        Err(e) => log.warn(format_args!(
                            "could not start the delay thread ({e}); replying now"
                        )),
                    }
                }
                let item = Delayed {
                    due: Instant::now() + wait,
                    seq: id,
                    reply: reply.clone(),
                    copies,
                    tag,
                };
                match &delays {
                    Some((queue, _)) => queue.push(item),
                    None => sender.send(&item.reply, copies, &tag),
                }
            }
            (HandlerMode::Inline, _) => sender.send(&reply, copies, &tag),
        }
    }

    if let Some((queue, handle)) = delays {
        queue.stop();
        let _ = handle.join();
    }
    let load = |c: &AtomicU64| c.load(Ordering::SeqCst);
    Summary {
        datagrams_in: load(&stats.datagrams_in),
        bytes_in: load(&stats.bytes_in),
        datagrams_out: load(&stats.datagrams_out),
        bytes_out: load(&stats.bytes_out),
        truncated: load(&stats.truncated),
        injected_drops: load(&stats.injected_drops),
        injected_duplicates: load(&stats.injected_duplicates),
        injected_delays: load(&stats.injected_delays),
        send_errors: load(&stats.send_errors),
        recv_errors: load(&stats.recv_errors),
        unreachable: load(&stats.unreachable),
        rate_limited: load(&stats.rate_limited),
        kernel_drops: udp::kernel_drops(&socket),
        elapsed: started.elapsed(),
    }
}

/// Serves on a thread of this process (tests, embedding): stop it with
/// [`Background::stop`], which returns the summary.
pub fn spawn(socket: UdpSocket, config: Config) -> std::io::Result<Background<Summary>> {
    let addr = socket.local_addr()?;
    let shutdown = Shutdown::for_udp(&socket)?;
    Background::spawn(addr, shutdown, move |s| serve(socket, config, s))
}

/// Checks what clap cannot.
pub fn validate(config: &Config) -> Result<(), String> {
    for (name, p) in [
        ("--drop", config.faults.drop),
        ("--duplicate", config.faults.duplicate),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!("{name} {p}: a probability must be between 0 and 1"));
        }
    }
    Ok(())
}

/// The whole `udp-server` program: bind, serve until Ctrl-C, print a summary.
pub fn main(options: Options) -> ExitCode {
    if let Err(e) = validate(&options.config) {
        output::err_line(format_args!("udp-server: {e}"));
        return ExitCode::from(common::EXIT_USAGE as u8);
    }
    let bound = options
        .addr
        .resolve()
        .map_err(|e| format!("could not look up {}: {e}", options.addr))
        .and_then(|addrs| {
            let mut last = String::from("no address");
            for addr in addrs {
                match udp::udp_socket(addr, &options.socket) {
                    Ok(s) => return Ok(s),
                    Err(e) => {
                        last = common::net::bind_error(addr, e, &Default::default()).to_string()
                    }
                }
            }
            Err(last)
        });
    let socket = match bound {
        Ok(s) => s,
        Err(e) => {
            output::err_line(format_args!("udp-server: {e}"));
            return ExitCode::from(EXIT_FAILURE as u8);
        }
    };
    let local = socket
        .local_addr()
        .map_or_else(|_| options.addr.to_string(), |a| a.to_string());
    let c = &options.config;
    output::out_line(format_args!(
        "{} udp-server listening on {local} (UDP; buffer {} bytes, handler {}, SO_RCVBUF {} bytes, rate limit {}; faults: {}); Ctrl-C stops it",
        output::timestamp(),
        c.buffer,
        c.handler,
        udp::recv_buffer_size(&socket).map_or_else(|_| "?".into(), |n| n.to_string()),
        c.rate_limit
            .map_or_else(|| "off".to_string(), |r| format!("{r}/s per source, {}", c.scope)),
        c.faults,
    ));
    let shutdown = match Shutdown::for_udp(&socket) {
        Ok(s) => s,
        Err(e) => {
            output::err_line(format_args!(
                "udp-server: could not prepare shutdown on {local}: {e}"
            ));
            return ExitCode::from(EXIT_FAILURE as u8);
        }
    };
    if let Err(e) = shutdown.trigger_on_ctrl_c() {
        Log::new(false).warn(format_args!("{e}"));
    }
    let summary = serve(socket, options.config, &shutdown);
    output::out_line(format_args!(
        "{} udp-server stopped. {summary}",
        output::timestamp()
    ));
    ExitCode::from(EXIT_OK as u8)
}
