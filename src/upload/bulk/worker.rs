//! Delivering one batch: encrypt, POST, retry what may succeed later, split
//! what the API refuses to find the events at fault, and record the outcome.
//!
//! The accounting rules:
//! - a request is journaled as begun before it goes, and as never arrived
//!   when its every attempt surely did not reach the API (refused before
//!   sending, an answer that accepted nothing): only the others count as
//!   possible duplicates when sent again;
//! - a refused request is not a rejected event: while the API has accepted
//!   nothing with this key and method, a refusal stops the run as the
//!   request's problem; an event is rejected only when its own request is
//!   refused while others are accepted.

use std::time::{Duration, Instant};

use super::super::{Answer, UploadError};
use super::ledger::Ledger;
use super::resume::Ranges;
use super::retry::Pacer;
use super::source::{Fingerprint, Position};
use super::transport::Transport;
use super::{BulkOptions, LiveCounts, RequestLog, StopReason};
use crate::{Cipher, request};

/// A `Retry-After` longer than this gives the batch up (a rerun goes on later).
pub const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(300);
/// When every part of a refused batch's split at this many parts (eighths)
/// is refused alike, and nothing was accepted, the fault is taken to be the
/// request's, not the events': 15 requests, not a thousand.
const ALIKE_LEVEL: usize = 8;

/// A batch: events of one asset, in input order, the numbers `from..to`
/// (some of which, rejected or done before, it may skip).
pub(crate) struct Batch {
    pub from: u64,
    pub to: u64,
    pub asset: String,
    pub events: Vec<BatchEvent>,
    pub bytes: usize,
    /// A stream's fingerprint up to this batch's end, for the journal.
    pub checkpoint: Option<Fingerprint>,
}

pub(crate) struct BatchEvent {
    pub ordinal: u64,
    pub position: Position,
    pub text: Box<serde_json::value::RawValue>,
}

/// Sends batches.
pub(crate) struct Worker<'a> {
    pub transport: &'a dyn Transport,
    pub cipher: &'a Cipher,
    pub options: &'a BulkOptions,
    pub ledger: &'a Ledger<'a>,
    pub pacer: Option<&'a Pacer>,
    pub on_request: Option<&'a (dyn Fn(&RequestLog<'_>) + Sync)>,
    /// What earlier runs sent without an acknowledgement.
    pub unacked: &'a Ranges,
}

/// How one request ended, after its retries.
enum Attempt {
    Accepted(Answer),
    Refused { status: u16, answer: String },
    Stopped,
}

/// One part of a batch being delivered.
#[derive(Clone, Copy)]
struct Part<'b> {
    from: u64,
    to: u64,
    events: &'b [BatchEvent],
}

