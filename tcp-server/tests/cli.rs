//! `tcp-server` as the process a student runs: its messages, its exit codes, Ctrl-C, and
//! real peers (nc, the tutorial's Python client). Every test runs against both models
//! (`thread_model::name`, `poll_model::name`: the list at the end).

// A failed unwrap in a test is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::testing::{available, run, workspace_root, ServerProcess};
use tcp_server::Model;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");
const LIMIT: Duration = Duration::from_secs(20);

/// The server in `model`, on a free loopback port, with `args`.
fn server(model: Model, args: &[&str]) -> ServerProcess {
    let mut cmd = Command::new(BIN);
    cmd.arg("127.0.0.1:0")
        .args(["--model", &model.to_string()])
        .args(args);
    ServerProcess::start(cmd)
}

fn start_up_line_says_where_and_how(model: Model) {
    let s = server(model, &["--backlog", "5", "--framing", "length"]);
    let first = &s.stdout()[0];
    assert!(
        first.contains(&format!("tcp-server listening on {}", s.addr)),
        "{first}"
    );
    // What the address options really do differs (see common::os): Windows says so.
    let reuse = if cfg!(windows) {
        "SO_EXCLUSIVEADDRUSE on, SO_REUSEADDR off (on Windows it would let another program share the port), SO_REUSEPORT not available on this system"
    } else {
        "SO_REUSEADDR on, SO_REUSEPORT off"
    };
    for part in [
        &format!("(model {model}, framing length"),
        "backlog 5",
        reuse,
        "max 1024 connections (64 per address, loopback exempt)",
        "idle timeout 300 s",
    ] {
        assert!(first.contains(part), "{part:?} missing in {first}");
    }
    // Which addresses the limit per address applies to is said either way.
    let s = server(model, &["--limit-loopback"]);
    let first = &s.stdout()[0];
    assert!(
        first.contains("max 1024 connections (64 per address, loopback included)"),
        "{first}"
    );
}

fn logs_the_four_tuple_each_message_and_the_close_reason(model: Model) {
    let s = server(model, &[]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"li\nexit\n").unwrap();
    let mut out = Vec::new();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.read_to_end(&mut out).unwrap();
    let local = c.local_addr().unwrap();
    let accept = s.wait_for_stdout("accepted:", LIMIT);
    assert!(
        accept.contains(&format!(
            "#1 {local} accepted: local {} <-> peer {local} (1 active)",
            s.addr
        )),
        "{accept}"
    );
    let msg = s.wait_for_stdout("message \"", LIMIT);
    assert!(msg.contains("message \"li\" (2 bytes)"), "{msg}");
    let closed = s.wait_for_stdout("closed:", LIMIT);
    assert!(
        closed.contains("closed: exit after")
            && closed.contains("8 bytes in, 16 bytes out (0 active)"),
        "{closed}"
    );
    // Every event line starts with a wall-clock time to the millisecond.
    let time = &accept[..12];
    assert!(
        time.as_bytes()[2] == b':' && time.as_bytes()[8] == b'.',
        "{accept}"
    );
}

/// `--tcp-info` adds the kernel's numbers to the close line: real ones on Linux and
/// macOS (an MSS, a round-trip time), and where the system has none, it says so.
fn tcp_info_goes_on_the_close_line(model: Model) {
    let s = server(model, &["--tcp-info"]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"li\nexit\n").unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.read_to_end(&mut Vec::new()).unwrap();
    let closed = s.wait_for_stdout("closed:", LIMIT);
    let info = closed
        .split("; tcp-info: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{closed}"));
    if cfg!(any(target_os = "linux", target_os = "macos")) {
        assert!(
            info.starts_with("rtt ") && info.contains("ms (var ") && info.contains("mss "),
            "{closed}"
        );
        // A count, not necessarily 0: a loaded machine can resend even on
        // loopback. (Linux counts segments and bytes, macOS bytes only.)
        let count = info.split("retransmitted ").nth(1).unwrap_or("");
        assert!(
            count.starts_with(|c: char| c.is_ascii_digit())
                && (count.contains(" segments") || count.contains(" bytes")),
            "{closed}"
        );
    } else {
        // Windows answers SIO_TCP_INFO from 10 1703 on; Wine does not.
        assert!(
            info.starts_with("rtt ") || info.starts_with("not available on this system"),
            "{closed}"
        );
    }
}

