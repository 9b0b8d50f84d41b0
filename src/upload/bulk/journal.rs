//! The journal: an append-only file of JSON lines saying which events the API
//! acknowledged, so that a rerun sends only the rest.
//!
//! It holds positions (event numbers from 0), counts and fingerprints of the
//! input: never event contents, keys or the API key. Each acknowledgement is
//! on disk (fsync) before the client takes new work, and a torn last line
//! (a crash part-way through a write) is dropped on reading.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::source::Fingerprint;

/// The journal format's version.
pub(crate) const VERSION: u32 = 1;
/// How every journal's first line begins.
const HEADER_START: &[u8] = b"{\"journal\":";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Record {
    /// The first line: what is being sent.
    Journal {
        /// The format's version.
        version: u32,
        /// `array` or `lines`.
        format: String,
        /// Size and SHA-256 of a regular-file input, known before sending.
        input: Option<Fingerprint>,
    },
    /// A batch was handed to the network: the events `from..to` (some of
    /// which may be rejected ones), and the input's fingerprint up to `offset`.
    Sent {
        from: u64,
        to: u64,
        events: u64,
        offset: u64,
        sha256: String,
    },
    /// The API acknowledged the events `from..to` (`events` of them were sent).
    Acked { from: u64, to: u64, events: u64 },
    /// These events were rejected (the rejects file holds why): by the API,
    /// or by the checks.
    Rejected {
        events: Vec<u64>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_api: bool,
    },
    /// The whole input was read: how many events, and its fingerprint.
    Read { events: u64, input: Fingerprint },
    /// Every event was acknowledged or rejected.
    Finished { sent: u64, rejected: u64 },
}

/// A journal that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// Reading or writing it failed.
    #[error("could not {doing} the journal {path}")]
    Io {
        /// `read`, `write`, `create`.
        doing: &'static str,
        /// The journal.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A line other than the last does not parse: not a journal, or damaged.
    #[error("the journal {path} is damaged or not a ce-crypt journal (line {line})")]
    Damaged {
        /// The journal.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },
    /// Written by a newer ce-crypt.
    #[error("the journal {path} has version {version}, newer than this ce-crypt's {VERSION}")]
    Version {
        /// The journal.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
}

/// An open journal.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Reads the records of an existing journal (none if there is no file),
    /// dropping a torn last line and cutting it off the file.
    pub fn read(path: &Path) -> Result<Vec<Record>, JournalError> {
        let io = |doing, source| JournalError::Io {
            doing,
            path: path.to_owned(),
            source,
        };
        let text = match fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("read", e)),
        };
        let mut records = Vec::new();
        let mut good_end = 0;
        let lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
        for (index, line) in lines.iter().enumerate() {
            let last = index + 1 == lines.len();
            let complete = line.ends_with(b"\n");
            match serde_json::from_slice::<Record>(line) {
                Ok(record) if complete => {
                    records.push(record);
                    good_end += line.len();
                }
                // A crash part-way through the last write: that record never
                // happened. But a first line must at least begin as a journal's:
                // anything else is some other file, which is never cut.
                _ if last && (index > 0 || line.starts_with(HEADER_START)) => break,
                _ => {
                    return Err(JournalError::Damaged {
                        path: path.to_owned(),
                        line: index + 1,
                    });
                }
            }
        }
        match records.first() {
            Some(Record::Journal { version, .. }) if *version > VERSION => {
                return Err(JournalError::Version {
                    path: path.to_owned(),
                    version: *version,
                });
            }
            Some(Record::Journal { .. }) | None => {}
            Some(_) => {
                return Err(JournalError::Damaged {
                    path: path.to_owned(),
                    line: 1,
                });
            }
        }
        if good_end < text.len() {
            let file = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io("write", e))?;
            file.set_len(good_end as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| io("write", e))?;
        }
        Ok(records)
    }

    /// Starts a new journal at `path` (replacing any), mode 0600, durably.
    pub fn create(path: &Path, header: &Record) -> Result<Journal, JournalError> {
        let file = private_file(path, true).map_err(|source| JournalError::Io {
            doing: "create",
            path: path.to_owned(),
            source,
        })?;
        let mut journal = Journal {
            file,
            path: path.to_owned(),
        };
        journal.append(header)?;
        journal.sync()?;
        sync_folder(path);
        Ok(journal)
    }

    /// Opens an existing journal (already read with [`Journal::read`]) to append to it.
    pub fn reopen(path: &Path) -> Result<Journal, JournalError> {
        let file = private_file(path, false).map_err(|source| JournalError::Io {
            doing: "write",
            path: path.to_owned(),
            source,
        })?;
        Ok(Journal {
            file,
            path: path.to_owned(),
        })
    }

    /// Writes a record (not yet durable: see [`Journal::sync`]).
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|source| JournalError::Io {
                doing: "write",
                path: self.path.clone(),
                source,
            })
    }

    /// Makes every record written so far durable.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.file.sync_data().map_err(|source| JournalError::Io {
            doing: "write",
            path: self.path.clone(),
            source,
        })
    }
}

/// Opens `path` to append, created with mode 0600 (truncated if `fresh`).
pub(crate) fn private_file(path: &Path, fresh: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    if fresh {
        // Append mode and truncation together: open, then cut.
        options.write(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    if fresh {
        file.set_len(0)?;
    }
    #[cfg(unix)]
    {
        // An existing file keeps its mode on open: make it private all the same.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Record {
        Record::Journal {
            version: VERSION,
            format: "lines".into(),
            input: None,
        }
    }

    #[test]
    fn records_round_trip_and_a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ce-send");
        let mut journal = Journal::create(&path, &header()).unwrap();
        let acked = Record::Acked {
            from: 0,
            to: 10,
            events: 9,
        };
        journal.append(&acked).unwrap();
        journal.sync().unwrap();
        drop(journal);
        // A crash in the middle of the next write.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"acked":{"from":10,"#).unwrap();
        drop(file);
        assert_eq!(Journal::read(&path).unwrap(), [header(), acked.clone()]);
        // The torn line is gone from the file, so appending goes on cleanly.
        let mut journal = Journal::reopen(&path).unwrap();
        journal
            .append(&Record::Rejected {
                events: vec![3],
                by_api: false,
            })
            .unwrap();
        assert_eq!(Journal::read(&path).unwrap().len(), 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_damaged_middle_line_or_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        fs::write(&path, "{\"journal\":{\"version\":1,\"format\":\"array\",\"input\":null}}\nxx\n{\"finished\":{\"sent\":1,\"rejected\":0}}\n").unwrap();
        assert!(matches!(
            Journal::read(&path),
            Err(JournalError::Damaged { line: 2, .. })
        ));
        fs::write(&path, "{\"acked\":{\"from\":0,\"to\":1,\"events\":1}}\n").unwrap();
        assert!(matches!(
            Journal::read(&path),
            Err(JournalError::Damaged { line: 1, .. })
        ));
        assert!(
            Journal::read(&dir.path().join("absent"))
                .unwrap()
                .is_empty()
        );
        // One line of something else, even without a newline, is not a torn journal.
        fs::write(&path, "keep me").unwrap();
        assert!(matches!(
            Journal::read(&path),
            Err(JournalError::Damaged { line: 1, .. })
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), "keep me");
        // A torn header is an empty journal.
        fs::write(&path, "{\"journal\":{\"vers").unwrap();
        assert!(Journal::read(&path).unwrap().is_empty());
    }
}
