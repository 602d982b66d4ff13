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
//! The grader is itself correct about TCP: it reads replies through the framing
//! ([`common::conn`]), so a server that writes each reply one byte at a time passes, and a
//! server that merges two replies into one write passes too. It speaks the framing of
//! `--framing` (line by default).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::frame::{self, Framing};
pub use common::grade::{Report, Verdict};
use common::output::printable;

use crate::{Client, ClientError, Options, EXIT_MESSAGE, EXPECTED_GREETING, EXPECTED_REPLY_PREFIX};

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
/// How long a step waits for the server to end a connection it should end.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

type Outcome = Result<String, String>;
/// One step: its name, and the attack (what it did, or why it failed).
type Step = (&'static str, fn(&Options) -> Outcome);

/// The steps, in order: each an attack (or a check), then the fresh client.
const STEPS: [Step; 12] = [
    ("the tutorial's session", tutorial_session),
    ("several messages in one write", merged_messages),
    ("one message split over writes", split_message),
    ("a message one byte at a time", byte_at_a_time),
    ("an oversize message", oversize_message),
    ("garbage and invalid UTF-8", garbage),
    ("end of stream in the middle of a message", eof_mid_message),
    ("a reset in the middle of a message", reset_mid_message),
    ("50 clients at once", concurrent_clients),
    ("a silent client does not block the others", silent_client),
    ("a client that reads nothing", unread_replies),
    ("a flood of connections from one address", connection_flood),
];

/// Runs the suite against the server of `opts`. Only a server that cannot be reached at
/// all is an `Err`; everything after that is a verdict.
pub fn run(opts: &Options) -> Result<Report, ClientError> {
    // One connection first: "nothing listens there" is one clear error, not 12 failures.
    drop(Client::connect(opts)?);
    let opts = &Options {
        quiet: true,
        trace: false,
        ..opts.clone()
    };
    let mut steps: Vec<Verdict> = Vec::new();
    for (step, attack) in STEPS {
        // A server that fails the tutorial's session cannot be judged on the rest: each
        // would only fail the same way, one timeout at a time.
        if steps.first().is_some_and(|first| !first.ok) {
            steps.push(Verdict {
                step,
                ok: false,
                detail: "not tried: the server does not pass the tutorial's session".into(),
            });
            continue;
        }
        let outcome = attack(opts).and_then(|detail| match fresh_client(opts) {
            Ok(()) => Ok(detail),
            Err(why) => Err(format!("{detail}; then a fresh client: {why}")),
        });
        steps.push(Verdict::of(step, outcome));
    }
    Ok(Report::new(opts.addr.to_string(), steps))
}

/// `--check [--attacks] [--json]` against one server: prints the verdicts (or one JSON
/// object); `Ok(true)` when the server passed.
pub fn grade_one(opts: &Options, attacks: bool, json: bool) -> Result<bool, ClientError> {
    let report = if attacks {
        run(opts)?
    } else {
        session_report(opts)?
    };
    if json {
        common::output::out_line(format_args!("{}", report.to_json()));
    } else {
        report.print(if attacks { "attacks" } else { "check" });
    }
    Ok(report.passed)
}

/// The tutorial's session alone, as a report (`--check --json`).
fn session_report(opts: &Options) -> Result<Report, ClientError> {
    let steps = crate::run_check(opts)?;
    let steps: Vec<Verdict> = steps
        .into_iter()
        .map(|s| Verdict {
            step: "the tutorial's session",
            ok: s.ok,
            detail: if s.ok {
                format!("{}: {}", s.what, s.got)
            } else {
                format!("{}: expected {}, got {}", s.what, s.expected, s.got)
            },
        })
        .collect();
    let complete = steps.len() == crate::TUTORIAL_MESSAGES.len() + 1;
    let mut report = Report::new(opts.addr.to_string(), steps);
    report.passed &= complete;
    Ok(report)
}

/// One line of a `--targets` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub addr: common::addr::Endpoint,
}

/// Reads a `--targets` file: `NAME ADDR` per line, blank lines and `#` comments skipped.
/// A bad line is a usage error that names it.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(addr), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "line {}: expected `NAME ADDR`, got {line:?}",
                i + 1
            ));
        };
        let addr =
            common::addr::Endpoint::parse(addr).map_err(|e| format!("line {}: {e}", i + 1))?;
        targets.push(Target {
            name: name.to_string(),
            addr,
        });
    }
    if targets.is_empty() {
        return Err("no `NAME ADDR` line in it".into());
    }
    Ok(targets)
}

/// One server's row in a `--targets` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub name: String,
    pub addr: String,
    pub passed: bool,
    /// Steps passed, of how many.
    pub score: (usize, usize),
    /// The first failure, or why the server could not be graded.
    pub why: Option<String>,
    pub report: Option<Report>,
}

