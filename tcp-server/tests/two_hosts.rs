//! The book's two-machine labs on one Linux host: `docs/two-hosts.sh` makes two network
//! namespaces joined by a virtual cable. This test runs the script for real, inside a
//! private user, mount and network namespace of its own (so it needs no root and leaves
//! nothing behind), then has tcp-server in one namespace greet `nc` in the other across the
//! cable. Skipped, with the reason, where `unshare`, `ip` or `nc` is missing or user
//! namespaces are disabled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use common::testing::{available, run, workspace_root};
use tcp_server::Model;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");
const LIMIT: Duration = Duration::from_secs(60);

/// What runs inside the private namespaces: the script's `up`, an exchange across the
/// cable, and `down`. `$1` is the tcp-server binary, `$2` the model.
const SCENARIO: &str = r#"
set -eu
mkdir -p /run/netns 2>/dev/null || true
mount -t tmpfs tmpfs /run/netns
docs/two-hosts.sh up
ip netns exec lab-left "$1" 10.99.0.1:9999 --model "$2" --idle-timeout 10 &
server=$!
for _ in $(seq 100); do
    ip netns exec lab-left ss -Hltn '( sport = :9999 )' | grep -q LISTEN && break
    sleep 0.05
done
reply=$(printf 'li\nexit\n' | ip netns exec lab-right nc -N -w 5 10.99.0.1 9999)
kill -INT "$server"
wait "$server"
docs/two-hosts.sh down
echo "nc received:"
echo "$reply"
echo "namespaces left: $(ip netns list | grep -c lab- || true)"
"#;

fn two_namespaces_talk_across_the_cable(model: Model) {
    for (program, package) in [
        ("ip", "iproute2"),
        ("ss", "iproute2"),
        ("nc", "netcat-openbsd"),
    ] {
        if !available(program, package) {
            return;
        }
    }
    if !common::testing::namespaces_allowed() {
        return;
    }
    let (code, out, err) = run(
        Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--map-root-user",
                "bash",
                "-c",
                SCENARIO,
                "scenario",
            ])
            .arg(BIN)
            .arg(model.to_string())
            .current_dir(workspace_root()),
        LIMIT,
    );
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    // The greeting and the reply came across the cable, and the server saw the client's
    // address on the other side of it.
    assert!(out.contains("nc received:\nHello!\nhello,li\n"), "{out}");
    assert!(
        out.contains("accepted: local 10.99.0.1:9999 <-> peer 10.99.0.2:"),
        "{out}"
    );
    // `down` removed both namespaces.
    assert!(out.contains("namespaces left: 0"), "{out}");
}

mod models;

both_models!(two_namespaces_talk_across_the_cable);
