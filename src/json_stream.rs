//! The JSON check of [`crate::payload::check_json`], for a payload read in
//! pieces, in memory of fixed size whatever the payload's length.
//!
//! A payload whose top level is an array (every payload the API takes) is
//! cut after a comma between two of its elements. Each run of whole elements
//! is checked as an array of its own, as a payload held whole is checked
//! ([`crate::payload::json_text`]): its leading comma and its last one
//! become brackets in place.
//! If every run is a valid array, so is the payload. Once more than
//! [`JSON_HOLD_MAX`] bytes would have to be held (an element of many MiB, a
//! payload that is not an array, a great deal of whitespace), the rest is
//! checked as a stream instead ([`bounded`]), slower but holding nothing.
//!
//! A payload that can be read from anywhere (a regular file) is cut the same
//! way into as many parts as there are cores, each read and checked by a
//! thread of its own ([`check_json_seekable`]).

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;

use crate::cipher::EncryptError;
use crate::events::EventCheckError;
use crate::payload::{JsonError, JsonErrorKind, encoding_problem, json_text_at};
use crate::tuning::{
    CUT_LOOK_BACK, CUT_WINDOW, HEAD_LEN, JSON_HOLD_MAX, JSON_IN_FLIGHT, JSON_READ_LEN, PARTS_MAX,
    PARTS_MIN,
};

mod bounded;

/// Checks the JSON payload `reader` gives, as [`crate::payload::check_json`]
/// would check it whole, and returns its length in bytes. Runs on the
/// calling thread: for a check beside other work.
pub fn check_json_reader<R: Read>(reader: R) -> Result<u64, EncryptError> {
    check_measured(reader, Mode::Alone, JSON_HOLD_MAX).map(|(len, _)| len)
}

/// [`check_json_reader`] for a check that runs alone, before anything else:
/// from the second MiB on, two more threads check runs of elements while
/// this one reads. Errors are told exactly as by [`check_json_reader`].
pub fn check_json_reader_parallel<R: Read>(reader: R) -> Result<u64, EncryptError> {
    check_measured(reader, Mode::Helped, JSON_HOLD_MAX).map(|(len, _)| len)
}

/// [`check_json_reader_parallel`] for a payload `len` bytes long that
/// `open` gives readers of, each from the start (a regular file, opened
/// again for each): cut into one part per core (at most four), each part is
/// read and checked as an array of its own by a thread of its own, with no
/// thread reading for the others. If a part fails, the payload is checked
/// again from the start by [`check_json_reader_parallel`], which tells the
/// error exactly. Returns the payload's length as read.
pub fn check_json_seekable<R: Read + Seek>(
    len: u64,
    open: impl Fn() -> io::Result<R> + Sync,
) -> Result<u64, EncryptError> {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let parts = if len >= PARTS_MIN {
        cores.min(PARTS_MAX)
    } else {
        1
    };
    check_in_parts(len, parts, CUT_WINDOW, &open)
}

/// [`check_json_seekable`] in `parts` parts at most, their cuts looked for
/// in `window` bytes.
fn check_in_parts<R: Read + Seek>(
    len: u64,
    parts: usize,
    window: usize,
    open: &(impl Fn() -> io::Result<R> + Sync),
) -> Result<u64, EncryptError> {
    if parts >= 2
        && let Some(checked) = check_parts(&likely_cuts(len, parts, window, open), open)
    {
        return Ok(checked);
    }
    check_json_reader_parallel(open().map_err(EncryptError::Read)?)
}

/// Offsets of commas likely between elements of the top-level array, near
/// where each of `parts` equal parts of `len` bytes would start (by
/// [`likely_cut`] in the `window` bytes there, knowing the [`element_start`]
/// its first [`HEAD_LEN`] bytes show), in order; fewer if some window holds none.
fn likely_cuts<R: Read + Seek>(
    len: u64,
    parts: usize,
    window: usize,
    open: &impl Fn() -> io::Result<R>,
) -> Vec<u64> {
    let mut cuts: Vec<u64> = Vec::new();
    let mut bytes = Vec::with_capacity(window.max(HEAD_LEN));
    let head = open().and_then(|reader| reader.take(HEAD_LEN as u64).read_to_end(&mut bytes));
    let start_of_element = head.ok().and_then(|_| {
        let first = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
        (bytes[first] == b'[').then(|| element_start(&bytes[first..]))?
    });
    for part in 1..parts as u64 {
        let start = len / parts as u64 * part;
        bytes.clear();
        let read = open().and_then(|mut reader| {
            reader.seek(SeekFrom::Start(start))?;
            reader.take(window as u64).read_to_end(&mut bytes)
        });
        let cut = read
            .ok()
            .and_then(|_| likely_cut(&bytes, 0, start_of_element.as_deref()));
        if let Some(cut) = cut.map(|at| start + at as u64)
            && cuts.last().is_none_or(|&last| cut > last)
        {
            cuts.push(cut);
        }
    }
    cuts
}

/// Checks the payload as the parts `cuts` make, each on a thread: the first
/// part up to the first cut, with `]` after it; the others from after a cut,
/// with `[` before them. The cuts are commas with a value's end before and
/// a value's start after ([`likely_cut`]), so no part can be an empty
/// array: if every part is a valid array, the payload is one too. Returns
/// the payload's length if every part passed, `None` otherwise (or with no cut).
fn check_parts<R: Read + Seek>(
    cuts: &[u64],
    open: &(impl Fn() -> io::Result<R> + Sync),
) -> Option<u64> {
    if cuts.is_empty() {
        return None;
    }
    let starts = std::iter::once(0).chain(cuts.iter().map(|cut| cut + 1));
    let ends = cuts.iter().map(|&cut| Some(cut)).chain([None]);
    let parts: Vec<(u64, Option<u64>)> = starts.zip(ends).collect();
    // Set by the first part to fail: the others then stop.
    let failed = AtomicBool::new(false);
    let failed = &failed;
    let lens: Vec<Option<u64>> = thread::scope(|scope| {
        let others: Vec<_> = parts[1..]
            .iter()
            .map(|&(start, end)| scope.spawn(move || check_part(start, end, open, failed)))
            .collect();
        let first = check_part(parts[0].0, parts[0].1, open, failed);
        std::iter::once(first)
            .chain(
                others
                    .into_iter()
                    .map(|handle| handle.join().ok().flatten()),
            )
            .collect()
    });
    // The cut commas are not in any part.
    lens.into_iter()
        .sum::<Option<u64>>()
        .map(|len| len + cuts.len() as u64)
}

/// Checks the part of the payload from `start` to `end` (exclusive; to the
/// end of the payload if `None`) as an array; returns its length if it
/// passed and was as long as planned. Gives up as soon as the part cannot
/// pass, or once `failed` is set; sets it on failing.
fn check_part<R: Read + Seek>(
    start: u64,
    end: Option<u64>,
    open: &impl Fn() -> io::Result<R>,
    failed: &AtomicBool,
) -> Option<u64> {
    let checked = (|| {
        let mut reader = open().ok()?;
        reader.seek(SeekFrom::Start(start)).ok()?;
        let opener: &[u8] = if start > 0 { b"[" } else { b"" };
        let closer: &[u8] = if end.is_some() { b"]" } else { b"" };
        let body = reader.take(end.map_or(u64::MAX, |end| end - start));
        let (checked, _) = check_measured(
            opener.chain(body).chain(closer),
            Mode::Part(failed),
            JSON_HOLD_MAX,
        )
        .ok()?;
        let len = checked - (opener.len() + closer.len()) as u64;
        end.is_none_or(|end| len == end - start).then_some(len)
    })();
    if checked.is_none() {
        failed.store(true, Ordering::Relaxed);
    }
    checked
}

