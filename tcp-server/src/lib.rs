//! # The hello service: the tutorial's `tcp.py`, done right
//!
//! The protocol, as the tutorial means it:
//!
//! 1. on accept, the server sends the greeting `Hello!`;
//! 2. for each message `m` from the client it replies `hello,` + `m`;
//! 3. on the message `exit`, or when the client closes, it closes the connection.
//!
//! What the tutorial's version gets wrong, and where this one fixes it:
//!
//! | `tcp.py`                                         | here                                          |
//! |--------------------------------------------------|-----------------------------------------------|
//! | `data == 'exit'` compares bytes to a str: never true in Python 3 | messages are bytes, compared to `b"exit"` |
//! | replies `hello,b'li'` (formats the bytes object) | replies the bytes: `hello,li`                  |
//! | one `recv(1024)` = one message                   | a [`Framing`] finds message boundaries        |
//! | no `SO_REUSEADDR`: restart fails in TIME_WAIT    | on by default ([`common::net`])               |
//! | a thread per client, no limit, no timeout        | [`common::server`]: limit, idle timeout       |
//!
//! [`Hello`] is the protocol; [`serve`] runs it on a listener you bound (tests bind port 0),
//! and [`main`] is the whole program behind `tcp-server`.

use std::process::ExitCode;
use std::sync::Arc;

use common::addr::Endpoint;
use common::conn::{ConnError, Connection, Writer};
use common::deadline::MessageDeadline;
use common::frame::{self, Framing};
use common::net::{self, ListenOptions};
use common::output::{self, Log};
use common::server::{
    self, Accepted, Background, CloseReason, Closed, Handler, Limits, Shutdown, Summary,
};
use common::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// The first message every client gets.
pub const DEFAULT_GREETING: &str = "Hello!";
/// What every reply starts with.
pub const DEFAULT_REPLY_PREFIX: &str = "hello,";
/// The message that asks the server to close the connection.
pub const EXIT_MESSAGE: &[u8] = b"exit";
/// The message a client gets when the server is full.
pub const BUSY_MESSAGE: &[u8] = b"error: server busy";

/// How the service behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub framing: Framing,
    /// Largest message accepted, in bytes.
    pub max_frame: usize,
    pub greeting: Vec<u8>,
    pub reply_prefix: Vec<u8>,
    /// Dump every read and write.
    pub trace: bool,
    /// No line per connection or message.
    pub quiet: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            framing: Framing::Line,
            max_frame: frame::DEFAULT_MAX_FRAME,
            greeting: DEFAULT_GREETING.into(),
            reply_prefix: DEFAULT_REPLY_PREFIX.into(),
            trace: false,
            quiet: false,
        }
    }
}

/// Everything `tcp-server` needs to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: Endpoint,
    pub listen: ListenOptions,
    pub limits: Limits,
    pub config: Config,
}

/// The hello service, as a [`Handler`] for the shared accept loop.
#[derive(Debug)]
pub struct Hello {
    config: Config,
    log: Log,
}

impl Hello {
    pub fn new(config: Config) -> Hello {
        let log = Log::new(config.quiet);
        Hello { config, log }
    }

    // ANCHOR: converse
    /// The conversation with one client; returns why it ended.
    fn converse(&self, conn: &mut Connection, tag: &output::Tag, limits: &Limits) -> CloseReason {
        // Two halves of one connection: the reply is framed straight from the bytes read.
        let (mut reader, mut writer) = conn.split();
        if let Err(e) = writer.write_message(&self.config.greeting) {
            return close_reason(&e);
        }
        loop {
            let msg = match reader.read_message() {
                Ok(Some(msg)) => msg,
                Ok(None) => return CloseReason::EndOfStream,
                Err(e) => {
                    tell_client_why(&mut writer, &e, limits);
                    return close_reason(&e);
                }
            };
            self.log.message(tag, "message", msg);
            // Bytes compared with bytes: the comparison the tutorial meant to make.
            if msg == EXIT_MESSAGE {
                return CloseReason::Exit;
            }
            if let Err(e) = writer.write_parts(&[&self.config.reply_prefix, msg]) {
                return close_reason(&e);
            }
        }
    }
    // ANCHOR_END: converse
}

/// Before closing on a protocol error or a timeout, say why (best effort: the client may
/// be gone already). Out of line: it formats, and formatting needs stack.
#[cold]
#[inline(never)]
fn tell_client_why(writer: &mut Writer<'_>, e: &ConnError, limits: &Limits) {
    let text = match e {
        ConnError::Frame(f) => format!("error: {f}"),
        ConnError::MessageTimeout(limit) => format!(
            "error: message not complete {} s after its first byte, closing",
            limit.as_secs_f64()
        ),
        e if e.is_timeout() => format!(
            "error: idle for {} s, closing",
            limits.idle_timeout.map_or(0.0, |d| d.as_secs_f64())
        ),
        _ => return,
    };
    let _ = writer.write_message(text.as_bytes());
}