fn ctrl_c_prints_a_summary_and_exits_0(model: Model) {
    let mut s = server(model, &[]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"exit\n").unwrap();
    let mut sink = Vec::new();
    c.read_to_end(&mut sink).unwrap();
    s.wait_for_stdout("closed:", LIMIT);
    let status = s.interrupt();
    assert_eq!(status.code(), Some(0));
    let last = s.stdout().last().cloned().unwrap_or_default();
    assert!(
        last.contains("tcp-server stopped. summary: 1 connection accepted"),
        "{last}"
    );
    assert!(last.contains("1 exit"), "{last}");
}

fn a_busy_port_says_so_and_exits_1(model: Model) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let model = model.to_string();
    let (code, _, err) = run(Command::new(BIN).args([&addr, "--model", &model]), LIMIT);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with(&format!(
            "tcp-server: could not listen on {addr}: address already in use ("
        )),
        "{err}"
    );
    assert!(err.contains("use another port"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

fn usage_errors_exit_2_with_one_clear_message(model: Model) {
    for (args, want) in [
        (&["99999"][..], "invalid port 99999: must be 0-65535"),
        (&["127.0.0.1"][..], "missing port in '127.0.0.1'"),
        (&["--framing", "xml"][..], "invalid value 'xml'"),
        (&["--model", "fork"][..], "invalid value 'fork'"),
        (&["--max-connections", "0"][..], "must be at least 1"),
        (&["--idle-timeout", "soon"][..], "not a number of seconds"),
        (&["0", "--greeting", "two\nlines"][..], "invalid --greeting"),
    ] {
        let model = model.to_string();
        let (code, out, err) = run(
            Command::new(BIN).args(args).args(["--model", &model]),
            LIMIT,
        );
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let (code, out, _) = run(Command::new(BIN).arg("--help"), LIMIT);
    assert_eq!(code, Some(0));
    assert!(out.contains("--max-connections") && out.contains("--no-reuse-addr"));
    assert!(
        out.contains("--model") && out.contains("readiness events"),
        "{out}"
    );
}

fn warns_when_max_connections_is_more_than_the_process_can_hold(model: Model) {
    let s = server(model, &["--max-connections", "100000000"]);
    if cfg!(windows) {
        // No per-process limits to check against: the server says so instead.
        // (Threads matter only to the thread model.)
        let limits = match model {
            Model::Thread => "limits on open files, threads: not available on this system",
            Model::Poll => "limits on open files: not available on this system",
        };
        s.wait_for_stderr(limits, LIMIT);
        return;
    }
    let deadline = std::time::Instant::now() + LIMIT;
    while !s
        .stderr()
        .iter()
        .any(|l| l.contains("more than this process can hold"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no warning: {:?}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn trace_dumps_every_read_and_write_in_hex(model: Model) {
    let s = server(model, &["--trace"]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"li\nexit\n").unwrap();
    let mut sink = Vec::new();
    c.read_to_end(&mut sink).unwrap();
    s.wait_for_stdout("closed:", LIMIT);
    s.wait_for_stderr("Hello!.", LIMIT);
    let err = s.stderr().join("\n");
    assert!(err.contains("write 7 bytes"), "{err}");
    assert!(
        err.contains("48 65 6c 6c 6f 21 0a") && err.contains("Hello!."),
        "{err}"
    );
    assert!(err.contains("read ") && err.contains("6c 69 0a"), "{err}");
}

/// Out of file descriptors (EMFILE): the tutorial's server dies in accept(); ours logs it,
/// backs off, tells the waiting client it is busy (with the spare descriptor it keeps for
/// that), and serves again once clients leave.
fn survives_running_out_of_file_descriptors(model: Model) {
    const FD_LIMIT: u32 = 40;
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        &format!(
            "ulimit -n {FD_LIMIT} && exec {BIN} 127.0.0.1:0 --model {model} --max-connections 1000"
        ),
    ]);
    let s = ServerProcess::start(cmd);
    // Hold connections until one is not greeted: the descriptors have run out.
    let mut held = Vec::new();
    let mut refused = None;
    for _ in 0..FD_LIMIT * 2 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut greeting = [0u8; 7];
        match c.read_exact(&mut greeting) {
            Ok(()) if &greeting == b"Hello!\n" => held.push(c),
            other => {
                let mut rest = Vec::new();
                let _ = c.read_to_end(&mut rest);
                refused = Some((other.is_ok(), [&greeting[..], &rest].concat()));
                break;
            }
        }
    }
    let (read_something, bytes) = refused.expect("the descriptors never ran out");
    assert!(
        held.len() >= 10 && held.len() < FD_LIMIT as usize,
        "held {}",
        held.len()
    );
    // The spare descriptor lets the server say why, instead of leaving the client hanging.
    assert!(read_something, "the refused client heard nothing");
    assert_eq!(bytes, b"error: server busy\n");
    // And so is every further client, at once, while the descriptors stay used up.
    for _ in 0..5 {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        assert_eq!(out, b"error: server busy\n");
    }
    let line = s.wait_for_stderr("accept failed", LIMIT);
    assert!(line.contains("out of file descriptors"), "{line}");
    let warned = s.stderr().join("\n");
    assert!(
        warned.contains("more than this process can hold"),
        "{warned}"
    );
    // Clients leave; the server serves again, and says so.
    drop(held);
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"li\nexit\n").unwrap();
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        if out == b"Hello!\nhello,li\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never served again: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn backlog_is_what_listen_gets(model: Model) {
    if !available("ss", "iproute2") {
        return;
    }
    // For a listening socket, `ss -lnt` shows the backlog in the Send-Q column.
    let s = server(model, &["--backlog", "5"]);
    let filter = format!("sport = :{}", s.addr.port());
    let (code, out, _) = run(Command::new("ss").args(["-Hlnt", &filter]), LIMIT);
    assert_eq!(code, Some(0));
    let cols: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(cols.get(2), Some(&"5"), "ss said: {out}");
}

fn ipv6_and_localhost_work_end_to_end(model: Model) {
    let mut cmd = Command::new(BIN);
    cmd.args(["[::1]:0", "--model", &model.to_string()]);
    let s = ServerProcess::start(cmd);
    assert!(s.addr.is_ipv6());
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.write_all(b"v6\nexit\n").unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    assert_eq!(out, b"Hello!\nhello,v6\n");
    let accept = s.wait_for_stdout("accepted:", LIMIT);
    assert!(accept.contains("local [::1]:"), "{accept}");
}

fn nc_talks_to_the_server(model: Model) {
    if !available("nc", "netcat-openbsd") {
        return;
    }
    let s = server(model, &[]);
    let script = format!(
        "printf 'li\\nbo\\nexit\\n' | nc {} {}",
        s.addr.ip(),
        s.addr.port()
    );
    let (code, out, err) = run(Command::new("sh").args(["-c", &script]), LIMIT);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Hello!\nhello,li\nhello,bo\n");
}

fn the_tutorials_python_client_talks_to_a_raw_server(model: Model) {
    if !available("python3", "python3") {
        return;
    }
    let s = server(model, &["--framing", "raw"]);
    let client = workspace_root().join("docs/python/tcp_user.py");
    let mut cmd = Command::new("python3");
    cmd.arg("-u").arg(client).arg(s.addr.port().to_string());
    let (code, out, err) = run(&mut cmd, LIMIT);
    assert_eq!(code, Some(0), "{err}");
    // Python prints the bytes objects; our server replies without the tutorial's b'..' bug.
    assert_eq!(out, "b'Hello!'\nb'hello,li'\nb'hello,bo'\nb'hello,ca'\n");
    // Our server recognises the tutorial's `exit` (the Python server never does).
    let closed = s.wait_for_stdout("closed:", LIMIT);
    assert!(closed.contains("closed: exit"), "{closed}");
}

/// What each model costs in threads, counted by the kernel (`/proc/PID/status`): the
/// thread model has one more per client; the event loop has the same few however many
/// clients it holds.
fn threads_grow_with_clients_only_in_the_thread_model(model: Model) {
    const CLIENTS: u64 = 100;
    // All from 127.0.0.1, which the limit per address leaves alone by default.
    let s = server(model, &[]);
    let pid = s.child.id();
    let Some(before) = common::testing::proc_status(pid, "Threads:") else {
        // Linux has /proc: there a missing count is a failure (skip() fails under
        // SOCKETS_LAB_NO_SKIP). The Windows build, under Wine, has none to read.
        let why = "no /proc/PID/status on this system (the thread count is read there)";
        if cfg!(windows) {
            common::testing::skip_allowed(common::testing::UNDER_WINE, why);
        } else {
            common::testing::skip(why);
        }
        return;
    };
    let held: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let mut c = TcpStream::connect(s.addr).unwrap();
            c.set_read_timeout(Some(LIMIT)).unwrap();
            let mut greeting = [0u8; 7];
            c.read_exact(&mut greeting).unwrap();
            assert_eq!(&greeting, b"Hello!\n");
            c
        })
        .collect();
    let during = common::testing::proc_status(pid, "Threads:").unwrap();
    match model {
        Model::Thread => assert!(during >= before + CLIENTS, "{before} -> {during}"),
        Model::Poll => assert_eq!(during, before, "the event loop started threads"),
    }
    drop(held);
}

