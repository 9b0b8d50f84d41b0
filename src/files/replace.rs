//! Replacing a file whole: a temporary file beside it, renamed over it once
//! complete; and the list of temporary files a process must remove when it
//! is told to end.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use tempfile::NamedTempFile;

use super::meta::{links, no_follow, owned_by_user, owned_by_user_or_root, same_file};
use super::resolve::{Resolved, resolve};
use super::{Existing, FileError, creation_error, folder_of, sync_folder, usable_folder};

/// How [`open`] will write a path.
pub(crate) enum Opened {
    /// A regular file, new or replaced: written as a temporary file until
    /// [`Replacement::commit`].
    Replacing(Replacement),
    /// An existing file that is not a regular one (a device, a FIFO, a
    /// terminal), written directly and never replaced.
    Direct(File),
}

/// Opens `path` to write it: see [`Opened`]. Links are followed, to an
/// existing file or to where a new one is created, except what another user
/// planted in a shared folder ([`FileError::PlantedLink`],
/// [`FileError::PlantedSpecial`]). A file with other hard links is refused.
pub(crate) fn open(path: &Path, existing: Existing) -> Result<Opened, FileError> {
    let resolved = resolve(path)?;
    let found = match &resolved.found {
        Some(meta) => Some(meta.clone()),
        // A link only the system can follow (`/dev/stdout` to a pipe).
        None if resolved.unresolved => fs::metadata(path).ok(),
        None => None,
    };
    if let Some(meta) = &found {
        if existing == Existing::Refuse {
            return Err(FileError::Exists {
                path: path.to_owned(),
            });
        }
        if meta.is_dir() {
            return Err(FileError::Folder {
                path: path.to_owned(),
            });
        }
        if resolved.found.is_none() {
            return direct_by_system(path).map(Opened::Direct);
        }
        if !meta.is_file() {
            return direct(path, &resolved.path, meta).map(Opened::Direct);
        }
        if links(meta) > 1 {
            return Err(FileError::HardLinks {
                path: path.to_owned(),
            });
        }
        if meta.permissions().readonly() && existing == Existing::Replace {
            return Err(FileError::ReadOnly {
                path: path.to_owned(),
            });
        }
    }
    Replacement::create(path, resolved, existing).map(Opened::Replacing)
}

/// Opens the special file `resolved`, checked as `checked`, without following a link.
fn direct(shown: &Path, resolved: &Path, checked: &fs::Metadata) -> Result<File, FileError> {
    let opened = no_follow(OpenOptions::new().write(true))
        .open(resolved)
        .and_then(|file| {
            // What was opened must be what was checked.
            let meta = file.metadata()?;
            if same_file(&meta, checked) {
                Ok(file)
            } else {
                Err(io::Error::other("it changed while it was being opened"))
            }
        });
    opened.map_err(|source| FileError::Open {
        path: shown.to_owned(),
        source,
    })
}

/// Opens `path` as the system resolves it: for links that lead to no path
/// (`/proc/self/fd/1` to a pipe), which only the process or root can own.
fn direct_by_system(path: &Path) -> Result<File, FileError> {
    let opened = OpenOptions::new().write(true).open(path).and_then(|file| {
        if owned_by_user_or_root(&file.metadata()?) {
            Ok(file)
        } else {
            Err(io::Error::other("it belongs to another user"))
        }
    });
    opened.map_err(|source| FileError::Open {
        path: path.to_owned(),
        source,
    })
}

/// A file being written as a temporary file (mode 0600) beside its target;
/// dropped without [`Replacement::commit`], the temporary file is removed
/// and the target left as it was.
pub(crate) struct Replacement {
    file: NamedTempFile,
    // Declared after `file`: unregistered once the temporary file is gone.
    registered: Registered,
    target: PathBuf,
    shown: PathBuf,
    refuse_existing: bool,
    mode: Option<fs::Permissions>,
}

