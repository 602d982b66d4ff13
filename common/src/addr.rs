//! # Addresses: where a socket lives
//!
//! A TCP or UDP endpoint is an IP address and a port. The tutorial hard-codes
//! `('127.0.0.1', 9999)`; our programs take the endpoint on the command line in the forms a
//! person types:
//!
//! | input            | meaning                                          |
//! |------------------|--------------------------------------------------|
//! | `127.0.0.1:9999` | IPv4 address and port                            |
//! | `[::1]:9999`     | IPv6 address and port (brackets, as in URLs)     |
//! | `localhost:9999` | a host name, looked up when the socket is made   |
//! | `9999`           | a bare port on the default host, `127.0.0.1`     |
//!
//! Parsing is separate from name lookup: [`Endpoint::parse`] never touches the network, so a
//! typo is reported at once with one line that says what is wrong, and [`Endpoint::resolve`]
//! does the lookup (which may give several addresses: `localhost` is often both `::1` and
//! `127.0.0.1`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

/// The host every program uses when none is given, as the tutorial does.
pub const DEFAULT_HOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// The port every program uses when none is given, as the tutorial does.
pub const DEFAULT_PORT: u16 = 9999;
/// The default endpoint, as text (for clap's `default_value`).
pub const DEFAULT_ADDR: &str = "127.0.0.1:9999";

/// The longest host name DNS allows.
const MAX_HOST_NAME: usize = 253;

/// The host part of an endpoint: an IP address, or a name still to be looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// A host and a port, as typed by a person, not yet looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: Host,
    pub port: u16,
}

/// Why an address could not be parsed. Each message is one line that says what to type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    #[error("empty address: give HOST:PORT, [IPv6]:PORT or a bare PORT, e.g. 127.0.0.1:9999")]
    Empty,
    #[error("invalid port {0}: must be 0-65535")]
    PortRange(String),
    #[error("invalid port '{0}': must be a number 0-65535")]
    PortNotNumber(String),
    #[error("missing port in '{0}': write {0}:PORT, e.g. {0}:9999")]
    MissingPort(String),
    #[error(
        "missing host before ':{0}': write e.g. 127.0.0.1:{0}, or 0.0.0.0:{0} for every interface"
    )]
    MissingHost(String),
    #[error("IPv6 address '{0}' needs brackets: write [{0}]:PORT, e.g. [::1]:9999")]
    Ipv6NeedsBrackets(String),
    #[error("invalid IPv6 address '[{0}]'")]
    BadIpv6(String),
    #[error("invalid host '{0}': use an IP address or a host name (letters, digits, '-', '.')")]
    BadHost(String),
}

impl Endpoint {
    /// Parses `HOST:PORT`, `[V6]:PORT`, `NAME:PORT` or a bare `PORT`. Never does I/O.
    pub fn parse(input: &str) -> Result<Endpoint, AddrError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AddrError::Empty);
        }
        // A bare port: only digits.
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Endpoint {
                host: Host::Ip(IpAddr::V4(DEFAULT_HOST)),
                port: parse_port(s)?,
            });
        }
        // [v6]:port
        if let Some(rest) = s.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return Err(AddrError::BadIpv6(rest.to_string()));
            };
            let ip: std::net::Ipv6Addr = inside
                .parse()
                .map_err(|_| AddrError::BadIpv6(inside.to_string()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => parse_port(p)?,
                None => return Err(AddrError::MissingPort(format!("[{inside}]"))),
            };
            return Ok(Endpoint {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        // More than one ':' without brackets can only be an IPv6 address written bare.
        if s.matches(':').count() > 1 {
            let bare = s
                .parse::<std::net::Ipv6Addr>()
                .map(|_| s)
                .unwrap_or_else(|_| {
                    // "::1:9999" style: show the part before the last ':' as the address.
                    s.rsplit_once(':').map_or(s, |(a, _)| a)
                });
            return Err(AddrError::Ipv6NeedsBrackets(bare.to_string()));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(AddrError::MissingPort(s.to_string()));
        };
        if host.is_empty() {
            return Err(AddrError::MissingHost(port.to_string()));
        }
        let port = parse_port(port)?;
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) if is_host_name(host) => Host::Name(host.to_string()),
            Err(_) => return Err(AddrError::BadHost(host.to_string())),
        };
        Ok(Endpoint { host, port })
    }

    /// Looks the host up (no lookup for an IP address). Returns every address found, in the
    /// order the resolver gave them; a client tries them in turn.
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        match &self.host {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, self.port)]),
            Host::Name(name) => {
                let addrs: Vec<SocketAddr> =
                    (name.as_str(), self.port).to_socket_addrs()?.collect();
                if addrs.is_empty() {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("host name '{name}' has no addresses"),
                    ))
                } else {
                    Ok(addrs)
                }
            }
        }
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint {
            host: Host::Ip(IpAddr::V4(DEFAULT_HOST)),
            port: DEFAULT_PORT,
        }
    }
}

