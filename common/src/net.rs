//! # Making sockets, one system call at a time
//!
//! `TcpListener::bind` in Rust's std (like `socket.socket()` + `bind` + `listen` in Python)
//! hides four system calls and two decisions. We make each one visible with the `socket2`
//! crate, because each is a lesson:
//!
//! 1. `socket()`: make an endpoint of the right family (IPv4 or IPv6) and type (stream = TCP).
//! 2. `setsockopt(SO_REUSEADDR)`: allow `bind` while old connections on this port are still
//!    in `TIME_WAIT`. Without it, a server restarted within a minute or so of closing
//!    connections fails with "address already in use" — the tutorial's `tcp.py` has this
//!    problem. (On Linux a `TIME_WAIT` connection keeps the flag of the server it came
//!    from, and both must have it: so a server sets it *always*, not just when restarting.)
//!    On by default; `--no-reuse-addr` shows the failure. On Windows the same name means
//!    "let another program bind this port while I listen on it", so there we set
//!    `SO_EXCLUSIVEADDRUSE` instead ([`crate::os::set_address_reuse`]).
//! 3. `setsockopt(SO_REUSEPORT)` (Linux, macOS): let several sockets listen on one port;
//!    Linux spreads new connections between them. Off by default; Windows has no such
//!    option.
//! 4. `bind()`: attach the socket to a local address and port. Port 0 asks the kernel for
//!    any free port (tests use this, then ask the listener which port it got).
//! 5. `listen(backlog)`: start accepting. The backlog is the queue of connections the kernel
//!    has completed but the program has not yet `accept()`ed. The tutorial's `listen(5)` is a
//!    queue of five; ours defaults to 128 (`--backlog 5` shows what a burst does to five).
//!
//! For connected streams we also turn on `TCP_NODELAY`: our programs write each message in
//! one call, so Nagle's algorithm (which holds back small writes hoping to merge them) would
//! only add delay — up to the peer's delayed-ACK time, about 40 ms, when two replies go out
//! back to back.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::Endpoint;

/// The default listen backlog.
pub const DEFAULT_BACKLOG: i32 = 128;

/// How a listening socket is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenOptions {
    /// Length of the queue of connections completed but not yet accepted.
    pub backlog: i32,
    /// `SO_REUSEADDR`: bind even while old connections linger in `TIME_WAIT`.
    pub reuse_addr: bool,
    /// `SO_REUSEPORT`: several sockets may listen on the same port.
    pub reuse_port: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: DEFAULT_BACKLOG,
            reuse_addr: true,
            reuse_port: false,
        }
    }
}

/// A failed network operation, said the way a person needs it: what failed, on which
/// address, why, and what to try.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {} ({hint})", describe(.source))]
pub struct NetError {
    /// e.g. `could not listen on 127.0.0.1:9999`
    pub what: String,
    pub source: io::Error,
    pub hint: String,
}

// ANCHOR: tcp_listener
/// Makes a listening TCP socket on `addr`, step by step (see the module docs).
pub fn tcp_listener(addr: SocketAddr, opts: &ListenOptions) -> io::Result<TcpListener> {
    // 1. socket(): a TCP endpoint of the address's family.
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // 2. setsockopt(SO_REUSEADDR): restart without waiting for TIME_WAIT to pass.
    //    (On Windows, SO_EXCLUSIVEADDRUSE instead: there SO_REUSEADDR would let another
    //    program take our port. See `os::set_address_reuse`.)
    crate::os::set_address_reuse(&socket, opts.reuse_addr)?;
    // 3. setsockopt(SO_REUSEPORT): share the port with other listeners (Linux, macOS; on
    //    Windows, which has no such option, asking for it fails with a clear error).
    crate::os::set_port_reuse(&socket, opts.reuse_port)?;
    // 4. bind(): take the address and port (port 0 = any free port).
    socket.bind(&addr.into())?;
    // 5. listen(): the kernel now completes handshakes and queues up to `backlog` of them.
    socket.listen(opts.backlog)?;
    // From here on it is an ordinary std listener.
    Ok(socket.into())
}
// ANCHOR_END: tcp_listener

/// Resolves `endpoint` and listens on the first address that works, with a [`NetError`]
/// that says what to try when none does.
pub fn listen(endpoint: &Endpoint, opts: &ListenOptions) -> Result<TcpListener, NetError> {
    bind_first(endpoint, opts, |addr| tcp_listener(addr, opts))
}

