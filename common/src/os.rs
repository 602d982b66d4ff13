//! # Same code, three systems: the one place where Linux, macOS and Windows differ
//!
//! Almost everything in sockets-lab is the same on every system: `socket`, `bind`,
//! `listen`, `accept`, `connect`, `send` and `recv` are the Berkeley sockets API, and
//! Windows' Winsock copied it. What differs is at the edges, and every such difference is
//! handled here, behind `cfg`, with each system's version next to the others, so a student
//! can read them side by side (the book's lesson "Same code, three systems" walks through
//! them):
//!
//! | what                          | Linux                         | macOS / BSD                      | Windows                               |
//! |-------------------------------|-------------------------------|----------------------------------|---------------------------------------|
//! | a datagram cut by a small buffer | `MSG_PEEK\|MSG_TRUNC` gives its real size | `recvmsg` sets `MSG_TRUNC` in the flags | `recvfrom` fails with `WSAEMSGSIZE` |
//! | ICMP "port unreachable" after a UDP send | `ECONNREFUSED`, connected sockets only | `ECONNREFUSED`, connected sockets only | `WSAECONNRESET`, even on a server's unconnected socket |
//! | `SO_REUSEADDR`                | restart while old connections wait in `TIME_WAIT` | the same | lets *another program* bind the port while we listen on it: never set |
//! | who may take a listening port | nobody                        | nobody (but a more specific address) | anyone who sets `SO_REUSEADDR`, unless we set `SO_EXCLUSIVEADDRUSE` |
//! | restart during `TIME_WAIT`    | needs `SO_REUSEADDR` (our default) | the same                  | a plain bind may; with `SO_EXCLUSIVEADDRUSE` (our default) it waits |
//! | `SO_REUSEPORT`                | several listeners, connections spread between them | several listeners, no spreading | does not exist |
//! | limits on connections         | `ulimit -n`, threads, `vm.max_map_count` | `ulimit -n`, `ulimit -u` | none per process (memory is the limit) |
//! | kernel drop counter for UDP   | `/proc/net/udp`               | not available                    | not available                         |
//! | drop an uploaded file from the cache | `posix_fadvise(DONTNEED)` | not available (the cache is left to the system) | not available (likewise) |
//! | make a new file name durable  | `fsync` of the folder         | `fsync` of the folder            | not needed: NTFS logs the rename      |
//! | the empty device              | `/dev/null`                   | `/dev/null`                      | `NUL`                                 |
//! | readiness events (`--model poll`, through mio) | `epoll`, edge-triggered: a short read means drained | `kqueue`, the same | completion ports underneath: read until `WouldBlock` |
//!
//! A feature a system lacks is said in the program's output ("not available on this
//! system"), never silently wrong.
//!
//! Two calls here need `unsafe`, the only two in the project: socket2 (the crate we use for
//! every socket option) has no `SO_EXCLUSIVEADDRUSE`, and its `recvmsg`, which returns the
//! `MSG_TRUNC` flag, takes a buffer type that safe code cannot make from an ordinary one.
//! Each is a few lines, with the reason it is sound next to it.

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;

use socket2::Socket;

/// The name of this system, as the output says it.
pub const SYSTEM: &str = if cfg!(target_os = "linux") {
    "Linux"
} else if cfg!(target_os = "macos") {
    "macOS"
} else if cfg!(windows) {
    "Windows"
} else if cfg!(unix) {
    "this Unix"
} else {
    "this system"
};

/// What the output says where this system lacks a feature.
pub const NOT_AVAILABLE: &str = "not available on this system";

/// Readiness events come edge-triggered (mio): after an event, a non-blocking socket must be
/// read until it says `WouldBlock`, or no further event comes. With `epoll` and `kqueue`, a
/// read of a stream socket that returned less than it asked for has already emptied the
/// socket's queue, and what arrives later raises a new event (epoll(7), question 9), so the
/// extra `read()` that would only say `WouldBlock` can be skipped, as Tokio and Netty do.
/// (Not when the event also said the peer hung up: then read on to the end of the stream.)
/// Windows (mio over completion ports) and other systems read on until `WouldBlock`.
pub const SHORT_READ_DRAINS: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
));

