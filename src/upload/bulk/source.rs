//! Events read one at a time from a JSON array or from NDJSON, in bounded
//! memory, with where each came from and a running fingerprint of the input.

use std::fmt;
use std::io::{self, BufRead};

use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// How the input holds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// One JSON array of events, read element by element.
    Array,
    /// One event object, or one array of events, per non-empty line.
    Lines,
}

/// Where an event is in the input, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The index in the input's array.
    Index(u64),
    /// A line (1-based) and, if the line holds an array, the index in it.
    Line {
        /// The line, from 1.
        line: u64,
        /// The index in the line's array, if it holds one.
        index: Option<u64>,
    },
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Index(index) => write!(f, "event[{index}]"),
            Position::Line { line, index: None } => write!(f, "line {line}"),
            Position::Line {
                line,
                index: Some(index),
            } => write!(f, "line {line}, event[{index}]"),
        }
    }
}

/// One event as read.
#[derive(Debug)]
pub struct SourceEvent {
    /// Its number in the input, from 0, counting every event.
    pub ordinal: u64,
    /// Where it is, for people.
    pub position: Position,
    /// Its exact text, or a line of NDJSON that is not JSON.
    pub text: Result<Box<RawValue>, NotJson>,
    /// How many input bytes lie before the end of its text (its line, for NDJSON).
    #[allow(dead_code)] // read by the tests; the follower will use it
    pub end_offset: u64,
    /// The input's fingerprint up to `end_offset`, when the source keeps
    /// them ([`EventSource::with_prefixes`]).
    pub prefix: Option<Fingerprint>,
}

/// A line of NDJSON that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJson {
    /// What the parser said.
    pub error: String,
    /// The line as written (invalid UTF-8 replaced).
    pub line: String,
}

/// The input's size and SHA-256 up to some point.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// Bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// The input could not be read, or is not the JSON array it should be.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Reading failed.
    #[error("could not read the events")]
    Read(#[source] io::Error),
    /// The input is not UTF-8 text (a byte-order mark, UTF-16, UTF-32).
    #[error(transparent)]
    Encoding(#[from] crate::JsonError),
    /// The array's JSON is broken; nothing after this point can be read.
    #[error("the events are not a well-formed JSON array: {detail} (at byte {offset})")]
    Malformed {
        /// What is wrong.
        detail: String,
        /// Where, in bytes from the start.
        offset: u64,
    },
    /// The input read as an array starts with a JSON object: one event, or
    /// one event per line (NDJSON).
    #[error("the input starts with a JSON object, not a JSON array of events `[...]`")]
    StartsWithObject,
    /// The input read as lines is one pretty-printed JSON value.
    #[error(
        "line {line} is a lone `{opening}`: the input looks like one pretty-printed JSON \
         {what}, not one event per line"
    )]
    LooksPrettyPrinted {
        /// The line, from 1.
        line: u64,
        /// `[` or `{`.
        opening: char,
        /// `array` or `object`.
        what: &'static str,
    },
    /// One event (or line) is longer than one request may hold.
    #[error(
        "{position} is longer than {limit} bytes, more than one request may hold; nothing \
         after it was read"
    )]
    TooLong {
        /// The event or line.
        position: Position,
        /// The limit.
        limit: usize,
    },
}

/// Reads events from `R`; an iterator of [`SourceEvent`]s.
pub struct EventSource<R> {
    reader: R,
    format: InputFormat,
    consumed: u64,
    hasher: Sha256,
    next_ordinal: u64,
    /// Array: how far the outer array has been read.
    array: ArrayState,
    /// Lines: the line number, and events of a line holding an array, not yet handed out.
    line: u64,
    queued: std::collections::VecDeque<SourceEvent>,
    buffer: Vec<u8>,
    failed: bool,
    hashing: bool,
    prefixes: bool,
    /// Whether a non-empty line has been read.
    seen_content: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    BeforeOpen,
    BeforeFirst,
    BeforeNext,
    Done,
}

impl<R: BufRead> EventSource<R> {
    /// Events from `reader`, which holds them as `format` says.
    pub fn new(reader: R, format: InputFormat) -> Self {
        EventSource {
            reader,
            format,
            consumed: 0,
            hasher: Sha256::new(),
            next_ordinal: 0,
            array: ArrayState::BeforeOpen,
            line: 0,
            queued: std::collections::VecDeque::new(),
            buffer: Vec::new(),
            failed: false,
            hashing: true,
            prefixes: false,
            seen_content: false,
        }
    }

