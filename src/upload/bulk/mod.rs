//! Bulk upload: any number of events, read as a stream, checked one by one,
//! sent in batches of at most 1000 over a few reused connections, retried,
//! and recorded in a journal so that a rerun sends only what the API has not
//! acknowledged.
//!
//! A delivery is an input sent to a destination (an endpoint and an asset):
//! each has its own journal, in the state folder ([`state_dir_from_env`])
//! unless the caller names one. The same input to another destination is
//! another delivery; to the same destination, a finished delivery sends
//! nothing again. The method and the API key are how the events travel, not
//! where: a new key continues the delivery (and is noted).
//!
//! The promises, and their one limit:
//! - Every event read is, in the end, acknowledged by the API, rejected (in
//!   the rejects file, with why), or pending (in no acknowledged batch: a
//!   rerun sends it). `sent + rejected + pending = read`.
//! - An acknowledgement is on disk before the worker that got it takes new
//!   work, and a request is on disk before it goes. So when a run stops at
//!   any moment (a signal, a crash, power loss), only the requests in flight
//!   may have reached the API unrecorded: a rerun sends those again, at most
//!   `concurrency × batch size` events, and counts them as possible
//!   duplicates. Requests that surely never arrived (a refused connection,
//!   an answer that accepted nothing) are not counted.
//! - Batches keep input order and never mix assets: `x-asset` is the batch's.
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use ce_crypt::upload::bulk::{Bookkeeping, BulkInput, BulkJob, BulkOptions, InputFormat, LiveCounts};
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
//! let bookkeeping = Bookkeeping::in_state_folder();
//! let summary = job.run(BulkInput::File("export.ndjson".into()), InputFormat::Lines, &bookkeeping)?;
//! println!("{} sent, {} rejected, {} pending", summary.counts.sent, summary.counts.rejected, summary.pending);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod delivery;
mod feeder;
mod journal;
mod ledger;
mod rejects;
mod resume;
mod retry;
mod run;
mod source;
mod state;
#[cfg(test)]
mod tests;
mod transport;
mod worker;

use std::io::{self, BufRead};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::Cipher;
use crate::events::{EventRules, MAX_EVENTS, Warnings};

use super::{Answer, ApiKey, Client, Endpoint, UploadError};

pub use delivery::{DeliveryStatus, paths, status};
pub use journal::{Destination, JournalError};
pub use rejects::{NotRejectsFile, Rejection};
pub use retry::{Backoff, parse_retry_after};
pub use source::{Fingerprint, InputFormat, Position, SourceError};
pub use state::{KEEP_FINISHED, state_dir_from_env};
pub use worker::LONGEST_RETRY_AFTER;

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
    /// The event checks, or none to skip them (what every payload needs,
    /// such as no lone surrogates, is checked all the same).
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
    /// A regular file: checked completely, and fingerprinted, before the
    /// first request; resumable.
    File(PathBuf),
    /// A stream (standard input, a pipe), read once: resumable only with a
    /// journal named in [`Bookkeeping::journal`].
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
#[derive(Debug, Clone, Default)]
pub struct Bookkeeping {
    /// The state folder (see [`state_dir_from_env`]): a file's journal goes
    /// there unless `journal` names one, and so do the rejects.
    pub state_dir: Option<PathBuf>,
    /// The journal to use instead of the state folder's (for a stream, the
    /// only way to have one). It must record this input and destination.
    pub journal: Option<PathBuf>,
    /// The rejected events' file, instead of the one beside the journal.
    pub rejects: Option<PathBuf>,
    /// Ignore the journal's records and start over.
    pub restart: bool,
}

impl Bookkeeping {
    /// Journals and rejects in the state folder the environment names.
    pub fn in_state_folder() -> Bookkeeping {
        Bookkeeping {
            state_dir: state_dir_from_env(),
            ..Bookkeeping::default()
        }
    }
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
    /// Events this run sent that may already have reached the API: sent
    /// again after an attempt that may have arrived, or left so by an
    /// earlier run.
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
    /// The API refused requests while it had accepted none: the request,
    /// not its events, looks wrong, and no event was called rejected.
    RequestRefused {
        /// The answer's status.
        status: u16,
        /// The API's answer.
        answer: String,
    },
    /// An error no retry mends: a redirect, an untrusted certificate, an
    /// unknown host, a proxy's refusal, another 4xx.
    Failed(UploadError),
    /// The journal or the rejects file could not be written: the run
    /// stopped before anything more went out unrecorded.
    Journal(String),
    /// A batch could not be encrypted.
    Local {
        /// What failed.
        error: String,
    },
    /// The input stopped being readable part-way (a stream's broken JSON),
    /// or grew while it was sent.
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
            StopReason::RequestRefused { answer, .. } => write!(
                f,
                "the API refused the request ({answer}) and has accepted none with this key and \
                 method: the request, not the events, looks wrong, so no event was recorded as \
                 rejected"
            ),
            StopReason::Failed(error) => write!(f, "{error}"),
            StopReason::Journal(error) => write!(f, "{error}"),
            StopReason::Local { error } | StopReason::Input { error } => f.write_str(error),
        }
    }
}

