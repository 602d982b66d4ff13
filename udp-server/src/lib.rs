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
//!
//! The files: [`echo`] decides what each datagram gets (pure, with the time passed in),
//! using [`common::ratelimit`] and [`faults`]; [`sender`] sends and counts; [`delay`] holds the
//! replies that leave later; [`stats`] counts and sums up. This file receives, logs, and
//! hands each decision to the sender.

pub mod delay;
pub mod echo;
pub mod faults;
pub mod sender;
pub mod stats;

use std::net::UdpSocket;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::addr::{Endpoint, LimitScope};
use common::net;
use common::os;
use common::output::{self, Log, Tag};
use common::ratelimit;
use common::server::shutdown::{Background, Shutdown};
use common::udp::{self, Receiver, UdpOptions};
use common::{EXIT_FAILURE, EXIT_OK};

use delay::{DelayQueue, Delayed};
use echo::{Decision, Echo};
use sender::Sender;
use stats::Stats;

pub use faults::{Delay, Faults};
pub use stats::Summary;

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
    let mut echo = Echo::new(
        &config.reply_prefix,
        config.rate_limit,
        config.scope,
        config.faults,
        started,
    );
    let mut delays: Option<(Arc<DelayQueue>, thread::JoinHandle<()>)> = None;
    let mut receiver = Receiver::new(config.buffer);
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
                Stats::add(&stats.unreachable, 1);
                log.warn(format_args!(
                    "an earlier reply found nobody listening (ICMP port unreachable, reported by {} as {}); going on",
                    os::SYSTEM,
                    net::describe(&e)
                ));
                continue;
            }
            Err(e) => {
                Stats::add(&stats.recv_errors, 1);
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
        Stats::add(&stats.datagrams_in, 1);
        Stats::add(&stats.bytes_in, datagram.len as u64);
        // What this datagram gets is decided in `echo`, with no socket: here it is only
        // logged and carried out.
        let decision = echo.decide(datagram.from, data, Instant::now());
        if let Decision::Limited { first } = decision {
            Stats::add(&stats.rate_limited, 1);
            if first {
                warn_rate_limited(&log, &tag, config.rate_limit);
            }
            continue;
        }
        if config.trace {
            output::trace(&tag, "recv", data);
        }
        if datagram.truncated {
            Stats::add(&stats.truncated, 1);
            warn_truncated(&log, &tag, &datagram, receiver.size());
        }
        log.message(&tag, "datagram", data);
        // ANCHOR_END: recv_loop

        let Decision::Reply {
            reply,
            copies,
            after,
        } = decision
        else {
            Stats::add(&stats.injected_drops, 1);
            log.event(&tag, format_args!("injected fault: dropped, no reply"));
            continue;
        };
        if copies > 1 {
            Stats::add(&stats.injected_duplicates, 1);
            log.event(
                &tag,
                format_args!("injected fault: duplicated, two replies"),
            );
        }
        if !after.is_zero() {
            Stats::add(&stats.injected_delays, 1);
            log.event(
                &tag,
                format_args!("injected fault: delayed {} ms", after.as_millis()),
            );
        }
        match config.handler {
            HandlerMode::Thread => {
                // The tutorial's way: a thread for every datagram.
                let (thread_sender, thread_reply) = (Arc::clone(&sender), reply.to_vec());
                let spawned = thread::Builder::new().spawn(move || {
                    thread::sleep(after);
                    thread_sender.send(&thread_reply, copies, &tag);
                });
                if let Err(e) = spawned {
                    log.warn(format_args!(
                        "{tag}: could not start a thread ({e}); replying inline"
                    ));
                    sender.send(reply, copies, &tag);
                }
            }
            HandlerMode::Inline if !after.is_zero() => {
                if delays.is_none() {
                    match DelayQueue::start(Arc::clone(&sender)) {
                        Ok(started) => delays = Some(started),
                        Err(e) => log.warn(format_args!(
                            "could not start the delay thread ({e}); replying now"
                        )),
                    }
                }
                match &delays {
                    Some((queue, _)) => queue.push(Delayed {
                        due: Instant::now() + after,
                        seq: id,
                        reply: reply.to_vec(),
                        copies,
                        tag,
                    }),
                    None => sender.send(reply, copies, &tag),
                }
            }
            HandlerMode::Inline => sender.send(reply, copies, &tag),
        }
    }

    if let Some((queue, handle)) = delays {
        queue.stop();
        let _ = handle.join();
    }
    stats.summary(udp::kernel_drops(&socket), started.elapsed())
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
    let socket = match udp::bind(&options.addr, &options.socket) {
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
