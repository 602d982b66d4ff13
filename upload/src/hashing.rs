//! # SHA-256 beside the I/O, on a thread of its own
//!
//! Both sides hash every byte as it passes: one pass over the data, never a second read of
//! the file. Done in the same loop as the I/O, the hashing adds its time to every chunk:
//! read, hash, write, read, hash, write. SHA-256 runs at about 2 GB/s per core with the CPU's
//! SHA instructions, so on a fast link that is a large share of the transfer.
//!
//! A [`Pipeline`] moves the hashing to a second thread. The I/O loop takes a buffer, fills
//! it, writes it out, and hands it to the hashing thread, which gives it back when done. A
//! few buffers circulate, so the next read and write happen while the last chunk is hashed:
//! with a spare core, verification costs no time at all. The order of the chunks is kept
//! (one channel, one thread), and memory stays fixed at [`BUFFERS`] × [`DATA_BUFFER`].

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::{self, JoinHandle};

use sha2::{Digest as _, Sha256};

use crate::protocol::Digest;
use crate::DATA_BUFFER;

/// Buffers in circulation: one being filled, one being hashed, and spares to absorb jitter.
pub const BUFFERS: usize = 4;
/// The hashing thread needs little stack: the buffers are on the heap.
const HASHER_STACK: usize = 64 * 1024;

/// What the I/O side hands the hashing thread.
enum Job {
    /// The first `len` bytes of the buffer come next.
    Chunk(Vec<u8>, usize),
    /// Tell me the digest of everything so far, and call that point `offset` (a resumable
    /// upload's checkpoint, or the end of a prefix checked again).
    Mark(u64),
}

/// SHA-256 of a stream of chunks, computed on a thread of its own.
pub struct Pipeline {
    to_hasher: Option<SyncSender<Job>>,
    free: Receiver<Vec<u8>>,
    /// The digests at the marks, in order.
    marks: Receiver<(u64, Digest)>,
    hasher: Option<JoinHandle<Digest>>,
}

impl Pipeline {
    /// Starts the hashing thread (fails only if the system cannot make a thread).
    pub fn start() -> io::Result<Pipeline> {
        let (to_hasher, jobs) = mpsc::sync_channel::<Job>(BUFFERS);
        let (give_back, free) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
        let (marked, marks): (Sender<(u64, Digest)>, _) = mpsc::channel();
        for _ in 0..BUFFERS {
            // Cannot fail: the channel has room for every buffer and its receiver is alive.
            let _ = give_back.send(vec![0u8; DATA_BUFFER]);
        }
        let hasher = thread::Builder::new()
            .name("sha256".into())
            .stack_size(HASHER_STACK)
            .spawn(move || {
                let mut sha = Sha256::new();
                // Ends when the I/O side drops its sender (finish, or an error).
                for job in jobs {
                    match job {
                        Job::Chunk(buf, len) => {
                            sha.update(&buf[..len]);
                            let _ = give_back.send(buf);
                        }
                        // A copy of the state, finished: the hash itself goes on.
                        Job::Mark(offset) => {
                            let _ = marked.send((offset, sha.clone().finalize().into()));
                        }
                    }
                }
                sha.finalize().into()
            })?;
        Ok(Pipeline {
            to_hasher: Some(to_hasher),
            free,
            marks,
            hasher: Some(hasher),
        })
    }

    /// A buffer to fill: waits until the hashing thread has one to give back.
    pub fn buffer(&mut self) -> io::Result<Vec<u8>> {
        self.free.recv().map_err(|_| hasher_gone())
    }

    /// Hands the first `len` bytes of `buf` to the hashing thread, in order.
    pub fn hash(&mut self, buf: Vec<u8>, len: usize) -> io::Result<()> {
        self.send(Job::Chunk(buf, len))
    }

    fn send(&self, job: Job) -> io::Result<()> {
        match &self.to_hasher {
            Some(tx) => tx.send(job).map_err(|_| hasher_gone()),
            None => Err(hasher_gone()),
        }
    }

    /// Asks for the digest of everything handed over so far, to be collected later with
    /// [`marked`](Self::marked) under the name `offset`; the I/O does not wait for it.
    pub fn mark(&mut self, offset: u64) -> io::Result<()> {
        self.send(Job::Mark(offset))
    }

    /// A digest asked for by [`mark`](Self::mark) that is ready, if any (oldest first).
    pub fn marked(&mut self) -> Option<(u64, Digest)> {
        self.marks.try_recv().ok()
    }