/// Looks `endpoint` up and binds the first of its addresses that `bind` accepts: a name
/// like `localhost` can give `::1` and `127.0.0.1`, and one of them may be unusable. The
/// error is the last address's, explained as [`bind_error`] does. TCP's [`listen`] and
/// UDP's `udp::bind` both come here, so a name means the same to every server.
pub fn bind_first<T>(
    endpoint: &Endpoint,
    opts: &ListenOptions,
    mut bind: impl FnMut(SocketAddr) -> io::Result<T>,
) -> Result<T, NetError> {
    let addrs = endpoint.resolve().map_err(|e| lookup_error(endpoint, e))?;
    let mut last = None;
    for addr in addrs {
        match bind(addr) {
            Ok(bound) => return Ok(bound),
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = last.unwrap_or_else(|| {
        (
            SocketAddr::from(([127, 0, 0, 1], endpoint.port)),
            io::Error::new(io::ErrorKind::NotFound, "no address"),
        )
    });
    Err(bind_error(addr, e, opts))
}

/// The error for a failed `bind`/`listen`, with advice that fits the cause.
pub fn bind_error(addr: SocketAddr, e: io::Error, opts: &ListenOptions) -> NetError {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse if !opts.reuse_addr => format!(
            "another program listens on port {port}, or old connections are still in TIME_WAIT \
             (about a minute on Linux): wait, drop --no-reuse-addr, or use another port",
            port = addr.port()
        ),
        io::ErrorKind::AddrInUse => format!(
            "another program listens on port {port}, or one without SO_REUSEADDR left connections in \
             TIME_WAIT: stop it or wait a minute, or use another port, e.g. {ip}:{next}, or port 0 for any",
            port = addr.port(),
            ip = ip_for_display(addr),
            next = addr.port().wrapping_add(1)
        ),
        io::ErrorKind::AddrNotAvailable => {
            "this machine has no such address: use 127.0.0.1, 0.0.0.0 (every interface) or one of `ip addr`".into()
        }
        io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: use a port of 1024 or more".into()
        }
        io::ErrorKind::Unsupported if opts.reuse_port => {
            "drop --reuse-port: this system has no such option".into()
        }
        _ => "check the address".into(),
    };
    NetError {
        what: format!("could not listen on {addr}"),
        source: e,
        hint,
    }
}

fn lookup_error(endpoint: &Endpoint, e: io::Error) -> NetError {
    NetError {
        what: format!("could not look up {endpoint}"),
        source: e,
        hint: "check the host name, or use an IP address".into(),
    }
}

fn ip_for_display(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    }
}

/// Connects to `endpoint`, trying each address it resolves to, each for at most `timeout`.
/// `server_name` goes into the hint ("is tcp-server running?").
pub fn connect(
    endpoint: &Endpoint,
    timeout: Duration,
    server_name: &str,
) -> Result<TcpStream, NetError> {
    let addrs = endpoint.resolve().map_err(|e| lookup_error(endpoint, e))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                tune_stream(&stream);
                return Ok(stream);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    let (addr, e) = last.unwrap_or_else(|| {
        (
            SocketAddr::from(([127, 0, 0, 1], endpoint.port)),
            io::Error::new(io::ErrorKind::NotFound, "no address"),
        )
    });
    Err(connect_error(addr, e, timeout, server_name))
}

/// The error for a failed `connect`, with advice that fits the cause.
pub fn connect_error(
    addr: SocketAddr,
    e: io::Error,
    timeout: Duration,
    server_name: &str,
) -> NetError {
    let hint = match e.kind() {
        io::ErrorKind::ConnectionRefused => format!("is {server_name} running?"),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
            "no answer in {:.1} s: is the address right? is a firewall dropping packets?",
            timeout.as_secs_f64()
        ),
        io::ErrorKind::AddrNotAvailable if addr.port() == 0 => {
            "port 0 means 'any port' when listening; a client needs the server's real port".into()
        }
        io::ErrorKind::ConnectionReset => format!(
            "{server_name} closed the connection at once: its backlog may be full; try again"
        ),
        _ => "check the address and the network".into(),
    };
    NetError {
        what: format!("could not connect to {addr}"),
        source: e,
        hint,
    }
}

/// Options every connected stream gets. Failures here only cost speed, never correctness,
/// so they are ignored.
pub fn tune_stream(stream: &TcpStream) {
    // Each of our writes is a whole message: send it now, do not wait to merge it (Nagle).
    let _ = stream.set_nodelay(true);
}

/// Makes the next close of `stream` an abort: `SO_LINGER` with a zero timeout, so
/// `close()` sends RST at once instead of FIN, and leaves no TIME_WAIT behind.
/// Any TCP stream will do: std's, or mio's in an event loop.
pub fn abort_on_close<S>(stream: &S) -> io::Result<()>
where
    for<'s> socket2::SockRef<'s>: From<&'s S>,
{
    socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO))
}

