//! # Ping mode: loss, duplicates and reordering you can see
//!
//! `udp-client --count N --interval MS --size BYTES` sends N requests, each carrying its
//! sequence number in its payload (`ping 7 xxxx...`). The server echoes the payload back
//! (after its `Hi!`), so each reply says which request it answers, and the client can tell:
//!
//! - **lost**: a request whose reply never came;
//! - **duplicate**: a second reply to the same request;
//! - **out of order**: a reply to an earlier request arriving after a reply to a later one;
//! - **late**: a reply that came after `--timeout` (a lock-step client would have given up).
//!
//! With `--interval 0` the requests go in lock-step: each waits for its reply (or the
//! timeout) before the next is sent; round trips per second then measure the server.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::loss::{self, Shape, Timeline};
use crate::{Client, ClientError, Options};

/// What every request starts with, before its sequence number.
pub const PING_TAG: &[u8] = b"ping ";
/// The byte the rest of the payload is made of.
const PADDING: u8 = b'x';

/// What to send.
#[derive(Debug, Clone, Copy)]
pub struct PingOptions {
    pub count: u64,
    /// Time between two requests; zero = lock-step.
    pub interval: Duration,
    /// Bytes per request (at least what `ping <seq> ` takes).
    pub size: usize,
    /// Print a line per reply.
    pub per_reply: bool,
}

/// Round-trip times, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RttMs {
    pub min: f64,
    pub avg: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// The summary of a ping run. `--json` prints exactly this.
#[derive(Debug, Clone, Serialize)]
pub struct PingReport {
    pub server: String,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub lost_percent: f64,
    pub duplicates: u64,
    pub reordered: u64,
    pub late: u64,
    /// Datagrams that were no reply to any request of ours.
    pub unmatched: u64,
    pub rtt_ms: RttMs,
    /// Mean difference between the RTTs of consecutive replies.
    pub jitter_ms: f64,
    pub seconds: f64,
    /// Requests were sent in lock-step (`--interval 0`): then round trips per second
    /// measure the server.
    pub lock_step: bool,
    pub round_trips_per_sec: f64,
    /// What the losses look like: a steady cap (a rate limit), or spread (the network).
    pub loss_shape: Shape,
}

impl PingReport {
    pub fn to_text(&self) -> String {
        let r = &self.rtt_ms;
        let speed = if self.lock_step {
            format!(", {:.0} round trips/s", self.round_trips_per_sec)
        } else {
            String::new()
        };
        let mut text = format!(
            "--- {} ping: {} sent, {} received, {:.1}% lost, {} duplicates, {} reordered, {} late\n\
             rtt min/avg/p50/p99/max = {:.3}/{:.3}/{:.3}/{:.3}/{:.3} ms, jitter {:.3} ms{speed}",
            self.server,
            self.sent,
            self.received,
            self.lost_percent,
            self.duplicates,
            self.reordered,
            self.late,
            r.min,
            r.avg,
            r.p50,
            r.p99,
            r.max,
            self.jitter_ms,
        );
        if let Some(why) = loss::explain(self.loss_shape) {
            text.push_str("\nloss: ");
            text.push_str(&why);
        }
        text
    }
}

/// The request with sequence number `seq`, `size` bytes long (or just long enough for the
/// number).
pub fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut p = format!("ping {seq} ").into_bytes();
    if p.len() < size {
        p.resize(size, PADDING);
    }
    p
}

