//! # `tftp get` and `tftp put`: the client
//!
//! A request goes to the server's port (69, or 6969 for `tftp serve`); the answer comes
//! from a new port, the server's side of this transfer, and everything after goes there
//! ([`crate::drive::Link`]). A file got is written the way the server writes one: into a
//! hidden part file, renamed into place once complete, so a transfer that fails leaves no
//! half file under the name asked for.

use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::files::store::PartFile;
use common::progress::{Bar, Progress};

use crate::blocks::{BlockReader, BlockWriter};
use crate::drive::{self, Ended, Link};
use crate::options::{Settings, Wanted};
use crate::packet::{self, ErrorCode, Mode, Request};
use crate::transfer::{
    Counters, Failure, Opening, Receiver, Sender, Status, Timing, DEFAULT_TIMING,
};

/// How the client asks.
#[derive(Debug, Clone)]
pub struct Options {
    pub server: SocketAddr,
    pub mode: Mode,
    /// The options asked for (tsize is added by `get` and `put`).
    pub wanted: Wanted,
    /// Send a bare RFC 1350 request: no option at all, not even tsize.
    pub no_options: bool,
    /// The first retransmission timeout.
    pub timeout: Duration,
    pub timing: Timing,
    pub trace: bool,
    pub progress: bool,
    /// Give up at this moment, whatever the timers say (a grader's step deadline).
    pub until: Option<Instant>,
    /// Set from outside to stop (Ctrl-C): the transfer ends, and a part file goes.
    pub stop: Option<&'static std::sync::atomic::AtomicBool>,
}

impl Options {
    pub fn new(server: SocketAddr) -> Options {
        Options {
            server,
            mode: Mode::Octet,
            wanted: Wanted::default(),
            no_options: false,
            timeout: crate::options::DEFAULT_TIMEOUT,
            timing: DEFAULT_TIMING,
            trace: false,
            progress: false,
            until: None,
            stop: None,
        }
    }
}

/// What a finished transfer did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Bytes of the local file (sent or written).
    pub bytes: u64,
    pub elapsed: Duration,
    /// SHA-256 of the local file, in hex.
    pub digest: String,
    pub counters: Counters,
    pub settings: Settings,
    /// The server's port for this transfer.
    pub server_tid: SocketAddr,
    /// Datagrams from other ports, answered with ERROR 5.
    pub strays: u64,
}

/// Why a transfer did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{what}: {source}")]
    Local {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Transfer(Failure),
}

fn local(what: String) -> impl FnOnce(std::io::Error) -> ClientError {
    move |source| ClientError::Local { what, source }
}

