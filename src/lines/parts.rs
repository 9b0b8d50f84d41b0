//! Line mode's driver: each chunk's lines are cut into parts, one per core,
//! checked and transformed at the same time, and written in input order.
//!
//! The caller's thread takes the chunks, keeps each chunk's first part and
//! hands the others to helper threads, started once a chunk is large enough
//! to share. Whichever thread finishes the next part due writes it, and any
//! finished parts after it, so that threads seldom wait for each other. But
//! when reading on may wait for input (not a file), the caller waits for a
//! chunk's parts to be written before it asks for more, so that a failure
//! in any part ends the call at once, even if the input then stays open and
//! silent; such a chunk is only shared when large, as each wait costs
//! cross-core wake-ups.
//! Helpers only ever wait for work, never for input, and end with the call.

use std::collections::BTreeMap;
use std::io::Write;
use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Scope};
use std::time::Instant;

use super::{
    LineChunk, LineError, LinesError, LinesSummary, is_blank, line_count, lines_of, strip_cr,
};
use crate::events::Warnings;
use crate::payload::Check;
use crate::tuning::{LINES_MAX_PARTS, LINES_MIN_PART, LINES_MIN_WAITED, LINES_SPIN};

/// How many parts a chunk is cut into at most: one per core.
pub(super) fn per_core() -> usize {
    thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(LINES_MAX_PARTS)
}

/// Checks and transforms the non-blank lines of `chunks`, each cut into at
/// most `max_parts` parts, with transforms made by `new_transform` (one per
/// thread), and writes one output line per payload, in input order,
/// flushing as each part is written.
///
/// A transform appends a line's output, without its newline, to the buffer
/// it is given. After a failure, the lines before it are written and no line
/// after it.
pub(super) fn transform_chunks<W, T>(
    mut max_parts: usize,
    chunks: impl IntoIterator<Item = Result<LineChunk, LinesError>>,
    writer: W,
    new_transform: impl Fn() -> T + Sync,
) -> Result<LinesSummary, LinesError>
where
    W: Write + Send,
    T: FnMut(&[u8], &mut Vec<u8>) -> Result<(), LineError>,
{
    let output = Output::new(writer);
    thread::scope(|scope| {
        // Dropped at the end of this closure, which ends the helpers.
        let mut helpers: Vec<SyncSender<Job>> = Vec::new();
        let mut transform = new_transform();
        let mut next_part = 0;
        for chunk in chunks {
            let LineChunk {
                text,
                first_line,
                check,
                may_stall,
            } = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    output.deliver(next_part, PartDone::failed(error));
                    break;
                }
            };
            let text = Arc::new(text);
            // A chunk that is waited for is only shared when large: each wait
            // costs cross-core wake-ups, and a pipe gives 64 KiB at a time.
            let share = !may_stall || text.len() >= LINES_MIN_WAITED;
            let most = if share { max_parts } else { 1 };
            let mut parts = cut(&text, (text.len() / LINES_MIN_PART).clamp(1, most));
            while helpers.len() + 1 < parts.len() {
                match start_helper(scope, &new_transform, &output) {
                    Some(helper) => helpers.push(helper),
                    None => {
                        // No thread to be had (a process limit): fewer parts.
                        max_parts = helpers.len() + 1;
                        parts = cut(&text, max_parts);
                    }
                }
            }
            for (helper, part) in helpers.iter().zip(&parts[1..]) {
                let job = Job {
                    text: Arc::clone(&text),
                    bytes: part.bytes.clone(),
                    first_line: first_line + part.line_offset,
                    check: Arc::clone(&check),
                    sequence: next_part + part.index,
                };
                // A helper that is gone has panicked; the scope passes that on.
                let _ = helper.send(job);
            }
            let own = transform_part(
                &text[parts[0].bytes.clone()],
                first_line,
                &check,
                &mut transform,
                output.spare(),
            );
            output.deliver(next_part, own);
            next_part += parts.len() as u64;
            let stopped = if may_stall {
                !output.wait_for(next_part)
            } else {
                output.stopped()
            };
            if stopped {
                break;
            }
        }
    });
    output.finish()
}

/// One part for a helper: `text[bytes]`, whose first line is numbered
/// `first_line`, the check its payloads must pass, and its place in the output.
struct Job {
    text: Arc<Vec<u8>>,
    bytes: Range<usize>,
    first_line: u64,
    check: Arc<Check>,
    sequence: u64,
}

