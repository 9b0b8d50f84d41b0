//! Writing the output: standard output, or `-o FILE` replaced atomically.
//!
//! The library's [`files`] decides how a FILE is written: a regular (or new)
//! FILE as a temporary file (mode 0600) in the same folder, renamed over
//! FILE only once everything succeeded; an existing FILE that is not a
//! regular file (`/dev/null`, `/dev/stdout`, a FIFO) directly, never
//! replaced. Links are followed, except what another user planted in a
//! shared folder such as /tmp. Killed at any moment, FILE is absent, its old
//! content or the whole new content; a signal other than SIGKILL leaves no
//! temporary file (see [`process::clean_up_on_signals`](super::process::clean_up_on_signals)).
//!
//! This module adds what the library cannot say: which flag fixes what,
//! and, for a write that fails, which output it was for.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use ce_crypt::files::{self, FileError, Opened, Replacement};
use ce_crypt::tuning::OUTPUT_BUFFER;

pub use super::overlap::refuse_overlaps;

/// An output being written; nothing is final until [`Output::commit`].
pub struct Output {
    sink: Sink,
    /// What the output is, for errors: `standard output`, or the file as given.
    shown: String,
}

enum Sink {
    Stdout(BufWriter<Box<dyn Write + Send>>),
    Atomic(BufWriter<Replacement>),
    Direct(BufWriter<File>),
}

/// What to do when `-o FILE` already exists.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it, keeping its permissions, unless it is read-only (encrypt, decrypt).
    Replace,
    /// Replace it even if read-only, keeping its permissions (encrypt, decrypt --force).
    Force,
    /// Replace it with a new file of mode 0600 (keygen --force).
    ReplacePrivate,
    /// Refuse, naming the flag that allows it (keygen without --force).
    Refuse,
}

impl From<Existing> for files::Existing {
    fn from(existing: Existing) -> files::Existing {
        match existing {
            Existing::Replace => files::Existing::Replace,
            Existing::Force => files::Existing::ReplaceReadOnly,
            Existing::ReplacePrivate => files::Existing::ReplacePrivate,
            Existing::Refuse => files::Existing::Refuse,
        }
    }
}

/// Standard output without `io::Stdout`'s line buffering, which searches
/// every write for a newline (3 % of the time of a large decryption): a
/// duplicate of its descriptor, where there is one.
fn unbuffered_stdout() -> Box<dyn Write + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(File::from(fd));
        }
    }
    Box::new(io::stdout())
}

impl Output {
    /// Standard output, or FILE.
    pub fn open(path: Option<&Path>, existing: Existing) -> Result<Output> {
        Output::open_buffered(path, existing, OUTPUT_BUFFER)
    }

    /// Like [`Output::open`] for output of about `expected` bytes, if known:
    /// its buffer is no larger than that needs (a small payload's 600 bytes
    /// of ciphertext need no 256 KiB buffer).
    pub fn open_for(
        path: Option<&Path>,
        existing: Existing,
        expected: Option<u64>,
    ) -> Result<Output> {
        let needed = expected.and_then(|len| usize::try_from(len).ok());
        Output::open_buffered(
            path,
            existing,
            needed.map_or(OUTPUT_BUFFER, |len| len.min(OUTPUT_BUFFER)),
        )
    }

    /// Like [`Output::open`], with no buffer of ours in between: for secrets,
    /// which then sit in no buffer that is not wiped.
    pub fn open_unbuffered(path: Option<&Path>, existing: Existing) -> Result<Output> {
        Output::open_buffered(path, existing, 0)
    }

