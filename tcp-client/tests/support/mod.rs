//! Small hello servers for the grader to judge: a correct one that writes a byte at a time,
//! and one of each kind of fault a student's server has. Each runs on threads of the test
//! process, on a port of its own, until the test ends (or, for the server that dies, until
//! it dies).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::addr::Endpoint;
use common::frame::{Framing, DEFAULT_MAX_FRAME};
use tcp_client::Options;

/// How long a faulty server holds a connection it will never answer: longer than any
/// grader's wait, and bounded (the test process ends long before).
const HOLD: Duration = Duration::from_secs(120);

/// The options of the tests: line framing, 5 s to connect, 3 s for each reply.
pub fn options(addr: SocketAddr) -> Options {
    Options {
        addr: Endpoint::parse(&addr.to_string()).unwrap(),
        framing: Framing::Line,
        max_frame: DEFAULT_MAX_FRAME,
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(3),
        trace: false,
        quiet: true,
        deadline: None,
        tcp_info: false,
    }
}

/// A server with a thread per connection: `serve` gets each accepted stream.
pub fn threaded(serve: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

/// The hello protocol, right, over line framing, with `say` writing each message.
/// Returns when the client says `exit` (true) or goes (false).
fn hello_with(stream: &TcpStream, mut say: impl FnMut(&[u8]) -> bool) -> bool {
    if !say(b"Hello!\n") {
        return false;
    }
    let mut lines = BufReader::new(stream);
    let mut line = Vec::new();
    // A line of at most 64 KiB: a longer one ends the session, as a message limit does.
    while matches!((&mut lines).take(1 << 16).read_until(b'\n', &mut line), Ok(n) if n > 0) {
        let msg = line.strip_suffix(b"\n").unwrap_or(&line);
        if !line.ends_with(b"\n") {
            return false;
        }
        if msg == b"exit" {
            return true;
        }
        if !say(&[b"hello,", msg, b"\n"].concat()) {
            return false;
        }
        line.clear();
    }
    false
}

/// Correct: the hello protocol, each message in one write.
pub fn hello(stream: TcpStream) {
    let mut out = stream.try_clone().unwrap();
    hello_with(&stream, |bytes| out.write_all(bytes).is_ok());
}

/// Correct, but writes every byte of every reply in a write of its own.
pub fn byte_by_byte(stream: TcpStream) {
    let mut out = stream.try_clone().unwrap();
    hello_with(&stream, |bytes| {
        bytes.iter().all(|b| {
            let ok = out.write_all(&[*b]).is_ok();
            thread::sleep(Duration::from_micros(200));
            ok
        })
    });
}

/// The tutorial's framing bug with the bytes bug fixed: one read taken as one message.
pub fn one_read_one_message(mut stream: TcpStream) {
    if stream.write_all(b"Hello!\n").is_err() {
        return;
    }
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf) {
        let data = buf[..n].strip_suffix(b"\n").unwrap_or(&buf[..n]).to_vec();
        if n == 0 || data == b"exit" {
            return;
        }
        if stream
            .write_all(&[b"hello,", &data[..], b"\n"].concat())
            .is_err()
        {
            return;
        }
    }
}

/// The most common student bug, which the tutorial warns of: one client at a time. Correct
/// for each client, but the next waits until this one is gone.
pub fn one_at_a_time() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            hello(stream);
        }
    });
    addr
}

/// Accepts, and never says a word.
pub fn never_greets(stream: TcpStream) {
    thread::sleep(HOLD);
    drop(stream);
}

/// Greets, then reads and never answers.
pub fn greets_then_silent(mut stream: TcpStream) {
    if stream.write_all(b"Hello!\n").is_ok() {
        let mut sink = [0u8; 1024];
        let _ = stream.set_read_timeout(Some(HOLD));
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    }
}

/// Answers right, but does not close after `exit`: it keeps the connection open.
pub fn never_closes(stream: TcpStream) {
    let mut out = stream.try_clone().unwrap();
    if hello_with(&stream, |bytes| out.write_all(bytes).is_ok()) {
        thread::sleep(HOLD);
    }
}

/// Greets, then resets the connection at the first message.
pub fn resets(mut stream: TcpStream) {
    if stream.write_all(b"Hello!\n").is_err() {
        return;
    }
    let mut first = [0u8; 1];
    if stream.read(&mut first).is_ok() {
        let _ = common::net::abort_on_close(&stream);
    }
}

/// Never accepts: the listen queue is full, so the kernel drops new SYNs and a connect
/// waits until its own timeout. Returns the address and the connections that fill the
/// queue (keep them).
pub fn never_accepts() -> (SocketAddr, Vec<TcpStream>, TcpListener) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(1).unwrap();
    let listener: TcpListener = socket.into();
    let addr = listener.local_addr().unwrap();
    let mut filling = Vec::new();
    for _ in 0..64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => filling.push(s),
            Err(_) => return (addr, filling, listener),
        }
    }
    panic!("the listen queue of {addr} never filled");
}

/// Serves `sessions` clients correctly, one at a time, then dies: its listener is closed
/// before the last client sees the end of its session, so every later connect is refused.
pub fn dies_after(sessions: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut served = 0;
        let mut last = None;
        for stream in listener.incoming().flatten() {
            let mut out = stream.try_clone().unwrap();
            hello_with(&stream, |bytes| out.write_all(bytes).is_ok());
            served += 1;
            if served == sessions {
                last = Some(stream);
                break;
            }
        }
        drop(listener);
        drop(last);
    });
    addr
}

/// An address nothing listens on.
pub fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}
