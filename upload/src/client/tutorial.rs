//! # The client's side of the tutorial's exchange (`upload send --protocol tutorial`)
//!
//! Connect, read the greeting, send the size, read the go-ahead; the caller sends the bytes;
//! then read "done". [`crate::tutorial`] has the messages.

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::addr::Endpoint;
use common::conn::SocketTimeouts;
use common::grade::Wait;

use crate::tutorial::{read_message, DONE, GO_AHEAD, GREETING};

/// How long a connect waits when `--timeout` is 0 (no limit): about as long as the kernel
/// itself retries a SYN before it gives up.
const CONNECT_WITHOUT_LIMIT: Duration = Duration::from_secs(127);

/// Why an upload in the tutorial's exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum TutorialError {
    #[error("{0}")]
    Connect(#[from] common::net::NetError),
    #[error("the server closed the connection {0} (it may have refused the file: the tutorial's exchange cannot say why)")]
    Closed(&'static str),
    #[error("the server said {0:?}, expected {1:?} (is it `upload serve --protocol tutorial` or the tutorial's upload.py?)")]
    Unexpected(String, &'static str),
    #[error("{}", common::net::describe(.0))]
    Io(#[from] io::Error),
}

/// Reads one message and checks that it is `what`; `stage` says where we were if the
/// server closed instead.
fn expect(
    stream: &TcpStream,
    what: &'static str,
    stage: &'static str,
) -> Result<(), TutorialError> {
    match read_message(stream)? {
        None => Err(TutorialError::Closed(stage)),
        Some(m) if m == what.as_bytes() => Ok(()),
        Some(m) => Err(TutorialError::Unexpected(
            String::from_utf8_lossy(&m).into_owned(),
            what,
        )),
    }
}

/// The client's side up to the file's bytes: connect, greeting, size, go-ahead. `say` gets
/// the server's messages, to show them as the tutorial's client prints them. Every
/// connect, read and write waits as `wait` says (`--timeout`; inside a grader, cut to its
/// step). The caller then sends exactly `size` bytes and calls [`finish`].
pub fn start(
    to: &Endpoint,
    size: u64,
    wait: &Wait,
    say: &mut dyn FnMut(&str),
) -> Result<TcpStream, TutorialError> {
    let within = wait
        .timeout_at(Instant::now())?
        .unwrap_or(CONNECT_WITHOUT_LIMIT);
    let stream = common::net::connect(to, within, "upload serve --protocol tutorial")?;
    let mut timeouts = SocketTimeouts::default();
    let mut ready = |stream: &TcpStream| -> io::Result<()> {
        let t = wait.timeout_at(Instant::now())?;
        timeouts.set_read(stream, t)?;
        timeouts.set_write(stream, t)
    };
    ready(&stream)?;
    expect(&stream, GREETING, "before greeting")?;
    say(GREETING);
    ready(&stream)?;
    (&stream).write_all(size.to_string().as_bytes())?;
    ready(&stream)?;
    expect(&stream, GO_AHEAD, "after the size")?;
    say(GO_AHEAD);
    Ok(stream)
}

/// After the bytes: waits for "传送完成" (done), as `wait` says.
pub fn finish(
    stream: &TcpStream,
    wait: &Wait,
    say: &mut dyn FnMut(&str),
) -> Result<(), TutorialError> {
    stream.set_read_timeout(wait.timeout_at(Instant::now())?)?;
    expect(stream, DONE, "before saying the transfer was complete")?;
    say(DONE);
    Ok(())
}
