//! Bulk upload: any number of events, read as a stream, checked one by one,
//! sent in batches of at most 1000 over a few reused connections, retried,
//! and recorded in a journal so that a rerun sends only what the
//! API has not acknowledged.
//!
//! The promises, and their one limit:
//! - Every event read is, in the end, acknowledged by the API, rejected (in
//!   the rejects file, with why), or pending (in no acknowledged batch: a
//!   rerun sends it). `sent + rejected + pending = read`.
//! - An acknowledgement is on disk before the worker that got it takes new
//!   work. So when a run stops at any moment (a signal, a crash, power loss),
//!   only the batches in flight may have reached the API unrecorded: a rerun
//!   sends those again, at most `concurrency × batch size` events, and counts
//!   them as possible duplicates.
//! - Batches keep input order and never mix assets: `x-asset` is the batch's.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use ce_crypt::upload::bulk::{BulkFiles, BulkInput, BulkJob, BulkOptions, InputFormat, LiveCounts};
//! use ce_crypt::upload::{ApiKey, Client, ClientConfig, Region};
//! use ce_crypt::{Cipher, Iv, Key, KeyEncoding, Method};
//!
//! let key = Key::parse("Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU", KeyEncoding::Utf8)?;
//! let iv = Iv::parse("Qw5Er7Ty9Ui2Op4A", KeyEncoding::Utf8)?;
//! let cipher = Cipher::new(Method::CbcBase64, key, Some(iv))?;
//! let client = Client::new(ClientConfig::new().connections(4))?;
//! let api_key = ApiKey::new(&std::env::var("CE_API_KEY")?)?;
//! let stop = AtomicBool::new(false); // set it from a signal handler to stop cleanly
//! let counts = LiveCounts::default(); // read it from another thread for progress
//! let job = BulkJob {
//!     client: &client,
//!     endpoint: &Region::India.endpoint(),
//!     api_key: &api_key,
//!     cipher: &cipher,
//!     options: BulkOptions::default(),
//!     stop: &stop,
//!     counts: &counts,
//!     on_request: None,
//! };
//! let files = BulkFiles {
//!     journal: Some("export.ndjson.ce-send".into()),
//!     rejects: Some("export.ndjson.ce-send.rejects.jsonl".into()),
//!     restart: false,
//! };
//! let summary = job.run(BulkInput::File("export.ndjson".into()), InputFormat::Lines, &files)?;
//! println!("{} sent, {} rejected, {} pending", summary.counts.sent, summary.counts.rejected, summary.pending);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod journal;
mod retry;
mod source;

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, mpsc};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::Cipher;
use crate::events::{self, EventRules, MAX_EVENTS, Warnings};
use crate::request;

use super::{Answer, ApiKey, Client, Endpoint, Upload, UploadError};
use journal::{Journal, Record};

pub use journal::JournalError;
pub use retry::{Backoff, Pacer, parse_retry_after};
pub use source::{
    EventSource, Fingerprint, InputFormat, NotJson, Position, SourceError, SourceEvent,
};

/// A batch closes early once its events' text reaches this many bytes.
pub const MAX_BATCH_BYTES: usize = 5 << 20;
/// A `Retry-After` longer than this gives the batch up (a rerun goes on later).
pub const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(300);
/// When every part of a refused batch's split at this many parts (eighths)
/// is refused alike, and nothing of it was accepted, the fault is taken to be
/// the request's, not the events': 15 requests, not a thousand.
const ALIKE_LEVEL: usize = 8;
/// The rejects the summary keeps for a caller to show.
const FIRST_REJECTS_KEPT: usize = 3;

/// How a bulk upload batches, paces, retries and checks.
#[derive(Debug, Clone)]
pub struct BulkOptions {
    /// Events per request, 1 to [`MAX_EVENTS`].
    pub batch_size: usize,
    /// Requests in flight at once, at least 1.
    pub concurrency: usize,
    /// At most this many requests per second, if set.
    pub rate: Option<f64>,
    /// Retries per request after 429, 5xx, a timeout or a broken connection.
    pub retries: u32,
    /// Stop, sending nothing further, once the checks have rejected more of
    /// the input's events than this (earlier runs' included). Events the API
    /// refuses are rejected too, but do not stop the run.
    pub max_rejects: u64,
    /// The event checks, or none to skip them.
    pub rules: Option<EventRules>,
    /// Send every event to this asset; events that name another are rejected.
    pub asset: Option<String>,
    /// The waits between retries.
    pub backoff: Backoff,
}

impl Default for BulkOptions {
    fn default() -> Self {
        BulkOptions {
            batch_size: MAX_EVENTS,
            concurrency: 4,
            rate: None,
            retries: 8,
            max_rejects: 0,
            rules: Some(EventRules::new(std::time::SystemTime::now())),
            asset: None,
            backoff: Backoff::default(),
        }
    }
}

/// Where the events come from.
pub enum BulkInput {
    /// A regular file: checked completely, and fingerprinted, before the first request.
    File(PathBuf),
    /// A stream (standard input, a pipe), read once.
    Stream(Box<dyn BufRead + Send>),
}

impl std::fmt::Debug for BulkInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BulkInput::File(path) => write!(f, "File({})", path.display()),
            BulkInput::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// Where a bulk upload keeps its records.
#[derive(Debug, Clone)]
pub struct BulkFiles {
    /// The journal; none only for an input that makes one request (see
    /// [`BulkError::NeedsJournal`]).
    pub journal: Option<PathBuf>,
    /// The rejected events, one JSON line each; none to keep only the first few in the summary.
    pub rejects: Option<PathBuf>,
    /// Ignore the journal's records and start over.
    pub restart: bool,
}

/// Counters that another thread may read while a bulk upload runs.
#[derive(Debug, Default)]
pub struct LiveCounts {
    read: AtomicU64,
    total: AtomicU64,
    sent: AtomicU64,
    rejected: AtomicU64,
    requests: AtomicU64,
    retried: AtomicU64,
    possible_duplicates: AtomicU64,
}

