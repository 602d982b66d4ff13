//! One direction of the cable, as a pure state machine: a packet and the time go in, its
//! fate comes out (passed at once, dropped and why, or held until a time), and held
//! packets come out when their time has come.
//!
//! No I/O and no clock: the time is passed in, and the randomness comes from a seeded
//! generator, so the same `--seed` and the same packets at the same times meet the same
//! faults, and every fault is tested without a network.
//!
//! What happens to a packet, in this order (netem's is much the same, but it duplicates
//! before the loss):
//! 1. **loss**: it vanishes, at random (`--loss 5%`) or in bursts (`--loss-burst 4`: a
//!    Gilbert–Elliott channel, a good state that loses nothing and a bad one that loses
//!    everything, with the same average);
//! 2. **the bottleneck** (`--rate`): it waits in a queue of `--queue` packets while the
//!    packets ahead of it are sent at the rate; a packet that finds the queue full is
//!    dropped (drop-tail), which is how a router tells TCP that it sends too fast;
//! 3. **duplicate** (the copy takes its own place in the queue) and **corrupt** (one bit
//!    flipped: the receiver's checksum throws it away);
//! 4. **delay** with **jitter**: it comes out later. Packets keep their order (unlike
//!    netem's jitter), except those chosen by `--reorder`, which skip the delay and so
//!    overtake the packets ahead of them.

use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

/// The faults of one direction. [`Faults::NONE`] is a perfect cable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Every packet waits this long.
    pub delay: Duration,
    /// … plus or minus up to this (uniform), never before an earlier packet.
    pub jitter: Duration,
    /// The share of packets lost, 0..=1.
    pub loss: f64,
    /// The mean length of a run of lost packets: 1 for independent losses.
    pub loss_burst: f64,
    /// The bottleneck's rate in bits per second; `None`: as fast as packets come.
    pub rate: Option<u64>,
    /// How many packets the bottleneck's queue holds (with `rate` only).
    pub queue: usize,
    /// The share of packets sent without the delay, so that they overtake (with `delay`).
    pub reorder: f64,
    /// The share of packets sent twice.
    pub duplicate: f64,
    /// The share of packets with one bit flipped.
    pub corrupt: f64,
    /// Drop this many of the first TCP SYNs (a SYN or a SYN-ACK): the retransmission
    /// timer of a handshake, seen on purpose.
    pub drop_syn: u32,
}

/// The queue of a bottleneck when `--queue` is not given: 100 packets, 120 ms at 10 Mbit/s.
/// Small enough that congestion control meets it within a lab's few seconds, large enough
/// for a window of a few dozen packets.
pub const DEFAULT_QUEUE: usize = 100;

/// At most this many packets wait in the delay line of one direction; more are dropped
/// (`delay line full`) rather than held without bound (a minute at a gigabit is 7 GB).
pub const MAX_HELD: usize = 65_536;

impl Faults {
    /// No fault at all: every packet passes at once, unchanged.
    pub const NONE: Faults = Faults {
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        loss: 0.0,
        loss_burst: 1.0,
        rate: None,
        queue: DEFAULT_QUEUE,
        reorder: 0.0,
        duplicate: 0.0,
        corrupt: 0.0,
        drop_syn: 0,
    };

    /// True when no packet can meet any fault: the cable then forwards each packet as it
    /// comes, without copying it.
    pub fn is_clean(&self) -> bool {
        self.delay.is_zero()
            && self.jitter.is_zero()
            && self.loss == 0.0
            && self.rate.is_none()
            && self.duplicate == 0.0
            && self.corrupt == 0.0
            && self.drop_syn == 0
    }