impl Replacement {
    fn create(
        shown: &Path,
        resolved: Resolved,
        existing: Existing,
    ) -> Result<Replacement, FileError> {
        // A replaced file keeps its mode if it is the user's (a secret's is 0600);
        // another user's mode (say 0666) is never copied.
        let mode = resolved
            .found
            .as_ref()
            .filter(|_| matches!(existing, Existing::Replace | Existing::ReplaceReadOnly))
            .filter(|meta| owned_by_user(meta))
            .map(fs::Metadata::permissions);
        let folder = folder_of(&resolved.path);
        // Registered as it is created, so that an abandonment finds it.
        let mut registry = lock();
        let file = tempfile::Builder::new()
            .prefix(".ce-crypt-")
            .suffix(".tmp")
            .tempfile_in(usable_folder(folder))
            .map_err(|error| {
                creation_error(shown, folder, error, |path, source| FileError::Write {
                    path,
                    source: without_path(source),
                })
            })?;
        registry.pending.push(Pending {
            temp: file.path().to_owned(),
            shown: shown.to_owned(),
            existed: resolved.found.is_some(),
        });
        drop(registry);
        Ok(Replacement {
            registered: Registered(Some(file.path().to_owned())),
            file,
            target: resolved.path,
            shown: shown.to_owned(),
            refuse_existing: existing == Existing::Refuse,
            mode,
        })
    }

    /// Syncs the temporary file and renames it over the target, which is
    /// then either as it was or entirely new, even if the process is killed.
    pub(crate) fn commit(self) -> Result<(), FileError> {
        let Replacement {
            file,
            mut registered,
            target,
            shown,
            refuse_existing,
            mode,
        } = self;
        let write_error = |source| FileError::Write {
            path: shown.clone(),
            source,
        };
        file.as_file().sync_all().map_err(write_error)?;
        if let Some(mode) = mode {
            file.as_file().set_permissions(mode).map_err(write_error)?;
        }
        let mut registry = lock();
        let persisted = if refuse_existing {
            file.persist_noclobber(&target)
        } else {
            file.persist(&target)
        };
        match persisted {
            Ok(_) => {
                let temp = registered.0.take();
                registry.pending.retain(|p| Some(&p.temp) != temp.as_ref());
                registry.replaced.push(shown.clone());
                drop(registry);
                sync_folder(&target);
                Ok(())
            }
            Err(error) => {
                drop(registry);
                // Dropping the temporary file removes it, then it is unregistered.
                drop(error.file);
                drop(registered);
                if refuse_existing && error.error.kind() == io::ErrorKind::AlreadyExists {
                    return Err(FileError::Exists { path: shown });
                }
                Err(write_error(error.error))
            }
        }
    }
}

impl Write for Replacement {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
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

/// The temporary files not yet committed, and the files replaced, by this process.
struct Registry {
    pending: Vec<Pending>,
    replaced: Vec<PathBuf>,
}

/// A temporary file and the file it is to replace.
struct Pending {
    temp: PathBuf,
    shown: PathBuf,
    existed: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pending: Vec::new(),
    replaced: Vec::new(),
});

fn lock() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary file's entry in the registry, removed on drop.
struct Registered(Option<PathBuf>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(temp) = self.0.take() {
            lock().pending.retain(|p| p.temp != temp);
        }
    }
}

/// The replacements a process gave up on its way out, from [`abandon_replacements`].
///
/// While it lives, no replacement can be created or committed: keep it
/// until the process ends.
pub(crate) struct Abandoned {
    _registry: MutexGuard<'static, Registry>,
    untouched: Vec<(PathBuf, bool)>,
    replaced: Vec<PathBuf>,
}

impl Abandoned {
    /// The files whose replacement was given up, as given to [`open`], each
    /// with whether it existed (and is now as it was) or not (and still does not).
    pub(crate) fn untouched(&self) -> impl Iterator<Item = (&Path, bool)> {
        self.untouched
            .iter()
            .map(|(path, existed)| (path.as_path(), *existed))
    }

    /// The files this process had already replaced, whole, as given to [`open`].
    pub(crate) fn replaced(&self) -> &[PathBuf] {
        &self.replaced
    }
}