    /// Gives each event the input's fingerprint up to its end (to check,
    /// on resuming a stream, that it is the stream an earlier run read).
    pub fn with_prefixes(mut self) -> Self {
        self.prefixes = true;
        self
    }

    /// Whether this source hashes what it reads.
    pub fn is_hashing(&self) -> bool {
        self.hashing
    }

    /// Whether this source gives events their prefix fingerprints.
    pub fn keeps_prefixes(&self) -> bool {
        self.prefixes && self.hashing
    }

    fn prefix(&self) -> Option<Fingerprint> {
        self.keeps_prefixes().then(|| self.fingerprint())
    }

    /// Does not hash what it reads (for a pass over a file already fingerprinted):
    /// [`EventSource::fingerprint`] then holds only the size.
    pub fn without_fingerprint(mut self) -> Self {
        self.hashing = false;
        self
    }

    /// The size and SHA-256 of what has been read so far (the whole input,
    /// once the iterator has ended).
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint {
            size: self.consumed,
            sha256: hex(&self.hasher.clone().finalize()),
        }
    }

    fn consume(&mut self, bytes: usize) {
        if self.hashing
            && let Ok(chunk) = self.reader.fill_buf().map(|b| &b[..bytes])
        {
            self.hasher.update(chunk);
        }
        self.reader.consume(bytes);
        self.consumed += bytes as u64;
    }

    fn malformed(&mut self, detail: impl Into<String>) -> SourceError {
        self.failed = true;
        SourceError::Malformed {
            detail: detail.into(),
            offset: self.consumed,
        }
    }

    /// A byte-order mark, UTF-16 or UTF-32 at the start.
    fn encoding_problem(&mut self) -> Result<Option<crate::JsonError>, SourceError> {
        let start = self.reader.fill_buf().map_err(SourceError::Read)?;
        Ok(crate::payload::encoding_problem(start))
    }

    /// Skips ASCII whitespace; the next byte, if any, is left unread.
    fn peek_past_whitespace(&mut self) -> Result<Option<u8>, SourceError> {
        loop {
            let available = self.reader.fill_buf().map_err(SourceError::Read)?;
            if available.is_empty() {
                return Ok(None);
            }
            let blank = available
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            let first = available.get(blank).copied();
            self.consume(blank);
            if first.is_some() {
                return Ok(first);
            }
        }
    }

    /// Reads one element of the outer array into `self.buffer`, up to (not
    /// including) the `,` or `]` that ends it.
    fn read_element(&mut self) -> Result<(), SourceError> {
        self.buffer.clear();
        let limit = crate::events::MAX_REQUEST_BYTES;
        let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
        loop {
            let available = self.reader.fill_buf().map_err(SourceError::Read)?;
            if available.is_empty() {
                return Err(self.malformed("the array ends early, with no closing `]`"));
            }
            let mut end = None;
            for (i, &byte) in available.iter().enumerate() {
                if in_string {
                    match byte {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        b'"' => in_string = false,
                        _ => {}
                    }
                    continue;
                }
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    b',' | b']' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let take = end.unwrap_or(available.len());
            if self.buffer.len() + take > limit {
                self.failed = true;
                return Err(SourceError::TooLong {
                    position: Position::Index(self.next_ordinal),
                    limit,
                });
            }
            self.buffer.extend_from_slice(&available[..take]);
            self.consume(take);
            if end.is_some() {
                return Ok(());
            }
        }
    }

    fn next_in_array(&mut self) -> Option<Result<SourceEvent, SourceError>> {
        loop {
            match self.array {
                ArrayState::Done => {
                    return match self.peek_past_whitespace() {
                        Ok(None) => None,
                        Ok(Some(_)) => Some(Err(self.malformed("text follows the array's `]`"))),
                        Err(e) => Some(Err(e)),
                    };
                }
                ArrayState::BeforeOpen => {
                    match self.encoding_problem() {
                        Ok(None) => {}
                        Ok(Some(error)) => {
                            self.failed = true;
                            return Some(Err(error.into()));
                        }
                        Err(e) => return Some(Err(e)),
                    }
                    match self.peek_past_whitespace() {
                        Ok(Some(b'[')) => {
                            self.consume(1);
                            self.array = ArrayState::BeforeFirst;
                        }
                        Ok(Some(b'{')) => {
                            self.failed = true;
                            return Some(Err(SourceError::StartsWithObject));
                        }
                        Ok(Some(_)) => {
                            return Some(Err(
                                self.malformed("the input must be a JSON array of events, `[...]`")
                            ));
                        }
                        Ok(None) => return Some(Err(self.malformed("the input is empty"))),
                        Err(e) => return Some(Err(e)),
                    }
                }
                ArrayState::BeforeFirst | ArrayState::BeforeNext => {
                    let first = self.array == ArrayState::BeforeFirst;
                    match self.peek_past_whitespace() {
                        Ok(Some(b']')) if first => {
                            self.consume(1);
                            self.array = ArrayState::Done;
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => return Some(Err(e)),
                    }
                    return Some(self.array_element());
                }
            }
        }
    }

    fn array_element(&mut self) -> Result<SourceEvent, SourceError> {
        self.read_element()?;
        let end_offset = self.consumed;
        let text = self.buffer.trim_ascii_end();
        if text.is_empty() {
            return Err(self.malformed("an element is missing (`,,`, `[,` or `,]`)"));
        }
        let parsed: Box<RawValue> = match serde_json::from_slice(text) {
            Ok(value) => value,
            Err(e) => {
                let ordinal = self.next_ordinal;
                return Err(self.malformed(format!("event[{ordinal}]: {e}")));
            }
        };
        // The `,` or `]` that ended it.
        match self.reader.fill_buf().map_err(SourceError::Read)?.first() {
            Some(b']') => self.array = ArrayState::Done,
            _ => self.array = ArrayState::BeforeNext,
        }
        self.consume(1);
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        Ok(SourceEvent {
            ordinal,
            position: Position::Index(ordinal),
            text: Ok(parsed),
            end_offset,
            prefix: self.prefix(),
        })
    }

    /// Reads the next line into `self.buffer` (with its newline), at most
    /// [`MAX_REQUEST_BYTES`](crate::events::MAX_REQUEST_BYTES) of it in
    /// memory; the bytes read, 0 at the end.
    fn read_line(&mut self) -> Result<usize, SourceError> {
        self.buffer.clear();
        let limit = crate::events::MAX_REQUEST_BYTES;
        let mut read = 0;
        loop {
            let available = self.reader.fill_buf().map_err(SourceError::Read)?;
            if available.is_empty() {
                return Ok(read);
            }
            let (take, done) = match memchr::memchr(b'\n', available) {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            if self.buffer.len() + take > limit + 2 {
                self.failed = true;
                return Err(SourceError::TooLong {
                    position: Position::Line {
                        line: self.line + 1,
                        index: None,
                    },
                    limit,
                });
            }
            self.buffer.extend_from_slice(&available[..take]);
            self.reader.consume(take);
            read += take;
            if done {
                return Ok(read);
            }
        }
    }

    fn next_in_lines(&mut self) -> Option<Result<SourceEvent, SourceError>> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some(Ok(event));
            }
            let read = match self.read_line() {
                Ok(read) => read,
                Err(e) => return Some(Err(e)),
            };
            if read == 0 {
                return None;
            }
            if self.consumed == 0
                && let Some(error) = crate::payload::encoding_problem(&self.buffer)
            {
                self.failed = true;
                return Some(Err(error.into()));
            }
            if self.hashing {
                self.hasher.update(&self.buffer);
            }
            self.consumed += read as u64;
            self.line += 1;
            let text = self.buffer.trim_ascii();
            if text.is_empty() {
                continue;
            }
            // A pretty-printed document read as lines would make every line
            // a rejected event: its first line tells.
            if !std::mem::replace(&mut self.seen_content, true)
                && let [opening @ (b'[' | b'{')] = text
            {
                self.failed = true;
                let what = if *opening == b'[' { "array" } else { "object" };
                return Some(Err(SourceError::LooksPrettyPrinted {
                    line: self.line,
                    opening: char::from(*opening),
                    what,
                }));
            }
            let (line, end_offset) = (self.line, self.consumed);
            let prefix = self.prefix();
            let mut next_ordinal = self.next_ordinal;
            let mut event = |index, text| {
                let ordinal = next_ordinal;
                next_ordinal += 1;
                SourceEvent {
                    ordinal,
                    position: Position::Line { line, index },
                    text,
                    end_offset,
                    prefix: prefix.clone(),
                }
            };
            let not_json = |e: serde_json::Error| NotJson {
                error: e.to_string(),
                line: String::from_utf8_lossy(text).into_owned(),
            };
            let single = if text.first() == Some(&b'[') {
                match serde_json::from_slice::<Vec<Box<RawValue>>>(text) {
                    Ok(events) => {
                        let events: Vec<SourceEvent> = (0u64..)
                            .zip(events)
                            .map(|(i, e)| event(Some(i), Ok(e)))
                            .collect();
                        self.queued.extend(events);
                        None
                    }
                    Err(e) => Some(event(None, Err(not_json(e)))),
                }
            } else {
                let parsed = serde_json::from_slice::<Box<RawValue>>(text).map_err(not_json);
                Some(event(None, parsed))
            };
            self.next_ordinal = next_ordinal;
            if let Some(single) = single {
                return Some(Ok(single));
            }
        }
    }
}

