//! udp-server in-process, on port 0, spoken to in raw datagrams: the echo, hostile
//! datagrams, truncation, and every injected fault. After each, the server still answers.

// A failed unwrap in a test is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::UdpSocket;
use std::thread;
use std::time::{Duration, Instant};

use common::server::Background;
use common::udp::{self, UdpOptions, MAX_DATAGRAM_V4};
use udp_server::{Config, Delay, Faults, HandlerMode, Summary};

/// How long a test waits for a reply that should come.
const REPLY_WAIT: Duration = Duration::from_secs(5);
/// How long a test waits to be sure a reply does not come.
const SILENCE: Duration = Duration::from_millis(300);

struct TestServer(Background<Summary>);

impl TestServer {
    fn start(config: Config) -> TestServer {
        let socket =
            udp::udp_socket("127.0.0.1:0".parse().unwrap(), &UdpOptions::default()).unwrap();
        TestServer(udp_server::spawn(socket, config).unwrap())
    }

    fn with_faults(faults: Faults) -> TestServer {
        TestServer::start(Config {
            faults,
            quiet: true,
            ..Config::default()
        })
    }

    fn plain() -> TestServer {
        TestServer::with_faults(Faults::none())
    }

    fn client(&self) -> UdpSocket {
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.connect(self.0.addr).unwrap();
        c
    }

    fn assert_still_answers(&self) {
        let c = self.client();
        c.send(b"still there?").unwrap();
        assert_eq!(recv(&c, REPLY_WAIT).unwrap(), b"Hi!still there?");
    }

    fn stop(self) -> Summary {
        self.0.stop().unwrap()
    }
}

fn recv(c: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    c.set_read_timeout(Some(wait)).unwrap();
    let mut buf = vec![0u8; 70_000];
    c.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
}

fn faults(drop: f64, duplicate: f64, delay: Option<Delay>, seed: u64) -> Faults {
    Faults {
        drop,
        duplicate,
        delay,
        seed,
    }
}

#[test]
fn replies_hi_and_the_datagram_byte_for_byte() {
    let server = TestServer::plain();
    let c = server.client();
    c.send(b"hello!").unwrap();
    assert_eq!(recv(&c, REPLY_WAIT).unwrap(), b"Hi!hello!");
    let garbage: Vec<u8> = (0..=255u8).collect();
    c.send(&garbage).unwrap();
    assert_eq!(
        recv(&c, REPLY_WAIT).unwrap(),
        [&b"Hi!"[..], &garbage].concat()
    );
    c.send(b"").unwrap();
    assert_eq!(recv(&c, REPLY_WAIT).unwrap(), b"Hi!");
    let summary = server.stop();
    assert_eq!((summary.datagrams_in, summary.datagrams_out), (3, 3));
}

#[test]
fn survives_the_largest_datagram_whose_reply_cannot_be_sent() {
    let server = TestServer::plain();
    let c = server.client();
    // 65,507 bytes fit in one IPv4 datagram; "Hi!" + them do not: the reply fails to send,
    // the server says so and goes on.
    c.send(&vec![b'z'; MAX_DATAGRAM_V4]).unwrap();
    assert_eq!(recv(&c, SILENCE), None);
    c.send(&vec![b'z'; MAX_DATAGRAM_V4 - 3]).unwrap();
    assert_eq!(recv(&c, REPLY_WAIT).unwrap().len(), MAX_DATAGRAM_V4);
    server.assert_still_answers();
    let summary = server.stop();
    assert_eq!(summary.send_errors, 1, "{summary}");
    assert_eq!(summary.truncated, 0, "a 65,535-byte buffer cuts nothing");
}

#[test]
fn a_small_buffer_cuts_like_the_tutorial_and_says_so() {
    let server = TestServer::start(Config {
        buffer: 1024,
        quiet: true,
        ..Config::default()
    });
    let c = server.client();
    c.send(&[b'a'; 5000]).unwrap();
    let reply = recv(&c, REPLY_WAIT).unwrap();
    assert_eq!(reply.len(), 3 + 1024, "the reply carries only what fit");
    server.assert_still_answers();
    let summary = server.stop();
    assert_eq!(summary.truncated, 1, "{summary}");
}

