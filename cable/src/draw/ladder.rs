//! The ladder diagram: a time line for each end, the cable between them, and one arrow
//! per segment, going down as time goes on. Dropped segments end in a cross at the cable;
//! segments sent again have their own colour. Each arrow is labelled as Wireshark labels
//! a segment: flags, relative seq and ack, and length.
//!
//! The rows are evenly spaced, one per segment, so that a handshake a few microseconds
//! long stays as readable as a retransmission a second later; the time of each segment
//! is written beside it.

use crate::draw::svg::{self, Svg};
use crate::draw::trace::{Connection, Event};
use crate::draw::words::Words;
use crate::side::Side;

const WIDTH: f64 = 860.0;
/// The two time lines, and the cable half-way.
const LEFT_X: f64 = 230.0;
const RIGHT_X: f64 = 760.0;
const FIRST_ROW: f64 = 84.0;
const ROW: f64 = 30.0;
/// How far an arrow falls while it crosses: the time the segment takes to arrive.
const FALL: f64 = 20.0;

/// Draws `connection`'s first `max` segments.
pub fn draw(connection: &Connection, words: &Words, max: usize) -> String {
    // lab-left on the left, as in the classroom's two terminals; else the client.
    let left_end = connection
        .ends
        .iter()
        .position(|e| Side::of_address(e.ip()) == Some(Side::Left))
        .unwrap_or(0);
    let x_of = |end: usize| if end == left_end { LEFT_X } else { RIGHT_X };
    let cable_x = (LEFT_X + RIGHT_X) / 2.0;
    let shown = &connection.events[..connection.events.len().min(max)];
    let rows = shown.len() as f64;
    let legend_y = FIRST_ROW + rows * ROW + 30.0;
    let height = legend_y + 50.0;
    let mut s = Svg::new(WIDTH, height);

    s.text(
        WIDTH / 2.0,
        24.0,
        words.ladder_title,
        15.0,
        svg::INK,
        "middle",
    );
    for end in 0..2 {
        s.text(
            x_of(end),
            54.0,
            &connection.ends[end].to_string(),
            13.0,
            svg::INK,
            "middle",
        );
        s.line(
            (x_of(end), 62.0),
            (x_of(end), legend_y - 20.0),
            svg::INK,
            2.0,
            "",
        );
    }
    s.text(cable_x, 54.0, words.cable, 12.0, svg::GUIDE, "middle");
    s.line(
        (cable_x, 62.0),
        (cable_x, legend_y - 20.0),
        svg::GUIDE,
        1.0,
        r#"stroke-dasharray="4 4""#,
    );
    s.text(16.0, 54.0, words.time, 12.0, svg::GUIDE, "start");

    for (i, event) in shown.iter().enumerate() {
        let y = FIRST_ROW + i as f64 * ROW;
        let (x1, x2) = (x_of(event.from), x_of(1 - event.from));
        s.text(
            16.0,
            y + FALL / 2.0 + 4.0,
            &time_label(event),
            11.0,
            svg::GUIDE,
            "start",
        );
        let colour = if event.retransmission {
            svg::RETRANSMISSION
        } else {
            svg::INK
        };
        let label = Connection::label(event);
        if let Some(reason) = &event.dropped {
            // The arrow stops at the cable, where the packet was dropped.
            let y_mid = y + FALL / 2.0;
            s.line((x1, y), (cable_x, y_mid), colour, 1.6, "");
            s.cross(cable_x, y_mid, svg::DROPPED);
            s.text_along((x1, y), (cable_x, y_mid), &label, 11.0, colour);
            let note = if words.dropped.is_empty() {
                String::new()
            } else {
                format!("{} ({reason})", words.dropped)
            };
            let anchor = if x1 < cable_x { "start" } else { "end" };
            let nx = if x1 < cable_x {
                cable_x + 12.0
            } else {
                cable_x - 12.0
            };
            s.text(nx, y_mid + 4.0, &note, 11.0, svg::DROPPED, anchor);
        } else {
            s.arrow(x1, y, x2, y + FALL, colour);
            s.text_along((x1, y), (x2, y + FALL), &label, 11.0, colour);
        }
    }
    if connection.events.len() > shown.len() {
        let more = words
            .more
            .replace("{}", &(connection.events.len() - shown.len()).to_string());
        s.text(
            WIDTH / 2.0,
            legend_y - 6.0,
            &more,
            11.0,
            svg::GUIDE,
            "middle",
        );
    }
    legend(&mut s, legend_y + 16.0, words);
    s.finish(words.ladder_title)
}

/// `+0.000 ms`, the segment's time since the first one (as it reached the cable).
fn time_label(event: &Event) -> String {
    let ms = event.t * 1e3;
    if ms < 1000.0 {
        format!("+{ms:.3} ms")
    } else {
        format!("+{:.3} s", event.t)
    }
}

fn legend(s: &mut Svg, y: f64, words: &Words) {
    let mut x = 16.0;
    for (colour, text, cross) in [
        (svg::RETRANSMISSION, words.retransmission, false),
        (svg::DROPPED, words.dropped, true),
    ] {
        if cross {
            s.cross(x + 10.0, y - 4.0, colour);
        } else {
            s.line((x, y - 4.0), (x + 22.0, y - 4.0), colour, 2.0, "");
        }
        s.text(x + 30.0, y, text, 12.0, svg::INK, "start");
        x += 40.0 + 12.0 * text.chars().count().max(4) as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::trace::{connections, tests::hello};
    use crate::draw::words::Lang;

    #[test]
    fn every_segment_is_an_arrow_and_the_lost_one_a_cross() {
        let c = &connections(&hello())[0];
        let doc = draw(c, Lang::En.words(), 60);
        assert_eq!(
            doc.matches("<polygon").count(),
            8,
            "eight arrows (nine segments, one dropped)"
        );
        assert!(doc.contains(">SYN seq=0<"));
        assert!(doc.contains(">SYN, ACK seq=0 ack=1<"));
        assert!(doc.contains(">dropped (loss)<"));
        assert!(
            doc.contains(&format!(
                r#"fill="{}" text-anchor="middle" transform"#,
                svg::RETRANSMISSION
            )),
            "the retransmission in its colour"
        );
        assert!(doc.contains(">+210.000 ms<"));
        assert!(doc.contains(">10.99.0.1:9999<"));
        let zh = draw(c, Lang::ZhCn.words(), 60);
        assert!(zh.contains(">被丢弃 (loss)<") && zh.contains(">网线<"));
        let bare = draw(c, Lang::None.words(), 60);
        assert!(!bare.contains("dropped") && bare.contains(">SYN seq=0<"));
    }

    #[test]
    fn a_long_connection_is_cut_with_a_note() {
        let c = &connections(&hello())[0];
        let doc = draw(c, Lang::En.words(), 3);
        assert_eq!(doc.matches("<polygon").count(), 3);
        assert!(doc.contains("and 6 more segments"));
    }
}