/// The device that discards what is written and reads as empty.
pub const NULL_DEVICE: &str = if cfg!(windows) { "NUL" } else { "/dev/null" };

// ---------------------------------------------------------------------------------------
// Limits of the process (see `capacity`).

/// The limits on connections this system reports; `None` where it has no such limit or
/// does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessLimits {
    /// The soft open-file limit (`ulimit -n`): every socket is a file descriptor.
    pub open_files: Option<u64>,
    /// Processes and threads of this user (`ulimit -u`).
    pub user_threads: Option<u64>,
    /// Threads on the whole machine (`kernel.threads-max`, Linux).
    pub machine_threads: Option<u64>,
    /// Memory maps of one process (`vm.max_map_count`, Linux).
    pub memory_maps: Option<u64>,
    /// Tasks in this control group (`pids.max`, Linux containers).
    pub cgroup_tasks: Option<u64>,
}

/// Reads the limits of this process.
pub fn process_limits() -> ProcessLimits {
    #[cfg(unix)]
    let rlimit = |resource: rlimit::Resource| match rlimit::getrlimit(resource) {
        Ok((soft, _hard)) if soft != rlimit::INFINITY => Some(soft),
        _ => None,
    };
    #[cfg(target_os = "linux")]
    {
        ProcessLimits {
            open_files: rlimit(rlimit::Resource::NOFILE),
            user_threads: rlimit(rlimit::Resource::NPROC),
            machine_threads: read_number("/proc/sys/kernel/threads-max"),
            memory_maps: read_number("/proc/sys/vm/max_map_count"),
            cgroup_tasks: read_number("/sys/fs/cgroup/pids.max"),
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        ProcessLimits {
            open_files: rlimit(rlimit::Resource::NOFILE),
            user_threads: rlimit(rlimit::Resource::NPROC),
            ..ProcessLimits::default()
        }
    }
    #[cfg(not(unix))]
    {
        // Windows has no per-process limit on sockets or threads: memory is the limit.
        ProcessLimits::default()
    }
}

#[cfg(target_os = "linux")]
fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Raises the soft open-file limit to the hard one (Unix); returns the limit in force, or
/// `None` where the system has no such limit (Windows).
pub fn raise_open_file_limit() -> io::Result<Option<u64>> {
    #[cfg(unix)]
    {
        rlimit::increase_nofile_limit(u64::MAX).map(Some)
    }
    #[cfg(not(unix))]
    {
        Ok(None)
    }
}

/// Why `accept()` failed, when it failed for lack of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortage {
    /// This process is out of file descriptors (`EMFILE`, `WSAEMFILE`).
    ProcessFiles,
    /// The whole system is (`ENFILE`).
    SystemFiles,
    /// Out of memory or socket buffers (`ENOMEM`, `ENOBUFS`, `WSAENOBUFS`).
    Memory,
}

