//! # Safe writes: a file under its final name is always complete and verified
//!
//! The tutorial opens `recv_yan.jpg` and writes into it as the bytes arrive. If the client
//! stops half way, a half file sits under the real name, and nobody can tell it from a
//! whole one. We write the way careful programs (editors, package managers, databases) do:
//!
//! 1. **Write a hidden partial file** in the same folder: `.photo.jpg.3.part`. It is created
//!    with `O_CREAT|O_EXCL` (`create_new`), so it is always a new file of ours: never an
//!    existing file, never the target of a planted symbolic link.
//! 2. **Reserve the space** first (`fallocate`), so a full disk shows up before the data
//!    does, and the file is laid out in one piece.
//! 3. **fsync** once the last byte is in and the digest matched: the data is on the disk,
//!    not just in the kernel's cache, before any name points at it.
//! 4. **Move it into place in one step.** Without `--overwrite`, `link()` gives it its final
//!    name and fails if the name exists, even if another program created it a microsecond
//!    ago: no check-then-write race. With `--overwrite`, `rename()` replaces the old file
//!    atomically: a reader sees the old file or the new one, never a mix. Both act on the
//!    name itself, so a symbolic link at that name is replaced, never followed.
//! 5. **fsync the folder**, so the new name survives a power cut too.
//!
//! If anything fails before step 4 — the client disconnects, times out, sends a wrong
//! digest, the disk fills — the [`PartFile`] is dropped and its `Drop` deletes it. Rust's
//! ownership makes the clean-up impossible to forget: there is no error path to miss.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::thread::{self, JoinHandle};

use crate::os;

/// The partial file's name keeps at most this many bytes of the final name, so that the
/// hidden name stays under the 255-byte limit of file names.
const PART_NAME_KEEP: usize = 200;
/// What partial files end with.
pub const PART_SUFFIX: &str = ".part";

/// Why a verified file could not be put in place.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// A file of that name appeared (without `--overwrite`).
    #[error("a file named {0:?} already exists")]
    Exists(String),
    /// The folder's file system has no hard links (FAT, exFAT, some network drives), which
    /// the no-clobber commit needs.
    #[error("{}", no_links_text(.0))]
    NoLinks(io::Error),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A file being received, under a hidden name, deleted unless [`commit`](Self::commit)ted.
#[derive(Debug)]
pub struct PartFile {
    /// `None` once committed: closed, because Windows keeps the name of a deleted file
    /// while it is still open, and the partial name must go.
    file: Option<File>,
    dir: PathBuf,
    path: PathBuf,
    committed: bool,
}

/// `.photo.jpg.3.part`: hidden, unique per connection and upload, recognisable.
fn part_name(name: &str, unique: &str) -> String {
    let mut keep = name.len().min(PART_NAME_KEEP);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!(".{}.{unique}{PART_SUFFIX}", &name[..keep])
}

impl PartFile {
    /// Creates the hidden partial file for `name` in `dir`. `unique` tells concurrent
    /// uploads apart (the server uses the process id, connection id and upload number).
    pub fn create(dir: &Path, name: &str, unique: &str) -> io::Result<PartFile> {
        let path = dir.join(part_name(name, unique));
        // create_new = O_CREAT|O_EXCL: fails if anything (a file, a link) has this name.
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        Ok(PartFile {
            file: Some(file),
            dir: dir.to_path_buf(),
            path,
            committed: false,
        })
    }

    /// Opens the partial file for `name` that an earlier upload left (see [`keep`](Self::keep)),
    /// at its first byte, to read what it holds and then write on from there (it is
    /// [`Read`](std::io::Read)): the file a resumed upload continues. One open for both,
    /// so that what is checked is what is written to.
    pub fn reopen(dir: &Path, name: &str, unique: &str) -> io::Result<PartFile> {
        let path = dir.join(part_name(name, unique));
        // No create: only a file that is there already. And not through a symbolic link
        // (a link planted at the hidden name would send the bytes elsewhere).
        let file = os::no_follow(OpenOptions::new().read(true).write(true)).open(&path)?;
        // What was opened must be a plain file (Windows opens a link as itself).
        if !file.metadata()?.is_file() {
            return Err(io::Error::other(format!(
                "{} is not a plain file",
                path.display()
            )));
        }
        Ok(PartFile {
            file: Some(file),
            dir: dir.to_path_buf(),
            path,
            committed: false,
        })
    }

    /// The hidden name the partial file for `name` has, in `dir`.
    pub fn path_for(dir: &Path, name: &str, unique: &str) -> PathBuf {
        dir.join(part_name(name, unique))
    }

