//! # A connection: a stream, a buffer, and a framing
//!
//! [`crate::frame`] knows where messages end; this module does the I/O around it. A
//! [`Connection`] owns a [`TcpStream`] and the bytes read from it that are not yet used:
//!
//! - [`Connection::read_message`] reads until the decoder finds one whole message, however
//!   the bytes were split or merged by the network, and keeps the bytes after it for the
//!   next call (they belong to the next message).
//! - [`Connection::write_message`] frames a message and writes *all* of it. A single
//!   `send()` may write only part of a buffer (the tutorial's client has this bug);
//!   `write_all` loops until every byte is handed to the kernel.
//!
//! With a trace label set, every read and write is dumped (hex and text, byte count), which
//! is how you *see* that TCP keeps bytes but not boundaries.
//!
//! The read buffer starts small (an idle connection costs little memory) and doubles when a
//! read fills it, up to [`READ_CHUNK_MAX`], so bulk transfers still use few system calls.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use crate::frame::{self, Decoder, FrameError, Framing};
use crate::output;

/// The first read asks for this many bytes. Small, so 10,000 idle connections cost 10 MB,
/// not 640 MB.
pub const READ_CHUNK_MIN: usize = 1024;
/// Reads grow (doubling each time one fills the buffer) up to this size.
pub const READ_CHUNK_MAX: usize = 64 * 1024;

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
        matches!(self, ConnError::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
    }

    /// The peer reset the connection, or closed it while we were writing.
    pub fn is_reset(&self) -> bool {
        matches!(self, ConnError::Io(e) if matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe
        ))
    }
}

/// A TCP stream with its read buffer and framing.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    decoder: Decoder,
    /// Bytes read from the socket; `buf[head..filled]` are not used yet.
    buf: Vec<u8>,
    head: usize,
    filled: usize,
    /// The message returned by the last `read_message`, dropped at the next call (the
    /// caller borrowed it until then).
    pending: usize,
    /// How many bytes the next read asks for.
    next_read: usize,
    /// Scratch space where outgoing messages are framed, reused between writes.
    wbuf: Vec<u8>,
    /// Label for `--trace` dumps; `None` = no trace.
    trace: Option<String>,
    bytes_in: u64,
    bytes_out: u64,
}

impl Connection {
    pub fn new(stream: TcpStream, framing: Framing, max_frame: usize) -> Connection {
        Connection {
            stream,
            decoder: Decoder::new(framing, max_frame),
            buf: Vec::new(),
            head: 0,
            filled: 0,
            pending: 0,
            next_read: READ_CHUNK_MIN,
            wbuf: Vec::new(),
            trace: None,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Dump every read and write on stderr, labelled with `label` (e.g. `#3 127.0.0.1:5555`).
    pub fn with_trace(mut self, label: Option<String>) -> Connection {
        self.trace = label;
        self
    }

    pub fn framing(&self) -> Framing {
        self.decoder.framing()
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.stream.peer_addr()
    }

    /// Bytes read from the socket so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes written to the socket so far.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// Reads the next whole message. `Ok(None)` is a clean end of stream (the peer closed
    /// between two messages); an end in the middle of a message is [`FrameError::Truncated`].
    ///
    /// The message borrows the connection's buffer until the next call: copy it out if you
    /// need to keep it.
    pub fn read_message(&mut self) -> Result<Option<&[u8]>, ConnError> {
        self.head += std::mem::take(&mut self.pending);
        loop {
            let found = self.decoder.decode(&self.buf[self.head..self.filled])?;
            if let Some(frame) = found {
                return Ok(Some(self.take(frame)));
            }
            if self.fill()? == 0 {
                let at_eof = self.decoder.decode_eof(&self.buf[self.head..self.filled])?;
                return Ok(at_eof.map(|frame| self.take(frame)));
            }
        }
    }

    fn take(&mut self, frame: frame::Frame) -> &[u8] {
        let start = self.head;
        self.pending = frame.consumed;
        &self.buf[start + frame.body.start..start + frame.body.end]
    }

    /// One `read()` from the socket into the buffer. Returns the byte count (0 = end of stream).
    fn fill(&mut self) -> io::Result<usize> {
        // Move the unused bytes to the front so the buffer never grows past one message
        // plus one read.
        if self.head > 0 {
            self.buf.copy_within(self.head..self.filled, 0);
            self.filled -= self.head;
            self.head = 0;
        }
        let mut want = self.next_read;
        if self.decoder.framing() == Framing::Raw {
            // Raw: one read is one message, so a read must not exceed the message limit.
            want = want.min(self.decoder.max_frame().max(1));
        }
        if self.buf.len() < self.filled + want {
            self.buf.resize(self.filled + want, 0);
        }
        let space = &mut self.buf[self.filled..self.filled + want];
        let n = loop {
            match self.stream.read(space) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result?,
            }
        };
        if let Some(label) = &self.trace {
            output::trace(label, "read", &space[..n]);
        }
        if n == want {
            self.next_read = (self.next_read * 2).min(READ_CHUNK_MAX);
        }
        self.filled += n;
        self.bytes_in += n as u64;
        Ok(n)
    }

    /// Frames `msg` and writes all of it.
    pub fn write_message(&mut self, msg: &[u8]) -> Result<(), ConnError> {
        let mut wbuf = std::mem::take(&mut self.wbuf);
        wbuf.clear();
        let result = frame::encode(self.decoder.framing(), msg, &mut wbuf)
            .map_err(ConnError::from)
            .and_then(|()| self.write_bytes(&wbuf).map_err(ConnError::from));
        self.wbuf = wbuf;
        result
    }

    /// Writes bytes exactly as given, all of them (no framing added).
    pub fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(label) = &self.trace {
            output::trace(label, "write", bytes);
        }
        self.stream.write_all(bytes)?;
        self.bytes_out += bytes.len() as u64;
        Ok(())
    }

    /// Says "I will send nothing more" (a TCP FIN) while still reading what the peer sends.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A connected pair of streams on loopback.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn reads_messages_however_the_bytes_arrive() {
        let (mut raw, server) = pair();
        let mut conn = Connection::new(server, Framing::Line, 100);
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
        let mut conn = Connection::new(server, Framing::Length, 100);
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
            let mut c = Connection::new(client, Framing::Length, 1 << 20);
            c.write_message(&sent).unwrap();
            c.bytes_out()
        });
        let mut conn = Connection::new(server, Framing::Length, 1 << 20);
        assert_eq!(conn.read_message().unwrap().unwrap(), &msg[..]);
        assert_eq!(writer.join().unwrap(), msg.len() as u64 + 4);
    }

    #[test]
    fn oversize_is_refused() {
        let (mut raw, server) = pair();
        let mut conn = Connection::new(server, Framing::Line, 10);
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
        let mut conn = Connection::new(server, Framing::Raw, 4);
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
    fn timeouts_and_resets_are_classified() {
        let (_raw, server) = pair();
        server
            .set_read_timeout(Some(std::time::Duration::from_millis(20)))
            .unwrap();
        let mut conn = Connection::new(server, Framing::Line, 10);
        assert!(conn.read_message().unwrap_err().is_timeout());
    }
}
