//! # The faults `udp-server` injects on purpose, and the seeded dice that choose them
//!
//! On loopback nothing is lost, so the lesson "UDP is unreliable" needs help: the server
//! can drop a reply (`--drop 0.3`), send it twice (`--duplicate 0.1`), or late (`--delay
//! 10..200`, in ms). [`Dice`] draws them from a generator seeded with `--seed`, one
//! datagram after another, so the same seed and the same datagrams give the same faults.

use std::time::Duration;

/// A reply delay: fixed (`50`) or uniformly random in a range (`10..200`), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub min: Duration,
    pub max: Duration,
}

impl std::str::FromStr for Delay {
    type Err = String;
    fn from_str(s: &str) -> Result<Delay, String> {
        let ms = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("'{t}' is not a whole number of milliseconds"))
        };
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (ms(a)?, ms(b)?),
            None => (ms(s)?, ms(s)?),
        };
        if min > max {
            return Err(format!("the range {s} goes backwards: write MIN..MAX"));
        }
        Ok(Delay { min, max })
    }
}

impl std::fmt::Display for Delay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{} ms", self.min.as_millis())
        } else {
            write!(f, "{}..{} ms", self.min.as_millis(), self.max.as_millis())
        }
    }
}

/// Faults injected on purpose, to see what UDP does about them (nothing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability of not replying at all.
    pub drop: f64,
    /// Probability of replying twice.
    pub duplicate: f64,
    /// Delay before replying.
    pub delay: Option<Delay>,
    /// Seed of the random choices: the same seed and the same datagrams give the same faults.
    pub seed: u64,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            drop: 0.0,
            duplicate: 0.0,
            delay: None,
            seed: 0,
        }
    }

    pub fn any(&self) -> bool {
        self.drop > 0.0 || self.duplicate > 0.0 || self.delay.is_some()
    }
}

impl std::fmt::Display for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.any() {
            return f.write_str("none");
        }
        write!(f, "drop {}, duplicate {}", self.drop, self.duplicate)?;
        if let Some(d) = self.delay {
            write!(f, ", delay {d}")?;
        }
        write!(
            f,
            ", seed {} (repeat the run with --seed {})",
            self.seed, self.seed
        )
    }
}

/// The faults one datagram gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roll {
    /// No reply at all.
    pub drop: bool,
    /// Two replies instead of one.
    pub duplicate: bool,
    /// How long to wait before replying (zero: at once).
    pub delay: Duration,
}

/// The random choices of [`Faults`], in arrival order.
#[derive(Debug, Clone)]
pub struct Dice {
    faults: Faults,
    rng: fastrand::Rng,
}

impl Dice {
    pub fn new(faults: Faults) -> Dice {
        Dice {
            faults,
            rng: fastrand::Rng::with_seed(faults.seed),
        }
    }

