//! Reading the input: an argument, `-i FILE`, `-i -` or standard input.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use super::overlap::RunFiles;

/// Where the input comes from.
pub enum Input {
    /// The command-line argument itself.
    Argument(Vec<u8>),
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// Chooses the source from the positional argument and `-i`.
    pub fn choose(text: Option<OsString>, path: Option<PathBuf>, what: &str) -> Result<Input> {
        let input = match (text, path) {
            (Some(text), _) => Input::Argument(os_bytes(text)),
            (None, Some(path)) if path == Path::new("-") => Input::Stdin,
            (None, Some(path)) => Input::File(path),
            (None, None) => Input::Stdin,
        };
        if matches!(input, Input::Stdin) && io::stdin().is_terminal() {
            bail!(
                "no {what} given and standard input is a terminal: pass it as an argument, \
                 with -i FILE, or pipe it in"
            );
        }
        Ok(input)
    }

    /// Fails if `output` (`-o`) is this input (standard input included) or
    /// the key file, by any spelling or link.
    pub fn refuse_as_output(&self, output: Option<&Path>, key_file: Option<&Path>) -> Result<()> {
        RunFiles::new()
            .input(self)
            .read("key file", key_file)
            .written("output", output)
            .check()
    }

    /// Reads everything.
    pub fn read_all(self) -> Result<Vec<u8>> {
        let (mut reader, size) = self.open()?;
        let mut bytes = Vec::with_capacity(size.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
        reader
            .read_to_end(&mut bytes)
            .context("could not read the input")?;
        Ok(bytes)
    }

    /// Opens a reader and tells the input's size when it is known.
    pub fn open(self) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
        Ok(match self {
            Input::Argument(bytes) => {
                let len = bytes.len() as u64;
                (Box::new(io::Cursor::new(bytes)), Some(len))
            }
            Input::Stdin => (Box::new(io::stdin()), None),
            Input::File(path) => {
                let file = File::open(&path)
                    .with_context(|| format!("could not open {}", path.display()))?;
                if file.metadata().is_ok_and(|m| m.is_dir()) {
                    bail!("{} is a folder: give a file to read", path.display());
                }
                let size = file
                    .metadata()
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len());
                (Box::new(file), size)
            }
        })
    }
}

/// A regular file that may be read more than once: a check pass, then the
/// pass that encrypts or decrypts, each streaming from the page cache.
pub struct RegularFile {
    path: PathBuf,
    /// Length and modification time when first seen.
    len: u64,
    modified: Option<SystemTime>,
}

impl RegularFile {
    /// The file `input` names, if it is a regular file.
    pub fn of(input: &Input) -> Option<RegularFile> {
        let Input::File(path) = input else {
            return None;
        };
        let metadata = fs::metadata(path).ok().filter(|m| m.is_file())?;
        Some(RegularFile {
            path: path.clone(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
        })
    }

    /// Its length in bytes when first seen.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Opens it (again).
    pub fn open(&self) -> Result<File> {
        File::open(&self.path).with_context(|| format!("could not open {}", self.path.display()))
    }

    /// Opens it again, for a reader of its own after a first open succeeded;
    /// an error names the file, as it had been there a moment before.
    pub fn reopen(&self) -> io::Result<File> {
        File::open(&self.path).map_err(|error| {
            let path = self.path.display();
            io::Error::new(
                error.kind(),
                format!("could not open {path} again: {error}"),
            )
        })
    }

    /// Fails if the file was changed since it was first seen: the passes
    /// over it may then have read different bytes.
    pub fn unchanged(&self, what_happened: &str) -> Result<()> {
        let metadata = fs::metadata(&self.path).ok();
        let same =
            metadata.is_some_and(|m| m.len() == self.len && m.modified().ok() == self.modified);
        if !same {
            bail!(
                "{} changed while it was being read; {what_happened}: run again once nothing writes to it",
                self.path.display()
            );
        }
        Ok(())
    }
}

#[cfg(unix)]
fn os_bytes(text: OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    text.into_vec()
}

#[cfg(not(unix))]
fn os_bytes(text: OsString) -> Vec<u8> {
    text.to_string_lossy().into_owned().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gone_between_passes_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.json");
        fs::write(&path, "[]").unwrap();
        let file = RegularFile::of(&Input::File(path.clone())).unwrap();
        assert!(file.reopen().is_ok());
        fs::remove_file(&path).unwrap();
        let error = file.reopen().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        let told = error.to_string();
        assert!(
            told.contains(&format!("could not open {} again", path.display())),
            "{told}"
        );
    }
}