impl FromStr for Endpoint {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(ip) => write!(f, "{}", SocketAddr::new(*ip, self.port)),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

/// Which clients the per-address limits (`--max-per-peer`, `udp-server --rate-limit`)
/// apply to.
///
/// One laptop is one student's lab: a load test from it, or the grader's 200 connections,
/// comes from 127.0.0.1 and is not an attack. So by default the limits leave this
/// machine's own addresses alone, as fail2ban's `ignoreip = 127.0.0.1/8 ::1` does, and
/// protect the server from every other host of a classroom network. `--limit-loopback`
/// applies them to loopback too, for the attack demos that run on one machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitScope {
    /// Every address except loopback (127.0.0.0/8, ::1): the default.
    #[default]
    ExceptLoopback,
    /// Every address, loopback included (`--limit-loopback`).
    Everyone,
}

impl LimitScope {
    /// The scope that `--limit-loopback` (given or not) asks for.
    pub fn from_flag(limit_loopback: bool) -> LimitScope {
        if limit_loopback {
            LimitScope::Everyone
        } else {
            LimitScope::ExceptLoopback
        }
    }

    /// Whether a client at `ip` is held to the per-address limits.
    pub fn covers(self, ip: IpAddr) -> bool {
        match self {
            LimitScope::Everyone => true,
            LimitScope::ExceptLoopback => !is_loopback(ip),
        }
    }
}

/// As the start-up lines say it: `loopback exempt` or `loopback included`.
impl fmt::Display for LimitScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitScope::ExceptLoopback => "loopback exempt",
            LimitScope::Everyone => "loopback included",
        })
    }
}

/// Whether `ip` is this machine's own: 127.0.0.0/8, `::1`, or a 127.x address as an IPv6
/// socket sees an IPv4 client (`::ffff:127.0.0.1`, on a server bound to `[::]`).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn parse_port(s: &str) -> Result<u16, AddrError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::PortNotNumber(s.to_string()));
    }
    // Digits only, so a parse failure can only mean "too big".
    s.parse::<u16>()
        .map_err(|_| AddrError::PortRange(s.to_string()))
}

