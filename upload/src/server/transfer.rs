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
use std::path::Path;
use std::time::Instant;

use common::output::{human_bytes, Tag};

use crate::hashing::Pipeline;
use crate::protocol::{digest_hex, Digest, ErrCode};
use crate::rate;
use common::files::store::{PartFile, WRITEBACK_EVERY};

use super::resume::CHECKPOINT_EVERY;
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
    /// A stream (`STREAM`): `size` is only the most it may grow to, and the bytes end when
    /// the sender says so.
    open_ended: bool,
    /// Where the bytes start: 0, or what a kept part already holds (a resume).
    from: u64,
    /// The hash of the bytes before `from`, going on with the rest (a resume).
    pipeline: Option<Pipeline>,
    started: Instant,
}

/// Told every [`CHECKPOINT_EVERY`] bytes, and when the
/// sender goes away: how many bytes of the file are in the part, and their digest.
pub(super) type Checkpoint<'c> = &'c mut dyn FnMut(u64, &Digest);

impl<'a> Transfer<'a> {
    /// Checks the free space, creates the partial file for `name` in `dir` (the upload
    /// folder, or one of its folders) and reserves `size` bytes for it. Nothing is counted:
    /// the caller decides what a refusal means.
    pub fn open(
        service: &'a Service,
        tag: &'a Tag,
        dir: &Path,
        name: &str,
        unique: &str,
        size: u64,
    ) -> Result<Transfer<'a>, FileRefusal> {
        Transfer::start(service, tag, (dir, name), unique, size, None)
    }

    /// As [`open`](Self::open), for bytes whose count is not known (a `STREAM`): nothing is
    /// reserved, and at most `--max-size` bytes are taken.
    pub fn open_ended(
        service: &'a Service,
        tag: &'a Tag,
        dir: &Path,
        name: &str,
        unique: &str,
    ) -> Result<Transfer<'a>, FileRefusal> {
        let mut transfer = Transfer::start(service, tag, (dir, name), unique, 0, None)?;
        transfer.size = service.config().max_size;
        transfer.open_ended = true;
        Ok(transfer)
    }

    /// Continues a kept part that holds the first `held.offset` bytes. Only the rest needs
    /// room on the disk (the part reserved the whole size when it began).
    pub fn resume(
        service: &'a Service,
        tag: &'a Tag,
        name: &str,
        size: u64,
        held: super::resume::Held,
    ) -> Result<Transfer<'a>, FileRefusal> {
        Transfer::start(service, tag, (Path::new(""), name), "", size, Some(held))
    }

    fn start(
        service: &'a Service,
        tag: &'a Tag,
        (dir, name): (&Path, &str),
        unique: &str,
        size: u64,
        held: Option<super::resume::Held>,
    ) -> Result<Transfer<'a>, FileRefusal> {
        let from = held.as_ref().map_or(0, |h| h.offset);
        if let Some(text) = service.short_of_space(size - from) {
            // A kept part stays kept: there may be room tomorrow.
            if let Some(held) = held {
                let _ = held.part.keep(from);
            }
            return Err(FileRefusal {
                code: ErrCode::NoSpace,
                text,
            });
        }
        let (part, pipeline) = match held {
            Some(held) => (held.part, Some(held.pipeline)),
            None => {
                let part = PartFile::create(dir, name, unique).map_err(|e| FileRefusal {
                    code: ErrCode::Internal,
                    text: format!("could not create a file in the upload folder: {e}"),
                })?;
                (part, None)
            }
        };
        if let Err(e) = part.reserve(size) {
            if from > 0 {
                let _ = part.keep(from);
            }
            let (code, text) = write_error(&e);
            return Err(FileRefusal { code, text });
        }
        Ok(Transfer {
            service,
            tag,
            part,
            size,
            open_ended: false,
            from,
            pipeline,
            started: Instant::now(),
        })
    }

    /// Receives the file's bytes through `read`, with a bar named `shown`, and returns their
    /// SHA-256. The clock of the "stored" line starts here, after the go-ahead.
    ///
    /// With `checkpoint`, the upload can be resumed: it is told how far the file has come
    /// (see [`Checkpoint`]).
    pub fn receive(
        &mut self,
        shown: &str,
        read: impl FnMut(&mut [u8]) -> io::Result<usize>,
        checkpoint: Option<Checkpoint<'_>>,
    ) -> Result<Digest, DataFailure> {
        self.started = Instant::now();
        let label = format!("#{} {shown}", self.tag.id);
        let bar = if self.open_ended {
            self.service.progress().open_ended(&label)
        } else {
            self.service.progress().file(&label, self.size)
        };
        bar.resume_at(self.from);
        let pipeline = match self.pipeline.take() {
            Some(pipeline) => pipeline,
            None => Pipeline::start().map_err(DataFailure::Write)?,
        };
        let span = Span {
            from: self.from,
            size: self.size,
            open_ended: self.open_ended,
        };
        let received = receive(read, &mut self.part, span, pipeline, &bar, checkpoint);
        bar.clear();
        let (got, digest) = received?;
        // A stream's size is what came.
        self.size = got;
        Ok(digest)
    }

    /// The sender went away after `got` bytes of the file: the partial file stays, cut to
    /// them, for a later `RESUME` (its record says how much of it is good). Whether it was
    /// kept: nothing arrived, or it could not be cut, and it is deleted.
    pub fn keep(self, got: u64) -> bool {
        got > 0 && self.part.keep(got).is_ok()
    }

    /// Where this transfer's bytes start (a resume), for the "stored" line.
    pub fn from(&self) -> u64 {
        self.from
    }

    /// The file is in place as `stored_as`: count it, and log its size, speed and digest.
    /// `note` ends the line (the tutorial's exchange says that nothing verified it).
    pub fn stored(self, stored_as: &str, digest: &Digest, note: &str) {
        self.service.count_stored(self.size);
        let elapsed = self.started.elapsed();
        let resumed = if self.from > 0 {
            format!(", resumed at {}", human_bytes(self.from))
        } else {
            String::new()
        };
        self.service.log().event(
            self.tag,
            format_args!(
                "stored {stored_as}: {} in {:.3} s ({}{resumed}), sha256 {}{note}",
                human_bytes(self.size),
                elapsed.as_secs_f64(),
                rate(self.size - self.from, elapsed),
                digest_hex(digest)
            ),
        );
    }
}

