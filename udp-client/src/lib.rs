//! # The UDP client: the tutorial's `udp_user.py`, done right
//!
//! The tutorial's client sends `hello!` and waits for the reply with `recv(1024)` — with no
//! timeout: if the datagram or its reply is lost, it waits forever. UDP never resends
//! anything, so a UDP client must decide for itself how long to wait and whether to try
//! again. This one:
//!
//! - waits `--timeout` (1 s) for each reply and resends up to `--retries` times; when no
//!   reply comes it says why that happens with UDP, and exits 1;
//! - *connects* its socket to the server. For UDP, `connect` sends nothing: it fixes the
//!   destination and lets the kernel report an ICMP "port unreachable" (nothing listens on
//!   that port) as an error on the next `recv` — reported as "no server at ADDR";
//! - matches replies to requests: a late reply to an earlier request is recognised and
//!   skipped, not taken for the answer to the current one.
//!
//! Modes: messages ([`run_messages`]), ping ([`ping`]: sequence numbers, RTT, loss,
//! duplicates, reordering, jitter) and rate ([`rate`]: a steady flood from one thread, the
//! replies counted on another).

pub mod check;
pub mod loss;
pub mod ping;
pub mod rate;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::addr::Endpoint;
use common::output::{self, printable, Log};
use common::udp::MAX_DATAGRAM;

/// The tutorial's message.
pub const DEFAULT_MESSAGE: &str = "hello!";

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: Endpoint,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// How many times to resend a request that got no reply.
    pub retries: u32,
    pub trace: bool,
    /// No event lines on stderr (replies and results are still printed).
    pub quiet: bool,
}

/// Why a client run failed: one line each, saying what to try.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Usage(String),
    /// `--check` could not run: a bad targets file, or a server that could not be graded.
    #[error("{0}")]
    Check(#[from] common::grade::class::CheckError),
    #[error("could not look up {addr}: {err}")]
    Lookup { addr: String, err: io::Error },
    #[error("{what} {addr}: {}", common::net::describe(.err))]
    Io {
        what: &'static str,
        addr: SocketAddr,
        err: io::Error,
    },
    #[error("no server at {addr}: the host answered that nothing listens on that UDP port (ICMP port unreachable); is udp-server running?")]
    NoServer { addr: SocketAddr },
    #[error(
        "no reply from {addr} after {tries} {}, {:.1} s each: UDP never resends, so a lost request or reply \
         is simply gone; or the server is down on a host that does not answer (a firewall drops the datagrams). \
         Try --retries or a longer --timeout",
        if *.tries == 1 { "try" } else { "tries" },
        .timeout.as_secs_f64()
    )]
    NoReply {
        addr: SocketAddr,
        tries: u32,
        timeout: Duration,
    },
}

impl ClientError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => common::EXIT_USAGE as u8,
            ClientError::Check(e) => e.exit_code(),
            _ => common::EXIT_FAILURE as u8,
        }
    }
}

/// A UDP socket connected to the server.
pub struct Client {
    socket: UdpSocket,
    peer: SocketAddr,
    log: Log,
    trace: bool,
    buf: Vec<u8>,
    /// The receive timeout the socket has now (setting it is a system call: only on change).
    timeout_set: Option<Duration>,
}

/// A receive timeout closer than this to the one already set is left as it is.
const TIMEOUT_SLACK: Duration = Duration::from_millis(1);