    /// The digest of everything handed over so far, waiting for it; the hash goes on.
    pub fn digest_so_far(&mut self) -> io::Result<Digest> {
        self.send(Job::Mark(u64::MAX))?;
        loop {
            match self.marks.recv() {
                Ok((u64::MAX, digest)) => return Ok(digest),
                Ok(_) => {} // an earlier mark nobody collected
                Err(_) => return Err(hasher_gone()),
            }
        }
    }

    /// The digest of everything handed over.
    pub fn finish(mut self) -> io::Result<Digest> {
        self.to_hasher = None; // the end of the chunks
        match self.hasher.take().map(JoinHandle::join) {
            Some(Ok(digest)) => Ok(digest),
            _ => Err(hasher_gone()),
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // Stopped early (an error): end the thread and wait for it, so none is left behind.
        self.to_hasher = None;
        if let Some(hasher) = self.hasher.take() {
            let _ = hasher.join();
        }
    }
}

/// Hands the next `len` bytes of `file` to `pipeline` (a prefix checked again before a
/// resume, by the server or the sender); fewer only if the file ends first, which is an
/// error.
pub fn hash_prefix(pipeline: &mut Pipeline, file: &mut impl Read, len: u64) -> io::Result<()> {
    let mut left = len;
    while left > 0 {
        let mut buf = pipeline.buffer()?;
        let want = left.min(buf.len() as u64) as usize;
        let n = read_full(file, &mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than the part to check",
            ));
        }
        pipeline.hash(buf, n)?;
        left -= n as u64;
    }
    Ok(())
}

/// The SHA-256 of a file, read once through a [`Pipeline`]: what `upload send` computes as
/// it reads, without the network. `upload sum` prints it; the benchmark times it against
/// `sha256sum` and `openssl dgst -sha256`.
pub fn sum_file(path: &Path) -> io::Result<Digest> {
    let mut file = File::open(path)?;
    let mut pipeline = Pipeline::start()?;
    loop {
        let mut buf = pipeline.buffer()?;
        let n = read_full(&mut file, &mut buf)?;
        if n == 0 {
            return pipeline.finish();
        }
        pipeline.hash(buf, n)?;
    }
}