/// A DNS-style host name: labels of letters, digits and '-', separated by dots.
fn is_host_name(s: &str) -> bool {
    s.len() <= MAX_HOST_NAME
        && s.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn loopback_is_exempt_unless_asked() {
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        let lan_mapped: IpAddr = "::ffff:192.168.1.20".parse().unwrap();
        for local in ["127.0.0.1", "127.1.2.3", "::1"] {
            let ip: IpAddr = local.parse().unwrap();
            assert!(is_loopback(ip), "{local}");
            assert!(!LimitScope::ExceptLoopback.covers(ip), "{local}");
            assert!(LimitScope::Everyone.covers(ip), "{local}");
        }
        assert!(is_loopback(mapped));
        assert!(!LimitScope::default().covers(mapped));
        for remote in [
            lan,
            lan_mapped,
            "::2".parse().unwrap(),
            "128.0.0.1".parse().unwrap(),
        ] {
            assert!(!is_loopback(remote), "{remote}");
            assert!(LimitScope::ExceptLoopback.covers(remote), "{remote}");
            assert!(LimitScope::Everyone.covers(remote), "{remote}");
        }
        assert_eq!(LimitScope::from_flag(true), LimitScope::Everyone);
        assert_eq!(LimitScope::from_flag(false), LimitScope::ExceptLoopback);
        assert_eq!(LimitScope::default().to_string(), "loopback exempt");
    }

    fn ip(s: &str) -> Host {
        Host::Ip(s.parse().unwrap())
    }

    #[test]
    fn accepts_the_four_forms() {
        assert_eq!(
            Endpoint::parse("127.0.0.1:9999").unwrap(),
            Endpoint {
                host: ip("127.0.0.1"),
                port: 9999
            }
        );
        assert_eq!(
            Endpoint::parse("[::1]:80").unwrap(),
            Endpoint {
                host: Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                port: 80
            }
        );
        assert_eq!(
            Endpoint::parse("localhost:9999").unwrap(),
            Endpoint {
                host: Host::Name("localhost".into()),
                port: 9999
            }
        );
        assert_eq!(
            Endpoint::parse("9999").unwrap(),
            Endpoint {
                host: ip("127.0.0.1"),
                port: 9999
            }
        );
        assert_eq!(Endpoint::parse("0").unwrap().port, 0);
        assert_eq!(Endpoint::parse(" 0.0.0.0:65535 ").unwrap().port, 65535);
    }

    #[test]
    fn rejects_with_one_clear_line() {
        let cases = [
            ("99999", "invalid port 99999: must be 0-65535"),
            ("127.0.0.1:70000", "invalid port 70000: must be 0-65535"),
            (
                "127.0.0.1:http",
                "invalid port 'http': must be a number 0-65535",
            ),
            ("127.0.0.1:", "invalid port '': must be a number 0-65535"),
            (
                "127.0.0.1",
                "missing port in '127.0.0.1': write 127.0.0.1:PORT, e.g. 127.0.0.1:9999",
            ),
            (":9999", "missing host before ':9999'"),
            ("::1", "IPv6 address '::1' needs brackets"),
            ("[::1]", "missing port in '[::1]'"),
            ("[::g]:1", "invalid IPv6 address '[::g]'"),
            ("bad_host!:1", "invalid host 'bad_host!'"),
            ("", "empty address"),
        ];
        for (input, want) in cases {
            let err = Endpoint::parse(input).unwrap_err().to_string();
            assert!(
                err.starts_with(want),
                "{input:?}: got {err:?}, want {want:?}..."
            );
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for s in ["127.0.0.1:9999", "[::1]:80", "localhost:1"] {
            assert_eq!(Endpoint::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn resolves_ip_without_lookup_and_localhost_with_one() {
        let e = Endpoint::parse("[::1]:7").unwrap();
        assert_eq!(e.resolve().unwrap(), vec!["[::1]:7".parse().unwrap()]);
        let l = Endpoint::parse("localhost:7").unwrap().resolve().unwrap();
        assert!(
            l.iter().all(|a| a.ip().is_loopback() && a.port() == 7),
            "{l:?}"
        );
    }

    #[test]
    fn odd_input_is_refused_with_one_line_and_never_a_panic() {
        for s in [
            "[",
            "]",
            "[]:1",
            "[:",
            ":",
            "::",
            "a:b:c",
            "1:2:3:4:5:6:7:8:9",
            "\u{0}:1",
            "é:1",
        ] {
            match Endpoint::parse(s) {
                Ok(e) => panic!("{s:?} was taken as {e}"),
                Err(why) => {
                    let why = why.to_string();
                    assert!(!why.is_empty() && !why.contains('\n'), "{s:?}: {why:?}");
                }
            }
        }
    }
}
