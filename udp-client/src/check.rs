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
//!
//! Whatever the server does, the grade is done within bounds: each step has its own
//! deadline, which cuts every wait inside it (`--timeout` per try), and the whole run has
//! a minute ([`RUN_LIMIT`]). A server that never answers fails each step after its tries.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::grade::class::{self, ClassArgs, Grader, Target};
use common::grade::{run_steps, Report, Step, StepDeadline, Wait, RUN_LIMIT};
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
/// The longest a step may take, all its tries together.
const STEP: Duration = Duration::from_secs(10);

/// One step: sent to the server on the grader's socket, with `--timeout` per try, within
/// the step's deadline.
type Probe = fn(&mut Client, Duration, StepDeadline) -> Result<String, String>;

/// The steps, in order.
const PROBES: [(&str, Probe); 5] = [
    ("the reply to hello!", hello),
    ("a 2,000-byte datagram answered whole", large),
    ("an empty datagram", empty),
    ("200 requests in flight", in_flight),
    ("still answering afterwards", hello),
];

fn hello(c: &mut Client, timeout: Duration, d: StepDeadline) -> Result<String, String> {
    exchange(c, b"hello!", timeout, d).map(|_| "Hi!hello!".to_string())
}

fn large(c: &mut Client, timeout: Duration, d: StepDeadline) -> Result<String, String> {
    exchange(c, &[b'x'; LARGE], timeout, d).map(|n| format!("{n} bytes back: Hi! and all {LARGE}"))
}

fn empty(c: &mut Client, timeout: Duration, d: StepDeadline) -> Result<String, String> {
    exchange(c, b"", timeout, d).map(|_| "answered Hi!".to_string())
}

/// Runs the four steps and the final `hello!`. Only a server that cannot be addressed is
/// an `Err`; everything after that is a verdict.
pub fn run(opts: &Options) -> Result<Report, ClientError> {
    let client = std::cell::RefCell::new(Client::connect(opts)?);
    let client = &client;
    let timeout = opts.timeout;
    let steps = PROBES
        .iter()
        .map(|&(name, probe)| Step {
            name: name.to_string(),
            budget: STEP,
            heavy: false,
            run: Box::new(move |deadline| probe(&mut client.borrow_mut(), timeout, deadline)),
        })
        .collect();
    // Every step is tried, even after a wrong first reply: each shows another bug (the
    // tutorial's server formats the bytes, and cuts large datagrams), and each is short.
    let verdicts = run_steps(steps, None, RUN_LIMIT);
    Ok(Report::new(opts.addr.to_string(), verdicts))
}

/// `udp-client --check`, against the server of `opts` or the `--targets` of `class`:
/// prints the verdicts (or JSON) and writes `--report`. `Ok(true)` when every server
/// passed.
pub fn main(opts: &Options, class: &ClassArgs, json: bool) -> Result<bool, ClientError> {
    // One server: its events on stderr; a class: only the rows.
    let one = class.targets.is_none();
    let grade = |target: &Target| -> Result<Report, String> {
        let opts = Options {
            addr: target.addr.clone(),
            quiet: opts.quiet || !one,
            trace: opts.trace && one,
            ..opts.clone()
        };
        run(&opts).map_err(|e| e.to_string())
    };
    let grader = Grader {
        program: "udp-client",
        version: env!("CARGO_PKG_VERSION"),
        what: "check",
        command: "udp-client --check".into(),
        grade: &grade,
    };
    Ok(class::check(&grader, &opts.addr, class, json)?)
}

/// Sends `msg` and expects exactly `Hi!` + `msg`; returns the reply's size. A reply that
/// is not the one expected fails at once; silence is retried, each try waiting at most
/// `timeout`, all within the step's `deadline`.
fn exchange(
    client: &mut Client,
    msg: &[u8],
    timeout: Duration,
    deadline: StepDeadline,
) -> Result<usize, String> {
    let want = [PREFIX, msg].concat();
    let wait = Wait::new(Some(timeout), "--timeout", Some(deadline));
    for _ in 0..TRIES {
        let Ok(this_try) = wait.timeout_at(Instant::now()) else {
            return Err(format!("no reply: {}", wait.ran_out(Instant::now())));
        };
        client.send(msg).map_err(|e| e.to_string())?;
        match client
            .recv(this_try.unwrap_or(timeout))
            .map_err(|e| e.to_string())?
        {
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
            None if wait.step_passed(Instant::now()) => {
                return Err(format!("no reply: {}", wait.ran_out(Instant::now())))
            }
            None => continue,
        }
    }
    Err(format!(
        "no reply in {TRIES} tries of {} each (--timeout)",
        common::grade::seconds(timeout)
    ))
}

/// Sends `IN_FLIGHT` numbered requests without waiting, then matches the replies, for at
/// most twice `timeout` within the step's `deadline`.
fn in_flight(
    client: &mut Client,
    timeout: Duration,
    deadline: StepDeadline,
) -> Result<String, String> {
    let requests: Vec<Vec<u8>> = (0..IN_FLIGHT)
        .map(|i| format!("req {i:03}").into_bytes())
        .collect();
    for r in &requests {
        client.send(r).map_err(|e| e.to_string())?;
    }
    let mut missing: HashSet<Vec<u8>> = requests.iter().cloned().collect();
    let (mut duplicates, mut strangers) = (0, 0);
    // One wait for all the replies: twice --timeout, within the step.
    let window = timeout.saturating_mul(2);
    let wait = Wait::new(Some(window), "twice --timeout", Some(deadline));
    let until = Instant::now()
        + wait
            .timeout_at(Instant::now())
            .ok()
            .flatten()
            .unwrap_or_default();
    while !missing.is_empty() {
        let left = until.saturating_duration_since(Instant::now());
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
            "only {matched} of {IN_FLIGHT} replies came back: {}",
            wait.ran_out(Instant::now())
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