/// Why receiving a file's bytes stopped early (`got`: how far into the file it came).
pub(super) enum DataFailure {
    /// The client closed the connection.
    Ended { got: u64 },
    /// Reading from the client failed (timeout, reset).
    Read { got: u64, error: io::Error },
    /// Writing to the disk failed.
    Write(io::Error),
}

/// Which bytes of the file a transfer receives: from `from` (0, or a resume's offset) to
/// `size`; or, `open_ended`, until the reader says the end (`Ok(0)`), at most `size`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub from: u64,
    pub size: u64,
    pub open_ended: bool,
}

/// Receives the bytes of `span` into `part`, hashing them on the way (on the pipeline's
/// thread, which has hashed the bytes before `span.from` already). A few buffers, reused:
/// memory stays the same for 1 KiB or 100 GiB. With `checkpoint`, it is told how far the
/// file has come every [`CHECKPOINT_EVERY`] bytes, and where it stopped if the sender goes
/// away. Returns how many bytes the file has, and their digest.
pub(super) fn receive(
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    part: &mut PartFile,
    span: Span,
    mut pipeline: Pipeline,
    bar: &Bar,
    mut checkpoint: Option<Checkpoint<'_>>,
) -> Result<(u64, Digest), DataFailure> {
    let Span {
        from,
        size,
        open_ended,
    } = span;
    // Large files go to disk as they arrive, so the final fsync is short (and the 64 MiB
    // file of the tests takes this path too).
    let writeback = if open_ended || size - from >= WRITEBACK_EVERY {
        Some(part.writeback().map_err(DataFailure::Write)?)
    } else {
        None
    };
    let mut next_writeback = from + WRITEBACK_EVERY;
    let mut next_checkpoint = from + CHECKPOINT_EVERY;
    let mut got: u64 = from;
    // The sender went away after `got` bytes: say where the file stopped, then fail.
    let stopped = |pipeline: Pipeline, checkpoint: &mut Option<Checkpoint<'_>>, got: u64| {
        if let (Some(checkpoint), Ok(digest)) = (checkpoint.as_mut(), pipeline.finish()) {
            checkpoint(got, &digest);
        }
    };
    // A stream's reader keeps it within `size` (`--max-size`), and says where it ends.
    while open_ended || got < size {
        let mut buf = pipeline.buffer().map_err(DataFailure::Write)?;
        let want = if open_ended {
            buf.len()
        } else {
            (size - got).min(buf.len() as u64) as usize
        };
        let n = match read(&mut buf[..want]) {
            // A stream's reader says the end with Ok(0) once its last line is in.
            Ok(0) if open_ended => break,
            Ok(0) => {
                drop(buf);
                stopped(pipeline, &mut checkpoint, got);
                return Err(DataFailure::Ended { got });
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(error) => {
                drop(buf);
                stopped(pipeline, &mut checkpoint, got);
                return Err(DataFailure::Read { got, error });
            }
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
        if let Some(checkpoint) = checkpoint.as_mut() {
            // Asked for now, told when the hashing thread gets there: the I/O never waits.
            if got >= next_checkpoint {
                next_checkpoint = got + CHECKPOINT_EVERY;
                pipeline.mark(got).map_err(DataFailure::Write)?;
            }
            while let Some((at, digest)) = pipeline.marked() {
                checkpoint(at, &digest);
            }
        }
    }
    if let Some(w) = writeback {
        w.finish().map_err(DataFailure::Write)?;
    }
    Ok((got, pipeline.finish().map_err(DataFailure::Write)?))
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
