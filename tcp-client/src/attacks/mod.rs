//! # `--check --attacks`: grade any hello server against what a network does to it
//!
//! `--check` plays the tutorial's session on a quiet loopback. A real server also meets
//! messages merged and split by TCP, a client that types one byte at a time, huge and
//! garbage messages, clients that vanish mid-message, many clients at once, clients that
//! say nothing or read nothing, and floods of connections. The tutorial warns that TCP
//! servers are easy to attack; this suite is the attack, in bounded, loopback-sized doses.
//!
//! Every step says *pass* or *fail* with a one-line reason, and after every step the
//! server must still serve a fresh client the tutorial's session correctly: a server that
//! survives an attack but answers wrongly afterwards has not survived it.
//!
//! Whatever the server does, the suite ends, and soon: every step has its own deadline,
//! which cuts every wait inside it (connect, reply, close), and the whole run has one
//! minute ([`common::grade::RUN_LIMIT`]). A server that serves one client at a time, or
//! never answers, or never closes, fails the steps it fails, each with the limit that ran
//! out, within that minute; ours passes all twelve in under a second. The flood opens its
//! connections all at once, without waiting for one before the next, so a full backlog
//! costs it one deadline, not one connect timeout per connection.
//!
//! The grader is itself correct about TCP: it reads replies through the framing
//! ([`common::conn`]), so a server that writes each reply one byte at a time passes, and a
//! server that merges two replies into one write passes too. It speaks the framing of
//! `--framing` (line by default).
//!
//! The files: this one is the suite, step by step; `flood.rs` opens the flood's
//! connections all at once.

mod flood;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::cli::nonzero;
use common::frame::{self, Framing};
use common::grade::{run_steps, Step, StepDeadline, Wait, RUN_LIMIT};
pub use common::grade::{Report, Verdict};
use common::output::printable;

use crate::{Client, ClientError, Options, EXIT_MESSAGE, EXPECTED_GREETING, EXPECTED_REPLY_PREFIX};

use flood::open_at_once;

/// Concurrent clients in the "many clients" step.
pub const CONCURRENT_CLIENTS: usize = 50;
/// Connections opened at once from this one address in the flood step.
pub const FLOOD_CONNECTIONS: usize = 200;
/// Bytes of the oversize message: larger than any sane message limit.
pub const OVERSIZE: usize = 1 << 20;
/// Messages a client sends without reading any reply, in the "reads nothing" step.
pub const UNREAD_MESSAGES: usize = 2000;
/// The pause between the bytes of a message sent one byte at a time.
const BYTE_PAUSE: Duration = Duration::from_millis(20);
/// How long a step waits for the server to end a connection it should end (it leaves the
/// rest of the step's time to the fresh client after it).
const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// The longest a step may take, the fresh client after it included.
const STEP: Duration = Duration::from_secs(10);
/// The longest the steps that involve many connections may take.
const LONG_STEP: Duration = Duration::from_secs(15);
/// How long the flood waits for the kernel to answer its connects: a SYN is answered in
/// a millisecond or two, unless the server's listen queue is full.
const FLOOD_WAIT: Duration = Duration::from_secs(2);
/// How long, after the flood, a fresh client is tried again while the server catches up.
const FLOOD_RECOVERY: Duration = Duration::from_secs(5);
/// Between two tries of a fresh client after the flood.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// Why the steps after a failed first one are not tried.
const GATE: &str = "the server does not pass the tutorial's session";

/// What a step found: `Ok` with what passed, `Err` with why it failed.
type Finding = Result<String, String>;

/// One step of the suite: its name, its deadline, whether it loads the machine (a class
/// graded in parallel takes turns at those), and the attack.
struct Attack {
    name: &'static str,
    budget: Duration,
    heavy: bool,
    run: fn(&Options) -> Finding,
}

const fn attack(name: &'static str, run: fn(&Options) -> Finding) -> Attack {
    Attack {
        name,
        budget: STEP,
        heavy: false,
        run,
    }
}

