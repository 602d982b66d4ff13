//! # Output: what the programs print, and where
//!
//! A server in a classroom is watched. Every event is one line that starts with the
//! wall-clock time to the millisecond, then who it is about:
//!
//! ```text
//! 10:15:02.417 #1 127.0.0.1:51234 accepted: local 127.0.0.1:9999 <-> peer 127.0.0.1:51234 (1 active)
//! 10:15:02.418 #1 127.0.0.1:51234 message "li" (2 bytes)
//! ```
//!
//! `#1` is the connection id (the n-th accepted connection), and the accept line shows the
//! whole *4-tuple* — local address and port, peer address and port — which is what tells one
//! TCP connection from every other.
//!
//! Where output goes: events and results on stdout; warnings, errors and `--trace` dumps on
//! stderr. Writes ignore errors: a server whose terminal went away (a closed pipe) must keep
//! serving, and `println!` would panic there.
//!
//! `--trace` prints every read and write as a hex + text dump with its byte count: that is
//! where students see that one `write("li")` and one `write("bo")` can arrive as one read.

use std::fmt::{self, Write as _};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::OnceLock;

/// Bytes per line of a hex dump.
const HEX_DUMP_WIDTH: usize = 16;

/// The current local time, `HH:MM:SS.mmm`.
pub fn timestamp() -> String {
    chrono::Local::now().format("%H:%M:%S%.3f").to_string()
}

/// Who an event is about: a connection id and the peer's address. Prints as `#3 127.0.0.1:5555`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub id: u64,
    pub peer: SocketAddr,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {}", self.id, self.peer)
    }
}

/// How much of a message an event line shows.
pub const PREVIEW_CHARS: usize = 80;

/// Where a program prints its events: stdout for a server (its events are its output),
/// stderr for a client (its output is the replies). `quiet` keeps per-event lines off (for
/// benchmarks); warnings, errors and summaries are printed regardless.
///
/// Printing is kept out of line (`#[cold]`): a quiet server never runs it, and the
/// formatting machinery does not add to the stack of every connection thread, which is
/// what 10,000 idle connections cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Log {
    pub quiet: bool,
    /// Events go to stderr instead of stdout.
    pub to_stderr: bool,
}

impl Log {
    /// A server's log: events on stdout.
    pub fn new(quiet: bool) -> Log {
        Log {
            quiet,
            to_stderr: false,
        }
    }

    /// A client's log: events on stderr, stdout is for the replies.
    pub fn stderr(quiet: bool) -> Log {
        Log {
            quiet,
            to_stderr: true,
        }
    }

    /// An event about one connection: `TIME #id peer text`.
    #[inline]
    pub fn event(&self, tag: &dyn fmt::Display, text: fmt::Arguments<'_>) {
        if !self.quiet {
            self.line(format_args!("{} {tag} {text}", timestamp()));
        }
    }

    /// An event that shows a message: `TIME #id peer message "li" (2 bytes)`. The preview
    /// of the message is only built when the line is printed.
    #[inline]
    pub fn message(&self, tag: &dyn fmt::Display, what: &str, msg: &[u8]) {
        if !self.quiet {
            self.message_line(tag, what, msg);
        }
    }

    #[cold]
    #[inline(never)]
    fn message_line(&self, tag: &dyn fmt::Display, what: &str, msg: &[u8]) {
        let text = preview(msg, PREVIEW_CHARS);
        let s = if msg.len() == 1 { "" } else { "s" };
        self.line(format_args!(
            "{} {tag} {what} \"{text}\" ({} byte{s})",
            timestamp(),
            msg.len()
        ));
    }

    /// An event about the program as a whole: `TIME text`.
    #[inline]
    pub fn info(&self, text: fmt::Arguments<'_>) {
        if !self.quiet {
            self.line(format_args!("{} {text}", timestamp()));
        }
    }

    /// A warning on stderr, always printed.
    pub fn warn(&self, text: fmt::Arguments<'_>) {
        err_line(format_args!("{} warning: {text}", timestamp()));
    }

    #[cold]
    #[inline(never)]
    fn line(&self, line: fmt::Arguments<'_>) {
        if self.to_stderr {
            err_line(line);
        } else {
            out_line(line);
        }
    }
}

/// Runs a print so that it does not tear what is on the terminal: see [`print_through`].
type Gate = dyn Fn(&mut dyn FnMut()) + Send + Sync;

/// Set once by a program that draws progress bars: every line is printed through it.
static GATE: OnceLock<Box<Gate>> = OnceLock::new();

/// Routes every line printed by this module through `gate`. A program that draws progress
/// bars passes "hide the bars, print, draw them again" (indicatif's `suspend`), so that
/// event lines and bars never tear each other on the terminal. Only the first call counts.
pub fn print_through(gate: impl Fn(&mut dyn FnMut()) + Send + Sync + 'static) {
    let _ = GATE.set(Box::new(gate));
}

