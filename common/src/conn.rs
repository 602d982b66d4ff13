//! # A connection: a stream, a buffer, and a framing
//!
//! [`crate::frame`] knows where messages end; this module does the I/O around it. A
//! [`Connection`] owns a [`TcpStream`] and the bytes read from it that are not used yet:
//!
//! - [`Reader::read_message`] reads until the decoder finds one whole message, however the
//!   bytes were split or merged by the network, and keeps the bytes after it for the next
//!   call (they belong to the next message).
//! - [`Writer::write_message`] frames a message and writes *all* of it. A single `send()`
//!   may write only part of a buffer (the tutorial's client has this bug); `write_all`
//!   loops until every byte is handed to the kernel.
//!
//! A TCP connection is two independent byte streams, one each way (the tutorial: "TCP连接
//! 创建的是双向通道"). [`Connection::split`] gives one half for each, so a server can reply
//! with the very bytes it just read, without copying them out first:
//!
//! ```no_run
//! # fn demo(mut conn: common::conn::Connection) -> Result<(), common::conn::ConnError> {
//! let (mut reader, mut writer) = conn.split();
//! while let Some(msg) = reader.read_message()? {
//!     writer.write_parts(&[b"hello,", msg])?;
//! }
//! # Ok(()) }
//! ```
//!
//! With a trace label set, every read and write is dumped (hex and text, byte count): that
//! is how you *see* that TCP keeps bytes but not boundaries.
//!
//! Memory: a connection carries a small inline buffer, enough for ordinary messages, so an
//! idle connection and a chat of small messages use no heap at all; small frames are
//! assembled on the stack. Only when a read fills all the space it asked for does the next
//! ask for twice as much (up to [`READ_CHUNK_MAX`]), in a heap buffer: bulk data still takes
//! few system calls.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::frame::{self, Decoder, FrameError, Framing};
use crate::output;

/// Bytes of read buffer kept inside the connection itself (no heap): the first reads use
/// it, and ordinary messages never need more.
///
/// Why not more: the connection lives on its thread's stack. glibc already fills over a
/// page at the top of every thread stack with its own bookkeeping, and each further 4 KiB
/// page the thread touches costs 40 MB at 10,000 connections. The connection, the small
/// write frame and the calls between them stay well inside one more page.
pub const READ_CHUNK_MIN: usize = 512;
/// Reads grow (doubling each time one fills the space it asked for) up to this size.
pub const READ_CHUNK_MAX: usize = 64 * 1024;
/// Frames up to this size are assembled on the stack before they are written (larger ones
/// in a reusable heap buffer). Small, for the same reason as [`READ_CHUNK_MIN`].
const SMALL_WRITE: usize = 256;

/// What ended a read or a write.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("{}", crate::net::describe(.0))]
    Io(#[from] io::Error),
}

impl ConnError {
    /// A read or write timeout ran out (`SO_RCVTIMEO`/`SO_SNDTIMEO`: the OS reports
    /// `EAGAIN`, which Rust calls `WouldBlock`).
    pub fn is_timeout(&self) -> bool {
        matches!(self, ConnError::Io(e) if crate::net::is_timeout(e))
    }

    /// The peer reset the connection, or closed it while we were writing.
    pub fn is_reset(&self) -> bool {
        matches!(self, ConnError::Io(e) if crate::net::is_reset(e))
    }
}

/// The timeouts a socket has now (`SO_RCVTIMEO`, `SO_SNDTIMEO`), kept so that each is set
/// only when it changes: setting one is a system call, and a loop that set it before every
/// read would double the calls it makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketTimeouts {
    read: Option<Duration>,
    write: Option<Duration>,
}

impl SocketTimeouts {
    /// The timeouts a socket was given (`None`: none, wait for ever).
    pub fn new(read: Option<Duration>, write: Option<Duration>) -> SocketTimeouts {
        SocketTimeouts { read, write }
    }

    /// Sets `stream`'s read timeout to `wait`, unless it has that one already.
    pub fn set_read(&mut self, stream: &TcpStream, wait: Option<Duration>) -> io::Result<()> {
        if self.read != wait {
            stream.set_read_timeout(wait)?;
            self.read = wait;
        }
        Ok(())
    }

