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

use crate::protocol::{
    digest_hex, Digest, ErrCode, Reply, Request, GET_EXTENSION, RESUME_EXTENSION, STREAM_EXTENSION,
    TREE_EXTENSION,
};
use crate::wire::{LineError, Wire};
use common::files::store::CommitError;

use super::resume::{self, NotHeld, Record};
use super::service::Service;
use super::stream::Chunks;
use super::transfer::{write_error, Checkpoint, DataFailure, FileRefusal, Transfer};
use super::tree::{make_folders, Place};

/// After an error in the middle of a file, how long the server keeps reading (and throwing
/// away) what the client is still sending, so that the client is not reset before it has
/// read the `ERR` line.
const LINGER: Duration = Duration::from_secs(2);
/// ... and at most how many bytes.
const LINGER_BYTES: u64 = 64 << 20;

/// How a file was asked for.
#[derive(Clone, Copy)]
enum How<'u> {
    /// `PUT`: a part of its own (`unique`), deleted if the upload breaks off.
    Put { unique: &'u str },
    /// `RESUME`: the kept part for its name, continued if it holds the file's beginning,
    /// and kept if the upload breaks off ([`resume`]).
    Resume,
    /// `STREAM`: a part of its own, of a size not known until its end ([`Chunks`]).
    Stream { unique: &'u str },
}

/// The extensions both sides said they have in their `HELLO`s: what this connection
/// may use. Before (or without) a `HELLO`, none: plain Upload v1.
#[derive(Debug, Clone, Copy, Default)]
struct Agreed {
    tree: bool,
    stream: bool,
    get: bool,
}

/// The record of a resumable upload, deleted when the upload ends (stored, or failed in a
/// way that deleted the part too), unless `keep`.
struct RecordGuard<'d> {
    dir: &'d std::path::Path,
    name: &'d str,
    keep: bool,
}

impl Drop for RecordGuard<'_> {
    fn drop(&mut self) {
        if !self.keep {
            resume::forget(self.dir, self.name);
        }
    }
}