#[test]
fn drop_all_means_no_reply_ever() {
    let server = TestServer::with_faults(faults(1.0, 0.0, None, 1));
    let c = server.client();
    for _ in 0..5 {
        c.send(b"anyone?").unwrap();
    }
    assert_eq!(recv(&c, SILENCE), None);
    let summary = server.stop();
    assert_eq!(
        (summary.injected_drops, summary.datagrams_out),
        (5, 0),
        "{summary}"
    );
}

#[test]
fn duplicate_all_means_two_replies_each() {
    let server = TestServer::with_faults(faults(0.0, 1.0, None, 1));
    let c = server.client();
    c.send(b"twice").unwrap();
    assert_eq!(recv(&c, REPLY_WAIT).unwrap(), b"Hi!twice");
    assert_eq!(recv(&c, REPLY_WAIT).unwrap(), b"Hi!twice");
    let summary = server.stop();
    assert_eq!(
        (summary.injected_duplicates, summary.datagrams_out),
        (1, 2),
        "{summary}"
    );
}

#[test]
fn delayed_replies_do_not_hold_up_the_others() {
    let delay = Some(Delay {
        min: Duration::from_millis(300),
        max: Duration::from_millis(300),
    });
    let server = TestServer::with_faults(faults(0.0, 0.0, delay, 1));
    let c = server.client();
    let started = Instant::now();
    for i in 0..5 {
        c.send(format!("m{i}").as_bytes()).unwrap();
    }
    for _ in 0..5 {
        assert!(recv(&c, REPLY_WAIT).is_some());
    }
    let took = started.elapsed();
    // Five replies delayed 300 ms each, all in about 300 ms: not one after the other (1.5 s).
    assert!(took >= Duration::from_millis(250), "not delayed: {took:?}");
    assert!(
        took < Duration::from_millis(1000),
        "delays held each other up: {took:?}"
    );
    let summary = server.stop();
    assert_eq!(summary.injected_delays, 5);
}

/// Which of `n` lock-step requests got a reply.
fn answered(server: &TestServer, n: usize) -> Vec<bool> {
    let c = server.client();
    (0..n)
        .map(|i| {
            c.send(format!("r{i}").as_bytes()).unwrap();
            recv(&c, Duration::from_millis(100)).is_some()
        })
        .collect()
}

#[test]
fn the_same_seed_drops_the_same_datagrams() {
    let a = TestServer::with_faults(faults(0.5, 0.0, None, 42));
    let b = TestServer::with_faults(faults(0.5, 0.0, None, 42));
    let c = TestServer::with_faults(faults(0.5, 0.0, None, 43));
    let (ra, rb, rc) = (answered(&a, 40), answered(&b, 40), answered(&c, 40));
    assert_eq!(ra, rb, "same seed, same faults");
    assert_ne!(ra, rc, "another seed, other faults");
    let dropped = ra.iter().filter(|x| !**x).count();
    assert!((8..=32).contains(&dropped), "about half dropped: {dropped}");
    assert_eq!(a.stop().injected_drops as usize, dropped);
}

#[test]
fn thread_per_datagram_gives_the_same_answers() {
    let inline = TestServer::plain();
    let threaded = TestServer::start(Config {
        handler: HandlerMode::Thread,
        quiet: true,
        ..Config::default()
    });
    for server in [&inline, &threaded] {
        let c = server.client();
        let mut got: Vec<Vec<u8>> = (0..20)
            .map(|i| {
                c.send(format!("n{i}").as_bytes()).unwrap();
                recv(&c, REPLY_WAIT).unwrap()
            })
            .collect();
        got.sort();
        let mut want: Vec<Vec<u8>> = (0..20).map(|i| format!("Hi!n{i}").into_bytes()).collect();
        want.sort();
        assert_eq!(got, want);
    }
    inline.stop();
    threaded.stop();
}

#[test]
fn shutdown_is_prompt_with_delayed_replies_pending() {
    // The delay thread must never miss its stop signal, however the timing falls.
    for _ in 0..20 {
        let delay = Some(Delay {
            min: Duration::from_secs(30),
            max: Duration::from_secs(30),
        });
        let server = TestServer::with_faults(faults(0.0, 0.0, delay, 1));
        server.client().send(b"later").unwrap();
        thread::sleep(Duration::from_millis(5));
        let (done, finished) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let _ = done.send(server.stop());
        });
        let summary = finished.recv_timeout(REPLY_WAIT).expect("shutdown hung");
        assert_eq!(summary.datagrams_out, 0, "the 30 s reply was never sent");
    }
}