/// Something a run did that its caller should tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// A journal left beside the input by an earlier version was moved
    /// into the state folder, and continued.
    Moved {
        /// Where it was.
        from: PathBuf,
        /// Where it is now.
        to: PathBuf,
    },
    /// The API key is not the one the journal recorded: the delivery goes on.
    KeyChanged,
    /// The file changed since it was sent in full: sent as a new delivery.
    ChangedSinceFinished,
    /// The file changed since an earlier run, none of whose requests can
    /// have reached the API: it was sent from the start.
    StartedOver,
    /// Finished journals older than [`KEEP_FINISHED`] were removed.
    OldJournalsRemoved(usize),
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Moved { from, to } => write!(
                f,
                "the journal {} (left beside the input by an earlier version) was moved to {}, \
                 and continued",
                from.display(),
                to.display()
            ),
            Note::KeyChanged => f.write_str(
                "the API key is not the one the journal recorded (a rotated key?): the delivery \
                 goes on where it stopped",
            ),
            Note::ChangedSinceFinished => f.write_str(
                "the input changed since it was sent in full: it is sent again as a new delivery",
            ),
            Note::StartedOver => f.write_str(
                "the input changed since an earlier run, none of whose requests can have reached \
                 the API: it is sent from the start",
            ),
            Note::OldJournalsRemoved(n) => write!(
                f,
                "removed {n} finished journal{} older than {} days",
                if *n == 1 { "" } else { "s" },
                KEEP_FINISHED.as_secs() / 86_400
            ),
        }
    }
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
    /// Batches this run handed to the network (each one request, unless
    /// the API refused it and it was split).
    pub batches: u64,
    /// The whole input went in one request (retried or not), which the API
    /// accepted: `last_answer` is its answer.
    pub single_request: bool,
    /// The journal, if the run kept one.
    pub journal: Option<PathBuf>,
    /// The rejects file, if it holds any rejected event.
    pub rejects: Option<PathBuf>,
    /// Whether a rerun can resume: false for a stream without a journal.
    pub resumable: bool,
    /// Events the API acknowledged that the journal could not record: a
    /// rerun sends them again.
    pub unrecorded: u64,
    /// Events of requests that may have reached the API unacknowledged,
    /// which this run did not send again: a rerun sends them, counted as
    /// possible duplicates.
    pub in_doubt: u64,
    /// What the run did that the user should hear of.
    pub notes: Vec<Note>,
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
    /// The rejects file names a file that holds something else.
    #[error(transparent)]
    NotRejectsFile(#[from] NotRejectsFile),
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
    /// The state folder could not be made or used.
    #[error("could not use the state folder {path}")]
    StateFolder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file's journal has no place: no state folder, and none named.
    #[error(
        "there is no state folder for the journal: neither XDG_STATE_HOME (an absolute path) nor \
         HOME is set"
    )]
    NoStateFolder,
    /// The file changed after some of it may have reached the API:
    /// resuming would mix two inputs.
    #[error(
        "the input changed since an earlier run sent part of it ({sent} events acknowledged, \
         {in_doubt} possibly delivered; journal {journal}): resuming would mix two inputs"
    )]
    InputChanged {
        /// The journal.
        journal: PathBuf,
        /// Events acknowledged.
        sent: u64,
        /// Events whose requests may have arrived.
        in_doubt: u64,
    },
    /// A journaled stream is not the stream the journal recorded.
    #[error(
        "the input is not the one the journal recorded: its first {} bytes differ (SHA-256 \
         {:.12}… recorded, {:.12}… now)", recorded.size, recorded.sha256, now.sha256
    )]
    StreamChanged {
        /// What the journal recorded.
        recorded: Fingerprint,
        /// The input, as far as it was read.
        now: Fingerprint,
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
    /// The journal records another delivery.
    #[error("the journal {journal} records {recorded}, not this delivery")]
    OtherDelivery {
        /// The journal.
        journal: PathBuf,
        /// What it records: another input or destination.
        recorded: String,
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
    /// Where this job's events go.
    pub fn destination(&self) -> Destination {
        Destination {
            endpoint: self.endpoint.to_string(),
            asset: self.options.asset.clone(),
        }
    }

    /// Sends every event of `input` not yet acknowledged, as `bookkeeping` records.
    pub fn run(
        &self,
        input: BulkInput,
        format: InputFormat,
        bookkeeping: &Bookkeeping,
    ) -> Result<BulkSummary, BulkError> {
        let transport = transport::Http {
            client: self.client,
            endpoint: self.endpoint,
            api_key: self.api_key,
            method: self.cipher.method(),
        };
        run::Engine {
            transport: &transport,
            cipher: self.cipher,
            destination: self.destination(),
            api_key: self.api_key.expose(),
            options: &self.options,
            stop: self.stop,
            counts: self.counts,
            on_request: self.on_request,
            #[cfg(test)]
            wrap_journal: None,
        }
        .run(input, format, bookkeeping)
    }
}
