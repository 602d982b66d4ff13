//! # The accept loop: one thread per connection, with limits
//!
//! The tutorial's server is the classic loop:
//!
//! ```python
//! while True:
//!     sock, addr = s.accept()
//!     threading.Thread(target=fun, args=(sock, addr)).start()
//! ```
//!
//! It is the right shape, and [`serve`] keeps it. What it lacks is what keeps a real server
//! alive when clients misbehave or the machine runs short:
//!
//! - **A connection limit** (`--max-connections`). Past it, a new client is told
//!   `error: server busy` and closed at once, instead of the server making threads until
//!   the kernel kills it.
//! - **An idle timeout.** A client that connects and says nothing would hold a thread
//!   forever; with `SO_RCVTIMEO` its read gives up and the connection is closed.
//! - **Surviving resource exhaustion.** When `accept()` fails because the process is out of
//!   file descriptors (`EMFILE`) or the system is (`ENFILE`), or out of memory, we log it
//!   and go on. A spare descriptor kept open for that moment is given up to accept the
//!   waiting client just to tell it we are busy, then taken again; when even that fails we
//!   back off (5 ms, doubling up to 1 s). When a thread cannot be started, that one client is
//!   refused, and the server goes on.
//! - **Named threads with small stacks**: `conn-42` in `top -H` and in a debugger; 128 KiB
//!   of address space each instead of 2 MiB (only touched pages cost memory either way).
//! - **A clean shutdown** ([`Shutdown`], wired to Ctrl-C by the programs): the loop stops,
//!   connections still running get half a second to finish, and [`serve`] returns a
//!   [`Summary`] of everything that happened (with those still open counted as such).
//!
//! A program plugs in its protocol as a [`Handler`]: given an accepted connection, serve it
//! to its end and say why it ended. The loop logs the accept (with the whole 4-tuple) and
//! the close (with the reason and the bytes) the same way for every server.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::addr::LimitScope;
use crate::output::{human_bytes, Log, Tag};

/// The default connection limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The default limit on connections from one IP address: one laptop (one student, or one
/// attacker) can hold at most 64 of the 1,024 slots, so even ten misbehaving ones leave a
/// class of 30 room; and 64 is enough for the grader's 50 clients at once.
pub const DEFAULT_MAX_PER_PEER: usize = 64;
/// The default idle timeout: a client silent for this long is disconnected.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Stack size of a connection thread. Our handlers keep their buffers on the heap, so a
/// small stack is plenty; it only reserves address space, the kernel maps pages on use.
pub const CONNECTION_STACK_SIZE: usize = 128 * 1024;
/// First pause after `accept()` fails for lack of resources.
const BACKOFF_START: Duration = Duration::from_millis(5);
/// Longest pause between two failed `accept()`s.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long a busy client's refusal message may take to write before we give up on it.
const REFUSE_WRITE_TIMEOUT: Duration = Duration::from_millis(100);
/// At shutdown, how long connections still running get to finish before the summary.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// How often the shutdown checks whether they have.
const SHUTDOWN_POLL: Duration = Duration::from_millis(5);
/// What the spare file descriptor is open on (`/dev/null`, or `NUL` on Windows).
const SPARE_FILE: &str = crate::os::NULL_DEVICE;
/// How long [`Shutdown::trigger`] waits when it connects to wake the accept loop.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// The limits of the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more are refused with the handler's busy message.
    pub max_connections: usize,
    /// Connections served at once from one IP address; more from that address are refused
    /// the same way, while other addresses are still served. `None`: no such limit.
    pub max_per_peer: Option<usize>,
    /// Which addresses `max_per_peer` applies to: by default every one but loopback
    /// (`--limit-loopback` includes it).
    pub scope: LimitScope,
    /// Close a connection after this long without a byte from the client. `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Close a connection whose message (in upload, a control line) is not complete this
    /// long after its first byte, however often bytes trickle in. `None`: no such limit.
    pub message_timeout: Option<Duration>,
}

/// The limits as the start-up lines say them: `max 1024 connections (64 per address,
/// loopback exempt), idle timeout 300 s, message timeout 30 s`.
impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = |d: Option<Duration>| {
            d.map_or_else(|| "off".to_string(), |d| format!("{} s", d.as_secs_f64()))
        };
        write!(f, "max {} connections", self.max_connections)?;
        if let Some(n) = self.max_per_peer {
            write!(f, " ({n} per address, {})", self.scope)?;
        }
        write!(
            f,
            ", idle timeout {}, message timeout {}",
            seconds(self.idle_timeout),
            seconds(self.message_timeout)
        )
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_peer: Some(DEFAULT_MAX_PER_PEER),
            scope: LimitScope::default(),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            message_timeout: Some(crate::deadline::DEFAULT_MESSAGE_TIMEOUT),
        }
    }
}

