//! # A transfer, as two state machines with no I/O
//!
//! Every TFTP transfer has a side that sends DATA and waits for ACKs ([`Sender`]: the server
//! of a read, the client of a write) and a side that does the opposite ([`Receiver`]). Both
//! are pure: the driver gives them the datagrams that arrived and the time, and takes the
//! datagrams they want sent, the blocks of the file, and when to wake them next
//! ([`Sender::deadline`]). The same machines run in the server and the client, and the
//! tests run them against each other with a fake clock and a lossy pipe.
//!
//! What they get right:
//! - **Stop-and-wait, and windows.** With `windowsize` 1 (RFC 1350) the sender sends one
//!   block and waits for its ACK. With `windowsize` W (RFC 7440) it sends W blocks, and the
//!   receiver ACKs the last of them; an ACK of an earlier block means "I have up to here":
//!   the sender goes back and sends again from the next one.
//! - **Retransmission on a timer only, with back-off.** The timer starts at `timeout`,
//!   doubles at each retry up to [`Timing::max_interval`], and after [`Timing::retries`]
//!   retries the transfer gives up with the reason.
//! - **No Sorcerer's Apprentice** (RFC 1123 §4.2.3.1). An ACK that brings nothing new is
//!   ignored. The bug it avoids: a late ACK arrives after the sender retransmitted the
//!   block; the receiver ACKs both copies; a sender that answers every ACK with the next
//!   block now sends every block twice, and each twin gets its own ACK, for ever.
//! - **Block numbers roll over**: on the wire they are 16 bits, so block 65,536 is sent as
//!   0. Inside, a block's number is a `u64` that never wraps; a number from the wire is read
//!   as the one nearest to the block expected.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::options::{self, Settings, Wanted};
use crate::packet::{self, ErrorCode, Packet};

/// How the timer behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Retries after the first try, before giving up.
    pub retries: u32,
    /// Retries before the other side has answered once. A server keeps it small: a
    /// request with a forged source would otherwise have its answer sent to the victim
    /// again and again (see `server`).
    pub first_retries: u32,
    /// The longest wait between two tries (the back-off stops doubling there; a negotiated
    /// timeout longer than it is used as it is).
    pub max_interval: Duration,
    /// The longest wait between two tries before the other side has answered once,
    /// whatever timeout it asked for: a server holds a transfer for a request that is never
    /// answered (a forged one) for seconds, not for a 255-second timeout three times.
    pub first_max_interval: Duration,
}

/// Five retries, waits of 1, 2, 4, 8, 8 and 8 s at the default timeout: about 30 s of
/// silence before a transfer is given up.
pub const DEFAULT_TIMING: Timing = Timing {
    retries: 5,
    first_retries: 5,
    max_interval: Duration::from_secs(8),
    first_max_interval: Duration::from_secs(8),
};

/// Why a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The other side sent an ERROR.
    #[error("the other side sent ERROR {code}, {}: \"{}\"", code.explain(), common::output::printable(message.as_bytes()))]
    Peer { code: ErrorCode, message: String },
    /// No answer after every retry.
    #[error("no answer after {tries} tries over {:.1} s, while waiting for {waiting_for}", .waited.as_secs_f64())]
    TimedOut {
        tries: u32,
        waited: Duration,
        waiting_for: String,
    },
    /// Something went wrong here, and an ERROR with this code was sent to say so.
    #[error("{message} (sent ERROR {code} to the other side)")]
    Sent { code: ErrorCode, message: String },
}

/// What happened during a transfer, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bytes of file data moved (on the wire, so in netascii after conversion).
    pub bytes: u64,
    /// Blocks moved, each counted once.
    pub blocks: u64,
    /// Datagrams sent, first tries and retransmissions.
    pub sent: u64,
    /// Datagrams sent again after a timeout.
    pub resent: u64,
    /// Timer expiries.
    pub timeouts: u64,
    /// Packets received that brought nothing new (duplicate ACKs or DATA): the ones a
    /// Sorcerer's Apprentice sender would answer.
    pub duplicates: u64,
}

/// Where a machine is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Still moving.
    Running,
    /// Every block arrived and was acknowledged (for a receiver that dallies: the wait
    /// for a repeated last block is over too).
    Complete,
    Failed(Failure),
}

/// How a transfer opens: what is sent first and repeated until the other side answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// Nothing to repeat: a server's read without options starts with DATA 1, a server's
    /// write without options with ACK 0 (sent by the driver through [`Receiver::new`]).
    Immediate,
    /// A server's OACK, repeated until the client's ACK 0 (read) or DATA 1 (write).
    Oack(Vec<u8>),
    /// A client's request (RRQ or WRQ), repeated until the server answers. The server may
    /// answer with an OACK only if options were asked for.
    Request { packet: Vec<u8>, wanted: Wanted },
}

/// The 16-bit block number of block `n` on the wire.
pub fn wire(n: u64) -> u16 {
    n as u16
}

