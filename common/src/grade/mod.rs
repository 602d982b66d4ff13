//! # Grading a server: steps, deadlines, verdicts, one report
//!
//! The graders (`tcp-client --check --attacks`, `udp-client --check`, `upload send
//! --check`) judge a server in steps. Each step passes or fails with one line that says
//! why, and the report is printed the same way by every grader (one line per step, then a
//! verdict), or as one JSON object for a spreadsheet.
//!
//! A grader meets servers that are wrong in every way a student's can be: one that serves
//! one client at a time, never greets, never answers, never closes, resets, or dies half
//! way. Whatever it does, the grader must end, and soon: a teacher grading a class of 30
//! cannot wait an hour for one stuck server. So every wait has a limit, and so does every
//! step, and so does the whole run:
//!
//! - a wait's own limit, such as `--timeout` for a reply;
//! - the step's [`StepDeadline`], which every wait inside the step is cut to;
//! - the run's limit ([`RUN_LIMIT`]), which the steps are cut to in turn.
//!
//! When a wait runs out, the failure says which of these ran out ([`Wait::ran_out`]).
//! [`run_steps`] runs the steps in order under those limits.
//!
//! [`class`] grades many servers at once (`--targets`, `--jobs`), and [`html`] writes the
//! teacher's page (`--report`).

pub mod class;
pub mod html;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::addr::Endpoint;

/// The longest a whole grading run of one server may take, however the server behaves:
/// its first connection and every step. (When a class is graded at once, the time a heavy
/// step waits for its turn is not counted: that waiting is the class's, not the server's.)
pub const RUN_LIMIT: Duration = Duration::from_secs(60);
/// The shortest wait a step may still start (a zero timeout means "forever" to a socket).
const MIN_WAIT: Duration = Duration::from_millis(1);

/// One step: what was tried, and whether the server got it right.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub step: String,
    pub ok: bool,
    /// One line: what happened, or why it failed.
    pub detail: String,
    /// How long the step took, in milliseconds (0 for a step not tried).
    pub ms: u64,
}

impl Verdict {
    /// A verdict from a step's outcome: `Ok(what happened)` or `Err(why it failed)`.
    pub fn of(step: impl Into<String>, outcome: Result<String, String>) -> Verdict {
        let (ok, detail) = match outcome {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        Verdict {
            step: step.into(),
            ok,
            detail,
            ms: 0,
        }
    }

    /// A step that was not tried, and why.
    pub fn not_tried(step: impl Into<String>, why: &str) -> Verdict {
        Verdict::of(step, Err(format!("not tried: {why}")))
    }

    /// Whether this step was not tried at all (it failed without running).
    pub fn was_not_tried(&self) -> bool {
        !self.ok && self.detail.starts_with("not tried:")
    }
}

/// One server of a class: a line of a `--targets` file (see [`class`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub addr: Endpoint,
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

/// One server's row: its verdicts, or why it could not be graded at all.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    pub name: String,
    pub addr: String,
    pub passed: bool,
    pub passed_steps: usize,
    /// How many steps there were (their verdicts are in `verdicts`).
    pub total_steps: usize,
    /// The first failure (`step: reason`), or why the server could not be graded.
    pub why: Option<String>,
    /// How long grading it took.
    pub seconds: f64,
    /// Every step's verdict; none when the server could not be graded (see `why`).
    pub verdicts: Vec<Verdict>,
}

impl Row {
    /// The row of `target`, from its grade (`Err`: it could not be graded, and why).
    pub fn new(target: &Target, graded: Result<Report, String>, seconds: f64) -> Row {
        let addr = target.addr.to_string();
        match graded {
            Ok(report) => Row {
                name: target.name.clone(),
                addr,
                passed: report.passed,
                passed_steps: report.passed_steps(),
                total_steps: report.steps.len(),
                why: report
                    .first_failure()
                    .map(|f| format!("{}: {}", f.step, f.detail)),
                seconds,
                verdicts: report.steps,
            },
            Err(why) => Row {
                name: target.name.clone(),
                addr,
                passed: false,
                passed_steps: 0,
                total_steps: 0,
                why: Some(why),
                seconds,
                verdicts: Vec::new(),
            },
        }
    }

