//! `upload send --tcp-info`: what the kernel's TCP knew about the connection while a file
//! went out, read every `--tcp-info-interval` and once more when the server has said OK.
//! Each reading is printed as it is taken (a line on stderr), or kept for the file's JSON
//! object (`--json`).
//!
//! The readings come from a thread of their own, on a second handle of the same socket:
//! the sending thread spends most of its time blocked in a write while the kernel's send
//! buffer drains, so readings taken between its writes would come late and irregular.

use std::net::TcpStream;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::output;
use common::tcpinfo::{TcpInfo, NOT_AVAILABLE};
use serde::Serialize;

/// The most readings kept for one file's JSON.
pub const MAX_SAMPLES: usize = 100_000;

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
    samples: Arc<Mutex<Vec<Sample>>>,
    running: Option<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Sampler {
    /// Samples every `every` (`None`: never), printing each reading unless `keep`.
    pub fn new(every: Option<Duration>, keep: bool) -> Sampler {
        Sampler {
            every,
            keep,
            started: Instant::now(),
            samples: Arc::default(),
            running: None,
        }
    }

    /// The file's first byte goes now: readings start, on their own thread. Without a
    /// second handle on the socket (or a thread), only the last reading is taken.
    pub fn start(&mut self, stream: &TcpStream) {
        self.started = Instant::now();
        let Some(every) = self.every else { return };
        let Ok(handle) = stream.try_clone() else {
            return;
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let (samples, keep, started) = (Arc::clone(&self.samples), self.keep, self.started);
        let thread = thread::Builder::new()
            .name("tcp-info".into())
            .spawn(move || loop {
                take(&handle, started, keep, false, &samples);
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            });
        if let Ok(thread) = thread {
            self.running = Some((stop, thread));
        }
    }

    /// The last reading, after the server's OK; returns all of them.
    pub fn finish(&mut self, stream: &TcpStream) -> Vec<Sample> {
        self.stop();
        if self.every.is_some() {
            take(stream, self.started, self.keep, true, &self.samples);
        }
        self.samples
            .lock()
            .map(|mut s| std::mem::take(&mut *s))
            .unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

impl Drop for Sampler {
    /// A file that failed: the readings stop with it.
    fn drop(&mut self) {
        self.stop();
    }
}

/// Takes one reading, prints it unless `keep`, and adds it to `samples`.
fn take(
    stream: &TcpStream,
    started: Instant,
    keep: bool,
    last: bool,
    samples: &Mutex<Vec<Sample>>,
) {
    let t = started.elapsed().as_secs_f64();
    let (info, error) = match common::os::tcp_info(socket2::SockRef::from(stream)) {
        Ok(info) => (Some(info), None),
        Err(e) => (None, Some(e.to_string())),
    };
    if !keep {
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
    // Kept for the JSON only, and not without bound (a reading a millisecond for hours);
    // the last one always.
    if keep {
        if let Ok(mut s) = samples.lock() {
            if s.len() < MAX_SAMPLES || last {
                s.push(Sample {
                    t,
                    last,
                    info,
                    error,
                });
            }
        }
    }
}