/// Who checks beside the reading thread, and whether it may stop early.
#[derive(Clone, Copy)]
enum Mode<'a> {
    /// No one.
    Alone,
    /// Two helper threads, once the payload proves long.
    Helped,
    /// No one, for one part of a payload checked in parts: gives up, with
    /// an error no one is shown (the whole is then checked again), as soon
    /// as the part cannot pass or would hold more than a few reads (a cut
    /// that fell inside an element), or once the flag says another part failed.
    Part(&'a AtomicBool),
}

/// [`check_json_reader`], with helpers or as a part as `mode` says, holding
/// at most about `hold_max` bytes, also telling the most memory its buffer took.
fn check_measured<R: Read>(
    mut reader: R,
    mode: Mode,
    hold_max: usize,
) -> Result<(u64, usize), EncryptError> {
    let mut checker = Checker::default();
    let mut buffer = Vec::with_capacity(JSON_READ_LEN * 2);
    let mut peak = 0;
    thread::scope(|scope| {
        // Runs checked on two other threads, once the payload proves long.
        let mut helpers: Option<Helpers> = None;
        let mut alone = !matches!(mode, Mode::Helped);
        loop {
            // Appends up to a piece, without zeroing room for it first.
            let read = (&mut reader)
                .take(JSON_READ_LEN as u64)
                .read_to_end(&mut buffer)
                .map_err(EncryptError::Read)?;
            peak = peak.max(buffer.capacity());
            if read == 0 {
                if let Some(resume) = helpers.take().and_then(Helpers::stop) {
                    checker.resume(resume, &mut buffer);
                    checker
                        .scan_and_check(&mut buffer)
                        .map_err(|error| outranked(error, &checker, &buffer, io::empty()))
                        .map_err(to_read_error)?;
                }
                // Every byte left is in the buffer, read as UTF-8 first.
                checker.finish(&mut buffer).map_err(to_read_error)?;
                return Ok((checker.offset, peak));
            }
            if let Some(active) = helpers.as_mut() {
                if active.hand_over(&mut checker, &mut buffer).is_ok() {
                    continue;
                }
                // A run failed, or no cut was in sight: on alone, from the
                // first run not known to be good; errors are told from there.
                if let Some(resume) = helpers.take().and_then(Helpers::stop) {
                    checker.resume(resume, &mut buffer);
                }
                alone = true;
            }
            if let Err(error) = checker.scan_and_check(&mut buffer) {
                // The scan took a run's end where serde_json, reading an
                // escape cut short, reads on (`"\u"},`): from there only
                // the bytes after the cut tell the error.
                if error.message.starts_with("EOF while parsing") && !matches!(mode, Mode::Part(_))
                {
                    return check_as_a_stream(&checker, buffer, reader, peak);
                }
                return Err(to_read_error(match mode {
                    // No one is shown a part's error.
                    Mode::Part(_) => error,
                    _ => outranked(error, &checker, &buffer, &mut reader),
                }));
            }
            if let Mode::Part(failed) = mode
                && (failed.load(Ordering::Relaxed) || checker.bound_to_fail(&buffer))
            {
                return Err(EncryptError::Read(io::Error::other("part given up")));
            }
            // Past four bytes the payload's start has been judged (see `scan_and_check`).
            if buffer.len() > hold_max.max(3) {
                return check_as_a_stream(&checker, buffer, reader, peak);
            }
            if !alone && helpers.is_none() && read == JSON_READ_LEN && checker.top == Top::Array {
                helpers = Some(Helpers::start(scope));
            }
        }
    })
}

/// [`check_measured`]'s end for a payload whose rest, from where `checker`
/// is and starting with `held`, is checked as a stream ([`bounded`]).
fn check_as_a_stream(
    checker: &Checker,
    held: Vec<u8>,
    reader: impl Read,
    peak: usize,
) -> Result<(u64, usize), EncryptError> {
    match bounded::check_rest(checker, held, reader) {
        Ok(rest) => Ok((checker.offset + rest, peak)),
        Err(bounded::Refused::Json(error)) => Err(to_read_error(error)),
        Err(bounded::Refused::Read(error)) => Err(EncryptError::Read(error)),
    }
}

/// Two threads that check runs cut by the reading thread. Their verdicts
/// only ever let a payload pass: on a failure, the runs from the first one
/// not known to be good go back to the one-thread check, which tells the
/// error exactly as it would have without helpers.
struct Helpers {
    /// One channel per helper; emptied to stop them.
    to_helpers: Vec<mpsc::SyncSender<Run>>,
    verdicts: mpsc::Receiver<(Run, bool)>,
    /// Runs handed over and not yet known to be good, oldest first.
    pending: VecDeque<Place>,
    /// Verdicts that came back before those of earlier runs.
    early: BTreeMap<u64, (Run, bool)>,
    /// Buffers of runs known good, for the next runs (no allocation per run).
    spare: Vec<Vec<u8>>,
    next: u64,
}

/// A run of whole elements, its first byte (`[` or `,`) and its last (`,`)
/// still as in the payload, and which byte opens it.
struct Run {
    index: u64,
    bytes: Vec<u8>,
    opener: usize,
    /// The run starts the payload (see [`json_text_at`]).
    at_start: bool,
}

/// Where a run starts in the payload.
#[derive(Clone, Copy)]
struct Place {
    index: u64,
    offset: u64,
    line: usize,
    column: usize,
}

/// What the one-thread check takes back: the runs from the first one not
/// known to be good, joined, and where they start.
struct Resume {
    place: Place,
    bytes: Vec<u8>,
}

