//! # Names from the network: a file name, or nothing
//!
//! The tutorial's server writes every upload to `recv_yan.jpg`: safe, but each upload
//! destroys the last. The obvious improvement, "use the name the client sends", is one of
//! the classic holes in network servers: a name like `../../home/teacher/.bashrc` or
//! `/etc/cron.d/x` writes wherever the client likes ("path traversal").
//!
//! The rule here is strict and easy to state: **a name is accepted only if it is a single,
//! plain, visible file name**, the same on every operating system. It is checked before a
//! single byte of the file is accepted, and refused with `ERR BAD_NAME` and the reason.
//!
//! - not empty, at most 255 bytes, valid UTF-8;
//! - no `/` or `\` (the separators of Unix and Windows), no `:` (Windows drive letters like
//!   `C:` and alternate streams, the old Mac separator): so no path and no absolute path;
//! - not starting with `.`: this refuses `.` and `..`, and keeps hidden names for the
//!   server's own partial files (`.photo.jpg.3.part`);
//! - no control characters (a newline in a name would forge lines in logs and listings,
//!   an escape sequence would repaint the teacher's terminal);
//! - nothing Windows cannot hold, on every system, so a file a Linux server took can be
//!   copied to a student's Windows laptop: none of `< > " | ? *`; no name that ends in a
//!   dot or a space (Windows drops them: `a.txt.` would become `a.txt`, another file); and
//!   no device name — `CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`, in any
//!   case and with any extension (`nul.txt`, `Com3.log`): on Windows, opening `nul.txt`
//!   opens the null device, and the upload would vanish. Look-alikes such as `console.txt`
//!   or `com10` are ordinary names.
//!
//! Symbolic links are the other way out of a folder: a link `uploads/x -> /etc/passwd` would
//! make "write to x" write to /etc/passwd. The server never opens an existing final name for
//! writing: it writes a new partial file and moves it into place with `link`/`rename`,
//! which replace a link itself, never what it points to (see [`super::store`]).

/// The longest name accepted, in bytes: the limit of a file name on the common file systems
/// (ext4, APFS, NTFS count 255 bytes or characters).
pub const MAX_NAME: usize = 255;

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadName {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {} bytes", MAX_NAME)]
    TooLong,
    #[error("the name is not valid UTF-8")]
    NotUtf8,
    #[error("the name contains a path separator ('/', '\\' or ':'); send a plain file name")]
    Separator,
    #[error("the name starts with '.' ('.', '..' and hidden names are not accepted)")]
    Dot,
    #[error("the name contains a control character")]
    Control,
    #[error("the name contains one of < > \" | ? *, which Windows does not allow in file names")]
    WindowsCharacter,
    #[error(
        "the name ends in a dot or a space, which Windows drops (it would become another name)"
    )]
    TrailingDotOrSpace,
    #[error("the name is a Windows device name (CON, PRN, AUX, NUL, COM1-COM9, LPT1-LPT9, with any extension)")]
    Device,
}

/// Characters Windows forbids in file names besides the separators and control characters.
const WINDOWS_FORBIDDEN: [char; 6] = ['<', '>', '"', '|', '?', '*'];

/// Windows' device names: a file name whose part before the first dot is one of these
/// (in any case, spaces after it ignored) names the device, not a file.
fn is_windows_device(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            // COM1-COM9 and LPT1-LPT9, and the superscript ¹ ² ³ that Windows also takes.
            let (Some(head), Some(digit)) = (upper.get(..3), upper.get(3..)) else {
                return false;
            };
            matches!(head, "COM" | "LPT")
                && matches!(
                    digit,
                    "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
                )
        }
    }
}

