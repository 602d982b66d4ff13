//! Against TFTP programs written by others, from Debian's packages: our server answers
//! curl, tftp-hpa's `tftp` and atftp; our client gets from and puts to atftpd and tftpd-hpa's
//! `in.tftpd`. Every transfer is checked by SHA-256, an empty file and a file over 32 MiB
//! (block numbers roll over at 512-byte blocks) among them. Each pair's rate is printed:
//! the interop matrix.
//!
//! tftpd-hpa and atftpd conflict as Debian packages (both are "the" TFTP server), but
//! in.tftpd runs from any folder: `.ci/run` takes it out of its package into
//! /usr/local/sbin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::testing::{available, available_by, tell, Install};
use sha2::{Digest, Sha256};
use tftp::client::{self, Options};
use tftp::options::Wanted;
use tftp::packet::Mode;
use tftp::server::Config;

/// Over 32 MiB: 65,536 blocks of 512 bytes and more, so block numbers roll over.
const ROLLOVER: usize = 33 * 1024 * 1024 + 123;

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(path).unwrap()))
}

fn random_file(path: &Path, len: usize, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let data: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
    fs::write(path, data).unwrap();
}

/// A folder every user may write (atftpd drops to `nobody`).
fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    }
    dir
}

/// A UDP port free now on 127.0.0.1.
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, ended by its PID when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something answers a TFTP request on `port` (any answer: an ERROR for a
/// missing file will do).
fn wait_until_serving(port: u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 600];
    while Instant::now() < deadline {
        let _ = s.send_to(
            b"\x00\x01no-such-file-probe\x00octet\x00",
            ("127.0.0.1", port),
        );
        if s.recv_from(&mut buf).is_ok() {
            return;
        }
    }
    panic!("nothing serves TFTP on port {port}");
}

/// Whether `program -V` says it is tftpd-hpa (atftpd's package also has an in.tftpd).
fn is_tftpd_hpa(program: &str) -> bool {
    Command::new(program).arg("-V").output().is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout).contains("tftp-hpa")
            || String::from_utf8_lossy(&o.stderr).contains("tftp-hpa")
    })
}