/// Classifies an `accept()` error as a shortage of resources.
pub fn shortage(e: &io::Error) -> Option<Shortage> {
    if e.kind() == io::ErrorKind::OutOfMemory {
        return Some(Shortage::Memory);
    }
    let code = e.raw_os_error()?;
    #[cfg(unix)]
    {
        match code {
            libc::EMFILE => Some(Shortage::ProcessFiles),
            libc::ENFILE => Some(Shortage::SystemFiles),
            libc::ENOMEM | libc::ENOBUFS => Some(Shortage::Memory),
            _ => None,
        }
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Networking::WinSock::{WSAEMFILE, WSAENOBUFS};
        match code {
            WSAEMFILE => Some(Shortage::ProcessFiles),
            WSAENOBUFS => Some(Shortage::Memory),
            _ => None,
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = code;
        None
    }
}

// ---------------------------------------------------------------------------------------
// Listening sockets: SO_REUSEADDR and its look-alikes.

/// Sets the address-reuse option that makes a restart safe on this system (step 2 of
/// [`crate::net::tcp_listener`]). `reuse` is the program's default, `false` with
/// `--no-reuse-addr`.
///
/// - Linux, macOS: `SO_REUSEADDR`, so a restarted server can bind while the connections
///   of the old one wait in `TIME_WAIT`.
/// - Windows: `SO_REUSEADDR` there means something else: another program may bind the
///   same port *while we listen on it* and take our connections. Worse, without any option
///   a second program that sets it can do that to us. So we never set it, and set
///   `SO_EXCLUSIVEADDRUSE`, which forbids exactly that. Its price: like Linux without
///   `SO_REUSEADDR`, a restart must wait while connections of the old server are in
///   `TIME_WAIT` (two to four minutes, by the Windows version). `--no-reuse-addr` leaves
///   both off: the plain `bind()` of the tutorial, which on Windows does not wait for
///   `TIME_WAIT`.
// ANCHOR: address_reuse
pub fn set_address_reuse(socket: &Socket, reuse: bool) -> io::Result<()> {
    #[cfg(windows)]
    {
        if reuse {
            set_exclusive_address_use(socket)?;
        }
        Ok(())
    }
    #[cfg(not(windows))]
    {
        socket.set_reuse_address(reuse)
    }
}
// ANCHOR_END: address_reuse

/// `SO_EXCLUSIVEADDRUSE`: no other socket may bind this address and port.
#[cfg(windows)]
#[allow(unsafe_code)]
fn set_exclusive_address_use(socket: &Socket) -> io::Result<()> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{
        setsockopt, SOCKET_ERROR, SOL_SOCKET, SO_EXCLUSIVEADDRUSE,
    };
    let on: i32 = 1; // a Windows BOOL
                     // SAFETY: the handle belongs to `socket`, which is alive for the call; `optval` points
                     // at a live i32 and `optlen` is its size, which is all setsockopt reads.
    let rc = unsafe {
        setsockopt(
            socket.as_raw_socket() as usize,
            SOL_SOCKET,
            SO_EXCLUSIVEADDRUSE,
            (&on as *const i32).cast(),
            std::mem::size_of::<i32>() as i32,
        )
    };
    if rc == SOCKET_ERROR {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sets `SO_REUSEPORT` (step 3 of [`crate::net::tcp_listener`]). Where the system has no
/// such option it fails with [`io::ErrorKind::Unsupported`] and a message that says so.
pub fn set_port_reuse(socket: &Socket, reuse: bool) -> io::Result<()> {
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    {
        socket.set_reuse_port(reuse)
    }
    #[cfg(not(all(unix, not(any(target_os = "solaris", target_os = "illumos")))))]
    {
        let _ = socket;
        if reuse {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("SO_REUSEPORT is {NOT_AVAILABLE}"),
            ))
        } else {
            Ok(())
        }
    }
}

/// What the address options of a listener really do here, for the start-up line.
pub fn describe_address_reuse(reuse_addr: bool, reuse_port: bool) -> String {
    let on_off = |b: bool| if b { "on" } else { "off" };
    if cfg!(windows) {
        // Never SO_REUSEADDR on Windows: see `set_address_reuse`.
        format!(
            "SO_EXCLUSIVEADDRUSE {}, SO_REUSEADDR off (on Windows it would let another program share the port), \
             SO_REUSEPORT {NOT_AVAILABLE}",
            on_off(reuse_addr)
        )
    } else if cfg!(target_os = "linux") {
        format!(
            "SO_REUSEADDR {}, SO_REUSEPORT {}",
            on_off(reuse_addr),
            on_off(reuse_port)
        )
    } else {
        format!(
            "SO_REUSEADDR {}, SO_REUSEPORT {}{}",
            on_off(reuse_addr),
            on_off(reuse_port),
            if reuse_port {
                " (shared, but the kernel does not spread connections here)"
            } else {
                ""
            }
        )
    }
}

// ---------------------------------------------------------------------------------------
// UDP: truncated datagrams and ICMP errors.

