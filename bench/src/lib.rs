//! # Benchmark helpers
//!
//! Small pieces the load tools share: reading a line from a blocking stream without a
//! per-connection buffer, and reading a process's memory use from `/proc`.

use std::io::{self, Read};
use std::net::TcpStream;

/// Longest line the tools read (the greeting, a reply, the busy message).
const MAX_LINE: usize = 256;

/// Reads one `\n`-terminated line, a few bytes at a time. `Ok(None)` at end of stream.
pub fn read_line(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < MAX_LINE {
        match stream.read(&mut byte)? {
            0 if line.is_empty() => return Ok(None),
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "end of stream mid-line",
                ))
            }
            _ if byte[0] == b'\n' => return Ok(Some(line)),
            _ => line.push(byte[0]),
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"))
}

/// A process's resident memory (VmRSS) and its peak (VmHWM), in KiB, from `/proc/PID/status`.
pub fn rss_kib(pid: u32) -> io::Result<(u64, u64)> {
    let field = |name| common::testing::proc_status(pid, name);
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(rss), Some(peak)) => Ok((rss, peak)),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no memory figures in /proc/{pid}/status"),
        )),
    }
}

/// The number of threads of a process, from `/proc/PID/status`.
pub fn threads(pid: u32) -> u64 {
    common::testing::proc_status(pid, "Threads:").unwrap_or(0)
}

/// Whether a process is still alive (and not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.split_whitespace()
            .nth(2)
            .is_some_and(|state| state != "Z")
    })
}

/// The process that listens on TCP `port` (Linux), found as `ss -p` finds it: the socket's
/// inode in `/proc/net/tcp` (or `tcp6`), then the process with a descriptor on that inode.
pub fn listener_pid(port: u16) -> Option<u32> {
    /// The state of a listening socket in /proc/net/tcp.
    const LISTEN: &str = "0A";
    let port_hex = format!(":{port:04X}");
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| {
            let text = std::fs::read_to_string(table).ok()?;
            text.lines().skip(1).find_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                let listening = cols.get(1)?.ends_with(&port_hex) && cols.get(3) == Some(&LISTEN);
                listening
                    .then(|| cols.get(9).map(|s| s.to_string()))
                    .flatten()
            })
        })?;
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let fds = std::fs::read_dir(entry.path().join("fd")).ok()?;
            fds.flatten()
                .any(|fd| {
                    std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str())
                })
                .then_some(pid)
        })
}
