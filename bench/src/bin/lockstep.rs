//! # lockstep: the same round-trip load against any request/reply server
//!
//! `tcp-client`'s load mode speaks the hello protocol (a `Hello!` line, then
//! `hello,<message>` lines). The baselines do not all speak it: the tutorial's `tcp.py`
//! greets `Hello!` with no line end and replies `hello,b'...'`; `socat ... PIPE` greets
//! nothing and echoes. So `bench/run.sh` measures all four TCP servers with this one
//! client, which only needs to know how many bytes to expect:
//!
//! 1. connect `--connections` sockets one after the other and read `--greeting-bytes`
//!    from each, outside the clock (all at once, a server with the tutorial's `listen(5)`
//!    drops SYNs past its backlog, and socat, which accepts about ten connections a
//!    second, leaves the rest waiting past any timeout);
//! 2. start one thread per connection and release them all at once;
//! 3. each does `--count` lock-step round trips: write the message, read exactly
//!    `--reply-bytes` (check the message is in it), repeat.
//!
//! With `--driver poll`, step 2 and 3 run on one thread instead: non-blocking sockets and
//! readiness events (mio), every connection doing its round trips at once. A thousand
//! client threads cost the machine as much as a thousand server threads, and on two cores
//! the load tool would measure itself; one client thread leaves the other core to the
//! server, whatever its model. `bench/run.sh` uses it for its many-connection runs.
//!
//! Prints one JSON object: round trips per second over all connections, latency
//! percentiles (HDR histogram), errors.
//!
//! ```text
//! lockstep 127.0.0.1:9999 --connections 100 --count 1000 --greeting-bytes 7 --reply-bytes 22
//! lockstep 127.0.0.1:9999 --connections 1000 --count 100 --greeting-bytes 7 --reply-bytes 22 --driver poll
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;

/// Each load thread holds two small buffers.
const WORKER_STACK_SIZE: usize = 64 * 1024;
/// Longest wait for a connection, a greeting or a reply: a stuck server fails the run
/// instead of hanging the benchmark.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Latency in nanoseconds, to 3 significant digits.
const HISTOGRAM_DIGITS: u8 = 3;
/// The byte the message is made of.
const PAYLOAD_BYTE: u8 = b'x';
/// How many error messages the report keeps.
const ERROR_EXAMPLES: usize = 5;

