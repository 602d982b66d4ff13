//! The cable for real: two namespaces, the course's programs on each side, faults, and the
//! capture read back by the cable's own reader and by `tcpdump -r`. Linux only; skipped,
//! with the reason, where user namespaces are not allowed (never in CI).

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::testing::available;
use support::{cable, ready, run, segments, summary};

/// tcp-server on the left, the tutorial's session from tcp-client on the right.
const HELLO: [&str; 4] = [
    "--left",
    "tcp-server $LEFT:9999",
    "--right",
    "tcp-client $LEFT:9999",
];

#[test]
fn the_handshake_is_read_back_from_the_capture() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("hello.pcapng");
    let (code, out, err) = run(cable(&["run", "--pcap", pcap.to_str().unwrap()]).args(HELLO));
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("hello,li"), "{out}");
    let segs = segments(&pcap);
    assert!(
        segs.len() >= 7,
        "a handshake, a session and a close: {segs:?}"
    );
    let (syn, synack, ack) = (&segs[0].1, &segs[1].1, &segs[2].1);
    // The client on lab-right opens: SYN, SYN-ACK, ACK, in that order in time too.
    assert_eq!(syn.flags.label(), "SYN");
    assert_eq!(syn.src.ip().to_string(), "10.99.0.2");
    assert_eq!(syn.dst.to_string(), "10.99.0.1:9999");
    assert_eq!(synack.flags.label(), "SYN, ACK");
    assert_eq!(
        synack.ack,
        syn.seq.wrapping_add(1),
        "the SYN-ACK acknowledges ISN + 1"
    );
    assert_eq!(ack.flags.label(), "ACK");
    assert_eq!(
        ack.ack,
        synack.seq.wrapping_add(1),
        "the ACK acknowledges the server's ISN + 1"
    );
    assert!(segs[0].0.at <= segs[1].0.at && segs[1].0.at <= segs[2].0.at);
    // And the close: a FIN each way.
    let fins = segs.iter().filter(|(_, s)| s.flags.fin).count();
    assert_eq!(fins, 2, "{segs:?}");

    // tcpdump reads the same file and sees the same numbers (-S: absolute ones).
    if !available("tcpdump", "tcpdump") {
        return;
    }
    let (code, text, err) = run(Command::new("tcpdump").args(["-n", "-S", "-r"]).arg(&pcap));
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("Flags")).collect();
    assert!(
        lines[0].contains("10.99.0.2.") && lines[0].contains("> 10.99.0.1.9999: Flags [S],"),
        "{text}"
    );
    assert!(
        lines[0].contains(&format!("seq {},", syn.seq)),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("Flags [S.],")
            && lines[1].contains(&format!("ack {},", syn.seq.wrapping_add(1))),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("Flags [.],")
            && lines[2].contains(&format!("ack {},", synack.seq.wrapping_add(1))),
        "{}",
        lines[2]
    );
}

