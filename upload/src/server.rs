//! # `upload serve`: receive files, verify them, keep only what is whole
//!
//! Each client gets its own thread from the shared accept loop ([`common::server`]), which
//! brings the connection limit and the idle timeout. On its connection a client may upload
//! several files, one after another. For each `PUT <size> <name>`:
//!
//! 1. **Check everything before accepting a byte**: the name ([`crate::name`]), the size
//!    against `--max-size`, that nobody else is uploading that name right now, that no file
//!    has it (unless `--overwrite`), that the disk has room. Each refusal is one `ERR` line
//!    with its reason, and the connection stays usable for the next file.
//! 2. `GO 0`, then receive exactly `size` bytes into a hidden partial file, feeding each
//!    chunk to SHA-256 as it passes: one pass over the data, no second read of the file.
//! 3. Read the client's `SHA256` line and compare. Equal: fsync, move into place, `OK`.
//!    Different: `ERR CHECKSUM`, and the partial file is deleted.
//!
//! A client that disconnects, stalls past `--idle-timeout`, or a disk that fills up, ends
//! that upload only: its partial file is deleted ([`crate::store::PartFile`]) and the server
//! goes on with everyone else.

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::net;
use common::output::{self, human_bytes, Log, Tag};
use common::server::{
    self, Accepted, Background, CloseReason, Closed, Handler, Limits, Shutdown, Summary,
};

use crate::hashing::Pipeline;
use crate::progress::Progress;
use crate::protocol::{digest_hex, Digest, ErrCode, Reply, Request};
use crate::store::{self, CommitError, PartFile, WRITEBACK_EVERY};
use crate::wire::{LineError, Wire};
use crate::{name, rate, Protocol};

/// The default largest upload.
pub const DEFAULT_MAX_SIZE: u64 = 4 << 30;
/// The default free space the server keeps on its disk, whatever the uploads.
pub const DEFAULT_KEEP_FREE: u64 = 64 << 20;
/// The default idle timeout: a sender silent this long, mid-file or between files, is
/// disconnected and its partial file deleted.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// After an error in the middle of a file, how long the server keeps reading (and throwing
/// away) what the client is still sending, so that the client is not reset before it has
/// read the `ERR` line.
const LINGER: Duration = Duration::from_secs(2);
/// ... and at most how many bytes.
const LINGER_BYTES: u64 = 64 << 20;

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where files are stored (created if missing).
    pub dir: PathBuf,
    /// Replace existing files (atomically) instead of refusing them with `ERR EXISTS`.
    pub overwrite: bool,
    /// The largest file accepted.
    pub max_size: u64,
    /// Free space to leave on the disk: an upload that would eat into it gets `ERR NO_SPACE`.
    pub keep_free: u64,
    pub protocol: Protocol,
    /// No line per connection and upload.
    pub quiet: bool,
    /// Dump control lines (not file data) as hex and text.
    pub trace: bool,
}

impl Config {
    pub fn new(dir: impl Into<PathBuf>) -> Config {
        Config {
            dir: dir.into(),
            overwrite: false,
            max_size: DEFAULT_MAX_SIZE,
            keep_free: DEFAULT_KEEP_FREE,
            protocol: Protocol::V1,
            quiet: false,
            trace: false,
        }
    }
}

/// What happened to the uploads, counted.
#[derive(Debug, Default)]
struct Counters {
    stored: AtomicU64,
    stored_bytes: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

/// The uploads a server run saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uploads {
    /// Verified and stored under their names.
    pub stored: u64,
    pub stored_bytes: u64,
    /// Refused before any data (`ERR` after `PUT`).
    pub refused: u64,
    /// Started but not stored (disconnect, timeout, wrong digest, disk full).
    pub failed: u64,
}

impl fmt::Display for Uploads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "uploads: {} stored ({}), {} refused, {} failed",
            self.stored,
            human_bytes(self.stored_bytes),
            self.refused,
            self.failed
        )
    }
}

/// What [`serve`] returns: the connections and the uploads.
#[derive(Debug, Clone)]
pub struct Report {
    pub connections: Summary,
    pub uploads: Uploads,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.connections, self.uploads)
    }
}

