//! # Grading a class: many servers at once, one row each
//!
//! `--check --targets FILE` grades every server a file lists, one `NAME ADDR` per line:
//!
//! ```text
//! # the class of 2026
//! alice   192.0.2.11:9999
//! bob     192.0.2.12:9999   # his laptop
//! ```
//!
//! A grading run mostly waits (for replies, for deadlines), so servers are graded in
//! parallel, `--jobs` at a time: a class of 30 with a few stuck servers is done in
//! minutes, not in the hour it would take one after another. What loads the machine (a
//! flood, 50 clients at once) takes turns across the class (see [`super::Step::heavy`]), so
//! that no server fails because of what its neighbours are put through.
//!
//! The rows are printed in the file's order as soon as each is known; `--json` prints one
//! object per server instead, and `--report FILE.html` writes one page for the teacher
//! ([`super::html`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use crate::addr::Endpoint;
use crate::output::{err_line, out_line};

pub use super::Target;
use super::{html, Report, Row};

/// Servers graded at once, unless `--jobs` says otherwise: enough to hide the waits of
/// stuck servers, few enough for a laptop (the heavy steps take turns anyway).
pub const DEFAULT_JOBS: usize = 8;

/// The class options of every grader.
#[derive(Debug, Clone, clap::Args)]
pub struct ClassArgs {
    /// With --check: grade every server listed in FILE (one `NAME ADDR` per line; `#`
    /// starts a comment), in parallel, and print one row per server and a summary.
    #[arg(long, value_name = "FILE", requires = "check")]
    pub targets: Option<PathBuf>,
    /// With --targets: how many servers to grade at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_JOBS, value_parser = crate::cli::parse_positive)]
    pub jobs: usize,
    /// With --check: also write the grades as one HTML page (a row per server, a column
    /// per step, the reason on every failed cell), readable offline.
    #[arg(long, value_name = "FILE.html", requires = "check")]
    pub report: Option<PathBuf>,
}

/// Reads a `--targets` file: `NAME ADDR` per line, blank lines and `#` comments skipped.
/// A bad line is an error that names it.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(addr), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "line {}: expected `NAME ADDR`, got {line:?}",
                i + 1
            ));
        };
        let addr = Endpoint::parse(addr).map_err(|e| format!("line {}: {e}", i + 1))?;
        targets.push(Target {
            name: name.to_string(),
            addr,
        });
    }
    if targets.is_empty() {
        return Err("no `NAME ADDR` line in it".into());
    }
    Ok(targets)
}

/// Grades `targets`, `jobs` at a time, with `grade`. `on_row` sees each row as soon as it
/// and every row before it are known, so they come out in the file's order. Returns the
/// rows in that order.
pub fn grade_all(
    targets: &[Target],
    jobs: usize,
    grade: &(dyn Fn(&Target) -> Result<Report, String> + Sync),
    on_row: &mut dyn FnMut(&Row),
) -> Vec<Row> {
    let next = AtomicUsize::new(0);
    let (done, finished) = mpsc::channel::<(usize, Row)>();
    let mut rows: Vec<Option<Row>> = vec![None; targets.len()];
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, targets.len().max(1)) {
            let (next, done) = (&next, done.clone());
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(target) = targets.get(i) else { break };
                let started = Instant::now();
                // A bug of the grader's on one server costs that server's row, never the
                // class: the rows after it and the report still come.
                let graded =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grade(target)))
                        .unwrap_or_else(|_| {
                            Err(
                                "the grader itself failed on this server (a bug in the grader: \
                         please report it)"
                                    .to_string(),
                            )
                        });
                let row = Row::new(target, graded, started.elapsed().as_secs_f64());
                if done.send((i, row)).is_err() {
                    break;
                }
            });
        }
        drop(done);
        // Print in order: row i once rows 0..i are out.
        let mut printed = 0;
        for (i, row) in finished {
            rows[i] = Some(row);
            while let Some(Some(row)) = rows.get(printed) {
                on_row(row);
                printed += 1;
            }
        }
    });
    rows.into_iter().flatten().collect()
}

