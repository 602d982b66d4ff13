//! # One connection of the event loop: its state, and the bytes it moves
//!
//! A [`ConnState`] is all the loop keeps for one client between its turns: the session,
//! the counters, and buffers only while a message or a reply is half done. Its methods
//! run the session over what arrived ([`ConnState::answer`]) and write what the kernel
//! takes now ([`ConnState::send`]). They never wait: the socket is non-blocking.

use std::io::{self, Write};
use std::time::Instant;

use mio::net::TcpStream;

use common::frame;
use common::output::{self, Log, Tag};
use common::server::close::CloseReason;

use crate::session::{Action, Ending, Rules, Session};

/// One client's place in the conversation, while no thread holds it.
#[derive(Debug)]
pub(super) struct ConnState {
    pub(super) stream: TcpStream,
    pub(super) session: Session,
    pub(super) tag: Tag,
    pub(super) started: Instant,
    /// The last time a byte moved either way (the idle timeout runs from here).
    pub(super) last_active: Instant,
    pub(super) bytes_in: u64,
    pub(super) bytes_out: u64,
    /// The bytes of an unfinished message (empty, with no heap, between messages).
    pub(super) input: Vec<u8>,
    /// Replies the kernel has not taken yet (empty, with no heap, when all are sent).
    pub(super) output: Vec<u8>,
    /// How much of `output` is already written.
    pub(super) written: usize,
    /// False while back-pressure stops reading from it.
    pub(super) reading: bool,
    /// The conversation is over: close once the last replies are written.
    pub(super) closing: Option<CloseReason>,
    /// The time of its valid entry in the timer heap, if it has one.
    pub(super) timer_at: Option<Instant>,
}

impl ConnState {
    /// Bytes of replies in the connection's own buffer, not yet taken by the kernel.
    pub(super) fn pending(&self) -> usize {
        self.output.len() - self.written
    }

    /// Runs the session over what arrived (bytes in the shared buffer, after the
    /// client's unfinished message, if any), frames the replies and writes them.
    pub(super) fn answer(
        &mut self,
        p: &Rules,
        what: Arrived<'_>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Alive {
        let c = self;
        let closing = match what {
            Arrived::EndOfStream => Some(last_words(p, c.session.end_of_stream(&c.input), out)),
            Arrived::Read(bytes) if c.input.is_empty() => {
                // The usual case: the messages are answered straight from the shared buffer;
                // only an unfinished one is copied into the client's own.
                let (used, closing) = respond(p, &mut c.session, &c.tag, bytes, now, out);
                if closing.is_none() && used < bytes.len() {
                    c.input.extend_from_slice(&bytes[used..]);
                }
                closing
            }
            Arrived::Read(bytes) => {
                let mut input = std::mem::take(&mut c.input);
                input.extend_from_slice(bytes);
                let (used, closing) = respond(p, &mut c.session, &c.tag, &input, now, out);
                input.drain(..used);
                // Between messages the client keeps no buffer.
                if !input.is_empty() {
                    c.input = input;
                }
                closing
            }
        };
        if let Some(reason) = closing {
            c.input = Vec::new();
            c.closing = Some(reason);
        }
        c.send(out, p.config.trace, now)?;
        match &c.closing {
            Some(reason) if c.pending() == 0 => Err(reason.clone()),
            _ => Ok(()),
        }
    }

    /// Writes the client's waiting replies and then the new ones (in the shared output
    /// buffer), as far as the kernel takes them; the rest waits in the client's own buffer.
    pub(super) fn send(&mut self, fresh: &mut Vec<u8>, trace: bool, now: Instant) -> Alive {
        let c = self;
        let result = if c.pending() == 0 {
            // Nothing waits: write the new bytes straight from the shared buffer.
            let result = write_some(&c.stream, fresh, &c.tag, trace);
            if let Ok(n) = result {
                c.output.clear();
                c.written = 0;
                c.output.extend_from_slice(&fresh[n..]);
            }
            result
        } else {
            c.output.extend_from_slice(fresh);
            let result = write_some(&c.stream, &c.output[c.written..], &c.tag, trace);
            if let Ok(n) = result {
                c.written += n;
            }
            result
        };
        fresh.clear();
        let n = result.map_err(|e| CloseReason::from_io(&e))?;
        if n > 0 {
            c.bytes_out += n as u64;
            c.last_active = now;
        }
        if c.pending() == 0 {
            // All sent: the client keeps no buffer.
            c.output = Vec::new();
            c.written = 0;
        } else if c.written > c.output.len() / 2 {
            c.output.drain(..c.written);
            c.written = 0;
        }
        Ok(())
    }
}

/// How a client came out of its turn: `Ok`, still open; `Err`, to be closed, and why.
pub(super) type Alive = Result<(), CloseReason>;

/// What came from a client.
pub(super) enum Arrived<'a> {
    /// Bytes, in the shared read buffer.
    Read(&'a [u8]),
    /// The end of its stream.
    EndOfStream,
}

// ANCHOR: respond
/// Runs the session over `input`, framing every reply into `out`. Returns the bytes used,
/// and why the conversation ended if it did.
fn respond(
    p: &Rules,
    session: &mut Session,
    tag: &Tag,
    input: &[u8],
    now: Instant,
    out: &mut Vec<u8>,
) -> (usize, Option<CloseReason>) {
    let log = Log::new(p.config.quiet);
    let mut used = 0;
    loop {
        match session.receive(p, &input[used..], now) {
            Action::NeedMore => return (used, None),
            Action::Reply {
                message,
                reply,
                consumed,
            } => {
                log.message(tag, "message", message);
                if let Err(e) = frame::encode_parts(p.framing(), &reply, out) {
                    return (used, Some(CloseReason::ProtocolError(e.to_string())));
                }
                used += consumed;
            }
            Action::Close(ending) => {
                if let Some(message) = ending.message {
                    log.message(tag, "message", message);
                }
                return (used, Some(last_words(p, ending, out)));
            }
        }
    }
}
// ANCHOR_END: respond

/// The end of a conversation: its last words framed into `out`; returns its reason.
pub(super) fn last_words(p: &Rules, ending: Ending<'_>, out: &mut Vec<u8>) -> CloseReason {
    if let Some(words) = ending.last_words {
        let _ = frame::encode(p.framing(), words.as_bytes(), out);
    }
    ending.reason
}

/// Writes as much of `bytes` as the kernel takes now; returns how much.
fn write_some(stream: &TcpStream, bytes: &[u8], tag: &Tag, trace: bool) -> io::Result<usize> {
    let mut done = 0;
    let mut stream = stream;
    while done < bytes.len() {
        match stream.write(&bytes[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                if trace {
                    output::trace(tag, "write", &bytes[done..done + n]);
                }
                done += n;
            }
            // The send buffer is full: the rest waits for a writable event.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Tells a client we cannot serve it: the busy message (a new socket's send buffer always
/// has room for it), then FIN.
pub(super) fn refuse(stream: &TcpStream, busy: &[u8]) {
    let _ = (&*stream).write(busy);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}
