//! Files ce-crypt keeps for the user (journals, rejects): private (mode
//! 0600), regular, the user's own and with one name, so that no other user
//! can read them or have ce-crypt write through a link they planted.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Opens `path` to read and append, creating it (mode 0600) if absent. An
/// existing file must be a regular file of the user's with one link; it is
/// made private if it was not.
pub(crate) fn open_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    private_options(&mut options);
    let file = options.open(path)?;
    check_own_regular(&file, path)?;
    make_private(&file)?;
    Ok(file)
}

/// Creates `path` (mode 0600) to write; it must not exist.
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    private_options(&mut options);
    options.open(path)
}

/// Creates the folder `path` (mode 0700) and its parents if missing; an
/// existing one must be a folder of the user's that others cannot write to.
pub(crate) fn private_folder(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)?;
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(path)?;
        if meta.uid() != rustix::process::geteuid().as_raw() || meta.mode() & 0o022 != 0 {
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

/// Makes a new file's name durable (best effort; not every system allows it).
pub(crate) fn sync_folder(path: &Path) {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    if let Ok(folder) = File::open(folder) {
        let _ = folder.sync_all();
    }
}

#[cfg(unix)]
fn private_options(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600);
}

#[cfg(not(unix))]
fn private_options(_options: &mut OpenOptions) {}

#[cfg(unix)]
fn check_own_regular(file: &File, path: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    let refuse = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} {why}", path.display()),
        ))
    };
    if !meta.is_file() {
        return refuse("is not a regular file");
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return refuse("belongs to another user");
    }
    if meta.nlink() != 1 {
        return refuse("has other hard links");
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_own_regular(file: &File, path: &Path) -> io::Result<()> {
    if file.metadata()?.is_file() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ))
    }
}

#[cfg(unix)]
fn make_private(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_file: &File) -> io::Result<()> {
    Ok(())
}