    /// Before a read that may wait at most `left` (`None`: for ever): sets the read timeout
    /// to it, unless the socket has that one already. `Ok(false)` when `left` is zero, the
    /// time is up, and nothing is set: to the OS a zero timeout would mean "no timeout".
    pub fn set_read_left(
        &mut self,
        stream: &TcpStream,
        left: Option<Duration>,
    ) -> io::Result<bool> {
        if left == Some(Duration::ZERO) {
            return Ok(false);
        }
        self.set_read(stream, left)?;
        Ok(true)
    }

    /// Sets `stream`'s write timeout to `wait`, unless it has that one already.
    pub fn set_write(&mut self, stream: &TcpStream, wait: Option<Duration>) -> io::Result<()> {
        if self.write != wait {
            stream.set_write_timeout(wait)?;
            self.write = wait;
        }
        Ok(())
    }
}

/// Writes all of `bytes`, as `write_all` does, calling `before_write` before each write to
/// the socket: a peer that reads slowly takes the bytes over many writes, and a deadline
/// (cut into the write timeout there) must hold for all of them. An error from it ends
/// the writing.
pub fn write_all_with(
    mut stream: &TcpStream,
    bytes: &[u8],
    mut before_write: impl FnMut(&TcpStream) -> io::Result<()>,
) -> io::Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        before_write(stream)?;
        match stream.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A TCP stream with its read buffer and framing.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    read: ReadState,
    write: WriteState,
    /// Label for `--trace` dumps; `None` = no trace.
    trace: Option<String>,
}

/// The receiving half's state: the decoder and the bytes read but not used yet.
#[derive(Debug)]
struct ReadState {
    decoder: Decoder,
    buf: Storage,
    /// `buf[head..filled]` are read but not used yet.
    head: usize,
    filled: usize,
    /// The message returned by the last `read_message`, dropped at the next call (the
    /// caller borrowed it until then).
    pending: usize,
    /// How many bytes the next read asks for.
    next_read: usize,
    bytes_in: u64,
}

/// The sending half's state.
#[derive(Debug)]
struct WriteState {
    framing: Framing,
    /// Where frames larger than [`SMALL_WRITE`] are assembled, reused between writes.
    wbuf: Vec<u8>,
    bytes_out: u64,
}

/// The read buffer: inline while it is small, on the heap once a message needs more.
/// (The inline variant is large on purpose: that is the memory an idle connection uses
/// instead of a heap allocation.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Storage {
    Inline([u8; READ_CHUNK_MIN]),
    Heap(Vec<u8>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Inline(a) => a,
            Storage::Heap(v) => v,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Storage::Inline(a) => a,
            Storage::Heap(v) => v,
        }
    }

    /// Makes room for at least `len` bytes, keeping the first `keep`.
    fn ensure(&mut self, len: usize, keep: usize) {
        match self {
            Storage::Inline(a) if len > a.len() => {
                let mut v = vec![0; len];
                v[..keep].copy_from_slice(&a[..keep]);
                *self = Storage::Heap(v);
            }
            Storage::Heap(v) if len > v.len() => v.resize(len, 0),
            _ => {}
        }
    }
}

/// The receiving half of a [`Connection`], from [`Connection::split`].
pub struct Reader<'a> {
    stream: &'a TcpStream,
    state: &'a mut ReadState,
    trace: Option<&'a str>,
}

/// The sending half of a [`Connection`], from [`Connection::split`].
pub struct Writer<'a> {
    stream: &'a TcpStream,
    state: &'a mut WriteState,
    trace: Option<&'a str>,
}

