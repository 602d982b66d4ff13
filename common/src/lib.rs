//! # common — what every sockets-lab program shares
//!
//! The programs of the course (tcp-server, tcp-client, udp-server, udp-client, upload) are
//! small because the mechanics they have in common live here, once:
//!
//! - [`addr`]: turning `127.0.0.1:9999`, `[::1]:9999`, `localhost:9999` or a bare `9999`
//!   into socket addresses, with one clear line when the input is wrong.
//! - [`frame`]: TCP is a byte stream, not a message stream. A *framing* says where one
//!   message ends and the next begins. A pure codec: bytes in, messages out, no I/O.
//! - [`conn`]: a TCP connection that owns its stream and read buffer, and reads and writes
//!   whole messages with a framing (optionally printing every byte it moves).
//! - [`deadline`]: a deadline for each message, a pure clock (one of the defences
//!   against slowloris).
//! - [`grade`]: the steps, verdicts and report of the graders (`--check`).
//! - [`net`]: the socket set-up, one system call at a time: `socket`, `setsockopt`,
//!   `bind`, `listen`.
//! - [`server`]: what the TCP servers share: limits, admission, stats, a clean Ctrl-C, and
//!   the accept loop with a thread per connection, which survives resource exhaustion.
//! - [`output`]: the event lines (time, connection id, peer) and the `--trace` hex dump.
//! - [`cli`]: durations in seconds, parsed the same way by every program.
//! - [`generate`]: `--generate man|complete-bash|...`, the man page and completions made
//!   from each program's flags.
//! - [`udp`]: UDP sockets, truncated datagrams, and the kernel's drop counter.
//! - [`ratelimit`]: a token bucket per source address, against UDP floods and reflection.
//! - [`files`]: the names a server takes from the network, and writes that leave no half
//!   file under a real name; [`progress`], the bars of a transfer.
//! - [`testing`]: for the crates' tests: run a server as a process on port 0.
//! - [`os`]: the one place where Linux, macOS and Windows differ, each system's way side
//!   by side (truncated datagrams, `SO_REUSEADDR`, limits, file-system calls).
//! - [`tcpinfo`]: what the kernel's TCP knows about a connection (RTT, cwnd, retransmissions).
//! - [`capacity`]: how many connections this process can really hold (open files,
//!   threads, memory maps), so a server can warn before it promises too much.

pub mod addr;
pub mod capacity;
pub mod cli;
pub mod conn;
pub mod deadline;
pub mod files;
pub mod frame;
pub mod generate;
pub mod grade;
pub mod net;
pub mod os;
pub mod output;
pub mod progress;
pub mod ratelimit;
pub mod server;
pub mod tcpinfo;
pub mod testing;
pub mod udp;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for a failure at run time (could not connect, a check failed, ...).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code for a usage error (bad flag, bad address). clap uses it too.
pub const EXIT_USAGE: i32 = 2;
