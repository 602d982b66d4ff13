//! # The steps of one file that both exchanges share
//!
//! Upload v1 ([`super::v1`]) and the tutorial's exchange ([`super::tutorial`]) say yes and
//! no differently, but between the size and the stored file they do the same things, written
//! once here:
//!
//! 1. [`Transfer::open`]: room on the disk (with `--keep-free`), a hidden partial file, and
//!    its space reserved, all before the go-ahead;
//! 2. [`Transfer::receive`]: exactly `size` bytes into it, hashed as they pass, with a bar;
//! 3. [`Transfer::stored`]: once the file is in place under its name, count it and log the
//!    "stored ... sha256" line.

use std::io;
use std::time::Instant;

use common::output::{human_bytes, Tag};

use crate::hashing::Pipeline;
use crate::protocol::{digest_hex, Digest, ErrCode};
use crate::rate;
use common::files::store::{PartFile, WRITEBACK_EVERY};
use common::progress::Bar;

use super::service::Service;

/// Why a file was refused before its go-ahead: the code v1 answers with, and the reason.
pub(super) struct FileRefusal {
    pub code: ErrCode,
    pub text: String,
}

/// One file on its way in: the partial file, and when its bytes began.
pub(super) struct Transfer<'a> {
    service: &'a Service,
    tag: &'a Tag,
    pub part: PartFile,
    size: u64,
    started: Instant,
}

impl<'a> Transfer<'a> {
    /// Checks the free space, creates the partial file for `name` and reserves `size` bytes
    /// for it. Nothing is counted: the caller decides what a refusal means.
    pub fn open(
        service: &'a Service,
        tag: &'a Tag,
        name: &str,
        unique: &str,
        size: u64,
    ) -> Result<Transfer<'a>, FileRefusal> {
        if let Some(text) = service.short_of_space(size) {
            return Err(FileRefusal {
                code: ErrCode::NoSpace,
                text,
            });
        }
        let part =
            PartFile::create(&service.config().dir, name, unique).map_err(|e| FileRefusal {
                code: ErrCode::Internal,
                text: format!("could not create a file in the upload folder: {e}"),
            })?;
        part.reserve(size).map_err(|e| {
            let (code, text) = write_error(&e);
            FileRefusal { code, text }
        })?;
        Ok(Transfer {
            service,
            tag,
            part,
            size,
            started: Instant::now(),
        })
    }

    /// Receives the file's bytes through `read`, with a bar named `shown`, and returns their
    /// SHA-256. The clock of the "stored" line starts here, after the go-ahead.
    pub fn receive(
        &mut self,
        shown: &str,
        read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    ) -> Result<Digest, DataFailure> {
        self.started = Instant::now();
        let bar = self
            .service
            .progress()
            .file(&format!("#{} {shown}", self.tag.id), self.size);
        let received = receive(read, &mut self.part, self.size, &bar);
        bar.clear();
        received
    }

    /// The file is in place as `stored_as`: count it, and log its size, speed and digest.
    /// `note` ends the line (the tutorial's exchange says that nothing verified it).
    pub fn stored(self, stored_as: &str, digest: &Digest, note: &str) {
        self.service.count_stored(self.size);
        let elapsed = self.started.elapsed();
        self.service.log().event(
            self.tag,
            format_args!(
                "stored {stored_as}: {} in {:.3} s ({}), sha256 {}{note}",
                human_bytes(self.size),
                elapsed.as_secs_f64(),
                rate(self.size, elapsed),
                digest_hex(digest)
            ),
        );
    }
}

/// Why receiving a file's bytes stopped early.
pub(super) enum DataFailure {
    /// The client closed the connection.
    Ended { got: u64 },
    /// Reading from the client failed (timeout, reset).
    Read { got: u64, error: io::Error },
    /// Writing to the disk failed.
    Write(io::Error),
}

/// Receives exactly `size` bytes into `part`, hashing them on the way (on the pipeline's
/// thread). A few buffers, reused: memory stays the same for 1 KiB or 100 GiB.
pub(super) fn receive(
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    part: &mut PartFile,
    size: u64,
    bar: &Bar,
) -> Result<Digest, DataFailure> {
    let mut pipeline = Pipeline::start().map_err(DataFailure::Write)?;
    // Large files go to disk as they arrive, so the final fsync is short (and the 64 MiB
    // file of the tests takes this path too).
    let writeback = if size >= WRITEBACK_EVERY {
        Some(part.writeback().map_err(DataFailure::Write)?)
    } else {
        None
    };
    let mut next_writeback = WRITEBACK_EVERY;
    let mut got: u64 = 0;
    while got < size {
        let mut buf = pipeline.buffer().map_err(DataFailure::Write)?;
        let want = (size - got).min(buf.len() as u64) as usize;
        let n = match read(&mut buf[..want]) {
            Ok(0) => return Err(DataFailure::Ended { got }),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(error) => return Err(DataFailure::Read { got, error }),
        };
        part.write_all(&buf[..n]).map_err(DataFailure::Write)?;
        // Hashed on the pipeline's thread while this one reads and writes the next chunk.
        pipeline.hash(buf, n).map_err(DataFailure::Write)?;
        got += n as u64;
        bar.inc(n as u64);
        if got >= next_writeback {
            next_writeback = got + WRITEBACK_EVERY;
            if let Some(w) = &writeback {
                w.poke(got);
            }
        }
    }
    if let Some(w) = writeback {
        w.finish().map_err(DataFailure::Write)?;
    }
    pipeline.finish().map_err(DataFailure::Write)
}

/// The `ERR` code and text for a failed write to the upload folder.
pub(super) fn write_error(e: &io::Error) -> (ErrCode, String) {
    if common::os::is_no_space(e) {
        (ErrCode::NoSpace, format!("the server's disk is full ({e})"))
    } else {
        (
            ErrCode::Internal,
            format!("the server could not write the file ({e})"),
        )
    }
}
