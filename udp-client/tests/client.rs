//! udp-client against a real udp-server (in-process, port 0) with injected faults, against
//! the tutorial's Python server and socat, and as the process a student runs.

// A failed unwrap in a test is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::addr::Endpoint;
use common::server::Background;
use common::testing::{available, run, workspace_root, ServerProcess};
use common::udp::{self, UdpOptions};
use udp_client::ping::{self, PingOptions};
use udp_client::rate::{self, RateOptions};
use udp_client::{run_messages, ClientError, Options};
use udp_server::{Config, Delay, Faults, Summary};

const BIN: &str = env!("CARGO_BIN_EXE_udp-client");
const LIMIT: Duration = Duration::from_secs(60);

fn start(faults: Faults) -> Background<Summary> {
    let socket = udp::udp_socket("127.0.0.1:0".parse().unwrap(), &UdpOptions::default()).unwrap();
    let config = Config {
        faults,
        // These tests measure the client, some at thousands of datagrams a second from
        // one address: no rate limit on the server (udp-server's own tests cover it).
        rate_limit: None,
        quiet: true,
        ..Config::default()
    };
    udp_server::spawn(socket, config).unwrap()
}

fn faults(drop: f64, duplicate: f64, delay: Option<Delay>, seed: u64) -> Faults {
    Faults {
        drop,
        duplicate,
        delay,
        seed,
    }
}

fn options(addr: SocketAddr, timeout_ms: u64, retries: u32) -> Options {
    Options {
        addr: Endpoint::parse(&addr.to_string()).unwrap(),
        timeout: Duration::from_millis(timeout_ms),
        retries,
        trace: false,
        quiet: true,
    }
}

/// Our server with its defaults (the rate limit included), but for `scope` and `rate`.
fn start_limited(scope: common::addr::LimitScope, rate: u32) -> Background<Summary> {
    let socket = udp::udp_socket("127.0.0.1:0".parse().unwrap(), &UdpOptions::default()).unwrap();
    let config = Config {
        rate_limit: Some(rate),
        scope,
        quiet: true,
        ..Config::default()
    };
    udp_server::spawn(socket, config).unwrap()
}

fn pings(count: u64, interval_ms: u64) -> PingOptions {
    PingOptions {
        count,
        interval: Duration::from_millis(interval_ms),
        size: 64,
        per_reply: false,
    }
}

/// A UDP port nobody listens on (bound, learned, released).
fn closed_port() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn sends_the_message_and_gets_hi_back() {
    let s = start(Faults::none());
    let got = run_messages(
        &options(s.addr, 1000, 0),
        &[b"hello!".to_vec(), b"two".to_vec()],
    )
    .unwrap();
    assert_eq!(got, vec![b"Hi!hello!".to_vec(), b"Hi!two".to_vec()]);
    s.stop().unwrap();
}

#[test]
fn retries_get_through_a_lossy_server() {
    // Half the replies are lost; with 10 retries, each of 10 messages still gets through.
    let s = start(faults(0.5, 0.0, None, 3));
    let msgs: Vec<Vec<u8>> = (0..10).map(|i| format!("m{i}").into_bytes()).collect();
    let got = run_messages(&options(s.addr, 100, 10), &msgs).unwrap();
    assert_eq!(got.len(), 10);
    let summary = s.stop().unwrap();
    assert!(summary.injected_drops > 0, "{summary}");
}

#[test]
fn no_reply_at_all_is_an_error_that_explains_udp() {
    let s = start(faults(1.0, 0.0, None, 1));
    let err = run_messages(&options(s.addr, 100, 2), &[b"hello!".to_vec()]).unwrap_err();
    assert!(
        matches!(err, ClientError::NoReply { tries: 3, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("after 3 tries") && text.contains("UDP never resends"),
        "{text}"
    );
    assert_eq!(s.stop().unwrap().injected_drops, 3, "sent three times");
}

#[cfg_attr(
    wine,
    ignore = "Wine does not pass ICMP port-unreachable errors to Windows programs (a real Windows does)"
)]
#[test]
fn a_closed_port_is_reported_as_no_server() {
    let err = run_messages(&options(closed_port(), 1000, 0), &[b"x".to_vec()]).unwrap_err();
    assert!(matches!(err, ClientError::NoServer { .. }), "{err}");
}