// ANCHOR: check
/// Checks a name from the network; returns it as text if it is a plain file name.
pub fn check(name: &[u8]) -> Result<&str, BadName> {
    if name.is_empty() {
        return Err(BadName::Empty);
    }
    if name.len() > MAX_NAME {
        return Err(BadName::TooLong);
    }
    let name = std::str::from_utf8(name).map_err(|_| BadName::NotUtf8)?;
    if name.contains(['/', '\\', ':']) {
        return Err(BadName::Separator);
    }
    if name.starts_with('.') {
        return Err(BadName::Dot);
    }
    // char::is_control covers C0 (including \0, \n, \r, \t, ESC), DEL and C1.
    if name.chars().any(char::is_control) {
        return Err(BadName::Control);
    }
    // The same rules on every system: what Windows cannot hold is refused everywhere.
    if name.contains(WINDOWS_FORBIDDEN) {
        return Err(BadName::WindowsCharacter);
    }
    if name.ends_with(['.', ' ']) {
        return Err(BadName::TrailingDotOrSpace);
    }
    if is_windows_device(name) {
        return Err(BadName::Device);
    }
    Ok(name)
}
// ANCHOR_END: check

/// The most folders deep a relative path from the network may go ([`check_path`]).
pub const MAX_DEPTH: usize = 32;

/// Why a relative path was refused: which of its parts, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPath {
    #[error("the path is empty, starts or ends with '/', or has '//' in it")]
    EmptyPart,
    #[error("the path is more than {} folders deep", MAX_DEPTH)]
    TooDeep,
    #[error("the path's part {part:?}: {why}")]
    Part { part: String, why: BadName },
}

