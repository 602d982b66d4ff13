//! # The echo itself: what to do with one datagram, and why, with no socket
//!
//! As quinn-proto's `Endpoint` does for QUIC, [`Echo`] holds everything the server decides
//! and nothing it does: given who sent a datagram, its bytes, and the time, it says whether
//! to reply at once, later, twice, or not at all, and for which reason (the rate limit of
//! [`common::ratelimit`], or a fault of [`crate::faults`] injected on purpose). The reply's
//! bytes are built here too. [`crate::serve`] only receives, logs and sends, so every
//! decision can be tested without a network, and exactly, since the time is passed in.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::addr::LimitScope;

use crate::faults::{Dice, Faults};
use common::ratelimit::{self, RateDecision, RateLimiter};

/// What to do with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Its source is over `--rate-limit`: no reply. `first` marks the first drop since the
    /// source was last within its rate, the one worth a warning.
    Limited { first: bool },
    /// The injected fault "drop": no reply.
    Dropped,
    /// Send `reply`, `copies` times (2: the injected duplicate), `after` this long (not
    /// zero: the injected delay).
    Reply {
        reply: &'a [u8],
        copies: u32,
        after: Duration,
    },
}

/// The server's decisions, datagram after datagram.
#[derive(Debug)]
pub struct Echo {
    prefix: Vec<u8>,
    limiter: Option<RateLimiter>,
    scope: LimitScope,
    dice: Dice,
    /// The reply being built, reused: no allocation per datagram.
    reply: Vec<u8>,
}

impl Echo {
    /// `rate_limit`: replies per second per source (`None`: no limit), for the sources
    /// `scope` covers. `now` starts the rate limiter's clock.
    pub fn new(
        prefix: &[u8],
        rate_limit: Option<u32>,
        scope: LimitScope,
        faults: Faults,
        now: Instant,
    ) -> Echo {
        Echo {
            prefix: prefix.to_vec(),
            limiter: rate_limit
                .map(|rate| RateLimiter::new(rate, ratelimit::DEFAULT_CAPACITY, now)),
            scope,
            dice: Dice::new(faults),
            reply: Vec::new(),
        }
    }

