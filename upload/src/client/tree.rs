//! # What `upload send` sends: files, folders walked into their files, standard input
//!
//! The command line is turned into a list of [`Item`]s before anything is sent, so that the
//! total bar knows every size, and what cannot be sent is known at once:
//!
//! - `photo.jpg`: the file, under its own name;
//! - `photos/` (a folder): the folder itself, every folder in it (so empty ones are kept,
//!   with `MKDIR`), and every file, under names relative to the folder's parent:
//!   `photos/2024/a.jpg`. A symbolic link inside is not followed (it could point anywhere,
//!   even back up the tree): it is skipped, and the summary says so. Names the server
//!   would refuse (a hidden `.git`, a `nul.txt`) are refused here already, with the
//!   reason, and a refused folder is not walked into;
//! - `-`: standard input, under `--name`, its size not known (`STREAM`).
//!
//! `--exclude GLOB` leaves out what matches, by its name or its path in the folder
//! (`*.tmp`, `node_modules`, `photos/raw/**`).

use std::path::{Path, PathBuf};

use common::files::name;
use globset::{Glob, GlobSet, GlobSetBuilder};

/// One thing to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A file: where it is here, and its name on the server.
    File { path: PathBuf, name: String },
    /// A folder to make on the server (every folder of a tree, so that empty ones stay).
    Folder { path: PathBuf, name: String },
    /// Standard input, stored as `name`.
    Stdin { name: String },
}

impl Item {
    /// The path as the student wrote or sees it, for lines and the summary.
    pub fn shown(&self) -> PathBuf {
        match self {
            Item::File { path, .. } | Item::Folder { path, .. } => path.clone(),
            Item::Stdin { .. } => PathBuf::from("-"),
        }
    }
}

/// What a command line becomes: the items in order, what is left out on purpose (links,
/// and what is neither a file nor a folder), and what cannot be sent at all, with why.
#[derive(Debug, Default)]
pub struct Plan {
    pub items: Vec<Item>,
    pub skipped: Vec<(PathBuf, String)>,
    pub refused: Vec<(PathBuf, String)>,
}

/// The path on the command line that means standard input.
pub const STDIN: &str = "-";

/// `--exclude`'s globs, matched against a name and against a path in the folder.
pub fn exclusions(globs: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for glob in globs {
        set.add(Glob::new(glob).map_err(|e| format!("--exclude {glob:?}: {e}"))?);
    }
    set.build().map_err(|e| e.to_string())
}

/// Turns the command line's paths into items (see the module docs). `stdin_name` is
/// `--name`, needed by `-`.
pub fn plan(paths: &[PathBuf], stdin_name: Option<&str>, exclude: &GlobSet) -> Plan {
    let mut plan = Plan::default();
    for path in paths {
        if path.as_os_str() == STDIN {
            match stdin_name {
                Some(name) => plan.items.push(Item::Stdin {
                    name: name.to_string(),
                }),
                None => plan.refused.push((
                    path.clone(),
                    "standard input needs --name NAME, the name to store it as".into(),
                )),
            }
            continue;
        }
        // A path given on the command line is followed if it is a link (as `cp -r` does):
        // the student named it. Links inside a folder are not.
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, exclude, &mut plan),
            // Anything else (a file, or what cannot be read) is tried as a file, and fails
            // with its reason when its turn comes.
            _ => plan.items.push(Item::File {
                path: path.clone(),
                name: last_part(path),
            }),
        }
    }
    plan
}