#[test]
fn an_upload_through_five_percent_loss_is_verified_and_retransmitted() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("photo.bin");
    let mut rng = fastrand::Rng::with_seed(2);
    let bytes: Vec<u8> = (0..2 << 20).map(|_| rng.u8(..)).collect();
    std::fs::write(&file, &bytes).unwrap();
    let store = dir.path().join("store");
    let (pcap, json) = (
        dir.path().join("loss.pcapng"),
        dir.path().join("summary.json"),
    );
    let left = format!(
        // Its lines go to stderr, so that stdout holds only the sender's JSON.
        "upload serve $LEFT:9000 --dir {} --no-progress >&2",
        store.display()
    );
    let right = format!(
        "upload send {} --to $LEFT:9000 --no-progress --tcp-info --json",
        file.display()
    );
    let (code, out, err) = run(&mut cable(&[
        "run",
        "--loss",
        "5%",
        "--seed",
        "5",
        "--pcap",
        pcap.to_str().unwrap(),
        "--summary-json",
        json.to_str().unwrap(),
        "--left",
        &left,
        "--right",
        &right,
    ]));
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert_eq!(
        std::fs::read(store.join("photo.bin")).unwrap(),
        bytes,
        "stored exactly"
    );
    let s = summary(&json);
    let from_summary = s["right_to_left"]["retransmissions"].as_u64().unwrap();
    let dropped = s["right_to_left"]["dropped_loss"].as_u64().unwrap();
    assert!(dropped > 0 && from_summary > 0, "{s}");
    // The capture marks the same segments.
    let marked = segments(&pcap)
        .iter()
        .filter(|(r, s)| {
            s.src.ip().to_string() == "10.99.0.2"
                && r.comment
                    .as_deref()
                    .is_some_and(|c| c.contains("retransmission"))
        })
        .count() as u64;
    assert_eq!(
        marked, from_summary,
        "the capture and the summary count the same retransmissions"
    );
    let lost = segments(&pcap)
        .iter()
        .filter(|(r, _)| r.comment.as_deref() == Some("dropped: loss"))
        .count() as u64;
    assert!(
        lost >= dropped.min(1),
        "dropped packets are in the capture, marked"
    );
    // And the sender's kernel counted them too (--tcp-info, its reading after the OK).
    let sent: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let last = sent["tcp_info"]
        .as_array()
        .and_then(|s| s.last())
        .cloned()
        .unwrap_or_default();
    let from_kernel = last["retransmitted_segments"]
        .as_u64()
        .unwrap_or_else(|| panic!("{sent}"));
    assert!(from_kernel > 0, "{sent}");
    common::testing::tell(format_args!(
        "5% loss, 2 MiB upload: {dropped} of the sender's packets lost; retransmissions: \
         {from_summary} (the cable's summary), {marked} (the capture), {from_kernel} (--tcp-info)"
    ));
}

