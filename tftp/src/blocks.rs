//! # From a file to blocks and back, hashed on the way
//!
//! The sender cuts the file into blocks of exactly `blksize` bytes (the last one shorter,
//! perhaps empty); the receiver writes them out. In netascii mode the text is converted on
//! the way ([`crate::netascii`]). Both hash the bytes of the *file* (before conversion on
//! one side, after it on the other) with SHA-256: TFTP has no checksum of its own, only
//! UDP's 16-bit one, so the digests printed at both ends are the only proof the file
//! arrived as it left.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::mpsc::{self, SyncSender};
use std::thread::{self, JoinHandle};

use sha2::{Digest, Sha256};

use crate::netascii::{Decoder, Encoder};
use crate::packet::Mode;

/// How much the file is read and written at a time when blocks are small: 512-byte blocks
/// would otherwise cost a system call each. Blocks as large or larger go straight to and
/// from the file, with no copy in between.
const FILE_BUFFER: usize = 8 * 1024;
/// Chunks waiting for the hashing thread, at most: memory stays bounded if it falls behind.
const HASH_QUEUE: usize = 64;

/// SHA-256 on a thread of its own, so that hashing is not on the path of every block:
/// a block goes out while the last one is hashed (on loopback, hashing inline made each
/// round trip of 64 KB blocks half as long again). Where no thread can be made, it hashes
/// inline.
struct Hasher {
    queue: Option<SyncSender<Vec<u8>>>,
    thread: Option<JoinHandle<Sha256>>,
    inline: Option<Sha256>,
    /// The thread went away part way: the digest cannot be known.
    broken: bool,
}

impl Hasher {
    fn new() -> Hasher {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(HASH_QUEUE);
        let spawned = thread::Builder::new().name("sha256".into()).spawn(move || {
            let mut h = Sha256::new();
            for chunk in rx {
                h.update(&chunk);
            }
            h
        });
        match spawned {
            Ok(t) => Hasher {
                queue: Some(tx),
                thread: Some(t),
                inline: None,
                broken: false,
            },
            Err(_) => Hasher {
                queue: None,
                thread: None,
                inline: Some(Sha256::new()),
                broken: false,
            },
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(h) = self.inline.as_mut() {
            h.update(bytes);
        } else if let Some(q) = &self.queue {
            if q.send(bytes.to_vec()).is_err() {
                self.broken = true;
            }
        }
    }

    /// The digest, in hex.
    fn finish(mut self) -> io::Result<String> {
        drop(self.queue.take());
        let hash = match (self.inline.take(), self.thread.take()) {
            (Some(h), _) => Some(h),
            (None, Some(t)) => t.join().ok(),
            (None, None) => None,
        };
        match hash {
            Some(h) if !self.broken => Ok(hex::encode(h.finalize())),
            _ => Err(io::Error::other(
                "the SHA-256 thread stopped part way: the digest is not known",
            )),
        }
    }
}

/// Reads a file as blocks.
pub struct BlockReader<R> {
    input: BufReader<R>,
    encoder: Option<Encoder>,
    /// Bytes ready for the wire, not yet in a block.
    pending: Vec<u8>,
    offset: usize,
    eof: bool,
    hasher: Hasher,
    buf: Vec<u8>,
    /// Bytes read from the file.
    pub file_bytes: u64,
}

impl<R: Read> BlockReader<R> {
    pub fn new(input: R, mode: Mode) -> BlockReader<R> {
        BlockReader {
            input: BufReader::with_capacity(FILE_BUFFER, input),
            encoder: (mode == Mode::Netascii).then(Encoder::default),
            pending: Vec::new(),
            offset: 0,
            eof: false,
            hasher: Hasher::new(),
            buf: Vec::new(),
            file_bytes: 0,
        }
    }