impl Helpers {
    fn start<'scope>(scope: &'scope thread::Scope<'scope, '_>) -> Helpers {
        let (verdicts_tx, verdicts) = mpsc::channel();
        let to_helpers = (0..2)
            .map(|_| {
                let (to_helper, runs) = mpsc::sync_channel::<Run>(JSON_IN_FLIGHT);
                let verdicts_tx = verdicts_tx.clone();
                scope.spawn(move || {
                    for mut run in runs {
                        let last = run.bytes.len() - 1;
                        let opener = run.bytes[run.opener];
                        run.bytes[run.opener] = b'[';
                        run.bytes[last] = b']';
                        let good = json_text_at(&run.bytes, run.at_start).is_ok();
                        run.bytes[run.opener] = opener;
                        run.bytes[last] = b',';
                        if verdicts_tx.send((run, good)).is_err() {
                            return;
                        }
                    }
                });
                to_helper
            })
            .collect();
        Helpers {
            to_helpers,
            verdicts,
            pending: VecDeque::new(),
            early: BTreeMap::new(),
            spare: Vec::new(),
            next: 0,
        }
    }

    /// Cuts the next run off `buffer` and hands it over; fails if a run came
    /// back bad or there is no likely cut to make.
    fn hand_over(&mut self, checker: &mut Checker, buffer: &mut Vec<u8>) -> Result<(), ()> {
        self.settle(false)?;
        let opener = checker.opener(buffer);
        let cut = likely_cut(buffer, opener, checker.element_start.as_deref()).ok_or(())?;
        while self.pending.len() >= JSON_IN_FLIGHT {
            self.settle(true)?;
        }
        let place = Place {
            index: self.next,
            offset: checker.offset,
            line: checker.line,
            column: checker.column,
        };
        let mut bytes = self.spare.pop().unwrap_or_default();
        bytes.clear();
        bytes.extend_from_slice(&buffer[..=cut]);
        let run = Run {
            index: self.next,
            bytes,
            opener,
            at_start: place.offset == 0,
        };
        let helper = (self.next % 2) as usize;
        self.to_helpers[helper].send(run).map_err(drop)?;
        self.pending.push_back(place);
        self.next += 1;
        checker.cut_at(buffer, cut);
        Ok(())
    }

    /// Takes in verdicts (waiting for one if `wait`) and forgets the runs
    /// known good from the oldest on; fails at the first bad one.
    fn settle(&mut self, wait: bool) -> Result<(), ()> {
        let first = if wait {
            // No helper left to answer (one stopped): go on alone.
            Some(self.verdicts.recv().map_err(drop)?)
        } else {
            self.verdicts.try_recv().ok()
        };
        for (run, good) in first.into_iter().chain(self.verdicts.try_iter()) {
            self.early.insert(run.index, (run, good));
        }
        while let Some(oldest) = self.pending.front() {
            match self.early.get(&oldest.index) {
                Some((_, true)) => {
                    if let Some((run, _)) = self.early.remove(&oldest.index) {
                        self.spare.push(run.bytes);
                    }
                    self.pending.pop_front();
                }
                Some((_, false)) => return Err(()),
                None => break,
            }
        }
        Ok(())
    }

    /// Stops the helpers; returns the runs the one-thread check must take
    /// back, if any is not known to be good.
    fn stop(mut self) -> Option<Resume> {
        self.to_helpers.clear();
        while self.early.len() < self.pending.len() {
            let Ok((run, good)) = self.verdicts.recv() else {
                break;
            };
            self.early.insert(run.index, (run, good));
        }
        while let Some(oldest) = self.pending.front() {
            match self.early.get(&oldest.index) {
                Some((_, true)) => {
                    self.early.remove(&oldest.index);
                    self.pending.pop_front();
                }
                _ => break,
            }
        }
        let place = *self.pending.front()?;
        // Each run ends with the comma the next one starts with.
        let mut bytes = Vec::new();
        for (_, (run, _)) in self.early.range(place.index..) {
            bytes.extend_from_slice(&run.bytes[..run.bytes.len() - 1]);
        }
        Some(Resume { place, bytes })
    }
}

/// The error to tell for `error`, found in the run at the start of
/// `buffer` (where `checker` stands), with `reader` giving the rest of the
/// payload: the check of a whole payload reads all of it as UTF-8 before
/// any of it as JSON, so bytes that are not UTF-8 anywhere after the run
/// outrank a JSON error in it. (A lone surrogate followed by a syntax error
/// is still told as found: the whole check tells the syntax error.)
fn outranked(error: JsonError, checker: &Checker, buffer: &[u8], reader: impl Read) -> JsonError {
    if matches!(
        error.kind,
        JsonErrorKind::Utf8 | JsonErrorKind::ByteOrderMark | JsonErrorKind::Encoding(_)
    ) {
        return error;
    }
    bounded::first_utf8_error(checker, buffer, reader).unwrap_or(error)
}

fn to_read_error(error: JsonError) -> EncryptError {
    EncryptError::Check(EventCheckError::Json(error))
}

/// Where the scan is: which bytes of the buffer are in a string, how deep.
#[derive(Default)]
struct Checker {
    /// The top level is an array (known once its first byte has been seen).
    top: Top,
    in_string: bool,
    escaped: bool,
    depth: usize,
    /// Bytes of the buffer already scanned.
    scanned: usize,
    /// The last comma between elements found in the buffer.
    cut: Option<usize>,
    /// Where in the buffer the array closed (with [`Top::Closed`]).
    closed_at: usize,
    /// How the array's elements start, once a run has shown it: see [`element_start`].
    element_start: Option<Vec<u8>>,
    /// A guessed cut failed, and the sure way has found no cut since.
    guess_failed: bool,
    /// Bytes handed to the JSON parser, for the tests.
    #[cfg(test)]
    parsed: u64,
    /// The payload's offset, line and column (0-based, in bytes) where the
    /// buffer starts, for error positions.
    offset: u64,
    line: usize,
    column: usize,
}

#[derive(Default, PartialEq, Eq, Clone, Copy)]
enum Top {
    #[default]
    Unknown,
    Array,
    /// Not an array: checked whole at the end.
    Other,
    /// The array has closed; only whitespace may follow.
    Closed,
}

