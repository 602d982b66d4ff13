//! # `upload send - --name NAME`: standard input, whose size nobody knows yet
//!
//! `PUT` needs a size; a pipe has none until it ends. With `stream/1` the bytes go out in
//! chunks as they come (`DATA <n>` and the bytes), hashed on the way, and the digest ends
//! them (`SHA256`); the server checks it as it checks a file's (see [`crate::protocol`]).
//!
//! If reading the pipe fails, or this program is stopped, the connection closes before the
//! digest: the server deletes what arrived, and nothing appears under `NAME`. A program
//! that writes into the pipe and dies only closes it, which looks like a normal end: run it
//! with `set -o pipefail` (bash) to see its failure in the exit status.

use std::io::{self, Read};
use std::time::Instant;

use crate::hashing::Pipeline;
use crate::protocol::{digest_hex, Reply, Request, STREAM_EXTENSION};
use crate::Exchange;
use common::progress::Progress;

use super::sampling::Sampler;
use super::{connection, Options, Pacer, SendError, Sent, ServerConnection, Sink, LISTEN_EVERY};

/// Sends standard input as `name` (see the module docs).
pub(super) fn send_stdin(
    name: &str,
    options: &Options,
    progress: &Progress,
    conn: &mut Option<ServerConnection>,
) -> Result<Sent, SendError> {
    if options.exchange == Exchange::Tutorial {
        return Err(SendError::NotWithTutorial("standard input"));
    }
    let s = connection(conn, options)?;
    if !s.stream {
        return Err(SendError::Lacks(STREAM_EXTENSION, "standard input"));
    }
    let bar = progress.open_ended(name);
    let mut sampler = Sampler::new(options.tcp_info, options.json);
    let sent = s.stream(&mut io::stdin().lock(), name, options, &bar, &mut sampler);
    match &sent {
        Ok(sent) => bar.finish(&format!(
            "{name} ✓ {}",
            crate::rate(sent.size, sent.elapsed)
        )),
        Err(_) => bar.abandon(&format!("{name} ✗ failed")),
    }
    let mut sent = sent?;
    sent.tcp_info = sampler.finish(s.wire.stream());
    Ok(sent)
}

impl ServerConnection {
    /// `STREAM`, `GO 0`, the chunks as `input` gives them, `SHA256`, `OK`.
    fn stream(
        &mut self,
        input: &mut impl Read,
        name: &str,
        options: &Options,
        bar: &common::progress::Bar,
        sampler: &mut Sampler,
    ) -> Result<Sent, SendError> {
        self.wire
            .write_line(&Request::Stream(name.as_bytes().to_vec()).to_line())
            .map_err(|e| self.reason_for(e))?;
        match self.reply()? {
            Reply::Go(0) => {}
            Reply::Err(code, text) => return Err(SendError::Refused(code, text)),
            other => return Err(SendError::Protocol(format!("expected GO 0, got {other}"))),
        }
        let started = Instant::now();
        let mut pacer = Pacer::new(options.limit_rate);
        let mut pipeline = Pipeline::start().map_err(SendError::Input)?;
        sampler.start(self.wire.stream());
        let mut sent: u64 = 0;
        let mut next_listen = LISTEN_EVERY;
        loop {
            let mut buf = pipeline.buffer().map_err(SendError::Input)?;
            let want = pacer.chunk(buf.len());
            // What the pipe has now, not a full buffer: a slow writer's bytes go at once.
            let n = match input.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(SendError::Input(e)),
            };
            self.send(&Request::Data(n as u64).to_line())?;
            self.send(&buf[..n])?;
            pipeline.hash(buf, n).map_err(SendError::Input)?;
            sent += n as u64;
            bar.inc(n as u64);
            if sent >= next_listen {
                next_listen = sent + LISTEN_EVERY;
                self.listen()?;
            }
            pacer.wait(sent);
        }
        let digest = pipeline.finish().map_err(SendError::Input)?;
        self.wire
            .write_line(&Request::Sha256(digest).to_line())
            .map_err(|e| self.reason_for(e))?;
        match self.reply()? {
            Reply::Ok(theirs) if theirs == digest => Ok(Sent {
                size: sent,
                digest,
                elapsed: started.elapsed(),
                verified: true,
                tcp_info: Vec::new(),
                resumed_at: 0,
            }),
            Reply::Ok(theirs) => Err(SendError::Mismatch {
                ours: digest_hex(&digest),
                theirs: digest_hex(&theirs),
            }),
            Reply::Err(code, text) => Err(SendError::Refused(code, text)),
            other => Err(SendError::Protocol(format!("expected OK, got {other}"))),
        }
    }
}
