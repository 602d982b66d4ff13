//! # `GET`: a stored file, sent back (`get/1`)
//!
//! `upload get NAME | sha256sum` reads a file the server stored. What the server sends is
//! held to the rules of what it takes: the name is checked the same way (so `../x` and
//! hidden names, such as partial files, cannot be asked for), every folder on the way must
//! be a real folder and the file a plain file, opened without following a symbolic link.
//! The bytes are hashed as they go, and the digest follows them (`OK <digest>`), so the
//! client checks what it received as the server checks what it receives.
//!
//! A client that stops reading is cut off after the idle timeout, as a silent sender is.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use common::output::{self, human_bytes, Tag};
use common::server::close::CloseReason;

use crate::hashing::Pipeline;
use crate::protocol::{digest_hex, ErrCode, Reply};
use crate::rate;
use crate::wire::Wire;

use super::service::Service;
use super::tree::Place;

/// Opens a stored file to read: a plain file, not through a symbolic link.
fn open_stored(path: &Path) -> io::Result<(File, u64)> {
    let file = common::os::no_follow(OpenOptions::new().read(true)).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a plain file",
        ));
    }
    Ok((file, meta.len()))
}

impl Service {
    /// Answers one `GET`: `FILE <size>`, the bytes, `OK <digest>`; or `ERR`. `None`: the
    /// connection goes on; a reason: it must close (it broke mid-file).
    pub(super) fn send_back(
        &self,
        wire: &mut Wire,
        tag: &Tag,
        raw: &[u8],
        tree: bool,
    ) -> Option<CloseReason> {
        let shown = output::preview(raw, output::PREVIEW_CHARS);
        self.log().event(tag, format_args!("GET \"{shown}\""));
        let refuse = |wire: &mut Wire, code: ErrCode, text: String| {
            self.log().event(tag, format_args!("ERR {code} {text}"));
            let _ = wire.write_line(&Reply::Err(code, text).to_line());
            None
        };
        let place = match Place::check(raw, tree) {
            Ok(place) => place,
            Err(why) => return refuse(wire, ErrCode::BadName, why),
        };
        let root = &self.config().dir;
        let opened = place
            .existing_dir(root)
            .and_then(|dir| open_stored(&dir.join(&place.leaf)));
        let (mut file, size) = match opened {
            Ok(opened) => opened,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let text = format!("there is no {} on the server", place.path);
                return refuse(wire, ErrCode::NotFound, text);
            }
            Err(e) => {
                let text = format!("{} cannot be sent: {e}", place.path);
                return refuse(wire, ErrCode::NotFound, text);
            }
        };
        // A reader that stops reading must not hold this thread for ever.
        let _ = wire.stream().set_write_timeout(wire.idle());
        let started = Instant::now();
        let result = send_file(wire, &mut file, size);
        let _ = wire.stream().set_write_timeout(None);
        match result {
            Ok(digest) => {
                let elapsed = started.elapsed();
                self.log().event(
                    tag,
                    format_args!(
                        "sent back {}: {} in {:.3} s ({}), sha256 {}",
                        place.path,
                        human_bytes(size),
                        elapsed.as_secs_f64(),
                        rate(size, elapsed),
                        digest_hex(&digest)
                    ),
                );
                None
            }
            Err(e) => {
                let text = format!("{}: sending it back failed ({e})", place.path);
                self.log().event(tag, format_args!("{text}"));
                Some(CloseReason::from_io(&e))
            }
        }
    }
}

/// `FILE <size>`, the file's bytes hashed as they go, then `OK <digest>`.
fn send_file(wire: &mut Wire, file: &mut File, size: u64) -> io::Result<crate::protocol::Digest> {
    wire.write_line(&Reply::File(size).to_line())?;
    let mut pipeline = Pipeline::start()?;
    let mut sent: u64 = 0;
    while sent < size {
        let mut buf = pipeline.buffer()?;
        let want = (size - sent).min(buf.len() as u64) as usize;
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file became shorter while it was sent",
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        wire.write_data(&buf[..n])?;
        pipeline.hash(buf, n)?;
        sent += n as u64;
    }
    let digest = pipeline.finish()?;
    wire.write_line(&Reply::Ok(digest).to_line())?;
    Ok(digest)
}
