//! Which journal a run continues, and whether it may: the delivery's
//! journal found (or moved from beside the input, where an earlier version
//! kept it), checked against the input and the destination, and the choice
//! between resuming and starting over.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::journal::{self, Destination, Header, Journal, Record};
use super::resume::Resume;
use super::source::{Fingerprint, InputFormat};
use super::state;
use super::{Bookkeeping, BulkError, Note};

/// The journal's name beside the input, as ce-crypt 0.1 kept it.
const LEGACY_SUFFIX: &str = ".ce-send";
/// Its rejects file's.
const LEGACY_REJECTS_SUFFIX: &str = ".ce-send.rejects.jsonl";

/// The input as a delivery knows it.
pub(crate) struct InputId<'a> {
    /// The path as given, for a file.
    pub given: Option<&'a Path>,
    /// The canonical path, for a file.
    pub canonical: Option<PathBuf>,
    /// `array` or `lines`.
    pub format: InputFormat,
}

impl InputId<'_> {
    /// The input of `given` (none: a stream), read as `format`.
    pub fn new(given: Option<&Path>, format: InputFormat) -> Result<InputId<'_>, BulkError> {
        let canonical = match given {
            Some(path) => Some(fs::canonicalize(path).map_err(|source| BulkError::Open {
                path: path.to_owned(),
                source,
            })?),
            None => None,
        };
        Ok(InputId {
            given,
            canonical,
            format,
        })
    }
}

/// A delivery's journal, open and locked, with what it recorded.
pub(crate) struct Opened {
    pub journal: Option<Journal>,
    pub resume: Resume,
    /// Start afresh (empty the journal, write a header).
    pub fresh: bool,
    pub rejects: Option<PathBuf>,
    pub notes: Vec<Note>,
}

/// The journal `bookkeeping` gives for `input` to `destination` (none for
/// a stream without one), with the state folder made ready if it is used.
fn journal_path(
    input: &InputId<'_>,
    destination: &Destination,
    bookkeeping: &Bookkeeping,
    notes: &mut Vec<Note>,
) -> Result<Option<PathBuf>, BulkError> {
    if let Some(path) = &bookkeeping.journal {
        return Ok(Some(path.clone()));
    }
    let Some(canonical) = &input.canonical else {
        return Ok(None);
    };
    let state_dir = bookkeeping
        .state_dir
        .as_deref()
        .ok_or(BulkError::NoStateFolder)?;
    prepare(state_dir)?;
    let removed = state::remove_old(state_dir, state::KEEP_FINISHED, SystemTime::now());
    if removed > 0 {
        notes.push(Note::OldJournalsRemoved(removed));
    }
    Ok(Some(state::journal_path(
        state_dir,
        Some(canonical),
        destination,
    )))
}

fn prepare(state_dir: &Path) -> Result<(), BulkError> {
    state::prepare(state_dir).map_err(|source| BulkError::StateFolder {
        path: state_dir.to_owned(),
        source,
    })
}

/// The header a fresh journal of this delivery starts with.
pub(crate) fn header(
    input: &InputId<'_>,
    destination: &Destination,
    fingerprint: Option<Fingerprint>,
) -> Header {
    Header {
        version: journal::VERSION,
        format: format_name(input.format).to_owned(),
        input: fingerprint,
        path: input.canonical.clone(),
        destination: Some(destination.clone()),
    }
}

fn format_name(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Array => "array",
        InputFormat::Lines => "lines",
    }
}

