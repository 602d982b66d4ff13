//! # One connection: control lines and raw file bytes on the same stream
//!
//! Upload v1 mixes two kinds of bytes on one TCP stream: short control lines, and the
//! file, which is not framed at all (its length was announced by `PUT`). A reader must
//! therefore never take more than it needs. Reading a line with a plain `read()` could
//! swallow the first bytes of the file with it; reading the file with the socket directly
//! would skip what a line reader had already buffered.
//!
//! [`Wire`] reads both through one [`BufReader`]: a line comes out of its buffer, and the
//! file's bytes come from that same buffer first, then straight from the socket (for large
//! reads `BufReader` skips its own buffer, so the file costs no extra copy).
//!
//! A line is read at most [`MAX_LINE`] bytes far: a client that sends an endless line is
//! refused there instead of filling the server's memory. And a line must be complete
//! within `--message-timeout` of its first byte ([`common::deadline`]): a client that
//! trickles a line one byte at a time is closed instead of holding its slot for ever.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::conn::SocketTimeouts;
use common::deadline::MessageClock;
use common::output;

use crate::protocol::MAX_LINE;

/// What [`Wire::read_line`] found instead of a line.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("a control line longer than {MAX_LINE} bytes")]
    TooLong,
    #[error("the connection ended in the middle of a line")]
    Truncated,
    /// A line began and was not complete within the message timeout (slowloris).
    #[error("a control line not complete {} s after its first byte", .0.as_secs_f64())]
    Timeout(Duration),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Size of the buffer lines are read through. Small: control lines are short, and large
/// reads of file data go around it.
const LINE_BUFFER: usize = 4 * 1024;

/// A connection that speaks in lines and raw bytes.
pub struct Wire {
    /// The stream, read through a small buffer; written directly.
    reader: BufReader<TcpStream>,
    line: Vec<u8>,
    /// The clock of the line being read (`--message-timeout`).
    clock: MessageClock,
    /// The idle timeout the socket has between lines (`SO_RCVTIMEO`), which the clock
    /// shortens while a line is incomplete.
    idle: Option<Duration>,
    /// The socket's timeouts now, so that each is set only when it changes.
    timeouts: SocketTimeouts,
    /// `--trace`: who to name in the dumps of control lines.
    trace: Option<String>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Wire {
    pub fn new(stream: TcpStream, trace: Option<String>) -> Wire {
        Wire {
            reader: BufReader::with_capacity(LINE_BUFFER, stream),
            line: Vec::new(),
            clock: MessageClock::new(None),
            idle: None,
            timeouts: SocketTimeouts::default(),
            trace,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Every control line must be complete within `limit` of its first byte, on a socket
    /// whose read timeout between lines is `idle`.
    pub fn with_message_timeout(mut self, limit: Option<Duration>, idle: Option<Duration>) -> Wire {
        self.clock = MessageClock::new(limit);
        self.idle = idle;
        self.timeouts = SocketTimeouts::new(idle, None);
        self
    }

    /// Changes the read timeout between lines: longer while the other side is known to be
    /// busy (hashing a large file), then back.
    pub fn set_idle(&mut self, idle: Option<Duration>) -> io::Result<()> {
        self.idle = idle;
        self.timeouts.set_read(self.reader.get_ref(), idle)
    }

    /// The read timeout between lines.
    pub fn idle(&self) -> Option<Duration> {
        self.idle
    }

    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Reads one line, `\n` included. `Ok(None)` is end of stream before the line began.
    pub fn read_line(&mut self) -> Result<Option<&[u8]>, LineError> {
        self.read_line_with(|_| Ok(()))
    }

    /// [`read_line`](Self::read_line), calling `before_read` before each read from the
    /// socket: a grader cuts the read timeout there to what is left of its step. An error
    /// from it ends the wait.
    pub fn read_line_with(
        &mut self,
        mut before_read: impl FnMut(&TcpStream) -> io::Result<()>,
    ) -> Result<Option<&[u8]>, LineError> {
        self.line.clear();
        let limit = self.clock.limit().unwrap_or_default();
        loop {
            if self.reader.buffer().is_empty() {
                before_read(self.reader.get_ref())?;
            }
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if common::net::is_timeout(&e) && self.clock.expired(Instant::now()) => {
                    return Err(LineError::Timeout(limit));
                }
                Err(e) => return Err(e.into()),
            };
            if available.is_empty() {
                break; // end of stream
            }
            // Up to the `\n`, and never past MAX_LINE: an endless line is refused there.
            let room = &available[..available.len().min(MAX_LINE - self.line.len())];
            let (take, done) = match room.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (room.len(), false),
            };
            self.line.extend_from_slice(&room[..take]);
            self.reader.consume(take);
            if done || self.line.len() == MAX_LINE {
                break;
            }
            // Part of a line is here: the rest must come before its deadline, so the next
            // read waits no longer than the line has left (a syscall only while a line is
            // incomplete; without a limit, never).
            if self.clock.limit().is_some() {
                let now = Instant::now();
                self.clock.begin(now);
                let left = self.clock.read_timeout(self.idle, now);
                if !self.timeouts.set_read_left(self.reader.get_ref(), left)? {
                    return Err(LineError::Timeout(limit));
                }
            }
        }
        // The line is complete: the next one has its own clock, and the socket its idle
        // timeout back.
        if self.clock.limit().is_some() {
            self.clock.end();
            self.timeouts.set_read(self.reader.get_ref(), self.idle)?;
        }
        let n = self.line.len();
        self.bytes_in += n as u64;
        if let Some(who) = &self.trace {
            output::trace(who, "read", &self.line);
        }
        if n == 0 {
            return Ok(None);
        }
        if !self.line.ends_with(b"\n") {
            return Err(if n == MAX_LINE {
                LineError::TooLong
            } else {
                LineError::Truncated
            });
        }
        Ok(Some(&self.line))
    }

    /// Reads file bytes: what the line reader had buffered first, then from the socket.
    /// `Ok(0)` is end of stream.
    pub fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.reader.read(buf)?;
        self.bytes_in += n as u64;
        Ok(n)
    }

