//! # `--generate`: the man page and the shell completions, made from the flags
//!
//! Once a program is installed (`cargo install --path upload`), its users expect what any
//! command-line tool has: `man upload`, and the Tab key completing `--max-size`. Written by
//! hand, a man page and five completion scripts would drift from the flags with every
//! change. Made from the same `clap` definition that parses the command line, they cannot:
//! `--generate man` prints the page (with `clap_mangen`), `--generate complete-bash` (zsh,
//! fish, powershell) the script (with `clap_complete`), as ripgrep's `rg --generate` does.
//!
//! Every program calls [`parse`] instead of `Args::parse()`: it adds `--generate` to the
//! program's flags, answers it, and otherwise parses the command line as before.

use std::io::{self, Write};

use clap::{Arg, ArgMatches, Command, CommandFactory, FromArgMatches, ValueEnum};
use clap_complete::Shell;

/// The flag's name, `--generate`.
const FLAG: &str = "generate";

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The man page, in roff: save it as PROGRAM.1 and `man ./PROGRAM.1` shows it.
    Man,
    /// A completion script for bash.
    CompleteBash,
    /// A completion script for zsh.
    CompleteZsh,
    /// A completion script for fish.
    CompleteFish,
    /// A completion script for PowerShell (Windows' shell).
    CompletePowershell,
}

impl Generate {
    /// The shell a completion script is for (`None` for the man page).
    fn shell(self) -> Option<Shell> {
        match self {
            Generate::Man => None,
            Generate::CompleteBash => Some(Shell::Bash),
            Generate::CompleteZsh => Some(Shell::Zsh),
            Generate::CompleteFish => Some(Shell::Fish),
            Generate::CompletePowershell => Some(Shell::PowerShell),
        }
    }
}

/// The program's command line with `--generate` added: what is parsed, and what the man
/// page and the completions describe (so `--generate` is in them too).
pub fn command<P: CommandFactory>() -> Command {
    P::command()
        .arg(
            Arg::new(FLAG)
                .long(FLAG)
                .value_name("WHAT")
                .value_parser(clap::value_parser!(Generate))
                // Alone: `upload --generate man` needs no subcommand, `tcp-client
                // --generate man` none of the arguments it otherwise requires.
                .exclusive(true)
                .help(
                    "Print this program's man page or a shell's completion script, and exit \
                     (see the README's \"Install the programs\")",
                ),
        )
        // A subcommand is still required, except with --generate (`from_arg_matches`
        // says so when it is missing).
        .subcommand_required(false)
        .args_conflicts_with_subcommands(true)
}

/// Parses the command line as `P::parse()` does; with `--generate WHAT`, prints WHAT and
/// exits.
pub fn parse<P: CommandFactory + FromArgMatches>() -> P {
    let mut cmd = command::<P>();
    let matches = cmd.clone().get_matches();
    if let Some(&what) = matches.get_one::<Generate>(FLAG) {
        std::process::exit(print(what, cmd));
    }
    from_matches(&mut cmd, &matches)
}

/// The arguments from `matches`, or clap's usage error (for a missing subcommand too).
fn from_matches<P: FromArgMatches>(cmd: &mut Command, matches: &ArgMatches) -> P {
    P::from_arg_matches(matches).unwrap_or_else(|e| e.format(cmd).exit())
}

/// Prints `what` on stdout; the exit status.
fn print(what: Generate, cmd: Command) -> i32 {
    let name = cmd.get_name().to_string();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match write(what, cmd, &mut out).and_then(|()| out.flush()) {
        Ok(()) => crate::EXIT_OK,
        // `--generate man | head`: the reader has all it wanted.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => crate::EXIT_OK,
        Err(e) => {
            crate::output::err_line(format_args!(
                "{name}: could not write the {what:?} output: {e}"
            ));
            crate::EXIT_FAILURE
        }
    }
}

/// Writes `what` for `cmd` to `out`.
pub fn write(what: Generate, mut cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    match what.shell() {
        Some(shell) => {
            let name = cmd.get_name().to_string();
            clap_complete::generate(shell, &mut cmd, name, out);
            Ok(())
        }
        None => man(cmd, out),
    }
}

