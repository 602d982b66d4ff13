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
//! [`check`] reads those limits ([`crate::os::process_limits`]: `getrlimit` on Linux and
//! macOS, and `/proc` on Linux) so a server can say at start-up that its
//! `--max-connections` is more than it can hold. Windows has no such limits per process;
//! there [`unchecked`] says so in one line.
//! [`raise_open_file_limit`] lifts the soft open-file limit to the hard one, as servers
//! commonly do (the soft limit, often 1024, is a default for small programs).

use crate::os::{self, ProcessLimits};

/// File descriptors a server keeps besides its connections: stdin/out/err, the listener,
/// the spare one the accept loop keeps for refusing clients, a few for the runtime.
pub const FD_RESERVE: u64 = 16;
/// Memory maps one thread costs on Linux (its stack, its guard page, and a little more
/// for allocator arenas, as measured): `vm.max_map_count` / this = threads.
pub const MAPS_PER_THREAD: u64 = 4;

/// What a server spends on each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerConnection {
    /// A descriptor and a thread: the thread-per-connection model.
    FileAndThread,
    /// A descriptor only: an event loop (`--model poll`), where threads do not count.
    File,
}

/// One limit of the system and how many connections it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Whether it caps threads (else descriptors).
    pub threads: bool,
    /// What the limit is, e.g. `open files (ulimit -n) 1024`.
    pub name: String,
    /// How many connections it leaves room for.
    pub connections: u64,
    /// What to do to raise it.
    pub fix: &'static str,
}

/// Raises the soft open-file limit to the hard limit. Returns the limit now in force, or
/// `None` where the system has none (Windows).
pub fn raise_open_file_limit() -> std::io::Result<Option<u64>> {
    os::raise_open_file_limit()
}

/// The limits of this process that cap its connection count, smallest first.
pub fn limits() -> Vec<Limit> {
    limits_from(&os::process_limits())
}

fn limits_from(p: &ProcessLimits) -> Vec<Limit> {
    // What the system reports, how many connections each allows, and how to raise it.
    // Each limit caps descriptors or threads (`threads`).
    let limit =
        |value: Option<u64>, what: &str, threads: bool, per: fn(u64) -> u64, fix: &'static str| {
            value.map(|n| Limit {
                threads,
                name: format!("{what} {n}"),
                connections: per(n),
                fix,
            })
        };
    let mut out: Vec<Limit> = [
        limit(
            p.open_files,
            "open files (ulimit -n)",
            false,
            |n| n.saturating_sub(FD_RESERVE),
            "raise it with `ulimit -n` before starting the server",
        ),
        limit(
            p.user_threads,
            "processes and threads per user (ulimit -u)",
            true,
            |n| n,
            "raise it with `ulimit -u`",
        ),
        limit(
            p.machine_threads,
            "threads on this machine (kernel.threads-max)",
            true,
            |n| n,
            "raise kernel.threads-max with sysctl",
        ),
        limit(
            p.memory_maps,
            &format!("memory maps, about {MAPS_PER_THREAD} per thread (vm.max_map_count)"),
            true,
            |n| n / MAPS_PER_THREAD,
            "raise vm.max_map_count with sysctl (past it the process is aborted, not refused)",
        ),
        limit(
            p.cgroup_tasks,
            "tasks in this cgroup (pids.max)",
            true,
            |n| n,
            "raise the container's pids limit",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    out.sort_by_key(|l| l.connections);
    out
}

/// The limits this system does not report, for one line at start-up: `None` when it
/// reports the ones that matter (open files, and threads or memory maps).
pub fn unchecked(per: PerConnection) -> Option<String> {
    unchecked_from(&os::process_limits(), per)
}

fn unchecked_from(p: &ProcessLimits, per: PerConnection) -> Option<String> {
    let threads = per == PerConnection::FileAndThread;
    let mut missing = Vec::new();
    if p.open_files.is_none() {
        missing.push("open files");
    }
    if threads && p.user_threads.is_none() && p.machine_threads.is_none() {
        missing.push("threads");
    }
    if threads && p.memory_maps.is_none() && cfg!(target_os = "linux") {
        missing.push("memory maps");
    }
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "limits on {}: {} ({}), so --max-connections is not checked against them",
        missing.join(", "),
        os::NOT_AVAILABLE,
        if cfg!(windows) {
            "Windows sets none per process; memory is the limit"
        } else {
            "this system does not report them"
        }
    ))
}

