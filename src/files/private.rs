//! Files ce-crypt keeps for the user across runs (journals, rejects, the
//! state folder): private (mode 0600, folders 0700), regular, the user's own
//! and with one name, so that no other user can read them or have ce-crypt
//! write through a link they planted.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use super::meta::{kind, links, no_follow, owned_by_user, owner, same_file};
use super::resolve::resolve;
use super::{FileError, NotPrivate, creation_error, folder_of};

/// Opens `path` to read and append, creating it (mode 0600) if missing.
///
/// An existing file must be a regular file of the user's with one link
/// ([`FileError::NotPrivate`] otherwise); its mode is set to 0600. Links are
/// followed as [`open`](super::open) follows them, never one another user
/// planted in a shared folder, where a new file is created with `O_EXCL`.
/// To start the file afresh, `set_len(0)` the file returned.
pub(crate) fn open_private_append(path: &Path) -> Result<File, FileError> {
    let resolved = resolve(path)?;
    if let Some(found) = &resolved.found {
        check_private(path, found)?;
    }
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    if resolved.found.is_some() {
        no_follow(&mut options);
    } else if resolved.shared {
        // Created, never found: a name planted since the check fails here.
        options.create_new(true);
    } else {
        options.create(true);
    }
    private_mode(&mut options);
    let opened = options.open(&resolved.path);
    let file = opened.map_err(|source| match resolved.found {
        Some(_) => FileError::Open {
            path: path.to_owned(),
            source,
        },
        None => creation_error(path, folder_of(&resolved.path), source, |path, source| {
            FileError::Open { path, source }
        }),
    })?;
    let opened = file.metadata().map_err(|source| FileError::Open {
        path: path.to_owned(),
        source,
    })?;
    check_private(path, &opened)?;
    if let Some(found) = &resolved.found
        && !same_file(found, &opened)
    {
        return Err(FileError::Open {
            path: path.to_owned(),
            source: io::Error::other("it changed while it was being opened"),
        });
    }
    make_private(&file, &opened).map_err(|source| FileError::Open {
        path: path.to_owned(),
        source,
    })?;
    Ok(file)
}

/// [`open_private_append`] for callers that take an `io::Error`.
#[cfg(feature = "send")]
pub(crate) fn open_private(path: &Path) -> io::Result<File> {
    open_private_append(path).map_err(io::Error::from)
}

/// Creates `path` (mode 0600) to write; it must not exist (so no link is followed).
#[cfg(feature = "send")]
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    private_mode(&mut options);
    options.open(path)
}

/// Creates the folder `path` (mode 0700) and its parents if missing; an
/// existing one must be a folder of the user's that others cannot write to.
#[cfg(feature = "send")]
pub(crate) fn private_folder(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)?;
        let meta = fs::metadata(path)?;
        if !owned_by_user(&meta) || meta.mode() & 0o022 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} belongs to another user or others may write to it: give it mode 0700",
                    path.display()
                ),
            ));
        }
        Ok(())
    }
    #[cfg(not(unix))]
    fs::create_dir_all(path)
}

/// A regular file, the user's, with one link.
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), FileError> {
    let problem = if !meta.is_file() {
        Some(NotPrivate::NotRegular(kind(meta).unwrap_or("file")))
    } else if !owned_by_user(meta) {
        Some(NotPrivate::Owner(owner(meta)))
    } else if links(meta) > 1 {
        Some(NotPrivate::Links(links(meta)))
    } else {
        None
    };
    match problem {
        Some(problem) => Err(FileError::NotPrivate {
            path: path.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

#[cfg(unix)]
fn private_mode(options: &mut OpenOptions) {
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
}

#[cfg(not(unix))]
fn private_mode(_options: &mut OpenOptions) {}

/// Mode 0600 for a file that group or others could use.
#[cfg(unix)]
fn make_private(file: &File, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_file: &File, _meta: &fs::Metadata) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::super::test_support::{as_root, fifo, fifo_reader, give_away, shared_folder};
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn a_private_file_is_created_0600_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        open_private_append(&path)
            .unwrap()
            .write_all(b"one\n")
            .unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut file = open_private_append(&path).unwrap();
        file.write_all(b"two\n").unwrap();
        let mut text = String::new();
        File::open(&path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "one\ntwo\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
        // A link of the user's own is followed.
        symlink(&path, dir.path().join("link")).unwrap();
        open_private_append(&dir.path().join("link")).unwrap();
    }

    #[test]
    fn a_file_that_is_not_the_users_own_private_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let linked = dir.path().join("linked");
        fs::write(&linked, "x").unwrap();
        fs::hard_link(&linked, dir.path().join("other")).unwrap();
        let fifo_path = dir.path().join("fifo");
        fifo(&fifo_path);
        let _reader = fifo_reader(&fifo_path);
        for (path, problem) in [
            (&linked, NotPrivate::Links(2)),
            (&fifo_path, NotPrivate::NotRegular("FIFO")),
            (&dir.path().to_owned(), NotPrivate::NotRegular("folder")),
        ] {
            let refused = open_private_append(path);
            assert!(
                matches!(&refused, Err(FileError::NotPrivate { problem: p, .. }) if *p == problem),
                "{}: {:?}",
                path.display(),
                refused.err()
            );
        }
        assert_eq!(fs::read_to_string(&linked).unwrap(), "x");
    }

    #[test]
    fn another_users_file_or_planted_link_is_refused() {
        if !as_root("files::private::another_users_file_or_planted_link_is_refused") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let theirs = dir.path().join("theirs");
        fs::write(&theirs, "x").unwrap();
        give_away(&theirs);
        assert!(matches!(
            open_private_append(&theirs),
            Err(FileError::NotPrivate {
                problem: NotPrivate::Owner(65534),
                ..
            })
        ));
        let shared = shared_folder(dir.path());
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let link = shared.join("journal");
        symlink(&victim, &link).unwrap();
        give_away(&link);
        assert!(matches!(
            open_private_append(&link),
            Err(FileError::PlantedLink { .. })
        ));
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(fs::metadata(&victim).unwrap().mode() & 0o7777, 0o644);
    }
}
