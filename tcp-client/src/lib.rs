//! # The hello client: the tutorial's `tcp_user.py`, done right
//!
//! The tutorial's client connects, prints the greeting, sends `li`, `bo` and `ca` (printing
//! each reply), then sends `exit` and closes. Its bugs:
//!
//! - one `recv(1024)` is taken as one reply: TCP may merge or split replies, so this only
//!   works while the network is kind (see [`common::frame`]);
//! - `send()` may write only part of a buffer, and the rest is silently lost: we write all
//!   of it ([`Connection::write_message`]);
//! - no timeout: a server that never answers hangs the client forever.
//!
//! The modes of `tcp-client`:
//!
//! - [`run_session`]: send messages in lock-step (one, then its reply, then the next); with
//!   `burst`, write them all before reading anything (the byte-stream lesson);
//! - [`run_interactive`]: the same, one message per line of stdin;
//! - [`check`]: grade a server, or a class: the tutorial's session, every byte verified
//!   ([`tutorial`]), and with `--attacks` the suite of [`attacks`];
//! - [`load`]: many connections, many round trips, latency percentiles.

pub mod attacks;
pub mod check;
pub mod load;
pub mod tutorial;

use std::io::{self, BufRead};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::addr::Endpoint;
use common::conn::{ConnError, Connection, SocketTimeouts};
use common::frame::{self, Framing};
use common::grade::{StepDeadline, Wait};
use common::net::{self, NetError};
use common::output::{self, printable, Log};

/// The tutorial's session: three messages, then `exit`.
pub const TUTORIAL_MESSAGES: [&str; 4] = ["li", "bo", "ca", "exit"];
/// The message after which the server closes instead of replying.
pub const EXIT_MESSAGE: &[u8] = b"exit";
/// What `--check` expects first.
pub const EXPECTED_GREETING: &[u8] = b"Hello!";
/// What `--check` expects each reply to start with.
pub const EXPECTED_REPLY_PREFIX: &[u8] = b"hello,";
/// What a server's first message starts with when it turns a client away instead of
/// greeting it: ours says `error: server busy` when it is full.
pub const REFUSAL_PREFIX: &[u8] = b"error:";
/// The program whose name goes into "is ... running?" hints.
const SERVER_NAME: &str = "tcp-server";

/// How to reach the server and talk to it.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: Endpoint,
    pub framing: Framing,
    /// Largest message accepted from the server.
    pub max_frame: usize,
    pub connect_timeout: Duration,
    /// Longest wait for a reply (and for a write to go through).
    pub timeout: Duration,
    pub trace: bool,
    /// No event lines on stderr (replies are still printed).
    pub quiet: bool,
    /// Inside a grader's step: every wait (connect, reply, write) ends by then, whatever
    /// its own limit (`None` outside a grader).
    pub deadline: Option<StepDeadline>,
    /// Print what the kernel's TCP knows about the connection (RTT, cwnd, retransmissions)
    /// once the last reply is in (`--tcp-info`).
    pub tcp_info: bool,
}

/// Why a client run failed. Each one is one line that says what to try.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Net(#[from] NetError),
    /// A message that the chosen framing cannot carry: a usage error.
    #[error("{0}")]
    Usage(String),
    #[error("{peer}: {what}: {}{}", .err, hint_for(.err))]
    Conn {
        peer: SocketAddr,
        what: String,
        err: ConnError,
    },
    #[error("{peer}: the server closed the connection {when}")]
    ClosedEarly { peer: SocketAddr, when: String },
    /// A wait ran out; `limit` says which limit it was (`--timeout`, a step's deadline).
    #[error("{peer}: {what}: {limit}{hint}")]
    TimedOut {
        peer: String,
        what: String,
        limit: String,
        hint: String,
    },
    /// `--check` could not run: a bad targets file, or a server that could not be graded.
    #[error("{0}")]
    Check(#[from] common::grade::class::CheckError),
    /// The server said no in place of a greeting (ours: `error: server busy`).
    #[error("{peer}: refused by the server: \"{words}\"{}", refusal_hint(.words))]
    Refused { peer: SocketAddr, words: String },
}

