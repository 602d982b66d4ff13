//! Commands run in a side, and what makes sure that none outlives the cable.
//!
//! A command does not start directly: the cable starts itself again (`cable __init`) as
//! the **first process of a new PID namespace**, and that process starts the command.
//! Two rules of the kernel then do the cleaning up:
//! - `PR_SET_PDEATHSIG`: when the thread that started the first process ends (the cable
//!   ends, even by `kill -9`), the kernel kills the first process;
//! - when the first process of a PID namespace ends, the kernel kills every other process
//!   in it: the command, and whatever the command started.
//!
//! The first process does what an init does: it waits for every child (orphans are
//! adopted by it), and when the command ends, it kills what the command left behind.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode, ExitStatus};
use std::sync::mpsc;
use std::thread;

use nix::errno::Errno;
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::side::Side;

/// The hidden subcommand that is the first process of a side's PID namespace.
pub const INIT: &str = "__init";
/// The variable that gives the first process the cable's PID.
const CABLE_PID: &str = "CABLE_PID";

/// Whether the cable that started this first process is still running (not gone, not a
/// zombie).
fn cable_alive() -> bool {
    let Some(pid) = std::env::var(CABLE_PID)
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return false;
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state is the first field after the command's closing parenthesis.
    let state = stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3));
    matches!(state, Some(s) if s != "Z" && s != "X")
}

/// A command running in a side.
pub struct Running {
    pub side: Side,
    /// The PID (in the cable's PID namespace) of the side's first process, which is also
    /// its process group when `own_group` was asked for.
    pub pid: Pid,
    done: mpsc::Receiver<std::io::Result<ExitStatus>>,
}

/// The environment every command of a side sees: `$LEFT`, `$RIGHT`, `$CABLE_SIDE`.
pub fn environment(side: Side) -> [(&'static str, String); 3] {
    [
        ("LEFT", Side::Left.address().to_string()),
        ("RIGHT", Side::Right.address().to_string()),
        ("CABLE_SIDE", side.short().to_string()),
    ]
}

/// Starts `argv` in `side`'s network namespace, under a first process of its own PID
/// namespace. With `own_group`, the command gets a process group of its own, so that
/// Ctrl-C in the terminal does not reach it and the cable decides when it ends
/// ([`Running::interrupt`]).
pub fn start(
    netns: &OwnedFd,
    side: Side,
    argv: Vec<OsString>,
    own_group: bool,
) -> Result<Running, String> {
    let netns = netns
        .try_clone()
        .map_err(|e| format!("cannot share {side}'s namespace handle: {e}"))?;
    let (started_tx, started_rx) = mpsc::channel::<Result<u32, String>>();
    let (done_tx, done) = mpsc::channel();
    // The thread that starts the first process must live as long as it: the kernel's
    // PR_SET_PDEATHSIG follows the thread, not the process.
    thread::Builder::new()
        .name(format!("cable-run-{}", side.short()))
        .spawn(move || {
            let child = spawn_init(&netns, side, &argv, own_group);
            match child {
                Ok(mut child) => {
                    let _ = started_tx.send(Ok(child.id()));
                    let _ = done_tx.send(child.wait());
                }
                Err(e) => {
                    let _ = started_tx.send(Err(e));
                }
            }
        })
        .map_err(|e| format!("cannot start a thread for {side}: {e}"))?;
    let pid = started_rx
        .recv()
        .map_err(|_| format!("the thread starting {side}'s command ended"))??;
    Ok(Running {
        side,
        pid: Pid::from_raw(pid as i32),
        done,
    })
}

fn spawn_init(
    netns: &OwnedFd,
    side: Side,
    argv: &[OsString],
    own_group: bool,
) -> Result<std::process::Child, String> {
    // This thread enters the side's network; its children are born there.
    setns(netns, CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot enter {side}'s namespace: {e}"))?;
    // Its next child is the first process of a new PID namespace.
    unshare(CloneFlags::CLONE_NEWPID)
        .map_err(|e| format!("cannot make a PID namespace for {side}: {e}"))?;
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0("cable")
        .arg(INIT)
        .arg("--")
        .args(argv)
        .envs(environment(side))
        .env(CABLE_PID, std::process::id().to_string());
    if own_group {
        cmd.process_group(0);
    }
    cmd.spawn()
        .map_err(|e| format!("cannot start {side}'s command: {e}"))
}

impl Running {
    /// The command's exit status, once it has ended (`None` while it runs).
    pub fn try_status(&self) -> Option<std::io::Result<ExitStatus>> {
        self.done.try_recv().ok()
    }

    /// Waits up to `limit` for the command to end.
    pub fn wait_for(&self, limit: std::time::Duration) -> Option<std::io::Result<ExitStatus>> {
        self.done.recv_timeout(limit).ok()
    }

    /// Ctrl-C for the command: SIGINT to its process group (started with `own_group`).
    pub fn interrupt(&self) {
        let _ = killpg(self.pid, Signal::SIGINT);
    }

    /// Ends the side at once: its first process is killed, and with it the namespace.
    pub fn kill(&self) {
        let _ = kill(self.pid, Signal::SIGKILL);
    }
}

/// The exit code a shell would give for this status: the code, or 128 + the signal.
pub fn exit_code(status: &ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code.clamp(0, 255) as u8,
        (None, Some(sig)) => (128 + sig).clamp(0, 255) as u8,
        _ => 1,
    }
}

/// `cable __init -- CMD…`: the first process of a side's PID namespace.
pub fn init(argv: &[OsString]) -> ExitCode {
    // kill(-1) below signals every process this one may signal. That is the side's
    // processes only when this is the first process of a new PID namespace: make sure.
    if nix::unistd::getpid().as_raw() != 1 {
        eprintln!("cable {INIT}: this is the first process of a side, started by the cable itself; not for use by hand");
        return ExitCode::from(2);
    }
    // Ends with the thread that started it (the cable), and so does the whole side.
    if let Err(e) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        eprintln!("cable: cannot tie the side to the cable (PR_SET_PDEATHSIG): {e}");
        return ExitCode::from(1);
    }
    // The cable may have died between starting this process and the line above, and then
    // no signal will come: look. (getppid() cannot tell: in a new PID namespace the parent
    // is always 0.) /proc is the cable's, so its PID is found there.
    if !cable_alive() {
        eprintln!("cable {INIT}: the cable that started this side has ended");
        return ExitCode::from(1);
    }
    // A first process receives only the signals it handles. Ctrl-C reaches the command
    // through its process group; this process only waits for the command to end.
    let _ = ctrlc::set_handler(|| {});
    let Some((program, args)) = argv.split_first() else {
        eprintln!("cable {INIT}: no command");
        return ExitCode::from(2);
    };
    let child = match Command::new(program)
        .args(args)
        .env_remove(CABLE_PID)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            eprintln!("cable: cannot run {}: {e}", program.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    let command = Pid::from_raw(child.id() as i32);
    let code = reap_until(command);
    // What the command left running in the side ends with it.
    let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
    // Reap them; any error but an interrupted wait (ECHILD: none left) ends it.
    while let Ok(_) | Err(Errno::EINTR) = waitpid(Pid::from_raw(-1), None) {}
    ExitCode::from(code)
}

/// Waits for every child (an init adopts the orphans of its namespace) until `command`
/// ends; returns its exit code as a shell gives it.
fn reap_until(command: Pid) -> u8 {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => return code.clamp(0, 255) as u8,
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => {
                return (128 + sig as i32).clamp(0, 255) as u8
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return 1,
        }
    }
}
