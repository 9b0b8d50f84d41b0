//! Writing the output: standard output, or `-o FILE` replaced atomically.
//!
//! A regular (or new) FILE is written as a temporary file (mode 0600) in the
//! same folder, flushed, synced and renamed over FILE only once everything
//! succeeded: killed at any moment, FILE is absent, its old content or the
//! whole new content. A failure, SIGINT, SIGTERM or SIGHUP leaves no temporary
//! file behind (only SIGKILL can). An existing FILE that is not a regular file
//! (`/dev/null`, `/dev/stdout`, a FIFO) is written directly and never replaced.
//!
//! Symbolic links are followed, working or dangling alike: the file they lead
//! to is written, the link stays. A file with other hard links, which a rename
//! would split from them, is refused; a read-only one needs `--force`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;

use anyhow::{Context, Result, bail};
use ce_crypt::tuning::OUTPUT_BUFFER;
use tempfile::NamedTempFile;

/// Temporary files that a signal must remove before the process ends.
static TEMP_FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// On SIGINT, SIGTERM or SIGHUP, removes the temporary files of outputs not
/// yet committed, then exits with 128 + the signal's number, as a shell does
/// (unless a command asked to wind down first: see
/// [`process::stop_flag`](super::process::stop_flag)).
///
/// Started by the first output or command that needs it, once: a command
/// that writes only to standard output keeps the default handling and
/// spawns no thread for it.
pub fn clean_up_on_signals() -> Result<()> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    let started = STARTED.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .map_err(|e| e.to_string())?;
        thread::spawn(move || {
            for signal in signals.forever() {
                if super::process::interrupt_gently(signal) {
                    continue;
                }
                // Held until the exit: a commit cannot rename a file half-way through this.
                let temps = TEMP_FILES.lock().unwrap_or_else(PoisonError::into_inner);
                for path in temps.iter() {
                    let _ = fs::remove_file(path);
                }
                std::process::exit(128 + signal);
            }
        });
        Ok(())
    });
    match started {
        Ok(()) => Ok(()),
        Err(cause) => bail!("could not set up signal handling: {cause}"),
    }
}

/// A temporary file's entry in [`TEMP_FILES`], removed on drop.
struct Registered(PathBuf);

impl Registered {
    fn new(path: &Path) -> Registered {
        lock_temp_files().push(path.to_owned());
        Registered(path.to_owned())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock_temp_files().retain(|path| *path != self.0);
    }
}

fn lock_temp_files() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    TEMP_FILES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An output being written; nothing is final until [`Output::commit`].
pub struct Output {
    sink: Sink,
}

