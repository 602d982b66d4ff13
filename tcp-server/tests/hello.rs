//! The hello service in-process, on port 0, spoken to in raw bytes: the protocol in each
//! framing, then hostile clients — after each of which the server must still serve the
//! next client correctly.
//!
//! Every test runs against both models: `thread_model::name` and `poll_model::name` (the list at the
//! end). A test is a function of the model; the macro makes the two `#[test]`s.

// A failed unwrap in a test is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{Shutdown as NetShutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::addr::LimitScope;
use common::frame::Framing;
use common::server::{Background, Limits, Summary};
use tcp_server::{Config, Model};

/// Longest any read in these tests may wait.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

struct TestServer(Background<Summary>);

impl TestServer {
    fn start(model: Model, config: Config, limits: Limits) -> TestServer {
        let config = Config { model, ..config };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        TestServer(tcp_server::spawn(listener, config, limits).unwrap())
    }

    /// A quiet line-framing server with these limits.
    fn with_limits(model: Model, limits: Limits) -> TestServer {
        TestServer::start(
            model,
            Config {
                quiet: true,
                ..Config::default()
            },
            limits,
        )
    }

    fn line(model: Model) -> TestServer {
        TestServer::start(
            model,
            Config {
                quiet: true,
                ..Config::default()
            },
            Limits::default(),
        )
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.0.addr).unwrap();
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        s
    }

    /// The check every hostile test ends with: a fresh client gets the whole tutorial session.
    fn assert_still_serves(&self) {
        let mut c = self.connect();
        c.write_all(b"li\nbo\nexit\n").unwrap();
        assert_eq!(read_all(&mut c), b"Hello!\nhello,li\nhello,bo\n");
    }

    fn stop(self) -> Summary {
        self.0.stop().unwrap()
    }
}

/// Everything the server sends until it closes.
fn read_all(c: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    out
}

fn read_exactly(c: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    c.read_exact(&mut buf).unwrap();
    buf
}

fn line_framing_greets_replies_and_closes_on_exit(model: Model) {
    let server = TestServer::line(model);
    let mut c = server.connect();
    assert_eq!(read_exactly(&mut c, 7), b"Hello!\n");
    // Two messages in one write and a CRLF line: framing, not reads, decides.
    c.write_all(b"li\nbo\r\n").unwrap();
    assert_eq!(read_exactly(&mut c, 18), b"hello,li\nhello,bo\n");
    // One message split over three writes.
    for part in [&b"c"[..], b"a", b"\n"] {
        c.write_all(part).unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(read_exactly(&mut c, 9), b"hello,ca\n");
    c.write_all(b"exit\n").unwrap();
    assert_eq!(read_all(&mut c), b"", "closed after exit, without a reply");
    let summary = server.stop();
    assert_eq!(summary.closed[0], 1, "one close by exit: {summary}");
}

fn length_framing_carries_any_bytes(model: Model) {
    let config = Config {
        framing: Framing::Length,
        quiet: true,
        ..Config::default()
    };
    let server = TestServer::start(model, config, Limits::default());
    let mut c = server.connect();
    assert_eq!(read_exactly(&mut c, 10), b"\0\0\0\x06Hello!");
    let msg = b"a\nb\0\xff";
    c.write_all(&[&[0, 0, 0, 5][..], msg].concat()).unwrap();
    assert_eq!(
        read_exactly(&mut c, 15),
        [&[0, 0, 0, 11][..], b"hello,", msg].concat()
    );
    c.write_all(b"\0\0\0\x04exit").unwrap();
    assert_eq!(read_all(&mut c), b"");
    server.stop();
}

fn raw_framing_takes_each_read_as_a_message(model: Model) {
    let config = Config {
        framing: Framing::Raw,
        quiet: true,
        ..Config::default()
    };
    let server = TestServer::start(model, config, Limits::default());
    let mut c = server.connect();
    assert_eq!(read_exactly(&mut c, 6), b"Hello!");
    c.write_all(b"li").unwrap();
    assert_eq!(read_exactly(&mut c, 8), b"hello,li");
    // Two messages in one write are one "message" to a raw server: the tutorial's bug.
    c.write_all(b"boca").unwrap();
    assert_eq!(read_exactly(&mut c, 10), b"hello,boca");
    c.write_all(b"exit").unwrap();
    assert_eq!(read_all(&mut c), b"");
    server.stop();
}

fn greeting_and_prefix_can_be_changed(model: Model) {
    let config = Config {
        greeting: "你好".into(),
        reply_prefix: "Hi:".into(),
        quiet: true,
        ..Config::default()
    };
    let server = TestServer::start(model, config, Limits::default());
    let mut c = server.connect();
    c.write_all(b"x\n").unwrap();
    c.shutdown(NetShutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), "你好\nHi:x\n".as_bytes());
    server.stop();
}

