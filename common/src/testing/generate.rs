//! # The check every program's tests run on its `--generate`
//!
//! The man page is made from the flags ([`crate::generate`]), so it cannot drift from them;
//! this check makes sure of it from the outside, on the installed binary: every `--flag`
//! that `--help` shows, the program's and each subcommand's, is in the man page, in that
//! subcommand's section; and each completion script names the program, and bash loads its
//! own.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Long enough for a program to print its help, on a loaded machine, under Wine.
const LIMIT: Duration = Duration::from_secs(30);

/// What `exe ARGS` prints on stdout; it must succeed.
fn stdout_of(exe: &Path, args: &[&str]) -> String {
    let (code, out, err) = super::run(Command::new(exe).args(args), LIMIT);
    assert_eq!(code, Some(0), "{} {args:?}: {err}", exe.display());
    out
}

/// The `--flags` a help text names, anywhere in it (its options, and the flags its
/// descriptions mention).
pub fn flags(help: &str) -> Vec<String> {
    let mut found: Vec<String> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter_map(|word| {
            let name = word.strip_prefix("--")?.trim_end_matches('-');
            name.starts_with(|c: char| c.is_ascii_lowercase())
                .then(|| format!("--{name}"))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Whether `text` has `flag` as a whole word (`--max` is not in `--max-size`).
fn has_flag(text: &str, flag: &str) -> bool {
    text.match_indices(flag).any(|(i, _)| {
        !text[i + flag.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// The subcommands a help text lists under `Commands:` (not `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// The program's name as its man page and completions give it (`upload`, not `upload.exe`).
fn program_name(exe: &Path) -> String {
    exe.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Runs the check on the program at `exe` (see the module docs).
pub fn check(exe: &Path) {
    let name = program_name(exe);
    // roff writes every hyphen of a flag as `\-`.
    let man = stdout_of(exe, &["--generate", "man"]).replace("\\-", "-");
    assert!(man.contains(&format!(".TH {name} 1")), "{man}");
    let top = stdout_of(exe, &["--help"]);
    assert!(has_flag(&top, "--generate"), "{top}");
    for flag in flags(&top) {
        assert!(has_flag(&man, &flag), "{name}'s man page lacks {flag}");
    }
    for sub in subcommands(&top) {
        let help = stdout_of(exe, &[&sub, "--help"]);
        let heading = format!(".SH \"{} {}\"", name.to_uppercase(), sub.to_uppercase());
        let start = man
            .find(&heading)
            .unwrap_or_else(|| panic!("{name}'s man page has no section {heading}"));
        let rest = &man[start + heading.len()..];
        let section = &rest[..rest.find("\n.SH ").unwrap_or(rest.len())];
        let wanted = flags(&help);
        assert!(!wanted.is_empty(), "{name} {sub} --help names no flag");
        for flag in wanted {
            assert!(
                has_flag(section, &flag),
                "{name}'s man page lacks {flag} in its {sub} section"
            );
        }
    }
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = stdout_of(exe, &["--generate", &format!("complete-{shell}")]);
        assert!(script.contains(&name), "the {shell} completion: {script}");
        assert!(
            has_flag(&script, "--help") || script.contains("'help'"),
            "the {shell} completion has no flags: {script}"
        );
    }
    bash_loads_the_completion(exe, &name);
}

/// bash sources the completion script and then has a completion for the program.
fn bash_loads_the_completion(exe: &Path, name: &str) {
    if cfg!(windows) {
        super::skip_allowed(
            super::UNDER_WINE,
            "bash is not here to load the completion (checked on Linux and macOS)",
        );
        return;
    }
    let script = stdout_of(exe, &["--generate", "complete-bash"]);
    let mut bash = Command::new("bash");
    bash.args(["-c", &format!("source /dev/stdin && complete -p {name}")])
        .stdin(Stdio::piped());
    let mut child = bash
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(script.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains(name),
        "bash did not load the completion: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_found_anywhere_and_as_whole_words() {
        let help =
            "Options:\n      --max-size <BYTES>  Largest (see --keep-free).\n  -q, --quiet\n";
        assert_eq!(flags(help), ["--keep-free", "--max-size", "--quiet"]);
        assert!(has_flag("a --max-size b", "--max-size"));
        assert!(!has_flag("a --max-size b", "--max"));
        assert_eq!(
            subcommands("Commands:\n  serve  S\n  send   T\n  help   H\n\nOptions:\n"),
            ["serve", "send"]
        );
    }
}