impl<R: BufRead> Iterator for EventSource<R> {
    type Item = Result<SourceEvent, SourceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.format {
            InputFormat::Array => self.next_in_array(),
            InputFormat::Lines => self.next_in_lines(),
        }
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(input: &str, format: InputFormat) -> Vec<Result<(String, String, u64), String>> {
        // A tiny buffer: elements cross buffer boundaries.
        let reader = io::BufReader::with_capacity(3, input.as_bytes());
        EventSource::new(reader, format)
            .map(|item| {
                item.map(|e| {
                    let text = e
                        .text
                        .map_or_else(|err| format!("!{}", err.line), |t| t.get().to_owned());
                    (e.position.to_string(), text, e.end_offset)
                })
                .map_err(|e| e.to_string())
            })
            .collect()
    }

    #[test]
    fn an_array_is_read_element_by_element_with_exact_text() {
        let input = " [ {\"a\": \"x,]\\\"}\"} ,\n[1, [2]], 3 ,\"s\"]\n";
        let got = read(input, InputFormat::Array);
        let texts: Vec<_> = got.iter().map(|r| r.as_ref().unwrap().1.clone()).collect();
        assert_eq!(texts, ["{\"a\": \"x,]\\\"}\"}", "[1, [2]]", "3", "\"s\""]);
        let places: Vec<_> = got.iter().map(|r| r.as_ref().unwrap().0.clone()).collect();
        assert_eq!(places, ["event[0]", "event[1]", "event[2]", "event[3]"]);
        // The first ends right after its `}` and the spaces that follow.
        assert_eq!(
            got[0].as_ref().unwrap().2,
            input.find("} ,").unwrap() as u64 + 2
        );
    }

