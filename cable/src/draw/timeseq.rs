//! The time-sequence graph of a bulk transfer (Stevens's and tcptrace's): for each data
//! segment the sender sent, a bar from its first to its last byte's sequence number at the
//! time it reached the cable; the acknowledgements as a line below the bars, and the edge
//! of the receive window (acknowledged + window) as a line above them. Slow start is the
//! bars' curve bending up; a loss is a cross, and the bar sent again after it has its own
//! colour; a receiver that stops reading is the window line going flat.
//!
//! With cwnd samples (from `--tcp-info`), the congestion window is drawn too, against a
//! second axis on the right.

use crate::draw::svg::{self, Svg};
use crate::draw::trace::Connection;
use crate::draw::words::Words;

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 520.0;
const PLOT_LEFT: f64 = 96.0;
const PLOT_RIGHT: f64 = 780.0;
const PLOT_TOP: f64 = 48.0;
const PLOT_BOTTOM: f64 = 430.0;
/// The shortest bar drawn, in pixels.
const MIN_BAR: f64 = 3.0;

/// One sample of the sender's congestion window: seconds since the connection's first
/// segment, and cwnd in segments.
pub type CwndSample = (f64, f64);

/// Draws the transfer of `connection`'s bulk sender.
pub fn draw(connection: &Connection, words: &Words, cwnd: &[CwndSample]) -> String {
    let sender = connection.bulk_sender();
    let receiver = 1 - sender;
    let data: Vec<_> = connection
        .events
        .iter()
        .filter(|e| e.from == sender && e.segment.len > 0)
        .collect();
    let acks: Vec<(f64, f64)> = connection
        .events
        .iter()
        .filter(|e| e.from == receiver && e.segment.flags.ack && e.dropped.is_none())
        .map(|e| (e.t, f64::from(e.rel_ack)))
        .collect();
    let scale = connection.window_scale[receiver];
    let windows: Vec<(f64, f64)> = connection
        .events
        .iter()
        .filter(|e| {
            e.from == receiver && e.segment.flags.ack && !e.segment.flags.syn && e.dropped.is_none()
        })
        .map(|e| {
            (
                e.t,
                f64::from(e.rel_ack)
                    + f64::from(e.segment.window) * f64::from(1u32 << scale.min(14)),
            )
        })
        .collect();
    let t_max = connection
        .events
        .iter()
        .map(|e| e.t)
        .fold(0.0, f64::max)
        .max(1e-3);
    let seq_max = data
        .iter()
        .map(|e| f64::from(e.rel_seq) + f64::from(e.segment.len))
        .fold(1.0, f64::max);
    let y_max = seq_max * 1.15;
    let x = |t: f64| PLOT_LEFT + t / t_max * (PLOT_RIGHT - PLOT_LEFT);
    let y = |v: f64| PLOT_BOTTOM - v.min(y_max) / y_max * (PLOT_BOTTOM - PLOT_TOP);

    let mut s = Svg::new(WIDTH, HEIGHT);
    s.text(
        WIDTH / 2.0,
        24.0,
        words.time_seq_title,
        15.0,
        svg::INK,
        "middle",
    );
    // Axes with round ticks.
    for v in svg::ticks(y_max, 6) {
        s.line(
            (PLOT_LEFT, y(v)),
            (PLOT_RIGHT, y(v)),
            svg::GUIDE,
            0.5,
            r#"stroke-opacity="0.5""#,
        );
        s.text(
            PLOT_LEFT - 6.0,
            y(v) + 4.0,
            &bytes(v),
            11.0,
            svg::INK,
            "end",
        );
    }
    for t in svg::ticks(t_max, 8) {
        s.line(
            (x(t), PLOT_BOTTOM),
            (x(t), PLOT_BOTTOM + 5.0),
            svg::INK,
            1.0,
            "",
        );
        s.text(
            x(t),
            PLOT_BOTTOM + 18.0,
            &seconds(t),
            11.0,
            svg::INK,
            "middle",
        );
    }
    s.line(
        (PLOT_LEFT, PLOT_TOP),
        (PLOT_LEFT, PLOT_BOTTOM),
        svg::INK,
        1.2,
        "",
    );
    s.line(
        (PLOT_LEFT, PLOT_BOTTOM),
        (PLOT_RIGHT, PLOT_BOTTOM),
        svg::INK,
        1.2,
        "",
    );
    s.text(
        PLOT_LEFT,
        PLOT_TOP - 10.0,
        words.seq,
        11.0,
        svg::INK,
        "start",
    );
    s.text(
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        PLOT_BOTTOM + 36.0,
        words.seconds,
        11.0,
        svg::INK,
        "middle",
    );

    s.polyline(&steps(&windows, &x, &y, x(t_max)), svg::WINDOW, 1.2, "");
    s.polyline(&steps(&acks, &x, &y, x(t_max)), svg::ACK, 1.4, "");
    // One path per colour: a transfer has thousands of segments.
    let (mut sent, mut again) = (Vec::new(), Vec::new());
    for e in &data {
        let (x0, lo) = (x(e.t), y(f64::from(e.rel_seq)));
        // At least a few pixels tall, so that a segment is seen at any scale.
        let hi = y(f64::from(e.rel_seq) + f64::from(e.segment.len)).min(lo - MIN_BAR);
        if e.retransmission {
            again.push((x0, lo, hi))
        } else {
            sent.push((x0, lo, hi))
        }
    }
    s.bars(&sent, svg::INK, 1.5);
    s.bars(&again, svg::RETRANSMISSION, 2.0);
    for e in data.iter().filter(|e| e.dropped.is_some()) {
        s.cross(
            x(e.t),
            y(f64::from(e.rel_seq) + f64::from(e.segment.len)),
            svg::DROPPED,
        );
    }
    if !cwnd.is_empty() {
        let c_max = cwnd.iter().map(|c| c.1).fold(1.0, f64::max) * 1.15;
        let cy = |v: f64| PLOT_BOTTOM - v / c_max * (PLOT_BOTTOM - PLOT_TOP);
        let pts: Vec<(f64, f64)> = cwnd
            .iter()
            .map(|&(t, c)| (x(t.min(t_max)), cy(c)))
            .collect();
        s.polyline(&pts, svg::CWND, 1.6, r#"stroke-dasharray="5 3""#);
        s.line(
            (PLOT_RIGHT, PLOT_TOP),
            (PLOT_RIGHT, PLOT_BOTTOM),
            svg::CWND,
            1.0,
            "",
        );
        for v in svg::ticks(c_max, 5) {
            s.text(
                PLOT_RIGHT + 6.0,
                cy(v) + 4.0,
                &format!("{v:.0}"),
                11.0,
                svg::CWND,
                "start",
            );
        }
    }
    legend(&mut s, words, !cwnd.is_empty());
    s.finish(words.time_seq_title)
}

/// A step line through samples: each value holds until the next sample.
fn steps(
    points: &[(f64, f64)],
    x: &dyn Fn(f64) -> f64,
    y: &dyn Fn(f64) -> f64,
    x_end: f64,
) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for (i, &(t, v)) in points.iter().enumerate() {
        if i > 0 {
            out.push((x(t), y(points[i - 1].1)));
        }
        out.push((x(t), y(v)));
    }
    if let Some(&(_, v)) = points.last() {
        out.push((x_end, y(v)));
    }
    out
}