fn oversize_message_gets_an_error_reply_and_a_close(model: Model) {
    let config = Config {
        max_frame: 100,
        quiet: true,
        ..Config::default()
    };
    let server = TestServer::start(model, config, Limits::default());
    let mut c = server.connect();
    // 1 MB without a newline: refused long before the end, and the server does not wait
    // for the rest.
    let big = vec![b'a'; 1_000_000];
    let writer = {
        let mut c = c.try_clone().unwrap();
        thread::spawn(move || {
            let _ = c.write_all(&big);
        })
    };
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got); // may end in a reset: the server closed with unread data
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("Hello!\nerror: message too large"),
        "{text}"
    );
    writer.join().unwrap();
    // A length header announcing 4 GB is refused from the header alone.
    let config = Config {
        framing: Framing::Length,
        max_frame: 100,
        quiet: true,
        ..Config::default()
    };
    let len_server = TestServer::start(model, config, Limits::default());
    let mut c = len_server.connect();
    c.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let got = read_all(&mut c);
    assert!(
        String::from_utf8_lossy(&got).contains("4294967295 bytes announced"),
        "{got:?}"
    );
    server.assert_still_serves();
    let summary = server.stop();
    assert_eq!(summary.closed[4], 1, "protocol error counted: {summary}");
    len_server.stop();
}

fn binary_garbage_is_echoed_as_bytes_and_hurts_nobody(model: Model) {
    let server = TestServer::line(model);
    let mut c = server.connect();
    let garbage: Vec<u8> = (0..=255u8).filter(|&b| b != b'\n' && b != b'\r').collect();
    c.write_all(&garbage).unwrap();
    c.write_all(b"\n").unwrap();
    c.shutdown(NetShutdown::Write).unwrap();
    let got = read_all(&mut c);
    assert_eq!(got, [&b"Hello!\nhello,"[..], &garbage, b"\n"].concat());
    server.assert_still_serves();
    server.stop();
}

fn end_of_stream_mid_message_is_reported_and_the_server_goes_on(model: Model) {
    let server = TestServer::line(model);
    let mut c = server.connect();
    c.write_all(b"li\nunfinished").unwrap();
    c.shutdown(NetShutdown::Write).unwrap();
    let got = String::from_utf8(read_all(&mut c)).unwrap();
    assert_eq!(
        got,
        "Hello!\nhello,li\nerror: end of stream in the middle of a message (10 bytes of an unfinished message)\n"
    );
    server.assert_still_serves();
    server.stop();
}

fn abrupt_reset_is_survived(model: Model) {
    let server = TestServer::line(model);
    for _ in 0..5 {
        let mut c = server.connect();
        c.write_all(b"li\nhalf a mess").unwrap();
        // SO_LINGER with a zero timeout: close() sends RST instead of FIN.
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(c);
    }
    server.assert_still_serves();
    server.stop();
}

fn a_silent_client_is_disconnected_at_the_idle_timeout(model: Model) {
    let limits = Limits {
        idle_timeout: Some(Duration::from_millis(300)),
        ..Limits::default()
    };
    let server = TestServer::with_limits(model, limits);
    let started = Instant::now();
    let mut silent = server.connect();
    let got = String::from_utf8(read_all(&mut silent)).unwrap();
    let waited = started.elapsed();
    assert_eq!(got, "Hello!\nerror: idle for 0.3 s, closing\n");
    assert!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
    server.assert_still_serves();
    let summary = server.stop();
    assert_eq!(summary.closed[2], 1, "idle timeout counted: {summary}");
}

fn two_hundred_clients_at_once(model: Model) {
    // 200 clients, all from 127.0.0.1: no per-address limit for this one.
    let server = TestServer::with_limits(
        model,
        Limits {
            max_per_peer: None,
            ..Limits::default()
        },
    );
    let addr = server.0.addr;
    let clients: Vec<_> = (0..200)
        .map(|i| {
            thread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
                c.write_all(format!("client {i}\nexit\n").as_bytes())
                    .unwrap();
                read_all(&mut c)
            })
        })
        .collect();
    for (i, h) in clients.into_iter().enumerate() {
        assert_eq!(
            h.join().unwrap(),
            format!("Hello!\nhello,client {i}\n").as_bytes()
        );
    }
    server.assert_still_serves();
    let summary = server.stop();
    assert_eq!(summary.accepted, 201);
    assert_eq!(summary.refused_busy, 0);
}

