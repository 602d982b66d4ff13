//! # Test support: running a server as a real process
//!
//! The programs are tested twice: in-process (the library on a listener bound to port 0)
//! and as the binaries a student runs. For the second, [`ServerProcess`] starts a server
//! on port 0, reads the port it reports from its first lines, and stops it — by its own
//! PID, never by name — when the test ends, even if the test fails.
//!
//! Used by the crates' tests only; it panics on failure, as a test should.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod generate;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to say where it listens.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A server process, stopped when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// Collects the lines of a child's pipe on a thread, so the child never blocks on a full pipe.
fn collect(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl ServerProcess {
    /// Starts `command` and waits until a line of its stdout gives the port: a Rust server's
    /// `listening on ADDR`, or the Python ports' `on port N` (then the address is 127.0.0.1).
    pub fn start(mut command: Command) -> ServerProcess {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let found = stdout.lock().unwrap().iter().find_map(|l| find_addr(l));
            if let Some(addr) = found {
                return ServerProcess {
                    child,
                    addr,
                    stdout,
                    stderr,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "{command:?} exited ({status}) before listening; stderr: {:?}",
                    stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{command:?} did not report its port"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lines printed so far on stdout.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// The lines printed so far on stderr.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until some stdout line contains `needle`; returns that line.
    pub fn wait_for_stdout(&self, needle: &str, timeout: Duration) -> String {
        wait_for_line(&self.stdout, needle, timeout)
    }

    /// Waits until some stderr line contains `needle`; returns that line. (Lines reach the
    /// test through a pipe and a thread: wait for them, do not assume they are there.)
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> String {
        wait_for_line(&self.stderr, needle, timeout)
    }

    /// Sends SIGINT (what Ctrl-C sends) to this process and waits for it to exit.
    pub fn interrupt(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success(), "kill -INT {pid} failed");
        self.wait(Duration::from_secs(10))
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the pipe threads read the last lines.
                thread::sleep(Duration::from_millis(100));
                return status;
            }
            assert!(Instant::now() < deadline, "process did not exit");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Our own child, by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_line(lines: &Mutex<Vec<String>>, needle: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let now: Vec<String> = lines.lock().unwrap().clone();
        if let Some(l) = now.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needle:?} in {now:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn find_addr(line: &str) -> Option<SocketAddr> {
    if let Some(rest) = line.split("listening on ").nth(1) {
        return rest.split_whitespace().next()?.parse().ok();
    }
    let port: u16 = line.split("on port ").nth(1)?.trim().parse().ok()?;
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// A connected pair of TCP streams on loopback: (client, server).
pub fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// A TCP connection to `addr` from a chosen local address, e.g. `127.0.0.2` (all of
/// 127.0.0.0/8 is this machine): how a test plays a second host. Reads time out after
/// `timeout`.
pub fn connect_from(
    ip: std::net::IpAddr,
    addr: SocketAddr,
    timeout: Duration,
) -> std::net::TcpStream {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream
}

/// A number from a process's `/proc/PID/status` (Linux): `"Threads:"`, `"VmRSS:"` (KiB),
/// `"VmHWM:"` (peak KiB). `None` where there is no `/proc` or no such field.
pub fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The workspace's root folder (where `docs/` is), from a crate's manifest folder.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Whether `program` can be run (e.g. `nc`, `python3`); tests that need it print why
/// they skip when it cannot.
pub fn have(program: &str) -> bool {
    which(program).is_some()
}

/// Where `program` is on the `PATH`, as the shell finds it (`command -v`).
pub fn which(program: &str) -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !path.is_empty()).then_some(path)
}

/// Set (to anything) by `.ci/run` for the README's test command: CI installs every tool the
/// tests use, so there a missing one is a broken CI script, and the test fails instead of
/// skipping.
pub const NO_SKIP: &str = "SOCKETS_LAB_NO_SKIP";

/// The skips that a run under [`NO_SKIP`] still allows: those CI cannot avoid, each with its
/// name and why. Nothing else may skip there. (CI prints this list: `.ci/run`.)
pub const ALLOWED_SKIPS: [AllowedSkip; 1] = [AllowedSkip {
    name: "unix-tools-under-wine",
    why: "the Windows builds' tests run under Wine, where no Unix shell finds nc, python3, \
          ss, unshare, mdbook or chromium (nor /proc): the tests that need them run on Linux \
          in the same CI run",
}];

/// A skip that CI cannot avoid, allowed by name ([`ALLOWED_SKIPS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowedSkip {
    pub name: &'static str,
    pub why: &'static str,
}

/// The allowance for a test of the Windows build that needs a Unix tool: it can only skip,
/// and in CI only runs under Wine.
pub const UNDER_WINE: &str = "unix-tools-under-wine";

/// Set by a test for the child process of its own test binary that it starts to run a
/// helper test alone (one that changes its process, or counts its threads); the helpers do
/// nothing without it.
pub const CHILD_TEST: &str = "SOCKETS_LAB_CHILD_TEST";

/// Says that a test skips, and why, where a person running `cargo test` sees it ([`tell`]).
/// Under [`NO_SKIP`] (CI) it fails the test instead: CI installs everything, so a skip
/// there is a broken CI script or a broken precondition, never a pass.
pub fn skip(reason: impl std::fmt::Display) {
    let thread = thread::current();
    let test = thread.name().unwrap_or("a test");
    assert!(
        std::env::var_os(NO_SKIP).is_none(),
        "{test}: would skip ({reason}), and {NO_SKIP} is set: this run must skip nothing \
         but the allowed skips (common::testing::ALLOWED_SKIPS)"
    );
    tell(format_args!("{test}: skipped: {reason}"));
}

/// A skip CI cannot avoid, under its allowance (one of [`ALLOWED_SKIPS`]): it skips with the
/// reason, under [`NO_SKIP`] too, and says which allowance let it.
pub fn skip_allowed(allowance: &str, reason: impl std::fmt::Display) {
    let thread = thread::current();
    let test = thread.name().unwrap_or("a test");
    assert!(
        ALLOWED_SKIPS.iter().any(|a| a.name == allowance),
        "{test}: no skip is allowed as {allowance:?} (see common::testing::ALLOWED_SKIPS)"
    );
    // Each allowance holds where it says, and only there.
    assert!(
        allowance != UNDER_WINE || cfg!(windows),
        "{test}: {allowance} allows a skip of the Windows build only ({reason})"
    );
    tell(format_args!(
        "{test}: skipped (allowed: {allowance}): {reason}"
    ));
}

/// A line for the person running the tests: straight to the process's stderr, which the
/// test harness does not capture (it captures only `print!` and `eprint!`, and shows them
/// only when a test fails). One write, so that the harness's own output from other tests
/// cannot cut the line.
pub fn tell(line: impl std::fmt::Display) {
    use std::io::Write;
    let line = format!("{line}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// How to get a program a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// A Debian package: `apt-get install PACKAGE`.
    Package(&'static str),
    /// A command that installs it, as it is typed (`cargo install mdbook ...`).
    Command(&'static str),
}

impl std::fmt::Display for Install {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Install::Package(package) => write!(f, "apt-get install {package}"),
            Install::Command(command) => f.write_str(command),
        }
    }
}

/// Whether `program` can be run; if not, says so with what to install ([`skip`]), so a
/// test that needs it can skip with a visible reason:
/// `if !available("nc", "netcat-openbsd") { return; }`. Under [`NO_SKIP`] a missing
/// program fails the test instead. `package` is a Debian package (see [`available_by`]
/// for a program that comes another way).
pub fn available(program: &str, package: &'static str) -> bool {
    available_by(program, Install::Package(package))
}

/// [`available`], for a program installed by `how`.
pub fn available_by(program: &str, how: Install) -> bool {
    if have(program) {
        return true;
    }
    if cfg!(windows) {
        skip_allowed(
            UNDER_WINE,
            format_args!("{program} is not found here (this test runs on Linux and macOS, where a Unix shell finds it)"),
        );
    } else {
        skip(format_args!(
            "{program} is not installed ({how}; is .ci/run installing it?)"
        ));
    }
    false
}

/// Whether this machine lets a test make namespaces of its own (a user namespace with the
/// test's user as root in it, and a network and a mount namespace: `unshare --user
/// --map-root-user --net --mount`), as root or as an ordinary user. If not, says why
/// ([`skip`]: under [`NO_SKIP`] that fails the test). Ask first, so that a test can tell
/// "not allowed here" from a failure of its own inside the namespaces.
pub fn namespaces_allowed() -> bool {
    if !available("unshare", "util-linux") {
        return false;
    }
    let probe = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--mount", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    match probe {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            skip(format_args!(
                "this machine does not let a test make namespaces (unshare --user --map-root-user \
                 --net --mount: {}); as root, or with kernel.unprivileged_userns_clone=1, it does",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            false
        }
        Err(e) => {
            skip(format_args!("could not run unshare: {e}"));
            false
        }
    }
}

/// The tutorial's `docs/python/SCRIPT` (ported to Python 3) as a server process on port 0,
/// run in `dir` (the upload server writes there); `None`, with the reason printed, where
/// python3 is missing.
pub fn tutorial_server(script: &str, dir: Option<&std::path::Path>) -> Option<ServerProcess> {
    if !available("python3", "python3") {
        return None;
    }
    let mut command = Command::new("python3");
    command
        .arg("-u")
        .arg(workspace_root().join("docs/python").join(script))
        .arg("0");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    Some(ServerProcess::start(command))
}

/// Runs a command with a time limit; returns (exit code, stdout, stderr). A command that
/// outlives the limit is killed (our own child, by its PID) and the test fails.
pub fn run(command: &mut Command, timeout: Duration) -> (Option<i32>, String, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
    let read_all = |mut pipe: Box<dyn std::io::Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = read_all(Box::new(child.stdout.take().unwrap()));
    let err = read_all(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    (status.code(), out.join().unwrap(), err.join().unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The skips CI allows, for CI to print (`.ci/run` runs this test with --nocapture).
    #[test]
    fn allowed_skips_are_named_and_explained() {
        for a in ALLOWED_SKIPS {
            assert!(!a.name.is_empty() && a.why.len() > 20, "{a:?}");
            tell(format_args!("allowed skip: {}: {}", a.name, a.why));
        }
        assert!(ALLOWED_SKIPS.iter().any(|a| a.name == UNDER_WINE));
    }

    #[test]
    fn under_no_skip_a_skip_fails_and_an_allowed_one_does_not() {
        // The variable is read at the call: set for this thread's calls only by running
        // them where it is set (the harness runs tests on threads of one process, so the
        // check is made through a child process of this test binary).
        let me = std::env::current_exe().unwrap();
        let child = |test: &str| {
            Command::new(&me)
                .args(["--exact", test, "--nocapture", "--include-ignored"])
                .env(NO_SKIP, "1")
                .env(CHILD_TEST, "1")
                .output()
                .unwrap()
        };
        let plain = child("testing::tests::helper_skips");
        assert!(
            !plain.status.success(),
            "a plain skip passed under {NO_SKIP}"
        );
        let allowed = child("testing::tests::helper_skips_allowed");
        let said = String::from_utf8_lossy(&allowed.stderr);
        if cfg!(windows) {
            assert!(allowed.status.success(), "{said}");
            assert!(
                said.contains("skipped (allowed: unix-tools-under-wine)"),
                "{said}"
            );
        } else {
            // The Wine allowance cannot hide a skip on Linux.
            assert!(!allowed.status.success(), "{said}");
        }
    }

    #[test]
    #[ignore = "run by under_no_skip_a_skip_fails_and_an_allowed_one_does_not, in a child process"]
    fn helper_skips() {
        if std::env::var_os(CHILD_TEST).is_none() {
            return;
        }
        skip("a reason");
    }

    #[test]
    #[ignore = "run by under_no_skip_a_skip_fails_and_an_allowed_one_does_not, in a child process"]
    fn helper_skips_allowed() {
        if std::env::var_os(CHILD_TEST).is_none() {
            return;
        }
        // Off Windows the Wine allowance does not hold: there this must fail.
        skip_allowed(UNDER_WINE, "a reason");
    }

    #[test]
    fn a_skip_says_how_to_install_what_is_missing() {
        assert_eq!(
            Install::Package("netcat-openbsd").to_string(),
            "apt-get install netcat-openbsd"
        );
        assert_eq!(
            Install::Command("cargo install mdbook --locked --version 0.5.4").to_string(),
            "cargo install mdbook --locked --version 0.5.4"
        );
    }
}
