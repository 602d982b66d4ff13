//! # How many connections can this process really hold?
//!
//! A thread-per-connection server needs, for every client, one file descriptor (the
//! socket) and one thread. The operating system caps both, and a server that promises more
//! than that fails in ugly ways:
//!
//! - past the open-file limit (`ulimit -n`), `accept()` fails with `EMFILE`: the tutorial's
//!   Python server stops accepting for good;
//! - past the thread limits, creating a thread fails, or — with Linux's limit on memory
//!   maps, `vm.max_map_count` (each thread's stack and guard page are maps) — memory
//!   allocation fails and the whole process is aborted. A plain std server dies near 16,000
//!   threads on a default Linux this way.
//!
//! [`check`] reads those limits (on Linux, from `getrlimit` and `/proc`) so a server can
//! say at start-up that its `--max-connections` is more than it can hold.
//! [`raise_open_file_limit`] lifts the soft open-file limit to the hard one, as servers
//! commonly do (the soft limit, often 1024, is a default for small programs).

use std::fs;

/// File descriptors a server keeps besides its connections: stdin/out/err, the listener,
/// the spare one the accept loop keeps for refusing clients, a few for the runtime.
pub const FD_RESERVE: u64 = 16;
/// Memory maps one thread costs on Linux (its stack, its guard page, and a little more
/// for allocator arenas, as measured): `vm.max_map_count` / this = threads.
pub const MAPS_PER_THREAD: u64 = 4;

/// One limit of the system and how many connections it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// What the limit is, e.g. `open files (ulimit -n) 1024`.
    pub name: String,
    /// How many connections it leaves room for.
    pub connections: u64,
    /// What to do to raise it.
    pub fix: &'static str,
}

/// Raises the soft open-file limit to the hard limit. Returns the limit now in force.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// The limits of this process that cap its connection count, smallest first.
pub fn limits() -> Vec<Limit> {
    let mut out = Vec::new();
    if let Ok((soft, _hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        if soft != rlimit::INFINITY {
            out.push(Limit {
                name: format!("open files (ulimit -n) {soft}"),
                connections: soft.saturating_sub(FD_RESERVE),
                fix: "raise it with `ulimit -n` before starting the server",
            });
        }
    }
    #[cfg(target_os = "linux")]
    {
        if let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NPROC) {
            if soft != rlimit::INFINITY {
                out.push(Limit {
                    name: format!("processes and threads per user (ulimit -u) {soft}"),
                    connections: soft,
                    fix: "raise it with `ulimit -u`",
                });
            }
        }
        if let Some(n) = read_number("/proc/sys/kernel/threads-max") {
            out.push(Limit {
                name: format!("threads on this machine (kernel.threads-max) {n}"),
                connections: n,
                fix: "raise kernel.threads-max with sysctl",
            });
        }
        if let Some(n) = read_number("/proc/sys/vm/max_map_count") {
            out.push(Limit {
                name: format!("memory maps (vm.max_map_count) {n}, about {MAPS_PER_THREAD} per thread"),
                connections: n / MAPS_PER_THREAD,
                fix: "raise vm.max_map_count with sysctl (past it the process is aborted, not refused)",
            });
        }
        if let Some(n) = read_number("/sys/fs/cgroup/pids.max") {
            out.push(Limit {
                name: format!("tasks in this cgroup (pids.max) {n}"),
                connections: n,
                fix: "raise the container's pids limit",
            });
        }
    }
    out.sort_by_key(|l| l.connections);
    out
}

/// The limits that `max_connections` exceeds, as warnings to print at start-up.
pub fn check(max_connections: usize) -> Vec<String> {
    limits()
        .into_iter()
        .filter(|l| (max_connections as u64) > l.connections)
        .map(|l| {
            format!(
                "--max-connections {max_connections} is more than this process can hold: {} allows about {} connections; {} or lower --max-connections",
                l.name, l.connections, l.fix
            )
        })
        .collect()
}

fn read_number(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_maximum_is_warned_about_and_a_small_one_is_not() {
        assert!(check(1).is_empty(), "{:?}", check(1));
        let warnings = check(usize::MAX / 2);
        assert!(!warnings.is_empty());
        for w in &warnings {
            assert!(
                w.contains("lower --max-connections") && !w.contains('\n'),
                "{w}"
            );
        }
    }

    #[test]
    fn raising_the_open_file_limit_never_lowers_it() {
        let (before, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let after = raise_open_file_limit().unwrap();
        assert!(after >= before);
    }
}