    /// The row for people: name, address, verdict, score, time, first failure.
    pub fn to_text(&self) -> String {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        format!(
            "{:<16} {:<22} {verdict} {:>2}/{:<2} {:>5.1} s  {}",
            self.name,
            self.addr,
            self.passed_steps,
            self.total_steps,
            self.seconds,
            self.why.as_deref().unwrap_or("")
        )
    }
}

/// The time a step has, all its waits together: a wait inside the step is never longer
/// than what is left of it. Time is passed in, so it can be tested exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepDeadline {
    ends: Instant,
    budget: Duration,
    /// The run's limit, when it cut this step's budget short: then it is that limit that
    /// runs out.
    cut_by_run: Option<Duration>,
}

impl StepDeadline {
    /// A step with `budget` from `now`.
    pub fn new(budget: Duration, now: Instant) -> StepDeadline {
        StepDeadline {
            ends: now + budget,
            budget,
            cut_by_run: None,
        }
    }

    /// The step's time, from its start.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// What is left of it at `now`.
    pub fn left(&self, now: Instant) -> Duration {
        self.ends.saturating_duration_since(now)
    }

    /// Whether it has run out at `now`.
    pub fn passed(&self, now: Instant) -> bool {
        now >= self.ends
    }

    /// The limit that ends the step, as a failure says it: `the step's 10 s deadline ran
    /// out`, or `the run's 60 s limit ran out` when that came first.
    pub fn ran_out(&self) -> String {
        match self.cut_by_run {
            Some(run) => format!("the run's {} limit ran out", seconds(run)),
            None => format!("the step's {} deadline ran out", seconds(self.budget)),
        }
    }

    /// The moment it ends.
    pub fn ends(&self) -> Instant {
        self.ends
    }
}

/// One wait inside a step (a connect, a reply, a close, all the writes of one message),
/// and its limits: its own (such as `--timeout`, named by `flag`), and the step's deadline.
/// Before each system call of the wait, [`timeout_at`](Self::timeout_at) gives what the
/// socket's timeout must be, so that no call, and no wait made of many calls, goes past
/// the step; when one times out, [`ran_out`](Self::ran_out) says which limit it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    own: Option<Duration>,
    flag: &'static str,
    step: Option<StepDeadline>,
}

impl Wait {
    /// A wait of at most `own` for each system call (`None`, or zero: no limit of its own),
    /// inside `step` if any.
    pub fn new(own: Option<Duration>, flag: &'static str, step: Option<StepDeadline>) -> Wait {
        Wait {
            own: own.filter(|d| !d.is_zero()),
            flag,
            step,
        }
    }

    /// The socket timeout for a system call of this wait made at `now`: the wait's own
    /// limit, cut to what is left of the step (never zero, which a socket takes for "for
    /// ever"); `None` when there is no limit at all. A `TimedOut` error once the step has
    /// passed: the wait must end.
    pub fn timeout_at(&self, now: Instant) -> std::io::Result<Option<Duration>> {
        let Some(step) = self.step else {
            return Ok(self.own);
        };
        if step.passed(now) {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let left = step.left(now).max(MIN_WAIT);
        Ok(Some(self.own.map_or(left, |own| own.min(left))))
    }

    /// Whether it is the step's deadline, not the wait's own limit, that has run out at `now`.
    pub fn step_passed(&self, now: Instant) -> bool {
        self.step.is_some_and(|s| s.passed(now))
    }

    /// What ran out, for a wait that timed out at `now`: `timed out after 5 s (--timeout)`,
    /// or the step's deadline (see [`StepDeadline::ran_out`]).
    pub fn ran_out(&self, now: Instant) -> String {
        match (self.step, self.own) {
            (Some(step), _) if step.passed(now) => step.ran_out(),
            (_, Some(own)) => format!("timed out after {} ({})", seconds(own), self.flag),
            (Some(step), None) => step.ran_out(),
            (None, None) => "timed out".to_string(),
        }
    }
}

/// Connects to `to` within `wait` (its own limit, such as `--connect-timeout`, cut to the
/// step's deadline), trying each of its addresses as [`crate::net::connect`] does. A
/// connect that the step's deadline cut says so in its hint.
pub fn connect(
    to: &crate::addr::Endpoint,
    wait: &Wait,
    fallback: Duration,
    server_name: &str,
) -> Result<std::net::TcpStream, crate::net::NetError> {
    let cut = |mut e: crate::net::NetError| {
        let now = Instant::now();
        if wait.step_passed(now) && crate::net::is_timeout(&e.source) {
            e.hint = wait.ran_out(now);
        }
        e
    };
    match wait.timeout_at(Instant::now()) {
        Ok(within) => crate::net::connect(to, within.unwrap_or(fallback), server_name).map_err(cut),
        Err(e) => Err(cut(crate::net::NetError {
            what: format!("could not connect to {to}"),
            source: e,
            hint: String::new(),
        })),
    }
}

/// `5 s`, `0.5 s`: a limit as the failures say it.
pub fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// One step of a grader, ready to run.
pub struct Step<'a> {
    pub name: String,
    /// How long it may take, the fresh client after it included.
    pub budget: Duration,
    /// It loads the machine (many clients, a flood): when a class is graded in parallel,
    /// such steps take turns, so that one server's flood cannot fail another's steps.
    pub heavy: bool,
    /// The step: what happened, or why it failed; every wait inside it within the deadline.
    pub run: Box<dyn Fn(StepDeadline) -> Result<String, String> + 'a>,
}