/// A connection the loop accepted, handed to the [`Handler`] on its own thread.
#[derive(Debug)]
pub struct Accepted {
    pub stream: TcpStream,
    pub tag: Tag,
}

/// Why a connection ended, as logged and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client asked to end (`exit`, `BYE`).
    Exit,
    /// The client closed its side between two messages.
    EndOfStream,
    /// The client said nothing for longer than the idle timeout.
    IdleTimeout,
    /// The client began a message and did not finish it within `--message-timeout`
    /// (slowloris).
    MessageTimeout,
    /// The client reset the connection (or vanished while we were writing).
    Reset,
    /// The client broke the protocol (message too large, cut off, malformed, ...).
    ProtocolError(String),
    /// Another I/O error.
    Error(String),
}

impl CloseReason {
    const KINDS: usize = 7;

    /// Why a connection ended, from the I/O error that ended it. (A message's deadline is
    /// not an I/O error: the reader that keeps it says [`CloseReason::MessageTimeout`].)
    #[cold]
    #[inline(never)]
    pub fn from_io(e: &io::Error) -> CloseReason {
        if crate::net::is_timeout(e) {
            CloseReason::IdleTimeout
        } else if crate::net::is_reset(e) {
            CloseReason::Reset
        } else {
            CloseReason::Error(crate::net::describe(e))
        }
    }

    fn index(&self) -> usize {
        match self {
            CloseReason::Exit => 0,
            CloseReason::EndOfStream => 1,
            CloseReason::IdleTimeout => 2,
            CloseReason::Reset => 3,
            CloseReason::ProtocolError(_) => 4,
            CloseReason::Error(_) => 5,
            CloseReason::MessageTimeout => 6,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Exit => f.write_str("exit"),
            CloseReason::EndOfStream => f.write_str("end of stream"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::MessageTimeout => f.write_str("message timeout"),
            CloseReason::Reset => f.write_str("reset by peer"),
            CloseReason::ProtocolError(why) => write!(f, "protocol error: {why}"),
            CloseReason::Error(why) => write!(f, "error: {why}"),
        }
    }
}

/// How a connection ended: the reason and the bytes it moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub reason: CloseReason,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// A server's protocol, plugged into the accept loop.
pub trait Handler: Send + Sync + 'static {
    /// Serves one connection to its end, on the connection's own thread.
    fn handle(&self, conn: Accepted, limits: &Limits) -> Closed;
    /// The bytes sent to a client refused because the server is full (already framed).
    fn busy_message(&self) -> Vec<u8>;
}

/// Stops a server loop from another thread (a Ctrl-C handler, a test).
///
/// `accept()` and `recv_from()` block, and a flag alone cannot wake them:
/// [`trigger`](Self::trigger) sets the flag and then connects to the listener itself (TCP)
/// or sends it an empty datagram (UDP), so the call returns and the loop sees the flag.
#[derive(Debug, Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    wake: Wake,
}

#[derive(Debug, Clone, Copy)]
enum Wake {
    Tcp(SocketAddr),
    Udp(SocketAddr),
}

impl Shutdown {
    /// A shutdown switch for the loop that will serve `listener`.
    pub fn new(listener: &TcpListener) -> io::Result<Shutdown> {
        Ok(Shutdown::with(Wake::Tcp(reachable(listener.local_addr()?))))
    }

    /// A shutdown switch for a loop receiving on `socket`.
    pub fn for_udp(socket: &std::net::UdpSocket) -> io::Result<Shutdown> {
        Ok(Shutdown::with(Wake::Udp(reachable(socket.local_addr()?))))
    }

    fn with(wake: Wake) -> Shutdown {
        Shutdown {
            flag: Arc::new(AtomicBool::new(false)),
            wake,
        }
    }