/// The upload service, as a [`Handler`] for the shared accept loop.
#[derive(Debug)]
pub struct Service {
    config: Config,
    log: Log,
    progress: Progress,
    /// Names being uploaded right now: a second upload of the same name waits its turn
    /// (`ERR BUSY`) instead of racing the first.
    in_progress: Mutex<HashSet<String>>,
    counters: Counters,
}

/// What to do after one `PUT`.
enum Next {
    /// The stream is in step: read the next request.
    Continue,
    /// The connection cannot go on.
    Close(CloseReason),
}

/// A name held in [`Service::in_progress`] until dropped.
struct Reservation<'a> {
    names: &'a Mutex<HashSet<String>>,
    name: String,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        // A poisoned lock only means another thread panicked holding it; the set is fine.
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.remove(&self.name);
    }
}

impl Service {
    pub fn new(config: Config, progress: Progress) -> Service {
        let log = Log::new(config.quiet);
        Service {
            config,
            log,
            progress,
            in_progress: Mutex::new(HashSet::new()),
            counters: Counters::default(),
        }
    }

    pub fn uploads(&self) -> Uploads {
        let c = &self.counters;
        Uploads {
            stored: c.stored.load(Ordering::SeqCst),
            stored_bytes: c.stored_bytes.load(Ordering::SeqCst),
            refused: c.refused.load(Ordering::SeqCst),
            failed: c.failed.load(Ordering::SeqCst),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    pub(crate) fn progress(&self) -> &Progress {
        &self.progress
    }

    pub(crate) fn count_stored(&self, bytes: u64) {
        self.counters.stored.fetch_add(1, Ordering::Relaxed);
        self.counters
            .stored_bytes
            .fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn count_refused(&self) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_failed(&self) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
    }

    fn reserve(&self, name: &str) -> Option<Reservation<'_>> {
        let mut names = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        names.insert(name.to_string()).then(|| Reservation {
            names: &self.in_progress,
            name: name.to_string(),
        })
    }

    /// The Upload v1 conversation with one client.
    fn converse(&self, wire: &mut Wire, tag: &Tag) -> CloseReason {
        if let Err(e) = wire.write_line(&Reply::Ready.to_line()) {
            return CloseReason::from_io(&e);
        }
        let mut uploads: u64 = 0;
        loop {
            let request = match wire.read_line() {
                Ok(None) => return CloseReason::EndOfStream,
                Ok(Some(line)) => Request::parse(line),
                Err(LineError::TooLong) => {
                    // The rest of that line is still coming: we cannot find the next one.
                    let text = format!("a line longer than {} bytes", crate::protocol::MAX_LINE);
                    self.reply_err(wire, tag, ErrCode::BadRequest, &text);
                    linger(wire);
                    return CloseReason::ProtocolError(text);
                }
                Err(LineError::Truncated) => {
                    return CloseReason::ProtocolError(
                        "end of stream in the middle of a line".into(),
                    )
                }
                Err(e @ LineError::Timeout(_)) => {
                    self.reply_err(wire, tag, ErrCode::Timeout, &format!("{e}; closing"));
                    return CloseReason::MessageTimeout;
                }
                Err(LineError::Io(e)) => return self.read_failed(wire, tag, &e),
            };
            match request {
                Ok(Request::Put { size, name }) => {
                    uploads += 1;
                    let unique = format!("{}-{}-{uploads}", std::process::id(), tag.id);
                    if let Next::Close(reason) = self.put(wire, tag, size, &name, &unique) {
                        return reason;
                    }
                }
                Ok(Request::Bye) => return CloseReason::Exit,
                Ok(Request::Sha256(_)) => self.reply_err(
                    wire,
                    tag,
                    ErrCode::BadRequest,
                    "SHA256 comes after a file's bytes; send PUT first",
                ),
                Err(e) => self.reply_err(wire, tag, ErrCode::BadRequest, &e.to_string()),
            }
        }
    }

    /// One `PUT`: receive the file, then answer. The answer is sent only after the partial
    /// file is deleted (or in place) and the name is released, so a client that acts on it
    /// at once finds the folder as the answer says.
    fn put(&self, wire: &mut Wire, tag: &Tag, size: u64, raw_name: &[u8], unique: &str) -> Next {
        let outcome = self.receive_file(wire, tag, size, raw_name, unique);
        match &outcome.reply {
            Some(Reply::Err(code, text)) => self.reply_err(wire, tag, *code, text),
            Some(reply) => {
                let _ = wire.write_line(&reply.to_line());
            }
            None => {}
        }
        if outcome.linger {
            linger(wire);
        }
        outcome.next
    }

    /// Checks, `GO`, the bytes, the digest, the file in place (see the module docs).
    fn receive_file(
        &self,
        wire: &mut Wire,
        tag: &Tag,
        size: u64,
        raw_name: &[u8],
        unique: &str,
    ) -> Outcome {
        let shown = output::preview(raw_name, output::PREVIEW_CHARS);
        self.log
            .event(tag, format_args!("PUT \"{shown}\" ({size} bytes)"));

        // 1. Everything is checked before a byte of the file is accepted.
        let name = match name::check(raw_name) {
            Ok(name) => name,
            Err(why) => return self.refused(ErrCode::BadName, why.to_string()),
        };
        if size > self.config.max_size {
            let text = format!(
                "{name} is {}, more than this server accepts (--max-size {})",
                human_bytes(size),
                human_bytes(self.config.max_size)
            );
            return self.refused(ErrCode::TooLarge, text);
        }
        let Some(_reservation) = self.reserve(name) else {
            let text = format!("another client is uploading {name} right now; try again later");
            return self.refused(ErrCode::Busy, text);
        };
        let target = self.config.dir.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            if meta.is_dir() {
                return self.refused(ErrCode::Exists, format!("{name} is a folder on the server"));
            }
            if !self.config.overwrite {
                let text = format!("{name} is already on the server (it runs without --overwrite)");
                return self.refused(ErrCode::Exists, text);
            }
        }
        if let Some(text) = self.short_of_space(size) {
            return self.refused(ErrCode::NoSpace, text);
        }
        let mut part = match PartFile::create(&self.config.dir, name, unique) {
            Ok(part) => part,
            Err(e) => {
                let text = format!("could not create a file in the upload folder: {e}");
                return self.refused(ErrCode::Internal, text);
            }
        };
        if let Err(e) = part.reserve(size) {
            let (code, text) = write_error(&e);
            return self.refused(code, text);
        }
        if let Err(e) = wire.write_line(&Reply::Go(0).to_line()) {
            return self.failed(None, Next::Close(CloseReason::from_io(&e)));
        }

        // 2. The bytes, hashed as they pass.
        let started = Instant::now();
        let bar = self.progress.file(&format!("#{} {name}", tag.id), size);
        let received = receive(|buf| wire.read_data(buf), &mut part, size, &bar);
        bar.clear();
        let digest = match received {
            Ok(digest) => digest,
            Err(failure) => {
                drop(part);
                return self.data_failed(tag, name, size, failure);
            }
        };

        // 3. The client's digest, compared with ours.
        let claimed = match wire.read_line() {
            Ok(Some(line)) => match Request::parse(line) {
                Ok(Request::Sha256(claimed)) => claimed,
                _ => {
                    let text = "expected SHA256 <digest> after the file's bytes; nothing stored";
                    let reply = Reply::Err(ErrCode::BadRequest, text.into());
                    let close = Next::Close(CloseReason::ProtocolError(text.into()));
                    return self.failed(Some(reply), close);
                }
            },
            Ok(None) | Err(LineError::Truncated) => {
                let why = CloseReason::ProtocolError("end of stream before the digest".into());
                return self.failed(None, Next::Close(why));
            }
            Err(LineError::TooLong) => {
                let why = CloseReason::ProtocolError("an overlong digest line".into());
                return self.failed(None, Next::Close(why));
            }
            Err(e @ LineError::Timeout(_)) => {
                let reply = Reply::Err(ErrCode::Timeout, format!("{e}; nothing stored"));
                return self.failed(Some(reply), Next::Close(CloseReason::MessageTimeout));
            }
            Err(LineError::Io(e)) => {
                return self.failed(timeout_reply(&e), Next::Close(CloseReason::from_io(&e)))
            }
        };
        if claimed != digest {
            let text = format!(
                "the bytes that arrived have SHA-256 {}, not {}; nothing stored",
                digest_hex(&digest),
                digest_hex(&claimed)
            );
            return self.failed(Some(Reply::Err(ErrCode::Checksum, text)), Next::Continue);
        }

        // 4. Verified: on disk, under its name, then OK.
        if let Err(e) = part.commit(name, self.config.overwrite) {
            let (code, text) = match e {
                CommitError::Exists(_) => (
                    ErrCode::Exists,
                    format!("{name} appeared on the server during the upload; not replaced"),
                ),
                CommitError::NoLinks(_) => (ErrCode::Unsupported, e.to_string()),
                CommitError::Io(e) => write_error(&e),
            };
            return self.failed(Some(Reply::Err(code, text)), Next::Continue);
        }
        self.count_stored(size);
        let elapsed = started.elapsed();
        self.log.event(
            tag,
            format_args!(
                "stored {name}: {} in {:.3} s ({}), sha256 {}",
                human_bytes(size),
                elapsed.as_secs_f64(),
                rate(size, elapsed),
                digest_hex(&digest)
            ),
        );
        Outcome {
            reply: Some(Reply::Ok(digest)),
            next: Next::Continue,
            linger: false,
        }
    }

