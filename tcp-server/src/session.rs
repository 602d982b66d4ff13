//! # The hello protocol without I/O: a state machine both server models share
//!
//! A conversation of the hello service is a small state machine: bytes come in; replies,
//! "close" and errors go out. Nothing in it reads or writes a socket, so it is the same for
//! the thread that blocks in `read()` ([`crate::thread`]) and for the event loop that
//! reads only when the kernel says a socket is ready ([`crate::poll`]), and it can be
//! tested by feeding it bytes split in every possible way (the tests below). This is how
//! mini-redis keeps its frame codec apart from the connection that does the I/O, one level
//! up: the codec is [`common::frame`]; this is the protocol on top of it.
//!
//! A driver keeps the bytes it has read and not used yet, and asks [`Session::receive`]
//! what they mean:
//!
//! - [`Action::NeedMore`]: no whole message yet; read more (the bytes stay unread);
//! - [`Action::Reply`]: one message; send the reply (its parts, to be framed) and drop
//!   `consumed` bytes;
//! - [`Action::Close`]: the conversation is over (`exit`, a message too large, a timeout);
//!   send the last words if there are any, then close.
//!
//! Time comes in as an argument (`now`), never from a clock inside, so a test can say
//! "31 seconds later" without waiting: the session knows when the message it is waiting
//! for must be complete ([`Session::deadline`], `--message-timeout`), and what to say when
//! a driver's timer runs out ([`Session::timed_out`]).

use std::time::{Duration, Instant};

use common::deadline::MessageClock;
use common::frame::{self, Decoder, FrameError, Framing};
use common::server::close::CloseReason;
use common::server::limits::Limits;

use crate::config::{Config, BUSY_MESSAGE, EXIT_MESSAGE};

/// What both models share, once per server: the configuration and the limits.
#[derive(Debug, Clone)]
pub struct Rules {
    pub config: Config,
    pub limits: Limits,
}

impl Rules {
    pub fn new(config: Config, limits: Limits) -> Rules {
        Rules { config, limits }
    }

    /// A new conversation, for a client just accepted.
    pub fn session(&self) -> Session {
        Session {
            decoder: Decoder::new(self.config.framing, self.config.max_frame),
            clock: MessageClock::new(self.limits.message_timeout),
        }
    }

    pub fn framing(&self) -> Framing {
        self.config.framing
    }

    /// What every client gets first (to be framed).
    pub fn greeting(&self) -> &[u8] {
        &self.config.greeting
    }

    /// The bytes sent to a client refused because the server is full, already framed.
    pub fn busy_message(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // The busy text has no '\n', so every framing can carry it.
        let _ = frame::encode(self.config.framing, BUSY_MESSAGE, &mut out);
        out
    }
}

/// One client's conversation: the decoder's state, and the clock of an unfinished
/// message. Small and fixed (no buffer of its own), so an idle client costs only this.
#[derive(Debug, Clone)]
pub struct Session {
    decoder: Decoder,
    /// The clock of the message not complete yet (`--message-timeout`).
    clock: MessageClock,
}

/// What the bytes received so far mean, and what to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// No whole message yet: read more. The bytes stay unread.
    NeedMore,
    /// A whole message: send `reply` (its parts, to be framed), then drop `consumed` bytes.
    Reply {
        message: &'a [u8],
        reply: [&'a [u8]; 2],
        consumed: usize,
    },
    /// The conversation is over.
    Close(Ending<'a>),
}

/// How a conversation ends: send `last_words` (framed) if there are any, then close.
#[derive(Debug, PartialEq, Eq)]
pub struct Ending<'a> {
    pub reason: CloseReason,
    /// The message that ended it, if one did (`exit`).
    pub message: Option<&'a [u8]>,
    pub last_words: Option<String>,
}