    /// Keeps the partial file on disk instead of deleting it (an upload that may resume),
    /// cut to the `len` bytes that arrived, so that it holds no more of the disk than that:
    /// it is closed, and its path returned. If it cannot be cut, it is deleted.
    pub fn keep(mut self, len: u64) -> io::Result<PathBuf> {
        self.file()?.set_len(len)?;
        self.file = None;
        self.committed = true;
        Ok(self.path.clone())
    }

    /// Reserves `size` bytes on disk. File systems that cannot (some network ones) are
    /// fine: the space is then taken as the data is written.
    pub fn reserve(&self, size: u64) -> io::Result<()> {
        if size == 0 {
            return Ok(());
        }
        match fs4::FileExt::allocate(self.file()?, size) {
            Err(e) if os::is_unsupported(&e) => Ok(()),
            other => other,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file; an error once it is committed and closed.
    fn file(&self) -> io::Result<&File> {
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("the partial file is already committed"))
    }

    /// Starts writing to disk what has arrived so far, on a thread of its own, every
    /// [`WRITEBACK_EVERY`] bytes (see [`Writeback`]).
    pub fn writeback(&self) -> io::Result<Writeback> {
        Writeback::start(self.file()?.try_clone()?)
    }

    /// Writes the next bytes of the file.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut file = self.file()?;
        file.write_all(bytes)
    }

    // ANCHOR: commit
    /// Flushes the file to disk and gives it its final name (see the module docs). On
    /// [`CommitError::Exists`] the partial file is still there: try another name, or drop it.
    pub fn commit(&mut self, name: &str, overwrite: bool) -> Result<(), CommitError> {
        // 3. The data on disk before any name points at it.
        self.file()?.sync_all()?;
        let target = self.dir.join(name);
        if overwrite {
            // 4. rename(): atomically replaces whatever has the name (a link itself, not
            // what it points to).
            fs::rename(&self.path, &target)?;
        } else {
            // 4. link(): a second name for the same file; fails if the name is taken.
            match fs::hard_link(&self.path, &target) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(CommitError::Exists(name.to_string()));
                }
                Err(e) if os::is_links_unsupported(&e) => return Err(CommitError::NoLinks(e)),
                Err(e) => return Err(e.into()),
            }
            // The partial name goes; the file stays under its final name. If this fails the
            // upload is still complete: only a hidden file is left behind. (Closed first:
            // Windows would keep the name of an open file.)
            self.file = None;
            let _ = fs::remove_file(&self.path);
        }
        self.committed = true;
        // 5. The folder's new entry on disk, too (Unix: fsync the folder; Windows: NTFS
        // logs the rename, see `os::sync_dir`).
        os::sync_dir(&self.dir)?;
        Ok(())
    }
    // ANCHOR_END: commit
}

/// A reopened part is read back before it is written on (see [`PartFile::reopen`]).
impl std::io::Read for PartFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut file = self.file()?;
        file.read(buf)
    }
}

/// A part file is written like any file (TFTP's blocks go through `std::io::Write`).
impl Write for PartFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut file = self.file()?;
        file.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut file = self.file()?;
        file.flush()
    }
}

/// The text for [`CommitError::NoLinks`].
fn no_links_text(e: &io::Error) -> String {
    format!(
        "the upload folder's file system cannot make hard links ({e}), which keeping existing \
         files safe needs: use a folder on NTFS, APFS or ext4, or let uploads replace files \
         with --overwrite"
    )
}

/// Whether `dir` can hold a no-clobber commit: makes a file, a hard link to it, and
/// removes both. Run at start-up, so a FAT stick is refused with a reason before any
/// upload instead of failing every one of them.
pub fn check_hard_links(dir: &Path, unique: &str) -> Result<(), CommitError> {
    let part = PartFile::create(dir, "link-test", unique)?;
    let link = dir.join(part_name("link-test", &format!("{unique}-link")));
    let result = match fs::hard_link(part.path(), &link) {
        Ok(()) => {
            let _ = fs::remove_file(&link);
            Ok(())
        }
        Err(e) if os::is_links_unsupported(&e) => Err(CommitError::NoLinks(e)),
        Err(e) => Err(e.into()),
    };
    drop(part);
    result
}

/// The lock file that says a server uses a folder.
pub const FOLDER_LOCK: &str = ".upload-serve.lock";