    /// `ERR NO_SPACE` text if `size` more bytes would leave less than `--keep-free`.
    pub(crate) fn short_of_space(&self, size: u64) -> Option<String> {
        let available = fs4::available_space(&self.config.dir).ok()?;
        let needed = size.saturating_add(self.config.keep_free);
        (available < needed).then(|| {
            format!(
                "{} needed (with --keep-free {}), {} available",
                human_bytes(size),
                human_bytes(self.config.keep_free),
                human_bytes(available)
            )
        })
    }

    /// A `PUT` refused before its data: the stream stays in step.
    fn refused(&self, code: ErrCode, text: String) -> Outcome {
        self.count_refused();
        Outcome {
            reply: Some(Reply::Err(code, text)),
            next: Next::Continue,
            linger: false,
        }
    }

    /// An upload that started and did not end in a stored file.
    fn failed(&self, reply: Option<Reply>, next: Next) -> Outcome {
        self.count_failed();
        Outcome {
            reply,
            next,
            linger: false,
        }
    }

    /// Sends `ERR <code> <text>` and logs it.
    fn reply_err(&self, wire: &mut Wire, tag: &Tag, code: ErrCode, text: &str) {
        self.log.event(tag, format_args!("ERR {code} {text}"));
        let _ = wire.write_line(&Reply::Err(code, text.to_string()).to_line());
    }