/// Slowloris: a client that sends a byte now and then and never finishes its message is
/// closed when the message runs out of time, though it is never idle for long; a client
/// whose messages are whole may take as long as it likes between them.
fn a_trickling_client_is_closed_at_the_message_timeout(model: Model) {
    let server = TestServer::with_limits(
        model,
        Limits {
            idle_timeout: Some(Duration::from_secs(5)),
            message_timeout: Some(Duration::from_millis(600)),
            ..Limits::default()
        },
    );
    let mut slow_but_whole = server.connect();
    assert_eq!(read_exactly(&mut slow_but_whole, 7), b"Hello!\n");
    let mut trickle = server.connect();
    assert_eq!(read_exactly(&mut trickle, 7), b"Hello!\n");
    let started = Instant::now();
    let mut closed_after = None;
    for i in 0..40 {
        // One byte every 100 ms, never a '\n': the idle timeout (5 s) never fires.
        if trickle.write_all(b"x").is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        if i % 4 == 0 {
            slow_but_whole.write_all(b"ok\n").unwrap();
            assert_eq!(read_exactly(&mut slow_but_whole, 9), b"hello,ok\n");
        }
        thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    let told = String::from_utf8(read_all(&mut trickle)).unwrap();
    assert_eq!(
        told,
        "error: message not complete 0.6 s after its first byte, closing\n"
    );
    assert!(
        closed_after.is_none_or(|t| t >= Duration::from_millis(500)),
        "{closed_after:?}"
    );
    // The patient client was never cut off: ~2 s of whole messages, 0.6 s limit each.
    slow_but_whole.write_all(b"li\nexit\n").unwrap();
    assert_eq!(read_all(&mut slow_but_whole), b"hello,li\n");
    let summary = server.stop();
    assert_eq!(summary.closed[6], 1, "one message timeout: {summary}");
    assert!(
        summary.to_string().contains("1 message timeout"),
        "{summary}"
    );
}

/// A connection from a chosen loopback address (a second host, for the test).
fn connect_from(ip: [u8; 4], addr: std::net::SocketAddr) -> TcpStream {
    common::testing::connect_from(ip.into(), addr, READ_TIMEOUT)
}

/// One address takes its `--max-per-peer` share and no more: its next connection is told
/// busy, while a client from another address is served; a slot it gives back is its again.
/// (The two "hosts" are loopback addresses, so the limit covers loopback here:
/// `--limit-loopback`.)
fn one_address_cannot_take_every_slot(model: Model) {
    let server = TestServer::with_limits(
        model,
        Limits {
            max_per_peer: Some(3),
            scope: LimitScope::Everyone,
            ..Limits::default()
        },
    );
    let addr = server.0.addr;
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut c = connect_from([127, 0, 0, 1], addr);
            assert_eq!(read_exactly(&mut c, 7), b"Hello!\n");
            c
        })
        .collect();
    for _ in 0..5 {
        let mut extra = connect_from([127, 0, 0, 1], addr);
        assert_eq!(read_all(&mut extra), b"error: server busy\n");
    }
    // Another host is served while the first is at its limit.
    let mut other = connect_from([127, 0, 0, 2], addr);
    other.write_all(b"li\nexit\n").unwrap();
    assert_eq!(read_all(&mut other), b"Hello!\nhello,li\n");
    // The first host's slots still work, and one given back can be taken again.
    for c in &mut held {
        c.write_all(b"ok\n").unwrap();
        assert_eq!(read_exactly(c, 9), b"hello,ok\n");
    }
    held.pop();
    let deadline = Instant::now() + READ_TIMEOUT;
    loop {
        let mut c = connect_from([127, 0, 0, 1], addr);
        c.write_all(b"li\nexit\n").unwrap();
        let got = read_all(&mut c);
        if got == b"Hello!\nhello,li\n" {
            break;
        }
        assert_eq!(got, b"error: server busy\n");
        assert!(
            Instant::now() < deadline,
            "the freed slot was never given back"
        );
        thread::sleep(Duration::from_millis(20));
    }
    let summary = server.stop();
    assert!(summary.refused_per_peer >= 5, "{summary}");
    assert_eq!(summary.refused_busy, 0, "{summary}");
}