/// One page for the whole program: its own sections, then one section per subcommand
/// (`UPLOAD SERVE`, `UPLOAD SEND`, ...) with its synopsis, description and options, so
/// that `man upload` shows every flag of every subcommand in one place.
fn man(mut cmd: Command, out: &mut dyn Write) -> io::Result<()> {
    cmd.build();
    let mut roff = Vec::new();
    sections(&cmd, &mut roff)?;
    // Each piece `clap_mangen` renders begins with the same two lines of set-up: once is
    // enough.
    let mut seen = Vec::new();
    for line in String::from_utf8_lossy(&roff).lines() {
        if line.starts_with(".ie \\n(.g") || line.starts_with(".el .ds Aq") {
            if seen.contains(&line) {
                continue;
            }
            seen.push(line);
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The page's sections, each subcommand's included (see [`man`]).
fn sections(cmd: &Command, out: &mut Vec<u8>) -> io::Result<()> {
    let page = clap_mangen::Man::new(cmd.clone());
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        // `build` gave each subcommand its full name, `upload serve`.
        let full = sub.get_bin_name().unwrap_or(sub.get_name()).to_uppercase();
        writeln!(out, ".SH \"{full}\"")?;
        let sub_page = clap_mangen::Man::new(sub.clone());
        let mut body = Vec::new();
        sub_page.render_synopsis_section(&mut body)?;
        sub_page.render_description_section(&mut body)?;
        sub_page.render_options_section(&mut body)?;
        // Its sections become subsections of the subcommand's section.
        for line in String::from_utf8_lossy(&body).lines() {
            match line.strip_prefix(".SH ") {
                Some(heading) => writeln!(out, ".SS {}", title_case(heading))?,
                None => writeln!(out, "{line}")?,
            }
        }
    }
    if cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some() {
        page.render_extra_section(out)?;
    }
    page.render_version_section(out)
}

/// `OPTIONS` as `Options`, for a subsection heading.
fn title_case(heading: &str) -> String {
    let heading = heading.trim_matches('"');
    let mut chars = heading.chars();
    match chars.next() {
        Some(first) => first.to_string() + &chars.as_str().to_lowercase(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, clap::Parser)]
    #[command(name = "demo", version, about = "A demo.")]
    struct Demo {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        /// Serve things.
        Serve {
            /// The folder.
            #[arg(long)]
            dir: String,
        },
        /// Send things.
        Send {
            /// Quietly.
            #[arg(long)]
            quiet: bool,
        },
    }

    fn text(what: Generate) -> String {
        let mut out = Vec::new();
        write(what, command::<Demo>(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_man_page_has_every_subcommand_and_its_flags_in_its_section() {
        let man = text(Generate::Man);
        let serve = man.find(".SH \"DEMO SERVE\"").unwrap();
        let send = man.find(".SH \"DEMO SEND\"").unwrap();
        assert!(serve < send, "{man}");
        // roff writes a hyphen as \-.
        assert!(man[serve..send].contains("\\-\\-dir"), "{man}");
        assert!(man[send..].contains("\\-\\-quiet"), "{man}");
        assert!(man.contains("\\-\\-generate"), "{man}");
        assert!(!man.contains("\n.SH OPTIONS\n.SH"), "{man}");
    }

    #[test]
    fn a_completion_names_the_program_and_its_flags() {
        for what in [
            Generate::CompleteBash,
            Generate::CompleteZsh,
            Generate::CompleteFish,
            Generate::CompletePowershell,
        ] {
            let script = text(what);
            assert!(script.contains("demo"), "{what:?}: {script}");
            assert!(script.contains("quiet"), "{what:?}: {script}");
        }
    }

    #[test]
    fn generate_needs_no_subcommand_and_takes_none() {
        let matches = command::<Demo>()
            .try_get_matches_from(["demo", "--generate", "man"])
            .unwrap();
        assert_eq!(matches.get_one::<Generate>(FLAG), Some(&Generate::Man));
        assert!(command::<Demo>()
            .try_get_matches_from(["demo", "--generate", "man", "send"])
            .is_err());
        // Without it, the subcommand is still required.
        let matches = command::<Demo>().try_get_matches_from(["demo"]);
        let missing = match matches {
            Ok(m) => Demo::from_arg_matches(&m).err(),
            Err(e) => Some(e),
        };
        assert!(missing.is_some());
    }
}
