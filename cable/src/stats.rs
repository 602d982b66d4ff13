//! The cable's counts, and the summary it prints at the end: packets and bytes each way,
//! what each fault did, and the TCP segments that crossed twice (retransmissions).
//!
//! A retransmission is recognised where it reaches the cable, before any fault: a segment
//! whose sequence space (data, SYN or FIN) lies wholly at or below what its sender had
//! already sent. That is the sender's doing, not the cable's (its own duplicates come
//! after this count).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use serde::Serialize;

use crate::link::{DropReason, Fate};
use crate::packet::{self, seq_before, Kind};

/// The counts of one direction.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub packets: u64,
    pub bytes: u64,
    pub tcp_segments: u64,
    pub udp_datagrams: u64,
    pub dropped_loss: u64,
    pub dropped_queue_full: u64,
    pub dropped_delay_line_full: u64,
    /// `--drop-syn`.
    pub dropped_syn: u64,
    pub delayed: u64,
    pub reordered: u64,
    pub duplicated: u64,
    pub corrupted: u64,
    /// TCP segments whose sequence space had already been sent.
    pub retransmissions: u64,
}

impl Counts {
    /// All packets dropped, for every reason.
    pub fn dropped(&self) -> u64 {
        DropReason::ALL.iter().map(|&r| self.count_of(r)).sum()
    }

    /// Packets dropped for `reason`.
    pub fn count_of(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::Loss => self.dropped_loss,
            DropReason::QueueFull => self.dropped_queue_full,
            DropReason::DelayLineFull => self.dropped_delay_line_full,
            DropReason::Syn => self.dropped_syn,
        }
    }

    fn dropped_for(&mut self, reason: DropReason) -> &mut u64 {
        match reason {
            DropReason::Loss => &mut self.dropped_loss,
            DropReason::QueueFull => &mut self.dropped_queue_full,
            DropReason::DelayLineFull => &mut self.dropped_delay_line_full,
            DropReason::Syn => &mut self.dropped_syn,
        }
    }
}

/// The counts of one direction, and what it needs to recognise a retransmission.
#[derive(Debug, Default)]
pub struct Direction {
    pub counts: Counts,
    /// For each TCP sender (its address and its peer's), the end of the sequence space sent.
    sent_up_to: HashMap<(SocketAddr, SocketAddr), u32>,
}

/// The most TCP senders followed per direction (a scan or a flood could send millions of
/// one-packet flows; past this, new ones are not followed and none is counted twice).
pub const MAX_FOLLOWED: usize = 100_000;

impl Direction {
    /// Counts a packet as it reaches the cable. Returns true when it is a TCP retransmission.
    pub fn arrived(&mut self, data: &[u8]) -> bool {
        self.counts.packets += 1;
        self.counts.bytes += data.len() as u64;
        match packet::parse(data) {
            Kind::Tcp(s) => {
                self.counts.tcp_segments += 1;
                let retransmitted = self.follow(&s);
                if retransmitted {
                    self.counts.retransmissions += 1;
                }
                retransmitted
            }
            Kind::Udp { .. } => {
                self.counts.udp_datagrams += 1;
                false
            }
            _ => false,
        }
    }

    fn follow(&mut self, s: &packet::Segment) -> bool {
        let len = s.seq_len();
        if len == 0 {
            // A bare ACK (or a window probe without data) takes no sequence space.
            return false;
        }
        let end = s.seq.wrapping_add(len);
        let key = (s.src, s.dst);
        if s.flags.syn {
            // A new connection from this address and port starts a new sequence space;
            // a second SYN with the same ISN is the SYN sent again.
            let again = self.sent_up_to.get(&key) == Some(&end);
            self.remember(key, end);
            return again;
        }
        match self.sent_up_to.get(&key).copied() {
            Some(high) if !seq_before(high, end) => true,
            Some(high) => {
                if seq_before(high, end) {
                    self.sent_up_to.insert(key, end);
                }
                false
            }
            None => {
                self.remember(key, end);
                false
            }
        }
    }

    fn remember(&mut self, key: (SocketAddr, SocketAddr), end: u32) {
        if self.sent_up_to.len() < MAX_FOLLOWED || self.sent_up_to.contains_key(&key) {
            self.sent_up_to.insert(key, end);
        }
    }

    /// Counts what the link did with it.
    pub fn fate(&mut self, fate: &Fate) {
        match fate {
            Fate::Pass => {}
            Fate::Dropped(reason) => *self.counts.dropped_for(*reason) += 1,
            Fate::Held {
                delayed,
                duplicated,
                corrupted,
                reordered,
            } => {
                self.counts.delayed += u64::from(*delayed);
                self.counts.duplicated += u64::from(*duplicated);
                self.counts.corrupted += u64::from(*corrupted);
                self.counts.reordered += u64::from(*reordered);
            }
        }
    }
}

/// Everything the cable counted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub left_to_right: Counts,
    pub right_to_left: Counts,
    /// Seconds the cable ran.
    pub seconds: f64,
}

