//! `cable run` and `cable hold`: make the two sides, start the cable's loop, and either
//! run one command on each side (the form scripts, tests and demos use) or hold the
//! cable until Ctrl-C while commands come and go from other terminals (`cable exec`).

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};

use crate::capture::Capture;
use crate::forward::Cable;
use crate::link::{Faults, Link};
use crate::netns::{self, Namespaces};
use crate::process::{self, Running};
use crate::side::Side;
use crate::stats::{self, Summary};

/// What both forms share: the faults of each direction, the seed, and the outputs.
#[derive(Debug, Clone)]
pub struct Options {
    /// `[left → right, right → left]`.
    pub faults: [Faults; 2],
    pub seed: u64,
    pub pcap: Option<PathBuf>,
    /// Also write the summary as JSON here.
    pub summary_json: Option<PathBuf>,
}

/// How long the left command has to end after its Ctrl-C, before it is killed.
pub const GRACE: Duration = Duration::from_secs(5);
/// How often the waiting loops look at the commands and at Ctrl-C.
const TICK: Duration = Duration::from_millis(20);

/// The thread name of the cable's anchor in each side: `cable exec` looks for it.
pub fn anchor_name(side: Side) -> String {
    format!("cable-{}", side.short())
}

/// The sides made and the loop running.
struct Live {
    netns: [OwnedFd; 2],
    stop: Arc<AtomicBool>,
    interrupted: Arc<AtomicBool>,
    cable: thread::JoinHandle<Result<Summary, String>>,
}

impl Live {
    /// The cable's loop has ended by itself: a TUN device failed (it said why).
    fn broken(&self) -> bool {
        self.cable.is_finished()
    }

    /// Ctrl-C, or a broken cable: time to end.
    fn ending(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst) || self.broken()
    }
}

/// Makes the sides, opens the capture, prints the banner and starts the loop.
fn start(options: &Options) -> Result<Live, String> {
    // First, while this process has one thread (a new user namespace requires it).
    let Namespaces {
        netns,
        tun,
        user_namespace,
    } = netns::build()?;
    let capture = options.pcap.as_deref().map(Capture::create).transpose()?;
    // The two directions draw from different streams of the same seed.
    let links = [
        Link::new(options.faults[0], options.seed),
        Link::new(options.faults[1], options.seed ^ 0x9e37_79b9_7f4a_7c15),
    ];
    banner(options, user_namespace);
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupted);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop_loop = Arc::clone(&stop);
    let cable = thread::Builder::new()
        .name("cable-loop".into())
        .spawn(move || Cable::new(tun, links, capture).run(&stop_loop))
        .map_err(|e| format!("cannot start the cable's thread: {e}"))?;
    Ok(Live {
        netns,
        stop,
        interrupted,
        cable,
    })
}

fn banner(options: &Options, user_namespace: bool) {
    let [l, r] = Side::BOTH;
    eprintln!(
        "cable: {} {} <-> {} {}",
        l.name(),
        l.address(),
        r.name(),
        r.address()
    );
    let [lr, rl] = &options.faults;
    if lr == rl {
        eprintln!("cable: both ways: {}", lr.describe());
    } else {
        eprintln!("cable: left -> right: {}", lr.describe());
        eprintln!("cable: right -> left: {}", rl.describe());
    }
    if !lr.is_clean() || !rl.is_clean() {
        eprintln!(
            "cable: seed {0} (--seed {0} repeats these faults)",
            options.seed
        );
    }
    if let Some(p) = &options.pcap {
        eprintln!("cable: recording every packet in {}", p.display());
    }
    if user_namespace {
        eprintln!(
            "cable: in a user namespace: commands on the cable run as root there, as you outside"
        );
    }
}

/// Stops the loop and prints the summary (and writes it as JSON if asked).
fn finish(live: Live, options: &Options) -> Result<Summary, String> {
    live.stop.store(true, Ordering::SeqCst);
    let summary = live
        .cable
        .join()
        .map_err(|_| "the cable's thread panicked".to_string())??;
    eprint!("{}", stats::render(&summary));
    if let Some(path) = &options.summary_json {
        let json = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
        std::fs::write(path, json + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(summary)
}

/// `cable run`: the left command, then (after `start_after`) the right one. When the
/// right one ends, the left one gets Ctrl-C. Exit status: the right command's.
pub fn run(options: &Options, left: &str, right: &str, start_after: Duration) -> ExitCode {
    match try_run(options, left, right, start_after) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("cable: {e}");
            ExitCode::from(1)
        }
    }
}

fn shell(command: &str) -> Vec<OsString> {
    vec!["sh".into(), "-c".into(), command.into()]
}

fn try_run(
    options: &Options,
    left: &str,
    right: &str,
    start_after: Duration,
) -> Result<u8, String> {
    let live = start(options)?;
    // Whatever happens to the commands, the loop is stopped and the capture written.
    let outcome = run_commands(&live, left, right, start_after);
    let summary = finish(live, options);
    let code = outcome?;
    summary?;
    Ok(code)
}

