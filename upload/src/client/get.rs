//! # `upload get NAME`: a stored file, back out, checked
//!
//! `GET <name>`; the server answers `FILE <size>`, the bytes, and `OK <digest>` (the
//! `get/1` extension, see [`crate::protocol`]). The bytes go to standard output, so that
//! `upload get photo.jpg | sha256sum` works, or with `--output FILE` into a file that is
//! written as the server writes one: hidden until the digest matched, then renamed into
//! place. (Windows PowerShell 5 re-encodes what `>` redirects; `--output` does not.)
//!
//! The digest is computed here on the way and compared with the server's: a mismatch, a
//! short file or a broken connection exits 1, and with `--output` leaves nothing behind.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::files::store::PartFile;
use common::progress::Progress;

use crate::hashing::Pipeline;
use crate::protocol::{digest_hex, Digest, Reply, Request, GET_EXTENSION};

use super::{connection, Options, SendError};

/// A file that came back, verified.
#[derive(Debug, Clone)]
pub struct Got {
    pub size: u64,
    pub digest: Digest,
    pub elapsed: Duration,
}

/// Where the bytes go.
enum Out {
    Stdout(io::StdoutLock<'static>),
    File(PartFile),
}

impl Out {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Out::Stdout(out) => out.write_all(bytes),
            Out::File(part) => part.write_all(bytes),
        }
    }
}

/// Fetches `name` from the server in `options.to` into standard output or `output`.
pub fn fetch(
    name: &str,
    output: Option<&PathBuf>,
    options: &Options,
    progress: &Progress,
) -> Result<Got, SendError> {
    let mut out = match output {
        Some(path) => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let unique = format!("get-{}", std::process::id());
            let leaf = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let leaf = leaf.ok_or(SendError::NotAFile)?;
            Out::File(PartFile::create(&dir, &leaf, &unique).map_err(SendError::Open)?)
        }
        None if io::stdout().is_terminal() => {
            return Err(SendError::NotSent(
                "standard output is a terminal, where a file's bytes would be a mess: \
                 give --output FILE, or send them into a program (upload get NAME | sha256sum)"
                    .into(),
            ))
        }
        None => Out::Stdout(io::stdout().lock()),
    };
    let mut conn = None;
    let s = connection(&mut conn, options)?;
    if !s.get {
        return Err(SendError::Lacks(GET_EXTENSION, "GET"));
    }
    s.wire
        .write_line(&Request::Get(name.as_bytes().to_vec()).to_line())
        .map_err(|e| s.reason_for(e))?;
    let size = match s.reply()? {
        Reply::File(size) => size,
        Reply::Err(code, text) => return Err(SendError::Refused(code, text)),
        other => return Err(SendError::Protocol(format!("expected FILE, got {other}"))),
    };
    let started = Instant::now();
    let bar = progress.file(name, size);
    let mut pipeline = Pipeline::start().map_err(SendError::Open)?;
    let mut got: u64 = 0;
    while got < size {
        let mut buf = pipeline.buffer().map_err(SendError::Open)?;
        let want = (size - got).min(buf.len() as u64) as usize;
        let n = match s.wire.read_data(&mut buf[..want]) {
            Ok(0) => {
                return Err(SendError::Connection(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the server closed the connection after {got} of {size} bytes"),
                )))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SendError::Connection(e)),
        };
        out.write_all(&buf[..n]).map_err(SendError::Output)?;
        pipeline.hash(buf, n).map_err(SendError::Open)?;
        got += n as u64;
        bar.inc(n as u64);
    }
    bar.clear();
    let digest = pipeline.finish().map_err(SendError::Open)?;
    match s.reply()? {
        Reply::Ok(theirs) if theirs == digest => {}
        Reply::Ok(theirs) => {
            return Err(SendError::Mismatch {
                ours: digest_hex(&digest),
                theirs: digest_hex(&theirs),
            })
        }
        other => return Err(SendError::Protocol(format!("expected OK, got {other}"))),
    }
    match out {
        Out::Stdout(mut out) => out.flush().map_err(SendError::Output)?,
        Out::File(mut part) => {
            let leaf = output
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // --output replaces a file of that name, in one step, as `curl -o` does.
            part.commit(&leaf, true)
                .map_err(|e| SendError::Open(io::Error::other(e.to_string())))?;
        }
    }
    if let Some(conn) = conn {
        conn.close();
    }
    Ok(Got {
        size,
        digest,
        elapsed: started.elapsed(),
    })
}
