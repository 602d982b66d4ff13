//! # upload — the tutorial's image upload, done right
//!
//! Run the server in one terminal, the sender in another:
//!
//! ```text
//! left$  cargo run -p upload -- serve                    # stores into ./uploads
//! right$ cargo run -p upload -- send photo.jpg notes.pdf  # bars, then sha256sum lines
//! right$ sha256sum photo.jpg uploads/photo.jpg            # the same digest, twice
//! right$ cargo run -p upload -- sum uploads/photo.jpg     # the same, without sha256sum
//! right$ cargo run -p upload -- send photos/              # a folder, as photos/...
//! right$ tar c src | cargo run -p upload -- send - --name src.tar   # a pipe
//! right$ cargo run -p upload -- get photo.jpg | sha256sum  # and back
//! ```
//!
//! This file only reads the command line; the programs are in `lib.rs`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use common::addr::{Endpoint, LimitScope, DEFAULT_ADDR};
use common::cli::{nonzero, parse_bytes, parse_positive, parse_seconds};
use common::grade::class::ClassArgs;
use common::net::{ListenOptions, DEFAULT_BACKLOG};
use common::server::{Limits, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PER_PEER};
use upload::Exchange;

/// Upload files over TCP with progress bars, SHA-256 verification and safe writes.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Try it: `upload serve` in one terminal, `upload send FILE` in another."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive files into a folder, verifying each before it gets its name.
    Serve(ServeArgs),
    /// Send files, folders or standard input to an `upload serve`; prints each verified
    /// digest as `sha256sum` does.
    Send(SendArgs),
    /// Fetch a stored file from an `upload serve` to standard output (or --output FILE),
    /// verified by its SHA-256: `upload get photo.jpg | sha256sum`.
    Get(GetArgs),
    /// Print the SHA-256 of files as `sha256sum` does, with the same one-pass hashing as a
    /// transfer: to check a received file on a machine that has no `sha256sum`.
    Sum {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on: HOST:PORT, [IPv6]:PORT or a bare PORT (0 = any free port);
    /// 0.0.0.0:9999 accepts senders from other machines.
    #[arg(default_value = DEFAULT_ADDR)]
    addr: Endpoint,
    /// Folder to store the files in (created if missing).
    #[arg(long, default_value = "uploads")]
    dir: PathBuf,
    /// Replace an existing file of the same name (atomically) instead of refusing it.
    #[arg(long)]
    overwrite: bool,
    /// Largest file accepted (e.g. 500M, 4GiB); larger ones get ERR TOO_LARGE before any data.
    #[arg(long, value_name = "BYTES", default_value = "4GiB", value_parser = parse_bytes)]
    max_size: u64,
    /// Free space to leave on the disk; an upload that would use it gets ERR NO_SPACE.
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_bytes)]
    keep_free: u64,
    /// Which exchange to speak: Upload v1, or the tutorial's own (one file, no name, no checksum).
    #[arg(long, value_enum, default_value_t)]
    protocol: Exchange,
    /// Clients served at once; past it a new one gets ERR BUSY.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = parse_positive)]
    max_connections: usize,
    /// Clients served at once from one IP address; past it that address gets ERR BUSY
    /// while others are still served (0 = no limit). Loopback (this machine) is exempt
    /// unless --limit-loopback.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PER_PEER)]
    max_per_peer: usize,
    /// Apply --max-per-peer to loopback senders (127.0.0.0/8, ::1) too: for attack demos
    /// on one machine.
    #[arg(long)]
    limit_loopback: bool,
    /// Seconds a sender may stay silent, mid-file or between files, before it is
    /// disconnected (its partial file deleted, or kept to resume: see --keep-partial)
    /// (0 = never).
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = parse_seconds)]
    idle_timeout: Duration,
    /// Seconds a control line may take from its first byte to its last; a client that trickles
    /// bytes (slowloris) is closed when it runs out (0 = no limit).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    message_timeout: Duration,
    /// Length of the queue of connections not yet accepted (the tutorial uses 5).
    #[arg(long, default_value_t = DEFAULT_BACKLOG, value_parser = clap::value_parser!(i32).range(0..))]
    backlog: i32,
    /// Hours to keep the partial file of an upload that broke off, so that the next
    /// `upload send` of the same file continues where it stopped (0 = keep none, and
    /// offer no resume). A kept part holds on the disk what arrived of the file.
    #[arg(long, value_name = "HOURS", default_value = "24", value_parser = parse_hours)]
    keep_partial: Duration,
    #[command(flatten)]
    show: Show,
}

/// Hours, `24` or `0.5`, as a duration.
fn parse_hours(s: &str) -> Result<Duration, String> {
    let hours =
        parse_seconds(s).map_err(|_| format!("'{s}' is not a number of hours (e.g. 24 or 0.5)"))?;
    hours
        .checked_mul(3600)
        .ok_or_else(|| format!("'{s}' hours is too long"))
}

/// What both subcommands print.
#[derive(Debug, clap::Args)]
struct Show {
    /// Dump every control line (not the file data) as hex and text on stderr.
    #[arg(long)]
    trace: bool,
    /// No progress bars.
    #[arg(long)]
    no_progress: bool,
    /// No line per connection, upload or file (for benchmarks); the digests, warnings,
    /// errors and summaries stay.
    #[arg(long, short)]
    quiet: bool,
}

impl Show {
    /// Bars are drawn unless turned off or quiet.
    fn bars(&self) -> bool {
        !self.no_progress && !self.quiet
    }
}

