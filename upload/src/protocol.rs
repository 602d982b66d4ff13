//! # Upload v1: the control messages, as a pure codec
//!
//! The tutorial's upload sends the file size as bare digits and hopes it arrives alone in
//! one `recv(1024)`. Upload v1 says where every message ends: control messages are lines
//! (ending in `\n`), and the only unframed bytes are the file itself, whose length the
//! `PUT` line announced:
//!
//! ```text
//! S: UPLOAD/1 READY
//! C: PUT <size> <name>
//! S: GO 0                           or  ERR <CODE> <text>
//! C: <size raw bytes>
//! C: SHA256 <64 hex digits>
//! S: OK <64 hex digits>             or  ERR <CODE> <text>
//! C: another PUT, or BYE, or end of stream
//! ```
//!
//! **Extensions.** A client may first say `HELLO <extension>...`; the server answers
//! `HELLO` with those it has too. A server older than extensions answers `ERR BAD_REQUEST`
//! (it does not know the word), and the client goes on in plain v1: so a new client and an
//! old server, or an old client and a new server, still work together. Each extension has
//! a version in its name. The first, [`RESUME_EXTENSION`] (`resume/1`), adds:
//!
//! ```text
//! C: RESUME <size> <name>           as PUT, and: "I may have sent part of it before"
//! S: GO 0                           nothing held: as after PUT
//!    or HAVE <offset> <64 hex>      "I hold its first <offset> bytes, whose SHA-256 is this"
//! C: FROM <offset>                  the same offset (my file starts with those bytes) or 0
//! S: GO <offset>
//! C: the bytes from <offset> to <size>, then SHA256 of the whole file, as after PUT
//! ```
//!
//! `tree/1` ([`TREE_EXTENSION`]) lets a name be a relative path, `photos/2024/a.jpg`, each
//! part checked as a name ([`common::files::name::check_path`]), and adds a folder:
//!
//! ```text
//! C: MKDIR <path>                   a folder, kept even if empty
//! S: MADE                           or  ERR <CODE> <text>
//! ```
//!
//! `stream/1` ([`STREAM_EXTENSION`]) sends bytes whose count is not known in advance (a
//! pipe): the data comes in chunks, each announced by its own line, and the digest ends it:
//!
//! ```text
//! C: STREAM <name>
//! S: GO 0                           or  ERR <CODE> <text>
//! C: DATA <n>, then <n> raw bytes   (1 to MAX_CHUNK bytes; as many chunks as it takes)
//! C: SHA256 <64 hex digits>         the end, and the digest of all the chunks' bytes
//! S: OK <64 hex digits>             or  ERR <CODE> <text>
//! ```
//!
//! `get/1` ([`GET_EXTENSION`]) is the other way round, a stored file sent back:
//!
//! ```text
//! C: GET <name>
//! S: FILE <size>, then <size> raw bytes, then OK <64 hex digits>   or  ERR <CODE> <text>
//! ```
//!
//! This module only turns lines into values and values into lines: no sockets, no files.
//! So it can be tested with every odd input there is, and both sides share it.

use std::fmt;

/// What a server says first.
pub const GREETING: &str = "UPLOAD/1 READY";
/// The longest control line either side accepts, `\n` included: `PUT`, a 20-digit size
/// and a 255-byte name fit with room to spare. A longer line is refused without being
/// buffered.
pub const MAX_LINE: usize = 512;
/// The longest file name, in bytes (the limit of most file systems; the name rules
/// are shared with the TFTP server, in `common::files::name`).
pub const MAX_NAME: usize = common::files::name::MAX_NAME;
/// Bytes in a SHA-256 digest.
pub const DIGEST_LEN: usize = 32;
/// The resume extension, version 1: `RESUME`, `HAVE` and `FROM`.
pub const RESUME_EXTENSION: &str = "resume/1";
/// Names may be relative paths, and `MKDIR` makes a folder: `upload send DIR`.
pub const TREE_EXTENSION: &str = "tree/1";
/// `STREAM` and `DATA`: a file of unknown size, `upload send -`.
pub const STREAM_EXTENSION: &str = "stream/1";
/// `GET` and `FILE`: a stored file sent back, `upload get NAME`.
pub const GET_EXTENSION: &str = "get/1";
/// The largest chunk after one `DATA` line (the sender uses [`crate::DATA_BUFFER`]).
pub const MAX_CHUNK: u64 = 1 << 20;
/// At most this many extensions in one `HELLO`: more is not a real client.
pub const MAX_EXTENSIONS: usize = 16;