/// What a refusal means, where we know: ours says `server busy` at one of its limits.
fn refusal_hint(words: &str) -> &'static str {
    if words.contains("busy") {
        " (it already serves as many clients as its limits allow, in all or from this \
         address: try again later; tcp-server's limits are --max-connections and --max-per-peer)"
    } else {
        ""
    }
}

impl ClientError {
    /// The exit code for this error: 2 for usage, 1 for everything that went wrong at run time.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => common::EXIT_USAGE as u8,
            ClientError::Check(e) => e.exit_code(),
            _ => common::EXIT_FAILURE as u8,
        }
    }
}

fn hint_for(err: &ConnError) -> &'static str {
    if err.is_reset() {
        " (the server dropped the connection)"
    } else {
        ""
    }
}

/// A connected client: the connection, plus what it needs to print and to explain errors.
pub struct Client {
    conn: Connection,
    peer: SocketAddr,
    log: Log,
    /// `--timeout`: the longest a read or a write may wait (`None`: for ever).
    timeout: Option<Duration>,
    /// A grader's step: no wait goes past it, however many reads or writes it takes.
    deadline: Option<StepDeadline>,
    /// The socket's read and write timeouts now, so they are set only when they change.
    timeouts: SocketTimeouts,
    /// `--tcp-info`: print the kernel's numbers before closing.
    tcp_info: bool,
}

