//! # `--check`: grade a hello server, one or a whole class
//!
//! `tcp-client --check` plays the tutorial's session and verifies every byte: the greeting,
//! the replies to `li`, `bo` and `ca`, and the close after `exit`. With `--attacks`, the
//! suite of [`crate::attacks`] follows. Either grades one server, or with `--targets` a
//! whole class in parallel (see [`common::grade::class`]), and prints lines for people,
//! JSON, or a page for the teacher (`--report`).
//!
//! Only a server that cannot be reached at all is an error; whatever else it does is a
//! verdict, within a bounded time.

use common::grade::class::{self, ClassArgs, Grader, Target};
use common::grade::Report;

use crate::tutorial::session_report;
use crate::{attacks, ClientError, Options};

/// `tcp-client --check [--attacks]`, against the server of `opts` or the `--targets` of
/// `class`: prints the verdicts (or JSON) and writes `--report`. `Ok(true)` when every
/// server passed.
pub fn main(
    opts: &Options,
    attacks: bool,
    class: &ClassArgs,
    json: bool,
) -> Result<bool, ClientError> {
    // One server: its events on stderr, as a session's; a class: only the rows.
    let one = class.targets.is_none();
    let grade = |target: &Target| -> Result<Report, String> {
        let opts = Options {
            addr: target.addr.clone(),
            quiet: opts.quiet || !one,
            trace: opts.trace && one,
            ..opts.clone()
        };
        let graded = if attacks {
            attacks::run(&opts)
        } else {
            session_report(&opts)
        };
        graded.map_err(|e| e.to_string())
    };
    let grader = Grader {
        program: "tcp-client",
        version: env!("CARGO_PKG_VERSION"),
        what: if attacks { "attacks" } else { "check" },
        command: format!(
            "tcp-client --check{}{}",
            if attacks { " --attacks" } else { "" },
            if opts.framing == common::frame::Framing::default() {
                String::new()
            } else {
                format!(" --framing {}", opts.framing)
            }
        ),
        grade: &grade,
    };
    Ok(class::check(&grader, &opts.addr, class, json)?)
}