/// The block number nearest to `reference` whose low 16 bits are `w`.
pub fn unwrap(w: u16, reference: u64) -> u64 {
    const SPAN: i64 = 1 << 16;
    let diff = i64::from(w) - (reference as i64 & (SPAN - 1));
    let diff = if diff > SPAN / 2 {
        diff - SPAN
    } else if diff < -SPAN / 2 {
        diff + SPAN
    } else {
        diff
    };
    (reference as i64 + diff).max(0) as u64
}

/// The retransmission timer shared by both machines.
#[derive(Debug, Clone)]
struct Timer {
    timing: Timing,
    first: Duration,
    interval: Duration,
    tries: u32,
    started: Instant,
    deadline: Option<Instant>,
    /// The other side has answered once.
    proven: bool,
}

impl Timer {
    fn new(timing: Timing, first: Duration, now: Instant) -> Timer {
        Timer {
            timing,
            first,
            interval: first.min(timing.first_max_interval),
            tries: 0,
            started: now,
            deadline: None,
            proven: false,
        }
    }

    /// Progress: the next wait is the first one again.
    fn restart(&mut self, now: Instant) {
        self.proven = true;
        self.interval = self.first;
        self.tries = 0;
        self.started = now;
        self.deadline = Some(now + self.interval);
    }

    /// Arms the timer if it is not running.
    fn arm(&mut self, now: Instant) {
        if self.deadline.is_none() {
            self.started = now;
            self.deadline = Some(now + self.interval);
        }
    }

    fn stop(&mut self) {
        self.deadline = None;
    }

    fn expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }

    /// After an expiry: `Ok` to try again (the timer is re-armed, longer), or the failure.
    fn back_off(&mut self, now: Instant, waiting_for: &str) -> Result<(), Failure> {
        self.tries += 1;
        let retries = if self.proven {
            self.timing.retries
        } else {
            self.timing.first_retries
        };
        if self.tries > retries {
            self.deadline = None;
            return Err(Failure::TimedOut {
                tries: self.tries,
                waited: now.duration_since(self.started),
                waiting_for: waiting_for.to_string(),
            });
        }
        let cap = if self.proven {
            self.timing.max_interval.max(self.first)
        } else {
            self.timing.first_max_interval
        };
        self.interval = (self.interval * 2).min(cap);
        self.deadline = Some(now + self.interval);
        Ok(())
    }
}

/// Fails with an ERROR sent to the other side.
/// Whatever was still to be sent goes: an ACK of a transfer that failed (a final ACK before
/// the file could be kept, say) would tell the other side it worked.
fn sent_error(out: &mut VecDeque<Vec<u8>>, code: ErrorCode, message: String) -> Status {
    out.clear();
    out.push_back(packet::error_packet(code, &message));
    Status::Failed(Failure::Sent { code, message })
}

/// What the sender is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SendPhase {
    /// The answer to the opening packet.
    Opening {
        packet: Vec<u8>,
        wanted: Option<Wanted>,
    },
    Sending,
    Finished,
}

/// The side that sends DATA.
#[derive(Debug)]
pub struct Sender {
    settings: Settings,
    phase: SendPhase,
    status: Status,
    timer: Timer,
    /// The data of blocks `base..base + blocks.len()`, kept until acknowledged.
    blocks: VecDeque<Vec<u8>>,
    /// The oldest block not yet acknowledged.
    base: u64,
    /// The next block to transmit (`base..next` are in flight).
    next: u64,
    /// The number of the last block (the short one), once the driver has given it.
    last: Option<u64>,
    out: VecDeque<Vec<u8>>,
    counters: Counters,
}

impl Sender {
    pub fn new(settings: Settings, timing: Timing, opening: Opening, now: Instant) -> Sender {
        let mut out = VecDeque::new();
        let phase = match opening {
            Opening::Immediate => SendPhase::Sending,
            Opening::Oack(packet) => {
                out.push_back(packet.clone());
                SendPhase::Opening {
                    packet,
                    wanted: None,
                }
            }
            Opening::Request { packet, wanted } => {
                out.push_back(packet.clone());
                SendPhase::Opening {
                    packet,
                    wanted: Some(wanted),
                }
            }
        };
        let mut timer = Timer::new(timing, settings.timeout, now);
        if !out.is_empty() {
            timer.arm(now);
        }
        Sender {
            settings,
            phase,
            status: Status::Running,
            timer,
            blocks: VecDeque::new(),
            base: 1,
            next: 1,
            last: None,
            out,
            counters: Counters::default(),
        }
    }