    /// Decides what to do with `datagram`, which `from` sent at `now`.
    ///
    /// The rate limit comes first, so that a flood draws no faults: the faults of the
    /// datagrams that are answered depend only on the seed and their order.
    pub fn decide(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) -> Decision<'_> {
        if let Some(decision) = self.rate_check(from.ip(), now) {
            return Decision::Limited {
                first: decision == RateDecision::DropFirst,
            };
        }
        let roll = self.dice.roll();
        if roll.drop {
            return Decision::Dropped;
        }
        self.reply.clear();
        self.reply.extend_from_slice(&self.prefix);
        self.reply.extend_from_slice(datagram);
        Decision::Reply {
            reply: &self.reply,
            copies: if roll.duplicate { 2 } else { 1 },
            after: roll.delay,
        }
    }

    /// `Some` when the source is over its rate. A flood, or a reflection aimed at a forged
    /// source, gets no more than `--rate-limit` replies a second. This machine's own
    /// clients are a student's measurements: exempt unless `--limit-loopback`.
    fn rate_check(&mut self, source: IpAddr, now: Instant) -> Option<RateDecision> {
        let limiter = self.limiter.as_mut()?;
        if !self.scope.covers(source) {
            return None;
        }
        match limiter.check(source, now) {
            RateDecision::Allow => None,
            decision => Some(decision),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Delay;

    const PREFIX: &[u8] = b"Hi!";

    /// A classroom neighbour: host `n` of a LAN.
    fn lan(n: u8) -> SocketAddr {
        ([192, 168, 1, n], 50_000).into()
    }

    fn loopback() -> SocketAddr {
        ([127, 0, 0, 1], 50_000).into()
    }

    /// What each of `n` datagrams from `from`, `gap` apart, gets: in a form that outlives
    /// the borrow of the reply.
    fn run(
        echo: &mut Echo,
        from: SocketAddr,
        n: u32,
        start: Instant,
        gap: Duration,
    ) -> Vec<String> {
        (0..n)
            .map(|i| match echo.decide(from, b"x", start + gap * i) {
                Decision::Limited { first } => format!("limited{}", if first { "!" } else { "" }),
                Decision::Dropped => "dropped".into(),
                Decision::Reply {
                    reply,
                    copies,
                    after,
                } => format!(
                    "{}x{copies}+{}",
                    String::from_utf8_lossy(reply),
                    after.as_millis()
                ),
            })
            .collect()
    }

    #[test]
    fn a_datagram_gets_the_prefix_and_its_own_bytes_back_once_at_once() {
        let now = Instant::now();
        let mut echo = Echo::new(PREFIX, None, LimitScope::default(), Faults::none(), now);
        assert_eq!(
            echo.decide(lan(1), b"hello!", now),
            Decision::Reply {
                reply: b"Hi!hello!",
                copies: 1,
                after: Duration::ZERO
            }
        );
        // Bytes, not text: whatever arrives goes back.
        match echo.decide(lan(1), &[0, 0xff], now) {
            Decision::Reply { reply, .. } => assert_eq!(reply, b"Hi!\x00\xff"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_faults_with_no_socket() {
        let faults = Faults {
            drop: 0.3,
            duplicate: 0.2,
            delay: Some(Delay {
                min: Duration::from_millis(10),
                max: Duration::from_millis(200),
            }),
            seed: 7,
        };
        let now = Instant::now();
        let gap = Duration::from_millis(1);
        let mut a = Echo::new(PREFIX, None, LimitScope::default(), faults, now);
        let mut b = Echo::new(PREFIX, None, LimitScope::default(), faults, now);
        let first = run(&mut a, lan(1), 300, now, gap);
        assert_eq!(first, run(&mut b, lan(1), 300, now, gap));
        for kind in ["dropped", "x1", "x2"] {
            assert!(
                first.iter().any(|d| d.contains(kind)),
                "no {kind} in {first:?}"
            );
        }
        let mut c = Echo::new(
            PREFIX,
            None,
            LimitScope::default(),
            Faults { seed: 8, ..faults },
            now,
        );
        assert_ne!(first, run(&mut c, lan(1), 300, now, gap));
    }

    #[test]
    fn a_flood_from_one_source_is_cut_to_the_rate_and_warned_of_once() {
        let now = Instant::now();
        let mut echo = Echo::new(PREFIX, Some(10), LimitScope::default(), Faults::none(), now);
        // 100 datagrams in the same instant: the burst is answered, the rest dropped.
        let got = run(&mut echo, lan(1), 100, now, Duration::ZERO);
        let answered = got.iter().filter(|d| d.starts_with("Hi!")).count();
        assert!(answered > 0 && answered < 100, "{answered} answered");
        assert_eq!(
            got.iter().filter(|d| *d == "limited!").count(),
            1,
            "{got:?}"
        );
        // Another source is not held back by the first one's flood.
        assert_eq!(run(&mut echo, lan(2), 1, now, Duration::ZERO), ["Hi!xx1+0"]);
        // A second later the first source has tokens again.
        let later = now + Duration::from_secs(1);
        assert_eq!(
            run(&mut echo, lan(1), 1, later, Duration::ZERO),
            ["Hi!xx1+0"]
        );
    }

    #[test]
    fn loopback_is_exempt_unless_the_limits_cover_it() {
        let now = Instant::now();
        let mut exempt = Echo::new(PREFIX, Some(10), LimitScope::default(), Faults::none(), now);
        let got = run(&mut exempt, loopback(), 500, now, Duration::ZERO);
        assert!(got.iter().all(|d| d == "Hi!xx1+0"));
        let all = LimitScope::Everyone;
        let mut covered = Echo::new(PREFIX, Some(10), all, Faults::none(), now);
        let got = run(&mut covered, loopback(), 500, now, Duration::ZERO);
        assert!(got.iter().any(|d| d.starts_with("limited")));
    }

    #[test]
    fn a_limited_datagram_draws_no_fault() {
        let faults = Faults {
            drop: 0.5,
            duplicate: 0.5,
            seed: 3,
            ..Faults::none()
        };
        let now = Instant::now();
        let same_instant = Duration::ZERO;
        // A flood from lan(1): its burst is answered (and draws faults), the rest is not.
        let mut busy = Echo::new(PREFIX, Some(10), LimitScope::default(), faults, now);
        let flood = run(&mut busy, lan(1), 200, now, same_instant);
        let allowed = flood.iter().filter(|d| !d.starts_with("limited")).count() as u32;
        assert!(
            allowed > 0 && allowed < 200,
            "{allowed} of the flood allowed"
        );
        let after_flood = run(&mut busy, lan(2), 50, now, same_instant);
        // The same without the datagrams that were limited: lan(2) gets the same faults.
        let mut calm = Echo::new(PREFIX, Some(10), LimitScope::default(), faults, now);
        run(&mut calm, lan(1), allowed, now, same_instant);
        assert_eq!(after_flood, run(&mut calm, lan(2), 50, now, same_instant));
    }
}