fn run_commands(live: &Live, left: &str, right: &str, start_after: Duration) -> Result<u8, String> {
    // The left command has a process group of its own: Ctrl-C in the terminal reaches
    // the right command (and the cable), and the cable then ends the left one.
    let left_cmd = process::start(&live.netns[0], Side::Left, shell(left), true)?;
    let until = Instant::now() + start_after;
    while Instant::now() < until && !live.ending() {
        thread::sleep(TICK.min(until.saturating_duration_since(Instant::now())));
    }
    let mut left_status = left_cmd.try_status();
    if let Some(status) = &left_status {
        eprintln!(
            "cable: the left command ended before the right one started ({})",
            describe(status)
        );
    }
    let mut right_code = 130;
    if !live.ending() {
        let right_cmd = process::start(&live.netns[1], Side::Right, shell(right), false)?;
        let status = wait_right(&right_cmd, live);
        right_code = status.as_ref().map(process::exit_code).unwrap_or(1);
        if let Err(e) = &status {
            eprintln!("cable: waiting for the right command failed: {e}");
        }
    }
    if left_status.is_none() {
        left_status = end_left(&left_cmd);
    }
    if let Some(Ok(status)) = &left_status {
        if !status.success() && !is_interrupt(status) {
            eprintln!(
                "cable: the left command ended with {}",
                describe(&Ok(*status))
            );
        }
    }
    if live.broken() {
        return Err("the cable failed (see above); the commands were ended".into());
    }
    Ok(right_code)
}

/// Waits for the right command; after a Ctrl-C (which reached it too), gives it
/// [`GRACE`] to end, then kills it.
fn wait_right(right: &Running, live: &Live) -> std::io::Result<std::process::ExitStatus> {
    let mut interrupted_at = None;
    let mut killed = false;
    loop {
        if let Some(status) = right.wait_for(TICK) {
            return status;
        }
        if live.broken() && !killed {
            // No cable, nothing to run across: the right command ends now.
            right.kill();
            killed = true;
        }
        if live.interrupted.load(Ordering::SeqCst) {
            let at = *interrupted_at.get_or_insert_with(Instant::now);
            if at.elapsed() > GRACE {
                eprintln!(
                    "cable: the right command did not end within {} s of Ctrl-C: killed",
                    GRACE.as_secs()
                );
                right.kill();
            }
        }
    }
}

/// Ctrl-C for the left command, then SIGKILL if it is still there after [`GRACE`].
fn end_left(left: &Running) -> Option<std::io::Result<std::process::ExitStatus>> {
    // Ended already (while the right one ran): its process group may be gone, and its
    // number someone else's.
    if let Some(status) = left.try_status() {
        return Some(status);
    }
    left.interrupt();
    if let Some(status) = left.wait_for(GRACE) {
        return Some(status);
    }
    eprintln!(
        "cable: the left command did not end within {} s of Ctrl-C: killed",
        GRACE.as_secs()
    );
    left.kill();
    left.wait_for(GRACE)
}

fn is_interrupt(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(nix::sys::signal::Signal::SIGINT as i32) || status.code() == Some(130)
}

fn describe(status: &std::io::Result<std::process::ExitStatus>) -> String {
    match status {
        Ok(s) => s.to_string(),
        Err(e) => e.to_string(),
    }
}

/// `cable hold`: the cable stays until Ctrl-C; `cable exec left|right CMD` runs commands on it.
pub fn hold(options: &Options) -> ExitCode {
    match try_hold(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cable: {e}");
            ExitCode::from(1)
        }
    }
}

fn try_hold(options: &Options) -> Result<(), String> {
    let live = start(options)?;
    // One thread waits in each side: `cable exec` finds it by name and enters the
    // namespaces it is in. It ends with the cable.
    let mut release = Vec::new();
    let (ready_tx, ready) = mpsc::channel::<bool>();
    for side in Side::BOTH {
        let netns = live.netns[side.index()]
            .try_clone()
            .map_err(|e| e.to_string())?;
        let (tx, parked) = mpsc::channel::<()>();
        release.push(tx);
        let ready_tx = ready_tx.clone();
        thread::Builder::new()
            .name(anchor_name(side))
            .spawn(move || {
                let entered = setns(&netns, CloneFlags::CLONE_NEWNET).is_ok();
                let _ = ready_tx.send(entered);
                if entered {
                    // Returns when the cable drops the sender.
                    let _ = parked.recv();
                }
            })
            .map_err(|e| format!("cannot start {side}'s anchor: {e}"))?;
    }
    // Only once both anchors are in their sides can `cable exec` find them.
    for _ in Side::BOTH {
        if !ready.recv().unwrap_or(false) {
            return Err("an anchor could not enter its side's namespace".into());
        }
    }
    eprintln!("cable: held. In another terminal, run a command on either side:");
    eprintln!("cable:   cable exec left tcp-server 0.0.0.0:9999      (in lab-left, 10.99.0.1)");
    eprintln!("cable:   cable exec right tcp-client 10.99.0.1:9999   (in lab-right, 10.99.0.2)");
    eprintln!("cable:   cable exec right                             (a shell in lab-right)");
    eprintln!("cable: Ctrl-C here ends the cable, and every command on it.");
    while !live.ending() {
        thread::sleep(TICK);
    }
    drop(release);
    finish(live, options).map(|_| ())
}
