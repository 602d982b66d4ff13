//! # `--model thread`: one thread per client, blocking reads
//!
//! The tutorial's design, kept and made safe: the shared accept loop
//! ([`common::server::serve`]) starts a thread for each client, with the limits and
//! timeouts, and the thread runs [`Hello::handle`]. The conversation itself is the
//! [`Session`] state machine; this file is only its driver: read (blocking), ask the
//! session, write what it says.
//!
//! Blocking code reads top to bottom, like the conversation it serves: that is this
//! model's strength. Its cost is a thread per client, however idle (see the lesson "One
//! thread, many clients", and [`crate::poll`] for the other model).

use std::time::Instant;

use common::conn::{ConnError, Connection, SocketTimeouts, Writer};
use common::output::{Log, Tag};
use common::server::{Accepted, CloseReason, Closed, Handler, Limits};

use crate::session::{Action, Ending, Rules, Session};

/// The hello service, as a [`Handler`] for the shared accept loop.
#[derive(Debug)]
pub struct Hello {
    rules: Rules,
    log: Log,
}

impl Hello {
    pub fn new(rules: Rules) -> Hello {
        let log = Log::new(rules.config.quiet);
        Hello { rules, log }
    }

    // ANCHOR: converse
    /// The conversation with one client; returns why it ended.
    fn converse(&self, conn: &mut Connection, tag: &Tag) -> CloseReason {
        let p = &self.rules;
        let mut session = p.session();
        // Two halves of one connection: the reply is framed straight from the bytes read.
        let (mut reader, mut writer) = conn.split();
        if let Err(e) = writer.write_message(p.greeting()) {
            return close_reason(&e);
        }
        // What the socket's timeouts (SO_RCVTIMEO, SO_SNDTIMEO) are now: the idle timeout,
        // which `run_connection` set, until a message's deadline shortens the read one.
        let mut timeouts = SocketTimeouts::new(p.limits.idle_timeout, p.limits.idle_timeout);
        loop {
            let now = Instant::now();
            let step = match session.receive(p, reader.unread(), now) {
                Action::NeedMore => match read_more(&mut reader, &session, p, &mut timeouts, now) {
                    Ok(0) => Action::Close(session.end_of_stream(reader.unread())),
                    Ok(_) => continue,
                    Err(e) if common::net::is_timeout(&e) => {
                        Action::Close(session.timed_out(p, Instant::now()))
                    }
                    Err(e) => return CloseReason::from_io(&e),
                },
                step => step,
            };
            match step {
                Action::Reply {
                    message,
                    reply,
                    consumed,
                } => {
                    self.log.message(tag, "message", message);
                    if let Err(e) = writer.write_parts(&reply) {
                        return close_reason(&e);
                    }
                    reader.consume(consumed);
                }
                Action::Close(Ending {
                    reason,
                    message,
                    last_words,
                }) => {
                    if let Some(message) = message {
                        self.log.message(tag, "message", message);
                    }
                    if let Some(words) = last_words {
                        say_last_words(&mut writer, &words);
                    }
                    return reason;
                }
                Action::NeedMore => {}
            }
        }
    }
    // ANCHOR_END: converse
}

/// One blocking read, waiting no longer than the session allows: the socket's read timeout
/// is shortened while a message is incomplete (two system calls, only then), and put back
/// to the idle timeout after it.
fn read_more(
    reader: &mut common::conn::Reader<'_>,
    session: &Session,
    p: &Rules,
    timeouts: &mut SocketTimeouts,
    now: Instant,
) -> std::io::Result<usize> {
    if !timeouts.set_read_left(reader.stream(), session.read_timeout(p, now))? {
        return Err(std::io::ErrorKind::TimedOut.into());
    }
    reader.fill()
}

/// Why a write ended the connection: the client is gone, or (a line ending in `\r`) the
/// reply cannot be framed.
#[cold]
#[inline(never)]
fn close_reason(e: &ConnError) -> CloseReason {
    match e {
        ConnError::Io(io) => CloseReason::from_io(io),
        e => CloseReason::ProtocolError(e.to_string()),
    }
}

/// Before closing on a protocol error or a timeout, say why (best effort: the client may
/// be gone already).
#[cold]
#[inline(never)]
fn say_last_words(writer: &mut Writer<'_>, words: &str) {
    let _ = writer.write_message(words.as_bytes());
}

impl Handler for Hello {
    fn handle(&self, accepted: Accepted, _limits: &Limits) -> Closed {
        let Accepted { stream, tag, .. } = accepted;
        let config = &self.rules.config;
        let trace = config.trace.then(|| tag.to_string());
        let mut conn = Connection::new(stream, config.framing, config.max_frame, trace);
        let reason = self.converse(&mut conn, &tag);
        Closed::new(reason, conn.bytes_in(), conn.bytes_out())
            .with_tcp_info(config.tcp_info, socket2::SockRef::from(conn.stream()))
    }

    fn busy_message(&self) -> Vec<u8> {
        self.rules.busy_message()
    }
}