/// `--check [--attacks] --targets FILE`: grades every server of a class, one row each,
/// then a summary; `Ok(true)` when all passed.
pub fn grade_targets(
    opts: &Options,
    file: &std::path::Path,
    attacks: bool,
    json: bool,
) -> Result<bool, ClientError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ClientError::Usage(format!("could not read --targets {}: {e}", file.display()))
    })?;
    let targets = parse_targets(&text)
        .map_err(|e| ClientError::Usage(format!("--targets {}: {e}", file.display())))?;
    let mut rows = Vec::new();
    for t in targets {
        let opts = Options {
            addr: t.addr.clone(),
            quiet: true,
            ..opts.clone()
        };
        let graded = if attacks {
            run(&opts)
        } else {
            session_report(&opts)
        };
        rows.push(match graded {
            Ok(report) => Row {
                name: t.name,
                addr: t.addr.to_string(),
                passed: report.passed,
                score: (report.passed_steps(), report.steps.len()),
                why: report
                    .first_failure()
                    .map(|f| format!("{}: {}", f.step, f.detail)),
                report: Some(report),
            },
            Err(e) => Row {
                name: t.name,
                addr: t.addr.to_string(),
                passed: false,
                score: (0, 0),
                why: Some(e.to_string()),
                report: None,
            },
        });
        if let (false, Some(row)) = (json, rows.last()) {
            print_row(row);
        }
    }
    let passed = rows.iter().filter(|r| r.passed).count();
    if json {
        let all = serde_json::json!({ "passed": passed, "total": rows.len(), "servers": rows });
        common::output::out_line(format_args!("{all}"));
    } else {
        common::output::out_line(format_args!(
            "{passed} of {} servers passed{}",
            rows.len(),
            if attacks {
                " the attacks"
            } else {
                " the tutorial's session"
            }
        ));
    }
    Ok(passed == rows.len())
}

fn print_row(row: &Row) {
    let verdict = if row.passed { "passed" } else { "FAILED" };
    let (ok, of) = row.score;
    let why = row.why.as_deref().unwrap_or("");
    common::output::out_line(format_args!(
        "{:<16} {:<22} {verdict} {ok:>2}/{of:<2} {why}",
        row.name, row.addr
    ));
}

// ---- what every step needs ---------------------------------------------------------------

fn connect(opts: &Options) -> Result<Client, String> {
    Client::connect(opts).map_err(|e| e.to_string())
}

/// A connected client that has read and checked the greeting.
fn greeted_client(opts: &Options) -> Result<Client, String> {
    let mut c = connect(opts)?;
    greeted(&mut c)?;
    Ok(c)
}

/// A greeted client that has sent the first half of a message and no more.
fn half_a_message(opts: &Options) -> Result<Client, String> {
    let mut c = greeted_client(opts)?;
    let bytes = framed(opts, b"half a message");
    c.send_bytes(&bytes[..bytes.len() / 2])
        .map_err(|e| e.to_string())?;
    Ok(c)
}

/// Reads the greeting and checks it.
fn greeted(c: &mut Client) -> Result<(), String> {
    expect(c, EXPECTED_GREETING, "greeting")
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

/// Waits until the server ends `stream` (end of stream or reset); anything it sends
/// before is read and thrown away.
fn ended_by_server(mut stream: &TcpStream) -> Result<String, String> {
    let _ = stream.set_read_timeout(Some(CLOSE_WAIT));
    let mut sink = [0u8; 4096];
    let mut got = 0usize;
    let deadline = Instant::now() + CLOSE_WAIT;
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return Ok(format!("closed after {got} bytes of answer")),
            Ok(n) => got += n,
            Err(e) if common::net::is_reset(&e) => {
                return Ok(format!("reset after {got} bytes of answer"))
            }
            Err(e) => return Err(format!("still open after {CLOSE_WAIT:?} ({e})")),
        }
        if Instant::now() > deadline {
            return Err(format!("still sending after {CLOSE_WAIT:?}"));
        }
    }
}

// ---- the steps ------------------------------------------------------------------------------

fn tutorial_session(opts: &Options) -> Outcome {
    let steps = crate::run_check(opts).map_err(|e| e.to_string())?;
    match steps.iter().find(|s| !s.ok) {
        None => Ok("greeting, three replies, close after exit".into()),
        Some(s) => Err(format!(
            "{}: expected {}, got {}",
            s.what, s.expected, s.got
        )),
    }
}

