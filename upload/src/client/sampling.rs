//! `upload send --tcp-info`: what the kernel's TCP knew about the connection while a file
//! went out, read every `--tcp-info-interval` and once more when the server has said OK.
//! Each reading is printed as it is taken (a line on stderr), or kept for the file's JSON
//! object (`--json`).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::output;
use common::tcpinfo::{TcpInfo, NOT_AVAILABLE};
use serde::Serialize;

/// How often a transfer is sampled unless `--tcp-info-interval` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);

/// One reading: when, and what (or why nothing).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Seconds since the file's first byte was sent.
    pub t: f64,
    /// The reading taken after the server's OK.
    pub last: bool,
    #[serde(flatten)]
    pub info: Option<TcpInfo>,
    /// Why the system gave no reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The readings of one file.
#[derive(Debug)]
pub struct Sampler {
    every: Option<Duration>,
    /// Kept for JSON rather than printed.
    keep: bool,
    started: Instant,
    next: Instant,
    pub samples: Vec<Sample>,
}

impl Sampler {
    /// Samples every `every` (`None`: never), printing each reading unless `keep`.
    pub fn new(every: Option<Duration>, keep: bool) -> Sampler {
        let now = Instant::now();
        Sampler {
            every,
            keep,
            started: now,
            next: now,
            samples: Vec::new(),
        }
    }

    /// Starts the clock: the file's first byte goes now.
    pub fn start(&mut self) {
        self.started = Instant::now();
        self.next = self.started;
    }

    /// Called as bytes go out: a reading, if one is due.
    pub fn tick(&mut self, stream: &TcpStream) {
        let Some(every) = self.every else { return };
        let now = Instant::now();
        if now >= self.next {
            self.next = now + every;
            self.take(stream, false);
        }
    }

    /// The last reading, after the server's OK.
    pub fn finish(&mut self, stream: &TcpStream) {
        if self.every.is_some() {
            self.take(stream, true);
        }
    }

    fn take(&mut self, stream: &TcpStream, last: bool) {
        let t = self.started.elapsed().as_secs_f64();
        let (info, error) = match common::os::tcp_info(socket2::SockRef::from(stream)) {
            Ok(info) => (Some(info), None),
            Err(e) => (None, Some(e.to_string())),
        };
        if !self.keep {
            let what = match (&info, &error) {
                (Some(info), _) => info.to_string(),
                (None, e) => format!("{NOT_AVAILABLE} ({})", e.as_deref().unwrap_or_default()),
            };
            let when = if last {
                "at the end"
            } else {
                "during the file"
            };
            output::err_line(format_args!("upload: tcp-info +{t:.3} s ({when}): {what}"));
        }
        self.samples.push(Sample {
            t,
            last,
            info,
            error,
        });
    }
}
