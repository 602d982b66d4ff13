//! The two ends of the cable: lab-left 10.99.0.1 and lab-right 10.99.0.2, the addresses
//! the two-machine labs use.

use std::net::Ipv4Addr;

/// One end of the cable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Left,
    Right,
}

/// The subnet both ends are on: 10.99.0.0/24.
pub const PREFIX_LEN: u8 = 24;
/// The netmask of [`PREFIX_LEN`].
pub const NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

impl Side {
    /// Both, left first.
    pub const BOTH: [Side; 2] = [Side::Left, Side::Right];

    /// The name of its namespace and of its TUN device: `lab-left`, `lab-right`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "lab-left",
            Side::Right => "lab-right",
        }
    }

    /// Its address.
    pub fn address(self) -> Ipv4Addr {
        match self {
            Side::Left => Ipv4Addr::new(10, 99, 0, 1),
            Side::Right => Ipv4Addr::new(10, 99, 0, 2),
        }
    }

    /// The other end.
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }

    /// 0 for left, 1 for right (arrays, and the capture's interfaces).
    pub fn index(self) -> usize {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }

    /// `left` or `right`, as typed on the command line (`cable exec left …`).
    pub fn short(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    /// Reads `lab-left` or `left` (and the same for right).
    pub fn from_name(name: &str) -> Option<Side> {
        Side::BOTH
            .into_iter()
            .find(|s| name == s.name() || name == s.short())
    }

    /// Which side an address belongs to, if any.
    pub fn of_address(ip: std::net::IpAddr) -> Option<Side> {
        Side::BOTH
            .into_iter()
            .find(|s| ip == std::net::IpAddr::V4(s.address()))
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_are_named_and_addressed() {
        assert_eq!(Side::from_name("left"), Some(Side::Left));
        assert_eq!(Side::from_name("lab-right"), Some(Side::Right));
        assert_eq!(Side::from_name("middle"), None);
        assert_eq!(Side::Left.other(), Side::Right);
        assert_eq!(Side::Right.address().to_string(), "10.99.0.2");
        assert_eq!(
            Side::of_address("10.99.0.1".parse().unwrap()),
            Some(Side::Left)
        );
        assert_eq!(Side::of_address("10.99.0.3".parse().unwrap()), None);
        assert_eq!(Side::BOTH.map(Side::index), [0, 1]);
    }
}
