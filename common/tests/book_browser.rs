//! The book in a real browser. Both editions (English and Chinese) are built the way a
//! reader gets them (`docs/i18n.sh build`), then every page is opened in headless
//! Chromium at 1280×800, driven through chromedriver over WebDriver, and measured by the
//! browser itself (`book_browser/page.js`). A page fails on:
//!
//! - a code pane or a table whose content is wider than its box (the reader would scroll
//!   sideways), or a page wider than the window;
//! - side-by-side panes that are not side by side at 1280 px, or not one above the other
//!   at 860 px;
//! - an image that does not load, or an `{{#include}}` that mdBook left unresolved;
//! - a missing language switch (English | 中文), or one that does not lead to the same page
//!   in the other edition; a link to a page, or a place in a page, that does not exist;
//! - Markdown left in the prose as typed (`**`, `__`, a backtick, `[text](`, an underscore
//!   against a Chinese character): CommonMark's rules for where emphasis may open and close
//!   trip Chinese text after full-width punctuation;
//! - in the Chinese edition, a paragraph, heading, list item or table cell in English.
//!
//! Screenshots of two pages per edition are kept in `target/tmp/book-browser/` for a person
//! to look at. Needs mdbook, mdbook-i18n-helpers, gettext, python3, chromium and
//! chromium-driver; without them it says so and skips (under `SOCKETS_LAB_NO_SKIP`, set by
//! CI, it fails instead).
//!
//! The WebDriver calls are written out here (a handful of HTTP requests with `ureq`):
//! the WebDriver client crates (fantoccini, thirtyfour) need an async runtime, which this
//! workspace does not use.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use common::grade::class::Target;
use common::grade::{html, Report, Row, Verdict};
use common::testing::{available, available_by, run, tell, which, workspace_root, Install};

/// The window every page is checked in (the issue's 1280×800: a common laptop screen).
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;
/// Below about 900 px the side-by-side panes stack (docs/theme/book.css).
const NARROW: u32 = 860;
/// The editions: the language code of their pages, and their folder in the built book.
const EDITIONS: [(&str, &str); 2] = [("en", ""), ("zh-CN", "zh-CN")];
/// The pages kept as screenshots: one with side-by-side code, one with a wide table.
const SCREENSHOTS: [&str; 2] = ["tcp-server.html", "glossary.html"];
/// Pages of the output that are not chapters: mdBook's not-found page, the whole book on
/// one page for printing, and the table of contents for readers without JavaScript.
const NOT_CHAPTERS: [&str; 3] = ["404.html", "print.html", "toc.html"];
/// The check each page runs (see the file).
const PAGE_CHECK: &str = include_str!("book_browser/page.js");
/// The check a grader's `--report` page runs (see the file).
const REPORT_CHECK: &str = include_str!("book_browser/report.js");
/// Scrolls a page to its first side-by-side panes, or its first table, for a screenshot.
const SHOW_FIRST_EXAMPLE: &str = "const example = document.querySelector('main .side-by-side') \
     || document.querySelector('main table'); \
     if (example) window.scrollTo(0, example.getBoundingClientRect().top + window.scrollY - 120);";
/// How long chromedriver may take to start, and the book to build.
const DRIVER_START: Duration = Duration::from_secs(30);
const BUILD_LIMIT: Duration = Duration::from_secs(300);
/// One WebDriver call (a page load included).
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// The tools that build the book, and how to install each.
const BOOK_TOOLS: [(&str, Install); 4] = [
    (
        "mdbook",
        Install::Command("cargo install mdbook --locked --version 0.5.4"),
    ),
    (
        "mdbook-gettext",
        Install::Command("cargo install mdbook-i18n-helpers --locked --version 0.4.0"),
    ),
    ("msgcat", Install::Package("gettext")),
    ("python3", Install::Package("python3")),
];

/// The browser this machine has (its path), after the tools that build the book; `None`
/// (said where a person sees it) when something is missing.
fn chromium() -> Option<String> {
    if !BOOK_TOOLS
        .iter()
        .all(|&(tool, how)| available_by(tool, how))
    {
        return None;
    }
    browser_only()
}