impl Checker {
    /// Scans the bytes not yet scanned, then checks and drops from `buffer`
    /// every whole run of elements before the last cut.
    fn scan_and_check(&mut self, buffer: &mut Vec<u8>) -> Result<(), JsonError> {
        if self.top == Top::Unknown {
            if buffer.len() < 4 {
                return Ok(()); // too little to judge the encoding by
            }
            encoding(buffer)?;
            match buffer.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'[') => self.top = Top::Array,
                Some(_) => self.top = Top::Other,
                None => return Ok(()),
            }
        }
        if self.top == Top::Array {
            let opener = self.opener(buffer);
            if self.element_start.is_none() && self.offset < HEAD_LEN as u64 {
                self.element_start = element_start(&buffer[opener..]);
            }
            // The quick way: guess a cut, which the run's passing proves right.
            if !self.guess_failed
                && let Some(guess) = likely_cut(buffer, opener, self.element_start.as_deref())
            {
                if self.check_run(buffer, guess).is_ok() {
                    self.cut_at(buffer, guess);
                    return Ok(());
                }
                // Inside an element that goes on past this read, every
                // guess would fail, each checking the whole element so far
                // again: no more guesses until the sure way finds its end.
                self.guess_failed = true;
            }
            // The sure way: every byte scanned since the last cut.
            self.scan(buffer);
            if let Some(cut) = self.cut.take() {
                self.check_run(buffer, cut)?;
                self.drop_run(buffer, cut);
                self.guess_failed = false;
            }
        }
        Ok(())
    }

    /// Finds the cuts in the bytes not yet scanned.
    fn scan(&mut self, buffer: &[u8]) {
        let mut at = self.scanned;
        while at < buffer.len() {
            if self.escaped {
                self.escaped = false;
                at += 1;
                continue;
            }
            if self.in_string {
                // Jump to the next quote or backslash.
                match memchr::memchr2(b'"', b'\\', &buffer[at..]) {
                    None => at = buffer.len(),
                    Some(found) => {
                        at += found;
                        self.escaped = buffer[at] == b'\\';
                        self.in_string = self.escaped;
                        at += 1;
                    }
                }
                continue;
            }
            match buffer[at] {
                b'"' => self.in_string = true,
                b'[' | b'{' => self.depth += 1,
                b']' | b'}' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        // The array closed: the rest is checked at the end, with its last run.
                        self.top = Top::Closed;
                        self.closed_at = at;
                        self.scanned = buffer.len();
                        return;
                    }
                }
                b',' if self.depth == 1 => self.cut = Some(at),
                _ => {}
            }
            at += 1;
        }
        self.scanned = buffer.len();
    }

    /// Drops the run before a cut known (or taken) to be between elements
    /// of the top-level array, and goes on just past that comma.
    fn cut_at(&mut self, buffer: &mut Vec<u8>, cut: usize) {
        self.drop_run(buffer, cut);
        (self.in_string, self.escaped, self.depth, self.scanned) = (false, false, 1, 1);
    }

    /// Takes back runs the helpers handed over, in front of `buffer`.
    fn resume(&mut self, resume: Resume, buffer: &mut Vec<u8>) {
        buffer.splice(0..0, resume.bytes);
        (self.offset, self.line, self.column) =
            (resume.place.offset, resume.place.line, resume.place.column);
        self.cut = None;
        if self.offset == 0 {
            // The first run: scanned from its opening bracket.
            (self.in_string, self.escaped, self.depth, self.scanned) = (false, false, 0, 0);
        } else {
            (self.in_string, self.escaped, self.depth, self.scanned) = (false, false, 1, 1);
        }
    }

    /// Checks `buffer[..=cut]` as an array: its opener and the comma at
    /// `cut` stand for brackets.
    fn check_run(&mut self, buffer: &mut [u8], cut: usize) -> Result<(), JsonError> {
        let first = self.opener(buffer);
        self.refuse_empty(buffer, first, cut)?;
        let opener = buffer[first];
        buffer[first] = b'[';
        buffer[cut] = b']';
        #[cfg(test)]
        {
            self.parsed += cut as u64 + 1;
        }
        let checked = json_text_at(&buffer[..=cut], self.offset == 0).map(drop);
        buffer[first] = opener;
        buffer[cut] = b',';
        checked.map_err(|error| self.shift(error))
    }

    /// Drops a checked run from `buffer`, all but the comma at `cut`, which
    /// opens the next one.
    fn drop_run(&mut self, buffer: &mut Vec<u8>, cut: usize) {
        self.advance(&buffer[..cut]);
        buffer.drain(..cut);
        self.scanned -= cut.min(self.scanned);
        if self.top == Top::Closed {
            self.closed_at -= cut;
        }
    }

    /// Checks what is left: the last run and what follows the array, or a
    /// payload that is not an array.
    fn finish(&mut self, buffer: &mut [u8]) -> Result<(), JsonError> {
        let continued = self.offset > 0;
        if continued {
            // The run starts at the comma after the elements already checked.
            if self.top == Top::Closed
                && let Err(empty) = self.refuse_empty(buffer, 0, self.closed_at)
            {
                return Err(outranked(empty, self, buffer, io::empty()));
            }
            buffer[0] = b'[';
        }
        let checked = json_text_at(buffer, !continued)
            .map(drop)
            .map_err(|mut error| {
                // Nothing after the comma: the whole payload's parser, past
                // that comma, was reading a value, not the rest of a list.
                if continued && buffer[1..].iter().all(u8::is_ascii_whitespace) {
                    "EOF while parsing a value".clone_into(&mut error.message);
                }
                self.shift(error)
            });
        if continued {
            buffer[0] = b',';
        }
        self.advance(buffer);
        checked
    }

    /// For a part checked on its own (see [`Mode::Part`]): whether it can no
    /// longer pass as an array, or holds more than two reads.
    fn bound_to_fail(&self, buffer: &[u8]) -> bool {
        let trailing = |after: usize| {
            buffer.len() - after > JSON_READ_LEN
                || buffer[after..].iter().any(|b| !b.is_ascii_whitespace())
        };
        match self.top {
            Top::Other => true,
            Top::Closed => trailing(self.closed_at + 1),
            Top::Unknown | Top::Array => buffer.len() > 2 * JSON_READ_LEN,
        }
    }

    /// Where the run in `buffer` opens: its `[`, or the comma before it.
    fn opener(&self, buffer: &[u8]) -> usize {
        if self.offset > 0 {
            return 0;
        }
        buffer
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0)
    }

    /// A run with no element in it (`[,` or `,,`, or `,]`) would pass as an
    /// empty array; JSON has no empty elements. Only `[]` itself is empty.
    fn refuse_empty(&self, buffer: &[u8], first: usize, end: usize) -> Result<(), JsonError> {
        let empty = buffer[first + 1..end].iter().all(u8::is_ascii_whitespace);
        let closing = buffer[end] != b',';
        if !empty || (closing && self.offset == 0) {
            return Ok(());
        }
        // In serde_json's words, as the whole payload's check would say.
        let problem = "expected value";
        let before = &buffer[..end];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = end
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |nl| nl + 1)
            + 1;
        Err(self.shift(JsonError {
            kind: JsonErrorKind::Syntax,
            message: problem.to_owned(),
            line,
            column,
        }))
    }

    /// Moves the buffer's start past `dropped`.
    fn advance(&mut self, dropped: &[u8]) {
        self.offset += dropped.len() as u64;
        // memchr's searches are SIMD: a byte loop here cost an eighth of the check.
        match memchr::memrchr(b'\n', dropped) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', dropped).count();
                self.column = dropped.len() - last - 1;
            }
            None => self.column += dropped.len(),
        }
    }

    /// `error`, found in a run at the buffer's start, placed in the whole payload.
    fn shift(&self, mut error: JsonError) -> JsonError {
        if error.line == 1 {
            error.column += self.column;
        }
        error.line += self.line;
        error
    }
}

/// The last comma in `buffer` after `from` that looks like one between two
/// objects or arrays of the top-level array: `}` or `]` before it, `{` or
/// `[` after it, and the elements' usual start after it (`element_start`)
/// if that is known and found. A guess only (the same bytes can sit in a
/// string or deeper down), so its run is checked before it is trusted.
fn likely_cut(buffer: &[u8], from: usize, element_start: Option<&[u8]>) -> Option<usize> {
    let start = buffer.len().saturating_sub(CUT_LOOK_BACK).max(from + 1);
    let window = buffer.get(start..)?;
    let value_before = |at: usize| {
        let before = buffer[..at].iter().rposition(|b| !b.is_ascii_whitespace());
        before.is_some_and(|i| matches!(buffer[i], b'}' | b']'))
    };
    let value_after = |at: usize| {
        let after = buffer[at + 1..].iter().find(|b| !b.is_ascii_whitespace());
        matches!(after, Some(b'{' | b'['))
    };
    let usual = element_start.and_then(|usual| {
        memchr::memmem::rfind_iter(window, usual)
            .take(16)
            .map(|at| start + at)
            .find(|&at| value_before(at))
    });
    usual.or_else(|| {
        memchr::memrchr_iter(b',', window)
            .take(16)
            .map(|at| start + at)
            .find(|&at| value_before(at) && value_after(at))
    })
}