/// This machine's own clients are one student's lab: by default the limit per address
/// leaves loopback alone, on IPv4 and IPv6 alike, and counts nothing for it.
fn loopback_is_exempt_from_the_limit_per_address(model: Model) {
    let server = TestServer::with_limits(
        model,
        Limits {
            max_per_peer: Some(3),
            ..Limits::default()
        },
    );
    let addr = server.0.addr;
    let held: Vec<TcpStream> = (0..10)
        .map(|i| {
            let mut c = connect_from([127, 0, 0, 1 + (i % 2)], addr);
            assert_eq!(read_exactly(&mut c, 7), b"Hello!\n", "client {i}");
            c
        })
        .collect();
    let mut one_more = connect_from([127, 0, 0, 1], addr);
    one_more.write_all(b"li\nexit\n").unwrap();
    assert_eq!(read_all(&mut one_more), b"Hello!\nhello,li\n");
    drop(held);
    let summary = server.stop();
    assert_eq!(summary.refused_per_peer, 0, "{summary}");
    assert_eq!(summary.accepted, 11, "{summary}");
}

fn clients_past_max_connections_are_told_busy(model: Model) {
    let limits = Limits {
        max_connections: 3,
        ..Limits::default()
    };
    let server = TestServer::with_limits(model, limits);
    // Three held connections (each has its greeting, so each is being served)...
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut c = server.connect();
            assert_eq!(read_exactly(&mut c, 7), b"Hello!\n");
            c
        })
        .collect();
    // ...so the next ones are refused with a message, not left hanging.
    for _ in 0..5 {
        let mut extra = server.connect();
        assert_eq!(read_all(&mut extra), b"error: server busy\n");
    }
    // The held clients are still served.
    for c in &mut held {
        c.write_all(b"still here\n").unwrap();
        assert_eq!(read_exactly(c, 17), b"hello,still here\n");
    }
    // Free a slot: the server takes new clients again.
    held.pop();
    let deadline = Instant::now() + READ_TIMEOUT;
    loop {
        let mut c = server.connect();
        c.write_all(b"li\nexit\n").unwrap();
        let got = read_all(&mut c);
        if got == b"Hello!\nhello,li\n" {
            break;
        }
        assert_eq!(got, b"error: server busy\n");
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        thread::sleep(Duration::from_millis(20));
    }
    let summary = server.stop();
    assert!(summary.refused_busy >= 5, "{summary}");
    assert_eq!(summary.peak_active, 3);
}

fn a_client_that_never_reads_is_timed_out_not_served_forever(model: Model) {
    let limits = Limits {
        idle_timeout: Some(Duration::from_millis(500)),
        ..Limits::default()
    };
    let server = TestServer::with_limits(model, limits);
    let c = server.connect();
    // Send messages without ever reading the replies: the server's writes fill our receive
    // buffer and block; the write timeout frees its thread.
    let mut writer = c.try_clone().unwrap();
    writer
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let line = [vec![b'm'; 60_000], b"\n".to_vec()].concat();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if writer.write_all(&line).is_err() {
            break;
        }
    }
    let summary_wait = Instant::now();
    server.assert_still_serves();
    drop(c);
    let summary = server.stop();
    assert!(summary_wait.elapsed() < READ_TIMEOUT);
    assert_eq!(
        summary.closed[2], 1,
        "closed as idle (its writes timed out): {summary}"
    );
}