    /// Asks the loop to stop, and wakes it.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        match self.wake {
            Wake::Tcp(addr) => {
                let _ = TcpStream::connect_timeout(&addr, WAKE_TIMEOUT);
            }
            Wake::Udp(addr) => {
                let any: SocketAddr = match addr {
                    SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
                    SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
                };
                if let Ok(s) = std::net::UdpSocket::bind(any) {
                    let _ = s.send_to(&[], addr);
                }
            }
        }
    }

    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Triggers this switch on Ctrl-C (SIGINT), SIGTERM and SIGHUP, so the server stops
    /// cleanly and prints its summary instead of dying mid-sentence.
    pub fn trigger_on_ctrl_c(&self) -> Result<(), String> {
        let switch = self.clone();
        ctrlc::set_handler(move || switch.trigger())
            .map_err(|e| format!("Ctrl-C will not print a summary: {e}"))
    }
}

/// A server running on a thread of this process: where it listens, how to stop it, and
/// its summary when it has stopped. What tests and embedding programs use.
#[derive(Debug)]
pub struct Background<T> {
    pub addr: SocketAddr,
    shutdown: Shutdown,
    handle: thread::JoinHandle<T>,
}

impl<T: Send + 'static> Background<T> {
    /// Runs `serve` on a new thread; `shutdown` must be the switch `serve` watches.
    pub fn spawn(
        addr: SocketAddr,
        shutdown: Shutdown,
        serve: impl FnOnce(&Shutdown) -> T + Send + 'static,
    ) -> io::Result<Background<T>> {
        let switch = shutdown.clone();
        let handle = thread::Builder::new()
            .name("server".into())
            .spawn(move || serve(&switch))?;
        Ok(Background {
            addr,
            shutdown,
            handle,
        })
    }

    /// Stops the server and returns its summary (`None` if its thread panicked).
    pub fn stop(self) -> Option<T> {
        self.shutdown.trigger();
        self.handle.join().ok()
    }
}

/// A socket bound to "every interface" (0.0.0.0 or [::]) is reached through loopback.
fn reachable(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// The counters of a server, which its [`Summary`] reports: shared by the accept loop and
/// the connection threads (hence atomics), and kept by the event loop the same way.
#[derive(Debug, Default)]
pub struct Stats {
    accepted: AtomicU64,
    refused_busy: AtomicU64,
    refused_per_peer: AtomicU64,
    refused_no_thread: AtomicU64,
    accept_errors: AtomicU64,
    active: AtomicUsize,
    peak_active: AtomicUsize,
    closed: [AtomicU64; CloseReason::KINDS],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

impl Stats {
    /// Connections being served now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// A connection is admitted: it counts as active until [`released`](Self::released).
    /// Returns how many are active now.
    pub fn admitted(&self) -> usize {
        let now_active = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_active.fetch_max(now_active, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        now_active
    }

    /// A connection has ended and its slot is free.
    pub fn released(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    /// Counts how a connection ended (it is still active until `released`).
    pub fn closed(&self, closed: &Closed) {
        self.closed[closed.reason.index()].fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(closed.bytes_in, Ordering::Relaxed);
        self.bytes_out
            .fetch_add(closed.bytes_out, Ordering::Relaxed);
    }

    /// A client refused because no thread could be started for it (it was admitted first).
    pub fn refused_no_thread(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.refused_no_thread.fetch_add(1, Ordering::Relaxed);
    }

    /// A client refused with the busy message when the descriptors ran out.
    pub fn refused_busy(&self) {
        self.refused_busy.fetch_add(1, Ordering::Relaxed);
    }

    /// What the server did, `elapsed` after it started.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        Summary {
            accepted: self.accepted.load(Ordering::SeqCst),
            refused_busy: self.refused_busy.load(Ordering::SeqCst),
            refused_per_peer: self.refused_per_peer.load(Ordering::SeqCst),
            refused_no_thread: self.refused_no_thread.load(Ordering::SeqCst),
            accept_errors: self.accept_errors.load(Ordering::SeqCst),
            still_open: self.active.load(Ordering::SeqCst),
            peak_active: self.peak_active.load(Ordering::SeqCst),
            closed: std::array::from_fn(|i| self.closed[i].load(Ordering::SeqCst)),
            bytes_in: self.bytes_in.load(Ordering::SeqCst),
            bytes_out: self.bytes_out.load(Ordering::SeqCst),
            elapsed,
        }
    }
}

/// Connections open now, by the client's IP address (for `--max-per-peer`). Only addresses
/// with an open connection are in it, so it is never larger than the connection limit.
#[derive(Debug, Default)]
pub struct PeerSlots {
    max: Option<usize>,
    scope: LimitScope,
    open: HashMap<IpAddr, usize>,
}

impl PeerSlots {
    /// Slots of at most `limits.max_per_peer` connections per address, for the addresses
    /// in `limits.scope` (no limit: nothing kept).
    pub fn new(limits: &Limits) -> PeerSlots {
        PeerSlots {
            max: limits.max_per_peer,
            scope: limits.scope,
            open: HashMap::new(),
        }
    }

    /// Takes a slot for a connection from `ip`, unless that address already has the
    /// maximum; then returns how many it has.
    // ANCHOR: claim_peer_slot
    pub fn claim(&mut self, ip: IpAddr) -> Result<(), usize> {
        let Some(max) = self.max else {
            return Ok(());
        };
        // This machine's own clients are one student's lab, not an attack: loopback is
        // exempt unless --limit-loopback (its slots are then neither taken nor given back).
        if !self.scope.covers(ip) {
            return Ok(());
        }
        let open = self.open.entry(ip).or_insert(0);
        if *open >= max {
            return Err(*open);
        }
        *open += 1;
        Ok(())
    }
    // ANCHOR_END: claim_peer_slot

    /// Gives back the slot of a connection from `ip` (under the address it was taken for).
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(open) = self.open.get_mut(&ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                self.open.remove(&ip);
            }
        }
    }
}

