//! # Framing: where does one message end?
//!
//! TCP delivers a *stream of bytes*, not messages. When a client sends `li` and then `bo`,
//! the server may read `libo` in one `recv`, or `l` and then `ibo`: the kernel keeps no
//! boundaries. The tutorial's `data = sock.recv(1024)` takes one read as one message, which
//! works on a quiet loopback and fails on a real network or under load.
//!
//! A *framing* is the rule both sides agree on to find the boundaries again:
//!
//! - [`Framing::Line`]: a message is the bytes up to `\n` (a `\r` just before it is dropped,
//!   so `telnet` works). Readable, works with `nc`; a message cannot contain `\n`.
//! - [`Framing::Length`]: a 4-byte big-endian length, then that many bytes. Carries any
//!   bytes, and the receiver knows the size before the body arrives.
//! - [`Framing::Raw`]: no framing at all, each read is taken as one message, exactly as the
//!   tutorial does. Kept to show the bug, and to talk to the tutorial's own programs.
//!
//! This module is a *pure codec*: it turns bytes into messages and messages into bytes and
//! never touches a socket, so it can be tested with every possible way of splitting a
//! stream into reads (see the property tests below). [`crate::conn`] does the I/O.
//!
//! Two rules make a decoder safe against hostile peers:
//! - "not enough bytes yet" is not an error: [`Decoder::decode`] returns `Ok(None)`;
//! - a message over the size limit is refused as soon as that is known, without buffering
//!   it all (a length header is checked before its body arrives; a line is refused once the
//!   limit has passed without a `\n`).

use std::ops::Range;

/// The default largest message, in bytes: 64 KiB.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;
/// Size of the header of [`Framing::Length`]: a big-endian `u32`.
pub const LENGTH_HEADER: usize = 4;
/// Bytes a line may carry after its body: an optional `\r`, then `\n`.
const LINE_END_MAX: usize = 2;

/// How messages are delimited in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Framing {
    /// A message is the bytes up to `\n` (a `\r` before it is dropped). Works with nc and telnet.
    #[default]
    Line,
    /// A 4-byte big-endian length, then that many bytes.
    Length,
    /// No framing: each read() is one message, as the tutorial does (shows why framing is needed).
    Raw,
}

impl std::fmt::Display for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Framing::Line => "line",
            Framing::Length => "length",
            Framing::Raw => "raw",
        })
    }
}

/// What can go wrong when decoding or encoding a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The peer sent (or announced) a message larger than the limit.
    #[error("message too large: {}", too_large_text(*.limit, *.declared))]
    TooLarge {
        limit: usize,
        /// The size a length header announced, when the framing has one.
        declared: Option<usize>,
    },
    /// The stream ended in the middle of a message.
    #[error(
        "end of stream in the middle of a message ({buffered} bytes of an unfinished message)"
    )]
    Truncated { buffered: usize },
    /// This framing cannot carry this message.
    #[error("cannot send this message with {framing} framing: {why}")]
    Unencodable { framing: Framing, why: &'static str },
}

fn too_large_text(limit: usize, declared: Option<usize>) -> String {
    match declared {
        Some(n) => format!("{n} bytes announced, over the limit of {limit} bytes"),
        None => format!("no end of line within the limit of {limit} bytes"),
    }
}

/// One message found at the start of a buffer: where its body is, and how many bytes of
/// the buffer it used (body plus framing), so the caller can drop them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub body: Range<usize>,
    pub consumed: usize,
}

/// Finds messages in a byte stream. Feed it the unread part of your buffer; it keeps a
/// little state (how far it already searched for `\n`) so that a long line arriving in many
/// small reads is scanned once, not once per read.
///
/// Contract: between two calls, the caller may only append to the buffer, or drop exactly
/// the `consumed` bytes of a returned [`Frame`] from its front.
#[derive(Debug, Clone)]
pub struct Decoder {
    framing: Framing,
    max_frame: usize,
    /// Line framing: bytes at the front of the buffer already known to hold no `\n`.
    scanned: usize,
}

