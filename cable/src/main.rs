//! # cable — the command line
//!
//! ```text
//! cable run --delay 20ms --loss 5% --pcap lab.pcapng \
//!     --left 'tcp-server $LEFT:9999' --right 'tcp-client $LEFT:9999'
//! cable hold --rate 10mbit            # terminal 1: the cable stays until Ctrl-C
//! cable exec left tcp-server 0.0.0.0:9999   # terminal 2
//! cable exec right                    # terminal 3: a shell in lab-right
//! ```
//!
//! This file only reads the command line; the cable is in the library.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cable::link::{Faults, DEFAULT_QUEUE};
use cable::spec::{self, per_direction, PerDirection};
use clap::{Args, Parser, Subcommand};

/// A network cable in user space between two namespaces, lab-left 10.99.0.1 and
/// lab-right 10.99.0.2, with the faults you choose; every packet recorded.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Linux only (network namespaces and TUN devices), as an ordinary user or as root. \
On Windows, run it in WSL2; on macOS, in a Linux VM.\n\n\
Try it: cable run --delay 20ms --left 'tcp-server $LEFT:9999' --right 'tcp-client $LEFT:9999'"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Said under the faults in `cable run --help` and `cable hold --help`.
const FAULTS_HELP: &str =
    "Each fault takes one value for both directions, or A:B: A from left to right, \
B from right to left (--loss 5%:0 loses only what lab-left sends). Values as tc netem writes them.";

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one command on each side: the left one first, the right one --start-after
    /// later. When the right one ends, the left one gets Ctrl-C. Exit status: the right
    /// command's.
    #[command(after_help = FAULTS_HELP)]
    Run {
        #[command(flatten)]
        cable: CableArgs,
        /// The command for lab-left (10.99.0.1), run by sh: `$LEFT` and `$RIGHT` hold
        /// the two addresses.
        #[arg(long, value_name = "CMD")]
        left: String,
        /// The command for lab-right (10.99.0.2), run by sh.
        #[arg(long, value_name = "CMD")]
        right: String,
        /// Seconds between the left command's start and the right one's (time for a
        /// server to start listening).
        #[arg(long, value_name = "SECONDS", default_value = "0.5", value_parser = seconds)]
        start_after: Duration,
    },
    /// Hold the cable until Ctrl-C; run commands on it from other terminals with
    /// `cable exec left|right CMD`.
    #[command(after_help = FAULTS_HELP)]
    Hold {
        #[command(flatten)]
        cable: CableArgs,
    },
    /// Run a command on a held cable's side (`cable hold` in another terminal). Without a
    /// command: a shell there.
    Exec {
        /// `left` (lab-left, 10.99.0.1) or `right` (lab-right, 10.99.0.2).
        #[arg(value_parser = side)]
        side: cable::side::Side,
        /// The held cable's process, when more than one is held.
        #[arg(long)]
        pid: Option<u32>,
        /// The command and its arguments (default: $SHELL).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Draw a capture in SVG: a ladder diagram of a connection, or a time-sequence graph
    /// of a transfer (--time-seq). Works on every system.
    Draw(DrawArgs),
    /// The first process of a side (started by the cable itself).
    #[command(name = "__init", hide = true)]
    Init {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct DrawArgs {
    /// A pcapng file (`--pcap` of `cable run` or `cable hold`).
    capture: PathBuf,
    /// The SVG file to write.
    #[arg(short, long, value_name = "OUT.svg")]
    output: PathBuf,
    /// A time-sequence graph instead of a ladder: sequence numbers against time, with
    /// the acknowledgements and the receive window's edge.
    #[arg(long)]
    time_seq: bool,
    /// The words on the picture: en, zh-CN, or none.
    #[arg(long, value_enum, default_value = "en")]
    lang: cable::draw::Lang,
    /// Which TCP connection of the capture, from 1.
    #[arg(long, default_value_t = 1, value_parser = positive)]
    connection: usize,
    /// At most this many segments on a ladder.
    #[arg(long, default_value_t = cable::draw::DEFAULT_MAX, value_parser = positive)]
    max: usize,
    /// With --time-seq: draw the sender's congestion window too, from the output of
    /// `upload send --tcp-info --json`, saved to this file.
    #[arg(long, value_name = "FILE", requires = "time_seq")]
    cwnd: Option<PathBuf>,
}

/// The faults and outputs of a cable. Each fault takes one value for both directions, or
/// `A:B`: A left → right, B right → left.
#[derive(Debug, Args)]
struct CableArgs {
    /// Delay each packet: 20ms, 150us, 1s (a bare number is ms).
    #[arg(long, value_name = "TIME", value_parser = durations)]
    delay: Option<PerDirection<Duration>>,
    /// Vary the delay by up to ± this, uniformly (packets keep their order).
    #[arg(long, value_name = "TIME", value_parser = durations)]
    jitter: Option<PerDirection<Duration>>,
    /// Lose this share of packets: 5%.
    #[arg(long, value_name = "PCT", value_parser = percents)]
    loss: Option<PerDirection<f64>>,
    /// Lose them in bursts of this many packets on average (Gilbert–Elliott); 1: each
    /// loss independent.
    #[arg(long, value_name = "PACKETS", value_parser = bursts)]
    loss_burst: Option<PerDirection<f64>>,
    /// A bottleneck: send at most this fast, as tc writes it: 10mbit, 500kbit, 1gbit, 2mbps
    /// (megabytes/s).
    #[arg(long, value_name = "RATE", value_parser = rates)]
    rate: Option<PerDirection<Option<u64>>>,
    /// The bottleneck's queue, in packets; a packet that finds it full is dropped.
    #[arg(long, value_name = "PACKETS", value_parser = queues, default_value_t = PerDirection::both(DEFAULT_QUEUE).into())]
    queue: QueueArg,
    /// Send this share of packets without the delay, so that they overtake (needs --delay).
    #[arg(long, value_name = "PCT", value_parser = percents)]
    reorder: Option<PerDirection<f64>>,
    /// Send this share of packets twice.
    #[arg(long, value_name = "PCT", value_parser = percents)]
    duplicate: Option<PerDirection<f64>>,
    /// Flip one bit in this share of packets (the receiver's checksum then drops them).
    #[arg(long, value_name = "PCT", value_parser = percents)]
    corrupt: Option<PerDirection<f64>>,
    /// Drop the first N SYNs (and SYN-ACKs): watch the handshake's retransmission timer
    /// double. `--drop-syn 0:2` drops the first two that lab-right sends.
    #[arg(long, value_name = "N", value_parser = syn_counts)]
    drop_syn: Option<PerDirection<u32>>,
    /// The seed of the faults' randomness: the same seed repeats the same faults
    /// (default: a new one each run, printed at the start).
    #[arg(long)]
    seed: Option<u64>,
    /// Record every packet, the dropped ones too, in this pcapng file (for Wireshark,
    /// tcpdump -r, and `cable draw`).
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Also write the summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
}

/// `--queue` with a default that prints as a plain number in `--help`.
#[derive(Debug, Clone, Copy)]
struct QueueArg(PerDirection<usize>);

impl From<PerDirection<usize>> for QueueArg {
    fn from(q: PerDirection<usize>) -> Self {
        QueueArg(q)
    }
}

impl std::fmt::Display for QueueArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.left_to_right == self.0.right_to_left {
            write!(f, "{}", self.0.left_to_right)
        } else {
            write!(f, "{}:{}", self.0.left_to_right, self.0.right_to_left)
        }
    }
}