/// The steps, in order: each an attack (or a check), then the fresh client.
const STEPS: [Attack; 12] = [
    attack("the tutorial's session", tutorial_session),
    attack("several messages in one write", merged_messages),
    attack("one message split over writes", split_message),
    attack("a message one byte at a time", byte_at_a_time),
    attack("an oversize message", oversize_message),
    attack("garbage and invalid UTF-8", garbage),
    attack("end of stream in the middle of a message", eof_mid_message),
    attack("a reset in the middle of a message", reset_mid_message),
    Attack {
        name: "50 clients at once",
        budget: LONG_STEP,
        heavy: true,
        run: concurrent_clients,
    },
    attack("a silent client does not block the others", silent_client),
    attack("a client that reads nothing", unread_replies),
    Attack {
        name: "a flood of connections from one address",
        budget: LONG_STEP,
        heavy: true,
        run: connection_flood,
    },
];

/// Runs the suite against the server of `opts`. Only a server that cannot be reached at
/// all is an `Err`; everything after that is a verdict.
pub fn run(opts: &Options) -> Result<Report, ClientError> {
    // One connection first: "nothing listens there" is one clear error, not 12 failures.
    // It counts against the run's minute, as the steps do.
    let started = Instant::now();
    drop(Client::connect(&Options {
        deadline: Some(StepDeadline::new(STEP, started)),
        ..opts.clone()
    })?);
    let opts = &Options {
        quiet: true,
        trace: false,
        ..opts.clone()
    };
    let steps = STEPS
        .iter()
        .map(|attack| Step {
            name: attack.name.to_string(),
            budget: attack.budget,
            heavy: attack.heavy,
            run: Box::new(move |deadline| {
                let opts = &Options {
                    deadline: Some(deadline),
                    ..opts.clone()
                };
                (attack.run)(opts).and_then(|detail| match fresh_client(opts) {
                    Ok(()) => Ok(detail),
                    Err(why) => Err(format!("{detail}; then a fresh client: {why}")),
                })
            }),
        })
        .collect();
    let verdicts = run_steps(
        steps,
        Some(GATE),
        RUN_LIMIT.saturating_sub(started.elapsed()),
    );
    Ok(Report::new(opts.addr.to_string(), verdicts))
}

// ---- what every step needs ---------------------------------------------------------------

fn connect(opts: &Options) -> Result<Client, String> {
    Client::connect(opts).map_err(|e| e.to_string())
}

