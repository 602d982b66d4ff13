//! # `--model poll`: one thread, ten thousand clients, readiness events
//!
//! The tutorial says a server needs a new thread or process for every connection, "否则,
//! 服务器一次就只能服务一个客户端了" (or else it can serve only one client at a time). Not
//! so: this server serves every client from one thread. It never blocks on one client. It
//! asks the kernel *which* sockets are ready ("readiness events": `epoll` on Linux,
//! `kqueue` on macOS, Windows' completion ports underneath, all through the `mio` crate),
//! and does for each only what can be done at once, on a **non-blocking** socket: a
//! `read()` that would have to wait returns `WouldBlock` instead, and the loop goes on to
//! the next ready socket. nginx, Redis and Node are built this way.
//!
//! The conversation is the same [`Session`](crate::session::Session) state machine the
//! thread model drives; what differs is who waits. A thread blocked in `read()` keeps its
//! place in the conversation on its stack. Here nobody waits, so each client's place is a
//! small `ConnState` (in `conn.rs`) in a table (the session, counters, and buffers only
//! while a message or a reply is half-done), and the loop keeps, for all clients together:
//!
//! - **one read buffer**, shared: a read lands there, the session answers the messages in
//!   it, and only the bytes of an unfinished message are copied into the client's own
//!   buffer. An idle client holds no buffer at all.
//! - **one output buffer**: replies are framed there and written straight from it; only
//!   what the kernel did not take waits in the client's own buffer.
//! - **a timer heap** for `--idle-timeout` and `--message-timeout`: the loop sleeps until
//!   the earliest deadline, never scanning every client on a tick (`timers.rs` says how
//!   an entry that has moved is told from a due one).
//! - **back-pressure**: a client that sends requests and never reads the replies would make
//!   its replies pile up here. Once more than [`OUTPUT_HIGH_WATER`] bytes wait, the loop
//!   stops reading from it (the kernel's buffers fill, and the client's writes block
//!   there), and reads again once it has taken its replies down to [`OUTPUT_LOW_WATER`].
//!
//! The limits are the thread model's, from the same code in [`common::server`]: the
//! admission rule (`--max-connections`, `--max-per-peer`, the busy reply), the survival of
//! `EMFILE` (the spare descriptor; a pause is a timer here, since sleeping would stop
//! every client), the log lines and the summary.
//!
//! The price: a handler must never block or compute for long, because while it runs no
//! other client is served. One loop also uses one core; `SO_REUSEPORT` lets several
//! loops share a port.
//!
//! The files: this one is the loop (accept, turns, back-pressure, timers, close);
//! `conn.rs` is one connection's state and the bytes it moves; `timers.rs` the heap.

mod conn;
mod timers;

use std::io::{self, Read};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use common::frame;
use common::output::{self, Log, Tag};
use common::server::{
    self, AfterError, CloseReason, Closed, PeerSlots, Shutdown, Stats, Summary, Survival,
};

use crate::session::Rules;

use conn::{last_words, refuse, Alive, Arrived, ConnState};
use timers::{Timer, Timers};

/// The listener's token; clients' tokens are their places in the table.
const LISTENER: Token = Token(usize::MAX);
/// Readiness events taken from the kernel per `poll()`.
const EVENTS_PER_POLL: usize = 1024;
/// The shared read buffer: the most one `read()` takes.
const READ_BUFFER: usize = common::conn::READ_CHUNK_MAX;
/// Reads one client may make per turn; then the others get theirs, and it comes back.
const READS_PER_TURN: usize = 16;
/// Connections accepted per turn, for the same reason.
const ACCEPTS_PER_TURN: usize = 256;
/// Replies waiting for one client past which the loop stops reading from it.
pub const OUTPUT_HIGH_WATER: usize = 256 * 1024;
/// Replies waiting below which the loop reads from that client again.
pub const OUTPUT_LOW_WATER: usize = 64 * 1024;

/// The event loop and everything it shares between clients.
pub struct EventLoop {
    rules: Rules,
    poll: Poll,
    listener: TcpListener,
    /// Clients by token; `None` marks a free place (listed in `free`).
    clients: Vec<Option<ConnState>>,
    free: Vec<usize>,
    live: usize,
    /// Every client's next deadline, the earliest first.
    timers: Timers,
    read_buf: Vec<u8>,
    out_buf: Vec<u8>,
    /// Clients (and the listener) that had more to do than one turn allows.
    again: Vec<Token>,
    stats: Stats,
    peers: PeerSlots,
    survival: Survival,
    /// While accept() is paused after a failure (EMFILE without a spare).
    accept_paused_until: Option<Instant>,
    busy: Vec<u8>,
    log: Log,
    next_id: u64,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("live", &self.live)
            .finish()
    }
}

