//! # flood: far more connection attempts than the server will take
//!
//! Makes `--attempts` connections from `--threads` threads, keeps every one that is
//! greeted, and counts how the others ended: refused with the busy message, refused in
//! silence, or failed to connect. Then it checks that the server process is alive and
//! that every held connection still gets its reply. Prints one JSON object.
//!
//! ```text
//! flood 127.0.0.1:9999 --attempts 20000 --server-pid 1234
//! ```

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bench::{alive, read_line, threads};
use clap::Parser;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The flood stops after this long, however many attempts remain.
const TIME_LIMIT: Duration = Duration::from_secs(120);

#[derive(Parser)]
struct Args {
    addr: SocketAddr,
    #[arg(long, default_value_t = 20_000)]
    attempts: usize,
    #[arg(long, default_value_t = 8)]
    threads: usize,
    #[arg(long)]
    server_pid: u32,
}

#[derive(Default, serde::Serialize)]
struct Report {
    attempts: usize,
    greeted: usize,
    refused_busy_message: usize,
    closed_silently: usize,
    connect_failed: usize,
    other_errors: usize,
    seconds: f64,
    server_alive_after: bool,
    server_threads_at_peak: u64,
    held_answered_after: usize,
    error_examples: Vec<String>,
}

fn main() {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let next = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::new()));
    let report = Arc::new(Mutex::new(Report {
        attempts: args.attempts,
        ..Report::default()
    }));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.threads)
        .map(|_| {
            let (next, held, report) = (Arc::clone(&next), Arc::clone(&held), Arc::clone(&report));
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < args.attempts
                    && started.elapsed() < TIME_LIMIT
                {
                    let outcome = attempt(args.addr);
                    let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
                    match outcome {
                        Reception::Greeted(s) => {
                            r.greeted += 1;
                            held.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                        }
                        Reception::Busy => r.refused_busy_message += 1,
                        Reception::Silent => r.closed_silently += 1,
                        Reception::ConnectFailed(e) => {
                            r.connect_failed += 1;
                            if r.error_examples.len() < 5 {
                                r.error_examples.push(e);
                            }
                        }
                        Reception::Other(e) => {
                            r.other_errors += 1;
                            if r.error_examples.len() < 5 {
                                r.error_examples.push(e);
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let mut r = report.lock().unwrap_or_else(|p| p.into_inner());
    r.seconds = started.elapsed().as_secs_f64();
    r.server_threads_at_peak = threads(args.server_pid);
    r.server_alive_after = alive(args.server_pid);
    let mut held = held.lock().unwrap_or_else(|p| p.into_inner());
    for s in held.iter_mut() {
        if s.write_all(b"ping\n").is_ok()
            && matches!(read_line(s), Ok(Some(l)) if l == b"hello,ping")
        {
            r.held_answered_after += 1;
        }
    }
    println!("{}", serde_json::to_string(&*r).unwrap_or_default());
}

enum Reception {
    Greeted(TcpStream),
    Busy,
    Silent,
    ConnectFailed(String),
    Other(String),
}

fn attempt(addr: SocketAddr) -> Reception {
    let mut s = match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(e) => return Reception::ConnectFailed(e.to_string()),
    };
    let _ = s.set_read_timeout(Some(READ_TIMEOUT));
    match read_line(&mut s) {
        Ok(Some(l)) if l == b"Hello!" => Reception::Greeted(s),
        Ok(Some(l)) if l == b"error: server busy" => Reception::Busy,
        Ok(None) => Reception::Silent,
        Ok(Some(l)) => {
            Reception::Other(format!("unexpected line {:?}", String::from_utf8_lossy(&l)))
        }
        Err(e) => Reception::Other(e.to_string()),
    }
}