/// A reading of [`LiveCounts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Events read from the input (earlier runs' included).
    pub read: u64,
    /// All the input's events, once known (a file's, after its check).
    pub total: Option<u64>,
    /// Events the API acknowledged (earlier runs' included).
    pub sent: u64,
    /// Events rejected (earlier runs' included).
    pub rejected: u64,
    /// Requests made by this run.
    pub requests: u64,
    /// Requests retried by this run.
    pub retried: u64,
    /// Events this run sent that may already have reached the API.
    pub possible_duplicates: u64,
}

impl LiveCounts {
    /// The counts now.
    pub fn snapshot(&self) -> Counts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            read: get(&self.read),
            total: Some(get(&self.total)).filter(|t| *t > 0),
            sent: get(&self.sent),
            rejected: get(&self.rejected),
            requests: get(&self.requests),
            retried: get(&self.retried),
            possible_duplicates: get(&self.possible_duplicates),
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Why a run stopped before every event was acknowledged or rejected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StopReason {
    /// The caller's stop flag was set (a signal).
    Interrupted,
    /// 401 or 403: nothing else would succeed.
    Unauthorized(UploadError),
    /// More events were rejected than allowed.
    TooManyRejects {
        /// The limit.
        limit: u64,
    },
    /// A request still failed after all its retries.
    GaveUp(UploadError),
    /// The API asked to wait longer than [`LONGEST_RETRY_AFTER`].
    WaitTooLong {
        /// The answer that asked.
        error: UploadError,
        /// How long it asked to wait.
        wait: Duration,
    },
    /// Single events were refused alike, so the request, not they, is at fault.
    RefusedAlike {
        /// The API's answer.
        answer: String,
    },
    /// An error no retry mends: a redirect, an untrusted certificate, an
    /// unknown host, another 4xx.
    Failed(UploadError),
    /// The journal or the rejects file could not be written, or a batch encrypted.
    Local {
        /// What failed.
        error: String,
    },
    /// The input stopped being readable part-way (a stream's broken JSON).
    Input {
        /// Why.
        error: String,
    },
}

impl StopReason {
    /// The upload error behind it, if one is.
    pub fn upload_error(&self) -> Option<&UploadError> {
        match self {
            StopReason::Unauthorized(error)
            | StopReason::GaveUp(error)
            | StopReason::Failed(error)
            | StopReason::WaitTooLong { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Interrupted => f.write_str("interrupted"),
            StopReason::Unauthorized(error) => write!(
                f,
                "{error}; the API key or the asset is not accepted, so nothing else would be"
            ),
            StopReason::TooManyRejects { limit } => {
                write!(f, "more than {limit} events were rejected")
            }
            StopReason::GaveUp(error) => write!(f, "a request failed after its retries: {error}"),
            StopReason::WaitTooLong { error, wait } => write!(
                f,
                "{error}, asking to wait {} s before trying again",
                wait.as_secs()
            ),
            StopReason::RefusedAlike { answer } => write!(
                f,
                "the API refused single events alike ({answer}): the request, not the events, \
                 looks wrong"
            ),
            StopReason::Failed(error) => write!(f, "{error}"),
            StopReason::Local { error } | StopReason::Input { error } => f.write_str(error),
        }
    }
}

/// A rejected event, as the rejects file holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its number in the input, from 0.
    pub ordinal: u64,
    /// Where it is.
    pub position: Position,
    /// Why: the rules it breaks, or the API's answer.
    pub reasons: Vec<String>,
}

/// How a bulk upload ended.
#[derive(Debug, Clone)]
pub struct BulkSummary {
    /// The final counts (this run's and earlier runs').
    pub counts: Counts,
    /// Events acknowledged by earlier runs, before this one began.
    pub sent_before: u64,
    /// Events neither acknowledged nor rejected.
    pub pending: u64,
    /// The journal said everything had been sent already; nothing was.
    pub already_sent: bool,
    /// Why the run stopped early, if it did.
    pub stopped: Option<StopReason>,
    /// The first rejected events.
    pub first_rejects: Vec<Rejection>,
    /// The checks' warnings, counted per rule.
    pub warnings: Warnings,
    /// The last 2xx answer.
    pub last_answer: Option<Answer>,
    /// How long the run took.
    pub elapsed: Duration,
}

/// Why a bulk upload could not start, or broke off (its journal stays consistent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BulkError {
    /// The journal cannot be used.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The rejects file could not be written.
    #[error("could not write the rejects file {path}")]
    Rejects {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The input could not be read, or its JSON is broken (nothing was sent).
    #[error(transparent)]
    Input(#[from] SourceError),
    /// The input file could not be opened.
    #[error("could not read {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The journal belongs to other input: resuming would send the wrong events.
    #[error(
        "the input is not the one the journal {journal} recorded ({recorded_size} bytes, SHA-256 \
         {recorded_sha256:.12}…; now {size} bytes, {sha256:.12}…)"
    )]
    InputChanged {
        /// The journal.
        journal: PathBuf,
        /// What it recorded.
        recorded_size: u64,
        /// What it recorded.
        recorded_sha256: String,
        /// The input now.
        size: u64,
        /// The input now.
        sha256: String,
    },
    /// The journal was written for the other input format.
    #[error("the journal {journal} was written for input read as {recorded}, not {now}")]
    FormatChanged {
        /// The journal.
        journal: PathBuf,
        /// `array` or `lines`.
        recorded: String,
        /// `array` or `lines`.
        now: String,
    },
    /// The rejects file names a file that holds something else.
    #[error("{path} is not a rejects file of ce-crypt, and would be emptied")]
    NotRejectsFile {
        /// The file.
        path: PathBuf,
    },
    /// A stream holds more than one request's worth of events, and no journal was given.
    #[error(
        "the input holds more than one request's worth of events ({batch_size} per request, one \
         asset each), and without a journal a broken-off run could not be resumed"
    )]
    NeedsJournal {
        /// The batch size.
        batch_size: usize,
    },
}

