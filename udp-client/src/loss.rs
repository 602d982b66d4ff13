//! # Where did the replies go? A rate limit and a lossy network look different
//!
//! A ping or rate run that loses replies can have met two quite different things:
//!
//! - **a rate limit** at the server (udp-server's `--rate-limit`, a token bucket per
//!   source): a burst is answered at first, while the bucket lasts, and then a *steady*
//!   number of replies per second comes back, however many requests are sent. The server
//!   counts the rest in its summary, `over the rate limit`.
//! - **loss** on the way (a lossy link, faults injected with `--drop`): a share of every
//!   moment's requests goes missing, from the first one on.
//!
//! A server that cannot keep up looks like a cap too: its receive queue fills, and then it
//! answers at the rate it can. Its summary tells the two apart: `over the rate limit`, or
//! `kernel drops`.
//!
//! So the run is cut into slices of [`SLICE`], the requests sent and the replies that came
//! in each are counted ([`Timeline`]), and [`shape`] says which of the two the losses look
//! like. It is pure: the counts are passed in.

use std::time::{Duration, Instant};

/// The length of one slice of a run.
pub const SLICE: Duration = Duration::from_millis(100);
/// A slice is "answered" when at most this share of its requests got no reply.
const ANSWERED: f64 = 0.05;
/// The burst before a cap lost at least this share less than the slices after it.
const BURST_MARGIN: f64 = 0.2;
/// Replies per slice are "steady" when at least this share of the slices are near their
/// median...
const STEADY: f64 = 0.8;
/// ...that is, within this share of it.
const NEAR: f64 = 0.35;
/// The slices after a burst lost at least this share of their requests, for a cap.
const CAPPED: f64 = 0.10;
/// Fewer replies a slice than this are too few to see a steady rate in.
const MIN_PER_SLICE: f64 = 5.0;
/// Fewest full slices to tell a cap from loss.
const MIN_SLICES: usize = 4;

/// Requests sent and replies received, slice by slice, from the start of a run.
#[derive(Debug, Clone)]
pub struct Timeline {
    started: Instant,
    /// (sent, replied) per slice.
    slices: Vec<(u64, u64)>,
}

impl Timeline {
    pub fn new(started: Instant) -> Timeline {
        Timeline {
            started,
            slices: Vec::new(),
        }
    }

    fn slice(&mut self, at: Instant) -> &mut (u64, u64) {
        let i =
            (at.saturating_duration_since(self.started).as_micros() / SLICE.as_micros()) as usize;
        if self.slices.len() <= i {
            self.slices.resize(i + 1, (0, 0));
        }
        &mut self.slices[i]
    }

    /// A request went out at `at`.
    pub fn sent(&mut self, at: Instant) {
        self.slice(at).0 += 1;
    }

    /// A reply (not a duplicate) came in at `at`.
    pub fn replied(&mut self, at: Instant) {
        self.slice(at).1 += 1;
    }

    /// Adds another timeline's replies (the receiving thread keeps its own).
    pub fn add_replies(&mut self, other: &Timeline) {
        for (i, &(_, replied)) in other.slices.iter().enumerate() {
            if self.slices.len() <= i {
                self.slices.resize(i + 1, (0, 0));
            }
            self.slices[i].1 += replied;
        }
    }

    /// The counts, slice by slice.
    pub fn slices(&self) -> &[(u64, u64)] {
        &self.slices
    }
}

/// What the losses of a run look like.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Nothing was lost.
    NoLoss,
    /// A burst answered in the first `burst_s` seconds, then a steady `per_s` replies a
    /// second whatever was sent: a rate limit.
    Cap { burst_s: f64, per_s: f64 },
    /// A share of the requests lost all along: the network, a full queue, injected faults.
    Spread,
    /// Too short a run, or too few requests, to tell.
    Unclear,
}

