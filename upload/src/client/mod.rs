//! # `upload send`: send files, and know that they arrived intact
//!
//! For each file: `PUT <size> <name>`, wait for `GO`, send the bytes while feeding them to
//! SHA-256 (one read of the file, no second pass), send `SHA256 <digest>`, and wait for the
//! server's `OK <digest>`. The server only says OK after its own digest of what arrived
//! matched ours and the file is safely in place. We then print the digest in `sha256sum`
//! format on stdout, so anyone can check the copy: `sha256sum photo.jpg` on either machine.
//!
//! Several files go over one connection. A refusal (`ERR EXISTS`, `ERR TOO_LARGE`, ...)
//! fails that file only: the next one goes on the same connection. If the connection
//! breaks, the next file opens a new one.
//!
//! While it sends, the client keeps an ear open: a server that runs out of disk mid-file
//! says `ERR NO_SPACE` at once, and the client stops sending instead of pushing the rest of
//! a large file into a connection nobody is reading ([`Wire::has_pending_input`]).
//!
//! A folder is sent as its tree ([`tree`] turns the command line into files and folders,
//! `tree/1`), standard input as a stream of chunks (`-`, `stream/1`, at the end of this
//! file), and [`get`] fetches a stored file back (`get/1`).
//!
//! The files: this one is Upload v1's client; [`tutorial`] is the client's side of the
//! tutorial's exchange (`--protocol tutorial`), one file per connection.

pub mod get;
pub mod sampling;
pub mod tree;
pub mod tutorial;

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::addr::Endpoint;
use common::grade::Wait;
use common::net::{self, NetError};
use common::output::{self, human_bytes, Log};

use crate::hashing::{hash_prefix, Pipeline};
use crate::protocol::{
    digest_hex, Digest, ErrCode, Reply, Request, GET_EXTENSION, RESUME_EXTENSION, STREAM_EXTENSION,
    TREE_EXTENSION,
};
use crate::wire::{LineError, Wire};
use crate::{rate, Exchange};
use common::progress::{Bar, Progress};
use sampling::Sampler;
use tree::Item;

use tutorial::TutorialError;

/// The default time to wait for the server: to connect, and for each reply or write.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// While sending a file, look for an early reply from the server every this many bytes.
const LISTEN_EVERY: u64 = 1 << 20;
/// The extensions this sender asks for in its `HELLO`, on every connection.
pub const EXTENSIONS: [&str; 4] = [
    RESUME_EXTENSION,
    TREE_EXTENSION,
    STREAM_EXTENSION,
    GET_EXTENSION,
];
/// The name the server has in its hints.
const SERVER_NAME: &str = "upload serve";

/// How `upload send` behaves.
#[derive(Debug, Clone)]
pub struct Options {
    pub to: Endpoint,
    pub exchange: Exchange,
    /// Time allowed to connect, and for each reply or write.
    pub timeout: Duration,
    /// Send at most this many bytes per second (to watch the bars on a fast network).
    pub limit_rate: Option<u64>,
    /// No line per file on stderr (the digests on stdout and errors stay).
    pub quiet: bool,
    /// Dump control lines as hex and text.
    pub trace: bool,
    /// `--tcp-info`: read the kernel's TCP numbers this often while a file goes out, and
    /// at its end (`None`: not at all).
    pub tcp_info: Option<Duration>,
    /// `--json`: one JSON object per file on stdout, in place of the sha256sum line.
    pub json: bool,
    /// Continue a file the server holds the beginning of (`resume/1`); `--no-resume`
    /// sends every file from byte 0.
    pub resume: bool,
    /// `--exclude`: what a folder's walk leaves out.
    pub exclude: globset::GlobSet,
    /// `--name`: what standard input (`-`) is stored as.
    pub name: Option<String>,
}

impl Options {
    pub fn new(to: Endpoint) -> Options {
        Options {
            to,
            exchange: Exchange::V1,
            timeout: DEFAULT_TIMEOUT,
            limit_rate: None,
            quiet: false,
            trace: false,
            tcp_info: None,
            json: false,
            resume: true,
            exclude: globset::GlobSet::empty(),
            name: None,
        }
    }
}

/// A file that arrived.
#[derive(Debug, Clone)]
pub struct Sent {
    pub size: u64,
    pub digest: Digest,
    pub elapsed: Duration,
    /// The server compared digests (always, except with the tutorial's exchange).
    pub verified: bool,
    /// `--tcp-info`: the kernel's numbers during the file and at its end.
    pub tcp_info: Vec<sampling::Sample>,
    /// Where the bytes sent began: 0, or where a resumed upload went on.
    pub resumed_at: u64,
}