/// The steps that load the machine take turns, across every grading in this process.
static HEAVY_TURN: Mutex<()> = Mutex::new(());

/// Runs `steps` in order, each within its own deadline and all within `limit` (the
/// graders give [`RUN_LIMIT`]; time spent waiting for a turn at a heavy step does not
/// count). With `gate`, a server that fails the first step is not tried on the others,
/// which would only fail the same way one timeout at a time; `gate` says why in their
/// verdicts.
pub fn run_steps(steps: Vec<Step<'_>>, gate: Option<&str>, limit: Duration) -> Vec<Verdict> {
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(steps.len());
    let mut spent = Duration::ZERO;
    for step in steps {
        if let (Some(why), Some(first)) = (gate, verdicts.first()) {
            if !first.ok {
                verdicts.push(Verdict::not_tried(step.name, why));
                continue;
            }
        }
        let left = limit.saturating_sub(spent);
        if left < MIN_WAIT {
            let why = format!("the run's {} limit ran out", seconds(limit));
            verdicts.push(Verdict::not_tried(step.name, &why));
            continue;
        }
        let _turn = step
            .heavy
            .then(|| HEAVY_TURN.lock().unwrap_or_else(|e| e.into_inner()));
        let started = Instant::now();
        let mut deadline = StepDeadline::new(step.budget.min(left), started);
        deadline.cut_by_run = (left < step.budget).then_some(limit);
        let outcome = (step.run)(deadline);
        let took = started.elapsed();
        spent += took;
        let mut verdict = Verdict::of(step.name, outcome);
        verdict.ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        verdicts.push(verdict);
    }
    verdicts
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
        assert_eq!(r.first_failure().map(|v| v.step.as_str()), Some("b"));
        assert!(!Report::new("s".into(), vec![]).passed);
        assert!(r.to_json().contains(r#""detail":"broken""#));
        assert!(Verdict::not_tried("c", "why").was_not_tried());
        assert!(!r.steps[1].was_not_tried());
    }

    #[test]
    fn a_wait_is_cut_to_the_step_and_says_which_limit_ran_out() {
        let t0 = Instant::now();
        let secs = Duration::from_secs;
        let step = StepDeadline::new(secs(10), t0);
        let wait = Wait::new(Some(secs(5)), "--timeout", Some(step));
        // Early in the step, the wait's own limit is the shorter one, and it is what ran
        // out when a call times out.
        assert_eq!(wait.timeout_at(t0).unwrap(), Some(secs(5)));
        assert_eq!(
            wait.ran_out(t0 + secs(5)),
            "timed out after 5 s (--timeout)"
        );
        assert!(!wait.step_passed(t0 + secs(5)));
        // Late in the step, what is left of it; past it, no call at all.
        assert_eq!(wait.timeout_at(t0 + secs(8)).unwrap(), Some(secs(2)));
        assert_eq!(
            wait.ran_out(t0 + secs(10)),
            "the step's 10 s deadline ran out"
        );
        assert!(wait.step_passed(t0 + secs(10)));
        let past = wait.timeout_at(t0 + secs(10)).unwrap_err();
        assert_eq!(past.kind(), std::io::ErrorKind::TimedOut);
        // No limit of its own (--timeout 0): the step's, never zero.
        let forever = Wait::new(Some(Duration::ZERO), "--timeout", Some(step));
        assert_eq!(forever.timeout_at(t0 + secs(1)).unwrap(), Some(secs(9)));
        let nearly = t0 + secs(10) - Duration::from_micros(10);
        assert_eq!(forever.timeout_at(nearly).unwrap(), Some(MIN_WAIT));
        assert_eq!(
            forever.ran_out(t0 + secs(3)),
            "the step's 10 s deadline ran out"
        );
        assert!(step.passed(t0 + secs(10)) && !step.passed(t0 + secs(9)));
        assert_eq!(step.left(t0 + secs(4)), secs(6));
        // Outside a step, a wait is its own limit, or none.
        let alone = Wait::new(None, "--timeout", None);
        assert_eq!(alone.timeout_at(t0).unwrap(), None);
        assert_eq!(alone.ran_out(t0), "timed out");
        assert_eq!(
            Wait::new(Some(secs(3)), "--connect-timeout", None).ran_out(t0),
            "timed out after 3 s (--connect-timeout)"
        );
    }

    fn step<'a>(
        name: &str,
        budget: Duration,
        run: impl Fn(StepDeadline) -> Result<String, String> + 'a,
    ) -> Step<'a> {
        Step {
            name: name.into(),
            budget,
            heavy: false,
            run: Box::new(run),
        }
    }

    #[test]
    fn steps_run_in_order_and_a_failed_gate_stops_the_rest() {
        let order = std::cell::RefCell::new(Vec::new());
        let ms = Duration::from_millis;
        let verdicts = run_steps(
            vec![
                step("one", ms(100), |d| {
                    order.borrow_mut().push(1);
                    assert_eq!(d.budget(), ms(100));
                    Ok("fine".into())
                }),
                step("two", ms(100), |_| {
                    order.borrow_mut().push(2);
                    Err("broken".into())
                }),
                step("three", ms(100), |_| {
                    order.borrow_mut().push(3);
                    Ok("fine".into())
                }),
            ],
            Some("the first step failed"),
            RUN_LIMIT,
        );
        assert_eq!(*order.borrow(), [1, 2, 3], "only a failed first step gates");
        assert_eq!(
            verdicts.iter().map(|v| v.ok).collect::<Vec<_>>(),
            [true, false, true]
        );
        let verdicts = run_steps(
            vec![
                step("one", ms(100), |_| Err("broken".into())),
                step("two", ms(100), |_| panic!("a gated step must not run")),
            ],
            Some("the first step failed"),
            RUN_LIMIT,
        );
        assert_eq!(verdicts[1].detail, "not tried: the first step failed");
        assert_eq!(verdicts[1].step, "two");
    }

    #[test]
    fn the_run_limit_cuts_the_steps_that_would_pass_it() {
        let ms = Duration::from_millis;
        // A step longer than the whole run: its deadline is the run's, and says so.
        let verdicts = run_steps(
            vec![step("long", ms(500), |d| {
                assert_eq!(d.budget(), ms(100));
                Err(d.ran_out())
            })],
            None,
            ms(100),
        );
        assert_eq!(verdicts[0].detail, "the run's 0.1 s limit ran out");
        // A step that takes its whole deadline uses up the run: the next is not tried.
        let verdicts = run_steps(
            vec![
                step("first", ms(100), |d| {
                    std::thread::sleep(d.left(Instant::now()));
                    Err(d.ran_out())
                }),
                step("second", ms(100), |_| {
                    panic!("past the run's limit: not tried")
                }),
            ],
            None,
            ms(100),
        );
        assert_eq!(verdicts[0].detail, "the step's 0.1 s deadline ran out");
        assert!(verdicts[0].ms >= 100, "{:?}", verdicts[0]);
        assert_eq!(
            verdicts[1].detail,
            "not tried: the run's 0.1 s limit ran out"
        );
    }
}
