//! # The tutorial's own exchange (`--protocol seed`)
//!
//! The tutorial's upload, message by message (its Python 3 port is
//! `docs/python/upload.py` and `docs/python/upload_user.py`):
//!
//! ```text
//! S: 文件上传                 "file upload": the greeting
//! C: 12345                   the size, as decimal digits, with nothing after it
//! S: 开始传送                 "start sending"
//! C: <12345 bytes>
//! S: 传送完成                 "transfer complete"
//! ```
//!
//! Nothing marks where a message ends: each side does one `recv(1024)` and trusts that it
//! got exactly the other side's message. That holds here only because each side waits for
//! the other's answer before it sends again, so there is never more than one message in
//! flight. There is no name (the server always writes `recv_yan.jpg`) and no checksum.
//!
//! `upload serve --protocol seed` and `upload send --protocol seed` speak exactly this, so
//! they interoperate with the tutorial's programs, and fix what can be fixed without
//! changing a byte on the wire: `write_all` instead of `send`, end of stream detected (the
//! tutorial's server loops forever when a client leaves early), a timeout, `--max-size`,
//! the partial file, and no overwriting: `recv_yan.jpg`, then `recv_yan-1.jpg`, ...

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::addr::Endpoint;
use common::conn::SocketTimeouts;
use common::grade::Wait;
use common::output::{self, human_bytes, Tag};
use common::server::{CloseReason, Closed};

use crate::protocol::digest_hex;
use crate::rate;
use crate::server::{receive, DataFailure, Service};
use crate::store::{CommitError, PartFile};

/// "文件上传": file upload.
pub const GREETING: &str = "文件上传";
/// "开始传送": start sending.
pub const GO_AHEAD: &str = "开始传送";
/// "传送完成": transfer complete.
pub const DONE: &str = "传送完成";
/// The tutorial's fixed output name.
pub const STORE_AS: &str = "recv_yan";
/// ... and its extension.
pub const STORE_EXT: &str = "jpg";
/// The tutorial reads every message with `recv(1024)`.
pub const MESSAGE_MAX: usize = 1024;
/// How long a connect waits when `--timeout` is 0 (no limit): about as long as the kernel
/// itself retries a SYN before it gives up.
const CONNECT_WITHOUT_LIMIT: Duration = Duration::from_secs(127);
/// How many numbered names (`recv_yan-1.jpg`, ...) to try before giving up.
const MAX_NUMBERED_NAMES: u32 = 10_000;

