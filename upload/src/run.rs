//! # The programs, start to end: `upload serve`, `upload send`, `upload get` and `upload sum`
//!
//! `main.rs` parses the command line and calls one of these; each returns the exit status.

use std::path::PathBuf;
use std::process::ExitCode;

use common::addr::Endpoint;
use common::net::{self, ListenOptions};
use common::output::{self, human_bytes, Log};
use common::server::{Limits, Shutdown};
use common::{EXIT_FAILURE, EXIT_OK};

use common::files::store;
use common::progress::Progress;

use crate::{client, hashing, protocol, server, Exchange};

/// Everything `upload serve` needs to start.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: Endpoint,
    pub listen: ListenOptions,
    pub limits: Limits,
    pub config: server::Config,
    /// Draw a bar per upload when stderr is a terminal.
    pub progress: bool,
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(code as u8)
}

/// The whole `upload serve` program: prepare the folder, listen, serve until Ctrl-C, print
/// a summary.
pub fn serve_main(options: ServeOptions) -> ExitCode {
    let config = options.config;
    let log = Log::new(config.quiet);
    if let Err(e) = server::prepare_dir(&config.dir, config.overwrite) {
        output::err_line(format_args!("upload serve: {e}"));
        return exit(EXIT_FAILURE);
    }
    // One server per folder: the hidden names of resumable parts are the same in all.
    let _folder = match store::FolderLock::take(&config.dir) {
        Ok(lock) => lock,
        Err(e) => {
            output::err_line(format_args!(
                "upload serve: cannot use the upload folder {}: {e}",
                config.dir.display()
            ));
            return exit(EXIT_FAILURE);
        }
    };
    let _ = common::capacity::raise_open_file_limit();
    let listener = match net::listen(&options.addr, &options.listen) {
        Ok(listener) => listener,
        Err(e) => {
            output::err_line(format_args!("upload serve: {e}"));
            return exit(EXIT_FAILURE);
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| options.addr.to_string(), |a| a.to_string());
    let dir = common::os::absolute(&config.dir);
    // Always printed, even with --quiet: scripts and tests read the port from it.
    output::out_line(format_args!(
        "{} upload serve listening on {local} (protocol {}, folder {}, max size {}, {}, \
         {}, {}); Ctrl-C stops it",
        output::timestamp(),
        match config.exchange {
            Exchange::V1 => "upload/1",
            Exchange::Tutorial => "tutorial",
        },
        dir.display(),
        human_bytes(config.max_size),
        if config.overwrite {
            "overwrite on"
        } else {
            "existing files kept"
        },
        match (config.exchange, config.keep_partial) {
            (Exchange::V1, Some(keep)) => format!(
                "broken-off uploads kept {} h to resume",
                server::resume::hours(keep)
            ),
            (Exchange::V1, None) => "no resume".to_string(),
            (Exchange::Tutorial, _) => "no resume (the tutorial's exchange has none)".to_string(),
        },
        options.limits,
    ));
    // Parts kept for resume are meant to be there; others were left by a server that was
    // stopped mid-upload.
    let leftovers: Vec<_> = store::leftover_parts(&config.dir)
        .into_iter()
        .filter(|p| !server::resume::is_kept_part(p))
        .collect();
    match config.keep_partial {
        Some(keep) => {
            let swept = server::resume::sweep(&config.dir, keep, std::time::SystemTime::now());
            let (kept, bytes) = server::resume::kept(&config.dir);
            if kept > 0 || swept > 0 {
                log.info(format_args!(
                    "{kept} partial file(s) kept for resume ({} arrived), each deleted after \
                     {} h unused (--keep-partial); {swept} older one(s) deleted now",
                    human_bytes(bytes),
                    server::resume::hours(keep)
                ));
            }
        }
        None => {
            let (kept, _) = server::resume::kept(&config.dir);
            if kept > 0 {
                log.warn(format_args!(
                    "{kept} partial file(s) kept for resume are in {}, and this server \
                     resumes none (--keep-partial 0); they are safe to delete",
                    dir.display()
                ));
            }
        }
    }
    if !leftovers.is_empty() {
        log.warn(format_args!(
            "{} partial file(s) in {} were left by a server that was stopped mid-upload \
             (e.g. {}); they are safe to delete",
            leftovers.len(),
            dir.display(),
            leftovers[0].display()
        ));
    }
    for warning in common::capacity::startup_warnings(
        options.limits.max_connections,
        common::capacity::PerConnection::FileAndThread,
    ) {
        log.warn(format_args!("{warning}"));
    }
    let shutdown = match Shutdown::new(&listener) {
        Ok(s) => s,
        Err(e) => {
            output::err_line(format_args!(
                "upload serve: could not prepare shutdown on {local}: {e}"
            ));
            return exit(EXIT_FAILURE);
        }
    };
    if let Err(e) = shutdown.trigger_on_ctrl_c() {
        log.warn(format_args!("{e}"));
    }
    let progress = Progress::on_stderr(options.progress);
    progress.keep_lines_clear();
    let report = server::serve(listener, config, options.limits, progress, &shutdown);
    output::out_line(format_args!(
        "{} upload serve stopped. {report}",
        output::timestamp()
    ));
    exit(EXIT_OK)
}

/// The whole `upload send` program: send every file, print the digests and a summary;
/// exit 1 if any file did not arrive.
pub fn send_main(files: &[PathBuf], options: &client::Options, bars: bool) -> ExitCode {
    let progress = Progress::on_stderr(bars);
    progress.keep_lines_clear();
    let report = client::send_files(files, options, &progress);
    let all_sent = report.all_sent();
    let many = report.files.len() + report.folders.len() + report.skipped.len() > 1;
    if !all_sent || many {
        output::err_line(format_args!("upload: {report}"));
    }
    exit(if all_sent { EXIT_OK } else { EXIT_FAILURE })
}

/// The whole `upload get` program: the file on stdout (or in `output`), a line on
/// stderr with its digest; exit 1 if it did not come back verified.
pub fn get_main(
    name: &str,
    output: Option<&PathBuf>,
    options: &client::Options,
    bars: bool,
) -> ExitCode {
    let progress = Progress::on_stderr(bars);
    progress.keep_lines_clear();
    match client::get::fetch(name, output, options, &progress) {
        Ok(got) => {
            Log::stderr(options.quiet).info(format_args!(
                "got {name}: {} in {:.3} s ({}), sha256 {}, verified against the server's",
                human_bytes(got.size),
                got.elapsed.as_secs_f64(),
                crate::rate(got.size, got.elapsed),
                protocol::digest_hex(&got.digest)
            ));
            exit(EXIT_OK)
        }
        Err(e) => {
            output::err_line(format_args!("upload get: {name}: {e}; {}", e.advice()));
            exit(EXIT_FAILURE)
        }
    }
}

/// The whole `upload sum` program: one `sha256sum` line per file on stdout; a file that
/// cannot be read gets an error line on stderr, and the exit status is then 1.
pub fn sum_main(files: &[PathBuf]) -> ExitCode {
    let mut all_read = true;
    for path in files {
        match hashing::sum_file(path) {
            Ok(digest) => output::out_line(format_args!(
                "{}  {}",
                protocol::digest_hex(&digest),
                path.display()
            )),
            Err(e) => {
                all_read = false;
                output::err_line(format_args!(
                    "upload sum: cannot read {}: {e} (check the path and its permissions)",
                    path.display()
                ));
            }
        }
    }
    exit(if all_read { EXIT_OK } else { EXIT_FAILURE })
}
