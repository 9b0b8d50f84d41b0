//! One run of a bulk upload: the delivery's journal opened, a file checked
//! whole, then the events read again and sent by a few workers, and the
//! summary.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use crate::Cipher;

use super::delivery::{self, InputId, Opened};
use super::feeder::{Feeder, Pass};
use super::journal::{Destination, Record};
use super::ledger::{Ledger, lock};
use super::rejects::RejectsFile;
use super::retry::Pacer;
use super::source::{EventSource, Fingerprint, SourceError};
use super::transport::Transport;
use super::worker::{Batch, Worker};
use super::{
    Bookkeeping, BulkError, BulkInput, BulkOptions, BulkSummary, InputFormat, LiveCounts, Note,
    RequestLog, state,
};

/// A bulk upload over some transport.
pub(crate) struct Engine<'a> {
    pub transport: &'a dyn Transport,
    pub cipher: &'a Cipher,
    pub destination: Destination,
    /// The API key, only to tell (by fingerprint) whether it changed.
    pub api_key: &'a str,
    pub options: &'a BulkOptions,
    pub stop: &'a AtomicBool,
    pub counts: &'a LiveCounts,
    pub on_request: Option<&'a (dyn Fn(&RequestLog<'_>) + Sync)>,
    /// Tests put the journal's storage inside a failing one.
    #[cfg(test)]
    pub wrap_journal: Option<&'a super::tests::WrapStorage>,
}

