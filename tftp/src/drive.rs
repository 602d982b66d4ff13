//! # The driver: a socket, a state machine, and a file
//!
//! Both programs move a transfer the same way: send what the machine wants sent, wait for a
//! datagram until the machine's deadline, give it the datagram or the timeout, and move
//! blocks between the machine and the file. This is the only code of a transfer that does
//! I/O, and it is the same in the server and the client.
//!
//! A transfer's two ends are its *transfer IDs* (TIDs): each side's UDP port. A datagram
//! from any other address is not part of the transfer: it gets ERROR 5 and changes nothing
//! (RFC 1350 §4), so a stranger cannot break into a transfer or end it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::os;

use crate::blocks::{BlockReader, BlockWriter};
use crate::packet::{self, ErrorCode};
use crate::transfer::{Failure, Receiver, Sender, Status};

/// The longest the driver sleeps in one wait, so that it sees a stop request (Ctrl-C)
/// soon even when the machine's deadline is far.
const WAIT_SLICE: Duration = Duration::from_millis(200);
/// The shortest wait the socket accepts (a zero timeout means "block forever").
const MIN_WAIT: Duration = Duration::from_millis(1);

/// The other end of a transfer.
pub struct Link<'a> {
    pub socket: &'a UdpSocket,
    /// The peer's address. A client knows only the server's IP and the port it sent the
    /// request to; the port of the transfer is the one the first answer comes from
    /// (`locked` false until then).
    pub peer: SocketAddr,
    pub locked: bool,
    /// Set from outside to stop (the server's Ctrl-C).
    pub stop: Option<&'a AtomicBool>,
    /// A moment past which the transfer is abandoned (a grader's step deadline).
    pub until: Option<Instant>,
    /// Datagrams from other addresses, answered with ERROR 5.
    pub strays: u64,
    /// Every datagram, both ways (`--trace`).
    pub trace: bool,
    buf: Vec<u8>,
    /// The socket's read timeout as last set: set again only when it changes, which saves
    /// a system call per datagram.
    read_timeout: Option<Duration>,
}

impl<'a> Link<'a> {
    pub fn new(socket: &'a UdpSocket, peer: SocketAddr, locked: bool) -> Link<'a> {
        Link {
            socket,
            peer,
            locked,
            stop: None,
            until: None,
            strays: 0,
            trace: false,
            buf: vec![0; packet::RECV_BUFFER],
            read_timeout: None,
        }
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        if self.trace {
            common::output::trace(&self.peer, "->", bytes);
        }
        match self.socket.send_to(bytes, self.peer) {
            Ok(_) => Ok(()),
            // Windows reports an earlier datagram's ICMP "port unreachable" on a later
            // call; the timer handles a peer that has gone.
            Err(e) if os::is_port_unreachable(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn stopped(&self) -> bool {
        self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Waits until `deadline` for a datagram of this transfer; `Ok(None)` on timeout.
    fn recv(&mut self, deadline: Option<Instant>) -> io::Result<Option<usize>> {
        loop {
            if self.stopped() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "stopped"));
            }
            let now = Instant::now();
            if self.until.is_some_and(|u| now >= u) {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "out of time"));
            }
            let deadline = match (deadline, self.until) {
                (Some(d), Some(u)) => Some(d.min(u)),
                (d, u) => d.or(u),
            };
            let wait = match deadline {
                Some(d) if d <= now => return Ok(None),
                Some(d) => (d - now).min(WAIT_SLICE),
                None => WAIT_SLICE,
            };
            let wait = Some(wait.max(MIN_WAIT));
            if wait != self.read_timeout {
                self.socket.set_read_timeout(wait)?;
                self.read_timeout = wait;
            }
            let (n, from) = match self.socket.recv_from(&mut self.buf) {
                Ok(r) => r,
                Err(e) if common::net::is_timeout(&e) => continue,
                Err(e) if os::is_port_unreachable(&e) || e.kind() == io::ErrorKind::Interrupted => {
                    continue
                }
                Err(e) => return Err(e),
            };
            if self.trace {
                common::output::trace(&from, "<-", &self.buf[..n]);
            }
            if !self.locked && from.ip() == self.peer.ip() {
                self.peer = from;
                self.locked = true;
            }
            if from == self.peer {
                return Ok(Some(n));
            }
            // RFC 1350: a packet from a wrong port is answered with ERROR 5, and the
            // transfer goes on.
            self.strays += 1;
            let _ = self.socket.send_to(
                &packet::error_packet(
                    ErrorCode::UnknownTid,
                    "unknown transfer ID: this port serves another client",
                ),
                from,
            );
        }
    }
}

/// What keeping a received file gave: done, or the ERROR to send instead of the last ACK.
pub type Kept = Result<(), (ErrorCode, String)>;

/// The most a transfer asks of the kernel for its socket's buffers. The kernel may give
/// less (Linux caps it at net.core.rmem_max and wmem_max).
const MAX_SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// Sizes a transfer's socket buffers for a window: `windowsize` blocks of `blksize` arrive
/// at once, and the kernel drops what its receive queue cannot hold (on loopback too: 64
/// blocks of 64 KB are 4 MB, the default queue about 200 KB). A system that refuses
/// keeps its default: the transfer still works, with more retransmissions.
pub fn size_buffers(socket: &UdpSocket, blksize: usize, windowsize: u16) {
    let want =
        (usize::from(windowsize) * (blksize + packet::DATA_HEADER) * 2).min(MAX_SOCKET_BUFFER);
    let sock = socket2::SockRef::from(socket);
    if sock.recv_buffer_size().is_ok_and(|c| c < want) {
        let _ = sock.set_recv_buffer_size(want);
    }
    if sock.send_buffer_size().is_ok_and(|c| c < want) {
        let _ = sock.set_send_buffer_size(want);
    }
}

