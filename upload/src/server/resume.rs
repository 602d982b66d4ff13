//! # Kept partial files: what a `RESUME` continues
//!
//! An upload begun with `RESUME` (the `resume/1` extension, see [`crate::protocol`]) that
//! breaks off is not deleted. Its partial file stays under a hidden name that is the same
//! every time for that file name, `.big.iso.<16 hex>.resume.part` (the hex is from the
//! SHA-256 of the full name, so two long names that share a beginning never share a part).
//! Beside it, a small record, `.big.iso.<16 hex>.resume.json`, says how much of it is good:
//!
//! ```json
//! {"version":1,"name":"big.iso","size":1073741824,"offset":536870912,"sha256":"…"}
//! ```
//!
//! `offset` bytes arrived, and `sha256` is their digest. The server writes the record every
//! [`CHECKPOINT_EVERY`] bytes while the file arrives (so a server that is killed loses at
//! most that much), and once more, with the exact count, when the sender goes away.
//!
//! Nothing on disk is trusted: before the server offers to continue (`HAVE`), it reads the
//! first `offset` bytes of the part again and hashes them. If they are not what the record
//! says (the part was changed, or a power cut left zeros), the part and its record are
//! deleted and the upload starts at 0. Parts that nobody resumed go after `--keep-partial`
//! hours ([`sweep`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest as _, Sha256};

use common::files::store::PartFile;

use crate::hashing::{hash_prefix, Pipeline};
use crate::protocol::{digest_hex, parse_digest, Digest};

/// How often, in bytes received, a resumable upload's record is brought up to date.
pub const CHECKPOINT_EVERY: u64 = 16 << 20;
/// The default `--keep-partial`: a day, long enough for "I'll try again tomorrow morning".
pub const DEFAULT_KEEP_PARTIAL: Duration = Duration::from_secs(24 * 3600);
/// The record's format; a record of another version is not ours to trust.
const RECORD_VERSION: u32 = 1;
/// What the hidden names of kept parts and records have before `.part` / `.json`.
const RESUME_TAG: &str = ".resume";
const RECORD_SUFFIX: &str = ".resume.json";

/// The part of the hidden names that tells two file names apart: `<16 hex>.resume`.
pub fn unique(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    format!("{}{RESUME_TAG}", &hex::encode(digest)[..16])
}

/// The record's path for `name` in `dir`: the part's, with `.json` for `.part`.
fn record_path(dir: &Path, name: &str) -> PathBuf {
    let part = PartFile::path_for(dir, name, &unique(name));
    part.with_extension("json")
}

/// What the record beside a kept part says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    /// The size of the whole file, as the sender announced it.
    pub size: u64,
    /// How many bytes of it the part holds.
    pub offset: u64,
    /// The SHA-256 of those bytes.
    pub prefix: Digest,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct OnDisk {
    version: u32,
    name: String,
    size: u64,
    offset: u64,
    sha256: String,
}

impl Record {
    /// The record for `name` in `dir`, if there is one that this version can read.
    pub fn load(dir: &Path, name: &str) -> Option<Record> {
        let text = fs::read(record_path(dir, name)).ok()?;
        let disk: OnDisk = serde_json::from_slice(&text).ok()?;
        let prefix = parse_digest(disk.sha256.as_bytes()).ok()?;
        let sane = disk.version == RECORD_VERSION && disk.name == name && disk.offset <= disk.size;
        sane.then_some(Record {
            name: disk.name,
            size: disk.size,
            offset: disk.offset,
            prefix,
        })
    }

    /// Writes the record: to a temporary name, then renamed over the old one, so that a
    /// reader (or a crash) sees the old record or the new one, never half of one.
    pub fn save(&self, dir: &Path) -> io::Result<()> {
        let disk = OnDisk {
            version: RECORD_VERSION,
            name: self.name.clone(),
            size: self.size,
            offset: self.offset,
            sha256: digest_hex(&self.prefix),
        };
        let path = record_path(dir, &self.name);
        let temporary = path.with_extension("json.new");
        fs::write(
            &temporary,
            serde_json::to_vec(&disk).map_err(io::Error::other)?,
        )?;
        fs::rename(&temporary, &path)
    }
}

/// Deletes the kept part of `name` and its record (what is not there is fine).
pub fn discard(dir: &Path, name: &str) {
    let _ = fs::remove_file(PartFile::path_for(dir, name, &unique(name)));
    let _ = fs::remove_file(record_path(dir, name));
}

/// Deletes the record of `name` only: its part has just been committed under its name.
pub fn forget(dir: &Path, name: &str) {
    let _ = fs::remove_file(record_path(dir, name));
}

/// A kept part that was checked again and can be continued.
pub struct Held {
    pub part: PartFile,
    /// The part's first `offset` bytes, already hashed: the hash goes on with the rest.
    pub pipeline: Pipeline,
    pub offset: u64,
    pub prefix: Digest,
}

