//! # Command-line pieces the programs share
//!
//! Every program takes durations in seconds (`--timeout 1.5`, `--idle-timeout 0` for
//! "never") and the same address forms ([`crate::addr`]). Parsing them once here keeps
//! their error messages the same everywhere.

use std::time::Duration;

/// Parses seconds, `1`, `0.25`, as a [`Duration`]. For clap's `value_parser`.
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds (e.g. 5 or 0.5)"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("'{s}' seconds is out of range: give 0 or more"))
}

/// Parses a count that must be at least 1 (`--max-connections`, `--max-frame`, ...).
pub fn parse_positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

/// A duration where 0 means "no limit", as socket timeouts want it.
pub fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        assert!(parse_seconds("-1").unwrap_err().contains("0 or more"));
        assert!(parse_seconds("soon").unwrap_err().contains("not a number"));
        assert_eq!(nonzero(Duration::ZERO), None);
        assert_eq!(parse_positive("3"), Ok(3));
        assert!(parse_positive("0").is_err() && parse_positive("x").is_err());
    }
}