/// Back-pressure: a client that sends and sends but never reads its replies is held back
/// by the kernel's buffers once the server stops taking its requests, instead of making
/// the server keep its replies without bound. When it reads at last, every reply is
/// there, in order, and the conversation goes on.
fn a_client_that_never_reads_is_held_back_not_buffered_without_bound(model: Model) {
    let server = TestServer::line(model);
    let mut c = server.connect();
    assert_eq!(read_exactly(&mut c, 7), b"Hello!\n");
    let message = [vec![b'm'; 999], b"\n".to_vec()].concat();
    let stream: Vec<u8> = message.repeat(MAX_SENT_UNREAD / message.len());
    // Write until there has been no room for STALL: the server has stopped reading.
    // Non-blocking writes, because a write that times out (SO_SNDTIMEO) may have sent
    // part of its bytes on Windows, and says neither whether nor how many.
    c.set_nonblocking(true).unwrap();
    let mut sent = 0;
    let mut last_progress = Instant::now();
    while sent < stream.len() && last_progress.elapsed() < STALL {
        match c.write(&stream[sent..]) {
            Ok(n) => {
                sent += n;
                last_progress = Instant::now();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("write failed after {sent} bytes: {e}"),
        }
    }
    c.set_nonblocking(false).unwrap();
    assert!(
        sent < stream.len(),
        "{sent} bytes went in without a reply read: the server buffers without bound"
    );
    eprintln!("held back after {sent} bytes sent without a reply read");
    // The server serves others meanwhile.
    server.assert_still_serves();
    // Now read: every reply arrives; the rest of the requests go in, then `exit`.
    let mut reader = c.try_clone().unwrap();
    let replies = thread::spawn(move || read_all(&mut reader));
    // (Generous: under Wine the rest takes a while.)
    c.set_write_timeout(Some(6 * READ_TIMEOUT)).unwrap();
    c.write_all(&stream[sent..]).unwrap();
    c.write_all(b"exit\n").unwrap();
    let replies = replies.join().unwrap();
    let expected = [b"hello,".to_vec(), message].concat();
    assert_eq!(replies.len(), expected.len() * (stream.len() / 1000));
    assert!(replies.chunks(expected.len()).all(|r| r == expected));
    let summary = server.stop();
    assert_eq!(summary.closed[0], 2, "both closed by exit: {summary}");
}

/// How long a write may wait for room before the test takes it that the server has
/// stopped reading.
const STALL: Duration = Duration::from_millis(500);
/// Bytes the test offers without reading: far more than loopback's socket buffers and the
/// server's bound together hold.
const MAX_SENT_UNREAD: usize = 32 << 20;

/// Many silent clients, one busy one: each silent one is closed at its own idle timeout
/// (the clients connect 20 ms apart), the busy one never.
fn idle_timeouts_fire_for_each_client_and_spare_the_active_one(model: Model) {
    let idle = Duration::from_millis(400);
    let server = TestServer::with_limits(
        model,
        Limits {
            idle_timeout: Some(idle),
            max_per_peer: None,
            ..Limits::default()
        },
    );
    let mut busy = server.connect();
    assert_eq!(read_exactly(&mut busy, 7), b"Hello!\n");
    let talk = |busy: &mut TcpStream| {
        busy.write_all(b"ok\n").unwrap();
        assert_eq!(read_exactly(busy, 9), b"hello,ok\n");
    };
    let mut silent: Vec<(Instant, TcpStream)> = Vec::new();
    for i in 0..20 {
        thread::sleep(Duration::from_millis(20));
        silent.push((Instant::now(), server.connect()));
        if i % 5 == 0 {
            talk(&mut busy);
        }
    }
    let waiters: Vec<_> = silent
        .into_iter()
        .map(|(connected, mut c)| {
            thread::spawn(move || {
                let got = read_all(&mut c);
                (connected.elapsed(), got)
            })
        })
        .collect();
    // The busy client talks every 100 ms for well past the idle timeout.
    for _ in 0..10 {
        talk(&mut busy);
        thread::sleep(Duration::from_millis(100));
    }
    for w in waiters {
        let (after, got) = w.join().unwrap();
        assert_eq!(got, b"Hello!\nerror: idle for 0.4 s, closing\n");
        assert!(
            after >= idle - Duration::from_millis(50),
            "closed early: {after:?}"
        );
        assert!(after < READ_TIMEOUT, "closed late: {after:?}");
    }
    busy.write_all(b"exit\n").unwrap();
    assert_eq!(read_all(&mut busy), b"");
    let summary = server.stop();
    assert_eq!(summary.closed[2], 20, "{summary}");
    assert_eq!(summary.closed[0], 1, "{summary}");
}

mod models;

both_models!(
    line_framing_greets_replies_and_closes_on_exit,
    length_framing_carries_any_bytes,
    raw_framing_takes_each_read_as_a_message,
    greeting_and_prefix_can_be_changed,
    oversize_message_gets_an_error_reply_and_a_close,
    binary_garbage_is_echoed_as_bytes_and_hurts_nobody,
    end_of_stream_mid_message_is_reported_and_the_server_goes_on,
    abrupt_reset_is_survived,
    a_silent_client_is_disconnected_at_the_idle_timeout,
    two_hundred_clients_at_once,
    a_trickling_client_is_closed_at_the_message_timeout,
    one_address_cannot_take_every_slot,
    loopback_is_exempt_from_the_limit_per_address,
    clients_past_max_connections_are_told_busy,
    a_client_that_never_reads_is_timed_out_not_served_forever,
    a_client_that_never_reads_is_held_back_not_buffered_without_bound,
    idle_timeouts_fire_for_each_client_and_spare_the_active_one,
);