/// The last part of a path, as the server gets it: `photos` for `photos/` or `./photos`,
/// and the folder's real name for `.`.
fn last_part(path: &Path) -> String {
    let named = path.file_name().map(|n| n.to_string_lossy().into_owned());
    named
        .or_else(|| {
            let real = std::fs::canonicalize(path).ok()?;
            Some(real.file_name()?.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

/// The tree under `root`, in a stable order (by name): folders before what is in them.
fn walk(root: &Path, exclude: &GlobSet, plan: &mut Plan) {
    let top = last_part(root);
    if let Err(why) = name::check(top.as_bytes()) {
        plan.refused.push((root.to_path_buf(), why.to_string()));
        return;
    }
    let mut entries = walkdir::WalkDir::new(root)
        .follow_links(false)
        .follow_root_links(true)
        .max_depth(name::MAX_DEPTH - 1)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = entries.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                plan.refused.push((path, format!("cannot read it: {e}")));
                continue;
            }
        };
        let path = entry.path().to_path_buf();
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let in_folder = parts.join("/");
        let is_dir = entry.file_type().is_dir();
        if entry.depth() > 0 {
            let own = entry.file_name().to_string_lossy();
            if exclude.is_match(own.as_ref()) || exclude.is_match(&in_folder) {
                if is_dir {
                    entries.skip_current_dir();
                }
                continue;
            }
            if let Err(why) = name::check(entry.file_name().as_encoded_bytes()) {
                let what = if is_dir {
                    "not sent, nor anything in it"
                } else {
                    "not sent"
                };
                plan.refused.push((path, format!("{what}: {why}")));
                if is_dir {
                    entries.skip_current_dir();
                }
                continue;
            }
        }
        let name = std::iter::once(top.as_str())
            .chain(parts.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("/");
        let kind = entry.file_type();
        if kind.is_dir() {
            plan.items.push(Item::Folder { path, name });
        } else if kind.is_file() {
            plan.items.push(Item::File { path, name });
        } else if kind.is_symlink() {
            plan.skipped
                .push((path, "a symbolic link (links are not followed)".into()));
        } else {
            plan.skipped.push((path, "not a regular file".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs;

    fn names(plan: &Plan) -> Vec<String> {
        plan.items
            .iter()
            .map(|item| match item {
                Item::File { name, .. } => name.clone(),
                Item::Folder { name, .. } => format!("{name}/"),
                Item::Stdin { name } => format!("-{name}"),
            })
            .collect()
    }

    #[test]
    fn a_folder_becomes_its_folders_and_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        fs::create_dir_all(root.join("2024").join("empty")).unwrap();
        fs::write(root.join("b.jpg"), b"b").unwrap();
        fs::write(root.join("2024").join("a.jpg"), b"a").unwrap();
        fs::write(root.join("skip.tmp"), b"").unwrap();
        fs::write(root.join(".hidden"), b"").unwrap();
        fs::create_dir(root.join(".git")).unwrap();
        fs::write(root.join(".git").join("config"), b"").unwrap();
        let exclude = exclusions(&["*.tmp".into()]).unwrap();
        let plan = plan(&[root.clone(), "-".into()], Some("log.txt"), &exclude);
        assert_eq!(
            names(&plan),
            [
                "photos/",
                "photos/2024/",
                "photos/2024/a.jpg",
                "photos/2024/empty/",
                "photos/b.jpg",
                "-log.txt"
            ]
        );
        let refused: Vec<_> = plan.refused.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(refused, [root.join(".git"), root.join(".hidden")]);
        assert!(plan.refused[0].1.contains("nor anything in it"));
    }

    #[test]
    fn exclude_matches_a_name_or_a_path_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("p");
        fs::create_dir_all(root.join("raw")).unwrap();
        fs::write(root.join("raw").join("x.cr2"), b"").unwrap();
        fs::write(root.join("keep.jpg"), b"").unwrap();
        let exclude = exclusions(&["raw/**".into(), "raw".into()]).unwrap();
        assert_eq!(names(&plan(&[root], None, &exclude)), ["p/", "p/keep.jpg"]);
        assert!(exclusions(&["a[".into()]).is_err());
    }

    #[test]
    fn standard_input_needs_a_name() {
        let plan = plan(&["-".into()], None, &GlobSet::empty());
        assert!(plan.items.is_empty());
        assert!(plan.refused[0].1.contains("--name"));
    }

    #[cfg(unix)]
    #[test]
    fn links_inside_are_skipped_and_said() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("h")).unwrap();
        let plan = plan(std::slice::from_ref(&root), None, &GlobSet::empty());
        assert_eq!(names(&plan), ["t/"]);
        assert_eq!(plan.skipped.len(), 2);
        assert!(plan.skipped[0].1.contains("not followed"));
    }
}
