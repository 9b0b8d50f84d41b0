//! Creating and replacing files safely: whole or not at all, private, and
//! never through something another user planted in a shared folder.
//!
//! A shared folder is one with the sticky bit that everyone may write to,
//! like `/tmp`: anyone can create names there, so a name ce-crypt is asked
//! to write may already be a symbolic link or a FIFO someone else made. In
//! such a folder, as the kernel's `fs.protected_symlinks` and
//! `fs.protected_fifos` rules would (they are often off), ce-crypt refuses
//! to follow a symbolic link owned by neither the user nor the folder's
//! owner, and to write into a FIFO, device or socket owned by someone else.
//! The checks are made by ce-crypt on every link of the path, so they hold
//! whatever the kernel's settings. Elsewhere, links are followed and devices
//! written (`/dev/null`, `/dev/stdout`).
//!
//! - [`open`] chooses how to write a path: a regular file (or a new one) is
//!   a [`Replacement`], written as a temporary file (mode 0600) and renamed
//!   over it by [`Replacement::commit`]; a device or FIFO is written directly.
//! - [`private::open_private_append`] opens a file that records things across runs
//!   (a journal, say): a regular file of the user's with one link, mode 0600.
//! - [`abandon_replacements`] removes the temporary files of every
//!   replacement not yet committed, for a process that is about to end
//!   (on a signal, or before a panic aborts it).
//!
//! Another user's file mode is never copied: a replaced file keeps its mode
//! only if it belongs to the user.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

mod meta;
mod private;
mod replace;
mod resolve;

#[cfg(feature = "send")]
pub(crate) use private::{create_private, open_private, private_folder};

#[cfg(feature = "cli")]
pub(crate) use replace::{
    Abandoned, Opened, Replacement, abandon_replacements, open, try_abandon_replacements,
};

/// What to do when the file to write already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Replace a writable file, keeping its mode if it is the user's; refuse
    /// a read-only one ([`FileError::ReadOnly`]).
    Replace,
    /// Replace it even if read-only, keeping its mode if it is the user's.
    ReplaceReadOnly,
    /// Replace it with a new file of mode 0600 (for secrets).
    ReplacePrivate,
    /// Refuse ([`FileError::Exists`]), even if it appears after the check.
    Refuse,
}

/// Why a file could not be created, replaced or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum FileError {
    /// A symbolic link in a shared folder, owned by neither the user nor the folder's owner.
    #[error(
        "{} is a symbolic link that another user (uid {owner}) made in the shared folder {}; \
         it was not followed and nothing was written: remove the link, or choose another name",
        .path.display(), .folder.display()
    )]
    PlantedLink {
        /// The link.
        path: PathBuf,
        /// The shared folder it is in.
        folder: PathBuf,
        /// The link's owner.
        owner: u32,
    },
    /// A FIFO, device or socket in a shared folder, owned by someone else.
    #[error(
        "{} is a {kind} that another user (uid {owner}) made in the shared folder {}; \
         nothing was written to it: remove it, or choose another name",
        .path.display(), .folder.display()
    )]
    PlantedSpecial {
        /// The special file.
        path: PathBuf,
        /// The shared folder it is in.
        folder: PathBuf,
        /// `FIFO`, `character device`, `block device` or `socket`.
        kind: &'static str,
        /// Its owner.
        owner: u32,
    },
    /// The path names a folder.
    #[error("{} is a folder", .path.display())]
    Folder {
        /// The path as given.
        path: PathBuf,
    },
    /// The file exists and [`Existing::Refuse`] was asked.
    #[error("{} already exists", .path.display())]
    Exists {
        /// The path as given.
        path: PathBuf,
    },
    /// The file is read-only and [`Existing::Replace`] was asked.
    #[error("{} is read-only", .path.display())]
    ReadOnly {
        /// The path as given.
        path: PathBuf,
    },
    /// The file has other hard links, which a replacement would split from it.
    #[error(
        "{} has other hard links, which replacing it would split from it: \
         write to another file, or remove the other links first",
        .path.display()
    )]
    HardLinks {
        /// The path as given.
        path: PathBuf,
    },
    /// The folder the file belongs in does not exist.
    #[error("could not write {}: {} does not exist: create it, or write elsewhere", .path.display(), Folder(.folder))]
    FolderMissing {
        /// The path as given.
        path: PathBuf,
        /// The folder.
        folder: PathBuf,
    },
    /// The user may not create files in the folder.
    #[error(
        "could not write {}: {} {}: write elsewhere{}",
        .path.display(), Folder(.folder), if *.read_only_system { "is on a read-only file system" } else { "is not writable by you" },
        if *.read_only_system { "" } else { ", or ask the folder's owner for write access" }
    )]
    FolderNotWritable {
        /// The path as given.
        path: PathBuf,
        /// The folder.
        folder: PathBuf,
        /// Whether the whole file system is mounted read-only.
        read_only_system: bool,
    },
    /// A file that must be the user's own private file is not.
    #[error("{} {problem}: it was left as it is; remove it, or choose another name", .path.display())]
    NotPrivate {
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        problem: NotPrivate,
    },
    /// Opening an existing file for writing failed.
    #[error("could not open {} for writing", .path.display())]
    Open {
        /// The path as given.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// Writing, syncing or renaming failed.
    #[error("could not write {}", .path.display())]
    Write {
        /// The path as given.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
}

/// Why an existing file cannot serve as a private file (see [`open_private_append`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum NotPrivate {
    /// It is not a regular file (a FIFO, a device, a folder...).
    NotRegular(&'static str),
    /// It belongs to another user.
    Owner(u32),
    /// It has this many hard links.
    Links(u64),
}

impl fmt::Display for NotPrivate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotPrivate::NotRegular(kind) => write!(f, "is a {kind}, not a regular file"),
            NotPrivate::Owner(uid) => write!(f, "belongs to another user (uid {uid})"),
            NotPrivate::Links(n) => write!(f, "has {n} hard links, so others may read it"),
        }
    }
}