/// A SHA-256 digest.
pub type Digest = [u8; DIGEST_LEN];

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `PUT <size> <name>`: I want to send `size` bytes to be stored as `name`. The name is
    /// given as raw bytes: whether it is acceptable is the server's decision
    /// ([`common::files::name::check`]), not the parser's.
    Put { size: u64, name: Vec<u8> },
    /// `SHA256 <hex>`: the digest of the bytes just sent.
    Sha256(Digest),
    /// `BYE`: no more files.
    Bye,
    /// `HELLO <extension>...`: the extensions this client speaks (see the module docs).
    Hello(Vec<String>),
    /// `RESUME <size> <name>`: as `PUT`, and the server may offer to continue a file it
    /// holds part of (`resume/1`).
    Resume { size: u64, name: Vec<u8> },
    /// `FROM <offset>`: after `HAVE`, where the client will start: the offset offered, or 0.
    From(u64),
    /// `MKDIR <path>`: make this folder (`tree/1`).
    Mkdir(Vec<u8>),
    /// `STREAM <name>`: bytes of a size not known yet, in chunks (`stream/1`).
    Stream(Vec<u8>),
    /// `DATA <n>`: the next `n` bytes of a `STREAM`.
    Data(u64),
    /// `GET <name>`: send me this stored file (`get/1`).
    Get(Vec<u8>),
}

/// A message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `UPLOAD/1 READY`, the greeting.
    Ready,
    /// `GO <offset>`: send the bytes from `offset` (0, except after `RESUME` and `FROM`).
    Go(u64),
    /// `OK <hex>`: stored under its name, and this is the digest the server computed.
    Ok(Digest),
    /// `ERR <CODE> <text>`: refused or failed, and why.
    Err(ErrCode, String),
    /// `HELLO <extension>...`: the client's extensions that this server has too.
    Hello(Vec<String>),
    /// `HAVE <offset> <hex>`: after `RESUME`, the server holds the file's first `offset`
    /// bytes (checked again just now), and this is their SHA-256.
    Have { offset: u64, prefix: Digest },
    /// `MADE`: the folder of a `MKDIR` is there.
    Made,
    /// `FILE <size>`: after `GET`, the file's `size` bytes follow, then `OK <digest>`.
    File(u64),
}

/// Why the server refused or failed, as one word a program can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrCode {
    /// A file of that name is already there (and the server does not `--overwrite`).
    Exists,
    /// The file is larger than the server's `--max-size`.
    TooLarge,
    /// The name is not a plain file name (see [`common::files::name`]).
    BadName,
    /// Not enough free space for the file (or the disk filled up while writing).
    NoSpace,
    /// The server is full, or another client is uploading the same name right now.
    Busy,
    /// The line was not a request the server understands here.
    BadRequest,
    /// The digest the client sent is not the digest of the bytes that arrived.
    Checksum,
    /// The client was silent for longer than the server's `--idle-timeout`, or took longer
    /// than `--message-timeout` to finish a control line.
    Timeout,
    /// The server could not write the file (permissions, I/O error).
    Internal,
    /// The server's file system cannot do what a safe commit needs (hard links, on FAT).
    Unsupported,
    /// `GET`: no stored file of that name (`get/1`).
    NotFound,
}

impl ErrCode {
    pub const ALL: [ErrCode; 11] = [
        ErrCode::Exists,
        ErrCode::TooLarge,
        ErrCode::BadName,
        ErrCode::NoSpace,
        ErrCode::Busy,
        ErrCode::BadRequest,
        ErrCode::Checksum,
        ErrCode::Timeout,
        ErrCode::Internal,
        ErrCode::Unsupported,
        ErrCode::NotFound,
    ];

