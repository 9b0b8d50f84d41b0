//! The payload before it is encrypted: which check it must pass, the JSON check
//! itself, and whitespace-only rewrites (compact; pretty is in [`crate::pretty`]).

use std::fmt;

use serde::de::IgnoredAny;

mod fast_path;

use crate::events::{self, EventCheckError, EventRules, Warnings};
pub use crate::json_stream::{check_json_reader, check_json_reader_parallel, check_json_seekable};

/// The payload is not JSON the API can read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonError {
    /// What is wrong, in broad terms (advice depends on it).
    pub kind: JsonErrorKind,
    /// What serde_json (or the encoding check) found wrong.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in bytes.
    pub column: usize,
}

/// The kinds of [`JsonError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// Not JSON's grammar.
    Syntax,
    /// Bytes that are not UTF-8.
    Utf8,
    /// A UTF-8 byte-order mark (EF BB BF) before the JSON text.
    ByteOrderMark,
    /// The text is in another Unicode encoding than UTF-8.
    Encoding(WideEncoding),
    /// A `\uD800`-`\uDFFF` escape without the other half of its UTF-16 pair.
    LoneSurrogate,
}

/// UTF-16 and UTF-32, which JSON exchanged between systems must not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WideEncoding {
    /// UTF-16, little-endian (what Windows tools write as "Unicode").
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// UTF-32, little-endian.
    Utf32Le,
    /// UTF-32, big-endian.
    Utf32Be,
}

impl fmt::Display for WideEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WideEncoding::Utf16Le => "UTF-16 (little-endian)",
            WideEncoding::Utf16Be => "UTF-16 (big-endian)",
            WideEncoding::Utf32Le => "UTF-32 (little-endian)",
            WideEncoding::Utf32Be => "UTF-32 (big-endian)",
        })
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (message, line, column) = (&self.message, self.line, self.column);
        match self.kind {
            JsonErrorKind::Syntax | JsonErrorKind::Utf8 => write!(
                f,
                "the payload is not valid JSON: {message} at line {line}, column {column}"
            ),
            JsonErrorKind::LoneSurrogate => write!(
                f,
                "the payload holds a lone surrogate, {message} at line {line}, column {column}: \
                 one half of a UTF-16 pair without the other, it stands for no character and has \
                 no UTF-8 form, so parsers refuse or mangle it (RFC 8259 section 8.2); write the \
                 character itself, or both halves of its pair"
            ),
            JsonErrorKind::ByteOrderMark => write!(
                f,
                "the payload starts with a UTF-8 byte-order mark (bytes EF BB BF), which JSON \
                 sent between systems must not carry (RFC 8259 section 8.1) and the API's parser \
                 would not read; remove it (save the file as UTF-8 without BOM)"
            ),
            JsonErrorKind::Encoding(encoding) => write!(
                f,
                "the payload is {encoding}, but JSON sent between systems must be UTF-8 \
                 (RFC 8259 section 8.1); convert it to UTF-8, without a byte-order mark"
            ),
        }
    }
}

impl std::error::Error for JsonError {}

impl From<serde_json::Error> for JsonError {
    fn from(error: serde_json::Error) -> Self {
        // serde_json's Display appends " at line L column C"; keep only the description.
        let full = error.to_string();
        let message = match full.rfind(" at line ") {
            Some(cut) => full[..cut].to_owned(),
            None => full,
        };
        JsonError {
            kind: JsonErrorKind::Syntax,
            message,
            line: error.line(),
            column: error.column(),
        }
    }
}

/// Checks that `bytes` are one JSON value the API can read: UTF-8 without a
/// byte-order mark, nothing after the value but whitespace, no lone surrogate.
///
/// Builds no value tree, so it runs at parsing speed in constant memory:
/// valid text passes a quick reader of its own, and serde_json's
/// (`IgnoredAny`) judges the rest and tells the error.
pub fn check_json(bytes: &[u8]) -> Result<(), JsonError> {
    json_text(bytes).map(drop)
}

/// `bytes` as JSON text, judged as [`check_json`] judges it.
///
/// Every check of a payload goes through here, so that the plain JSON check
/// and the event checks can never disagree about what is JSON.
///
/// Lone surrogates (`"\ud800"`) are refused although JSON's grammar allows
/// them: they encode no character, so they have no UTF-8 form; serde_json
/// refuses them when it reads a string, Python's `json` reads them into text
/// it cannot encode again, and other parsers replace them with U+FFFD. An
/// event holding one would be refused or changed on the way in.
pub fn json_text(bytes: &[u8]) -> Result<&str, JsonError> {
    json_text_at(bytes, true)
}

