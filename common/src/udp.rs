//! # UDP: datagrams, their sizes, and the ones the kernel drops
//!
//! UDP keeps what TCP loses and loses what TCP keeps. A datagram arrives whole or not at
//! all, so boundaries are never a problem — one `send_to` is one `recv_from`. But nothing
//! is retransmitted: a datagram dropped by a full queue or a bad network is simply gone,
//! and neither side is told.
//!
//! Three lessons live in this module:
//!
//! - **Making the socket** ([`udp_socket`]): `socket(SOCK_DGRAM)`, `setsockopt(SO_RCVBUF)`,
//!   `bind`. No `listen`, no `accept`: there are no connections.
//! - **Truncation** ([`Receiver`]): `recvfrom(buf)` with a buffer smaller than the
//!   datagram silently cuts it — the tutorial's `recvfrom(1024)` does. A buffer that can
//!   hold the largest possible datagram ([`MAX_DATAGRAM`]) can never be cut; with a smaller
//!   one the cut is always detected, each system its own way
//!   ([`crate::os::recv_detecting_truncation`]): Linux tells the real size
//!   (`MSG_PEEK | MSG_TRUNC`), macOS sets `MSG_TRUNC` in `recvmsg`'s flags, Windows fails
//!   the receive with `WSAEMSGSIZE`.
//! - **Kernel drops** ([`kernel_drops`]): when datagrams arrive faster than the program
//!   reads them, the socket's receive queue (`SO_RCVBUF`) fills and the kernel drops the
//!   rest. Linux counts them per socket in `/proc/net/udp`; macOS and Windows do not say
//!   per socket, and the summary says so.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::Endpoint;
use crate::net::{self, ListenOptions, NetError};

/// The largest UDP payload: 65,535 (the 16-bit length) minus the 8-byte UDP header for
/// IPv6. (IPv4 also spends 20 bytes on its own header: 65,507.) A receive buffer this large
/// never truncates.
pub const MAX_DATAGRAM: usize = 65_527;
/// The largest UDP payload over IPv4.
pub const MAX_DATAGRAM_V4: usize = 65_507;

/// How a UDP socket is set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpOptions {
    /// `SO_RCVBUF`: the kernel's receive queue for this socket, in bytes (the kernel may
    /// double it, and caps it at `net.core.rmem_max`). `None`: the system default.
    pub recv_buffer: Option<usize>,
}

/// Binds a UDP socket on the first address of `endpoint` that works (see
/// [`net::bind_first`]), with the same explained errors as a TCP server's.
pub fn bind(endpoint: &Endpoint, opts: &UdpOptions) -> Result<UdpSocket, NetError> {
    net::bind_first(endpoint, &ListenOptions::default(), |addr| {
        udp_socket(addr, opts)
    })
}

/// Makes a bound UDP socket, one system call at a time.
pub fn udp_socket(addr: SocketAddr, opts: &UdpOptions) -> io::Result<UdpSocket> {
    // 1. socket(): a datagram endpoint of the address's family.
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // 2. setsockopt(SO_RCVBUF): how many bytes of datagrams the kernel holds for us before
    //    it starts dropping. Set before bind, so no datagram arrives with the old size.
    if let Some(size) = opts.recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    // 3. bind(): take the address and port. From now on datagrams sent there are queued.
    //    (UDP and TCP ports are separate: UDP 9999 and TCP 9999 can both be bound.)
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The receive buffer size the kernel really gave the socket.
pub fn recv_buffer_size(socket: &UdpSocket) -> io::Result<usize> {
    socket2::SockRef::from(socket).recv_buffer_size()
}

/// One datagram received.
pub type Datagram = crate::os::Received;

/// Receives datagrams into a buffer of a chosen size, detecting truncation.
#[derive(Debug)]
pub struct Receiver {
    buf: Vec<u8>,
}

impl Receiver {
    /// A receiver whose buffer holds `size` bytes (the program's `--buffer`).
    pub fn new(size: usize) -> Receiver {
        Receiver { buf: vec![0; size] }
    }

    /// The buffer's size.
    pub fn size(&self) -> usize {
        self.buf.len()
    }

    /// Waits for one datagram. The bytes are in [`bytes`](Self::bytes) until the next call.
    // ANCHOR: recv
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<Datagram> {
        if self.buf.len() < MAX_DATAGRAM {
            // A datagram may not fit: ask the system, its own way, whether it was cut.
            return crate::os::recv_detecting_truncation(socket, &mut self.buf);
        }
        // Nothing can be cut: no need to ask.
        let (len, from) = socket.recv_from(&mut self.buf)?;
        Ok(Datagram {
            len,
            truncated: false,
            sent_len: Some(len),
            from,
        })
    }
    // ANCHOR_END: recv

    /// The bytes of the last datagram received.
    pub fn bytes(&self, datagram: &Datagram) -> &[u8] {
        &self.buf[..datagram.len]
    }
}

/// How many datagrams the kernel dropped for this socket because its receive queue was
/// full: the `drops` column of `/proc/net/udp` (or `udp6`). `None` where the system does not
/// say (every system but Linux).
pub fn kernel_drops(socket: &UdpSocket) -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let local = socket.local_addr().ok()?;
    let table = match local {
        SocketAddr::V4(_) => "/proc/net/udp",
        SocketAddr::V6(_) => "/proc/net/udp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    let port = format!(":{:04X}", local.port());
    // Columns: sl local_address rem_address st tx:rx tr tm->when retrnsmt uid timeout inode
    // ref pointer drops. Our socket is the one whose local address ends with our port.
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.get(1)?.ends_with(&port) {
            cols.last()?.parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = udp_socket("127.0.0.1:0".parse().unwrap(), &UdpOptions::default()).unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        (a, b)
    }

    #[test]
    fn a_small_buffer_detects_the_cut_and_knows_both_sizes() {
        let (server, client) = pair();
        client
            .send_to(&[7u8; 5000], server.local_addr().unwrap())
            .unwrap();
        let mut r = Receiver::new(1024);
        let d = r.recv(&server).unwrap();
        assert_eq!(d.len, 1024);
        assert!(d.truncated);
        if cfg!(target_os = "linux") {
            assert_eq!(d.sent_len, Some(5000));
        }
        assert_eq!(r.bytes(&d), &[7u8; 1024][..]);
    }

    #[test]
    fn a_full_size_buffer_never_cuts_even_the_largest_datagram() {
        let (server, client) = pair();
        client
            .send_to(&vec![1u8; MAX_DATAGRAM_V4], server.local_addr().unwrap())
            .unwrap();
        client.send_to(b"", server.local_addr().unwrap()).unwrap();
        let mut r = Receiver::new(65_535);
        let d = r.recv(&server).unwrap();
        assert_eq!((d.len, d.truncated), (MAX_DATAGRAM_V4, false));
        let empty = r.recv(&server).unwrap();
        assert_eq!((empty.len, empty.truncated), (0, false));
    }

    #[test]
    fn udp_and_tcp_can_share_a_port_number() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        assert!(udp_socket(addr, &UdpOptions::default()).is_ok());
    }

    #[test]
    fn receive_buffer_size_is_set_and_kernel_drops_are_read() {
        let opts = UdpOptions {
            recv_buffer: Some(64 * 1024),
        };
        let s = udp_socket("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        // Linux doubles the value for its bookkeeping.
        assert!(recv_buffer_size(&s).unwrap() >= 64 * 1024);
        if cfg!(target_os = "linux") {
            assert_eq!(kernel_drops(&s), Some(0));
        } else {
            assert_eq!(kernel_drops(&s), None);
        }
    }
}