/// One file asked for: its size (0 for a stream), its name as it came, how, and whether
/// the name may be a path (`tree/1`).
struct File<'u> {
    size: u64,
    raw_name: &'u [u8],
    how: How<'u>,
    tree: bool,
}

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
        let mut agreed = Agreed::default();
        // Each upload's own part name: the process, the connection, the upload's number.
        let mut next_unique = || {
            uploads += 1;
            format!("{}-{}-{uploads}", std::process::id(), tag.id)
        };
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
                    let unique = next_unique();
                    let how = How::Put { unique: &unique };
                    let file = File {
                        size,
                        raw_name: &name,
                        how,
                        tree: agreed.tree,
                    };
                    if let Next::Close(reason) = self.put(wire, tag, file) {
                        return reason;
                    }
                }
                Ok(Request::Resume { size, name }) => {
                    // A server that keeps no partial files treats it as a PUT.
                    let unique = next_unique();
                    let how = if self.config().keep_partial.is_some() {
                        How::Resume
                    } else {
                        How::Put { unique: &unique }
                    };
                    let file = File {
                        size,
                        raw_name: &name,
                        how,
                        tree: agreed.tree,
                    };
                    if let Next::Close(reason) = self.put(wire, tag, file) {
                        return reason;
                    }
                }
                Ok(Request::Stream(name)) if agreed.stream => {
                    let unique = next_unique();
                    let how = How::Stream { unique: &unique };
                    let file = File {
                        size: 0,
                        raw_name: &name,
                        how,
                        tree: agreed.tree,
                    };
                    if let Next::Close(reason) = self.put(wire, tag, file) {
                        return reason;
                    }
                }
                Ok(Request::Mkdir(path)) if agreed.tree => self.mkdir(wire, tag, &path),
                Ok(Request::Get(name)) if agreed.get => {
                    if let Some(reason) = self.send_back(wire, tag, &name, agreed.tree) {
                        return reason;
                    }
                }
                Ok(Request::Stream(_) | Request::Mkdir(_) | Request::Get(_)) => self.reply_err(
                    wire,
                    tag,
                    ErrCode::BadRequest,
                    "STREAM, MKDIR and GET belong to extensions (stream/1, tree/1, get/1): \
                     say HELLO with them first",
                ),
                Ok(Request::Data(_)) => self.reply_err(
                    wire,
                    tag,
                    ErrCode::BadRequest,
                    "DATA comes after STREAM; send STREAM first",
                ),
                Ok(Request::Hello(theirs)) => {
                    // The extensions both sides have: this server's are tree/1, stream/1,
                    // get/1, and resume/1 when it keeps partial files.
                    let mut ours = vec![TREE_EXTENSION, STREAM_EXTENSION, GET_EXTENSION];
                    if self.config().keep_partial.is_some() {
                        ours.push(RESUME_EXTENSION);
                    }
                    let both: Vec<String> = theirs
                        .into_iter()
                        .filter(|e| ours.contains(&e.as_str()))
                        .collect();
                    let has = |extension: &str| both.iter().any(|e| e == extension);
                    agreed = Agreed {
                        tree: has(TREE_EXTENSION),
                        stream: has(STREAM_EXTENSION),
                        get: has(GET_EXTENSION),
                    };
                    self.sweep_kept_parts(tag);
                    if let Err(e) = wire.write_line(&Reply::Hello(both).to_line()) {
                        return CloseReason::from_io(&e);
                    }
                }
                Ok(Request::From(_)) => self.reply_err(
                    wire,
                    tag,
                    ErrCode::BadRequest,
                    "FROM answers HAVE, after RESUME; send RESUME first",
                ),
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
    fn put(&self, wire: &mut Wire, tag: &Tag, file: File<'_>) -> Next {
        let outcome = self.receive_file(wire, tag, file);
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
    fn receive_file(&self, wire: &mut Wire, tag: &Tag, file: File<'_>) -> PutEnd {
        let File {
            size,
            raw_name,
            how,
            tree,
        } = file;
        let shown = output::preview(raw_name, output::PREVIEW_CHARS);
        match how {
            How::Put { .. } => self
                .log()
                .event(tag, format_args!("PUT \"{shown}\" ({size} bytes)")),
            How::Resume => self
                .log()
                .event(tag, format_args!("RESUME \"{shown}\" ({size} bytes)")),
            How::Stream { .. } => self
                .log()
                .event(tag, format_args!("STREAM \"{shown}\" (size not known)")),
        }

        // 1. Everything is checked before a byte of the file is accepted: each part of a
        // path, with tree/1.
        let place = match Place::check(raw_name, tree) {
            Ok(place) => place,
            Err(why) => return self.refused(ErrCode::BadName, why),
        };
        let name = place.path.as_str();
        let stream = matches!(how, How::Stream { .. });
        if !stream && size > self.config().max_size {
            let text = format!(
                "{name} is {}, more than this server accepts (--max-size {})",
                human_bytes(size),
                human_bytes(self.config().max_size)
            );
            return self.refused(ErrCode::TooLarge, text);
        }
        let Some(reservation) = self.reserve(name) else {
            let text = format!("another client is uploading {name} right now; try again later");
            return self.refused(ErrCode::Busy, text);
        };
        // The folders on the way, made now (each a real folder, not a link).
        let dir = match place.make_dir(&self.config().dir) {
            Ok(dir) => dir,
            Err(e) => {
                let text = format!("{name} cannot go in its folder: {e}");
                return self.refused(ErrCode::Exists, text);
            }
        };
        let dir = dir.as_path();
        let leaf = place.leaf.as_str();
        let target = dir.join(leaf);
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            if meta.is_dir() {
                return self.refused(ErrCode::Exists, format!("{name} is a folder on the server"));
            }
            if !self.config().overwrite {
                let text = format!("{name} is already on the server (it runs without --overwrite)");
                return self.refused(ErrCode::Exists, text);
            }
        }
        // Only a RESUME's record is this upload's to delete when it ends.
        let mut record = RecordGuard {
            dir,
            name: leaf,
            keep: !matches!(how, How::Resume),
        };
        let opened = match how {
            How::Put { unique } => Transfer::open(self, tag, dir, leaf, unique, size)
                .map_err(|FileRefusal { code, text }| self.refused(code, text)),
            How::Stream { unique } => Transfer::open_ended(self, tag, dir, leaf, unique)
                .map_err(|FileRefusal { code, text }| self.refused(code, text)),
            How::Resume => self.open_resumable(wire, tag, (dir, leaf), size, &mut record),
        };
        let mut transfer = match opened {
            Ok(transfer) => transfer,
            Err(end) => return end,
        };
        if let Err(e) = wire.write_line(&Reply::Go(transfer.from()).to_line()) {
            let from = transfer.from();
            record.keep = matches!(how, How::Resume) && transfer.keep(from);
            return self.failed(None, Next::Close(CloseReason::from_io(&e)));
        }

        // 2. The bytes, hashed as they pass; a resumable upload's record kept up to date.
        let mut save = |offset: u64, digest: &Digest| {
            let kept = Record {
                name: leaf.to_string(),
                size,
                offset,
                prefix: *digest,
            };
            if let Err(e) = kept.save(dir) {
                self.log().event(
                    tag,
                    format_args!("{name}: could not write the resume record: {e}"),
                );
            }
        };
        let checkpoint: Option<Checkpoint<'_>> = match how {
            How::Resume => Some(&mut save),
            How::Put { .. } | How::Stream { .. } => None,
        };
        // A stream's bytes come in chunks, which `chunks` takes apart.
        let mut chunks = stream.then(|| Chunks::new(self.config().max_size));
        let received = match chunks.as_mut() {
            Some(chunks) => transfer.receive(name, |buf| chunks.read(wire, buf), checkpoint),
            None => transfer.receive(name, |buf| wire.read_data(buf), checkpoint),
        };
        let digest = match received {
            Ok(digest) => digest,
            Err(failure) => {
                if let Some((code, text)) = chunks.as_mut().and_then(|c| c.refusal.take()) {
                    // Refused mid-stream: the sender is still sending; it hears why.
                    drop(transfer);
                    drop(reservation);
                    let mut end = self.failed(
                        Some(Reply::Err(code, text.clone())),
                        Next::Close(CloseReason::ProtocolError(text)),
                    );
                    end.linger = true;
                    return end;
                }
                let failure = match (failure, &chunks) {
                    (DataFailure::Read { got, .. }, Some(c)) if c.closed => {
                        DataFailure::Ended { got }
                    }
                    (failure, _) => failure,
                };
                // A resumable upload that the sender left keeps its part, cut to what
                // arrived, with the record the break wrote; otherwise the partial file goes
                // first, so that the log line is true.
                let left = match &failure {
                    DataFailure::Ended { got } | DataFailure::Read { got, .. } => Some(*got),
                    DataFailure::Write(_) => None,
                };
                let kept = match (how, left) {
                    (How::Resume, Some(got)) => transfer.keep(got),
                    _ => {
                        drop(transfer);
                        false
                    }
                };
                record.keep = kept;
                // The name is free before the line says so: a sender that tries again at
                // once is not told BUSY.
                drop(reservation);
                return self.data_failed(tag, name, size, failure, kept);
            }
        };

        // 3. The client's digest, compared with ours. A resumable upload whose sender went
        // away between its last byte and this line keeps the whole part: the next try has
        // nothing to send but the digest.
        let claimed = match chunks.and_then(|c| c.end) {
            // A stream's digest was its last line.
            Some(claimed) => Ok(claimed),
            None => self.read_digest(wire),
        };
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(end) => {
                if matches!(how, How::Resume) {
                    save(size, &digest);
                    record.keep = transfer.keep(size);
                }
                return end;
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
        if let Err(e) = transfer.part.commit(leaf, self.config().overwrite) {
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
        // A part kept for this name from an earlier RESUME is of no use now.
        if !matches!(how, How::Resume) {
            resume::discard(dir, leaf);
        }
        transfer.stored(name, &digest, "");
        PutEnd {
            reply: Some(Reply::Ok(digest)),
            next: Next::Continue,
            linger: false,
        }
    }

    /// The `SHA256` line after a file's bytes, or how the upload ends without it.
    fn read_digest(&self, wire: &mut Wire) -> Result<Digest, PutEnd> {
        match wire.read_line() {
            Ok(Some(line)) => match Request::parse(line) {
                Ok(Request::Sha256(claimed)) => Ok(claimed),
                _ => {
                    let text = "expected SHA256 <digest> after the file's bytes; nothing stored";
                    let reply = Reply::Err(ErrCode::BadRequest, text.into());
                    let close = Next::Close(CloseReason::ProtocolError(text.into()));
                    Err(self.failed(Some(reply), close))
                }
            },
            Ok(None) | Err(LineError::Truncated) => {
                let why = CloseReason::ProtocolError("end of stream before the digest".into());
                Err(self.failed(None, Next::Close(why)))
            }
            Err(LineError::TooLong) => {
                let why = CloseReason::ProtocolError("an overlong digest line".into());
                Err(self.failed(None, Next::Close(why)))
            }
            Err(e @ LineError::Timeout(_)) => {
                let reply = Reply::Err(ErrCode::Timeout, format!("{e}; nothing stored"));
                Err(self.failed(Some(reply), Next::Close(CloseReason::MessageTimeout)))
            }
            Err(LineError::Io(e)) => {
                Err(self.failed(timeout_reply(&e), Next::Close(CloseReason::from_io(&e))))
            }
        }
    }

    /// The transfer of a `RESUME`: the kept part continued if it holds the beginning of
    /// this file (`HAVE`, then the client's `FROM`), or a new resumable part.
    fn open_resumable<'s>(
        &'s self,
        wire: &mut Wire,
        tag: &'s Tag,
        (dir, name): (&std::path::Path, &str),
        size: u64,
        record: &mut RecordGuard<'_>,
    ) -> Result<Transfer<'s>, PutEnd> {
        let fresh = |this: &'s Service| {
            Transfer::open(this, tag, dir, name, &resume::unique(name), size)
                .map_err(|FileRefusal { code, text }| this.refused(code, text))
        };
        let held = match resume::take(dir, name, size) {
            Ok(held) => held,
            Err(NotHeld::Nothing) => return fresh(self),
            Err(NotHeld::OtherFile { size: was }) => {
                self.log().event(
                    tag,
                    format_args!(
                        "{name}: the part kept from an earlier upload was of a {was}-byte file, \
                         not this one: deleted; starting at 0"
                    ),
                );
                return fresh(self);
            }
            Err(NotHeld::Changed) => {
                self.log().event(
                    tag,
                    format_args!(
                        "{name}: the part kept from an earlier upload no longer has the SHA-256 \
                         its record says (changed on disk?): not trusted, deleted; starting at 0"
                    ),
                );
                return fresh(self);
            }
        };
        let offset = held.offset;
        self.log().event(
            tag,
            format_args!(
                "{name}: its first {} are here from an earlier upload (hashed again: as \
                 recorded); offering to resume",
                human_bytes(offset)
            ),
        );
        let have = Reply::Have {
            offset,
            prefix: held.prefix,
        };
        // The part stays for another try whatever goes wrong before the client answers.
        let keep = |held: resume::Held, record: &mut RecordGuard<'_>| {
            record.keep = held.part.keep(held.offset).is_ok();
        };
        if let Err(e) = wire.write_line(&have.to_line()) {
            keep(held, record);
            return Err(self.failed(None, Next::Close(CloseReason::from_io(&e))));
        }
        // The sender now hashes its own first `offset` bytes before it answers: the wait
        // between lines grows by the time that takes at a slow disk's pace.
        let idle = wire.idle();
        let _ = wire.set_idle(idle.map(|d| d + hashing_time(offset)));
        let answer = match wire.read_line() {
            Ok(Some(line)) => Request::parse(line).ok(),
            Ok(None) | Err(LineError::Truncated) => {
                keep(held, record);
                let why = CloseReason::ProtocolError("end of stream after HAVE".into());
                return Err(self.failed(None, Next::Close(why)));
            }
            Err(e @ LineError::Timeout(_)) => {
                keep(held, record);
                let reply = Reply::Err(ErrCode::Timeout, format!("{e}; closing"));
                return Err(self.failed(Some(reply), Next::Close(CloseReason::MessageTimeout)));
            }
            Err(LineError::Io(e)) => {
                keep(held, record);
                let close = Next::Close(CloseReason::from_io(&e));
                return Err(self.failed(timeout_reply(&e), close));
            }
            Err(LineError::TooLong) => None,
        };
        let _ = wire.set_idle(idle);
        match answer {
            Some(Request::From(from)) if from == offset => {
                Transfer::resume(self, tag, name, size, held).map_err(
                    |FileRefusal { code, text }| {
                        // Refused now (no space for the rest): kept for later.
                        record.keep = true;
                        self.refused(code, text)
                    },
                )
            }
            Some(Request::From(0)) => {
                self.log().event(
                    tag,
                    format_args!(
                        "{name}: the sender's file does not begin with the part kept here: \
                         deleted; starting at 0"
                    ),
                );
                drop(held);
                resume::discard(dir, name);
                fresh(self)
            }
            _ => {
                keep(held, record);
                let text = format!("expected FROM {offset} or FROM 0 after HAVE");
                let reply = Reply::Err(ErrCode::BadRequest, text.clone());
                Err(self.failed(Some(reply), Next::Close(CloseReason::ProtocolError(text))))
            }
        }
    }

    /// One `MKDIR` (`tree/1`): the folder, and the folders on its way, made; `MADE`.
    fn mkdir(&self, wire: &mut Wire, tag: &Tag, raw: &[u8]) {
        let shown = output::preview(raw, output::PREVIEW_CHARS);
        self.log().event(tag, format_args!("MKDIR \"{shown}\""));
        let place = match Place::check(raw, true) {
            Ok(place) => place,
            Err(why) => return self.reply_err(wire, tag, ErrCode::BadName, &why),
        };
        let mut parts = place.folders.clone();
        parts.push(place.leaf.clone());
        match make_folders(&self.config().dir, &parts) {
            Ok(_) => {
                self.log()
                    .event(tag, format_args!("made folder {}", place.path));
                let _ = wire.write_line(&Reply::Made.to_line());
            }
            Err(e) => {
                let code = if e.kind() == io::ErrorKind::AlreadyExists {
                    ErrCode::Exists
                } else {
                    ErrCode::Internal
                };
                let text = format!("could not make the folder {}: {e}", place.path);
                self.reply_err(wire, tag, code, &text);
            }
        }
    }

    /// Deletes the kept parts nobody resumed within `--keep-partial` (at most once a
    /// minute, on a client's `HELLO`).
    fn sweep_kept_parts(&self, tag: &Tag) {
        let Some(keep) = self.config().keep_partial else {
            return;
        };
        if !self.sweep_due() {
            return;
        }
        let removed = resume::sweep(&self.config().dir, keep, std::time::SystemTime::now());
        if removed > 0 {
            self.log().event(
                tag,
                format_args!(
                    "deleted {removed} partial file(s) kept for resume and unused for {} h \
                     (--keep-partial)",
                    resume::hours(keep)
                ),
            );
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
    fn data_failed(
        &self,
        tag: &Tag,
        name: &str,
        size: u64,
        failure: DataFailure,
        kept: bool,
    ) -> PutEnd {
        let fate = if kept {
            "partial file kept, to resume (--keep-partial)"
        } else {
            "partial file deleted"
        };
        match failure {
            DataFailure::Ended { got } => {
                self.log().event(
                    tag,
                    format_args!("{name}: the client left after {got} of {size} bytes; {fate}"),
                );
                let why = format!("end of stream in the middle of {name}");
                self.failed(None, Next::Close(CloseReason::ProtocolError(why)))
            }
            DataFailure::Read { got, error } => {
                self.log().event(
                    tag,
                    format_args!(
                        "{name}: failed after {got} of {size} bytes ({}); {fate}",
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

/// How long hashing `bytes` of a file may take, at a slow disk's pace (50 MB/s): what a
/// peer that hashes them first is allowed beyond the usual wait.
pub fn hashing_time(bytes: u64) -> Duration {
    Duration::from_secs(bytes / SLOW_HASHING)
}

/// A pace that reading and hashing a file reaches even on a slow disk (bytes per second).
const SLOW_HASHING: u64 = 50_000_000;

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
