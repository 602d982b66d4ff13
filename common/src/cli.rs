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

/// Parses a size in bytes: `1000`, `64K`, `10MB`, `4GiB`, `1.5G`. The units are powers of
/// 1024, with or without `i`/`B` (`K`, `KB`, `KiB` are all 1024 bytes): file sizes as `ls -h`
/// shows them. For clap's `value_parser`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 1000, 64K, 10M, 4GiB)"))?;
    let shift = match unit.trim().to_ascii_uppercase().trim_end_matches('B') {
        "" => 0,
        "K" | "KI" => 10,
        "M" | "MI" => 20,
        "G" | "GI" => 30,
        "T" | "TI" => 40,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use K, M, G or T)")),
    };
    // Exact for every size below 2^53 bytes (8 PiB): powers of two scale a float exactly.
    let bytes = number * (1u64 << shift) as f64;
    if bytes.fract() != 0.0 || bytes >= u64::MAX as f64 {
        return Err(format!("'{s}' is not a whole number of bytes"));
    }
    Ok(bytes as u64)
}

/// A duration where 0 means "no limit", as socket timeouts want it.
pub fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("64K"), Ok(64 * 1024));
        assert_eq!(parse_bytes("10 MB"), Ok(10 << 20));
        assert_eq!(parse_bytes("4GiB"), Ok(4 << 30));
        assert_eq!(parse_bytes("1.5g"), Ok(3 << 29));
        assert_eq!(parse_bytes("2T"), Ok(2 << 40));
        assert!(parse_bytes("0.5").is_err());
        assert!(parse_bytes("12 apples").is_err());
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("99999999999T").is_err());
    }

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
