//! Stopping a server cleanly: the switch that wakes a blocked `accept()` or `recv_from()`
//! (for Ctrl-C and for tests), and [`Background`], a server on a thread of this process.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// At shutdown, how long connections still running get to finish before the summary.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// How long [`Shutdown::trigger`] waits when it connects to wake the accept loop.
const WAKE_TIMEOUT: Duration = Duration::from_secs(1);

/// Stops a server loop from another thread (a Ctrl-C handler, a test).
///
/// `accept()` and `recv_from()` block, and a flag alone cannot wake them:
/// [`trigger`](Self::trigger) sets the flag and then connects to the listener itself (TCP)
/// or sends it an empty datagram (UDP), so the call returns and the loop sees the flag.
#[derive(Debug, Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    wake: Wake,
}

#[derive(Debug, Clone, Copy)]
enum Wake {
    Tcp(SocketAddr),
    Udp(SocketAddr),
}

impl Shutdown {
    /// A shutdown switch for the loop that will serve `listener`.
    pub fn new(listener: &TcpListener) -> io::Result<Shutdown> {
        Ok(Shutdown::with(Wake::Tcp(reachable(listener.local_addr()?))))
    }

    /// A shutdown switch for a loop receiving on `socket`.
    pub fn for_udp(socket: &std::net::UdpSocket) -> io::Result<Shutdown> {
        Ok(Shutdown::with(Wake::Udp(reachable(socket.local_addr()?))))
    }

    fn with(wake: Wake) -> Shutdown {
        Shutdown {
            flag: Arc::new(AtomicBool::new(false)),
            wake,
        }
    }

    /// Asks the loop to stop, and wakes it.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        match self.wake {
            Wake::Tcp(addr) => {
                let _ = TcpStream::connect_timeout(&addr, WAKE_TIMEOUT);
            }
            Wake::Udp(addr) => {
                let any: SocketAddr = match addr {
                    SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
                    SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
                };
                if let Ok(s) = std::net::UdpSocket::bind(any) {
                    let _ = s.send_to(&[], addr);
                }
            }
        }
    }

    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Triggers this switch on Ctrl-C (SIGINT), SIGTERM and SIGHUP, so the server stops
    /// cleanly and prints its summary instead of dying mid-sentence.
    pub fn trigger_on_ctrl_c(&self) -> Result<(), String> {
        let switch = self.clone();
        ctrlc::set_handler(move || switch.trigger())
            .map_err(|e| format!("Ctrl-C will not print a summary: {e}"))
    }
}

/// A server running on a thread of this process: where it listens, how to stop it, and
/// its summary when it has stopped. What tests and embedding programs use.
#[derive(Debug)]
pub struct Background<T> {
    pub addr: SocketAddr,
    shutdown: Shutdown,
    handle: thread::JoinHandle<T>,
}

impl<T: Send + 'static> Background<T> {
    /// Runs `serve` on a new thread; `shutdown` must be the switch `serve` watches.
    pub fn spawn(
        addr: SocketAddr,
        shutdown: Shutdown,
        serve: impl FnOnce(&Shutdown) -> T + Send + 'static,
    ) -> io::Result<Background<T>> {
        let switch = shutdown.clone();
        let handle = thread::Builder::new()
            .name("server".into())
            .spawn(move || serve(&switch))?;
        Ok(Background {
            addr,
            shutdown,
            handle,
        })
    }

    /// Stops the server and returns its summary (`None` if its thread panicked).
    pub fn stop(self) -> Option<T> {
        self.shutdown.trigger();
        self.handle.join().ok()
    }
}

/// A socket bound to "every interface" (`0.0.0.0` or `[::]`) is reached through loopback.
fn reachable(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}
