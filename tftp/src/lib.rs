//! # tftp: reliable delivery over UDP, as RFC 1350 does it
//!
//! The tutorial names TFTP as the application that uses UDP, and calls UDP fast but
//! unreliable. TFTP shows what it takes to deliver a file over it anyway: number the
//! blocks, acknowledge each one, send again when the acknowledgement does not come, and
//! know the end by a short block. A few pages of RFC, and most of TCP's questions appear.
//!
//! - [`packet`]: the packets, a pure codec.
//! - [`options`]: blksize, timeout, tsize and windowsize, agreed before the first block.
//! - [`netascii`]: text mode's line ends.
//! - [`transfer`]: the sending and receiving state machines, no I/O, time passed in.
//! - [`blocks`]: a file cut into blocks and put together again, with its SHA-256.
//! - [`drive`]: a machine, a socket and a file: the one loop of a transfer.
//! - [`check`]: the grader, `tftp get --check`.
//! - [`server`] (`tftp serve`) and [`client`] (`tftp get`, `tftp put`): the drivers, which
//!   move datagrams between a socket and a machine, and blocks between a machine and a file.

pub mod blocks;
pub mod check;
pub mod client;
pub mod drive;
pub mod netascii;
pub mod options;
pub mod packet;
pub mod run;
pub mod server;
pub mod transfer;