impl Session {
    /// What the unread bytes `unread` mean, `now`.
    // ANCHOR: receive
    pub fn receive<'a>(&mut self, p: &'a Rules, unread: &'a [u8], now: Instant) -> Action<'a> {
        let frame = match self.decoder.decode(unread) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                // Part of a message is here: the rest must come before its deadline.
                if !unread.is_empty() {
                    self.clock.begin(now);
                }
                return Action::NeedMore;
            }
            Err(e) => return Action::Close(protocol_error(&e)),
        };
        self.clock.end();
        let message = &unread[frame.body];
        // Bytes compared with bytes: the comparison the tutorial meant to make.
        if message == EXIT_MESSAGE {
            return Action::Close(Ending {
                reason: CloseReason::Exit,
                message: Some(message),
                last_words: None,
            });
        }
        Action::Reply {
            message,
            reply: [&p.config.reply_prefix, message],
            consumed: frame.consumed,
        }
    }
    // ANCHOR_END: receive

    /// The client closed its side; `unread` is what it left. Between two messages that is
    /// a clean end; in the middle of one, the message was cut off.
    pub fn end_of_stream(&mut self, unread: &[u8]) -> Ending<'static> {
        if unread.is_empty() {
            return Ending {
                reason: CloseReason::EndOfStream,
                message: None,
                last_words: None,
            };
        }
        // Bytes left that are no whole message (a whole one is read by `receive` first):
        // the message was cut off, or was already too large.
        match self.decoder.decode_eof(unread) {
            Err(e) => protocol_error(&e),
            Ok(_) => protocol_error(&FrameError::Truncated {
                buffered: unread.len(),
            }),
        }
    }

    /// When the message being received must be complete (`--message-timeout` after its
    /// first byte); `None` between messages, or without that limit.
    pub fn deadline(&self) -> Option<Instant> {
        self.clock.deadline()
    }

    /// How long a blocking read may wait, `now`: the idle timeout, or what is left of the
    /// message's time if that is shorter. `Some(ZERO)`: no time is left.
    pub fn read_timeout(&self, p: &Rules, now: Instant) -> Option<Duration> {
        self.clock.read_timeout(p.limits.idle_timeout, now)
    }

    /// A driver's timer ran out `now` with no byte from the client: the message's deadline
    /// if it has passed, else the idle timeout. Says why, and closes.
    pub fn timed_out(&self, p: &Rules, now: Instant) -> Ending<'static> {
        let message_late = self.clock.expired(now);
        let (reason, why) = match (message_late, p.limits.message_timeout) {
            (true, Some(limit)) => (
                CloseReason::MessageTimeout,
                format!(
                    "error: message not complete {} s after its first byte, closing",
                    limit.as_secs_f64()
                ),
            ),
            _ => (
                CloseReason::IdleTimeout,
                format!(
                    "error: idle for {} s, closing",
                    p.limits.idle_timeout.map_or(0.0, |d| d.as_secs_f64())
                ),
            ),
        };
        Ending {
            reason,
            message: None,
            last_words: Some(why),
        }
    }
}