/// The browser and its driver alone (for pages that are not the book's).
fn browser_only() -> Option<String> {
    if !available("chromedriver", "chromium-driver") {
        return None;
    }
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| which(name));
    if found.is_none() {
        // Reported through the same rule as the other tools (and failed under NO_SKIP).
        available("chromium", "chromium");
    }
    found
}

#[test]
fn every_page_of_both_editions_reads_in_a_real_browser() {
    let Some(chromium) = chromium() else { return };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("book-browser");
    let book = out.join("book");
    let (code, stdout, stderr) = run(
        Command::new("bash")
            .arg(workspace_root().join("docs/i18n.sh"))
            .arg("build")
            .arg(&book),
        BUILD_LIMIT,
    );
    assert_eq!(
        code,
        Some(0),
        "docs/i18n.sh build failed:\n{stdout}\n{stderr}"
    );

    let driver = ChromeDriver::start();
    let browser = driver.browser(&chromium, &out.join("profile"));
    let mut problems = Vec::new();
    let mut checked = 0;

    browser.resize(WIDTH, HEIGHT);
    for (lang, folder) in EDITIONS {
        let root = book.join(folder);
        for page in chapters(&root) {
            let report = browser.check(&root.join(&page), lang);
            problems.extend(judge(&book, lang, &page, &report));
            checked += 1;
        }
        for page in SCREENSHOTS {
            browser.open(&root.join(page));
            // The part worth seeing: the first side-by-side panes, or the first table.
            browser.run(SHOW_FIRST_EXAMPLE, &[]);
            let png = out.join(format!("{lang}-{}.png", page.trim_end_matches(".html")));
            std::fs::write(&png, browser.screenshot()).unwrap();
            tell(format_args!("book_browser: screenshot: {}", png.display()));
        }
    }
    // Narrow: the side-by-side pages stack their panes (page.js knows the width).
    browser.resize(NARROW, HEIGHT);
    for (lang, folder) in EDITIONS {
        let page = "tcp-server.html";
        let report = browser.check(&book.join(folder).join(page), lang);
        for problem in strings(&report["problems"]) {
            problems.push(format!("{lang}/{page} at {NARROW} px: {problem}"));
        }
    }

    assert!(
        problems.is_empty(),
        "{} problems in {checked} pages:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        checked >= 2 * 20,
        "only {checked} pages found in {}",
        book.display()
    );
}

/// The check itself, on a page made to have every fault it looks for: each must be found,
/// so that a book that passes has none of them (a check that finds nothing proves nothing).
#[test]
fn the_page_check_finds_every_fault_it_looks_for() {
    let Some(chromium) = chromium() else { return };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("book-browser-faults");
    let book = out.join("book");
    std::fs::create_dir_all(book.join("zh-CN")).unwrap();
    let page = book.join("zh-CN").join("faults.html");
    std::fs::write(&page, FAULTS).unwrap();

    let driver = ChromeDriver::start();
    let browser = driver.browser(&chromium, &out.join("profile"));
    browser.resize(WIDTH, HEIGHT);
    let report = browser.check(&page, "zh-CN");
    let found = judge(&book, "zh-CN", "faults.html", &report).join("\n");
    for fault in [
        "code pane wider than its box",
        "table wider than its box",
        "the page is",
        "panes not side by side at 1280 px",
        "a line of a Python port wraps",
        "unresolved mdBook directive: {{#include ../missing.rs}}",
        "image missing: missing.png",
        "English in the Chinese edition: <p> \"This paragraph was never translated",
        "language switch: [], not English | 中文",
        "link to a page that does not exist",
        "link to a place that does not exist: file://",
        "literal Markdown (**) in the prose: \"**监听队列（backlog）。**内核",
        "literal Markdown (__) in the prose",
        "literal Markdown (a backtick) in the prose",
        "literal Markdown ([text]() in the prose",
        "literal Markdown (_ against a Chinese character) in the prose",
        "English in the Chinese edition: <summary> \"Answer key",
    ] {
        assert!(
            found.contains(fault),
            "not found: {fault}\nthe check said:\n{found}"
        );
    }
    // What is fine on that page is not reported: the Chinese paragraph with English words,
    // the English column of a glossary (a table that fits), and the link to the page itself.
    let itself = format!("does not exist: file://{}\n", page.display());
    for fine in [
        "这一段是中文",
        "three-way handshake",
        "<table> \"English",
        &itself,
        "**code**",
        "a_b",
        "参考答案",
    ] {
        assert!(!found.contains(fine), "reported, but fine: {fine}\n{found}");
    }
}

