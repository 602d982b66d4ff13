//! # The tutorial's own exchange (`--protocol tutorial`)
//!
//! The tutorial's upload, message by message (its Python 3 port is
//! `docs/python/upload.py` and `docs/python/upload_user.py`):
//!
//! ```text
//! S: 文件上传                 "file upload": the greeting
//! C: 12345                   the size, as decimal digits, with nothing after it
//! S: 开始传送                 "start sending"
//! C: <12345 bytes>
//! S: 传送完成                 "transfer complete"
//! ```
//!
//! Nothing marks where a message ends: each side does one `recv(1024)` and trusts that it
//! got exactly the other side's message. That holds here only because each side waits for
//! the other's answer before it sends again, so there is never more than one message in
//! flight. There is no name (the server always writes `recv_yan.jpg`) and no checksum.
//!
//! `upload serve --protocol tutorial` and `upload send --protocol tutorial` (alias `seed`)
//! speak exactly this, so they interoperate with the tutorial's programs. They fix what can
//! be fixed without changing a byte on the wire: `write_all` instead of `send`, end of
//! stream detected (the tutorial's server loops forever when a client leaves early), a
//! timeout, `--max-size`, the partial file, and no overwriting: `recv_yan.jpg`, then
//! `recv_yan-1.jpg`, ...
//!
//! This file holds what both sides share: the messages and how one is read. The server's
//! side is [`crate::server`]'s `tutorial` module, the client's is [`crate::client`]'s.

use std::io::{self, Read};
use std::net::TcpStream;

/// "文件上传": file upload.
pub const GREETING: &str = "文件上传";
/// "开始传送": start sending.
pub const GO_AHEAD: &str = "开始传送";
/// "传送完成": transfer complete.
pub const DONE: &str = "传送完成";
/// The tutorial's fixed output name.
pub const STORE_AS: &str = "recv_yan";
/// ... and its extension.
pub const STORE_EXT: &str = "jpg";
/// The tutorial reads every message with `recv(1024)`.
pub const MESSAGE_MAX: usize = 1024;
/// Reads one message the tutorial's way: whatever one `recv` returns. `None` at end of stream.
pub(crate) fn read_message(mut stream: &TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; MESSAGE_MAX];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => return Ok(Some(buf[..n].to_vec())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The size message: decimal digits (spaces and a line end tolerated, as a person typing
/// into `nc` would send them).
pub(crate) fn parse_size(message: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(message).ok()?.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `recv_yan.jpg`, `recv_yan-1.jpg`, `recv_yan-2.jpg`, ...
pub(crate) fn numbered_name(n: u32) -> String {
    if n == 0 {
        format!("{STORE_AS}.{STORE_EXT}")
    } else {
        format!("{STORE_AS}-{n}.{STORE_EXT}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_digits_as_a_person_or_the_tutorial_sends_them() {
        assert_eq!(parse_size(b"12345"), Some(12345));
        assert_eq!(parse_size(b"42\n"), Some(42));
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"12abc"), None);
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"99999999999999999999999"), None);
    }

    #[test]
    fn names_are_numbered_after_the_tutorials() {
        assert_eq!(numbered_name(0), "recv_yan.jpg");
        assert_eq!(numbered_name(2), "recv_yan-2.jpg");
    }
}
