//! # upload: a file transfer you can trust — the tutorial's image upload, done right
//!
//! The tutorial's last example sends `yan.jpg` to a server that saves it as `recv_yan.jpg`:
//! the size as bare digits, a go-ahead, the bytes, "传送完成" (done). It works on a good
//! day. What it gets wrong is a list of what every file transfer must get right:
//!
//! | the tutorial                                          | here                                    |
//! |-------------------------------------------------------|-----------------------------------------|
//! | `send()` may send part of the bytes, unchecked        | `write_all` (Python: `sendall`)          |
//! | the size is not framed: it must arrive alone          | [`protocol`]: lines, then exactly `size` bytes |
//! | a client that leaves early makes the server loop forever (`recv` returns `b''`) | end of stream is seen; the partial file is deleted |
//! | every upload overwrites `recv_yan.jpg`                | the client's name, checked ([`common::files::name`]); `ERR EXISTS` |
//! | a half-received file sits under the real name         | hidden `.part`, fsync, atomic rename ([`common::files::store`]) |
//! | nothing checks that the bytes arrived intact          | SHA-256 on both sides, compared before the file is kept |
//! | one client at a time, no limits, no timeout           | [`common::server`]: threads, limits, idle timeout; `--max-size` |
//! | silence while it runs                                 | progress bars ([`common::progress`])             |
//!
//! One crate, two subcommands: [`server`] is `upload serve`, [`client`] is `upload send`.
//! [`tutorial`] is the tutorial's own exchange (`--protocol tutorial`), which both speak too,
//! so that our programs and the tutorial's can talk to each other. [`run`] is each
//! subcommand from start to end, for `main.rs` to call.

pub mod check;
pub mod client;
pub mod hashing;
pub mod protocol;
pub mod run;
pub mod server;
pub mod tutorial;
pub mod wire;

/// Which exchange the two sides speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Exchange {
    /// Upload v1: names, sizes and SHA-256 digests in lines, several files per connection.
    #[default]
    V1,
    /// The tutorial's exchange: greeting, size, go-ahead, bytes, done. One file, no name,
    /// no checksum. Its old name, seed, works too.
    #[value(alias = "seed")]
    Tutorial,
}

/// How many bytes the programs move per `read`/`write` of file data. Large enough that a
/// system call moves a lot (on loopback, calls are the cost), small enough that memory
/// stays flat whatever the file size.
pub const DATA_BUFFER: usize = 256 * 1024;

/// `12.3 MB/s` (decimal megabytes): the rate every program prints, from `common`.
pub use common::output::rate;