    /// A read between files failed: a timeout is told to the client.
    fn read_failed(&self, wire: &mut Wire, tag: &Tag, e: &io::Error) -> CloseReason {
        if let Some(Reply::Err(code, text)) = timeout_reply(e) {
            self.reply_err(wire, tag, code, &text);
        }
        CloseReason::from_io(e)
    }

    /// The data of a file did not all arrive, or could not be written. The partial file is
    /// already gone.
    fn data_failed(&self, tag: &Tag, name: &str, size: u64, failure: DataFailure) -> Outcome {
        match failure {
            DataFailure::Ended { got } => {
                self.log.event(
                    tag,
                    format_args!(
                        "{name}: the client left after {got} of {size} bytes; partial file deleted"
                    ),
                );
                let why = format!("end of stream in the middle of {name}");
                self.failed(None, Next::Close(CloseReason::ProtocolError(why)))
            }
            DataFailure::Read { got, error } => {
                self.log.event(
                    tag,
                    format_args!(
                        "{name}: failed after {got} of {size} bytes ({}); partial file deleted",
                        net::describe(&error)
                    ),
                );
                self.failed(
                    timeout_reply(&error),
                    Next::Close(CloseReason::from_io(&error)),
                )
            }
            DataFailure::Write(error) => {
                let (code, text) = write_error(&error);
                let reply = Reply::Err(code, format!("{text}; partial file deleted"));
                let mut outcome = self.failed(Some(reply), Next::Close(CloseReason::Error(text)));
                // The client is still sending: let it, for a moment, so that it reads our
                // ERR line instead of being reset by a close with unread data.
                outcome.linger = true;
                outcome
            }
        }
    }
}

/// How one `PUT` ended.
struct Outcome {
    /// What to tell the client, once the partial file and the name are released.
    reply: Option<Reply>,
    next: Next,
    /// Read and discard what the client still sends before closing (see [`linger`]).
    linger: bool,
}

