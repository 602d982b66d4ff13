//! # Files from the network
//!
//! What every server that stores files a client sent must get right, shared by `upload
//! serve` and `tftp serve`: which names it may take ([`name`]), and how it writes them so
//! that a name always holds a whole file ([`store`]).

pub mod name;
pub mod store;