impl Sent {
    /// `--json`: the file, its size, digest, time, whether the server verified it, and
    /// the `--tcp-info` readings.
    pub fn json(&self, path: &Path) -> String {
        serde_json::json!({
            "file": path.display().to_string(),
            "size": self.size,
            "sha256": digest_hex(&self.digest),
            "seconds": self.elapsed.as_secs_f64(),
            "verified": self.verified,
            "resumed_at": self.resumed_at,
            "tcp_info": self.tcp_info,
        })
        .to_string()
    }
}

/// Why a file did not arrive.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("cannot read it: {0}")]
    Open(io::Error),
    /// Reading the file's beginning, to compare it with what the server holds, failed.
    #[error("cannot read it (to compare its beginning with the server's part): {0}")]
    Checking(io::Error),
    #[error("it is not a regular file")]
    NotAFile,
    #[error("{0}")]
    Connect(#[from] NetError),
    /// The server said `ERR <code> <text>`.
    #[error("refused by the server: {1} (ERR {0})")]
    Refused(ErrCode, String),
    #[error("the connection to the server failed: {0}")]
    Connection(io::Error),
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    #[error("it changed while being sent (it is shorter than when the upload began)")]
    FileChanged,
    #[error("the server stored a file with SHA-256 {theirs}, but we sent {ours}")]
    Mismatch { ours: String, theirs: String },
    #[error("{0}")]
    Tutorial(#[from] TutorialError),
    /// Reading standard input failed mid-stream.
    #[error("cannot read standard input: {0}")]
    Input(io::Error),
    /// Writing what `upload get` received failed (the reader of the pipe went away).
    #[error("cannot write it out: {0}")]
    Output(io::Error),
    /// The server does not have the extension this needs.
    #[error("the server cannot take {1}: it lacks {0} (an upload serve from before it)")]
    Lacks(&'static str, &'static str),
    /// The tutorial's exchange has one file and nothing else.
    #[error("the tutorial's exchange sends one plain file: not {0}")]
    NotWithTutorial(&'static str),
    /// Not sent: found unsendable before any connection (a name the server refuses).
    #[error("{0}")]
    NotSent(String),
}

impl SendError {
    /// What to try, for a person.
    pub fn advice(&self) -> &'static str {
        match self {
            SendError::Refused(code, _) => match code {
                ErrCode::Exists => "rename the file, or run the server with --overwrite",
                ErrCode::TooLarge => "ask for a larger --max-size on the server",
                ErrCode::BadName => "rename the file to a plain name that every system can hold (no path, no leading '.', see the reason)",
                ErrCode::NoSpace => "free some space on the server, or use a smaller file",
                ErrCode::Busy => "try again in a moment",
                ErrCode::BadRequest => {
                    "is it an Upload v1 server? for the tutorial's server use --protocol tutorial"
                }
                ErrCode::Checksum => "the bytes were damaged on the way; send the file again",
                ErrCode::Timeout => {
                    "the connection was too slow; try again, or a shorter --limit-rate"
                }
                ErrCode::Internal => "the server cannot write to its folder; see its log",
                ErrCode::NotFound => "check the name: `upload get` takes a name the server stored",
                ErrCode::Unsupported => {
                    "the server's folder is on a file system without hard links; its owner must move it or use --overwrite"
                }
            },
            SendError::Open(_) | SendError::NotAFile | SendError::Checking(_) => {
                "check the path"
            }
            SendError::Connect(_) => "check the address and that the server is running",
            SendError::Connection(_) => "the server may have stopped; try again",
            SendError::FileChanged => "send it again once nothing is writing to it",
            SendError::Protocol(_) | SendError::Mismatch { .. } => {
                "is the server an `upload serve`? (--protocol tutorial for the tutorial's)"
            }
            SendError::Tutorial(_) => "is the server running with --protocol tutorial?",
            SendError::Input(_) => "the program writing into the pipe failed; nothing was stored",
            SendError::Output(_) => "check where the output goes (a full disk, a closed pipe)",
            SendError::Lacks(..) => "update the server, or send the files one by one",
            SendError::NotWithTutorial(_) => "use Upload v1 (leave out --protocol tutorial)",
            SendError::NotSent(_) => {
                "rename it to a plain name that every system can hold, or --exclude it"
            }
        }
    }

    /// Whether the connection is still in step for the next file.
    fn connection_usable(&self) -> bool {
        matches!(
            self,
            SendError::Refused(..)
                | SendError::Open(_)
                | SendError::NotAFile
                | SendError::Lacks(..)
                | SendError::NotWithTutorial(_)
                | SendError::NotSent(_)
        )
    }
}

/// The outcome of `upload send`: one entry per file, in order, one per folder, and what
/// was skipped on purpose (links, and what is not a file).
#[derive(Debug, Default)]
pub struct SendReport {
    pub files: Vec<(PathBuf, Result<Sent, SendError>)>,
    pub folders: Vec<(PathBuf, Result<(), SendError>)>,
    pub skipped: Vec<(PathBuf, String)>,
}

impl SendReport {
    /// Every file and folder arrived (what was skipped on purpose does not count).
    pub fn all_sent(&self) -> bool {
        self.files.iter().all(|(_, r)| r.is_ok()) && self.folders.iter().all(|(_, r)| r.is_ok())
    }
}

impl fmt::Display for SendReport {
    /// `sent 2 of 3 files (1.0 MiB); not sent: big.iso (ERR TOO_LARGE)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sent: Vec<&Sent> = self
            .files
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .collect();
        let bytes: u64 = sent.iter().map(|s| s.size).sum();
        write!(
            f,
            "sent {} of {} file{} ({})",
            sent.len(),
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
            human_bytes(bytes)
        )?;
        if !self.folders.is_empty() {
            let made = self.folders.iter().filter(|(_, r)| r.is_ok()).count();
            write!(
                f,
                " and {made} of {} folder{}",
                self.folders.len(),
                if self.folders.len() == 1 { "" } else { "s" }
            )?;
        }
        let failed: Vec<String> = self
            .files
            .iter()
            .filter_map(|(path, r)| Some((path, r.as_ref().err()?)))
            .chain(
                self.folders
                    .iter()
                    .filter_map(|(path, r)| Some((path, r.as_ref().err()?))),
            )
            .map(|(path, e)| {
                let why = match e {
                    SendError::Refused(code, _) => format!("ERR {code}"),
                    SendError::Connect(_) => "no connection".into(),
                    SendError::Open(_) | SendError::NotAFile => "unreadable".into(),
                    SendError::NotSent(_) => "name refused".into(),
                    SendError::Lacks(extension, _) => format!("server lacks {extension}"),
                    _ => "failed".into(),
                };
                format!("{} ({why})", path.display())
            })
            .collect();
        if !failed.is_empty() {
            write!(f, "; not sent: {}", failed.join(", "))?;
        }
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self
                .skipped
                .iter()
                .map(|(path, _)| path.display().to_string())
                .collect();
            write!(
                f,
                "; skipped (links are not followed): {}",
                skipped.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Paces a transfer to `--limit-rate` bytes per second (or not at all).
#[derive(Debug)]
pub struct Pacer {
    rate: Option<u64>,
    started: Instant,
    /// Bytes that were not sent now (a resume starts past them): not paced.
    skipped: u64,
}

/// With a rate limit, at least this many chunks per second, so the pace looks smooth.
const PACE_STEPS_PER_SECOND: u64 = 20;

impl Pacer {
    pub fn new(rate: Option<u64>) -> Pacer {
        Pacer {
            rate,
            started: Instant::now(),
            skipped: 0,
        }
    }

    /// The first `bytes` are not sent (a resume): the pace counts from after them.
    pub fn skip(&mut self, bytes: u64) {
        self.skipped = bytes;
        self.started = Instant::now();
    }

    /// How much to send at once: the whole buffer, or less when the pace is slow.
    pub fn chunk(&self, buffer: usize) -> usize {
        match self.rate {
            Some(rate) => (rate / PACE_STEPS_PER_SECOND).clamp(1, buffer as u64) as usize,
            None => buffer,
        }
    }

    /// After `sent` bytes in all, sleeps until the pace allows more.
    pub fn wait(&mut self, sent: u64) {
        if let Some(rate) = self.rate {
            let paced = sent.saturating_sub(self.skipped);
            let due = self.started + Duration::from_secs_f64(paced as f64 / rate as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }
}

/// One open connection to an Upload v1 server.
struct ServerConnection {
    wire: Wire,
    /// The server speaks `resume/1` (it said so in its `HELLO`).
    resume: bool,
    /// ... `tree/1`, `stream/1`, `get/1`.
    tree: bool,
    stream: bool,
    get: bool,
    /// `--no-resume`: say no to what it holds.
    no_resume: bool,
    /// `--timeout`, the wait for each reply.
    timeout: Duration,
}

/// Where a file's bytes start, and the hash of the bytes before them.
struct Start {
    from: u64,
    pipeline: Pipeline,
}

impl ServerConnection {
    fn open(options: &Options) -> Result<ServerConnection, SendError> {
        let stream = net::connect(&options.to, options.timeout, SERVER_NAME)?;
        stream
            .set_read_timeout(Some(options.timeout))
            .and_then(|()| stream.set_write_timeout(Some(options.timeout)))
            .map_err(SendError::Connection)?;
        let trace = options.trace.then(|| options.to.to_string());
        let mut conn = ServerConnection {
            wire: Wire::new(stream, trace),
            resume: false,
            tree: false,
            stream: false,
            get: false,
            no_resume: !options.resume,
            timeout: options.timeout,
        };
        match conn.reply()? {
            Reply::Ready => {}
            Reply::Err(code, text) => return Err(SendError::Refused(code, text)),
            other => {
                return Err(SendError::Protocol(format!(
                    "expected {:?}, got {other}",
                    crate::protocol::GREETING
                )))
            }
        }
        // Which extensions the server has. Even with --no-resume: a file sent with RESUME
        // can be resumed if this send breaks off.
        let hello = Request::Hello(EXTENSIONS.map(str::to_string).to_vec());
        conn.wire
            .write_line(&hello.to_line())
            .map_err(|e| conn.reason_for(e))?;
        match conn.reply()? {
            Reply::Hello(theirs) => {
                let has = |extension: &str| theirs.iter().any(|e| e == extension);
                conn.resume = has(RESUME_EXTENSION);
                conn.tree = has(TREE_EXTENSION);
                conn.stream = has(STREAM_EXTENSION);
                conn.get = has(GET_EXTENSION);
            }
            // A server older than extensions does not know the word: plain v1 then.
            Reply::Err(ErrCode::BadRequest, _) => {
                Log::stderr(options.quiet).info(format_args!(
                    "the server at {} does not know HELLO (an upload serve from before \
                     resume): every file starts at byte 0",
                    options.to
                ));
            }
            Reply::Err(code, text) => return Err(SendError::Refused(code, text)),
            other => return Err(SendError::Protocol(format!("expected HELLO, got {other}"))),
        }
        Ok(conn)
    }

    /// Reads the server's next line.
    fn reply(&mut self) -> Result<Reply, SendError> {
        match self.wire.read_line() {
            Ok(Some(line)) => Reply::parse(line).map_err(|e| {
                SendError::Protocol(format!(
                    "{e}: \"{}\"",
                    output::preview(line, output::PREVIEW_CHARS)
                ))
            }),
            Ok(None) => Err(SendError::Connection(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ))),
            Err(LineError::Io(e)) => Err(SendError::Connection(e)),
            Err(e) => Err(SendError::Protocol(e.to_string())),
        }
    }

    /// After a failed write: the server may have said why before it closed.
    fn reason_for(&mut self, e: io::Error) -> SendError {
        match self.reply() {
            Ok(Reply::Err(code, text)) => SendError::Refused(code, text),
            _ => SendError::Connection(e),
        }
    }

    /// Uploads one file (see the module docs); the digest, the time, and where the bytes
    /// sent began.
    fn put(
        &mut self,
        file: &mut File,
        size: u64,
        name: &str,
        pacer: &mut Pacer,
        bars: (&Bar, &Bar),
        sampler: &mut Sampler,
    ) -> Result<(Digest, Duration, u64), SendError> {
        let name = name.as_bytes().to_vec();
        let request = if self.resume {
            Request::Resume { size, name }
        } else {
            Request::Put { size, name }
        };
        self.wire
            .write_line(&request.to_line())
            .map_err(|e| self.reason_for(e))?;
        let start = self.start(file, size)?;
        let from = start.from;
        let (file_bar, total) = bars;
        file_bar.resume_at(from);
        total.inc(from);
        let both = Bar::pair(file_bar, total);

        let started = Instant::now();
        let (_, digest) = send_body(self, file, Some(size), start, pacer, &both, sampler)?;
        self.wire
            .write_line(&Request::Sha256(digest).to_line())
            .map_err(|e| self.reason_for(e))?;
        match self.reply()? {
            Reply::Ok(theirs) if theirs == digest => Ok((digest, started.elapsed(), from)),
            Reply::Ok(theirs) => Err(SendError::Mismatch {
                ours: digest_hex(&digest),
                theirs: digest_hex(&theirs),
            }),
            Reply::Err(code, text) => Err(SendError::Refused(code, text)),
            other => Err(SendError::Protocol(format!("expected OK, got {other}"))),
        }
    }

    /// The server's answer to `PUT` or `RESUME`, up to its `GO`: where to start. After a
    /// `HAVE`, the file's own first bytes are hashed, and the server's offer taken only if
    /// they are the bytes it holds.
    fn start(&mut self, file: &mut File, size: u64) -> Result<Start, SendError> {
        let fresh = || Pipeline::start().map_err(SendError::Open);
        // After RESUME, the server may first hash what it holds of the file: the wait for
        // its answer grows by the time that can take.
        let stream = self.wire.stream();
        let longer = self.timeout + crate::server::hashing_time(size);
        if self.resume {
            stream
                .set_read_timeout(Some(longer))
                .map_err(SendError::Connection)?;
        }
        let reply = self.reply();
        if self.resume {
            self.wire
                .stream()
                .set_read_timeout(Some(self.timeout))
                .map_err(SendError::Connection)?;
        }
        match reply? {
            Reply::Go(0) => Ok(Start {
                from: 0,
                pipeline: fresh()?,
            }),
            Reply::Have { offset, prefix } if self.resume && offset <= size => {
                // The server waits for FROM: a failure here leaves the connection out of
                // step (SendError::Checking), so it is not used again.
                let mut pipeline = fresh()?;
                let same = !self.no_resume && {
                    hash_prefix(&mut pipeline, file, offset).map_err(SendError::Checking)?;
                    pipeline.digest_so_far().map_err(SendError::Checking)? == prefix
                };
                let from = if same {
                    offset
                } else {
                    // Not what the server holds (another file of that name), or
                    // --no-resume: all of it, hashed from the start.
                    file.seek(SeekFrom::Start(0)).map_err(SendError::Checking)?;
                    pipeline = fresh()?;
                    0
                };
                self.wire
                    .write_line(&Request::From(from).to_line())
                    .map_err(|e| self.reason_for(e))?;
                match self.reply()? {
                    Reply::Go(go) if go == from => Ok(Start { from, pipeline }),
                    Reply::Err(code, text) => Err(SendError::Refused(code, text)),
                    other => Err(SendError::Protocol(format!(
                        "expected GO {from}, got {other}"
                    ))),
                }
            }
            Reply::Have { offset, .. } => Err(SendError::Protocol(format!(
                "the server offered to resume at byte {offset} of a {size}-byte file"
            ))),
            Reply::Go(offset) => Err(SendError::Protocol(format!(
                "the server asked to start at byte {offset}, which it never offered (HAVE)"
            ))),
            Reply::Err(code, text) => Err(SendError::Refused(code, text)),
            other => Err(SendError::Protocol(format!("expected GO, got {other}"))),
        }
    }

    /// Makes a folder on the server (`MKDIR`, `tree/1`).
    fn mkdir(&mut self, name: &str) -> Result<(), SendError> {
        if !self.tree {
            return Err(SendError::Lacks(TREE_EXTENSION, "folders"));
        }
        let request = Request::Mkdir(name.as_bytes().to_vec());
        self.wire
            .write_line(&request.to_line())
            .map_err(|e| self.reason_for(e))?;
        match self.reply()? {
            Reply::Made => Ok(()),
            Reply::Err(code, text) => Err(SendError::Refused(code, text)),
            other => Err(SendError::Protocol(format!("expected MADE, got {other}"))),
        }
    }

    /// Says goodbye (best effort: the files are already safe).
    fn close(mut self) {
        let _ = self.wire.write_line(&Request::Bye.to_line());
    }
}

/// Where a file's bytes go, and how to hear the server while they do.
trait Sink {
    fn send(&mut self, bytes: &[u8]) -> Result<(), SendError>;
    /// Called every [`LISTEN_EVERY`] bytes: an error if the server has spoken up.
    fn listen(&mut self) -> Result<(), SendError>;
    /// The connection, for `--tcp-info`.
    fn stream(&self) -> &TcpStream;
}

impl Sink for ServerConnection {
    fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.wire.write_data(bytes).map_err(|e| self.reason_for(e))
    }

    fn listen(&mut self) -> Result<(), SendError> {
        // The server only talks mid-file to say it gave up.
        if !self.wire.has_pending_input() {
            return Ok(());
        }
        Err(match self.reply()? {
            Reply::Err(code, text) => SendError::Refused(code, text),
            other => SendError::Protocol(format!("unexpected {other} during the file")),
        })
    }

    fn stream(&self) -> &TcpStream {
        self.wire.stream()
    }
}

/// The tutorial's exchange: the server says nothing until the last byte.
impl Sink for &TcpStream {
    fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.write_all(bytes).map_err(SendError::Connection)
    }

    fn listen(&mut self) -> Result<(), SendError> {
        Ok(())
    }

    fn stream(&self) -> &TcpStream {
        self
    }
}

/// Sends the bytes of `input` from `start.from` to `size` to `sink`, hashed on the
/// pipeline's thread (which has hashed the bytes before `start.from`) while this one reads
/// and sends the next chunk; returns how many bytes went, and the digest of them all.
/// Without a size (a pipe), until `input` ends.
fn send_body(
    sink: &mut impl Sink,
    input: &mut impl Read,
    size: Option<u64>,
    start: Start,
    pacer: &mut Pacer,
    bar: &Bar,
    sampler: &mut Sampler,
) -> Result<(u64, Digest), SendError> {
    let Start { from, mut pipeline } = start;
    // A file that cannot be read is a bad path; a pipe that cannot, a failed producer.
    let unreadable = |e| match size {
        Some(_) => SendError::Open(e),
        None => SendError::Input(e),
    };
    sampler.start(sink.stream());
    let mut sent: u64 = from;
    let mut next_listen = from + LISTEN_EVERY;
    pacer.skip(from);
    while size.is_none_or(|size| sent < size) {
        let mut buf = pipeline.buffer().map_err(unreadable)?;
        let room = pacer.chunk(buf.len()) as u64;
        let want = size.map_or(room, |size| (size - sent).min(room)) as usize;
        // What the input has now, not a full buffer: a pipe's slow writer's bytes go at once.
        let n = match input.read(&mut buf[..want]) {
            Ok(0) if size.is_none() => break,
            Ok(0) => return Err(SendError::FileChanged),
            Ok(n) => n,
            // Nothing read (a signal): nothing to send, not even an empty chunk.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(e)),
        };
        sink.send(&buf[..n])?;
        pipeline.hash(buf, n).map_err(unreadable)?;
        sent += n as u64;
        bar.inc(n as u64);
        if sent >= next_listen {
            next_listen = sent + LISTEN_EVERY;
            sink.listen()?;
        }
        pacer.wait(sent);
    }
    Ok((sent, pipeline.finish().map_err(unreadable)?))
}

/// A `STREAM`'s sink: each chunk goes with its `DATA <n>` line before it.
struct Chunked<'c>(&'c mut ServerConnection);

impl Sink for Chunked<'_> {
    fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.0.send(&Request::Data(bytes.len() as u64).to_line())?;
        self.0.send(bytes)
    }

    fn listen(&mut self) -> Result<(), SendError> {
        self.0.listen()
    }

    fn stream(&self) -> &TcpStream {
        self.0.wire.stream()
    }
}

