//! # Grading a server: steps, verdicts, one report
//!
//! The graders (`tcp-client --check --attacks`, `udp-client --check`) judge a server in
//! steps. Each step passes or fails with one line that says why, and the report is printed
//! the same way by every grader (one line per step, then a verdict), or as one JSON object
//! for a spreadsheet.

/// One step: what was tried, and whether the server got it right.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub step: &'static str,
    pub ok: bool,
    /// One line: what happened, or why it failed.
    pub detail: String,
}

impl Verdict {
    /// A verdict from a step's outcome: `Ok(what happened)` or `Err(why it failed)`.
    pub fn of(step: &'static str, outcome: Result<String, String>) -> Verdict {
        match outcome {
            Ok(detail) => Verdict {
                step,
                ok: true,
                detail,
            },
            Err(detail) => Verdict {
                step,
                ok: false,
                detail,
            },
        }
    }
}

/// The whole grade of one server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub server: String,
    /// Every step passed (and there was at least one).
    pub passed: bool,
    pub steps: Vec<Verdict>,
}

impl Report {
    pub fn new(server: String, steps: Vec<Verdict>) -> Report {
        Report {
            server,
            passed: !steps.is_empty() && steps.iter().all(|s| s.ok),
            steps,
        }
    }

    pub fn passed_steps(&self) -> usize {
        self.steps.iter().filter(|s| s.ok).count()
    }

    /// The first failure, for a one-row summary.
    pub fn first_failure(&self) -> Option<&Verdict> {
        self.steps.iter().find(|s| !s.ok)
    }

    /// One line per step (`ok` or `FAIL`, the step, the reason), then
    /// `WHAT passed: n of m steps passed` (or `FAILED`).
    pub fn print(&self, what: &str) {
        for s in &self.steps {
            let mark = if s.ok { "ok  " } else { "FAIL" };
            crate::output::out_line(format_args!("{mark}  {}: {}", s.step, s.detail));
        }
        crate::output::out_line(format_args!(
            "{what} {}: {} of {} steps passed",
            if self.passed { "passed" } else { "FAILED" },
            self.passed_steps(),
            self.steps.len()
        ));
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_passes_only_when_every_step_does() {
        let ok = Verdict::of("a", Ok("fine".into()));
        let bad = Verdict::of("b", Err("broken".into()));
        assert!(Report::new("s".into(), vec![ok.clone()]).passed);
        let r = Report::new("s".into(), vec![ok, bad]);
        assert!(!r.passed);
        assert_eq!(r.passed_steps(), 1);
        assert_eq!(r.first_failure().map(|v| v.step), Some("b"));
        assert!(!Report::new("s".into(), vec![]).passed);
        assert!(r.to_json().contains(r#""detail":"broken""#));
    }
}
