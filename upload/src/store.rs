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
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A file being received, under a hidden name, deleted unless [`commit`](Self::commit)ted.
#[derive(Debug)]
pub struct PartFile {
    file: File,
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
            file,
            dir: dir.to_path_buf(),
            path,
            committed: false,
        })
    }

    /// Reserves `size` bytes on disk. File systems that cannot (some network ones) are
    /// fine: the space is then taken as the data is written.
    pub fn reserve(&self, size: u64) -> io::Result<()> {
        if size == 0 {
            return Ok(());
        }
        match fs4::FileExt::allocate(&self.file, size) {
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(()),
            other => other,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts writing to disk what has arrived so far, on a thread of its own, every
    /// [`WRITEBACK_EVERY`] bytes (see [`Writeback`]).
    pub fn writeback(&self) -> Option<Writeback> {
        Writeback::start(self.file.try_clone().ok()?)
    }

    /// Writes the next bytes of the file.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }

    // ANCHOR: commit
    /// Flushes the file to disk and gives it its final name (see the module docs). On
    /// [`CommitError::Exists`] the partial file is still there: try another name, or drop it.
    pub fn commit(&mut self, name: &str, overwrite: bool) -> Result<(), CommitError> {
        // 3. The data on disk before any name points at it.
        self.file.sync_all()?;
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
                Err(e) => return Err(e.into()),
            }
            // The partial name goes; the file stays under its final name. If this fails the
            // upload is still complete: only a hidden file is left behind.
            let _ = fs::remove_file(&self.path);
        }
        self.committed = true;
        // 5. The folder's new entry on disk, too.
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
    // ANCHOR_END: commit
}

/// How often (in bytes received) a large upload is pushed to disk while it arrives.
pub const WRITEBACK_EVERY: u64 = 64 << 20;

/// Flushes a file to disk in the background while it is still being written.
///
/// The kernel keeps written data in memory and writes it to disk later. An upload must not
/// be reported `OK` before its bytes are on disk, so the final `fsync` would otherwise have
/// to write the whole file, after the last byte arrived: for 1 GiB, about a second of
/// waiting. Asking for `fdatasync` every 64 MiB, on another thread, lets the disk work while
/// the network does; the last `fsync` then only has the tail to write.
pub struct Writeback {
    poke: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writeback {
    fn start(file: File) -> Option<Writeback> {
        // Room for one request: if the disk is still busy with the last one, a new request
        // is dropped (the next fdatasync covers it anyway).
        let (poke, requests) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("writeback".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for () in requests {
                    let _ = file.sync_data();
                }
            })
            .ok()?;
        Some(Writeback {
            poke: Some(poke),
            thread: Some(thread),
        })
    }

    /// More data was written: flush what is there, unless a flush is already pending.
    pub fn poke(&self) {
        if let Some(poke) = &self.poke {
            let _ = poke.try_send(());
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        self.poke = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Hidden partial files in `dir` (left by a server that was killed: safe to delete when no
/// server is running on the folder).
pub fn leftover_parts(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.') && n.ends_with(PART_SUFFIX))
        })
        .collect()
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
    fn part_names_stay_short_and_hidden() {
        let long = "é".repeat(127); // 254 bytes
        let name = part_name(&long, "123-45-6");
        assert!(name.len() <= 255, "{}", name.len());
        assert!(name.starts_with('.') && name.ends_with(PART_SUFFIX));
        let dir = tempfile::tempdir().unwrap();
        drop(PartFile::create(dir.path(), &long, "123-45-6").unwrap());
        assert!(leftover_parts(dir.path()).is_empty());
    }
}
