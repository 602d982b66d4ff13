//! What the upload tests share: a server on port 0 in a temporary folder, random files,
//! and a raw client that speaks Upload v1 line by line (to misbehave on purpose).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::server::{Background, Limits};
use sha2::{Digest, Sha256};
use upload::server::{self, Config, ServeReport};

/// How long a test waits for any one reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// A server on 127.0.0.1:0 storing into `root/uploads`; `root` also holds the test's own
/// files, so "nothing outside the folder" can be checked.
pub struct TestServer {
    pub root: tempfile::TempDir,
    pub server: Option<Background<ServeReport>>,
}

impl TestServer {
    pub fn start(tune: impl FnOnce(&mut Config, &mut Limits)) -> TestServer {
        let root = tempfile::tempdir().unwrap();
        let mut config = Config::new(root.path().join("uploads"));
        config.quiet = true;
        let mut limits = Limits::default();
        tune(&mut config, &mut limits);
        server::prepare_dir(&config.dir, config.overwrite).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = server::spawn(listener, config, limits).unwrap();
        TestServer {
            root,
            server: Some(server),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().addr
    }

    pub fn dir(&self) -> PathBuf {
        self.root.path().join("uploads")
    }

    /// Names in the upload folder (hidden partial files included), sorted.
    pub fn stored(&self) -> Vec<String> {
        names(&self.dir())
    }

    pub fn stop(mut self) -> ServeReport {
        self.server.take().unwrap().stop().unwrap()
    }
}

/// The names in `dir`, sorted; not the lock file a running server holds the folder with.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != common::files::store::FOLDER_LOCK)
        .collect();
    names.sort();
    names
}

/// `len` random bytes in a file `name` under `dir`.
pub fn random_file(dir: &Path, name: &str, len: usize) -> PathBuf {
    let mut rng = fastrand::Rng::with_seed(len as u64 ^ 0x5eed);
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes);
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    path
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha256(bytes))
}

/// A client that speaks Upload v1 one line at a time, and can break the rules.
pub struct RawClient {
    pub reader: BufReader<TcpStream>,
    pub stream: TcpStream,
}

impl RawClient {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> RawClient {
        let mut client = RawClient::connect_quiet(addr);
        assert_eq!(client.line(), "UPLOAD/1 READY");
        client
    }

    /// Connects without reading anything.
    pub fn connect_quiet(addr: SocketAddr) -> RawClient {
        RawClient::connect_quiet_from([127, 0, 0, 1], addr)
    }

    /// Connects from a chosen loopback address (a second host), without reading anything.
    pub fn connect_quiet_from(ip: [u8; 4], addr: SocketAddr) -> RawClient {
        let stream = common::testing::connect_from(ip.into(), addr, REPLY_TIMEOUT);
        RawClient {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends, and says whether the server still took it (false once it has closed).
    pub fn try_send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// The next line from the server, without its `\n` ("" at end of stream).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line.trim_end_matches('\n').to_string()
    }

    /// `PUT`, and the server's answer.
    pub fn put(&mut self, size: u64, name: &[u8]) -> String {
        let mut line = format!("PUT {size} ").into_bytes();
        line.extend_from_slice(name);
        line.push(b'\n');
        self.send(&line);
        self.line()
    }

    /// A whole upload, done right: returns the final answer.
    pub fn upload(&mut self, name: &str, bytes: &[u8]) -> String {
        let go = self.put(bytes.len() as u64, name.as_bytes());
        if go != "GO 0" {
            return go;
        }
        self.send(bytes);
        self.send(format!("SHA256 {}\n", sha256_hex(bytes)).as_bytes());
        self.line()
    }
}

/// A relay between one client and `server` that passes at most `budget` bytes from the
/// client, then stops reading from it: a sender that is then killed has sent exactly
/// that much, wherever its own buffers were. [`cut`](Relay::cut) closes the server's side,
/// as the dead sender's system would. Replies pass freely.
pub struct Relay {
    pub addr: SocketAddr,
    passed: std::sync::Arc<std::sync::atomic::AtomicU64>,
    upstream: std::sync::Arc<std::sync::Mutex<Option<TcpStream>>>,
}

impl Relay {
    pub fn start(server: SocketAddr, budget: u64) -> Relay {
        use std::io::Read;
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let passed = Arc::new(AtomicU64::new(0));
        let upstream: Arc<Mutex<Option<TcpStream>>> = Arc::new(Mutex::new(None));
        let (count, slot) = (Arc::clone(&passed), Arc::clone(&upstream));
        std::thread::spawn(move || {
            let Ok((mut client, _)) = listener.accept() else {
                return;
            };
            let mut to_server = TcpStream::connect(server).unwrap();
            *slot.lock().unwrap() = Some(to_server.try_clone().unwrap());
            // Replies: server to client, until either side ends.
            let (mut from_server, mut to_client) =
                (to_server.try_clone().unwrap(), client.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
            });
            let mut buf = vec![0u8; 64 * 1024];
            let mut left = budget;
            while left > 0 {
                let want = left.min(buf.len() as u64) as usize;
                match client.read(&mut buf[..want]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if to_server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        left -= n as u64;
                        count.fetch_add(n as u64, Ordering::SeqCst);
                    }
                }
            }
            // The budget is spent: the client's bytes stay unread, and it blocks (until
            // the test kills it; the thread ends on its own a while later).
            std::thread::park_timeout(3 * REPLY_TIMEOUT);
        });
        Relay {
            addr,
            passed,
            upstream,
        }
    }

    /// Bytes passed to the server so far.
    pub fn passed(&self) -> u64 {
        self.passed.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until `bytes` have passed (at most [`REPLY_TIMEOUT`]).
    pub fn wait_for(&self, bytes: u64) {
        let by = std::time::Instant::now() + REPLY_TIMEOUT;
        while self.passed() < bytes {
            assert!(
                std::time::Instant::now() < by,
                "only {} of {bytes} bytes passed",
                self.passed()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Closes the connection to the server, as the system of a killed sender does.
    pub fn cut(&self) {
        if let Some(stream) = self.upstream.lock().unwrap().take() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}