fn durations(s: &str) -> Result<PerDirection<Duration>, String> {
    per_direction(s, spec::duration)
}
fn percents(s: &str) -> Result<PerDirection<f64>, String> {
    per_direction(s, spec::percent)
}
fn bursts(s: &str) -> Result<PerDirection<f64>, String> {
    per_direction(s, spec::burst)
}
fn rates(s: &str) -> Result<PerDirection<Option<u64>>, String> {
    per_direction(s, spec::rate)
}
fn syn_counts(s: &str) -> Result<PerDirection<u32>, String> {
    per_direction(s, |v| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("{v:?}: a number of SYNs, 0 or more"))
    })
}
fn queues(s: &str) -> Result<QueueArg, String> {
    per_direction(s, spec::packets).map(QueueArg)
}
fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=3600.0).contains(&v) => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "{s:?}: seconds, from 0 to 3600 (0.5 = half a second)"
        )),
    }
}
fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?}: a whole number from 1")),
    }
}
fn side(s: &str) -> Result<cable::side::Side, String> {
    cable::side::Side::from_name(s)
        .ok_or_else(|| format!("{s:?}: the sides are `left` and `right`"))
}

impl CableArgs {
    /// The faults of each direction, `[left → right, right → left]`, and any warning.
    // Elsewhere than Linux the cable does not run, so nothing asks for its faults.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn faults(&self) -> ([Faults; 2], Vec<String>) {
        let pick = |d: usize| {
            let mut f = Faults::NONE;
            f.delay = self.delay.map_or(f.delay, |v| v.get(d));
            f.jitter = self.jitter.map_or(f.jitter, |v| v.get(d));
            f.loss = self.loss.map_or(f.loss, |v| v.get(d));
            f.loss_burst = self.loss_burst.map_or(f.loss_burst, |v| v.get(d));
            f.rate = self.rate.map_or(f.rate, |v| v.get(d));
            f.queue = self.queue.0.get(d);
            f.reorder = self.reorder.map_or(f.reorder, |v| v.get(d));
            f.duplicate = self.duplicate.map_or(f.duplicate, |v| v.get(d));
            f.corrupt = self.corrupt.map_or(f.corrupt, |v| v.get(d));
            f.drop_syn = self.drop_syn.map_or(f.drop_syn, |v| v.get(d));
            f
        };
        let faults = [pick(0), pick(1)];
        let mut warnings = Vec::new();
        if faults.iter().any(|f| f.reorder > 0.0 && f.delay.is_zero()) {
            warnings.push("--reorder without --delay reorders nothing: a packet overtakes only packets that wait".into());
        }
        if faults
            .iter()
            .any(|f| !f.jitter.is_zero() && f.delay.is_zero())
        {
            warnings.push(
                "--jitter without --delay: the delay varies around 0, so only upwards".into(),
            );
        }
        for f in &faults {
            let most = f.loss_burst / (f.loss_burst + 1.0);
            if f.loss_burst > 1.0 && f.loss > most && f.loss < 1.0 {
                warnings.push(format!(
                    "--loss-burst {}: bursts that long lose at most {:.0}% of the packets; longer bursts lose more",
                    f.loss_burst,
                    most * 100.0
                ));
            }
        }
        (faults, warnings)
    }

    #[cfg(target_os = "linux")]
    fn options(&self) -> cable::run::Options {
        let (faults, warnings) = self.faults();
        for w in warnings {
            eprintln!("cable: note: {w}");
        }
        cable::run::Options {
            faults,
            seed: self.seed.unwrap_or_else(|| fastrand::u64(..)),
            pcap: self.pcap.clone(),
            summary_json: self.summary_json.clone(),
        }
    }
}

