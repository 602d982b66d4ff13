//! # What the hello service is: its messages, its two models, and its settings
//!
//! Plain data, used by every other file of the crate and depending on none of them.

use common::capacity::PerConnection;
use common::frame::{self, Framing};

/// The first message every client gets.
pub const DEFAULT_GREETING: &str = "Hello!";
/// What every reply starts with.
pub const DEFAULT_REPLY_PREFIX: &str = "hello,";
/// The message that asks the server to close the connection.
pub const EXIT_MESSAGE: &[u8] = b"exit";
/// The message a client gets when the server is full.
pub const BUSY_MESSAGE: &[u8] = b"error: server busy";

/// How the server waits for its clients: the two designs of the lesson "One thread, many
/// clients".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Model {
    /// A thread per client, blocking reads: the tutorial's design, with limits.
    #[default]
    Thread,
    /// One thread for every client: non-blocking sockets and readiness events
    /// (epoll, kqueue, Windows' completion ports).
    Poll,
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Model::Thread => "thread",
            Model::Poll => "poll",
        })
    }
}

impl Model {
    /// What each client costs the process, for the start-up check of the limits.
    pub(crate) fn per_connection(self) -> PerConnection {
        match self {
            Model::Thread => PerConnection::FileAndThread,
            Model::Poll => PerConnection::File,
        }
    }
}

/// How the service behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Threads or an event loop.
    pub model: Model,
    pub framing: Framing,
    /// Largest message accepted, in bytes.
    pub max_frame: usize,
    pub greeting: Vec<u8>,
    pub reply_prefix: Vec<u8>,
    /// Dump every read and write.
    pub trace: bool,
    /// No line per connection or message.
    pub quiet: bool,
    /// Add the kernel's numbers for the connection (RTT, cwnd, retransmissions) to each
    /// close line.
    pub tcp_info: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            model: Model::Thread,
            framing: Framing::Line,
            max_frame: frame::DEFAULT_MAX_FRAME,
            greeting: DEFAULT_GREETING.into(),
            reply_prefix: DEFAULT_REPLY_PREFIX.into(),
            trace: false,
            quiet: false,
            tcp_info: false,
        }
    }
}