impl Worker<'_> {
    pub fn deliver(&self, batch: Batch) {
        // A refused batch is split level by level: halves, quarters, ...
        let mut level = vec![Part {
            from: batch.from,
            to: batch.to,
            events: &batch.events,
        }];
        let mut first_refusal: Option<(u16, String)> = None;
        let mut accepted_here = false;
        let mut rejected: Vec<(&BatchEvent, u16, String)> = Vec::new();
        let checkpoint = batch.checkpoint.as_ref();
        while !level.is_empty() {
            let mut next = Vec::new();
            let mut all_refused_alike = true;
            for part in &level {
                match self.request(&batch.asset, *part, checkpoint) {
                    Attempt::Accepted(answer) => {
                        accepted_here = true;
                        all_refused_alike = false;
                        let events = part.events.len() as u64;
                        self.ledger.acked(part.from, part.to, events, answer);
                    }
                    Attempt::Refused { status, answer } => {
                        match &first_refusal {
                            None => first_refusal = Some((status, answer.clone())),
                            Some(first) if (first.0, first.1.as_str()) != (status, &*answer) => {
                                all_refused_alike = false;
                            }
                            Some(_) => {}
                        }
                        if let [event] = part.events {
                            rejected.push((event, status, answer));
                        } else {
                            let half = part.events.len() / 2;
                            let middle = part.events[half].ordinal;
                            next.push(Part {
                                to: middle,
                                events: &part.events[..half],
                                ..*part
                            });
                            next.push(Part {
                                from: middle,
                                events: &part.events[half..],
                                ..*part
                            });
                        }
                    }
                    Attempt::Stopped => return,
                }
            }
            let nothing_accepted = !accepted_here && !self.ledger.accepted_any();
            if nothing_accepted && all_refused_alike && level.len() >= ALIKE_LEVEL {
                let (status, answer) = first_refusal.unwrap_or_default();
                self.ledger
                    .stop(StopReason::RequestRefused { status, answer });
                return;
            }
            level = next;
        }
        if !rejected.is_empty() && !accepted_here && !self.ledger.accepted_any() {
            // Nothing has been accepted: the request may be at fault, so no
            // event is called rejected.
            let (status, answer) = first_refusal.unwrap_or_default();
            self.ledger
                .stop(StopReason::RequestRefused { status, answer });
            return;
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
                self.ledger.stop(StopReason::Journal(e.to_string()));
            }
        }
    }

    /// One request for `part`, retried as the options say.
    fn request(&self, asset: &str, part: Part<'_>, checkpoint: Option<&Fingerprint>) -> Attempt {
        let Some(body) = self.body(part.events) else {
            return Attempt::Stopped;
        };
        let counts = self.ledger.counts;
        let events = part.events.len() as u64;
        // Whether some attempt may have reached the API unacknowledged.
        let mut may_have_arrived = false;
        let mut retry = 0;
        // The request ends unacknowledged: the journal learns whether it
        // surely never arrived, the summary whether it is in doubt.
        let never_arrived = |may_have_arrived: bool| {
            if may_have_arrived {
                self.ledger.in_doubt(events);
            } else {
                self.ledger.note(&super::journal::Record::Unsent {
                    from: part.from,
                    to: part.to,
                });
            }
        };
        loop {
            let paced = self.pacer.is_none_or(|pacer| self.sleep(pacer.reserve()));
            if !paced || self.ledger.stopped() {
                if retry > 0 {
                    never_arrived(may_have_arrived);
                }
                return Attempt::Stopped;
            }
            if retry == 0 {
                let began = super::journal::Record::Sent {
                    from: part.from,
                    to: part.to,
                    events,
                    offset: checkpoint.map(|c| c.size),
                    sha256: checkpoint.map(|c| c.sha256.clone()),
                };
                if !self.ledger.note(&began) {
                    return Attempt::Stopped;
                }
                let earlier = part
                    .events
                    .iter()
                    .filter(|e| self.unacked.contains(e.ordinal))
                    .count();
                LiveCounts::add(&counts.possible_duplicates, earlier as u64);
            }
            LiveCounts::add(&counts.requests, 1);
            let started = Instant::now();
            let result = self.transport.post(asset, &body);
            if let Some(log) = self.on_request {
                log(&RequestLog {
                    asset,
                    events: part.events.len(),
                    body_bytes: body.len(),
                    result: result.as_ref(),
                    elapsed: started.elapsed(),
                });
            }
            let (failure, floor, arrived) = match result {
                Ok(answer) => return Attempt::Accepted(answer),
                Err(UploadError::Rejected {
                    status,
                    reason,
                    body,
                    ..
                }) if matches!(status, 400 | 413 | 422) => {
                    never_arrived(may_have_arrived);
                    let answer = format!("{status} {reason}: {body}");
                    return Attempt::Refused { status, answer };
                }
                Err(
                    error @ UploadError::Rejected {
                        status: 401 | 403, ..
                    },
                ) => {
                    never_arrived(may_have_arrived);
                    self.ledger.stop(StopReason::Unauthorized(error));
                    return Attempt::Stopped;
                }
                Err(
                    error @ UploadError::Rejected {
                        status,
                        retry_after,
                        ..
                    },
                ) if status == 429 || (500..600).contains(&status) => {
                    // 429 and 503 say "not now"; another 5xx (a gateway's
                    // 502 or 504, a 500) may come after the API took them.
                    let arrived = !matches!(status, 429 | 503);
                    (error, retry_after, arrived)
                }
                Err(error @ (UploadError::Timeout { .. } | UploadError::Connection { .. })) => {
                    let arrived = error.may_have_arrived();
                    (error, None, arrived)
                }
                Err(error) => {
                    never_arrived(may_have_arrived);
                    self.ledger.stop(StopReason::Failed(error));
                    return Attempt::Stopped;
                }
            };
            may_have_arrived |= arrived;
            if retry >= self.options.retries {
                never_arrived(may_have_arrived);
                self.ledger.stop(StopReason::GaveUp(failure));
                return Attempt::Stopped;
            }
            if let Some(wait) = floor.filter(|wait| *wait > LONGEST_RETRY_AFTER) {
                never_arrived(may_have_arrived);
                self.ledger.stop(StopReason::WaitTooLong {
                    error: failure,
                    wait,
                });
                return Attempt::Stopped;
            }
            if !self.sleep(self.options.backoff.wait(retry, floor)) {
                never_arrived(may_have_arrived);
                return Attempt::Stopped;
            }
            // Counted once the retry is sure to go.
            LiveCounts::add(&counts.retried, 1);
            if arrived {
                // The API may have taken the events before the answer was lost.
                LiveCounts::add(&counts.possible_duplicates, events);
            }
            retry += 1;
        }
    }

    /// The request body for `events`, or none (the run stopped) if they
    /// could not be encrypted.
    fn body(&self, events: &[BatchEvent]) -> Option<String> {
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
        match self.cipher.encrypt(&payload) {
            Ok(ciphertext) => Some(request::body(&ciphertext)),
            Err(e) => {
                self.ledger.stop(StopReason::Local {
                    error: format!("could not encrypt a batch: {e}"),
                });
                None
            }
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
