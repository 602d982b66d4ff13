//! A capture turned into what the pictures draw: the TCP connections in it, and for each
//! one its segments in time order, with sequence and acknowledgement numbers made
//! relative (0 at each side's ISN, as Wireshark shows them), what the cable did to each,
//! and which ones were sent again.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::capture::Record;
use crate::packet::{self, Kind, Segment};
use crate::stats::Direction;

/// One segment of a connection, ready to draw.
#[derive(Debug, Clone)]
pub struct Event {
    /// Seconds since the connection's first segment.
    pub t: f64,
    /// 0 when sent by `Connection::ends[0]`, 1 by the other end.
    pub from: usize,
    pub segment: Segment,
    /// Sequence number relative to the sender's ISN.
    pub rel_seq: u32,
    /// Acknowledgement number relative to the receiver's ISN (meaningful with ACK).
    pub rel_ack: u32,
    /// The cable's reason, when it dropped this segment (`loss`, `queue full`).
    pub dropped: Option<String>,
    /// The sender had sent this sequence space before.
    pub retransmission: bool,
}

/// One TCP connection of a capture.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The two ends: `ends[0]` sent the first SYN (the client) when the capture has it.
    pub ends: [SocketAddr; 2],
    pub events: Vec<Event>,
    /// Each end's window scale (from its SYN), 0 without one.
    pub window_scale: [u8; 2],
}

/// The TCP connections of a capture, in the order they began.
pub fn connections(records: &[Record]) -> Vec<Connection> {
    // A connection is its two addresses, and which use of them it is: the same ports can
    // carry a new connection later, which starts with a SYN of another ISN.
    type Key = ((SocketAddr, SocketAddr), usize);
    let mut order: Vec<Key> = Vec::new();
    let mut by_key: HashMap<Key, Vec<(&Record, Segment)>> = HashMap::new();
    let mut current: HashMap<(SocketAddr, SocketAddr), (usize, Option<u32>)> = HashMap::new();
    for r in records {
        if let Kind::Tcp(s) = packet::parse(&r.data) {
            let pair = s.connection();
            let (generation, isn) = current.entry(pair).or_insert((0, None));
            if s.flags.syn && !s.flags.ack {
                if isn.is_some_and(|i| i != s.seq) {
                    *generation += 1;
                }
                *isn = Some(s.seq);
            }
            let key = (pair, *generation);
            let list = by_key.entry(key).or_insert_with(|| {
                order.push(key);
                Vec::new()
            });
            list.push((r, s));
        }
    }
    order
        .iter()
        .filter_map(|key| by_key.get(key).map(|list| connection(list)))
        .collect()
}

fn connection(list: &[(&Record, Segment)]) -> Connection {
    // The client is the end that sent a SYN without ACK; else the first sender.
    let client = list
        .iter()
        .find(|(_, s)| s.flags.syn && !s.flags.ack)
        .map(|(_, s)| s.src)
        .unwrap_or(list[0].1.src);
    let server = if list[0].1.src == client {
        list[0].1.dst
    } else {
        list[0].1.src
    };
    let ends = [client, server];
    let end_of = |a: SocketAddr| usize::from(a != client);
    // Each side's ISN: its SYN's sequence number, or its first segment's.
    let mut isn: [Option<u32>; 2] = [None, None];
    let mut window_scale = [0u8; 2];
    for (_, s) in list {
        let i = end_of(s.src);
        if s.flags.syn {
            isn[i] = Some(s.seq);
            window_scale[i] = s.window_scale.unwrap_or(0);
        }
    }
    for (_, s) in list {
        let i = end_of(s.src);
        isn[i].get_or_insert(s.seq);
    }
    let t0 = list[0].0.at;
    let mut senders: [Direction; 2] = Default::default();
    let events = list
        .iter()
        .map(|(r, s)| {
            let from = end_of(s.src);
            let retransmission = match &r.comment {
                Some(c) if c.contains("retransmission") => true,
                _ => senders[from].arrived(&r.data),
            };
            Event {
                t: r.at.saturating_sub(t0).as_secs_f64(),
                from,
                segment: *s,
                rel_seq: s.seq.wrapping_sub(isn[from].unwrap_or(0)),
                rel_ack: s.ack.wrapping_sub(isn[1 - from].unwrap_or(0)),
                dropped: r
                    .comment
                    .as_deref()
                    .and_then(|c| c.strip_prefix("dropped: "))
                    .map(|c| c.split(';').next().unwrap_or(c).to_string()),
                retransmission,
            }
        })
        .collect();
    // Window scaling is on only when both ends offered it in their SYNs (RFC 7323); a
    // SYN sent twice is still one end.
    let mut offered = [false; 2];
    for (_, s) in list
        .iter()
        .filter(|(_, s)| s.flags.syn && s.window_scale.is_some())
    {
        offered[end_of(s.src)] = true;
    }
    if offered != [true, true] {
        window_scale = [0, 0];
    }
    Connection {
        ends,
        events,
        window_scale,
    }
}

impl Connection {
    /// The label of a segment as the ladder writes it: `SYN seq=0`, `ACK seq=1 ack=1`,
    /// `PSH, ACK seq=1 ack=1 len=6`.
    pub fn label(event: &Event) -> String {
        let s = &event.segment;
        let mut text = format!("{} seq={}", s.flags.label(), event.rel_seq);
        if s.flags.ack {
            text.push_str(&format!(" ack={}", event.rel_ack));
        }
        if s.len > 0 {
            text.push_str(&format!(" len={}", s.len));
        }
        if s.window == 0 && s.flags.ack && !s.flags.syn && !s.flags.rst {
            text.push_str(" win=0");
        }
        text
    }