#[derive(Debug, clap::Args)]
struct SendArgs {
    /// Files to send, one after another over one connection. A folder is sent with all it
    /// holds, as FOLDER/...: its empty folders too, symbolic links not followed (skipped,
    /// and said). `-` is standard input (needs --name).
    #[arg(required_unless_present = "check", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The name to store standard input (`-`) as.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// In folders, leave out what matches this glob, by its name or its path in the
    /// folder (`*.tmp`, `node_modules`, `raw/**`); may be given many times.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Grade the server instead of sending files: a normal upload, hostile names, a wrong
    /// digest, a sender that vanishes mid-file, then a normal upload again (with
    /// --protocol tutorial: the tutorial's exchange, then an early disconnect). Exit 0 only if
    /// every step passed.
    #[arg(long, conflicts_with = "files")]
    check: bool,
    /// With --check: the report as one JSON object (one per server with --targets).
    /// Without: one JSON object per file sent, on stdout in place of its sha256sum line
    /// (with the --tcp-info readings).
    #[arg(long)]
    json: bool,
    /// While each file goes out, and at its end, print what the kernel's TCP knows about
    /// the connection: smoothed RTT and variance, RTO, cwnd, ssthresh, MSS, bytes in
    /// flight, retransmissions, delivery rate (what a system lacks is said so).
    #[arg(long, conflicts_with = "check")]
    tcp_info: bool,
    /// How often --tcp-info reads them during a file, in milliseconds.
    #[arg(long, value_name = "MS", default_value = "500", requires = "tcp_info", value_parser = clap::value_parser!(u64).range(1..))]
    tcp_info_interval: u64,
    #[command(flatten)]
    class: ClassArgs,
    /// The server: HOST:PORT, [IPv6]:PORT or a bare PORT.
    #[arg(long, default_value = DEFAULT_ADDR)]
    to: Endpoint,
    /// Which exchange to speak: Upload v1, or the tutorial's own (one connection per file).
    #[arg(long, value_enum, default_value_t)]
    protocol: Exchange,
    /// Seconds to wait for the server: to connect, and for each reply.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    timeout: Duration,
    /// Send at most this many bytes per second (e.g. 5M): to watch the bars on loopback.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    limit_rate: Option<u64>,
    /// Send every file from its first byte, even when the server holds the beginning of it
    /// from an upload that broke off (by default that part is hashed here too and, if it
    /// is the same, skipped).
    #[arg(long)]
    no_resume: bool,
    #[command(flatten)]
    show: Show,
}

#[derive(Debug, clap::Args)]
struct GetArgs {
    /// The stored file's name, as `upload send` gave it (`photo.jpg`, `photos/2024/a.jpg`).
    name: String,
    /// Write it to this file (replaced once verified) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The server: HOST:PORT, [IPv6]:PORT or a bare PORT.
    #[arg(long, default_value = DEFAULT_ADDR)]
    to: Endpoint,
    /// Seconds to wait for the server: to connect, and for each reply.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    timeout: Duration,
    #[command(flatten)]
    show: Show,
}

fn main() -> ExitCode {
    match common::generate::parse::<Args>().command {
        Command::Serve(a) => {
            let mut config = upload::server::Config::new(a.dir);
            config.overwrite = a.overwrite;
            config.max_size = a.max_size;
            config.keep_free = a.keep_free;
            config.exchange = a.protocol;
            config.quiet = a.show.quiet;
            config.trace = a.show.trace;
            config.keep_partial = nonzero(a.keep_partial);
            upload::run::serve_main(upload::run::ServeOptions {
                addr: a.addr,
                listen: ListenOptions {
                    backlog: a.backlog,
                    ..ListenOptions::default()
                },
                limits: Limits {
                    max_connections: a.max_connections,
                    max_per_peer: (a.max_per_peer > 0).then_some(a.max_per_peer),
                    scope: LimitScope::from_flag(a.limit_loopback),
                    idle_timeout: nonzero(a.idle_timeout),
                    message_timeout: nonzero(a.message_timeout),
                },
                config,
                progress: a.show.bars(),
            })
        }
        Command::Send(a) if a.check => {
            match upload::check::main(&a.to, a.protocol, a.timeout, &a.class, a.json) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(common::EXIT_FAILURE as u8),
                Err(e) => {
                    common::output::err_line(format_args!("upload: {e}"));
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Send(a) => {
            let mut options = upload::client::Options::new(a.to);
            options.exchange = a.protocol;
            options.timeout = a.timeout;
            options.limit_rate = a.limit_rate.filter(|&r| r > 0);
            options.quiet = a.show.quiet;
            options.trace = a.show.trace;
            options.tcp_info = a
                .tcp_info
                .then(|| Duration::from_millis(a.tcp_info_interval));
            options.json = a.json;
            options.resume = !a.no_resume;
            options.name = a.name;
            options.exclude = match upload::client::tree::exclusions(&a.exclude) {
                Ok(set) => set,
                Err(e) => {
                    common::output::err_line(format_args!("upload: {e}"));
                    return ExitCode::from(common::EXIT_USAGE as u8);
                }
            };
            upload::run::send_main(&a.files, &options, a.show.bars())
        }
        Command::Get(a) => {
            let mut options = upload::client::Options::new(a.to);
            options.timeout = a.timeout;
            options.quiet = a.show.quiet;
            options.trace = a.show.trace;
            upload::run::get_main(&a.name, a.output.as_ref(), &options, a.show.bars())
        }
        Command::Sum { files } => upload::run::sum_main(&files),
    }
}