/// Which of the shapes the counts of `slices` (sent, replied) have.
pub fn shape(slices: &[(u64, u64)]) -> Shape {
    let sent: u64 = slices.iter().map(|s| s.0).sum();
    let replied: u64 = slices.iter().map(|s| s.1).sum();
    if replied >= sent {
        return Shape::NoLoss;
    }
    // The last slice is cut short (and its replies may fall into the next): leave it out,
    // and the slices in which nothing was sent (the wait for the last replies). Each keeps
    // its place in the run, for the time of the burst.
    let full: Vec<(usize, (u64, u64))> = slices[..slices.len().saturating_sub(1)]
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, s)| s.0 > 0)
        .collect();
    if full.len() < MIN_SLICES {
        return Shape::Unclear;
    }
    let lost_share =
        |(sent, replied): (u64, u64)| 1.0 - (replied.min(sent) as f64 / sent.max(1) as f64);
    let Some(first_lossy) = full.iter().position(|&(_, s)| lost_share(s) > ANSWERED) else {
        // Only the cut-off end lost anything.
        return Shape::Unclear;
    };
    // The burst: up to the slice in which the bucket ran out. After it, the replies are
    // steady (most slices near their median: a stall of the machine may move a few), and
    // well short of what was sent.
    let (burst, tail) = full.split_at((first_lossy + 1).min(full.len()));
    let mut counts: Vec<u64> = tail.iter().map(|&(_, s)| s.1).collect();
    counts.sort_unstable();
    let median = counts.get(counts.len() / 2).copied().unwrap_or(0) as f64;
    if tail.len() < 2 || median < MIN_PER_SLICE {
        // Too few replies a slice to see a rate in them.
        return Shape::Unclear;
    }
    let near = counts
        .iter()
        .filter(|&&c| (c as f64 - median).abs() <= NEAR * median)
        .count();
    let steady = near as f64 >= STEADY * counts.len() as f64;
    let total = |slices: &[(usize, (u64, u64))]| {
        slices.iter().fold((0, 0), |(a, b), &(_, (sent, replied))| {
            (a + sent, b + replied.min(sent))
        })
    };
    let burst_lost = lost_share(total(burst));
    let tail_lost = lost_share(total(tail));
    if steady && tail_lost >= CAPPED && burst_lost + BURST_MARGIN <= tail_lost {
        let per_slice = counts.iter().sum::<u64>() as f64 / counts.len() as f64;
        // The slices answered in full, or the first one if the bucket ran out in it.
        let burst_end = if first_lossy == 0 {
            full[0].0 + 1
        } else {
            full[first_lossy].0
        };
        return Shape::Cap {
            burst_s: burst_end as f64 * SLICE.as_secs_f64(),
            per_s: per_slice / SLICE.as_secs_f64(),
        };
    }
    Shape::Spread
}