/// Why a kept part is not offered.
#[derive(Debug, PartialEq, Eq)]
pub enum NotHeld {
    /// No part (or none worth offering: nothing arrived).
    Nothing,
    /// The record is for a file of another size: another file of the same name.
    OtherFile { size: u64 },
    /// The part's bytes are not those the record describes.
    Changed,
}

/// The kept part of `name`, if its record is for a file of `size` bytes and the part still
/// holds exactly what the record says (read and hashed again now). What is not usable is
/// deleted.
pub fn take(dir: &Path, name: &str, size: u64) -> Result<Held, NotHeld> {
    let Some(record) = Record::load(dir, name) else {
        discard(dir, name);
        return Err(NotHeld::Nothing);
    };
    if record.size != size {
        discard(dir, name);
        return Err(NotHeld::OtherFile { size: record.size });
    }
    if record.offset == 0 {
        discard(dir, name);
        return Err(NotHeld::Nothing);
    }
    match rehash(dir, name, &record) {
        Ok(Some(held)) => Ok(held),
        Ok(None) | Err(_) => {
            discard(dir, name);
            Err(NotHeld::Changed)
        }
    }
}

/// Hashes the part's first `record.offset` bytes again; the part, ready to continue, if
/// they have the recorded digest. The record is written again, so that its age counts
/// from now (a sweep leaves a part in use alone).
fn rehash(dir: &Path, name: &str, record: &Record) -> io::Result<Option<Held>> {
    // One open: the bytes hashed are the bytes the rest is written after.
    let mut part = PartFile::reopen(dir, name, &unique(name))?;
    let mut pipeline = Pipeline::start()?;
    hash_prefix(&mut pipeline, &mut part, record.offset)?;
    if pipeline.digest_so_far()? != record.prefix {
        return Ok(None);
    }
    record.save(dir)?;
    Ok(Some(Held {
        part,
        pipeline,
        offset: record.offset,
        prefix: record.prefix,
    }))
}

/// The kept parts in `dir`: how many, and how many bytes they hold.
pub fn kept(dir: &Path) -> (usize, u64) {
    records(dir)
        .iter()
        .filter_map(|path| fs::read(path).ok())
        .filter_map(|text| serde_json::from_slice::<OnDisk>(&text).ok())
        .fold((0, 0), |(n, bytes), r| (n + 1, bytes + r.offset))
}

/// The record files in `dir`.
fn records(dir: &Path) -> Vec<PathBuf> {
    common::files::store::hidden_files(dir, RECORD_SUFFIX)
}

/// Deletes the kept parts whose record was last written more than `keep` before `now`,
/// records without a part, and parts without a record (a server killed before the first
/// record) as old; the number of parts deleted.
pub fn sweep(dir: &Path, keep: Duration, now: SystemTime) -> usize {
    let old = |path: &Path| {
        fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > keep)
    };
    let mut removed = 0;
    for record in records(dir) {
        let part = record.with_extension("part");
        if old(&record) || !part.exists() {
            let _ = fs::remove_file(&part);
            let _ = fs::remove_file(&record);
            removed += 1;
        }
    }
    let suffix = format!("{RESUME_TAG}{}", common::files::store::PART_SUFFIX);
    for part in common::files::store::hidden_files(dir, &suffix) {
        if !part.with_extension("json").exists() && old(&part) {
            let _ = fs::remove_file(&part);
            removed += 1;
        }
    }
    removed
}

/// `24` or `0.5`: the hours of `--keep-partial`, as the server's lines give them.
pub fn hours(d: Duration) -> String {
    let h = d.as_secs_f64() / 3600.0;
    if h.fract() == 0.0 {
        format!("{h:.0}")
    } else {
        format!("{h}")
    }
}

