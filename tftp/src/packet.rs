//! # The five packets of TFTP, and the sixth that options added
//!
//! TFTP (RFC 1350) is a file transfer in datagrams. Every packet starts with a two-byte
//! opcode, big-endian, as every number on the wire is:
//!
//! ```text
//! RRQ / WRQ  | 01/02 | filename | 0 | mode | 0 | [option | 0 | value | 0]...
//! DATA       | 03    | block #  | up to blksize bytes (512 unless agreed)
//! ACK        | 04    | block #
//! ERROR      | 05    | code     | message | 0
//! OACK       | 06    | option | 0 | value | 0 | ...           (RFC 2347)
//! ```
//!
//! A DATA shorter than the block size is the last one: that is how the end is known, so a
//! file whose size is a multiple of the block size ends with an empty DATA.
//!
//! This module is a pure codec: bytes in, a [`Packet`] out, and back. It never panics on
//! any input (a property test feeds it random bytes): a stranger's datagram is only ever
//! parsed into a packet or refused with the reason.

use std::fmt;

/// The opcodes.
pub const OP_RRQ: u16 = 1;
pub const OP_WRQ: u16 = 2;
pub const OP_DATA: u16 = 3;
pub const OP_ACK: u16 = 4;
pub const OP_ERROR: u16 = 5;
pub const OP_OACK: u16 = 6;

/// The block size of RFC 1350, when no `blksize` option is agreed.
pub const DEFAULT_BLKSIZE: usize = 512;
/// The smallest and largest `blksize` RFC 2348 allows.
pub const MIN_BLKSIZE: usize = 8;
pub const MAX_BLKSIZE: usize = 65_464;
/// A DATA packet's header: opcode and block number.
pub const DATA_HEADER: usize = 4;
/// The longest request we read: a name, a mode and a few options fit in far less. The
/// receiving buffer is larger than any packet (a DATA of [`MAX_BLKSIZE`]).
pub const MAX_PACKET: usize = DATA_HEADER + MAX_BLKSIZE;
/// The buffer a datagram is received into: as large as any UDP datagram, so that none is
/// ever cut (Windows fails a receive into a smaller buffer with WSAEMSGSIZE, and a
/// stranger's oversized datagram would end the transfer). A DATA longer than the block
/// size agreed is then refused by its length.
pub const RECV_BUFFER: usize = common::udp::MAX_DATAGRAM;

/// The transfer mode a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bytes as they are.
    Octet,
    /// Text: lines end in CR LF on the wire, whatever the systems at each end use.
    Netascii,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Octet => "octet",
            Mode::Netascii => "netascii",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// TFTP's error codes (RFC 1350, and 8 from RFC 2347), with what each means to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0: see the message.
    NotDefined,
    /// 1
    FileNotFound,
    /// 2
    AccessViolation,
    /// 3
    DiskFull,
    /// 4
    IllegalOperation,
    /// 5
    UnknownTid,
    /// 6
    FileExists,
    /// 7
    NoSuchUser,
    /// 8: the options could not be agreed (RFC 2347).
    OptionRefused,
    /// A code the RFCs do not define.
    Other(u16),
}

impl ErrorCode {
    pub fn from_u16(code: u16) -> ErrorCode {
        match code {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTid,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionRefused,
            other => ErrorCode::Other(other),
        }
    }

    pub fn to_u16(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTid => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionRefused => 8,
            ErrorCode::Other(code) => code,
        }
    }

    /// What the code means, and what usually causes it: printed when one is received.
    pub fn explain(self) -> &'static str {
        match self {
            ErrorCode::NotDefined => "not defined (the message says what)",
            ErrorCode::FileNotFound => "file not found: the server has no file of that name in its folder",
            ErrorCode::AccessViolation => {
                "access violation: the server refuses this name or this operation (a path outside its folder, a hidden name, or writes turned off)"
            }
            ErrorCode::DiskFull => "disk full or allocation exceeded: no room, or the file is over the server's size limit",
            ErrorCode::IllegalOperation => "illegal TFTP operation: a packet that makes no sense at this point of the transfer",
            ErrorCode::UnknownTid => {
                "unknown transfer ID: the packet came from a port that is not part of this transfer"
            }
            ErrorCode::FileExists => "file already exists: the server does not overwrite",
            ErrorCode::NoSuchUser => "no such user (mail mode, which nobody uses)",
            ErrorCode::OptionRefused => "the options could not be agreed (RFC 2347): try without --blksize, --windowsize or --timeout",
            ErrorCode::Other(_) => "a code the RFCs do not define",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_u16())
    }
}