impl Decoder {
    pub fn new(framing: Framing, max_frame: usize) -> Decoder {
        Decoder {
            framing,
            max_frame,
            scanned: 0,
        }
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Looks for one complete message at the start of `buf`.
    /// `Ok(None)` means "need more bytes", which is normal.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        match self.framing {
            Framing::Line => self.decode_line(buf),
            Framing::Length => self.decode_length(buf),
            Framing::Raw => Ok(self.decode_raw(buf)),
        }
    }

    /// Like [`decode`](Self::decode), at end of stream: bytes left over that do not make a
    /// whole message are [`FrameError::Truncated`], not "need more".
    pub fn decode_eof(&mut self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() => Ok(None),
            None => Err(FrameError::Truncated {
                buffered: buf.len(),
            }),
        }
    }

    // ANCHOR: decode_line
    fn decode_line(&mut self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        // Never look further than the longest legal line: a peer that sends megabytes
        // without a newline is refused once the limit has passed.
        let window = buf.len().min(self.max_frame + LINE_END_MAX);
        let start = self.scanned.min(window);
        match buf[start..window].iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.scanned = 0;
                let newline = start + i;
                let mut end = newline;
                if end > 0 && buf[end - 1] == b'\r' {
                    end -= 1;
                }
                if end > self.max_frame {
                    return Err(self.too_large(None));
                }
                Ok(Some(Frame {
                    body: 0..end,
                    consumed: newline + 1,
                }))
            }
            None if window == self.max_frame + LINE_END_MAX => Err(self.too_large(None)),
            None => {
                self.scanned = window;
                Ok(None)
            }
        }
    }
    // ANCHOR_END: decode_line

    fn decode_length(&self, buf: &[u8]) -> Result<Option<Frame>, FrameError> {
        let Some(header) = buf.first_chunk::<LENGTH_HEADER>() else {
            return Ok(None);
        };
        // Check the announced size before waiting for the body: a hostile header of
        // 4 GiB must not make us buffer 4 GiB.
        let len = u32::from_be_bytes(*header) as usize;
        if len > self.max_frame {
            return Err(self.too_large(Some(len)));
        }
        let total = LENGTH_HEADER + len;
        if buf.len() < total {
            return Ok(None);
        }
        Ok(Some(Frame {
            body: LENGTH_HEADER..total,
            consumed: total,
        }))
    }

    /// Raw: whatever arrived is "the message" (at most `max_frame` bytes of it).
    fn decode_raw(&self, buf: &[u8]) -> Option<Frame> {
        if buf.is_empty() {
            return None;
        }
        // At least one byte, so that even a limit of 0 always makes progress.
        let end = buf.len().min(self.max_frame.max(1));
        Some(Frame {
            body: 0..end,
            consumed: end,
        })
    }

    fn too_large(&self, declared: Option<usize>) -> FrameError {
        FrameError::TooLarge {
            limit: self.max_frame,
            declared,
        }
    }
}

/// What a framing puts around a message: a frame is `prefix + body + suffix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    prefix: [u8; LENGTH_HEADER],
    prefix_len: usize,
    suffix: &'static [u8],
}

impl Envelope {
    /// The bytes before the body (the length header, or nothing).
    pub fn prefix(&self) -> &[u8] {
        &self.prefix[..self.prefix_len]
    }

    /// The bytes after the body (`\n` for a line, or nothing).
    pub fn suffix(&self) -> &'static [u8] {
        self.suffix
    }

    /// The size of the whole frame for a body of `body_len` bytes.
    pub fn frame_len(&self, body_len: usize) -> usize {
        self.prefix_len + body_len + self.suffix.len()
    }
}

/// The envelope `framing` puts around `msg`, or why it cannot carry it.
///
/// Encoding does not apply the receive limit (`--max-frame`): that is the receiver's rule.
/// It refuses only what the framing cannot carry: a line with `\n` in it (or ending in
/// `\r`, which the receiver would drop), a body longer than a `u32` length.
pub fn envelope(framing: Framing, msg: &[u8]) -> Result<Envelope, FrameError> {
    envelope_parts(framing, &[msg])
}