/// One datagram received into a buffer that may have been too small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes in the buffer.
    pub len: usize,
    /// Whether the datagram was larger than the buffer, and so cut.
    pub truncated: bool,
    /// The datagram's real size, where the system tells it (Linux does).
    pub sent_len: Option<usize>,
    pub from: SocketAddr,
}

/// Receives one datagram into `buf` and finds out whether it was cut, the way this
/// system allows (see the table at the top).
pub fn recv_detecting_truncation(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    // ANCHOR: truncation
    #[cfg(target_os = "linux")]
    {
        recv_peeking_size(socket, buf)
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        recv_reading_flags(socket, buf)
    }
    #[cfg(windows)]
    {
        recv_catching_msgsize(socket, buf)
    }
    // ANCHOR_END: truncation
}

/// Linux: ask for the real size first, without taking the datagram off the queue:
/// `recv(MSG_PEEK | MSG_TRUNC)` into an empty buffer returns the whole length.
#[cfg(target_os = "linux")]
pub fn recv_peeking_size(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    let sent_len = socket2::SockRef::from(socket)
        .recv_with_flags(&mut [], libc::MSG_PEEK | libc::MSG_TRUNC)?;
    let (len, from) = socket.recv_from(buf)?;
    Ok(Received {
        len,
        truncated: sent_len > len,
        sent_len: Some(sent_len.max(len)),
        from,
    })
}

/// macOS and the BSDs (and Linux too, which is how this is tested): `recvmsg` reports a cut
/// with the `MSG_TRUNC` flag of the message it returns, but not the real size.
#[cfg(unix)]
pub fn recv_reading_flags(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    let mut bufs = [socket2::MaybeUninitSlice::new(as_uninit(buf))];
    let (len, flags, from) = socket2::SockRef::from(socket).recv_from_vectored(&mut bufs)?;
    let from = from.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a datagram from a non-IP address",
        )
    })?;
    Ok(Received {
        len,
        truncated: flags.is_truncated(),
        sent_len: None,
        from,
    })
}

