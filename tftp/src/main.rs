//! # tftp — reliable delivery over UDP
//!
//! ```text
//! left$  cargo run -p tftp -- serve --dir shared            # 127.0.0.1:6969, reads only
//! right$ cargo run -p tftp -- get 127.0.0.1:6969 notes.txt  # prints its SHA-256
//! left$  cargo run -p tftp -- serve --dir shared --allow-write
//! right$ cargo run -p tftp -- put 127.0.0.1:6969 photo.jpg --blksize 1428 --windowsize 16
//! ```
//!
//! This file only reads the command line; the programs are in `lib.rs`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};
use common::addr::{Endpoint, LimitScope};
use common::cli::{parse_bytes, parse_seconds};
use common::grade::class::ClassArgs;
use tftp::options;
use tftp::packet::Mode;
use tftp::transfer::{Timing, DEFAULT_TIMING};

/// TFTP (RFC 1350, with the blksize, timeout, tsize and windowsize options): a file
/// transfer over UDP, made reliable by block numbers, acknowledgements and timers.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Try it: `tftp serve` in one terminal, `tftp get 127.0.0.1:6969 FILE` in another."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the files of a folder (reads; writes with --allow-write).
    Serve(ServeArgs),
    /// Get a file from a TFTP server; prints its SHA-256 as sha256sum does.
    Get(GetArgs),
    /// Put a file on a TFTP server; prints its SHA-256 as sha256sum does.
    Put(PutArgs),
    /// Write the files `tftp get --check` asks a server for into a folder (their bytes are
    /// always the same); serve that folder to be graded.
    GraderFiles {
        /// The folder (created if missing).
        dir: PathBuf,
    },
}

/// What every side sets about the transfer itself.
#[derive(Debug, clap::Args)]
struct Transfer {
    /// Seconds before the first retransmission; each retry waits twice as long, up to 8 s
    /// (a client asks the server for this timeout with the timeout option, RFC 2349).
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Retries of a packet that gets no answer, before the transfer is given up.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TIMING.retries)]
    retries: u32,
    /// Dump every datagram sent and received (hex and text) on stderr.
    #[arg(long)]
    trace: bool,
}

impl Transfer {
    fn timing(&self) -> Timing {
        Timing {
            retries: self.retries,
            first_retries: self.retries,
            ..DEFAULT_TIMING
        }
    }
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on: HOST:PORT, [IPv6]:PORT or a bare PORT. TFTP's own port, 69,
    /// needs privileges (root, or CAP_NET_BIND_SERVICE on Linux); 0.0.0.0:6969 serves
    /// other machines too.
    #[arg(default_value = tftp::server::DEFAULT_ADDR)]
    addr: Endpoint,
    /// The folder whose files are served (and where writes go).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Accept writes (WRQ). Off by default: a TFTP server has no passwords.
    #[arg(long)]
    allow_write: bool,
    /// Let a write replace an existing file (atomically) instead of refusing it (ERROR 6).
    #[arg(long, requires = "allow_write")]
    overwrite: bool,
    /// Largest file a write may store (e.g. 100M); larger gets ERROR 3.
    #[arg(long, value_name = "BYTES", default_value = "1GiB", value_parser = parse_bytes)]
    max_size: u64,
    /// Largest block size agreed to (blksize, RFC 2348: 8 to 65464).
    #[arg(long, value_name = "BYTES", default_value_t = tftp::packet::MAX_BLKSIZE, value_parser = clap::value_parser!(u64).range(8..=65464).map(|v| v as usize))]
    blksize: usize,
    /// Largest window agreed to (windowsize, RFC 7440: blocks sent before an ACK).
    #[arg(long, value_name = "BLOCKS", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=32767))]
    windowsize: u16,
    /// Transfers at once, in all; past it a request gets ERROR 0 "server busy".
    #[arg(long, value_name = "N", default_value_t = tftp::server::DEFAULT_MAX_TRANSFERS, value_parser = clap::value_parser!(u64).range(1..).map(|v| v as usize))]
    max_transfers: usize,
    /// Transfers at once from one IP address (0 = no limit). Loopback is exempt unless
    /// --limit-loopback.
    #[arg(long, value_name = "N", default_value_t = tftp::server::DEFAULT_MAX_PER_PEER)]
    max_per_peer: usize,
    /// Requests per second from one source address; more are dropped unanswered (against
    /// floods and reflection). 0 = no limit. Loopback is exempt unless --limit-loopback.
    #[arg(long, value_name = "PER_SECOND", default_value_t = tftp::server::DEFAULT_REQUEST_RATE)]
    rate_limit: u32,
    /// Apply --max-per-peer and --rate-limit to loopback clients too (for attack demos).
    #[arg(long)]
    limit_loopback: bool,
    #[command(flatten)]
    transfer: Transfer,
    /// No line per request and transfer (for benchmarks); warnings and the summary stay.
    #[arg(long, short)]
    quiet: bool,
}

