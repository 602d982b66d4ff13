//! # Load mode: how fast is a server, really?
//!
//! `tcp-client --connections N --count M` opens N connections at once, each on its own
//! thread, waits until all are connected, then has each do M *lock-step* round trips
//! (send a message, wait for its reply, repeat). It reports:
//!
//! - how long connecting took (the TCP handshake plus the server's `accept`),
//! - round trips per second over all connections,
//! - the latency of one round trip: median (p50), p90, p99 and the worst,
//! - clients the server turned away (`error: server busy`), apart from errors, with the
//!   limit that probably turned them away and the flag that lifts it;
//! - every error (connections that failed, timeouts, wrong replies).
//!
//! Latency is recorded in an HDR histogram (one per thread, merged at the end), so the
//! percentiles are exact to 3 significant digits at any count, with no list of samples.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

use common::server::{DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PER_PEER};

use crate::{Client, ClientError, Options, EXIT_MESSAGE};

/// Stack of a load thread: it holds a few small buffers, no more.
const WORKER_STACK_SIZE: usize = 256 * 1024;
/// Latency is recorded in nanoseconds, to 3 significant digits.
const HISTOGRAM_DIGITS: u8 = 3;
/// How many error messages the report keeps as examples.
const ERROR_EXAMPLES: usize = 5;
/// The byte the payload is made of (printable, and never a line end).
const PAYLOAD_BYTE: u8 = b'x';

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    pub connections: usize,
    /// Round trips per connection.
    pub count: u64,
    /// Bytes in each message.
    pub payload: usize,
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Percentiles {
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Percentiles {
        let us = |ns: u64| ns as f64 / 1000.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            max_us: us(h.max()),
        }
    }
}

/// What a load run measured. `--json` prints exactly this.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub server: String,
    pub connections: usize,
    pub connected: usize,
    pub count_per_connection: u64,
    pub payload_bytes: usize,
    pub round_trips: u64,
    /// Clients the server refused in place of a greeting (`error: server busy`).
    pub refused_busy: u64,
    /// What it said to them (the first one's words).
    pub refusal: Option<String>,
    /// Which limit that probably was, and which flag lifts it.
    pub refusal_hint: Option<String>,
    pub errors: u64,
    pub error_examples: Vec<String>,
    pub seconds: f64,
    pub round_trips_per_sec: f64,
    pub connect: Percentiles,
    pub latency: Percentiles,
}

impl LoadReport {
    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "load: {} connections x {} round trips of {} bytes against {}\n\
             connected:   {} of {} (connect p50 {:.3} ms, max {:.3} ms)\n\
             round trips: {} in {:.3} s = {:.0}/s\n\
             latency:     p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, max {:.1} us\n\
             refused:     {}{}\n\
             errors:      {}",
            self.connections,
            self.count_per_connection,
            self.payload_bytes,
            self.server,
            self.connected,
            self.connections,
            self.connect.p50_us / 1000.0,
            self.connect.max_us / 1000.0,
            self.round_trips,
            self.seconds,
            self.round_trips_per_sec,
            self.latency.p50_us,
            self.latency.p90_us,
            self.latency.p99_us,
            self.latency.max_us,
            self.refused_busy,
            match (&self.refusal, &self.refusal_hint) {
                (Some(words), Some(hint)) =>
                    format!(" by the server, which said \"{words}\": {hint}"),
                _ => String::new(),
            },
            self.errors,
        );
        for e in &self.error_examples {
            s.push_str("\n  e.g. ");
            s.push_str(e);
        }
        s
    }

    /// Whether every client was served and every round trip came back.
    pub fn all_served(&self) -> bool {
        self.errors == 0 && self.refused_busy == 0
    }
}

/// Which limit probably turned clients away, and the flag that lifts it, from how many
/// the server served at once before it refused the rest.
pub fn likely_limit(served: usize) -> String {
    if served == DEFAULT_MAX_PER_PEER {
        format!(
            "{served} were served at once, which is tcp-server's default --max-per-peer (the most \
             from one address); start it with --max-per-peer N to raise that, or 0 for no limit \
             (this machine's own clients are exempt unless it runs with --limit-loopback)"
        )
    } else if served >= DEFAULT_MAX_CONNECTIONS {
        format!(
            "{served} were served at once: tcp-server's --max-connections \
             ({DEFAULT_MAX_CONNECTIONS} by default); start it with --max-connections N to \
             raise it"
        )
    } else {
        format!(
            "{served} were served at once: the server's limit of clients at once (tcp-server: \
             --max-per-peer for one address, --max-connections in all)"
        )
    }
}

/// What one worker thread brings back.
struct WorkerResult {
    connect_ns: Option<u64>,
    latency: Histogram<u64>,
    round_trips: u64,
    /// The server's words, when it refused this client.
    refused: Option<String>,
    errors: Vec<String>,
}

