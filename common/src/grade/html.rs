//! # `--report FILE.html`: the grades of a class on one page
//!
//! One row per student, one column per step: a green ✓ or a red ✗ in every cell, so the
//! page reads at a glance, with the reason in each failed cell and every reason in full
//! below the table. The page is one file with its style inside: it opens from a USB stick
//! or a mail attachment, with no network (no CDN, no script, no font to fetch). It says
//! when it was graded and by which version of which grader.

use super::{Row, Verdict};

/// The most of a reason a cell shows (the list below the table has all of it).
const CELL_REASON_CHARS: usize = 110;

/// What the page shows.
pub struct Class<'a> {
    /// The command that graded: `tcp-client --check --attacks`.
    pub command: &'a str,
    pub program: &'a str,
    pub version: &'a str,
    /// When grading started, in the grader's local time.
    pub started: chrono::DateTime<chrono::Local>,
    /// How long it took.
    pub seconds: f64,
    pub rows: &'a [Row],
}

/// The style of the page: a table that fits the window (fixed columns, text that wraps),
/// colour and a mark in every cell (the mark for readers who cannot tell the colours).
const STYLE: &str = "
body { font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'PingFang SC',
       'Microsoft YaHei', sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .2em; }
code { font-family: ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; }
.meta { color: #555; margin: .2em 0 1em; }
.summary { font-size: 1.1em; margin: .2em 0; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #ccc; padding: .3em .35em; vertical-align: top;
         overflow-wrap: anywhere; }
thead th { font-size: 12px; font-weight: 600; text-align: left; background: #f3f3f3; }
thead th .n { display: block; font-size: 14px; }
th.student { width: 9em; text-align: left; }
th.score { width: 4.5em; }
td.score { text-align: center; font-weight: 600; white-space: nowrap; }
tbody th { font-weight: 600; }
.addr { display: block; font-weight: normal; font-size: 12px; color: #555; }
td.pass { background: #e3f4e3; color: #145214; text-align: center; font-size: 18px; }
td.fail { background: #fbe3e3; color: #7a1010; }
td.skip { background: #efefef; color: #666; }
td.fail .mark, td.skip .mark { display: block; font-size: 18px; text-align: center; }
.why { display: block; font-size: 11px; line-height: 1.3; }
tr.passed th { background: #e3f4e3; }
h2 { font-size: 1.15em; margin: 1.5em 0 .4em; }
ul.reasons { padding-left: 1.2em; }
ul.reasons li { margin: .15em 0; }
footer { margin-top: 2em; color: #555; font-size: 13px; }
@media print { body { margin: 0; } td.pass, td.fail, td.skip, tr.passed th {
  -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
";

/// The whole page.
pub fn page(class: &Class<'_>) -> String {
    let rows = class.rows;
    let steps = columns(rows);
    let passed = rows.iter().filter(|r| r.passed).count();
    let when = class.started.format("%Y-%m-%d %H:%M:%S %:z").to_string();
    let mut html = String::with_capacity(4096 + rows.len() * 2048);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(&format!(
        "<title>{}: {passed} of {} passed</title>\n<style>{STYLE}</style></head><body>\n",
        escape(class.command),
        rows.len()
    ));
    html.push_str(&format!(
        "<header><h1><code>{}</code></h1>\n\
         <p class=\"summary\"><strong>{passed} of {}</strong> {} passed every step.</p>\n\
         <p class=\"meta\">Graded <time datetime=\"{}\">{}</time> by {} {} in {:.1} s.</p></header>\n",
        escape(class.command),
        rows.len(),
        if rows.len() == 1 { "server" } else { "servers" },
        class.started.to_rfc3339(),
        escape(&when),
        escape(class.program),
        escape(class.version),
        class.seconds
    ));

    html.push_str(
        "<table>\n<thead><tr><th class=\"student\">student</th><th class=\"score\">score</th>",
    );
    for (i, step) in steps.iter().enumerate() {
        html.push_str(&format!(
            "<th title=\"{}\"><span class=\"n\">{}</span>{}</th>",
            escape(step),
            i + 1,
            escape(step)
        ));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        html.push_str(&format!(
            "<tr class=\"{}\"><th>{}<span class=\"addr\">{}</span></th>",
            if row.passed { "passed" } else { "failed" },
            escape(&row.name),
            escape(&row.addr)
        ));
        if row.verdicts.is_empty() {
            html.push_str("<td class=\"score\">–</td>");
            html.push_str(&format!(
                "<td class=\"fail\" colspan=\"{}\"><span class=\"mark\">✗</span><span class=\"why\">{}</span></td>",
                steps.len().max(1),
                escape(row.why.as_deref().unwrap_or("not graded"))
            ));
        } else {
            html.push_str(&format!(
                "<td class=\"score\">{}/{}</td>",
                row.passed_steps, row.total_steps
            ));
            for step in &steps {
                html.push_str(&cell(row.verdicts.iter().find(|v| &v.step == step)));
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");

    // Every reason, in full.
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.passed).collect();
    if !failed.is_empty() {
        html.push_str("<h2>What failed, and why</h2>\n");
        for row in failed {
            html.push_str(&format!(
                "<h3>{} <span class=\"addr\">{}</span></h3>\n<ul class=\"reasons\">\n",
                escape(&row.name),
                escape(&row.addr)
            ));
            if row.verdicts.is_empty() {
                html.push_str(&format!(
                    "<li>{}</li>\n",
                    escape(row.why.as_deref().unwrap_or("not graded"))
                ));
            }
            for v in row.verdicts.iter().filter(|v| !v.ok && !v.was_not_tried()) {
                html.push_str(&format!(
                    "<li><strong>{}</strong>: {}</li>\n",
                    escape(&v.step),
                    escape(&v.detail)
                ));
            }
            let skipped = row.verdicts.iter().filter(|v| v.was_not_tried()).count();
            if skipped > 0 {
                let why = row
                    .verdicts
                    .iter()
                    .find(|v| v.was_not_tried())
                    .map_or("", |v| v.detail.as_str());
                html.push_str(&format!(
                    "<li>{skipped} {} {}</li>\n",
                    if skipped == 1 { "step" } else { "steps" },
                    escape(why)
                ));
            }
            html.push_str("</ul>\n");
        }
    }
    html.push_str(&format!(
        "<footer>Made by <code>{}</code> ({} {}), {}. Each cell: ✓ passed, ✗ failed, with the reason; a grey cell was not tried.</footer>\n</body></html>\n",
        escape(class.command),
        escape(class.program),
        escape(class.version),
        escape(&when)
    ));
    html
}

/// The steps, in the order the first rows give them (a row that could not be graded has
/// none).
fn columns(rows: &[Row]) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for v in rows.iter().flat_map(|r| &r.verdicts) {
        if !steps.contains(&v.step) {
            steps.push(v.step.clone());
        }
    }
    steps
}

/// One step's cell.
fn cell(verdict: Option<&Verdict>) -> String {
    match verdict {
        None => "<td class=\"skip\"><span class=\"mark\">–</span></td>".to_string(),
        Some(v) if v.ok => format!("<td class=\"pass\" title=\"{}\">✓</td>", escape(&v.detail)),
        // Not tried: the reason is the same for the whole row, and is said once below.
        Some(v) if v.was_not_tried() => format!(
            "<td class=\"skip\" title=\"{}\"><span class=\"mark\">–</span><span class=\"why\">not tried</span></td>",
            escape(&v.detail)
        ),
        Some(v) => format!(
            "<td class=\"fail\" title=\"{}\"><span class=\"mark\">✗</span><span class=\"why\">{}</span></td>",
            escape(&v.detail),
            escape(&shorten(&v.detail, CELL_REASON_CHARS))
        ),
    }
}

/// At most `max` characters of `text`, with `…` if it was cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Text as HTML: the five characters that could open markup are written as entities.
/// (Reasons quote what a server sent, which may be anything.)
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::class::Target;
    use crate::grade::{Report, Row};

    /// A class with every kind of row: passed, failed with a gate, not graded at all.
    fn sample_rows() -> Vec<Row> {
        let target = |name: &str, port: u16| Target {
            name: name.into(),
            addr: crate::addr::Endpoint::parse(&format!("127.0.0.1:{port}")).unwrap(),
        };
        let ok = |s: &str| Verdict::of(s, Ok("fine".into()));
        vec![
            Row::new(
                &target("alice", 9001),
                Ok(Report::new("a".into(), vec![ok("one"), ok("two")])),
                0.5,
            ),
            Row::new(
                &target("bob<script>", 9002),
                Ok(Report::new(
                    "b".into(),
                    vec![
                        Verdict::of("one", Err("the reply was \"<b>hi</b>\" & more".into())),
                        Verdict::not_tried("two", "the server does not pass one"),
                    ],
                )),
                5.0,
            ),
            Row::new(
                &target("carol", 9003),
                Err("could not connect: refused".into()),
                0.1,
            ),
        ]
    }

    #[test]
    fn the_page_has_a_row_per_server_a_column_per_step_and_every_reason() {
        let rows = sample_rows();
        let page = page(&Class {
            command: "tcp-client --check --attacks",
            program: "tcp-client",
            version: "0.1.0",
            started: chrono::Local::now(),
            seconds: 5.6,
            rows: &rows,
        });
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<strong>1 of 3</strong> servers passed"));
        assert!(page.contains("by tcp-client 0.1.0 in 5.6 s"));
        assert_eq!(page.matches("<tr class=").count(), 3);
        assert!(page.contains("<span class=\"n\">1</span>one</th>"));
        assert!(page.contains("<span class=\"n\">2</span>two</th>"));
        assert_eq!(page.matches("<td class=\"pass\"").count(), 2);
        // What a server sent is text, never markup.
        assert!(!page.contains("<script>") && !page.contains("<b>hi"));
        assert!(page.contains("bob&lt;script&gt;"));
        assert!(page.contains("the reply was &quot;&lt;b&gt;hi&lt;/b&gt;&quot; &amp; more"));
        assert!(
            page.contains("colspan=\"2\""),
            "the unreachable row spans the steps"
        );
        assert!(page.contains("could not connect: refused"));
        assert!(page.contains("1 step not tried: the server does not pass one"));
        // Nothing from the network.
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains("<script") && !page.contains("<link"));
    }

    #[test]
    fn long_reasons_are_shortened_in_their_cell_only() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("中文字符", 2), "中文…");
        let v = Verdict::of("s", Err("x".repeat(200)));
        let c = cell(Some(&v));
        assert!(c.contains(&format!("{}…</span>", "x".repeat(CELL_REASON_CHARS))));
        assert!(c.contains(&format!("title=\"{}\"", "x".repeat(200))));
    }
}