/// Only the event loop has back-pressure to report: a thread simply blocks in its write.
/// A client that sends without reading makes the loop stop reading from it, and say so;
/// once the client reads its replies, the loop reads again, and says that too.
#[test]
fn poll_says_when_back_pressure_starts_and_ends() {
    let s = server(Model::Poll, &[]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let message = [vec![b'm'; 999], b"\n".to_vec()].concat();
    let mut written = 0;
    // Bounded: 64 MiB is far more than the buffers on the way hold.
    for _ in 0..(64 << 20) / message.len() {
        match c.write(&message) {
            Ok(n) if n == message.len() => written += 1,
            _ => break,
        }
    }
    let line = s.wait_for_stdout("back-pressure:", LIMIT);
    assert!(
        line.contains("bytes of replies not read by the client; not reading from it until they are down to 65536"),
        "{line}"
    );
    // Read every reply: the loop reads again (the unfinished message is finished first).
    let mut reader = c.try_clone().unwrap();
    let replies = std::thread::spawn(move || {
        let mut out = Vec::new();
        reader.set_read_timeout(Some(LIMIT)).unwrap();
        let _ = reader.read_to_end(&mut out);
        out
    });
    s.wait_for_stdout("back-pressure over: reading again", LIMIT);
    c.set_write_timeout(Some(LIMIT)).unwrap();
    c.write_all(b"\nexit\n").unwrap();
    let replies = replies.join().unwrap();
    let lines = replies
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"hello,m"))
        .count();
    assert!(
        lines >= written,
        "{lines} replies for {written} whole messages"
    );
}

