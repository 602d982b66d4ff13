//! # The event loop's timer heap: one sleep until the earliest deadline
//!
//! The loop never scans every client on a tick. Each client has at most one valid entry,
//! `(deadline, token, connection id)`, and the loop sleeps until the earliest. Activity
//! only moves a deadline later, so an entry is simply checked when it comes due and put
//! back with the new time. A deadline that moves *earlier* (a message begins) gets a new
//! entry; the old one is then stale, and the loop skips it when it comes due, because its
//! time or its connection id no longer match the client's.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// One entry: when, which place in the table, which connection held it then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Timer {
    pub at: Instant,
    pub index: usize,
    pub id: u64,
}

/// The entries, the earliest on top.
#[derive(Debug, Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    pub fn push(&mut self, timer: Timer) {
        self.heap.push(Reverse(timer));
    }

    /// When the earliest entry is due, if there is one.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(t)| t.at)
    }

    /// Takes the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse(t)) if t.at <= now => self.heap.pop().map(|Reverse(t)| t),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the entries `valid` says are still wanted (to drop stale ones).
    pub fn retain(&mut self, mut valid: impl FnMut(&Timer) -> bool) {
        self.heap.retain(|Reverse(t)| valid(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_come_due_earliest_first_and_not_before_their_time() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut timers = Timers::default();
        for (ms, index) in [(30, 3), (10, 1), (20, 2)] {
            timers.push(Timer {
                at: at(ms),
                index,
                id: index as u64,
            });
        }
        assert_eq!(timers.len(), 3);
        assert_eq!(timers.next(), Some(at(10)));
        assert_eq!(timers.pop_due(at(5)), None);
        let due: Vec<usize> = std::iter::from_fn(|| timers.pop_due(at(20)))
            .map(|t| t.index)
            .collect();
        assert_eq!(due, [1, 2]);
        assert_eq!(timers.len(), 1);
        timers.retain(|t| t.index != 3);
        assert_eq!(timers.next(), None);
    }
}
