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
    /// cwnd samples for the time-sequence graph: seconds since the sender's first data
    /// byte, and segments (`upload send --tcp-info --json`, see [`cwnd_samples`]).
    pub cwnd: Vec<timeseq::CwndSample>,
}

/// The cwnd readings of `upload send --tcp-info --json` (its first file's): each line
/// of its output is a JSON object with a `tcp_info` list of readings, `t` seconds after
/// the file's first byte, with `cwnd_segments`.
pub fn cwnd_samples(json_lines: &str) -> Result<Vec<timeseq::CwndSample>, String> {
    for line in json_lines
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
    {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line}"))?;
        let Some(readings) = v["tcp_info"].as_array() else {
            continue;
        };
        let samples: Vec<timeseq::CwndSample> = readings
            .iter()
            .filter_map(|r| Some((r["t"].as_f64()?, r["cwnd_segments"].as_f64()?)))
            .collect();
        if samples.is_empty() {
            return Err(
                "its readings have no cwnd (not available on the system that sent it)".into(),
            );
        }
        return Ok(samples);
    }
    Err("no line with readings: make it with `upload send --tcp-info --json`".into())
}

/// A segment at least this long is part of a transfer, not a control line.
const BULK_SEGMENT: u32 = 512;

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
        // The readings count from the file's first byte; the graph from the connection's
        // first segment. The file starts with the sender's first full-sized segment: the
        // control lines before it (upload's PUT) are short.
        let sender = c.bulk_sender();
        let data = |min: u32| {
            c.events
                .iter()
                .find(|e| e.from == sender && e.segment.len >= min)
        };
        let first_data = data(BULK_SEGMENT).or_else(|| data(1)).map_or(0.0, |e| e.t);
        let cwnd: Vec<_> = options
            .cwnd
            .iter()
            .map(|&(t, w)| (t + first_data, w))
            .collect();
        timeseq::draw(c, words, &cwnd)
    } else {
        ladder::draw(c, words, options.max)
    };
    Ok((svg, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwnd_readings_come_from_upload_sends_json() {
        let out = "some other line\n{\"file\":\"a\",\"tcp_info\":[{\"t\":0.0,\"cwnd_segments\":10},{\"t\":0.5,\"cwnd_segments\":24,\"last\":true}]}\n";
        assert_eq!(cwnd_samples(out), Ok(vec![(0.0, 10.0), (0.5, 24.0)]));
        let windows = "{\"tcp_info\":[{\"t\":0.0,\"error\":\"unsupported\"}]}";
        assert!(cwnd_samples(windows).unwrap_err().contains("no cwnd"));
        assert!(cwnd_samples("").unwrap_err().contains("--tcp-info --json"));
        assert!(cwnd_samples("{oops").unwrap_err().contains("not JSON"));
    }
}
