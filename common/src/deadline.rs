//! # A deadline for each message: the clock against slowloris
//!
//! The idle timeout (`SO_RCVTIMEO`) closes a client that sends *nothing* for a while. It
//! restarts with every byte, so it cannot catch a client that sends *one byte every few
//! seconds and never finishes its message*: the "slowloris" attack, which holds a
//! connection (and in a thread-per-connection server, a thread) for as long as it likes.
//! Fifty such clients cost the attacker nothing and hold fifty of our slots.
//!
//! The fix is a second clock: once the first byte of a message has arrived, the whole
//! message must be there within `--message-timeout` seconds. [`MessageClock`] is that
//! clock, and nothing else: it reads no clock of its own and touches no socket. The time
//! comes in as an argument (`now`), so a test can say "31 seconds later" without waiting,
//! and each driver turns the answer into what it waits with: a blocking reader into the
//! socket's read timeout ([`SocketTimeouts`](crate::conn::SocketTimeouts) sets it only
//! when it changes), an event loop into an entry of its timer heap.
//!
//! It is one defence of several: the connection limits, the idle timeout and the size
//! limits are the others (see the book's attacks page).

use std::time::{Duration, Instant};

/// The default time a message may take from its first byte to its last.
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The clock of the message being read: when it must be complete, and how long a read may
/// wait for the rest of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageClock {
    /// `--message-timeout`; `None`: messages may take as long as they like.
    limit: Option<Duration>,
    /// When the first byte of the current message arrived.
    started: Option<Instant>,
}

impl MessageClock {
    /// A clock for messages of at most `limit` from their first byte to their last.
    pub fn new(limit: Option<Duration>) -> MessageClock {
        MessageClock {
            limit,
            started: None,
        }
    }

    /// The limit, for messages.
    pub fn limit(&self) -> Option<Duration> {
        self.limit
    }

    /// Part of a message is here, `now`: its clock runs from the first call on (later
    /// calls for the same message change nothing).
    pub fn begin(&mut self, now: Instant) {
        if self.limit.is_some() && self.started.is_none() {
            self.started = Some(now);
        }
    }

    /// The message is complete: the next one has its own clock.
    pub fn end(&mut self) {
        self.started = None;
    }

    /// When the message being read must be complete; `None` between messages, or
    /// without a limit.
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.started? + self.limit?)
    }

    /// How long a blocking read may wait, `now`, on a connection whose idle timeout is
    /// `idle`: the idle timeout, or what is left of the message's time if that is shorter.
    /// `Some(ZERO)`: no time is left. `None`: wait for ever.
    // ANCHOR: read_timeout
    pub fn read_timeout(&self, idle: Option<Duration>, now: Instant) -> Option<Duration> {
        let left = self.deadline().map(|d| d.saturating_duration_since(now));
        match (idle, left) {
            (Some(idle), Some(left)) => Some(idle.min(left)),
            (idle, left) => idle.or(left),
        }
    }
    // ANCHOR_END: read_timeout

    /// Whether the current message has run out of time, `now` (a read that timed out was
    /// the message's deadline, not the idle timeout).
    pub fn expired(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Option<Duration> = Some(Duration::from_secs(5));
    const LIMIT: Duration = Duration::from_millis(300);
    const STEP: Duration = Duration::from_millis(100);

    #[test]
    fn a_trickle_runs_out_of_time_though_no_read_waits_long() {
        let mut clock = MessageClock::new(Some(LIMIT));
        assert_eq!(clock.limit(), Some(LIMIT));
        assert_eq!(MessageClock::new(None).limit(), None);
        let t0 = Instant::now();
        // One byte every 100 ms: never idle for long, never a whole message.
        let mut now = t0;
        let mut reads = 0;
        while clock.read_timeout(IDLE, now) != Some(Duration::ZERO) {
            clock.begin(now);
            assert!(clock.read_timeout(IDLE, now) <= Some(LIMIT));
            now += STEP;
            reads += 1;
            assert!(reads < 10, "never expired");
        }
        assert_eq!(now - t0, LIMIT);
        assert_eq!(clock.deadline(), Some(t0 + LIMIT));
        assert!(clock.expired(now));
        assert!(!clock.expired(now - Duration::from_nanos(1)));
        clock.end();
        assert!(!clock.expired(now));
        assert_eq!(clock.read_timeout(IDLE, now), IDLE);
    }

    #[test]
    fn a_read_waits_no_longer_than_the_message_has_left() {
        let idle = Some(Duration::from_secs(60));
        let limit = Duration::from_millis(200);
        let mut clock = MessageClock::new(Some(limit));
        let t0 = Instant::now();
        clock.begin(t0);
        assert_eq!(clock.read_timeout(idle, t0), Some(limit));
        assert_eq!(clock.read_timeout(idle, t0 + STEP), Some(limit - STEP));
        // A second byte does not restart the clock.
        clock.begin(t0 + STEP);
        assert_eq!(clock.deadline(), Some(t0 + limit));
        // No idle timeout: the message's time alone.
        assert_eq!(clock.read_timeout(None, t0), Some(limit));
        // Past the deadline: nothing left, and expired.
        assert_eq!(
            clock.read_timeout(idle, t0 + 2 * limit),
            Some(Duration::ZERO)
        );
        assert!(clock.expired(t0 + limit));
        // An idle timeout shorter than what is left wins.
        let short = Some(Duration::from_millis(50));
        assert_eq!(clock.read_timeout(short, t0), short);
    }

    #[test]
    fn without_a_limit_nothing_changes() {
        let mut clock = MessageClock::new(None);
        let t0 = Instant::now();
        clock.begin(t0);
        assert_eq!(clock.deadline(), None);
        assert!(!clock.expired(t0 + Duration::from_secs(3600)));
        assert_eq!(clock.read_timeout(IDLE, t0), IDLE);
        assert_eq!(clock.read_timeout(None, t0), None);
        assert_eq!(clock.limit(), None);
    }
}