    /// The word on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrCode::Exists => "EXISTS",
            ErrCode::TooLarge => "TOO_LARGE",
            ErrCode::BadName => "BAD_NAME",
            ErrCode::NoSpace => "NO_SPACE",
            ErrCode::Busy => "BUSY",
            ErrCode::BadRequest => "BAD_REQUEST",
            ErrCode::Checksum => "CHECKSUM",
            ErrCode::Timeout => "TIMEOUT",
            ErrCode::Internal => "INTERNAL",
            ErrCode::Unsupported => "UNSUPPORTED",
            ErrCode::NotFound => "NOT_FOUND",
        }
    }

    fn parse(word: &str) -> Option<ErrCode> {
        ErrCode::ALL.into_iter().find(|c| c.as_str() == word)
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A line that is not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    #[error("{0}")]
    Malformed(&'static str),
}

/// Reads a decimal size: digits only (no sign, no spaces, no `0x`), at most `u64::MAX`.
fn parse_size(word: &[u8]) -> Result<u64, ParseError> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::Malformed("the size must be decimal digits"));
    }
    std::str::from_utf8(word)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ParseError::Malformed("the size is too large a number"))
}

/// Reads the words after `HELLO`: extension names, printable ASCII, at most
/// [`MAX_EXTENSIONS`] of them.
fn parse_extensions(rest: Option<&[u8]>) -> Result<Vec<String>, ParseError> {
    let words: Vec<&[u8]> = match rest {
        None => Vec::new(),
        Some(rest) => rest.split(|&b| b == b' ').collect(),
    };
    if words.len() > MAX_EXTENSIONS {
        return Err(ParseError::Malformed("too many extensions in HELLO"));
    }
    words
        .into_iter()
        .map(|word| {
            let printable = !word.is_empty() && word.iter().all(u8::is_ascii_graphic);
            printable
                .then(|| String::from_utf8_lossy(word).into_owned())
                .ok_or(ParseError::Malformed(
                    "an extension is a word of printable ASCII, such as resume/1",
                ))
        })
        .collect()
}

/// `<size> <name>`, after `PUT` or `RESUME`: the name is everything after the space.
fn parse_size_and_name(rest: &[u8], what: &'static str) -> Result<(u64, Vec<u8>), ParseError> {
    let Some(i) = rest.iter().position(|&b| b == b' ') else {
        return Err(ParseError::Malformed(what));
    };
    Ok((parse_size(&rest[..i])?, rest[i + 1..].to_vec()))
}

/// Reads 64 hex digits (either case) as a digest.
pub fn parse_digest(hex_digits: &[u8]) -> Result<Digest, ParseError> {
    let mut digest = [0u8; DIGEST_LEN];
    hex::decode_to_slice(hex_digits, &mut digest)
        .map_err(|_| ParseError::Malformed("a SHA-256 digest is 64 hex digits"))?;
    Ok(digest)
}

/// Writes a digest as `sha256sum` does: 64 lower-case hex digits.
pub fn digest_hex(digest: &Digest) -> String {
    hex::encode(digest)
}