/// The peers are Debian's programs: the Windows build's run under Wine cannot start them
/// (it says so, under its allowance); on Linux and macOS they are looked for.
fn peers_can_run_here() -> bool {
    if cfg!(windows) {
        common::testing::skip_allowed(
            common::testing::UNDER_WINE,
            "curl, tftp-hpa, atftp, atftpd and in.tftpd are Debian's programs, which a Windows build cannot start",
        );
        return false;
    }
    true
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs a client command; returns its rate in MB/s for `bytes`.
fn timed(cmd: &mut Command, bytes: usize) -> f64 {
    let t = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    bytes as f64 / t.elapsed().as_secs_f64() / 1e6
}

#[test]
fn our_server_answers_curl_tftp_hpa_and_atftp() {
    if !peers_can_run_here() {
        return;
    }
    let have_all =
        available("curl", "curl") & available("tftp", "tftp-hpa") & available("atftp", "atftp");
    if !have_all {
        return;
    }
    let dir = shared_dir();
    let work = tempfile::tempdir().unwrap();
    random_file(&dir.path().join("small.bin"), 200_000, 1);
    random_file(&dir.path().join("big.bin"), ROLLOVER, 2);
    fs::write(dir.path().join("empty.bin"), b"").unwrap();
    fs::write(dir.path().join("notes.txt"), b"one\ntwo\n").unwrap();
    let mut config = Config::new(dir.path().to_path_buf());
    config.quiet = true;
    config.allow_write = true;
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let server = tftp::run::spawn(socket, config).unwrap();
    let url = |name: &str| format!("tftp://127.0.0.1:{port}/{name}");
    let p = port.to_string();
    let w = |name: &str| work.path().join(name);
    let d = |name: &str| dir.path().join(name);
    let mut matrix = Vec::new();
    for (name, len) in [
        ("small.bin", 200_000),
        ("empty.bin", 0),
        ("big.bin", ROLLOVER),
    ] {
        // curl, 512-byte blocks (its default asks blksize 512), and 1428. Not the empty
        // file: Debian 12's curl 7.88 fails to get an empty file from any server, atftpd
        // too (exit 71, its "getpeername() failed" message hiding the real error, see
        // curl/curl#11332). It puts one, below.
        if name != "empty.bin" {
            let out = w(&format!("curl-{name}"));
            let rate = timed(
                Command::new("curl")
                    .args(["-sS", "-o"])
                    .arg(&out)
                    .arg(url(name)),
                len,
            );
            assert_eq!(sha256_file(&out), sha256_file(&d(name)), "curl get {name}");
            matrix.push(format!("curl get {name}: {rate:.1} MB/s"));
        }
        if name == "small.bin" {
            let out = w(&format!("curl1428-{name}"));
            timed(
                Command::new("curl")
                    .args(["-sS", "--tftp-blksize", "1428", "-o"])
                    .arg(&out)
                    .arg(url(name)),
                len,
            );
            assert_eq!(
                sha256_file(&out),
                sha256_file(&d(name)),
                "curl --tftp-blksize 1428 get {name}"
            );
        }
        if name != "big.bin" {
            // tftp-hpa: RFC 1350 only, no options.
            let out = w(&format!("hpa-{name}"));
            let rate = timed(
                Command::new("tftp")
                    .args(["127.0.0.1", &p, "-m", "binary", "-c", "get", name])
                    .arg(&out),
                len,
            );
            assert_eq!(
                sha256_file(&out),
                sha256_file(&d(name)),
                "tftp-hpa get {name}"
            );
            matrix.push(format!("tftp-hpa get {name}: {rate:.1} MB/s"));
        }
        // atftp with blksize and windowsize.
        let rate = timed(
            Command::new("atftp")
                .args([
                    "--option",
                    "blksize 1428",
                    "--option",
                    "windowsize 16",
                    "-g",
                    "-r",
                    name,
                    "-l",
                ])
                .arg(w(&format!("atftp-{name}")))
                .args(["127.0.0.1", &p]),
            len,
        );
        assert_eq!(
            sha256_file(&w(&format!("atftp-{name}"))),
            sha256_file(&d(name)),
            "atftp get {name}"
        );
        matrix.push(format!(
            "atftp (blksize 1428, windowsize 16) get {name}: {rate:.1} MB/s"
        ));
    }
    // Writes: curl (and with --tftp-blksize), tftp-hpa, atftp.
    let src = w("curl-small.bin");
    timed(
        Command::new("curl")
            .args(["-sS", "-T"])
            .arg(&src)
            .arg(url("up-curl.bin")),
        200_000,
    );
    timed(
        Command::new("curl")
            .args(["-sS", "--tftp-blksize", "1428", "-T"])
            .arg(&src)
            .arg(url("up-curl1428.bin")),
        200_000,
    );
    timed(
        Command::new("tftp")
            .args(["127.0.0.1", &p, "-m", "binary", "-c", "put"])
            .arg(&src)
            .arg("up-hpa.bin"),
        200_000,
    );
    timed(
        Command::new("atftp")
            .args(["--option", "blksize 1428", "-p", "-l"])
            .arg(&src)
            .args(["-r", "up-atftp.bin", "127.0.0.1", &p]),
        200_000,
    );
    timed(
        Command::new("curl")
            .args(["-sS", "-T"])
            .arg(d("empty.bin"))
            .arg(url("up-empty.bin")),
        0,
    );
    for up in [
        "up-curl.bin",
        "up-curl1428.bin",
        "up-hpa.bin",
        "up-atftp.bin",
    ] {
        assert_eq!(sha256_file(&d(up)), sha256_file(&d("small.bin")), "{up}");
    }
    assert_eq!(fs::read(d("up-empty.bin")).unwrap(), b"");
    // tftp-hpa in ascii (netascii) mode: the text comes back with this system's line ends.
    timed(
        Command::new("tftp")
            .args(["127.0.0.1", &p, "-m", "ascii", "-c", "get", "notes.txt"])
            .arg(w("notes.txt")),
        8,
    );
    assert_eq!(fs::read(w("notes.txt")).unwrap(), b"one\ntwo\n");
    let summary = server.stop().unwrap();
    assert_eq!(summary.failed.load(std::sync::atomic::Ordering::Relaxed), 0);
    for line in matrix {
        tell(format_args!("our server, {line}"));
    }
}

fn our_client_against(
    server: &str,
    port: u16,
    dir: &Path,
    options: &[(Option<usize>, Option<u16>)],
) {
    let work = tempfile::tempdir().unwrap();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    for (blksize, windowsize) in options {
        let mut o = Options::new(addr);
        o.wanted = Wanted {
            blksize: *blksize,
            windowsize: *windowsize,
            ..Wanted::default()
        };
        for name in ["small.bin", "empty.bin", "big.bin"] {
            let out = work.path().join(name);
            let r = client::get(&o, name, &out)
                .unwrap_or_else(|e| panic!("get {name} from {server}: {e}"));
            assert_eq!(
                r.digest,
                sha256_file(&dir.join(name)),
                "get {name} from {server}"
            );
            assert_eq!(sha256_file(&out), r.digest);
            tell(format_args!(
                "our client, get {name} from {server} (blksize {}, windowsize {}): {:.1} MB/s",
                r.settings.blksize,
                r.settings.windowsize,
                r.bytes as f64 / r.elapsed.as_secs_f64() / 1e6
            ));
        }
        let tag = format!("{}-{}", blksize.unwrap_or(512), windowsize.unwrap_or(1));
        for name in ["small.bin", "empty.bin"] {
            let remote = format!("up-{tag}-{name}");
            let r = client::put(&o, &dir.join(name), &remote)
                .unwrap_or_else(|e| panic!("put {name} to {server}: {e}"));
            assert_eq!(
                sha256_file(&dir.join(&remote)),
                r.digest,
                "put {name} to {server}"
            );
        }
    }
    let mut text = Options::new(addr);
    text.mode = Mode::Netascii;
    let out = work.path().join("notes.txt");
    client::get(&text, "notes.txt", &out).unwrap();
    assert_eq!(fs::read(&out).unwrap(), b"one\ntwo\n");
}

fn serve_files(dir: &Path) {
    random_file(&dir.join("small.bin"), 200_000, 3);
    random_file(&dir.join("big.bin"), ROLLOVER, 4);
    fs::write(dir.join("empty.bin"), b"").unwrap();
    fs::write(dir.join("notes.txt"), b"one\ntwo\n").unwrap();
    #[cfg(unix)]
    for e in fs::read_dir(dir).unwrap() {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(e.unwrap().path(), fs::Permissions::from_mode(0o666)).unwrap();
    }
}

#[test]
fn our_client_gets_from_and_puts_to_atftpd() {
    if !peers_can_run_here() || !available("atftpd", "atftpd") {
        return;
    }
    let dir = shared_dir();
    serve_files(dir.path());
    let port = free_port();
    let _atftpd = Peer(
        Command::new("atftpd")
            .args([
                "--daemon",
                "--no-fork",
                "--port",
                &port.to_string(),
                "--bind-address",
                "127.0.0.1",
                "--logfile",
                "/dev/null",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_serving(port);
    our_client_against(
        "atftpd",
        port,
        dir.path(),
        &[(None, None), (Some(1428), Some(16))],
    );
}

#[test]
fn our_client_gets_from_and_puts_to_tftpd_hpa() {
    // As .ci/run installs it: atftpd's package owns the name in.tftpd.
    let how = Install::Command(
        "apt-get download tftpd-hpa && dpkg-deb -x tftpd-hpa_*.deb x && install x/usr/sbin/in.tftpd /usr/local/sbin/in.tftpd-hpa",
    );
    let program = "in.tftpd-hpa";
    if !peers_can_run_here() || !available_by(program, how) {
        return;
    }
    assert!(
        is_tftpd_hpa(program),
        "{program} -V does not say tftp-hpa: another server under its name"
    );
    if !is_root() {
        // in.tftpd -s chroots into the folder (how it keeps names inside it), which only
        // root may do.
        common::testing::skip("in.tftpd -s needs root (it chroots into the folder it serves)");
        return;
    }
    let dir = shared_dir();
    serve_files(dir.path());
    let port = free_port();
    // -L: stay in the foreground; -s: serve this folder (chroot); -c: allow new files;
    // -p: no permission checks beyond the system's; -u root: the user to run as.
    let _hpa = Peer(
        Command::new(program)
            .args([
                "-L",
                "-a",
                &format!("127.0.0.1:{port}"),
                "-s",
                "-c",
                "-p",
                "-u",
                "root",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_serving(port);
    // tftpd-hpa 5.2 knows blksize, tsize and timeout, not windowsize: it leaves it out of
    // its OACK, and the client goes on with a window of 1.
    our_client_against(
        "tftpd-hpa",
        port,
        dir.path(),
        &[(None, None), (Some(1428), Some(16))],
    );
}