    /// One line for the start-up banner: `delay 20ms ±5ms, loss 5%, rate 10mbit (queue 100)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            let mut d = format!("delay {}", ms(self.delay));
            if !self.jitter.is_zero() {
                d.push_str(&format!(" ±{}", ms(self.jitter)));
            }
            parts.push(d);
        }
        if self.loss > 0.0 {
            let mut l = format!("loss {}", pct(self.loss));
            if self.loss_burst > 1.0 {
                l.push_str(&format!(" in bursts of {} on average", self.loss_burst));
            }
            parts.push(l);
        }
        if let Some(bits) = self.rate {
            parts.push(format!(
                "rate {} (queue {} packets)",
                rate_text(bits),
                self.queue
            ));
        }
        for (name, p) in [
            ("reorder", self.reorder),
            ("duplicate", self.duplicate),
            ("corrupt", self.corrupt),
        ] {
            if p > 0.0 {
                parts.push(format!("{name} {}", pct(p)));
            }
        }
        if self.drop_syn > 0 {
            parts.push(format!("the first {} SYNs dropped", self.drop_syn));
        }
        if parts.is_empty() {
            "no faults".to_string()
        } else {
            parts.join(", ")
        }
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms.fract() == 0.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{ms}ms")
    }
}

fn pct(p: f64) -> String {
    format!("{}%", (p * 1e4).round() / 1e2)
}

/// `10mbit`, `1.5gbit`, `500kbit`: a rate as tc prints it.
pub fn rate_text(bits: u64) -> String {
    let b = bits as f64;
    if b >= 1e9 {
        format!("{}gbit", b / 1e9)
    } else if b >= 1e6 {
        format!("{}mbit", b / 1e6)
    } else if b >= 1e3 {
        format!("{}kbit", b / 1e3)
    } else {
        format!("{bits}bit")
    }
}

/// Why the cable dropped a packet: the comment of its record in the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// `--loss`.
    Loss,
    /// The bottleneck's queue was full (`--rate`, `--queue`).
    QueueFull,
    /// More than [`MAX_HELD`] packets were already waiting.
    DelayLineFull,
    /// One of the first SYNs (`--drop-syn`).
    Syn,
}

impl DropReason {
    /// Every reason, in the order of the summary.
    pub const ALL: [DropReason; 4] = [
        DropReason::Loss,
        DropReason::QueueFull,
        DropReason::DelayLineFull,
        DropReason::Syn,
    ];

    /// The name in the summary and in the capture's comments (`dropped: loss`).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::QueueFull => "queue full",
            DropReason::DelayLineFull => "delay line full",
            DropReason::Syn => "one of the first SYNs",
        }
    }
}

/// What the link decided for one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Send it now, as it is (a clean link: nothing copied).
    Pass,
    /// It is gone.
    Dropped(DropReason),
    /// The link keeps it (and a copy, if duplicated) until its time; see [`Link::pop_due`].
    Held {
        /// It leaves later than it came (delay, jitter, or the bottleneck's queue).
        delayed: bool,
        /// It was sent twice.
        duplicated: bool,
        /// A bit of it was flipped.
        corrupted: bool,
        /// It will overtake a packet that came before it.
        reordered: bool,
    },
}

/// A packet waiting in the delay line, ordered by its time, then by arrival.
#[derive(Debug, PartialEq, Eq)]
struct Waiting {
    due: Duration,
    order: u64,
    data: Vec<u8>,
}

impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // BinaryHeap is a max-heap: the earliest (due, order) must compare greatest.
        (other.due, other.order).cmp(&(self.due, self.order))
    }
}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One direction of the cable.
#[derive(Debug)]
pub struct Link {
    faults: Faults,
    rng: fastrand::Rng,
    /// Gilbert–Elliott: in the bad state, every packet is lost.
    bad_state: bool,
    /// When each packet in the bottleneck's queue will have left it (the last one last).
    bottleneck: VecDeque<Duration>,
    /// The latest time a packet (not a reordered one) leaves the delay line: the next
    /// leaves no earlier, so that jitter does not reorder.
    last_due: Duration,
    waiting: BinaryHeap<Waiting>,
    order: u64,
    /// SYNs dropped so far by `drop_syn`.
    syns_dropped: u32,
}

