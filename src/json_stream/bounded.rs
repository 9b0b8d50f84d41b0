//! The check of the rest of a payload in memory of fixed size, for the
//! shapes the run-by-run check would have to hold whole: an element of many
//! MiB, a payload that is not an array, a great deal of whitespace.
//!
//! serde_json reads the rest as a stream, holding nothing (slower than
//! parsing runs as slices, but only such payloads come here), while the
//! bytes on their way to it are read as UTF-8 and searched for lone
//! surrogates. Errors are told as the whole payload's check tells them:
//! bytes that are not UTF-8, anywhere, first; then serde_json's error; then
//! a lone surrogate.

use std::io::{self, Read};
use std::ops::Range;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::Checker;
use crate::payload::{JsonError, lone_surrogate_error, scan_surrogates, utf8_error};
use crate::read::read_some;
use crate::tuning::JSON_WINDOW_LEN;

/// Read from the stream at most at a time, to pass on to serde_json. Tests
/// read a few bytes at a time, so that reads cut escapes and characters at
/// every place.
const WINDOW_LEN: usize = if cfg!(test) { 7 } else { JSON_WINDOW_LEN };

/// serde_json's words for a control character in a string.
const CONTROL_CHARACTER: &str = "control character (\\u0000-\\u001F) found while parsing a string";

/// Why the rest did not pass.
pub(super) enum Refused {
    Json(JsonError),
    Read(io::Error),
}

/// Checks `held`, which starts where `place` says (the payload's start, or
/// the comma after the elements already checked), and then all that `reader`
/// gives, as the rest of the payload. Returns the rest's length.
pub(super) fn check_rest(
    place: &Checker,
    held: Vec<u8>,
    reader: impl Read,
) -> Result<u64, Refused> {
    // After elements already checked, the rest starts with their comma:
    // an element before it makes it read as the whole payload's parser
    // reads it there (`[1,]` and `[1,` fail as they would).
    let before: &[u8] = if place.offset > 0 { b"[0" } else { b"" };
    let mut guard = Guard::new(place, io::Cursor::new(held).chain(reader));
    let parsed = {
        // No buffer between: the guard knows the last byte serde_json took.
        let mut parser = serde_json::Deserializer::from_reader(before.chain(&mut guard));
        IgnoredAny::deserialize(&mut parser).and_then(|_| parser.end())
    };
    // Where the last byte serde_json took is, before any more are read.
    let last_taken = guard.before_last;
    if parsed.is_err() {
        // Bytes that are not UTF-8 outrank the error: read on to see.
        guard.skip_rest();
    }
    if let Some(refused) = guard.refused.take() {
        return Err(refused);
    }
    if let Err(error) = parsed {
        let mut error = JsonError::from(error);
        if error.message == CONTROL_CHARACTER {
            // serde_json tells it after the character when reading a stream,
            // before it when reading a slice, as the whole check does.
            (error.line, error.column) = (last_taken.0 + 1, last_taken.1);
            return Err(Refused::Json(error));
        }
        if error.line == 1 {
            error.column -= before.len();
        }
        return Err(Refused::Json(place.shift(error)));
    }
    match guard.surrogate.take() {
        Some(error) => Err(Refused::Json(error)),
        None => Ok(guard.passed),
    }
}

/// Where the first bytes that are not UTF-8 are in `held`, which starts
/// where `place` says, and then in all that `reader` gives; `None` if there
/// are none, or if reading failed.
pub(super) fn first_utf8_error(
    place: &Checker,
    held: &[u8],
    reader: impl Read,
) -> Option<JsonError> {
    let mut guard = Guard::new(place, held.chain(reader));
    guard.skip_rest();
    match guard.refused {
        Some(Refused::Json(error)) => Some(error),
        _ => None,
    }
}

/// Passes on what it reads once it is known to be UTF-8, and finds the
/// first lone surrogate escape in it.
struct Guard<R> {
    inner: R,
    /// Bytes read: kept for the surrogate search (already passed on), to
    /// pass on, and the start of a character cut by the end of a read.
    window: Vec<u8>,
    /// Where in the payload `window` starts.
    place: Checker,
    /// The part of `window` to pass on.
    ready: Range<usize>,
    /// Where in `window` the surrogate search goes on.
    search_from: usize,
    /// The first lone surrogate escape, once found.
    surrogate: Option<JsonError>,
    /// Bytes that are not UTF-8, or a failed read; nothing more is passed on.
    refused: Option<Refused>,
    ended: bool,
    passed: u64,
    /// Where in the payload the last byte passed on is: 0-based line and column.
    before_last: (usize, usize),
    /// Where in the payload the next byte to pass on is.
    next: (usize, usize),
}

impl<R: Read> Guard<R> {
    fn new(place: &Checker, inner: R) -> Self {
        Guard {
            inner,
            window: Vec::with_capacity(WINDOW_LEN + 16),
            place: Checker {
                offset: place.offset,
                line: place.line,
                column: place.column,
                ..Checker::default()
            },
            ready: 0..0,
            search_from: 0,
            surrogate: None,
            refused: None,
            ended: false,
            passed: 0,
            before_last: (place.line, place.column),
            next: (place.line, place.column),
        }
    }

    /// Reads the rest without passing it on, until the end or a refusal.
    fn skip_rest(&mut self) {
        while self.refused.is_none() {
            self.ready.start = self.ready.end;
            if self.ended {
                return;
            }
            if let Err(refused) = self.refill() {
                self.refused = Some(refused);
            }
        }
    }

