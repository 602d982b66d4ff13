//! # udp-client — the tutorial's `udp_user.py`, done right
//!
//! Start `udp-server` in the left terminal, then in the right one:
//!
//! ```text
//! right$ cargo run -p udp-client                                   # hello! -> Hi!hello!
//! right$ cargo run -p udp-client -- 127.0.0.1:9999 one two         # your own messages
//! right$ cargo run -p udp-client -- --count 20 --interval 100      # ping: RTT, loss, reordering
//! right$ cargo run -p udp-client -- --rate 50000 --count 200000    # how much can the server take?
//! ```
//!
//! This file only reads the command line; the client is in `lib.rs`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use common::addr::{Endpoint, DEFAULT_ADDR};
use common::cli::parse_seconds;
use common::grade::class::ClassArgs;
use common::output;
use udp_client::ping::{self, PingOptions};
use udp_client::rate::{self, RateOptions};
use udp_client::{ClientError, Options, DEFAULT_MESSAGE};

/// Default bytes per request in ping and rate modes.
const DEFAULT_SIZE: usize = 64;

/// Client of udp-server: sends datagrams and prints the replies, with timeouts and
/// retries; or measures loss (ping mode) and capacity (rate mode).
#[derive(Debug, Parser)]
#[command(version, after_help = "Start `udp-server` in another terminal first.")]
struct Args {
    /// The server: HOST:PORT, [IPv6]:PORT or a bare PORT.
    #[arg(default_value = DEFAULT_ADDR)]
    addr: Endpoint,
    /// Messages to send, one datagram each (default: hello!).
    messages: Vec<String>,
    /// Seconds to wait for each reply.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    timeout: Duration,
    /// Resend a message this many times when its reply does not come.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,
    /// Ping mode: send this many requests, each with a sequence number (with --rate: rate mode).
    #[arg(long, value_name = "N", conflicts_with = "messages")]
    count: Option<u64>,
    /// Ping mode: milliseconds between requests; 0 = lock-step (each waits for its reply).
    #[arg(long, value_name = "MS", default_value_t = 1000, requires = "count")]
    interval: u64,
    /// Ping and rate modes: bytes per request.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_SIZE)]
    size: usize,
    /// Rate mode: requests per second, sent from one thread while another counts replies.
    #[arg(long, value_name = "PPS", conflicts_with_all = ["messages", "interval"])]
    rate: Option<f64>,
    /// Rate mode: send for this many seconds (instead of --count).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, requires = "rate", conflicts_with = "count")]
    duration: Option<Duration>,
    /// Ping and rate modes, and --check: print the summary as one JSON object (one per
    /// server with --targets).
    #[arg(long)]
    json: bool,
    /// Grade the server: the reply to hello!, a 2,000-byte datagram answered whole, an
    /// empty datagram, 200 requests in flight matched to their replies, then hello! again.
    /// Exit 0 only if every step passed (--json for one JSON object).
    #[arg(long, conflicts_with_all = ["messages", "count", "rate"])]
    check: bool,
    #[command(flatten)]
    class: ClassArgs,
    /// Dump every datagram sent and received (hex and text) on stderr.
    #[arg(long)]
    trace: bool,
    /// No event lines on stderr; replies and results are still printed.
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = common::generate::parse::<Args>();
    let opts = Options {
        addr: args.addr,
        timeout: args.timeout,
        retries: args.retries,
        trace: args.trace,
        quiet: args.quiet,
    };
    let result = if args.check {
        udp_client::check::main(&opts, &args.class, args.json)
    } else if let Some(pps) = args.rate {
        let count = match (args.count, args.duration) {
            (Some(n), _) => Ok(n),
            (None, Some(d)) => Ok((pps * d.as_secs_f64()).round() as u64),
            (None, None) => Err(ClientError::Usage(
                "rate mode needs --count N or --duration SECONDS".into(),
            )),
        };
        count
            .and_then(|count| {
                rate::run(
                    &opts,
                    RateOptions {
                        rate: pps,
                        count,
                        size: args.size,
                    },
                )
            })
            .map(|r| {
                print_report(args.json, &r, &r.to_text());
                r.sent > 0
            })
    } else if let Some(count) = args.count {
        let ping_opts = PingOptions {
            count,
            interval: Duration::from_millis(args.interval),
            size: args.size,
            per_reply: !args.json,
        };
        ping::run(&opts, ping_opts).map(|r| {
            print_report(args.json, &r, &r.to_text());
            if r.received == 0 && r.sent > 0 {
                output::err_line(format_args!("udp-client: no reply to any of {} requests from {}: UDP never resends, so lost requests or replies are simply gone; is the server running, and reachable?", r.sent, r.server));
            }
            r.received > 0 || r.sent == 0
        })
    } else {
        let messages: Vec<Vec<u8>> = if args.messages.is_empty() {
            vec![DEFAULT_MESSAGE.into()]
        } else {
            args.messages.into_iter().map(String::into_bytes).collect()
        };
        udp_client::run_messages(&opts, &messages).map(|_| true)
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(common::EXIT_FAILURE as u8),
        Err(e) => {
            output::err_line(format_args!("udp-client: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}

fn print_report<T: serde::Serialize>(json: bool, report: &T, text: &str) {
    if json {
        output::out_line(format_args!(
            "{}",
            serde_json::to_string(report).unwrap_or_default()
        ));
    } else {
        output::out_line(format_args!("{text}"));
    }
}