/// Opens the delivery's journal and decides whether to resume it.
/// `fingerprint` is a file's (none for a stream).
pub(crate) fn open(
    input: &InputId<'_>,
    destination: &Destination,
    bookkeeping: &Bookkeeping,
    fingerprint: Option<&Fingerprint>,
) -> Result<Opened, BulkError> {
    let mut notes = Vec::new();
    let path = journal_path(input, destination, bookkeeping, &mut notes)?;
    let Some(path) = path else {
        // A stream without a journal: its rejects get a file of their own.
        let rejects = match (&bookkeeping.rejects, &bookkeeping.state_dir) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(state_dir)) => {
                prepare(state_dir)?;
                Some(state::stream_rejects_path(state_dir))
            }
            (None, None) => None,
        };
        return Ok(Opened {
            journal: None,
            resume: Resume::default(),
            fresh: true,
            rejects,
            notes,
        });
    };
    let legacy_rejects = match (bookkeeping.journal.is_none(), input.given) {
        (true, Some(given)) => move_legacy(given, input, destination, &path, &mut notes)?,
        _ => None,
    };
    let (journal, records) = Journal::open(&path)?;
    let mut resume = Resume::from_records(records);
    if let Some(header) = &resume.header {
        check_binding(header, input, destination, &path)?;
    }
    let mut fresh = bookkeeping.restart || resume.header.is_none();
    if !fresh
        && let (Some(now), Some(Some(recorded))) =
            (fingerprint, resume.header.as_ref().map(|h| &h.input))
        && now != recorded
    {
        if resume.finished.is_some() {
            notes.push(Note::ChangedSinceFinished);
        } else if resume.anything_may_have_arrived() {
            return Err(BulkError::InputChanged {
                journal: path,
                sent: resume.sent,
                in_doubt: resume.unacked.len(),
            });
        } else {
            notes.push(Note::StartedOver);
        }
        fresh = true;
    }
    if fresh {
        resume = Resume::default();
    }
    let rejects = bookkeeping
        .rejects
        .clone()
        .or(legacy_rejects)
        .unwrap_or_else(|| state::rejects_beside(&path));
    Ok(Opened {
        journal: Some(journal),
        resume,
        fresh,
        rejects: Some(rejects),
        notes,
    })
}

/// Refuses a journal that records another input or destination.
fn check_binding(
    header: &Header,
    input: &InputId<'_>,
    destination: &Destination,
    path: &Path,
) -> Result<(), BulkError> {
    let other = |recorded: String| BulkError::OtherDelivery {
        journal: path.to_owned(),
        recorded,
    };
    if let Some(recorded) = &header.destination
        && recorded != destination
    {
        return Err(other(format!("the destination {recorded}")));
    }
    match (&header.path, &input.canonical) {
        (Some(recorded), Some(now)) if recorded != now => {
            return Err(other(format!("the input {}", recorded.display())));
        }
        (Some(recorded), None) => {
            return Err(other(format!("the input {}", recorded.display())));
        }
        (None, Some(_)) if header.version >= 2 => {
            return Err(other("a stream (standard input)".to_owned()));
        }
        _ => {}
    }
    if header.format != format_name(input.format) {
        return Err(BulkError::FormatChanged {
            journal: path.to_owned(),
            recorded: header.format.clone(),
            now: format_name(input.format).to_owned(),
        });
    }
    Ok(())
}