/// Removes the temporary file of every replacement not yet committed, and
/// keeps any from being created or committed from now on; waits for a
/// commit under way to finish. For a process that is about to end (on
/// SIGTERM, say): its targets are left as they were.
pub(crate) fn abandon_replacements() -> Abandoned {
    abandon(lock())
}

/// As [`abandon_replacements`], unless a replacement is being created or
/// committed at this moment (then `None`): for a panic hook, which may run
/// on the thread doing that.
pub(crate) fn try_abandon_replacements() -> Option<Abandoned> {
    match REGISTRY.try_lock() {
        Ok(registry) => Some(abandon(registry)),
        Err(TryLockError::Poisoned(poisoned)) => Some(abandon(poisoned.into_inner())),
        Err(TryLockError::WouldBlock) => None,
    }
}

fn abandon(mut registry: MutexGuard<'static, Registry>) -> Abandoned {
    let untouched = registry
        .pending
        .drain(..)
        .map(|pending| {
            let _ = fs::remove_file(&pending.temp);
            (pending.shown, pending.existed)
        })
        .collect();
    let replaced = registry.replaced.clone();
    Abandoned {
        _registry: registry,
        untouched,
        replaced,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::super::test_support::{
        as_root, fifo, fifo_reader, give_away, serial, shared_folder,
    };
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    fn replacing(path: &Path, existing: Existing) -> Replacement {
        match open(path, existing) {
            Ok(Opened::Replacing(file)) => file,
            Ok(Opened::Direct(_)) => panic!("{} opened directly", path.display()),
            Err(error) => panic!("{}: {error}", path.display()),
        }
    }

    fn temp_files(folder: &Path) -> Vec<(String, u32)> {
        fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .map(|entry| {
                let mode = entry.metadata().unwrap().mode() & 0o7777;
                (entry.file_name().to_string_lossy().into_owned(), mode)
            })
            .collect()
    }

    #[test]
    fn a_file_is_replaced_whole_and_keeps_the_users_mode() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.enc");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let mut file = replacing(&path, Existing::Replace);
        file.write_all(b"new").unwrap();
        // Until the commit: the old file, and a private temporary one.
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        let temps = temp_files(dir.path());
        assert_eq!(temps.len(), 1);
        assert_eq!(temps[0].1, 0o600, "{temps:?}");
        file.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o640);
        assert!(temp_files(dir.path()).is_empty());
        // A secret's replacement is 0600 whatever was there.
        let mut file = replacing(&path, Existing::ReplacePrivate);
        file.write_all(b"key").unwrap();
        file.commit().unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
        // Dropped uncommitted: nothing changes, nothing is left.
        let mut file = replacing(&path, Existing::Replace);
        file.write_all(b"lost").unwrap();
        drop(file);
        assert_eq!(fs::read_to_string(&path).unwrap(), "key");
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn refusals_leave_the_file_as_it_was() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.env");
        // A file that appears after the check is not overwritten either.
        let mut file = replacing(&path, Existing::Refuse);
        fs::write(&path, "theirs").unwrap();
        file.write_all(b"mine").unwrap();
        assert!(matches!(file.commit(), Err(FileError::Exists { .. })));
        assert_eq!(fs::read_to_string(&path).unwrap(), "theirs");
        assert!(temp_files(dir.path()).is_empty());
        assert!(matches!(
            open(&path, Existing::Refuse),
            Err(FileError::Exists { .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        assert!(matches!(
            open(&path, Existing::Replace),
            Err(FileError::ReadOnly { .. })
        ));
        fs::hard_link(&path, dir.path().join("other")).unwrap();
        assert!(matches!(
            open(&path, Existing::ReplaceReadOnly),
            Err(FileError::HardLinks { .. })
        ));
        assert!(matches!(
            open(dir.path(), Existing::Replace),
            Err(FileError::Folder { .. })
        ));
        let missing = open(&dir.path().join("nowhere/x"), Existing::Replace);
        assert!(
            matches!(&missing, Err(FileError::FolderMissing { folder, .. }) if *folder == dir.path().join("nowhere")),
            "{:?}",
            missing.err()
        );
    }

    #[test]
    fn special_files_are_written_directly() {
        let opened = open(Path::new("/dev/null"), Existing::Replace).unwrap();
        assert!(matches!(opened, Opened::Direct(_)));
    }

    #[test]
    fn abandoning_removes_what_is_not_in_place_and_tells_what_is() {
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let done = dir.path().join("done.enc");
        let old = dir.path().join("old.enc");
        let new = dir.path().join("new.enc");
        fs::write(&old, "old").unwrap();
        let mut file = replacing(&done, Existing::Replace);
        file.write_all(b"whole").unwrap();
        file.commit().unwrap();
        let mut pending = [
            replacing(&old, Existing::Replace),
            replacing(&new, Existing::Replace),
        ];
        for file in &mut pending {
            file.write_all(b"half").unwrap();
        }
        assert_eq!(temp_files(dir.path()).len(), 2);
        let abandoned = abandon_replacements();
        assert!(temp_files(dir.path()).is_empty());
        let untouched: Vec<(&Path, bool)> = abandoned.untouched().collect();
        assert_eq!(untouched, [(old.as_path(), true), (new.as_path(), false)]);
        assert!(abandoned.replaced().contains(&done));
        // Another abandonment cannot happen while this one holds on.
        assert!(try_abandon_replacements().is_none());
        drop(abandoned);
        assert_eq!(fs::read_to_string(&old).unwrap(), "old");
        assert!(!new.exists());
        drop(pending);
    }

    #[test]
    fn in_a_shared_folder_nothing_another_user_planted_is_followed() {
        if !as_root("files::replace::in_a_shared_folder_nothing_another_user_planted_is_followed") {
            return;
        }
        let _serial = serial();
        let dir = tempfile::tempdir().unwrap();
        let shared = shared_folder(dir.path());
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, "keep").unwrap();
        let link = shared.join("out.enc");
        symlink(&victim, &link).unwrap();
        give_away(&link);
        for existing in [
            Existing::Replace,
            Existing::ReplacePrivate,
            Existing::Refuse,
        ] {
            let refused = open(&link, existing);
            assert!(
                matches!(&refused, Err(FileError::PlantedLink { owner: 65534, .. })),
                "{:?}",
                refused.err()
            );
        }
        // Also as a folder on the way, and behind a link of the user's own.
        fs::create_dir(dir.path().join("real")).unwrap();
        let folder_link = shared.join("folder");
        symlink(dir.path().join("real"), &folder_link).unwrap();
        give_away(&folder_link);
        assert!(matches!(
            open(&folder_link.join("x"), Existing::Replace),
            Err(FileError::PlantedLink { .. })
        ));
        symlink(&link, dir.path().join("mine")).unwrap();
        assert!(matches!(
            open(&dir.path().join("mine"), Existing::Replace),
            Err(FileError::PlantedLink { .. })
        ));
        let planted_fifo = shared.join("fifo");
        fifo(&planted_fifo);
        give_away(&planted_fifo);
        let _reader = fifo_reader(&planted_fifo);
        let refused = open(&planted_fifo, Existing::Replace);
        assert!(
            matches!(
                &refused,
                Err(FileError::PlantedSpecial { kind: "FIFO", .. })
            ),
            "{:?}",
            refused.err()
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(temp_files(&shared).is_empty());

        // The user's own link there is followed; another user's file is
        // replaced (a rename, never a write into it) without taking its mode.
        let own = shared.join("own");
        symlink(&victim, &own).unwrap();
        let mut file = replacing(&own, Existing::Replace);
        file.write_all(b"new").unwrap();
        file.commit().unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "new");
        let theirs = shared.join("theirs.enc");
        fs::write(&theirs, "theirs").unwrap();
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o666)).unwrap();
        give_away(&theirs);
        let mut file = replacing(&theirs, Existing::Replace);
        file.write_all(b"mine").unwrap();
        file.commit().unwrap();
        let meta = fs::metadata(&theirs).unwrap();
        assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600));
    }
}