/// Why a new client is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `--max-connections` are being served (this many).
    Busy { active: usize },
    /// Its address already has `--max-per-peer` connections (this many).
    PerPeer { open: usize },
}

/// The accept loops' one admission rule, for both models: refuses a client past the
/// connection limit or its address's limit, and otherwise counts it as active (returns how
/// many are active now). A refusal is counted and logged here; the caller sends the busy
/// message.
pub fn admit(
    tag: &Tag,
    limits: &Limits,
    stats: &Stats,
    peers: &mut PeerSlots,
    log: &Log,
) -> Result<usize, Refusal> {
    let active = stats.active();
    let refusal = if active >= limits.max_connections {
        Refusal::Busy { active }
    } else {
        match peers.claim(tag.peer.ip()) {
            Ok(()) => return Ok(stats.admitted()),
            Err(open) => Refusal::PerPeer { open },
        }
    };
    log_refusal(tag, limits, stats, log, refusal);
    Err(refusal)
}

#[cold]
#[inline(never)]
fn log_refusal(tag: &Tag, limits: &Limits, stats: &Stats, log: &Log, refusal: Refusal) {
    match refusal {
        Refusal::Busy { active } => {
            stats.refused_busy.fetch_add(1, Ordering::Relaxed);
            log.event(
                tag,
                format_args!(
                    "refused: server busy ({active} of --max-connections {} in use)",
                    limits.max_connections
                ),
            );
        }
        Refusal::PerPeer { open } => {
            stats.refused_per_peer.fetch_add(1, Ordering::Relaxed);
            log.event(
                tag,
                format_args!(
                    "refused: {open} connections from {} already (--max-per-peer {})",
                    tag.peer.ip(),
                    limits.max_per_peer.unwrap_or(0)
                ),
            );
        }
    }
}

/// The accept line, with the whole 4-tuple: our address and port, the peer's address and
/// port (`local` is `None` when the socket cannot say).
pub fn log_accepted(log: &Log, tag: &Tag, local: Option<SocketAddr>, now_active: usize) {
    if log.quiet {
        return;
    }
    let local = local.map_or_else(|| "?".to_string(), |a| a.to_string());
    log.event(
        tag,
        format_args!(
            "accepted: local {local} <-> peer {} ({now_active} active)",
            tag.peer
        ),
    );
}

/// The close line: why, after how long, the bytes, and how many stay active.
pub fn log_closed(log: &Log, tag: &Tag, closed: &Closed, elapsed: Duration, still_active: usize) {
    log.event(
        tag,
        format_args!(
            "closed: {} after {:.3} s, {} bytes in, {} bytes out ({still_active} active)",
            closed.reason,
            elapsed.as_secs_f64(),
            closed.bytes_in,
            closed.bytes_out
        ),
    );
}

/// What to do after `accept()` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterError {
    /// Accept again now (one client gave up, or one was refused with the spare descriptor).
    Retry,
    /// No client could be handled: pause this long before accepting again.
    Pause(Duration),
}

