//! # hold: many idle connections, then one round trip on each
//!
//! Opens `--connections` connections to a hello server and reads each greeting, then
//! measures the server's memory (VmRSS from `/proc/PID/status`) while they are all held
//! idle, then sends one message on every connection and checks every reply. Prints one
//! JSON object. Used by `bench/run.sh` to compare the memory of tcp-server's two models
//! with the std baseline and Python's asyncio, at 10,000 connections and at the most one
//! process may hold. The server's memory before the first connection is measured too, so
//! that the cost of one idle connection is `(idle - before) / held`.
//!
//! ```text
//! hold 127.0.0.1:9999 --connections 10000 --server-pid 1234
//! hold 127.0.0.1:9999 --connections 10000 --summary   # the server found by its port; one line for people
//! ```

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bench::{listener_pid, read_line, rss_kib, threads};
use clap::Parser;
use std::io::Write;

/// Time for the server's memory to settle after the last connection.
const SETTLE: Duration = Duration::from_secs(1);
/// Longest wait for a greeting or a reply.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Parser)]
struct Args {
    addr: SocketAddr,
    #[arg(long)]
    connections: usize,
    /// The server to measure (default: the process listening on the address's port).
    #[arg(long)]
    server_pid: Option<u32>,
    /// One line for people instead of JSON: the connections, and the server's threads and
    /// memory while they were idle.
    #[arg(long)]
    summary: bool,
    /// Keep the connections open this many seconds after measuring (to look at the server).
    #[arg(long, default_value_t = 0)]
    pause: u64,
}

#[derive(serde::Serialize)]
struct Report {
    connections: usize,
    held: usize,
    answered: usize,
    errors: Vec<String>,
    server_threads: u64,
    server_rss_kib_before: u64,
    server_rss_kib_idle: u64,
    /// What one idle connection costs the server: (idle - before) / held, in bytes.
    server_bytes_per_idle_connection: u64,
    server_rss_kib_after_round_trips: u64,
    server_peak_rss_kib: u64,
    seconds_to_connect: f64,
}

fn main() {
    let args = Args::parse();
    // Where the server cannot be found (no /proc: macOS, Windows), the connections are
    // still held and answered; only the server's figures are missing, and said so.
    let server_pid = args.server_pid.or_else(|| listener_pid(args.addr.port()));
    let measure = |pid: Option<u32>| pid.and_then(|p| rss_kib(p).ok());
    // One descriptor per connection: lift the soft limit to the hard one.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let before = measure(server_pid);
    let started = Instant::now();
    let mut held = Vec::with_capacity(args.connections);
    let mut errors = Vec::new();
    for _ in 0..args.connections {
        let attempt = TcpStream::connect(args.addr).and_then(|mut s| {
            s.set_read_timeout(Some(READ_TIMEOUT))?;
            match read_line(&mut s)? {
                Some(l) if l == b"Hello!" => Ok(s),
                other => Err(std::io::Error::other(format!("greeting: {other:?}"))),
            }
        });
        match attempt {
            Ok(s) => held.push(s),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let seconds_to_connect = started.elapsed().as_secs_f64();
    std::thread::sleep(SETTLE);
    let idle_measured = measure(server_pid);
    let server_threads = server_pid.map_or(0, threads);
    let mut answered = 0;
    for s in &mut held {
        let ok = s.write_all(b"ping\n").and_then(|()| read_line(s));
        match ok {
            Ok(Some(l)) if l == b"hello,ping" => answered += 1,
            Ok(other) => errors.push(format!("reply: {other:?}")),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let (after, peak) = measure(server_pid).unwrap_or((0, 0));
    let (before, idle) = (before.map_or(0, |b| b.0), idle_measured.map_or(0, |i| i.0));
    errors.truncate(10);
    let report = Report {
        connections: args.connections,
        held: held.len(),
        answered,
        errors,
        server_threads,
        server_rss_kib_before: before,
        server_rss_kib_idle: idle,
        server_bytes_per_idle_connection: (idle.saturating_sub(before) * 1024)
            .checked_div(held.len() as u64)
            .unwrap_or(0),
        server_rss_kib_after_round_trips: after,
        server_peak_rss_kib: peak,
        seconds_to_connect,
    };
    if args.summary && idle_measured.is_none() {
        println!(
            "{} of {} connections held and answered; the server's threads and memory: not \
             measured (no /proc/PID/status here: on macOS `ps -M -p PID` lists the threads and \
             `ps -o rss= -p PID` gives the memory; on Windows, Task Manager's Details tab, \
             while --pause holds the connections){}",
            report.answered,
            report.connections,
            errors_text(&report.errors)
        );
    } else if args.summary {
        println!(
            "{} of {} connections held and answered; the server, while they were idle: \
             {} thread{}, RSS {:.1} MiB ({} bytes per idle connection){}",
            report.answered,
            report.connections,
            report.server_threads,
            if report.server_threads == 1 { "" } else { "s" },
            report.server_rss_kib_idle as f64 / 1024.0,
            report.server_bytes_per_idle_connection,
            errors_text(&report.errors)
        );
    } else {
        println!("{}", serde_json::to_string(&report).unwrap_or_default());
    }
    std::thread::sleep(Duration::from_secs(args.pause));
}

/// The errors, if any, for the summary line.
fn errors_text(errors: &[String]) -> String {
    if errors.is_empty() {
        String::new()
    } else {
        format!("; errors: {}", errors.join("; "))
    }
}
