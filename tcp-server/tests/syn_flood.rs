//! The book's SYN flood (`docs/synflood.sh`), run for real between two network namespaces
//! of the test's own (a private user, mount and network namespace: no root needed, nothing
//! left behind, no packet outside): 5,000 SYNs from forged addresses at tcp-server, a real
//! client in the middle of them. With SYN cookies the kernel answers the flood without
//! keeping state; without them, it drops SYNs. The real client is served either way.
//! Skipped, with the reason, where hping3, unshare or ip is missing or user namespaces are
//! disabled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use common::testing::{available, run, workspace_root};
use tcp_server::Model;

const LIMIT: Duration = Duration::from_secs(90);

/// The kernel counter `name` from the script's `nstat` output.
fn counter(out: &str, name: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
}

fn syn_cookies_answer_a_syn_flood_and_a_real_client_is_served(model: Model) {
    for (program, package) in [
        ("ip", "iproute2"),
        ("nstat", "iproute2"),
        ("hping3", "hping3"),
    ] {
        if !available(program, package) {
            return;
        }
    }
    if !common::testing::namespaces_allowed() {
        return;
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_tcp-server"))
        .parent()
        .unwrap()
        .to_path_buf();
    // tcp-client is in the same folder once the workspace is built; build it if not.
    if !bin.join("tcp-client").exists() {
        let (code, _, err) = run(
            Command::new(env!("CARGO"))
                .args(["build", "--quiet", "-p", "tcp-client"])
                .current_dir(workspace_root()),
            Duration::from_secs(600),
        );
        assert_eq!(code, Some(0), "{err}");
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (code, out, err) = run(
        Command::new("unshare")
            .args([
                "--user",
                "--map-root-user",
                "--mount",
                "--net",
                "bash",
                "-c",
                "mkdir -p /run/netns; mount -t tmpfs tmpfs /run/netns; \
                 docs/synflood.sh 1 \"$1\"; echo '--- without cookies'; docs/synflood.sh 0 \"$1\"",
                "flood",
                &model.to_string(),
            ])
            .env("PATH", path)
            .current_dir(workspace_root()),
        LIMIT,
    );
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    let (with, without) = out.split_once("--- without cookies").unwrap();
    assert!(counter(with, "TcpExtSyncookiesSent") > 1000, "{with}");
    assert!(with.contains("Hello!\nhello,li\n"), "{with}");
    assert_eq!(counter(without, "TcpExtSyncookiesSent"), 0, "{without}");
    assert!(counter(without, "TcpExtListenDrops") > 1000, "{without}");
    assert!(without.contains("Hello!\nhello,li\n"), "{without}");
}

mod models;

both_models!(syn_cookies_answer_a_syn_flood_and_a_real_client_is_served);