/// Surviving resource exhaustion in `accept()`, for both models: the spare file descriptor,
/// the back-off, and one warning per episode.
#[derive(Debug)]
pub struct Survival {
    /// A spare file descriptor, given up when accept() fails with EMFILE so that the client
    /// waiting in the backlog can be accepted and told we are busy.
    spare_fd: Option<File>,
    /// Whether accept() is failing for lack of resources (logged once per episode).
    short_of_resources: bool,
    backoff: Duration,
}

impl Default for Survival {
    fn default() -> Self {
        Survival::new()
    }
}

impl Survival {
    pub fn new() -> Survival {
        Survival {
            spare_fd: File::open(SPARE_FILE).ok(),
            short_of_resources: false,
            backoff: BACKOFF_START,
        }
    }

    /// `accept()` worked: the episode, if any, is over.
    pub fn accepted(&mut self, log: &Log) {
        self.backoff = BACKOFF_START;
        if self.short_of_resources {
            self.short_of_resources = false;
            log.warn(format_args!("accepting connections again"));
        }
        if self.spare_fd.is_none() {
            self.spare_fd = File::open(SPARE_FILE).ok();
        }
    }

    /// `accept()` failed with `e`. When the process is out of descriptors, the spare one is
    /// given up while `refuse_one` accepts the waiting client and tells it we are busy
    /// (it returns whether it did).
    pub fn failed(
        &mut self,
        e: &io::Error,
        stats: &Stats,
        log: &Log,
        refuse_one: impl FnOnce() -> bool,
    ) -> AfterError {
        stats.accept_errors.fetch_add(1, Ordering::Relaxed);
        if is_transient_accept_error(e) {
            // The client gave up before we accepted it: nothing to do.
            return AfterError::Retry;
        }
        if !self.short_of_resources {
            self.short_of_resources = true;
            log.warn(format_args!(
                "accept failed: {}; {}",
                crate::net::describe(e),
                accept_error_advice(e)
            ));
        }
        // Out of descriptors: give up the spare one for a moment, accept the waiting
        // client, tell it we are busy, close it, and take the spare again. (Only then: for
        // any other error the next client is served once accept works.)
        let out_of_files = matches!(
            crate::os::shortage(e),
            Some(crate::os::Shortage::ProcessFiles | crate::os::Shortage::SystemFiles)
        );
        if out_of_files && self.spare_fd.take().is_some() {
            let refused = refuse_one();
            self.spare_fd = File::open(SPARE_FILE).ok();
            if refused {
                stats.refused_busy();
                return AfterError::Retry;
            }
        }
        // No client could be handled: wait before trying again, longer each time.
        AfterError::Pause(self.pause())
    }

    /// The next pause after a failure (5 ms, doubling up to 1 s).
    pub fn pause(&mut self) -> Duration {
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        pause
    }
}

/// What a server did, from start to shutdown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub accepted: u64,
    /// Refused because `--max-connections` were already being served.
    pub refused_busy: u64,
    /// Refused because their address already had `--max-per-peer` connections.
    pub refused_per_peer: u64,
    /// Refused because no thread could be started for them.
    pub refused_no_thread: u64,
    /// `accept()` calls that failed (resource exhaustion, aborted handshakes).
    pub accept_errors: u64,
    /// Connections still open when the server stopped.
    pub still_open: usize,
    pub peak_active: usize,
    /// Closed connections by reason: exit, end of stream, idle timeout, reset, protocol
    /// error, other error, message timeout.
    pub closed: [u64; CloseReason::KINDS],
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [exit, eof, idle, reset, proto, error, message] = self.closed;
        write!(
            f,
            "summary: {} accepted in {:.1} s, {} refused (busy), {} refused (per peer), {} refused (no thread), \
             {} accept errors, peak {} at once, {} still open; closed: {exit} exit, {eof} end of stream, \
             {idle} idle timeout, {message} message timeout, {reset} reset, {proto} protocol error, \
             {error} error; {} in, {} out",
            plural(self.accepted, "connection"),
            self.elapsed.as_secs_f64(),
            self.refused_busy,
            self.refused_per_peer,
            self.refused_no_thread,
            self.accept_errors,
            self.peak_active,
            self.still_open,
            human_bytes(self.bytes_in),
            human_bytes(self.bytes_out),
        )
    }
}