    /// The faults of the next datagram. A dropped datagram draws nothing more, and a fault
    /// whose probability is 0 draws nothing: a run with only `--drop` gives the same drops
    /// whatever `--duplicate` would have drawn.
    pub fn roll(&mut self) -> Roll {
        let f = &self.faults;
        if f.drop > 0.0 && self.rng.f64() < f.drop {
            return Roll {
                drop: true,
                duplicate: false,
                delay: Duration::ZERO,
            };
        }
        let duplicate = f.duplicate > 0.0 && self.rng.f64() < f.duplicate;
        let delay = f.delay.map_or(Duration::ZERO, |d| {
            let span = (d.max - d.min).as_micros() as u64;
            d.min + Duration::from_micros(if span == 0 { 0 } else { self.rng.u64(0..=span) })
        });
        Roll {
            drop: false,
            duplicate,
            delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(drop: f64, duplicate: f64, delay: Option<&str>, seed: u64) -> Faults {
        Faults {
            drop,
            duplicate,
            delay: delay.map(|d| d.parse().unwrap()),
            seed,
        }
    }

    fn rolls(f: Faults, n: usize) -> Vec<Roll> {
        let mut dice = Dice::new(f);
        (0..n).map(|_| dice.roll()).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_faults_and_another_seed_others() {
        let f = faults(0.3, 0.2, Some("10..200"), 7);
        assert_eq!(rolls(f, 200), rolls(f, 200));
        let other = Faults { seed: 8, ..f };
        assert_ne!(rolls(f, 200), rolls(other, 200));
    }

    #[test]
    fn no_faults_means_every_datagram_is_answered_once_at_once() {
        for roll in rolls(Faults::none(), 100) {
            assert_eq!(
                roll,
                Roll {
                    drop: false,
                    duplicate: false,
                    delay: Duration::ZERO
                }
            );
        }
    }

    #[test]
    fn probabilities_of_one_and_delays_in_range_are_kept() {
        assert!(rolls(faults(1.0, 0.0, None, 1), 50).iter().all(|r| r.drop));
        assert!(rolls(faults(0.0, 1.0, None, 1), 50)
            .iter()
            .all(|r| r.duplicate && !r.drop));
        for r in rolls(faults(0.0, 0.0, Some("10..20"), 3), 500) {
            assert!(r.delay >= Duration::from_millis(10) && r.delay <= Duration::from_millis(20));
        }
        let fixed = rolls(faults(0.0, 0.0, Some("50"), 3), 10);
        assert!(fixed.iter().all(|r| r.delay == Duration::from_millis(50)));
    }

    #[test]
    fn about_the_asked_share_is_dropped() {
        let dropped = rolls(faults(0.3, 0.0, None, 42), 10_000)
            .iter()
            .filter(|r| r.drop)
            .count();
        assert!((2_700..3_300).contains(&dropped), "{dropped}");
    }

    #[test]
    fn delays_parse_and_print_as_the_flag_is_written() {
        assert_eq!(
            "10..200".parse::<Delay>().unwrap().to_string(),
            "10..200 ms"
        );
        assert_eq!("50".parse::<Delay>().unwrap().to_string(), "50 ms");
        assert!("200..10".parse::<Delay>().is_err());
        assert!("ten".parse::<Delay>().is_err());
    }

    #[test]
    fn the_start_up_line_names_the_faults_or_says_none() {
        assert_eq!(Faults::none().to_string(), "none");
        let drop = faults(0.3, 0.0, None, 7);
        assert_eq!(
            drop.to_string(),
            "drop 0.3, duplicate 0, seed 7 (repeat the run with --seed 7)"
        );
        assert!(faults(0.0, 0.1, None, 1)
            .to_string()
            .starts_with("drop 0, duplicate 0.1"));
        let delay = faults(0.0, 0.0, Some("10..200"), 1).to_string();
        assert!(delay.contains(", delay 10..200 ms, seed 1"), "{delay}");
    }

    /// The generator's own draws below `p`, one per datagram: what a fault of probability
    /// `p` must give when it is the only one that draws.
    fn own_draws(seed: u64, p: f64, n: usize) -> Vec<bool> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n).map(|_| rng.f64() < p).collect()
    }

    #[test]
    fn a_fault_that_cannot_happen_draws_nothing() {
        // Only --drop: one draw per datagram, so the drops are the generator's own draws,
        // whatever a zero --duplicate or a fixed --delay would have drawn.
        let only_drop = rolls(faults(0.5, 0.0, Some("50"), 9), 200);
        let drops: Vec<bool> = only_drop.iter().map(|r| r.drop).collect();
        assert_eq!(drops, own_draws(9, 0.5, 200));
        // Only --duplicate: a zero --drop draws nothing before it.
        let only_duplicate = rolls(faults(0.0, 0.5, None, 9), 200);
        let duplicates: Vec<bool> = only_duplicate.iter().map(|r| r.duplicate).collect();
        assert_eq!(duplicates, own_draws(9, 0.5, 200));
    }
}
