//! # `udp-client --check`: grade any UDP echo server of the tutorial's kind
//!
//! The tutorial's server replies `Hi!` + the datagram. Four steps check what its
//! `recvfrom(1024)` and its `'Hi!{}'.format(data)` get wrong, and what a real server must
//! do besides:
//!
//! 1. the reply to `hello!` is `Hi!hello!`, byte for byte;
//! 2. a 2,000-byte datagram is answered whole (a 1,024-byte buffer cuts it);
//! 3. an empty datagram is a datagram, and is answered `Hi!`;
//! 4. 200 requests sent at once, each with its own number, all come back, each matched to
//!    its request (UDP keeps no order and no count: the client must match).
//!
//! Then the server must still answer `hello!`. Each step has a retry or two, because UDP
//! may lose a datagram even on a good network: a lost reply is not the server's fault,
//! a wrong one is.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::grade::{Report, Verdict};
use common::output::printable;

use crate::{Client, ClientError, Options};

/// The size of the large datagram: more than the tutorial's 1024-byte buffer, less than
/// an Ethernet frame's worth of two.
pub const LARGE: usize = 2000;
/// Requests in flight at once in the matching step.
pub const IN_FLIGHT: usize = 200;
/// Tries per request in steps 1–3 (UDP may lose one now and then).
const TRIES: u32 = 3;
/// What every reply starts with.
const PREFIX: &[u8] = b"Hi!";

/// Runs the four steps and the final `hello!`. Only a server that cannot be addressed is
/// an `Err`; everything after that is a verdict.
pub fn run(opts: &Options) -> Result<Report, ClientError> {
    let mut client = Client::connect(opts)?;
    let wait = opts.timeout;
    let mut steps = vec![
        Verdict::of(
            "the reply to hello!",
            exchange(&mut client, b"hello!", wait).map(|_| "Hi!hello!".to_string()),
        ),
        Verdict::of(
            "a 2,000-byte datagram answered whole",
            exchange(&mut client, &[b'x'; LARGE], wait)
                .map(|n| format!("{n} bytes back: Hi! and all {LARGE}")),
        ),
        Verdict::of(
            "an empty datagram",
            exchange(&mut client, b"", wait).map(|_| "answered Hi!".to_string()),
        ),
        Verdict::of("200 requests in flight", in_flight(&mut client, wait)),
    ];
    steps.push(Verdict::of(
        "still answering afterwards",
        exchange(&mut client, b"hello!", wait).map(|_| "Hi!hello!".to_string()),
    ));
    Ok(Report::new(opts.addr.to_string(), steps))
}

/// Sends `msg` and expects exactly `Hi!` + `msg`; returns the reply's size. A reply that
/// is not the one expected fails at once; silence is retried.
fn exchange(client: &mut Client, msg: &[u8], wait: Duration) -> Result<usize, String> {
    let want = [PREFIX, msg].concat();
    for _ in 0..TRIES {
        client.send(msg).map_err(|e| e.to_string())?;
        match client.recv(wait).map_err(|e| e.to_string())? {
            Some(reply) if reply == want.as_slice() => return Ok(reply.len()),
            Some(reply) => {
                return Err(format!(
                    "got {} bytes, \"{}\", not {} bytes, \"{}\"",
                    reply.len(),
                    common::output::preview(reply, common::output::PREVIEW_CHARS),
                    want.len(),
                    printable(&want[..want.len().min(40)])
                ))
            }
            None => continue,
        }
    }
    Err(format!(
        "no reply in {TRIES} tries of {:.1} s each",
        wait.as_secs_f64()
    ))
}

/// Sends `IN_FLIGHT` numbered requests without waiting, then matches the replies.
fn in_flight(client: &mut Client, wait: Duration) -> Result<String, String> {
    let requests: Vec<Vec<u8>> = (0..IN_FLIGHT)
        .map(|i| format!("req {i:03}").into_bytes())
        .collect();
    for r in &requests {
        client.send(r).map_err(|e| e.to_string())?;
    }
    let mut missing: HashSet<Vec<u8>> = requests.iter().cloned().collect();
    let (mut duplicates, mut strangers) = (0, 0);
    let deadline = Instant::now() + wait * 2;
    while !missing.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let Some(reply) = client.recv(left).map_err(|e| e.to_string())? else {
            break;
        };
        match reply.strip_prefix(PREFIX) {
            Some(request) if missing.remove(request) => {}
            Some(request) if requests.iter().any(|r| r == request) => duplicates += 1,
            _ => strangers += 1,
        }
    }
    let matched = IN_FLIGHT - missing.len();
    if strangers > 0 {
        return Err(format!(
            "{strangers} replies matched no request ({matched} of {IN_FLIGHT} matched)"
        ));
    }
    // A few lost on a busy machine are UDP; most lost is the server.
    if matched * 100 < IN_FLIGHT * 95 {
        return Err(format!(
            "only {matched} of {IN_FLIGHT} replies came back within {:.1} s",
            (wait * 2).as_secs_f64()
        ));
    }
    Ok(format!(
        "{matched} of {IN_FLIGHT} matched to their requests{}",
        if duplicates > 0 {
            format!(", {duplicates} duplicates")
        } else {
            String::new()
        }
    ))
}