#[derive(Parser)]
struct Args {
    addr: SocketAddr,
    /// Connections at once, one thread each.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Round trips per connection.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// Bytes in each message, the line end included.
    #[arg(long, default_value_t = 16)]
    payload: usize,
    /// End each message with the last byte as `x` too, not `\n` (for the tutorial's raw
    /// protocol, where a line end would be echoed back as `\n` in its `b'...'`).
    #[arg(long)]
    no_newline: bool,
    /// Bytes the server sends on connect, before any request.
    #[arg(long, default_value_t = 0)]
    greeting_bytes: usize,
    /// Bytes of each reply.
    #[arg(long)]
    reply_bytes: usize,
    /// How the client waits: `threads`, a blocking thread per connection, or `poll`, one
    /// thread for all of them with readiness events.
    #[arg(long, value_enum, default_value_t = Driver::Threads)]
    driver: Driver,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Driver {
    Threads,
    Poll,
}

#[derive(serde::Serialize)]
struct Report {
    connections: usize,
    connected: usize,
    count_per_connection: u64,
    round_trips: u64,
    seconds: f64,
    round_trips_per_sec: f64,
    latency_p50_us: f64,
    latency_p99_us: f64,
    errors: usize,
    error_examples: Vec<String>,
}

struct ClientRun {
    round_trips: u64,
    latency: Histogram<u64>,
    error: Option<String>,
}

fn histogram() -> Histogram<u64> {
    // Only more than 5 significant digits can fail.
    #[allow(clippy::expect_used)]
    Histogram::new(HISTOGRAM_DIGITS).expect("3 significant digits is within 0..=5")
}

fn connect(args: &Args) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect_timeout(&args.addr, TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    let mut greeting = vec![0u8; args.greeting_bytes];
    s.read_exact(&mut greeting)?;
    Ok(s)
}

fn worker(mut s: TcpStream, message: &[u8], reply_bytes: usize, count: u64) -> ClientRun {
    let mut out = ClientRun {
        round_trips: 0,
        latency: histogram(),
        error: None,
    };
    let mut reply = vec![0u8; reply_bytes];
    // The part of the message every server sends back (python wraps it, socat echoes it).
    let body = &message[..message.len().saturating_sub(1)];
    for _ in 0..count {
        let t = Instant::now();
        if let Err(e) = s.write_all(message).and_then(|()| s.read_exact(&mut reply)) {
            out.error = Some(format!("round trip {}: {e}", out.round_trips + 1));
            return out;
        }
        if !reply.windows(body.len().max(1)).any(|w| w == body) {
            out.error = Some(format!(
                "unexpected reply {:?}",
                String::from_utf8_lossy(&reply)
            ));
            return out;
        }
        let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let _ = out.latency.record(ns.max(1));
        out.round_trips += 1;
    }
    out
}

fn main() {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let mut message = vec![PAYLOAD_BYTE; args.payload.max(1)];
    if !args.no_newline {
        if let Some(last) = message.last_mut() {
            *last = b'\n';
        }
    }
    let message = Arc::new(message);

    let mut errors = Vec::new();
    let mut streams = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        match connect(&args) {
            Ok(s) => streams.push(s),
            Err(e) => errors.push(format!("connection {}: {e}", i + 1)),
        }
    }
    let connected = streams.len();
    let (started, round_trips, latency) = match args.driver {
        Driver::Threads => run_threads(streams, &message, &args, &mut errors),
        Driver::Poll => run_poll(streams, &message, &args, &mut errors),
    };
    let seconds = started.elapsed().as_secs_f64();
    let us = |q: f64| {
        if latency.is_empty() {
            0.0
        } else {
            latency.value_at_quantile(q) as f64 / 1000.0
        }
    };
    let report = Report {
        connections: args.connections,
        connected,
        count_per_connection: args.count,
        round_trips,
        seconds,
        round_trips_per_sec: if seconds > 0.0 {
            round_trips as f64 / seconds
        } else {
            0.0
        },
        latency_p50_us: us(0.50),
        latency_p99_us: us(0.99),
        errors: errors.len(),
        error_examples: errors.into_iter().take(ERROR_EXAMPLES).collect(),
    };
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
    if report.errors > 0 {
        std::process::exit(1);
    }
}

/// The round trips as one blocking thread per connection, released together.
fn run_threads(
    streams: Vec<TcpStream>,
    message: &Arc<Vec<u8>>,
    args: &Args,
    errors: &mut Vec<String>,
) -> (Instant, u64, Histogram<u64>) {
    let start_line = Arc::new(Barrier::new(streams.len() + 1));
    let mut workers = Vec::with_capacity(streams.len());
    for s in streams {
        let (barrier, message) = (Arc::clone(&start_line), Arc::clone(message));
        let (reply_bytes, count) = (args.reply_bytes, args.count);
        let spawned = thread::Builder::new()
            .stack_size(WORKER_STACK_SIZE)
            .spawn(move || {
                barrier.wait();
                worker(s, &message, reply_bytes, count)
            });
        match spawned {
            Ok(h) => workers.push(h),
            Err(e) => {
                errors.push(format!("could not start a load thread: {e}"));
                // Stand in for it at the start line.
                let barrier = Arc::clone(&start_line);
                thread::spawn(move || barrier.wait());
            }
        }
    }
    start_line.wait();
    let started = Instant::now();
    let mut latency = histogram();
    let mut round_trips = 0;
    for h in workers {
        match h.join() {
            Ok(o) => {
                round_trips += o.round_trips;
                let _ = latency.add(&o.latency);
                errors.extend(o.error);
            }
            Err(_) => errors.push("a load thread panicked".into()),
        }
    }
    (started, round_trips, latency)
}

/// One connection of the poll driver: where it is in its round trips.
struct Conn {
    stream: mio::net::TcpStream,
    done: u64,
    /// Bytes of the message written so far, then of the reply read so far.
    written: usize,
    got: Vec<u8>,
    sent_at: Instant,
}