impl Link {
    /// A link with these faults and this seed (the same seed, the same faults).
    pub fn new(faults: Faults, seed: u64) -> Link {
        Link {
            faults,
            rng: fastrand::Rng::with_seed(seed),
            bad_state: false,
            bottleneck: VecDeque::new(),
            last_due: Duration::ZERO,
            waiting: BinaryHeap::new(),
            order: 0,
            syns_dropped: 0,
        }
    }

    /// The faults this link applies.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// A packet reached the cable at `now` (time since the cable started).
    pub fn offer(&mut self, now: Duration, packet: &[u8]) -> Fate {
        if self.faults.is_clean() {
            return Fate::Pass;
        }
        if self.syns_dropped < self.faults.drop_syn && is_syn(packet) {
            self.syns_dropped += 1;
            return Fate::Dropped(DropReason::Syn);
        }
        if self.lost() {
            return Fate::Dropped(DropReason::Loss);
        }
        let copies = if self.chance(self.faults.duplicate) {
            2
        } else {
            1
        };
        if self.waiting.len() + copies > MAX_HELD {
            return Fate::Dropped(DropReason::DelayLineFull);
        }
        // The bottleneck: each copy leaves the queue once the packets ahead of it and
        // itself have been sent at the rate.
        let mut leaves = [now; 2];
        if let Some(bits) = self.faults.rate.filter(|&b| b > 0) {
            while self.bottleneck.front().is_some_and(|&t| t <= now) {
                self.bottleneck.pop_front();
            }
            if self.bottleneck.len() + copies > self.faults.queue {
                return Fate::Dropped(DropReason::QueueFull);
            }
            let on_the_wire = Duration::try_from_secs_f64(packet.len() as f64 * 8.0 / bits as f64)
                .unwrap_or(Duration::ZERO);
            for leave in leaves.iter_mut().take(copies) {
                let start = self.bottleneck.back().copied().unwrap_or(now).max(now);
                *leave = start + on_the_wire;
                self.bottleneck.push_back(*leave);
            }
        }
        let leaves_first = leaves[0];
        let mut data = packet.to_vec();
        let corrupted = self.chance(self.faults.corrupt);
        if corrupted {
            self.flip_a_bit(&mut data);
        }
        // The delay line.
        let skips_delay = !self.faults.delay.is_zero() && self.chance(self.faults.reorder);
        let due = if skips_delay {
            leaves_first
        } else {
            let due = (leaves_first + self.this_delay()).max(self.last_due);
            self.last_due = due;
            due
        };
        let reordered = skips_delay && due < self.last_due;
        if due <= now && copies == 1 && !corrupted && self.waiting.is_empty() {
            // Nothing to wait for and nothing ahead of it (`--loss` alone): no copy.
            return Fate::Pass;
        }
        if copies == 2 {
            // The copy follows the packet through the same delay, after its own time on
            // the wire.
            let again = due + leaves[1].saturating_sub(leaves_first);
            self.hold(due, data.clone());
            self.hold(again, data);
        } else {
            self.hold(due, data);
        }
        Fate::Held {
            delayed: due > now,
            duplicated: copies == 2,
            corrupted,
            reordered,
        }
    }

    /// The next held packet whose time has come, if any.
    pub fn pop_due(&mut self, now: Duration) -> Option<Vec<u8>> {
        if self.waiting.peek().is_some_and(|w| w.due <= now) {
            self.waiting.pop().map(|w| w.data)
        } else {
            None
        }
    }

    /// When the next held packet is due (`None`: none is held).
    pub fn next_due(&self) -> Option<Duration> {
        self.waiting.peek().map(|w| w.due)
    }

    /// How many packets are held.
    pub fn held(&self) -> usize {
        self.waiting.len()
    }

    fn hold(&mut self, due: Duration, data: Vec<u8>) {
        self.order += 1;
        self.waiting.push(Waiting {
            due,
            order: self.order,
            data,
        });
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.f64() < p
    }

