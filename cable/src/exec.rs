//! `cable exec left|right [CMD…]`: runs a command on a cable held in another terminal
//! (`cable hold`), as if on that machine. Without a command: a shell.
//!
//! The held cable keeps one thread in each side, named `cable-left` and `cable-right`.
//! This process finds it in /proc, enters the namespaces that thread is in (its user
//! namespace, where the cable's user is root, then its network namespace), and starts the
//! command there, under a first process of its own PID namespace as `cable run` does. If
//! the cable ends first, the command is ended too.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use nix::sched::{setns, CloneFlags};

use crate::process;
use crate::run::anchor_name;
use crate::side::Side;

/// How many more times /proc is scanned for a held cable before exec says there is none.
const SCANS: usize = 10;
/// How often the waiting command checks that the cable is still held.
const CHECK: Duration = Duration::from_millis(100);

/// A held cable's thread in one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub pid: u32,
    pub tid: u32,
}

impl Anchor {
    fn dir(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/task/{}", self.pid, self.tid))
    }

    /// True while the thread is there and still the cable's.
    fn alive(&self, side: Side) -> bool {
        std::fs::read_to_string(self.dir().join("comm"))
            .is_ok_and(|c| c.trim_end() == anchor_name(side))
    }
}

/// Every held cable's anchor in `side` that this user may enter.
pub fn find(side: Side) -> Vec<Anchor> {
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(tasks) = std::fs::read_dir(entry.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let anchor = Anchor { pid, tid };
            // Another user's cable cannot be entered: its namespace files do not open.
            if anchor.alive(side) && File::open(anchor.dir().join("ns/net")).is_ok() {
                found.push(anchor);
            }
        }
    }
    found
}

/// `cable exec SIDE [CMD…]`. Call it first thing, while the process has one thread.
pub fn exec(side: Side, pid: Option<u32>, argv: Vec<OsString>) -> ExitCode {
    match try_exec(side, pid, argv) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("cable: {e}");
            ExitCode::from(1)
        }
    }
}

fn try_exec(side: Side, pid: Option<u32>, mut argv: Vec<OsString>) -> Result<u8, String> {
    // A scan of /proc can end early while processes come and go (a directory read
    // that meets a vanished process): look again a few times before saying none.
    let mut anchors = find(side);
    for _ in 0..SCANS {
        if !anchors.is_empty() {
            break;
        }
        std::thread::sleep(CHECK);
        anchors = find(side);
    }
    if let Some(pid) = pid {
        anchors.retain(|a| a.pid == pid);
    }
    let anchor = match anchors.as_slice() {
        [] => {
            return Err(match pid {
                Some(pid) => format!("process {pid} holds no cable that you may enter"),
                None => {
                    "no cable is held: start one with `cable hold` in another terminal".to_string()
                }
            })
        }
        [one] => one.clone(),
        many => {
            let pids: Vec<String> = many.iter().map(|a| a.pid.to_string()).collect();
            return Err(format!(
                "{} cables are held (PIDs {}): say which with --pid",
                many.len(),
                pids.join(", ")
            ));
        }
    };
    let dir = anchor.dir();
    let open = |ns: &str| {
        File::open(dir.join("ns").join(ns))
            .map_err(|e| format!("cannot open {}/ns/{ns}: {e}", dir.display()))
    };
    let (user, net) = (open("user")?, open("net")?);
    // The cable's user namespace first (unless this process is already in it, as root
    // is): only there may this user enter the cable's network namespace.
    let same_user_ns = |a: &File| -> bool {
        let mine = std::fs::metadata("/proc/self/ns/user")
            .map(|m| m.ino())
            .ok();
        a.metadata().map(|m| m.ino()).ok() == mine
    };
    if !same_user_ns(&user) {
        setns(&user, CloneFlags::CLONE_NEWUSER)
            .map_err(|e| format!("cannot enter the cable's user namespace: {e}"))?;
    }
    if argv.is_empty() {
        argv.push(std::env::var_os("SHELL").unwrap_or_else(|| "/bin/sh".into()));
    }
    let netns = net.into();
    let running = process::start(&netns, side, argv, false)?;
    loop {
        if let Some(status) = running.wait_for(CHECK) {
            return Ok(status.as_ref().map(process::exit_code).unwrap_or(1));
        }
        if !anchor.alive(side) {
            eprintln!(
                "cable: the cable (PID {}) has ended: ending the command too",
                anchor.pid
            );
            running.kill();
            let _ = running.wait_for(CHECK * 10);
            return Ok(1);
        }
    }
}