/// What get and put share.
#[derive(Debug, clap::Args)]
struct Client {
    /// Ask for blocks of this many bytes (blksize, RFC 2348; 512 without it). 1428 fills an
    /// Ethernet frame; more means IP fragments across a real network.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(8..=65464).map(|v| v as usize))]
    blksize: Option<usize>,
    /// Ask for a window of this many blocks per ACK (windowsize, RFC 7440; 1 without it,
    /// which is stop-and-wait).
    #[arg(long, value_name = "BLOCKS", value_parser = clap::value_parser!(u16).range(1..=32767))]
    windowsize: Option<u16>,
    /// Send a bare RFC 1350 request: no option at all, not even tsize.
    #[arg(long, conflicts_with_all = ["blksize", "windowsize"])]
    no_options: bool,
    /// Transfer mode: octet (bytes as they are) or netascii (text; line ends converted).
    #[arg(long, value_enum, default_value = "octet")]
    mode: ModeArg,
    #[command(flatten)]
    transfer: Transfer,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// No line but the sha256sum line (for benchmarks).
    #[arg(long, short)]
    quiet: bool,
    /// One JSON object on stdout in place of the sha256sum line: the file, its size and
    /// SHA-256, the seconds, the options agreed, blocks, retransmissions, timeouts and
    /// duplicates (with get --check: the grader's report as JSON).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModeArg {
    Octet,
    Netascii,
}

#[derive(Debug, clap::Args)]
struct GetArgs {
    /// The server: HOST:PORT, [IPv6]:PORT or a bare PORT (tftp serve: 6969; a system
    /// server: 69).
    #[arg(required_unless_present = "targets")]
    server: Option<Endpoint>,
    #[command(flatten)]
    client: Client,
    /// The file's name on the server.
    #[arg(required_unless_present = "check")]
    file: Option<String>,
    /// Grade the server instead of getting a file: a get, block-number rollover, a lost
    /// and a duplicated ACK, a stranger's packet, a missing file, paths out of its folder,
    /// the options. The server must serve the grader's files (tftp grader-files DIR).
    /// Exit 0 only if every step passed; within a minute whatever the server does.
    #[arg(long, conflicts_with_all = ["file", "output"])]
    check: bool,
    #[command(flatten)]
    class: ClassArgs,
    /// Where to write it (default: the same name, here). Written to a hidden part file
    /// first: a failed transfer leaves nothing under this name.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct PutArgs {
    /// The server: HOST:PORT, [IPv6]:PORT or a bare PORT (tftp serve: 6969; a system
    /// server: 69).
    server: Endpoint,
    #[command(flatten)]
    client: Client,
    /// The local file to send.
    file: PathBuf,
    /// The name to give it on the server (default: its own name).
    #[arg(long = "as", value_name = "NAME")]
    remote: Option<String>,
}

fn main() -> ExitCode {
    match common::generate::parse::<Args>().command {
        Command::Serve(a) => {
            let mut config = tftp::server::Config::new(a.dir);
            config.allow_write = a.allow_write;
            config.overwrite = a.overwrite;
            config.max_size = a.max_size;
            config.max_blksize = a.blksize;
            config.max_windowsize = a.windowsize;
            config.max_transfers = a.max_transfers;
            config.max_per_peer = (a.max_per_peer > 0).then_some(a.max_per_peer);
            config.rate_limit = (a.rate_limit > 0).then_some(a.rate_limit);
            config.scope = LimitScope::from_flag(a.limit_loopback);
            if let Some(t) = a.transfer.timeout {
                config.timeout = t;
            }
            config.timing = a.transfer.timing();
            config.trace = a.transfer.trace;
            config.quiet = a.quiet;
            tftp::run::serve_main(&a.addr, config)
        }
        Command::Get(a) if a.check => {
            match tftp::check::main(a.server.as_ref(), &a.class, a.client.json) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(common::EXIT_FAILURE as u8),
                Err(e) => {
                    common::output::err_line(format_args!("tftp get --check: {e}"));
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Get(a) => {
            let remote = a.file.unwrap_or_default();
            let output = a
                .output
                .clone()
                .unwrap_or_else(|| PathBuf::from(local_name(&remote)));
            // clap asks for the address unless --targets, which needs --check.
            let Some(server) = a.server else {
                common::output::err_line(format_args!("tftp get: give the server's address"));
                return ExitCode::from(common::EXIT_USAGE as u8);
            };
            tftp::run::client_main(
                tftp::run::Job::Get { remote, output },
                client_options(&a.client),
                &server,
                a.client.quiet,
            )
        }
        Command::GraderFiles { dir } => tftp::run::grader_files_main(&dir),
        Command::Put(a) => {
            let remote = a.remote.clone().unwrap_or_else(|| {
                a.file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            tftp::run::client_main(
                tftp::run::Job::Put {
                    local: a.file,
                    remote,
                },
                client_options(&a.client),
                &a.server,
                a.client.quiet,
            )
        }
    }
}

/// A retransmission timeout: more than 0 and at most 255 seconds (RFC 2349's range).
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let t = parse_seconds(text)?;
    if t.is_zero() || t > Duration::from_secs(options::MAX_TIMEOUT_S) {
        return Err(format!(
            "{text}: a timeout is more than 0 and at most {} seconds (RFC 2349)",
            options::MAX_TIMEOUT_S
        ));
    }
    Ok(t)
}

/// The last part of a name from the server, as the local name (a server's `a/b.txt`
/// becomes `b.txt` here, never a path).
fn local_name(remote: &str) -> String {
    remote
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("download")
        .to_string()
}

fn client_options(c: &Client) -> tftp::run::ClientArgs {
    tftp::run::ClientArgs {
        mode: match c.mode {
            ModeArg::Octet => Mode::Octet,
            ModeArg::Netascii => Mode::Netascii,
        },
        blksize: c.blksize,
        windowsize: c.windowsize,
        timeout: c.transfer.timeout,
        no_options: c.no_options,
        timing: c.transfer.timing(),
        trace: c.transfer.trace,
        progress: !c.no_progress && !c.quiet && !c.json,
        json: c.json,
    }
}