    /// Whether bytes the peer sent are waiting (buffered here or in the socket), without
    /// waiting for any. A sender uses it to hear an early `ERR` while it is still sending.
    pub fn has_pending_input(&self) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        // A peek that does not wait (see `os::has_pending_input` for each system's way). End
        // of stream counts: the server closing is news, too.
        common::os::has_pending_input(self.stream())
    }

    /// Writes one control line (already ending in `\n`) in a single call.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        if let Some(who) = &self.trace {
            output::trace(who, "write", line);
        }
        self.write_data(line)
    }

    /// Writes file bytes.
    pub fn write_data(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut stream = self.stream();
        stream.write_all(bytes)?;
        self.bytes_out += bytes.len() as u64;
        Ok(())
    }

    /// Writes control lines or file bytes, calling `before_write` before each write to the
    /// socket (a slow reader takes them over many writes, and a grader's deadline holds for
    /// all of them).
    pub fn write_with(
        &mut self,
        bytes: &[u8],
        before_write: impl FnMut(&TcpStream) -> io::Result<()>,
    ) -> io::Result<()> {
        if let Some(who) = &self.trace {
            output::trace(who, "write", bytes);
        }
        common::conn::write_all_with(self.reader.get_ref(), bytes, before_write)?;
        self.bytes_out += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use common::testing::tcp_pair as pair;

    #[test]
    fn a_line_and_the_bytes_after_it_arrive_in_order() {
        let (mut client, server) = pair();
        // Line and data in one write: the line reader must not lose the data's first bytes.
        client.write_all(b"PUT 5 a\nhelloSHA256 x\n").unwrap();
        let mut wire = Wire::new(server, None);
        assert_eq!(wire.read_line().unwrap(), Some(&b"PUT 5 a\n"[..]));
        let mut data = [0u8; 5];
        let mut got = 0;
        while got < 5 {
            got += wire.read_data(&mut data[got..]).unwrap();
        }
        assert_eq!(&data, b"hello");
        assert_eq!(wire.read_line().unwrap(), Some(&b"SHA256 x\n"[..]));
        drop(client);
        assert!(wire.read_line().unwrap().is_none());
        assert_eq!(wire.bytes_in, 22);
    }

    #[test]
    fn an_endless_line_is_refused_without_buffering_it() {
        let (mut client, server) = pair();
        client.write_all(&vec![b'x'; MAX_LINE * 4]).unwrap();
        let mut wire = Wire::new(server, None);
        assert!(matches!(wire.read_line(), Err(LineError::TooLong)));
        assert!(wire.line.len() <= MAX_LINE);
    }

    #[test]
    fn a_cut_line_is_reported() {
        let (mut client, server) = pair();
        client.write_all(b"PUT 5").unwrap();
        drop(client);
        let mut wire = Wire::new(server, None);
        assert!(matches!(wire.read_line(), Err(LineError::Truncated)));
    }

    #[test]
    fn pending_input_is_seen_without_waiting() {
        let (mut client, server) = pair();
        let wire = Wire::new(server, None);
        assert!(!wire.has_pending_input());
        client.write_all(b"ERR NO_SPACE full\n").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !wire.has_pending_input() {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    #[test]
    fn a_trickled_line_runs_out_of_time_though_no_read_waits_long() {
        let (mut client, server) = pair();
        let idle = Some(Duration::from_secs(5));
        server.set_read_timeout(idle).unwrap();
        let limit = Duration::from_millis(300);
        let mut wire = Wire::new(server, None).with_message_timeout(Some(limit), idle);
        // One byte every 50 ms, never a '\n': never idle for long, never a whole line.
        let writer = std::thread::spawn(move || {
            for _ in 0..60 {
                if client.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let started = Instant::now();
        let got = wire.read_line();
        let took = started.elapsed();
        assert!(
            matches!(got, Err(LineError::Timeout(l)) if l == limit),
            "{got:?}"
        );
        assert!(took >= limit && took < Duration::from_secs(3), "{took:?}");
        drop(wire);
        writer.join().unwrap();
    }

    /// Writes `PU` now and `T 1 a\n` 100 ms later, so that a read sees half a line first.
    fn half_a_line_then_the_rest(mut client: TcpStream) -> std::thread::JoinHandle<TcpStream> {
        client.write_all(b"PU").unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            client.write_all(b"T 1 a\n").unwrap();
            client
        })
    }

    #[test]
    fn a_whole_line_gives_the_socket_its_idle_timeout_back() {
        let (client, server) = pair();
        let idle = Some(Duration::from_secs(5));
        server.set_read_timeout(idle).unwrap();
        let limit = Some(Duration::from_secs(2));
        let mut wire = Wire::new(server, None).with_message_timeout(limit, idle);
        // Half a line, then the rest: the read in between waits at most what the line has left.
        let writer = half_a_line_then_the_rest(client);
        assert_eq!(wire.read_line().unwrap(), Some(&b"PUT 1 a\n"[..]));
        assert_eq!(wire.stream().read_timeout().unwrap(), idle);
        drop(writer.join().unwrap());
    }

    #[test]
    fn without_a_message_timeout_the_socket_keeps_its_own() {
        let (client, server) = pair();
        let seven = Some(Duration::from_secs(7));
        server.set_read_timeout(seven).unwrap();
        let mut wire = Wire::new(server, None).with_message_timeout(None, seven);
        let writer = half_a_line_then_the_rest(client);
        assert_eq!(wire.read_line().unwrap(), Some(&b"PUT 1 a\n"[..]));
        assert_eq!(wire.stream().read_timeout().unwrap(), seven);
        drop(writer.join().unwrap());
    }
}
