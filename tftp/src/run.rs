//! # The programs, start to end: `tftp serve`, `tftp get` and `tftp put`
//!
//! `main.rs` parses the command line and calls one of these; each returns the exit status.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use common::addr::Endpoint;
use common::output::{self, human_bytes, Log};
use common::server::shutdown::{Background, Shutdown};
use common::udp::{self, UdpOptions};
use common::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

use crate::client::{self, ClientError, Report};
use crate::options::Wanted;
use crate::packet::Mode;
use crate::server::{self, Config, Summary};
use crate::transfer::{Failure, Timing};

fn exit(code: i32) -> ExitCode {
    ExitCode::from(code as u8)
}

/// Serves on a thread of this process (tests): stop it with [`Background::stop`], which
/// returns the summary.
pub fn spawn(socket: UdpSocket, config: Config) -> std::io::Result<Background<Summary>> {
    let addr = socket.local_addr()?;
    let shutdown = Shutdown::for_udp(&socket)?;
    Background::spawn(addr, shutdown, move |s| server::serve(socket, config, s))
}

/// The whole `tftp serve` program: check the folder, bind, serve until Ctrl-C, print a
/// summary.
pub fn serve_main(addr: &Endpoint, config: Config) -> ExitCode {
    let log = Log::new(config.quiet);
    match std::fs::metadata(&config.dir) {
        Ok(m) if m.is_dir() => {}
        _ => {
            output::err_line(format_args!(
                "tftp serve: {} is not a folder: give the folder to serve with --dir",
                config.dir.display()
            ));
            return exit(EXIT_USAGE);
        }
    }
    let socket = match udp::bind(addr, &UdpOptions::default()) {
        Ok(s) => s,
        Err(e) => {
            output::err_line(format_args!("tftp serve: {e}"));
            return exit(EXIT_FAILURE);
        }
    };
    let local = socket
        .local_addr()
        .map_or_else(|_| addr.to_string(), |a| a.to_string());
    // Always printed, even with --quiet: scripts and tests read the port from it.
    output::out_line(format_args!(
        "{} tftp serve listening on {local} (UDP; folder {}, writes {}, max size {}, blksize up to {}, windowsize up to {}, \
         {} transfers at once ({}), rate limit {}); Ctrl-C stops it",
        output::timestamp(),
        common::os::absolute(&config.dir).display(),
        match (config.allow_write, config.overwrite) {
            (false, _) => "off (--allow-write)",
            (true, false) => "on, never overwriting",
            (true, true) => "on, overwriting",
        },
        human_bytes(config.max_size),
        config.max_blksize,
        config.max_windowsize,
        config.max_transfers,
        config
            .max_per_peer
            .map_or_else(|| "no limit per address".to_string(), |n| format!("{n} per address, {}", config.scope)),
        config
            .rate_limit
            .map_or_else(|| "off".to_string(), |r| format!("{r} requests/s per source")),
    ));
    for part in server::leftover_parts(&config.dir) {
        log.warn(format_args!(
            "{} is a part file left by a server that was stopped mid-write; remove it when no server runs",
            part.display()
        ));
    }
    let shutdown = match Shutdown::for_udp(&socket) {
        Ok(s) => s,
        Err(e) => {
            output::err_line(format_args!(
                "tftp serve: could not prepare shutdown on {local}: {e}"
            ));
            return exit(EXIT_FAILURE);
        }
    };
    if let Err(e) = shutdown.trigger_on_ctrl_c() {
        log.warn(format_args!("{e}"));
    }
    let summary = server::serve(socket, config, &shutdown);
    output::out_line(format_args!(
        "{} tftp serve stopped. summary: {summary}",
        output::timestamp()
    ));
    exit(EXIT_OK)
}

/// `tftp grader-files DIR`: the grader's files, and their sha256sum lines.
pub fn grader_files_main(dir: &std::path::Path) -> ExitCode {
    let written = std::fs::create_dir_all(dir).and_then(|()| crate::check::write_files(dir));
    match written {
        Ok(files) => {
            for (digest, name) in files {
                output::out_line(format_args!("{digest}  {}", dir.join(name).display()));
            }
            exit(EXIT_OK)
        }
        Err(e) => {
            output::err_line(format_args!(
                "tftp grader-files: cannot write into {}: {e}",
                dir.display()
            ));
            exit(EXIT_FAILURE)
        }
    }
}

/// What `tftp get` and `tftp put` were asked.
#[derive(Debug, Clone)]
pub struct ClientArgs {
    pub mode: Mode,
    pub blksize: Option<usize>,
    pub windowsize: Option<u16>,
    pub timeout: Option<Duration>,
    pub no_options: bool,
    pub timing: Timing,
    pub trace: bool,
    pub progress: bool,
    /// The report as one JSON object, in place of the sha256sum line.
    pub json: bool,
}

/// The transfer to do.
#[derive(Debug, Clone)]
pub enum Job {
    Get { remote: String, output: PathBuf },
    Put { local: PathBuf, remote: String },
}