/// The shortest RTT of `ping -c 5` through a cable with these arguments, in ms. The
/// shortest, not the mean: the delay is a floor that no packet may beat, and what a busy
/// machine adds (a forwarder thread woken late) only ever comes on top; one packet of five
/// that crossed an idle moment shows the cable's own delay.
fn ping_rtt(args: &[&str]) -> f64 {
    let mut cmd = cable(&["run"]);
    cmd.args(args)
        .args(["--left", "sleep 60", "--right", "ping -n -c 5 -i 0.2 $LEFT"]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("rtt "))
        .unwrap_or_else(|| panic!("{out}"));
    // rtt min/avg/max/mdev = 40.1/40.5/41.0/0.3 ms
    line.split('=')
        .nth(1)
        .unwrap()
        .trim()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_delay_of_20_ms_each_way_is_a_round_trip_of_40() {
    if !ready() || !available("ping", "iputils-ping") {
        return;
    }
    let rtt = ping_rtt(&["--delay", "20"]);
    assert!(
        (39.5..=45.0).contains(&rtt),
        "shortest RTT {rtt} ms, expected 40 to 45 (never below the delay)"
    );
    let rtt = ping_rtt(&["--delay", "30ms:0"]);
    assert!(
        (29.5..=35.0).contains(&rtt),
        "one way only: shortest RTT {rtt} ms, expected 30 to 35"
    );
    // TCP's own estimate (--tcp-info), after the tutorial's session: its smoothed RTT, an
    // average of a handful of samples, so a busy machine can lift it more than ping's
    // shortest; never below the cable's 40 ms.
    let (code, _, err) = run(&mut cable(&[
        "run",
        "--delay",
        "20",
        "--left",
        "tcp-server $LEFT:9999 -q",
        "--right",
        "tcp-client $LEFT:9999 -q --tcp-info",
    ]));
    assert_eq!(code, Some(0), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("tcp-info 10.99.0.1:9999: rtt "))
        .unwrap_or_else(|| panic!("{err}"));
    let srtt: f64 = line
        .split("rtt ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (39.0..=60.0).contains(&srtt),
        "TCP's smoothed RTT {srtt} ms, expected 40 to 60: {line}"
    );
}

#[test]
fn the_rate_is_held() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bulk.bin");
    std::fs::write(&file, vec![7u8; 3 << 20]).unwrap();
    let pcap = dir.path().join("rate.pcapng");
    let left = format!(
        "upload serve $LEFT:9000 --dir {} --no-progress",
        dir.path().join("store").display()
    );
    let right = format!(
        "upload send {} --to $LEFT:9000 --no-progress",
        file.display()
    );
    // 10 Mbit/s from right to left only: the data's way.
    let (code, out, err) = run(&mut cable(&[
        "run",
        "--rate",
        "0:10mbit",
        "--pcap",
        pcap.to_str().unwrap(),
        "--left",
        &left,
        "--right",
        &right,
    ]));
    assert_eq!(code, Some(0), "{out}\n{err}");
    let segs = segments(&pcap);
    // The bytes that crossed, from the receiver's ACKs (they come back unlimited): the
    // rate between 20% and 80% of the transfer, away from slow start and the end.
    let acks: Vec<(f64, u32)> = segs
        .iter()
        .filter(|(_, s)| s.src.ip().to_string() == "10.99.0.1" && s.flags.ack && !s.flags.syn)
        .map(|(r, s)| (r.at.as_secs_f64(), s.ack))
        .collect();
    let (first, last) = (acks[0].1, acks[acks.len() - 1].1);
    let total = last.wrapping_sub(first) as f64;
    let at = |share: f64| {
        acks.iter()
            .find(|(_, a)| a.wrapping_sub(first) as f64 >= share * total)
            .unwrap()
    };
    let (a, b) = (at(0.2), at(0.8));
    let goodput = b.1.wrapping_sub(a.1) as f64 * 8.0 / (b.0 - a.0);
    // On the wire each segment also carries its IP and TCP headers: the rate counts them.
    let data: Vec<&cable::packet::Segment> = segs
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.len > 0 && s.src.ip().to_string() == "10.99.0.2")
        .collect();
    let payload: f64 = data.iter().map(|s| s.len as f64).sum();
    let wire: f64 = segs
        .iter()
        .filter(|(_, s)| s.len > 0 && s.src.ip().to_string() == "10.99.0.2")
        .map(|(r, _)| r.data.len() as f64)
        .sum();
    let expected = 10e6 * payload / wire;
    let ratio = goodput / expected;
    common::testing::tell(format_args!(
        "--rate 10mbit: {:.2} Mbit/s of data, {:.3} of the expected",
        goodput / 1e6,
        ratio
    ));
    assert!(
        (0.9..=1.1).contains(&ratio),
        "goodput {goodput} bit/s against {expected} expected"
    );
}

/// For each packet of a capture, in order: who sent it and whether the cable dropped it.
fn fates(pcap: &std::path::Path) -> Vec<(Option<cable::side::Side>, bool)> {
    cable::capture::read(pcap)
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.from,
                r.comment
                    .as_deref()
                    .is_some_and(|c| c.starts_with("dropped")),
            )
        })
        .collect()
}

#[test]
fn the_same_seed_drops_the_same_packets() {
    if !ready() || !available("ping", "iputils-ping") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<_> = ["42", "42", "43"]
        .iter()
        .enumerate()
        .map(|(i, seed)| {
            let pcap = dir.path().join(format!("{i}.pcapng"));
            let (code, out, err) = run(&mut cable(&[
                "run",
                "--loss",
                "25%",
                "--seed",
                seed,
                "--pcap",
                pcap.to_str().unwrap(),
                "--left",
                "sleep 60",
                "--right",
                "ping -n -c 30 -i 0.02 -W 0.3 $LEFT",
            ]));
            assert!(
                code == Some(0) || code == Some(1),
                "ping exits 1 when replies are lost: {out}\n{err}"
            );
            fates(&pcap)
        })
        .collect();
    assert!(
        runs[0].iter().any(|(_, dropped)| *dropped),
        "25% loss dropped something"
    );
    assert_eq!(runs[0], runs[1], "seed 42 twice: the same packets dropped");
    assert_ne!(runs[0], runs[2], "another seed, other packets");
}

