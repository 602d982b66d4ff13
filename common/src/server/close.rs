//! How a connection ended: the reason, as logged and counted, the bytes it moved, and the
//! close line every server prints the same way.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::output::{Log, Tag};

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
    /// How many kinds there are: [`Stats`](super::Stats) keeps a counter for each.
    pub(crate) const KINDS: usize = 7;

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

    /// This reason's counter, in the order [`Summary`](super::Summary) says them.
    pub(crate) fn index(&self) -> usize {
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
    /// The kernel's numbers for the connection as it ended (`--tcp-info`), or why they
    /// are not available; `None` when not asked for.
    pub tcp_info: Option<Result<crate::tcpinfo::TcpInfo, String>>,
}

impl Closed {
    /// How it ended, without the kernel's numbers.
    pub fn new(reason: CloseReason, bytes_in: u64, bytes_out: u64) -> Closed {
        Closed {
            reason,
            bytes_in,
            bytes_out,
            tcp_info: None,
        }
    }

    /// Adds the kernel's numbers for `socket` (when `wanted`), read now.
    pub fn with_tcp_info(mut self, wanted: bool, socket: socket2::SockRef<'_>) -> Closed {
        if wanted {
            self.tcp_info = Some(crate::os::tcp_info(socket).map_err(|e| e.to_string()));
        }
        self
    }
}

/// The close line: why, after how long, the bytes, and how many stay active.
pub fn log_closed(log: &Log, tag: &Tag, closed: &Closed, elapsed: Duration, still_active: usize) {
    log.event(
        tag,
        format_args!(
            "closed: {} after {:.3} s, {} bytes in, {} bytes out ({still_active} active){}",
            closed.reason,
            elapsed.as_secs_f64(),
            closed.bytes_in,
            closed.bytes_out,
            match &closed.tcp_info {
                None => String::new(),
                Some(Ok(info)) => format!("; tcp-info: {info}"),
                Some(Err(e)) => format!("; tcp-info: {} ({e})", crate::tcpinfo::NOT_AVAILABLE),
            }
        ),
    );
}
