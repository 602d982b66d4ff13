//! What the kernel's TCP knows about one connection: its smoothed round-trip time and
//! variance, the retransmission timeout, the congestion window and slow-start threshold,
//! the segment size, the bytes in flight, how many segments it sent again, and the
//! delivery rate. The numbers that the "Inside TCP" lesson puts beside the capture.
//!
//! Each system tells a different part of it ([`crate::os::tcp_info`] asks): Linux's
//! `TCP_INFO` nearly all, macOS's `TCP_CONNECTION_INFO` most, Windows' `SIO_TCP_INFO`
//! (Windows 10 1703 and later) some. A field the system does not give is `None`, and is
//! said as "not available on this system", never guessed. This file only holds and
//! prints the numbers; it makes no system call.

use std::fmt;

use serde::Serialize;

/// One reading of a connection's TCP state. Times in microseconds, sizes in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TcpInfo {
    /// The smoothed round-trip time (SRTT).
    pub rtt_us: Option<u64>,
    /// Its variance (RTTVAR): how much the round trips vary.
    pub rtt_var_us: Option<u64>,
    /// The retransmission timeout: how long TCP waits for an ACK before sending again.
    pub rto_us: Option<u64>,
    /// The congestion window, in segments: how many may be in flight.
    pub cwnd_segments: Option<u64>,
    /// The slow-start threshold, in segments; `None` with `ssthresh_infinite` while the
    /// connection has never met a loss (still in slow start, no threshold yet).
    pub ssthresh_segments: Option<u64>,
    /// No threshold yet: the connection has not met a loss.
    pub ssthresh_infinite: bool,
    /// The maximum segment size this side sends.
    pub mss: Option<u64>,
    /// Bytes sent and not yet acknowledged.
    pub in_flight_bytes: Option<u64>,
    /// Segments sent again, over the connection's life.
    pub retransmitted_segments: Option<u64>,
    /// Bytes sent again, over the connection's life.
    pub retransmitted_bytes: Option<u64>,
    /// The rate at which data was recently delivered, in bytes per second.
    pub delivery_rate: Option<u64>,
}

/// What a missing field is called.
pub const NOT_AVAILABLE: &str = "not available on this system";

/// Linux's `TCP_INFINITE_SSTHRESH`: no threshold set yet.
pub const LINUX_INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

impl TcpInfo {
    /// From the fields of Linux's `struct tcp_info` (times in µs, cwnd and ssthresh in
    /// segments, unacked in segments); `delivery_rate` where the kernel has it (4.9+).
    #[allow(clippy::too_many_arguments)]
    pub fn from_linux(
        rtt: u32,
        rttvar: u32,
        rto: u32,
        snd_cwnd: u32,
        snd_ssthresh: u32,
        snd_mss: u32,
        unacked: u32,
        total_retrans: u32,
        delivery_rate: Option<u64>,
    ) -> TcpInfo {
        let infinite = snd_ssthresh >= LINUX_INFINITE_SSTHRESH;
        TcpInfo {
            rtt_us: Some(u64::from(rtt)),
            rtt_var_us: Some(u64::from(rttvar)),
            rto_us: Some(u64::from(rto)),
            cwnd_segments: Some(u64::from(snd_cwnd)),
            ssthresh_segments: (!infinite).then_some(u64::from(snd_ssthresh)),
            ssthresh_infinite: infinite,
            mss: Some(u64::from(snd_mss)),
            in_flight_bytes: Some(u64::from(unacked) * u64::from(snd_mss)),
            retransmitted_segments: Some(u64::from(total_retrans)),
            retransmitted_bytes: None,
            delivery_rate,
        }
    }

    /// From macOS's `struct tcp_connection_info` (times in ms, windows in bytes).
    #[allow(clippy::too_many_arguments)]
    pub fn from_macos(
        srtt_ms: u32,
        rttvar_ms: u32,
        rto_ms: u32,
        snd_cwnd: u32,
        snd_ssthresh: u32,
        maxseg: u32,
        retransmit_bytes: u64,
    ) -> TcpInfo {
        // macOS starts ssthresh at its largest window: TCP_MAXWIN << TCP_MAX_WINSHIFT.
        const MACOS_INFINITE_SSTHRESH: u32 = 65_535 << 14;
        let segments = |bytes: u32| (maxseg > 0).then(|| u64::from(bytes) / u64::from(maxseg));
        let infinite = snd_ssthresh >= MACOS_INFINITE_SSTHRESH;
        TcpInfo {
            rtt_us: Some(u64::from(srtt_ms) * 1000),
            rtt_var_us: Some(u64::from(rttvar_ms) * 1000),
            rto_us: Some(u64::from(rto_ms) * 1000),
            cwnd_segments: segments(snd_cwnd),
            ssthresh_segments: if infinite {
                None
            } else {
                segments(snd_ssthresh)
            },
            ssthresh_infinite: infinite,
            mss: Some(u64::from(maxseg)),
            in_flight_bytes: None,
            retransmitted_segments: None,
            retransmitted_bytes: Some(retransmit_bytes),
            delivery_rate: None,
        }
    }

