//! # Many connections at once, from one address: the flood step's connects
//!
//! A flood does not wait for one connection before the next, so a server whose listen
//! queue is full costs the step one wait, not one connect timeout per connection. Each
//! connect is non-blocking, and one `poll` waits for all of them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What a flood got: the connections the kernel accepted (held open until dropped), those
/// refused, those still unanswered when the wait ran out, and the sockets the grader could
/// not even open (with the first reason: its own limits, not the server's doing).
pub(super) struct Flood {
    pub held: Vec<mio::net::TcpStream>,
    pub refused: usize,
    pub unanswered: usize,
    pub failed_here: usize,
    pub local_error: Option<String>,
}

/// Opens `n` connections to `addr` at once. Each connect is non-blocking (the SYN goes
/// out, the call returns), and one `poll` then waits for all of them, at most `within`:
/// the same event loop as `tcp-server --model poll`, on the client's side.
pub(super) fn open_at_once(addr: SocketAddr, n: usize, within: Duration) -> Result<Flood, String> {
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new().map_err(|e| format!("could not start a poll: {e}"))?;
    let mut pending: Vec<Option<mio::net::TcpStream>> = Vec::with_capacity(n);
    let mut flood = Flood {
        held: Vec::with_capacity(n),
        refused: 0,
        unanswered: 0,
        failed_here: 0,
        local_error: None,
    };
    for i in 0..n {
        let registered = mio::net::TcpStream::connect(addr).and_then(|mut s| {
            poll.registry()
                .register(&mut s, Token(i), Interest::WRITABLE)
                .map(|()| s)
        });
        match registered {
            Ok(s) => pending.push(Some(s)),
            // Refused at once: that connection is done.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                flood.refused += 1;
                pending.push(None);
            }
            // Out of sockets or descriptors here: the grader's limit.
            Err(e) => {
                flood.failed_here += 1;
                flood
                    .local_error
                    .get_or_insert_with(|| common::net::describe(&e));
                pending.push(None);
            }
        }
    }
    let mut waiting = pending.iter().filter(|p| p.is_some()).count();
    let mut events = Events::with_capacity(n.max(1));
    let until = Instant::now() + within;
    while waiting > 0 {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match poll.poll(&mut events, Some(left)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("the flood's poll failed: {e}")),
        }
        for event in &events {
            let Some(slot) = pending.get_mut(event.token().0) else {
                continue;
            };
            let Some(stream) = slot.as_ref() else {
                continue;
            };
            // Writable means the handshake ended: with an error (refused, reset), or with
            // a connection, which then has a peer.
            let connected = match stream.take_error() {
                Ok(None) => match stream.peer_addr() {
                    Ok(_) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::NotConnected => continue,
                    Err(_) => false,
                },
                _ => false,
            };
            waiting -= 1;
            match slot.take() {
                Some(stream) if connected => flood.held.push(stream),
                _ => flood.refused += 1,
            }
        }
    }
    flood.unanswered = waiting;
    Ok(flood)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flood_opens_its_connections_at_once_and_counts_them() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let flood = open_at_once(addr, 20, Duration::from_secs(5)).unwrap();
        // The kernel completes the handshakes; nobody needs to accept.
        assert_eq!(flood.held.len(), 20);
        assert_eq!((flood.refused, flood.unanswered), (0, 0));
        drop(listener);
        let flood = open_at_once(addr, 5, Duration::from_secs(5)).unwrap();
        assert_eq!((flood.held.len(), flood.refused), (0, 5), "nothing listens");
    }
}