/// An opened file to send, and its size.
fn open(path: &Path) -> Result<(File, u64), SendError> {
    let file = File::open(path).map_err(SendError::Open)?;
    let meta = file.metadata().map_err(SendError::Open)?;
    if !meta.is_file() {
        return Err(SendError::NotAFile);
    }
    Ok((file, meta.len()))
}

/// Sends what `paths` name (files, folders, `-`: see [`tree`]), printing as it goes: a
/// `sha256sum` line on stdout per file that arrived, one line per file on stderr when
/// there are no bars, one line per failure and per thing skipped.
pub fn send_files(paths: &[PathBuf], options: &Options, progress: &Progress) -> SendReport {
    let log = Log::stderr(options.quiet);
    let plan = tree::plan(paths, options.name.as_deref(), &options.exclude);
    let mut report = SendReport::default();
    for (path, why) in &plan.skipped {
        log.info(format_args!("skipped {}: {why}", path.display()));
    }
    report.skipped = plan.skipped;
    for (path, why) in plan.refused {
        let e = SendError::NotSent(why);
        output::err_line(format_args!(
            "upload: {}: {e}; {}",
            path.display(),
            e.advice()
        ));
        report.files.push((path, Err(e)));
    }
    // Sizes first, for the total bar; unreadable files fail when their turn comes.
    let files: Vec<&Item> = plan
        .items
        .iter()
        .filter(|item| !matches!(item, Item::Folder { .. }))
        .collect();
    let total_size: u64 = files
        .iter()
        .filter_map(|item| match item {
            Item::File { path, .. } => std::fs::metadata(path).ok(),
            _ => None,
        })
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    let total = if files.len() > 1 {
        progress.total(total_size)
    } else {
        Bar::none()
    };
    let mut conn: Option<ServerConnection> = None;
    let mut number = 0;
    for (i, item) in plan.items.iter().enumerate() {
        let shown = item.shown();
        if let Item::Folder { name, .. } = item {
            let made = make_folder(name, options, &mut conn);
            if let Err(e) = &made {
                output::err_line(format_args!(
                    "upload: {}: {e}; {}",
                    shown.display(),
                    e.advice()
                ));
                if !e.connection_usable() {
                    conn = None;
                }
            }
            let unreachable = matches!(made, Err(SendError::Connect(_)));
            report.folders.push((shown, made));
            if unreachable {
                not_tried(&plan.items[i + 1..], &mut report);
                break;
            }
            continue;
        }
        number += 1;
        total.set_message(format!("file {number} of {}", files.len()));
        let result = match item {
            Item::File { path, name } => send_one(path, name, options, progress, &total, &mut conn),
            Item::Stdin { name } => send_stdin(name, options, progress, &mut conn),
            Item::Folder { .. } => continue,
        };
        match &result {
            Ok(sent) if options.json => output::out_line(format_args!("{}", sent.json(&shown))),
            Ok(sent) => {
                // sha256sum's format: digest, two spaces, the path. `sha256sum -c` reads it.
                output::out_line(format_args!(
                    "{}  {}",
                    digest_hex(&sent.digest),
                    shown.display()
                ));
                if !progress.is_drawing() {
                    let resumed = if sent.resumed_at > 0 {
                        format!(", resumed at {}", human_bytes(sent.resumed_at))
                    } else {
                        String::new()
                    };
                    log.info(format_args!(
                        "sent {}: {} in {:.3} s ({}{resumed}), sha256 {}{}",
                        shown.display(),
                        human_bytes(sent.size),
                        sent.elapsed.as_secs_f64(),
                        rate(sent.size - sent.resumed_at, sent.elapsed),
                        digest_hex(&sent.digest),
                        if sent.verified {
                            ", verified by the server"
                        } else {
                            " (not verified: the tutorial's exchange has no checksum)"
                        }
                    ));
                }
            }
            Err(e) => output::err_line(format_args!(
                "upload: {}: {e}; {}",
                shown.display(),
                e.advice()
            )),
        }
        // A connection that failed cannot be trusted; a refused file leaves it usable.
        if let Err(e) = &result {
            if !e.connection_usable() {
                conn = None;
            }
            // No server to talk to: the remaining files would fail the same way.
            if let SendError::Connect(_) = e {
                report.files.push((shown, result));
                not_tried(&plan.items[i + 1..], &mut report);
                break;
            }
        }
        report.files.push((shown, result));
    }
    if let Some(conn) = conn {
        conn.close();
    }
    total.clear();
    report
}

