//! # Options: what the two sides agree on before the first block (RFC 2347–2349, 7440)
//!
//! RFC 1350 fixes everything: 512-byte blocks, one block per round trip, and a timeout
//! each implementation picks for itself. RFC 2347 lets a request carry options, each a
//! name and a value. A server that knows them answers with an OACK that lists the ones it
//! agreed to (with the value it chose); a server that does not simply ignores them and
//! starts the transfer as RFC 1350 says. So a client must take either answer, and a server
//! must send no OACK to a client that asked for nothing.
//!
//! | option       | RFC  | client asks            | server answers                          |
//! |--------------|------|------------------------|-----------------------------------------|
//! | `blksize`    | 2348 | bytes per block, 8–65464 | the same or less                       |
//! | `timeout`    | 2349 | seconds, 1–255         | the same, or leaves it out              |
//! | `tsize`      | 2349 | RRQ: 0; WRQ: the size  | RRQ: the file's size; WRQ: the same     |
//! | `windowsize` | 7440 | blocks per ACK, 1–65535 | the same or less                       |
//!
//! Pure functions: a request's options in, the settings and the OACK out.

use std::time::Duration;

use crate::packet::{ErrorCode, Mode, TftpOption, DEFAULT_BLKSIZE, MAX_BLKSIZE, MIN_BLKSIZE};

pub const BLKSIZE: &str = "blksize";
pub const TIMEOUT: &str = "timeout";
pub const TSIZE: &str = "tsize";
pub const WINDOWSIZE: &str = "windowsize";

/// The retransmission timeout when none is agreed: one second, as tftp-hpa uses.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// RFC 2349's range for `timeout`, in seconds.
pub const MIN_TIMEOUT_S: u64 = 1;
pub const MAX_TIMEOUT_S: u64 = 255;
/// The largest window agreed to. RFC 7440 allows 65,535, but a window over half the
/// 16-bit block-number space puts its end so far ahead that a block number from the wire
/// can no longer say which side of the window it is on.
pub const MAX_WINDOWSIZE: u16 = i16::MAX as u16;
/// The most bytes a window may hold: the sender keeps them until they are acknowledged.
pub const MAX_WINDOW_BYTES: usize = 16 * 1024 * 1024;

/// The largest window for blocks of `blksize`: at most [`MAX_WINDOWSIZE`] blocks and
/// [`MAX_WINDOW_BYTES`] bytes, at least one block.
pub fn window_cap(blksize: usize) -> u16 {
    let by_bytes = (MAX_WINDOW_BYTES / blksize.max(1)).clamp(1, usize::from(MAX_WINDOWSIZE));
    by_bytes as u16
}

/// How a transfer runs, once agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Bytes of data per DATA packet.
    pub blksize: usize,
    /// Blocks sent before an ACK is waited for (1: stop-and-wait, RFC 1350).
    pub windowsize: u16,
    /// The first retransmission timeout (it doubles at every retry: see `transfer`).
    pub timeout: Duration,
    /// The file's size, when a side said it (`tsize`).
    pub tsize: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            timeout: DEFAULT_TIMEOUT,
            tsize: None,
        }
    }
}

/// What a client asks for (`None`: the option is not sent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wanted {
    pub blksize: Option<usize>,
    pub windowsize: Option<u16>,
    pub timeout: Option<u64>,
    /// Ask for the size (RRQ) or tell it (WRQ: `Some(size)`). RRQ sends 0.
    pub tsize: Option<u64>,
}

impl Wanted {
    /// The options of the request, in the order the RFCs list them.
    pub fn to_options(&self) -> Vec<TftpOption> {
        let mut out = Vec::new();
        let mut push = |name: &str, value: String| {
            out.push(TftpOption {
                name: name.to_string(),
                value,
            })
        };
        if let Some(b) = self.blksize {
            push(BLKSIZE, b.to_string());
        }
        if let Some(t) = self.timeout {
            push(TIMEOUT, t.to_string());
        }
        if let Some(s) = self.tsize {
            push(TSIZE, s.to_string());
        }
        if let Some(w) = self.windowsize {
            push(WINDOWSIZE, w.to_string());
        }
        out
    }