impl Client {
    /// Connects and sets the timeouts. Prints the 4-tuple unless quiet.
    pub fn connect(opts: &Options) -> Result<Client, ClientError> {
        let wait = Wait::new(
            Some(opts.connect_timeout),
            "--connect-timeout",
            opts.deadline,
        );
        let timed_out = |what: String| {
            let now = Instant::now();
            ClientError::TimedOut {
                peer: opts.addr.to_string(),
                what,
                limit: wait.ran_out(now),
                hint: String::new(),
            }
        };
        let Ok(within) = wait.timeout_at(Instant::now()) else {
            return Err(timed_out(format!("could not connect to {}", opts.addr)));
        };
        let within = within.unwrap_or(opts.connect_timeout);
        let stream = net::connect(&opts.addr, within, SERVER_NAME).map_err(|e| {
            if wait.step_passed(Instant::now()) && net::is_timeout(&e.source) {
                timed_out(e.what)
            } else {
                ClientError::Net(e)
            }
        })?;
        let peer = stream
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], opts.addr.port)));
        let timeout = common::cli::nonzero(opts.timeout);
        let mut timeouts = SocketTimeouts::default();
        let set = timeouts
            .set_read(&stream, timeout)
            .and_then(|()| timeouts.set_write(&stream, timeout));
        if let Err(e) = set {
            return Err(ClientError::Conn {
                peer,
                what: "could not set the timeout".into(),
                err: e.into(),
            });
        }
        let local = stream
            .local_addr()
            .map_or_else(|_| "?".into(), |a| a.to_string());
        let label = format!("{local} -> {peer}");
        let conn = Connection::new(
            stream,
            opts.framing,
            opts.max_frame,
            opts.trace.then_some(label),
        );
        let client = Client {
            conn,
            peer,
            log: Log::stderr(opts.quiet),
            timeout,
            tcp_info: opts.tcp_info,
            deadline: opts.deadline,
            timeouts,
        };
        client
            .log
            .info(format_args!("connected: local {local} <-> peer {peer}"));
        Ok(client)
    }

    fn conn_error(&self, what: String, err: ConnError) -> ClientError {
        ClientError::Conn {
            peer: self.peer,
            what,
            err,
        }
    }

    /// The wait of a read or a write: `--timeout` for each system call, inside the step's
    /// deadline when a grader gave one.
    fn wait(&self) -> Wait {
        Wait::new(self.timeout, "--timeout", self.deadline)
    }

    /// The error for a read or write that failed: a wait that ran out says which limit.
    fn failed(&self, what: String, err: ConnError) -> ClientError {
        if !err.is_timeout() {
            return self.conn_error(what, err);
        }
        let (wait, now) = (self.wait(), Instant::now());
        let hint = if wait.step_passed(now) {
            String::new()
        } else {
            format!(
                " (is the server slow, or does it not use --framing {} too?)",
                self.conn.framing()
            )
        };
        ClientError::TimedOut {
            peer: self.peer.to_string(),
            what,
            limit: wait.ran_out(now),
            hint,
        }
    }

    /// Sends one message (all of it).
    pub fn send(&mut self, msg: &[u8]) -> Result<(), ClientError> {
        let sent = if self.deadline.is_none() {
            self.conn.write_message(msg)
        } else {
            // Inside a step: framed here, then written under the deadline, write by write.
            let mut framed = Vec::new();
            frame::encode(self.conn.framing(), msg, &mut framed)
                .map_err(ConnError::from)
                .and_then(|()| Ok(self.write_by_deadline(&framed)?))
        };
        if let Err(e) = sent {
            return Err(self.failed(format!("could not send \"{}\"", printable(msg)), e));
        }
        self.log.message(&self.peer, "sent", msg);
        Ok(())
    }

    /// Sends bytes as they are, unframed (the attack suite sends pieces and garbage).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let sent = if self.deadline.is_none() {
            self.conn.write_bytes(bytes)
        } else {
            self.write_by_deadline(bytes)
        };
        sent.map_err(|e| self.failed(format!("could not send {} bytes", bytes.len()), e.into()))
    }

    /// Writes `bytes`, each write's timeout cut to what is left of the step.
    fn write_by_deadline(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let wait = self.wait();
        let timeouts = &mut self.timeouts;
        self.conn.write_bytes_with(bytes, |stream| {
            let t = wait.timeout_at(Instant::now())?;
            timeouts.set_write(stream, t)
        })
    }

    /// The connection's stream (to half-close it, or to read what is left).
    pub fn stream(&self) -> &std::net::TcpStream {
        self.conn.stream()
    }

    /// Receives one message; `None` when the server closed the connection.
    /// `waiting_for` says what we were waiting for, for the error message.
    pub fn recv(&mut self, waiting_for: &str) -> Result<Option<Vec<u8>>, ClientError> {
        let got = if self.deadline.is_none() {
            // The socket has --timeout since the connect: nothing to set.
            self.conn.read_message().map(|m| m.map(<[u8]>::to_vec))
        } else {
            // Inside a step: each read's timeout cut to what is left of it, so a server
            // that trickles its reply cannot stretch the wait read by read.
            let wait = self.wait();
            let timeouts = &mut self.timeouts;
            self.conn
                .read_message_with(|stream| {
                    let t = wait.timeout_at(Instant::now())?;
                    timeouts.set_read(stream, t)
                })
                .map(|m| m.map(<[u8]>::to_vec))
        };
        got.map_err(|e| self.failed(format!("no {waiting_for}"), e))
    }

    /// Receives the server's first message, its greeting. A server that turns the client
    /// away says so in its place (`error: server busy`): that is [`ClientError::Refused`],
    /// with its words, not a greeting; and a close before any word is
    /// [`ClientError::ClosedEarly`].
    pub fn greeting(&mut self) -> Result<Vec<u8>, ClientError> {
        match self.recv("greeting")? {
            Some(first) if first.starts_with(REFUSAL_PREFIX) => Err(ClientError::Refused {
                peer: self.peer,
                words: printable(&first),
            }),
            Some(greeting) => Ok(greeting),
            None => Err(ClientError::ClosedEarly {
                peer: self.peer,
                when: "before the greeting".into(),
            }),
        }
    }

    /// Says "no more messages" (FIN), then reads what the server still sends until it
    /// closes. Returns those messages.
    pub fn finish(&mut self) -> Result<Vec<Vec<u8>>, ClientError> {
        if self.tcp_info {
            // Before the FIN: the connection's numbers as the session left them.
            print_tcp_info(self.conn.stream(), self.peer);
        }
        let _ = self.conn.shutdown_write();
        let mut rest = Vec::new();
        while let Some(msg) = self.recv("end of stream from the server")? {
            show(&msg);
            rest.push(msg);
        }
        self.log.info(format_args!(
            "closed by the server ({} bytes sent, {} received)",
            self.conn.bytes_out(),
            self.conn.bytes_in()
        ));
        Ok(rest)
    }
}