/// The `ERR TIMEOUT` line for a read that timed out.
fn timeout_reply(e: &io::Error) -> Option<Reply> {
    net::is_timeout(e).then(|| Reply::Err(ErrCode::Timeout, "idle for too long; closing".into()))
}

/// Why receiving a file's bytes stopped early.
pub(crate) enum DataFailure {
    /// The client closed the connection.
    Ended { got: u64 },
    /// Reading from the client failed (timeout, reset).
    Read { got: u64, error: io::Error },
    /// Writing to the disk failed.
    Write(io::Error),
}

/// Receives exactly `size` bytes into `part`, hashing them on the way (on the pipeline's
/// thread). A few buffers, reused: memory stays the same for 1 KiB or 100 GiB.
pub(crate) fn receive(
    mut read: impl FnMut(&mut [u8]) -> io::Result<usize>,
    part: &mut PartFile,
    size: u64,
    bar: &crate::progress::Bar,
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
fn write_error(e: &io::Error) -> (ErrCode, String) {
    if common::os::is_no_space(e) {
        (ErrCode::NoSpace, format!("the server's disk is full ({e})"))
    } else {
        (
            ErrCode::Internal,
            format!("the server could not write the file ({e})"),
        )
    }
}

/// Reads and discards what the client still sends, for a bounded time and amount.
fn linger(wire: &mut Wire) {
    let stream: &TcpStream = wire.stream();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(LINGER));
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 16 * 1024];
    let mut drained: u64 = 0;
    while Instant::now() < deadline && drained < LINGER_BYTES {
        match wire.read_data(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n as u64,
        }
    }
}

impl Handler for Service {
    fn handle(&self, accepted: Accepted, limits: &Limits) -> Closed {
        let Accepted { stream, tag } = accepted;
        match self.config.protocol {
            Protocol::V1 => {
                let trace = self.config.trace.then(|| tag.to_string());
                let mut wire = Wire::new(stream, trace)
                    .with_message_timeout(limits.message_timeout, limits.idle_timeout);
                let reason = self.converse(&mut wire, &tag);
                Closed {
                    reason,
                    bytes_in: wire.bytes_in,
                    bytes_out: wire.bytes_out,
                }
            }
            Protocol::Seed => crate::seed::serve_one(self, stream, &tag),
        }
    }

    fn busy_message(&self) -> Vec<u8> {
        match self.config.protocol {
            Protocol::V1 => Reply::Err(
                ErrCode::Busy,
                "the server is serving as many clients as it may (--max-connections); try again later"
                    .into(),
            )
            .to_line(),
            // The tutorial's exchange has no way to say it: the client sees the connection close.
            Protocol::Seed => Vec::new(),
        }
    }
}

/// Makes the upload folder if needed and checks that it is a folder we can write in.
pub fn prepare_dir(dir: &Path, overwrite: bool) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("could not create the upload folder {}: {e}", dir.display()))?;
    let unique = std::process::id().to_string();
    let probe = PartFile::create(dir, "write-test", &unique).map_err(|e| {
        format!(
            "cannot write in the upload folder {}: {e} (choose another with --dir)",
            dir.display()
        )
    })?;
    drop(probe);
    // Without --overwrite every commit is a hard link: find out now whether there can be one.
    if !overwrite {
        store::check_hard_links(dir, &unique)
            .map_err(|e| format!("cannot use the upload folder {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Serves uploads on an already-bound listener until `shutdown` is triggered.
pub fn serve(
    listener: std::net::TcpListener,
    config: Config,
    limits: Limits,
    progress: Progress,
    shutdown: &Shutdown,
) -> Report {
    let log = Log::new(config.quiet);
    let service = Arc::new(Service::new(config, progress));
    let connections = server::serve(listener, limits, Arc::clone(&service), log, shutdown);
    Report {
        connections,
        uploads: service.uploads(),
    }
}

/// Serves on a thread of this process (tests, embedding), without bars; stop it with
/// [`Background::stop`], which returns the report.
pub fn spawn(
    listener: std::net::TcpListener,
    config: Config,
    limits: Limits,
) -> io::Result<Background<Report>> {
    let addr = listener.local_addr()?;
    let shutdown = Shutdown::new(&listener)?;
    Background::spawn(addr, shutdown, move |s| {
        serve(listener, config, limits, Progress::none(), s)
    })
}