/// Starts a thread that transforms the parts it is sent and delivers them
/// to `output`, until the caller drops the sender; `None` if no thread
/// could be started.
fn start_helper<'scope, T, W>(
    scope: &'scope Scope<'scope, '_>,
    new_transform: &'scope (impl Fn() -> T + Sync),
    output: &'scope Output<W>,
) -> Option<SyncSender<Job>>
where
    T: FnMut(&[u8], &mut Vec<u8>) -> Result<(), LineError>,
    W: Write + Send,
{
    let (jobs, job_receiver) = sync_channel::<Job>(1);
    let started = thread::Builder::new().spawn_scoped(scope, move || {
        let _stop = StopIfPanicking(output);
        let mut transform = new_transform();
        while let Some(job) = receive(&job_receiver) {
            if output.stopped() {
                continue; // drained, not transformed
            }
            let part = transform_part(
                &job.text[job.bytes],
                job.first_line,
                &job.check,
                &mut transform,
                output.spare(),
            );
            output.deliver(job.sequence, part);
        }
    });
    started.ok().map(|_| jobs)
}

/// Stops the writing if its thread panics, so that a caller waiting for a
/// part the thread will never deliver returns, and the scope passes the
/// panic on.
struct StopIfPanicking<'a, W: Write>(&'a Output<W>);

impl<W: Write> Drop for StopIfPanicking<'_, W> {
    fn drop(&mut self) {
        if thread::panicking() {
            let _state = self.0.lock();
            self.0.stopped.store(true, Ordering::Relaxed);
            self.0.progress.notify_all();
        }
    }
}

/// The next job, or `None` once the caller has dropped its sender.
fn receive(jobs: &Receiver<Job>) -> Option<Job> {
    spin(|| match jobs.try_recv() {
        Ok(job) => Some(Some(job)),
        Err(TryRecvError::Disconnected) => Some(None),
        Err(TryRecvError::Empty) => None,
    })
    .unwrap_or_else(|| jobs.recv().ok())
}

/// What `poll` gives within [`LINES_SPIN`], asked again and again; `None` if it
/// gave nothing, and the caller should sleep on its wait instead.
fn spin<T>(mut poll: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < LINES_SPIN {
        if let Some(found) = poll() {
            return Some(found);
        }
        std::hint::spin_loop();
    }
    None
}

/// The writer, and the parts transformed but not yet written, in order.
struct Output<W> {
    state: Mutex<OutputState<W>>,
    /// How many parts have been written.
    written: AtomicU64,
    /// Notified as parts are written, and on a failure.
    progress: Condvar,
    /// Set once a part failed: no more parts are transformed or written.
    stopped: AtomicBool,
    /// Written parts' buffers, for the next parts: apart from `state`, so
    /// that taking one never waits for a write.
    spares: Mutex<Vec<Vec<u8>>>,
}

struct OutputState<W> {
    writer: W,
    /// The sequence number of the next part to write.
    next: u64,
    /// Parts finished before the ones due ahead of them.
    waiting: BTreeMap<u64, PartDone>,
    summary: LinesSummary,
    failure: Option<LinesError>,
}

impl<W: Write> Output<W> {
    fn new(writer: W) -> Self {
        Output {
            state: Mutex::new(OutputState {
                writer,
                next: 0,
                waiting: BTreeMap::new(),
                summary: LinesSummary::default(),
                failure: None,
            }),
            written: AtomicU64::new(0),
            progress: Condvar::new(),
            stopped: AtomicBool::new(false),
            spares: Mutex::new(Vec::new()),
        }
    }

