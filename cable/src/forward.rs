//! The cable's loop: read each packet from the TUN device of the side that sent it, let
//! that direction's [`Link`] decide its fate, record it, and write it to the other side's
//! TUN device now or when its time comes. One thread for both directions, woken by
//! readiness (mio, on the two devices' file descriptors) or by the next packet's time.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::capture::{self, Capture};
use crate::link::{Fate, Link};
use crate::side::Side;
use crate::stats::{Direction, Summary};

/// The largest packet a TUN device gives with its MTU of 1,500, with room to spare.
const BUFFER: usize = 65_536;
/// How many packets are read from one side before the other side gets its turn.
const BATCH: usize = 64;
/// How often the loop looks at the stop flag when nothing happens.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// Everything the loop owns.
pub struct Cable {
    tun: [tun::Device; 2],
    /// The link of what each side sends: `links[0]` carries left → right.
    links: [Link; 2],
    directions: [Direction; 2],
    capture: Option<Capture>,
    start: Instant,
    write_errors: u64,
}

impl Cable {
    /// A cable between the two TUN devices (left first), with a link for each direction.
    pub fn new(tun: [tun::Device; 2], links: [Link; 2], mut capture: Option<Capture>) -> Cable {
        let start = Instant::now();
        if let Some(c) = capture.as_mut() {
            c.set_epoch(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default(),
            );
        }
        Cable {
            tun,
            links,
            directions: Default::default(),
            capture,
            start,
            write_errors: 0,
        }
    }

    /// Forwards packets until `stop` is set, then returns the counts.
    pub fn run(mut self, stop: &AtomicBool) -> Result<Summary, String> {
        let forwarded = self.forward(stop);
        // The capture is written out however the loop ended: what it holds is the story
        // of the failure too.
        if let Some(c) = self.capture.as_mut() {
            c.finish()
                .map_err(|e| format!("cannot finish the capture: {e}"))?;
        }
        forwarded?;
        if self.write_errors > 0 {
            eprintln!(
                "cable: {} packets could not be written to a TUN device",
                self.write_errors
            );
        }
        let [left, right] = self.directions;
        Ok(Summary {
            left_to_right: left.counts,
            right_to_left: right.counts,
            seconds: self.start.elapsed().as_secs_f64(),
        })
    }

    /// The loop itself, until `stop` or an error.
    fn forward(&mut self, stop: &AtomicBool) -> Result<(), String> {
        let mut poll = Poll::new().map_err(|e| format!("cannot make an event queue: {e}"))?;
        for side in Side::BOTH {
            let fd = self.tun[side.index()].as_raw_fd();
            poll.registry()
                .register(&mut SourceFd(&fd), Token(side.index()), Interest::READABLE)
                .map_err(|e| format!("cannot watch {side}'s TUN device: {e}"))?;
        }
        let mut events = Events::with_capacity(4);
        // Readiness is edge-triggered: a side stays "maybe readable" until a read says
        // WouldBlock.
        let mut readable = [true, true];
        let mut buffer = vec![0u8; BUFFER];
        while !stop.load(Ordering::Relaxed) {
            for side in Side::BOTH {
                if readable[side.index()] {
                    readable[side.index()] = self.read_batch(side, &mut buffer)?;
                }
            }
            self.release_due();
            let timeout = if readable.contains(&true) {
                Duration::ZERO
            } else {
                self.until_next_due()
            };
            match poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("waiting for packets failed: {e}")),
            }
            for event in events.iter() {
                readable[event.token().0 % 2] = true;
            }
        }
        Ok(())
    }

    /// Reads up to [`BATCH`] packets sent by `side`. Returns false once the device is empty.
    fn read_batch(&mut self, side: Side, buffer: &mut [u8]) -> Result<bool, String> {
        for _ in 0..BATCH {
            match self.tun[side.index()].recv(buffer) {
                Ok(n) => self.arrived(side, &buffer[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading from {side}'s TUN device failed: {e}")),
            }
        }
        Ok(true)
    }

    /// One packet sent by `from` reached the cable.
    fn arrived(&mut self, from: Side, data: &[u8]) {
        let now = self.start.elapsed();
        let i = from.index();
        let retransmission = self.directions[i].arrived(data);
        let fate = self.links[i].offer(now, data);
        self.directions[i].fate(&fate);
        if let Some(c) = self.capture.as_mut() {
            let note = capture::comment(&fate, retransmission);
            if let Err(e) = c.record(now, data, note.as_deref()) {
                eprintln!("cable: the capture stopped: {e}");
                self.capture = None;
            }
        }
        if fate == Fate::Pass {
            self.deliver(from.other(), data);
        }
    }

    /// Writes the packets whose time has come.
    fn release_due(&mut self) {
        let now = self.start.elapsed();
        for from in Side::BOTH {
            while let Some(packet) = self.links[from.index()].pop_due(now) {
                self.deliver(from.other(), &packet);
            }
        }
    }

    fn deliver(&mut self, to: Side, data: &[u8]) {
        // A TUN write hands the packet to the side's kernel at once; it does not wait.
        if self.tun[to.index()].send(data).is_err() {
            self.write_errors += 1;
        }
    }

    /// How long the loop may sleep: until the next held packet is due, at most STOP_CHECK.
    fn until_next_due(&self) -> Duration {
        let now = self.start.elapsed();
        self.links
            .iter()
            .filter_map(Link::next_due)
            .map(|due| due.saturating_sub(now))
            .min()
            .unwrap_or(STOP_CHECK)
            .min(STOP_CHECK)
    }
}