/// A class as `tcp-client --check --attacks --targets` grades it: 30 students, the twelve
/// steps, reasons as long as the real ones (and some quoting what a server sent).
fn sample_class() -> Vec<Row> {
    let steps = [
        "the tutorial's session",
        "several messages in one write",
        "one message split over writes",
        "a message one byte at a time",
        "an oversize message",
        "garbage and invalid UTF-8",
        "end of stream in the middle of a message",
        "a reset in the middle of a message",
        "50 clients at once",
        "a silent client does not block the others",
        "a client that reads nothing",
        "a flood of connections from one address",
    ];
    (0..30)
        .map(|i| {
            let target = Target {
                name: format!("student-{i:02}"),
                addr: common::addr::Endpoint::parse(&format!("192.0.2.{}:9999", 10 + i)).unwrap(),
            };
            let verdicts: Vec<Verdict> = steps
                .iter()
                .enumerate()
                .map(|(k, step)| match (i % 5, k) {
                    (1, 9 | 10) => Verdict::of(*step, Err(format!(
                        "while one client said nothing: 192.0.2.{}:9999: no greeting: timed out after 5 s (--timeout) (is the server slow, or does it not use --framing line too?)",
                        10 + i
                    ))),
                    (2, 0) => Verdict::of(*step, Err("reply to \"li\": expected \"hello,li\", got \"hello,b'li'<br>\"".into())),
                    (2, _) => Verdict::not_tried(*step, "the server does not pass the tutorial's session"),
                    _ => Verdict::of(*step, Ok("fine".into())),
                })
                .collect();
            let graded = if i == 29 {
                Err("could not connect to 192.0.2.39:9999: timed out (no answer in 5.0 s: is the address right? is a firewall dropping packets?)".into())
            } else {
                Ok(Report::new(target.addr.to_string(), verdicts))
            };
            Row::new(&target, graded, 1.5)
        })
        .collect()
}