    /// Waits until the first `parts` parts are written: `false` if a failure
    /// stopped the writing first.
    fn wait_for(&self, parts: u64) -> bool {
        let settled = spin(|| {
            if self.stopped() {
                Some(false)
            } else {
                (self.written.load(Ordering::Acquire) >= parts).then_some(true)
            }
        });
        if let Some(written) = settled {
            return written;
        }
        let mut state = self.lock();
        while state.next < parts && !self.stopped() {
            state = self
                .progress
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !self.stopped()
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, OutputState<W>> {
        // Only a panic poisons the lock, and the scope passes that panic on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A buffer for a part's output.
    fn spare(&self) -> Vec<u8> {
        self.spares().pop().unwrap_or_default()
    }

    fn spares(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.spares.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes part `sequence`, and writes it and every finished part after it
    /// if it is the one due; stops at the first failure.
    fn deliver(&self, sequence: u64, part: PartDone) {
        let mut state = self.lock();
        if self.stopped() {
            return;
        }
        state.waiting.insert(sequence, part);
        let mut wrote = false;
        loop {
            let due = state.next;
            let Some(part) = state.waiting.remove(&due) else {
                break;
            };
            state.next += 1;
            wrote = true;
            if let Err(error) = state.writer.write_all(&part.output) {
                self.stop(&mut state, LinesError::Write(error));
                return;
            }
            let summary = &mut state.summary;
            summary.payloads += part.payloads;
            summary.lines = part.last_line;
            summary.warnings.merge(part.warnings, None);
            self.spares().push(part.output);
            if let Some(failure) = part.failure {
                // What was done before the failure stays done, and visible.
                let failure = match state.writer.flush() {
                    Ok(()) => failure,
                    Err(error) => LinesError::Write(error),
                };
                self.stop(&mut state, failure);
                return;
            }
        }
        if wrote && let Err(error) = state.writer.flush() {
            self.stop(&mut state, LinesError::Write(error));
            return;
        }
        self.written.store(state.next, Ordering::Release);
        self.progress.notify_all();
    }

    fn stop(&self, state: &mut OutputState<W>, failure: LinesError) {
        state.failure = Some(failure);
        state.waiting.clear();
        self.stopped.store(true, Ordering::Relaxed);
        self.progress.notify_all();
    }

    /// The summary, or the failure that stopped the writing.
    fn finish(self) -> Result<LinesSummary, LinesError> {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        match state.failure {
            Some(failure) => Err(failure),
            None => Ok(state.summary),
        }
    }
}

/// Whole lines of a chunk: its place among the chunk's parts, its bytes, and
/// the number of lines before them.
#[derive(Debug, PartialEq, Eq)]
struct Part {
    index: u64,
    bytes: Range<usize>,
    line_offset: u64,
}

/// Cuts `text` into at most `parts` parts of whole lines and of about the
/// same length, none of them empty (unless `text` is).
fn cut(text: &[u8], parts: usize) -> Vec<Part> {
    let mut cuts = Vec::with_capacity(parts);
    let mut start = 0;
    let mut line_offset = 0;
    for index in 1..parts {
        // The part ends with the line that holds the byte before its aim.
        let aim = (text.len() * index / parts).saturating_sub(1).max(start);
        let Some(newline) = memchr::memchr(b'\n', &text[aim..]) else {
            break;
        };
        let end = aim + newline + 1;
        if end == text.len() {
            break;
        }
        cuts.push(Part {
            index: cuts.len() as u64,
            bytes: start..end,
            line_offset,
        });
        line_offset += line_count(&text[start..end]);
        start = end;
    }
    cuts.push(Part {
        index: cuts.len() as u64,
        bytes: start..text.len(),
        line_offset,
    });
    cuts
}

/// What checking and transforming a part gave.
struct PartDone {
    /// The output lines of the payloads before any failure.
    output: Vec<u8>,
    payloads: u64,
    /// The number of the part's last line.
    last_line: u64,
    /// What the checks of those payloads warned about.
    warnings: Warnings,
    /// Why the part stopped early: no line after the failed one was transformed.
    failure: Option<LinesError>,
}

impl PartDone {
    fn failed(failure: LinesError) -> Self {
        PartDone {
            output: Vec::new(),
            payloads: 0,
            last_line: 0,
            warnings: Warnings::default(),
            failure: Some(failure),
        }
    }
}

/// Checks and transforms the non-blank lines of `text` (the first numbered
/// `first_line`) into `output`, cleared first, up to the first failure.
fn transform_part<T>(
    text: &[u8],
    first_line: u64,
    check: &Check,
    transform: &mut T,
    output: Vec<u8>,
) -> PartDone
where
    T: FnMut(&[u8], &mut Vec<u8>) -> Result<(), LineError>,
{
    let mut done = PartDone {
        output,
        payloads: 0,
        last_line: first_line,
        warnings: Warnings::default(),
        failure: None,
    };
    done.output.clear();
    for (offset, line) in lines_of(text).enumerate() {
        let content = strip_cr(line);
        let line = first_line + offset as u64;
        done.last_line = line;
        if is_blank(content) {
            continue;
        }
        let mark = done.output.len();
        let result = match check.run(content) {
            Ok(warnings) => {
                done.warnings.merge(warnings, Some(line));
                transform(content, &mut done.output)
            }
            Err(error) => Err(LineError::Check(error)),
        };
        if let Err(cause) = result {
            done.output.truncate(mark);
            done.failure = Some(LinesError::Line { line, cause });
            break;
        }
        done.output.push(b'\n');
        done.payloads += 1;
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Each part of `cut`, as text.
    fn pieces<'a>(text: &'a [u8], parts: &[Part]) -> Vec<&'a [u8]> {
        parts.iter().map(|part| &text[part.bytes.clone()]).collect()
    }

    #[test]
    fn cuts_fall_after_newlines_and_count_the_lines_before() {
        let text = b"aa\nbb\ncc\ndd\n";
        let parts = cut(text, 2);
        assert_eq!(pieces(text, &parts), [&b"aa\nbb\n"[..], b"cc\ndd\n"]);
        assert_eq!(parts[1].line_offset, 2);
        let parts = cut(text, 4);
        assert_eq!(
            pieces(text, &parts),
            [&b"aa\n"[..], b"bb\n", b"cc\n", b"dd\n"]
        );
        assert_eq!(
            parts.iter().map(|p| p.line_offset).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn a_long_line_makes_fewer_parts() {
        let text = b"x\nyyyyyyyyyyyyyyyyyyyy\nz";
        let parts = cut(text, 4);
        assert_eq!(
            pieces(text, &parts),
            [&b"x\nyyyyyyyyyyyyyyyyyyyy\n"[..], b"z"]
        );
        assert_eq!(
            pieces(b"no newline", &cut(b"no newline", 3)),
            [b"no newline"]
        );
        // A part is never empty: the text's final newline ends the last part.
        assert_eq!(pieces(b"a\n", &cut(b"a\n", 2)), [b"a\n"]);
    }

    #[test]
    fn line_counts_agree_with_lines_of() {
        for text in [&b"a"[..], b"a\n", b"\n", b"a\n\nb", b"a\r\nb\r\n", b"\n\n"] {
            assert_eq!(line_count(text), lines_of(text).count() as u64, "{text:?}");
        }
    }

    /// Echoes each line; a line `bad` fails.
    fn echo() -> impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), LineError> {
        |line, out| {
            if line == b"bad" {
                return Err(LineError::NewlineInPlaintext);
            }
            out.extend_from_slice(line);
            Ok(())
        }
    }

    fn chunk(text: &[u8], first_line: u64, may_stall: bool) -> Result<LineChunk, LinesError> {
        Ok(LineChunk {
            text: text.to_vec(),
            first_line,
            check: Arc::new(Check::None),
            may_stall,
        })
    }

    /// The output of `transform_chunks` over `chunks` of text, or the
    /// failing line's number, with what was written before it; with
    /// `may_stall`, the caller waits for each chunk to be written.
    fn run(
        max_parts: usize,
        may_stall: bool,
        chunks: &[&[u8]],
    ) -> (Result<LinesSummary, u64>, Vec<u8>) {
        let mut first_line = 1;
        let chunks: Vec<_> = chunks
            .iter()
            .map(|text| {
                let item = chunk(text, first_line, may_stall);
                first_line += line_count(text);
                item
            })
            .collect();
        let mut out = Vec::new();
        let result = transform_chunks(max_parts, chunks, &mut out, echo);
        let result = result.map_err(|error| match error {
            LinesError::Line { line, .. } => line,
            other => panic!("{other}"),
        });
        (result, out)
    }

    /// `lines` lines of about 1 KiB, numbered from 1, the `bad` one named so.
    fn input(lines: u64, bad: Option<u64>) -> Vec<u8> {
        let mut text = Vec::new();
        for line in 1..=lines {
            match (bad == Some(line), line % 7) {
                (true, _) => text.extend_from_slice(b"bad"),
                (false, 0) => text.extend_from_slice(b"  \r"),
                (false, _) => text.extend_from_slice(format!("{line:01000}").as_bytes()),
            }
            text.extend_from_slice(if line % 5 == 0 { b"\r\n" } else { b"\n" });
        }
        text
    }

    /// What one thread writes for the same text: each non-blank line, once.
    fn expected(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in lines_of(text) {
            let content = strip_cr(line);
            if !is_blank(content) {
                out.extend_from_slice(content);
                out.push(b'\n');
            }
        }
        out
    }

    #[test]
    fn parts_are_written_in_input_order() {
        // 200 lines of 1 KiB: 200 KiB, so twelve parts would be possible.
        let text = input(200, None);
        for (max_parts, may_stall) in [1, 2, 3, 8].into_iter().zip([false, true].repeat(4)) {
            let (result, out) = run(max_parts, may_stall, &[&text, b"last\n", &text]);
            let summary = result.unwrap();
            assert_eq!(summary.lines, 401);
            assert_eq!(summary.payloads, 2 * (200 - 200 / 7) + 1);
            let all = [&text[..], b"last\n", &text].concat();
            assert_eq!(out, expected(&all), "{max_parts} parts, {may_stall}");
        }
    }

    #[test]
    fn a_failure_in_any_part_stops_there_with_its_number() {
        for bad in [1, 40, 99, 100, 101, 150, 199, 200] {
            if bad % 7 == 0 {
                continue;
            }
            let text = input(200, Some(bad));
            for (max_parts, may_stall) in [(1, false), (2, false), (2, true), (4, true)] {
                let (result, out) = run(max_parts, may_stall, &[&text, b"after\n"]);
                assert_eq!(result.unwrap_err(), bad, "{max_parts} parts");
                let before =
                    lines_of(&text)
                        .take(bad as usize - 1)
                        .fold(Vec::new(), |mut text, line| {
                            text.extend_from_slice(line);
                            text.push(b'\n');
                            text
                        });
                assert_eq!(out, expected(&before), "line {bad}, {max_parts} parts");
            }
        }
    }

    #[test]
    fn a_helper_that_panics_passes_its_panic_on() {
        // The caller waits for the chunk (may stall): the panicking helper
        // must end that wait rather than leave it hanging.
        let mut text = input(200, None);
        text.extend_from_slice(b"boom\n");
        let (sender, receiver) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let run = std::panic::catch_unwind(|| {
                let chunks = vec![chunk(&text, 1, true)];
                transform_chunks(2, chunks, Vec::new(), || {
                    |line: &[u8], out: &mut Vec<u8>| {
                        assert_ne!(line, b"boom", "a bug in a transform");
                        out.extend_from_slice(line);
                        Ok(())
                    }
                })
            });
            let _ = sender.send(run.is_err());
        });
        let panicked = receiver.recv_timeout(std::time::Duration::from_secs(30));
        assert_eq!(panicked, Ok(true), "the panic did not come back in 30 s");
    }

    #[test]
    fn after_a_failure_the_caller_reads_no_more_when_reading_may_wait() {
        // The bad line is in the helper's part; reading on could wait for
        // input for ever, so the caller must see the failure first.
        let mut text = input(200, None);
        text.extend_from_slice(b"bad\n");
        let chunks = std::iter::once(chunk(&text, 1, true))
            .chain(std::iter::from_fn(|| panic!("read on after a failure")));
        let mut out = Vec::new();
        let error = transform_chunks(2, chunks, &mut out, echo).unwrap_err();
        assert!(
            matches!(error, LinesError::Line { line: 201, .. }),
            "{error}"
        );
        assert_eq!(out, expected(&input(200, None)));
    }

    #[test]
    fn a_failed_read_comes_after_the_chunks_before_it() {
        let chunks = vec![
            chunk(&input(100, None), 1, true),
            Err(LinesError::Read(std::io::Error::other("gone"))),
            chunk(b"never\n", 101, false),
        ];
        let mut out = Vec::new();
        let error = transform_chunks(4, chunks, &mut out, echo).unwrap_err();
        assert!(matches!(error, LinesError::Read(_)), "{error}");
        assert_eq!(out, expected(&input(100, None)));
    }

    proptest! {
        #[test]
        fn any_cut_covers_the_text_in_whole_lines(
            text in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x')], 0..200),
            parts in 1usize..10,
        ) {
            let cuts = cut(&text, parts);
            prop_assert!(cuts.len() <= parts.max(1));
            prop_assert_eq!(pieces(&text, &cuts).concat(), text.clone());
            let mut lines = 0;
            for (index, part) in cuts.iter().enumerate() {
                prop_assert_eq!(part.line_offset, lines);
                let piece = &text[part.bytes.clone()];
                if index + 1 < cuts.len() {
                    prop_assert!(piece.ends_with(b"\n"));
                    lines += line_count(piece);
                }
                prop_assert!(!piece.is_empty() || text.is_empty());
            }
        }
    }
}
