//! Every packet that reaches the cable, in a pcapng file that Wireshark, tshark and
//! `tcpdump -r` read: the dropped ones too, each with a comment that says why
//! (`dropped: loss`), and the time it reached the cable, in nanoseconds.
//!
//! The file has one interface, the cable, with both directions in it: the addresses say
//! which side sent a packet. (libpcap, and so tcpdump, reads only files whose interfaces
//! all have the same link type, and some versions only files with one interface.) The
//! packets are raw IP (link type 101), as the TUN devices give them.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use crate::side::Side;

/// Timestamps in nanoseconds (pcapng's `if_tsresol` = 10^-9).
const NANOSECONDS: u8 = 9;
/// The largest packet a TUN device gives (its MTU is 1,500, but a capture keeps whatever comes).
const SNAPLEN: u32 = 65_535;

/// A capture being written.
pub struct Capture {
    writer: PcapNgWriter<BufWriter<File>>,
    /// The wall-clock time at which the cable's clock read zero.
    epoch: Duration,
}

impl Capture {
    /// Creates `path` (replacing it) and writes the section and the two interfaces.
    pub fn create(path: &Path) -> Result<Capture, String> {
        let file = File::create(path)
            .map_err(|e| format!("cannot create the capture {}: {e}", path.display()))?;
        let mut writer = PcapNgWriter::new(BufWriter::new(file))
            .map_err(|e| format!("cannot write the capture {}: {e}", path.display()))?;
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::RAW,
            snaplen: SNAPLEN,
            options: vec![
                InterfaceDescriptionOption::IfName(Cow::Borrowed("cable")),
                InterfaceDescriptionOption::IfDescription(Cow::Borrowed(
                    "every packet between lab-left (10.99.0.1) and lab-right (10.99.0.2), as it reached the cable",
                )),
                InterfaceDescriptionOption::IfTsResol(NANOSECONDS),
            ],
        };
        writer
            .write_pcapng_block(idb)
            .map_err(|e| format!("cannot write the capture {}: {e}", path.display()))?;
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ok(Capture { writer, epoch })
    }

    /// Sets the wall-clock time that the cable's clock `at` corresponds to: call it when
    /// the cable's clock starts, so that the capture's times are true times of day.
    pub fn set_epoch(&mut self, wall_clock_at_zero: Duration) {
        self.epoch = wall_clock_at_zero;
    }

    /// Records one packet, reaching the cable at `at` (cable time).
    pub fn record(
        &mut self,
        at: Duration,
        data: &[u8],
        comment: Option<&str>,
    ) -> std::io::Result<()> {
        let options = comment
            .map(|c| vec![EnhancedPacketOption::Comment(Cow::Borrowed(c))])
            .unwrap_or_default();
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: self.epoch + at,
            original_len: data.len() as u32,
            data: Cow::Borrowed(data),
            options,
        };
        self.writer
            .write_pcapng_block(epb)
            .map(|_| ())
            .map_err(std::io::Error::other)
    }

    /// Writes out what is buffered.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.writer.get_mut().flush()
    }
}