/// How the elements of an array start, learned in the first [`HEAD_LEN`]
/// bytes of `run`, which opens at `run[0]` with the array's `[` or a comma
/// between two elements: a comma between two elements there and what
/// follows it, up to and with the next object's first key, as `,{"asset_id"`
/// or, indented, `,\n  {\n    "asset_id"`. `None` if those bytes show no
/// such comma or the elements are not objects.
///
/// Events written by one program start alike, while a `},{` can as well be
/// inside an event, in an array of objects it holds: a comma followed by
/// this is far likelier to be one between elements.
fn element_start(run: &[u8]) -> Option<Vec<u8>> {
    const STEP: usize = 4096;
    const LONGEST: usize = 128;
    let mut scanner = Checker {
        top: Top::Array,
        depth: 1,
        scanned: 1,
        ..Checker::default()
    };
    let (mut scanned, end) = (1, run.len().min(HEAD_LEN));
    let comma = loop {
        if scanned >= end {
            return None;
        }
        scanned = (scanned + STEP).min(end);
        scanner.scan(&run[..scanned]);
        if let Some(first) = scanner.cut {
            break first;
        }
        if scanner.top == Top::Closed {
            return None;
        }
    };
    let next = |from: usize| {
        let skipped = run
            .get(from..)?
            .iter()
            .position(|b| !b.is_ascii_whitespace())?;
        Some(from + skipped)
    };
    let brace = next(comma + 1).filter(|&at| run[at] == b'{')?;
    let quote = next(brace + 1).filter(|&at| run[at] == b'"')?;
    let key_len = memchr::memchr2(b'"', b'\\', run.get(quote + 1..)?)?;
    let end = quote + 1 + key_len;
    (run[end] == b'"' && end - comma < LONGEST).then(|| run[comma..=end].to_vec())
}