/// What one grader is, for [`check`].
pub struct Grader<'a> {
    /// The program and its version, for the report: `tcp-client 0.1.0`.
    pub program: &'static str,
    pub version: &'static str,
    /// What is graded, as the verdict lines say it: `attacks`, `check`.
    pub what: &'static str,
    /// The command, as the report's title says it: `tcp-client --check --attacks`.
    pub command: String,
    /// Grades one server; `Err` when it cannot be graded at all (nothing listens there).
    pub grade: &'a (dyn Fn(&Target) -> Result<Report, String> + Sync),
}

/// Why `--check` could not run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// A bad `--targets` file, or a report that cannot be written: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The one server to grade could not be graded (nothing listens there, say): exit 1.
    #[error("{0}")]
    NotGraded(String),
}

impl CheckError {
    /// The exit status for it: 2 for usage, 1 for a server that could not be graded.
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckError::Usage(_) => crate::EXIT_USAGE as u8,
            CheckError::NotGraded(_) => crate::EXIT_FAILURE as u8,
        }
    }
}

/// `--check` of every grader: the server `one`, or with `--targets` the whole class.
/// Prints the verdicts (one server: a line per step; a class: a row per server), or JSON
/// (one object per server), and writes `--report`. `Ok(true)` when every server passed.
pub fn check(
    grader: &Grader<'_>,
    one: &Endpoint,
    class: &ClassArgs,
    json: bool,
) -> Result<bool, CheckError> {
    let started = chrono::Local::now();
    let clock = Instant::now();
    let mut not_graded = None;
    let rows = match &class.targets {
        None => {
            let target = Target {
                name: one.to_string(),
                addr: one.clone(),
            };
            let graded = (grader.grade)(&target);
            match &graded {
                Ok(report) if json => out_line(format_args!("{}", report.to_json())),
                Ok(report) => report.print(grader.what),
                Err(why) => not_graded = Some(why.clone()),
            }
            vec![Row::new(&target, graded, clock.elapsed().as_secs_f64())]
        }
        Some(file) => {
            let targets = read_targets(file)?;
            let rows = grade_all(&targets, class.jobs, grader.grade, &mut |row| {
                if json {
                    out_line(format_args!(
                        "{}",
                        serde_json::to_string(row).unwrap_or_default()
                    ));
                } else {
                    out_line(format_args!("{}", row.to_text()));
                }
            });
            let passed = rows.iter().filter(|r| r.passed).count();
            if !json {
                out_line(format_args!(
                    "{passed} of {} servers passed the {}",
                    rows.len(),
                    grader.what
                ));
            }
            err_line(format_args!(
                "{}: graded {} servers in {:.1} s, {} at a time",
                grader.program,
                rows.len(),
                clock.elapsed().as_secs_f64(),
                class.jobs.min(rows.len())
            ));
            rows
        }
    };
    if let Some(path) = &class.report {
        let page = html::page(&html::Class {
            command: &grader.command,
            program: grader.program,
            version: grader.version,
            started,
            seconds: clock.elapsed().as_secs_f64(),
            rows: &rows,
        });
        std::fs::write(path, page).map_err(|e| {
            CheckError::Usage(format!("could not write --report {}: {e}", path.display()))
        })?;
        err_line(format_args!(
            "{}: the report is in {}",
            grader.program,
            path.display()
        ));
    }
    match not_graded {
        Some(why) => Err(CheckError::NotGraded(why)),
        None => Ok(rows.iter().all(|r| r.passed)),
    }
}

