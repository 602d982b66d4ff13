//! The limits every TCP server of the workspace applies: connections at once, connections
//! per address, the idle timeout and the message timeout, with the defaults a student's
//! laptop needs and the line the servers print at start-up.

use std::fmt;
use std::time::Duration;

use crate::addr::LimitScope;

/// The default connection limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The default limit on connections from one IP address: one laptop (one student, or one
/// attacker) can hold at most 64 of the 1,024 slots, so even ten misbehaving ones leave a
/// class of 30 room; and 64 is enough for the grader's 50 clients at once.
pub const DEFAULT_MAX_PER_PEER: usize = 64;
/// The default idle timeout: a client silent for this long is disconnected.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

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
