//! # What every TCP server shares
//!
//! The pieces both of tcp-server's models and upload's server are built from, one job to a
//! file:
//!
//! - [`limits`]: the limits and their defaults;
//! - [`close`]: why a connection ended, and the close line;
//! - [`shutdown`]: stopping a server cleanly, and a server on a thread ([`Background`]);
//! - [`stats`]: the counters and the [`Summary`];
//! - [`admission`]: who is served, and the accept and refusal lines;
//! - [`survival`]: living through `EMFILE` and friends in `accept()`;
//! - [`threads`]: the accept loop with one thread per connection ([`serve`]).
//!
//! Everything is re-exported here, so `common::server::Limits` is the same as
//! `common::server::limits::Limits`. A program that needs only one piece (udp-server needs
//! only [`Shutdown`]) names its module.

pub mod admission;
pub mod close;
pub mod limits;
pub mod shutdown;
pub mod stats;
pub mod survival;
pub mod threads;

pub use admission::{admit, log_accepted, PeerSlots, Refusal};
pub use close::{log_closed, CloseReason, Closed};
pub use limits::{Limits, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PER_PEER};
pub use shutdown::{Background, Shutdown, SHUTDOWN_GRACE};
pub use stats::{Stats, Summary};
pub use survival::{AfterError, Survival};
pub use threads::{serve, Accepted, Handler, CONNECTION_STACK_SIZE};
