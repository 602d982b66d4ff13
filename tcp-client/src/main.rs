//! # tcp-client — the tutorial's `tcp_user.py`, done right
//!
//! Start the server in the left terminal, then try each mode in the right one:
//!
//! ```text
//! left$  cargo run -p tcp-server
//! right$ cargo run -p tcp-client                         # the tutorial: li, bo, ca, exit
//! right$ cargo run -p tcp-client -- 127.0.0.1:9999 hi    # your own messages
//! right$ cargo run -p tcp-client -- -i                   # one message per line you type
//! right$ cargo run -p tcp-client -- --check              # grade a server: exit 0 if it behaved
//! right$ cargo run -p tcp-client -- --connections 100 --count 1000   # load
//! ```
//!
//! This file only reads the command line; the client is in `lib.rs`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use common::addr::{Endpoint, DEFAULT_ADDR};
use common::cli::{parse_positive, parse_seconds};
use common::frame::{Framing, DEFAULT_MAX_FRAME};
use common::grade::class::ClassArgs;
use common::output;
use tcp_client::load::{self, LoadOptions};
use tcp_client::Options;

/// Client of the hello service (tcp-server). With no messages, plays the tutorial's
/// session: li, bo, ca, then exit.
#[derive(Debug, Parser)]
#[command(version, after_help = "Start `tcp-server` in another terminal first.")]
struct Args {
    /// The server: HOST:PORT, [IPv6]:PORT or a bare PORT.
    #[arg(default_value = DEFAULT_ADDR)]
    addr: Endpoint,
    /// Messages to send, one after the other (default: li bo ca exit).
    messages: Vec<String>,
    /// Read messages from stdin, one per line (typed or piped); each reply is printed.
    #[arg(short, long, conflicts_with_all = ["messages", "check", "burst"])]
    interactive: bool,
    /// Write every message before reading any reply (with --framing raw on both sides the
    /// server sees merged messages: TCP is a byte stream).
    #[arg(long)]
    burst: bool,
    /// Play the tutorial's session and verify every reply byte for byte; exit 0 only if
    /// the server behaved.
    #[arg(long, conflicts_with_all = ["messages", "burst"])]
    check: bool,
    /// With --check: then attack the server (messages merged and split, a byte at a time,
    /// oversize, garbage, clients vanishing mid-message, 50 clients, a silent client, one
    /// that reads nothing, a connection flood); after each step a fresh client must be
    /// served. Exit 0 only if every step passed.
    #[arg(long, requires = "check")]
    attacks: bool,
    #[command(flatten)]
    class: ClassArgs,
    /// How messages are delimited in the byte stream (must match the server's).
    #[arg(long, value_enum, default_value_t)]
    framing: Framing,
    /// Largest message accepted from the server, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_positive)]
    max_frame: usize,
    /// Seconds to wait for the connection to be made.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    connect_timeout: Duration,
    /// Seconds to wait for each reply (0 = forever).
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds)]
    timeout: Duration,
    /// Dump every read and write (hex and text, with byte counts) on stderr.
    #[arg(long)]
    trace: bool,
    /// No event lines on stderr; replies and results are still printed.
    #[arg(short, long)]
    quiet: bool,
    /// After the last reply, print what the kernel's TCP knows about the connection:
    /// smoothed RTT and its variance, RTO, cwnd, ssthresh, MSS, bytes in flight,
    /// retransmissions, delivery rate (Linux TCP_INFO, macOS TCP_CONNECTION_INFO, Windows
    /// SIO_TCP_INFO; what a system lacks is said so).
    #[arg(long, conflicts_with_all = ["connections", "check"])]
    tcp_info: bool,
    /// Load mode: this many connections at once...
    #[arg(long, value_name = "N", requires = "count", value_parser = parse_positive, conflicts_with_all = ["messages", "interactive", "check", "burst"])]
    connections: Option<usize>,
    /// ...each doing this many lock-step round trips.
    #[arg(long, value_name = "M", requires = "connections")]
    count: Option<u64>,
    /// Load mode: bytes in each message.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 16,
        requires = "connections"
    )]
    payload: usize,
    /// Print the report as JSON: one object (load mode, --check), or one per server
    /// (--targets).
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = common::generate::parse::<Args>();
    if args.json && args.connections.is_none() && !args.check {
        output::err_line(format_args!(
            "tcp-client: --json goes with --connections (load) or --check"
        ));
        return ExitCode::from(common::EXIT_USAGE as u8);
    }
    let opts = Options {
        addr: args.addr,
        framing: args.framing,
        max_frame: args.max_frame,
        connect_timeout: args.connect_timeout,
        timeout: args.timeout,
        trace: args.trace,
        quiet: args.quiet,
        deadline: None,
        tcp_info: args.tcp_info,
    };
    // Load mode and the grader's flood open many sockets at once: lift the soft limit on
    // open files (often 1024) to the hard one, as servers do.
    let _ = common::capacity::raise_open_file_limit();
    let result = if let (Some(connections), Some(count)) = (args.connections, args.count) {
        load::run(
            &opts,
            LoadOptions {
                connections,
                count,
                payload: args.payload,
            },
        )
        .map(|report| {
            if args.json {
                output::out_line(format_args!(
                    "{}",
                    serde_json::to_string(&report).unwrap_or_default()
                ));
            } else {
                output::out_line(format_args!("{}", report.to_text()));
            }
            report.all_served()
        })
    } else if args.check {
        tcp_client::check::main(&opts, args.attacks, &args.class, args.json)
    } else if args.interactive {
        tcp_client::run_interactive(&opts, &mut tcp_client::stdin_input()).map(|_| true)
    } else {
        let messages = if args.messages.is_empty() {
            tcp_client::tutorial_messages()
        } else {
            args.messages.into_iter().map(String::into_bytes).collect()
        };
        tcp_client::run_session(&opts, &messages, args.burst).map(|_| true)
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(common::EXIT_FAILURE as u8),
        Err(e) => {
            output::err_line(format_args!("tcp-client: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}