impl EventLoop {
    /// The loop for `listener` (already bound and listening): makes it non-blocking and
    /// registers it for readiness events.
    pub fn new(listener: std::net::TcpListener, rules: Rules) -> io::Result<EventLoop> {
        // Non-blocking: accept() returns WouldBlock when nobody waits, instead of waiting.
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        // epoll_create / kqueue: the kernel object that collects readiness events.
        let poll = Poll::new()?;
        // epoll_ctl(ADD) / kevent: tell us when a connection is waiting to be accepted.
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let log = Log::new(rules.config.quiet);
        Ok(EventLoop {
            peers: PeerSlots::new(&rules.limits),
            busy: rules.busy_message(),
            rules,
            poll,
            listener,
            clients: Vec::new(),
            free: Vec::new(),
            live: 0,
            timers: Timers::default(),
            read_buf: vec![0; READ_BUFFER],
            out_buf: Vec::new(),
            again: Vec::new(),
            stats: Stats::default(),
            survival: Survival::new(),
            accept_paused_until: None,
            log,
            next_id: 0,
        })
    }

    // ANCHOR: run
    /// Serves until `shutdown` is triggered; returns what happened.
    pub fn run(mut self, shutdown: &Shutdown) -> Summary {
        let started = Instant::now();
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        // After Ctrl-C: until when clients still open may finish.
        let mut stopping: Option<Instant> = None;
        loop {
            // epoll_wait / kevent: sleep until a socket is ready or the next timer is due.
            let timeout = self.poll_timeout(stopping);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.log
                    .warn(format_args!("the event loop failed: {e}; stopping"));
                break;
            }
            if stopping.is_none() && shutdown.is_triggered() {
                self.stop_accepting();
                stopping = Some(Instant::now() + server::SHUTDOWN_GRACE);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER if stopping.is_none() => self.accept_all(),
                    LISTENER => {}
                    Token(index) => {
                        // An error or a hang-up is read too: the read says which.
                        let readable =
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        self.turn(index, readable, event.is_read_closed());
                    }
                }
            }
            // Those that had more to read than one turn allows, after everyone else.
            for token in std::mem::take(&mut self.again) {
                match token {
                    LISTENER if stopping.is_none() => self.accept_all(),
                    LISTENER => {}
                    Token(index) => self.turn(index, true, false),
                }
            }
            let now = Instant::now();
            self.fire_timers(now);
            if self.accept_paused_until.is_some_and(|t| now >= t) && stopping.is_none() {
                self.accept_paused_until = None;
                self.accept_all();
            }
            if stopping.is_some_and(|t| self.live == 0 || now >= t) {
                break;
            }
        }
        self.stats.summary(started.elapsed())
    }
    // ANCHOR_END: run

    /// How long `poll()` may sleep: until the earliest timer, the end of an accept pause or
    /// of the shutdown grace; not at all if some client is waiting for its next turn.
    fn poll_timeout(&self, stopping: Option<Instant>) -> Option<Duration> {
        if !self.again.is_empty() {
            return Some(Duration::ZERO);
        }
        let timer = self.timers.next();
        let wake = [timer, self.accept_paused_until, stopping]
            .into_iter()
            .flatten()
            .min()?;
        Some(wake.saturating_duration_since(Instant::now()))
    }

    /// Ctrl-C: no new clients. The connections waiting (the wake-up connection of
    /// [`Shutdown::trigger`] among them) are aborted, so no TIME_WAIT is left on our port.
    fn stop_accepting(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let _ = common::net::abort_on_close(&stream);
                }
                Err(_) => break,
            }
        }
        let _ = self.poll.registry().deregister(&mut self.listener);
    }

    // ANCHOR: accept_all
    /// The listener is ready: accept every client waiting (up to a turn's worth).
    fn accept_all(&mut self) {
        if self.accept_paused_until.is_some() {
            return;
        }
        for _ in 0..ACCEPTS_PER_TURN {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    self.survival.accepted(&self.log);
                    self.admit(stream, peer);
                }
                // Nobody else waits: the next connection raises a new event.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    let (listener, busy) = (&self.listener, &self.busy);
                    let refuse_one = || match listener.accept() {
                        Ok((stream, _)) => {
                            refuse(&stream, busy);
                            true
                        }
                        Err(_) => false,
                    };
                    match self.survival.failed(&e, &self.stats, &self.log, refuse_one) {
                        AfterError::Retry => {}
                        // Sleeping would stop every client: a timer resumes accepting.
                        AfterError::Pause(pause) => {
                            self.accept_paused_until = Some(Instant::now() + pause);
                            return;
                        }
                    }
                }
            }
        }
        self.again.push(LISTENER);
    }
    // ANCHOR_END: accept_all

    /// A new client: the limits, then its place in the table, its registration, the greeting.
    fn admit(&mut self, mut stream: TcpStream, peer: std::net::SocketAddr) {
        self.next_id += 1;
        let tag = Tag {
            id: self.next_id,
            peer,
        };
        let limits = self.rules.limits;
        let Ok(now_active) = server::admit(&tag, &limits, &self.stats, &mut self.peers, &self.log)
        else {
            refuse(&stream, &self.busy);
            return;
        };
        // Each of our writes is a whole reply: send it now (no Nagle delay).
        let _ = stream.set_nodelay(true);
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.clients.push(None);
                self.clients.len() - 1
            }
        };
        // Readable (bytes or a hang-up arrived) and writable (room again in the send buffer).
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(index), interest)
        {
            self.log.warn(format_args!(
                "{tag}: could not register for events ({e}); refused this client"
            ));
            self.free.push(index);
            self.release(&tag);
            refuse(&stream, &self.busy);
            return;
        }
        server::log_accepted(&self.log, &tag, stream.local_addr().ok(), now_active);
        let now = Instant::now();
        let mut client = ConnState {
            stream,
            session: self.rules.session(),
            tag,
            started: now,
            last_active: now,
            bytes_in: 0,
            bytes_out: 0,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            reading: true,
            closing: None,
            timer_at: None,
        };
        self.live += 1;
        let greeted = frame::encode(
            self.rules.framing(),
            self.rules.greeting(),
            &mut self.out_buf,
        )
        .map_err(|e| CloseReason::ProtocolError(e.to_string()))
        .and_then(|()| self.send(&mut client, now));
        self.put_back(index, client, greeted);
    }

    /// One client's turn: write what waits, read what came, answer it.
    fn turn(&mut self, index: usize, readable: bool, hung_up: bool) {
        let Some(mut client) = self.clients.get_mut(index).and_then(Option::take) else {
            return; // closed earlier in this round
        };
        let outcome = self.drive(index, &mut client, readable, hung_up);
        self.put_back(index, client, outcome);
    }

    /// Back into its place (with its timer), or closed.
    fn put_back(&mut self, index: usize, mut client: ConnState, outcome: Alive) {
        match outcome {
            Ok(()) => {
                self.arm(index, &mut client);
                self.clients[index] = Some(client);
            }
            Err(reason) => self.close(index, client, reason),
        }
    }

    // ANCHOR: drive
    fn drive(&mut self, index: usize, c: &mut ConnState, readable: bool, hung_up: bool) -> Alive {
        let now = Instant::now();
        // Replies waiting: write what the kernel takes now.
        self.send(c, now)?;
        if let Some(reason) = &c.closing {
            return if c.pending() == 0 {
                Err(reason.clone())
            } else {
                Ok(())
            };
        }
        let mut readable = readable;
        if !c.reading && c.pending() <= OUTPUT_LOW_WATER {
            // The client has read its replies: read its requests again. Bytes that came
            // while we did not read raise no new event, so read now.
            self.resume_reading(index, c)?;
            readable = true;
        }
        if !readable || !c.reading {
            return Ok(());
        }
        // A raw "message" is one read: reads are capped at the message limit.
        let want = match self.rules.framing() {
            frame::Framing::Raw => self.rules.config.max_frame.clamp(1, READ_BUFFER),
            _ => READ_BUFFER,
        };
        for turn in 1..=READS_PER_TURN {
            let n = match c.stream.read(&mut self.read_buf[..want]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CloseReason::from_io(&e)),
            };
            if n == 0 {
                return c.answer(&self.rules, Arrived::EndOfStream, now, &mut self.out_buf);
            }
            c.bytes_in += n as u64;
            c.last_active = now;
            if self.rules.config.trace {
                output::trace(&c.tag, "read", &self.read_buf[..n]);
            }
            let bytes = Arrived::Read(&self.read_buf[..n]);
            c.answer(&self.rules, bytes, now, &mut self.out_buf)?;
            if c.closing.is_some() {
                return Ok(());
            }
            if c.pending() > OUTPUT_HIGH_WATER {
                return self.pause_reading(index, c);
            }
            // A short read emptied the socket (epoll, kqueue); elsewhere read to WouldBlock.
            if n < want && common::os::SHORT_READ_DRAINS && !hung_up {
                return Ok(());
            }
            if turn == READS_PER_TURN {
                self.again.push(Token(index));
            }
        }
        Ok(())
    }
    // ANCHOR_END: drive

    /// Writes the client's waiting replies and the new ones in the shared output buffer.
    fn send(&mut self, c: &mut ConnState, now: Instant) -> Alive {
        c.send(&mut self.out_buf, self.rules.config.trace, now)
    }

    /// Back-pressure: stop reading from a client whose replies pile up unread.
    #[cold]
    fn pause_reading(&mut self, index: usize, c: &mut ConnState) -> Alive {
        c.reading = false;
        self.log.event(
            &c.tag,
            format_args!(
                "back-pressure: {} bytes of replies not read by the client; not reading from it \
                 until they are down to {OUTPUT_LOW_WATER}",
                c.pending()
            ),
        );
        self.reregister(index, c, Interest::WRITABLE)
    }

    #[cold]
    fn resume_reading(&mut self, index: usize, c: &mut ConnState) -> Alive {
        c.reading = true;
        self.log
            .event(&c.tag, format_args!("back-pressure over: reading again"));
        self.reregister(index, c, Interest::READABLE | Interest::WRITABLE)
    }

    fn reregister(&mut self, index: usize, c: &mut ConnState, interest: Interest) -> Alive {
        self.poll
            .registry()
            .reregister(&mut c.stream, Token(index), interest)
            .map_err(|e| CloseReason::Error(format!("could not change its events: {e}")))
    }

    /// When the client must next be looked at: its idle deadline, or its message's, if
    /// sooner.
    fn deadline(&self, c: &ConnState) -> Option<Instant> {
        let idle = self.rules.limits.idle_timeout.map(|d| c.last_active + d);
        let message = c.session.deadline();
        [idle, message].into_iter().flatten().min()
    }

    /// Makes sure the client's timer entry is no later than its deadline.
    fn arm(&mut self, index: usize, c: &mut ConnState) {
        if let Some(at) = self.deadline(c) {
            if c.timer_at.is_none_or(|t| at < t) {
                self.timers.push(Timer {
                    at,
                    index,
                    id: c.tag.id,
                });
                c.timer_at = Some(at);
            }
        }
    }

    // ANCHOR: fire_timers
    /// The timers that are due: a client whose deadline has really passed is told why and
    /// closed; one that was active since gets its entry back with its new deadline.
    fn fire_timers(&mut self, now: Instant) {
        while let Some(Timer { at, index, id }) = self.timers.pop_due(now) {
            let Some(mut c) = self.clients.get_mut(index).and_then(Option::take) else {
                continue;
            };
            if c.tag.id != id || c.timer_at != Some(at) {
                // Stale: the client is another one now, or has an earlier entry.
                self.clients[index] = Some(c);
                continue;
            }
            c.timer_at = None;
            let outcome = match self.deadline(&c) {
                Some(deadline) if deadline <= now => {
                    let ending = c.session.timed_out(&self.rules, now);
                    let reason = last_words(&self.rules, ending, &mut self.out_buf);
                    // Last words, best effort; the reason stands either way.
                    let _ = self.send(&mut c, now);
                    Err(reason)
                }
                _ => Ok(()),
            };
            self.put_back(index, c, outcome);
        }
        // Stale entries are skipped when they come due; if they pile up (many short
        // connections under a long idle timeout), keep only the valid ones.
        if self.timers.len() > 2 * self.live + ACCEPTS_PER_TURN {
            let clients = &self.clients;
            self.timers.retain(|t| {
                clients[t.index]
                    .as_ref()
                    .is_some_and(|c| c.tag.id == t.id && c.timer_at == Some(t.at))
            });
        }
    }
    // ANCHOR_END: fire_timers

    /// The end of a connection: counted, logged, its place and its slots given back.
    fn close(&mut self, index: usize, mut c: ConnState, reason: CloseReason) {
        let _ = self.poll.registry().deregister(&mut c.stream);
        let closed = Closed::new(reason, c.bytes_in, c.bytes_out).with_tcp_info(
            self.rules.config.tcp_info,
            socket2::SockRef::from(&c.stream),
        );
        self.stats.closed(&closed);
        drop(c.stream);
        self.free.push(index);
        self.live -= 1;
        self.release(&c.tag);
        server::log_closed(
            &self.log,
            &c.tag,
            &closed,
            c.started.elapsed(),
            self.stats.active(),
        );
    }

    fn release(&mut self, tag: &Tag) {
        self.stats.released();
        self.peers.release(tag.peer.ip());
    }
}