    /// Whether any option is asked for (if not, an OACK is a protocol error).
    pub fn any(&self) -> bool {
        *self != Wanted::default()
    }
}

/// What a server agrees to at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_blksize: usize,
    pub max_windowsize: u16,
    /// The largest file a WRQ may announce (`tsize`) or write.
    pub max_size: u64,
    /// The timeout when the client asks for none.
    pub timeout: Duration,
}

/// A server's answer to a request's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    pub settings: Settings,
    /// The OACK's options; empty: send no OACK (the client asked for nothing we know).
    pub oack: Vec<TftpOption>,
}

/// A refusal: the ERROR to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: ErrorCode,
    pub message: String,
}

fn refuse(code: ErrorCode, message: String) -> Refused {
    Refused { code, message }
}

/// The server's side: agrees to what it can of `requested`. `file_size` is the size of the
/// file an RRQ reads (`None` for a WRQ). tsize is answered in octet mode only: in netascii
/// the size on the wire differs from the file's, and is not known before it is sent.
pub fn agree(
    requested: &[TftpOption],
    write: bool,
    mode: Mode,
    file_size: Option<u64>,
    policy: &Policy,
) -> Result<Agreed, Refused> {
    let mut settings = Settings {
        timeout: policy.timeout,
        ..Settings::default()
    };
    let mut oack = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for o in requested {
        let name = o.name.to_ascii_lowercase();
        // A repeated option counts once (the first).
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let number = o.value.trim().parse::<u64>();
        let reply = match name.as_str() {
            BLKSIZE => {
                let asked = number
                    .ok()
                    .filter(|&b| b >= MIN_BLKSIZE as u64)
                    .ok_or_else(|| {
                        refuse(
                            ErrorCode::OptionRefused,
                            format!(
                                "blksize {:?} is not a number of at least {MIN_BLKSIZE}",
                                o.value
                            ),
                        )
                    })?;
                let chosen = asked.min(policy.max_blksize as u64).min(MAX_BLKSIZE as u64) as usize;
                settings.blksize = chosen;
                Some(chosen.to_string())
            }
            WINDOWSIZE => {
                let asked = number.ok().filter(|&w| w >= 1).ok_or_else(|| {
                    refuse(
                        ErrorCode::OptionRefused,
                        format!("windowsize {:?} is not a number of at least 1", o.value),
                    )
                })?;
                let chosen = asked.min(u64::from(policy.max_windowsize)) as u16;
                settings.windowsize = chosen;
                Some(chosen.to_string())
            }
            // A timeout out of range is left out of the OACK (RFC 2349: the server does not
            // answer an option it does not accept), and the server's own is used.
            TIMEOUT => match number {
                Ok(t) if (MIN_TIMEOUT_S..=MAX_TIMEOUT_S).contains(&t) => {
                    settings.timeout = Duration::from_secs(t);
                    Some(t.to_string())
                }
                _ => None,
            },
            TSIZE => match (write, number) {
                (true, Ok(size)) if size > policy.max_size => {
                    return Err(refuse(
                        ErrorCode::DiskFull,
                        format!(
                            "the file is {size} bytes, over this server's limit of {} (--max-size)",
                            policy.max_size
                        ),
                    ));
                }
                (true, Ok(size)) => {
                    settings.tsize = Some(size);
                    Some(size.to_string())
                }
                (false, Ok(_)) if mode == Mode::Octet => file_size.map(|size| {
                    settings.tsize = Some(size);
                    size.to_string()
                }),
                _ => None,
            },
            // Options we do not know are ignored, as RFC 2347 says.
            _ => None,
        };
        if let Some(value) = reply {
            oack.push(TftpOption {
                name: name.clone(),
                value,
            });
        }
    }
    // A window that would hold too much, or reach too far, is lowered (the order of the
    // options in the request does not matter: blksize is known by now).
    let cap = window_cap(settings.blksize);
    if settings.windowsize > cap {
        settings.windowsize = cap;
        for o in oack.iter_mut().filter(|o| o.name == WINDOWSIZE) {
            o.value = cap.to_string();
        }
    }
    Ok(Agreed { settings, oack })
}