/// The comment of a packet's record: what the cable did to it, if anything.
pub fn comment(fate: &crate::link::Fate, retransmission: bool) -> Option<String> {
    use crate::link::Fate;
    let mut parts: Vec<String> = Vec::new();
    match fate {
        Fate::Pass => {}
        Fate::Dropped(reason) => parts.push(format!("dropped: {}", reason.as_str())),
        Fate::Held {
            duplicated,
            corrupted,
            reordered,
            ..
        } => {
            if *duplicated {
                parts.push("duplicated".into());
            }
            if *corrupted {
                parts.push("corrupted".into());
            }
            if *reordered {
                parts.push("reordered".into());
            }
        }
    }
    if retransmission {
        parts.push("retransmission".into());
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// pcapng's timestamp resolution when an interface gives none: 10^-6 s.
const DEFAULT_TSRESOL: u8 = 6;

/// A timestamp of `ticks` units of an interface's `if_tsresol`: 10^-n s, or 2^-n s when
/// its top bit is set.
fn in_time(ticks: u128, resolution: u8) -> Duration {
    // In whole nanoseconds: a float loses the microseconds of a time of day.
    let nanos = if resolution & 0x80 != 0 {
        ticks.saturating_mul(1_000_000_000) >> u32::from(resolution & 0x7f).min(127)
    } else if resolution <= 9 {
        ticks.saturating_mul(10u128.pow(9 - u32::from(resolution)))
    } else {
        ticks
            / 10u128
                .checked_pow(u32::from(resolution) - 9)
                .unwrap_or(u128::MAX)
    };
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// One packet read back from a capture.
#[derive(Debug, Clone)]
pub struct Record {
    /// Which side sent it, by its source address (`None`: not from 10.99.0.1 or .2).
    pub from: Option<Side>,
    /// Its timestamp, since the Unix epoch.
    pub at: Duration,
    pub data: Vec<u8>,
    pub comment: Option<String>,
}

/// Reads every packet of a pcapng file (the cable's, or any with raw IP packets).
pub fn read(path: &Path) -> Result<Vec<Record>, String> {
    use pcap_file::pcapng::{Block, PcapNgReader};
    let file =
        File::open(path).map_err(|e| format!("cannot open the capture {}: {e}", path.display()))?;
    let mut reader = PcapNgReader::new(std::io::BufReader::new(file))
        .map_err(|e| format!("{} is not a pcapng file: {e}", path.display()))?;
    let mut records = Vec::new();
    // Each interface's timestamp resolution (pcap-file reads every timestamp as a count
    // of nanoseconds, whatever unit the file gives).
    let mut resolutions: Vec<u8> = Vec::new();
    while let Some(block) = reader.next_block() {
        match block.map_err(|e| format!("{}: a damaged block: {e}", path.display()))? {
            Block::InterfaceDescription(idb)
                if ![DataLink::RAW, DataLink::IPV4, DataLink::IPV6].contains(&idb.linktype) =>
            {
                return Err(format!(
                    "{}: an interface has link type {:?}; cable reads pcapng files of raw IP packets \
                     (its own, or Wireshark's on a TUN device, saved as pcapng)",
                    path.display(),
                    idb.linktype
                ));
            }
            Block::InterfaceDescription(idb) => {
                let resolution = idb.options.iter().find_map(|o| match o {
                    InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
                    _ => None,
                });
                // pcapng's default is microseconds.
                resolutions.push(resolution.unwrap_or(DEFAULT_TSRESOL));
            }
            Block::EnhancedPacket(epb) => {
                let comment = epb.options.iter().find_map(|o| match o {
                    EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                    _ => None,
                });
                let from = match crate::packet::parse(&epb.data) {
                    crate::packet::Kind::Tcp(s) => Side::of_address(s.src.ip()),
                    crate::packet::Kind::Udp { src, .. } => Side::of_address(src.ip()),
                    crate::packet::Kind::Icmp { src, .. } => Side::of_address(src),
                    crate::packet::Kind::Other => None,
                };
                let resolution = resolutions
                    .get(epb.interface_id as usize)
                    .copied()
                    .unwrap_or(DEFAULT_TSRESOL);
                records.push(Record {
                    from,
                    at: in_time(epb.timestamp.as_nanos(), resolution),
                    data: epb.data.into_owned(),
                    comment,
                });
            }
            _ => {}
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::{DropReason, Fate};
    use crate::packet::tests::tcp_packet;

    #[test]
    fn a_capture_reads_back_with_its_comments_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcapng");
        let mut c = Capture::create(&path).unwrap();
        c.set_epoch(Duration::from_secs(1_700_000_000));
        let syn = tcp_packet("10.99.0.1:40000", "10.99.0.2:9999", 1, 0, "S", b"");
        let synack = tcp_packet("10.99.0.2:9999", "10.99.0.1:40000", 9, 2, "SA", b"");
        c.record(Duration::from_micros(10), &syn, None).unwrap();
        c.record(Duration::from_micros(250), &synack, Some("dropped: loss"))
            .unwrap();
        c.finish().unwrap();
        let r = read(&path).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].from, Some(Side::Left));
        assert_eq!(r[1].from, Some(Side::Right));
        assert_eq!(r[0].data, syn);
        assert_eq!(r[1].comment.as_deref(), Some("dropped: loss"));
        assert_eq!(
            r[1].at,
            Duration::from_secs(1_700_000_000) + Duration::from_micros(250)
        );
    }

    #[test]
    fn timestamps_follow_each_interfaces_resolution() {
        assert_eq!(in_time(1_500_000, 6), Duration::from_millis(1500));
        assert_eq!(in_time(1_500_000_000, 9), Duration::from_millis(1500));
        assert_eq!(in_time(3 << 20, 0x80 | 20), Duration::from_secs(3));
        assert_eq!(
            in_time(u128::MAX, 0),
            Duration::ZERO,
            "out of range: zero, not a panic"
        );
    }

    #[test]
    fn comments_say_what_the_cable_did() {
        assert_eq!(comment(&Fate::Pass, false), None);
        assert_eq!(
            comment(&Fate::Dropped(DropReason::QueueFull), false).as_deref(),
            Some("dropped: queue full")
        );
        assert_eq!(
            comment(
                &Fate::Held {
                    delayed: true,
                    duplicated: true,
                    corrupted: true,
                    reordered: false
                },
                true
            )
            .as_deref(),
            Some("duplicated; corrupted; retransmission")
        );
    }

    #[test]
    fn a_file_that_is_not_a_capture_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pcapng");
        std::fs::write(&path, b"not a capture at all").unwrap();
        let e = read(&path).unwrap_err();
        assert!(e.contains("not a pcapng file"), "{e}");
    }
}

#[cfg(test)]
mod damaged {
    use super::*;
    use proptest::prelude::*;

    fn a_real_capture() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcapng");
        let mut c = Capture::create(&path).unwrap();
        let p = crate::packet::tests::tcp_packet("10.99.0.1:1", "10.99.0.2:2", 1, 0, "S", b"");
        for i in 0..3 {
            c.record(Duration::from_millis(i), &p, Some("dropped: loss"))
                .unwrap();
        }
        c.finish().unwrap();
        drop(c);
        std::fs::read(&path).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// A damaged capture (cut short, or with bytes changed) is an error, never a panic.
        #[test]
        fn a_damaged_capture_is_an_error_not_a_panic(cut in 0usize..400, flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..6)) {
            let mut bytes = a_real_capture();
            for (at, value) in flips {
                let n = bytes.len();
                bytes[at % n] = value;
            }
            bytes.truncate(cut.min(bytes.len()));
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("d.pcapng");
            std::fs::write(&path, &bytes).unwrap();
            let _ = read(&path);
        }
    }
}
