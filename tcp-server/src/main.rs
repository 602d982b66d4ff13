//! # tcp-server — the tutorial's `tcp.py`, done right
//!
//! Run the server in one terminal, a client in another:
//!
//! ```text
//! left$  cargo run -p tcp-server
//! right$ cargo run -p tcp-client            # plays the tutorial: li, bo, ca, exit
//! right$ nc 127.0.0.1 9999                  # or type lines yourself
//! left$  cargo run -p tcp-server -- --model poll   # the same service from one thread
//! ```
//!
//! This file only reads the command line; the server is in `lib.rs`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use common::addr::{Endpoint, LimitScope, DEFAULT_ADDR};
use common::cli::{nonzero, parse_positive, parse_seconds};
use common::frame::{Framing, DEFAULT_MAX_FRAME};
use common::net::{ListenOptions, DEFAULT_BACKLOG};
use common::server::{Limits, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PER_PEER};
use tcp_server::{Config, Model, Options, DEFAULT_GREETING, DEFAULT_REPLY_PREFIX};

/// The hello service: greets each client, replies `hello,` + each message, closes on `exit`.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Try it: run `tcp-server` here and `tcp-client` or `nc 127.0.0.1 9999` in another terminal."
)]
struct Args {
    /// Address to listen on: HOST:PORT, [IPv6]:PORT or a bare PORT (0 = any free port);
    /// 0.0.0.0:9999 accepts clients from other machines.
    #[arg(default_value = DEFAULT_ADDR)]
    addr: Endpoint,
    /// Length of the queue of connections not yet accepted (the tutorial uses 5).
    #[arg(long, default_value_t = DEFAULT_BACKLOG, value_parser = clap::value_parser!(i32).range(0..))]
    backlog: i32,
    /// Turn SO_REUSEADDR off (on Windows, SO_EXCLUSIVEADDRUSE): a plain bind, as the
    /// tutorial does. On Linux and macOS a restart then fails while old connections are in
    /// TIME_WAIT; on Windows another program may then share the port.
    #[arg(long)]
    no_reuse_addr: bool,
    /// Turn SO_REUSEPORT on: several servers may listen on the same port (Linux spreads
    /// connections between them; macOS does not; Windows has no such option).
    #[arg(long)]
    reuse_port: bool,
    /// How clients are served: `thread`, a thread per client with blocking reads (the
    /// tutorial's design), or `poll`, one thread for every client with readiness events.
    #[arg(long, value_enum, default_value_t)]
    model: Model,
    /// How messages are delimited in the byte stream.
    #[arg(long, value_enum, default_value_t)]
    framing: Framing,
    /// Clients served at once; past it a new client gets `error: server busy`.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = parse_positive)]
    max_connections: usize,
    /// Clients served at once from one IP address; past it that address gets `error: server busy`
    /// while others are still served (0 = no limit). Loopback (this machine) is exempt
    /// unless --limit-loopback.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PER_PEER)]
    max_per_peer: usize,
    /// Apply --max-per-peer to loopback clients (127.0.0.0/8, ::1) too: for attack demos on
    /// one machine. Without it, a local load test is never refused per address.
    #[arg(long)]
    limit_loopback: bool,
    /// Seconds a client may stay silent before it is disconnected (0 = never).
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_seconds)]
    idle_timeout: Duration,
    /// Seconds a message may take from its first byte to its last; a client that trickles
    /// bytes (slowloris) is closed when it runs out (0 = no limit).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    message_timeout: Duration,
    /// Largest message accepted, in bytes; a larger one gets an error reply and is closed.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME, value_parser = parse_positive)]
    max_frame: usize,
    /// The first message sent to every client.
    #[arg(long, default_value = DEFAULT_GREETING)]
    greeting: String,
    /// What each reply starts with, before the client's message.
    #[arg(long, default_value = DEFAULT_REPLY_PREFIX)]
    reply_prefix: String,
    /// Dump every read and write (hex and text, with byte counts) on stderr.
    #[arg(long)]
    trace: bool,
    /// Print no line per connection or message (for benchmarks); warnings and the summary stay.
    #[arg(long, short)]
    quiet: bool,
    /// Add to each close line what the kernel's TCP knew about the connection: smoothed
    /// RTT and variance, RTO, cwnd, ssthresh, MSS, bytes in flight, retransmissions,
    /// delivery rate (what a system lacks is said so).
    #[arg(long, conflicts_with = "quiet")]
    tcp_info: bool,
}

fn main() -> ExitCode {
    let args = common::generate::parse::<Args>();
    let options = Options {
        addr: args.addr,
        listen: ListenOptions {
            backlog: args.backlog,
            reuse_addr: !args.no_reuse_addr,
            reuse_port: args.reuse_port,
        },
        limits: Limits {
            max_connections: args.max_connections,
            max_per_peer: (args.max_per_peer > 0).then_some(args.max_per_peer),
            scope: LimitScope::from_flag(args.limit_loopback),
            idle_timeout: nonzero(args.idle_timeout),
            message_timeout: nonzero(args.message_timeout),
        },
        config: Config {
            model: args.model,
            framing: args.framing,
            max_frame: args.max_frame,
            greeting: args.greeting.into_bytes(),
            reply_prefix: args.reply_prefix.into_bytes(),
            trace: args.trace,
            quiet: args.quiet,
            tcp_info: args.tcp_info,
        },
    };
    tcp_server::main(options)
}
