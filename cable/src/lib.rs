//! # cable — a network cable in user space, with the faults you choose
//!
//! Two "machines" on one Linux host, lab-left 10.99.0.1 and lab-right 10.99.0.2: two
//! network namespaces with a TUN device in each, and this program in between, forwarding
//! every IP packet. On the way it can delay, lose, queue, reorder, duplicate or corrupt
//! them, and it records every one of them (pcapng), the dropped ones too. No root and no
//! `tc netem` needed: user namespaces and TUN devices are enough.
//!
//! - [`spec`]: the fault values as netem writes them (`20ms`, `5%`, `10mbit`, `A:B`);
//! - [`link`]: one direction of the cable, a pure state machine (time passed in);
//! - [`packet`]: the IP and TCP fields the summary and the pictures read;
//! - [`stats`]: the counts and the summary, retransmissions included;
//! - [`capture`]: the pcapng file, written and read back;
//! - [`side`]: the two ends and their addresses;
//! - [`draw`]: pictures of a capture (a ladder diagram, a time-sequence graph), on every
//!   system.
//!
//! On Linux only (the program's I/O):
//! - `netns`: the two namespaces and their TUN devices;
//! - `forward`: the loop that moves the packets;
//! - `process`: commands in a side, and why none outlives the cable;
//! - `run`: `cable run` and `cable hold`; `exec`: `cable exec`.

pub mod capture;
pub mod draw;
pub mod link;
pub mod packet;
pub mod side;
pub mod spec;
pub mod stats;

#[cfg(target_os = "linux")]
pub mod exec;
#[cfg(target_os = "linux")]
pub mod forward;
#[cfg(target_os = "linux")]
pub mod netns;
#[cfg(target_os = "linux")]
pub mod process;
#[cfg(target_os = "linux")]
pub mod run;