impl Handler for Hello {
    fn handle(&self, accepted: Accepted, limits: &Limits) -> Closed {
        let Accepted { stream, tag, .. } = accepted;
        let trace = self.config.trace.then(|| tag.to_string());
        let mut conn = Connection::new(stream, self.config.framing, self.config.max_frame, trace)
            .with_message_deadline(MessageDeadline::new(
                limits.message_timeout,
                limits.idle_timeout,
            ));
        let reason = self.converse(&mut conn, &tag, limits);
        Closed {
            reason,
            bytes_in: conn.bytes_in(),
            bytes_out: conn.bytes_out(),
        }
    }

    fn busy_message(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // The busy text has no '\n', so every framing can carry it.
        let _ = frame::encode(self.config.framing, BUSY_MESSAGE, &mut out);
        out
    }
}

/// Why a connection ended, from the error that ended it.
#[cold]
#[inline(never)]
fn close_reason(e: &ConnError) -> CloseReason {
    match e {
        ConnError::Frame(f) => CloseReason::ProtocolError(f.to_string()),
        ConnError::MessageTimeout(_) => CloseReason::MessageTimeout,
        ConnError::Io(io) => CloseReason::from_io(io),
    }
}

/// Checks what clap cannot: that the greeting and prefix can be sent with the framing.
pub fn validate(config: &Config) -> Result<(), String> {
    let mut scratch = Vec::new();
    frame::encode(config.framing, &config.greeting, &mut scratch)
        .map_err(|e| format!("invalid --greeting: {e}"))?;
    frame::encode(config.framing, &config.reply_prefix, &mut scratch)
        .map_err(|e| format!("invalid --reply-prefix: {e}"))?;
    Ok(())
}

/// Serves the hello service on an already-bound listener until `shutdown` is triggered.
pub fn serve(
    listener: std::net::TcpListener,
    config: Config,
    limits: Limits,
    shutdown: &Shutdown,
) -> Summary {
    let log = Log::new(config.quiet);
    server::serve(
        listener,
        limits,
        Arc::new(Hello::new(config)),
        log,
        shutdown,
    )
}

/// Serves on a thread of this process (tests, embedding): stop it with
/// [`Background::stop`], which returns the summary.
pub fn spawn(
    listener: std::net::TcpListener,
    config: Config,
    limits: Limits,
) -> std::io::Result<Background<Summary>> {
    let addr = listener.local_addr()?;
    let shutdown = Shutdown::new(&listener)?;
    Background::spawn(addr, shutdown, move |s| serve(listener, config, limits, s))
}

/// The whole `tcp-server` program: check, listen, serve until Ctrl-C, print a summary.
pub fn main(options: Options) -> ExitCode {
    if let Err(e) = validate(&options.config) {
        output::err_line(format_args!("tcp-server: {e}"));
        return ExitCode::from(EXIT_USAGE as u8);
    }
    let log = Log::new(options.config.quiet);
    // Thread-per-connection servers need a descriptor per client: lift the soft limit
    // (often 1024) to the hard one, as most servers do.
    let _ = common::capacity::raise_open_file_limit();

    let listener = match net::listen(&options.addr, &options.listen) {
        Ok(listener) => listener,
        Err(e) => {
            output::err_line(format_args!("tcp-server: {e}"));
            return ExitCode::from(EXIT_FAILURE as u8);
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| options.addr.to_string(), |a| a.to_string());
    let (o, l, c) = (&options.listen, &options.limits, &options.config);
    // Always printed, even with --quiet: scripts and tests read the port from it.
    output::out_line(format_args!(
        "{} tcp-server listening on {local} (framing {}, backlog {}, {}, {}, max message {} bytes); \
         Ctrl-C stops it",
        output::timestamp(),
        c.framing,
        o.backlog,
        common::os::describe_address_reuse(o.reuse_addr, o.reuse_port),
        l,
        c.max_frame,
    ));
    for warning in common::capacity::startup_warnings(l.max_connections) {
        log.warn(format_args!("{warning}"));
    }

    let shutdown = match Shutdown::new(&listener) {
        Ok(s) => s,
        Err(e) => {
            output::err_line(format_args!(
                "tcp-server: could not prepare shutdown on {local}: {e}"
            ));
            return ExitCode::from(EXIT_FAILURE as u8);
        }
    };
    if let Err(e) = shutdown.trigger_on_ctrl_c() {
        log.warn(format_args!("{e}"));
    }
    let summary = serve(listener, options.config, options.limits, &shutdown);
    output::out_line(format_args!(
        "{} tcp-server stopped. {summary}",
        output::timestamp()
    ));
    ExitCode::from(EXIT_OK as u8)
}