/// Reads one message the tutorial's way: whatever one `recv` returns. `None` at end of stream.
fn read_message(mut stream: &TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; MESSAGE_MAX];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => return Ok(Some(buf[..n].to_vec())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The size message: decimal digits (spaces and a line end tolerated, as a person typing
/// into `nc` would send them).
fn parse_size(message: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(message).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `recv_yan.jpg`, `recv_yan-1.jpg`, `recv_yan-2.jpg`, ...
fn numbered_name(n: u32) -> String {
    if n == 0 {
        format!("{STORE_AS}.{STORE_EXT}")
    } else {
        format!("{STORE_AS}-{n}.{STORE_EXT}")
    }
}

/// Serves one client of the tutorial's exchange (the server side of `--protocol seed`).
pub fn serve_one(service: &Service, stream: TcpStream, tag: &Tag) -> Closed {
    let mut bytes_in = 0u64;
    let mut bytes_out = 0u64;
    let reason = converse(service, &stream, tag, &mut bytes_in, &mut bytes_out);
    Closed {
        reason,
        bytes_in,
        bytes_out,
    }
}

fn converse(
    service: &Service,
    stream: &TcpStream,
    tag: &Tag,
    bytes_in: &mut u64,
    bytes_out: &mut u64,
) -> CloseReason {
    let log = service.log();
    let config = service.config();
    let mut send = |text: &str| -> io::Result<()> {
        let mut s = stream;
        s.write_all(text.as_bytes())?;
        *bytes_out += text.len() as u64;
        Ok(())
    };
    if let Err(e) = send(GREETING) {
        return CloseReason::from_io(&e);
    }
    let message = match read_message(stream) {
        Ok(Some(m)) => m,
        Ok(None) => return CloseReason::EndOfStream,
        Err(e) => return CloseReason::from_io(&e),
    };
    *bytes_in += message.len() as u64;
    // The tutorial's exchange has no way to say "no": a refusal is a close, explained here.
    let Some(size) = parse_size(&message) else {
        service.count_refused();
        let shown = output::preview(&message, output::PREVIEW_CHARS);
        return CloseReason::ProtocolError(format!(
            "expected the size as digits, got \"{shown}\" (the tutorial's size message is not framed)"
        ));
    };
    log.event(tag, format_args!("size {size} bytes"));
    if size > config.max_size {
        service.count_refused();
        return CloseReason::ProtocolError(format!(
            "{} is more than --max-size {}; closed without the go-ahead",
            human_bytes(size),
            human_bytes(config.max_size)
        ));
    }
    if let Some(text) = service.short_of_space(size) {
        service.count_refused();
        return CloseReason::Error(format!("no space: {text}"));
    }
    let unique = format!("{}-{}", std::process::id(), tag.id);
    let mut part = match PartFile::create(&config.dir, STORE_AS, &unique) {
        Ok(part) => part,
        Err(e) => {
            service.count_refused();
            return CloseReason::Error(format!(
                "could not create a file in the upload folder: {e}"
            ));
        }
    };
    if let Err(e) = part.reserve(size) {
        service.count_refused();
        return CloseReason::Error(format!("could not reserve {size} bytes: {e}"));
    }
    if let Err(e) = send(GO_AHEAD) {
        return CloseReason::from_io(&e);
    }

    let started = Instant::now();
    let bar = service
        .progress()
        .file(&format!("#{} {STORE_AS}.{STORE_EXT}", tag.id), size);
    let read = |buf: &mut [u8]| {
        let n = (&mut &*stream).read(buf)?;
        *bytes_in += n as u64;
        Ok(n)
    };
    let received = receive(read, &mut part, size, &bar);
    bar.clear();
    let digest = match received {
        Ok(digest) => digest,
        Err(failure) => {
            service.count_failed();
            return match failure {
                DataFailure::Ended { got } => {
                    log.event(
                        tag,
                        format_args!(
                            "the client left after {got} of {size} bytes; partial file deleted \
                             (the tutorial's server would wait forever here)"
                        ),
                    );
                    CloseReason::ProtocolError("end of stream in the middle of the file".into())
                }
                DataFailure::Read { error, .. } => CloseReason::from_io(&error),
                DataFailure::Write(error) => {
                    CloseReason::Error(format!("could not write the file: {error}"))
                }
            };
        }
    };
    let stored_as = match commit_numbered(&mut part, config.overwrite) {
        Ok(name) => name,
        Err(e) => {
            service.count_failed();
            return CloseReason::Error(format!("could not store the file: {e}"));
        }
    };
    service.count_stored(size);
    let elapsed = started.elapsed();
    log.event(
        tag,
        format_args!(
            "stored {stored_as}: {} in {:.3} s ({}), sha256 {} (not verified: the tutorial's \
             exchange has no checksum)",
            human_bytes(size),
            elapsed.as_secs_f64(),
            rate(size, elapsed),
            digest_hex(&digest)
        ),
    );
    if let Err(e) = send(DONE) {
        return CloseReason::from_io(&e);
    }
    // The tutorial's client closes after reading "done"; wait for that (bounded by the
    // idle timeout), reading and ignoring anything else it sends.
    let mut rest = [0u8; 1024];
    loop {
        let mut s = stream;
        match s.read(&mut rest) {
            Ok(0) => return CloseReason::EndOfStream,
            Ok(n) => *bytes_in += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return CloseReason::from_io(&e),
        }
    }
}

/// Stores under the tutorial's name, or the first free numbered one (or replaces the
/// tutorial's name with `--overwrite`, as the tutorial does, but atomically).
fn commit_numbered(part: &mut PartFile, overwrite: bool) -> Result<String, CommitError> {
    if overwrite {
        let name = numbered_name(0);
        part.commit(&name, true)?;
        return Ok(name);
    }
    for n in 0..MAX_NUMBERED_NAMES {
        let name = numbered_name(n);
        match part.commit(&name, false) {
            Ok(()) => return Ok(name),
            Err(CommitError::Exists(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(CommitError::Exists(numbered_name(MAX_NUMBERED_NAMES)))
}

/// Why a seed upload failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Connect(#[from] common::net::NetError),
    #[error("the server closed the connection {0} (it may have refused the file: the tutorial's exchange cannot say why)")]
    Closed(&'static str),
    #[error("the server said {0:?}, expected {1:?} (is it `upload serve --protocol seed` or the tutorial's upload.py?)")]
    Unexpected(String, &'static str),
    #[error("{}", common::net::describe(.0))]
    Io(#[from] io::Error),
}

/// Reads one message and checks that it is `what`; `stage` says where we were if the
/// server closed instead.
fn expect(stream: &TcpStream, what: &'static str, stage: &'static str) -> Result<(), SeedError> {
    match read_message(stream)? {
        None => Err(SeedError::Closed(stage)),
        Some(m) if m == what.as_bytes() => Ok(()),
        Some(m) => Err(SeedError::Unexpected(
            String::from_utf8_lossy(&m).into_owned(),
            what,
        )),
    }
}

/// The client's side up to the file's bytes: connect, greeting, size, go-ahead. `say` gets
/// the server's messages, to show them as the tutorial's client prints them. Every
/// connect, read and write waits as `wait` says (`--timeout`; inside a grader, cut to its
/// step). The caller then sends exactly `size` bytes and calls [`finish`].
pub fn start(
    to: &Endpoint,
    size: u64,
    wait: &Wait,
    say: &mut dyn FnMut(&str),
) -> Result<TcpStream, SeedError> {
    let within = wait
        .timeout_at(Instant::now())?
        .unwrap_or(CONNECT_WITHOUT_LIMIT);
    let stream = common::net::connect(to, within, "upload serve --protocol seed")?;
    let mut timeouts = SocketTimeouts::default();
    let mut ready = |stream: &TcpStream| -> io::Result<()> {
        let t = wait.timeout_at(Instant::now())?;
        timeouts.set_read(stream, t)?;
        timeouts.set_write(stream, t)
    };
    ready(&stream)?;
    expect(&stream, GREETING, "before greeting")?;
    say(GREETING);
    ready(&stream)?;
    (&stream).write_all(size.to_string().as_bytes())?;
    ready(&stream)?;
    expect(&stream, GO_AHEAD, "after the size")?;
    say(GO_AHEAD);
    Ok(stream)
}

/// After the bytes: waits for "传送完成" (done), as `wait` says.
pub fn finish(stream: &TcpStream, wait: &Wait, say: &mut dyn FnMut(&str)) -> Result<(), SeedError> {
    stream.set_read_timeout(wait.timeout_at(Instant::now())?)?;
    expect(stream, DONE, "before saying the transfer was complete")?;
    say(DONE);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_digits_as_a_person_or_the_tutorial_sends_them() {
        assert_eq!(parse_size(b"12345"), Some(12345));
        assert_eq!(parse_size(b"42\n"), Some(42));
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"12abc"), None);
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"99999999999999999999999"), None);
    }

    #[test]
    fn names_are_numbered_after_the_tutorials() {
        assert_eq!(numbered_name(0), "recv_yan.jpg");
        assert_eq!(numbered_name(2), "recv_yan-2.jpg");
    }
}