/// `HELLO resume/1`, or `HELLO` alone for none.
fn hello_line(extensions: &[String]) -> String {
    std::iter::once("HELLO")
        .chain(extensions.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line without its ending: `\n`, or `\r\n` from a terminal (`nc -C`, telnet).
fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

impl Request {
    /// Parses one line from the client (with or without its `\n`).
    pub fn parse(line: &[u8]) -> Result<Request, ParseError> {
        let line = strip_line_end(line);
        if line.is_empty() {
            return Err(ParseError::Empty);
        }
        // The command is the first word; what follows it depends on the command.
        let (command, rest) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        match (command, rest) {
            (b"PUT", Some(rest)) => {
                // The name is everything after the second space, spaces included: names
                // like "my photo.jpg" are common.
                let (size, name) = parse_size_and_name(rest, "PUT needs a size and a name")?;
                Ok(Request::Put { size, name })
            }
            (b"PUT", None) => Err(ParseError::Malformed("PUT needs a size and a name")),
            (b"RESUME", Some(rest)) => {
                let (size, name) = parse_size_and_name(rest, "RESUME needs a size and a name")?;
                Ok(Request::Resume { size, name })
            }
            (b"RESUME", None) => Err(ParseError::Malformed("RESUME needs a size and a name")),
            (b"FROM", Some(offset)) => Ok(Request::From(parse_size(offset)?)),
            (b"FROM", None) => Err(ParseError::Malformed("FROM needs an offset")),
            (b"MKDIR", Some(path)) => Ok(Request::Mkdir(path.to_vec())),
            (b"MKDIR", None) => Err(ParseError::Malformed("MKDIR needs a path")),
            (b"STREAM", Some(name)) => Ok(Request::Stream(name.to_vec())),
            (b"STREAM", None) => Err(ParseError::Malformed("STREAM needs a name")),
            (b"GET", Some(name)) => Ok(Request::Get(name.to_vec())),
            (b"GET", None) => Err(ParseError::Malformed("GET needs a name")),
            (b"DATA", Some(n)) => match parse_size(n)? {
                n @ 1..=MAX_CHUNK => Ok(Request::Data(n)),
                _ => Err(ParseError::Malformed(
                    "DATA announces 1 to 1048576 bytes (MAX_CHUNK)",
                )),
            },
            (b"DATA", None) => Err(ParseError::Malformed("DATA needs a byte count")),
            (b"HELLO", rest) => Ok(Request::Hello(parse_extensions(rest)?)),
            (b"SHA256", Some(hex_digits)) => Ok(Request::Sha256(parse_digest(hex_digits)?)),
            (b"SHA256", None) => Err(ParseError::Malformed("SHA256 needs a digest")),
            (b"BYE", None) => Ok(Request::Bye),
            (b"BYE", Some(_)) => Err(ParseError::Malformed("BYE takes nothing after it")),
            (other, _) => Err(ParseError::UnknownCommand(
                String::from_utf8_lossy(other).into_owned(),
            )),
        }
    }

    /// The line for this request, `\n` included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = match self {
            Request::Put { size, name } => {
                let mut line = format!("PUT {size} ").into_bytes();
                line.extend_from_slice(name);
                line
            }
            Request::Sha256(digest) => format!("SHA256 {}", digest_hex(digest)).into_bytes(),
            Request::Bye => b"BYE".to_vec(),
            Request::Hello(extensions) => hello_line(extensions).into_bytes(),
            Request::Resume { size, name } => {
                let mut line = format!("RESUME {size} ").into_bytes();
                line.extend_from_slice(name);
                line
            }
            Request::From(offset) => format!("FROM {offset}").into_bytes(),
            Request::Mkdir(path) => [&b"MKDIR "[..], path].concat(),
            Request::Stream(name) => [&b"STREAM "[..], name].concat(),
            Request::Get(name) => [&b"GET "[..], name].concat(),
            Request::Data(n) => format!("DATA {n}").into_bytes(),
        };
        line.push(b'\n');
        line
    }
}