/// [`json_text`] for `bytes` that start a payload (`at_start`) or for a
/// later run of one: a byte-order mark and UTF-16 or UTF-32 are told by a
/// payload's first bytes alone, so a run's are only read as UTF-8.
pub(crate) fn json_text_at(bytes: &[u8], at_start: bool) -> Result<&str, JsonError> {
    let text = utf8_text(bytes, at_start)?;
    if !fast_path::accepts(bytes) {
        // serde_json judges, and tells what is wrong.
        serde_json::from_str::<IgnoredAny>(text)?;
    }
    no_lone_surrogate(text)?;
    Ok(text)
}

/// Refuses a lone surrogate escape in `text`, which must be valid JSON (see
/// [`json_text`]): for a value serde_json has already parsed.
pub(crate) fn no_lone_surrogate(text: &str) -> Result<(), JsonError> {
    match lone_surrogate(text) {
        None => Ok(()),
        Some(at) => Err(lone_surrogate_error(text.as_bytes(), at)),
    }
}

/// `bytes` as UTF-8 text, or what is wrong with its encoding: where the
/// UTF-8 breaks, or, for `bytes` that start a payload (`at_start`), a
/// byte-order mark, UTF-16 or UTF-32 (told apart as RFC 4627 section 3 does).
///
/// serde_json does not look inside strings it ignores, so this runs over the
/// whole text first; it runs at many GB/s ([`simdutf8`]).
fn utf8_text(bytes: &[u8], at_start: bool) -> Result<&str, JsonError> {
    let whole = |kind, message: &str| JsonError {
        kind,
        message: message.to_owned(),
        line: 1,
        column: 1,
    };
    if at_start && bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(whole(
            JsonErrorKind::ByteOrderMark,
            "a UTF-8 byte-order mark",
        ));
    }
    if at_start && let Some(encoding) = wide_encoding(bytes) {
        return Err(whole(JsonErrorKind::Encoding(encoding), "not UTF-8"));
    }
    simdutf8::compat::from_utf8(bytes).map_err(|e| utf8_error(bytes, e.valid_up_to()))
}

/// Bytes that are not UTF-8 at `at` in `bytes`.
pub(crate) fn utf8_error(bytes: &[u8], at: usize) -> JsonError {
    let (line, column) = position(bytes, at);
    JsonError {
        kind: JsonErrorKind::Utf8,
        message: "invalid UTF-8".into(),
        line,
        column,
    }
}

/// What is wrong with the encoding of text that starts with `start`: a
/// byte-order mark, UTF-16 or UTF-32 (for a stream, judged by its first bytes).
pub(crate) fn encoding_problem(start: &[u8]) -> Option<JsonError> {
    match utf8_text(&start[..start.len().min(4)], true) {
        Err(error) if error.kind != JsonErrorKind::Utf8 => Some(error),
        _ => None,
    }
}

/// UTF-16 or UTF-32, by the byte-order mark or by the zero bytes around the
/// first character (JSON text starts with an ASCII character).
fn wide_encoding(bytes: &[u8]) -> Option<WideEncoding> {
    use WideEncoding::*;
    match bytes {
        [0xFF, 0xFE, 0, 0, ..] | [1..=255, 0, 0, 0, ..] => Some(Utf32Le),
        [0, 0, 0xFE, 0xFF, ..] | [0, 0, 0, 1..=255, ..] => Some(Utf32Be),
        [0xFF, 0xFE, ..] | [1..=255, 0, ..] => Some(Utf16Le),
        [0xFE, 0xFF, ..] | [0, 1..=255, ..] => Some(Utf16Be),
        _ => None,
    }
}

/// Where the first lone surrogate escape starts, in text that is valid JSON.
///
/// In valid JSON a backslash only ever starts an escape inside a string, so
/// the escapes can be read off without tracking strings: a high surrogate
/// (`\uD800`-`\uDBFF`) must be followed at once by a low one
/// (`\uDC00`-`\uDFFF`), and a low one must follow a high one.
fn lone_surrogate(text: &str) -> Option<usize> {
    scan_surrogates(text.as_bytes(), true).err()
}