    fn open_buffered(path: Option<&Path>, existing: Existing, buffer: usize) -> Result<Output> {
        let Some(path) = path.filter(|path| *path != Path::new("-")) else {
            super::process::check_stdout_open()?;
            return Ok(Output {
                sink: Sink::Stdout(BufWriter::with_capacity(buffer, unbuffered_stdout())),
                shown: "standard output".to_owned(),
            });
        };
        // Before any temporary file exists: a signal must find it registered.
        super::process::clean_up_on_signals()?;
        let sink = match files::open(path, existing.into()) {
            Ok(Opened::Replacing(file)) => Sink::Atomic(BufWriter::with_capacity(buffer, file)),
            Ok(Opened::Direct(file)) => Sink::Direct(BufWriter::with_capacity(buffer, file)),
            Err(error) => return Err(with_advice(error)),
        };
        Ok(Output {
            sink,
            shown: path.display().to_string(),
        })
    }

    /// Whether this writes to standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self.sink, Sink::Stdout(_))
    }

    /// Whether this writes to a temporary file that is only kept on commit.
    pub fn is_atomic(&self) -> bool {
        matches!(self.sink, Sink::Atomic(_))
    }

    /// Flushes, and for a file syncs it and moves it into place.
    pub fn commit(self) -> Result<()> {
        let shown = self.shown;
        let flushed = match self.sink {
            Sink::Stdout(mut out) => out.flush(),
            Sink::Direct(mut out) => out.flush(),
            Sink::Atomic(out) => match out.into_inner() {
                Ok(file) => return file.commit().map_err(with_advice),
                Err(error) => Err(error.into_error()),
            },
        };
        flushed.map_err(|error| WriteFailed::wrap(&shown, error).into())
    }

    fn failed(&self, error: io::Error) -> io::Error {
        WriteFailed::wrap(&self.shown, error)
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = match &mut self.sink {
            Sink::Stdout(out) => out.write(buf),
            Sink::Atomic(file) => file.write(buf),
            Sink::Direct(out) => out.write(buf),
        };
        written.map_err(|error| self.failed(error))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let written = match &mut self.sink {
            Sink::Stdout(out) => out.write_all(buf),
            Sink::Atomic(file) => file.write_all(buf),
            Sink::Direct(out) => out.write_all(buf),
        };
        written.map_err(|error| self.failed(error))
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = match &mut self.sink {
            Sink::Stdout(out) => out.flush(),
            Sink::Atomic(file) => file.flush(),
            Sink::Direct(out) => out.flush(),
        };
        flushed.map_err(|error| self.failed(error))
    }
}

/// A failed write, saying which output it was for ("could not write to
/// standard output: No space left on device"); of the same kind as the
/// system's error, so a closed pipe is still told apart.
#[derive(Debug)]
struct WriteFailed {
    target: String,
    error: io::Error,
}

impl WriteFailed {
    fn wrap(target: &str, error: io::Error) -> io::Error {
        let already = error
            .get_ref()
            .is_some_and(|inner| inner.is::<WriteFailed>());
        if already {
            return error;
        }
        let kind = error.kind();
        io::Error::new(
            kind,
            WriteFailed {
                target: target.to_owned(),
                error,
            },
        )
    }
}

impl fmt::Display for WriteFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.target.as_str() {
            "standard output" => write!(f, "could not write to standard output: {}", self.error),
            file => write!(f, "could not write {file}: {}", self.error),
        }
    }
}

// The system's error is part of the message, not a cause listed again after it.
impl std::error::Error for WriteFailed {}

/// The library's file error, with the flag that helps where one does.
fn with_advice(error: FileError) -> anyhow::Error {
    let path = |path: &PathBuf| path.display().to_string();
    match &error {
        FileError::Exists { path: p } => anyhow::anyhow!(
            "{} already exists; keys are never overwritten: choose another file, or pass --force",
            path(p)
        ),
        FileError::ReadOnly { path: p } => {
            anyhow::anyhow!("{} is read-only: pass --force to replace it", path(p))
        }
        FileError::Folder { path: p } => {
            anyhow::anyhow!("{} is a folder: give a file name for -o", path(p))
        }
        _ => error.into(),
    }
}
