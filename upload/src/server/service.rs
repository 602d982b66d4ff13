//! # The upload service's state: its settings, the names in flight, the counts
//!
//! One [`Service`] is shared by every connection's thread. It holds what is the same for
//! all of them ([`Config`]), the names being uploaded right now (so that two clients never
//! write the same name at once), and the counts the summary prints. The conversations
//! themselves are in [`super::v1`] and [`super::tutorial`].

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::output::{human_bytes, Log};

use crate::Exchange;
use common::progress::Progress;

/// The default largest upload.
pub const DEFAULT_MAX_SIZE: u64 = 4 << 30;
/// The default free space the server keeps on its disk, whatever the uploads.
pub const DEFAULT_KEEP_FREE: u64 = 64 << 20;

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
    /// Upload v1, or the tutorial's exchange.
    pub exchange: Exchange,
    /// No line per connection and upload.
    pub quiet: bool,
    /// Dump control lines (not file data) as hex and text.
    pub trace: bool,
    /// Keep the partial file of a `RESUME`d upload that breaks off, for this long
    /// (`--keep-partial`); `None`: keep none, and offer no resume.
    pub keep_partial: Option<Duration>,
}

impl Config {
    pub fn new(dir: impl Into<PathBuf>) -> Config {
        Config {
            dir: dir.into(),
            overwrite: false,
            max_size: DEFAULT_MAX_SIZE,
            keep_free: DEFAULT_KEEP_FREE,
            exchange: Exchange::V1,
            quiet: false,
            trace: false,
            keep_partial: Some(super::resume::DEFAULT_KEEP_PARTIAL),
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

/// The upload service, as a [`Handler`](common::server::Handler) for the shared accept loop.
#[derive(Debug)]
pub struct Service {
    config: Config,
    log: Log,
    progress: Progress,
    /// Names being uploaded right now: a second upload of the same name waits its turn
    /// (`ERR BUSY`) instead of racing the first.
    in_progress: Mutex<HashSet<String>>,
    counters: Counters,
    /// When the kept parts were last swept (see [`Service::sweep_due`]).
    last_sweep: Mutex<Option<Instant>>,
}

/// The kept parts are looked over at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A name held in [`Service::in_progress`] until dropped.
pub(super) struct Reservation<'a> {
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
            last_sweep: Mutex::new(None),
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

    pub(super) fn log(&self) -> &Log {
        &self.log
    }

    pub(super) fn progress(&self) -> &Progress {
        &self.progress
    }

    pub(super) fn count_stored(&self, bytes: u64) {
        self.counters.stored.fetch_add(1, Ordering::Relaxed);
        self.counters
            .stored_bytes
            .fetch_add(bytes, Ordering::Relaxed);
    }

    pub(super) fn count_refused(&self) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn count_failed(&self) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether it is time to sweep the kept parts again (and now it is marked as done).
    pub(super) fn sweep_due(&self) -> bool {
        let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    pub(super) fn reserve(&self, name: &str) -> Option<Reservation<'_>> {
        let mut names = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        names.insert(name.to_string()).then(|| Reservation {
            names: &self.in_progress,
            name: name.to_string(),
        })
    }

    /// `ERR NO_SPACE` text if `size` more bytes would leave less than `--keep-free`.
    pub(super) fn short_of_space(&self, size: u64) -> Option<String> {
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
}