    #[test]
    fn the_fingerprint_covers_the_whole_input() {
        let input = "[{\"a\":1},{\"a\":2}]\n";
        let mut source = EventSource::new(input.as_bytes(), InputFormat::Array);
        assert_eq!(source.by_ref().count(), 2);
        let fingerprint = source.fingerprint();
        assert_eq!(fingerprint.size, input.len() as u64);
        assert_eq!(fingerprint.sha256, hex(&Sha256::digest(input.as_bytes())));
    }

    #[test]
    fn broken_arrays_are_refused_with_a_reason() {
        for (input, expected) in [
            ("", "empty"),
            ("{}", "starts with a JSON object"),
            ("7", "must be a JSON array"),
            ("[1,,2]", "missing"),
            ("[1, 2", "ends early"),
            ("[1] x", "follows"),
            ("[{\"a\" 1}]", "event[0]"),
        ] {
            let got = read(input, InputFormat::Array);
            let error = got.iter().find_map(|r| r.as_ref().err()).expect(input);
            assert!(error.contains(expected), "{input}: {error}");
        }
        assert!(read("[]", InputFormat::Array).is_empty());
        assert!(read(" [ ] ", InputFormat::Array).is_empty());
    }

    #[test]
    fn lines_hold_objects_or_arrays_and_bad_lines_are_events_that_fail() {
        let input = "{\"a\":1}\n\n[{\"b\":2},{\"c\":3}]\r\nnot json\n{\"d\":4}";
        let got: Vec<_> = read(input, InputFormat::Lines)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let places: Vec<_> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(
            places,
            [
                "line 1",
                "line 3, event[0]",
                "line 3, event[1]",
                "line 4",
                "line 5"
            ]
        );
        assert_eq!(got[1].1, "{\"b\":2}");
        assert!(got[3].1.starts_with('!'), "{:?}", got[3]);
        assert_eq!(got[4].2, input.len() as u64);
    }
}