fn main() -> ExitCode {
    let cli = common::generate::parse::<Cli>();
    dispatch(cli.command)
}

/// `cable draw`, on every system.
fn draw(args: DrawArgs) -> ExitCode {
    match draw_options(&args).and_then(|o| cable::draw::draw_file(&args.capture, &args.output, &o))
    {
        Ok(line) => {
            eprintln!("cable: {line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cable: {e}");
            ExitCode::from(1)
        }
    }
}

/// `cable draw`'s options, with the cwnd readings read from their file.
fn draw_options(args: &DrawArgs) -> Result<cable::draw::Options, String> {
    let cwnd = match &args.cwnd {
        None => Vec::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            cable::draw::cwnd_samples(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
    };
    Ok(cable::draw::Options {
        time_seq: args.time_seq,
        lang: args.lang,
        connection: args.connection,
        max: args.max,
        cwnd,
    })
}

#[cfg(target_os = "linux")]
fn dispatch(command: Command) -> ExitCode {
    match command {
        Command::Run {
            cable,
            left,
            right,
            start_after,
        } => cable::run::run(&cable.options(), &left, &right, start_after),
        Command::Hold { cable } => cable::run::hold(&cable.options()),
        Command::Exec { side, pid, command } => cable::exec::exec(side, pid, command),
        Command::Init { command } => cable::process::init(&command),
        Command::Draw(args) => draw(args),
    }
}

#[cfg(not(target_os = "linux"))]
fn dispatch(command: Command) -> ExitCode {
    if let Command::Draw(args) = command {
        return draw(args);
    }
    eprintln!(
        "cable: the cable needs Linux (network namespaces and TUN devices). On Windows, run it in WSL2 \
(wsl --install, then build sockets-lab there); on macOS, in a Linux VM. The book has every capture and picture of its lessons."
    );
    ExitCode::from(2)
}
