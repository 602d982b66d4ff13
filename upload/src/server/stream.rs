//! # A `STREAM`'s bytes: chunks, each announced by a `DATA` line, ended by `SHA256`
//!
//! A pipe has no size to put in `PUT`. With `stream/1` the sender announces each chunk as
//! it has it (`DATA <n>`, then `n` bytes), and its `SHA256` line says that the bytes are
//! over. [`Chunks`] turns that back into plain bytes for [`super::transfer::receive`], which
//! writes and hashes them as it does a file's: `Ok(0)` once the `SHA256` line is in.
//!
//! What can go wrong is told apart, because the answers differ: more than `--max-size`
//! (`ERR TOO_LARGE`), a line that is not `DATA` or `SHA256` (`ERR BAD_REQUEST`), the
//! sender gone in the middle (no answer: nobody is there to read it). In every case the
//! partial file is deleted: a stream cannot be resumed (the sender cannot send its bytes
//! again), and nothing appears under the final name.

use std::io;

use crate::protocol::{Digest, ErrCode, Request, MAX_CHUNK};
use crate::wire::{LineError, Wire};

/// The state of one stream's chunks.
pub(super) struct Chunks {
    /// Bytes of the current chunk still to come.
    left: u64,
    /// Bytes announced so far, and the most allowed (`--max-size`).
    total: u64,
    max: u64,
    /// The digest of the `SHA256` line that ended the stream.
    pub end: Option<Digest>,
    /// Why the server stops the stream, for its `ERR` line.
    pub refusal: Option<(ErrCode, String)>,
    /// The sender closed the connection before `SHA256`.
    pub closed: bool,
}

impl Chunks {
    pub fn new(max: u64) -> Chunks {
        Chunks {
            left: 0,
            total: 0,
            max,
            end: None,
            refusal: None,
            closed: false,
        }
    }

    /// Reads the stream's next bytes from `wire` into `buf`: `Ok(0)` at its end (after
    /// `SHA256`), an error for anything else that stops it (see the fields).
    pub fn read(&mut self, wire: &mut Wire, buf: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            if self.end.is_some() {
                return Ok(0);
            }
            self.next_line(wire)?;
        }
        let want = self.left.min(buf.len() as u64) as usize;
        let n = wire.read_data(&mut buf[..want])?;
        if n == 0 {
            return Err(self.gone());
        }
        self.left -= n as u64;
        Ok(n)
    }

    /// Reads the line between two chunks: `DATA <n>` or the final `SHA256`.
    fn next_line(&mut self, wire: &mut Wire) -> io::Result<()> {
        let request = match wire.read_line() {
            Ok(Some(line)) => Request::parse(line),
            Ok(None) | Err(LineError::Truncated) => return Err(self.gone()),
            Err(LineError::Io(e)) => return Err(e),
            Err(e @ LineError::Timeout(_)) => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, e.to_string()))
            }
            Err(LineError::TooLong) => {
                return Err(self.refuse(ErrCode::BadRequest, "an overlong line in a STREAM"))
            }
        };
        match request {
            Ok(Request::Data(n)) => {
                self.total = self.total.saturating_add(n);
                if self.total > self.max {
                    let text = format!(
                        "the stream is past {} bytes, more than this server accepts \
                         (--max-size); nothing stored",
                        self.max
                    );
                    return Err(self.refuse(ErrCode::TooLarge, &text));
                }
                self.left = n;
            }
            Ok(Request::Sha256(digest)) => self.end = Some(digest),
            _ => {
                let text = format!(
                    "expected DATA <1 to {MAX_CHUNK}> or SHA256 <digest> in a STREAM; \
                     nothing stored"
                );
                return Err(self.refuse(ErrCode::BadRequest, &text));
            }
        }
        Ok(())
    }

    fn refuse(&mut self, code: ErrCode, text: &str) -> io::Error {
        self.refusal = Some((code, text.to_string()));
        io::Error::other(text.to_string())
    }

    fn gone(&mut self) -> io::Error {
        self.closed = true;
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the sender closed the connection in the middle of the stream",
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use common::testing::tcp_pair;
    use std::io::Write;

    /// Everything `bytes` says, read through a `Chunks` with `max`; the chunks' state after.
    fn read_all(bytes: &[u8], max: u64) -> (Vec<u8>, io::Result<()>, Chunks) {
        let (mut client, server) = tcp_pair();
        client.write_all(bytes).unwrap();
        drop(client);
        let mut wire = Wire::new(server, None);
        let mut chunks = Chunks::new(max);
        let mut got = Vec::new();
        let mut buf = [0u8; 3];
        let result = loop {
            match chunks.read(&mut wire, &mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break Err(e),
            }
        };
        (got, result, chunks)
    }

    #[test]
    fn chunks_become_the_bytes_and_sha256_ends_them() {
        let sha = format!("SHA256 {}\n", "ab".repeat(32));
        let input = [&b"DATA 5\nhelloDATA 1\n!"[..], sha.as_bytes()].concat();
        let (got, result, chunks) = read_all(&input, 100);
        result.unwrap();
        assert_eq!(got, b"hello!");
        assert_eq!(chunks.end, Some([0xab; 32]));
    }

    #[test]
    fn what_stops_a_stream_is_told_apart() {
        let (got, result, chunks) = read_all(b"DATA 5\nhel", 100);
        assert!(result.is_err() && chunks.closed && chunks.refusal.is_none());
        assert_eq!(got, b"hel");
        let (_, result, chunks) = read_all(b"DATA 60\nDATA", 50);
        assert!(result.is_err());
        assert_eq!(chunks.refusal.unwrap().0, ErrCode::TooLarge);
        let (_, _, chunks) = read_all(b"DATA 2\nokPUT 1 x\n", 50);
        assert_eq!(chunks.refusal.unwrap().0, ErrCode::BadRequest);
        let (_, _, chunks) = read_all(b"DATA 0\n", 50);
        assert_eq!(chunks.refusal.unwrap().0, ErrCode::BadRequest);
        let (_, result, chunks) = read_all(b"", 50);
        assert!(result.is_err() && chunks.closed);
    }
}