/// The summary as the cable prints it at the end: one block per direction.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "cable: summary after {:.3} s", summary.seconds);
    for (name, c) in [
        ("left → right", &summary.left_to_right),
        ("right → left", &summary.right_to_left),
    ] {
        let _ = writeln!(
            out,
            "  {name}: {} packets, {} bytes ({} TCP segments, {} UDP datagrams)",
            c.packets, c.bytes, c.tcp_segments, c.udp_datagrams
        );
        let drops: Vec<String> = DropReason::ALL
            .iter()
            .filter_map(|&r| {
                let n = c.count_of(r);
                (n > 0).then(|| format!("{n} by {}", r.as_str()))
            })
            .collect();
        let dropped = if drops.is_empty() {
            "0".to_string()
        } else {
            format!("{} ({})", c.dropped(), drops.join(", "))
        };
        let _ = writeln!(
            out,
            "    dropped {dropped}; delayed {}, reordered {}, duplicated {}, corrupted {}",
            c.delayed, c.reordered, c.duplicated, c.corrupted
        );
        let _ = writeln!(
            out,
            "    TCP segments seen twice (retransmissions): {}",
            c.retransmissions
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::tests::tcp_packet;

    const C: &str = "10.99.0.2:40000";
    const S: &str = "10.99.0.1:9999";

    #[test]
    fn a_segment_sent_again_is_a_retransmission() {
        let mut d = Direction::default();
        assert!(!d.arrived(&tcp_packet(C, S, 100, 0, "S", b"")));
        assert!(
            d.arrived(&tcp_packet(C, S, 100, 0, "S", b"")),
            "the SYN again"
        );
        assert!(
            !d.arrived(&tcp_packet(C, S, 101, 9, "A", b"")),
            "a bare ACK takes no space"
        );
        assert!(!d.arrived(&tcp_packet(C, S, 101, 9, "PA", b"hello")));
        assert!(!d.arrived(&tcp_packet(C, S, 106, 9, "PA", b"world")));
        assert!(
            d.arrived(&tcp_packet(C, S, 101, 9, "PA", b"hello")),
            "the first data again"
        );
        assert!(!d.arrived(&tcp_packet(C, S, 111, 9, "FA", b"")));
        assert!(
            d.arrived(&tcp_packet(C, S, 111, 9, "FA", b"")),
            "the FIN again"
        );
        assert_eq!(d.counts.retransmissions, 3);
        assert_eq!(d.counts.tcp_segments, 8);
        assert_eq!(d.counts.packets, 8);
    }

    #[test]
    fn sequence_numbers_that_wrap_are_followed() {
        let mut d = Direction::default();
        let isn = u32::MAX - 2;
        assert!(!d.arrived(&tcp_packet(C, S, isn, 0, "S", b"")));
        assert!(!d.arrived(&tcp_packet(C, S, isn.wrapping_add(1), 1, "PA", b"abcdef")));
        assert!(d.arrived(&tcp_packet(C, S, isn.wrapping_add(1), 1, "PA", b"abcdef")));
        assert!(!d.arrived(&tcp_packet(C, S, 4, 1, "PA", b"x")));
    }

    #[test]
    fn a_new_connection_from_the_same_port_starts_over() {
        let mut d = Direction::default();
        d.arrived(&tcp_packet(C, S, 5000, 0, "S", b""));
        d.arrived(&tcp_packet(C, S, 5001, 0, "PA", b"data"));
        assert!(
            !d.arrived(&tcp_packet(C, S, 10, 0, "S", b"")),
            "another ISN: a new connection"
        );
        assert!(!d.arrived(&tcp_packet(C, S, 11, 0, "PA", b"data")));
        assert_eq!(d.counts.retransmissions, 0);
    }

    #[test]
    fn fates_are_counted_by_kind() {
        let mut d = Direction::default();
        d.fate(&Fate::Dropped(DropReason::Loss));
        d.fate(&Fate::Dropped(DropReason::QueueFull));
        d.fate(&Fate::Dropped(DropReason::QueueFull));
        d.fate(&Fate::Held {
            delayed: true,
            duplicated: true,
            corrupted: false,
            reordered: true,
        });
        d.fate(&Fate::Pass);
        let c = &d.counts;
        assert_eq!(
            (c.dropped_loss, c.dropped_queue_full, c.dropped()),
            (1, 2, 3)
        );
        assert_eq!(
            (c.delayed, c.duplicated, c.corrupted, c.reordered),
            (1, 1, 0, 1)
        );
        let text = render(&Summary {
            left_to_right: c.clone(),
            right_to_left: Counts::default(),
            seconds: 1.5,
        });
        assert!(
            text.contains("dropped 3 (1 by loss, 2 by queue full)"),
            "{text}"
        );
        assert!(text.contains("right → left: 0 packets"), "{text}");
        assert!(text.contains("after 1.500 s"), "{text}");
    }
}
