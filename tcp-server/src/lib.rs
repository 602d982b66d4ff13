//! # The hello service: the tutorial's `tcp.py`, done right
//!
//! The protocol, as the tutorial means it:
//!
//! 1. on accept, the server sends the greeting `Hello!`;
//! 2. for each message `m` from the client it replies `hello,` + `m`;
//! 3. on the message `exit`, or when the client closes, it closes the connection.
//!
//! What the tutorial's version gets wrong, and where this one fixes it:
//!
//! | `tcp.py`                                         | here                                          |
//! |--------------------------------------------------|-----------------------------------------------|
//! | `data == 'exit'` compares bytes to a str: never true in Python 3 | messages are bytes, compared to `b"exit"` |
//! | replies `hello,b'li'` (formats the bytes object) | replies the bytes: `hello,li`                  |
//! | one `recv(1024)` = one message                   | a [`Framing`](frame::Framing) finds message boundaries |
//! | no `SO_REUSEADDR`: restart fails in TIME_WAIT    | on by default ([`common::net`])               |
//! | a thread per client, no limit, no timeout        | [`common::server`]: limit, idle timeout       |
//! | "a thread per connection, or one client at a time" | `--model poll`: one thread, every client    |
//!
//! The pieces, one file each:
//!
//! - [`config`]: the messages, the two models and the settings, plain data.
//! - [`session`]: the protocol as a state machine, bytes in, replies and "close" out, with
//!   no I/O at all; both models drive it.
//! - [`thread`]: `--model thread` (the default), a thread per client, blocking reads.
//! - [`poll`]: `--model poll`, one thread, non-blocking sockets and readiness events.
//!
//! [`serve`] runs either on a listener you bound (tests bind port 0), and [`main`] is the
//! whole program behind `tcp-server`.

pub mod config;
pub mod poll;
pub mod session;
pub mod thread;

use std::process::ExitCode;
use std::sync::Arc;

use common::addr::Endpoint;
use common::capacity;
use common::frame;
use common::net::{self, ListenOptions};
use common::output::{self, Log};
use common::server::{self, Background, Limits, Shutdown, Summary};
use common::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

pub use config::{
    Config, Model, BUSY_MESSAGE, DEFAULT_GREETING, DEFAULT_REPLY_PREFIX, EXIT_MESSAGE,
};
pub use session::Rules;

/// Everything `tcp-server` needs to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: Endpoint,
    pub listen: ListenOptions,
    pub limits: Limits,
    pub config: Config,
}

/// Checks what clap cannot: that the greeting and prefix can be sent with the framing.
pub fn validate(config: &Config) -> Result<(), String> {
    let mut scratch = Vec::new();
    frame::encode(config.framing, &config.greeting, &mut scratch)
        .map_err(|e| format!("invalid --greeting: {e}"))?;
    frame::encode(config.framing, &config.reply_prefix, &mut scratch)
        .map_err(|e| format!("invalid --reply-prefix: {e}"))?;
    Ok(())
}

/// A server ready to run on its listener, in either model: the event loop is set up
/// (and can fail) before it runs, so that [`spawn`] and [`main`] report the failure.
enum Ready {
    Thread(std::net::TcpListener, Rules),
    Poll(Box<poll::EventLoop>),
}

impl Ready {
    fn new(
        listener: std::net::TcpListener,
        config: Config,
        limits: Limits,
    ) -> std::io::Result<Ready> {
        let model = config.model;
        let rules = Rules::new(config, limits);
        Ok(match model {
            Model::Thread => Ready::Thread(listener, rules),
            Model::Poll => Ready::Poll(Box::new(poll::EventLoop::new(listener, rules)?)),
        })
    }

    fn run(self, shutdown: &Shutdown) -> Summary {
        match self {
            Ready::Thread(listener, rules) => {
                let log = Log::new(rules.config.quiet);
                let limits = rules.limits;
                let hello = Arc::new(thread::Hello::new(rules));
                server::serve(listener, limits, hello, log, shutdown)
            }
            Ready::Poll(event_loop) => event_loop.run(shutdown),
        }
    }
}

/// Serves the hello service on an already-bound listener until `shutdown` is triggered,
/// in the model `config.model` says.
pub fn serve(
    listener: std::net::TcpListener,
    config: Config,
    limits: Limits,
    shutdown: &Shutdown,
) -> std::io::Result<Summary> {
    Ok(Ready::new(listener, config, limits)?.run(shutdown))
}

/// Serves on a thread of this process (tests, embedding): stop it with
/// [`Background::stop`], which returns the summary.
pub fn spawn(
    listener: std::net::TcpListener,
    config: Config,
    limits: Limits,
) -> std::io::Result<Background<Summary>> {
    let addr = listener.local_addr()?;
    let shutdown = Shutdown::new(&listener)?;
    let ready = Ready::new(listener, config, limits)?;
    Background::spawn(addr, shutdown, move |s| ready.run(s))
}

/// The whole `tcp-server` program: check, listen, serve until Ctrl-C, print a summary.
pub fn main(options: Options) -> ExitCode {
    if let Err(e) = validate(&options.config) {
        output::err_line(format_args!("tcp-server: {e}"));
        return ExitCode::from(EXIT_USAGE as u8);
    }
    let log = Log::new(options.config.quiet);
    // Every client needs a descriptor (and, in the thread model, a thread): lift the soft
    // limit (often 1024) to the hard one, as most servers do.
    let _ = capacity::raise_open_file_limit();

    let listener = match net::listen(&options.addr, &options.listen) {
        Ok(listener) => listener,
        Err(e) => {
            output::err_line(format_args!("tcp-server: {e}"));
            return ExitCode::from(EXIT_FAILURE as u8);
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| options.addr.to_string(), |a| a.to_string());
    let (o, l, c) = (&options.listen, &options.limits, &options.config);
    // Always printed, even with --quiet: scripts and tests read the port from it.
    output::out_line(format_args!(
        "{} tcp-server listening on {local} (model {}, framing {}, backlog {}, {}, {}, max message {} bytes); \
         Ctrl-C stops it",
        output::timestamp(),
        c.model,
        c.framing,
        o.backlog,
        common::os::describe_address_reuse(o.reuse_addr, o.reuse_port),
        l,
        c.max_frame,
    ));
    for warning in capacity::startup_warnings(l.max_connections, c.model.per_connection()) {
        log.warn(format_args!("{warning}"));
    }

    let shutdown = match Shutdown::new(&listener) {
        Ok(s) => s,
        Err(e) => {
            output::err_line(format_args!(
                "tcp-server: could not prepare shutdown on {local}: {e}"
            ));
            return ExitCode::from(EXIT_FAILURE as u8);
        }
    };
    let model = c.model;
    let ready = match Ready::new(listener, options.config, options.limits) {
        Ok(ready) => ready,
        Err(e) => {
            output::err_line(format_args!(
                "tcp-server: could not start the {model} model on {local}: {e}; \
                 try --model thread"
            ));
            return ExitCode::from(EXIT_FAILURE as u8);
        }
    };
    if let Err(e) = shutdown.trigger_on_ctrl_c() {
        log.warn(format_args!("{e}"));
    }
    let summary = ready.run(&shutdown);
    output::out_line(format_args!(
        "{} tcp-server stopped. {summary}",
        output::timestamp()
    ));
    ExitCode::from(EXIT_OK as u8)
}