/// What every connection thread shares with the accept loop, behind one `Arc`: each
/// thread's closure then carries just its connection and one pointer (a 10,000-connection
/// server keeps 10,000 of those closures' allocations).
struct Shared<H> {
    handler: Arc<H>,
    limits: Limits,
    log: Log,
    stats: Stats,
    busy: Vec<u8>,
    /// Connections open now, by address (`--max-per-peer`).
    peers: Mutex<PeerSlots>,
}

impl<H> Shared<H> {
    /// Gives back the slot of a connection from `ip`.
    fn release_peer_slot(&self, ip: IpAddr) {
        if self.limits.max_per_peer.is_none() || !self.limits.scope.covers(ip) {
            return;
        }
        self.peers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(ip);
    }
}

/// A connection on its way to its thread, and then the thread's claim on an "active" slot.
///
/// It carries only the stream, the connection id and the client's IP address (the thread
/// asks the socket for the whole peer address): std keeps each thread's closure allocated
/// while the thread lives, so at 10,000 connections every byte here is 10 KB. The IP is
/// kept because the `--max-per-peer` slot must be given back under the address it was
/// taken for, even if the client is gone by the time the thread asks.
struct Handoff<H: Handler> {
    conn: Option<(TcpStream, u64)>,
    ip: IpAddr,
    shared: Arc<Shared<H>>,
}

impl<H: Handler> Handoff<H> {
    /// Runs on the connection's thread.
    fn run(mut self) {
        if let Some((stream, id)) = self.conn.take() {
            // getpeername(): fails only if the client is already gone.
            let peer = stream
                .peer_addr()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
            let conn = Accepted {
                stream,
                tag: Tag { id, peer },
            };
            let shared = &*self.shared;
            run_connection(
                conn,
                &*shared.handler,
                &shared.limits,
                &shared.stats,
                shared.log,
            );
        }
    }
}

impl<H: Handler> Drop for Handoff<H> {
    fn drop(&mut self) {
        match self.conn.take() {
            // Never taken: the thread could not be started (std dropped the closure). Tell
            // the client we are busy; the accept loop gives the slot back.
            Some((stream, _)) => refuse(stream, &self.shared.busy),
            // The thread ran, and returned or panicked: the connection is over either way.
            None => self.shared.stats.released(),
        }
        self.shared.release_peer_slot(self.ip);
    }
}

/// Accepts connections on `listener` until `shutdown` is triggered, serving each on its own
/// thread with `handler`. Returns what happened.
pub fn serve<H: Handler>(
    listener: TcpListener,
    limits: Limits,
    handler: Arc<H>,
    log: Log,
    shutdown: &Shutdown,
) -> Summary {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        peers: Mutex::new(PeerSlots::new(&limits)),
        busy: handler.busy_message(),
        handler,
        limits,
        log,
        stats: Stats::default(),
    });
    let stats = &shared.stats;
    // The spare descriptor and the back-off for when accept() fails (EMFILE).
    let mut survival = Survival::new();
    let mut next_id: u64 = 0;

    // ANCHOR: accept_loop
    loop {
        let result = listener.accept();
        if shutdown.is_triggered() {
            // Most likely the wake-up connection from `Shutdown::trigger`. Abort it (RST)
            // rather than close it: a normal close would leave a TIME_WAIT entry on our
            // port, and a restart without SO_REUSEADDR would fail for a minute.
            if let Ok((stream, _)) = &result {
                let _ = crate::net::abort_on_close(stream);
            }
            break;
        }
        let (stream, peer) = match result {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors: the spare one is given up to tell one client we are busy.
                let refuse_one = || match listener.accept() {
                    Ok((stream, _)) => {
                        refuse(stream, &shared.busy);
                        true
                    }
                    Err(_) => false,
                };
                if let AfterError::Pause(pause) = survival.failed(&e, stats, &log, refuse_one) {
                    thread::sleep(pause);
                }
                continue;
            }
        };
        survival.accepted(&log);
        next_id += 1;
        let tag = Tag { id: next_id, peer };

        // The connection limit, then the limit per address: past either, the busy message.
        let admitted = {
            let mut peers = shared.peers.lock().unwrap_or_else(|e| e.into_inner());
            admit(&tag, &limits, stats, &mut peers, &log)
        };
        let Ok(now_active) = admitted else {
            refuse(stream, &shared.busy);
            continue;
        };
        crate::net::tune_stream(&stream);
        log_accepted(&log, &tag, stream.local_addr().ok(), now_active);

        // The connection travels to its thread inside a `Handoff`. If the thread cannot be
        // started, std drops the closure, and with it the handoff, whose `Drop` tells the
        // client we are busy: no client is ever closed without a word.
        let handoff = Handoff {
            conn: Some((stream, tag.id)),
            ip: peer.ip(),
            shared: Arc::clone(&shared),
        };
        let spawned = thread::Builder::new()
            .name(format!("conn-{}", tag.id))
            .stack_size(CONNECTION_STACK_SIZE)
            .spawn(move || handoff.run());
        if let Err(e) = spawned {
            stats.refused_no_thread();
            let pause = survival.pause();
            log.warn(format_args!(
                "{tag}: could not start a thread ({e}); refused this client; pausing {} ms",
                pause.as_millis()
            ));
            thread::sleep(pause);
        }
    }
    // ANCHOR_END: accept_loop

    // Connections that are just closing (the client already saw the end) finish their
    // bookkeeping in microseconds: give them a moment, so the summary counts them as closed.
    let grace = Instant::now() + SHUTDOWN_GRACE;
    while stats.active() > 0 && Instant::now() < grace {
        thread::sleep(SHUTDOWN_POLL);
    }
    stats.summary(started.elapsed())
}

