//! The journal: an append-only file of JSON lines saying which events the API
//! acknowledged, for one delivery (an input and a destination), so that a
//! rerun sends only the rest.
//!
//! It holds positions (event numbers from 0), counts, fingerprints of the
//! input and of the API key, and where the events go: never event contents
//! or keys. Each acknowledgement is on disk (fsync) before the client takes
//! new work; a torn last line (a crash part-way through a write) is dropped
//! on reading. While a run uses a journal it holds an exclusive lock on it,
//! so two runs of one delivery cannot interleave.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::source::Fingerprint;

/// The journal format's version. Version 1 (ce-crypt 0.1's, beside the
/// input) had no destination and no input path; it is read and continued.
pub(crate) const VERSION: u32 = 2;
/// How every journal's first line begins.
const HEADER_START: &[u8] = b"{\"journal\":";

/// Where a delivery's events go: the endpoint and the asset of `x-asset`
/// (none when each event's own `asset_id` decides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// The endpoint's URL.
    pub endpoint: String,
    /// The asset every event goes to, if one was given.
    pub asset: Option<String>,
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.asset {
            Some(asset) => write!(f, "{} (asset {asset})", self.endpoint),
            None => write!(f, "{} (each event's asset_id)", self.endpoint),
        }
    }
}

/// The first line: what is being sent, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Header {
    /// The format's version.
    pub version: u32,
    /// `array` or `lines`.
    pub format: String,
    /// Size and SHA-256 of a regular-file input, known before sending.
    pub input: Option<Fingerprint>,
    /// The input file's canonical path (none for standard input, and in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Where the events go (none in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Record {
    /// The first line.
    Journal(Header),
    /// From here on, requests carry an API key with this fingerprint (see
    /// [`super::state::key_fingerprint`]; none without a state folder) and
    /// this method's code.
    Client { key: Option<String>, method: u32 },
    /// A request for the events `from..to` (some of which may be rejected
    /// ones) began; for a stream, with the input's fingerprint up to `offset`.
    Sent {
        from: u64,
        to: u64,
        events: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
    /// That request surely never reached the API (refused before sending,
    /// or answered without accepting).
    Unsent { from: u64, to: u64 },
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
        /// `read`, `write`, `create`, `lock`.
        doing: &'static str,
        /// The journal.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Another run holds its lock.
    #[error("another run is sending this delivery now (its journal {path} is locked)")]
    Busy {
        /// The journal.
        path: PathBuf,
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

/// Where records go: a file, or (in tests) a store that fails on demand.
pub(crate) trait Storage: Send {
    /// Appends `bytes` (not yet durable).
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Empties the store.
    fn clear(&mut self) -> io::Result<()>;
}

impl Storage for File {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.set_len(0)?;
        self.seek(io::SeekFrom::Start(0)).map(drop)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

/// An open, locked journal.
pub(crate) struct Journal {
    storage: Box<dyn Storage>,
    path: PathBuf,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Journal({})", self.path.display())
    }
}

impl Journal {
    /// Opens (or creates, mode 0600) the journal at `path`, locks it, and
    /// reads its records, dropping a torn last line and cutting it off.
    pub fn open(path: &Path) -> Result<(Journal, Vec<Record>), JournalError> {
        let io = |doing, source| JournalError::Io {
            doing,
            path: path.to_owned(),
            source,
        };
        let mut file = crate::files::open_private(path).map_err(|e| io("open", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Busy {
                    path: path.to_owned(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io("lock", e)),
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(|e| io("read", e))?;
        let (records, good_end) = parse(&text, path)?;
        if good_end < text.len() {
            file.set_len(good_end as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| io("write", e))?;
        }
        file.seek(io::SeekFrom::End(0)).map_err(|e| io("read", e))?;
        Ok((
            Journal {
                storage: Box::new(file),
                path: path.to_owned(),
            },
            records,
        ))
    }

    /// The journal with its storage put inside another (tests inject failures this way).
    #[cfg(test)]
    pub fn wrap(self, wrap: &dyn Fn(Box<dyn Storage>) -> Box<dyn Storage>) -> Journal {
        Journal {
            storage: wrap(self.storage),
            path: self.path,
        }
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Empties the journal and writes `header` as its first line, durably.
    pub fn start_over(&mut self, header: Header) -> Result<(), JournalError> {
        self.storage
            .clear()
            .map_err(|source| self.error("write", source))?;
        self.append(&Record::Journal(header))?;
        self.sync()?;
        crate::files::sync_folder(&self.path);
        Ok(())
    }

    /// Writes a record (not yet durable: see [`Journal::sync`]).
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        self.storage
            .append(&line)
            .map_err(|source| self.error("write", source))
    }

    /// Makes every record written so far durable.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.storage
            .sync()
            .map_err(|source| self.error("write", source))
    }

    fn error(&self, doing: &'static str, source: io::Error) -> JournalError {
        JournalError::Io {
            doing,
            path: self.path.clone(),
            source,
        }
    }
}

/// Reads the records of the journal at `path` without locking or changing
/// it (none if there is no file).
pub(crate) fn read(path: &Path) -> Result<Vec<Record>, JournalError> {
    match fs::read(path) {
        Ok(text) => parse(&text, path).map(|(records, _)| records),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(JournalError::Io {
            doing: "read",
            path: path.to_owned(),
            source,
        }),
    }
}

/// The records in `text`, and where the last whole one ends.
fn parse(text: &[u8], path: &Path) -> Result<(Vec<Record>, usize), JournalError> {
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
        Some(Record::Journal(header)) if header.version > VERSION => Err(JournalError::Version {
            path: path.to_owned(),
            version: header.version,
        }),
        Some(Record::Journal(_)) | None => Ok((records, good_end)),
        Some(_) => Err(JournalError::Damaged {
            path: path.to_owned(),
            line: 1,
        }),
    }
}

/// Appends `records` to a new journal at `path` (for one moved from
/// elsewhere), durably; the file must not exist yet.
pub(crate) fn write_new(path: &Path, records: &[Record]) -> io::Result<()> {
    let mut file = crate::files::create_private(path)?;
    for record in records {
        let mut line = serde_json::to_vec(record).expect("records serialize");
        line.push(b'\n');
        file.write_all(&line)?;
    }
    file.sync_all()?;
    crate::files::sync_folder(path);
    Ok(())
}

/// Opens `path` for appending: for the legacy journal's own tests.
#[cfg(test)]
fn append_raw(path: &Path, bytes: &[u8]) {
    let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            version: VERSION,
            format: "lines".into(),
            input: None,
            path: None,
            destination: Some(Destination {
                endpoint: "https://api2.netcoresmartech.com/v1/activity/upload".into(),
                asset: None,
            }),
        }
    }

    #[test]
    fn records_round_trip_and_a_torn_last_line_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.journal");
        let (mut journal, records) = Journal::open(&path).unwrap();
        assert!(records.is_empty());
        journal.start_over(header()).unwrap();
        let acked = Record::Acked {
            from: 0,
            to: 10,
            events: 9,
        };
        journal.append(&acked).unwrap();
        journal.sync().unwrap();
        drop(journal);
        // A crash in the middle of the next write.
        append_raw(&path, br#"{"acked":{"from":10,"#);
        let (mut journal, records) = Journal::open(&path).unwrap();
        assert_eq!(records, [Record::Journal(header()), acked.clone()]);
        // The torn line is gone from the file, so appending goes on cleanly.
        journal
            .append(&Record::Rejected {
                events: vec![3],
                by_api: false,
            })
            .unwrap();
        drop(journal);
        assert_eq!(read(&path).unwrap().len(), 3);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_second_opener_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.journal");
        let (journal, _) = Journal::open(&path).unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Busy { .. })
        ));
        drop(journal);
        Journal::open(&path).unwrap();
    }

    #[test]
    fn a_version_1_journal_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.ndjson.ce-send");
        fs::write(
            &path,
            "{\"journal\":{\"version\":1,\"format\":\"lines\",\"input\":{\"size\":3,\"sha256\":\"ab\"}}}\n\
             {\"sent\":{\"from\":0,\"to\":2,\"events\":2,\"offset\":3,\"sha256\":\"cd\"}}\n\
             {\"acked\":{\"from\":0,\"to\":2,\"events\":2}}\n",
        )
        .unwrap();
        let records = read(&path).unwrap();
        let Record::Journal(header) = &records[0] else {
            panic!("{records:?}")
        };
        assert_eq!(header.version, 1);
        assert_eq!(header.destination, None);
        assert_eq!(
            records[1],
            Record::Sent {
                from: 0,
                to: 2,
                events: 2,
                offset: Some(3),
                sha256: Some("cd".into())
            }
        );
    }

    #[test]
    fn a_damaged_middle_line_or_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        fs::write(&path, "{\"journal\":{\"version\":1,\"format\":\"array\",\"input\":null}}\nxx\n{\"finished\":{\"sent\":1,\"rejected\":0}}\n").unwrap();
        assert!(matches!(
            read(&path),
            Err(JournalError::Damaged { line: 2, .. })
        ));
        fs::write(&path, "{\"acked\":{\"from\":0,\"to\":1,\"events\":1}}\n").unwrap();
        assert!(matches!(
            read(&path),
            Err(JournalError::Damaged { line: 1, .. })
        ));
        assert!(read(&dir.path().join("absent")).unwrap().is_empty());
        // One line of something else, even without a newline, is not a torn journal.
        fs::write(&path, "keep me").unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::Damaged { line: 1, .. })
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), "keep me");
        // A torn header is an empty journal.
        fs::write(&path, "{\"journal\":{\"vers").unwrap();
        assert!(read(&path).unwrap().is_empty());
    }
}