/// A read or write timeout ran out (`SO_RCVTIMEO`/`SO_SNDTIMEO`: Unix reports `EAGAIN`,
/// which Rust calls `WouldBlock`; Windows `WSAETIMEDOUT`, which Rust calls `TimedOut`).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The peer reset the connection, or closed it while we were writing.
pub fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// A short, lower-case description of an I/O error, without Rust's "(os error N)" noise.
pub fn describe(e: &io::Error) -> String {
    use io::ErrorKind::*;
    let text = match e.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        BrokenPipe => "the peer closed the connection (broken pipe)",
        AddrInUse => "address already in use",
        AddrNotAvailable => "address not available",
        TimedOut | WouldBlock => "timed out",
        PermissionDenied => "permission denied",
        NotConnected => "not connected",
        UnexpectedEof => "unexpected end of stream",
        _ => return e.to_string(),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_v4_and_v6_and_reports_the_port() {
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let l = tcp_listener(addr.parse().unwrap(), &ListenOptions::default()).unwrap();
            let got = l.local_addr().unwrap();
            assert_ne!(got.port(), 0);
            let _c = TcpStream::connect(got).unwrap();
            let (_, peer) = l.accept().unwrap();
            assert_eq!(peer.is_ipv6(), got.is_ipv6());
        }
    }

    #[test]
    fn a_busy_port_says_so_and_what_to_try() {
        let first =
            tcp_listener("127.0.0.1:0".parse().unwrap(), &ListenOptions::default()).unwrap();
        let port = first.local_addr().unwrap().port();
        let ep = Endpoint::parse(&format!("127.0.0.1:{port}")).unwrap();
        let err = listen(&ep, &ListenOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!(
                "could not listen on 127.0.0.1:{port}: address already in use ("
            )),
            "{err}"
        );
        assert!(err.contains("another port"), "{err}");
    }

    /// Listens on a fresh port, serves one connection that the server closes first (so
    /// the server's side waits in TIME_WAIT), then closes the listener. Returns the address.
    fn leave_time_wait(opts: &ListenOptions) -> SocketAddr {
        use std::io::Read;
        let listener = tcp_listener("127.0.0.1:0".parse().unwrap(), opts).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        drop(accepted); // the server closes first: its side goes to TIME_WAIT
        assert_eq!(client.read(&mut [0u8; 1]).unwrap(), 0);
        addr
    }

    /// The tutorial's restart problem: a server without SO_REUSEADDR cannot be restarted
    /// while its old connections wait in TIME_WAIT. (Linux and macOS; Windows allows it.)
    #[cfg(unix)]
    #[test]
    fn without_reuse_addr_a_restart_fails_during_time_wait() {
        let no_reuse = ListenOptions {
            reuse_addr: false,
            ..ListenOptions::default()
        };
        let addr = leave_time_wait(&no_reuse);
        let err = tcp_listener(addr, &no_reuse).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        let hint = bind_error(addr, err, &no_reuse).to_string();
        assert!(
            hint.contains("TIME_WAIT") && hint.contains("--no-reuse-addr"),
            "{hint}"
        );
    }

    /// Ours: with SO_REUSEADDR (on both the old and the new server, as Linux requires),
    /// the restart works at once.
    #[test]
    fn with_reuse_addr_a_restart_works_during_time_wait() {
        let addr = leave_time_wait(&ListenOptions::default());
        assert!(tcp_listener(addr, &ListenOptions::default()).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn reuse_port_lets_two_listeners_share() {
        let opts = ListenOptions {
            reuse_port: true,
            ..ListenOptions::default()
        };
        let a = tcp_listener("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
        let b = tcp_listener(a.local_addr().unwrap(), &opts);
        assert!(b.is_ok(), "{b:?}");
    }

    #[test]
    fn refused_connection_names_the_server() {
        // Bind, learn the port, close: nobody listens there now.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ep = Endpoint::parse(&format!("127.0.0.1:{port}")).unwrap();
        let err = connect(&ep, Duration::from_secs(2), "tcp-server")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("could not connect to 127.0.0.1:{port}: connection refused (is tcp-server running?)")
        );
    }
}

#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    /// On Windows, a second program asking for SO_REUSEADDR must not get our port.
    #[test]
    fn another_socket_cannot_take_a_listening_port() {
        let ours = tcp_listener("127.0.0.1:0".parse().unwrap(), &ListenOptions::default()).unwrap();
        let addr = ours.local_addr().unwrap();
        let thief = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        thief.set_reuse_address(true).unwrap();
        assert!(
            thief.bind(&addr.into()).is_err(),
            "another socket bound {addr}"
        );
    }

    #[test]
    fn reuse_port_is_refused_with_a_reason() {
        let opts = ListenOptions {
            reuse_port: true,
            ..ListenOptions::default()
        };
        let err = tcp_listener("127.0.0.1:0".parse().unwrap(), &opts).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        assert!(
            err.to_string().contains("not available on this system"),
            "{err}"
        );
    }
}