    /// The settings in force (after an OACK, the agreed ones).
    pub fn settings(&self) -> Settings {
        self.settings
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether the driver should read the next block and give it with
    /// [`push_block`](Self::push_block): while sending, the window is not full, and the end
    /// not reached.
    pub fn wants_block(&self) -> bool {
        self.status == Status::Running
            && self.phase == SendPhase::Sending
            && self.last.is_none()
            && self.blocks.len() < usize::from(self.settings.windowsize)
    }

    /// The next block of the file: exactly `blksize` bytes, or fewer for the last one
    /// (zero when the size is a multiple of the block size).
    pub fn push_block(&mut self, data: Vec<u8>) {
        let n = self.base + self.blocks.len() as u64;
        if data.len() < self.settings.blksize {
            self.last = Some(n);
        }
        self.blocks.push_back(data);
    }

    /// Fails the transfer from here (the file could not be read): the ERROR is queued.
    pub fn fail(&mut self, code: ErrorCode, message: String) {
        if self.status == Status::Running {
            self.status = sent_error(&mut self.out, code, message);
            self.phase = SendPhase::Finished;
            self.timer.stop();
        }
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if let Some(p) = self.out.pop_front() {
            self.counters.sent += 1;
            return Some(p);
        }
        if self.status != Status::Running || self.phase != SendPhase::Sending {
            return None;
        }
        let in_window = self.next < self.base + u64::from(self.settings.windowsize);
        let index = (self.next - self.base) as usize;
        let data = self.blocks.get(index).filter(|_| in_window)?;
        let p = packet::data_packet(wire(self.next), data);
        self.next += 1;
        self.counters.sent += 1;
        self.timer.arm(now);
        Some(p)
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    pub fn deadline(&self) -> Option<Instant> {
        self.timer.deadline
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.status != Status::Running || !self.timer.expired(now) {
            return;
        }
        self.counters.timeouts += 1;
        let waiting_for = match &self.phase {
            SendPhase::Opening { .. } => "the answer to the first packet".to_string(),
            _ => format!("the ACK of block {}", self.base),
        };
        if let Err(f) = self.timer.back_off(now, &waiting_for) {
            self.status = Status::Failed(f);
            self.phase = SendPhase::Finished;
            return;
        }
        match &self.phase {
            SendPhase::Opening { packet, .. } => {
                self.out.push_back(packet.clone());
                self.counters.resent += 1;
            }
            SendPhase::Sending => {
                // Go back: everything in flight is sent again, from the oldest.
                self.counters.resent += self.next - self.base;
                self.next = self.base;
            }
            SendPhase::Finished => {}
        }
    }

    /// A datagram from the other side of the transfer.
    pub fn handle(&mut self, bytes: &[u8], now: Instant) {
        if self.status != Status::Running {
            return;
        }
        let packet = match Packet::parse(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.fail(
                    ErrorCode::IllegalOperation,
                    format!("a packet that is not TFTP: {e}"),
                );
                return;
            }
        };
        match (packet, &self.phase) {
            (Packet::Error { code, message }, _) => {
                self.status = Status::Failed(Failure::Peer { code, message });
                self.phase = SendPhase::Finished;
                self.timer.stop();
            }
            (Packet::Ack { block: 0 }, SendPhase::Opening { .. }) => self.start(now),
            (
                Packet::Oack { options },
                SendPhase::Opening {
                    wanted: Some(wanted),
                    ..
                },
            ) => {
                if !wanted.any() {
                    self.fail(
                        ErrorCode::IllegalOperation,
                        "an OACK, but no option was asked for".into(),
                    );
                    return;
                }
                match options::accept_oack(wanted, &options, self.settings) {
                    Ok(settings) => {
                        self.settings = settings;
                        self.start(now);
                    }
                    Err(reason) => self.fail(ErrorCode::OptionRefused, reason),
                }
            }
            (Packet::Ack { block }, SendPhase::Sending) => self.ack(block, now),
            // A repeated OACK or ACK 0 while sending: the answer to our first DATA is on its
            // way, or lost; the timer will tell.
            (Packet::Oack { .. }, SendPhase::Sending) => self.counters.duplicates += 1,
            (Packet::Ack { .. }, SendPhase::Opening { .. }) => self.counters.duplicates += 1,
            (p, _) => self.fail(
                ErrorCode::IllegalOperation,
                format!("a {} packet, while sending DATA", p.kind()),
            ),
        }
    }

    fn start(&mut self, now: Instant) {
        self.phase = SendPhase::Sending;
        self.timer.restart(now);
        self.timer.stop();
    }

    // ANCHOR: ack
    fn ack(&mut self, block: u16, now: Instant) {
        let acked = unwrap(block, self.base);
        if acked < self.base || acked >= self.next {
            // Nothing new: a duplicate, or late. Ignored: answering it with DATA is the
            // Sorcerer's Apprentice bug. Only the timer sends anything again.
            self.counters.duplicates += 1;
            return;
        }
        // Blocks base..=acked arrived: forget them, and the timer starts over.
        let done = (acked + 1 - self.base) as usize;
        for data in self.blocks.drain(..done.min(self.blocks.len())) {
            self.counters.bytes += data.len() as u64;
        }
        self.counters.blocks += done as u64;
        self.base = acked + 1;
        if self.last == Some(acked) {
            self.status = Status::Complete;
            self.phase = SendPhase::Finished;
            self.timer.stop();
            return;
        }
        // An ACK inside the window: the receiver saw a gap after `acked` (RFC 7440). Send
        // again from there.
        self.counters.resent += self.next - self.base;
        self.next = self.base;
        self.timer.restart(now);
        self.timer.stop();
    }
    // ANCHOR_END: ack
}

/// What the receiver is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RecvPhase {
    /// DATA 1 (or, for a client that asked for options, an OACK), repeating `packet`.
    Opening {
        packet: Vec<u8>,
        wanted: Option<Wanted>,
    },
    Receiving,
    /// The last block is in and acknowledged; a repeat of it (our ACK was lost) is
    /// acknowledged again until the deadline.
    Dallying {
        until: Instant,
    },
    Finished,
}