#[test]
fn measured_loss_is_exactly_what_the_server_dropped() {
    // 30% drop with a fixed seed: on loopback nothing else is lost, so every missing reply
    // is one the server dropped on purpose, and the rate is near 30%.
    let s = start(faults(0.3, 0.0, None, 2026));
    let report = ping::run(&options(s.addr, 50, 0), pings(400, 0)).unwrap();
    let summary = s.stop().unwrap();
    assert_eq!(report.sent, 400);
    assert_eq!(
        report.lost, summary.injected_drops,
        "client and server agree"
    );
    // Tolerance: 400 draws of p = 0.3 have a standard deviation of 2.3%; allow 4 of them.
    assert!(
        (20.8..=39.2).contains(&report.lost_percent),
        "{}%",
        report.lost_percent
    );
    assert_eq!((report.duplicates, report.reordered), (0, 0));
}

#[test]
fn duplicates_are_detected() {
    let s = start(faults(0.0, 1.0, None, 1));
    let report = ping::run(&options(s.addr, 200, 0), pings(20, 20)).unwrap();
    s.stop().unwrap();
    assert_eq!(report.received, 20);
    // Every reply comes twice. The run ends once each ping has its reply, so the copy of
    // the last one can come after it (a loaded machine, under Wine): it is not counted.
    assert!((19..=20).contains(&report.duplicates), "{report:?}");
}

#[test]
fn reordering_is_detected() {
    // Random delays of 0-80 ms on requests 5 ms apart: replies overtake each other.
    let delay = Some(Delay {
        min: Duration::ZERO,
        max: Duration::from_millis(80),
    });
    let s = start(faults(0.0, 0.0, delay, 9));
    let report = ping::run(&options(s.addr, 500, 0), pings(60, 5)).unwrap();
    s.stop().unwrap();
    assert_eq!(report.received, 60);
    assert!(report.reordered > 0, "{report:?}");
    assert!(report.rtt_ms.max >= report.rtt_ms.p50 && report.jitter_ms > 0.0);
}

/// Rate mode sends what it was asked, at the pace asked (never faster: each request waits
/// for its time), and counts the replies the server sent, never more. (How high a rate a
/// machine keeps up with is the benchmark's question, not a test's: the bound on loss is
/// generous, for a busy machine.)
#[cfg_attr(
    wine,
    ignore = "under Wine every socket call goes through wineserver: at 2,000 datagrams/s the client's own queue overflows"
)]
#[test]
fn rate_mode_paces_its_requests_and_counts_every_reply() {
    let s = start(Faults::none());
    let report = rate::run(
        &options(s.addr, 500, 0),
        RateOptions {
            rate: 2000.0,
            count: 1000,
            size: 64,
        },
    )
    .unwrap();
    let summary = s.stop().unwrap();
    assert_eq!(report.sent, 1000);
    // 1,000 at 2,000/s: half a second at least, however fast the machine.
    assert!(report.seconds_sending >= 0.49, "{report:?}");
    // Never a reply the server did not send; and on loopback nearly all of them.
    assert!(
        report.replies <= summary.datagrams_out,
        "{report:?} {summary}"
    );
    assert!(
        report.replies * 10 >= summary.datagrams_out * 9,
        "{report:?} {summary}"
    );
    assert_eq!(report.duplicates, 0, "{report:?}");
}

// ---- the binary ----

fn client(args: &[&str]) -> (Option<i32>, String, String) {
    run(Command::new(BIN).args(args), LIMIT)
}