impl Reply {
    /// Parses one line from the server (with or without its `\n`).
    pub fn parse(line: &[u8]) -> Result<Reply, ParseError> {
        let line = std::str::from_utf8(strip_line_end(line))
            .map_err(|_| ParseError::Malformed("a reply is UTF-8 text"))?;
        if line.is_empty() {
            return Err(ParseError::Empty);
        }
        if line == GREETING {
            return Ok(Reply::Ready);
        }
        if line == "MADE" {
            return Ok(Reply::Made);
        }
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        match command {
            "GO" => rest
                .parse()
                .map(Reply::Go)
                .map_err(|_| ParseError::Malformed("GO needs an offset")),
            "OK" => Ok(Reply::Ok(parse_digest(rest.as_bytes())?)),
            "FILE" => Ok(Reply::File(parse_size(rest.as_bytes())?)),
            "HELLO" => Ok(Reply::Hello(parse_extensions(
                line.split_once(' ').map(|(_, rest)| rest.as_bytes()),
            )?)),
            "HAVE" => {
                let (offset, prefix) = rest
                    .split_once(' ')
                    .ok_or(ParseError::Malformed("HAVE needs an offset and a digest"))?;
                Ok(Reply::Have {
                    offset: parse_size(offset.as_bytes())?,
                    prefix: parse_digest(prefix.as_bytes())?,
                })
            }
            "ERR" => {
                let (code, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let code =
                    ErrCode::parse(code).ok_or(ParseError::Malformed("ERR needs a known code"))?;
                Ok(Reply::Err(code, text.to_string()))
            }
            other => Err(ParseError::UnknownCommand(other.to_string())),
        }
    }

    /// The line for this reply, `\n` included. Line breaks in an error's text become spaces,
    /// so the text can never end the line early.
    pub fn to_line(&self) -> Vec<u8> {
        let line = match self {
            Reply::Ready => GREETING.to_string(),
            Reply::Go(offset) => format!("GO {offset}"),
            Reply::Ok(digest) => format!("OK {}", digest_hex(digest)),
            Reply::Err(code, text) => format!("ERR {code} {}", text.replace(['\r', '\n'], " ")),
            Reply::Hello(extensions) => hello_line(extensions),
            Reply::Have { offset, prefix } => format!("HAVE {offset} {}", digest_hex(prefix)),
            Reply::Made => "MADE".to_string(),
            Reply::File(size) => format!("FILE {size}"),
        };
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        bytes
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.to_line();
        f.write_str(String::from_utf8_lossy(strip_line_end(&line)).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_reply_shows_as_its_line() {
        assert_eq!(Reply::Ready.to_string(), "UPLOAD/1 READY");
        assert_eq!(Reply::Go(7).to_string(), "GO 7");
        assert_eq!(
            Reply::Err(ErrCode::Busy, "full\nnow".into()).to_string(),
            "ERR BUSY full now"
        );
    }

    #[test]
    fn requests_parse_and_print_back() {
        let digest = [0xab; DIGEST_LEN];
        for request in [
            Request::Put {
                size: 0,
                name: b"a".to_vec(),
            },
            Request::Put {
                size: u64::MAX,
                name: "my photo (1).jpg".into(),
            },
            Request::Sha256(digest),
            Request::Bye,
            Request::Hello(vec![RESUME_EXTENSION.into(), "x/2".into()]),
            Request::Hello(Vec::new()),
            Request::Resume {
                size: 1 << 40,
                name: "my photo.jpg".into(),
            },
            Request::From(0),
            Request::From(u64::MAX),
            Request::Mkdir(b"photos/2024".to_vec()),
            Request::Stream(b"log.txt".to_vec()),
            Request::Get("报告.pdf".into()),
            Request::Data(1),
            Request::Data(MAX_CHUNK),
        ] {
            assert_eq!(Request::parse(&request.to_line()), Ok(request));
        }
        assert_eq!(
            Request::Hello(vec![RESUME_EXTENSION.into()]).to_line(),
            b"HELLO resume/1\n"
        );
        assert_eq!(Request::Hello(Vec::new()).to_line(), b"HELLO\n");
        assert_eq!(
            Request::Resume {
                size: 3,
                name: b"a b".to_vec()
            }
            .to_line(),
            b"RESUME 3 a b\n"
        );
        assert_eq!(Request::From(7).to_line(), b"FROM 7\n");
        assert_eq!(
            Request::parse(b"PUT 12 x\r\n"),
            Ok(Request::Put {
                size: 12,
                name: b"x".to_vec()
            })
        );
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        for bad in [
            &b""[..],
            b"\n",
            b"put 1 a",
            b"PUT",
            b"PUT 12",
            b"PUT -1 a",
            b"PUT +1 a",
            b"PUT 0x10 a",
            b"PUT 99999999999999999999 a",
            b"SHA256",
            b"SHA256 1234",
            b"SHA256 zz",
            b"BYE now",
            b"\xff\xfe",
            b"RESUME",
            b"RESUME 12",
            b"RESUME x a",
            b"FROM",
            b"FROM -1",
            b"FROM 1 2",
            b"HELLO ",
            b"HELLO a  b",
            b"HELLO caf\xc3\xa9",
            b"HELLO a\tb",
            b"hello resume/1",
            b"MKDIR",
            b"STREAM",
            b"GET",
            b"DATA",
            b"DATA 0",
            b"DATA 1048577",
            b"DATA -1",
            b"DATA 1 2",
        ] {
            assert!(Request::parse(bad).is_err(), "{bad:?} was accepted");
        }
        // An empty name parses: refusing it is the name check's job (BAD_NAME, not BAD_REQUEST).
        assert_eq!(
            Request::parse(b"PUT 1 "),
            Ok(Request::Put {
                size: 1,
                name: Vec::new()
            })
        );
    }

    #[test]
    fn replies_parse_and_print_back() {
        for reply in [
            Reply::Ready,
            Reply::Go(0),
            Reply::Ok([7; DIGEST_LEN]),
            Reply::Err(ErrCode::Exists, "photo.jpg is already there".into()),
            Reply::Hello(vec![RESUME_EXTENSION.into()]),
            Reply::Hello(Vec::new()),
            Reply::Have {
                offset: 1 << 30,
                prefix: [9; DIGEST_LEN],
            },
            Reply::Made,
            Reply::File(0),
            Reply::File(u64::MAX),
        ] {
            assert_eq!(Reply::parse(&reply.to_line()), Ok(reply));
        }
        assert_eq!(
            Reply::Have {
                offset: 5,
                prefix: [0; DIGEST_LEN]
            }
            .to_string(),
            format!("HAVE 5 {}", "0".repeat(64))
        );
        assert_eq!(Reply::Hello(vec!["a/1".into()]).to_string(), "HELLO a/1");
        for bad in [
            &b"HAVE"[..],
            b"HAVE 5",
            b"HAVE x 00",
            b"HAVE 5 zz",
            b"HELLO a  b",
            b"HELLO ",
            b"FILE",
            b"FILE -1",
            b"MADE x",
        ] {
            assert!(Reply::parse(bad).is_err(), "{bad:?} was accepted");
        }
        for code in ErrCode::ALL {
            let line = Reply::Err(code, String::new()).to_line();
            assert_eq!(Reply::parse(&line), Ok(Reply::Err(code, String::new())));
        }
    }

    #[test]
    fn a_hello_has_at_most_sixteen_extensions() {
        let names: Vec<String> = (0..MAX_EXTENSIONS).map(|i| format!("e/{i}")).collect();
        let line = Request::Hello(names.clone()).to_line();
        assert_eq!(Request::parse(&line), Ok(Request::Hello(names.clone())));
        assert_eq!(Reply::parse(&line), Ok(Reply::Hello(names.clone())));
        let mut more = names;
        more.push("one/1".into());
        let line = Request::Hello(more).to_line();
        assert!(Request::parse(&line).is_err());
        assert!(Reply::parse(&line).is_err());
    }

    #[test]
    fn an_error_text_cannot_break_the_line() {
        let line = Reply::Err(ErrCode::BadName, "a\nGO 0".into()).to_line();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    }

    #[test]
    fn digests_print_as_sha256sum_does() {
        let mut digest = [0u8; DIGEST_LEN];
        digest[0] = 0xe3;
        assert!(digest_hex(&digest).starts_with("e300"));
        assert_eq!(digest_hex(&digest).len(), 64);
        assert_eq!(
            parse_digest(digest_hex(&digest).to_uppercase().as_bytes()),
            Ok(digest)
        );
    }

    proptest! {
        #[test]
        fn no_line_makes_the_parsers_panic(line in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Request::parse(&line);
            let _ = Reply::parse(&line);
        }

        #[test]
        fn any_put_round_trips(size: u64, name in proptest::collection::vec(any::<u8>().prop_filter("no line end", |b| *b != b'\n' && *b != b'\r'), 0..300)) {
            let request = Request::Put { size, name };
            prop_assert_eq!(Request::parse(&request.to_line()), Ok(request));
        }
    }
}
