//! No output replaces another file of the run: an output is compared, by
//! device and inode, with every file read (standard input included) and
//! with every other output, before anything is written.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::input::Input;

/// The files a command reads and writes; [`RunFiles::check`] refuses an
/// output that is one of the others.
///
/// ```ignore
/// let mut files = RunFiles::new();
/// files
///     .input(&input)
///     .read("key file", key_file)
///     .read("API key file", api_key_file)
///     .written("output", args.output.as_deref())
///     .written("report", args.report.as_deref());
/// files.check()?;
/// ```
#[derive(Default)]
pub struct RunFiles<'a> {
    read: Vec<(&'a str, Source<'a>)>,
    written: Vec<(&'a str, &'a Path)>,
}

enum Source<'a> {
    File(&'a Path),
    Stdin,
}

impl<'a> RunFiles<'a> {
    /// No files yet.
    pub fn new() -> RunFiles<'a> {
        RunFiles::default()
    }

    /// A file the command reads, `what` naming it in messages ("key file").
    pub fn read(&mut self, what: &'a str, path: Option<&'a Path>) -> &mut Self {
        if let Some(path) = path {
            self.read.push((what, Source::File(path)));
        }
        self
    }

    /// The command's input: its file, or standard input (an argument is no file).
    pub fn input(&mut self, input: &'a Input) -> &mut Self {
        match input {
            Input::File(path) => self.read("input file", Some(path)),
            Input::Stdin => self.read_stdin(),
            Input::Argument(_) => self,
        }
    }

    /// Standard input, which the command reads.
    pub fn read_stdin(&mut self) -> &mut Self {
        self.read.push(("standard input", Source::Stdin));
        self
    }

    /// A file the command writes, `what` naming it in messages ("output",
    /// "report", "journal"); `-` (standard output) is no file.
    pub fn written(&mut self, what: &'a str, path: Option<&'a Path>) -> &mut Self {
        if let Some(path) = path.filter(|path| *path != Path::new("-")) {
            self.written.push((what, path));
        }
        self
    }

    /// Fails if an output is a file read, or another output. Special files
    /// (`/dev/null`, a terminal) may be read and written, and written twice.
    pub fn check(&self) -> Result<()> {
        for (index, &(what, output)) in self.written.iter().enumerate() {
            let written = fs::metadata(output).ok();
            if let Some(written) = written.as_ref().filter(|meta| meta.is_file()) {
                self.refuse_read(output, written)?;
            }
            for &(other_what, other) in &self.written[index + 1..] {
                let same = match (&written, fs::metadata(other).ok()) {
                    (Some(a), Some(b)) => a.is_file() && same_file(a, &b),
                    (None, None) => same_place(output, other),
                    _ => false,
                };
                if same {
                    bail!(
                        "the {what} {} and the {other_what} {} are the same file: \
                         nothing was written: give each its own file",
                        output.display(),
                        other.display()
                    );
                }
            }
        }
        Ok(())
    }

    fn refuse_read(&self, output: &Path, written: &fs::Metadata) -> Result<()> {
        for (what, source) in &self.read {
            match source {
                Source::File(path) => {
                    if fs::metadata(path).is_ok_and(|meta| same_file(&meta, written)) {
                        bail!(
                            "{} is the {what} ({}): writing it would destroy what is being read; \
                             nothing was written: choose another output file",
                            output.display(),
                            path.display()
                        );
                    }
                }
                Source::Stdin => {
                    if stdin_is(written) {
                        bail!(
                            "{} is the file on standard input: writing it would destroy what is \
                             being read; nothing was written: choose another output file",
                            output.display()
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

/// Refuses an output (`what`, path) that is one of the files read (`what`,
/// path; standard input where the path is `None`) or another output: the
/// shape of [`RunFiles`] for a command with a list of each.
pub fn refuse_overlaps(
    read: &[(&str, Option<&Path>)],
    written: &[(&str, Option<&Path>)],
) -> Result<()> {
    let mut files = RunFiles::new();
    for &(what, path) in read {
        match path {
            Some(path) => files.read(what, Some(path)),
            None => files.read_stdin(),
        };
    }
    for &(what, path) in written {
        files.written(what, path);
    }
    files.check()
}

/// Whether two paths that do not exist yet name the same place.
fn same_place(a: &Path, b: &Path) -> bool {
    fn place(path: &Path) -> Option<PathBuf> {
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        Some(fs::canonicalize(folder).ok()?.join(path.file_name()?))
    }
    place(a).is_some_and(|a| Some(a) == place(b))
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

/// Whether standard input is the file `meta` describes.
#[cfg(unix)]
fn stdin_is(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // The field types vary between systems.
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::fstat(io::stdin())
        .is_ok_and(|stat| stat.st_dev as u64 == meta.dev() && stat.st_ino as u64 == meta.ino())
}

#[cfg(not(unix))]
fn stdin_is(_meta: &fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_checked_against_each_other_and_what_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        fs::write(at("report.json"), "{}").unwrap();
        fs::hard_link(at("report.json"), at("linked.json")).unwrap();
        fs::write(at("key.env"), "k").unwrap();
        let check = |written: &[(&str, PathBuf)], read: Option<PathBuf>| {
            let mut files = RunFiles::new();
            files.read("key file", read.as_deref());
            for (what, path) in written {
                files.written(what, Some(path));
            }
            files.check().map_err(|e| e.to_string())
        };
        let same = [
            // An existing file by two spellings, and by a hard link.
            (at("report.json"), dir.path().join("./report.json")),
            (at("report.json"), at("linked.json")),
            // A new file by two spellings.
            (at("new.json"), dir.path().join("sub/../new.json")),
        ];
        fs::create_dir(at("sub")).unwrap();
        for (a, b) in same {
            let told = check(&[("report", a.clone()), ("journal", b.clone())], None)
                .expect_err("the same file");
            assert_eq!(
                told,
                format!(
                    "the report {} and the journal {} are the same file: \
                     nothing was written: give each its own file",
                    a.display(),
                    b.display()
                )
            );
        }
        // Different files, and a special file twice, are fine.
        check(&[("report", at("a.json")), ("journal", at("b.json"))], None).unwrap();
        check(
            &[
                ("output", "/dev/null".into()),
                ("report", "/dev/null".into()),
            ],
            None,
        )
        .unwrap();
        // An output that is a file read.
        let told = check(&[("rejects file", at("./key.env"))], Some(at("key.env"))).unwrap_err();
        assert!(told.contains("is the key file"), "{told}");
    }
}
