//! # cut: a connection that breaks after exactly so many bytes
//!
//! A relay for one connection: it passes what the client sends to `target`, at most
//! `--after` bytes, and the replies back; then it closes both sides, as a cable pulled out
//! would. The benchmark uses it to break an upload at 50%, every run at the same byte, and
//! then times the resumed send.
//!
//! ```text
//! cut 127.0.0.1:9000 --after 536870962     # prints "cut listening on 127.0.0.1:PORT"
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use clap::Parser;

/// Bytes moved per read.
const CHUNK: usize = 256 * 1024;
/// A client that never comes, or a stalled transfer, ends the relay after this long.
const TIME_LIMIT: Duration = Duration::from_secs(300);

#[derive(Parser)]
struct Args {
    /// Where to relay to.
    target: SocketAddr,
    /// Bytes from the client to pass before the connection is cut.
    #[arg(long)]
    after: u64,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("cut listening on {}", listener.local_addr()?);
    // A client that never comes ends the relay too (bounded, as every load here is).
    listener.set_nonblocking(true)?;
    let deadline = std::time::Instant::now() + TIME_LIMIT;
    let (mut client, _) = loop {
        match listener.accept() {
            Ok(accepted) => break accepted,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() > deadline {
                    let why = "no client came";
                    return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, why));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    };
    client.set_nonblocking(false)?;
    let mut server = TcpStream::connect(args.target)?;
    client.set_read_timeout(Some(TIME_LIMIT))?;
    server.set_read_timeout(Some(TIME_LIMIT))?;
    // Replies pass freely, on their own thread, until a side closes.
    let (mut replies, mut to_client) = (server.try_clone()?, client.try_clone()?);
    std::thread::spawn(move || std::io::copy(&mut replies, &mut to_client));
    let mut buf = vec![0u8; CHUNK];
    let mut left = args.after;
    while left > 0 {
        let want = left.min(CHUNK as u64) as usize;
        let n = client.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        server.write_all(&buf[..n])?;
        left -= n as u64;
    }
    // The cable is pulled: both ends see the connection end.
    let _ = server.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Both);
    eprintln!("cut after {} bytes", args.after - left);
    Ok(())
}