/// Runs on the connection's thread: set the timeouts, serve, log and count the close.
fn run_connection(conn: Accepted, handler: &dyn Handler, limits: &Limits, stats: &Stats, log: Log) {
    let tag = conn.tag;
    let started = Instant::now();
    // SO_RCVTIMEO / SO_SNDTIMEO: a read or write that waits longer than the idle timeout
    // fails with a timeout error instead of holding this thread forever. The write timeout
    // catches a client that sends but never reads (our writes would block once its
    // receive window is full).
    if let Err(e) = conn
        .stream
        .set_read_timeout(limits.idle_timeout)
        .and_then(|()| conn.stream.set_write_timeout(limits.idle_timeout))
    {
        log.warn(format_args!("{tag}: could not set the idle timeout: {e}"));
    }
    let closed = handler.handle(conn, limits);
    stats.closed(&closed);
    // The guard has not run yet: this connection still counts as active.
    let still_active = stats.active().saturating_sub(1);
    log_closed(&log, &tag, &closed, started.elapsed(), still_active);
}

/// `1 connection`, `2 connections`.
fn plural(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Tells a client we cannot serve it, without letting it hold up the accept loop.
fn refuse(stream: TcpStream, message: &[u8]) {
    let _ = stream.set_write_timeout(Some(REFUSE_WRITE_TIMEOUT));
    let _ = (&stream).write_all(message);
    // FIN after the message: the client reads it, then end of stream.
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Errors of one connection attempt, not of the server: the client reset or gave up
/// during the handshake, or a signal interrupted the call.
fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            // Winsock (under Wine) for a client that reset while it waited in the backlog.
            | io::ErrorKind::NotConnected
    )
}