/// What is left after the server could not be reached: failed, not tried.
fn not_tried(rest: &[Item], report: &mut SendReport) {
    for item in rest {
        let why = io::Error::new(io::ErrorKind::NotConnected, "not tried: no connection");
        let e = SendError::Connection(why);
        match item {
            Item::Folder { .. } => report.folders.push((item.shown(), Err(e))),
            _ => report.files.push((item.shown(), Err(e))),
        }
    }
}

/// The open connection, or a new one.
fn connection<'c>(
    conn: &'c mut Option<ServerConnection>,
    options: &Options,
) -> Result<&'c mut ServerConnection, SendError> {
    Ok(match conn {
        Some(s) => s,
        None => conn.insert(ServerConnection::open(options)?),
    })
}

/// A folder of a tree, made on the server (`MKDIR`).
fn make_folder(
    name: &str,
    options: &Options,
    conn: &mut Option<ServerConnection>,
) -> Result<(), SendError> {
    if options.exchange == Exchange::Tutorial {
        return Err(SendError::NotWithTutorial("a folder"));
    }
    connection(conn, options)?.mkdir(name)
}

/// Sends one file as `name`, over `conn` (opened if needed) or, for the tutorial's
/// exchange, over a connection of its own.
fn send_one(
    path: &Path,
    name: &str,
    options: &Options,
    progress: &Progress,
    total: &Bar,
    conn: &mut Option<ServerConnection>,
) -> Result<Sent, SendError> {
    let in_folder = name.contains('/');
    if in_folder && options.exchange == Exchange::Tutorial {
        return Err(SendError::NotWithTutorial("a folder"));
    }
    let (mut file, size) = open(path)?;
    let bar = progress.file(name, size);
    let both = Bar::pair(&bar, total);
    let mut pacer = Pacer::new(options.limit_rate);
    let mut sampler = Sampler::new(options.tcp_info, options.json);
    let result = match options.exchange {
        Exchange::V1 => {
            let s = connection(conn, options)?;
            if in_folder && !s.tree {
                return Err(SendError::Lacks(TREE_EXTENSION, "folders"));
            }
            s.put(
                &mut file,
                size,
                name,
                &mut pacer,
                (&bar, total),
                &mut sampler,
            )
            .map(|(digest, elapsed, resumed_at)| Sent {
                size,
                digest,
                elapsed,
                verified: true,
                tcp_info: sampler.finish(s.wire.stream()),
                resumed_at,
            })
        }
        Exchange::Tutorial => {
            let log = Log::stderr(options.quiet);
            let mut say = |m: &str| log.info(format_args!("server says {m}"));
            let wait = Wait::new(Some(options.timeout), "--timeout", None);
            let stream = tutorial::start(&options.to, size, &wait, &mut say)?;
            let started = Instant::now();
            let start = Start {
                from: 0,
                pipeline: Pipeline::start().map_err(SendError::Open)?,
            };
            let (_, digest) = send_body(
                &mut &stream,
                &mut file,
                Some(size),
                start,
                &mut pacer,
                &both,
                &mut sampler,
            )?;
            tutorial::finish(&stream, &wait, &mut say)?;
            Ok(Sent {
                size,
                digest,
                elapsed: started.elapsed(),
                verified: false,
                tcp_info: sampler.finish(&stream),
                resumed_at: 0,
            })
        }
    };
    match &result {
        Ok(sent) => bar.finish(&format!(
            "{name} ✓ {}",
            rate(sent.size - sent.resumed_at, sent.elapsed)
        )),
        Err(_) => bar.abandon(&format!("{name} ✗ failed")),
    }
    result
}