impl Client {
    /// Makes a socket and connects it to the server (no packet is sent).
    pub fn connect(opts: &Options) -> Result<Client, ClientError> {
        let peer = *opts
            .addr
            .resolve()
            .map_err(|err| ClientError::Lookup {
                addr: opts.addr.to_string(),
                err,
            })?
            .first()
            .ok_or_else(|| ClientError::Usage(format!("{} has no address", opts.addr)))?;
        if peer.port() == 0 {
            return Err(ClientError::Usage(
                "port 0 means 'any port' when listening; a client needs the server's real port"
                    .into(),
            ));
        }
        // Any local address and port of the same family: the kernel picks them.
        let local: SocketAddr = match peer {
            SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let io_err = |what| {
            move |err| ClientError::Io {
                what,
                addr: peer,
                err,
            }
        };
        let socket = UdpSocket::bind(local).map_err(io_err("could not make a socket for"))?;
        socket
            .connect(peer)
            .map_err(io_err("could not connect to"))?;
        let log = Log::stderr(opts.quiet);
        let me = socket
            .local_addr()
            .map_or_else(|_| "?".into(), |a| a.to_string());
        log.info(format_args!(
            "UDP socket {me} -> {peer} (connected: no packet sent, only the destination fixed)"
        ));
        Ok(Client {
            socket,
            peer,
            log,
            trace: opts.trace,
            buf: vec![0; MAX_DATAGRAM],
            timeout_set: None,
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// Sends one datagram.
    pub fn send(&self, msg: &[u8]) -> Result<(), ClientError> {
        if self.trace {
            output::trace(&self.peer, "send", msg);
        }
        match self.socket.send(msg) {
            Ok(_) => Ok(()),
            Err(e) if common::os::is_port_unreachable(&e) => {
                Err(ClientError::NoServer { addr: self.peer })
            }
            Err(err) => Err(ClientError::Io {
                what: "could not send to",
                addr: self.peer,
                err,
            }),
        }
    }

    /// Waits at most `timeout` for a datagram; `None` when none came.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<&[u8]>, ClientError> {
        // A zero timeout would mean "block forever" to the socket: wait a microsecond.
        let timeout = timeout.max(Duration::from_micros(1));
        let close_enough = self
            .timeout_set
            .is_some_and(|t| t.abs_diff(timeout) < TIMEOUT_SLACK);
        if !close_enough {
            self.socket
                .set_read_timeout(Some(timeout))
                .map_err(|err| ClientError::Io {
                    what: "could not set a timeout for",
                    addr: self.peer,
                    err,
                })?;
            self.timeout_set = Some(timeout);
        }
        match self.socket.recv(&mut self.buf) {
            Ok(n) => {
                if self.trace {
                    output::trace(&self.peer, "recv", &self.buf[..n]);
                }
                Ok(Some(&self.buf[..n]))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) if common::os::is_port_unreachable(&e) => {
                Err(ClientError::NoServer { addr: self.peer })
            }
            Err(err) => Err(ClientError::Io {
                what: "could not receive from",
                addr: self.peer,
                err,
            }),
        }
    }
}

/// Sends each message and prints its reply. A message is resent after `--timeout` without
/// a reply, up to `--retries` times. A reply that does not contain the message (a late or
/// duplicated reply to an earlier one) is skipped. Returns the replies.
pub fn run_messages(opts: &Options, messages: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, ClientError> {
    let mut client = Client::connect(opts)?;
    let mut replies = Vec::new();
    for msg in messages {
        let reply = exchange(&mut client, opts, msg)?;
        output::out_line(format_args!("{}", printable(&reply)));
        replies.push(reply);
    }
    Ok(replies)
}

// ANCHOR: exchange
/// One request and its reply, with retries.
fn exchange(client: &mut Client, opts: &Options, msg: &[u8]) -> Result<Vec<u8>, ClientError> {
    let tries = opts.retries + 1;
    for attempt in 1..=tries {
        client.send(msg)?;
        client.log.message(
            &client.peer,
            if attempt == 1 { "sent" } else { "resent" },
            msg,
        );
        let deadline = Instant::now() + opts.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let peer = client.peer;
            let log = client.log;
            match client.recv(left)? {
                Some(reply) if contains(reply, msg) => return Ok(reply.to_vec()),
                Some(other) => log.message(
                    &peer,
                    "skipped a reply that is not for this request (late or duplicate)",
                    other,
                ),
                None => break,
            }
        }
        if attempt < tries {
            client.log.info(format_args!(
                "no reply within {:.1} s: resending (try {} of {tries})",
                opts.timeout.as_secs_f64(),
                attempt + 1
            ));
        }
    }
    Err(ClientError::NoReply {
        addr: client.peer,
        tries,
        timeout: opts.timeout,
    })
}
// ANCHOR_END: exchange

/// Whether `haystack` contains `needle` (an empty needle is in everything).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
