//! # udp-server — the tutorial's `udp.py`, done right
//!
//! Run the server in one terminal, a client in another:
//!
//! ```text
//! left$  cargo run -p udp-server
//! right$ cargo run -p udp-client                           # sends hello!, prints Hi!hello!
//! right$ cargo run -p udp-client -- --count 20 --interval 100   # ping: RTTs, loss
//! left$  cargo run -p udp-server -- --drop 0.3 --seed 1    # now lose 30% of the replies
//! ```
//!
//! This file only reads the command line; the server is in `lib.rs`.

use std::process::ExitCode;

use clap::Parser;
use common::addr::{Endpoint, LimitScope, DEFAULT_ADDR};
use common::cli::parse_positive;
use common::ratelimit::DEFAULT_RATE;
use common::udp::UdpOptions;
use udp_server::{
    Config, Delay, Faults, HandlerMode, Options, DEFAULT_BUFFER, DEFAULT_REPLY_PREFIX,
};

/// Replies `Hi!` + each datagram to its sender. Can lose, duplicate and delay replies on
/// purpose, to show what UDP does about it (nothing).
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Try it: run `udp-server` here and `udp-client` or `nc -u 127.0.0.1 9999` in another terminal."
)]
struct Args {
    /// Address to listen on: HOST:PORT, [IPv6]:PORT or a bare PORT (0 = any free port).
    #[arg(default_value = DEFAULT_ADDR)]
    addr: Endpoint,
    /// What each reply starts with, before the datagram.
    #[arg(long, default_value = DEFAULT_REPLY_PREFIX)]
    reply_prefix: String,
    /// The program's receive buffer in bytes; a larger datagram is cut (and the cut is
    /// logged). The tutorial's is 1024.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_BUFFER, value_parser = parse_positive)]
    buffer: usize,
    /// Answer on the receiving thread (inline) or on a new thread per datagram, as the tutorial does.
    #[arg(long, value_enum, default_value_t)]
    handler: HandlerMode,
    /// SO_RCVBUF: the kernel's receive queue in bytes. A small one shows kernel drops under a flood.
    #[arg(long, value_name = "BYTES", value_parser = parse_positive)]
    recv_buffer: Option<usize>,
    /// Probability (0-1) of dropping a reply on purpose.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    drop: f64,
    /// Probability (0-1) of sending a reply twice on purpose.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    duplicate: f64,
    /// Delay every reply: MS, or MIN..MAX for a random delay in that range (other replies are not held up).
    #[arg(long, value_name = "MS|MIN..MAX")]
    delay: Option<Delay>,
    /// Seed of the fault choices, to repeat a run exactly (default: a new one, printed at start).
    #[arg(long)]
    seed: Option<u64>,
    /// Replies per second to one source address, at most; more are dropped and counted
    /// (against floods, and reflection at a forged source). 0 = no limit. Loopback (this
    /// machine) is exempt unless --limit-loopback.
    #[arg(long, value_name = "PPS", default_value_t = DEFAULT_RATE)]
    rate_limit: u32,
    /// Apply --rate-limit to loopback sources (127.0.0.0/8, ::1) too: for flood demos on
    /// one machine. Without it, a local ping or rate test is never capped.
    #[arg(long)]
    limit_loopback: bool,
    /// Dump every datagram received and sent (hex and text, with byte counts) on stderr.
    #[arg(long)]
    trace: bool,
    /// Print no line per datagram (for benchmarks); warnings and the summary stay.
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = common::generate::parse::<Args>();
    let options = Options {
        addr: args.addr,
        socket: UdpOptions {
            recv_buffer: args.recv_buffer,
        },
        config: Config {
            reply_prefix: args.reply_prefix.into_bytes(),
            buffer: args.buffer,
            handler: args.handler,
            faults: Faults {
                drop: args.drop,
                duplicate: args.duplicate,
                delay: args.delay,
                seed: args.seed.unwrap_or_else(|| fastrand::u64(..)),
            },
            rate_limit: (args.rate_limit > 0).then_some(args.rate_limit),
            scope: LimitScope::from_flag(args.limit_loopback),
            trace: args.trace,
            quiet: args.quiet,
        },
    };
    udp_server::main(options)
}
