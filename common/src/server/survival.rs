//! Surviving resource exhaustion in `accept()`, for both models: the spare file
//! descriptor, the back-off, and one warning per episode.

use std::fs::File;
use std::io;
use std::time::Duration;

use super::stats::Stats;
use crate::output::Log;

/// First pause after `accept()` fails for lack of resources.
const BACKOFF_START: Duration = Duration::from_millis(5);
/// Longest pause between two failed `accept()`s.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// What the spare file descriptor is open on (`/dev/null`, or `NUL` on Windows).
const SPARE_FILE: &str = crate::os::NULL_DEVICE;

/// What to do after `accept()` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterError {
    /// Accept again now (one client gave up, or one was refused with the spare descriptor).
    Retry,
    /// No client could be handled: pause this long before accepting again.
    Pause(Duration),
}

/// Surviving resource exhaustion in `accept()`, for both models: the spare file descriptor,
/// the back-off, and one warning per episode.
#[derive(Debug)]
pub struct Survival {
    /// A spare file descriptor, given up when accept() fails with EMFILE so that the client
    /// waiting in the backlog can be accepted and told we are busy.
    spare_fd: Option<File>,
    /// Whether accept() is failing for lack of resources (logged once per episode).
    short_of_resources: bool,
    backoff: Duration,
}

impl Default for Survival {
    fn default() -> Self {
        Survival::new()
    }
}

impl Survival {
    pub fn new() -> Survival {
        Survival {
            spare_fd: File::open(SPARE_FILE).ok(),
            short_of_resources: false,
            backoff: BACKOFF_START,
        }
    }

    /// `accept()` worked: the episode, if any, is over.
    pub fn accepted(&mut self, log: &Log) {
        self.backoff = BACKOFF_START;
        if self.short_of_resources {
            self.short_of_resources = false;
            log.warn(format_args!("accepting connections again"));
        }
        if self.spare_fd.is_none() {
            self.spare_fd = File::open(SPARE_FILE).ok();
        }
    }

    /// `accept()` failed with `e`. When the process is out of descriptors, the spare one is
    /// given up while `refuse_one` accepts the waiting client and tells it we are busy
    /// (it returns whether it did).
    pub fn failed(
        &mut self,
        e: &io::Error,
        stats: &Stats,
        log: &Log,
        refuse_one: impl FnOnce() -> bool,
    ) -> AfterError {
        stats.accept_error();
        if is_transient_accept_error(e) {
            // The client gave up before we accepted it: nothing to do.
            return AfterError::Retry;
        }
        if !self.short_of_resources {
            self.short_of_resources = true;
            log.warn(format_args!(
                "accept failed: {}; {}",
                crate::net::describe(e),
                accept_error_advice(e)
            ));
        }
        // Out of descriptors: give up the spare one for a moment, accept the waiting
        // client, tell it we are busy, close it, and take the spare again. (Only then: for
        // any other error the next client is served once accept works.)
        let out_of_files = matches!(
            crate::os::shortage(e),
            Some(crate::os::Shortage::ProcessFiles | crate::os::Shortage::SystemFiles)
        );
        if out_of_files && self.spare_fd.take().is_some() {
            let refused = refuse_one();
            self.spare_fd = File::open(SPARE_FILE).ok();
            if refused {
                stats.refused_busy();
                return AfterError::Retry;
            }
        }
        // No client could be handled: wait before trying again, longer each time.
        AfterError::Pause(self.pause())
    }

    /// The next pause after a failure (5 ms, doubling up to 1 s).
    pub fn pause(&mut self) -> Duration {
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        pause
    }
}

/// Errors of one connection attempt, not of the server: the client reset or gave up
/// during the handshake, or a signal interrupted the call.
fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            // Winsock (under Wine) for a client that reset while it waited in the backlog.
            | io::ErrorKind::NotConnected
    )
}

fn accept_error_advice(e: &io::Error) -> &'static str {
    use crate::os::Shortage;
    match crate::os::shortage(e) {
        Some(Shortage::ProcessFiles) => {
            "this process is out of file descriptors: raise `ulimit -n` or lower --max-connections"
        }
        Some(Shortage::SystemFiles) => "the system is out of file descriptors (fs.file-max)",
        Some(Shortage::Memory) => "the system is short of memory",
        None => "will retry",
    }
}