enum Sink {
    Stdout(BufWriter<Box<dyn Write + Send>>),
    Atomic {
        file: BufWriter<NamedTempFile>,
        // Declared after `file`: unregistered once the temporary file is gone.
        _registered: Registered,
        target: PathBuf,
        shown: PathBuf,
        existing: Existing,
        permissions: Option<fs::Permissions>,
    },
    Direct(BufWriter<File>, PathBuf),
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

/// Refuses an output FILE that is one of the files being read (`what`, path),
/// compared by device and inode, so that other spellings and hard links are caught.
pub fn refuse_reading_and_writing(output: Option<&Path>, read: &[(&str, &Path)]) -> Result<()> {
    let Some(output) = output.filter(|path| *path != Path::new("-")) else {
        return Ok(());
    };
    let Ok(written) = fs::metadata(output) else {
        return Ok(()); // a new file is none of them
    };
    if !written.is_file() {
        return Ok(()); // /dev/null and friends may be read and written
    }
    for (what, path) in read {
        if let Ok(meta) = fs::metadata(path)
            && same_file(&meta, &written)
        {
            bail!(
                "{} is the {what} ({}): writing it would destroy what is being read; \
                 nothing was written: choose another output file",
                output.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Refuses an output (`what`, path) that is one of the files being read
/// (standard input when the path is none), compared by device and inode,
/// or that is another of the outputs.
pub fn refuse_overlaps(
    read: &[(&str, Option<&Path>)],
    written: &[(&str, Option<&Path>)],
) -> Result<()> {
    let identity = |path: &Path| -> Option<FileId> {
        match fs::metadata(path) {
            Ok(meta) => Some(FileId::Inode(file_id(&meta))),
            // A file to be created: its folder's identity and its name.
            Err(_) => {
                let folder = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                let folder = fs::metadata(folder).ok()?;
                Some(FileId::New(file_id(&folder), path.file_name()?.to_owned()))
            }
        }
    };
    let outputs: Vec<(&str, &Path, Option<FileId>)> = written
        .iter()
        .filter_map(|(what, path)| Some((*what, (*path)?)))
        .filter(|(_, path)| *path != Path::new("-"))
        .filter(|(_, path)| fs::metadata(path).map_or(true, |m| m.is_file()))
        .map(|(what, path)| (what, path, identity(path)))
        .collect();
    for (i, (what, path, id)) in outputs.iter().enumerate() {
        let Some(id) = id else { continue };
        for (what_read, read_path) in read {
            let read_id = match read_path {
                Some(read_path) => fs::metadata(read_path).ok().map(|m| file_id(&m)),
                None => stdin_id(),
            };
            if read_id.is_some_and(|read_id| *id == FileId::Inode(read_id)) {
                let name = read_path.map_or_else(String::new, |p| format!(" ({})", p.display()));
                bail!(
                    "the {what} {} is the {what_read}{name}: writing it would destroy what is \
                     being read; nothing was sent or written: choose another file",
                    path.display()
                );
            }
        }
        for (other_what, other_path, other_id) in &outputs[i + 1..] {
            if other_id.as_ref() == Some(id) {
                bail!(
                    "the {what} {} and the {other_what} {} are the same file; nothing was sent \
                     or written: choose another",
                    path.display(),
                    other_path.display()
                );
            }
        }
    }
    Ok(())
}

/// What tells two files apart.
#[derive(PartialEq, Eq)]
enum FileId {
    Inode((u64, u64)),
    New((u64, u64), std::ffi::OsString),
}

#[cfg(unix)]
fn file_id(meta: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn file_id(_meta: &fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Standard input's device and inode, when it is a regular file.
#[cfg(unix)]
fn stdin_id() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    let stdin = io::stdin();
    let fd = stdin.as_fd().try_clone_to_owned().ok()?;
    let meta = File::from(fd).metadata().ok()?;
    meta.is_file().then(|| file_id(&meta))
}

#[cfg(not(unix))]
fn stdin_id() -> Option<(u64, u64)> {
    None
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_a: &fs::Metadata, _b: &fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn hard_links(meta: &fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.nlink()
}

#[cfg(not(unix))]
fn hard_links(_meta: &fs::Metadata) -> u64 {
    1
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
            });
        };
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
                .map_err(without_path)
                .with_context(|| format!("could not open {} for writing", path.display()))?;
            return Ok(Output {
                sink: Sink::Direct(BufWriter::with_capacity(buffer, file), path.to_owned()),
            });
        }
        if let Some(old) = &metadata {
            if hard_links(old) > 1 {
                bail!(
                    "{} has other hard links, which replacing it would split from it: \
                     write to another file, or remove the other links first",
                    path.display()
                );
            }
            if old.permissions().readonly() && existing == Existing::Replace {
                bail!(
                    "{} is read-only: pass --force to replace it",
                    path.display()
                );
            }
        }
        let folder = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // Before the file exists: a signal must find it registered.
        clean_up_on_signals()?;
        // Created 0600 (tempfile's default): outputs hold keys or personal data.
        let temp = tempfile::Builder::new()
            .prefix(".ce-crypt-")
            .suffix(".tmp")
            .tempfile_in(folder)
            .map_err(without_path)
            .with_context(|| match fs::metadata(folder) {
                Err(_) => format!(
                    "could not write {}: the folder {} is missing",
                    path.display(),
                    folder.display()
                ),
                Ok(_) => format!("could not write {}", path.display()),
            })?;
        let registered = Registered::new(temp.path());
        // A replaced file keeps its permissions (given at commit), except key files.
        let permissions = metadata
            .filter(|_| matches!(existing, Existing::Replace | Existing::Force))
            .map(|old| old.permissions());
        Ok(Output {
            sink: Sink::Atomic {
                file: BufWriter::with_capacity(buffer, temp),
                _registered: registered,
                target,
                shown: path.to_owned(),
                existing,
                permissions,
            },
        })
    }

    /// Whether this writes to standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self.sink, Sink::Stdout(_))
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
                _registered,
                target,
                shown,
                existing,
                permissions,
            } => {
                let write_error = || format!("could not write {}", shown.display());
                let temp = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .with_context(write_error)?;
                temp.as_file().sync_all().with_context(write_error)?;
                let persisted = {
                    // A signal arriving now waits for the rename to finish.
                    let _no_signal_cleanup = lock_temp_files();
                    if existing == Existing::Refuse {
                        temp.persist_noclobber(&target)
                    } else {
                        temp.persist(&target)
                    }
                };
                let file = persisted
                    .map_err(|e| without_path(e.error))
                    .with_context(write_error)?;
                if let Some(permissions) = permissions {
                    file.set_permissions(permissions)
                        .with_context(write_error)?;
                }
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

/// Follows symbolic links, working or dangling, to the path a write lands on,
/// so that the file is replaced and the link kept.
fn resolve_links(path: &Path) -> PathBuf {
    if fs::metadata(path).is_ok() {
        // A working link (or none). `/dev/stdout` leads to a pipe with no path: keep it.
        return fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    }
    // A dangling link leads to the path a new file is created at.
    let mut path = path.to_owned();
    // As the kernel does, give up after 40 links (a loop then fails on open).
    for _ in 0..40 {
        match fs::read_link(&path) {
            Ok(next) => {
                path = match path.parent() {
                    Some(parent) => parent.join(next),
                    None => next,
                }
            }
            Err(_) => break,
        }
    }
    path
}

/// tempfile's errors carry the random temporary path; the user never chose it.
fn without_path(error: io::Error) -> io::Error {
    if error.raw_os_error().is_some() {
        return error;
    }
    // tempfile's `PathError` shows as "<the OS error> at path \"<temporary path>\"".
    let text = error.to_string();
    match text.rfind(" at path \"") {
        Some(cut) => io::Error::new(error.kind(), &text[..cut]),
        None => error,
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
