//! `cable draw`: pictures of a capture, in SVG. A ladder diagram of a connection (the
//! handshake, the data and its acknowledgements, losses, the close), or with
//! `--time-seq` a time-sequence graph of a bulk transfer. Pure: a capture in, a document
//! out. It works on every system, so a student on Windows or macOS can draw a capture
//! made on Linux (or by Wireshark on a TUN device).

pub mod ladder;
pub mod svg;
pub mod timeseq;
pub mod trace;
pub mod words;

use std::path::Path;

pub use words::Lang;

/// Which picture, in which words, of which connection.
#[derive(Debug, Clone)]
pub struct Options {
    pub time_seq: bool,
    pub lang: Lang,
    /// 1 for the capture's first TCP connection.
    pub connection: usize,
    /// At most this many segments on a ladder.
    pub max: usize,
    /// cwnd samples for the time-sequence graph (seconds since the connection began,
    /// segments).
    pub cwnd: Vec<timeseq::CwndSample>,
}

/// The ladder's default length: a handshake, a short session and a close fit.
pub const DEFAULT_MAX: usize = 60;

/// Draws `input` into `output`; returns a line saying what was drawn.
pub fn draw_file(input: &Path, output: &Path, options: &Options) -> Result<String, String> {
    let records = crate::capture::read(input)?;
    let document = draw(&records, options).map_err(|e| format!("{}: {e}", input.display()))?;
    std::fs::write(output, &document.0)
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    Ok(format!("wrote {} ({})", output.display(), document.1))
}

/// The SVG, and what it shows.
pub fn draw(
    records: &[crate::capture::Record],
    options: &Options,
) -> Result<(String, String), String> {
    let all = trace::connections(records);
    if all.is_empty() {
        return Err("no TCP connection in this capture".to_string());
    }
    let Some(c) = options.connection.checked_sub(1).and_then(|i| all.get(i)) else {
        return Err(format!(
            "it has {} TCP connections; --connection is from 1 to {}",
            all.len(),
            all.len()
        ));
    };
    let words = options.lang.words();
    let what = format!(
        "connection {} of {}: {} <-> {}, {} segments",
        options.connection,
        all.len(),
        c.ends[0],
        c.ends[1],
        c.events.len()
    );
    let svg = if options.time_seq {
        timeseq::draw(c, words, &options.cwnd)
    } else {
        ladder::draw(c, words, options.max)
    };
    Ok((svg, what))
}