/// The server's first address.
fn resolve(server: &Endpoint) -> Result<SocketAddr, String> {
    server
        .resolve()
        .map_err(|e| format!("cannot look up {server}: {e}"))?
        .into_iter()
        .next()
        .ok_or_else(|| format!("{server} has no address"))
}

/// The whole `tftp get` or `tftp put` program: one transfer, its sha256sum line on stdout,
/// its summary on stderr.
pub fn client_main(job: Job, args: ClientArgs, server: &Endpoint, quiet: bool) -> ExitCode {
    let who = match job {
        Job::Get { .. } => "tftp get",
        Job::Put { .. } => "tftp put",
    };
    let addr = match resolve(server) {
        Ok(a) => a,
        Err(e) => {
            output::err_line(format_args!("{who}: {e}"));
            return exit(EXIT_FAILURE);
        }
    };
    let mut opts = client::Options::new(addr);
    opts.mode = args.mode;
    opts.no_options = args.no_options;
    opts.wanted = Wanted {
        blksize: args.blksize,
        // No more than the sender may hold (it keeps a window until it is acknowledged).
        windowsize: args.windowsize.map(|w| {
            w.min(crate::options::window_cap(
                args.blksize.unwrap_or(crate::packet::DEFAULT_BLKSIZE),
            ))
        }),
        timeout: args.timeout.map(|t| t.as_secs().clamp(1, 255)),
        tsize: None,
    };
    if let Some(t) = args.timeout {
        opts.timeout = t;
    }
    opts.timing = args.timing;
    opts.trace = args.trace;
    opts.progress = args.progress;
    // Ctrl-C ends the transfer the way a failure does: the part file of a get is removed,
    // and the server is told (ERROR 0), instead of the process dying mid-block.
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if ctrlc::set_handler(|| STOP.store(true, std::sync::atomic::Ordering::Relaxed)).is_ok() {
        opts.stop = Some(&STOP);
    }
    let (result, shown) = match &job {
        Job::Get { remote, output } => (
            client::get(&opts, remote, output),
            output.display().to_string(),
        ),
        Job::Put { local, remote } => (
            client::put(&opts, local, remote),
            local.display().to_string(),
        ),
    };
    match result {
        Ok(report) => {
            if args.json {
                output::out_line(format_args!("{}", json(&shown, &report)));
            } else {
                // The sha256sum line: `sha256sum -c` reads it back.
                output::out_line(format_args!("{}  {shown}", report.digest));
            }
            if !quiet {
                output::err_line(format_args!("{who}: {}", describe(&job, &report)));
            }
            exit(EXIT_OK)
        }
        Err(e) => {
            output::err_line(format_args!("{who}: {}", explain(&job, addr, &e)));
            exit(EXIT_FAILURE)
        }
    }
}

/// `--json`: one object per transfer, for scripts and the benchmark.
fn json(file: &str, r: &Report) -> String {
    serde_json::json!({
        "file": file,
        "size": r.bytes,
        "sha256": r.digest,
        "seconds": r.elapsed.as_secs_f64(),
        "blksize": r.settings.blksize,
        "windowsize": r.settings.windowsize,
        "tsize": r.settings.tsize,
        "blocks": r.counters.blocks,
        "sent": r.counters.sent,
        "resent": r.counters.resent,
        "timeouts": r.counters.timeouts,
        "duplicates": r.counters.duplicates,
        "strays": r.strays,
    })
    .to_string()
}

fn describe(job: &Job, r: &Report) -> String {
    let what = match job {
        Job::Get { remote, output } => format!("got {remote:?} into {}", output.display()),
        Job::Put { local, remote } => format!("put {} as {remote:?}", local.display()),
    };
    format!(
        "{what}: {} in {:.3} s ({}) from {}; blksize {}, windowsize {}, {} blocks, {} resent, {} timeouts, {} duplicates ignored{}",
        human_bytes(r.bytes),
        r.elapsed.as_secs_f64(),
        output::rate(r.bytes, r.elapsed),
        r.server_tid,
        r.settings.blksize,
        r.settings.windowsize,
        r.counters.blocks,
        r.counters.resent,
        r.counters.timeouts,
        r.counters.duplicates,
        if r.strays > 0 { format!(", {} strays answered with ERROR 5", r.strays) } else { String::new() },
    )
}

/// The error, and what to try.
fn explain(job: &Job, addr: SocketAddr, e: &ClientError) -> String {
    let hint = match e {
        ClientError::Transfer(Failure::TimedOut { .. }) => format!(
            ": is a TFTP server running on {addr}? (tftp serve listens on 127.0.0.1:6969; a system server on port 69) \
             A firewall that lets the request out may drop the answer from the server's new port"
        ),
        ClientError::Transfer(Failure::Peer { code: crate::packet::ErrorCode::AccessViolation, .. }) if matches!(job, Job::Put { .. }) => {
            ": a server refuses writes unless told (tftp serve --allow-write)".into()
        }
        _ => String::new(),
    };
    format!("{e}{hint}")
}