fn bytes(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1} MB", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0} kB", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn seconds(t: f64) -> String {
    let text = format!("{t:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn legend(s: &mut Svg, words: &Words, with_cwnd: bool) {
    let y = HEIGHT - 22.0;
    let mut x = PLOT_LEFT;
    let mut items = vec![
        (svg::INK, words.data),
        (svg::RETRANSMISSION, words.retransmission),
        (svg::DROPPED, words.dropped),
        (svg::ACK, words.ack),
        (svg::WINDOW, words.window),
    ];
    if with_cwnd {
        items.push((svg::CWND, words.cwnd));
    }
    for (colour, text) in items {
        s.line((x, y - 4.0), (x + 18.0, y - 4.0), colour, 3.0, "");
        s.text(x + 24.0, y, text, 11.0, svg::INK, "start");
        x += 36.0
            + 7.0
                * text
                    .chars()
                    .map(|c| if c.is_ascii() { 1 } else { 2 })
                    .sum::<usize>()
                    .max(3) as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::trace::{
        connections,
        tests::{hello, record},
    };
    use crate::draw::words::Lang;
    use crate::packet::tests::tcp_packet;

    #[test]
    fn bars_for_data_and_lines_for_acks_and_the_window() {
        let c = &connections(&hello())[0];
        let doc = draw(c, Lang::En.words(), &[]);
        // The server sent the most: one data segment, one bar (with its cap).
        assert!(doc.contains(&format!(
            r#"stroke="{}" stroke-width="1.5" fill="none""#,
            svg::INK
        )));
        assert_eq!(
            doc.matches("<polyline").count(),
            2,
            "the ACK line and the window's edge"
        );
        assert!(doc.contains(">acknowledged up to<"));
        assert!(!doc.contains(svg::CWND));
        let with = draw(c, Lang::En.words(), &[(0.0, 10.0), (0.1, 20.0)]);
        assert_eq!(with.matches("<polyline").count(), 3);
        assert!(with.contains(">cwnd (segments)<"));
    }

    #[test]
    fn a_lost_segment_is_crossed_and_its_resend_coloured() {
        const C: &str = "10.99.0.2:40000";
        const S: &str = "10.99.0.1:9000";
        let block = [0u8; 1000];
        let mut records = vec![
            record(0, tcp_packet(C, S, 0, 0, "S", b""), None),
            record(1, tcp_packet(S, C, 100, 1, "SA", b""), None),
        ];
        for i in 0..5u32 {
            let note = (i == 2).then_some("dropped: loss");
            records.push(record(
                2 + u64::from(i),
                tcp_packet(C, S, 1 + i * 1000, 101, "A", &block),
                note,
            ));
        }
        records.push(record(300, tcp_packet(C, S, 2001, 101, "A", &block), None));
        records.push(record(301, tcp_packet(S, C, 101, 5001, "A", b""), None));
        let c = &connections(&records)[0];
        let doc = draw(c, Lang::ZhCn.words(), &[]);
        assert_eq!(
            doc.matches(&format!(r#"stroke="{}" stroke-width="2.5""#, svg::DROPPED))
                .count(),
            2,
            "one cross: two strokes"
        );
        assert!(doc.contains(&format!(
            r#"stroke="{}" stroke-width="2""#,
            svg::RETRANSMISSION
        )));
        assert!(doc.contains(">已确认到<"));
    }

    #[test]
    fn numbers_on_the_axes_are_short() {
        assert_eq!(bytes(2_500_000.0), "2.5 MB");
        assert_eq!(bytes(64_000.0), "64 kB");
        assert_eq!(bytes(512.0), "512");
        assert_eq!(seconds(0.25), "0.25");
        assert_eq!(seconds(2.0), "2");
    }
}