/// The side that receives DATA and sends ACKs.
#[derive(Debug)]
pub struct Receiver {
    settings: Settings,
    phase: RecvPhase,
    status: Status,
    timer: Timer,
    /// The next block wanted.
    expected: u64,
    /// The first block of the window being received (an ACK is due after `windowsize`).
    window_start: u64,
    /// The last block acknowledged; `None` before the first ACK (a client that got DATA 1
    /// without an OACK has acknowledged nothing yet).
    acked: Option<u64>,
    /// A gap was reported for this window already.
    gap_told: bool,
    /// Wait after the last ACK, for a repeat of the last block.
    dally: bool,
    /// Largest number of bytes accepted.
    max_size: u64,
    out: VecDeque<Vec<u8>>,
    data: VecDeque<Vec<u8>>,
    counters: Counters,
}

impl Receiver {
    /// A receiver. `opening`: [`Opening::Immediate`] for a server's write without
    /// options (ACK 0 is queued), the server's OACK, or the client's RRQ. `dally`: after
    /// the last ACK, wait one timeout for a repeat of the last block (a server does; a
    /// client that exits at once need not).
    pub fn new(
        settings: Settings,
        timing: Timing,
        opening: Opening,
        dally: bool,
        max_size: u64,
        now: Instant,
    ) -> Receiver {
        let (packet, wanted) = match opening {
            Opening::Immediate => (packet::ack_packet(0), None),
            Opening::Oack(p) => (p, None),
            Opening::Request { packet, wanted } => (packet, Some(wanted)),
        };
        let mut timer = Timer::new(timing, settings.timeout, now);
        timer.arm(now);
        Receiver {
            settings,
            out: VecDeque::from([packet.clone()]),
            phase: RecvPhase::Opening { packet, wanted },
            status: Status::Running,
            timer,
            expected: 1,
            window_start: 1,
            acked: None,
            gap_told: false,
            dally,
            max_size,
            data: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Whether every block is in (the file can be kept), even while still dallying.
    pub fn has_everything(&self) -> bool {
        matches!(self.phase, RecvPhase::Dallying { .. }) || self.status == Status::Complete
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        let p = self.out.pop_front()?;
        self.counters.sent += 1;
        Some(p)
    }

    /// The next block's data, in order, for the driver to write.
    pub fn poll_data(&mut self) -> Option<Vec<u8>> {
        self.data.pop_front()
    }

    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            RecvPhase::Dallying { until } => Some(until),
            _ => self.timer.deadline,
        }
    }

    /// Fails the transfer from here (the file could not be written): the ERROR is queued.
    pub fn fail(&mut self, code: ErrorCode, message: String) {
        if self.status == Status::Running {
            self.status = sent_error(&mut self.out, code, message);
            self.phase = RecvPhase::Finished;
            self.timer.stop();
        }
    }

    fn send_ack(&mut self, n: u64) {
        self.out.push_back(packet::ack_packet(wire(n)));
        self.acked = Some(n);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.status != Status::Running {
            return;
        }
        if let RecvPhase::Dallying { until } = self.phase {
            if now >= until {
                self.phase = RecvPhase::Finished;
                self.status = Status::Complete;
            }
            return;
        }
        if !self.timer.expired(now) {
            return;
        }
        self.counters.timeouts += 1;
        let waiting_for = format!("DATA block {}", self.expected);
        if let Err(f) = self.timer.back_off(now, &waiting_for) {
            self.status = Status::Failed(f);
            self.phase = RecvPhase::Finished;
            return;
        }
        self.counters.resent += 1;
        // Say again what we have: the opening packet, or the ACK of the last block that
        // arrived in order (RFC 7440: the sender goes on from the one after it). A new
        // window starts at the block wanted.
        match &self.phase {
            RecvPhase::Opening { packet, .. } => self.out.push_back(packet.clone()),
            _ => self.send_ack(self.expected - 1),
        }
        self.window_start = self.expected;
        self.gap_told = false;
    }

