//! What the threads of a run share: the journal, the rejects, the counts,
//! and whether (and why) the run is stopping.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::events::Warnings;

use super::super::Answer;
use super::journal::{Journal, JournalError, Record};
use super::rejects::{RejectedText, Rejection, RejectsFile};
use super::source::Position;
use super::{BulkError, LiveCounts, StopReason};

/// The rejects the summary keeps for a caller to show.
const FIRST_REJECTS_KEPT: usize = 3;

pub(crate) struct Ledger<'a> {
    journal: Option<Mutex<Journal>>,
    rejects: Mutex<Rejects>,
    pub counts: &'a LiveCounts,
    stop_reason: Mutex<Option<StopReason>>,
    stopping: AtomicBool,
    external: &'a AtomicBool,
    pub warnings: Mutex<Warnings>,
    last_answer: Mutex<Option<Answer>>,
    /// Requests of this run the API accepted.
    accepted_requests: AtomicU64,
    /// Whether the API accepted a request with this key and method (in an
    /// earlier run too): then a refused event is the event's fault.
    accepted_before: bool,
    /// How many events of the input the checks may reject (`--max-rejects`),
    /// and how many they have, earlier runs' included.
    max_rejects: u64,
    rejected_by_checks: AtomicU64,
    /// While a file's check pass runs: every event is judged before any stop.
    pub checking_whole_input: AtomicBool,
    /// Events the API acknowledged whose acknowledgement the journal lacks.
    unrecorded: AtomicU64,
    /// Events of requests that may have reached the API, neither
    /// acknowledged nor sent again by this run.
    in_doubt: AtomicU64,
}

struct Rejects {
    file: RejectsFile,
    first: Vec<Rejection>,
    /// Written to the file, not yet to the journal (and whether the API refused them).
    unjournaled: Vec<(u64, bool)>,
}

/// How a run ended, as the ledger saw it.
pub(crate) struct Closing {
    pub stopped: Option<StopReason>,
    pub first_rejects: Vec<Rejection>,
    pub warnings: Warnings,
    pub last_answer: Option<Answer>,
    pub unrecorded: u64,
    pub in_doubt: u64,
}

impl<'a> Ledger<'a> {
    pub fn new(
        journal: Option<Journal>,
        rejects: RejectsFile,
        counts: &'a LiveCounts,
        external: &'a AtomicBool,
        max_rejects: u64,
        rejected_by_checks: u64,
        accepted_before: bool,
    ) -> Ledger<'a> {
        Ledger {
            journal: journal.map(Mutex::new),
            rejects: Mutex::new(Rejects {
                file: rejects,
                first: Vec::new(),
                unjournaled: Vec::new(),
            }),
            counts,
            stop_reason: Mutex::new(None),
            stopping: AtomicBool::new(false),
            external,
            warnings: Mutex::new(Warnings::default()),
            last_answer: Mutex::new(None),
            accepted_requests: AtomicU64::new(0),
            accepted_before,
            max_rejects,
            rejected_by_checks: AtomicU64::new(rejected_by_checks),
            checking_whole_input: AtomicBool::new(false),
            unrecorded: AtomicU64::new(0),
            in_doubt: AtomicU64::new(0),
        }
    }

    pub fn stopped(&self) -> bool {
        if self.external.load(Ordering::Relaxed) {
            self.stop(StopReason::Interrupted);
        }
        self.stopping.load(Ordering::Relaxed)
    }

    /// Stops the run; the first reason given is the one reported.
    pub fn stop(&self, reason: StopReason) {
        let mut slot = lock(&self.stop_reason);
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// Whether the API accepted a request of this run, or of an earlier
    /// run with the same key and method.
    pub fn accepted_any(&self) -> bool {
        self.accepted_before || self.accepted_requests.load(Ordering::Relaxed) > 0
    }

    /// Appends a record and makes it durable.
    pub fn record(&self, record: &Record) -> Result<(), JournalError> {
        if let Some(journal) = &self.journal {
            let mut journal = lock(journal);
            journal.append(record)?;
            journal.sync()?;
        }
        Ok(())
    }

    /// Appends a record without waiting for the disk: a request about to
    /// begin, or one that never arrived. A failure stops the run, so that
    /// nothing goes out unrecorded.
    pub fn note(&self, record: &Record) -> bool {
        let Some(journal) = &self.journal else {
            return true;
        };
        match lock(journal).append(record) {
            Ok(()) => true,
            Err(error) => {
                self.stop(StopReason::Journal(error.to_string()));
                false
            }
        }
    }

    /// The API acknowledged the events `from..to` (`events` of them).
    pub fn acked(&self, from: u64, to: u64, events: u64, answer: Answer) {
        LiveCounts::add(&self.counts.sent, events);
        self.accepted_requests.fetch_add(1, Ordering::Relaxed);
        *lock(&self.last_answer) = Some(answer);
        // A rerun would send them again: stop, and say how many.
        if let Err(e) = self.record(&Record::Acked { from, to, events }) {
            self.unrecorded.fetch_add(events, Ordering::Relaxed);
            self.stop(StopReason::Journal(e.to_string()));
        }
    }

    /// `events` may have reached the API, and this run leaves them so.
    pub fn in_doubt(&self, events: u64) {
        self.in_doubt.fetch_add(events, Ordering::Relaxed);
    }

    /// Writes a rejected event to the rejects file (the journal learns of it
    /// at the next [`Ledger::flush_rejects`]).
    pub fn reject(
        &self,
        ordinal: u64,
        position: Position,
        reasons: Vec<String>,
        answer: Option<(u16, &str)>,
        event: RejectedText<'_>,
    ) -> Result<(), BulkError> {
        let rejection = Rejection {
            ordinal,
            position,
            reasons,
        };
        let mut guard = lock(&self.rejects);
        let rejects = &mut *guard;
        rejects
            .file
            .write(&rejection, answer, event)
            .map_err(|source| BulkError::Rejects {
                path: rejects.file.path().map(Into::into).unwrap_or_default(),
                source,
            })?;
        if rejects.first.len() < FIRST_REJECTS_KEPT {
            rejects.first.push(rejection);
        }
        rejects.unjournaled.push((ordinal, answer.is_some()));
        drop(guard);
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
    pub fn stop_if_too_many_rejects(&self) {
        if self.rejected_by_checks.load(Ordering::Relaxed) > self.max_rejects {
            self.stop(StopReason::TooManyRejects {
                limit: self.max_rejects,
            });
        }
    }

    /// Makes the rejects written so far durable, then tells the journal.
    pub fn flush_rejects(&self) -> Result<(), BulkError> {
        let mut rejects = lock(&self.rejects);
        if rejects.unjournaled.is_empty() {
            return Ok(());
        }
        let path = rejects.file.path().map(Into::into).unwrap_or_default();
        rejects
            .file
            .sync()
            .map_err(|source| BulkError::Rejects { path, source })?;
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

    /// The reason the run stopped, if it did.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stopped();
        lock(&self.stop_reason).clone()
    }

    /// What the summary needs.
    pub fn close(&self) -> Closing {
        let mut rejects = lock(&self.rejects);
        Closing {
            stopped: self.stop_reason(),
            first_rejects: std::mem::take(&mut rejects.first),
            warnings: std::mem::take(&mut *lock(&self.warnings)),
            last_answer: lock(&self.last_answer).take(),
            unrecorded: self.unrecorded.load(Ordering::Relaxed),
            in_doubt: self.in_doubt.load(Ordering::Relaxed),
        }
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