/// What `shape` means, in one line for the report (`None` when nothing was lost).
pub fn explain(shape: Shape) -> Option<String> {
    match shape {
        Shape::NoLoss => None,
        Shape::Cap { burst_s, per_s } => Some(format!(
            "a steady cap: a burst answered in the first {burst_s:.1} s, then about {per_s:.0} \
             replies/s however many were sent. That is a limit at the server, not the network: \
             a rate limit (udp-server's --rate-limit, whose summary counts these as \"over the \
             rate limit\"; this machine's own clients are exempt unless it runs with \
             --limit-loopback), or all the server can answer (its summary then counts \
             \"kernel drops\")"
        )),
        Shape::Spread => Some(
            "spread over the whole run, a share of every moment's requests: what a lossy \
             network or injected faults (udp-server's --drop) look like. A rate limit would \
             answer a burst at first, then a steady number per second"
                .to_string(),
        ),
        Shape::Unclear => Some(
            "too few requests, or too short a run, to tell a rate limit (all answered at first, \
             then a steady number per second) from loss on the way (a share of every moment's \
             requests); udp-server's summary says which it counted (\"over the rate limit\", \
             \"kernel drops\", injected drops)"
                .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 5,000 requests a second against a 1,000/s token bucket (a burst of 1,000): the first
    /// 0.2 s all answered, then 100 a slice.
    fn capped() -> Vec<(u64, u64)> {
        let mut s = vec![(500, 500), (500, 500)];
        s.extend(std::iter::repeat_n((500, 100), 18));
        s.push((0, 0));
        s
    }

    #[test]
    fn a_token_bucket_is_a_burst_then_a_steady_cap() {
        match shape(&capped()) {
            Shape::Cap { burst_s, per_s } => {
                assert!((burst_s - 0.2).abs() < 1e-9, "{burst_s}");
                assert!((per_s - 1000.0).abs() < 1e-6, "{per_s}");
            }
            other => panic!("{other:?}"),
        }
        assert!(explain(shape(&capped()))
            .unwrap()
            .contains("then about 1000 replies/s however many were sent"));
        // A small bucket runs out within the first slice: the burst is that slice.
        let mut small = vec![(200, 110)];
        small.extend(std::iter::repeat_n((200, 10), 14));
        small.push((0, 0));
        assert!(
            matches!(shape(&small), Shape::Cap { per_s, .. } if (per_s - 100.0).abs() < 1e-6),
            "{:?}",
            shape(&small)
        );
    }

    #[test]
    fn random_loss_from_the_start_is_spread_not_a_cap() {
        // 30% lost in every slice, the first ones too: steady replies, but no burst.
        let spread: Vec<(u64, u64)> = (0..20).map(|i| (500, 350 + (i % 3))).collect();
        assert_eq!(shape(&spread), Shape::Spread);
        // Loss that comes and goes is not steady either.
        let bursty: Vec<(u64, u64)> = (0..20)
            .map(|i| {
                if i < 3 {
                    (500, 500)
                } else if i % 2 == 0 {
                    (500, 480)
                } else {
                    (500, 100)
                }
            })
            .collect();
        assert_eq!(shape(&bursty), Shape::Spread);
    }

    #[test]
    fn a_cap_survives_a_stall_and_a_trickle_is_too_little_to_tell() {
        // One slice in the tail held up by a busy machine, and its replies in the next.
        let mut stalled = capped();
        stalled[10] = (500, 0);
        stalled[11] = (500, 200);
        assert!(
            matches!(shape(&stalled), Shape::Cap { .. }),
            "{:?}",
            shape(&stalled)
        );
        // Two replies a slice: no rate to see.
        let mut trickle = vec![(20, 20), (20, 20)];
        trickle.extend(std::iter::repeat_n((20, 2), 10));
        trickle.push((0, 0));
        assert_eq!(shape(&trickle), Shape::Unclear);
        // Slices with nothing sent do not move the burst's time.
        let mut gap = vec![(500, 500), (0, 0), (500, 500)];
        gap.extend(std::iter::repeat_n((500, 100), 10));
        gap.push((0, 0));
        assert!(
            matches!(shape(&gap), Shape::Cap { burst_s, .. } if (burst_s - 0.3).abs() < 1e-9),
            "{:?}",
            shape(&gap)
        );
    }

    #[test]
    fn no_loss_and_too_little_to_tell() {
        assert_eq!(shape(&[(100, 100), (100, 100)]), Shape::NoLoss);
        assert_eq!(explain(Shape::NoLoss), None);
        assert_eq!(shape(&[(10, 5), (10, 5), (10, 5)]), Shape::Unclear);
        // Only the cut-off last slice lost anything.
        let mut end_only = vec![(100, 100); 6];
        end_only.push((100, 40));
        assert_eq!(shape(&end_only), Shape::Unclear);
    }

    #[test]
    fn the_timeline_counts_per_slice() {
        let t0 = Instant::now();
        let mut t = Timeline::new(t0);
        t.sent(t0);
        t.sent(t0 + Duration::from_millis(150));
        t.replied(t0 + Duration::from_millis(250));
        let mut replies = Timeline::new(t0);
        replies.replied(t0 + Duration::from_millis(20));
        t.add_replies(&replies);
        assert_eq!(t.slices(), &[(1, 1), (1, 0), (0, 1)]);
    }
}
