//! # The baseline: the smallest correct-looking std server
//!
//! What a Rust programmer writes in five minutes: `TcpListener::bind`, a thread per
//! connection with `thread::spawn`, reply `hello,` + each read. No framing, no limits, no
//! timeouts, no logging. `tcp-server --quiet` is measured against it: a teaching server
//! must pay nothing for its features.
//!
//! ```text
//! cargo run --release -p bench --bin std-hello-server -- 127.0.0.1:0
//! ```
//!
//! It is written as such servers are, `unwrap` and all: when `thread::spawn` fails it panics,
//! which is what the benchmark's flood shows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9999".into());
    let listener = TcpListener::bind(&addr).unwrap();
    println!(
        "std-hello-server listening on {}",
        listener.local_addr().unwrap()
    );
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        thread::spawn(move || {
            let _ = stream.write_all(b"Hello!\n");
            let mut buf = [0u8; 1024];
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut reply = Vec::with_capacity(6 + n);
                reply.extend_from_slice(b"hello,");
                reply.extend_from_slice(&buf[..n]);
                if stream.write_all(&reply).is_err() {
                    break;
                }
            }
        });
    }
}
