//! # The server's side of the tutorial's exchange (`upload serve --protocol tutorial`)
//!
//! Greeting, size, go-ahead, the bytes, "done" ([`crate::tutorial`] has the messages). The
//! steps it shares with Upload v1 (free space, the partial file, receiving, the log line of a
//! stored file) are [`super::transfer`]'s. What this side adds: a refusal is a close (the
//! exchange has no way to say "no"), and a file is stored as `recv_yan.jpg`, or the first
//! free `recv_yan-N.jpg`.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use common::output::{self, human_bytes, Tag};
use common::server::close::{CloseReason, Closed};

use crate::protocol::ErrCode;
use crate::tutorial::{
    numbered_name, parse_size, read_message, DONE, GO_AHEAD, GREETING, STORE_AS, STORE_EXT,
};
use common::files::store::{CommitError, PartFile};

use super::service::Service;
use super::transfer::{DataFailure, FileRefusal, Transfer};

/// How many numbered names (`recv_yan-1.jpg`, ...) to try before giving up.
const MAX_NUMBERED_NAMES: u32 = 10_000;

/// Serves one client of the tutorial's exchange (the server side of `--protocol tutorial`).
pub(super) fn serve_one(service: &Service, stream: TcpStream, tag: &Tag) -> Closed {
    let mut bytes_in = 0u64;
    let mut bytes_out = 0u64;
    let reason = converse(service, &stream, tag, &mut bytes_in, &mut bytes_out);
    Closed::new(reason, bytes_in, bytes_out)
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
    let unique = format!("{}-{}", std::process::id(), tag.id);
    let mut transfer =
        match Transfer::open(service, tag, &service.config().dir, STORE_AS, &unique, size) {
            Ok(transfer) => transfer,
            Err(FileRefusal { code, text }) => {
                service.count_refused();
                return CloseReason::Error(match code {
                    ErrCode::NoSpace => format!("no space: {text}"),
                    _ => text,
                });
            }
        };
    if let Err(e) = send(GO_AHEAD) {
        return CloseReason::from_io(&e);
    }

    let read = |buf: &mut [u8]| {
        let n = (&mut &*stream).read(buf)?;
        *bytes_in += n as u64;
        Ok(n)
    };
    let digest = match transfer.receive(&format!("{STORE_AS}.{STORE_EXT}"), read, None) {
        Ok(digest) => digest,
        Err(failure) => {
            drop(transfer);
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
    let stored_as = match commit_numbered(&mut transfer.part, config.overwrite) {
        Ok(name) => name,
        Err(e) => {
            service.count_failed();
            return CloseReason::Error(format!("could not store the file: {e}"));
        }
    };
    transfer.stored(
        &stored_as,
        &digest,
        " (not verified: the tutorial's exchange has no checksum)",
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
