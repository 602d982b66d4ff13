//! # Sending a reply, counted, from whichever thread has it
//!
//! The receiving thread, the tutorial-style thread per datagram and the delay thread all
//! send through one [`Sender`], so every reply is traced, counted and its errors explained
//! the same way.

use std::net::UdpSocket;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use common::output::{self, Log, Tag};
use common::udp;

use crate::stats::Stats;

/// Sends replies and counts them; shared by the receiving thread, the per-datagram threads
/// and the delay thread.
#[derive(Debug)]
pub struct Sender {
    pub socket: Arc<UdpSocket>,
    pub stats: Stats,
    pub log: Log,
    pub trace: bool,
}

impl Sender {
    /// Sends `reply` to the datagram's source, `copies` times, counting each send.
    pub fn send(&self, reply: &[u8], copies: u32, tag: &Tag) {
        for _ in 0..copies {
            if self.trace {
                output::trace(tag, "send", reply);
            }
            match self.socket.send_to(reply, tag.peer) {
                Ok(n) => {
                    self.stats.datagrams_out.fetch_add(1, Ordering::Relaxed);
                    self.stats.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.stats.send_errors.fetch_add(1, Ordering::Relaxed);
                    if common::os::is_message_too_long(&e) {
                        self.log.warn(format_args!(
                            "{tag}: the reply ({} bytes) is larger than one datagram can carry ({} over IPv4): not sent",
                            reply.len(),
                            udp::MAX_DATAGRAM_V4
                        ));
                    } else {
                        self.log
                            .warn(format_args!("{tag}: could not send the reply: {e}"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_copy_is_sent_and_counted_and_a_reply_too_large_is_an_error() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let sender = Sender {
            socket: Arc::new(server),
            stats: Stats::default(),
            log: Log::new(true),
            trace: false,
        };
        let tag = Tag {
            id: 1,
            peer: client.local_addr().unwrap(),
        };
        sender.send(b"Hi!x", 2, &tag);
        let mut buf = [0u8; 16];
        for _ in 0..2 {
            let (n, _) = client.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"Hi!x");
        }
        sender.send(&vec![0u8; udp::MAX_DATAGRAM_V4 + 1], 1, &tag);
        let summary = sender.stats.summary(None, Duration::ZERO);
        assert_eq!((summary.datagrams_out, summary.bytes_out), (2, 8));
        assert_eq!(summary.send_errors, 1);
    }
}