/// The sequence number a reply carries, wherever the server put its prefix.
pub fn parse_seq(reply: &[u8]) -> Option<u64> {
    let at = reply.windows(PING_TAG.len()).position(|w| w == PING_TAG)? + PING_TAG.len();
    let digits = reply[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&reply[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// What the run has seen so far.
struct Tally {
    sent_at: Vec<Instant>,
    rtt: Vec<Option<Duration>>,
    received: u64,
    duplicates: u64,
    reordered: u64,
    late: u64,
    unmatched: u64,
    highest: Option<u64>,
    timeout: Duration,
    per_reply: bool,
    /// Requests and replies slice by slice, to tell a rate limit from loss.
    timeline: Timeline,
}

impl Tally {
    fn reply(&mut self, seq: Option<u64>, len: usize) {
        let now = Instant::now();
        let Some(seq) = seq.filter(|&s| (s as usize) < self.sent_at.len()) else {
            self.unmatched += 1;
            return;
        };
        let i = seq as usize;
        let rtt = now - self.sent_at[i];
        let duplicate = self.rtt[i].is_some();
        let out_of_order = !duplicate && self.highest.is_some_and(|h| seq < h);
        let late = rtt > self.timeout;
        if duplicate {
            self.duplicates += 1;
        } else {
            self.rtt[i] = Some(rtt);
            self.received += 1;
            self.timeline.replied(now);
        }
        self.reordered += u64::from(out_of_order);
        self.late += u64::from(late && !duplicate);
        self.highest = self.highest.max(Some(seq));
        if self.per_reply {
            common::output::out_line(format_args!(
                "{len} bytes: seq={seq} time={:.3} ms{}{}{}",
                rtt.as_secs_f64() * 1e3,
                if duplicate { " (duplicate)" } else { "" },
                if out_of_order { " (out of order)" } else { "" },
                if late { " (late)" } else { "" },
            ));
        }
    }
}

/// Runs the pings and returns the summary.
pub fn run(opts: &Options, ping: PingOptions) -> Result<PingReport, ClientError> {
    let mut client = Client::connect(opts)?;
    let count = usize::try_from(ping.count)
        .map_err(|_| ClientError::Usage("--count is too large".into()))?;
    let mut t = Tally {
        sent_at: Vec::with_capacity(count),
        rtt: vec![None; count],
        received: 0,
        duplicates: 0,
        reordered: 0,
        late: 0,
        unmatched: 0,
        highest: None,
        timeout: opts.timeout,
        per_reply: ping.per_reply,
        timeline: Timeline::new(Instant::now()),
    };
    let started = Instant::now();
    for seq in 0..ping.count {
        client.send(&payload(seq, ping.size))?;
        let now = Instant::now();
        t.sent_at.push(now);
        t.timeline.sent(now);
        // Lock-step: wait for this reply (or the timeout). Paced: receive until the next
        // request is due.
        let (until, this_one) = if ping.interval.is_zero() {
            (Instant::now() + opts.timeout, Some(seq as usize))
        } else {
            (started + ping.interval * (seq as u32 + 1), None)
        };
        receive_until(&mut client, &mut t, until, this_one)?;
    }
    // Replies still on their way: wait for them, at most one timeout.
    let stragglers = Instant::now() + opts.timeout;
    while t.received < ping.count && Instant::now() < stragglers {
        receive_until(&mut client, &mut t, stragglers, None)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(report(
        client.peer().to_string(),
        &t,
        ping.count,
        seconds,
        ping.interval.is_zero(),
    ))
}

/// Receives replies until `until`, or until the reply to `stop_at` has come.
fn receive_until(
    client: &mut Client,
    t: &mut Tally,
    until: Instant,
    stop_at: Option<usize>,
) -> Result<(), ClientError> {
    loop {
        if stop_at.is_some_and(|i| t.rtt[i].is_some()) {
            return Ok(());
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        match client.recv(left)? {
            Some(reply) => {
                let (seq, len) = (parse_seq(reply), reply.len());
                t.reply(seq, len);
            }
            None => return Ok(()),
        }
    }
}

fn report(server: String, t: &Tally, sent: u64, seconds: f64, lock_step: bool) -> PingReport {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let in_order: Vec<f64> = t.rtt.iter().flatten().map(|&d| ms(d)).collect();
    let mut sorted = in_order.clone();
    sorted.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if sorted.is_empty() {
            0.0
        } else {
            sorted[((sorted.len() - 1) as f64 * q).round() as usize]
        }
    };
    let rtt_ms = RttMs {
        min: pick(0.0),
        avg: if sorted.is_empty() {
            0.0
        } else {
            sorted.iter().sum::<f64>() / sorted.len() as f64
        },
        p50: pick(0.5),
        p99: pick(0.99),
        max: pick(1.0),
    };
    let jitter_ms = if in_order.len() < 2 {
        0.0
    } else {
        in_order
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .sum::<f64>()
            / (in_order.len() - 1) as f64
    };
    let lost = sent - t.received;
    PingReport {
        server,
        sent,
        received: t.received,
        lost,
        lost_percent: if sent == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / sent as f64
        },
        duplicates: t.duplicates,
        reordered: t.reordered,
        late: t.late,
        unmatched: t.unmatched,
        rtt_ms,
        jitter_ms,
        seconds,
        lock_step,
        round_trips_per_sec: if seconds > 0.0 {
            t.received as f64 / seconds
        } else {
            0.0
        },
        loss_shape: loss::shape(t.timeline.slices()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_carries_the_sequence_number_and_has_the_size() {
        let p = payload(42, 64);
        assert_eq!(p.len(), 64);
        assert!(p.starts_with(b"ping 42 x"));
        assert_eq!(payload(7, 0), b"ping 7 ");
    }

    #[test]
    fn sequence_numbers_are_found_after_any_prefix() {
        assert_eq!(parse_seq(b"Hi!ping 42 xxx"), Some(42));
        assert_eq!(parse_seq(b"ping 0 "), Some(0));
        assert_eq!(parse_seq(b"Hi!b'ping 9 x'"), Some(9));
        assert_eq!(parse_seq(b"hello"), None);
        assert_eq!(parse_seq(b"ping x"), None);
        assert_eq!(parse_seq(b"ping 99999999999999999999999"), None);
    }
}