/// The client's side: checks a server's OACK against what was asked, and returns the
/// settings to use. A server may lower blksize and windowsize, must echo timeout, and may
/// not add an option nobody asked for; anything else is refused (the client then sends
/// ERROR 8).
pub fn accept_oack(
    wanted: &Wanted,
    oack: &[TftpOption],
    base: Settings,
) -> Result<Settings, String> {
    let mut settings = base;
    for o in oack {
        let name = o.name.to_ascii_lowercase();
        let number = o.value.trim().parse::<u64>().map_err(|_| {
            format!(
                "the server's OACK gives {name} the value {:?}, not a number",
                o.value
            )
        })?;
        match name.as_str() {
            BLKSIZE => {
                let asked = wanted
                    .blksize
                    .ok_or("the server's OACK has blksize, which was not asked for")?;
                if number < MIN_BLKSIZE as u64 || number > asked as u64 {
                    return Err(format!("the server's OACK gives blksize {number}; {MIN_BLKSIZE} to {asked} was asked for"));
                }
                settings.blksize = number as usize;
            }
            WINDOWSIZE => {
                let asked = wanted
                    .windowsize
                    .ok_or("the server's OACK has windowsize, which was not asked for")?;
                if number < 1 || number > u64::from(asked) {
                    return Err(format!(
                        "the server's OACK gives windowsize {number}; 1 to {asked} was asked for"
                    ));
                }
                settings.windowsize = number as u16;
            }
            TIMEOUT => {
                let asked = wanted
                    .timeout
                    .ok_or("the server's OACK has timeout, which was not asked for")?;
                if number != asked {
                    return Err(format!(
                        "the server's OACK gives timeout {number}; {asked} was asked for"
                    ));
                }
                settings.timeout = Duration::from_secs(number);
            }
            TSIZE => {
                if wanted.tsize.is_none() {
                    return Err("the server's OACK has tsize, which was not asked for".into());
                }
                settings.tsize = Some(number);
            }
            other => {
                return Err(format!(
                    "the server's OACK has {other:?}, an option that was not asked for"
                ))
            }
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<TftpOption> {
        pairs
            .iter()
            .map(|(n, v)| TftpOption {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect()
    }

    const POLICY: Policy = Policy {
        max_blksize: 8192,
        max_windowsize: 16,
        max_size: 1000,
        timeout: DEFAULT_TIMEOUT,
    };

    #[test]
    fn no_options_no_oack() {
        let agreed = agree(&[], false, Mode::Octet, Some(5), &POLICY).unwrap();
        assert!(agreed.oack.is_empty());
        assert_eq!(agreed.settings, Settings::default());
        // Options nobody knows are ignored, and still no OACK.
        let agreed = agree(
            &opts(&[("multicast", "")]),
            false,
            Mode::Octet,
            Some(5),
            &POLICY,
        )
        .unwrap();
        assert!(agreed.oack.is_empty());
    }

    #[test]
    fn the_server_lowers_what_is_over_its_limits() {
        let asked = opts(&[
            ("BLKSIZE", "65464"),
            ("windowsize", "64"),
            ("timeout", "3"),
            ("tsize", "0"),
        ]);
        let agreed = agree(&asked, false, Mode::Octet, Some(777), &POLICY).unwrap();
        assert_eq!(
            agreed.oack,
            opts(&[
                ("blksize", "8192"),
                ("windowsize", "16"),
                ("timeout", "3"),
                ("tsize", "777")
            ])
        );
        assert_eq!(
            agreed.settings,
            Settings {
                blksize: 8192,
                windowsize: 16,
                timeout: Duration::from_secs(3),
                tsize: Some(777)
            }
        );
        // The client takes that OACK.
        let wanted = Wanted {
            blksize: Some(65464),
            windowsize: Some(64),
            timeout: Some(3),
            tsize: Some(0),
        };
        assert_eq!(
            wanted.to_options(),
            opts(&[
                ("blksize", "65464"),
                ("timeout", "3"),
                ("tsize", "0"),
                ("windowsize", "64")
            ])
        );
        assert_eq!(
            accept_oack(&wanted, &agreed.oack, Settings::default()),
            Ok(agreed.settings)
        );
    }

    #[test]
    fn a_window_is_held_to_what_16_bit_numbers_and_memory_allow() {
        let big = Policy {
            max_blksize: MAX_BLKSIZE,
            max_windowsize: u16::MAX,
            ..POLICY
        };
        // 65,535 blocks of 8 bytes: capped at 32,767 (half the number space).
        let agreed = agree(
            &opts(&[("windowsize", "65535"), ("blksize", "8")]),
            false,
            Mode::Octet,
            None,
            &big,
        )
        .unwrap();
        assert_eq!(agreed.settings.windowsize, 32_767);
        assert_eq!(
            agreed.oack,
            opts(&[("windowsize", "32767"), ("blksize", "8")])
        );
        // 64 KB blocks: at most 16 MiB in a window, 256 blocks.
        let agreed = agree(
            &opts(&[("blksize", "65464"), ("windowsize", "1000")]),
            false,
            Mode::Octet,
            None,
            &big,
        )
        .unwrap();
        assert_eq!(agreed.settings.windowsize, 256);
        assert_eq!(window_cap(1), MAX_WINDOWSIZE);
        assert_eq!(window_cap(MAX_WINDOW_BYTES * 2), 1);
    }

    #[test]
    fn bad_values_are_refused_or_left_out() {
        for bad in [("blksize", "7"), ("blksize", "x"), ("windowsize", "0")] {
            let refused = agree(&opts(&[bad]), false, Mode::Octet, Some(1), &POLICY).unwrap_err();
            assert_eq!(refused.code, ErrorCode::OptionRefused, "{bad:?}");
        }
        // A timeout out of range is not answered: the server's own stays.
        for t in ["0", "256", "soon"] {
            let agreed = agree(
                &opts(&[("timeout", t)]),
                false,
                Mode::Octet,
                Some(1),
                &POLICY,
            )
            .unwrap();
            assert!(agreed.oack.is_empty(), "{t}");
            assert_eq!(agreed.settings.timeout, DEFAULT_TIMEOUT);
        }
        // tsize in netascii is not answered: the size on the wire is not the file's.
        let agreed = agree(
            &opts(&[("tsize", "0")]),
            false,
            Mode::Netascii,
            Some(9),
            &POLICY,
        )
        .unwrap();
        assert!(agreed.oack.is_empty());
        // The first of a repeated option counts.
        let agreed = agree(
            &opts(&[("blksize", "100"), ("blksize", "200")]),
            false,
            Mode::Octet,
            None,
            &POLICY,
        )
        .unwrap();
        assert_eq!(agreed.oack, opts(&[("blksize", "100")]));
    }

    #[test]
    fn a_write_too_large_is_refused_before_any_data() {
        let refused = agree(
            &opts(&[("tsize", "1001")]),
            true,
            Mode::Octet,
            None,
            &POLICY,
        )
        .unwrap_err();
        assert_eq!(refused.code, ErrorCode::DiskFull);
        let agreed = agree(
            &opts(&[("tsize", "1000")]),
            true,
            Mode::Octet,
            None,
            &POLICY,
        )
        .unwrap();
        assert_eq!(agreed.oack, opts(&[("tsize", "1000")]));
        assert_eq!(agreed.settings.tsize, Some(1000));
    }

    #[test]
    fn the_client_refuses_an_oack_it_cannot_take() {
        let wanted = Wanted {
            blksize: Some(1428),
            windowsize: None,
            timeout: Some(2),
            tsize: None,
        };
        for bad in [
            ("blksize", "1429"),
            ("blksize", "4"),
            ("windowsize", "4"),
            ("timeout", "3"),
            ("tsize", "10"),
            ("multicast", "1"),
            ("blksize", "big"),
        ] {
            assert!(
                accept_oack(&wanted, &opts(&[bad]), Settings::default()).is_err(),
                "{bad:?}"
            );
        }
        let ok = accept_oack(&wanted, &opts(&[("blksize", "1024")]), Settings::default()).unwrap();
        assert_eq!(ok.blksize, 1024);
        assert!(Wanted::default().to_options().is_empty());
        assert!(!Wanted::default().any() && wanted.any());
    }
}
