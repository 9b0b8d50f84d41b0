//! Following a path's symbolic links one by one, as the kernel would, and
//! holding each against the shared-folder rules on the way.

use std::fs;
use std::path::{Path, PathBuf};

use super::FileError;
#[cfg(unix)]
use super::meta::{owner, special_kind, user};

/// Where a path leads, once every link on the way was checked.
pub(super) struct Resolved {
    /// The path with each link replaced by what it leads to: where a write lands.
    pub path: PathBuf,
    /// What is there (never a link), if anything is.
    pub found: Option<fs::Metadata>,
    /// Whether its folder is shared (sticky, writable by everyone).
    pub shared: bool,
    /// Whether a link led to a name that is no path, as `/proc/self/fd/1`
    /// leads to `pipe:[…]`: only the system can open what it stands for.
    pub unresolved: bool,
}

/// As the kernel does, a path may go through at most 40 links.
#[cfg(unix)]
const MAX_LINKS: usize = 40;

/// Resolves `path`, refusing what another user planted in a shared folder:
/// a link owned by neither the user nor the folder's owner, anywhere on
/// the way, and a FIFO, device or socket of someone else at the end.
///
/// Names that exist when checked cannot change afterwards where it matters:
/// in a shared folder only their owner (the user, or the folder's owner)
/// may remove or rename them. A name missing when checked is created with
/// `O_EXCL` or replaced by a rename, neither of which follows a link.
#[cfg(unix)]
pub(super) fn resolve(path: &Path) -> Result<Resolved, FileError> {
    let resolved = walk(path)?;
    // `FILE/` or `FILE/.` names a folder, as the kernel reads it.
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
    if bytes.ends_with(b"/") || bytes.ends_with(b"/.") {
        let not_a_folder = match &resolved.found {
            Some(meta) if meta.is_dir() => None,
            Some(_) => Some(rustix::io::Errno::NOTDIR),
            None => Some(rustix::io::Errno::ISDIR),
        };
        if let Some(errno) = not_a_folder {
            return Err(FileError::Write {
                path: path.to_owned(),
                source: errno.into(),
            });
        }
    }
    Ok(resolved)
}

#[cfg(unix)]
fn walk(path: &Path) -> Result<Resolved, FileError> {
    let mut done = PathBuf::new();
    // The names still to walk, the next one last.
    let mut todo = Vec::new();
    push_components(&mut done, &mut todo, path);
    let mut links = 0;
    let mut through_link = false;
    while let Some(name) = todo.pop() {
        if name == ".." {
            to_parent(&mut done);
            continue;
        }
        let candidate = done.join(&name);
        let Ok(meta) = fs::symlink_metadata(&candidate) else {
            // Missing, or not reachable: the rest is taken as it is, and
            // creating or opening it will fail with the system's reason.
            let unresolved = through_link && todo.is_empty();
            let mut path = candidate;
            path.extend(todo.iter().rev());
            return Ok(Resolved {
                path,
                found: None,
                shared: shared_folder(&done).is_some(),
                unresolved,
            });
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(FileError::Open {
                    path: path.to_owned(),
                    source: rustix::io::Errno::LOOP.into(),
                });
            }
            if let Some(folder) = shared_folder(&done)
                && !trusted(owner(&meta), &folder)
            {
                return Err(FileError::PlantedLink {
                    path: candidate,
                    folder: super::usable_folder(&done).to_owned(),
                    owner: owner(&meta),
                });
            }
            let Ok(target) = fs::read_link(&candidate) else {
                let mut path = candidate;
                path.extend(todo.iter().rev());
                return Ok(Resolved {
                    path,
                    found: None,
                    shared: false,
                    unresolved: true,
                });
            };
            through_link = true;
            push_components(&mut done, &mut todo, &target);
            continue;
        }
        if todo.is_empty() {
            let shared = shared_folder(&done);
            if let Some(folder) = &shared
                && let Some(kind) = special_kind(&meta)
                && !trusted(owner(&meta), folder)
            {
                return Err(FileError::PlantedSpecial {
                    path: candidate,
                    folder: super::usable_folder(&done).to_owned(),
                    kind,
                    owner: owner(&meta),
                });
            }
            return Ok(Resolved {
                path: candidate,
                found: Some(meta),
                shared: shared.is_some(),
                unresolved: false,
            });
        }
        done = candidate;
    }
    // The path ended in a folder (`.`, `..`, `/`, `dir/..`).
    let path = super::usable_folder(&done).to_owned();
    Ok(Resolved {
        found: fs::symlink_metadata(&path).ok(),
        shared: false,
        unresolved: false,
        path,
    })
}