/// Everything a bulk upload needs.
pub struct BulkJob<'a> {
    /// The HTTP client (its connections are shared by the workers).
    pub client: &'a Client,
    /// Where to POST.
    pub endpoint: &'a Endpoint,
    /// The panel's API key.
    pub api_key: &'a ApiKey,
    /// Encrypts each batch.
    pub cipher: &'a Cipher,
    /// Batching, pacing, retries, checks.
    pub options: BulkOptions,
    /// Set it (from a signal handler, say) to stop: no new request starts,
    /// those in flight finish, and the journal stays consistent.
    pub stop: &'a AtomicBool,
    /// Counters to watch while the run goes on.
    pub counts: &'a LiveCounts,
    /// Told of every request as it ends (for a log).
    pub on_request: Option<&'a (dyn Fn(&RequestLog<'_>) + Sync)>,
}

/// One request, as [`BulkJob::on_request`] hears of it.
#[derive(Debug)]
pub struct RequestLog<'a> {
    /// The batch's asset (its `x-asset`).
    pub asset: &'a str,
    /// Events in the request.
    pub events: usize,
    /// The request body's size.
    pub body_bytes: usize,
    /// The 2xx answer, or why not.
    pub result: Result<&'a Answer, &'a UploadError>,
    /// From sending to the end of the answer (or the failure).
    pub elapsed: Duration,
}

impl BulkJob<'_> {
    /// Sends every event of `input` not yet acknowledged, as `files` records.
    pub fn run(
        &self,
        input: BulkInput,
        format: InputFormat,
        files: &BulkFiles,
    ) -> Result<BulkSummary, BulkError> {
        let started = Instant::now();
        let mut resume = match &files.journal {
            // Read even to restart: a file that is not a journal is never replaced.
            Some(path) => Resume::from_records(Journal::read(path)?),
            None => Resume::default(),
        };
        if files.restart {
            resume = Resume::default();
        }
        let format_name = match format {
            InputFormat::Array => "array",
            InputFormat::Lines => "lines",
        };
        if let (Some(recorded), Some(path)) = (&resume.format, &files.journal)
            && recorded != format_name
        {
            return Err(BulkError::FormatChanged {
                journal: path.clone(),
                recorded: recorded.clone(),
                now: format_name.to_owned(),
            });
        }
        let fingerprint = match &input {
            BulkInput::File(path) => Some(fingerprint_file(path)?),
            BulkInput::Stream(_) => None,
        };
        let mut input = Some(input);
        let mut opener = move || -> Result<Box<dyn BufRead + Send>, BulkError> {
            match input.take() {
                Some(BulkInput::File(path)) => {
                    let file = File::open(&path).map_err(|source| BulkError::Open {
                        path: path.clone(),
                        source,
                    })?;
                    // A file is read twice: once to check, once to send.
                    input = Some(BulkInput::File(path));
                    Ok(Box::new(BufReader::with_capacity(256 << 10, file)))
                }
                Some(BulkInput::Stream(reader)) => Ok(reader),
                None => Err(BulkError::Input(SourceError::Read(io::Error::other(
                    "a stream can be read only once",
                )))),
            }
        };
        if let (Some(now), Some(recorded), Some(path)) =
            (&fingerprint, &resume.input, &files.journal)
            && now != recorded
        {
            if resume.anything_sent() {
                return Err(input_changed(path, recorded, now));
            }
            // Nothing of the old input reached the API: start over.
            resume = Resume::default();
        }
        if let Some(fingerprint) = &fingerprint {
            // A file must still be this one when the send pass reaches its end.
            resume.read_all = Some(fingerprint.clone());
        }
        let counts = self.counts;
        LiveCounts::add(&counts.sent, resume.sent);
        LiveCounts::add(&counts.rejected, resume.rejected);
        if let Some(read) = resume.finished {
            // A stream is read to its end to be sure it is the one recorded.
            if fingerprint.is_none()
                && let (Some(recorded), Some(path)) = (&resume.read_all, &files.journal)
            {
                let now = fingerprint_reader(opener()?)?;
                if now != *recorded {
                    return Err(input_changed(path, recorded, &now));
                }
            }
            counts.read.store(read, Ordering::Relaxed);
            return Ok(BulkSummary {
                counts: counts.snapshot(),
                sent_before: resume.sent,
                pending: 0,
                already_sent: true,
                stopped: None,
                first_rejects: Vec::new(),
                warnings: Warnings::default(),
                last_answer: None,
                elapsed: started.elapsed(),
            });
        }

        let fresh = resume.records == 0;
        let journal = match &files.journal {
            Some(path) if fresh => Some(Journal::create(
                path,
                &Record::Journal {
                    version: journal::VERSION,
                    format: format_name.to_owned(),
                    input: fingerprint.clone(),
                },
            )?),
            Some(path) => Some(Journal::reopen(path)?),
            None => None,
        };
        if let Some(path) = &files.rejects {
            refuse_other_file(path)?;
        }
        let rejects =
            match &files.rejects {
                Some(path) => Some(journal::private_file(path, fresh).map_err(|source| {
                    BulkError::Rejects {
                        path: path.clone(),
                        source,
                    }
                })?),
                None => None,
            };
        let ledger = Ledger {
            journal: journal.map(Mutex::new),
            rejects: Mutex::new(RejectsFile {
                file: rejects,
                path: files.rejects.clone(),
                first: Vec::new(),
                unjournaled: Vec::new(),
            }),
            counts,
            stop_reason: Mutex::new(None),
            stopping: AtomicBool::new(false),
            external: self.stop,
            warnings: Mutex::new(Warnings::default()),
            last_answer: Mutex::new(None),
            max_rejects: self.options.max_rejects,
            rejected_by_checks: AtomicU64::new(resume.rejected_by_checks),
            checking_whole_input: AtomicBool::new(false),
        };

        let sent_before = resume.sent;
        let mut feeder = Feeder {
            job: self,
            ledger: &ledger,
            resume: &resume,
            batch: None,
            check_rejected: HashSet::new(),
            journal_path: files.journal.clone(),
            dispatched: 0,
            asset_runs: Some(Vec::new()),
            run_cursor: 0,
            checked: None,
        };
        let is_file = fingerprint.is_some();
        let (sender, receiver) = mpsc::sync_channel::<Batch>(0);
        let receiver = Mutex::new(receiver);
        let pacer = self.options.rate.map(Pacer::new);
        let result = std::thread::scope(|scope| -> Result<(), BulkError> {
            if is_file {
                // A file is checked completely before the first request.
                let source = EventSource::new(opener()?, format).without_fingerprint();
                ledger.checking_whole_input.store(true, Ordering::Relaxed);
                feeder.feed(source, Pass::CheckOnly, None)?;
                ledger.checking_whole_input.store(false, Ordering::Relaxed);
                feeder.checked = Some(counts.read.load(Ordering::Relaxed));
                counts
                    .total
                    .store(counts.read.load(Ordering::Relaxed), Ordering::Relaxed);
                ledger.flush_rejects()?;
                ledger.stop_if_too_many_rejects();
                if ledger.stopped() {
                    return Ok(());
                }
                counts.read.store(0, Ordering::Relaxed);
            }
            for _ in 0..self.options.concurrency.max(1) {
                let worker = Worker {
                    job: self,
                    ledger: &ledger,
                    pacer: pacer.as_ref(),
                };
                let receiver = &receiver;
                scope.spawn(move || {
                    loop {
                        // The lock is held only while waiting for a batch, not while sending it.
                        let next = lock(receiver).recv();
                        let Ok(batch) = next else { break };
                        worker.deliver(batch);
                    }
                });
            }
            let source = EventSource::new(opener()?, format);
            let pass = if is_file {
                Pass::Send
            } else {
                Pass::CheckAndSend
            };
            let fed = feeder.feed(source, pass, Some(&sender));
            drop(sender);
            fed
        });
        result?;
        ledger.flush_rejects()?;

        let snapshot = counts.snapshot();
        // A file's events were all counted by its check pass, even if sending stopped early.
        let read = snapshot
            .read
            .max(snapshot.total.unwrap_or(0))
            .max(resume.highest_known);
        counts.read.store(read, Ordering::Relaxed);
        let pending = read.saturating_sub(snapshot.sent + snapshot.rejected);
        let stopped = ledger.stop_reason();
        if stopped.is_none() && pending == 0 && feeder.read_to_end() {
            ledger.record(&Record::Finished {
                sent: snapshot.sent,
                rejected: snapshot.rejected,
            })?;
        }
        let first_rejects = std::mem::take(&mut lock(&ledger.rejects).first);
        Ok(BulkSummary {
            counts: counts.snapshot(),
            sent_before,
            pending,
            already_sent: false,
            stopped,
            first_rejects,
            warnings: std::mem::take(&mut *lock(&ledger.warnings)),
            last_answer: lock(&ledger.last_answer).take(),
            elapsed: started.elapsed(),
        })
    }
}