/// How a driven transfer ended.
pub struct Ended {
    pub status: Status,
    /// The file's SHA-256 (hex), when every block was moved.
    pub digest: Option<String>,
    /// Bytes of the file read or written.
    pub file_bytes: u64,
}

fn io_failure(e: &io::Error, what: &str) -> Failure {
    Failure::Sent {
        code: ErrorCode::NotDefined,
        message: format!("{what}: {e}"),
    }
}

/// Sends a file: `sender` against `link`, blocks from `input`. `progress` is told the bytes
/// newly acknowledged, and the file's size when it is known (`tsize`).
pub fn send<R: Read>(
    link: &mut Link,
    sender: &mut Sender,
    mut input: BlockReader<R>,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Ended {
    let mut acked_bytes = 0;
    loop {
        // One block read, then sent at once: the receiver works on it while the next is
        // read (reading a whole window first would leave it idle meanwhile).
        loop {
            let now = Instant::now();
            while let Some(p) = sender.poll_transmit(now) {
                if let Err(e) = link.send(&p) {
                    return Ended {
                        status: Status::Failed(io_failure(&e, "send")),
                        digest: None,
                        file_bytes: input.file_bytes,
                    };
                }
            }
            if !sender.wants_block() {
                break;
            }
            match input.next_block(sender.settings().blksize) {
                Ok(block) => sender.push_block(block),
                Err(e) => sender.fail(
                    ErrorCode::NotDefined,
                    format!("the file could not be read: {e}"),
                ),
            }
        }
        let done = sender.counters().bytes;
        if done > acked_bytes {
            progress(done - acked_bytes, sender.settings().tsize);
            acked_bytes = done;
        }
        if sender.status() != &Status::Running {
            break;
        }
        match link.recv(sender.deadline()) {
            Ok(Some(n)) => sender.handle(&link.buf[..n], Instant::now()),
            Ok(None) => sender.handle_timeout(Instant::now()),
            Err(e) => {
                sender.fail(
                    ErrorCode::NotDefined,
                    format!("the transfer was stopped ({e})"),
                );
                while let Some(p) = sender.poll_transmit(Instant::now()) {
                    let _ = link.send(&p);
                }
                break;
            }
        }
    }
    let mut status = sender.status().clone();
    let file_bytes = input.file_bytes;
    let mut digest = None;
    if status == Status::Complete {
        match input.digest() {
            Ok(d) => digest = Some(d),
            Err(e) => status = Status::Failed(io_failure(&e, "SHA-256")),
        }
    }
    Ended {
        status,
        digest,
        file_bytes,
    }
}

/// Receives a file: `receiver` against `link`, blocks to `output`. When every block is in,
/// `keep` is called with the output, the digest and the machine (a server commits its part
/// file there, and says so at once: the wait for a repeated last block comes after);
/// its error fails the transfer before the last ACK is sent.
pub fn receive<W: Write>(
    link: &mut Link,
    receiver: &mut Receiver,
    output: BlockWriter<W>,
    progress: &mut dyn FnMut(u64, Option<u64>),
    keep: &mut dyn FnMut(W, &str, &Receiver) -> Kept,
) -> Ended {
    let mut output = Some(output);
    let mut digest = None;
    let mut file_bytes = 0;
    loop {
        while let Some(block) = receiver.poll_data() {
            let Some(out) = output.as_mut() else { break };
            progress(block.len() as u64, receiver.settings().tsize);
            if let Err(e) = out.write_block(&block) {
                receiver.fail(
                    ErrorCode::DiskFull,
                    format!("the file could not be written: {e}"),
                );
            }
        }
        if receiver.has_everything() {
            if let Some(out) = output.take() {
                file_bytes = out.file_bytes;
                match out.finish() {
                    Ok((w, hex)) => match keep(w, &hex, receiver) {
                        Ok(()) => digest = Some(hex),
                        Err((code, message)) => receiver.fail(code, message),
                    },
                    Err(e) => receiver.fail(
                        ErrorCode::DiskFull,
                        format!("the file could not be written: {e}"),
                    ),
                }
            }
        }
        while let Some(p) = receiver.poll_transmit() {
            if let Err(e) = link.send(&p) {
                return Ended {
                    status: Status::Failed(io_failure(&e, "send")),
                    digest: None,
                    file_bytes,
                };
            }
        }
        if receiver.status() != &Status::Running {
            break;
        }
        match link.recv(receiver.deadline()) {
            Ok(Some(n)) => receiver.handle(&link.buf[..n], Instant::now()),
            Ok(None) => receiver.handle_timeout(Instant::now()),
            Err(e) => {
                if receiver.has_everything() {
                    break;
                }
                receiver.fail(
                    ErrorCode::NotDefined,
                    format!("the transfer was stopped ({e})"),
                );
                while let Some(p) = receiver.poll_transmit() {
                    let _ = link.send(&p);
                }
                break;
            }
        }
    }
    let status = match receiver.status() {
        Status::Running if digest.is_some() => Status::Complete,
        s => s.clone(),
    };
    Ended {
        digest: digest.filter(|_| status == Status::Complete),
        status,
        file_bytes,
    }
}