/// Moves a journal that ce-crypt 0.1 left beside the input into the state
/// folder (as `to`), bound to this delivery, unless `to` exists already;
/// returns where its rejects file went, if it had one.
fn move_legacy(
    given: &Path,
    input: &InputId<'_>,
    destination: &Destination,
    to: &Path,
    notes: &mut Vec<Note>,
) -> Result<Option<PathBuf>, BulkError> {
    let from = with_suffix(given, LEGACY_SUFFIX);
    if to.exists() || !from.is_file() {
        return Ok(None);
    }
    let mut records = match journal::read(&from) {
        Ok(records) => records,
        // Not a journal at all: some file of the user's, left alone.
        Err(super::JournalError::Damaged { line: 1, .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for record in &mut records {
        match record {
            Record::Journal(header) => {
                header.version = journal::VERSION;
                header.path = input.canonical.clone();
                header.destination = Some(destination.clone());
            }
            // A file's journal checks the whole file's fingerprint, not these.
            Record::Sent { offset, sha256, .. } => (*offset, *sha256) = (None, None),
            _ => {}
        }
    }
    let io_error = |source: io::Error| BulkError::StateFolder {
        path: to.to_owned(),
        source,
    };
    journal::write_new(to, &records).map_err(io_error)?;
    fs::remove_file(&from).map_err(io_error)?;
    notes.push(Note::Moved {
        from,
        to: to.to_owned(),
    });
    let old_rejects = with_suffix(given, LEGACY_REJECTS_SUFFIX);
    match fs::metadata(&old_rejects) {
        Ok(meta) if meta.len() == 0 => {
            let _ = fs::remove_file(&old_rejects);
            Ok(None)
        }
        Ok(_) => {
            let new_rejects = state::rejects_beside(to);
            move_file(&old_rejects, &new_rejects).map_err(io_error)?;
            notes.push(Note::Moved {
                from: old_rejects,
                to: new_rejects.clone(),
            });
            Ok(Some(new_rejects))
        }
        Err(_) => Ok(None),
    }
}

/// Renames `from` to `to`, or copies and removes it across file systems.
fn move_file(from: &Path, to: &Path) -> io::Result<()> {
    if fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let mut source = fs::File::open(from)?;
    let mut target = crate::files::create_private(to)?;
    io::copy(&mut source, &mut target)?;
    target.sync_all()?;
    fs::remove_file(from)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where a run with `bookkeeping` keeps the journal and the rejects of the
/// delivery of `input` (a file, or none for a stream) to `destination`,
/// without making or changing anything: for a caller that must keep its
/// own outputs off them. The rejects of a stream without a journal get a
/// new file each run, so none is given for them.
pub fn paths(
    input: Option<&Path>,
    destination: &Destination,
    bookkeeping: &Bookkeeping,
) -> (Option<PathBuf>, Option<PathBuf>) {
    let journal = bookkeeping.journal.clone().or_else(|| {
        let canonical = fs::canonicalize(input?).ok()?;
        let state_dir = bookkeeping.state_dir.as_deref()?;
        Some(state::journal_path(
            state_dir,
            Some(&canonical),
            destination,
        ))
    });
    let rejects = bookkeeping
        .rejects
        .clone()
        .or_else(|| journal.as_deref().map(state::rejects_beside));
    (journal, rejects)
}

/// What a delivery's journal records, for a caller to show without sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    /// The journal.
    pub journal: PathBuf,
    /// Whether it exists (false: nothing was ever sent this way).
    pub exists: bool,
    /// Where the events go.
    pub destination: Destination,
    /// Events acknowledged.
    pub sent: u64,
    /// Events rejected.
    pub rejected: u64,
    /// Events of requests that began, neither acknowledged nor known not to
    /// have arrived: a rerun sends them as possible duplicates.
    pub in_doubt: u64,
    /// The events read, if every one was acknowledged or rejected.
    pub finished: Option<u64>,
    /// Whether the input is the one the journal recorded (none: not known,
    /// for a stream or a journal without its fingerprint).
    pub input_unchanged: Option<bool>,
    /// The rejects file, if it exists.
    pub rejects: Option<PathBuf>,
    /// When the journal was last written.
    pub modified: Option<SystemTime>,
}

/// What the journal of the delivery of `input` (a file, or none for a
/// stream) to `destination` records, without changing or locking anything.
pub fn status(
    input: Option<&Path>,
    format: InputFormat,
    destination: &Destination,
    bookkeeping: &Bookkeeping,
) -> Result<DeliveryStatus, BulkError> {
    let id = InputId::new(input, format)?;
    let path = match (&bookkeeping.journal, &id.canonical, &bookkeeping.state_dir) {
        (Some(path), _, _) => path.clone(),
        (None, Some(canonical), Some(state_dir)) => {
            state::journal_path(state_dir, Some(canonical), destination)
        }
        (None, Some(_), None) => return Err(BulkError::NoStateFolder),
        (None, None, _) => {
            return Err(BulkError::OtherDelivery {
                journal: PathBuf::new(),
                recorded: "nothing: a stream has a journal only when one is named".to_owned(),
            });
        }
    };
    let legacy = input.map(|given| with_suffix(given, LEGACY_SUFFIX));
    let read_from = match &legacy {
        Some(legacy) if !path.exists() && legacy.is_file() => legacy.clone(),
        _ => path.clone(),
    };
    let records = journal::read(&read_from)?;
    let modified = fs::metadata(&read_from).and_then(|m| m.modified()).ok();
    let resume = Resume::from_records(records);
    if let Some(header) = &resume.header
        && read_from == path
    {
        check_binding(header, &id, destination, &path)?;
    }
    let recorded = resume.header.as_ref().and_then(|h| h.input.clone());
    let input_unchanged = match (input, recorded) {
        (Some(file), Some(recorded)) => Some(super::run::fingerprint_file(file)? == recorded),
        _ => None,
    };
    let rejects = bookkeeping
        .rejects
        .clone()
        .unwrap_or_else(|| state::rejects_beside(&read_from));
    Ok(DeliveryStatus {
        exists: resume.header.is_some(),
        journal: read_from,
        destination: destination.clone(),
        sent: resume.sent,
        rejected: resume.rejected,
        in_doubt: resume.unacked.len(),
        finished: resume.finished,
        input_unchanged,
        rejects: rejects.exists().then_some(rejects),
        modified,
    })
}
