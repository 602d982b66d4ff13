//! The fault values as `tc netem` writes them: `20ms`, `5%`, `10mbit`; and `A:B` for a
//! value that differs by direction (left→right A, right→left B).
//!
//! Pure parsing, so that every form a student may type is tested, and a wrong one is
//! answered with what was expected.

use std::time::Duration;

/// One value for each direction of the cable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerDirection<T> {
    /// Left to right (lab-left 10.99.0.1 sends, lab-right receives).
    pub left_to_right: T,
    /// Right to left.
    pub right_to_left: T,
}

impl<T: Copy> PerDirection<T> {
    /// The same value both ways.
    pub fn both(value: T) -> Self {
        PerDirection {
            left_to_right: value,
            right_to_left: value,
        }
    }

    /// The value of one direction: 0 is left → right, 1 is right → left (a side's index:
    /// the direction in which that side sends).
    pub fn get(&self, direction: usize) -> T {
        if direction == 0 {
            self.left_to_right
        } else {
            self.right_to_left
        }
    }
}

/// Splits `A:B` into its two directions, or takes a single value for both, then parses
/// each half with `one`.
pub fn per_direction<T: Copy>(
    text: &str,
    one: fn(&str) -> Result<T, String>,
) -> Result<PerDirection<T>, String> {
    match text.split_once(':') {
        None => one(text).map(PerDirection::both),
        Some((a, b)) => Ok(PerDirection {
            left_to_right: one(a).map_err(|e| format!("left→right (before the ':'): {e}"))?,
            right_to_left: one(b).map_err(|e| format!("right→left (after the ':'): {e}"))?,
        }),
    }
}

/// A time: `20ms`, `150us`, `1.5s`; a bare number is milliseconds (`20` = 20 ms).
pub fn duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit_secs) = if let Some(n) = t.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("s") {
        (n, 1.0)
    } else {
        (t, 1e-3)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a time: write it as 20ms, 150us or 1.5s"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?}: a time cannot be negative"));
    }
    let secs = value * unit_secs;
    if secs > MAX_DELAY_SECS {
        return Err(format!(
            "{text:?} is more than {MAX_DELAY_SECS} s, longer than any lab needs"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The longest delay the cable accepts: a minute (packets wait in memory meanwhile).
pub const MAX_DELAY_SECS: f64 = 60.0;

/// A share of packets: `5%`, `0.5%`, or a bare `5` (per cent). Returns a probability, 0..=1.
pub fn percent(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let number = t.strip_suffix('%').unwrap_or(t);
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a percentage: write it as 5%"))?;
    if !(0.0..=100.0).contains(&value) {
        return Err(format!("{text:?}: a percentage is from 0% to 100%"));
    }
    Ok(value / 100.0)
}

/// A bandwidth as `tc` writes it, in bits per second: `bit`, `kbit`, `mbit`, `gbit`; or in
/// bytes per second: `bps`, `kbps`, `mbps`, `gbps` (tc's meaning: `mbps` is megabytes).
/// Returns bits per second. `0` (or `none`) means no limit.
pub fn rate(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim().to_ascii_lowercase();
    if t == "0" || t == "none" {
        return Ok(None);
    }
    // Longest suffixes first, so that `kbit` is not read as `bit`.
    const UNITS: [(&str, f64); 8] = [
        ("kbit", 1e3),
        ("mbit", 1e6),
        ("gbit", 1e9),
        ("kbps", 8e3),
        ("mbps", 8e6),
        ("gbps", 8e9),
        ("bit", 1.0),
        ("bps", 8.0),
    ];
    let Some((number, scale)) = UNITS
        .iter()
        .find_map(|(unit, scale)| t.strip_suffix(unit).map(|n| (n, *scale)))
    else {
        return Err(format!(
            "{text:?}: say the unit, as tc does: 10mbit (megabits/s), 500kbit, 1gbit, or 2mbps (megabytes/s)"
        ));
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a rate: write it as 10mbit"))?;
    let bits = value * scale;
    if !bits.is_finite() || bits < MIN_RATE_BITS {
        return Err(format!(
            "{text:?}: the slowest rate is {MIN_RATE_BITS} bit/s (one packet in a few seconds)"
        ));
    }
    Ok(Some(bits as u64))
}

/// The slowest bottleneck: 8 kbit/s, a 1,500-byte packet every 1.5 s.
pub const MIN_RATE_BITS: f64 = 8_000.0;

/// A count of packets (`--queue`): a whole number from 1.
pub fn packets(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "{text:?}: a queue holds a whole number of packets, 1 or more"
        )),
    }
}

/// A mean burst length in packets (`--loss-burst`): 1 (losses independent) or more.
pub fn burst(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 1.0 => Ok(n),
        _ => Err(format!(
            "{text:?}: a burst is 1 packet (independent losses) or longer, e.g. 4"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_netem_writes_them() {
        assert_eq!(duration("20ms"), Ok(Duration::from_millis(20)));
        assert_eq!(duration("20"), Ok(Duration::from_millis(20)));
        assert_eq!(duration("150us"), Ok(Duration::from_micros(150)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration(" 0 "), Ok(Duration::ZERO));
        assert!(duration("-1ms").unwrap_err().contains("negative"));
        assert!(duration("fast").unwrap_err().contains("20ms"));
        assert!(duration("61s").unwrap_err().contains("60"));
        assert!(duration("60s").is_ok());
    }

    #[test]
    fn percentages_become_probabilities() {
        assert_eq!(percent("5%"), Ok(0.05));
        assert_eq!(percent("5"), Ok(0.05));
        assert_eq!(percent("100%"), Ok(1.0));
        assert_eq!(percent("0%"), Ok(0.0));
        assert!(percent("101%").is_err());
        assert!(percent("-1%").is_err());
        assert!(percent("half").is_err());
    }

    #[test]
    fn rates_in_bits_and_bytes_as_tc_writes_them() {
        assert_eq!(rate("10mbit"), Ok(Some(10_000_000)));
        assert_eq!(rate("500kbit"), Ok(Some(500_000)));
        assert_eq!(rate("1gbit"), Ok(Some(1_000_000_000)));
        assert_eq!(rate("8000bit"), Ok(Some(8_000)));
        assert_eq!(rate("2mbps"), Ok(Some(16_000_000)));
        assert_eq!(rate("1kbps"), Ok(Some(8_000)));
        assert_eq!(rate("10MBit"), Ok(Some(10_000_000)));
        assert_eq!(rate("0"), Ok(None));
        assert_eq!(rate("none"), Ok(None));
        assert!(rate("10").unwrap_err().contains("unit"));
        assert!(rate("100bit").unwrap_err().contains("slowest"));
    }

    #[test]
    fn a_colon_splits_the_directions() {
        assert_eq!(
            per_direction("5%:0", percent),
            Ok(PerDirection {
                left_to_right: 0.05,
                right_to_left: 0.0
            })
        );
        assert_eq!(
            per_direction("20ms", duration),
            Ok(PerDirection::both(Duration::from_millis(20)))
        );
        let e = per_direction("5%:x", percent).unwrap_err();
        assert!(e.starts_with("right→left"), "{e}");
        let e = per_direction("x:5%", percent).unwrap_err();
        assert!(e.starts_with("left→right"), "{e}");
    }

    #[test]
    fn queues_and_bursts_are_counts() {
        assert_eq!(packets("100"), Ok(100));
        assert!(packets("0").is_err());
        assert!(packets("1.5").is_err());
        assert_eq!(burst("4"), Ok(4.0));
        assert_eq!(burst("1"), Ok(1.0));
        assert!(burst("0.5").is_err());
    }
}