/// The round trips from one thread: every connection writes its message, and the loop
/// reads each reply as its socket becomes readable, then writes the next message.
fn run_poll(
    streams: Vec<TcpStream>,
    message: &Arc<Vec<u8>>,
    args: &Args,
    errors: &mut Vec<String>,
) -> (Instant, u64, Histogram<u64>) {
    use mio::{Events, Interest, Poll, Token};
    let mut latency = histogram();
    let mut round_trips = 0;
    let started = Instant::now();
    let Ok(mut poll) = Poll::new() else {
        errors.push("could not create the event loop".into());
        return (started, 0, latency);
    };
    let mut conns: Vec<Option<Conn>> = Vec::with_capacity(streams.len());
    for (i, s) in streams.into_iter().enumerate() {
        let registered = s.set_nonblocking(true).and_then(|()| {
            let mut stream = mio::net::TcpStream::from_std(s);
            poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match registered {
            Ok(stream) => conns.push(Some(Conn {
                stream,
                done: 0,
                written: 0,
                got: Vec::with_capacity(args.reply_bytes),
                sent_at: Instant::now(),
            })),
            Err(e) => {
                errors.push(format!("connection {}: {e}", i + 1));
                conns.push(None);
            }
        }
    }
    let started = Instant::now();
    let mut open = conns.iter().filter(|c| c.is_some()).count();
    // Everyone writes its first message.
    for (i, slot) in conns.iter_mut().enumerate() {
        if let Some(c) = slot {
            c.sent_at = Instant::now();
            if let Err(e) = step(c, message, args, &mut latency, &mut round_trips) {
                errors.push(format!("connection {}: {e}", i + 1));
                *slot = None;
                open -= 1;
            }
        }
    }
    let mut events = Events::with_capacity(1024);
    let mut last_progress = Instant::now();
    while open > 0 {
        if poll.poll(&mut events, Some(TIMEOUT)).is_err() || events.is_empty() {
            if last_progress.elapsed() >= TIMEOUT {
                errors.push(format!("{open} connections got no reply in {TIMEOUT:?}"));
                break;
            }
            continue;
        }
        last_progress = Instant::now();
        for event in events.iter() {
            let i = event.token().0;
            let Some(slot) = conns.get_mut(i) else {
                continue;
            };
            let Some(c) = slot else { continue };
            match step(c, message, args, &mut latency, &mut round_trips) {
                Ok(true) => {
                    *slot = None;
                    open -= 1;
                }
                Ok(false) => {}
                Err(e) => {
                    errors.push(format!(
                        "connection {}, round trip {}: {e}",
                        i + 1,
                        c.done + 1
                    ));
                    *slot = None;
                    open -= 1;
                }
            }
        }
    }
    (started, round_trips, latency)
}

/// Moves one connection on as far as its socket allows: finish writing the message, read
/// the reply, and on a whole reply start the next round trip. `Ok(true)`: all done.
fn step(
    c: &mut Conn,
    message: &[u8],
    args: &Args,
    latency: &mut Histogram<u64>,
    round_trips: &mut u64,
) -> std::io::Result<bool> {
    let body = &message[..message.len().saturating_sub(1)];
    let mut buf = [0u8; 4096];
    loop {
        if c.done == args.count {
            return Ok(true);
        }
        if c.written < message.len() {
            match c.stream.write(&message[c.written..]) {
                Ok(n) => c.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
            continue;
        }
        let want = (args.reply_bytes - c.got.len()).min(buf.len());
        match c.stream.read(&mut buf[..want]) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => c.got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
        if c.got.len() < args.reply_bytes {
            continue;
        }
        if !c.got.windows(body.len().max(1)).any(|w| w == body) {
            return Err(std::io::Error::other(format!(
                "unexpected reply {:?}",
                String::from_utf8_lossy(&c.got)
            )));
        }
        let ns = u64::try_from(c.sent_at.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let _ = latency.record(ns.max(1));
        *round_trips += 1;
        c.done += 1;
        c.got.clear();
        c.written = 0;
        c.sent_at = Instant::now();
    }
}