// Standard input: `upload send - --name NAME`. `PUT` needs a size; a pipe has none until
// it ends. With `stream/1` the bytes go out in chunks as they come (`DATA <n>` and the
// bytes), hashed on the way, and the digest ends them (`SHA256`); the server checks it
// as it checks a file's. If reading the pipe fails, or this program is stopped, the
// connection closes before the digest: the server deletes what arrived, and nothing
// appears under NAME. A program that writes into the pipe and dies only closes it, which
// looks like a normal end: `set -o pipefail` (bash) shows its failure in the exit status.

/// Sends standard input as `name` (see the module docs).
fn send_stdin(
    name: &str,
    options: &Options,
    progress: &Progress,
    conn: &mut Option<ServerConnection>,
) -> Result<Sent, SendError> {
    if options.exchange == Exchange::Tutorial {
        return Err(SendError::NotWithTutorial("standard input"));
    }
    let s = connection(conn, options)?;
    if !s.stream {
        return Err(SendError::Lacks(STREAM_EXTENSION, "standard input"));
    }
    let bar = progress.open_ended(name);
    let mut sampler = Sampler::new(options.tcp_info, options.json);
    let sent = s.send_stream(&mut io::stdin().lock(), name, options, &bar, &mut sampler);
    match &sent {
        Ok(sent) => bar.finish(&format!("{name} ✓ {}", rate(sent.size, sent.elapsed))),
        Err(_) => bar.abandon(&format!("{name} ✗ failed")),
    }
    let mut sent = sent?;
    sent.tcp_info = sampler.finish(s.wire.stream());
    Ok(sent)
}

