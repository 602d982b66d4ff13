//! # Rate mode: how much can the server take?
//!
//! `udp-client --rate PPS --count N` (or `--duration S`) sends requests at a steady rate
//! from one thread and counts the replies on another, so sending never waits for replies.
//! It reports the rate really achieved, the replies, and the loss. Raise the rate until the
//! loss passes 1%: that is the server's capacity (replies lost past it were dropped by the
//! kernel when the server's receive queue was full — `udp-server` reports them as kernel
//! drops at Ctrl-C). When replies are lost, the report says what the losses look like
//! ([`crate::loss`]): a steady cap is a rate limit at the server, not the network.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::loss::{self, Shape, Timeline};
use crate::ping::{parse_seq, payload};
use crate::{Client, ClientError, Options};

/// How often the receiving thread checks whether the run is over.
const RECV_POLL: Duration = Duration::from_millis(20);
/// The sender sleeps only when it is this far ahead of its schedule; closer than that it
/// sends on time by checking the clock (a sleep is rarely shorter than 50-100 us).
const SLEEP_AHEAD: Duration = Duration::from_micros(200);

/// What to send.
#[derive(Debug, Clone, Copy)]
pub struct RateOptions {
    /// Requests per second.
    pub rate: f64,
    pub count: u64,
    /// Bytes per request.
    pub size: usize,
}

/// The result of a rate run. `--json` prints exactly this.
#[derive(Debug, Clone, Serialize)]
pub struct RateReport {
    pub server: String,
    pub target_rate: f64,
    pub sent: u64,
    pub send_errors: u64,
    pub seconds_sending: f64,
    pub achieved_rate: f64,
    pub replies: u64,
    pub duplicates: u64,
    pub lost: u64,
    pub lost_percent: f64,
    /// What the losses look like: a steady cap (a rate limit), or spread (the network).
    pub loss_shape: Shape,
}

impl RateReport {
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "--- {} rate: target {:.0}/s, achieved {:.0}/s ({} sent in {:.2} s, {} send errors)\n\
             replies: {} ({} duplicates), lost {} = {:.2}%",
            self.server,
            self.target_rate,
            self.achieved_rate,
            self.sent,
            self.seconds_sending,
            self.send_errors,
            self.replies,
            self.duplicates,
            self.lost,
            self.lost_percent
        );
        if let Some(why) = loss::explain(self.loss_shape) {
            text.push_str("\nloss: ");
            text.push_str(&why);
        }
        text
    }
}

/// Sends at the rate, counts the replies, returns the report.
pub fn run(opts: &Options, rate: RateOptions) -> Result<RateReport, ClientError> {
    if !(rate.rate > 0.0 && rate.rate.is_finite()) {
        return Err(ClientError::Usage(format!(
            "--rate {}: give requests per second, more than 0",
            rate.rate
        )));
    }
    let client = Client::connect(opts)?;
    let peer = client.peer();
    let count = usize::try_from(rate.count)
        .map_err(|_| ClientError::Usage("--count is too large".into()))?;
    let receiving = client.socket().try_clone().map_err(|err| ClientError::Io {
        what: "could not share the socket with",
        addr: peer,
        err,
    })?;
    let done = Arc::new(AtomicBool::new(false));
    let receiver_done = Arc::clone(&done);
    let started = Instant::now();
    let mut timeline = Timeline::new(started);
    let receiver = thread::Builder::new()
        .name("replies".into())
        .spawn(move || count_replies(&receiving, count, &receiver_done, started))
        .map_err(|err| ClientError::Io {
            what: "could not start the receiving thread for",
            addr: peer,
            err,
        })?;

    let period = Duration::from_secs_f64(1.0 / rate.rate);
    let (mut sent, mut send_errors) = (0u64, 0u64);
    for seq in 0..rate.count {
        let due = started + period.mul_f64(seq as f64);
        let ahead = due.saturating_duration_since(Instant::now());
        if ahead > SLEEP_AHEAD {
            thread::sleep(ahead - SLEEP_AHEAD / 2);
        }
        while Instant::now() < due {
            std::hint::spin_loop();
        }
        match client.send(&payload(seq, rate.size)) {
            Ok(()) => {
                sent += 1;
                timeline.sent(Instant::now());
            }
            // Port unreachable arrives as an error on a later send or receive.
            Err(ClientError::NoServer { addr }) if sent == 0 => {
                done.store(true, Ordering::SeqCst);
                let _ = receiver.join();
                return Err(ClientError::NoServer { addr });
            }
            Err(_) => send_errors += 1,
        }
    }
    let seconds_sending = started.elapsed().as_secs_f64();
    // Give the last replies one timeout to arrive.
    thread::sleep(opts.timeout);
    done.store(true, Ordering::SeqCst);
    let (replies, duplicates, arrivals) = receiver
        .join()
        .unwrap_or_else(|_| (0, 0, Timeline::new(started)));
    timeline.add_replies(&arrivals);
    let lost = sent.saturating_sub(replies);
    Ok(RateReport {
        server: peer.to_string(),
        target_rate: rate.rate,
        sent,
        send_errors,
        seconds_sending,
        achieved_rate: if seconds_sending > 0.0 {
            sent as f64 / seconds_sending
        } else {
            0.0
        },
        replies,
        duplicates,
        lost,
        lost_percent: if sent == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / sent as f64
        },
        loss_shape: loss::shape(timeline.slices()),
    })
}

/// The receiving thread: counts distinct replies and duplicates until told to stop, and
/// when each reply came.
fn count_replies(
    socket: &std::net::UdpSocket,
    count: usize,
    done: &AtomicBool,
    started: Instant,
) -> (u64, u64, Timeline) {
    let mut arrivals = Timeline::new(started);
    let mut seen = vec![false; count];
    let (mut replies, mut duplicates) = (0u64, 0u64);
    let mut buf = vec![0u8; common::udp::MAX_DATAGRAM];
    let _ = socket.set_read_timeout(Some(RECV_POLL));
    while !done.load(Ordering::SeqCst) {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        match parse_seq(&buf[..n]).and_then(|s| seen.get_mut(s as usize)) {
            Some(flag) if *flag => duplicates += 1,
            Some(flag) => {
                *flag = true;
                replies += 1;
                arrivals.replied(Instant::now());
            }
            None => {}
        }
    }
    (replies, duplicates, arrivals)
}