#[test]
fn an_ordinary_user_runs_the_cable() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let pcap = dir.path().join("user.pcapng");
    let mut cmd;
    if nix::unistd::getuid().is_root() {
        // CI runs as root: drop to nobody for this run (setpriv, from util-linux).
        if !available("setpriv", "util-linux") {
            return;
        }
        cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            support::CABLE,
        ])
        .env("PATH", support::path());
    } else {
        cmd = cable(&[]);
    }
    cmd.args(["run", "--pcap", pcap.to_str().unwrap()])
        .args(HELLO)
        .current_dir(dir.path());
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(err.contains("in a user namespace"), "{err}");
    assert!(out.contains("hello,ca"), "{out}");
    assert!(segments(&pcap).iter().any(|(_, s)| s.flags.syn));
}

/// The PIDs of every descendant of `pid`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The parent is the second field after the command's closing parenthesis.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let ppid: u32 = after.split(' ').nth(1).unwrap().parse().unwrap();
        parent_of.push((p, ppid));
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn netns_of(pid: u32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()
}

#[test]
fn nothing_is_left_behind_after_kill_9() {
    if !ready() {
        return;
    }
    let mut child = cable(&[
        "run",
        "--left",
        "sleep 300 & sleep 301",
        "--right",
        "sleep 302",
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    let sleeps = loop {
        let sleeps: Vec<u32> = descendants(pid)
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            })
            .collect();
        if sleeps.len() == 3 {
            break sleeps;
        }
        assert!(
            Instant::now() < deadline,
            "the three sleeps never started: {sleeps:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let namespaces: Vec<_> = sleeps.iter().filter_map(|&p| netns_of(p)).collect();
    assert_eq!(namespaces.len(), 3);
    assert_ne!(
        Some(&namespaces[0]),
        netns_of(std::process::id()).as_ref(),
        "the sleeps are in the cable's namespaces"
    );
    child.kill().unwrap(); // SIGKILL, to our own child
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let alive: Vec<u32> = sleeps
            .iter()
            .copied()
            .filter(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
            .collect();
        let in_namespaces = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
            .filter(|&p| netns_of(p).is_some_and(|n| namespaces.contains(&n)))
            .count();
        if alive.is_empty() && in_namespaces == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "after kill -9: still running {alive:?}; {in_namespaces} processes in the cable's namespaces");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_held_cable_runs_commands_from_other_terminals() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("held.pcapng");
    let mut hold = cable(&["hold", "--delay", "5ms", "--pcap", pcap.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = hold.stderr.take().unwrap();
    // If the test fails, the held cable must not outlive it.
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let pid = nix::unistd::Pid::from_raw(self.0 as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
    let guard = KillOnDrop(hold.id());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut banner = Vec::new();
    while !banner.iter().any(|l: &String| l.contains("held.")) {
        banner.push(
            rx.recv_timeout(Duration::from_secs(20))
                .expect("the cable says it is held"),
        );
    }
    let mut server = cable(&["exec", "left", "tcp-server", "0.0.0.0:9999"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The client retries until the server listens.
    let (code, out, err) = run(&mut cable(&[
        "exec",
        "right",
        "sh",
        "-c",
        "for i in $(seq 50); do tcp-client $LEFT:9999 && exit 0; sleep 0.1; done; exit 1",
    ]));
    if code != Some(0) {
        let _ = server.kill();
        let out = server.wait_with_output().unwrap();
        panic!(
            "{out:?}\n{err}\nthe server: {}",
            String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout)
        );
    }
    assert!(out.contains("hello,li"), "{out}");
    // Ctrl-C ends the cable, and the command on it ends too.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(hold.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = hold.wait().unwrap();
    // Reaped: its PID is no longer ours to signal.
    std::mem::forget(guard);
    assert!(status.success(), "{status}");
    // Its last lines, as the reader thread gets them (it ends with the pipe).
    let summary: Vec<String> = rx.iter().collect();
    assert!(
        summary.iter().any(|l| l.contains("summary after")),
        "{summary:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the server on the cable outlived it"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut err = String::new();
    use std::io::Read;
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("the cable (PID"), "{err}");
    assert!(segments(&pcap).iter().any(|(_, s)| s.flags.syn));
}