fn gated(mut print: impl FnMut()) {
    match GATE.get() {
        Some(gate) => gate(&mut print),
        None => print(),
    }
}

/// Prints one line on stdout; a closed stdout is not a reason to stop.
pub fn out_line(line: fmt::Arguments<'_>) {
    gated(|| {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    });
}

/// Prints one line on stderr; a closed stderr is not a reason to stop.
pub fn err_line(line: fmt::Arguments<'_>) {
    gated(|| {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    });
}

/// Prints a `--trace` dump on stderr: the direction, the byte count, then the bytes.
/// The whole dump is written at once so that dumps of two connections never interleave.
pub fn trace(who: &dyn fmt::Display, direction: &str, bytes: &[u8]) {
    let text = format!(
        "{} {who} {direction} {} byte{}\n{}",
        timestamp(),
        bytes.len(),
        if bytes.len() == 1 { "" } else { "s" },
        hex_dump(bytes)
    );
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A classic hex dump: offset, 16 bytes in hex, the same bytes as text (`.` for the
/// unprintable ones).
///
/// ```
/// assert_eq!(
///     common::output::hex_dump(b"li\n"),
///     "    0000  6c 69 0a                                         li.\n"
/// );
/// ```
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(HEX_DUMP_WIDTH) * 80);
    for (line, chunk) in bytes.chunks(HEX_DUMP_WIDTH).enumerate() {
        let _ = write!(out, "    {:04x}  ", line * HEX_DUMP_WIDTH);
        for i in 0..HEX_DUMP_WIDTH {
            match chunk.get(i) {
                Some(b) => {
                    let _ = write!(out, "{b:02x} ");
                }
                None => out.push_str("   "),
            }
        }
        out.push(' ');
        out.extend(chunk.iter().map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        }));
        out.push('\n');
    }
    out
}

/// A message as text a person can read on one line: valid UTF-8 is shown as is (Chinese
/// included) with control characters escaped; anything else byte by byte, `\xff` style.
///
/// ```
/// use common::output::printable;
/// assert_eq!(printable(b"li"), "li");
/// assert_eq!(printable("你好".as_bytes()), "你好");
/// assert_eq!(printable(b"a\tb\n"), "a\\tb\\n");
/// assert_eq!(printable(&[0xff, b'a']), "\\xffa");
/// ```
pub fn printable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
        Err(_) => bytes.escape_ascii().to_string(),
    }
}

/// [`printable`], cut to about `max_chars` characters, with the number of bytes left out.
///
/// ```
/// assert_eq!(common::output::preview(b"abcdef", 3), "abc...(+3 bytes)");
/// ```
pub fn preview(bytes: &[u8], max_chars: usize) -> String {
    // Cut the bytes (at a character boundary when they are text), then make them printable.
    let cut = match std::str::from_utf8(bytes) {
        Ok(text) => text
            .char_indices()
            .nth(max_chars)
            .map_or(bytes.len(), |(i, _)| i),
        Err(_) => bytes.len().min(max_chars),
    };
    if cut == bytes.len() {
        printable(bytes)
    } else {
        format!(
            "{}...(+{} bytes)",
            printable(&bytes[..cut]),
            bytes.len() - cut
        )
    }
}

/// A transfer rate for people: `12.3 MB/s` (decimal megabytes, as network speeds are
/// given); `- MB/s` when no time has passed.
pub fn rate(bytes: u64, elapsed: std::time::Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return "- MB/s".to_string();
    }
    format!("{:.1} MB/s", bytes as f64 / secs / 1e6)
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_in_decimal_megabytes_per_second() {
        use std::time::Duration;
        assert_eq!(rate(10_000_000, Duration::from_secs(2)), "5.0 MB/s");
        assert_eq!(rate(1, Duration::ZERO), "- MB/s");
    }

    #[test]
    fn hex_dump_has_offsets_hex_and_text() {
        let dump = hex_dump(b"0123456789abcdefXY");
        let lines: Vec<&str> = dump.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("    0000  30 31 32"));
        assert!(lines[0].ends_with("0123456789abcdef"));
        assert!(lines[1].starts_with("    0010  58 59 "));
        assert!(lines[1].ends_with("XY"));
        assert_eq!(hex_dump(b""), "");
    }

    #[test]
    fn human_bytes_picks_a_unit() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn timestamp_has_milliseconds() {
        let t = timestamp();
        assert_eq!(t.len(), "10:15:02.417".len(), "{t}");
        assert_eq!(&t[8..9], ".");
    }

    #[test]
    fn tag_shows_id_and_peer() {
        let tag = Tag {
            id: 3,
            peer: "127.0.0.1:5555".parse().unwrap(),
        };
        assert_eq!(tag.to_string(), "#3 127.0.0.1:5555");
    }
}
