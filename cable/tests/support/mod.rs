//! What the cable's tests share: the cable binary, the course's programs beside it (built
//! if missing), a run with a time limit, and reading a capture back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use cable::capture::{self, Record};
use cable::packet::{self, Kind, Segment};

pub const CABLE: &str = env!("CARGO_BIN_EXE_cable");
/// The longest any one cable run of the tests may take.
pub const LIMIT: Duration = Duration::from_secs(90);

/// Whether the cable can run here: Linux with user namespaces (or root). If not, the test
/// skips with the reason (and fails in CI, which has them).
pub fn ready() -> bool {
    common::testing::namespaces_allowed()
}

/// The folder of the workspace's binaries, with the course's programs built in it.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(CABLE)
            .parent()
            .expect("the cable binary has a folder")
            .to_path_buf();
        // Always ask cargo: it does nothing when they are fresh, and a stale binary would
        // test old code.
        let (code, _, err) = common::testing::run(
            Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "tcp-server",
                    "-p",
                    "tcp-client",
                    "-p",
                    "udp-server",
                    "-p",
                    "udp-client",
                    "-p",
                    "upload",
                ])
                .current_dir(common::testing::workspace_root()),
            Duration::from_secs(900),
        );
        assert_eq!(
            code,
            Some(0),
            "building the course's programs failed: {err}"
        );
        dir
    })
}

/// `cable ARGS…` with the course's programs on its PATH.
pub fn cable(args: &[&str]) -> Command {
    let mut c = Command::new(CABLE);
    c.args(args).env("PATH", path());
    c
}

/// PATH with the workspace's binaries first.
pub fn path() -> String {
    format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Runs a command within [`LIMIT`]: (exit code, stdout, stderr).
pub fn run(command: &mut Command) -> (Option<i32>, String, String) {
    common::testing::run(command, LIMIT)
}

/// Every TCP segment of a capture, with its record.
pub fn segments(path: &Path) -> Vec<(Record, Segment)> {
    capture::read(path)
        .expect("the capture reads back")
        .into_iter()
        .filter_map(|r| match packet::parse(&r.data) {
            Kind::Tcp(s) => Some((r, s)),
            _ => None,
        })
        .collect()
}

/// The cable's summary (`--summary-json`).
pub fn summary(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the summary was written");
    serde_json::from_str(&text).expect("the summary is JSON")
}
