//! # A rate limit per source: a defense against UDP floods and reflection
//!
//! A UDP server answers whoever writes to it, and the "whoever" is only the source address
//! written in the datagram, which anyone can forge. So a server that answers at full rate
//! is a weapon: an attacker sends small requests with the *victim's* address as the
//! source, and the server floods the victim with replies ("reflection"; when the reply is
//! larger than the request, "amplification"). Ours replies `Hi!` + the datagram, three
//! bytes more: a small amplifier, but a reflector all the same.
//!
//! [`RateLimiter`] gives each source address a *token bucket*: it holds up to `burst`
//! tokens and refills at `rate` per second; a datagram costs one token, and a datagram that
//! finds the bucket empty is dropped (counted, not answered). A normal client never
//! notices; a flood from one address is held to `rate` replies per second.
//!
//! Forged sources can be many, and memory must not grow with them: the table holds at most
//! `capacity` addresses. Buckets that have refilled completely are forgotten (a full
//! bucket is the same as a new one), and when the table is full, every address not in it
//! shares one overflow bucket: a flood of random sources is capped *as a whole*, and the
//! server's memory stays the same.
//!
//! It is pure: time is passed in, so the tests can be exact.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The default rate per source, in datagrams per second.
pub const DEFAULT_RATE: u32 = 1000;
/// How many source addresses the table remembers at most.
pub const DEFAULT_CAPACITY: usize = 4096;
/// How often buckets that refilled are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One source's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// Whether it has been over the rate since it was last full (so a flood is logged once,
    /// not at every token it gets).
    limited: bool,
}

impl Bucket {
    fn new(burst: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: burst,
            last: now,
            limited: false,
        }
    }

    /// Refills for the time since the last datagram, then takes a token if there is one.
    fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if self.tokens >= burst {
            // Full again: the source has calmed down, and a new run of drops is news.
            self.limited = false;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether it would be full by `now`: the same as a new bucket, safe to forget.
    fn full_by(&self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * rate >= burst
    }
}

/// What [`RateLimiter::check`] decided for one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Answer it.
    Allow,
    /// Drop it; the first drop since the source's bucket was last full (log it).
    DropFirst,
    /// Drop it, as the ones before it.
    Drop,
}

/// Token buckets per source address, in a table of bounded size.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    capacity: usize,
    table: HashMap<IpAddr, Bucket>,
    /// Shared by every address that found the table full.
    overflow: Bucket,
    last_sweep: Instant,
}

impl RateLimiter {
    /// `rate` datagrams per second per source (at least 1), a burst of one second's worth,
    /// at most `capacity` sources remembered.
    pub fn new(rate: u32, capacity: usize, now: Instant) -> RateLimiter {
        let rate = f64::from(rate.max(1));
        RateLimiter {
            rate,
            burst: rate,
            capacity: capacity.max(1),
            table: HashMap::new(),
            overflow: Bucket::new(rate, now),
            last_sweep: now,
        }
    }

    /// The datagram from `source` that arrived at `now`: answer it or drop it?
    // ANCHOR: check
    pub fn check(&mut self, source: IpAddr, now: Instant) -> RateDecision {
        if now.saturating_duration_since(self.last_sweep) >= SWEEP_EVERY {
            self.sweep(now);
        }
        let (rate, burst) = (self.rate, self.burst);
        let full = self.table.len() >= self.capacity;
        let bucket = match self.table.get_mut(&source) {
            Some(bucket) => bucket,
            None if full => &mut self.overflow,
            None => self
                .table
                .entry(source)
                .or_insert_with(|| Bucket::new(burst, now)),
        };
        if bucket.take(rate, burst, now) {
            RateDecision::Allow
        } else if bucket.limited {
            RateDecision::Drop
        } else {
            bucket.limited = true;
            RateDecision::DropFirst
        }
    }
    // ANCHOR_END: check

    /// Sources remembered now.
    pub fn sources(&self) -> usize {
        self.table.len()
    }