/// What a server prints at start-up about its `--max-connections`: the limits it exceeds,
/// and the ones this system does not report.
pub fn startup_warnings(max_connections: usize, per: PerConnection) -> Vec<String> {
    let mut out: Vec<String> = unchecked(per).into_iter().collect();
    out.extend(check(max_connections, per));
    out
}

/// The limits that `max_connections` exceeds, as warnings to print at start-up.
pub fn check(max_connections: usize, per: PerConnection) -> Vec<String> {
    let limits = limits()
        .into_iter()
        .filter(|l| per == PerConnection::FileAndThread || !l.threads);
    check_against(limits.collect(), max_connections)
}

fn check_against(limits: Vec<Limit>, max_connections: usize) -> Vec<String> {
    limits
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_maximum_is_warned_about_and_a_small_one_is_not() {
        let threads = PerConnection::FileAndThread;
        assert!(check(1, threads).is_empty(), "{:?}", check(1, threads));
        let warnings = check_against(
            limits_from(&ProcessLimits {
                open_files: Some(1024),
                memory_maps: Some(65_530),
                ..ProcessLimits::default()
            }),
            usize::MAX / 2,
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        for w in &warnings {
            assert!(
                w.contains("lower --max-connections") && !w.contains('\n'),
                "{w}"
            );
        }
        if cfg!(unix) {
            assert!(!check(usize::MAX / 2, threads).is_empty());
            // An event loop needs no thread per connection: only the descriptors count.
            let files = check(usize::MAX / 2, PerConnection::File);
            assert_eq!(files.len(), 1, "{files:?}");
            assert!(files[0].contains("open files"), "{files:?}");
        }
    }

    #[test]
    fn a_system_without_limits_says_so_in_one_line() {
        let threads = PerConnection::FileAndThread;
        let none = unchecked_from(&ProcessLimits::default(), threads).unwrap();
        assert!(none.contains("not available on this system"), "{none}");
        assert!(
            none.contains("open files") && none.contains("threads"),
            "{none}"
        );
        let all = ProcessLimits {
            open_files: Some(1024),
            user_threads: Some(100),
            memory_maps: Some(65_530),
            ..ProcessLimits::default()
        };
        assert_eq!(unchecked_from(&all, threads), None);
        let files_only = ProcessLimits {
            open_files: Some(1024),
            ..ProcessLimits::default()
        };
        assert_eq!(unchecked_from(&files_only, PerConnection::File), None);
        if cfg!(target_os = "linux") {
            assert_eq!(unchecked(threads), None, "Linux reports every limit");
        }
        if cfg!(windows) {
            assert!(unchecked(threads).is_some());
        }
    }

    /// A limit the system does not set (unlimited, or not reported) cannot be exceeded: no
    /// warning for it, however many connections, and the start-up says it was not checked.
    /// (Raising the open-file limit is tested in `os`, in a child process.)
    #[test]
    fn an_unlimited_limit_warns_of_nothing_and_is_named_unchecked() {
        let unlimited = ProcessLimits {
            open_files: None,
            user_threads: Some(100),
            memory_maps: Some(65_530),
            ..ProcessLimits::default()
        };
        let warnings = check_against(limits_from(&unlimited), usize::MAX / 2);
        assert!(
            warnings.iter().all(|w| !w.contains("open files")),
            "{warnings:?}"
        );
        assert_eq!(
            warnings.len(),
            2,
            "the two limits that are set: {warnings:?}"
        );
        let unchecked = unchecked_from(&unlimited, PerConnection::FileAndThread).unwrap();
        assert!(unchecked.contains("open files"), "{unchecked}");
        assert!(!unchecked.contains("threads"), "{unchecked}");
    }
}