    /// The next block: `blksize` bytes, or fewer at the end of the file.
    pub fn next_block(&mut self, blksize: usize) -> io::Result<Vec<u8>> {
        if self.encoder.is_none() {
            return self.next_octet_block(blksize);
        }
        while self.pending.len() - self.offset < blksize && !self.eof {
            // Keep what is left, read more.
            self.pending.drain(..self.offset);
            self.offset = 0;
            self.buf.resize(blksize.max(8192), 0);
            let n = match self.input.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = &self.buf[..n];
            self.hasher.update(chunk);
            self.file_bytes += n as u64;
            match (&mut self.encoder, n) {
                (Some(e), 0) => e.finish(&mut self.pending),
                (Some(e), _) => e.encode(chunk, &mut self.pending),
                (None, _) => self.pending.extend_from_slice(chunk),
            }
            if n == 0 {
                self.eof = true;
            }
        }
        let end = (self.offset + blksize).min(self.pending.len());
        let block = self.pending[self.offset..end].to_vec();
        self.offset = end;
        Ok(block)
    }

    /// Octet mode: the file's bytes straight into the block, no conversion.
    fn next_octet_block(&mut self, blksize: usize) -> io::Result<Vec<u8>> {
        let mut block = vec![0u8; blksize];
        let mut filled = 0;
        while filled < blksize {
            match self.input.read(&mut block[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        block.truncate(filled);
        self.hasher.update(&block);
        self.file_bytes += filled as u64;
        Ok(block)
    }

    /// The SHA-256 of the file, in hex (call after the last block).
    pub fn digest(self) -> io::Result<String> {
        self.hasher.finish()
    }
}

/// Writes blocks to a file.
pub struct BlockWriter<W: Write> {
    output: BufWriter<W>,
    decoder: Option<Decoder>,
    hasher: Hasher,
    buf: Vec<u8>,
    /// Bytes written to the file.
    pub file_bytes: u64,
}

impl<W: Write> BlockWriter<W> {
    pub fn new(output: W, mode: Mode) -> BlockWriter<W> {
        BlockWriter {
            output: BufWriter::with_capacity(FILE_BUFFER, output),
            decoder: (mode == Mode::Netascii).then(Decoder::default),
            hasher: Hasher::new(),
            buf: Vec::new(),
            file_bytes: 0,
        }
    }

    pub fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.decoder {
            Some(d) => {
                self.buf.clear();
                d.decode(data, &mut self.buf);
                let buf = std::mem::take(&mut self.buf);
                let result = self.put(&buf);
                self.buf = buf;
                result
            }
            None => self.put(data),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.output.write_all(bytes)?;
        self.hasher.update(bytes);
        self.file_bytes += bytes.len() as u64;
        Ok(())
    }

    /// The end of the data: flushes, and returns the output and the file's SHA-256 in hex.
    pub fn finish(mut self) -> io::Result<(W, String)> {
        if let Some(d) = &mut self.decoder {
            let mut tail = Vec::new();
            d.finish(&mut tail);
            self.put(&tail)?;
        }
        let output = self.output.into_inner().map_err(|e| e.into_error())?;
        Ok((output, self.hasher.finish()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_full_but_the_last_and_a_multiple_ends_empty() {
        let data = vec![5u8; 1024];
        let mut r = BlockReader::new(&data[..], Mode::Octet);
        assert_eq!(r.next_block(512).unwrap().len(), 512);
        assert_eq!(r.next_block(512).unwrap().len(), 512);
        assert_eq!(r.next_block(512).unwrap().len(), 0);
        // The digest of 1024 fives, as sha256sum prints it.
        let mut h = Sha256::new();
        h.update(&data);
        assert_eq!(r.digest().unwrap(), hex::encode(h.finalize()));
    }

    #[test]
    fn text_is_converted_and_each_side_hashes_its_own_file() {
        let mut r = BlockReader::new(&b"a\nb\n"[..], Mode::Netascii);
        assert_eq!(r.next_block(512).unwrap(), b"a\r\nb\r\n");
        let mut w = BlockWriter::new(Vec::new(), Mode::Netascii);
        w.write_block(b"a\r").unwrap();
        w.write_block(b"\nb\r\n").unwrap();
        let (out, digest) = w.finish().unwrap();
        let nl = crate::netascii::LOCAL_NEWLINE;
        assert_eq!(out, [&b"a"[..], nl, b"b", nl].concat());
        assert_eq!(digest.len(), 64);
    }
}