impl ServerConnection {
    /// `STREAM`, `GO 0`, the chunks as `input` gives them, `SHA256`, `OK`.
    fn send_stream(
        &mut self,
        input: &mut impl Read,
        name: &str,
        options: &Options,
        bar: &common::progress::Bar,
        sampler: &mut Sampler,
    ) -> Result<Sent, SendError> {
        self.wire
            .write_line(&Request::Stream(name.as_bytes().to_vec()).to_line())
            .map_err(|e| self.reason_for(e))?;
        match self.reply()? {
            Reply::Go(0) => {}
            Reply::Err(code, text) => return Err(SendError::Refused(code, text)),
            other => return Err(SendError::Protocol(format!("expected GO 0, got {other}"))),
        }
        let started = Instant::now();
        let mut pacer = Pacer::new(options.limit_rate);
        let start = Start {
            from: 0,
            pipeline: Pipeline::start().map_err(SendError::Input)?,
        };
        let (sent, digest) = send_body(
            &mut Chunked(self),
            input,
            None,
            start,
            &mut pacer,
            bar,
            sampler,
        )?;
        self.wire
            .write_line(&Request::Sha256(digest).to_line())
            .map_err(|e| self.reason_for(e))?;
        match self.reply()? {
            Reply::Ok(theirs) if theirs == digest => Ok(Sent {
                size: sent,
                digest,
                elapsed: started.elapsed(),
                verified: true,
                tcp_info: Vec::new(),
                resumed_at: 0,
            }),
            Reply::Ok(theirs) => Err(SendError::Mismatch {
                ours: digest_hex(&digest),
                theirs: digest_hex(&theirs),
            }),
            Reply::Err(code, text) => Err(SendError::Refused(code, text)),
            other => Err(SendError::Protocol(format!("expected OK, got {other}"))),
        }
    }
}