/// Like [`envelope`], for a message given in parts (its bytes are the parts, in order).
pub fn envelope_parts(framing: Framing, parts: &[&[u8]]) -> Result<Envelope, FrameError> {
    let mut env = Envelope {
        prefix: [0; LENGTH_HEADER],
        prefix_len: 0,
        suffix: b"",
    };
    match framing {
        Framing::Line => {
            if parts.iter().any(|p| p.contains(&b'\n')) {
                return Err(FrameError::Unencodable {
                    framing,
                    why: "the message contains '\\n', which ends a line",
                });
            }
            let last_byte = parts.iter().rev().find_map(|p| p.last());
            if last_byte == Some(&b'\r') {
                return Err(FrameError::Unencodable {
                    framing,
                    why: "the message ends with '\\r', which the receiver drops",
                });
            }
            env.suffix = b"\n";
        }
        Framing::Length => {
            let total: usize = parts.iter().map(|p| p.len()).sum();
            let len = u32::try_from(total).map_err(|_| FrameError::Unencodable {
                framing,
                why: "the message is longer than 4 GiB, the most a 4-byte length can say",
            })?;
            env.prefix = len.to_be_bytes();
            env.prefix_len = LENGTH_HEADER;
        }
        Framing::Raw => {}
    }
    Ok(env)
}

/// Appends `msg`, framed, to `out` (nothing is appended on error). See [`envelope`].
pub fn encode(framing: Framing, msg: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
    encode_parts(framing, &[msg], out)
}

