//! Reading a bulk upload's events: each is checked, skipped if an earlier
//! run finished it, and put into a batch of one asset; full batches go to
//! the workers.

use std::collections::HashSet;
use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use crate::events::{self, MAX_REQUEST_BYTES};

use super::ledger::{Ledger, lock};
use super::resume::Resume;
use super::source::{EventSource, Fingerprint, SourceEvent};
use super::worker::{Batch, BatchEvent};
use super::{BulkError, BulkOptions, StopReason};

/// What a pass over the input does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// A file's first pass: judge every event, send nothing.
    CheckOnly,
    /// A file's second pass: send what the first pass let through.
    Send,
    /// A stream's one pass.
    CheckAndSend,
}

/// The most asset changes a file's check pass keeps for its send pass.
const MAX_ASSET_RUNS: usize = 100_000;

/// Reads events, checks them, and hands batches to the workers.
pub(crate) struct Feeder<'a> {
    pub options: &'a BulkOptions,
    pub ledger: &'a Ledger<'a>,
    pub resume: &'a Resume,
    batch: Option<Batch>,
    /// A file's events the check pass rejected, skipped by the send pass.
    check_rejected: HashSet<u64>,
    /// Batches handed to the workers.
    pub dispatched: u64,
    /// A file's assets, as the check pass found them: (first event, asset)
    /// where the asset changes, so that the send pass need not parse events
    /// again. None when there are too many changes to keep.
    asset_runs: Option<Vec<(u64, String)>>,
    run_cursor: usize,
    /// How many events a file's check pass read.
    pub checked: Option<u64>,
    /// Whether the input was read to its end.
    pub read_to_end: bool,
    /// The input's fingerprint once read to its end (if it was hashed).
    pub fingerprint: Option<Fingerprint>,
}

impl<'a> Feeder<'a> {
    pub fn new(options: &'a BulkOptions, ledger: &'a Ledger<'a>, resume: &'a Resume) -> Self {
        Feeder {
            options,
            ledger,
            resume,
            batch: None,
            check_rejected: HashSet::new(),
            dispatched: 0,
            asset_runs: Some(Vec::new()),
            run_cursor: 0,
            checked: None,
            read_to_end: false,
            fingerprint: None,
        }
    }

    /// One pass over `source`; batches go to `workers` (none for a check pass).
    pub fn feed<R: BufRead>(
        &mut self,
        mut source: EventSource<R>,
        pass: Pass,
        workers: Option<&mpsc::SyncSender<Batch>>,
    ) -> Result<(), BulkError> {
        self.read_to_end = false;
        let checkpoints = &self.resume.checkpoints;
        let mut next_checkpoint = 0;
        for item in source.by_ref() {
            if self.ledger.stopped() {
                return Ok(());
            }
            let event = match item {
                Ok(event) => event,
                Err(error) if pass == Pass::CheckAndSend && self.dispatched > 0 => {
                    // Some batches are out: stop, and let them finish.
                    self.ledger.stop(StopReason::Input {
                        error: error.to_string(),
                    });
                    return Ok(());
                }
                Err(error) => return Err(error.into()),
            };
            let counts = self.ledger.counts;
            counts.read.store(event.ordinal + 1, Ordering::Relaxed);
            // A stream must be, up to each point an earlier run sent from,
            // the stream that run read.
            if let Some(prefix) = &event.prefix {
                while let Some(recorded) = checkpoints.get(next_checkpoint)
                    && recorded.size <= prefix.size
                {
                    if recorded != prefix {
                        return Err(changed(recorded, prefix));
                    }
                    next_checkpoint += 1;
                }
            }
            if pass == Pass::Send
                && let Some(total) = self.checked
                && event.ordinal >= total
            {
                // The file grew after its check: its new events were never checked.
                self.ledger.stop(StopReason::Input {
                    error: format!(
                        "the input file grew while it was being sent (it had {total} events \
                         when checked); the events added were not sent"
                    ),
                });
                return Ok(());
            }
            if self.resume.done.contains(event.ordinal)
                || self.check_rejected.contains(&event.ordinal)
            {
                continue;
            }
            let Some(asset) = self.judge(&event, pass)? else {
                if pass == Pass::CheckOnly {
                    self.check_rejected.insert(event.ordinal);
                }
                if self.ledger.stopped() {
                    return Ok(());
                }
                continue;
            };
            let Some(workers) = workers else { continue };
            let prefix = event.prefix.clone();
            let text = event.text.expect("judged events are JSON");
            let closes = self.batch.as_ref().is_some_and(|b| {
                b.asset != asset
                    || b.events.len() >= self.options.batch_size
                    || b.bytes + text.get().len() > MAX_REQUEST_BYTES
            });
            if closes {
                self.dispatch(workers)?;
                if self.ledger.stopped() {
                    return Ok(());
                }
            }
            let batch = self.batch.get_or_insert_with(|| Batch {
                from: event.ordinal,
                to: event.ordinal,
                asset,
                events: Vec::new(),
                bytes: 2,
                checkpoint: None,
            });
            batch.to = event.ordinal + 1;
            batch.bytes += text.get().len() + 1;
            batch.checkpoint = prefix;
            batch.events.push(BatchEvent {
                ordinal: event.ordinal,
                position: event.position,
                text,
            });
        }
        if self.ledger.stopped() {
            return Ok(());
        }
        let fingerprint = source.fingerprint();
        // An earlier run sent from further into the stream than it now goes.
        if let Some(recorded) = checkpoints.get(next_checkpoint)
            && source.keeps_prefixes()
        {
            return Err(changed(recorded, &fingerprint));
        }
        self.read_to_end = true;
        self.fingerprint = source.is_hashing().then_some(fingerprint);
        if let Some(workers) = workers {
            self.dispatch(workers)?;
        }
        Ok(())
    }

    /// Checks an event (unless this pass does not): its asset if it may be
    /// sent, or none once it has been rejected.
    fn judge(&mut self, event: &SourceEvent, pass: Pass) -> Result<Option<String>, BulkError> {
        let options = self.options;
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
        let own_asset = match &options.rules {
            Some(rules) if pass != Pass::Send => {
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
            _ => {
                // Without the event rules, what every payload needs still holds.
                if let Err(error) = crate::payload::no_lone_surrogate(text.get()) {
                    self.reject(event, vec![format!("{place}: {error}")])?;
                    return Ok(None);
                }
                events::asset_id(text).ok().flatten()
            }
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
        if let Err(e) = super::super::check_header_value(&asset, "asset id") {
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
    fn dispatch(&mut self, workers: &mpsc::SyncSender<Batch>) -> Result<(), BulkError> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        self.ledger.flush_rejects()?;
        self.dispatched += 1;
        if workers.send(batch).is_err() {
            self.ledger.stop(StopReason::Interrupted);
        }
        Ok(())
    }
}

/// The journal's error for a stream that is not the one it recorded.
fn changed(recorded: &Fingerprint, now: &Fingerprint) -> BulkError {
    BulkError::StreamChanged {
        recorded: recorded.clone(),
        now: now.clone(),
    }
}