/// Refuses a byte-order mark or a UTF-16/32 payload, judged by its first bytes.
fn encoding(start: &[u8]) -> Result<(), JsonError> {
    encoding_problem(start).map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::check_json;
    use crate::read::Trickle;
    use proptest::prelude::*;
    use std::io;

    fn json_error(error: EncryptError) -> JsonError {
        match error {
            EncryptError::Check(EventCheckError::Json(json)) => json,
            other => panic!("not a JSON error: {other}"),
        }
    }

    fn streamed(text: &[u8], step: usize) -> Result<u64, JsonError> {
        streamed_holding(text, step, JSON_HOLD_MAX)
    }

    /// [`streamed`], going on as a stream once more than `hold_max` bytes are held.
    pub(super) fn streamed_holding(
        text: &[u8],
        step: usize,
        hold_max: usize,
    ) -> Result<u64, JsonError> {
        // Odd steps with helpers, even ones without: both paths, one verdict.
        let mode = if step % 2 == 1 {
            Mode::Helped
        } else {
            Mode::Alone
        };
        check_measured(Trickle { bytes: text, step }, mode, hold_max)
            .map(|(len, _)| len)
            .map_err(json_error)
    }

    /// Whether a streamed verdict is the whole check's: the same error, or,
    /// for a payload that passes, its length.
    fn same_verdict(
        text: &[u8],
        whole: &Result<(), JsonError>,
        streamed: &Result<u64, JsonError>,
    ) -> bool {
        match (whole, streamed) {
            (Ok(()), Ok(len)) => *len == text.len() as u64,
            // With a lone surrogate before a syntax error, the whole check
            // tells the syntax error and the streamed one whichever run
            // fails first: both refuse.
            (Err(whole), Err(_))
                if whole.kind == JsonErrorKind::Syntax
                    && text.windows(6).any(|w| w == b"\\ud800") =>
            {
                true
            }
            (Err(whole), Err(streamed)) => whole == streamed,
            _ => false,
        }
    }

    /// The streamed check gives the whole check's verdict, in runs and, from
    /// the start or from some way in, as a stream ([`bounded`]).
    fn agrees(text: &[u8]) {
        let whole = check_json(text);
        for step in [1, 2, 3, 5, 7, 16, 64, 4096, usize::MAX] {
            for hold_max in [JSON_HOLD_MAX, 0, 9] {
                let piecewise = streamed_holding(text, step, hold_max);
                assert!(
                    same_verdict(text, &whole, &piecewise),
                    "{:?} in steps of {step}, holding {hold_max}: whole {whole:?}, streamed {piecewise:?}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    #[test]
    fn agrees_with_the_whole_check_on_edge_cases() {
        let cases: &[&[u8]] = &[
            b"[]",
            b" [ ] \n",
            b"[1]",
            b"[1,2,3]",
            b"[1,]",
            b"[,1]",
            b"[1,,2]",
            b"[,]",
            b"[",
            b"]",
            b"[1",
            b"[1,",
            b"[\"a\",",
            b"[1, \n ",
            b"[{},{},\n",
            b"[1]]",
            b"[1] x",
            b"[1]\n[2]",
            b"[{}]",
            b"[{]",
            b"[1}",
            b"{\"a\":[1,2]}",
            b"\"text\"",
            b"12",
            b"",
            b"  ",
            b"null",
            b"[\"a,b\",\"c\\\",d\"]",
            b"[\"\\\\\",1]",
            b"[\"\\ud83d\\ude00\",1]",
            b"[\"x\",\"\\ud83d\"]",
            b"[\"\\udc00\"]",
            b"[\"\xff\"]",
            b"[\"\xc3\xa9\",1]",
            b"\xEF\xBB\xBF[1]",
            b"[\0\x31\0]\0",
            b"[1,\n2,\n  x]",
            b"[[1,2],[3,]]",
            b"[{\"a\":1,\"b\":[1,2,{\"c\":\"]\"}]},{\"d\":null}]",
            b"[1 2]",
            b"[1,2] ,",
            b"[\"\\u0041\", \"\\q\"]",
            b"\t[\r\n1\r\n]\r\n",
            b"[1]\x00",
            // A NUL after a comma between elements is not UTF-16 or UTF-32:
            // those are told by the payload's first bytes alone.
            b"[1,\0 2]",
            b"[{\"a\":1},\0]",
            b"[1,\0\0\0]",
            // Bytes not UTF-8 after an empty last element outrank it.
            b"[1,2,]\xff",
            b"[1,2,]\xe2\x82",
            b"[{}, ]\xff",
        ];
        for case in cases {
            agrees(case);
        }
    }

    #[test]
    fn errors_are_placed_in_the_whole_payload() {
        let mut text = b"[\n".to_vec();
        for i in 0..10_000 {
            text.extend_from_slice(format!("  {{\"n\": {i}, \"s\": \"caf\u{e9}\"}},\n").as_bytes());
        }
        text.extend_from_slice(b"  {\"n\": x}\n]");
        let whole = check_json(&text).unwrap_err();
        for step in [7, 4096, usize::MAX] {
            assert_eq!(streamed(&text, step).unwrap_err(), whole, "steps of {step}");
        }
        assert_eq!((whole.line, whole.column), (10_002, 9));
    }

    /// A payload long enough for the helpers, whose strings hold what looks
    /// like a cut between elements, so that some guesses are wrong.
    fn long_payload() -> Vec<u8> {
        let mut text = b"[\n".to_vec();
        for i in 0..60_000 {
            let event = format!(
                "  {{\"n\": {i}, \"s\": \"caf\u{e9} }},{{ ]\\\" \", \"t\": [{{\"u\": \"}}, {{\"}}]}},\n"
            );
            text.extend_from_slice(event.as_bytes());
        }
        text.extend_from_slice(b"  {\"last\": true}\n]\n");
        text
    }

    /// The check in `parts` parts, cuts looked for in `window` bytes, with
    /// how many cuts it found.
    fn in_parts(text: &[u8], parts: usize, window: usize) -> (Result<u64, JsonError>, usize) {
        let open = || Ok(io::Cursor::new(text));
        let cuts = likely_cuts(text.len() as u64, parts, window, &open).len();
        let checked = check_in_parts(text.len() as u64, parts, window, &open).map_err(json_error);
        (checked, cuts)
    }

    #[test]
    fn long_payloads_pass_and_fail_as_whole_ones_do() {
        let good = long_payload();
        assert!(good.len() > 3 * JSON_READ_LEN);
        assert_eq!(check_json(&good), Ok(()));
        assert_eq!(streamed(&good, usize::MAX), Ok(good.len() as u64));
        for parts in [2, 3, 4] {
            let (checked, cuts) = in_parts(&good, parts, 4096);
            assert_eq!(checked, Ok(good.len() as u64));
            assert_eq!(cuts, parts - 1, "the parts were not cut");
        }
        // One bad byte at places early, in the middle, near and at the end.
        for at in [
            10,
            good.len() / 3,
            good.len() / 2 + 7,
            good.len() - 20,
            good.len() - 2,
        ] {
            for bad in [b'x', b'"', b',', b'{', b']', 0xff] {
                let mut text = good.clone();
                text[at] = bad;
                let whole = check_json(&text).map(|()| text.len() as u64);
                for step in [usize::MAX, 4096] {
                    assert_eq!(
                        streamed(&text, step),
                        whole,
                        "{bad} at {at}, steps of {step}"
                    );
                }
                assert_eq!(in_parts(&text, 3, 4096).0, whole, "{bad} at {at}, in parts");
            }
        }
    }

    #[test]
    fn bytes_not_utf8_after_a_json_error_outrank_it_as_in_the_whole_check() {
        let utf8 = JsonErrorKind::Utf8;
        let syntax = JsonErrorKind::Syntax;
        let ends: [(&[u8], JsonErrorKind); 5] = [
            (b"\"\xff\"\n]\n", utf8),
            (b"\"\xe2\x82\"\n]\n", utf8),       // a character cut short
            (b"\"\xe2\x82", utf8),              // and at the payload's end
            (b"\"\xe2\x82\xac\"\n]\n", syntax), // whole: the JSON error stands
            (b"\"\\ud800\"\n]\n", syntax),      // a lone surrogate does not outrank it
        ];
        for (end, kind) in ends {
            let mut text = b"[\n".to_vec();
            text.extend(b"{\"a\":1},\n".repeat(2_000));
            text.extend(b"{\"a\":x},\n");
            text.extend(b"{\"a\":1},\n".repeat(100_000));
            // The character's first byte last in the first read.
            text.extend(b" ".repeat(JSON_READ_LEN - 2 - text.len()));
            text.extend_from_slice(end);
            let whole = check_json(&text).map(|()| text.len() as u64);
            assert_eq!(whole.clone().unwrap_err().kind, kind);
            for step in [3, 4096, 4097, usize::MAX] {
                let label = format!("{:?}, steps of {step}", String::from_utf8_lossy(end));
                assert_eq!(streamed(&text, step), whole, "{label}");
            }
            for parts in 2..=4 {
                assert_eq!(in_parts(&text, parts, 4096).0, whole, "in {parts} parts");
            }
        }
    }

    #[test]
    fn an_element_longer_than_a_read_is_parsed_about_once() {
        // One event holding a long array of objects: every read ends inside
        // it, after a `},{` that looks like a cut between elements.
        let mut text = br#"[{"n":0,"items":["#.to_vec();
        for i in 0..300_000 {
            let comma = if i == 0 { "" } else { "," };
            text.extend_from_slice(format!(r#"{comma}{{"sku":"S{i}","q":1}}"#).as_bytes());
        }
        text.extend_from_slice(br#"]},{"n":1}]"#);
        assert!(text.len() > 6 * JSON_READ_LEN);
        let mut checker = Checker::default();
        let mut buffer = Vec::new();
        for read in text.chunks(JSON_READ_LEN) {
            buffer.extend_from_slice(read);
            checker.scan_and_check(&mut buffer).unwrap();
        }
        checker.finish(&mut buffer).unwrap();
        assert_eq!(checker.offset, text.len() as u64);
        // Each failed guess would parse the element so far again.
        let parsed = checker.parsed;
        assert!(
            parsed < 2 * text.len() as u64,
            "{parsed} bytes parsed of {}",
            text.len()
        );
    }

    #[test]
    fn elements_start_as_the_first_two_show() {
        let start = |run: &[u8]| element_start(run).map(|s| String::from_utf8(s).unwrap());
        let learned = |run: &[u8], usual: &str| assert_eq!(start(run).as_deref(), Some(usual));
        learned(br#"[{"a":1},{"asset_id":2}]"#, r#",{"asset_id""#);
        learned(
            b"[\n  {\n    \"k\": 1\n  },\n  {\n    \"k\": 2\n  }\n]",
            ",\n  {\n    \"k\"",
        );
        // Commas in strings and in an array of objects come before the first
        // one between elements; a run may open with a comma.
        learned(
            br#"[{"s":",{\"x\"","t":[{"u":1},{"v":2}]},{"w":0}]"#,
            r#",{"w""#,
        );
        learned(br#",{"a":1},{"b":2}"#, r#",{"b""#);
        let long_key = format!(r#"[{{}},{{"{}":1}}]"#, "k".repeat(200));
        for none in [
            &b"[1,2,3]"[..],
            b"[[1],[2]]",
            br#"[{"a":1}]"#,
            br#"[{"a":1}"#,
            br#"[{},{"a\"b":1}]"#,
            br#"[{},{1:2}]"#,
            long_key.as_bytes(),
        ] {
            assert_eq!(start(none), None, "{}", String::from_utf8_lossy(none));
        }
    }

    /// Events that each end with an array of objects: the last `},{` before
    /// a place is more often inside an event than between two.
    fn events_with_items() -> Vec<u8> {
        let mut text = b"[".to_vec();
        for i in 0..40_000 {
            let comma = if i == 0 { "" } else { "," };
            let items = r#"[{"sku":"A","q":1},{"sku":"B","q":2},{"sku":"C","q":3}]"#;
            text.extend_from_slice(format!(r#"{comma}{{"n":{i},"items":{items}}}"#).as_bytes());
        }
        text.extend_from_slice(b"]\n");
        text
    }

    #[test]
    fn cuts_fall_between_events_that_hold_arrays_of_objects() {
        let text = events_with_items();
        assert!(text.len() > 2 * JSON_READ_LEN);
        let open = || Ok(io::Cursor::new(&text[..]));
        for parts in 2..=4 {
            let cuts = likely_cuts(text.len() as u64, parts, CUT_WINDOW, &open);
            assert_eq!(cuts.len(), parts - 1);
            for &cut in &cuts {
                assert!(
                    text[cut as usize..].starts_with(br#",{"n""#),
                    "cut at {cut}"
                );
            }
            assert_eq!(check_parts(&cuts, &open), Some(text.len() as u64));
        }
        // The one-thread check learns it from its first read, and its first
        // guess holds, with a comma inside an event last in the read.
        let mut checker = Checker::default();
        let inside = memchr::memmem::find(&text[JSON_READ_LEN..], br#",{"sku":"C""#).unwrap();
        let mut buffer = text[..JSON_READ_LEN + inside + 4].to_vec();
        checker.scan_and_check(&mut buffer).unwrap();
        assert_eq!(checker.element_start.as_deref(), Some(&br#",{"n""#[..]));
        assert!(buffer.starts_with(br#",{"n""#));
        // A failed guess would have been followed by a scan of every byte.
        assert_eq!(checker.scanned, 1, "the guess failed");
    }

    /// A reader of `text` that counts the bytes read through it.
    struct Counted<'a> {
        inner: io::Cursor<&'a [u8]>,
        read: &'a std::sync::atomic::AtomicU64,
    }

    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
    }

    impl Seek for Counted<'_> {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    /// Bytes a part starting at `start` reads before it gives up, with
    /// `failed` set before it starts or not.
    fn read_by_failing_part(text: &[u8], start: u64, failed: bool) -> u64 {
        let read = std::sync::atomic::AtomicU64::new(0);
        let open = || {
            Ok(Counted {
                inner: io::Cursor::new(text),
                read: &read,
            })
        };
        let failed = AtomicBool::new(failed);
        assert_eq!(check_part(start, None, &open, &failed), None);
        assert!(
            failed.load(Ordering::Relaxed),
            "a failed part sets the flag"
        );
        read.load(Ordering::Relaxed)
    }

    #[test]
    fn a_part_that_cannot_pass_gives_up_early() {
        // Found by review: a cut at `},{` inside an element's own array made
        // a part whose array closed at that array's `]`, and the part held
        // everything after it to its end (84 MiB for a valid 160 MiB file).
        let event = b"{\"n\":1,\"items\":[{\"a\":1},{\"a\":2}],\"s\":\"x\"},\n";
        let mut text = b"[\n".to_vec();
        while text.len() < 12 * JSON_READ_LEN {
            text.extend_from_slice(event);
        }
        text.extend_from_slice(b"{}]\n");
        let inner_cut = (2 + event.len() + 23) as u64;
        assert_eq!(&text[inner_cut as usize - 1..][..3], b"},{");
        assert!(read_by_failing_part(&text, inner_cut + 1, false) <= 2 * JSON_READ_LEN as u64);
        // A good part stops at its first read once another part has failed.
        let good_cut = (2 + event.len() - 2) as u64;
        assert_eq!(&text[good_cut as usize - 1..][..3], b"},\n");
        assert!(read_by_failing_part(&text, good_cut + 1, true) <= JSON_READ_LEN as u64);
    }

    #[test]
    fn small_elements_take_no_more_than_two_reads_of_memory() {
        // 64 MiB of small events through a 1 MiB read buffer: the buffer never
        // holds more than a read and the part of an element before it.
        struct Events {
            left: usize,
            sent_open: bool,
        }
        impl Read for Events {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let event = b"{\"activity_name\":\"Page Browse\",\"identity\":\"u@example.com\"},";
                if !self.sent_open {
                    self.sent_open = true;
                    buf[0] = b'[';
                    return Ok(1);
                }
                if self.left == 0 {
                    return Ok(0);
                }
                let mut n = 0;
                while n + event.len() <= buf.len() && self.left > 0 {
                    buf[n..n + event.len()].copy_from_slice(event);
                    n += event.len();
                    self.left -= 1;
                }
                if self.left == 0 {
                    buf[n - 1] = b']';
                }
                Ok(n)
            }
        }
        let events = 1_000_000;
        let events_reader = Events {
            left: events,
            sent_open: false,
        };
        let (len, peak) = check_measured(events_reader, Mode::Helped, JSON_HOLD_MAX).unwrap();
        assert_eq!(len, 1 + 59 * events as u64);
        assert!(
            peak <= 2 * JSON_READ_LEN,
            "{peak} bytes of buffer for {len} bytes of payload"
        );
    }

    fn json_token() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            "\"a\"",
            "\"b,]\"",
            "1",
            "-2.5e3",
            "true",
            "null",
            " ",
            "\n",
            "\"\\\"\"",
            "\"\\ud800\"",
            "\"\\ud800\\udc00\"",
            "x",
            "\"",
            "\\",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]
        #[test]
        fn agrees_with_the_whole_check_on_token_soup(tokens in prop::collection::vec(json_token(), 0..40)) {
            agrees(tokens.concat().as_bytes());
        }

        /// Parts that pass make a payload that passes, wherever the cuts
        /// fall; and with the second check after a failed part, the verdict
        /// and the error are the whole check's.
        #[test]
        fn parts_agree_with_the_whole_check(
            tokens in prop::collection::vec(json_token(), 0..60),
            parts in 2..5usize,
            window in 1..12usize,
        ) {
            let text = tokens.concat();
            let text = text.as_bytes();
            let whole = check_json(text);
            let open = || Ok(io::Cursor::new(text));
            let cuts = likely_cuts(text.len() as u64, parts, window, &open);
            if check_parts(&cuts, &open).is_some() {
                prop_assert!(whole.is_ok(), "{:?} passed in parts cut at {cuts:?}", tokens.concat());
            }
            let checked = in_parts(text, parts, window).0;
            prop_assert!(same_verdict(text, &whole, &checked), "whole {:?}, in parts {:?}", whole, checked);
        }

        #[test]
        fn agrees_on_arrays_built_to_be_valid(items in prop::collection::vec(
            prop::sample::select(vec!["1", "\"a,b\"", "{\"k\":[1,{}]}", "[]", "\"\\\\\"", "null"]), 0..30)
        ) {
            let text = format!("[{}]", items.join(","));
            prop_assert!(check_json(text.as_bytes()).is_ok());
            agrees(text.as_bytes());
        }
    }
}

#[cfg(test)]
/// Generated payloads (deep nesting around serde_json's limit of 128,
/// strings that look like cuts, a BOM, trailing data, byte mutations)
/// against the claim the check in parts rests on. Written by a review;
/// `PARTS_FUZZ_SEED` and `PARTS_FUZZ_ITERS` run it longer (in release).
mod parts_fuzz {
    use super::*;
    use crate::payload::check_json;
    use std::io;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const STRINGS: &[&str] = &[
        "\"a\"",
        "\"},{\"",
        "\"],[\"",
        "\"\\\\\"",
        "\"\\\"\"",
        "\"\\\"},{\\\"\"",
        "\"\\\\\\\"},{\"",
        "\"\\ud83d\\ude00\"",
        "\"\u{e9}\"",
        "\"} , [\"",
        "\"x\\\\\"",
    ];
    const WS: &[&str] = &["", "", "", " ", "\n", "\r\n", "\t", " ", "\n", "\t"];

    fn ws(rng: &mut Rng, out: &mut String) {
        if rng.below(4) == 0 {
            out.push_str(WS[rng.below(WS.len())]);
        }
    }

    fn value(rng: &mut Rng, depth: usize, out: &mut String) {
        let pick = if depth > 140 {
            rng.below(4)
        } else {
            rng.below(8)
        };
        match pick {
            0 => out.push_str(["1", "-2.5e3", "true", "null", "0"][rng.below(5)]),
            1..=3 => out.push_str(match rng.below(300) {
                0 => "\"\\ud800\"",
                1 => "\x0c\"a\"",
                _ => STRINGS[rng.below(STRINGS.len())],
            }),
            4 | 5 => members(rng, depth, out, false),
            _ => members(rng, depth, out, true),
        }
    }

    /// An object (`keyed`) or an array of up to three members.
    fn members(rng: &mut Rng, depth: usize, out: &mut String, keyed: bool) {
        out.push(if keyed { '{' } else { '[' });
        for i in 0..rng.below(4) {
            if i > 0 {
                out.push(',');
            }
            ws(rng, out);
            if keyed {
                out.push_str(STRINGS[rng.below(STRINGS.len())]);
                out.push(':');
                ws(rng, out);
            }
            value(rng, depth + 1, out);
            if !keyed {
                ws(rng, out);
            }
        }
        out.push(if keyed { '}' } else { ']' });
    }

    /// Sometimes a deep chain so that depth hovers around serde_json's 128.
    fn deep(rng: &mut Rng, out: &mut String) {
        let d = 120 + rng.below(12);
        for _ in 0..d {
            out.push_str(if rng.below(2) == 0 { "[" } else { "{\"k\":" });
        }
        out.push('1');
        let s = out.clone();
        let opens: Vec<char> = s
            .chars()
            .rev()
            .filter(|c| *c == '[' || *c == '{')
            .take(d)
            .collect();
        for c in opens {
            out.push(if c == '[' { ']' } else { '}' });
        }
    }

    fn payload(rng: &mut Rng) -> Vec<u8> {
        let mut out = String::new();
        if rng.below(20) == 0 {
            out.push('\u{feff}');
        }
        ws(rng, &mut out);
        out.push('[');
        let n = 1 + rng.below(12);
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            ws(rng, &mut out);
            if rng.below(10) == 0 {
                let mut d = String::new();
                deep(rng, &mut d);
                out.push_str(&d);
            } else {
                value(rng, 1, &mut out);
            }
            ws(rng, &mut out);
        }
        out.push(']');
        ws(rng, &mut out);
        match rng.below(30) {
            0 => out.push_str("[1]"),
            1 => out.push_str(",{}"),
            2 => out.push(']'),
            _ => {}
        }
        let mut bytes = out.into_bytes();
        for _ in 0..rng.below(6).saturating_sub(3) {
            if bytes.is_empty() {
                break;
            }
            let at = rng.below(bytes.len());
            let set = b"[]{},\"\\: x\xff0";
            let b = set[rng.below(set.len())];
            match rng.below(3) {
                0 => bytes[at] = b,
                1 => bytes.insert(at, b),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        bytes
    }

    /// Commas likely_cut could accept given the whole text as context.
    fn candidate_cuts(text: &[u8]) -> Vec<u64> {
        (1..text.len())
            .filter(|&at| {
                text[at] == b','
                    && text[..at]
                        .iter()
                        .rposition(|b| !b.is_ascii_whitespace())
                        .is_some_and(|i| matches!(text[i], b'}' | b']'))
                    && matches!(
                        text[at + 1..].iter().find(|b| !b.is_ascii_whitespace()),
                        Some(b'{' | b'[')
                    )
            })
            .map(|at| at as u64)
            .collect()
    }

    /// The generator seeded as `PARTS_FUZZ_SEED` says, or with `seed`, and
    /// how many payloads to make (`PARTS_FUZZ_ITERS`, or 600).
    fn fuzz_settings(seed: u64) -> (Rng, usize) {
        let var = |name| std::env::var(name).ok().and_then(|s| s.parse().ok());
        let seed = var("PARTS_FUZZ_SEED").unwrap_or(seed);
        let iters = var("PARTS_FUZZ_ITERS").map_or(600, |n| n as usize);
        (Rng(seed), iters)
    }

    #[test]
    fn parts_that_pass_make_a_whole_that_passes() {
        let (mut rng, iters) = fuzz_settings(0x9e3779b97f4a7c15);
        let (mut passed_parts, mut tried) = (0, 0);
        for _ in 0..iters {
            let text = payload(&mut rng);
            let whole = check_json(&text);
            let open = || Ok(io::Cursor::new(&text[..]));
            // Any increasing set of commas likely_cut could pick.
            let cands = candidate_cuts(&text);
            for _ in 0..4 {
                let k = 1 + rng.below(3);
                let mut cuts: Vec<u64> = cands
                    .iter()
                    .copied()
                    .filter(|_| rng.below(cands.len().div_ceil(k)) == 0)
                    .collect();
                if cuts.is_empty() {
                    continue;
                }
                cuts.truncate(4);
                tried += 1;
                if let Some(len) = check_parts(&cuts, &open) {
                    passed_parts += 1;
                    assert!(
                        whole.is_ok() && len == text.len() as u64,
                        "{:?} passed in parts cut at {cuts:?}: whole {whole:?}, len {len}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
            // And the real cutting, with its windows.
            for parts in 2..=5 {
                for window in [1, 2, 3, 5, 8, 16, 64, text.len().max(1)] {
                    let checked = check_in_parts(text.len() as u64, parts, window, &open);
                    match (&whole, checked) {
                        (Ok(()), Ok(len)) => assert_eq!(len, text.len() as u64),
                        (Err(w), Err(EncryptError::Check(EventCheckError::Json(e)))) => {
                            // Known, pre-existing: the whole check tells invalid
                            // UTF-8 anywhere before any syntax error.
                            if !(w.kind == crate::payload::JsonErrorKind::Syntax
                                && e.kind == crate::payload::JsonErrorKind::LoneSurrogate)
                                && w.kind != crate::payload::JsonErrorKind::Utf8
                            {
                                assert_eq!(w, &e, "{:?}", String::from_utf8_lossy(&text));
                            }
                        }
                        (w, c) => panic!(
                            "{:?} parts {parts} window {window}: whole {w:?}, in parts {c:?}",
                            String::from_utf8_lossy(&text)
                        ),
                    }
                }
            }
        }
        assert!(
            passed_parts > iters / 10 && tried > iters / 2,
            "{passed_parts} of {tried}"
        );
    }

    /// The same payloads, with lone surrogates, control characters and
    /// escapes added, go on as a stream ([`bounded`]) from the start or
    /// some way in, and are judged as the whole check judges them.
    #[test]
    fn payloads_checked_as_a_stream_are_judged_as_whole_ones() {
        let (mut rng, iters) = fuzz_settings(0x2545f4914f6cdd1d);
        let (mut passed, mut refused) = (0, 0);
        for _ in 0..iters {
            let mut text = payload(&mut rng);
            for _ in 0..rng.below(3) {
                let at = rng.below(text.len() + 1);
                let bits: &[&[u8]] = &[
                    b"\\ud800",
                    b"\\udc00",
                    b"\\ud83d\\ude00",
                    b"\n",
                    b"\t",
                    b"\\",
                    b"\\u00e9",
                    b"\"\\u",
                    b"\xe2\x82",
                ];
                let bit = bits[rng.below(bits.len())];
                text.splice(at..at, bit.iter().copied());
            }
            let whole = check_json(&text);
            for step in [1, 3, 64, 4096] {
                for hold_max in [0, 5, 40] {
                    let streamed = super::tests::streamed_holding(&text, step, hold_max);
                    match (&whole, streamed) {
                        (Ok(()), Ok(len)) => assert_eq!(len, text.len() as u64),
                        // Known, pre-existing: a lone surrogate in a run
                        // checked before the run with a syntax error.
                        (Err(w), Err(e))
                            if w.kind == crate::payload::JsonErrorKind::Syntax
                                && e.kind == crate::payload::JsonErrorKind::LoneSurrogate => {}
                        (Err(w), Err(e)) => assert_eq!(
                            w,
                            &e,
                            "{:?} step {step} hold {hold_max}",
                            String::from_utf8_lossy(&text)
                        ),
                        (w, c) => panic!(
                            "{:?} step {step} hold {hold_max}: whole {w:?}, streamed {c:?}",
                            String::from_utf8_lossy(&text)
                        ),
                    }
                }
            }
            if whole.is_ok() {
                passed += 1
            } else {
                refused += 1
            }
        }
        assert!(
            passed > iters / 10 && refused > iters / 10,
            "{passed} passed, {refused} refused"
        );
    }
}