impl Connection {
    /// A connection reading and writing messages with `framing`, accepting messages of at
    /// most `max_frame` bytes. With a `trace` label, every read and write is dumped on
    /// stderr with that label (e.g. `#3 127.0.0.1:5555`).
    pub fn new(
        stream: TcpStream,
        framing: Framing,
        max_frame: usize,
        trace: Option<String>,
    ) -> Connection {
        Connection {
            stream,
            read: ReadState {
                decoder: Decoder::new(framing, max_frame),
                buf: Storage::Inline([0; READ_CHUNK_MIN]),
                head: 0,
                filled: 0,
                pending: 0,
                next_read: READ_CHUNK_MIN,
                bytes_in: 0,
            },
            write: WriteState {
                framing,
                wbuf: Vec::new(),
                bytes_out: 0,
            },
            trace,
        }
    }

    /// The two halves: one reads messages, the other writes them.
    pub fn split(&mut self) -> (Reader<'_>, Writer<'_>) {
        let trace = self.trace.as_deref();
        (
            Reader {
                stream: &self.stream,
                state: &mut self.read,
                trace,
            },
            Writer {
                stream: &self.stream,
                state: &mut self.write,
                trace,
            },
        )
    }

    pub fn framing(&self) -> Framing {
        self.write.framing
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Bytes read from the socket so far.
    pub fn bytes_in(&self) -> u64 {
        self.read.bytes_in
    }

    /// Bytes written to the socket so far.
    pub fn bytes_out(&self) -> u64 {
        self.write.bytes_out
    }

    /// See [`Reader::read_message`].
    pub fn read_message(&mut self) -> Result<Option<&[u8]>, ConnError> {
        self.read
            .read_message(&self.stream, self.trace.as_deref(), |_| Ok(()))
    }

    /// [`read_message`](Self::read_message), calling `before_read` before each read from
    /// the socket: a grader cuts the read timeout there to what is left of its deadline,
    /// so that a server that trickles a reply cannot stretch the wait read by read. An
    /// error from it ends the wait.
    pub fn read_message_with(
        &mut self,
        before_read: impl FnMut(&TcpStream) -> io::Result<()>,
    ) -> Result<Option<&[u8]>, ConnError> {
        self.read
            .read_message(&self.stream, self.trace.as_deref(), before_read)
    }

    /// See [`Writer::write_message`].
    pub fn write_message(&mut self, msg: &[u8]) -> Result<(), ConnError> {
        self.split().1.write_message(msg)
    }

    /// See [`Writer::write_bytes`].
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.split().1.write_bytes(bytes)
    }

    /// See [`Writer::write_bytes_with`].
    pub fn write_bytes_with(
        &mut self,
        bytes: &[u8],
        before_write: impl FnMut(&TcpStream) -> io::Result<()>,
    ) -> io::Result<()> {
        self.split().1.write_bytes_with(bytes, before_write)
    }

    /// Says "I will send nothing more" (a TCP FIN) while still reading what the peer sends.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }
}

impl Reader<'_> {
    /// Reads the next whole message. `Ok(None)` is a clean end of stream (the peer closed
    /// between two messages); an end in the middle of a message is [`FrameError::Truncated`].
    ///
    /// The message borrows the buffer until the next call: copy it out to keep it.
    pub fn read_message(&mut self) -> Result<Option<&[u8]>, ConnError> {
        self.state.read_message(self.stream, self.trace, |_| Ok(()))
    }

    /// The socket (for its options, such as the read timeout).
    pub fn stream(&self) -> &TcpStream {
        self.stream
    }

    /// For a protocol that decodes for itself (a state machine fed bytes): the bytes read
    /// but not used yet.
    pub fn unread(&self) -> &[u8] {
        &self.state.buf.bytes()[self.state.head + self.state.pending..self.state.filled]
    }

    /// Marks the first `n` bytes of [`unread`](Self::unread) as used.
    pub fn consume(&mut self, n: usize) {
        self.state.head += std::mem::take(&mut self.state.pending);
        self.state.head = (self.state.head + n).min(self.state.filled);
    }

    /// One `read()` from the socket, appended to [`unread`](Self::unread) (the buffer grows
    /// as [`read_message`](Self::read_message)'s does). Returns the byte count; 0 is the end
    /// of the stream.
    pub fn fill(&mut self) -> io::Result<usize> {
        self.state.head += std::mem::take(&mut self.state.pending);
        self.state.fill(self.stream, self.trace)
    }
}