/// Without owners and sticky folders, there is nothing to check.
#[cfg(not(unix))]
pub(super) fn resolve(path: &Path) -> Result<Resolved, FileError> {
    Ok(Resolved {
        path: path.to_owned(),
        found: fs::metadata(path).ok(),
        shared: false,
        unresolved: false,
    })
}

/// Adds `path`'s names to walk on top of `todo`; an absolute path starts again at the root.
#[cfg(unix)]
fn push_components(done: &mut PathBuf, todo: &mut Vec<std::ffi::OsString>, path: &Path) {
    use std::path::Component;
    if path.has_root() {
        *done = PathBuf::from("/");
    }
    for component in path.components().rev() {
        match component {
            Component::Normal(name) => todo.push(name.to_owned()),
            Component::ParentDir => todo.push("..".into()),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
}

/// `..` of a walked path: every name in it is a real folder, so its parent is the name before.
#[cfg(unix)]
fn to_parent(done: &mut PathBuf) {
    use std::path::Component;
    match done.components().next_back() {
        Some(Component::Normal(_)) => {
            done.pop();
        }
        Some(Component::RootDir) => {}
        _ => done.push(".."),
    }
}

/// The folder's metadata, if it is shared: sticky, and writable by everyone.
#[cfg(unix)]
fn shared_folder(folder: &Path) -> Option<fs::Metadata> {
    use std::os::unix::fs::MetadataExt;
    const STICKY: u32 = 0o1000;
    const OTHERS_WRITE: u32 = 0o002;
    let meta = fs::metadata(super::usable_folder(folder)).ok()?;
    (meta.mode() & STICKY != 0 && meta.mode() & OTHERS_WRITE != 0).then_some(meta)
}

/// Whether something in a shared folder owned by `owner` may be followed or
/// written: the user's own, or the folder owner's (as the kernel's rule has it).
#[cfg(unix)]
fn trusted(owner: u32, folder: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    owner == user() || owner == folder.uid()
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_resolve_as_the_kernel_follows_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("a")).unwrap();
        fs::create_dir(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/file"), "x").unwrap();
        // Relative, absolute, through `..`, chained, and dangling.
        symlink("b/file", root.join("a/rel")).unwrap();
        symlink(root.join("a/b/file"), root.join("abs")).unwrap();
        symlink("../a/b", root.join("a/up")).unwrap();
        symlink("rel", root.join("a/chain")).unwrap();
        symlink("b/new", root.join("a/dangling")).unwrap();
        for (given, lands) in [
            ("a/rel", "a/b/file"),
            ("abs", "a/b/file"),
            ("a/up/file", "a/b/file"),
            ("a/up/../b/file", "a/b/file"),
            ("a/chain", "a/b/file"),
        ] {
            let resolved = resolve(&root.join(given)).unwrap();
            assert_eq!(resolved.path, root.join(lands), "{given}");
            assert!(resolved.found.unwrap().is_file(), "{given}");
        }
        let dangling = resolve(&root.join("a/dangling")).unwrap();
        assert_eq!(dangling.path, root.join("a/b/new"));
        assert!(dangling.found.is_none());
        // A loop ends as the kernel ends it.
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        assert!(matches!(
            resolve(&root.join("loop1")),
            Err(FileError::Open { .. })
        ));
        // A folder given as `.` or ending in `..`.
        assert!(
            resolve(&root.join("a/b/.."))
                .unwrap()
                .found
                .unwrap()
                .is_dir()
        );
    }
}