    /// Forgets the buckets that have refilled: they are the same as new ones.
    fn sweep(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.table.retain(|_, b| !b.full_by(rate, burst, now));
        self.last_sweep = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(100, 16, t0);
        let allowed = (0..150)
            .filter(|_| rl.check(ip(1), t0) == RateDecision::Allow)
            .count();
        assert_eq!(allowed, 100, "a burst of one second's worth");
        // Half a second later: 50 more tokens.
        let t1 = t0 + Duration::from_millis(500);
        let allowed = (0..100)
            .filter(|_| rl.check(ip(1), t1) == RateDecision::Allow)
            .count();
        assert_eq!(allowed, 50);
    }

    /// The sweep forgets a bucket only once it has refilled: a source still over its rate
    /// when the sweep comes keeps its empty bucket, and stays limited.
    #[test]
    fn the_sweep_forgets_full_buckets_only() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(10, 16, t0);
        for _ in 0..20 {
            rl.check(ip(1), t0);
        }
        // Its bucket of 10 is empty: full again only after a whole second of quiet.
        let t1 = t0 + Duration::from_millis(999);
        rl.sweep(t1);
        assert_eq!(rl.sources(), 1, "not refilled yet: kept");
        let t2 = t0 + SWEEP_EVERY * 3;
        rl.sweep(t2);
        assert_eq!(rl.sources(), 0, "refilled: forgotten");
        // A source kept flooding is not forgotten, and not given a new burst.
        // It sends every 20 ms for 3 s, so check() sweeps twice while it does.
        const FLOOD_STEPS: u64 = 150;
        const FLOOD_GAP_MS: u64 = 20;
        let mut rl = RateLimiter::new(10, 16, t0);
        for i in 0..FLOOD_STEPS {
            rl.check(ip(1), t0 + Duration::from_millis(i * FLOOD_GAP_MS));
        }
        let later = t0 + Duration::from_millis(FLOOD_STEPS * FLOOD_GAP_MS);
        assert_eq!(
            rl.sources(),
            1,
            "a flooding source is remembered through the sweep"
        );
        let allowed = (0..20)
            .filter(|_| rl.check(ip(1), later) == RateDecision::Allow)
            .count();
        assert!(allowed < 10, "{allowed} allowed: the flood got a new burst");
    }

    #[test]
    fn one_flooding_source_does_not_cost_another_anything() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(10, 16, t0);
        for _ in 0..1000 {
            rl.check(ip(1), t0);
        }
        assert_eq!(rl.check(ip(2), t0), RateDecision::Allow);
    }

    #[test]
    fn a_steady_flood_is_told_once_not_at_every_token() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(100, 16, t0);
        let mut told = 0;
        for i in 0..5000u64 {
            // 5000/s for one second: a token comes back every 10 ms.
            if rl.check(ip(1), t0 + Duration::from_micros(i * 200)) == RateDecision::DropFirst {
                told += 1;
            }
        }
        assert_eq!(told, 1);
    }

    #[test]
    fn the_first_drop_of_a_run_is_told_apart() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(1, 16, t0);
        assert_eq!(rl.check(ip(1), t0), RateDecision::Allow);
        assert_eq!(rl.check(ip(1), t0), RateDecision::DropFirst);
        assert_eq!(rl.check(ip(1), t0), RateDecision::Drop);
        let later = t0 + Duration::from_secs(2);
        assert_eq!(rl.check(ip(1), later), RateDecision::Allow);
        assert_eq!(rl.check(ip(1), later), RateDecision::DropFirst);
    }

    #[test]
    fn forged_sources_cannot_grow_the_table_and_share_one_bucket() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(50, 100, t0);
        let mut allowed = 0;
        for i in 0..100_000u32 {
            let source = IpAddr::from(i.to_be_bytes());
            if rl.check(source, t0) == RateDecision::Allow {
                allowed += 1;
            }
        }
        assert_eq!(rl.sources(), 100, "never more than the capacity");
        // The first 100 sources are remembered (one datagram each, allowed); the 99,900
        // after them share one bucket, which lets its burst of 50 through.
        assert_eq!(allowed, 100 + 50);
    }

    #[test]
    fn refilled_buckets_are_forgotten() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(10, 100, t0);
        for i in 0..50 {
            rl.check(ip(i), t0);
        }
        assert_eq!(rl.sources(), 50);
        // Two seconds later all have refilled: the next datagram sweeps them away.
        rl.check(ip(200), t0 + Duration::from_secs(2));
        assert_eq!(rl.sources(), 1);
    }
}