/// `tcp-info 10.99.0.1:9999: rtt 40.21 ms (var 1.30 ms), ...` on stderr, or why not.
pub fn print_tcp_info(stream: &std::net::TcpStream, peer: SocketAddr) {
    match common::os::tcp_info(socket2::SockRef::from(stream)) {
        Ok(info) => output::err_line(format_args!("tcp-info {peer}: {info}")),
        Err(e) => output::err_line(format_args!(
            "tcp-info {peer}: {} ({e})",
            common::tcpinfo::NOT_AVAILABLE
        )),
    }
}

/// Prints a message from the server on stdout, as a line of text.
fn show(msg: &[u8]) {
    output::out_line(format_args!("{}", printable(msg)));
}

/// Checks, before connecting, that every message can be sent with the framing.
pub fn validate(messages: &[Vec<u8>], framing: Framing) -> Result<(), ClientError> {
    let mut scratch = Vec::new();
    for m in messages {
        frame::encode(framing, m, &mut scratch)
            .map_err(|e| ClientError::Usage(format!("message \"{}\": {e}", printable(m))))?;
    }
    Ok(())
}

/// The tutorial's messages, as bytes.
pub fn tutorial_messages() -> Vec<Vec<u8>> {
    TUTORIAL_MESSAGES
        .iter()
        .map(|m| m.as_bytes().to_vec())
        .collect()
}

/// Everything the server sent during a session, in order (the greeting first).
pub type Transcript = Vec<Vec<u8>>;

/// Connects, prints the greeting, sends `messages`, prints the replies.
///
/// Lock-step (the default): each message waits for its reply before the next is sent;
/// after `exit` no reply is expected. With `burst`, every message is written before any
/// reply is read: the server then often sees several messages in one read, which only
/// framing can separate again.
// ANCHOR: run_session
pub fn run_session(
    opts: &Options,
    messages: &[Vec<u8>],
    burst: bool,
) -> Result<Transcript, ClientError> {
    validate(messages, opts.framing)?;
    let mut client = Client::connect(opts)?;
    let mut transcript = Vec::new();
    let greeting = client.greeting()?;
    show(&greeting);
    transcript.push(greeting);
    if burst {
        for m in messages {
            client.send(m)?;
        }
    } else {
        for m in messages {
            client.send(m)?;
            if m == EXIT_MESSAGE {
                break;
            }
            let reply = client
                .recv(&format!("reply to \"{}\"", printable(m)))?
                .ok_or_else(|| ClientError::ClosedEarly {
                    peer: client.peer,
                    when: format!("instead of replying to \"{}\"", printable(m)),
                })?;
            show(&reply);
            transcript.push(reply);
        }
    }
    transcript.extend(client.finish()?);
    Ok(transcript)
}
// ANCHOR_END: run_session

/// Like [`run_session`], with one message per line of `input` (a terminal or a pipe).
/// Ends at `exit` or at the end of the input.
pub fn run_interactive(opts: &Options, input: &mut dyn BufRead) -> Result<Transcript, ClientError> {
    let mut client = Client::connect(opts)?;
    let mut transcript = Vec::new();
    let greeting = client.greeting()?;
    show(&greeting);
    transcript.push(greeting);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| ClientError::Usage(format!("could not read stdin: {e}")))?;
        if n == 0 {
            break;
        }
        // The line without its end: "\n" or "\r\n".
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if let Err(e) = validate(std::slice::from_ref(&line), opts.framing) {
            output::err_line(format_args!("tcp-client: skipped: {e}"));
            continue;
        }
        client.send(&line)?;
        if line == EXIT_MESSAGE {
            break;
        }
        match client.recv(&format!("reply to \"{}\"", printable(&line)))? {
            Some(reply) => {
                show(&reply);
                transcript.push(reply);
            }
            None => {
                return Err(ClientError::ClosedEarly {
                    peer: client.peer,
                    when: format!("instead of replying to \"{}\"", printable(&line)),
                })
            }
        }
    }
    transcript.extend(client.finish()?);
    Ok(transcript)
}

/// Reads messages from stdin for `--interactive`.
pub fn stdin_input() -> io::StdinLock<'static> {
    io::stdin().lock()
}
