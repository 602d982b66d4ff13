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

use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::admission::{admit, log_accepted, PeerSlots};
use super::close::{log_closed, Closed};
use super::limits::Limits;
use super::shutdown::{Shutdown, SHUTDOWN_GRACE};
use super::stats::{Stats, Summary};
use super::survival::{AfterError, Survival};
use crate::output::{Log, Tag};

/// Stack size of a connection thread. Our handlers keep their buffers on the heap, so a
/// small stack is plenty; it only reserves address space, the kernel maps pages on use.
pub const CONNECTION_STACK_SIZE: usize = 128 * 1024;
/// How long a busy client's refusal message may take to write before we give up on it.
const REFUSE_WRITE_TIMEOUT: Duration = Duration::from_millis(100);
/// How often the shutdown checks whether they have.
const SHUTDOWN_POLL: Duration = Duration::from_millis(5);

/// A connection the loop accepted, handed to the [`Handler`] on its own thread.
#[derive(Debug)]
pub struct Accepted {
    pub stream: TcpStream,
    pub tag: Tag,
}

/// A server's protocol, plugged into the accept loop.
pub trait Handler: Send + Sync + 'static {
    /// Serves one connection to its end, on the connection's own thread.
    fn handle(&self, conn: Accepted, limits: &Limits) -> Closed;
    /// The bytes sent to a client refused because the server is full (already framed).
    fn busy_message(&self) -> Vec<u8>;
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

/// Tells a client we cannot serve it, without letting it hold up the accept loop.
fn refuse(stream: TcpStream, message: &[u8]) {
    let _ = stream.set_write_timeout(Some(REFUSE_WRITE_TIMEOUT));
    let _ = (&stream).write_all(message);
    // FIN after the message: the client reads it, then end of stream.
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::LimitScope;
    use crate::server::CloseReason;
    use std::io::Read;

    /// Replies with the bytes it reads until the client closes.
    struct EchoHandler;

    impl Handler for EchoHandler {
        fn handle(&self, conn: Accepted, _: &Limits) -> Closed {
            let mut stream = conn.stream;
            let mut buf = [0u8; 64];
            let mut total = 0;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => return Closed::new(CloseReason::EndOfStream, total, total),
                    Ok(n) => {
                        total += n as u64;
                        if stream.write_all(&buf[..n]).is_err() {
                            return Closed::new(CloseReason::Reset, total, total);
                        }
                    }
                    // A timeout is EAGAIN on Unix, WSAETIMEDOUT on Windows: from_io knows both.
                    Err(e) => return Closed::new(CloseReason::from_io(&e), total, total),
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
        let h = thread::spawn(move || {
            serve(listener, limits, Arc::new(EchoHandler), Log::new(true), &s)
        });
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
    fn shutdown_returns_a_summary_on_any_interface() {
        let listener = TcpListener::bind("0.0.0.0:0").unwrap();
        let shutdown = Shutdown::new(&listener).unwrap();
        let s = shutdown.clone();
        let h = thread::spawn(move || {
            serve(
                listener,
                Limits::default(),
                Arc::new(EchoHandler),
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