impl Engine<'_> {
    pub fn run(
        &self,
        input: BulkInput,
        format: InputFormat,
        bookkeeping: &Bookkeeping,
    ) -> Result<BulkSummary, BulkError> {
        let started = Instant::now();
        let (path, mut stream) = match input {
            BulkInput::File(path) => (Some(path), None),
            BulkInput::Stream(reader) => (None, Some(reader)),
        };
        let id = InputId::new(path.as_deref(), format)?;
        let fingerprint = match &path {
            Some(path) => Some(fingerprint_file(path)?),
            None => None,
        };
        let Opened {
            journal,
            resume,
            fresh,
            rejects,
            mut notes,
        } = delivery::open(&id, &self.destination, bookkeeping, fingerprint.as_ref())?;
        // A rejects file that is not one is refused before anything is written.
        let rejects_file = RejectsFile::new(rejects.clone(), fresh)?;
        let journal_path = journal.as_ref().map(|j| j.path().to_owned());
        #[cfg(test)]
        let journal = match (journal, self.wrap_journal) {
            (Some(journal), Some(wrap)) => Some(journal.wrap(wrap)),
            (journal, _) => journal,
        };
        let mut journal = journal;

        let counts = self.counts;
        LiveCounts::add(&counts.sent, resume.sent);
        LiveCounts::add(&counts.rejected, resume.rejected);
        let base = Summarizing {
            started,
            sent_before: resume.sent,
            journal: journal_path.clone(),
            rejects: rejects.clone(),
        };
        if let Some(read) = resume.finished
            && !fresh
        {
            // A stream is read to its end to be sure it is the one recorded.
            if let (Some(reader), Some(recorded)) = (stream.take(), &resume.read_all) {
                let now = fingerprint_reader(reader)?;
                if now != *recorded {
                    return Err(BulkError::StreamChanged {
                        recorded: recorded.clone(),
                        now,
                    });
                }
            }
            counts.read.store(read, Ordering::Relaxed);
            let mut summary = base.summary(counts, None, 0, notes);
            summary.already_sent = true;
            return Ok(summary);
        }
        let mut stream = stream.map(|reader| {
            let source = EventSource::new(reader, format);
            if journal.is_some() {
                source.with_prefixes()
            } else {
                source.without_fingerprint()
            }
        });

        // The key and the method requests carry from now on.
        let key = match &bookkeeping.state_dir {
            Some(state_dir) if journal.is_some() => Some(
                state::prepare(state_dir)
                    .and_then(|()| state::key_fingerprint(state_dir, self.api_key))
                    .map_err(|source| BulkError::StateFolder {
                        path: state_dir.clone(),
                        source,
                    })?,
            ),
            _ => None,
        };
        let client = (key, self.cipher.method().code());
        if let Some(journal) = &mut journal {
            if fresh {
                journal.start_over(delivery::header(
                    &id,
                    &self.destination,
                    fingerprint.clone(),
                ))?;
            }
            if resume.client.as_ref() != Some(&client) {
                if let (Some((Some(before), _)), Some(now)) = (&resume.client, &client.0)
                    && before != now
                {
                    notes.push(Note::KeyChanged);
                }
                journal.append(&Record::Client {
                    key: client.0.clone(),
                    method: client.1,
                })?;
                journal.sync()?;
            }
        }
        let accepted_before =
            resume.accepted_with_client && resume.client.as_ref() == Some(&client);
        let ledger = Ledger::new(
            journal,
            rejects_file,
            counts,
            self.stop,
            self.options.max_rejects,
            resume.rejected_by_checks,
            accepted_before,
        );
        let mut feeder = Feeder::new(self.options, &ledger, &resume);
        let pacer = self.options.rate.map(Pacer::new);
        let open_file = |path: &Path| -> Result<Box<dyn BufRead + Send>, BulkError> {
            let file = File::open(path).map_err(|source| BulkError::Open {
                path: path.to_owned(),
                source,
            })?;
            Ok(Box::new(BufReader::with_capacity(256 << 10, file)))
        };

        let (sender, receiver) = mpsc::sync_channel::<Batch>(0);
        let receiver = Mutex::new(receiver);
        let result = std::thread::scope(|scope| -> Result<(), BulkError> {
            if let Some(path) = &path {
                // A file is checked completely before the first request.
                let source = EventSource::new(open_file(path)?, format).without_fingerprint();
                ledger.checking_whole_input.store(true, Ordering::Relaxed);
                feeder.feed(source, Pass::CheckOnly, None)?;
                ledger.checking_whole_input.store(false, Ordering::Relaxed);
                let total = counts.read.load(Ordering::Relaxed);
                feeder.checked = Some(total);
                counts.total.store(total, Ordering::Relaxed);
                ledger.flush_rejects()?;
                ledger.stop_if_too_many_rejects();
                if ledger.stopped() {
                    return Ok(());
                }
                counts.read.store(0, Ordering::Relaxed);
            }
            for _ in 0..self.options.concurrency.max(1) {
                let worker = Worker {
                    transport: self.transport,
                    cipher: self.cipher,
                    options: self.options,
                    ledger: &ledger,
                    pacer: pacer.as_ref(),
                    on_request: self.on_request,
                    unacked: &resume.unacked,
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
            let fed = match (&path, stream.take()) {
                (Some(path), _) => {
                    let source = EventSource::new(open_file(path)?, format);
                    feeder.feed(source, Pass::Send, Some(&sender))
                }
                (None, Some(source)) => feeder.feed(source, Pass::CheckAndSend, Some(&sender)),
                (None, None) => Ok(()),
            };
            drop(sender);
            fed
        });
        result?;
        ledger.flush_rejects()?;

        // A file must still be the one fingerprinted when the send pass ends.
        if let (Some(before), Some(after)) = (&fingerprint, &feeder.fingerprint)
            && before != after
            && ledger.stop_reason().is_none()
        {
            ledger.stop(super::StopReason::Input {
                error: "the input file changed while it was being sent".to_owned(),
            });
        }
        let snapshot = counts.snapshot();
        // A file's events were all counted by its check pass, even if sending stopped early.
        let read = snapshot
            .read
            .max(snapshot.total.unwrap_or(0))
            .max(resume.highest_known);
        counts.read.store(read, Ordering::Relaxed);
        let pending = read.saturating_sub(snapshot.sent + snapshot.rejected);
        if ledger.stop_reason().is_none() && feeder.read_to_end {
            if let Some(input) = feeder.fingerprint.clone().filter(|_| path.is_none()) {
                ledger.record(&Record::Read {
                    events: read,
                    input,
                })?;
            }
            if pending == 0 {
                ledger.record(&Record::Finished {
                    sent: snapshot.sent,
                    rejected: snapshot.rejected,
                })?;
            }
        }
        let requests = snapshot.requests - snapshot.retried;
        let mut summary = base.summary(counts, Some(&ledger), pending, notes);
        summary.batches = feeder.dispatched;
        summary.single_request = feeder.dispatched == 1
            && requests == 1
            && summary.last_answer.is_some()
            && summary.pending == 0
            && summary.counts.rejected == 0
            && summary.counts.sent > summary.sent_before;
        Ok(summary)
    }
}

/// What a summary needs beside the counts and the ledger.
struct Summarizing {
    started: Instant,
    sent_before: u64,
    journal: Option<std::path::PathBuf>,
    rejects: Option<std::path::PathBuf>,
}

impl Summarizing {
    fn summary(
        self,
        counts: &LiveCounts,
        ledger: Option<&Ledger<'_>>,
        pending: u64,
        notes: Vec<Note>,
    ) -> BulkSummary {
        let closing = ledger.map(Ledger::close);
        let rejects = self
            .rejects
            .filter(|path| std::fs::metadata(path).is_ok_and(|m| m.len() > 0));
        let mut summary = BulkSummary {
            counts: counts.snapshot(),
            sent_before: self.sent_before,
            pending,
            already_sent: false,
            stopped: None,
            first_rejects: Vec::new(),
            warnings: Default::default(),
            last_answer: None,
            batches: 0,
            single_request: false,
            resumable: self.journal.is_some(),
            journal: self.journal,
            rejects,
            unrecorded: 0,
            in_doubt: 0,
            notes,
            elapsed: self.started.elapsed(),
        };
        if let Some(closing) = closing {
            summary.stopped = closing.stopped;
            summary.first_rejects = closing.first_rejects;
            summary.warnings = closing.warnings;
            summary.last_answer = closing.last_answer;
            summary.unrecorded = closing.unrecorded;
            summary.in_doubt = closing.in_doubt;
        }
        summary
    }
}

/// The size and SHA-256 of a file.
pub(crate) fn fingerprint_file(path: &Path) -> Result<Fingerprint, BulkError> {
    let file = File::open(path).map_err(|source| BulkError::Open {
        path: path.to_owned(),
        source,
    })?;
    fingerprint_reader(file)
}

/// The size and SHA-256 of everything `reader` holds.
fn fingerprint_reader(mut reader: impl Read) -> Result<Fingerprint, BulkError> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut size = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
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
        sha256: base16ct::lower::encode_string(&hasher.finalize()),
    })
}
