//! # The delay queue: replies that leave later, without holding up the others
//!
//! `--delay` must not turn into a pause of the whole server: the receiving thread puts a
//! delayed reply in a heap ordered by due time, and one thread sends each when it is due.

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::output::Tag;

use crate::sender::Sender;

/// How long the delay thread sleeps with nothing to send (a push or a stop wakes it first).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

/// A reply waiting for its time.
#[derive(Debug, PartialEq, Eq)]
pub struct Delayed {
    pub due: Instant,
    /// Tie-breaker: equal due times leave in arrival order.
    pub seq: u64,
    pub reply: Vec<u8>,
    pub copies: u32,
    pub tag: Tag,
}

impl Ord for Delayed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: reverse, so the earliest reply is on top.
        (other.due, other.seq).cmp(&(self.due, self.seq))
    }
}

impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One thread that sends delayed replies when they are due, so a long delay never holds up
/// the replies behind it.
pub struct DelayQueue {
    queue: Mutex<BinaryHeap<Delayed>>,
    ready: Condvar,
    stop: AtomicBool,
}

impl DelayQueue {
    pub fn start(
        sender: Arc<Sender>,
    ) -> std::io::Result<(Arc<DelayQueue>, thread::JoinHandle<()>)> {
        let q = Arc::new(DelayQueue {
            queue: Mutex::new(BinaryHeap::new()),
            ready: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let worker = Arc::clone(&q);
        let handle = thread::Builder::new()
            .name("delayed-replies".into())
            .spawn(move || worker.run(&sender))?;
        Ok((q, handle))
    }

    pub fn push(&self, item: Delayed) {
        if let Ok(mut q) = self.queue.lock() {
            q.push(item);
            self.ready.notify_one();
        }
    }

    fn run(&self, sender: &Sender) {
        let Ok(mut q) = self.queue.lock() else { return };
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            let wait = match q.peek() {
                Some(top) if top.due <= now => None,
                Some(top) => Some(top.due - now),
                None => Some(IDLE_WAIT),
            };
            match wait {
                None => {
                    if let Some(item) = q.pop() {
                        // Send without holding the lock: the receiving thread may push.
                        drop(q);
                        sender.send(&item.reply, item.copies, &item.tag);
                        q = match self.queue.lock() {
                            Ok(q) => q,
                            Err(_) => return,
                        };
                    }
                }
                Some(d) => {
                    q = match self.ready.wait_timeout(q, d) {
                        Ok((q, _)) => q,
                        Err(_) => return,
                    };
                }
            }
        }
    }

    pub fn stop(&self) {
        // Under the lock: the worker checks the flag and starts waiting while holding it,
        // so the wake-up cannot fall between the two and be lost.
        let _queue = self.queue.lock();
        self.stop.store(true, Ordering::SeqCst);
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(due: Instant, seq: u64) -> Delayed {
        Delayed {
            due,
            seq,
            reply: Vec::new(),
            copies: 1,
            tag: Tag {
                id: seq,
                peer: ([127, 0, 0, 1], 9).into(),
            },
        }
    }

    #[test]
    fn the_earliest_reply_leaves_first_and_equal_times_in_arrival_order() {
        let t = Instant::now();
        let mut heap = BinaryHeap::new();
        for (ms, seq) in [(30, 1), (10, 2), (20, 3), (10, 4)] {
            heap.push(item(t + Duration::from_millis(ms), seq));
        }
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|d| d.seq)).collect();
        assert_eq!(order, [2, 4, 3, 1]);
    }
}
