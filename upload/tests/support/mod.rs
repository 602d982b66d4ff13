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

pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
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