    pub fn handle(&mut self, bytes: &[u8], now: Instant) {
        if self.status != Status::Running {
            return;
        }
        if let RecvPhase::Dallying { .. } = self.phase {
            // The file is whole and kept: only a repeat of the last block matters now (our
            // ACK of it was lost). Anything else, an ERROR or junk, changes nothing.
            if let Ok(Packet::Data { block, .. }) = Packet::parse(bytes) {
                if unwrap(block, self.expected) + 1 == self.expected {
                    self.counters.duplicates += 1;
                    self.send_ack(self.expected - 1);
                }
            }
            return;
        }
        let packet = match Packet::parse(bytes) {
            Ok(p) => p,
            Err(e) => {
                self.fail(
                    ErrorCode::IllegalOperation,
                    format!("a packet that is not TFTP: {e}"),
                );
                return;
            }
        };
        match packet {
            Packet::Error { code, message } => {
                self.status = Status::Failed(Failure::Peer { code, message });
                self.phase = RecvPhase::Finished;
                self.timer.stop();
            }
            Packet::Oack { options } => self.oack(&options, now),
            Packet::Data { block, data } => self.data_block(block, data, now),
            p => self.fail(
                ErrorCode::IllegalOperation,
                format!("a {} packet, while receiving DATA", p.kind()),
            ),
        }
    }

    fn oack(&mut self, options: &[packet::TftpOption], now: Instant) {
        match &self.phase {
            RecvPhase::Opening {
                wanted: Some(wanted),
                ..
            } => {
                if !wanted.any() {
                    self.fail(
                        ErrorCode::IllegalOperation,
                        "an OACK, but no option was asked for".into(),
                    );
                    return;
                }
                match options::accept_oack(wanted, options, self.settings) {
                    Ok(settings) => {
                        self.settings = settings;
                        self.phase = RecvPhase::Receiving;
                        // ACK 0 says "go": the first window starts.
                        self.send_ack(0);
                        self.timer.restart(now);
                    }
                    Err(reason) => self.fail(ErrorCode::OptionRefused, reason),
                }
            }
            // Our ACK 0 was lost and the server repeats its OACK: say it again.
            RecvPhase::Receiving if self.expected == 1 && self.acked == Some(0) => {
                self.counters.duplicates += 1;
                self.send_ack(0);
            }
            _ => self.counters.duplicates += 1,
        }
    }

    // ANCHOR: data
    fn data_block(&mut self, block: u16, data: &[u8], now: Instant) {
        if matches!(self.phase, RecvPhase::Opening { .. }) {
            // DATA 1 without an OACK: the server took no option, RFC 1350's defaults hold.
            if let RecvPhase::Opening {
                wanted: Some(_), ..
            } = self.phase
            {
                self.settings = Settings {
                    timeout: self.settings.timeout,
                    ..Settings::default()
                };
            }
            self.phase = RecvPhase::Receiving;
        }
        let n = unwrap(block, self.expected);
        if data.len() > self.settings.blksize {
            self.fail(
                ErrorCode::IllegalOperation,
                format!(
                    "block {n} has {} bytes, more than the block size {}",
                    data.len(),
                    self.settings.blksize
                ),
            );
            return;
        }
        if n < self.expected {
            // A block we have: our ACK was lost or is late. Acknowledge again what we have
            // (once per window: the newest block, or every one when stop-and-wait).
            self.counters.duplicates += 1;
            if n + 1 == self.expected || self.settings.windowsize == 1 {
                self.send_ack(self.expected - 1);
            }
            return;
        }
        if n > self.expected {
            // A gap: a block was lost. Say what we have, once, and the sender goes back.
            if !self.gap_told {
                self.gap_told = true;
                self.send_ack(self.expected - 1);
            }
            return;
        }
        if self.counters.bytes + data.len() as u64 > self.max_size {
            self.fail(
                ErrorCode::DiskFull,
                format!("the file is over the limit of {} bytes", self.max_size),
            );
            return;
        }
        self.data.push_back(data.to_vec());
        self.counters.bytes += data.len() as u64;
        self.counters.blocks += 1;
        self.expected += 1;
        self.gap_told = false;
        self.timer.restart(now);
        let last = data.len() < self.settings.blksize;
        let window_full = n + 1 - self.window_start >= u64::from(self.settings.windowsize);
        if last || window_full {
            self.send_ack(n);
            self.window_start = n + 1;
        }
        if last {
            self.timer.stop();
            if self.dally {
                self.phase = RecvPhase::Dallying {
                    until: now + self.settings.timeout * 2,
                };
            } else {
                self.phase = RecvPhase::Finished;
                self.status = Status::Complete;
            }
        }
    }
    // ANCHOR_END: data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{ack_packet, data_packet, request_packet, Mode, Request};

    const MS: Duration = Duration::from_millis(1);

    fn settings(blksize: usize, windowsize: u16) -> Settings {
        Settings {
            blksize,
            windowsize,
            timeout: Duration::from_secs(1),
            tsize: None,
        }
    }