/// Appends the message made of `parts` (e.g. `[b"hello,", msg]`), framed, to `out`
/// (nothing is appended on error): a reply is framed straight from the bytes it quotes.
pub fn encode_parts(
    framing: Framing,
    parts: &[&[u8]],
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let env = envelope_parts(framing, parts)?;
    let body_len: usize = parts.iter().map(|p| p.len()).sum();
    out.reserve(env.frame_len(body_len));
    out.extend_from_slice(env.prefix());
    parts.iter().for_each(|p| out.extend_from_slice(p));
    out.extend_from_slice(env.suffix());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_names_and_the_default_are_the_documented_ones() {
        // The protocol page, --help and the start-up line say these.
        assert_eq!(DEFAULT_MAX_FRAME, 65_536);
        assert_eq!(Framing::Line.to_string(), "line");
        assert_eq!(Framing::Length.to_string(), "length");
        assert_eq!(Framing::Raw.to_string(), "raw");
        let d = Decoder::new(Framing::Length, 123);
        assert_eq!((d.framing(), d.max_frame()), (Framing::Length, 123));
    }

    #[test]
    fn a_message_too_large_says_how_large_and_the_limit() {
        let long = FrameError::TooLarge {
            limit: 10,
            declared: Some(11),
        };
        assert_eq!(
            long.to_string(),
            "message too large: 11 bytes announced, over the limit of 10 bytes"
        );
        let endless = FrameError::TooLarge {
            limit: 10,
            declared: None,
        };
        assert_eq!(
            endless.to_string(),
            "message too large: no end of line within the limit of 10 bytes"
        );
    }

    #[test]
    fn a_length_of_exactly_the_limit_is_taken_and_one_more_is_not() {
        let mut d = Decoder::new(Framing::Length, 3);
        let frame = d.decode(b"\0\0\0\x03abc").unwrap().unwrap();
        assert_eq!((frame.body, frame.consumed), (4..7, 7));
        let mut d = Decoder::new(Framing::Length, 3);
        assert_eq!(
            d.decode(b"\0\0\0\x04abcd"),
            Err(FrameError::TooLarge {
                limit: 3,
                declared: Some(4)
            })
        );
    }

    #[test]
    fn an_envelope_knows_the_length_of_its_frame() {
        for framing in [Framing::Line, Framing::Length, Framing::Raw] {
            let msg = b"hello";
            let mut framed = Vec::new();
            encode(framing, msg, &mut framed).unwrap();
            let env = envelope(framing, msg).unwrap();
            assert_eq!(env.frame_len(msg.len()), framed.len(), "{framing}");
            assert_eq!(
                [env.prefix(), &msg[..], env.suffix()].concat(),
                framed,
                "{framing}"
            );
        }
    }

    /// Feeds `stream` to a decoder in reads of the given sizes, exactly as a connection
    /// would, and returns the messages found (or the first error).
    fn decode_in_reads(
        framing: Framing,
        max: usize,
        stream: &[u8],
        read_sizes: &[usize],
    ) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut decoder = Decoder::new(framing, max);
        let mut buf: Vec<u8> = Vec::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut sizes = read_sizes.iter().cycle();
        while pos < stream.len() {
            let n = (*sizes.next().unwrap()).clamp(1, stream.len() - pos);
            buf.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            while let Some(f) = decoder.decode(&buf)? {
                out.push(buf[f.body.clone()].to_vec());
                buf.drain(..f.consumed);
            }
        }
        while let Some(f) = decoder.decode_eof(&buf)? {
            out.push(buf[f.body.clone()].to_vec());
            buf.drain(..f.consumed);
        }
        Ok(out)
    }

    fn encode_all(framing: Framing, msgs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            encode(framing, m, &mut out).unwrap();
        }
        out
    }

    /// A message line framing can carry: no `\n`, no trailing `\r`.
    fn line_message() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(|mut v| {
            v.retain(|&b| b != b'\n');
            while v.last() == Some(&b'\r') {
                v.pop();
            }
            v
        })
    }

    proptest! {
        #[test]
        fn line_any_split_gives_the_same_messages(
            msgs in proptest::collection::vec(line_message(), 0..20),
            reads in proptest::collection::vec(1usize..64, 1..10),
        ) {
            let stream = encode_all(Framing::Line, &msgs);
            prop_assert_eq!(decode_in_reads(Framing::Line, 1000, &stream, &reads)?, msgs);
        }

        #[test]
        fn length_any_split_gives_the_same_messages(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            reads in proptest::collection::vec(1usize..64, 1..10),
        ) {
            let stream = encode_all(Framing::Length, &msgs);
            prop_assert_eq!(decode_in_reads(Framing::Length, 1000, &stream, &reads)?, msgs);
        }

        #[test]
        fn one_read_or_many_is_the_same(
            msgs in proptest::collection::vec(line_message(), 1..20),
        ) {
            // Merged into a single read, or one byte per read: same messages.
            let stream = encode_all(Framing::Line, &msgs);
            let merged = decode_in_reads(Framing::Line, 1000, &stream, &[stream.len()])?;
            let bytewise = decode_in_reads(Framing::Line, 1000, &stream, &[1])?;
            prop_assert_eq!(&merged, &msgs);
            prop_assert_eq!(&bytewise, &msgs);
        }

        #[test]
        fn raw_keeps_the_bytes_but_not_the_boundaries(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..50), 1..10),
            reads in proptest::collection::vec(1usize..64, 1..10),
        ) {
            // The lesson of raw framing: every byte arrives, in order, but the "messages"
            // are whatever the reads happened to be.
            let stream = encode_all(Framing::Raw, &msgs);
            let got = decode_in_reads(Framing::Raw, 1000, &stream, &reads)?;
            prop_assert_eq!(got.concat(), stream);
        }

        #[test]
        fn oversize_line_is_refused_without_buffering_it_all(
            max in 1usize..100,
            extra in 1usize..10_000,
            reads in proptest::collection::vec(1usize..64, 1..10),
        ) {
            // max+2 bytes with no newline can never become a legal line.
            let stream = vec![b'x'; max + LINE_END_MAX + extra];
            let mut decoder = Decoder::new(Framing::Line, max);
            let mut buf = Vec::new();
            let mut sizes = reads.iter().cycle();
            let mut refused_at = None;
            for chunk_end in std::iter::from_fn(|| sizes.next().copied()).scan(0, |p, n| { *p += n; Some(*p) }) {
                buf.extend_from_slice(&stream[buf.len()..chunk_end.min(stream.len())]);
                if decoder.decode(&buf).is_err() {
                    refused_at = Some(buf.len());
                    break;
                }
                if buf.len() == stream.len() { break; }
            }
            let at = refused_at.expect("an oversize line must be refused");
            // Refused within one read of passing the limit, not at the end of the stream.
            prop_assert!(at < max + LINE_END_MAX + 64, "refused only at {} bytes", at);
        }

        #[test]
        fn decoder_never_panics_on_garbage(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            max in 0usize..300,
        ) {
            for framing in [Framing::Line, Framing::Length, Framing::Raw] {
                let _ = decode_in_reads(framing, max, &bytes, &[7, 1, 100]);
            }
        }
    }

    #[test]
    fn length_header_over_the_limit_is_refused_from_the_header_alone() {
        let mut d = Decoder::new(Framing::Length, 1024);
        let header = 4_000_000_000u32.to_be_bytes();
        assert_eq!(
            d.decode(&header),
            Err(FrameError::TooLarge {
                limit: 1024,
                declared: Some(4_000_000_000)
            })
        );
    }

    #[test]
    fn line_limits_are_exact() {
        let max = 5;
        // Exactly max bytes, with or without \r: accepted.
        assert_eq!(
            decode_in_reads(Framing::Line, max, b"12345\n", &[100]).unwrap(),
            vec![b"12345".to_vec()]
        );
        assert_eq!(
            decode_in_reads(Framing::Line, max, b"12345\r\n", &[100]).unwrap(),
            vec![b"12345".to_vec()]
        );
        // One more: refused.
        assert!(matches!(
            decode_in_reads(Framing::Line, max, b"123456\n", &[100]),
            Err(FrameError::TooLarge {
                limit: 5,
                declared: None
            })
        ));
    }

    #[test]
    fn crlf_and_empty_lines() {
        let got = decode_in_reads(Framing::Line, 100, b"li\r\n\nbo\n", &[3]).unwrap();
        assert_eq!(got, vec![b"li".to_vec(), b"".to_vec(), b"bo".to_vec()]);
    }

    #[test]
    fn end_of_stream_mid_message_is_an_error_not_a_message() {
        assert_eq!(
            decode_in_reads(Framing::Line, 100, b"li\nbo", &[100]),
            Err(FrameError::Truncated { buffered: 2 })
        );
        assert_eq!(
            decode_in_reads(Framing::Length, 100, &[0, 0, 0, 9, b'a'], &[100]),
            Err(FrameError::Truncated { buffered: 5 })
        );
        assert_eq!(
            decode_in_reads(Framing::Length, 100, &[0, 0], &[100]),
            Err(FrameError::Truncated { buffered: 2 })
        );
    }

    #[test]
    fn need_more_is_not_an_error() {
        let mut d = Decoder::new(Framing::Line, 100);
        assert_eq!(d.decode(b""), Ok(None));
        assert_eq!(d.decode(b"partial"), Ok(None));
        assert_eq!(d.decode_eof(b""), Ok(None));
    }

    #[test]
    fn encode_refuses_what_the_framing_cannot_carry() {
        let mut out = Vec::new();
        assert!(encode(Framing::Line, b"a\nb", &mut out).is_err());
        assert!(encode(Framing::Line, b"a\r", &mut out).is_err());
        assert!(out.is_empty(), "nothing written on error");
        encode(Framing::Length, b"hi", &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 2, b'h', b'i']);
    }

    #[test]
    fn error_messages_are_one_line() {
        for e in [
            FrameError::TooLarge {
                limit: 1,
                declared: None,
            },
            FrameError::TooLarge {
                limit: 1,
                declared: Some(9),
            },
            FrameError::Truncated { buffered: 3 },
        ] {
            let s = e.to_string();
            assert!(!s.contains('\n') && !s.is_empty(), "{s}");
        }
    }
}
