//! # A deadline for each message: the defense against slowloris
//!
//! The idle timeout (`SO_RCVTIMEO`) closes a client that sends *nothing* for a while. It
//! restarts with every byte, so it cannot catch a client that sends *one byte every few
//! seconds and never finishes its message*: the "slowloris" attack, which holds a
//! connection (and in a thread-per-connection server, a thread) for as long as it likes.
//! Fifty such clients cost the attacker nothing and hold fifty of our slots.
//!
//! The fix is a second clock: once the first byte of a message has arrived, the whole
//! message must be there within `--message-timeout` seconds. [`MessageDeadline`] keeps that
//! clock for a blocking reader: before each read it shortens the socket's read timeout to
//! what is left of the message's time (never longer than the idle timeout), and when the
//! message is complete it puts the idle timeout back. The two system calls happen only
//! while a message is incomplete, so a client whose messages arrive whole (nearly all of
//! them) costs nothing extra.

use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The default time a message may take from its first byte to its last.
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The clock of the message being read, on top of the connection's idle timeout.
#[derive(Debug, Clone, Copy)]
pub struct MessageDeadline {
    /// `--message-timeout`; `None`: messages may take as long as they like.
    limit: Option<Duration>,
    /// The idle timeout the socket has between messages (`SO_RCVTIMEO`).
    idle: Option<Duration>,
    /// When the first byte of the current message arrived.
    started: Option<Instant>,
    /// Whether the socket's read timeout is shortened now (and must be put back).
    shortened: bool,
}

impl MessageDeadline {
    /// A clock for messages of at most `limit` on a socket whose idle timeout is `idle`.
    pub fn new(limit: Option<Duration>, idle: Option<Duration>) -> MessageDeadline {
        MessageDeadline {
            limit,
            idle,
            started: None,
            shortened: false,
        }
    }

    /// The limit, for messages.
    pub fn limit(&self) -> Option<Duration> {
        self.limit
    }

    /// Part of a message is here: its clock runs from the first call on.
    pub fn begun(&mut self) {
        if self.limit.is_some() && self.started.is_none() {
            self.started = Some(Instant::now());
        }
    }

    /// Before a blocking read of the rest of a message: the read may wait only as long as
    /// the message has left. Fails with [`io::ErrorKind::TimedOut`] when nothing is left.
    // ANCHOR: before_read
    pub fn before_read(&mut self, stream: &TcpStream) -> io::Result<()> {
        let (Some(limit), Some(started)) = (self.limit, self.started) else {
            return Ok(());
        };
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let wait = self.idle.map_or(left, |idle| idle.min(left));
        stream.set_read_timeout(Some(wait))?;
        self.shortened = true;
        Ok(())
    }
    // ANCHOR_END: before_read

    /// Whether the current message has run out of time (a read that timed out was the
    /// message's deadline, not the idle timeout).
    pub fn expired(&self) -> bool {
        match (self.limit, self.started) {
            (Some(limit), Some(started)) => started.elapsed() >= limit,
            _ => false,
        }
    }

    /// The message is complete: the next one has its own clock, and the socket gets its
    /// idle timeout back.
    pub fn complete(&mut self, stream: &TcpStream) -> io::Result<()> {
        self.started = None;
        if self.shortened {
            self.shortened = false;
            stream.set_read_timeout(self.idle)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_trickle_runs_out_of_time_though_no_read_waits_long() {
        let (mut client, server) = crate::testing::tcp_pair();
        let idle = Some(Duration::from_secs(5));
        server.set_read_timeout(idle).unwrap();
        let mut clock = MessageDeadline::new(Some(Duration::from_millis(300)), idle);
        let started = Instant::now();
        loop {
            // One byte every 100 ms: never idle for long, never a whole message.
            client.write_all(b"x").unwrap();
            match clock.before_read(&server) {
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
                    break;
                }
                Ok(()) => {
                    (&server).read_exact(&mut [0u8; 1]).unwrap();
                    clock.begun();
                }
            }
            std::thread::sleep(Duration::from_millis(100));
            assert!(started.elapsed() < Duration::from_secs(3), "never expired");
        }
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(clock.expired());
        clock.complete(&server).unwrap();
        assert!(!clock.expired());
        assert_eq!(server.read_timeout().unwrap(), idle);
    }

    #[test]
    fn a_read_waits_no_longer_than_the_message_has_left() {
        let (_client, server) = crate::testing::tcp_pair();
        server
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut clock = MessageDeadline::new(
            Some(Duration::from_millis(200)),
            Some(Duration::from_secs(60)),
        );
        clock.begun();
        clock.before_read(&server).unwrap();
        let waited = Instant::now();
        let err = (&server).read(&mut [0u8; 4]).unwrap_err();
        assert!(crate::net::is_timeout(&err), "{err}");
        assert!(waited.elapsed() < Duration::from_secs(5));
        assert!(clock.expired() || waited.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn without_a_limit_nothing_changes() {
        let (_client, server) = crate::testing::tcp_pair();
        server
            .set_read_timeout(Some(Duration::from_secs(7)))
            .unwrap();
        let mut clock = MessageDeadline::new(None, Some(Duration::from_secs(7)));
        clock.begun();
        clock.before_read(&server).unwrap();
        assert!(!clock.expired());
        assert_eq!(server.read_timeout().unwrap(), Some(Duration::from_secs(7)));
    }
}
