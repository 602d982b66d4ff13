//! # `upload serve`: receive files, verify them, keep only what is whole
//!
//! Each client gets its own thread from the shared accept loop ([`common::server`]), which
//! brings the connection limit and the idle timeout. On its connection a client may upload
//! several files, one after another. For each `PUT <size> <name>` (`v1.rs`):
//!
//! 1. **Check everything before accepting a byte**: the name ([`common::files::name`]), the size
//!    against `--max-size`, that nobody else is uploading that name right now, that no file
//!    has it (unless `--overwrite`), that the disk has room. Each refusal is one `ERR` line
//!    with its reason, and the connection stays usable for the next file.
//! 2. `GO 0`, then receive exactly `size` bytes into a hidden partial file, feeding each
//!    chunk to SHA-256 as it passes: one pass over the data, no second read of the file.
//! 3. Read the client's `SHA256` line and compare. Equal: fsync, move into place, `OK`.
//!    Different: `ERR CHECKSUM`, and the partial file is deleted.
//!
//! A client that disconnects, stalls past `--idle-timeout`, or a disk that fills up, ends
//! that upload only: its partial file is deleted ([`common::files::store::PartFile`]) and the server
//! goes on with everyone else.
//!
//! The files: `service.rs` is the state all connections share, `v1.rs` and `tutorial.rs`
//! are the two exchanges, and `transfer.rs` the steps of one file that they share. This
//! file picks the exchange for each connection and runs the accept loop.

mod get;
pub mod resume;
mod service;
mod stream;
mod transfer;
pub mod tree;
mod tutorial;
mod v1;

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::output::Log;
use common::server::{self, Accepted, Background, Closed, Handler, Limits, Shutdown, Summary};

use crate::protocol::{ErrCode, Reply};
use crate::wire::Wire;
use crate::Exchange;
use common::files::store::{self, PartFile};
use common::progress::Progress;

pub use service::{Config, Service, Uploads, DEFAULT_KEEP_FREE, DEFAULT_MAX_SIZE};
pub use v1::hashing_time;

/// The default idle timeout: a sender silent this long, mid-file or between files, is
/// disconnected and its partial file deleted.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What [`serve`] returns: the connections and the uploads.
#[derive(Debug, Clone)]
pub struct ServeReport {
    pub connections: Summary,
    pub uploads: Uploads,
}

impl fmt::Display for ServeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.connections, self.uploads)
    }
}

impl Handler for Service {
    fn handle(&self, accepted: Accepted, limits: &Limits) -> Closed {
        let Accepted { stream, tag } = accepted;
        match self.config().exchange {
            Exchange::V1 => {
                let trace = self.config().trace.then(|| tag.to_string());
                let mut wire = Wire::new(stream, trace)
                    .with_message_timeout(limits.message_timeout, limits.idle_timeout);
                let reason = self.converse(&mut wire, &tag);
                Closed::new(reason, wire.bytes_in, wire.bytes_out)
            }
            Exchange::Tutorial => tutorial::serve_one(self, stream, &tag),
        }
    }

    fn busy_message(&self) -> Vec<u8> {
        match self.config().exchange {
            Exchange::V1 => Reply::Err(
                ErrCode::Busy,
                "the server is serving as many clients as it may (--max-connections); try again later"
                    .into(),
            )
            .to_line(),
            // The tutorial's exchange has no way to say it: the client sees the connection close.
            Exchange::Tutorial => Vec::new(),
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
) -> ServeReport {
    let log = Log::new(config.quiet);
    let service = Arc::new(Service::new(config, progress));
    let connections = server::serve(listener, limits, Arc::clone(&service), log, shutdown);
    ServeReport {
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
) -> io::Result<Background<ServeReport>> {
    let addr = listener.local_addr()?;
    let shutdown = Shutdown::new(&listener)?;
    Background::spawn(addr, shutdown, move |s| {
        serve(listener, config, limits, Progress::none(), s)
    })
}