    /// Reads on until there is something to pass on, or nothing more.
    fn refill(&mut self) -> Result<(), Refused> {
        while self.ready.is_empty() && !self.ended {
            // What the search is done with goes; the rest stays.
            let done = match self.surrogate {
                Some(_) => self.ready.end,
                None => self.search_from,
            };
            self.place.advance(&self.window[..done]);
            self.window.drain(..done);
            let unchecked = self.ready.end - done;
            self.search_from = 0;
            let kept = self.window.len();
            self.window.resize(kept + WINDOW_LEN, 0);
            let read = read_some(&mut self.inner, &mut self.window[kept..]);
            self.window
                .truncate(kept + read.as_ref().map_or(0, |n| n.unwrap_or(0)));
            self.ended = read.map_err(Refused::Read)?.is_none();
            let new = &self.window[unchecked..];
            let valid = match simdutf8::compat::from_utf8(new) {
                Ok(_) => new.len(),
                Err(e) if e.error_len().is_some() || self.ended => {
                    let at = unchecked + e.valid_up_to();
                    return Err(Refused::Json(
                        self.place.shift(utf8_error(&self.window, at)),
                    ));
                }
                // A character cut by the end of the read waits for the next.
                Err(e) => e.valid_up_to(),
            };
            self.ready = unchecked..unchecked + valid;
            if self.surrogate.is_none() {
                match scan_surrogates(&self.window[..self.ready.end], self.ended) {
                    Ok(from) => self.search_from = from,
                    Err(at) => {
                        let error = lone_surrogate_error(&self.window, at);
                        self.surrogate = Some(self.place.shift(error));
                    }
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.refused.is_some() {
            return Err(io::Error::other("the payload was refused"));
        }
        if self.ready.is_empty()
            && let Err(refused) = self.refill()
        {
            self.refused = Some(refused);
            return Err(io::Error::other("the payload was refused"));
        }
        if self.ready.is_empty() || buf.is_empty() {
            return Ok(0); // the end of the payload
        }
        // A byte at a time: serde_json asks for no more, and the place of the last is known.
        let byte = self.window[self.ready.start];
        buf[0] = byte;
        self.before_last = self.next;
        self.next = match byte {
            b'\n' => (self.next.0 + 1, 0),
            _ => (self.next.0, self.next.1 + 1),
        };
        self.ready.start += 1;
        self.passed += 1;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{JSON_HOLD_MAX, Mode, check_measured};
    use crate::cipher::EncryptError;
    use crate::events::EventCheckError;
    use crate::payload::{JsonError, check_json};
    use crate::read::Trickle;

    fn as_a_stream(text: &[u8], step: usize, hold_max: usize) -> Result<u64, JsonError> {
        match check_measured(Trickle { bytes: text, step }, Mode::Alone, hold_max) {
            Ok((len, _)) => Ok(len),
            Err(EncryptError::Check(EventCheckError::Json(error))) => Err(error),
            Err(other) => panic!("not a JSON error: {other}"),
        }
    }

    #[test]
    fn escapes_cut_by_reads_are_judged_whole() {
        let texts: &[&[u8]] = &[
            br#"["\ud83d\ude00", "\ud800"]"#,
            br#"["\ud83d\ude00", "\ude00 x"]"#,
            br#"[1, {"k": "\\ud800\ud83d\ude00"}, "\\\ud800"]"#,
            br#"[1, "ab\ud800\u00e9"]"#,
            br#"[1, "ab\ud800\ud800"]"#,
            br#"[1, "\ud83d\ude00\ud83d\ude00\\"]"#,
            "[1, \"\u{e9}\u{20ac}\u{1f600}\"]".as_bytes(),
            b"[1, \"\xe2\x82\"]",
            b"[1, \"\xe2\x82",
            b"[1, \"a\nb\"]",
            b"[1, 2]\n \n  x",
            b"[1,\n  ]",
            b"[1,   ",
            b"{\"a\": [1, 2,]}",
            br#"[1, {"x\\\ud800":"\u"}, 2]"#,
            br#"[1, "\u"]"#,
            br#"[1, "\u12"]"#,
            br#"[1, "\uZZZZ"]"#,
            br#"[1, {"x":"\u"}, 2]"#,
            br#"[1, {"x":"\u1"}, [2]]"#,
        ];
        for text in texts {
            let whole = check_json(text);
            for step in 1..=13 {
                for hold_max in [0, 4, 7] {
                    let streamed = as_a_stream(text, step, hold_max);
                    let same = match (&whole, &streamed) {
                        (Ok(()), Ok(len)) => *len == text.len() as u64,
                        (Err(whole), Err(streamed)) => whole == streamed,
                        _ => false,
                    };
                    assert!(
                        same,
                        "{:?} in steps of {step}, holding {hold_max}: whole {whole:?}, as a stream {streamed:?}",
                        String::from_utf8_lossy(text)
                    );
                }
            }
        }
        // Nothing of a payload far past what may be held is kept.
        let mut long = b"[{\"a\": \"".to_vec();
        long.resize(long.len() + 3 * JSON_HOLD_MAX, b'x');
        long.extend_from_slice(b"\"}]");
        let (len, peak) = check_measured(
            Trickle {
                bytes: &long,
                step: 1 << 20,
            },
            Mode::Alone,
            JSON_HOLD_MAX,
        )
        .unwrap();
        assert_eq!(len, long.len() as u64);
        assert!(peak <= 2 * JSON_HOLD_MAX, "held {peak} bytes");
    }
}