/// The page a grader writes for the teacher (`--report`), in a real browser at 1280×800:
/// it fits the window, every failed cell shows its reason, every cell its mark, nothing is
/// fetched from the network, and it says when and by which version it was graded. The same
/// check, on a page spoiled in each of those ways, finds each fault.
#[test]
fn a_graders_report_reads_in_a_real_browser() {
    let Some(chromium) = browser_only() else {
        return;
    };
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("book-browser");
    std::fs::create_dir_all(&out).unwrap();
    let rows = sample_class();
    let page = html::page(&html::Class {
        command: "tcp-client --check --attacks",
        program: "tcp-client",
        version: env!("CARGO_PKG_VERSION"),
        started: chrono::Local::now(),
        seconds: 23.4,
        rows: &rows,
    });
    let good = out.join("report.html");
    std::fs::write(&good, &page).unwrap();
    // Spoiled: a stylesheet from a CDN, reasons hidden, a table that cannot wrap.
    let spoiled = page
        .replace(
            "<style>",
            "<link rel=\"stylesheet\" href=\"https://cdn.example/x.css\"><style>",
        )
        .replace(
            "</style>",
            ".why { display: none; } table { table-layout: auto; width: 2400px; }</style>",
        )
        .replace(" by tcp-client ", " by ");
    let bad = out.join("report-spoiled.html");
    std::fs::write(&bad, spoiled).unwrap();

    let driver = ChromeDriver::start();
    let browser = driver.browser(&chromium, &out.join("profile-report"));
    browser.resize(WIDTH, HEIGHT);
    browser.open(&good);
    let report = browser.run(REPORT_CHECK, &[]);
    let problems = strings(&report["problems"]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(report["rows"], json!(30));
    assert!(report["failed"].as_u64().unwrap() >= 12, "{report}");
    let png = out.join("report.png");
    std::fs::write(&png, browser.screenshot()).unwrap();
    tell(format_args!("book_browser: screenshot: {}", png.display()));

    browser.open(&bad);
    let found = strings(&browser.run(REPORT_CHECK, &[])["problems"]).join("\n");
    for fault in [
        "the page is",
        "table wider than its box",
        "a failed cell without a visible reason",
        "fetches something: <link",
        "no time and grader version at the top",
    ] {
        assert!(
            found.contains(fault),
            "not found: {fault}\nthe check said:\n{found}"
        );
    }
}

/// A page with every fault `page.js` looks for, and some things that look alike but are
/// fine. (No language switch: its script is not on this page.)
const FAULTS: &str = r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><style>
  main { width: 600px; } pre > code { display: block; white-space: pre; overflow-x: auto; }
  .side-by-side > div { display: block; }
</style></head><body><main>
<p>这一段是中文，with a few English words in it, which is fine.</p>
<p>This paragraph was never translated into Chinese at all.</p>
<table><thead><tr><th>English</th><th>中文</th></tr></thead>
  <tbody><tr><td>three-way handshake</td><td>三次握手</td></tr></tbody></table>
<table><tr><td style="white-space: nowrap">一个很宽的表格一个很宽的表格一个很宽的表格一个很宽的表格一个很宽的表格一个很宽的表格</td></tr></table>
<pre><code>print("hello")  # a line of code far too long for its box, which scrolls sideways instead of wrapping</code></pre>
<div class="side-by-side"><div><pre><code class="language-python code-lines"><span class="code-line" style="display:inline-block;width:100%;white-space:pre-wrap">x = 1  # a line of a Python port that is too long for its pane, so that it wraps onto a second line</span></code></pre></div><div><p>右边</p></div></div>
<p>{{#include ../missing.rs}}</p>
<p>**监听队列（backlog）。**内核自己完成握手。</p>
<p>一个 __粗体__ 和一个 `反引号，还有 [链接](framing.md) 和连接_另一个_服务器。</p>
<p>这是 <strong>粗体</strong>，<code>**code**</code> 和 <code>a_b</code> 都不算。</p>
<details><summary>Answer key</summary><p>答案。</p></details>
<details><summary><p>参考答案</p></summary><p>答案。</p></details>
<p><img src="missing.png" alt="图"></p>
<p><a href="faults.html">本页</a> <a href="nowhere.html">不存在的页面</a>
  <a href="faults.html#nowhere">不存在的地方</a> <a href="faults.html#here" id="here">这里</a></p>
</main><div style="width: 3000px">宽</div></body></html>
"#;

/// Everything wrong with one page, from its report (`page.js`), checked against the files
/// of the built book.
fn judge(book: &Path, lang: &str, page: &str, report: &Value) -> Vec<String> {
    let mut problems: Vec<String> = strings(&report["problems"]);
    if report["width"] != json!(WIDTH) {
        problems.push(format!(
            "the window is {} px wide, not {WIDTH}",
            report["width"]
        ));
    }
    if report["lang"] != json!(lang) {
        problems.push(format!("<html lang={}>, not {lang}", report["lang"]));
    }
    for text in strings(&report["english"]) {
        problems.push(format!("English in the Chinese edition: {text}"));
    }
    // The switch: both languages, the current one marked, each the same page.
    let links = report["switchLinks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let langs: Vec<&str> = links.iter().filter_map(|l| l["lang"].as_str()).collect();
    if langs != ["en", "zh-CN"] {
        problems.push(format!("language switch: {langs:?}, not English | 中文"));
    }
    for link in &links {
        let href = link["href"].as_str().unwrap_or_default();
        let current = link["current"] == json!(true);
        if current != (link["lang"] == json!(lang)) {
            problems.push(format!(
                "language switch: {href} is marked wrongly as current"
            ));
        }
        let target = file_of(href);
        let folder = if link["lang"] == json!("en") {
            ""
        } else {
            "zh-CN"
        };
        if target.as_deref() != Some(book.join(folder).join(page).as_path()) {
            problems.push(format!("language switch: {href} is not {folder}/{page}"));
        }
    }
    for link in report["links"].as_array().cloned().unwrap_or_default() {
        let href = link["href"].as_str().unwrap_or_default();
        let fragment = link["fragment"].as_str().unwrap_or_default();
        // Any file counts (a capture, a picture): read as bytes, looked into as text.
        let target = file_of(href).and_then(|path| std::fs::read(path).ok());
        match target.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()) {
            None => problems.push(format!("link to a page that does not exist: {href}")),
            // A heading's id is made from its text, so it differs between the editions
            // unless the heading gives one ({#id}).
            Some(html) if !fragment.is_empty() && !html.contains(&format!("id=\"{fragment}\"")) => {
                problems.push(format!("link to a place that does not exist: {href}"));
            }
            Some(_) => {}
        }
    }
    problems
        .into_iter()
        .map(|p| format!("{lang}/{page}: {p}"))
        .collect()
}

/// The chapters of an edition: its HTML files, but for those that are not chapters.
fn chapters(root: &Path) -> Vec<String> {
    let mut pages: Vec<String> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".html") && !NOT_CHAPTERS.contains(&name.as_str()))
        .collect();
    pages.sort();
    pages
}

/// The file a `file://` URL names (without its `#fragment`).
fn file_of(href: &str) -> Option<PathBuf> {
    let path = href.strip_prefix("file://")?;
    let path = path.split(['#', '?']).next()?;
    Some(PathBuf::from(path))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// chromedriver on a free loopback port, ended (by its PID) when dropped.
struct ChromeDriver {
    child: Child,
    url: String,
    agent: ureq::Agent,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        // A free port: bind port 0, read the number, let it go for chromedriver.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start chromedriver: {e}"));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(CALL_LIMIT))
            .http_status_as_error(false)
            .build()
            .into();
        let driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let deadline = Instant::now() + DRIVER_START;
        loop {
            let status = driver.agent.get(format!("{}/status", driver.url)).call();
            if let Ok(mut response) = status {
                let body: Value = response.body_mut().read_json().unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {port} within {DRIVER_START:?}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new headless Chromium, with a profile of its own in `profile`.
    fn browser(&self, chromium: &str, profile: &Path) -> Browser<'_> {
        let _ = std::fs::remove_dir_all(profile);
        let args = [
            "--headless=new".to_string(),
            // As root (CI), Chromium refuses to start sandboxed; the pages are our own files.
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            // Nothing from the network: the book is local files, and a closed network
            // makes Chromium's own background connections fail, many at a time.
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--force-device-scale-factor=1".to_string(),
            format!("--window-size={WIDTH},{HEIGHT}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let created = self.call("POST", "/session", Some(capabilities));
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver made no session: {created}"))
            .to_string();
        Browser {
            driver: self,
            session: format!("/session/{id}"),
        }
    }

    /// One WebDriver command; returns its `value`, or fails the test with its error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut response = response.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = response.status();
        let reply: Value = response
            .body_mut()
            .read_json()
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: not JSON: {e}"));
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status}: {}",
            reply["value"]["message"]
        );
        reply["value"].clone()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session; closed (and Chromium with it) when dropped.
struct Browser<'d> {
    driver: &'d ChromeDriver,
    session: String,
}

impl Browser<'_> {
    /// Makes the page's viewport (not the window, which has borders and bars around it)
    /// width × height: set the window, measure the viewport, add what is missing.
    fn resize(&self, width: u32, height: u32) {
        let set = |w: i64, h: i64| {
            self.driver.call(
                "POST",
                &format!("{}/window/rect", self.session),
                Some(json!({"width": w, "height": h})),
            );
        };
        let (width, height) = (i64::from(width), i64::from(height));
        set(width, height);
        let inner = self.run("return [window.innerWidth, window.innerHeight];", &[]);
        let (w, h) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
        set(2 * width - w, 2 * height - h);
    }

    /// Opens a file of the built book; WebDriver returns once the page has loaded.
    fn open(&self, file: &Path) {
        let url = format!("file://{}", file.display());
        self.driver.call(
            "POST",
            &format!("{}/url", self.session),
            Some(json!({ "url": url })),
        );
    }

    /// Opens a page and runs `page.js` in it.
    fn check(&self, file: &Path, lang: &str) -> Value {
        self.open(file);
        self.run(PAGE_CHECK, &[json!(lang)])
    }

    /// Runs a script in the page (the body of a function of `args`); returns its value.
    fn run(&self, script: &str, args: &[Value]) -> Value {
        self.driver.call(
            "POST",
            &format!("{}/execute/sync", self.session),
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The window as a PNG.
    fn screenshot(&self) -> Vec<u8> {
        let encoded = self
            .driver
            .call("GET", &format!("{}/screenshot", self.session), None);
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .unwrap()
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let url = format!("{}{}", self.driver.url, self.session);
        let _ = self.driver.agent.delete(&url).call();
    }
}
