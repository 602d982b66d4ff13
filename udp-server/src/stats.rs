//! # What `udp-server` counts while it runs, and the summary it prints at the end

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::os;
use common::output;

/// Counters, shared with the threads that send replies.
#[derive(Debug, Default)]
pub struct Stats {
    pub datagrams_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub datagrams_out: AtomicU64,
    pub bytes_out: AtomicU64,
    pub truncated: AtomicU64,
    pub injected_drops: AtomicU64,
    pub injected_duplicates: AtomicU64,
    pub injected_delays: AtomicU64,
    pub send_errors: AtomicU64,
    pub recv_errors: AtomicU64,
    pub unreachable: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl Stats {
    /// The counts as they are now, for the summary. `kernel_drops` and `elapsed` come from
    /// the caller, who has the socket and the clock.
    pub fn summary(&self, kernel_drops: Option<u64>, elapsed: Duration) -> Summary {
        let load = |c: &AtomicU64| c.load(Ordering::SeqCst);
        Summary {
            datagrams_in: load(&self.datagrams_in),
            bytes_in: load(&self.bytes_in),
            datagrams_out: load(&self.datagrams_out),
            bytes_out: load(&self.bytes_out),
            truncated: load(&self.truncated),
            injected_drops: load(&self.injected_drops),
            injected_duplicates: load(&self.injected_duplicates),
            injected_delays: load(&self.injected_delays),
            send_errors: load(&self.send_errors),
            recv_errors: load(&self.recv_errors),
            unreachable: load(&self.unreachable),
            rate_limited: load(&self.rate_limited),
            kernel_drops,
            elapsed,
        }
    }

    /// Adds `n` to a counter. Relaxed: a count is only ever added to, and read for the
    /// summary after the receive loop and the delay thread have stopped. (With `--handler
    /// thread` a reply still on its thread then may or may not be counted yet.)
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What a server did, from start to shutdown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    /// Datagrams larger than the buffer, cut.
    pub truncated: u64,
    pub injected_drops: u64,
    pub injected_duplicates: u64,
    pub injected_delays: u64,
    pub send_errors: u64,
    pub recv_errors: u64,
    /// Datagrams dropped, not answered, because their source was over `--rate-limit`.
    pub rate_limited: u64,
    /// ICMP "port unreachable" reports for earlier replies (Windows reports them to the
    /// server's socket; Linux and macOS do not).
    pub unreachable: u64,
    /// Datagrams the kernel dropped because the receive queue was full (Linux).
    pub kernel_drops: Option<u64>,
    pub elapsed: Duration,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "summary: {} datagrams in ({}), {} out ({}) in {:.1} s; {} truncated; injected: {} drops, \
             {} duplicates, {} delays; {} over the rate limit; {} send errors, {} receive errors; kernel drops: {}",
            self.datagrams_in,
            output::human_bytes(self.bytes_in),
            self.datagrams_out,
            output::human_bytes(self.bytes_out),
            self.elapsed.as_secs_f64(),
            self.truncated,
            self.injected_drops,
            self.injected_duplicates,
            self.injected_delays,
            self.rate_limited,
            self.send_errors,
            self.recv_errors,
            self.kernel_drops
                .map_or_else(|| os::NOT_AVAILABLE.to_string(), |n| n.to_string()),
        )?;
        if self.unreachable > 0 {
            write!(
                f,
                "; {} replies found nobody listening (ICMP)",
                self.unreachable
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_counts_and_says_what_it_cannot_know() {
        let stats = Stats::default();
        Stats::add(&stats.datagrams_in, 3);
        Stats::add(&stats.injected_drops, 1);
        let summary = stats.summary(None, Duration::from_millis(1500));
        assert_eq!((summary.datagrams_in, summary.injected_drops), (3, 1));
        let line = summary.to_string();
        assert!(line.starts_with("summary: 3 datagrams in"), "{line}");
        assert!(line.contains("injected: 1 drops"), "{line}");
        assert!(
            line.contains(&format!("kernel drops: {}", os::NOT_AVAILABLE)),
            "{line}"
        );
        assert!(!line.contains("ICMP"), "{line}");
        Stats::add(&stats.unreachable, 2);
        let line = stats.summary(Some(0), Duration::ZERO).to_string();
        assert!(
            line.contains("kernel drops: 0; 2 replies found nobody listening (ICMP)"),
            "{line}"
        );
    }
}