/// One option of a request or an OACK: a name (compared without regard to case) and a
/// value, both text on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TftpOption {
    pub name: String,
    pub value: String,
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The file name as sent: bytes, not yet checked (see `common::files::name`).
    pub filename: Vec<u8>,
    pub mode: Mode,
    pub options: Vec<TftpOption>,
}

/// A parsed packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Rrq(Request),
    Wrq(Request),
    Data { block: u16, data: &'a [u8] },
    Ack { block: u16 },
    Error { code: ErrorCode, message: String },
    Oack { options: Vec<TftpOption> },
}

/// Why a datagram is not a TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("shorter than an opcode ({0} bytes)")]
    TooShort(usize),
    #[error("unknown opcode {0}")]
    UnknownOpcode(u16),
    #[error("a {0} packet of the wrong length ({1} bytes)")]
    BadLength(&'static str, usize),
    #[error("a field is not ended by a zero byte")]
    Unterminated,
    #[error("unknown mode {0:?} (octet and netascii are known; mail is obsolete)")]
    UnknownMode(String),
    #[error("an option or a mode that is not text")]
    NotText,
    #[error("an option name without its value")]
    OptionWithoutValue,
}

/// Splits `bytes` into zero-ended fields; the last must be ended too.
fn fields(bytes: &[u8]) -> Result<Vec<&[u8]>, ParseError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    if bytes.last() != Some(&0) {
        return Err(ParseError::Unterminated);
    }
    Ok(bytes[..bytes.len() - 1].split(|&b| b == 0).collect())
}

fn text(bytes: &[u8]) -> Result<String, ParseError> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| ParseError::NotText)
}

/// Options as name/value pairs, from the fields after a request's mode or in an OACK.
fn options(fields: &[&[u8]]) -> Result<Vec<TftpOption>, ParseError> {
    if !fields.len().is_multiple_of(2) {
        return Err(ParseError::OptionWithoutValue);
    }
    fields
        .chunks(2)
        .filter(|pair| !pair[0].is_empty())
        .map(|pair| {
            Ok(TftpOption {
                name: text(pair[0])?,
                value: text(pair[1])?,
            })
        })
        .collect()
}

fn request(body: &[u8]) -> Result<Request, ParseError> {
    let fields = fields(body)?;
    let [filename, mode, rest @ ..] = fields.as_slice() else {
        return Err(ParseError::Unterminated);
    };
    let mode = text(mode)?;
    let mode = match mode.to_ascii_lowercase().as_str() {
        "octet" => Mode::Octet,
        "netascii" => Mode::Netascii,
        _ => return Err(ParseError::UnknownMode(mode)),
    };
    // Some clients pad a request with zero bytes. A pad byte left over at the end is not
    // an option; a pair of them (an empty name) is skipped below. An option's empty value
    // (`multicast` has one, RFC 2090) is a value.
    let mut rest = rest.to_vec();
    if !rest.len().is_multiple_of(2) && rest.last().is_some_and(|f| f.is_empty()) {
        rest.pop();
    }
    Ok(Request {
        filename: filename.to_vec(),
        mode,
        options: options(&rest)?,
    })
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

impl<'a> Packet<'a> {
    /// Parses one datagram.
    pub fn parse(bytes: &'a [u8]) -> Result<Packet<'a>, ParseError> {
        if bytes.len() < 2 {
            return Err(ParseError::TooShort(bytes.len()));
        }
        let body = &bytes[2..];
        match u16_at(bytes, 0) {
            OP_RRQ => Ok(Packet::Rrq(request(body)?)),
            OP_WRQ => Ok(Packet::Wrq(request(body)?)),
            OP_DATA if bytes.len() >= DATA_HEADER => Ok(Packet::Data {
                block: u16_at(bytes, 2),
                data: &bytes[DATA_HEADER..],
            }),
            OP_DATA => Err(ParseError::BadLength("DATA", bytes.len())),
            OP_ACK if bytes.len() == 4 => Ok(Packet::Ack {
                block: u16_at(bytes, 2),
            }),
            OP_ACK => Err(ParseError::BadLength("ACK", bytes.len())),
            OP_ERROR if bytes.len() >= 4 => {
                let code = ErrorCode::from_u16(u16_at(bytes, 2));
                // Some senders leave out the final zero; the message is read either way.
                let raw = &bytes[4..];
                let raw = raw.split(|&b| b == 0).next().unwrap_or(raw);
                Ok(Packet::Error {
                    code,
                    message: String::from_utf8_lossy(raw).into_owned(),
                })
            }
            OP_ERROR => Err(ParseError::BadLength("ERROR", bytes.len())),
            OP_OACK => Ok(Packet::Oack {
                options: options(&fields(body)?)?,
            }),
            other => Err(ParseError::UnknownOpcode(other)),
        }
    }

    /// The packet's name, for log lines.
    pub fn kind(&self) -> &'static str {
        match self {
            Packet::Rrq(_) => "RRQ",
            Packet::Wrq(_) => "WRQ",
            Packet::Data { .. } => "DATA",
            Packet::Ack { .. } => "ACK",
            Packet::Error { .. } => "ERROR",
            Packet::Oack { .. } => "OACK",
        }
    }
}

fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(field);
    out.push(0);
}