fn histogram() -> Histogram<u64> {
    // An auto-resizing histogram; it can only fail for more than 5 significant digits.
    #[allow(clippy::expect_used)]
    Histogram::new(HISTOGRAM_DIGITS).expect("3 significant digits is within hdrhistogram's 0..=5")
}

/// Runs the load and returns the report. Never fails as a whole: failures are counted.
pub fn run(opts: &Options, load: LoadOptions) -> Result<LoadReport, ClientError> {
    let payload = vec![PAYLOAD_BYTE; load.payload];
    crate::validate(std::slice::from_ref(&payload), opts.framing)?;
    // Every worker, connected or not, and this thread meet here before the clock starts.
    let start_line = Arc::new(Barrier::new(load.connections + 1));
    let payload = Arc::new(payload);
    let quiet = Options {
        quiet: true,
        ..opts.clone()
    };
    let mut workers = Vec::with_capacity(load.connections);
    let mut spawn_errors = Vec::new();
    for i in 0..load.connections {
        let (opts, barrier, payload) =
            (quiet.clone(), Arc::clone(&start_line), Arc::clone(&payload));
        let spawned = thread::Builder::new()
            .name(format!("load-{i}"))
            .stack_size(WORKER_STACK_SIZE)
            .spawn(move || worker(&opts, &barrier, &payload, load.count));
        match spawned {
            Ok(handle) => workers.push(handle),
            Err(e) => {
                // Stand in for the missing worker at the barrier.
                spawn_errors.push(format!("could not start load thread {i}: {e}"));
                let barrier = Arc::clone(&start_line);
                thread::spawn(move || {
                    barrier.wait();
                });
            }
        }
    }
    start_line.wait();
    let started = Instant::now();
    let results: Vec<WorkerResult> = workers
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| WorkerResult {
                connect_ns: None,
                latency: histogram(),
                round_trips: 0,
                refused: None,
                errors: vec!["a load thread panicked".into()],
            })
        })
        .collect();
    let seconds = started.elapsed().as_secs_f64();

    let mut latency = histogram();
    let mut connect = histogram();
    let mut errors: Vec<String> = spawn_errors;
    let mut round_trips = 0;
    let mut connected = 0;
    let (mut refused_busy, mut refusal) = (0, None);
    for r in results {
        if let Some(words) = r.refused {
            refused_busy += 1;
            refusal.get_or_insert(words);
        }
        let _ = latency.add(&r.latency);
        if let Some(ns) = r.connect_ns {
            connected += 1;
            let _ = connect.record(ns.max(1));
        }
        round_trips += r.round_trips;
        errors.extend(r.errors);
    }
    Ok(LoadReport {
        server: opts.addr.to_string(),
        connections: load.connections,
        connected,
        count_per_connection: load.count,
        payload_bytes: load.payload,
        round_trips,
        refused_busy,
        refusal_hint: refusal.is_some().then(|| likely_limit(connected)),
        refusal,
        errors: errors.len() as u64,
        error_examples: errors.into_iter().take(ERROR_EXAMPLES).collect(),
        seconds,
        round_trips_per_sec: if seconds > 0.0 {
            round_trips as f64 / seconds
        } else {
            0.0
        },
        connect: Percentiles::of(&connect),
        latency: Percentiles::of(&latency),
    })
}

/// One connection: connect, read the greeting, wait for the others, then round trips.
fn worker(opts: &Options, start_line: &Barrier, payload: &[u8], count: u64) -> WorkerResult {
    let mut result = WorkerResult {
        connect_ns: None,
        latency: histogram(),
        round_trips: 0,
        refused: None,
        errors: Vec::new(),
    };
    let t = Instant::now();
    let connected = Client::connect(opts).and_then(|mut c| {
        c.greeting()?;
        Ok(c)
    });
    let elapsed_ns = |t: Instant| {
        u64::try_from(t.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    };
    let mut client = match connected {
        Ok(c) => {
            result.connect_ns = Some(elapsed_ns(t));
            c
        }
        Err(ClientError::Refused { words, .. }) => {
            result.refused = Some(words);
            start_line.wait();
            return result;
        }
        Err(e) => {
            result.errors.push(e.to_string());
            start_line.wait();
            return result;
        }
    };
    start_line.wait();
    for _ in 0..count {
        let t = Instant::now();
        let reply = client.send(payload).and_then(|()| client.recv("reply"));
        match reply {
            Ok(Some(r)) if r.ends_with(payload) => {
                let _ = result.latency.record(elapsed_ns(t));
                result.round_trips += 1;
            }
            Ok(Some(r)) => {
                result.errors.push(format!(
                    "{}: unexpected reply \"{}\"",
                    client.peer,
                    common::output::preview(&r, 40)
                ));
                return result;
            }
            Ok(None) => {
                result
                    .errors
                    .push(format!("{}: the server closed the connection", client.peer));
                return result;
            }
            Err(e) => {
                result.errors.push(e.to_string());
                return result;
            }
        }
    }
    // Say goodbye as the protocol asks; the server closes.
    let _ = client.send(EXIT_MESSAGE);
    result
}
