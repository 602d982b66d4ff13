//! # Where a name from the network goes: a file in the folder, or in one of its folders
//!
//! Without `tree/1` a name is one plain name ([`name::check`]). With it, a name may be a
//! relative path, `photos/2024/a.jpg`, and every part of it is checked as a name
//! ([`name::check_path`]): no `..`, no drive, no hidden part, the same rules on every
//! system. The folders on the way are made one at a time, and each must then be a real
//! folder: a symbolic link planted at `photos` (by someone with a shell on the server)
//! is refused, never followed out of the upload folder.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use common::files::name;

/// Where one name goes: the folder it is in, and its own last part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The name as the client gave it, checked: `a.jpg` or `photos/2024/a.jpg`.
    pub path: String,
    /// The folders before the last part (empty for a plain name).
    pub folders: Vec<String>,
    /// The last part: the file's (or folder's) own name.
    pub leaf: String,
}

impl Place {
    /// Checks `raw`: a plain name, or with `tree` a relative path. The refusal is the text
    /// of `ERR BAD_NAME`.
    pub fn check(raw: &[u8], tree: bool) -> Result<Place, String> {
        // A plain name is told as one, with or without tree/1.
        let mut parts: Vec<&str> = if tree && raw.contains(&b'/') {
            name::check_path(raw).map_err(|e| e.to_string())?
        } else {
            vec![name::check(raw).map_err(|e| e.to_string())?]
        };
        let leaf = parts.pop().unwrap_or_default().to_string();
        Ok(Place {
            path: parts
                .iter()
                .copied()
                .chain([leaf.as_str()])
                .collect::<Vec<_>>()
                .join("/"),
            folders: parts.into_iter().map(str::to_string).collect(),
            leaf,
        })
    }

    /// The folder the file goes in, under `root`, made if missing (see [`make_folders`]).
    pub fn make_dir(&self, root: &Path) -> io::Result<PathBuf> {
        make_folders(root, &self.folders)
    }

    /// The folder the file is in, under `root`, if every folder on the way is a real one
    /// (not a link): to read a stored file back.
    pub fn existing_dir(&self, root: &Path) -> io::Result<PathBuf> {
        let mut dir = root.to_path_buf();
        for part in &self.folders {
            dir.push(part);
            real_folder(&dir)?;
        }
        Ok(dir)
    }
}

/// Makes `root/parts...`, one folder at a time, and checks that each is a folder and not a
/// symbolic link (made just now, or there before). Returns the last one.
pub fn make_folders(root: &Path, parts: &[String]) -> io::Result<PathBuf> {
    let mut dir = root.to_path_buf();
    for part in parts {
        dir.push(part);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        real_folder(&dir)?;
    }
    Ok(dir)
}

/// An error unless `dir` is a folder itself: not a file, not a link to a folder.
fn real_folder(dir: &Path) -> io::Result<()> {
    // symlink_metadata looks at the name itself: a link is a link, wherever it points.
    let meta = fs::symlink_metadata(dir)?;
    if meta.is_dir() {
        Ok(())
    } else {
        let what = if meta.file_type().is_symlink() {
            "a symbolic link (not followed)"
        } else {
            "a file"
        };
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is {what}, not a folder", dir.display()),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_path_needs_the_tree_extension() {
        let plain = Place::check(b"a.jpg", false).unwrap();
        assert_eq!(
            (plain.path.as_str(), plain.leaf.as_str()),
            ("a.jpg", "a.jpg")
        );
        assert!(plain.folders.is_empty());
        assert!(Place::check(b"photos/a.jpg", false).is_err());
        let deep = Place::check(b"photos/2024/a.jpg", true).unwrap();
        assert_eq!(deep.path, "photos/2024/a.jpg");
        assert_eq!(deep.folders, ["photos", "2024"]);
        assert_eq!(deep.leaf, "a.jpg");
        for hostile in [
            &b"../a"[..],
            b"a/../../b",
            b"/etc/passwd",
            b"a/.git/x",
            b"C:/x",
        ] {
            assert!(Place::check(hostile, true).is_err(), "{hostile:?}");
        }
    }

    #[test]
    fn folders_are_made_once_and_must_be_folders() {
        let root = tempfile::tempdir().unwrap();
        let place = Place::check(b"a/b/c.txt", true).unwrap();
        let dir = place.make_dir(root.path()).unwrap();
        assert_eq!(dir, root.path().join("a").join("b"));
        assert!(dir.is_dir());
        // Again: already there is fine.
        assert_eq!(place.make_dir(root.path()).unwrap(), dir);
        assert_eq!(place.existing_dir(root.path()).unwrap(), dir);
        // A file where a folder should be is refused.
        fs::write(root.path().join("f"), b"").unwrap();
        let under_file = Place::check(b"f/x", true).unwrap();
        assert!(under_file.make_dir(root.path()).is_err());
        assert!(Place::check(b"none/x", true)
            .unwrap()
            .existing_dir(root.path())
            .is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_on_the_way_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        let place = Place::check(b"out/x/y", true).unwrap();
        let e = place.make_dir(root.path()).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(place.existing_dir(root.path()).is_err());
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