/// A folder as messages name it: "the folder X", or "the current folder".
struct Folder<'a>(&'a Path);

impl fmt::Display for Folder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.as_os_str().is_empty() || self.0 == Path::new(".") {
            f.write_str("the current folder")
        } else {
            write!(f, "the folder {}", self.0.display())
        }
    }
}

/// Makes a new or renamed file's name durable (best effort: not every
/// system can sync a folder).
pub(crate) fn sync_folder(path: &Path) {
    if let Ok(folder) = std::fs::File::open(usable_folder(folder_of(path))) {
        let _ = folder.sync_all();
    }
}

impl From<FileError> for io::Error {
    /// The error as an `io::Error` of the kind that fits, its message kept.
    fn from(error: FileError) -> io::Error {
        let kind = match &error {
            FileError::Open { source, .. } | FileError::Write { source, .. } => source.kind(),
            FileError::FolderMissing { .. } => io::ErrorKind::NotFound,
            FileError::Exists { .. } => io::ErrorKind::AlreadyExists,
            FileError::FolderNotWritable { .. } | FileError::ReadOnly { .. } => {
                io::ErrorKind::PermissionDenied
            }
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, error)
    }
}

/// The folder a path's file is in (`""` for a bare name).
fn folder_of(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

/// The folder as the system takes it: `.` for a bare name.
fn usable_folder(folder: &Path) -> &Path {
    if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    }
}

/// The error for a file that could not be created in `folder`: a missing
/// folder, or one the user may not write in, is told as such; anything
/// else by `other`.
fn creation_error(
    path: &Path,
    folder: &Path,
    error: io::Error,
    other: impl FnOnce(PathBuf, io::Error) -> FileError,
) -> FileError {
    let path = path.to_owned();
    let folder = folder.to_owned();
    let read_only_system = match error.kind() {
        io::ErrorKind::NotFound => return FileError::FolderMissing { path, folder },
        io::ErrorKind::PermissionDenied => false,
        io::ErrorKind::ReadOnlyFilesystem => true,
        _ => return other(path, error),
    };
    FileError::FolderNotWritable {
        path,
        folder,
        read_only_system,
    }
}

#[cfg(all(test, unix))]
mod test_support {
    use std::io::Write;
    use std::sync::{Mutex, MutexGuard, PoisonError};

    /// Held by tests that make replacements: abandoning them is process-wide.
    pub(crate) fn serial() -> MutexGuard<'static, ()> {
        static SERIAL: Mutex<()> = Mutex::new(());
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the test runs as root (and can make files of another user);
    /// says plainly on the terminal, past the test harness's capture, when not.
    pub(crate) fn as_root(test: &str) -> bool {
        let root = super::meta::user() == 0;
        if !root {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: making files of another user needs root (CI runs as root)"
            );
        }
        root
    }

    /// The uid and gid of `nobody`, the other user of these tests.
    pub const OTHER: u32 = 65534;

    /// Makes `path` another user's, link or not.
    pub(crate) fn give_away(path: &std::path::Path) {
        std::os::unix::fs::lchown(path, Some(OTHER), Some(OTHER)).unwrap();
    }

    /// A shared folder (mode 1777) like /tmp, inside `parent`.
    pub(crate) fn shared_folder(parent: &std::path::Path) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let folder = parent.join("shared");
        std::fs::create_dir(&folder).unwrap();
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o1777)).unwrap();
        folder
    }

    /// A FIFO at `path`.
    pub(crate) fn fifo(path: &std::path::Path) {
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(made.success());
    }

    /// The FIFO at `path`, opened to read without waiting: while it is held,
    /// opening the FIFO to write succeeds at once rather than waiting for a
    /// reader, so a test that should have been refused fails instead of hanging.
    pub(crate) fn fifo_reader(path: &std::path::Path) -> std::fs::File {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(path)
            .unwrap()
    }
}
