//! # The tutorial's session, graded: `tcp-client --check` without `--attacks`
//!
//! The greeting, the replies to `li`, `bo` and `ca`, and the close after `exit`, each
//! checked byte for byte. [`run_check`] gives the steps; [`session_report`] the verdicts
//! of a grade. The attack suite ([`crate::attacks`]) starts with it too.

use std::time::{Duration, Instant};

use common::grade::{Report, StepDeadline, Verdict};
use common::output::printable;

use crate::{
    Client, ClientError, Options, EXIT_MESSAGE, EXPECTED_GREETING, EXPECTED_REPLY_PREFIX,
    TUTORIAL_MESSAGES,
};

/// The tutorial's session, all its waits together, is over within this.
const SESSION_DEADLINE: Duration = Duration::from_secs(20);

/// One step of `--check`: what was expected, what came, and whether they match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStep {
    pub what: String,
    pub expected: String,
    pub got: String,
    pub ok: bool,
}

/// Plays the tutorial's session and verifies every reply byte for byte, and that the
/// server closes after `exit`. Returns the steps; the server passed when all are ok.
/// Only a failure to connect is an `Err`: everything after that is a step.
pub fn run_check(opts: &Options) -> Result<Vec<SessionStep>, ClientError> {
    let mut client = Client::connect(opts)?;
    let mut steps = Vec::new();
    let mut expect = |what: String, expected: &[u8], got: Result<Option<Vec<u8>>, ClientError>| {
        let (got, ok) = match got {
            Ok(Some(m)) => (format!("\"{}\"", printable(&m)), m == expected),
            Ok(None) => ("end of stream".to_string(), false),
            Err(e) => (e.to_string(), false),
        };
        let step = SessionStep {
            what,
            expected: format!("\"{}\"", printable(expected)),
            got,
            ok,
        };
        let ok = step.ok;
        steps.push(step);
        ok
    };
    let names = session_step_names();
    let mut alive = expect(
        names[0].clone(),
        EXPECTED_GREETING,
        client.greeting().map(Some),
    );
    for (m, name) in TUTORIAL_MESSAGES[..3].iter().zip(&names[1..]) {
        if !alive {
            break;
        }
        let want = [EXPECTED_REPLY_PREFIX, m.as_bytes()].concat();
        alive = match client.send(m.as_bytes()) {
            Ok(()) => expect(name.clone(), &want, client.recv(name)),
            Err(e) => expect(name.clone(), &want, Err(e)),
        };
    }
    if alive {
        let closed = client
            .send(EXIT_MESSAGE)
            .and_then(|()| client.recv("end of stream after exit"));
        let (got, ok) = match closed {
            Ok(None) => ("end of stream".to_string(), true),
            Ok(Some(m)) => (format!("\"{}\"", printable(&m)), false),
            Err(e) => (e.to_string(), false),
        };
        steps.push(SessionStep {
            what: names[4].clone(),
            expected: "end of stream".into(),
            got,
            ok,
        });
    }
    Ok(steps)
}

/// The tutorial's session as a report: one verdict per step, all within one deadline;
/// the steps after a failed one are marked not tried.
pub fn session_report(opts: &Options) -> Result<Report, ClientError> {
    let opts = Options {
        deadline: Some(StepDeadline::new(SESSION_DEADLINE, Instant::now())),
        ..opts.clone()
    };
    let steps = run_check(&opts)?;
    let names = session_step_names();
    let mut verdicts: Vec<Verdict> = steps
        .into_iter()
        .map(|s| {
            let detail = if s.ok {
                s.got
            } else {
                format!("expected {}, got {}", s.expected, s.got)
            };
            Verdict::of(s.what, if s.ok { Ok(detail) } else { Err(detail) })
        })
        .collect();
    for name in names.into_iter().skip(verdicts.len()) {
        verdicts.push(Verdict::not_tried(name, "an earlier step failed"));
    }
    Ok(Report::new(opts.addr.to_string(), verdicts))
}

/// The names of the session's steps: the greeting, the reply to each of the three
/// messages, the close after `exit`.
fn session_step_names() -> [String; 5] {
    let [li, bo, ca, exit] = TUTORIAL_MESSAGES;
    [
        "greeting".to_string(),
        format!("reply to \"{li}\""),
        format!("reply to \"{bo}\""),
        format!("reply to \"{ca}\""),
        format!("close after \"{exit}\""),
    ]
}