#[test]
fn binary_prints_the_reply_and_exits_0() {
    let s = start(Faults::none());
    let (code, out, err) = client(&[&s.addr.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Hi!hello!\n");
    assert!(err.contains("connected: no packet sent"), "{err}");
    s.stop().unwrap();
}

#[test]
fn binary_without_a_reply_exits_1_and_explains() {
    let s = start(faults(1.0, 0.0, None, 1));
    let (code, out, err) = client(&[&s.addr.to_string(), "--timeout", "0.2", "--retries", "1"]);
    assert_eq!(code, Some(1));
    assert!(out.is_empty());
    assert!(err.contains("resending (try 2 of 2)"), "{err}");
    assert!(
        err.contains("udp-client: no reply from") && err.contains("UDP never resends"),
        "{err}"
    );
    s.stop().unwrap();
}

#[cfg_attr(
    wine,
    ignore = "Wine does not pass ICMP port-unreachable errors to Windows programs (a real Windows does)"
)]
#[test]
fn binary_with_the_server_down_says_no_server() {
    let addr = closed_port();
    let (code, _, err) = client(&[&addr.to_string()]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("udp-client: no server at {addr}")),
        "{err}"
    );
}

#[test]
fn binary_ping_json() {
    let s = start(Faults::none());
    let (code, out, err) = client(&[
        &s.addr.to_string(),
        "--count",
        "50",
        "--interval",
        "0",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (
            v["sent"].as_u64(),
            v["received"].as_u64(),
            v["lost"].as_u64()
        ),
        (Some(50), Some(50), Some(0))
    );
    assert!(v["rtt_ms"]["p99"].as_f64().unwrap() > 0.0);
    s.stop().unwrap();
}

#[test]
fn binary_ping_prints_each_reply_and_a_summary() {
    let s = start(faults(0.0, 1.0, None, 1));
    // Each duplicate is counted if it comes before the next request is due: 200 ms, so
    // that a loaded machine (CI runs every suite at once) still delivers it in time. (At
    // 10 ms a late second copy of the last reply was once missed.)
    let (code, out, _) = client(&[
        &s.addr.to_string(),
        "--count",
        "3",
        "--interval",
        "200",
        "-q",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(out.matches("(duplicate)").count(), 3, "{out}");
    assert!(out.contains("bytes: seq=0 time="), "{out}");
    assert!(
        out.contains("3 sent, 3 received, 0.0% lost, 3 duplicates"),
        "{out}"
    );
    s.stop().unwrap();
}

/// `--duration` sends rate × duration requests, and the report agrees with the server.
#[cfg_attr(
    wine,
    ignore = "under Wine every socket call goes through wineserver: at 2,000 datagrams/s the client's own queue overflows"
)]
#[test]
fn binary_rate_mode_for_a_duration() {
    let s = start(Faults::none());
    let (code, out, err) = client(&[
        &s.addr.to_string(),
        "--rate",
        "2000",
        "--duration",
        "0.5",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let summary = s.stop().unwrap();
    assert_eq!(v["sent"].as_u64(), Some(1000), "2000/s for 0.5 s");
    let replies = v["replies"].as_u64().unwrap();
    assert!(replies <= summary.datagrams_out, "{out} {summary}");
    assert!(replies * 10 >= summary.datagrams_out * 9, "{out} {summary}");
}

#[test]
fn usage_errors_exit_2() {
    for (args, want) in [
        (&["127.0.0.1:99999"][..], "invalid port 99999"),
        (&["127.0.0.1:0"][..], "port 0 means 'any port'"),
        (&["--timeout=-1"][..], "0 or more"),
        (&["--rate", "100"][..], "--count N or --duration"),
        (&["--rate", "0", "--count", "5"][..], "more than 0"),
        (&["--interval", "5"][..], "--count"),
    ] {
        let (code, out, err) = client(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

// ---- real peers ----

#[test]
fn talks_to_the_tutorials_python_server() {
    if !available("python3", "python3") {
        return;
    }
    let mut cmd = Command::new("python3");
    cmd.arg("-u")
        .arg(workspace_root().join("docs/python/udp.py"))
        .arg("0");
    let py = ServerProcess::start(cmd);
    let (code, out, err) = client(&[&py.addr.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    // The tutorial's bug, visible: the reply carries Python's b'..'.
    assert_eq!(out, "Hi!b'hello!'\n");
    // Ping still works: the sequence number is found inside the b'..'.
    let (code, out, _) = client(&[
        &py.addr.to_string(),
        "--count",
        "5",
        "--interval",
        "0",
        "--json",
    ]);
    assert_eq!(code, Some(0));
    assert!(out.contains("\"received\":5"), "{out}");
}

#[test]
fn talks_to_socat_as_an_echo_server() {
    if !available("socat", "socat") {
        return;
    }
    let port = closed_port().port();
    // Without `fork`, socat serves the first peer itself: one process, ours to stop by PID.
    // Its output goes nowhere, so it can never hold this test's pipes open.
    let mut socat = Command::new("socat")
        .arg(format!("UDP-LISTEN:{port},bind=127.0.0.1"))
        .arg("PIPE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(300));
    let (code, out, err) = client(&[
        &format!("127.0.0.1:{port}"),
        "--retries",
        "3",
        "--timeout",
        "0.5",
    ]);
    let _ = socat.kill();
    let _ = socat.wait();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "hello!\n", "an echo: the reply is the request");
}

// ---- rate limits: never on this machine's own clients by default, and told apart ----

/// Lock-step pings from this machine, as fast as they go, against a server with its
/// default rate limit: none is refused, because loopback is exempt.
#[test]
fn lock_step_against_a_default_server_is_not_rate_limited() {
    let s = start_limited(
        common::addr::LimitScope::default(),
        common::ratelimit::DEFAULT_RATE,
    );
    let report = ping::run(&options(s.addr, 2000, 0), pings(3000, 0)).unwrap();
    assert_eq!(report.received, 3000, "{}", report.to_text());
    assert_eq!(report.loss_shape, udp_client::loss::Shape::NoLoss);
    let summary = s.stop().unwrap();
    assert_eq!(summary.rate_limited, 0, "{summary}");
    // The same pings against a limit that covers loopback (--limit-loopback) are held to
    // it, so the exemption is what let them through. (Ten a second, a burst of ten: the
    // pings after the tenth are lost until the bucket refills.)
    let s = start_limited(common::addr::LimitScope::Everyone, 10);
    let report = ping::run(&options(s.addr, 50, 0), pings(40, 0)).unwrap();
    assert!(report.received < 40, "{}", report.to_text());
    let summary = s.stop().unwrap();
    assert!(summary.rate_limited > 0, "{summary}");
}

/// A flood from one source into a rate limit that covers it: the report says the losses
/// are a steady cap, where the server counts them, and the server's count agrees.
#[test]
fn a_rate_limit_is_reported_as_a_steady_cap_not_as_network_loss() {
    let s = start_limited(common::addr::LimitScope::Everyone, 100);
    let (code, out, _) = client(&[
        &s.addr.to_string(),
        "--rate",
        "2000",
        "--duration",
        "1.5",
        "--timeout",
        "0.3",
        "-q",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("loss: a steady cap: a burst answered in the first"),
        "{out}"
    );
    assert!(out.contains("\"over the rate limit\""), "{out}");
    let summary = s.stop().unwrap();
    assert!(summary.rate_limited > 0, "{summary}");
    // Loss injected at random is spread over the run: not a cap.
    let s = start(faults(0.3, 0.0, None, 7));
    let (_, out, _) = client(&[
        &s.addr.to_string(),
        "--rate",
        "2000",
        "--duration",
        "1.5",
        "--timeout",
        "0.3",
        "-q",
    ]);
    assert!(out.contains("loss: spread over the whole run"), "{out}");
    s.stop().unwrap();
}

// ---- the grader (--check) ----

/// A server that reads and never answers: every step fails after its tries, each saying
/// which limit ran out, and the whole grade is over within its bound.
#[test]
fn check_against_a_silent_server_ends_within_its_bound() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let started = std::time::Instant::now();
    let report = udp_client::check::run(&options(addr, 300, 0)).unwrap();
    // Four steps of three tries of 0.3 s, and one of twice 0.3 s: under 5 s, with room
    // for a busy machine (and far under the run's minute).
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}: {report:#?}");
    assert_eq!(report.passed_steps(), 0);
    assert_eq!(
        report.steps[0].detail,
        "no reply in 3 tries of 0.3 s each (--timeout)"
    );
    assert!(
        report.steps[3].detail.starts_with(
            "only 0 of 200 replies came back: timed out after 0.6 s (twice --timeout)"
        ),
        "{report:#?}"
    );
    drop(silent);
}

/// `--targets`: a class of UDP servers graded at once, one JSON object each, and a page.
#[test]
fn check_grades_a_class_with_targets_json_and_a_report() {
    let good = start(Faults::none());
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("class.txt");
    let page = dir.path().join("class.html");
    std::fs::write(
        &file,
        format!(
            "alice {}\nbob {}\n",
            good.addr,
            silent.local_addr().unwrap()
        ),
    )
    .unwrap();
    let (code, out, err) = client(&[
        "--check",
        "--timeout",
        "0.3",
        "--targets",
        file.to_str().unwrap(),
        "--json",
        "--report",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{out}{err}");
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(
        (rows[0]["name"].as_str(), rows[0]["passed"].as_bool()),
        (Some("alice"), Some(true))
    );
    assert_eq!(
        (rows[1]["name"].as_str(), rows[1]["passed"].as_bool()),
        (Some("bob"), Some(false))
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<strong>1 of 2</strong> servers passed"),
        "{html}"
    );
    assert!(html.contains("no reply in 3 tries of 0.3 s each (--timeout)"));
    good.stop().unwrap();
}

#[test]
fn check_passes_our_server_and_fails_a_small_buffer_at_the_large_datagram() {
    let s = start(Faults::none());
    let report = udp_client::check::run(&options(s.addr, 2000, 0)).unwrap();
    assert!(report.passed, "{report:#?}");
    assert_eq!(report.steps.len(), 5);
    s.stop().unwrap();

    // The tutorial's recvfrom(1024), in our server: the large datagram comes back cut.
    let socket = udp::udp_socket("127.0.0.1:0".parse().unwrap(), &UdpOptions::default()).unwrap();
    let config = Config {
        buffer: 1024,
        quiet: true,
        ..Config::default()
    };
    let cut = udp_server::spawn(socket, config).unwrap();
    let report = udp_client::check::run(&options(cut.addr, 2000, 0)).unwrap();
    assert!(!report.passed);
    let failed = report.first_failure().unwrap();
    assert_eq!(failed.step, "a 2,000-byte datagram answered whole");
    assert!(failed.detail.starts_with("got 1027 bytes"), "{failed:?}");
    assert_eq!(report.passed_steps(), 4, "{report:#?}");
    cut.stop().unwrap();
}

#[test]
fn check_fails_the_tutorials_server_with_its_bytes_bug_and_exits_1() {
    let Some(py) = common::testing::tutorial_server("udp.py", None) else {
        return;
    };
    let (code, out, _) = client(&[&py.addr.to_string(), "--check", "-q", "--timeout", "0.5"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(r#"FAIL  the reply to hello!: got 12 bytes, "Hi!b'hello!'""#),
        "{out}"
    );
    assert!(
        out.contains(r#"FAIL  an empty datagram: got 6 bytes, "Hi!b''""#),
        "{out}"
    );
    assert!(
        out.ends_with("check FAILED: 0 of 5 steps passed\n"),
        "{out}"
    );
}

#[test]
fn check_json_is_one_object() {
    let s = start(Faults::none());
    let (code, out, _) = client(&[&s.addr.to_string(), "--check", "--json", "-q"]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["steps"][3]["step"], "200 requests in flight");
    s.stop().unwrap();
}

/// `--generate`: every flag of `--help` is in the man page, and the completions load.
#[test]
fn the_man_page_has_every_flag_and_the_completions_load() {
    common::testing::generate::check(std::path::Path::new(BIN));
}
