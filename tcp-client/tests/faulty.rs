//! The grader against every kind of faulty server a class brings: each gets its exact
//! verdict, step by step, and the run ends within its bound whatever the server does.
//! (Speed is not measured here: the bounds are the grader's promises, far above what a
//! run takes.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use common::grade::RUN_LIMIT;
use tcp_client::attacks::{self, Report};
use tcp_client::ClientError;

use support::options;

/// Time a run may take beyond the grader's own limit: to start, to connect, to join.
const SLACK: Duration = Duration::from_secs(5);

/// Grades `addr` and checks the run's bound: the time of its steps (the tests of this
/// file run at once, and a step that loads the machine waits for the others' to end,
/// which the grader does not count), and its time on the clock, within twice that.
fn grade(addr: std::net::SocketAddr, bound: Duration) -> (Report, Duration) {
    let started = Instant::now();
    let report = attacks::run(&options(addr)).unwrap();
    let on_the_clock = started.elapsed();
    let took = Duration::from_millis(report.steps.iter().map(|s| s.ms).sum());
    assert!(
        on_the_clock <= 2 * bound,
        "took {on_the_clock:?}: {report:#?}"
    );
    // For the person running the tests: what each kind costs the grader.
    let ms: Vec<String> = report.steps.iter().map(|s| s.ms.to_string()).collect();
    common::testing::tell(format_args!(
        "faulty: {}: {} of 12 passed in {:.1} s (ms per step: {})",
        std::thread::current().name().unwrap_or("?"),
        report.passed_steps(),
        took.as_secs_f64(),
        ms.join(" ")
    ));
    assert!(
        took <= bound,
        "took {took:?}, more than {bound:?}: {report:#?}"
    );
    (report, took)
}

/// The verdicts as (ok, detail), step by step.
fn steps(report: &Report) -> Vec<(bool, &str)> {
    report
        .steps
        .iter()
        .map(|s| (s.ok, s.detail.as_str()))
        .collect()
}

/// The first step fails with `why`; the other eleven are not tried.
fn fails_first_step_only(report: &Report, why: &str) {
    let steps = steps(report);
    assert_eq!(steps.len(), 12, "{report:#?}");
    assert!(!steps[0].0 && steps[0].1.contains(why), "{report:#?}");
    for (ok, detail) in &steps[1..] {
        assert!(
            !ok && *detail == "not tried: the server does not pass the tutorial's session",
            "{report:#?}"
        );
    }
}

#[test]
fn a_server_that_serves_one_client_at_a_time_fails_where_a_client_waits() {
    let (report, _) = grade(support::one_at_a_time(), RUN_LIMIT + SLACK);
    let steps = steps(&report);
    for (i, (ok, detail)) in steps.iter().enumerate() {
        let waits = [9, 10].contains(&i);
        assert_eq!(*ok, !waits, "step {}: {detail}\n{report:#?}", i + 1);
    }
    // The silent client and the one that reads nothing hold it: the fresh client waits
    // for a greeting, and says which limit ran out.
    assert!(
        steps[9]
            .1
            .starts_with("while one client said nothing: 127.0.0.1:")
            && steps[9]
                .1
                .contains("no greeting: timed out after 3 s (--timeout)"),
        "{report:#?}"
    );
    assert!(
        steps[10].1.starts_with("while one client read nothing: ")
            && steps[10].1.contains("timed out after 3 s (--timeout)"),
        "{report:#?}"
    );
    // The flood's connects all end within one wait (not one after another, each at its
    // own timeout), and the server then serves again.
    assert!(
        steps[11]
            .1
            .starts_with("200 connections at once from one address"),
        "{report:#?}"
    );
}

#[test]
fn a_server_that_never_greets_fails_the_greeting_at_the_timeout() {
    let (report, took) = grade(support::threaded(support::never_greets), RUN_LIMIT + SLACK);
    fails_first_step_only(&report, "greeting: expected \"Hello!\", got 127.0.0.1:");
    assert!(
        report.steps[0]
            .detail
            .ends_with("no greeting: timed out after 3 s (--timeout) (is the server slow, or does it not use --framing line too?)"),
        "{report:#?}"
    );
    assert!(
        took >= Duration::from_secs(3),
        "it waited its 3 s: {took:?}"
    );
}

#[test]
fn a_server_that_never_accepts_is_not_reached_within_the_connect_timeout() {
    let (addr, _filling, _listener) = support::never_accepts();
    let started = Instant::now();
    let err = attacks::run(&options(addr)).unwrap_err();
    assert!(started.elapsed() <= RUN_LIMIT + SLACK);
    assert!(matches!(err, ClientError::Net(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("could not connect to {addr}: timed out (no answer in 5.0 s: is the address right? is a firewall dropping packets?)")
    );
}

#[test]
fn a_server_that_greets_and_then_never_answers_fails_the_first_reply() {
    let (report, _) = grade(
        support::threaded(support::greets_then_silent),
        RUN_LIMIT + SLACK,
    );
    fails_first_step_only(&report, "reply to \"li\": expected \"hello,li\", got ");
    assert!(
        report.steps[0]
            .detail
            .contains("no reply to \"li\": timed out after 3 s (--timeout)"),
        "{report:#?}"
    );
}

#[test]
fn a_server_that_never_closes_fails_the_close_after_exit() {
    let (report, _) = grade(support::threaded(support::never_closes), RUN_LIMIT + SLACK);
    fails_first_step_only(
        &report,
        "close after \"exit\": expected end of stream, got ",
    );
    assert!(
        report.steps[0]
            .detail
            .contains("no end of stream after exit: timed out after 3 s (--timeout)"),
        "{report:#?}"
    );
}

#[test]
#[cfg_attr(
    wine,
    ignore = "Wine 8's server takes a reset's error off the socket (SO_ERROR) first, so a later read sees end of stream; Windows reports the reset"
)]
fn a_server_that_resets_fails_at_once_with_the_reset() {
    let (report, took) = grade(support::threaded(support::resets), RUN_LIMIT + SLACK);
    fails_first_step_only(&report, "no reply to \"li\": connection reset by peer");
    assert!(
        took < Duration::from_secs(3),
        "no timeout to wait for: {took:?}"
    );
}

#[test]
fn a_server_that_dies_mid_run_fails_every_step_after_with_refused() {
    // Seven sessions: the first connect, then two for each of the first three steps.
    let addr = support::dies_after(7);
    let (report, took) = grade(addr, RUN_LIMIT + SLACK);
    assert!(
        took < Duration::from_secs(3),
        "no timeout to wait for: {took:?}"
    );
    let steps = steps(&report);
    for (i, (ok, detail)) in steps.iter().enumerate() {
        if i < 3 {
            assert!(ok, "step {}: {detail}\n{report:#?}", i + 1);
        } else {
            let refused = if i == 11 {
                format!("all 200 connections refused: nothing listens at {addr} any more")
            } else {
                format!("could not connect to {addr}: connection refused")
            };
            assert!(
                !ok && detail.contains(&refused),
                "step {}: {detail}\n{report:#?}",
                i + 1
            );
        }
    }
}

#[test]
fn a_correct_server_passes_well_within_its_bound() {
    let (report, _) = grade(
        support::threaded(support::byte_by_byte),
        Duration::from_secs(20),
    );
    assert!(report.passed, "{report:#?}");
}