impl ReadState {
    fn read_message(
        &mut self,
        stream: &TcpStream,
        trace: Option<&str>,
        mut before_read: impl FnMut(&TcpStream) -> io::Result<()>,
    ) -> Result<Option<&[u8]>, ConnError> {
        self.head += std::mem::take(&mut self.pending);
        loop {
            let unread = &self.buf.bytes()[self.head..self.filled];
            if let Some(frame) = self.decoder.decode(unread)? {
                return Ok(Some(self.take(frame)));
            }
            before_read(stream)?;
            match self.fill(stream, trace) {
                Ok(0) => {
                    let unread = &self.buf.bytes()[self.head..self.filled];
                    let last = self.decoder.decode_eof(unread)?;
                    return Ok(last.map(|frame| self.take(frame)));
                }
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn take(&mut self, frame: frame::Frame) -> &[u8] {
        let start = self.head;
        self.pending = frame.consumed;
        &self.buf.bytes()[start + frame.body.start..start + frame.body.end]
    }

    /// One `read()` from the socket into the buffer. Returns the byte count (0 = end of stream).
    fn fill(&mut self, mut stream: &TcpStream, trace: Option<&str>) -> io::Result<usize> {
        // Move the unused bytes to the front so the buffer never grows past one message
        // plus one read.
        if self.head > 0 {
            self.buf.bytes_mut().copy_within(self.head..self.filled, 0);
            self.filled -= self.head;
            self.head = 0;
        }
        let mut want = self.next_read;
        if self.decoder.framing() == Framing::Raw {
            // Raw: one read is one message, so a read must not exceed the message limit.
            want = want.min(self.decoder.max_frame().max(1));
        }
        if let Storage::Inline(inline) = &self.buf {
            // While the inline buffer has room, read into what is left of it.
            let room = inline.len() - self.filled;
            if room > 0 && want >= room {
                want = room;
            }
        }
        self.buf.ensure(self.filled + want, self.filled);
        let space = &mut self.buf.bytes_mut()[self.filled..self.filled + want];
        let n = loop {
            match stream.read(space) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result?,
            }
        };
        if let Some(label) = trace {
            output::trace(&label, "read", &space[..n]);
        }
        // A read that filled all the space asked for suggests more is waiting: ask for more
        // next time (fewer system calls for bulk data).
        if n == want {
            self.next_read = (self.next_read * 2).min(READ_CHUNK_MAX);
        }
        self.filled += n;
        self.bytes_in += n as u64;
        Ok(n)
    }
}

impl Writer<'_> {
    /// Frames `msg` and writes all of it.
    pub fn write_message(&mut self, msg: &[u8]) -> Result<(), ConnError> {
        self.write_parts(&[msg])
    }

    /// Frames the message made of `parts` (e.g. `[b"hello,", msg]`) and writes all of it,
    /// in one system call when the kernel takes it.
    pub fn write_parts(&mut self, parts: &[&[u8]]) -> Result<(), ConnError> {
        let env = frame::envelope_parts(self.state.framing, parts)?;
        let body_len: usize = parts.iter().map(|p| p.len()).sum();
        let len = env.frame_len(body_len);
        let pieces = std::iter::once(env.prefix())
            .chain(parts.iter().copied())
            .chain(std::iter::once(env.suffix()));
        if len <= SMALL_WRITE {
            // Small frames are assembled on the stack: no heap buffer per connection.
            let mut frame = [0u8; SMALL_WRITE];
            let mut at = 0;
            for piece in pieces {
                frame[at..at + piece.len()].copy_from_slice(piece);
                at += piece.len();
            }
            return Ok(self.write_bytes(&frame[..len])?);
        }
        let mut wbuf = std::mem::take(&mut self.state.wbuf);
        wbuf.clear();
        wbuf.reserve(len);
        pieces.for_each(|piece| wbuf.extend_from_slice(piece));
        let result = self.write_bytes(&wbuf);
        self.state.wbuf = wbuf;
        Ok(result?)
    }

    /// Writes bytes exactly as given, all of them (no framing added).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(label) = self.trace {
            output::trace(&label, "write", bytes);
        }
        let mut stream = self.stream;
        stream.write_all(bytes)?;
        self.state.bytes_out += bytes.len() as u64;
        Ok(())
    }

    /// [`write_bytes`](Self::write_bytes), calling `before_write` before each write to the
    /// socket (a peer that reads slowly takes the bytes over many writes, and a deadline
    /// must hold for all of them). An error from it ends the writing.
    pub fn write_bytes_with(
        &mut self,
        bytes: &[u8],
        before_write: impl FnMut(&TcpStream) -> io::Result<()>,
    ) -> io::Result<()> {
        if let Some(label) = self.trace {
            output::trace(&label, "write", bytes);
        }
        write_all_with(self.stream, bytes, before_write)?;
        self.state.bytes_out += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tcp_pair as pair;

    #[test]
    fn a_hook_runs_before_every_read_and_every_write_and_can_end_them() {
        let (mut raw, server) = pair();
        let mut conn = Connection::new(server, Framing::Line, 100, None);
        // A message in three pieces: three reads, three calls.
        raw.write_all(b"l").unwrap();
        let writer = std::thread::spawn(move || {
            for piece in [&b"i"[..], b"\n"] {
                std::thread::sleep(std::time::Duration::from_millis(30));
                raw.write_all(piece).unwrap();
            }
            raw
        });
        let mut calls = 0;
        let got = conn
            .read_message_with(|_| {
                calls += 1;
                Ok(())
            })
            .unwrap()
            .map(<[u8]>::to_vec);
        assert_eq!(got.as_deref(), Some(&b"li"[..]));
        assert!(calls >= 2, "{calls} calls for a message in pieces");
        let mut raw = writer.join().unwrap();
        // The hook's error ends the wait, before any read.
        let ended = conn.read_message_with(|_| Err(io::ErrorKind::TimedOut.into()));
        assert!(matches!(ended, Err(e) if e.is_timeout()));
        // Writes: every byte goes, the hook before each write.
        let mut writes = 0;
        conn.write_bytes_with(b"ok\n", |_| {
            writes += 1;
            Ok(())
        })
        .unwrap();
        assert!(writes >= 1);
        let mut three = [0u8; 3];
        raw.read_exact(&mut three).unwrap();
        assert_eq!(&three, b"ok\n");
        assert_eq!(conn.bytes_out(), 3);
        let refused = conn.write_bytes_with(b"no", |_| Err(io::ErrorKind::TimedOut.into()));
        assert_eq!(refused.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn a_socket_timeout_is_set_only_when_it_changes() {
        let (_raw, server) = pair();
        let mut t = SocketTimeouts::new(None, None);
        let five = Some(Duration::from_secs(5));
        t.set_read(&server, five).unwrap();
        assert_eq!(server.read_timeout().unwrap(), five);
        // Set behind its back: an unchanged wait makes no call, so the socket keeps it.
        server
            .set_read_timeout(Some(Duration::from_secs(7)))
            .unwrap();
        t.set_read(&server, five).unwrap();
        assert_eq!(server.read_timeout().unwrap(), Some(Duration::from_secs(7)));
        t.set_write(&server, five).unwrap();
        assert_eq!(server.write_timeout().unwrap(), five);
        t.set_read(&server, None).unwrap();
        assert_eq!(server.read_timeout().unwrap(), None);
    }

    #[test]
    fn reads_messages_however_the_bytes_arrive() {
        let (mut raw, server) = pair();
        let mut conn = Connection::new(server, Framing::Line, 100, None);
        // Two messages in one write, then one message in three writes.
        raw.write_all(b"li\nbo\n").unwrap();
        assert_eq!(conn.read_message().unwrap(), Some(&b"li"[..]));
        assert_eq!(conn.read_message().unwrap(), Some(&b"bo"[..]));
        for part in [&b"c"[..], b"a\r", b"\n"] {
            raw.write_all(part).unwrap();
            raw.flush().unwrap();
        }
        assert_eq!(conn.read_message().unwrap(), Some(&b"ca"[..]));
        drop(raw);
        assert_eq!(conn.read_message().unwrap(), None);
        assert_eq!(conn.bytes_in(), 10);
    }

    #[test]
    fn end_of_stream_mid_message_is_reported() {
        let (mut raw, server) = pair();
        let mut conn = Connection::new(server, Framing::Length, 100, None);
        raw.write_all(&[0, 0, 0, 10, b'x']).unwrap();
        drop(raw);
        let err = conn.read_message().unwrap_err();
        assert!(
            matches!(err, ConnError::Frame(FrameError::Truncated { buffered: 5 })),
            "{err}"
        );
    }

    #[test]
    fn large_messages_grow_the_buffer_and_round_trip() {
        let (client, server) = pair();
        let msg: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sent = msg.clone();
        let writer = std::thread::spawn(move || {
            let mut c = Connection::new(client, Framing::Length, 1 << 20, None);
            c.write_message(&sent).unwrap();
            c.bytes_out()
        });
        let mut conn = Connection::new(server, Framing::Length, 1 << 20, None);
        assert_eq!(conn.read_message().unwrap().unwrap(), &msg[..]);
        assert_eq!(writer.join().unwrap(), msg.len() as u64 + 4);
    }

    #[test]
    fn oversize_is_refused() {
        let (mut raw, server) = pair();
        let mut conn = Connection::new(server, Framing::Line, 10, None);
        raw.write_all(&[b'a'; 100]).unwrap();
        let err = conn.read_message().unwrap_err();
        assert!(
            matches!(err, ConnError::Frame(FrameError::TooLarge { .. })),
            "{err}"
        );
    }

    #[test]
    fn raw_reads_are_capped_at_the_message_limit() {
        let (mut raw, server) = pair();
        let mut conn = Connection::new(server, Framing::Raw, 4, None);
        raw.write_all(b"abcdefgh").unwrap();
        drop(raw);
        let mut got = Vec::new();
        while let Some(m) = conn.read_message().unwrap() {
            assert!(m.len() <= 4);
            got.extend_from_slice(m);
        }
        assert_eq!(got, b"abcdefgh");
    }

    #[test]
    fn a_silent_peer_is_a_timeout() {
        let (_raw, server) = pair();
        server
            .set_read_timeout(Some(std::time::Duration::from_millis(20)))
            .unwrap();
        let mut conn = Connection::new(server, Framing::Line, 10, None);
        let silent = conn.read_message().unwrap_err();
        assert!(silent.is_timeout() && !silent.is_reset(), "{silent:?}");
    }

    #[test]
    #[cfg_attr(
        wine,
        ignore = "Wine 8's server takes a reset's error off the socket (SO_ERROR) first, so a later read sees end of stream; Windows reports the reset"
    )]
    fn an_abort_mid_message_is_a_reset() {
        let (raw, server) = pair();
        let mut conn = Connection::new(server, Framing::Line, 10, None);
        // The peer aborts (SO_LINGER 0: RST instead of FIN) in the middle of a message.
        (&raw).write_all(b"half").unwrap();
        crate::net::abort_on_close(&raw).unwrap();
        drop(raw);
        conn.stream()
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let reset = conn.read_message().unwrap_err();
        assert!(reset.is_reset() && !reset.is_timeout(), "{reset:?}");
    }

    #[test]
    fn a_read_with_no_time_left_sets_nothing_and_says_so() {
        let (_client, server) = pair();
        let mut timeouts = SocketTimeouts::new(None, None);
        let two = Some(Duration::from_secs(2));
        assert!(timeouts.set_read_left(&server, two).unwrap());
        assert_eq!(server.read_timeout().unwrap(), two);
        assert!(!timeouts
            .set_read_left(&server, Some(Duration::ZERO))
            .unwrap());
        assert_eq!(server.read_timeout().unwrap(), two);
        assert!(timeouts.set_read_left(&server, None).unwrap());
        assert_eq!(server.read_timeout().unwrap(), None);
    }
}