/// A socket for the client's side of the transfer: any free port (the client's TID).
fn client_socket(server: SocketAddr) -> Result<UdpSocket, ClientError> {
    let any: SocketAddr = match server {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    UdpSocket::bind(any).map_err(local(format!("no UDP socket to reach {server}")))
}

/// The socket, with buffers for the window asked for.
fn transfer_socket(opts: &Options) -> Result<UdpSocket, ClientError> {
    let socket = client_socket(opts.server)?;
    drive::size_buffers(
        &socket,
        opts.wanted.blksize.unwrap_or(packet::DEFAULT_BLKSIZE),
        opts.wanted.windowsize.unwrap_or(1),
    );
    Ok(socket)
}

fn request(opts: &Options, write: bool, remote: &str, tsize: Option<u64>) -> (Vec<u8>, Wanted) {
    let wanted = if opts.no_options {
        Wanted::default()
    } else {
        Wanted {
            // tsize in octet mode only: in netascii the size on the wire is not the file's.
            tsize: tsize.filter(|_| opts.mode == Mode::Octet),
            ..opts.wanted
        }
    };
    let packet = packet::request_packet(
        write,
        &Request {
            filename: remote.as_bytes().to_vec(),
            mode: opts.mode,
            options: wanted.to_options(),
        },
    );
    (packet, wanted)
}

/// Draws a bar once the size is known, or nothing.
struct Meter {
    progress: Progress,
    label: String,
    bar: Option<Bar>,
    known: Option<u64>,
}

impl Meter {
    fn new(wanted: bool, label: &str, known: Option<u64>) -> Meter {
        Meter {
            progress: Progress::on_stderr(wanted),
            label: label.to_string(),
            bar: None,
            known,
        }
    }

    fn step(&mut self, n: u64, tsize: Option<u64>) {
        if self.bar.is_none() {
            let size = self.known.or(tsize).unwrap_or(0);
            self.bar = Some(if size > 0 {
                self.progress.file(&self.label, size)
            } else {
                Bar::none()
            });
        }
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    fn end(&self, ok: bool) {
        if let Some(bar) = &self.bar {
            if ok {
                bar.finish(&format!("{} ✓", self.label));
            } else {
                bar.abandon(&format!("{} ✗ failed", self.label));
            }
        }
    }
}

fn report(
    ended: Ended,
    started: Instant,
    counters: Counters,
    settings: Settings,
    link: &Link,
) -> Result<Report, ClientError> {
    match (ended.status, ended.digest) {
        (Status::Complete, Some(digest)) => Ok(Report {
            bytes: ended.file_bytes,
            elapsed: started.elapsed(),
            digest,
            counters,
            settings,
            server_tid: link.peer,
            strays: link.strays,
        }),
        (Status::Failed(f), _) => Err(ClientError::Transfer(f)),
        _ => Err(ClientError::Transfer(Failure::Sent {
            code: ErrorCode::NotDefined,
            message: "the transfer stopped before its end".into(),
        })),
    }
}

/// Gets `remote` from the server into `out`.
pub fn get(opts: &Options, remote: &str, out: &Path) -> Result<Report, ClientError> {
    let socket = transfer_socket(opts)?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| ClientError::Local {
            what: format!("{} is not a file name", out.display()),
            source: std::io::ErrorKind::InvalidInput.into(),
        })?
        .to_string();
    let part = PartFile::create(&dir, &file_name, &std::process::id().to_string())
        .map_err(local(format!("cannot write into {}", dir.display())))?;
    let (packet, wanted) = request(opts, false, remote, Some(0));
    let settings = Settings {
        timeout: opts.timeout,
        ..Settings::default()
    };
    let started = Instant::now();
    let mut receiver = Receiver::new(
        settings,
        opts.timing,
        Opening::Request { packet, wanted },
        false,
        u64::MAX,
        started,
    );
    let mut link = Link::new(&socket, opts.server, false);
    link.trace = opts.trace;
    link.until = opts.until;
    link.stop = opts.stop;
    let mut meter = Meter::new(opts.progress, remote, None);
    let ended = drive::receive(
        &mut link,
        &mut receiver,
        BlockWriter::new(part, opts.mode),
        &mut |n, tsize| meter.step(n, tsize),
        &mut |mut part: PartFile, _, _| {
            part.commit(&file_name, true).map_err(|e| {
                (
                    ErrorCode::NotDefined,
                    format!("the file could not be kept: {e}"),
                )
            })
        },
    );
    meter.end(ended.status == Status::Complete);
    report(
        ended,
        started,
        receiver.counters(),
        receiver.settings(),
        &link,
    )
}

/// Puts the local file `path` on the server as `remote`.
pub fn put(opts: &Options, path: &Path, remote: &str) -> Result<Report, ClientError> {
    let file = File::open(path).map_err(local(format!("cannot read {}", path.display())))?;
    let size = file
        .metadata()
        .map_err(local(format!("cannot read {}", path.display())))?
        .len();
    let socket = transfer_socket(opts)?;
    let (packet, wanted) = request(opts, true, remote, Some(size));
    let settings = Settings {
        timeout: opts.timeout,
        ..Settings::default()
    };
    let started = Instant::now();
    let mut sender = Sender::new(
        settings,
        opts.timing,
        Opening::Request { packet, wanted },
        started,
    );
    let mut link = Link::new(&socket, opts.server, false);
    link.trace = opts.trace;
    link.until = opts.until;
    link.stop = opts.stop;
    let mut meter = Meter::new(
        opts.progress,
        remote,
        (opts.mode == Mode::Octet).then_some(size),
    );
    let ended = drive::send(
        &mut link,
        &mut sender,
        BlockReader::new(file, opts.mode),
        &mut |n, tsize| meter.step(n, tsize),
    );
    meter.end(ended.status == Status::Complete);
    report(ended, started, sender.counters(), sender.settings(), &link)
}