    /// Is this packet lost? Independent losses, or the two-state channel for bursts.
    fn lost(&mut self) -> bool {
        let loss = self.faults.loss;
        if loss <= 0.0 {
            return false;
        }
        if self.faults.loss_burst <= 1.0 || loss >= 1.0 {
            return self.chance(loss);
        }
        // Gilbert–Elliott with all-or-nothing states: a burst ends with probability
        // r = 1/burst per packet, and starts with p, chosen so that the share of time in
        // the bad state, p / (p + r), is the loss asked for.
        let r = 1.0 / self.faults.loss_burst;
        // Past loss = burst / (burst + 1), p would exceed 1: the loss then falls short
        // (the command line warns).
        let p = (loss * r / (1.0 - loss)).min(1.0);
        let lost = self.bad_state;
        self.bad_state = if self.bad_state {
            !self.chance(r)
        } else {
            self.chance(p)
        };
        lost
    }

    /// This packet's delay: `delay`, plus or minus a uniform share of `jitter`, at least 0.
    fn this_delay(&mut self) -> Duration {
        let (delay, jitter) = (
            self.faults.delay.as_secs_f64(),
            self.faults.jitter.as_secs_f64(),
        );
        if jitter == 0.0 {
            return self.faults.delay;
        }
        let offset = (self.rng.f64() * 2.0 - 1.0) * jitter;
        Duration::from_secs_f64((delay + offset).max(0.0))
    }

    /// Flips one bit after the IP header, where the TCP or UDP checksum covers it.
    fn flip_a_bit(&mut self, data: &mut [u8]) {
        if data.is_empty() {
            return;
        }
        let header = ip_header_len(data).min(data.len() - 1);
        let at = self.rng.usize(header..data.len());
        data[at] ^= 1 << self.rng.u8(0..8);
    }
}

/// A TCP segment with the SYN flag (a SYN or a SYN-ACK).
fn is_syn(packet: &[u8]) -> bool {
    matches!(crate::packet::parse(packet), crate::packet::Kind::Tcp(s) if s.flags.syn)
}