mod models;

both_models!(
    start_up_line_says_where_and_how,
    logs_the_four_tuple_each_message_and_the_close_reason,
    tcp_info_goes_on_the_close_line,
    #[cfg_attr(
        windows,
        ignore = "sends Ctrl-C with kill -INT; the Windows builds' Ctrl-C is checked by .ci/wine.sh"
    )]
    ctrl_c_prints_a_summary_and_exits_0,
    a_busy_port_says_so_and_exits_1,
    usage_errors_exit_2_with_one_clear_message,
    warns_when_max_connections_is_more_than_the_process_can_hold,
    trace_dumps_every_read_and_write_in_hex,
    #[cfg_attr(
        windows,
        ignore = "needs sh and ulimit -n: Windows has no per-process open-file limit"
    )]
    survives_running_out_of_file_descriptors,
    backlog_is_what_listen_gets,
    ipv6_and_localhost_work_end_to_end,
    nc_talks_to_the_server,
    the_tutorials_python_client_talks_to_a_raw_server,
    threads_grow_with_clients_only_in_the_thread_model,
);

/// `--generate`: every flag of `--help` is in the man page, and the completions load.
#[test]
fn the_man_page_has_every_flag_and_the_completions_load() {
    common::testing::generate::check(std::path::Path::new(BIN));
}