fn push_options(out: &mut Vec<u8>, options: &[TftpOption]) {
    for o in options {
        push_field(out, o.name.as_bytes());
        push_field(out, o.value.as_bytes());
    }
}

/// An RRQ or WRQ.
pub fn request_packet(write: bool, req: &Request) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + req.filename.len() + 16);
    out.extend_from_slice(&(if write { OP_WRQ } else { OP_RRQ }).to_be_bytes());
    push_field(&mut out, &req.filename);
    push_field(&mut out, req.mode.as_str().as_bytes());
    push_options(&mut out, &req.options);
    out
}

/// A DATA packet.
pub fn data_packet(block: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DATA_HEADER + data.len());
    out.extend_from_slice(&OP_DATA.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// An ACK.
pub fn ack_packet(block: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    out.extend_from_slice(&OP_ACK.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out
}

/// An ERROR. The message is one line of text; a zero byte in it would end it early, so it
/// is replaced.
pub fn error_packet(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.extend_from_slice(&OP_ERROR.to_be_bytes());
    out.extend_from_slice(&code.to_u16().to_be_bytes());
    push_field(&mut out, message.replace('\0', " ").as_bytes());
    out
}

/// An OACK with the options the server agreed to.
pub fn oack_packet(options: &[TftpOption]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 16 * options.len());
    out.extend_from_slice(&OP_OACK.to_be_bytes());
    push_options(&mut out, options);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opt(name: &str, value: &str) -> TftpOption {
        TftpOption {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_request_is_read_as_rfc_1350_writes_it() {
        // RRQ "a.txt" octet, as bytes: 00 01 'a' '.' 't' 'x' 't' 00 'o' 'c' 't' 'e' 't' 00
        let bytes = b"\x00\x01a.txt\x00octet\x00";
        let Ok(Packet::Rrq(req)) = Packet::parse(bytes) else {
            panic!("{:?}", Packet::parse(bytes));
        };
        assert_eq!(req.filename, b"a.txt");
        assert_eq!(req.mode, Mode::Octet);
        assert!(req.options.is_empty());
        assert_eq!(request_packet(false, &req), bytes);
    }

    #[test]
    fn options_and_modes_in_any_case_are_read() {
        let bytes = b"\x00\x02x\x00NetASCII\x00blksize\x001428\x00tsize\x000\x00";
        let Ok(Packet::Wrq(req)) = Packet::parse(bytes) else {
            panic!()
        };
        assert_eq!(req.mode, Mode::Netascii);
        assert_eq!(req.options, vec![opt("blksize", "1428"), opt("tsize", "0")]);
        // Padding zeros after the last option are not an option without a value.
        for padded in [
            &b"\x00\x01x\x00octet\x00blksize\x001428\x00\x00\x00"[..],
            b"\x00\x01x\x00octet\x00blksize\x001428\x00\x00",
        ] {
            let Ok(Packet::Rrq(req)) = Packet::parse(padded) else {
                panic!("{padded:?}")
            };
            assert_eq!(req.options, vec![opt("blksize", "1428")]);
        }
        // An empty value is a value (RFC 2090's multicast option has one).
        let Ok(Packet::Rrq(req)) = Packet::parse(b"\x00\x01x\x00octet\x00multicast\x00\x00") else {
            panic!()
        };
        assert_eq!(req.options, vec![opt("multicast", "")]);
    }

    #[test]
    fn every_packet_round_trips() {
        let req = Request {
            filename: "报告.txt".as_bytes().to_vec(),
            mode: Mode::Netascii,
            options: vec![opt("windowsize", "16")],
        };
        for (bytes, expected) in [
            (request_packet(true, &req), Packet::Wrq(req.clone())),
            (request_packet(false, &req), Packet::Rrq(req.clone())),
            (ack_packet(65535), Packet::Ack { block: 65535 }),
            (
                oack_packet(&[opt("blksize", "1428")]),
                Packet::Oack {
                    options: vec![opt("blksize", "1428")],
                },
            ),
            (
                error_packet(ErrorCode::UnknownTid, "who are you?"),
                Packet::Error {
                    code: ErrorCode::UnknownTid,
                    message: "who are you?".into(),
                },
            ),
        ] {
            assert_eq!(Packet::parse(&bytes), Ok(expected));
        }
        let data = data_packet(7, b"hello");
        assert_eq!(&data[..4], &[0, 3, 0, 7]);
        assert_eq!(
            Packet::parse(&data),
            Ok(Packet::Data {
                block: 7,
                data: b"hello"
            })
        );
        assert_eq!(
            Packet::parse(&data_packet(1, b"")),
            Ok(Packet::Data {
                block: 1,
                data: b""
            })
        );
    }

    #[test]
    fn error_codes_keep_their_numbers_and_are_explained() {
        for n in 0..=9 {
            let code = ErrorCode::from_u16(n);
            assert_eq!(code.to_u16(), n);
            assert!(!code.explain().is_empty());
        }
        assert_eq!(ErrorCode::from_u16(9), ErrorCode::Other(9));
        // A message with a zero byte in it would end early: the zero goes.
        assert_eq!(
            Packet::parse(&error_packet(ErrorCode::NotDefined, "a\0b")),
            Ok(Packet::Error {
                code: ErrorCode::NotDefined,
                message: "a b".into()
            })
        );
        // An ERROR without its final zero is still read.
        assert!(matches!(
            Packet::parse(b"\x00\x05\x00\x01gone"),
            Ok(Packet::Error { code: ErrorCode::FileNotFound, message }) if message == "gone"
        ));
    }

    #[test]
    fn broken_packets_are_refused_with_the_reason() {
        for (bytes, want) in [
            (&b"\x00"[..], ParseError::TooShort(1)),
            (b"\x00\x09", ParseError::UnknownOpcode(9)),
            (b"\x00\x04\x00", ParseError::BadLength("ACK", 3)),
            (b"\x00\x04\x00\x01\x00", ParseError::BadLength("ACK", 5)),
            (b"\x00\x03\x00", ParseError::BadLength("DATA", 3)),
            (b"\x00\x05\x00", ParseError::BadLength("ERROR", 3)),
            (b"\x00\x01a.txt\x00octet", ParseError::Unterminated),
            (b"\x00\x01a.txt\x00", ParseError::Unterminated),
            (
                b"\x00\x01a\x00mail\x00",
                ParseError::UnknownMode("mail".into()),
            ),
            (
                b"\x00\x01a\x00octet\x00blksize\x00",
                ParseError::OptionWithoutValue,
            ),
            (b"\x00\x01a\x00oc\xfft\x00", ParseError::NotText),
        ] {
            assert_eq!(Packet::parse(bytes), Err(want), "{bytes:?}");
        }
    }

    proptest! {
        #[test]
        fn no_datagram_makes_the_parser_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Packet::parse(&bytes);
        }

        #[test]
        fn data_round_trips(block: u16, data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let bytes = data_packet(block, &data);
            prop_assert_eq!(Packet::parse(&bytes), Ok(Packet::Data { block, data: &data }));
        }
    }
}