/// A broken message: say what was wrong, and close.
#[cold]
#[inline(never)]
fn protocol_error(e: &FrameError) -> Ending<'static> {
    Ending {
        reason: CloseReason::ProtocolError(e.to_string()),
        message: None,
        last_words: Some(format!("error: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn rules(framing: Framing, max_frame: usize) -> Rules {
        Rules::new(
            Config {
                framing,
                max_frame,
                quiet: true,
                ..Config::default()
            },
            Limits::default(),
        )
    }

    /// Feeds `stream` to a session in reads of the given sizes, as a driver would, and
    /// returns everything it would send (framed) and why it closed.
    fn converse(p: &Rules, stream: &[u8], read_sizes: &[usize]) -> (Vec<u8>, CloseReason) {
        let mut session = p.session();
        let now = Instant::now();
        let mut out = Vec::new();
        frame::encode(p.framing(), p.greeting(), &mut out).unwrap();
        let mut unread: Vec<u8> = Vec::new();
        let mut pos = 0;
        let mut sizes = read_sizes.iter().cycle();
        loop {
            let step = session.receive(p, &unread, now);
            let step = match step {
                Action::NeedMore if pos == stream.len() => {
                    Action::Close(session.end_of_stream(&unread))
                }
                Action::NeedMore => {
                    let n = (*sizes.next().unwrap()).clamp(1, stream.len() - pos);
                    unread.extend_from_slice(&stream[pos..pos + n]);
                    pos += n;
                    continue;
                }
                step => step,
            };
            match step {
                Action::Reply {
                    reply, consumed, ..
                } => {
                    frame::encode_parts(p.framing(), &reply, &mut out).unwrap();
                    unread.drain(..consumed);
                }
                Action::Close(Ending {
                    reason, last_words, ..
                }) => {
                    if let Some(words) = last_words {
                        frame::encode(p.framing(), words.as_bytes(), &mut out).unwrap();
                    }
                    return (out, reason);
                }
                Action::NeedMore => unreachable!(),
            }
        }
    }

    #[test]
    fn a_client_turned_away_is_told_busy_in_its_framing() {
        assert_eq!(
            rules(Framing::Line, 64).busy_message(),
            b"error: server busy\n"
        );
        assert_eq!(
            rules(Framing::Length, 64).busy_message(),
            b"\0\0\0\x12error: server busy"
        );
    }

    #[test]
    fn the_end_of_the_stream_is_clean_between_messages_and_a_cut_within_one() {
        let p = rules(Framing::Line, 64);
        let mut s = p.session();
        assert_eq!(s.end_of_stream(b"").reason, CloseReason::EndOfStream);
        let mut s2 = p.session();
        let cut = s2.end_of_stream(b"hal");
        assert!(
            matches!(&cut.reason, CloseReason::ProtocolError(why) if why.contains("end of stream in the middle of a message")),
            "{:?}",
            cut.reason
        );
        assert!(cut.last_words.is_some());
    }

    #[test]
    fn the_tutorials_session() {
        let p = rules(Framing::Line, 100);
        let (out, reason) = converse(&p, b"li\nbo\nca\nexit\n", &[100]);
        assert_eq!(out, b"Hello!\nhello,li\nhello,bo\nhello,ca\n");
        assert_eq!(reason, CloseReason::Exit);
    }

    #[test]
    fn exit_is_a_whole_message_not_a_prefix() {
        let p = rules(Framing::Line, 100);
        let (out, reason) = converse(&p, b"exits\nexit", &[3]);
        // `exit` with no newline before the end: cut off, not an exit, and the client is
        // told so (its side may still be open for reading).
        assert_eq!(
            String::from_utf8_lossy(&out),
            "Hello!\nhello,exits\nerror: end of stream in the middle of a message \
             (4 bytes of an unfinished message)\n"
        );
        assert!(matches!(reason, CloseReason::ProtocolError(_)), "{reason}");
    }

    #[test]
    fn a_message_too_large_is_refused_with_a_reason() {
        let p = rules(Framing::Length, 10);
        let (out, reason) = converse(&p, &[0, 0, 1, 0, b'x'], &[1]);
        assert!(out.ends_with(b"256 bytes announced, over the limit of 10 bytes"));
        assert!(matches!(reason, CloseReason::ProtocolError(_)));
    }

    #[test]
    fn raw_takes_what_came_as_the_message() {
        let p = rules(Framing::Raw, 100);
        let (out, reason) = converse(&p, b"libo", &[2]);
        assert_eq!(out, b"Hello!hello,lihello,bo");
        assert_eq!(reason, CloseReason::EndOfStream);
    }

    #[test]
    fn the_message_clock_runs_from_the_first_byte_and_stops_at_the_last() {
        let p = rules(Framing::Line, 100);
        let limit = p.limits.message_timeout.unwrap();
        let idle = p.limits.idle_timeout.unwrap();
        let t0 = Instant::now();
        let mut s = p.session();
        // Between messages: only the idle timeout.
        assert_eq!(s.receive(&p, b"", t0), Action::NeedMore);
        assert_eq!(s.deadline(), None);
        assert_eq!(s.read_timeout(&p, t0), Some(idle));
        // A first byte: the message has `limit` from now, whatever trickles in later.
        assert_eq!(s.receive(&p, b"l", t0), Action::NeedMore);
        assert_eq!(s.receive(&p, b"li", t0 + limit / 2), Action::NeedMore);
        assert_eq!(s.deadline(), Some(t0 + limit));
        assert_eq!(s.read_timeout(&p, t0 + limit / 2), Some(limit / 2));
        let late = s.timed_out(&p, t0 + limit);
        assert_eq!(late.reason, CloseReason::MessageTimeout);
        assert!(late
            .last_words
            .unwrap()
            .contains("not complete 30 s after its first byte"));
        // Before the deadline, a timer that ran out was the idle one.
        assert_eq!(
            s.timed_out(&p, t0 + limit / 2).reason,
            CloseReason::IdleTimeout
        );
        // The message completes: the clock stops.
        assert!(matches!(
            s.receive(&p, b"li\n", t0 + limit / 2),
            Action::Reply { .. }
        ));
        assert_eq!(s.deadline(), None);
    }

    #[test]
    fn without_limits_a_read_may_wait_forever() {
        let mut p = rules(Framing::Line, 100);
        p.limits.idle_timeout = None;
        p.limits.message_timeout = None;
        let mut s = p.session();
        let now = Instant::now();
        assert_eq!(s.receive(&p, b"half", now), Action::NeedMore);
        assert_eq!(s.read_timeout(&p, now), None);
        assert_eq!(s.deadline(), None);
    }

    fn framing() -> impl Strategy<Value = Framing> {
        prop_oneof![Just(Framing::Line), Just(Framing::Length)]
    }

    proptest! {
        /// However the bytes are split into reads, the same replies come out, in order.
        #[test]
        fn splits_never_change_the_conversation(
            framing in framing(),
            messages in proptest::collection::vec(
                proptest::collection::vec(b'a'..=b'z', 0..20), 0..8),
            sizes in proptest::collection::vec(1usize..9, 1..6),
        ) {
            let p = rules(framing, 64);
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            frame::encode(framing, b"Hello!", &mut expected).unwrap();
            for m in &messages {
                frame::encode(framing, m, &mut stream).unwrap();
                if m != EXIT_MESSAGE {
                    frame::encode_parts(framing, &[b"hello,", m], &mut expected).unwrap();
                }
            }
            frame::encode(framing, EXIT_MESSAGE, &mut stream).unwrap();
            let (whole, reason) = converse(&p, &stream, &[stream.len()]);
            let (split, split_reason) = converse(&p, &stream, &sizes);
            prop_assert_eq!(&whole, &split);
            prop_assert_eq!(reason, split_reason);
            // (An `exit` among the messages ends the conversation early; otherwise all.)
            if !messages.iter().any(|m| m == EXIT_MESSAGE) {
                prop_assert_eq!(whole, expected);
            }
        }

        /// Any bytes at all, in any split: the session never panics, it always ends, and up
        /// to its end it says exactly what a correct server says: the greeting, then
        /// `hello,` + each whole message in turn (found by the codec, tested on its own),
        /// until `exit`, a message it refuses, or the end of the stream.
        #[test]
        fn hostile_bytes_end_in_a_close(
            framing in prop_oneof![Just(Framing::Line), Just(Framing::Length)],
            stream in proptest::collection::vec(any::<u8>(), 0..300),
            sizes in proptest::collection::vec(1usize..40, 1..4),
        ) {
            let p = rules(framing, 32);
            let (out, reason) = converse(&p, &stream, &sizes);
            let mut said = Vec::new();
            frame::encode(framing, p.greeting(), &mut said).unwrap();
            let mut decoder = frame::Decoder::new(framing, 32);
            let mut rest = &stream[..];
            let ending = loop {
                match decoder.decode(rest) {
                    Ok(Some(f)) if &rest[f.body.clone()] == EXIT_MESSAGE => break CloseReason::Exit,
                    Ok(Some(f)) => {
                        frame::encode_parts(framing, &[b"hello,", &rest[f.body.clone()]], &mut said)
                            .unwrap();
                        rest = &rest[f.consumed..];
                    }
                    Ok(None) if rest.is_empty() => break CloseReason::EndOfStream,
                    // Cut off, or refused: the session closes with its reason (and may say it).
                    _ => break CloseReason::ProtocolError(String::new()),
                }
            };
            prop_assert!(out.starts_with(&said), "{:?} does not start with {:?}", out, said);
            match (ending, &reason) {
                (CloseReason::ProtocolError(_), CloseReason::ProtocolError(_)) => {}
                (expected, got) => {
                    prop_assert_eq!(&expected, got);
                    prop_assert_eq!(out.len(), said.len(), "nothing after the last reply");
                }
            }
        }

        /// The tutorial's framing (raw: each read is a message) answers each read, whatever
        /// its bytes, and ends.
        #[test]
        fn raw_answers_every_read(
            stream in proptest::collection::vec(1u8..=255, 1..300),
            sizes in proptest::collection::vec(1usize..40, 1..4),
        ) {
            let p = rules(Framing::Raw, 64);
            let (out, reason) = converse(&p, &stream, &sizes);
            let mut greeting = Vec::new();
            frame::encode(Framing::Raw, p.greeting(), &mut greeting).unwrap();
            prop_assert!(out.starts_with(&greeting));
            // Every byte of the stream comes back (each read after its `hello,`), unless a
            // read was `exit`; and nothing is refused.
            prop_assert!(matches!(reason, CloseReason::EndOfStream | CloseReason::Exit));
            if reason != CloseReason::Exit {
                prop_assert!(out.len() >= greeting.len() + stream.len());
            }
        }
    }
}
