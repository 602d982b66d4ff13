//! What the cable and its pictures read in a packet: the addresses, and for TCP the
//! flags, sequence and acknowledgement numbers, window and payload length.
//!
//! etherparse takes the headers apart; this file keeps only what the summary and the
//! pictures use, so that they never touch raw bytes.

use std::net::{IpAddr, SocketAddr};

use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};

/// One TCP segment, as far as the lessons need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    /// The window field as sent (before scaling).
    pub window: u16,
    /// Bytes of data.
    pub len: u32,
    /// The window scale option (SYN and SYN-ACK only).
    pub window_scale: Option<u8>,
    /// The MSS option (SYN and SYN-ACK only).
    pub mss: Option<u16>,
}

/// The TCP flags the lessons name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
}

impl Flags {
    /// As Wireshark writes them: `SYN`, `SYN, ACK`, `FIN, ACK`, `PSH, ACK`.
    pub fn label(&self) -> String {
        let names = [
            (self.syn, "SYN"),
            (self.fin, "FIN"),
            (self.rst, "RST"),
            (self.psh, "PSH"),
            (self.ack, "ACK"),
        ];
        names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Segment {
    /// How much sequence space it takes: its data, plus one for a SYN and one for a FIN.
    pub fn seq_len(&self) -> u32 {
        self.len + u32::from(self.flags.syn) + u32::from(self.flags.fin)
    }

    /// The connection it belongs to, the same both ways: (lower address, higher address).
    pub fn connection(&self) -> (SocketAddr, SocketAddr) {
        if self.src <= self.dst {
            (self.src, self.dst)
        } else {
            (self.dst, self.src)
        }
    }
}

/// What kind of packet this is, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tcp(Segment),
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        len: usize,
    },
    Icmp {
        src: IpAddr,
        dst: IpAddr,
    },
    /// Anything else (IPv6 neighbour discovery, IGMP, a packet too short to read).
    Other,
}

/// Reads an IP packet (no link-layer header, as a TUN device gives them).
pub fn parse(packet: &[u8]) -> Kind {
    let Ok(sliced) = SlicedPacket::from_ip(packet) else {
        return Kind::Other;
    };
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match &sliced.net {
        Some(NetSlice::Ipv4(ip)) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        Some(NetSlice::Ipv6(ip)) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        _ => return Kind::Other,
    };
    match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let mut window_scale = None;
            let mut mss = None;
            for option in tcp.options_iterator().flatten() {
                match option {
                    TcpOptionElement::WindowScale(s) => window_scale = Some(s),
                    TcpOptionElement::MaximumSegmentSize(m) => mss = Some(m),
                    _ => {}
                }
            }
            Kind::Tcp(Segment {
                src: SocketAddr::new(src_ip, tcp.source_port()),
                dst: SocketAddr::new(dst_ip, tcp.destination_port()),
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: Flags {
                    syn: tcp.syn(),
                    ack: tcp.ack(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                    psh: tcp.psh(),
                },
                window: tcp.window_size(),
                len: tcp.payload().len() as u32,
                window_scale,
                mss,
            })
        }
        Some(TransportSlice::Udp(udp)) => Kind::Udp {
            src: SocketAddr::new(src_ip, udp.source_port()),
            dst: SocketAddr::new(dst_ip, udp.destination_port()),
            len: udp.payload().len(),
        },
        Some(TransportSlice::Icmpv4(_)) | Some(TransportSlice::Icmpv6(_)) => Kind::Icmp {
            src: src_ip,
            dst: dst_ip,
        },
        _ => Kind::Other,
    }
}

/// `a` comes before `b` in sequence space (RFC 793's modular comparison).
pub fn seq_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    /// A TCP/IPv4 packet for the tests: `flags` like "SA" (S, A, F, R, P).
    pub fn tcp_packet(
        src: &str,
        dst: &str,
        seq: u32,
        ack: u32,
        flags: &str,
        payload: &[u8],
    ) -> Vec<u8> {
        let (s, d): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        let (IpAddr::V4(sip), IpAddr::V4(dip)) = (s.ip(), d.ip()) else {
            panic!("IPv4 only")
        };
        let mut b =
            PacketBuilder::ipv4(sip.octets(), dip.octets(), 64).tcp(s.port(), d.port(), seq, 64240);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        if flags.contains('F') {
            b = b.fin();
        }
        if flags.contains('R') {
            b = b.rst();
        }
        if flags.contains('P') {
            b = b.psh();
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn a_segment_is_read_back() {
        let p = tcp_packet(
            "10.99.0.2:40000",
            "10.99.0.1:9999",
            1000,
            2000,
            "PA",
            b"hello",
        );
        let Kind::Tcp(s) = parse(&p) else {
            panic!("not TCP")
        };
        assert_eq!(s.src, "10.99.0.2:40000".parse().unwrap());
        assert_eq!(s.dst, "10.99.0.1:9999".parse().unwrap());
        assert_eq!((s.seq, s.ack, s.len, s.window), (1000, 2000, 5, 64240));
        assert_eq!(s.flags.label(), "PSH, ACK");
        assert_eq!(s.seq_len(), 5);
        let syn = tcp_packet("10.99.0.2:40000", "10.99.0.1:9999", 7, 0, "S", b"");
        let Kind::Tcp(s) = parse(&syn) else {
            panic!("not TCP")
        };
        assert_eq!((s.flags.label(), s.seq_len()), ("SYN".to_string(), 1));
        assert_eq!(
            s.connection(),
            (
                "10.99.0.1:9999".parse().unwrap(),
                "10.99.0.2:40000".parse().unwrap()
            )
        );
    }

    #[test]
    fn garbage_is_other() {
        assert_eq!(parse(b""), Kind::Other);
        assert_eq!(parse(&[0x45, 0, 0]), Kind::Other);
        assert_eq!(parse(&[0x60; 3]), Kind::Other);
    }

    #[test]
    fn sequence_numbers_wrap() {
        assert!(seq_before(1, 2));
        assert!(!seq_before(2, 1));
        assert!(seq_before(u32::MAX - 5, 3));
        assert!(!seq_before(3, 3));
    }
}