/// [`lone_surrogate`] over `bytes` that may go on (unless `last`): `Err`
/// with where the first lone surrogate escape starts, or `Ok` with where
/// the scan is to go on once more bytes follow (an escape the end of
/// `bytes` may cut; `bytes.len()` if none). `bytes` must start outside an
/// escape.
pub(crate) fn scan_surrogates(bytes: &[u8], last: bool) -> Result<usize, usize> {
    let unit = |at: usize| -> Option<u16> {
        let hex = bytes.get(at..at + 6)?.strip_prefix(b"\\u")?;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let mut from = 0;
    // memchr's SIMD search: most payloads have no backslash, and this reads them whole.
    while let Some(found) = bytes
        .get(from..)
        .and_then(|rest| memchr::memchr(b'\\', rest))
    {
        let at = from + found;
        // The longest escape looked at is a pair: twelve bytes.
        if !last && bytes.len() - at < 12 {
            return Ok(at);
        }
        from = match unit(at) {
            Some(0xD800..=0xDBFF) => match unit(at + 6) {
                Some(0xDC00..=0xDFFF) => at + 12,
                _ => return Err(at),
            },
            Some(0xDC00..=0xDFFF) => return Err(at),
            Some(_) => at + 6,
            None => at + 2,
        };
    }
    Ok(bytes.len())
}

/// The error for the lone surrogate escape at `at` in `bytes`.
pub(crate) fn lone_surrogate_error(bytes: &[u8], at: usize) -> JsonError {
    let (line, column) = position(bytes, at);
    JsonError {
        kind: JsonErrorKind::LoneSurrogate,
        message: String::from_utf8_lossy(&bytes[at..at + 6]).into_owned(),
        line,
        column,
    }
}

/// The 1-based line and byte column of `offset` in `bytes`.
fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (
        before.iter().filter(|&&b| b == b'\n').count() + 1,
        offset - line_start + 1,
    )
}

/// What a payload must pass before it is encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Check {
    /// Any bytes.
    None,
    /// Valid JSON ([`check_json`]).
    #[default]
    Json,
    /// A well-formed array of events, as the upload API takes them ([`events::check`]).
    Events(EventRules),
}

impl Check {
    /// Runs the check; the event checks also return their warnings.
    pub fn run(&self, payload: &[u8]) -> Result<Warnings, EventCheckError> {
        match self {
            Check::None => Ok(Warnings::default()),
            Check::Json => {
                check_json(payload)?;
                Ok(Warnings::default())
            }
            Check::Events(rules) => Ok(events::check(payload, rules)?.warnings),
        }
    }
}

/// Walks a JSON text byte by byte, telling for each byte whether it is part of
/// a string (quotes included), so that the rewriters (compact here, indent in
/// [`crate::pretty`]) keep string bytes as they are.
#[derive(Default)]
pub(crate) struct StringTracker {
    in_string: bool,
    escaped: bool,
}

impl StringTracker {
    /// Whether `b`, the next byte, belongs to a string.
    pub(crate) fn is_string_byte(&mut self, b: u8) -> bool {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
            }
            true
        } else {
            self.in_string = b == b'"';
            self.in_string
        }
    }
}