/// A connected client that has read and checked the greeting.
fn greeted_client(opts: &Options) -> Result<Client, String> {
    let mut c = connect(opts)?;
    match c.greeting() {
        Ok(g) if g == EXPECTED_GREETING => Ok(c),
        Ok(g) => Err(format!(
            "the greeting was \"{}\", not \"{}\"",
            printable_short(&g),
            printable(EXPECTED_GREETING)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// A greeted client that has sent the first half of a message and no more.
fn half_a_message(opts: &Options) -> Result<Client, String> {
    let mut c = greeted_client(opts)?;
    let bytes = framed(opts, b"half a message");
    c.send_bytes(&bytes[..bytes.len() / 2])
        .map_err(|e| e.to_string())?;
    Ok(c)
}

/// Reads one message and compares it with `want`.
fn expect(c: &mut Client, want: &[u8], what: &str) -> Result<(), String> {
    match c.recv(what) {
        Ok(Some(got)) if got == want => Ok(()),
        Ok(Some(got)) => Err(format!(
            "the {what} was \"{}\", not \"{}\"",
            printable_short(&got),
            printable(want)
        )),
        Ok(None) => Err(format!(
            "the server closed the connection instead of sending the {what}"
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn reply_to(msg: &[u8]) -> Vec<u8> {
    [EXPECTED_REPLY_PREFIX, msg].concat()
}

/// A message framed for the wire, as one buffer (to send in pieces on purpose).
fn framed(opts: &Options, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = frame::encode(opts.framing, msg, &mut out);
    out
}

fn printable_short(bytes: &[u8]) -> String {
    common::output::preview(bytes, common::output::PREVIEW_CHARS)
}

/// After `exit`, the server must close: end of stream.
fn closes_after_exit(c: &mut Client) -> Result<(), String> {
    c.send(EXIT_MESSAGE).map_err(|e| e.to_string())?;
    match c.recv("end of stream after exit") {
        Ok(None) => Ok(()),
        Ok(Some(m)) => Err(format!(
            "after \"exit\" the server sent \"{}\" instead of closing",
            printable_short(&m)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The check after every step: a new client gets the greeting, a reply, and the close.
fn fresh_client(opts: &Options) -> Result<(), String> {
    let mut c = greeted_client(opts)?;
    c.send(b"li").map_err(|e| e.to_string())?;
    expect(&mut c, &reply_to(b"li"), "reply to \"li\"")?;
    closes_after_exit(&mut c)
}

/// Waits until the server ends `stream` (end of stream or reset), for at most
/// `CLOSE_WAIT` in all and within the step; anything it sends before is read and thrown
/// away.
fn ended_by_server(opts: &Options, mut stream: &TcpStream) -> Result<String, String> {
    let close_by = Instant::now() + CLOSE_WAIT;
    let step = Wait::new(None, "", opts.deadline);
    let mut sink = [0u8; 4096];
    let mut got = 0usize;
    loop {
        let now = Instant::now();
        let left = close_by.saturating_duration_since(now);
        let Ok(step_left) = step.timeout_at(now) else {
            return Err(format!("still open: {}", step.ran_out(now)));
        };
        if left.is_zero() {
            return Err(format!(
                "still open after {} (the grader's wait for a close)",
                common::grade::seconds(CLOSE_WAIT)
            ));
        }
        let wait = step_left.map_or(left, |s| s.min(left));
        let _ = stream.set_read_timeout(Some(wait));
        match stream.read(&mut sink) {
            Ok(0) => return Ok(format!("closed after {got} bytes of answer")),
            Ok(n) => got += n,
            Err(e) if common::net::is_reset(&e) => {
                return Ok(format!("reset after {got} bytes of answer"))
            }
            // Either limit: the loop says which.
            Err(e) if common::net::is_timeout(&e) => {}
            Err(e) => return Err(format!("still open ({})", common::net::describe(&e))),
        }
    }
}

// ---- the steps ------------------------------------------------------------------------------

fn tutorial_session(opts: &Options) -> Finding {
    let steps = crate::tutorial::run_check(opts).map_err(|e| e.to_string())?;
    match steps.iter().find(|s| !s.ok) {
        None => Ok("greeting, three replies, close after exit".into()),
        Some(s) => Err(format!(
            "{}: expected {}, got {}",
            s.what, s.expected, s.got
        )),
    }
}

fn merged_messages(opts: &Options) -> Finding {
    let mut c = greeted_client(opts)?;
    let all: Vec<u8> = [b"li".as_slice(), b"bo", b"ca"]
        .iter()
        .flat_map(|m| framed(opts, m))
        .collect();
    c.send_bytes(&all).map_err(|e| e.to_string())?;
    for m in [b"li".as_slice(), b"bo", b"ca"] {
        expect(
            &mut c,
            &reply_to(m),
            &format!("reply to \"{}\"", printable(m)),
        )?;
    }
    closes_after_exit(&mut c)?;
    Ok("three messages in one write, three replies".into())
}

fn split_message(opts: &Options) -> Finding {
    let mut c = greeted_client(opts)?;
    let bytes = framed(opts, b"hello");
    let (a, b) = bytes.split_at(bytes.len() / 2);
    c.send_bytes(a).map_err(|e| e.to_string())?;
    thread::sleep(Duration::from_millis(100));
    c.send_bytes(b).map_err(|e| e.to_string())?;
    expect(
        &mut c,
        &reply_to(b"hello"),
        "reply to \"hello\" sent in two writes",
    )?;
    closes_after_exit(&mut c)?;
    Ok("one reply to a message sent in two writes".into())
}

fn byte_at_a_time(opts: &Options) -> Finding {
    let mut c = greeted_client(opts)?;
    for byte in framed(opts, b"slowly") {
        c.send_bytes(&[byte]).map_err(|e| e.to_string())?;
        thread::sleep(BYTE_PAUSE);
    }
    expect(
        &mut c,
        &reply_to(b"slowly"),
        "reply to \"slowly\" typed a byte at a time",
    )?;
    closes_after_exit(&mut c)?;
    Ok("one reply to a message sent a byte at a time".into())
}

fn oversize_message(opts: &Options) -> Finding {
    let mut c = greeted_client(opts)?;
    let big = vec![b'x'; OVERSIZE];
    let bytes = match opts.framing {
        // The length header claims it all; the body follows.
        Framing::Length => [&(OVERSIZE as u32).to_be_bytes()[..], &big].concat(),
        _ => [&big[..], b"\n"].concat(),
    };
    // The server may stop reading and close: a write error then is fine (and a write that
    // never goes through is cut by the step's deadline).
    let _ = c.send_bytes(&bytes);
    Ok(match ended_by_server(opts, c.stream()) {
        Ok(how) => format!("1 MiB message: the server {how}"),
        Err(_) => "1 MiB message: the server kept the connection".into(),
    })
}

fn garbage(opts: &Options) -> Finding {
    let mut c = greeted_client(opts)?;
    let mut junk: Vec<u8> = (0..=255u8).rev().collect();
    junk.extend_from_slice(b"\xff\xfe\xc3\x28 not utf-8 \xe2\x82\n");
    let _ = c.send_bytes(&junk);
    let _ = c.stream().shutdown(Shutdown::Write);
    let how = ended_by_server(opts, c.stream())?;
    Ok(format!(
        "every byte value and broken UTF-8: the server {how}"
    ))
}

fn eof_mid_message(opts: &Options) -> Finding {
    let c = half_a_message(opts)?;
    c.stream()
        .shutdown(Shutdown::Write)
        .map_err(|e| e.to_string())?;
    let how = ended_by_server(opts, c.stream())?;
    Ok(format!("half a message, then FIN: the server {how}"))
}

fn reset_mid_message(opts: &Options) -> Finding {
    let c = half_a_message(opts)?;
    // Linger 0: close() sends RST instead of FIN.
    let _ = common::net::abort_on_close(c.stream());
    drop(c);
    thread::sleep(Duration::from_millis(100));
    Ok("half a message, then RST".into())
}

fn concurrent_clients(opts: &Options) -> Finding {
    let handles: Vec<_> = (0..CONCURRENT_CLIENTS)
        .map(|i| {
            let opts = opts.clone();
            thread::Builder::new().name(format!("client-{i}")).spawn(
                move || -> Result<(), String> {
                    let mut c = greeted_client(&opts)?;
                    let msg = format!("client {i}");
                    c.send(msg.as_bytes()).map_err(|e| e.to_string())?;
                    expect(&mut c, &reply_to(msg.as_bytes()), "reply")?;
                    closes_after_exit(&mut c)
                },
            )
        })
        .collect();
    let mut failed = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        match h.map(|h| h.join()) {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(why))) => failed.push(format!("client {i}: {why}")),
            Ok(Err(_)) => failed.push(format!("client {i}: the grader's thread failed")),
            Err(e) => failed.push(format!(
                "client {i}: the grader could not start a thread ({e})"
            )),
        }
    }
    match failed.first() {
        None => Ok(format!(
            "{CONCURRENT_CLIENTS} sessions at once, all correct"
        )),
        Some(first) => Err(format!(
            "{} of {CONCURRENT_CLIENTS} failed; {first}",
            failed.len()
        )),
    }
}

fn silent_client(opts: &Options) -> Finding {
    // Connected, greeted, and then nothing: the server must serve others meanwhile.
    let _silent = greeted_client(opts)?;
    fresh_client(opts).map_err(|why| format!("while one client said nothing: {why}"))?;
    Ok("served another client while one said nothing".into())
}

fn unread_replies(opts: &Options) -> Finding {
    let c = connect(opts)?;
    // Many messages, no reading: the replies pile up in the server's send buffer and
    // ours until the server's writes block. Others must still be served.
    let all: Vec<u8> = (0..UNREAD_MESSAGES)
        .flat_map(|i| framed(opts, format!("unread {i:04} {}", "x".repeat(64)).as_bytes()))
        .collect();
    let stream = c.stream().try_clone().map_err(|e| e.to_string())?;
    // Each write waits at most --timeout, within the step; and the shutdown below ends a
    // write still blocked, so the writer is joined at once.
    let wait = Wait::new(nonzero(opts.timeout), "--timeout", opts.deadline);
    let write_timeout = wait.timeout_at(Instant::now()).ok().flatten();
    let writer = thread::Builder::new()
        .name("unread-writer".into())
        .spawn(move || {
            let _ = stream.set_write_timeout(write_timeout);
            let _ = (&stream).write_all(&all);
        })
        .map_err(|e| format!("the grader could not start a thread ({e})"))?;
    thread::sleep(Duration::from_millis(200));
    let served = fresh_client(opts);
    let _ = c.stream().shutdown(Shutdown::Both);
    let _ = writer.join();
    served.map_err(|why| format!("while one client read nothing: {why}"))?;
    Ok(format!(
        "served another client while one sent {UNREAD_MESSAGES} messages and read nothing"
    ))
}

fn connection_flood(opts: &Options) -> Finding {
    let addr = server_addr(opts)?;
    // All at once, as a flood comes: a connect that the server's full backlog never
    // answers holds up none of the others, and all of them end within one wait.
    let wait = Wait::new(
        Some(FLOOD_WAIT.min(opts.connect_timeout)),
        "the flood's wait for the kernel",
        opts.deadline,
    );
    let within = wait
        .timeout_at(Instant::now())
        .map_err(|_| format!("no flood: {}", wait.ran_out(Instant::now())))?
        .unwrap_or(FLOOD_WAIT);
    let flood = open_at_once(addr, FLOOD_CONNECTIONS, within)?;
    let opened = flood.held.len();
    if let Some(why) = &flood.local_error {
        // The grader's own limit (open files, say): not the server's fault, and no verdict.
        return Err(format!(
            "the grader could open only {} of {FLOOD_CONNECTIONS} sockets ({why}): raise its \
             limit (ulimit -n) and grade again",
            FLOOD_CONNECTIONS - flood.failed_here
        ));
    }
    if opened == 0 && flood.refused == FLOOD_CONNECTIONS {
        return Err(format!(
            "all {FLOOD_CONNECTIONS} connections refused: nothing listens at {addr} any more"
        ));
    }
    drop(flood.held);
    // The server may need a moment to see them all close.
    let recovered_by = Instant::now() + FLOOD_RECOVERY;
    loop {
        match fresh_client(opts) {
            Ok(()) => break,
            Err(why)
                if Instant::now() >= recovered_by
                    || opts.deadline.is_none_or(|d| d.passed(Instant::now())) =>
            {
                return Err(format!(
                    "{opened} connections opened and closed; then a fresh client: {why}"
                ))
            }
            Err(_) => thread::sleep(RETRY_PAUSE),
        }
    }
    let mut detail = format!(
        "{FLOOD_CONNECTIONS} connections at once from one address ({opened} accepted by the kernel"
    );
    if flood.refused > 0 {
        detail.push_str(&format!(", {} refused", flood.refused));
    }
    if flood.unanswered > 0 {
        detail.push_str(&format!(
            ", {} unanswered: {}",
            flood.unanswered,
            wait.ran_out(Instant::now())
        ));
    }
    detail.push(')');
    Ok(detail)
}

/// The server's address, as the clients reach it.
fn server_addr(opts: &Options) -> Result<SocketAddr, String> {
    opts.addr
        .resolve()
        .map_err(|e| format!("could not look up {}: {e}", opts.addr))?
        .first()
        .copied()
        .ok_or_else(|| format!("{} has no address", opts.addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_a_deadline_that_fits_in_the_run() {
        for a in &STEPS {
            assert!(a.budget > CLOSE_WAIT && a.budget < RUN_LIMIT, "{}", a.name);
        }
    }
}