    /// The end that sent the most data (the bulk sender of a time-sequence graph).
    pub fn bulk_sender(&self) -> usize {
        let bytes = |i: usize| -> u64 {
            self.events
                .iter()
                .filter(|e| e.from == i)
                .map(|e| u64::from(e.segment.len))
                .sum()
        };
        usize::from(bytes(1) > bytes(0))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::packet::tests::tcp_packet;
    use std::time::Duration;

    const C: &str = "10.99.0.2:40000";
    const S: &str = "10.99.0.1:9999";

    pub fn record(ms: u64, data: Vec<u8>, comment: Option<&str>) -> Record {
        Record {
            from: None,
            at: Duration::from_millis(ms),
            data,
            comment: comment.map(str::to_string),
        }
    }

    /// A handshake, one message each way (the first one lost and sent again), and a close.
    pub fn hello() -> Vec<Record> {
        vec![
            record(0, tcp_packet(C, S, 1000, 0, "S", b""), None),
            record(1, tcp_packet(S, C, 5000, 1001, "SA", b""), None),
            record(2, tcp_packet(C, S, 1001, 5001, "A", b""), None),
            record(
                3,
                tcp_packet(C, S, 1001, 5001, "PA", b"li\n"),
                Some("dropped: loss"),
            ),
            record(210, tcp_packet(C, S, 1001, 5001, "PA", b"li\n"), None),
            record(211, tcp_packet(S, C, 5001, 1004, "PA", b"hello,li\n"), None),
            record(212, tcp_packet(C, S, 1004, 5010, "FA", b""), None),
            record(213, tcp_packet(S, C, 5010, 1005, "FA", b""), None),
            record(214, tcp_packet(C, S, 1005, 5011, "A", b""), None),
        ]
    }

    #[test]
    fn numbers_are_relative_and_the_client_comes_first() {
        let cs = connections(&hello());
        assert_eq!(cs.len(), 1);
        let c = &cs[0];
        assert_eq!(c.ends[0].to_string(), C);
        let labels: Vec<String> = c.events.iter().map(Connection::label).collect();
        assert_eq!(labels[0], "SYN seq=0");
        assert_eq!(labels[1], "SYN, ACK seq=0 ack=1");
        assert_eq!(labels[2], "ACK seq=1 ack=1");
        assert_eq!(labels[3], "PSH, ACK seq=1 ack=1 len=3");
        assert_eq!(labels[5], "PSH, ACK seq=1 ack=4 len=9");
        assert_eq!(labels[6], "FIN, ACK seq=4 ack=10");
        assert_eq!(c.events[3].dropped.as_deref(), Some("loss"));
        assert!(!c.events[3].retransmission && c.events[4].retransmission);
        assert_eq!(c.events.iter().filter(|e| e.retransmission).count(), 1);
        assert_eq!(c.events[4].t, 0.210);
        assert_eq!(c.bulk_sender(), 1, "the server sent more");
    }

    #[test]
    fn connections_are_kept_apart() {
        let mut records = hello();
        records.push(record(
            300,
            tcp_packet("10.99.0.2:40001", S, 1, 0, "S", b""),
            None,
        ));
        let cs = connections(&records);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[1].events.len(), 1);
        assert!(connections(&[]).is_empty());
        // The same ports again, with a new ISN: a second connection, not the first one's.
        let mut again = hello();
        again.push(record(400, tcp_packet(C, S, 90_000, 0, "S", b""), None));
        again.push(record(401, tcp_packet(S, C, 7, 90_001, "SA", b""), None));
        let cs = connections(&again);
        assert_eq!(cs.len(), 2);
        assert_eq!(Connection::label(&cs[1].events[1]), "SYN, ACK seq=0 ack=1");
    }

    #[test]
    fn window_scaling_needs_both_ends() {
        use etherparse::{PacketBuilder, TcpOptionElement};
        let syn = |src: &str, dst: &str, seq: u32, ack: Option<u32>, scale: Option<u8>| {
            let (s, d): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let (std::net::IpAddr::V4(si), std::net::IpAddr::V4(di)) = (s.ip(), d.ip()) else {
                panic!()
            };
            let mut b = PacketBuilder::ipv4(si.octets(), di.octets(), 64)
                .tcp(s.port(), d.port(), seq, 100)
                .syn();
            if let Some(a) = ack {
                b = b.ack(a);
            }
            if let Some(sc) = scale {
                b = b.options(&[TcpOptionElement::WindowScale(sc)]).unwrap();
            }
            let mut out = Vec::new();
            b.write(&mut out, &[]).unwrap();
            out
        };
        // The client's SYN twice with a scale, the SYN-ACK without: no scaling.
        let records = vec![
            record(0, syn(C, S, 1, None, Some(7)), None),
            record(1000, syn(C, S, 1, None, Some(7)), None),
            record(1001, syn(S, C, 50, Some(2), None), None),
        ];
        assert_eq!(connections(&records)[0].window_scale, [0, 0]);
        let records = vec![
            record(0, syn(C, S, 1, None, Some(7)), None),
            record(1, syn(S, C, 50, Some(2), Some(9)), None),
        ];
        assert_eq!(connections(&records)[0].window_scale, [7, 9]);
    }
}