/// Fills `buf` as far as the file allows (fewer bytes only at its end): a pipe or a
/// slow disk may return less per `read`.
fn read_full(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn hasher_gone() -> io::Error {
    io::Error::other("the hashing thread stopped")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_digest_is_sha256_of_the_chunks_in_order() {
        let data: Vec<u8> = (0..3 * DATA_BUFFER as u32 + 12345)
            .map(|i| (i * 31) as u8)
            .collect();
        let mut pipeline = Pipeline::start().unwrap();
        for chunk in data.chunks(DATA_BUFFER - 7) {
            let mut buf = pipeline.buffer().unwrap();
            buf[..chunk.len()].copy_from_slice(chunk);
            pipeline.hash(buf, chunk.len()).unwrap();
        }
        let expected: Digest = Sha256::digest(&data).into();
        assert_eq!(pipeline.finish().unwrap(), expected);
    }

    #[test]
    fn a_mark_is_the_digest_of_the_prefix_and_the_hash_goes_on() {
        let data: Vec<u8> = (0..DATA_BUFFER as u32 * 2)
            .map(|i| (i * 13) as u8)
            .collect();
        let (head, tail) = data.split_at(DATA_BUFFER + 3);
        let mut pipeline = Pipeline::start().unwrap();
        for part in [head, tail] {
            for chunk in part.chunks(DATA_BUFFER) {
                let mut buf = pipeline.buffer().unwrap();
                buf[..chunk.len()].copy_from_slice(chunk);
                pipeline.hash(buf, chunk.len()).unwrap();
            }
            if part == head {
                pipeline.mark(head.len() as u64).unwrap();
                assert_eq!(
                    pipeline.digest_so_far().unwrap(),
                    <[u8; 32]>::from(Sha256::digest(head))
                );
            }
        }
        let head_digest: Digest = Sha256::digest(head).into();
        assert_eq!(
            pipeline.marked(),
            None,
            "digest_so_far took the mark before it"
        );
        pipeline.mark(7).unwrap();
        let whole: Digest = Sha256::digest(&data).into();
        assert_eq!(pipeline.digest_so_far().unwrap(), whole);
        assert_eq!(pipeline.finish().unwrap(), whole);
        assert_ne!(head_digest, whole);
    }

    #[test]
    fn marks_come_back_in_order_without_waiting() {
        let mut pipeline = Pipeline::start().unwrap();
        pipeline.mark(0).unwrap();
        let mut buf = pipeline.buffer().unwrap();
        buf[..3].copy_from_slice(b"abc");
        pipeline.hash(buf, 3).unwrap();
        pipeline.mark(3).unwrap();
        let _ = pipeline.digest_so_far().unwrap();
        // digest_so_far passed over both marks: they are gone, not returned twice.
        assert_eq!(pipeline.marked(), None);
        pipeline.mark(3).unwrap();
        let by = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let got = loop {
            if let Some(m) = pipeline.marked() {
                break m;
            }
            assert!(std::time::Instant::now() < by, "the mark never came");
            std::thread::yield_now();
        };
        assert_eq!(got, (3, <[u8; 32]>::from(Sha256::digest(b"abc"))));
    }

    #[test]
    fn a_prefix_is_hashed_from_the_file_and_a_short_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").unwrap();
        let mut file = File::open(&path).unwrap();
        let mut pipeline = Pipeline::start().unwrap();
        hash_prefix(&mut pipeline, &mut file, 5).unwrap();
        assert_eq!(
            pipeline.finish().unwrap(),
            <[u8; 32]>::from(Sha256::digest(b"hello"))
        );
        let mut file = File::open(&path).unwrap();
        let mut pipeline = Pipeline::start().unwrap();
        assert!(hash_prefix(&mut pipeline, &mut file, 12).is_err());
    }

    #[test]
    fn nothing_is_the_digest_of_nothing() {
        let expected: Digest = Sha256::digest(b"").into();
        assert_eq!(Pipeline::start().unwrap().finish().unwrap(), expected);
    }

    /// The hashing threads of this process alive now, by name (Linux: /proc/self/task). A
    /// thread that has ended may stay listed a moment after its join, as dead: not counted.
    #[cfg(target_os = "linux")]
    fn hashing_threads() -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| {
                let task = t.ok()?.path();
                let name = std::fs::read_to_string(task.join("comm")).ok()?;
                let status = std::fs::read_to_string(task.join("status")).ok()?;
                let state = status.lines().find_map(|l| l.strip_prefix("State:"))?;
                let alive = !state.trim_start().starts_with(['X', 'Z']);
                (name.trim() == "sha256" && alive).then_some(())
            })
            .count()
    }

    /// A pipeline dropped in the middle (an upload that failed) leaves no thread behind:
    /// the drop waits for it to end, though it still had four buffers to hash. Run in a
    /// child process of this test binary, where no other test's pipeline runs.
    #[cfg(target_os = "linux")]
    #[test]
    fn an_early_drop_ends_the_thread() {
        let me = std::env::current_exe().unwrap();
        let out = std::process::Command::new(me)
            .args([
                "--exact",
                "hashing::tests::helper_drops_a_busy_pipeline",
                "--nocapture",
                "--include-ignored",
            ])
            .env(common::testing::CHILD_TEST, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    #[ignore = "run by an_early_drop_ends_the_thread, in a child process"]
    fn helper_drops_a_busy_pipeline() {
        // Only in the child its parent test starts, where no other test runs.
        if std::env::var_os(common::testing::CHILD_TEST).is_none() {
            return;
        }
        assert_eq!(hashing_threads(), 0);
        let mut pipeline = Pipeline::start().unwrap();
        // The new thread names itself once it runs: wait for that (bounded).
        let by = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while hashing_threads() == 0 && std::time::Instant::now() < by {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(hashing_threads(), 1);
        for _ in 0..BUFFERS {
            let buf = pipeline.buffer().unwrap();
            pipeline.hash(buf, DATA_BUFFER).unwrap();
        }
        drop(pipeline);
        assert_eq!(
            hashing_threads(),
            0,
            "the hashing thread outlived its pipeline"
        );
    }

    #[test]
    fn a_file_sums_to_the_sha256_of_its_bytes() {
        let data: Vec<u8> = (0..DATA_BUFFER as u32 * 2 + 5)
            .map(|i| (i * 7) as u8)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        std::fs::write(&path, &data).unwrap();
        let expected: Digest = Sha256::digest(&data).into();
        assert_eq!(sum_file(&path).unwrap(), expected);
        assert!(sum_file(&dir.path().join("missing")).is_err());
    }
}