/// A folder held by one server process: while it lives, another server that asks for the
/// same folder is refused. The hidden names of resumable parts are the same in every
/// process, and only one process can know which of them are in use. The system releases
/// the lock when the process ends, however it ends.
#[derive(Debug)]
pub struct FolderLock {
    file: Option<File>,
    path: PathBuf,
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Closed first (Windows keeps the name of an open file), then gone: a folder no
        // server uses has no lock file in it.
        self.file = None;
        let _ = fs::remove_file(&self.path);
    }
}

impl FolderLock {
    /// Takes the folder, or says that another process has it.
    pub fn take(dir: &Path) -> io::Result<FolderLock> {
        let path = dir.join(FOLDER_LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(FolderLock {
                file: Some(file),
                path,
            }),
            Err(fs4::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "another server is using this folder (stop it, or give this one another --dir)",
            )),
            Err(fs4::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// How often (in bytes received) a large upload is pushed to disk while it arrives.
pub const WRITEBACK_EVERY: u64 = 64 << 20;
/// The writeback thread only waits for the disk: its buffers are the kernel's.
const WRITEBACK_STACK: usize = 64 * 1024;

/// Flushes a file to disk in the background while it is still being written, and lets the
/// kernel forget what is already there.
///
/// The kernel keeps written data in memory and writes it to disk later. An upload must not
/// be reported `OK` before its bytes are on disk, so the final `fsync` would otherwise have
/// to write the whole file, after the last byte arrived: for 1 GiB, about a second of
/// waiting. Asking for `fdatasync` every 64 MiB, on another thread, lets the disk work while
/// the network does; the last `fsync` then only has the tail to write.
///
/// Once a part is on disk, its copy in the kernel's page cache is clean and nobody here
/// reads it again, so `posix_fadvise(DONTNEED)` lets the kernel drop it ("drop-behind").
/// A 100 GiB upload then occupies about two [`WRITEBACK_EVERY`] of the cache instead of
/// pushing every other program's cached files out of memory, and the pages it gives back
/// are reused for the next part. (What that does to an upload's speed is measured in the
/// book's performance chapter.)
///
/// An error of a background `fdatasync` must not be lost: the kernel reports a write-back
/// error to each open file once, so the final `fsync` on the same file might not see it
/// again. [`finish`](Self::finish) hands it on.
pub struct Writeback {
    poke: Option<SyncSender<u64>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Writeback {
    fn start(file: File) -> io::Result<Writeback> {
        // Room for one request: if the disk is still busy with the last one, a new request
        // is dropped (the next fdatasync covers it anyway).
        let (poke, requests) = mpsc::sync_channel::<u64>(1);
        let thread = thread::Builder::new()
            .name("writeback".into())
            .stack_size(WRITEBACK_STACK)
            .spawn(move || {
                for written in requests {
                    // The first `written` bytes were written before the request was made:
                    // once this returns they are on disk...
                    file.sync_data()?;
                    // ...and their cached copy may go. Only advice: it cannot lose data,
                    // and a file system that ignores it (tmpfs) is fine. Linux only: see
                    // `os::drop_behind` for the other systems.
                    os::drop_behind(&file, written);
                }
                Ok(())
            })?;
        Ok(Writeback {
            poke: Some(poke),
            thread: Some(thread),
        })
    }

    /// The first `written` bytes are written: flush them, unless a flush is already pending.
    pub fn poke(&self, written: u64) {
        if let Some(poke) = &self.poke {
            // Full: the pending request will cover these bytes. Gone: the thread stopped on
            // an error, which `finish` reports.
            let _ = poke.try_send(written);
        }
    }

    /// Waits for the last flush; the first error a flush met, if any.
    pub fn finish(mut self) -> io::Result<()> {
        self.poke = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the writeback thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        // Stopped early (the upload failed): end the thread, and wait for it.
        self.poke = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            self.file = None; // closed first, for Windows (see `file`)
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Hidden partial files in `dir` (left by a server that was killed: safe to delete when no
/// server is running on the folder).
pub fn leftover_parts(dir: &Path) -> Vec<PathBuf> {
    hidden_files(dir, PART_SUFFIX)
}

/// The hidden files in `dir` and its folders whose names end with `suffix` (partial
/// files, and what a server keeps beside them: a folder sent with `upload send DIR` has its
/// partial files in its own folders). Symbolic links to folders are not followed, and at
/// most [`name::MAX_DEPTH`](super::name::MAX_DEPTH) folders down are looked at.
pub fn hidden_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![(dir.to_path_buf(), 0)];
    while let Some((folder, depth)) = folders.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // file_type() does not follow a link: a link to a folder is not a folder here.
            let is_folder = entry.file_type().is_ok_and(|t| t.is_dir());
            if name.starts_with('.') {
                if name.ends_with(suffix) && !is_folder {
                    found.push(path);
                }
            } else if is_folder && depth < super::name::MAX_DEPTH {
                folders.push((path, depth + 1));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// How much of a file the kernel holds in its page cache (util-linux's `fincore`).
    #[cfg(target_os = "linux")]
    fn cached_bytes(path: &Path) -> u64 {
        let out = std::process::Command::new("fincore")
            .args(["--bytes", "--noheadings", "--raw", "--output", "RES"])
            .arg(path)
            .output()
            .unwrap();
        assert!(out.status.success(), "fincore failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn writeback_puts_the_data_on_disk_and_drops_it_from_the_cache() {
        // Under target/, not /tmp: a tmpfs has no disk to write back to, and keeps its pages.
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
        fs::create_dir_all(&target).unwrap();
        let dir = tempfile::tempdir_in(&target).unwrap();
        if rustix::fs::statfs(dir.path()).unwrap().f_type == libc::TMPFS_MAGIC {
            crate::testing::skip(format_args!(
                "{} is on a tmpfs, which has no disk to write back to",
                dir.path().display()
            ));
            return;
        }
        if !crate::testing::available("fincore", "util-linux") {
            return;
        }
        let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        let mut part = PartFile::create(dir.path(), "big.bin", "1").unwrap();
        let writeback = part.writeback().unwrap();
        for _ in 0..4 {
            part.write_all(&chunk).unwrap();
        }
        assert!(
            cached_bytes(part.path()) >= 4 << 20,
            "just written, so still cached"
        );
        writeback.poke(4 << 20);
        writeback.finish().unwrap();
        // On disk, so clean: dropped from the cache (a page or two may be busy elsewhere).
        assert!(cached_bytes(part.path()) < 1 << 20);
        part.commit("big.bin", false).unwrap();
        let back = fs::read(dir.path().join("big.bin")).unwrap();
        assert_eq!(back.len(), 4 << 20);
        assert!(back.chunks(1 << 20).all(|c| c == chunk));
    }

    #[cfg(unix)]
    #[test]
    fn a_failed_background_flush_is_reported_not_lost() {
        // fdatasync on a pipe fails (EINVAL): as a disk error would, but every time.
        let (_reader, writer) = std::io::pipe().unwrap();
        let writeback = Writeback::start(File::from(std::os::fd::OwnedFd::from(writer))).unwrap();
        writeback.poke(1);
        assert!(writeback.finish().is_err());
    }

    #[test]
    fn a_dropped_part_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut part = PartFile::create(dir.path(), "a.bin", "1").unwrap();
        part.write_all(b"half").unwrap();
        assert_eq!(names(dir.path()), [".a.bin.1.part"]);
        drop(part);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_kept_part_stays_cut_to_what_arrived_and_reopens() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let mut part = PartFile::create(dir.path(), "a.bin", "r").unwrap();
        part.reserve(8).unwrap();
        part.write_all(b"abcdXX").unwrap();
        let path = part.keep(4).unwrap();
        assert_eq!(path, PartFile::path_for(dir.path(), "a.bin", "r"));
        assert_eq!(names(dir.path()), [".a.bin.r.part"]);
        assert_eq!(fs::read(&path).unwrap(), b"abcd", "cut to what arrived");
        let mut part = PartFile::reopen(dir.path(), "a.bin", "r").unwrap();
        let mut head = [0u8; 4];
        part.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"abcd");
        part.write_all(b"efgh").unwrap();
        part.commit("a.bin", false).unwrap();
        assert_eq!(names(dir.path()), ["a.bin"]);
        assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), b"abcdefgh");
        assert!(
            PartFile::reopen(dir.path(), "b.bin", "r").is_err(),
            "none to reopen"
        );
        // Reopened and dropped: gone, like any part not committed.
        PartFile::create(dir.path(), "c.bin", "r")
            .unwrap()
            .keep(0)
            .unwrap();
        drop(PartFile::reopen(dir.path(), "c.bin", "r").unwrap());
        assert_eq!(names(dir.path()), ["a.bin"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_at_a_kept_parts_name_is_not_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, PartFile::path_for(dir.path(), "x", "r")).unwrap();
        assert!(PartFile::reopen(dir.path(), "x", "r").is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn one_folder_is_held_by_one_server_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let held = FolderLock::take(dir.path()).unwrap();
        let second = FolderLock::take(dir.path()).unwrap_err();
        assert!(second.to_string().contains("another server"), "{second}");
        drop(held);
        assert!(
            names(dir.path()).is_empty(),
            "the lock file goes with the lock"
        );
        FolderLock::take(dir.path()).unwrap();
    }

    #[test]
    fn a_committed_part_has_its_final_name_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut part = PartFile::create(dir.path(), "a.bin", "1").unwrap();
        part.reserve(4).unwrap();
        part.write_all(b"data").unwrap();
        part.commit("a.bin", false).unwrap();
        assert_eq!(names(dir.path()), ["a.bin"]);
        assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), b"data");
    }

    #[test]
    fn an_existing_name_is_kept_unless_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.bin"), b"old").unwrap();
        let mut part = PartFile::create(dir.path(), "a.bin", "1").unwrap();
        part.write_all(b"new").unwrap();
        assert!(matches!(
            part.commit("a.bin", false),
            Err(CommitError::Exists(_))
        ));
        drop(part);
        assert_eq!(names(dir.path()), ["a.bin"]);
        assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), b"old");

        let mut part = PartFile::create(dir.path(), "a.bin", "2").unwrap();
        part.write_all(b"new").unwrap();
        part.commit("a.bin", true).unwrap();
        assert_eq!(fs::read(dir.path().join("a.bin")).unwrap(), b"new");
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_replaced_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("x")).unwrap();
        // Without --overwrite: refused, the link's target untouched.
        let mut part = PartFile::create(dir.path(), "x", "1").unwrap();
        assert!(part.commit("x", false).is_err());
        drop(part);
        // With --overwrite: the link itself is replaced by the upload.
        let mut part = PartFile::create(dir.path(), "x", "2").unwrap();
        part.write_all(b"upload").unwrap();
        part.commit("x", true).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(!fs::symlink_metadata(dir.path().join("x"))
            .unwrap()
            .file_type()
            .is_symlink());
        // A link planted at the partial file's name makes create fail, not follow.
        std::os::unix::fs::symlink(&victim, dir.path().join(".y.9.part")).unwrap();
        assert!(PartFile::create(dir.path(), "y", "9").is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn a_folder_that_can_link_passes_the_start_up_check_and_is_left_clean() {
        let dir = tempfile::tempdir().unwrap();
        check_hard_links(dir.path(), "7").unwrap();
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
    }

    /// FAT answers link() with EPERM on Linux and ERROR_INVALID_FUNCTION on Windows: the
    /// upload gets a reason and what to do, never "internal error".
    #[test]
    fn no_hard_links_is_told_as_such() {
        let fat = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(os::is_links_unsupported(&fat));
        assert!(!os::is_links_unsupported(&io::Error::from(
            io::ErrorKind::AlreadyExists
        )));
        let text = CommitError::NoLinks(fat).to_string();
        assert!(
            text.contains("hard links") && text.contains("--overwrite"),
            "{text}"
        );
    }

    #[test]
    fn part_names_stay_short_and_hidden() {
        let long = "é".repeat(127); // 254 bytes
        let name = part_name(&long, "123-45-6");
        assert!(name.len() <= 255, "{}", name.len());
        assert!(name.starts_with('.') && name.ends_with(PART_SUFFIX));
        let dir = tempfile::tempdir().unwrap();
        drop(PartFile::create(dir.path(), &long, "123-45-6").unwrap());
        assert!(leftover_parts(dir.path()).is_empty());
    }

    #[test]
    fn leftover_parts_are_found_in_sent_folders_too() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("photos").join("2024");
        fs::create_dir_all(&deep).unwrap();
        fs::write(dir.path().join(".a.1.part"), b"").unwrap();
        fs::write(deep.join(".b.2.part"), b"").unwrap();
        fs::write(deep.join("b"), b"").unwrap();
        // A hidden folder is not the server's: not looked into.
        fs::create_dir(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(".git").join(".c.3.part"), b"").unwrap();
        let mut found = leftover_parts(dir.path());
        found.sort();
        assert_eq!(
            found,
            vec![dir.path().join(".a.1.part"), deep.join(".b.2.part")]
        );
        #[cfg(unix)]
        {
            // A link to a folder elsewhere is not followed.
            let outside = tempfile::tempdir().unwrap();
            fs::write(outside.path().join(".d.4.part"), b"").unwrap();
            std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
            assert_eq!(leftover_parts(dir.path()).len(), 2);
        }
    }
}