/// Refuses a rejects file that holds something else: starting afresh empties it.
fn refuse_other_file(path: &Path) -> Result<(), BulkError> {
    let Ok(file) = File::open(path) else {
        return Ok(()); // none yet
    };
    let mut first = String::new();
    let _ = BufReader::new(file.take(1 << 20)).read_line(&mut first);
    let ours = first.is_empty()
        || serde_json::from_str::<serde_json::Value>(&first)
            .is_ok_and(|line| line.get("reasons").is_some() && line.get("index").is_some());
    if ours {
        Ok(())
    } else {
        Err(BulkError::NotRejectsFile {
            path: path.to_owned(),
        })
    }
}

/// The size and SHA-256 of a file.
fn fingerprint_file(path: &Path) -> Result<Fingerprint, BulkError> {
    let file = File::open(path).map_err(|source| BulkError::Open {
        path: path.to_owned(),
        source,
    })?;
    fingerprint_reader(file)
}

/// The journal's error for an input that is not the one it recorded.
fn input_changed(journal: &Path, recorded: &Fingerprint, now: &Fingerprint) -> BulkError {
    BulkError::InputChanged {
        journal: journal.to_owned(),
        recorded_size: recorded.size,
        recorded_sha256: recorded.sha256.clone(),
        size: now.size,
        sha256: now.sha256.clone(),
    }
}

