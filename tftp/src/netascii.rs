//! # netascii: text with CR LF line ends on the wire
//!
//! TFTP's text mode (RFC 1350, after Telnet's NVT ASCII, RFC 764): on the wire a line ends
//! in CR LF, and a carriage return that is not a line end is sent as CR NUL. Each side
//! converts from and to its own convention: LF on Linux and macOS, CR LF on Windows. So a
//! text file sent from a Linux server arrives on a Windows laptop with the line ends
//! Notepad expects, and the other way round. (Octet mode sends the bytes as they are.)
//!
//! Both converters keep one byte of state, because a CR can be the last byte of one chunk
//! and its LF the first of the next.

/// The local line end: what a text file here uses.
#[cfg(windows)]
pub const LOCAL_NEWLINE: &[u8] = b"\r\n";
#[cfg(not(windows))]
pub const LOCAL_NEWLINE: &[u8] = b"\n";

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const NUL: u8 = 0;

/// Local text to netascii: LF and CR LF become CR LF, a lone CR becomes CR NUL.
#[derive(Debug, Default)]
pub struct Encoder {
    /// The last chunk ended in a CR, not yet written.
    pending_cr: bool,
}

impl Encoder {
    /// Converts the next chunk, appending to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                if b == LF {
                    out.extend_from_slice(&[CR, LF]);
                    continue;
                }
                out.extend_from_slice(&[CR, NUL]);
            }
            match b {
                CR => self.pending_cr = true,
                LF => out.extend_from_slice(&[CR, LF]),
                other => out.push(other),
            }
        }
    }

    /// The end of the input: a CR still held is a lone one.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.extend_from_slice(&[CR, NUL]);
        }
    }
}

/// netascii to local text: CR LF becomes the local line end, CR NUL a CR. A CR followed by
/// anything else (a sender that breaks the rule) is kept as it came.
#[derive(Debug)]
pub struct Decoder {
    newline: &'static [u8],
    pending_cr: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::with_newline(LOCAL_NEWLINE)
    }
}

impl Decoder {
    /// A decoder to the given line end (tests try both systems' on one).
    pub fn with_newline(newline: &'static [u8]) -> Decoder {
        Decoder {
            newline,
            pending_cr: false,
        }
    }

    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                match b {
                    LF => {
                        out.extend_from_slice(self.newline);
                        continue;
                    }
                    NUL => {
                        out.push(CR);
                        continue;
                    }
                    _ => out.push(CR),
                }
            }
            if b == CR {
                self.pending_cr = true;
            } else {
                out.push(b);
            }
        }
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.push(CR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(chunks: &[&[u8]]) -> Vec<u8> {
        let mut e = Encoder::default();
        let mut out = Vec::new();
        for c in chunks {
            e.encode(c, &mut out);
        }
        e.finish(&mut out);
        out
    }

    fn decode(input: &[u8], newline: &'static [u8]) -> Vec<u8> {
        let mut d = Decoder::with_newline(newline);
        let mut out = Vec::new();
        d.decode(input, &mut out);
        d.finish(&mut out);
        out
    }

    #[test]
    fn line_ends_become_cr_lf_and_a_lone_cr_cr_nul() {
        assert_eq!(encode(&[b"a\nb\r\nc\rd"]), b"a\r\nb\r\nc\r\0d");
        // The CR at the end of one chunk and the LF at the start of the next are one line end.
        assert_eq!(encode(&[b"a\r", b"\nb"]), b"a\r\nb");
        assert_eq!(encode(&[b"a\r"]), b"a\r\0");
        assert_eq!(encode(&[b""]), b"");
    }

    #[test]
    fn each_system_gets_its_own_line_ends_back() {
        let wire = b"one\r\ntwo\r\0three\r\n";
        assert_eq!(decode(wire, b"\n"), b"one\ntwo\rthree\n");
        assert_eq!(decode(wire, b"\r\n"), b"one\r\ntwo\rthree\r\n");
        // A CR that breaks the rule is kept; one at the very end too.
        assert_eq!(decode(b"a\rb\r", b"\n"), b"a\rb\r");
    }

    proptest! {
        #[test]
        fn unix_text_survives_the_round_trip_in_any_chunks(
            text in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), Just(0u8)], 0..200),
            cut in 0usize..200,
        ) {
            let cut = cut.min(text.len());
            let wire = encode(&[&text[..cut], &text[cut..]]);
            // Unix text has no CR LF pairs of its own to merge, unless a CR precedes an LF:
            // those two read back as one line end, which is the conversion's meaning.
            let expected: Vec<u8> = {
                let mut e = Vec::new();
                let mut i = 0;
                while i < text.len() {
                    if text[i] == b'\r' && text.get(i + 1) == Some(&b'\n') {
                        e.push(b'\n');
                        i += 2;
                    } else {
                        e.push(text[i]);
                        i += 1;
                    }
                }
                e
            };
            prop_assert_eq!(decode(&wire, b"\n"), expected);
        }
    }
}