fn merged_messages(opts: &Options) -> Outcome {
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

fn split_message(opts: &Options) -> Outcome {
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

fn byte_at_a_time(opts: &Options) -> Outcome {
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

fn oversize_message(opts: &Options) -> Outcome {
    let mut c = greeted_client(opts)?;
    let big = vec![b'x'; OVERSIZE];
    let bytes = match opts.framing {
        // The length header claims it all; the body follows.
        Framing::Length => [&(OVERSIZE as u32).to_be_bytes()[..], &big].concat(),
        _ => [&big[..], b"\n"].concat(),
    };
    // The server may stop reading and close: a write error then is fine.
    let _ = c.send_bytes(&bytes);
    let ended = ended_by_server(c.stream());
    Ok(match ended {
        Ok(how) => format!("1 MiB message: the server {how}"),
        Err(_) => "1 MiB message: the server kept the connection".into(),
    })
}

fn garbage(opts: &Options) -> Outcome {
    let mut c = greeted_client(opts)?;
    let mut junk: Vec<u8> = (0..=255u8).rev().collect();
    junk.extend_from_slice(b"\xff\xfe\xc3\x28 not utf-8 \xe2\x82\n");
    let _ = c.send_bytes(&junk);
    let _ = c.stream().shutdown(Shutdown::Write);
    let how = ended_by_server(c.stream())?;
    Ok(format!(
        "every byte value and broken UTF-8: the server {how}"
    ))
}

fn eof_mid_message(opts: &Options) -> Outcome {
    let c = half_a_message(opts)?;
    c.stream()
        .shutdown(Shutdown::Write)
        .map_err(|e| e.to_string())?;
    let how = ended_by_server(c.stream())?;
    Ok(format!("half a message, then FIN: the server {how}"))
}

fn reset_mid_message(opts: &Options) -> Outcome {
    let c = half_a_message(opts)?;
    // Linger 0: close() sends RST instead of FIN.
    let _ = common::net::abort_on_close(c.stream());
    drop(c);
    thread::sleep(Duration::from_millis(100));
    Ok("half a message, then RST".into())
}

fn concurrent_clients(opts: &Options) -> Outcome {
    let handles: Vec<_> = (0..CONCURRENT_CLIENTS)
        .map(|i| {
            let opts = opts.clone();
            thread::spawn(move || -> Result<(), String> {
                let mut c = greeted_client(&opts)?;
                let msg = format!("client {i}");
                c.send(msg.as_bytes()).map_err(|e| e.to_string())?;
                expect(&mut c, &reply_to(msg.as_bytes()), "reply")?;
                closes_after_exit(&mut c)
            })
        })
        .collect();
    let mut failed = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(why)) => failed.push(format!("client {i}: {why}")),
            Err(_) => failed.push(format!("client {i}: the grader's thread failed")),
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

fn silent_client(opts: &Options) -> Outcome {
    // Connected, greeted, and then nothing: the server must serve others meanwhile.
    let _silent = greeted_client(opts)?;
    fresh_client(opts).map_err(|why| format!("while one client said nothing: {why}"))?;
    Ok("served another client while one said nothing".into())
}

fn unread_replies(opts: &Options) -> Outcome {
    let c = connect(opts)?;
    // Many messages, no reading: the replies pile up in the server's send buffer and
    // ours until the server's writes block. Others must still be served.
    let all: Vec<u8> = (0..UNREAD_MESSAGES)
        .flat_map(|i| framed(opts, format!("unread {i:04} {}", "x".repeat(64)).as_bytes()))
        .collect();
    let stream = c.stream().try_clone().map_err(|e| e.to_string())?;
    let writer = thread::spawn(move || {
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = (&stream).write_all(&all);
    });
    thread::sleep(Duration::from_millis(200));
    let served = fresh_client(opts);
    let _ = c.stream().shutdown(Shutdown::Both);
    let _ = writer.join();
    served.map_err(|why| format!("while one client read nothing: {why}"))?;
    Ok(format!(
        "served another client while one sent {UNREAD_MESSAGES} messages and read nothing"
    ))
}

fn connection_flood(opts: &Options) -> Outcome {
    let addr: SocketAddr = c_addr(opts)?;
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..FLOOD_CONNECTIONS {
        match TcpStream::connect_timeout(&addr, opts.connect_timeout) {
            Ok(s) => held.push(s),
            Err(_) => refused += 1,
        }
    }
    let opened = held.len();
    drop(held);
    // The server may need a moment to see them all close.
    let deadline = Instant::now() + CLOSE_WAIT;
    loop {
        match fresh_client(opts) {
            Ok(()) => break,
            Err(why) if Instant::now() > deadline => {
                return Err(format!(
                    "{opened} connections opened and closed; {CLOSE_WAIT:?} later: {why}"
                ))
            }
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
    Ok(format!(
        "{FLOOD_CONNECTIONS} connections at once from one address ({opened} accepted by the kernel, {refused} refused)"
    ))
}

fn c_addr(opts: &Options) -> Result<SocketAddr, String> {
    let c = connect(opts)?;
    Ok(c.peer)
}
