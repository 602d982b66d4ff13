//! # Progress bars, and what to print when nobody is watching
//!
//! A transfer of a few gigabytes takes a while, and a silent terminal looks like a hung
//! program. Both sides draw progress bars with `indicatif`: the sender one per file plus
//! the total, the server one per upload in progress. They are drawn on stderr, and only
//! when stderr is a terminal: in a pipe, a log file or a test, bars would be a mess of
//! control characters, so the programs print one plain line per file instead.
//!
//! The server also prints event lines while bars are on screen. Printed as they are, a line
//! would land in the middle of a bar; so every line is printed through
//! [`MultiProgress::suspend`] (via [`crate::output::print_through`]), which takes the bars
//! down, prints, and draws them again.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A file's bar: `photo.jpg [=====>    ] 12.0 MiB/20.0 MiB 110 MiB/s ETA 0s`, and after it
/// a note such as `resumed at 512.0 MiB`.
const FILE_TEMPLATE: &str =
    "{prefix:24!} [{bar:30.cyan/blue}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta} {msg}";
/// The total bar, with the count of files in its message.
const TOTAL_TEMPLATE: &str =
    "{prefix:24!} [{bar:30.green}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta} {msg}";
const BAR_CHARS: &str = "=> ";
/// The bar of bytes whose count is not known (a pipe): how many so far and how fast, no
/// percentage and no ETA.
const UNSIZED_TEMPLATE: &str =
    "{prefix:24!} {spinner} {bytes:>10} so far {bytes_per_sec:>12} {elapsed:>4} {msg}";

/// Where the bars go: a terminal, or nowhere.
#[derive(Debug, Clone)]
pub struct Progress {
    /// `None`: no bars (not a terminal, or turned off); callers print plain lines instead.
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars on stderr if `wanted` and stderr is a terminal.
    pub fn on_stderr(wanted: bool) -> Progress {
        if wanted && std::io::stderr().is_terminal() {
            Progress::with_target(ProgressDrawTarget::stderr())
        } else {
            Progress::none()
        }
    }

    /// Bars drawn to `target` (tests draw to an in-memory terminal).
    pub fn with_target(target: ProgressDrawTarget) -> Progress {
        Progress {
            multi: Some(MultiProgress::with_draw_target(target)),
        }
    }

    /// No bars.
    pub fn none() -> Progress {
        Progress { multi: None }
    }

    /// Whether bars are drawn (if not, print a plain line per file).
    pub fn is_drawing(&self) -> bool {
        self.multi.is_some()
    }

    /// Prints every line of `common::output` above the bars instead of through them.
    pub fn keep_lines_clear(&self) {
        if let Some(multi) = &self.multi {
            let multi = multi.clone();
            crate::output::print_through(move |print| multi.suspend(print));
        }
    }

    /// A bar for one file of `size` bytes, labelled `label`.
    pub fn file(&self, label: &str, size: u64) -> Bar {
        self.bar(FILE_TEMPLATE, label, size)
    }

    /// A bar for bytes of a size not known in advance (a pipe), labelled `label`.
    pub fn open_ended(&self, label: &str) -> Bar {
        Bar(self
            .multi
            .iter()
            .map(|multi| {
                let style = ProgressStyle::with_template(UNSIZED_TEMPLATE)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = multi.add(ProgressBar::no_length().with_style(style));
                bar.set_prefix(label.to_string());
                bar
            })
            .collect())
    }

    /// The bar of the whole transfer.
    pub fn total(&self, size: u64) -> Bar {
        self.bar(TOTAL_TEMPLATE, "total", size)
    }

    fn bar(&self, template: &str, label: &str, size: u64) -> Bar {
        Bar(self
            .multi
            .iter()
            .map(|multi| {
                let style = ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars(BAR_CHARS);
                let bar = multi.add(ProgressBar::new(size).with_style(style));
                bar.set_prefix(label.to_string());
                bar
            })
            .collect())
    }
}

/// A bar, or nothing when bars are off: callers need not care which. [`Bar::pair`] moves
/// two bars at once (a file's and the total).
#[derive(Debug, Clone, Default)]
pub struct Bar(Vec<ProgressBar>);

impl Bar {
    /// No bar.
    pub fn none() -> Bar {
        Bar::default()
    }

    /// Both bars, moved together by [`inc`](Self::inc).
    pub fn pair(a: &Bar, b: &Bar) -> Bar {
        Bar(a.0.iter().chain(&b.0).cloned().collect())
    }

    /// `n` more bytes went through.
    pub fn inc(&self, n: u64) {
        for bar in &self.0 {
            bar.inc(n);
        }
    }

    /// The file's first `offset` bytes are there already (a resumed upload): the bar starts
    /// at them, says so, and times only what moves from now on.
    pub fn resume_at(&self, offset: u64) {
        if offset == 0 {
            return;
        }
        for bar in &self.0 {
            bar.set_position(offset);
            bar.reset_eta();
            bar.set_message(format!("resumed at {}", crate::output::human_bytes(offset)));
        }
    }

    pub fn set_message(&self, message: String) {
        for bar in &self.0 {
            bar.set_message(message.clone());
        }
    }

    /// Done: the bar stays on screen, full, with `label` in front.
    pub fn finish(&self, label: &str) {
        for bar in &self.0 {
            bar.set_prefix(label.to_string());
            bar.finish();
        }
    }

    /// Done or failed, and not worth keeping on screen: the bar goes away.
    pub fn clear(&self) {
        for bar in &self.0 {
            bar.finish_and_clear();
        }
    }

    /// Failed: the bar stops where it was, with `label` in front.
    pub fn abandon(&self, label: &str) {
        for bar in &self.0 {
            bar.set_prefix(label.to_string());
            bar.abandon();
        }
    }
}