/// The size and SHA-256 of everything `reader` holds.
fn fingerprint_reader(mut file: impl Read) -> Result<Fingerprint, BulkError> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BulkError::Input(SourceError::Read(e))),
        };
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok(Fingerprint {
        size,
        sha256: source::hex(&hasher.finalize()),
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What earlier runs recorded.
#[derive(Debug, Default)]
struct Resume {
    records: usize,
    format: Option<String>,
    input: Option<Fingerprint>,
    /// Event ranges acknowledged or rejected, merged, sorted.
    done: Ranges,
    /// Ranges handed to the network but never acknowledged.
    unacked: Ranges,
    /// (offset, SHA-256 of the input up to it), sorted by offset.
    checkpoints: Vec<Fingerprint>,
    sent: u64,
    rejected: u64,
    rejected_by_checks: u64,
    highest_known: u64,
    /// The events read, if the journal says every one was sent or rejected.
    finished: Option<u64>,
    /// The whole input's fingerprint, once a run read it to its end.
    read_all: Option<Fingerprint>,
}

impl Resume {
    fn from_records(records: Vec<Record>) -> Resume {
        let mut resume = Resume {
            records: records.len(),
            ..Resume::default()
        };
        let mut sent_ranges = Vec::new();
        let mut done = Vec::new();
        for record in records {
            match record {
                Record::Journal { format, input, .. } => {
                    resume.format = Some(format);
                    resume.input = input;
                }
                Record::Sent {
                    from,
                    to,
                    offset,
                    sha256,
                    ..
                } => {
                    sent_ranges.push((from, to));
                    resume.checkpoints.push(Fingerprint {
                        size: offset,
                        sha256,
                    });
                }
                Record::Acked { from, to, events } => {
                    done.push((from, to));
                    resume.sent += events;
                    resume.highest_known = resume.highest_known.max(to);
                }
                Record::Rejected { events, by_api } => {
                    for ordinal in events {
                        done.push((ordinal, ordinal + 1));
                        resume.rejected += 1;
                        resume.rejected_by_checks += u64::from(!by_api);
                        resume.highest_known = resume.highest_known.max(ordinal + 1);
                    }
                }
                Record::Read { events, input } => {
                    resume.highest_known = resume.highest_known.max(events);
                    resume.read_all = Some(input);
                }
                Record::Finished { .. } => resume.finished = Some(resume.highest_known),
            }
        }
        resume.done = Ranges::from(done);
        resume.unacked = Ranges::from(sent_ranges).minus(&resume.done);
        resume
            .checkpoints
            .sort_by(|a, b| (a.size, &a.sha256).cmp(&(b.size, &b.sha256)));
        resume.checkpoints.dedup();
        resume
    }

    /// Whether the API has any of the old input: then resuming with another
    /// would mix the two. (Rejections alone are redone on a fresh start.)
    fn anything_sent(&self) -> bool {
        self.sent > 0 || !self.unacked.0.is_empty()
    }
}

/// Sorted, merged, half-open ranges of event numbers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Ranges(Vec<(u64, u64)>);

impl From<Vec<(u64, u64)>> for Ranges {
    fn from(mut ranges: Vec<(u64, u64)>) -> Self {
        ranges.retain(|(from, to)| from < to);
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (from, to) in ranges {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        Ranges(merged)
    }
}

impl Ranges {
    fn contains(&self, n: u64) -> bool {
        let at = self.0.partition_point(|(_, to)| *to <= n);
        self.0.get(at).is_some_and(|(from, _)| *from <= n)
    }

    fn minus(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::new();
        for &(from, to) in &self.0 {
            let mut start = from;
            for &(f, t) in &other.0 {
                if t <= start || f >= to {
                    continue;
                }
                if f > start {
                    out.push((start, f));
                }
                start = start.max(t);
            }
            if start < to {
                out.push((start, to));
            }
        }
        Ranges::from(out)
    }
}

/// One line of the rejects file. The event is its exact text, as given.
#[derive(serde::Serialize)]
struct RejectLine<'a> {
    position: String,
    index: u64,
    reasons: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<RejectAnswer<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'a RawValue>,
    /// A line that is not JSON, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct RejectAnswer<'a> {
    status: u16,
    body: &'a str,
}

/// Rejected events on their way to the rejects file and the journal.
struct RejectsFile {
    file: Option<File>,
    path: Option<PathBuf>,
    first: Vec<Rejection>,
    /// Written to the file, not yet to the journal (and whether the API refused them).
    unjournaled: Vec<(u64, bool)>,
}

/// What the threads of a run share: the journal, the rejects, the counts,
/// and whether (and why) the run is stopping.
struct Ledger<'a> {
    journal: Option<Mutex<Journal>>,
    rejects: Mutex<RejectsFile>,
    counts: &'a LiveCounts,
    stop_reason: Mutex<Option<StopReason>>,
    stopping: AtomicBool,
    external: &'a AtomicBool,
    warnings: Mutex<Warnings>,
    last_answer: Mutex<Option<Answer>>,
    /// How many events of the input the checks may reject (`--max-rejects`),
    /// and how many they have, earlier runs' included.
    max_rejects: u64,
    rejected_by_checks: AtomicU64,
    /// While a file's check pass runs: every event is judged before any stop.
    checking_whole_input: AtomicBool,
}

impl Ledger<'_> {
    fn stopped(&self) -> bool {
        if self.external.load(Ordering::Relaxed) {
            self.stop(StopReason::Interrupted);
        }
        self.stopping.load(Ordering::Relaxed)
    }

    /// Stops the run; the first reason given is the one reported.
    fn stop(&self, reason: StopReason) {
        let mut slot = lock(&self.stop_reason);
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn stop_reason(&self) -> Option<StopReason> {
        self.stopped();
        lock(&self.stop_reason).clone()
    }

    /// Appends a record and makes it durable.
    fn record(&self, record: &Record) -> Result<(), JournalError> {
        if let Some(journal) = &self.journal {
            let mut journal = lock(journal);
            journal.append(record)?;
            journal.sync()?;
        }
        Ok(())
    }

    /// Appends a record without waiting for the disk.
    fn note(&self, record: &Record) -> Result<(), JournalError> {
        if let Some(journal) = &self.journal {
            lock(journal).append(record)?;
        }
        Ok(())
    }

    fn acked(&self, from: u64, to: u64, events: u64, answer: Answer) {
        // Stop if the acknowledgement cannot be recorded: a rerun would resend.
        if let Err(e) = self.record(&Record::Acked { from, to, events }) {
            self.stop(StopReason::Local {
                error: e.to_string(),
            });
        }
        LiveCounts::add(&self.counts.sent, events);
        *lock(&self.last_answer) = Some(answer);
    }

    /// Writes a rejected event to the rejects file (the journal learns of it
    /// at the next [`Ledger::flush_rejects`]).
    fn reject(
        &self,
        ordinal: u64,
        position: Position,
        reasons: Vec<String>,
        answer: Option<(u16, &str)>,
        event: Result<&RawValue, &str>,
    ) -> Result<(), BulkError> {
        let mut guard = lock(&self.rejects);
        let rejects = &mut *guard;
        if let (Some(file), Some(path)) = (rejects.file.as_mut(), rejects.path.as_ref()) {
            let line = RejectLine {
                position: position.to_string(),
                index: ordinal,
                reasons: &reasons,
                answer: answer.map(|(status, body)| RejectAnswer { status, body }),
                event: event.ok(),
                text: event.err(),
            };
            let mut bytes = serde_json::to_vec(&line).expect("JSON serializes");
            bytes.push(b'\n');
            file.write_all(&bytes)
                .map_err(|source| BulkError::Rejects {
                    path: path.clone(),
                    source,
                })?;
        }
        if rejects.first.len() < FIRST_REJECTS_KEPT {
            rejects.first.push(Rejection {
                ordinal,
                position,
                reasons,
            });
        }
        rejects.unjournaled.push((ordinal, answer.is_some()));
        LiveCounts::add(&self.counts.rejected, 1);
        // --max-rejects is about the events' checks: what the API refuses is
        // rejected and the run goes on. A file's check pass counts them all,
        // and stops only at its end.
        if answer.is_none() {
            self.rejected_by_checks.fetch_add(1, Ordering::Relaxed);
            if !self.checking_whole_input.load(Ordering::Relaxed) {
                self.stop_if_too_many_rejects();
            }
        }
        Ok(())
    }

    /// Earlier runs' rejects count too: rerunning the same command does not
    /// let more through.
    fn stop_if_too_many_rejects(&self) {
        if self.rejected_by_checks.load(Ordering::Relaxed) > self.max_rejects {
            self.stop(StopReason::TooManyRejects {
                limit: self.max_rejects,
            });
        }
    }

    /// Makes the rejects written so far durable, then tells the journal.
    fn flush_rejects(&self) -> Result<(), BulkError> {
        let mut rejects = lock(&self.rejects);
        if rejects.unjournaled.is_empty() {
            return Ok(());
        }
        if let (Some(file), Some(path)) = (rejects.file.as_ref(), rejects.path.as_ref()) {
            file.sync_data().map_err(|source| BulkError::Rejects {
                path: path.clone(),
                source,
            })?;
        }
        let events = std::mem::take(&mut rejects.unjournaled);
        for by_api in [false, true] {
            let events: Vec<u64> = events
                .iter()
                .filter(|(_, api)| *api == by_api)
                .map(|(ordinal, _)| *ordinal)
                .collect();
            if !events.is_empty() {
                self.record(&Record::Rejected { events, by_api })?;
            }
        }
        Ok(())
    }
}

/// A batch: events of one asset, in input order, the numbers `from..to`
/// (some of which, rejected or done before, it may skip).
struct Batch {
    from: u64,
    to: u64,
    asset: String,
    events: Vec<BatchEvent>,
    bytes: usize,
    /// What the journal records when a worker takes the batch (set at dispatch).
    sent_record: Option<Record>,
}

struct BatchEvent {
    ordinal: u64,
    position: Position,
    text: Box<RawValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    CheckOnly,
    Send,
    CheckAndSend,
}

/// Reads events, checks them, and hands batches to the workers.
struct Feeder<'a, 'j> {
    job: &'a BulkJob<'j>,
    ledger: &'a Ledger<'a>,
    resume: &'a Resume,
    batch: Option<Batch>,
    /// A file's events the check pass rejected, skipped by the send pass.
    check_rejected: HashSet<u64>,
    journal_path: Option<PathBuf>,
    dispatched: u64,
    /// A file's assets, as the check pass found them: (first event, asset)
    /// where the asset changes, so that the send pass need not parse events
    /// again. None when there are too many changes to keep.
    asset_runs: Option<Vec<(u64, String)>>,
    run_cursor: usize,
    /// How many events a file's check pass read.
    checked: Option<u64>,
}

/// The most asset changes a file's check pass keeps for its send pass.
const MAX_ASSET_RUNS: usize = 100_000;

impl Feeder<'_, '_> {
    fn read_to_end(&self) -> bool {
        !self.ledger.stopped()
    }

    fn feed<R: BufRead>(
        &mut self,
        mut source: EventSource<R>,
        pass: Pass,
        workers: Option<&mpsc::SyncSender<Batch>>,
    ) -> Result<(), BulkError> {
        let checkpoints = &self.resume.checkpoints;
        let mut next_checkpoint = 0;
        while let Some(item) = source.next() {
            if self.ledger.stopped() {
                break;
            }
            let event = match item {
                Ok(event) => event,
                Err(error) if pass == Pass::CheckAndSend && self.dispatched > 0 => {
                    // Some batches are out: stop, and let them finish.
                    self.ledger.stop(StopReason::Input {
                        error: error.to_string(),
                    });
                    break;
                }
                Err(error) => return Err(error.into()),
            };
            let counts = self.ledger.counts;
            counts.read.store(event.ordinal + 1, Ordering::Relaxed);
            // The input up to each point an earlier run sent from must be the same.
            while let Some(recorded) = checkpoints.get(next_checkpoint)
                && pass != Pass::CheckOnly
            {
                if recorded.size > source.fingerprint_size() {
                    break;
                }
                let now = source.fingerprint();
                if now != *recorded {
                    return Err(self.changed(recorded, &now));
                }
                next_checkpoint += 1;
            }
            if pass == Pass::Send
                && let Some(total) = self.checked
                && event.ordinal >= total
            {
                // The file grew after its check: its new events were never checked.
                let recorded = self.resume.read_all.clone().unwrap_or(Fingerprint {
                    size: 0,
                    sha256: String::new(),
                });
                return Err(self.changed(&recorded, &source.fingerprint()));
            }
            if self.resume.done.contains(event.ordinal)
                || self.check_rejected.contains(&event.ordinal)
            {
                continue;
            }
            let asset = match self.judge(&event, pass)? {
                Some(asset) => asset,
                None => {
                    if pass == Pass::CheckOnly {
                        self.check_rejected.insert(event.ordinal);
                    }
                    if self.ledger.stopped() {
                        break;
                    }
                    continue;
                }
            };
            if pass == Pass::CheckOnly {
                continue;
            }
            let Some(workers) = workers else { continue };
            let text = event.text.expect("judged events are JSON");
            let closes = self.batch.as_ref().is_some_and(|b| {
                b.asset != asset
                    || b.events.len() >= self.job.options.batch_size
                    || b.bytes + text.get().len() > MAX_BATCH_BYTES
            });
            if closes {
                if self.journal_path.is_none() {
                    // Without a journal only one request may go: none has yet.
                    return Err(BulkError::NeedsJournal {
                        batch_size: self.job.options.batch_size,
                    });
                }
                self.dispatch(&source, workers)?;
                if self.ledger.stopped() {
                    break;
                }
            }
            let batch = self.batch.get_or_insert_with(|| Batch {
                from: event.ordinal,
                to: event.ordinal,
                asset,
                events: Vec::new(),
                bytes: 0,
                sent_record: None,
            });
            batch.to = event.ordinal + 1;
            batch.bytes += text.get().len() + 1;
            batch.events.push(BatchEvent {
                ordinal: event.ordinal,
                position: event.position,
                text,
            });
            if self.ledger.stopped() {
                break;
            }
        }
        let Some(workers) = workers else {
            return Ok(());
        };
        if self.ledger.stopped() {
            return Ok(());
        }
        // The whole input is read: before its last batch goes, it must be the
        // input an earlier run read, as far as that run read it.
        let fingerprint = source.fingerprint();
        if let Some(recorded) = checkpoints.get(next_checkpoint) {
            return Err(self.changed(recorded, &fingerprint));
        }
        if let Some(recorded) = &self.resume.read_all
            && *recorded != fingerprint
        {
            return Err(self.changed(recorded, &fingerprint));
        }
        if self.batch.is_some() {
            self.dispatch(&source, workers)?;
        }
        if !self.ledger.stopped() {
            self.ledger.record(&Record::Read {
                events: self.ledger.counts.read.load(Ordering::Relaxed),
                input: fingerprint,
            })?;
        }
        Ok(())
    }

    /// The input differs from what the journal recorded.
    fn changed(&self, recorded: &Fingerprint, now: &Fingerprint) -> BulkError {
        input_changed(
            self.journal_path.as_deref().unwrap_or(Path::new("")),
            recorded,
            now,
        )
    }

    /// Checks an event (unless this pass does not): its asset if it may be
    /// sent, or none once it has been rejected.
    fn judge(&mut self, event: &SourceEvent, pass: Pass) -> Result<Option<String>, BulkError> {
        let options = &self.job.options;
        let text = match &event.text {
            Ok(text) => text,
            Err(error) => {
                let reason = format!("{}: not JSON: {}", event.position, error.error);
                self.reject(event, vec![reason])?;
                return Ok(None);
            }
        };
        if pass == Pass::Send
            && let Some(runs) = &self.asset_runs
        {
            // The check pass judged this event already.
            while runs
                .get(self.run_cursor + 1)
                .is_some_and(|(first, _)| *first <= event.ordinal)
            {
                self.run_cursor += 1;
            }
            return Ok(runs.get(self.run_cursor).map(|(_, asset)| asset.clone()));
        }
        let place = &event.position;
        let own_asset = match (&options.rules, pass) {
            (Some(rules), Pass::CheckOnly | Pass::CheckAndSend) => {
                let verdict = match events::check_event(text, place, rules) {
                    Ok(verdict) => verdict,
                    Err(error) => {
                        self.reject(event, vec![format!("{place}: {error}")])?;
                        return Ok(None);
                    }
                };
                lock(&self.ledger.warnings).merge(verdict.warnings, None);
                if !verdict.problems.is_empty() {
                    let reasons = verdict.problems.iter().map(ToString::to_string).collect();
                    self.reject(event, reasons)?;
                    return Ok(None);
                }
                verdict.asset_id
            }
            _ => events::asset_id(text).ok().flatten(),
        };
        let asset = match (&options.asset, own_asset) {
            (Some(forced), Some(own)) if *forced != own && options.rules.is_none() => {
                let reason =
                    format!("{place}.asset_id: {own:?} is not {forced:?}, the asset given");
                self.reject(event, vec![reason])?;
                return Ok(None);
            }
            (Some(forced), _) => forced.clone(),
            (None, Some(own)) if !own.trim().is_empty() => own,
            (None, _) => {
                let reason = format!(
                    "{place}.asset_id: missing, and no asset was given for the request's x-asset"
                );
                self.reject(event, vec![reason])?;
                return Ok(None);
            }
        };
        if let Err(e) = super::check_header_value(&asset, "asset id") {
            self.reject(event, vec![format!("{place}.asset_id: {e}")])?;
            return Ok(None);
        }
        if pass == Pass::CheckOnly
            && let Some(runs) = &mut self.asset_runs
            && runs.last().is_none_or(|(_, last)| *last != asset)
        {
            if runs.len() < MAX_ASSET_RUNS {
                runs.push((event.ordinal, asset.clone()));
            } else {
                self.asset_runs = None;
            }
        }
        Ok(Some(asset))
    }

    fn reject(&mut self, event: &SourceEvent, reasons: Vec<String>) -> Result<(), BulkError> {
        let text = match &event.text {
            Ok(text) => Ok(&**text),
            Err(not_json) => Err(not_json.line.as_str()),
        };
        self.ledger
            .reject(event.ordinal, event.position, reasons, None, text)
    }

    /// Hands the open batch to a worker (waiting for one to be free).
    fn dispatch<R: BufRead>(
        &mut self,
        source: &EventSource<R>,
        workers: &mpsc::SyncSender<Batch>,
    ) -> Result<(), BulkError> {
        let Some(mut batch) = self.batch.take() else {
            return Ok(());
        };
        self.ledger.flush_rejects()?;
        let repeats = batch
            .events
            .iter()
            .filter(|e| self.resume.unacked.contains(e.ordinal))
            .count() as u64;
        LiveCounts::add(&self.ledger.counts.possible_duplicates, repeats);
        let fingerprint = source.fingerprint();
        batch.sent_record = Some(Record::Sent {
            from: batch.from,
            to: batch.to,
            events: batch.events.len() as u64,
            offset: fingerprint.size,
            sha256: fingerprint.sha256,
        });
        self.dispatched += 1;
        if workers.send(batch).is_err() {
            self.ledger.stop(StopReason::Interrupted);
        }
        Ok(())
    }
}

/// Sends batches: retries, splits refused ones, records what happened.
struct Worker<'a, 'j> {
    job: &'a BulkJob<'j>,
    ledger: &'a Ledger<'a>,
    pacer: Option<&'a Pacer>,
}

/// How one request ended, after its retries.
enum Attempt {
    Accepted(Answer),
    Refused { status: u16, answer: String },
    Stopped,
}

impl Worker<'_, '_> {
    fn deliver(&self, batch: Batch) {
        // Only now is the batch on its way: recorded as possibly delivered, so
        // that a rerun counts it as a possible duplicate. Not synced on its own
        // (the next acknowledgement's sync carries it): after a power loss the
        // count may miss the batches then in flight, never more.
        if let Some(record) = &batch.sent_record
            && let Err(e) = self.ledger.note(record)
        {
            self.ledger.stop(StopReason::Local {
                error: e.to_string(),
            });
            return;
        }
        // A refused batch is split level by level: halves, quarters, ... When a
        // whole level of ALIKE_LEVEL parts or more is refused alike and nothing
        // of the batch was accepted, the request is at fault, not the events.
        let mut level = vec![(batch.from, batch.to, &batch.events[..])];
        let mut refused_alike: Option<(u16, String)> = None;
        let mut accepted_any = false;
        let mut rejected: Vec<(&BatchEvent, u16, String)> = Vec::new();
        while !level.is_empty() {
            let mut next = Vec::new();
            let mut all_refused_alike = true;
            for &(from, to, events) in &level {
                match self.request(&batch.asset, events) {
                    Attempt::Accepted(answer) => {
                        accepted_any = true;
                        all_refused_alike = false;
                        self.ledger.acked(from, to, events.len() as u64, answer);
                    }
                    Attempt::Refused { status, answer } => {
                        match &refused_alike {
                            None => refused_alike = Some((status, answer.clone())),
                            Some(first) if *first != (status, answer.clone()) => {
                                all_refused_alike = false;
                            }
                            Some(_) => {}
                        }
                        if events.len() == 1 {
                            rejected.push((&events[0], status, answer));
                        } else {
                            let half = events.len() / 2;
                            let middle = events[half].ordinal;
                            next.push((from, middle, &events[..half]));
                            next.push((middle, to, &events[half..]));
                        }
                    }
                    Attempt::Stopped => return,
                }
            }
            if !accepted_any && all_refused_alike && level.len() >= ALIKE_LEVEL {
                let (_, answer) = refused_alike.unwrap_or_default();
                self.ledger.stop(StopReason::RefusedAlike { answer });
                return;
            }
            level = next;
        }
        for (event, status, answer) in rejected {
            let result = self.ledger.reject(
                event.ordinal,
                event.position,
                vec![format!("{}: the API refused it: {answer}", event.position)],
                Some((status, &answer)),
                Ok(&event.text),
            );
            if let Err(e) = result.and_then(|()| self.ledger.flush_rejects()) {
                self.ledger.stop(StopReason::Local {
                    error: e.to_string(),
                });
            }
        }
    }

    /// One request for `events`, retried as the options say.
    fn request(&self, asset: &str, events: &[BatchEvent]) -> Attempt {
        let options = &self.job.options;
        let mut payload =
            Vec::with_capacity(events.iter().map(|e| e.text.get().len() + 1).sum::<usize>() + 1);
        payload.push(b'[');
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                payload.push(b',');
            }
            payload.extend_from_slice(event.text.get().as_bytes());
        }
        payload.push(b']');
        let ciphertext = match self.job.cipher.encrypt(&payload) {
            Ok(ciphertext) => ciphertext,
            Err(e) => {
                self.ledger.stop(StopReason::Local {
                    error: format!("could not encrypt a batch: {e}"),
                });
                return Attempt::Stopped;
            }
        };
        drop(payload);
        let body = request::body(&ciphertext);
        drop(ciphertext);
        let upload = Upload {
            endpoint: self.job.endpoint,
            method: self.job.cipher.method(),
            asset_id: asset,
            body: &body,
        };
        let counts = self.ledger.counts;
        let mut retry = 0;
        loop {
            if let Some(pacer) = self.pacer
                && !self.sleep(pacer.reserve())
            {
                return Attempt::Stopped;
            }
            if self.ledger.stopped() {
                return Attempt::Stopped;
            }
            LiveCounts::add(&counts.requests, 1);
            let started = Instant::now();
            let result = self.job.client.send(&upload, self.job.api_key);
            if let Some(log) = self.job.on_request {
                log(&RequestLog {
                    asset,
                    events: events.len(),
                    body_bytes: body.len(),
                    result: result.as_ref(),
                    elapsed: started.elapsed(),
                });
            }
            let (failure, floor, ambiguous) = match result {
                Ok(answer) => return Attempt::Accepted(answer),
                Err(UploadError::Rejected {
                    status,
                    reason,
                    body,
                    ..
                }) if matches!(status, 400 | 413 | 422) => {
                    let answer = format!("{status} {reason}: {body}");
                    return Attempt::Refused { status, answer };
                }
                Err(
                    error @ UploadError::Rejected {
                        status: 401 | 403, ..
                    },
                ) => {
                    self.ledger.stop(StopReason::Unauthorized(error));
                    return Attempt::Stopped;
                }
                Err(
                    error @ UploadError::Rejected {
                        status,
                        retry_after,
                        ..
                    },
                ) if status == 429 || (500..600).contains(&status) => (error, retry_after, false),
                Err(error @ (UploadError::Timeout { .. } | UploadError::Connection { .. })) => {
                    (error, None, true)
                }
                Err(error) => {
                    self.ledger.stop(StopReason::Failed(error));
                    return Attempt::Stopped;
                }
            };
            if retry >= options.retries {
                self.ledger.stop(StopReason::GaveUp(failure));
                return Attempt::Stopped;
            }
            if let Some(wait) = floor.filter(|wait| *wait > LONGEST_RETRY_AFTER) {
                self.ledger.stop(StopReason::WaitTooLong {
                    error: failure,
                    wait,
                });
                return Attempt::Stopped;
            }
            if !self.sleep(options.backoff.wait(retry, floor)) {
                return Attempt::Stopped;
            }
            // Counted once the retry is sure to go.
            LiveCounts::add(&counts.retried, 1);
            if ambiguous {
                // The API may have taken the events before the answer was lost.
                LiveCounts::add(&counts.possible_duplicates, events.len() as u64);
            }
            retry += 1;
        }
    }

    /// Sleeps, waking early if the run stops; false if it did.
    fn sleep(&self, duration: Duration) -> bool {
        let end = Instant::now() + duration;
        loop {
            if self.ledger.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(50)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_subtract() {
        let ranges = Ranges::from(vec![(5, 8), (0, 2), (2, 3), (7, 10), (20, 20)]);
        assert_eq!(ranges, Ranges(vec![(0, 3), (5, 10)]));
        assert!(ranges.contains(0) && ranges.contains(2) && ranges.contains(9));
        assert!(!ranges.contains(3) && !ranges.contains(10) && !ranges.contains(4));
        let sent = Ranges::from(vec![(0, 20)]);
        assert_eq!(sent.minus(&ranges), Ranges(vec![(3, 5), (10, 20)]));
    }
}