/// Views an initialised buffer as one that `recvmsg` may write into.
#[cfg(unix)]
#[allow(unsafe_code)]
fn as_uninit(buf: &mut [u8]) -> &mut [std::mem::MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`. The only writer is recvmsg, which
    // writes received bytes (never uninitialised ones), so `buf` stays initialised.
    unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) }
}

/// Windows: `recvfrom` into a buffer too small fails with `WSAEMSGSIZE`, after filling the
/// buffer with the datagram's first bytes. The error loses the sender's address, so we
/// look at it first (`MSG_PEEK` with no buffer).
#[cfg(windows)]
fn recv_catching_msgsize(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Received> {
    let from = socket2::SockRef::from(socket)
        .peek_sender()?
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a non-IP sender"))?;
    match socket.recv_from(buf) {
        Ok((len, from)) => Ok(Received {
            len,
            truncated: false,
            sent_len: None,
            from,
        }),
        Err(e) if is_message_too_long(&e) => Ok(Received {
            len: buf.len(),
            truncated: true,
            sent_len: None,
            from,
        }),
        Err(e) => Err(e),
    }
}

/// A datagram too large: to send (`EMSGSIZE`), or, on Windows, for the receive buffer
/// (`WSAEMSGSIZE`).
pub fn is_message_too_long(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::EMSGSIZE)
    }
    #[cfg(windows)]
    {
        e.raw_os_error() == Some(windows_sys::Win32::Networking::WinSock::WSAEMSGSIZE)
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = e;
        false
    }
}

/// An ICMP "port unreachable" came back for a datagram we sent: nobody listens there.
/// Unix reports it on a *connected* UDP socket as `ECONNREFUSED`; Windows as
/// `WSAECONNRESET`, and on an unconnected socket too — where a server must take it as the
/// news it is (an earlier reply found no one), not as its own failure.
pub fn is_port_unreachable(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionRefused
        || (cfg!(windows) && e.kind() == io::ErrorKind::ConnectionReset)
}

// ---------------------------------------------------------------------------------------
// TCP streams.

/// Whether the peer has sent something (or closed) that we have not read, without waiting.
pub fn has_pending_input(stream: &TcpStream) -> bool {
    #[cfg(unix)]
    {
        // MSG_PEEK: look without taking; MSG_DONTWAIT: return at once if nothing is there.
        // End of stream (0 bytes) counts: the peer closing is news, too.
        let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        socket2::SockRef::from(stream)
            .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT)
            .is_ok()
    }
    #[cfg(not(unix))]
    {
        // Winsock has no MSG_DONTWAIT: make the socket non-blocking for the one peek.
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let pending = stream.peek(&mut [0u8; 1]).is_ok();
        let _ = stream.set_nonblocking(false);
        pending
    }
}

// ---------------------------------------------------------------------------------------
// Files (the upload server's safe writes).

/// What this system does to keep a large upload out of the page cache.
pub const DROP_BEHIND: &str = if cfg!(target_os = "linux") {
    "posix_fadvise(DONTNEED) once each part is on disk"
} else {
    "not available on this system (the cache is left to the system)"
};

/// Lets the kernel forget the first `len` bytes of `file` from its cache, now that they are
/// on disk. Only advice: it cannot lose data. Does nothing where the system has no such
/// call (see [`DROP_BEHIND`]).
pub fn drop_behind(file: &File, len: u64) {
    #[cfg(target_os = "linux")]
    {
        if let Some(len) = std::num::NonZeroU64::new(len) {
            let _ = rustix::fs::fadvise(file, 0, Some(len), rustix::fs::Advice::DontNeed);
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, len);
    }
}

/// Makes `options` refuse to open through a symbolic link: the link itself fails to open
/// (Unix: `O_NOFOLLOW`, which gives `ELOOP`) or is opened as itself, never its target
/// (Windows: `FILE_FLAG_OPEN_REPARSE_POINT`; the caller checks that it opened a plain
/// file). Other systems have neither, and follow links.
pub fn no_follow(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        /// From `winbase.h`: open a reparse point (a symbolic link) itself.
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
    }
    #[cfg(not(any(unix, windows)))]
    {
        options
    }
}

/// Makes the folder's entries (a new name) durable: `fsync` of the folder on Unix. On
/// Windows a folder cannot be opened as a file, and needs no such call: NTFS writes the
/// change of name to its journal.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The folder's full path, for people: resolved links on Unix (what `realpath` shows);
/// on Windows `C:\Users\...` rather than the `\\?\C:\...` form that resolving gives.
pub fn absolute(path: &Path) -> std::path::PathBuf {
    #[cfg(windows)]
    {
        std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
    }
    #[cfg(not(windows))]
    {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }
}

/// The disk or the user's quota is full.
pub fn is_no_space(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
    )
}

/// The file system cannot do this (space reservation on some network file systems, hard
/// links on FAT).
pub fn is_unsupported(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::Unsupported {
        return true;
    }
    #[cfg(unix)]
    {
        // Two names, one number on Linux, two on macOS.
        let code = e.raw_os_error();
        code == Some(libc::EOPNOTSUPP) || code == Some(libc::ENOTSUP)
    }
    #[cfg(windows)]
    {
        // ERROR_INVALID_FUNCTION, ERROR_NOT_SUPPORTED: what FAT answers CreateHardLink.
        const ERROR_INVALID_FUNCTION: i32 = 1;
        const ERROR_NOT_SUPPORTED: i32 = 50;
        matches!(
            e.raw_os_error(),
            Some(ERROR_INVALID_FUNCTION) | Some(ERROR_NOT_SUPPORTED)
        )
    }
    #[cfg(not(any(unix, windows)))]
    {
        false
    }
}

/// `link()` failed because the file system has no hard links: FAT answers `EPERM` on
/// Linux, and Windows `ERROR_INVALID_FUNCTION`.
pub fn is_links_unsupported(e: &io::Error) -> bool {
    is_unsupported(e) || e.kind() == io::ErrorKind::PermissionDenied
}

/// What the kernel's TCP knows about a connection ([`crate::tcpinfo`]): Linux's
/// `TCP_INFO`, macOS's `TCP_CONNECTION_INFO`, Windows' `SIO_TCP_INFO` (Windows 10 1703
/// and later; Wine answers it with an error). socket2 has none of them
/// (rust-lang/socket2#362). Elsewhere, and where the system refuses, an error that says so:
/// the caller prints "not available on this system".
pub fn tcp_info(socket: socket2::SockRef<'_>) -> io::Result<crate::tcpinfo::TcpInfo> {
    #[cfg(target_os = "linux")]
    {
        // The kernel fills as much of the struct as it has, and says how much: a field
        // past that (delivery_rate came with 4.9, bytes_retrans with 4.19) is missing.
        let mut info: libc::tcp_info = unsafe_free_zeroed();
        let len = getsockopt_into(&socket, libc::IPPROTO_TCP, libc::TCP_INFO, &mut info)?;
        let has = |offset: usize, size: usize| len >= offset + size;
        let mut out = crate::tcpinfo::TcpInfo::from_linux(
            info.tcpi_rtt,
            info.tcpi_rttvar,
            info.tcpi_rto,
            info.tcpi_snd_cwnd,
            info.tcpi_snd_ssthresh,
            info.tcpi_snd_mss,
            info.tcpi_unacked,
            info.tcpi_total_retrans,
            has(std::mem::offset_of!(libc::tcp_info, tcpi_delivery_rate), 8)
                .then_some(info.tcpi_delivery_rate),
        );
        if has(std::mem::offset_of!(libc::tcp_info, tcpi_bytes_retrans), 8) {
            out.retransmitted_bytes = Some(info.tcpi_bytes_retrans);
        }
        Ok(out)
    }
    #[cfg(target_os = "macos")]
    {
        let mut info: libc::tcp_connection_info = unsafe_free_zeroed();
        getsockopt_into(
            &socket,
            libc::IPPROTO_TCP,
            libc::TCP_CONNECTION_INFO,
            &mut info,
        )?;
        Ok(crate::tcpinfo::TcpInfo::from_macos(
            info.tcpi_srtt,
            info.tcpi_rttvar,
            info.tcpi_rto,
            info.tcpi_snd_cwnd,
            info.tcpi_snd_ssthresh,
            info.tcpi_maxseg,
            info.tcpi_txretransmitbytes,
        ))
    }
    #[cfg(windows)]
    {
        let info = windows_tcp_info(&socket)?;
        Ok(crate::tcpinfo::TcpInfo::from_windows(
            info.RttUs,
            info.Mss,
            info.Cwnd,
            info.BytesInFlight,
            info.BytesRetrans,
        ))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    {
        let _ = socket;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no TCP_INFO on this system",
        ))
    }
}

/// A value of a C struct with every byte zero, which is a valid value of the plain-data
/// structs it is used for (integers only).
#[cfg(any(target_os = "linux", target_os = "macos"))]
#[allow(unsafe_code)]
fn unsafe_free_zeroed<T: PlainData>() -> T {
    // SAFETY: T is one of libc's tcp_info structs: integers and padding only, for which
    // all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

/// The C structs that all-zero bytes make a valid value of, and that getsockopt may fill:
/// integers only. Sealed here, so that no other type can be passed.
#[cfg(any(target_os = "linux", target_os = "macos"))]
trait PlainData: Copy {}
#[cfg(target_os = "linux")]
impl PlainData for libc::tcp_info {}
#[cfg(target_os = "macos")]
impl PlainData for libc::tcp_connection_info {}

/// getsockopt into a struct; returns how many bytes the kernel wrote.
#[cfg(any(target_os = "linux", target_os = "macos"))]
#[allow(unsafe_code)]
fn getsockopt_into<T: PlainData>(
    socket: &socket2::SockRef<'_>,
    level: i32,
    name: i32,
    value: &mut T,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut len = std::mem::size_of::<T>() as libc::socklen_t;
    // SAFETY: the fd belongs to `socket`, alive for the call; `value` points at a live T
    // and `len` is its size: the kernel writes at most `len` bytes and says how many.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *mut T).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(len as usize)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `WSAIoctl(SIO_TCP_INFO)`, version 0 of the struct.
#[cfg(windows)]
#[allow(unsafe_code)]
fn windows_tcp_info(
    socket: &socket2::SockRef<'_>,
) -> io::Result<windows_sys::Win32::Networking::WinSock::TCP_INFO_v0> {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{
        TCP_INFO_v0, WSAIoctl, SIO_TCP_INFO, SOCKET_ERROR,
    };
    let version: u32 = 0;
    // SAFETY: TCP_INFO_v0 is plain data (integers and a bool), valid all-zero.
    let mut info: TCP_INFO_v0 = unsafe { std::mem::zeroed() };
    let mut returned: u32 = 0;
    // SAFETY: the handle belongs to `socket`, alive for the call; the in-buffer is a live
    // u32 and the out-buffer a live TCP_INFO_v0, each passed with its size; no overlapped
    // I/O, so the call completes before it returns.
    let rc = unsafe {
        WSAIoctl(
            socket.as_raw_socket() as usize,
            SIO_TCP_INFO,
            (&version as *const u32).cast(),
            std::mem::size_of::<u32>() as u32,
            (&mut info as *mut TCP_INFO_v0).cast(),
            std::mem::size_of::<TCP_INFO_v0>() as u32,
            &mut returned,
            std::ptr::null_mut(),
            None,
        )
    };
    if rc == SOCKET_ERROR {
        Err(io::Error::last_os_error())
    } else {
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        (a, b)
    }

    #[test]
    fn this_system_detects_a_cut_datagram_and_a_whole_one() {
        let (server, client) = pair();
        let to = server.local_addr().unwrap();
        client.send_to(&[7u8; 3000], to).unwrap();
        client.send_to(&[8u8; 100], to).unwrap();
        let mut buf = [0u8; 1024];
        let cut = recv_detecting_truncation(&server, &mut buf).unwrap();
        assert!(cut.truncated, "{cut:?}");
        assert_eq!(cut.len, 1024);
        assert_eq!(cut.from, client.local_addr().unwrap());
        assert_eq!(buf, [7u8; 1024]);
        if cfg!(target_os = "linux") {
            assert_eq!(cut.sent_len, Some(3000));
        }
        let whole = recv_detecting_truncation(&server, &mut buf).unwrap();
        assert_eq!((whole.len, whole.truncated), (100, false), "{whole:?}");
    }

    /// The macOS/BSD way, run where the tests run (Linux sets the flag too).
    #[cfg(unix)]
    #[test]
    fn the_msg_trunc_flag_of_recvmsg_tells_a_cut() {
        let (server, client) = pair();
        let to = server.local_addr().unwrap();
        client.send_to(&[1u8; 2000], to).unwrap();
        client.send_to(b"short", to).unwrap();
        let mut buf = [0u8; 1500];
        let cut = recv_reading_flags(&server, &mut buf).unwrap();
        assert_eq!((cut.len, cut.truncated, cut.sent_len), (1500, true, None));
        let whole = recv_reading_flags(&server, &mut buf).unwrap();
        assert_eq!((whole.len, whole.truncated), (5, false));
        assert_eq!(&buf[..5], b"short");
    }

    #[test]
    fn port_unreachable_is_refused_everywhere_and_reset_on_windows() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert!(is_port_unreachable(&refused));
        assert_eq!(is_port_unreachable(&reset), cfg!(windows));
        assert!(!is_port_unreachable(&io::Error::from(
            io::ErrorKind::TimedOut
        )));
    }

    #[test]
    fn the_start_up_line_says_what_the_options_do_here() {
        let text = describe_address_reuse(true, false);
        if cfg!(windows) {
            assert!(text.starts_with("SO_EXCLUSIVEADDRUSE on"), "{text}");
            assert!(text.contains(NOT_AVAILABLE), "{text}");
        } else {
            assert!(
                text.starts_with("SO_REUSEADDR on, SO_REUSEPORT off"),
                "{text}"
            );
        }
    }

    /// What the shell says of this process's limits (`ulimit -Sn` and so on): `None` for
    /// "unlimited". A child inherits its parent's limits, so the two must agree. (bash:
    /// dash, Debian's sh, has no `ulimit -u`.)
    #[cfg(unix)]
    fn shell_limit(flag: &str) -> Option<u64> {
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("ulimit {flag}")])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        match text.trim() {
            "unlimited" => None,
            n => Some(n.parse().unwrap()),
        }
    }

    #[cfg(unix)]
    #[test]
    fn limits_are_the_ones_the_shell_reports() {
        let limits = process_limits();
        assert_eq!(limits.open_files, shell_limit("-Sn"));
        assert_eq!(limits.user_threads, shell_limit("-Su"));
        #[cfg(target_os = "linux")]
        {
            let maps = std::fs::read_to_string("/proc/sys/vm/max_map_count").unwrap();
            assert_eq!(limits.memory_maps, Some(maps.trim().parse().unwrap()));
        }
    }

    /// Raising the open-file limit lifts the soft limit to the hard one: checked in a child
    /// process of this test binary, so that the tests' own process keeps its limit.
    #[cfg(unix)]
    #[test]
    fn raising_the_open_file_limit_lifts_the_soft_limit_to_the_hard_one() {
        // The child starts with a soft limit below the hard one, so that raising it shows.
        let me = std::env::current_exe().unwrap();
        let out = std::process::Command::new("bash")
            .args([
                "-c",
                "ulimit -Sn 256 && exec \"$0\" --exact os::tests::helper_raises_the_open_file_limit --nocapture --include-ignored",
            ])
            .arg(me)
            .env(crate::testing::CHILD_TEST, "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        let raised: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("raised to "))
            .unwrap_or_else(|| panic!("no answer from the child: {text}"))
            .trim()
            .parse()
            .unwrap();
        let hard = shell_limit("-Hn");
        if cfg!(target_os = "linux") {
            assert_eq!(Some(raised), hard, "{text}");
        } else {
            // macOS caps it at kern.maxfilesperproc, below an unlimited hard limit.
            assert!(hard.is_none_or(|h| raised <= h) && raised > 256, "{text}");
        }
        // And this process still has the limit it started with.
        assert_eq!(process_limits().open_files, shell_limit("-Sn"));
    }

    #[cfg(unix)]
    #[test]
    #[ignore = "run by raising_the_open_file_limit_lifts_the_soft_limit_to_the_hard_one, in a child process"]
    fn helper_raises_the_open_file_limit() {
        // Only in the child its parent test starts: it changes its process's limit.
        if std::env::var_os(crate::testing::CHILD_TEST).is_none() {
            return;
        }
        let raised = raise_open_file_limit().unwrap().unwrap();
        assert_eq!(process_limits().open_files, Some(raised));
        println!("raised to {raised}");
    }

    #[cfg(not(unix))]
    #[test]
    fn windows_has_no_such_limits_and_says_so() {
        assert_eq!(process_limits(), ProcessLimits::default());
        assert_eq!(raise_open_file_limit().unwrap(), None);
    }

    #[test]
    fn the_null_device_opens() {
        assert!(File::open(NULL_DEVICE).is_ok(), "{NULL_DEVICE}");
    }

    #[test]
    fn a_folder_can_be_made_durable() {
        let dir = std::env::temp_dir();
        sync_dir(&dir).unwrap();
    }

    #[test]
    fn a_full_disk_is_told_apart() {
        assert!(is_no_space(&io::Error::from(io::ErrorKind::StorageFull)));
        assert!(is_no_space(&io::Error::from(io::ErrorKind::QuotaExceeded)));
        assert!(!is_no_space(&io::Error::from(io::ErrorKind::NotFound)));
        assert!(is_unsupported(&io::Error::from(io::ErrorKind::Unsupported)));
    }
}