    /// From Windows' `TCP_INFO_v0` (RTT in µs, cwnd in bytes).
    pub fn from_windows(
        rtt_us: u32,
        mss: u32,
        cwnd: u32,
        in_flight: u32,
        retrans_bytes: u32,
    ) -> TcpInfo {
        TcpInfo {
            rtt_us: Some(u64::from(rtt_us)),
            cwnd_segments: (mss > 0).then(|| u64::from(cwnd) / u64::from(mss)),
            mss: Some(u64::from(mss)),
            in_flight_bytes: Some(u64::from(in_flight)),
            retransmitted_bytes: Some(u64::from(retrans_bytes)),
            ..TcpInfo::default()
        }
    }
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

impl fmt::Display for TcpInfo {
    /// `rtt 40.21 ms (var 1.30 ms), rto 244.00 ms, cwnd 10 segments, ssthresh none yet
    /// (slow start), mss 1448 bytes, in flight 0 bytes, retransmitted 3 segments,
    /// delivery rate 1234567 bytes/s`; a missing field says so.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_na = |v: Option<String>| v.unwrap_or_else(|| NOT_AVAILABLE.to_string());
        let rtt = match (self.rtt_us, self.rtt_var_us) {
            (Some(r), Some(v)) => format!("{} (var {})", ms(r), ms(v)),
            (Some(r), None) => format!("{} (var {NOT_AVAILABLE})", ms(r)),
            (None, _) => NOT_AVAILABLE.to_string(),
        };
        let ssthresh = match (self.ssthresh_segments, self.ssthresh_infinite) {
            (_, true) => "none yet (slow start)".to_string(),
            (Some(s), false) => format!("{s} segments"),
            (None, false) => NOT_AVAILABLE.to_string(),
        };
        let retransmitted = match (self.retransmitted_segments, self.retransmitted_bytes) {
            (Some(s), Some(b)) => format!("{s} segments ({b} bytes)"),
            (Some(s), None) => format!("{s} segments"),
            (None, Some(b)) => format!("{b} bytes"),
            (None, None) => NOT_AVAILABLE.to_string(),
        };
        write!(
            f,
            "rtt {rtt}, rto {}, cwnd {}, ssthresh {ssthresh}, mss {}, in flight {}, retransmitted {retransmitted}, delivery rate {}",
            or_na(self.rto_us.map(ms)),
            or_na(self.cwnd_segments.map(|c| format!("{c} segments"))),
            or_na(self.mss.map(|m| format!("{m} bytes"))),
            or_na(self.in_flight_bytes.map(|b| format!("{b} bytes"))),
            or_na(self.delivery_rate.map(|r| format!("{r} bytes/s"))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_fields_are_read_in_their_units() {
        let i = TcpInfo::from_linux(
            40_210,
            1_300,
            244_000,
            10,
            LINUX_INFINITE_SSTHRESH,
            1448,
            2,
            3,
            Some(1_000_000),
        );
        assert_eq!(i.rtt_us, Some(40_210));
        assert_eq!(i.in_flight_bytes, Some(2896));
        assert!(i.ssthresh_infinite && i.ssthresh_segments.is_none());
        assert_eq!(
            i.to_string(),
            "rtt 40.21 ms (var 1.30 ms), rto 244.00 ms, cwnd 10 segments, ssthresh none yet (slow start), mss 1448 bytes, \
             in flight 2896 bytes, retransmitted 3 segments, delivery rate 1000000 bytes/s"
        );
        let after_loss = TcpInfo::from_linux(1, 1, 1, 7, 7, 1448, 0, 1, None);
        assert_eq!(after_loss.ssthresh_segments, Some(7));
        assert!(after_loss
            .to_string()
            .ends_with(&format!("delivery rate {NOT_AVAILABLE}")));
    }

    #[test]
    fn macos_windows_are_bytes_made_segments() {
        let i = TcpInfo::from_macos(40, 2, 250, 14_480, 65_535 << 14, 1448, 7240);
        assert_eq!(
            (i.rtt_us, i.cwnd_segments, i.ssthresh_infinite),
            (Some(40_000), Some(10), true)
        );
        assert!(i.to_string().contains("retransmitted 7240 bytes"));
        assert!(i
            .to_string()
            .contains(&format!("in flight {NOT_AVAILABLE}")));
        let j = TcpInfo::from_macos(40, 2, 250, 14_480, 28_960, 1448, 0);
        assert_eq!(j.ssthresh_segments, Some(20));
    }

    #[test]
    fn windows_says_what_it_lacks() {
        let i = TcpInfo::from_windows(40_000, 1460, 14_600, 2920, 1460);
        assert_eq!(i.cwnd_segments, Some(10));
        let text = i.to_string();
        assert!(
            text.starts_with(&format!(
                "rtt 40.00 ms (var {NOT_AVAILABLE}), rto {NOT_AVAILABLE}"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("ssthresh {NOT_AVAILABLE}")));
        assert!(text.contains("retransmitted 1460 bytes"));
        assert_eq!(
            TcpInfo::from_windows(1, 0, 5, 0, 0).cwnd_segments,
            None,
            "no MSS, no segments"
        );
    }
}
