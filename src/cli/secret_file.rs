//! Reading a file that holds secrets (a key file, a profile, an API key
//! file), and judging it before trusting it: what kind of file it is first,
//! then, where the file system reports them, its owner and its mode.
//!
//! A pipe is read (`--key-file <(gpg -d keys.env.gpg)` keeps the key off the
//! disk), opened so that one nobody writes to ends at once rather than
//! hanging; a device or a folder is refused with its own message. A file
//! another user owns (root aside), or one that group or others may change,
//! is refused with the command that fixes it; one they may only read gets a
//! warning.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ce_crypt::SecretString;
use zeroize::Zeroizing;

use super::error::shell_quoted as quoted;

/// The most a secret file may hold: key files are a few lines.
const MAX_LEN: u64 = 64 * 1024;

/// Why a secret file was not read. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    /// A folder, a device or a socket.
    #[error("the {what} {} is {kind}, not a file: name the file that holds the {secret}", .path.display())]
    NotAFile {
        /// "key file", "API key file".
        what: &'static str,
        /// "a folder", "a device".
        kind: &'static str,
        /// What the file should hold.
        secret: &'static str,
        /// As given.
        path: PathBuf,
    },
    /// Owned by someone else, who could change it.
    #[error(
        "the {what} {} belongs to another user (uid {owner}), who could change it: make a copy \
         of your own with: install -m 600 {} NEW_FILE",
        .path.display(), quoted(.path)
    )]
    OtherOwner {
        /// "key file", "API key file".
        what: &'static str,
        /// The owner's user id.
        owner: u32,
        /// As given.
        path: PathBuf,
    },
    /// Group or others may write it.
    #[error(
        "the {what} {} can be changed by group or others (mode {mode:04o}): run chmod 600 {}",
        .path.display(), quoted(.path)
    )]
    Writable {
        /// "key file", "API key file".
        what: &'static str,
        /// Its permission bits.
        mode: u32,
        /// As given.
        path: PathBuf,
    },
    /// A folder of profiles others may write to.
    #[error(
        "the profile folder {} can be changed by others (mode {mode:04o}): run chmod 700 {}",
        .path.display(), quoted(.path)
    )]
    WritableFolder {
        /// Its permission bits.
        mode: u32,
        /// The folder.
        path: PathBuf,
    },
    /// A pipe that gave nothing.
    #[error(
        "the {what} {} is a pipe and nothing was written to it: start what writes it first, \
         or name a file",
        .path.display()
    )]
    EmptyPipe {
        /// "key file", "API key file".
        what: &'static str,
        /// As given.
        path: PathBuf,
    },
    /// Far larger than any key file.
    #[error("the {what} {} is larger than {} KiB: it is not a key file", .path.display(), MAX_LEN / 1024)]
    TooLarge {
        /// "key file", "API key file".
        what: &'static str,
        /// As given.
        path: PathBuf,
    },
}

/// Reads the file of secrets at `path` (`what` names it in messages: "key
/// file", "API key file"), after judging it as the module says.
pub fn read(path: &Path, what: &'static str) -> Result<SecretString> {
    let could_not = || format!("could not read the {what} {}", path.display());
    let meta = fs::metadata(path).with_context(could_not)?;
    let pipe = judge(path, &meta, what)?;
    let file = open(path, pipe).with_context(could_not)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The checks hold for what was opened, not only for what was there before.
        let opened = file.metadata().with_context(could_not)?;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            judge(path, &opened, what)?;
        }
    }
    // Room for the whole of the longest file allowed, so the text is never
    // moved, leaving a copy in freed memory; wiped whatever happens.
    let mut buffer = Zeroizing::new(String::with_capacity(MAX_LEN as usize + 1));
    file.take(MAX_LEN + 1)
        .read_to_string(&mut buffer)
        .with_context(could_not)?;
    let text = SecretString::new(std::mem::take(&mut *buffer));
    if text.expose().len() as u64 > MAX_LEN {
        return Err(SecretFileError::TooLarge {
            what,
            path: path.to_owned(),
        }
        .into());
    }
    if pipe && text.expose().is_empty() {
        return Err(SecretFileError::EmptyPipe {
            what,
            path: path.to_owned(),
        }
        .into());
    }
    Ok(text)
}

/// Refuses a folder of profiles that others may write to: they could put
/// their own key file in place of yours.
pub fn check_profile_folder(folder: &Path) -> Result<()> {
    #[cfg(unix)]
    if let Ok(meta) = fs::metadata(folder) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o002 != 0 {
            return Err(SecretFileError::WritableFolder {
                mode,
                path: folder.to_owned(),
            }
            .into());
        }
    }
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

/// Judges the file `meta` describes; true if it is a pipe.
fn judge(path: &Path, meta: &fs::Metadata, what: &'static str) -> Result<bool, SecretFileError> {
    let secret = if what.starts_with("API") {
        "API key"
    } else {
        "key and IV"
    };
    let not_a_file = |kind| SecretFileError::NotAFile {
        what,
        kind,
        secret,
        path: path.to_owned(),
    };
    if meta.is_dir() {
        return Err(not_a_file("a folder"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let kind = meta.file_type();
        if kind.is_char_device() || kind.is_block_device() {
            return Err(not_a_file("a device"));
        }
        if kind.is_socket() {
            return Err(not_a_file("a socket"));
        }
        let owner = meta.uid();
        if owner != 0 && owner != rustix::process::geteuid().as_raw() {
            return Err(SecretFileError::OtherOwner {
                what,
                owner,
                path: path.to_owned(),
            });
        }
        if kind.is_fifo() {
            // A pipe holds nothing at rest: its mode guards no stored secret.
            return Ok(true);
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(SecretFileError::Writable {
                what,
                mode,
                path: path.to_owned(),
            });
        }
        if mode & 0o044 != 0 {
            eprintln!(
                "warning: the {what} {} can be read by group or others (mode {mode:04o}); \
                 run: chmod 600 {}",
                path.display(),
                quoted(path)
            );
        }
    }
    Ok(false)
}

/// Opens `path`; a pipe without a writer then reads as empty instead of
/// waiting for one.
fn open(path: &Path, pipe: bool) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        if pipe {
            options.custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32);
            let file = options.open(path)?;
            // Reads wait again for a writer that is there but slow.
            let flags = rustix::fs::fcntl_getfl(&file)?;
            rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK)?;
            return Ok(file);
        }
    }
    #[cfg(not(unix))]
    let _ = pipe;
    options.open(path)
}