    /// Runs a sender against a receiver (a server's read without options) over a pipe that
    /// drops the datagrams `drop` says, with a fake clock; returns what arrived, both
    /// machines, and the datagrams each sent.
    struct Run {
        received: Vec<u8>,
        sender: Sender,
        receiver: Receiver,
        data_sent: Vec<u16>,
    }

    fn run(file: &[u8], s: Settings, mut drop: impl FnMut(bool, &[u8]) -> bool) -> Run {
        let mut now = Instant::now();
        let mut sender = Sender::new(s, DEFAULT_TIMING, Opening::Immediate, now);
        // The receiver repeats its opening packet (here an RRQ, with these settings already
        // agreed) until DATA 1 comes. The request and its repeats are the server's request
        // port's business: the pipe takes them out of the way.
        let rrq = request_packet(
            false,
            &Request {
                filename: b"f".to_vec(),
                mode: Mode::Octet,
                options: Vec::new(),
            },
        );
        // It dallies, as a server receiving a file does: a lost last ACK is answered again.
        let mut receiver = Receiver::new(
            s,
            DEFAULT_TIMING,
            Opening::Oack(rrq.clone()),
            true,
            u64::MAX,
            now,
        );
        let mut offset = 0;
        let mut received = Vec::new();
        let mut data_sent = Vec::new();
        for _ in 0..2_000_000 {
            while sender.wants_block() {
                let end = (offset + s.blksize).min(file.len());
                sender.push_block(file[offset..end].to_vec());
                offset = end;
            }
            let mut moved = false;
            while let Some(p) = sender.poll_transmit(now) {
                moved = true;
                if let Ok(Packet::Data { block, .. }) = Packet::parse(&p) {
                    data_sent.push(block);
                }
                if !drop(true, &p) {
                    receiver.handle(&p, now);
                }
            }
            while let Some(d) = receiver.poll_data() {
                received.extend_from_slice(&d);
            }
            while let Some(p) = receiver.poll_transmit() {
                moved = true;
                if p == rrq {
                    continue;
                }
                if !drop(false, &p) {
                    sender.handle(&p, now);
                }
            }
            if sender.status() != &Status::Running && receiver.status() != &Status::Running {
                break;
            }
            if !moved {
                // Nothing in flight: the clock jumps to the next deadline.
                let next = [sender.deadline(), receiver.deadline()]
                    .into_iter()
                    .flatten()
                    .min();
                let Some(next) = next else { break };
                now = next.max(now + MS);
                sender.handle_timeout(now);
                receiver.handle_timeout(now);
            }
        }
        Run {
            received,
            sender,
            receiver,
            data_sent,
        }
    }

