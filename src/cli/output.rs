//! Writing the output: standard output, or `-o FILE` replaced atomically.
//!
//! A regular (or new) FILE is written as a temporary file in the same folder,
//! flushed, synced and renamed over FILE only once everything succeeded: killed
//! at any moment, FILE is absent, its old content or the whole new content, and
//! a failure leaves no temporary file behind. An existing FILE that is not a
//! regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written directly and
//! never replaced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tempfile::NamedTempFile;

const BUFFER: usize = 256 * 1024;

/// An output being written; nothing is final until [`Output::commit`].
pub struct Output {
    sink: Sink,
}

enum Sink {
    Stdout(BufWriter<io::StdoutLock<'static>>),
    Atomic {
        file: BufWriter<NamedTempFile>,
        target: PathBuf,
        replace: bool,
    },
    Direct(BufWriter<File>, PathBuf),
}

/// What to do when `-o FILE` already exists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it, keeping its permissions (encrypt, decrypt).
    Replace,
    /// Replace it with a new file of mode 0600 (keygen --force).
    ReplacePrivate,
    /// Refuse, naming the flag that allows it (keygen without --force).
    Refuse,
}

impl Output {
    /// Standard output, or FILE.
    pub fn open(path: Option<&Path>, existing: Existing) -> Result<Output> {
        let Some(path) = path else {
            return Ok(Output {
                sink: Sink::Stdout(BufWriter::with_capacity(BUFFER, io::stdout().lock())),
            });
        };
        if path == Path::new("-") {
            return Output::open(None, existing);
        }
        let target = resolve_links(path);
        let metadata = fs::metadata(&target).ok();
        if metadata.is_some() && existing == Existing::Refuse {
            bail!(
                "{} already exists; keys are never overwritten: choose another file, or pass --force",
                path.display()
            );
        }
        if let Some(metadata) = metadata.as_ref().filter(|m| !m.is_file()) {
            if metadata.is_dir() {
                bail!("{} is a folder: give a file name for -o", path.display());
            }
            let file = OpenOptions::new()
                .write(true)
                .open(&target)
                .with_context(|| format!("could not open {} for writing", path.display()))?;
            return Ok(Output {
                sink: Sink::Direct(BufWriter::with_capacity(BUFFER, file), path.to_owned()),
            });
        }
        let folder = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".ce-crypt-")
            .suffix(".tmp")
            .tempfile_in(folder)
            .with_context(|| format!("could not create a file in {}", folder.display()))?;
        // New files are created 0600 (tempfile's default): outputs hold keys or personal data.
        // A replaced file keeps its permissions, except for key files.
        if let Some(old) = metadata.as_ref().filter(|_| existing == Existing::Replace) {
            let _ = fs::set_permissions(temp.path(), old.permissions());
        }
        Ok(Output {
            sink: Sink::Atomic {
                file: BufWriter::with_capacity(BUFFER, temp),
                target,
                replace: existing != Existing::Refuse,
            },
        })
    }

    /// Whether this writes to a temporary file that is only kept on commit.
    pub fn is_atomic(&self) -> bool {
        matches!(self.sink, Sink::Atomic { .. })
    }

    /// Flushes, and for a file syncs it and moves it into place.
    pub fn commit(self) -> Result<()> {
        match self.sink {
            Sink::Stdout(mut out) => out.flush().context("could not write to standard output"),
            Sink::Direct(mut out, path) => out
                .flush()
                .with_context(|| format!("could not write {}", path.display())),
            Sink::Atomic {
                file,
                target,
                replace,
            } => {
                let write_error = || format!("could not write {}", target.display());
                let temp = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(write_error)?;
                temp.as_file().sync_all().with_context(write_error)?;
                let persisted = if replace {
                    temp.persist(&target).map(drop)
                } else {
                    temp.persist_noclobber(&target).map(drop)
                };
                persisted.map_err(|e| e.error).with_context(write_error)?;
                sync_folder(&target);
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Stdout(out) => out.write(buf),
            Sink::Atomic { file, .. } => file.write(buf),
            Sink::Direct(out, _) => out.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(out) => out.write_all(buf),
            Sink::Atomic { file, .. } => file.write_all(buf),
            Sink::Direct(out, _) => out.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(out) => out.flush(),
            Sink::Atomic { file, .. } => file.flush(),
            Sink::Direct(out, _) => out.flush(),
        }
    }
}

/// Follows symbolic links, so that a link to a file has the file replaced, not the link.
fn resolve_links(path: &Path) -> PathBuf {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
        }
        _ => path.to_owned(),
    }
}

/// Makes the rename durable (best effort: not every platform can sync a folder).
fn sync_folder(target: &Path) {
    if let Some(folder) = target.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(dir) = File::open(folder)
    {
        let _ = dir.sync_all();
    }
}
