//! A server's counters, shared by its threads, and the [`Summary`] it prints when it stops.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::close::{CloseReason, Closed};
use crate::output::human_bytes;

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

    /// A client refused with the busy message: the server was full, or its descriptors ran
    /// out.
    pub fn refused_busy(&self) {
        self.refused_busy.fetch_add(1, Ordering::Relaxed);
    }

    /// A client refused because its address already had `--max-per-peer` connections.
    pub fn refused_per_peer(&self) {
        self.refused_per_peer.fetch_add(1, Ordering::Relaxed);
    }

    /// An `accept()` that failed.
    pub fn accept_error(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
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

/// `1 connection`, `2 connections`.
fn plural(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