// ANCHOR: check_path
/// Checks a relative path from the network, `photos/2024/a.jpg`: parts separated by `/`,
/// each of them a plain name by [`check`] (so no `..`, no `C:`, no hidden part, no `\`),
/// at most [`MAX_DEPTH`] of them. Returns its parts in order; joined to a folder, they
/// stay inside it.
pub fn check_path(path: &[u8]) -> Result<Vec<&str>, BadPath> {
    let parts: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
    if parts.len() > MAX_DEPTH {
        return Err(BadPath::TooDeep);
    }
    parts
        .into_iter()
        .map(|part| {
            if part.is_empty() {
                return Err(BadPath::EmptyPart);
            }
            check(part).map_err(|why| BadPath::Part {
                part: String::from_utf8_lossy(part).into_owned(),
                why,
            })
        })
        .collect()
}
// ANCHOR_END: check_path

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::{Component, Path};

    #[test]
    fn plain_names_pass() {
        for good in [
            "photo.jpg",
            "my photo (1).jpg",
            "报告.pdf",
            "a",
            "x.tar.gz",
            "a..b",
            // Look-alikes of Windows' device names are ordinary names.
            "console.txt",
            "CONFIG.SYS",
            "com10",
            "com",
            "lpt0x",
            "nully.txt",
            "auxiliary.md",
            "my con.txt",
        ] {
            assert_eq!(check(good.as_bytes()), Ok(good));
        }
        assert!(check("x".repeat(255).as_bytes()).is_ok());
    }

    #[test]
    fn hostile_names_are_refused_for_the_right_reason() {
        use BadName::*;
        let cases: &[(&[u8], BadName)] = &[
            (b"", Empty),
            (b".", Dot),
            (b"..", Dot),
            (b".bashrc", Dot),
            (b"../etc/passwd", Separator),
            (b"/etc/passwd", Separator),
            (b"a/b", Separator),
            (b"..\\..\\boot.ini", Separator),
            (b"C:\\Windows\\x", Separator),
            (b"C:x", Separator),
            (b"file.txt:stream", Separator),
            (b"a\nb", Control),
            (b"a\rb", Control),
            (b"a\0b", Control),
            (b"\x1b[2Jclear", Control),
            (b"tab\there", Control),
            ("c1\u{85}".as_bytes(), Control),
            (b"\xff\xfe", NotUtf8),
            (b"CON", Device),
            (b"con", Device),
            (b"nul.txt", Device),
            (b"Com3.log", Device),
            (b"lpt9", Device),
            (b"PRN.tar.gz", Device),
            (b"aux .txt", Device),
            ("COM\u{b9}".as_bytes(), Device),
            (b"CONOUT$", Device),
            (b"a<b", WindowsCharacter),
            (b"a>b", WindowsCharacter),
            (b"say \"hi\"", WindowsCharacter),
            (b"a|b", WindowsCharacter),
            (b"why?", WindowsCharacter),
            (b"*.jpg", WindowsCharacter),
            (b"trail.", TrailingDotOrSpace),
            (b"trail ", TrailingDotOrSpace),
            (b"a.txt.", TrailingDotOrSpace),
        ];
        for (name, why) in cases {
            assert_eq!(check(name), Err(*why), "{name:?}");
        }
        assert_eq!(check("x".repeat(256).as_bytes()), Err(TooLong));
    }

    #[test]
    fn relative_paths_pass_part_by_part() {
        assert_eq!(check_path(b"a"), Ok(vec!["a"]));
        assert_eq!(
            check_path("photos/2024/报告.pdf".as_bytes()),
            Ok(vec!["photos", "2024", "报告.pdf"])
        );
        let deepest = vec!["d"; MAX_DEPTH].join("/");
        assert!(check_path(deepest.as_bytes()).is_ok());
        assert_eq!(
            check_path(format!("{deepest}/x").as_bytes()),
            Err(BadPath::TooDeep)
        );
        for empty in [&b""[..], b"/etc/passwd", b"a//b", b"a/", b"/"] {
            assert_eq!(check_path(empty), Err(BadPath::EmptyPart), "{empty:?}");
        }
        for (bad, part, why) in [
            (&b"../x"[..], "..", BadName::Dot),
            (b"a/../../x", "..", BadName::Dot),
            (b"a/./b", ".", BadName::Dot),
            (b"a/.git/config", ".git", BadName::Dot),
            (b"a\\..\\b/c", "a\\..\\b", BadName::Separator),
            (b"C:/x", "C:", BadName::Separator),
            (b"a/nul/b", "nul", BadName::Device),
            (b"a/b\nc", "b\nc", BadName::Control),
            (b"a/trail./b", "trail.", BadName::TrailingDotOrSpace),
        ] {
            let want = BadPath::Part {
                part: part.to_string(),
                why,
            };
            assert_eq!(check_path(bad), Err(want), "{bad:?}");
        }
    }

    /// Names as a hostile client sends them: mostly ordinary characters (so that many pass),
    /// with every kind of trouble mixed in (separators, dots, controls, Windows' reserved
    /// characters, spaces at the end, device names), and now and then any bytes at all.
    fn hostile_name() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            8 => "[a-zA-Z0-9 ()_-]{1,6}",
            2 => Just("报告".to_string()),
            1 => prop_oneof![
                Just("/"), Just("\\"), Just(":"), Just("."), Just(".."), Just("\0"),
                Just("\n"), Just("<"), Just("?"), Just("*"), Just("|"), Just("\u{7f}"),
                Just("CON"), Just("nul"), Just("lpt1"), Just(" "),
            ]
            .prop_map(str::to_string),
        ];
        prop_oneof![
            9 => proptest::collection::vec(piece, 1..6).prop_map(|p| p.concat().into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..300),
        ]
    }

    /// Whatever passes is one normal path component: joined to a folder, it stays inside.
    /// Checked on enough names that pass: a strategy whose names all failed would check
    /// nothing (random bytes pass about once in 500), so the count of passes is asserted.
    #[test]
    fn whatever_passes_stays_in_the_folder() {
        const CASES: u32 = 2000;
        let passed = std::sync::atomic::AtomicU32::new(0);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(CASES));
        runner
            .run(&hostile_name(), |name| {
                if let Ok(name) = check(&name) {
                    passed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let path = Path::new("/srv/uploads").join(name);
                    prop_assert_eq!(path.parent(), Some(Path::new("/srv/uploads")));
                    let last = Path::new(name).components().collect::<Vec<_>>();
                    prop_assert_eq!(last.len(), 1);
                    prop_assert!(matches!(last[0], Component::Normal(_)));
                    // And it is none of the names Windows cannot hold.
                    prop_assert!(!is_windows_device(name));
                    prop_assert!(!name.contains(WINDOWS_FORBIDDEN));
                }
                Ok(())
            })
            .unwrap();
        let passed = passed.into_inner();
        assert!(
            passed >= CASES / 5,
            "only {passed} of {CASES} names passed: the property checked almost nothing"
        );
    }
}
