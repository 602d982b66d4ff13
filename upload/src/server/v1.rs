//! # Upload v1, the server's side: requests in lines, several files per connection
//!
//! The steps of a `PUT`, in the order the [`server`](super) module's docs give them: the
//! checks (then [`Transfer::open`]), `GO 0`, the bytes ([`Transfer::receive`]), the
//! digest compared, the file in place, `OK`. The lines are [`crate::protocol`]'s, read
//! and written through [`Wire`]; the protocol is `docs/src/protocol-upload.md`.

use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::net;
use common::output::{self, human_bytes, Tag};
use common::server::close::CloseReason;

use crate::protocol::{digest_hex, ErrCode, Reply, Request};
use crate::wire::{LineError, Wire};
use common::files::name;
use common::files::store::CommitError;

use super::service::Service;
use super::transfer::{write_error, DataFailure, FileRefusal, Transfer};

/// After an error in the middle of a file, how long the server keeps reading (and throwing
/// away) what the client is still sending, so that the client is not reset before it has
/// read the `ERR` line.
const LINGER: Duration = Duration::from_secs(2);
/// ... and at most how many bytes.
const LINGER_BYTES: u64 = 64 << 20;

/// What to do after one `PUT`.
enum Next {
    /// The stream is in step: read the next request.
    Continue,
    /// The connection cannot go on.
    Close(CloseReason),
}

/// How one `PUT` ended.
struct PutEnd {
    /// What to tell the client, once the partial file and the name are released.
    reply: Option<Reply>,
    next: Next,
    /// Read and discard what the client still sends before closing (see [`linger`]).
    linger: bool,
}

impl Service {
    /// The Upload v1 conversation with one client.
    pub(super) fn converse(&self, wire: &mut Wire, tag: &Tag) -> CloseReason {
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
    ) -> PutEnd {
        let shown = output::preview(raw_name, output::PREVIEW_CHARS);
        self.log()
            .event(tag, format_args!("PUT \"{shown}\" ({size} bytes)"));

        // 1. Everything is checked before a byte of the file is accepted.
        let name = match name::check(raw_name) {
            Ok(name) => name,
            Err(why) => return self.refused(ErrCode::BadName, why.to_string()),
        };
        if size > self.config().max_size {
            let text = format!(
                "{name} is {}, more than this server accepts (--max-size {})",
                human_bytes(size),
                human_bytes(self.config().max_size)
            );
            return self.refused(ErrCode::TooLarge, text);
        }
        let Some(_reservation) = self.reserve(name) else {
            let text = format!("another client is uploading {name} right now; try again later");
            return self.refused(ErrCode::Busy, text);
        };
        let target = self.config().dir.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            if meta.is_dir() {
                return self.refused(ErrCode::Exists, format!("{name} is a folder on the server"));
            }
            if !self.config().overwrite {
                let text = format!("{name} is already on the server (it runs without --overwrite)");
                return self.refused(ErrCode::Exists, text);
            }
        }
        let mut transfer = match Transfer::open(self, tag, name, unique, size) {
            Ok(transfer) => transfer,
            Err(FileRefusal { code, text }) => return self.refused(code, text),
        };
        if let Err(e) = wire.write_line(&Reply::Go(0).to_line()) {
            return self.failed(None, Next::Close(CloseReason::from_io(&e)));
        }

        // 2. The bytes, hashed as they pass.
        let digest = match transfer.receive(name, |buf| wire.read_data(buf)) {
            Ok(digest) => digest,
            Err(failure) => {
                // The partial file goes first, so that the log line is true.
                drop(transfer);
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
        if let Err(e) = transfer.part.commit(name, self.config().overwrite) {
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
        transfer.stored(name, &digest, "");
        PutEnd {
            reply: Some(Reply::Ok(digest)),
            next: Next::Continue,
            linger: false,
        }
    }

    /// A `PUT` refused before its data: the stream stays in step.
    fn refused(&self, code: ErrCode, text: String) -> PutEnd {
        self.count_refused();
        PutEnd {
            reply: Some(Reply::Err(code, text)),
            next: Next::Continue,
            linger: false,
        }
    }

    /// An upload that started and did not end in a stored file.
    fn failed(&self, reply: Option<Reply>, next: Next) -> PutEnd {
        self.count_failed();
        PutEnd {
            reply,
            next,
            linger: false,
        }
    }

    /// Sends `ERR <code> <text>` and logs it.
    fn reply_err(&self, wire: &mut Wire, tag: &Tag, code: ErrCode, text: &str) {
        self.log().event(tag, format_args!("ERR {code} {text}"));
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
    fn data_failed(&self, tag: &Tag, name: &str, size: u64, failure: DataFailure) -> PutEnd {
        match failure {
            DataFailure::Ended { got } => {
                self.log().event(
                    tag,
                    format_args!(
                        "{name}: the client left after {got} of {size} bytes; partial file deleted"
                    ),
                );
                let why = format!("end of stream in the middle of {name}");
                self.failed(None, Next::Close(CloseReason::ProtocolError(why)))
            }
            DataFailure::Read { got, error } => {
                self.log().event(
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

/// The `ERR TIMEOUT` line for a read that timed out.
fn timeout_reply(e: &io::Error) -> Option<Reply> {
    net::is_timeout(e).then(|| Reply::Err(ErrCode::Timeout, "idle for too long; closing".into()))
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