/// The length of the IP header at the start of `packet` (IPv4's IHL, 40 for IPv6), or 0.
fn ip_header_len(packet: &[u8]) -> usize {
    match packet.first().map(|b| b >> 4) {
        Some(4) => usize::from(packet[0] & 0x0f) * 4,
        Some(6) => 40,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const PACKET: [u8; 1500] = [0x45; 1500];

    fn faults(tune: impl FnOnce(&mut Faults)) -> Faults {
        let mut f = Faults::NONE;
        tune(&mut f);
        f
    }

    /// Offers `n` packets 1 ms apart; returns the fates.
    fn offer_many(link: &mut Link, n: usize) -> Vec<Fate> {
        (0..n).map(|i| link.offer(MS * i as u32, &PACKET)).collect()
    }

    fn drain(link: &mut Link) -> Vec<(Duration, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(due) = link.next_due() {
            let p = link.pop_due(due).expect("due now");
            out.push((due, p));
        }
        out
    }

    #[test]
    fn a_clean_link_passes_everything_at_once() {
        let mut link = Link::new(Faults::NONE, 1);
        assert!(Faults::NONE.is_clean());
        assert!(offer_many(&mut link, 100).iter().all(|f| *f == Fate::Pass));
        assert_eq!(link.held(), 0);
        assert_eq!(Faults::NONE.describe(), "no faults");
    }

    #[test]
    fn loss_takes_its_share_and_the_seed_repeats_it() {
        let f = faults(|f| f.loss = 0.1);
        let a = offer_many(&mut Link::new(f, 7), 10_000);
        let lost = a
            .iter()
            .filter(|x| **x == Fate::Dropped(DropReason::Loss))
            .count();
        assert!((800..1200).contains(&lost), "{lost} of 10,000 lost at 10%");
        assert_eq!(
            a,
            offer_many(&mut Link::new(f, 7), 10_000),
            "the same seed, the same losses"
        );
        assert_ne!(
            a,
            offer_many(&mut Link::new(f, 8), 10_000),
            "another seed, other losses"
        );
    }

    #[test]
    fn bursty_loss_keeps_the_average_and_comes_in_runs() {
        let f = faults(|f| {
            f.loss = 0.05;
            f.loss_burst = 5.0;
        });
        let fates = offer_many(&mut Link::new(f, 3), 100_000);
        let lost: Vec<bool> = fates
            .iter()
            .map(|x| *x == Fate::Dropped(DropReason::Loss))
            .collect();
        let n = lost.iter().filter(|l| **l).count();
        assert!((4000..6000).contains(&n), "{n} of 100,000 at 5%");
        let runs = lost.windows(2).filter(|w| w[1] && !w[0]).count();
        let mean_run = n as f64 / runs as f64;
        assert!(
            (4.0..6.0).contains(&mean_run),
            "mean burst {mean_run}, asked for 5"
        );
        let random = offer_many(&mut Link::new(faults(|f| f.loss = 0.05), 3), 100_000);
        let lost: Vec<bool> = random
            .iter()
            .map(|x| *x == Fate::Dropped(DropReason::Loss))
            .collect();
        let runs = lost.windows(2).filter(|w| w[1] && !w[0]).count();
        let mean_run = lost.iter().filter(|l| **l).count() as f64 / runs as f64;
        assert!(
            mean_run < 1.2,
            "independent losses come one at a time: {mean_run}"
        );
    }

    #[test]
    fn the_bottleneck_sends_at_its_rate_and_drops_the_tail() {
        // 12 Mbit/s: a 1,500-byte packet takes exactly 1 ms.
        let f = faults(|f| {
            f.rate = Some(12_000_000);
            f.queue = 10;
        });
        let mut link = Link::new(f, 1);
        let fates: Vec<Fate> = (0..15)
            .map(|_| link.offer(Duration::ZERO, &PACKET))
            .collect();
        assert!(fates[..10]
            .iter()
            .all(|f| matches!(f, Fate::Held { delayed: true, .. })));
        assert!(
            fates[10..]
                .iter()
                .all(|f| *f == Fate::Dropped(DropReason::QueueFull)),
            "{fates:?}"
        );
        let out = drain(&mut link);
        let times: Vec<Duration> = out.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, (1..=10).map(|i| MS * i).collect::<Vec<_>>());
        // Once the queue has drained, there is room again.
        assert!(matches!(link.offer(MS * 20, &PACKET), Fate::Held { .. }));
    }

    #[test]
    fn delay_and_jitter_keep_the_order() {
        let f = faults(|f| {
            f.delay = MS * 20;
            f.jitter = MS * 10;
        });
        let mut link = Link::new(f, 9);
        for i in 0..200u32 {
            let mut p = PACKET;
            p[0..4].copy_from_slice(&i.to_be_bytes());
            link.offer(MS * (i * 5), &p);
        }
        let out = drain(&mut link);
        let order: Vec<u32> = out
            .iter()
            .map(|(_, p)| u32::from_be_bytes([p[0], p[1], p[2], p[3]]))
            .collect();
        assert_eq!(
            order,
            (0..200).collect::<Vec<_>>(),
            "jitter does not reorder"
        );
        for (i, (due, _)) in out.iter().enumerate() {
            let sent = MS * (i as u32 * 5);
            assert!(
                *due >= sent + MS * 10 && *due <= sent + MS * 30,
                "packet {i} due {due:?}"
            );
        }
        let spread: std::collections::HashSet<_> = out.iter().map(|(d, _)| *d).collect();
        assert!(spread.len() > 50, "the delays vary");
    }

    #[test]
    fn reordered_packets_overtake() {
        let f = faults(|f| {
            f.delay = MS * 10;
            f.reorder = 0.25;
        });
        let mut link = Link::new(f, 4);
        let fates = offer_many(&mut link, 400);
        let reordered = fates
            .iter()
            .filter(|f| {
                matches!(
                    f,
                    Fate::Held {
                        reordered: true,
                        ..
                    }
                )
            })
            .count();
        assert!((60..140).contains(&reordered), "{reordered} of 400 at 25%");
        let passed = fates.iter().filter(|f| **f == Fate::Pass).count();
        let out = drain(&mut link);
        let late = out.windows(2).filter(|w| w[1].0 < w[0].0).count();
        assert_eq!(late, 0, "the line gives packets in time order");
        assert_eq!(out.len() + passed, 400, "none lost");
    }

    #[test]
    fn duplicates_come_twice_and_corruption_flips_one_bit() {
        let mut link = Link::new(faults(|f| f.duplicate = 1.0), 1);
        assert!(matches!(
            link.offer(Duration::ZERO, &PACKET),
            Fate::Held {
                duplicated: true,
                ..
            }
        ));
        let out = drain(&mut link);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, out[1].1);

        let mut link = Link::new(faults(|f| f.corrupt = 1.0), 1);
        assert!(matches!(
            link.offer(Duration::ZERO, &PACKET),
            Fate::Held {
                corrupted: true,
                ..
            }
        ));
        let (_, p) = drain(&mut link).remove(0);
        let differing: u32 = p
            .iter()
            .zip(PACKET.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(differing, 1);
        let first_changed = p
            .iter()
            .zip(PACKET.iter())
            .position(|(a, b)| a != b)
            .unwrap();
        assert!(
            first_changed >= 20,
            "the IP header (20 bytes) is kept: changed at {first_changed}"
        );
    }

    #[test]
    fn the_first_syns_are_dropped_and_nothing_else() {
        use crate::packet::tests::tcp_packet;
        let mut link = Link::new(faults(|f| f.drop_syn = 2), 1);
        let syn = tcp_packet("10.99.0.2:40000", "10.99.0.1:9999", 1, 0, "S", b"");
        let data = tcp_packet("10.99.0.2:40000", "10.99.0.1:9999", 2, 1, "PA", b"x");
        assert_eq!(
            link.offer(Duration::ZERO, &data),
            Fate::Pass,
            "data is not a SYN"
        );
        assert_eq!(
            link.offer(Duration::ZERO, &syn),
            Fate::Dropped(DropReason::Syn)
        );
        assert_eq!(link.offer(MS * 1000, &syn), Fate::Dropped(DropReason::Syn));
        assert_eq!(
            link.offer(MS * 3000, &syn),
            Fate::Pass,
            "the third one gets through"
        );
        assert_eq!(link.offer(MS * 3001, &syn), Fate::Pass);
        assert!(faults(|f| f.drop_syn = 2)
            .describe()
            .contains("the first 2 SYNs dropped"));
    }

    #[test]
    fn the_delay_line_is_bounded() {
        let mut link = Link::new(faults(|f| f.delay = Duration::from_secs(60)), 1);
        for _ in 0..MAX_HELD {
            assert!(matches!(
                link.offer(Duration::ZERO, &[0x45]),
                Fate::Held { .. }
            ));
        }
        assert_eq!(
            link.offer(Duration::ZERO, &[0x45]),
            Fate::Dropped(DropReason::DelayLineFull)
        );
    }

    #[test]
    fn the_banner_says_what_the_link_does() {
        let f = faults(|f| {
            f.delay = MS * 20;
            f.jitter = MS * 5;
            f.loss = 0.05;
            f.loss_burst = 4.0;
            f.rate = Some(10_000_000);
            f.duplicate = 0.01;
        });
        assert_eq!(
            f.describe(),
            "delay 20ms ±5ms, loss 5% in bursts of 4 on average, rate 10mbit (queue 100 packets), duplicate 1%"
        );
        assert_eq!(rate_text(1_500_000_000), "1.5gbit");
        assert_eq!(rate_text(500_000), "500kbit");
    }
}