/// Whether `path` is a kept part (not a part left by a server that was stopped mid-upload).
pub fn is_kept_part(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.ends_with(&format!(
            "{RESUME_TAG}{}",
            common::files::store::PART_SUFFIX
        ))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn keep_part(dir: &Path, name: &str, bytes: &[u8], offset: u64, size: u64) {
        let mut part = PartFile::create(dir, name, &unique(name)).unwrap();
        part.write_all(bytes).unwrap();
        part.keep(bytes.len() as u64).unwrap();
        Record {
            name: name.into(),
            size,
            offset,
            prefix: Sha256::digest(&bytes[..offset as usize]).into(),
        }
        .save(dir)
        .unwrap();
    }

    #[test]
    fn a_record_reads_back_and_another_name_or_version_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record {
            name: "a b.iso".into(),
            size: 10,
            offset: 4,
            prefix: [3; 32],
        };
        record.save(dir.path()).unwrap();
        assert_eq!(Record::load(dir.path(), "a b.iso"), Some(record.clone()));
        assert_eq!(Record::load(dir.path(), "other"), None);
        let path = record_path(dir.path(), "a b.iso");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replace("\"version\":1", "\"version\":2")).unwrap();
        assert_eq!(Record::load(dir.path(), "a b.iso"), None);
        fs::write(&path, text.replace("\"offset\":4", "\"offset\":11")).unwrap();
        assert_eq!(
            Record::load(dir.path(), "a b.iso"),
            None,
            "offset past size"
        );
        fs::write(&path, b"{not json").unwrap();
        assert_eq!(Record::load(dir.path(), "a b.iso"), None);
    }

    #[test]
    fn a_part_that_holds_what_its_record_says_is_offered() {
        let dir = tempfile::tempdir().unwrap();
        keep_part(dir.path(), "f.bin", b"hello world", 5, 11);
        assert_eq!(kept(dir.path()), (1, 5));
        let held = take(dir.path(), "f.bin", 11).unwrap();
        assert_eq!(held.offset, 5);
        assert_eq!(held.prefix, <[u8; 32]>::from(Sha256::digest(b"hello")));
        let Held {
            mut part,
            mut pipeline,
            ..
        } = held;
        // The hash goes on from the prefix, and so does the file.
        part.write_all(b" WORLD").unwrap();
        let mut buf = pipeline.buffer().unwrap();
        buf[..6].copy_from_slice(b" WORLD");
        pipeline.hash(buf, 6).unwrap();
        assert_eq!(
            pipeline.finish().unwrap(),
            <[u8; 32]>::from(Sha256::digest(b"hello WORLD"))
        );
        part.commit("f.bin", false).unwrap();
        forget(dir.path(), "f.bin");
        assert_eq!(fs::read(dir.path().join("f.bin")).unwrap(), b"hello WORLD");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "only f.bin");
    }

    #[test]
    fn a_changed_part_or_another_size_is_deleted_not_offered() {
        let dir = tempfile::tempdir().unwrap();
        keep_part(dir.path(), "f.bin", b"hello world", 5, 11);
        let part = PartFile::path_for(dir.path(), "f.bin", &unique("f.bin"));
        fs::write(&part, b"jello world").unwrap();
        assert_eq!(take(dir.path(), "f.bin", 11).err(), Some(NotHeld::Changed));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        keep_part(dir.path(), "f.bin", b"hello world", 5, 11);
        assert_eq!(
            take(dir.path(), "f.bin", 12).err(),
            Some(NotHeld::OtherFile { size: 11 })
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        // A part shorter than its record (cut by hand) is changed too.
        keep_part(dir.path(), "f.bin", b"hel", 3, 11);
        Record {
            name: "f.bin".into(),
            size: 11,
            offset: 5,
            prefix: Sha256::digest(b"hello").into(),
        }
        .save(dir.path())
        .unwrap();
        assert_eq!(take(dir.path(), "f.bin", 11).err(), Some(NotHeld::Changed));
        assert_eq!(take(dir.path(), "f.bin", 11).err(), Some(NotHeld::Nothing));
    }

    #[test]
    fn old_parts_are_swept_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        keep_part(dir.path(), "old.bin", b"abc", 3, 9);
        keep_part(dir.path(), "new.bin", b"abc", 3, 9);
        let hour = Duration::from_secs(3600);
        let now = SystemTime::now();
        assert_eq!(sweep(dir.path(), hour, now), 0);
        assert_eq!(sweep(dir.path(), hour, now + 2 * hour), 2);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        // A record whose part is gone goes too.
        keep_part(dir.path(), "x.bin", b"abc", 3, 9);
        fs::remove_file(PartFile::path_for(dir.path(), "x.bin", &unique("x.bin"))).unwrap();
        assert_eq!(sweep(dir.path(), hour, now), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        // A part whose record was never written goes once it is old.
        keep_part(dir.path(), "y.bin", b"abc", 3, 9);
        fs::remove_file(record_path(dir.path(), "y.bin")).unwrap();
        assert_eq!(sweep(dir.path(), hour, now), 0);
        assert_eq!(sweep(dir.path(), hour, now + 2 * hour), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn two_long_names_with_one_beginning_have_two_parts() {
        let a = format!("{}a", "x".repeat(240));
        let b = format!("{}b", "x".repeat(240));
        let dir = Path::new("/d");
        assert_ne!(
            PartFile::path_for(dir, &a, &unique(&a)),
            PartFile::path_for(dir, &b, &unique(&b))
        );
        assert!(is_kept_part(&PartFile::path_for(dir, &a, &unique(&a))));
        assert!(!is_kept_part(&PartFile::path_for(dir, &a, "1-2-3")));
        let name = PartFile::path_for(dir, &a, &unique(&a));
        assert!(name.file_name().unwrap().len() <= 255);
    }
}