fn accept_error_advice(e: &io::Error) -> &'static str {
    use crate::os::Shortage;
    match crate::os::shortage(e) {
        Some(Shortage::ProcessFiles) => {
            "this process is out of file descriptors: raise `ulimit -n` or lower --max-connections"
        }
        Some(Shortage::SystemFiles) => "the system is out of file descriptors (fs.file-max)",
        Some(Shortage::Memory) => "the system is short of memory",
        None => "will retry",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Replies with the bytes it reads until the client closes.
    struct Echo;

    impl Handler for Echo {
        fn handle(&self, conn: Accepted, _: &Limits) -> Closed {
            let mut stream = conn.stream;
            let mut buf = [0u8; 64];
            let mut total = 0;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => {
                        return Closed {
                            reason: CloseReason::EndOfStream,
                            bytes_in: total,
                            bytes_out: total,
                        }
                    }
                    Ok(n) => {
                        total += n as u64;
                        if stream.write_all(&buf[..n]).is_err() {
                            return Closed {
                                reason: CloseReason::Reset,
                                bytes_in: total,
                                bytes_out: total,
                            };
                        }
                    }
                    // A timeout is EAGAIN on Unix, WSAETIMEDOUT on Windows: from_io knows both.
                    Err(e) => {
                        return Closed {
                            reason: CloseReason::from_io(&e),
                            bytes_in: total,
                            bytes_out: total,
                        }
                    }
                }
            }
        }
        fn busy_message(&self) -> Vec<u8> {
            b"busy\n".to_vec()
        }
    }

    fn start(limits: Limits) -> (SocketAddr, Shutdown, thread::JoinHandle<Summary>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new(&listener).unwrap();
        let s = shutdown.clone();
        let h = thread::spawn(move || serve(listener, limits, Arc::new(Echo), Log::new(true), &s));
        (addr, shutdown, h)
    }

    fn echo_once(addr: SocketAddr) -> Vec<u8> {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        buf.to_vec()
    }

    #[test]
    fn serves_refuses_past_the_limit_and_recovers() {
        let (addr, shutdown, h) = start(Limits {
            max_connections: 2,
            max_per_peer: None,
            scope: LimitScope::default(),
            idle_timeout: None,
            message_timeout: None,
        });
        let a = TcpStream::connect(addr).unwrap();
        let b = TcpStream::connect(addr).unwrap();
        // Make sure both are being served before the third comes.
        for mut c in [&a, &b] {
            c.write_all(b"x").unwrap();
            let mut one = [0u8; 1];
            c.read_exact(&mut one).unwrap();
        }
        let mut third = TcpStream::connect(addr).unwrap();
        let mut got = Vec::new();
        third.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"busy\n");
        drop(a);
        // Once a slot is free, a new client is served again.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            c.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).unwrap();
            if &buf == b"ping" {
                break;
            }
            assert!(Instant::now() < deadline, "slot never freed");
            thread::sleep(Duration::from_millis(20));
        }
        drop(b);
        shutdown.trigger();
        let summary = h.join().unwrap();
        assert!(summary.refused_busy >= 1, "{summary}");
        assert_eq!(summary.peak_active, 2);
    }

    #[test]
    fn idle_clients_are_timed_out() {
        let (addr, shutdown, h) = start(Limits {
            max_connections: 10,
            max_per_peer: None,
            scope: LimitScope::default(),
            idle_timeout: Some(Duration::from_millis(100)),
            message_timeout: None,
        });
        let mut idle = TcpStream::connect(addr).unwrap();
        let mut buf = Vec::new();
        // The server closes it: we read end of stream, well before our own 5 s limit.
        idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        idle.read_to_end(&mut buf).unwrap();
        assert_eq!(echo_once(addr), b"ping");
        shutdown.trigger();
        let summary = h.join().unwrap();
        assert_eq!(
            summary.closed[CloseReason::IdleTimeout.index()],
            1,
            "{summary}"
        );
    }

    #[test]
    fn the_limit_per_address_leaves_loopback_alone_unless_asked() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        let limits = |scope| Limits {
            max_per_peer: Some(2),
            scope,
            ..Limits::default()
        };
        let mut slots = PeerSlots::new(&limits(LimitScope::ExceptLoopback));
        for _ in 0..100 {
            assert_eq!(slots.claim(local), Ok(()));
            assert_eq!(slots.claim(mapped), Ok(()));
        }
        assert_eq!(slots.claim(remote), Ok(()));
        assert_eq!(slots.claim(remote), Ok(()));
        assert_eq!(slots.claim(remote), Err(2));
        slots.release(remote);
        assert_eq!(slots.claim(remote), Ok(()));

        let mut slots = PeerSlots::new(&limits(LimitScope::Everyone));
        assert_eq!(slots.claim(local), Ok(()));
        assert_eq!(slots.claim(local), Ok(()));
        assert_eq!(slots.claim(local), Err(2));
        assert_eq!(slots.claim("::1".parse().unwrap()), Ok(()));
        assert_eq!(
            limits(LimitScope::ExceptLoopback).to_string(),
            "max 1024 connections (2 per address, loopback exempt), idle timeout 300 s, message timeout 30 s"
        );
        assert!(limits(LimitScope::Everyone)
            .to_string()
            .contains("(2 per address, loopback included)"));
    }

    #[test]
    fn shutdown_returns_a_summary_on_any_interface() {
        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let shutdown = Shutdown::new(&listener).unwrap();
        let s = shutdown.clone();
        let h = thread::spawn(move || {
            serve(
                listener,
                Limits::default(),
                Arc::new(Echo),
                Log::new(true),
                &s,
            )
        });
        shutdown.trigger();
        let summary = h.join().unwrap();
        assert_eq!(summary.accepted, 0);
        assert!(summary
            .to_string()
            .starts_with("summary: 0 connections accepted"));
    }
}