/// Removes insignificant whitespace from a JSON text, touching nothing else.
///
/// Numbers, key order, duplicate keys and string escapes stay byte for byte as
/// they were; only whitespace outside strings goes. The text is checked first.
pub fn compact_json(bytes: &[u8]) -> Result<Vec<u8>, JsonError> {
    check_json(bytes)?;
    let mut tracker = StringTracker::default();
    Ok(bytes
        .iter()
        .copied()
        .filter(|&b| tracker.is_string_byte(b) || !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_json_passes() {
        check_json(br#" [ {"a": 1, "b": [true, null, "x\"y"]} ] "#).unwrap();
        check_json(b"42").unwrap();
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = check_json(b"[\n  {\"a\": 1,}\n]").unwrap_err();
        assert_eq!((err.line, err.column), (2, 11));
        let text = err.to_string();
        assert!(
            text.contains("line 2, column 11") && !text.contains("--"),
            "{text}"
        );
        assert!(!text.contains(" at line 2 column"), "{text}");
        assert!(check_json(b"").is_err());
        assert!(check_json(b"[1] [2]").is_err());
        let utf8 = check_json(b"[\n \"\xff\"]").unwrap_err();
        assert_eq!(
            (utf8.message.as_str(), utf8.line, utf8.column),
            ("invalid UTF-8", 2, 3)
        );
    }

    #[test]
    fn a_byte_order_mark_is_named_not_parsed() {
        let err = check_json(b"\xEF\xBB\xBF[1]").unwrap_err();
        assert_eq!(err.kind, JsonErrorKind::ByteOrderMark);
        let text = err.to_string();
        assert!(text.contains("byte-order mark (bytes EF BB BF)"), "{text}");
        assert!(
            text.contains("save the file as UTF-8 without BOM"),
            "{text}"
        );
        assert!(
            !text.contains("expected value") && !text.contains("--"),
            "{text}"
        );
        // Only at the start: inside a string it is a character like any other.
        check_json("[\"\u{feff}\"]".as_bytes()).unwrap();
    }

    #[test]
    fn utf16_and_utf32_are_named() {
        let encode16 = |le: bool| -> Vec<u8> {
            "[{\"a\":1}]"
                .encode_utf16()
                .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
                .collect()
        };
        let with_bom = |bom: &[u8], body: Vec<u8>| [bom, &body].concat();
        let utf32le: Vec<u8> = "[1]"
            .chars()
            .flat_map(|c| (c as u32).to_le_bytes())
            .collect();
        let utf32be: Vec<u8> = "[1]"
            .chars()
            .flat_map(|c| (c as u32).to_be_bytes())
            .collect();
        for (bytes, encoding) in [
            (encode16(true), WideEncoding::Utf16Le),
            (encode16(false), WideEncoding::Utf16Be),
            (with_bom(b"\xFF\xFE", encode16(true)), WideEncoding::Utf16Le),
            (
                with_bom(b"\xFE\xFF", encode16(false)),
                WideEncoding::Utf16Be,
            ),
            (utf32le.clone(), WideEncoding::Utf32Le),
            (utf32be.clone(), WideEncoding::Utf32Be),
            (with_bom(b"\xFF\xFE\0\0", utf32le), WideEncoding::Utf32Le),
            (with_bom(b"\0\0\xFE\xFF", utf32be), WideEncoding::Utf32Be),
        ] {
            let err = check_json(&bytes).unwrap_err();
            assert_eq!(err.kind, JsonErrorKind::Encoding(encoding), "{bytes:?}");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("the payload is {encoding}, but JSON"))
                    && text.contains("convert it to UTF-8"),
                "{text}"
            );
        }
        assert_eq!(
            check_json(b"\xff[1]").unwrap_err().kind,
            JsonErrorKind::Utf8
        );
    }

    #[test]
    fn lone_surrogates_are_refused_with_their_place() {
        for (text, escape, column) in [
            (r#"["\ud800"]"#, r"\ud800", 3),
            (r#"["\uDBFF"]"#, r"\uDBFF", 3),
            (r#"["ab\udc00"]"#, r"\udc00", 5),
            (r#"["\ud800\ud800"]"#, r"\ud800", 3),
            (r#"["\ud800x\udc00"]"#, r"\ud800", 3),
            (r#"["\ud800\n"]"#, r"\ud800", 3),
            (r#"["\udc00\ud800"]"#, r"\udc00", 3),
            (r#"["\ud83d\ude00", "\ude00"]"#, r"\ude00", 19),
            (r#"{"\ud800": 1}"#, r"\ud800", 3),
        ] {
            let err = check_json(text.as_bytes()).unwrap_err();
            assert_eq!(err.kind, JsonErrorKind::LoneSurrogate, "{text}");
            assert_eq!(
                (err.message.as_str(), err.line, err.column),
                (escape, 1, column),
                "{text}"
            );
            let message = err.to_string();
            assert!(
                message.contains(&format!(
                    "{escape} at line 1, column {column}: one half of a UTF-16 pair"
                )) && message.contains("stands for no character"),
                "{message}"
            );
        }
        let err = check_json(b"[\n  \"\\udfff\"]").unwrap_err();
        assert_eq!((err.line, err.column), (2, 4));
        // Pairs, other escapes, and a backslash followed by a u are fine.
        for good in [
            r#"["\ud83d\ude00"]"#,
            r#"["\uD83D\uDE00\u00e9\u0041"]"#,
            r#"["\\ud800"]"#,
            r#"["\\\ud83d\ude00\\"]"#,
            r#"["\"\ud83d\ude00\/"]"#,
        ] {
            check_json(good.as_bytes()).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
    }

    #[test]
    fn compact_keeps_values_exactly() {
        let text = b"[ {\"k y\" : \"a \\\" b\\n\" ,\n \"n\": 1.50e+3, \"n\": -0 , \"u\": \"\\u00e9 \" } ]\n";
        let out = compact_json(text).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"k y":"a \" b\n","n":1.50e+3,"n":-0,"u":"\u00e9 "}]"#
        );
        assert!(compact_json(b"[1,").is_err());
    }
}
