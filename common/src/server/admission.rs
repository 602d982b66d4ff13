//! Who is served: the accept loops' one admission rule (the connection limit, then the limit
//! per address), the refusal lines, and the accept line, for both models.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::limits::Limits;
use super::stats::Stats;
use crate::addr::LimitScope;
use crate::output::{Log, Tag};

/// Connections open now, by the client's IP address (for `--max-per-peer`). Only addresses
/// with an open connection are in it, so it is never larger than the connection limit.
#[derive(Debug, Default)]
pub struct PeerSlots {
    max: Option<usize>,
    scope: LimitScope,
    open: HashMap<IpAddr, usize>,
}

impl PeerSlots {
    /// Slots of at most `limits.max_per_peer` connections per address, for the addresses
    /// in `limits.scope` (no limit: nothing kept).
    pub fn new(limits: &Limits) -> PeerSlots {
        PeerSlots {
            max: limits.max_per_peer,
            scope: limits.scope,
            open: HashMap::new(),
        }
    }

    /// Takes a slot for a connection from `ip`, unless that address already has the
    /// maximum; then returns how many it has.
    // ANCHOR: claim_peer_slot
    pub fn claim(&mut self, ip: IpAddr) -> Result<(), usize> {
        let Some(max) = self.max else {
            return Ok(());
        };
        // This machine's own clients are one student's lab, not an attack: loopback is
        // exempt unless --limit-loopback (its slots are then neither taken nor given back).
        if !self.scope.covers(ip) {
            return Ok(());
        }
        let open = self.open.entry(ip).or_insert(0);
        if *open >= max {
            return Err(*open);
        }
        *open += 1;
        Ok(())
    }
    // ANCHOR_END: claim_peer_slot

    /// Gives back the slot of a connection from `ip` (under the address it was taken for).
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(open) = self.open.get_mut(&ip) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                self.open.remove(&ip);
            }
        }
    }
}

/// Why a new client is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `--max-connections` are being served (this many).
    Busy { active: usize },
    /// Its address already has `--max-per-peer` connections (this many).
    PerPeer { open: usize },
}

/// The accept loops' one admission rule, for both models: refuses a client past the
/// connection limit or its address's limit, and otherwise counts it as active (returns how
/// many are active now). A refusal is counted and logged here; the caller sends the busy
/// message.
pub fn admit(
    tag: &Tag,
    limits: &Limits,
    stats: &Stats,
    peers: &mut PeerSlots,
    log: &Log,
) -> Result<usize, Refusal> {
    let active = stats.active();
    let refusal = if active >= limits.max_connections {
        Refusal::Busy { active }
    } else {
        match peers.claim(tag.peer.ip()) {
            Ok(()) => return Ok(stats.admitted()),
            Err(open) => Refusal::PerPeer { open },
        }
    };
    log_refusal(tag, limits, stats, log, refusal);
    Err(refusal)
}

#[cold]
#[inline(never)]
fn log_refusal(tag: &Tag, limits: &Limits, stats: &Stats, log: &Log, refusal: Refusal) {
    match refusal {
        Refusal::Busy { active } => {
            stats.refused_busy();
            log.event(
                tag,
                format_args!(
                    "refused: server busy ({active} of --max-connections {} in use)",
                    limits.max_connections
                ),
            );
        }
        Refusal::PerPeer { open } => {
            stats.refused_per_peer();
            log.event(
                tag,
                format_args!(
                    "refused: {open} connections from {} already (--max-per-peer {})",
                    tag.peer.ip(),
                    limits.max_per_peer.unwrap_or(0)
                ),
            );
        }
    }
}

/// The accept line, with the whole 4-tuple: our address and port, the peer's address and
/// port (`local` is `None` when the socket cannot say).
pub fn log_accepted(log: &Log, tag: &Tag, local: Option<SocketAddr>, now_active: usize) {
    if log.quiet {
        return;
    }
    let local = local.map_or_else(|| "?".to_string(), |a| a.to_string());
    log.event(
        tag,
        format_args!(
            "accepted: local {local} <-> peer {} ({now_active} active)",
            tag.peer
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_per_address_leaves_loopback_alone_unless_asked() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let remote: IpAddr = "192.0.2.7".parse().unwrap();
        let limits = |scope| Limits {
            max_per_peer: Some(2),
            scope,
            ..Limits::default()
        };
        let mut slots = PeerSlots::new(&limits(LimitScope::ExceptLoopback));
        for _ in 0..100 {
            assert_eq!(slots.claim(local), Ok(()));
            assert_eq!(slots.claim(mapped), Ok(()));
        }
        assert_eq!(slots.claim(remote), Ok(()));
        assert_eq!(slots.claim(remote), Ok(()));
        assert_eq!(slots.claim(remote), Err(2));
        slots.release(remote);
        assert_eq!(slots.claim(remote), Ok(()));

        let mut slots = PeerSlots::new(&limits(LimitScope::Everyone));
        assert_eq!(slots.claim(local), Ok(()));
        assert_eq!(slots.claim(local), Ok(()));
        assert_eq!(slots.claim(local), Err(2));
        assert_eq!(slots.claim("::1".parse().unwrap()), Ok(()));
        assert_eq!(
            limits(LimitScope::ExceptLoopback).to_string(),
            "max 1024 connections (2 per address, loopback exempt), idle timeout 300 s, message timeout 30 s"
        );
        assert!(limits(LimitScope::Everyone)
            .to_string()
            .contains("(2 per address, loopback included)"));
    }
}