    fn file(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn block_numbers_from_the_wire_are_read_near_the_one_expected() {
        assert_eq!(wire(65_536), 0);
        assert_eq!(wire(65_537), 1);
        assert_eq!(unwrap(0, 65_535), 65_536);
        assert_eq!(unwrap(65_535, 65_536), 65_535);
        assert_eq!(unwrap(3, 5), 3);
        assert_eq!(unwrap(65_535, 1), 0, "never below zero");
        assert_eq!(unwrap(7, 131_072 + 5), 131_072 + 7);
    }

    #[test]
    fn a_file_arrives_whole_in_stop_and_wait_and_in_windows() {
        for (len, blksize, window) in [
            (0, 512, 1),
            (512, 512, 1),
            (1000, 512, 1),
            (5000, 100, 4),
            (5000, 100, 16),
            (4096, 512, 8),
        ] {
            let f = file(len);
            let r = run(&f, settings(blksize, window), |_, _| false);
            assert_eq!(r.received, f, "{len} {blksize} {window}");
            assert_eq!(r.sender.status(), &Status::Complete);
            assert_eq!(r.receiver.status(), &Status::Complete);
            // A size that is a multiple of the block size ends with an empty block.
            assert_eq!(r.sender.counters().blocks, (len / blksize + 1) as u64);
            assert_eq!(r.sender.counters().resent, 0);
        }
    }

    #[test]
    fn block_numbers_roll_over_past_65535() {
        // 70,000 blocks of 8 bytes: the block after 65,535 is 0 on the wire.
        let f = file(8 * 70_000 + 3);
        let r = run(&f, settings(8, 1), |_, _| false);
        assert_eq!(r.received, f);
        assert_eq!(r.data_sent[65_534], 65_535);
        assert_eq!(r.data_sent[65_535], 0);
        assert_eq!(r.data_sent[65_536], 1);
    }

    #[test]
    fn loss_is_repaired_by_retransmission_in_both_directions() {
        // Several seeds: among them, runs that lose the first block, or the last ACK.
        let mut complete = 0;
        for (window, seed) in [1u16, 8]
            .into_iter()
            .flat_map(|w| (1..=6).map(move |s| (w, s)))
        {
            let f = file(20_000);
            let mut rng = fastrand::Rng::with_seed(seed);
            let r = run(&f, settings(512, window), |_, _| rng.f64() < 0.2);
            assert_eq!(r.received, f, "window {window}, seed {seed}");
            assert_eq!(
                r.receiver.status(),
                &Status::Complete,
                "window {window}, seed {seed}"
            );
            assert!(r.sender.counters().resent > 0 && r.sender.counters().timeouts > 0);
            // The one thing TFTP cannot settle: the last ACK, and every repeat of it while
            // the receiver waits, lost. The file is whole; only the sender cannot know.
            match r.sender.status() {
                Status::Complete => complete += 1,
                Status::Failed(Failure::TimedOut { waiting_for, .. }) => {
                    assert_eq!(
                        waiting_for, "the ACK of block 40",
                        "window {window}, seed {seed}"
                    )
                }
                other => panic!("window {window}, seed {seed}: {other:?}"),
            }
        }
        assert!(complete >= 8, "{complete} of 12 senders saw the end");
    }

    #[test]
    fn a_lost_first_block_is_sent_again() {
        let f = file(3000);
        let mut first = true;
        let r = run(&f, settings(512, 1), |to_receiver, _| {
            to_receiver && std::mem::take(&mut first)
        });
        assert_eq!(r.received, f);
        assert_eq!(r.data_sent[..2], [1, 1], "DATA 1, lost, then DATA 1 again");
    }

    #[test]
    fn a_duplicate_ack_is_ignored_not_answered() {
        // Each ACK arrives twice, as when a late ACK crosses a retransmission. A Sorcerer's
        // Apprentice sender would send each block twice from then on.
        let f = file(512 * 20);
        let mut now = Instant::now();
        let mut sender = Sender::new(settings(512, 1), DEFAULT_TIMING, Opening::Immediate, now);
        let mut offset = 0;
        let mut data = 0;
        for _ in 0..100 {
            while sender.wants_block() {
                let end = (offset + 512).min(f.len());
                sender.push_block(f[offset..end].to_vec());
                offset = end;
            }
            let mut last = None;
            while let Some(p) = sender.poll_transmit(now) {
                if let Ok(Packet::Data { block, .. }) = Packet::parse(&p) {
                    data += 1;
                    last = Some(block);
                }
            }
            let Some(block) = last else { break };
            sender.handle(&ack_packet(block), now);
            sender.handle(&ack_packet(block), now);
            now += MS;
        }
        assert_eq!(sender.status(), &Status::Complete);
        assert_eq!(data, 21, "one DATA per block, never two");
        // Every twin but the last, which arrives after the end.
        assert_eq!(sender.counters().duplicates, 20);
    }

    #[test]
    fn a_silent_peer_is_given_up_after_the_retries_with_back_off() {
        let start = Instant::now();
        let mut sender = Sender::new(settings(512, 1), DEFAULT_TIMING, Opening::Immediate, start);
        sender.push_block(vec![1; 10]);
        let mut sends = Vec::new();
        let mut now = start;
        for _ in 0..20 {
            while let Some(_p) = sender.poll_transmit(now) {
                sends.push(now.duration_since(start).as_secs());
            }
            let Some(d) = sender.deadline() else { break };
            now = d;
            sender.handle_timeout(now);
        }
        // 1 + 5 retries, at 0, 1, 3, 7, 15 and 23 s (waits 1, 2, 4, 8, 8), then given up at 31.
        assert_eq!(sends, [0, 1, 3, 7, 15, 23]);
        let Status::Failed(Failure::TimedOut { tries, waited, .. }) = sender.status().clone()
        else {
            panic!("{:?}", sender.status())
        };
        assert_eq!(tries, 6);
        assert_eq!(waited, Duration::from_secs(31));
    }

    #[test]
    fn an_error_from_the_peer_ends_the_transfer_with_its_code() {
        let now = Instant::now();
        let mut r = Receiver::new(
            settings(512, 1),
            DEFAULT_TIMING,
            Opening::Immediate,
            true,
            100,
            now,
        );
        r.handle(&packet::error_packet(ErrorCode::DiskFull, "full"), now);
        assert_eq!(
            r.status(),
            &Status::Failed(Failure::Peer {
                code: ErrorCode::DiskFull,
                message: "full".into()
            })
        );
        // Over the size limit: ERROR 3 is sent, and nothing more is taken.
        let mut r = Receiver::new(
            settings(512, 1),
            DEFAULT_TIMING,
            Opening::Immediate,
            true,
            100,
            now,
        );
        assert_eq!(r.poll_transmit(), Some(ack_packet(0)));
        r.handle(&data_packet(1, &[0; 101]), now);
        assert!(matches!(
            r.status(),
            Status::Failed(Failure::Sent {
                code: ErrorCode::DiskFull,
                ..
            })
        ));
        assert_eq!(
            Packet::parse(&r.poll_transmit().unwrap()).unwrap().kind(),
            "ERROR"
        );
        // A packet that makes no sense here: ERROR 4.
        let mut s = Sender::new(settings(512, 1), DEFAULT_TIMING, Opening::Immediate, now);
        s.handle(&data_packet(1, b"x"), now);
        assert!(matches!(
            s.status(),
            Status::Failed(Failure::Sent {
                code: ErrorCode::IllegalOperation,
                ..
            })
        ));
    }

    #[test]
    fn a_client_takes_an_oack_or_rfc_1350s_defaults() {
        let now = Instant::now();
        let wanted = Wanted {
            blksize: Some(1428),
            windowsize: Some(4),
            ..Wanted::default()
        };
        let rrq = request_packet(
            false,
            &Request {
                filename: b"f".to_vec(),
                mode: Mode::Octet,
                options: wanted.to_options(),
            },
        );
        let opening = Opening::Request {
            packet: rrq.clone(),
            wanted,
        };
        // A server that knows the options: OACK, answered with ACK 0.
        let mut r = Receiver::new(
            Settings::default(),
            DEFAULT_TIMING,
            opening.clone(),
            false,
            u64::MAX,
            now,
        );
        assert_eq!(r.poll_transmit(), Some(rrq.clone()));
        r.handle(&packet::oack_packet(&wanted.to_options()[..1]), now);
        assert_eq!(r.poll_transmit(), Some(ack_packet(0)));
        assert_eq!(r.settings().blksize, 1428);
        assert_eq!(
            r.settings().windowsize,
            1,
            "windowsize not in the OACK: not agreed"
        );
        // A server that ignores them: DATA 1 of 512 bytes, and the defaults.
        let mut r = Receiver::new(
            Settings::default(),
            DEFAULT_TIMING,
            opening,
            false,
            u64::MAX,
            now,
        );
        let _ = r.poll_transmit();
        r.handle(&data_packet(1, &[7; 512]), now);
        assert_eq!(r.poll_transmit(), Some(ack_packet(1)));
        assert_eq!(r.settings().blksize, 512);
        // An OACK to a client that asked for nothing is a protocol error.
        let mut r = Receiver::new(
            Settings::default(),
            DEFAULT_TIMING,
            Opening::Request {
                packet: rrq,
                wanted: Wanted::default(),
            },
            false,
            u64::MAX,
            now,
        );
        let _ = r.poll_transmit();
        r.handle(&packet::oack_packet(&[]), now);
        assert!(matches!(
            r.status(),
            Status::Failed(Failure::Sent {
                code: ErrorCode::IllegalOperation,
                ..
            })
        ));
    }

    #[test]
    fn after_a_silence_the_receiver_acknowledges_what_it_has() {
        // A window of 4: blocks 1 and 2 arrive, the rest is lost. On the timeout the
        // receiver says "I have up to 2" (RFC 7440), so the sender goes on from 3.
        let now = Instant::now();
        let mut r = Receiver::new(
            settings(512, 4),
            DEFAULT_TIMING,
            Opening::Oack(Vec::new()),
            false,
            u64::MAX,
            now,
        );
        let _ = r.poll_transmit();
        r.handle(&data_packet(1, &[1; 512]), now);
        r.handle(&data_packet(2, &[2; 512]), now);
        assert_eq!(r.poll_transmit(), None, "no ACK inside a window");
        r.handle_timeout(r.deadline().unwrap());
        assert_eq!(r.poll_transmit(), Some(ack_packet(2)));
    }

    #[test]
    fn a_lost_last_ack_is_repeated_while_the_receiver_dallies() {
        let now = Instant::now();
        let mut r = Receiver::new(
            settings(512, 1),
            DEFAULT_TIMING,
            Opening::Immediate,
            true,
            u64::MAX,
            now,
        );
        let _ = r.poll_transmit();
        r.handle(&data_packet(1, b"short"), now);
        assert_eq!(r.poll_transmit(), Some(ack_packet(1)));
        assert!(r.has_everything());
        assert_eq!(r.status(), &Status::Running);
        // The sender did not get it and sends the block again: it is acknowledged again.
        r.handle(&data_packet(1, b"short"), now + MS);
        assert_eq!(r.poll_transmit(), Some(ack_packet(1)));
        assert_eq!(r.poll_data(), Some(b"short".to_vec()));
        assert_eq!(r.poll_data(), None, "kept once");
        // An ERROR, junk, or a block past the end while dallying change nothing: the file
        // is whole.
        r.handle(
            &packet::error_packet(ErrorCode::NotDefined, "bye"),
            now + MS,
        );
        r.handle(b"junk", now + MS);
        r.handle(&data_packet(2, b"more"), now + MS);
        assert_eq!(r.poll_transmit(), None);
        assert_eq!(r.poll_data(), None);
        r.handle_timeout(r.deadline().unwrap());
        assert_eq!(r.status(), &Status::Complete);
    }
}