/// The targets of `--targets FILE`; a usage error that names the file and the line.
fn read_targets(file: &Path) -> Result<Vec<Target>, CheckError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        CheckError::Usage(format!("could not read --targets {}: {e}", file.display()))
    })?;
    parse_targets(&text)
        .map_err(|e| CheckError::Usage(format!("--targets {}: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::Verdict;
    use std::time::Duration;

    #[test]
    fn a_targets_file_has_names_and_addresses_and_comments() {
        let t = parse_targets("# class\nalice 127.0.0.1:9999\n\n bob  [::1]:7  # his\n").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].name, "bob");
        assert_eq!(t[1].addr.to_string(), "[::1]:7");
        assert_eq!(
            parse_targets("alice\n").unwrap_err(),
            "line 1: expected `NAME ADDR`, got \"alice\""
        );
        assert!(parse_targets("a 1:2:3\n")
            .unwrap_err()
            .starts_with("line 1:"));
        assert_eq!(
            parse_targets("# nobody\n").unwrap_err(),
            "no `NAME ADDR` line in it"
        );
    }

    fn targets(n: usize) -> Vec<Target> {
        (0..n)
            .map(|i| Target {
                name: format!("s{i}"),
                addr: Endpoint::parse(&format!("127.0.0.1:{}", 1000 + i)).unwrap(),
            })
            .collect()
    }

    #[test]
    fn servers_are_graded_at_once_and_rows_come_in_the_files_order() {
        let targets = targets(12);
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let grade = |t: &Target| -> Result<Report, String> {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let i: u64 = t.name[1..].parse().unwrap();
            // The first four wait until four are graded at once (as four jobs must; one
            // job would never get there, and the test would fail after 5 s).
            let by = Instant::now() + Duration::from_secs(5);
            while i < 4 && most.load(Ordering::SeqCst) < 4 && Instant::now() < by {
                std::thread::sleep(Duration::from_millis(1));
            }
            // Later servers finish first: the rows must still come out in order.
            std::thread::sleep(Duration::from_millis(5 * (12 - i)));
            running.fetch_sub(1, Ordering::SeqCst);
            if i.is_multiple_of(3) {
                return Err(format!("could not connect to {}", t.addr));
            }
            let ok = Verdict::of("step", Ok("fine".into()));
            let bad = Verdict::of("other", Err("broken".into()));
            Ok(Report::new(
                t.addr.to_string(),
                if i.is_multiple_of(2) {
                    vec![ok]
                } else {
                    vec![ok, bad]
                },
            ))
        };
        // A grader that fails on one server costs that row only.
        let panicky = |t: &Target| -> Result<Report, String> {
            if t.name == "s1" {
                panic!("a bug");
            }
            Ok(Report::new(
                t.addr.to_string(),
                vec![Verdict::of("step", Ok("fine".into()))],
            ))
        };
        let rows = grade_all(&targets[..3], 2, &panicky, &mut |_| {});
        assert_eq!(rows.len(), 3);
        assert!(rows[1]
            .why
            .as_deref()
            .unwrap()
            .contains("the grader itself failed"));
        assert!(rows[0].passed && rows[2].passed);
        let mut seen = Vec::new();
        let rows = grade_all(&targets, 4, &grade, &mut |row| seen.push(row.name.clone()));
        let names: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
        assert_eq!(seen, names);
        assert_eq!(
            rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            names
        );
        assert_eq!(most.load(Ordering::SeqCst), 4, "four at a time");
        assert!(rows[0]
            .why
            .as_deref()
            .unwrap()
            .starts_with("could not connect"));
        assert_eq!(
            (rows[1].passed, rows[1].passed_steps, rows[1].total_steps),
            (false, 1, 2)
        );
        assert_eq!(rows[1].why.as_deref(), Some("other: broken"));
        assert!(rows[2].passed && rows[2].why.is_none());
        assert!(rows[2].to_text().starts_with("s2 "));
        assert!(
            rows[2].to_text().contains("passed  1/1"),
            "{}",
            rows[2].to_text()
        );
        let line = serde_json::to_string(&rows[1]).unwrap();
        assert!(line.contains(r#""name":"s1""#) && line.contains(r#""detail":"broken""#));
    }
}
