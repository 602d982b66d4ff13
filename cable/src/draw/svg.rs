//! A few SVG elements as text: enough for the two pictures, with every piece of text
//! escaped. The colours are named once here so that both pictures agree.

use std::fmt::Write as _;

/// Ordinary segments.
pub const INK: &str = "#1f2937";
/// Segments sent again.
pub const RETRANSMISSION: &str = "#d97706";
/// Dropped segments (their cross).
pub const DROPPED: &str = "#dc2626";
/// Acknowledgements on the time-sequence graph.
pub const ACK: &str = "#059669";
/// The receive window's edge.
pub const WINDOW: &str = "#7c3aed";
/// The congestion window.
pub const CWND: &str = "#2563eb";
/// Guides: the time lines, the cable, the axes' grid.
pub const GUIDE: &str = "#9ca3af";

/// A point on the picture: x to the right, y down.
pub type Point = (f64, f64);

/// An SVG document being written.
pub struct Svg {
    body: String,
    width: f64,
    height: f64,
}

/// Escapes text for XML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Svg {
    pub fn new(width: f64, height: f64) -> Svg {
        Svg {
            body: String::new(),
            width,
            height,
        }
    }

    pub fn line(
        &mut self,
        (x1, y1): Point,
        (x2, y2): Point,
        colour: &str,
        width: f64,
        extra: &str,
    ) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{colour}" stroke-width="{width}" {extra}/>"#
        );
    }

    /// A line ending in an arrowhead of its colour.
    pub fn arrow(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, colour: &str) {
        self.line((x1, y1), (x2, y2), colour, 1.6, "");
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-9);
        let (ux, uy) = (dx / len, dy / len);
        let (size, half) = (9.0, 4.0);
        let (bx, by) = (x2 - ux * size, y2 - uy * size);
        let _ = writeln!(
            self.body,
            r#"<polygon points="{x2:.1},{y2:.1} {:.1},{:.1} {:.1},{:.1}" fill="{colour}"/>"#,
            bx - uy * half,
            by + ux * half,
            bx + uy * half,
            by - ux * half
        );
    }

    /// A cross centred on (x, y).
    pub fn cross(&mut self, x: f64, y: f64, colour: &str) {
        self.cross_of(x, y, 6.0, colour);
    }

    /// A cross of half-width `r`.
    pub fn cross_of(&mut self, x: f64, y: f64, r: f64, colour: &str) {
        self.line((x - r, y - r), (x + r, y + r), colour, 2.5, "");
        self.line((x - r, y + r), (x + r, y - r), colour, 2.5, "");
    }

    /// Text; `anchor` is start, middle or end.
    pub fn text(&mut self, x: f64, y: f64, text: &str, size: f64, colour: &str, anchor: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" fill="{colour}" text-anchor="{anchor}">{}</text>"#,
            escape(text)
        );
    }

    /// Text turned to run along a line from (x1, y1) towards (x2, y2), above it.
    pub fn text_along(
        &mut self,
        (x1, y1): Point,
        (x2, y2): Point,
        text: &str,
        size: f64,
        colour: &str,
    ) {
        let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        let mut angle = (y2 - y1).atan2(x2 - x1).to_degrees();
        if angle > 90.0 {
            angle -= 180.0;
        } else if angle < -90.0 {
            angle += 180.0;
        }
        let _ = writeln!(
            self.body,
            r#"<text x="{mx:.1}" y="{:.1}" font-size="{size}" fill="{colour}" text-anchor="middle" transform="rotate({angle:.1} {mx:.1} {my:.1})">{}</text>"#,
            my - 4.0,
            escape(text)
        );
    }

    /// A polyline through the points.
    pub fn polyline(&mut self, points: &[(f64, f64)], colour: &str, width: f64, extra: &str) {
        if points.is_empty() {
            return;
        }
        let pts: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            self.body,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="{width}" {extra}/>"#,
            pts.join(" ")
        );
    }

    /// Many vertical bars in one path (a time-sequence graph has thousands): `bars` are
    /// (x, y from, y to).
    pub fn bars(&mut self, bars: &[(f64, f64, f64)], colour: &str, width: f64) {
        if bars.is_empty() {
            return;
        }
        let mut d = String::new();
        for (x, y1, y2) in bars {
            let _ = write!(d, "M{x:.1} {y1:.1}V{y2:.1}");
        }
        let _ = writeln!(
            self.body,
            r#"<path d="{d}" stroke="{colour}" stroke-width="{width}" fill="none"/>"#
        );
    }

    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"/>"#
        );
    }

    /// The whole document, with a title for screen readers (and the browser's tooltip).
    pub fn finish(self, title: &str) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, 'Noto Sans Mono CJK SC', monospace" role="img">
<title>{}</title>
<rect width="100%" height="100%" fill="white"/>
{}</svg>
"#,
            escape(title),
            self.body,
            w = self.width,
            h = self.height
        )
    }
}

/// Round steps for an axis from 0 to `max`: about `count` of them, at 1, 2 or 5 × 10^n.
pub fn ticks(max: f64, count: usize) -> Vec<f64> {
    if max <= 0.0 || !max.is_finite() {
        return vec![0.0];
    }
    let raw = max / count.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= max * 1.0001)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut s = Svg::new(10.0, 10.0);
        s.text(0.0, 0.0, "<a & b>", 10.0, INK, "start");
        let doc = s.finish("t \"q\"");
        assert!(doc.contains("&lt;a &amp; b&gt;"));
        assert!(doc.contains("<title>t &quot;q&quot;</title>"));
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        // Floating point: each system's libm rounds the last digit its own way.
        let t = ticks(0.35, 4);
        assert_eq!(t.len(), 4, "{t:?}");
        for (got, want) in t.iter().zip([0.0, 0.1, 0.2, 0.3]) {
            assert!((got - want).abs() < 1e-9, "{t:?}");
        }
        assert_eq!(ticks(0.0, 4), vec![0.0]);
        assert_eq!(ticks(2_000_000.0, 4).len(), 5);
    }
}
