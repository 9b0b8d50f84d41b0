//! The payload before it is encrypted: which check it must pass, the JSON check
//! itself, and whitespace-only rewrites (compact; pretty is in [`crate::pretty`]).

use serde::de::IgnoredAny;

use crate::events::{self, EventCheckError};

/// The payload is not valid JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the payload is not valid JSON: {message} at line {line}, column {column}")]
#[non_exhaustive]
pub struct JsonError {
    /// What serde_json found wrong.
    pub message: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl From<serde_json::Error> for JsonError {
    fn from(error: serde_json::Error) -> Self {
        // serde_json's Display appends " at line L column C"; keep only the description.
        let full = error.to_string();
        let message = match full.rfind(" at line ") {
            Some(cut) => full[..cut].to_owned(),
            None => full,
        };
        JsonError {
            message,
            line: error.line(),
            column: error.column(),
        }
    }
}

/// Checks that `bytes` are one JSON value (UTF-8, nothing after it but whitespace).
///
/// Builds no value tree (`IgnoredAny`), so it runs at parsing speed in constant memory.
pub fn check_json(bytes: &[u8]) -> Result<(), JsonError> {
    serde_json::from_str::<IgnoredAny>(utf8_text(bytes)?)?;
    Ok(())
}

/// `bytes` as text, or where its UTF-8 (JSON's encoding) breaks.
///
/// serde_json does not look inside strings it ignores, so this runs over the
/// whole text first; it runs at many GB/s.
pub fn utf8_text(bytes: &[u8]) -> Result<&str, JsonError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let before = &bytes[..e.valid_up_to()];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        JsonError {
            message: "invalid UTF-8".into(),
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
            column: before.len() - line_start + 1,
        }
    })
}

/// What a payload must pass before it is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Check {
    /// Any bytes.
    None,
    /// Valid JSON.
    #[default]
    Json,
    /// A well-formed array of events, as the upload API takes them.
    Events,
}

impl Check {
    /// Runs the check.
    pub fn run(self, payload: &[u8]) -> Result<(), EventCheckError> {
        match self {
            Check::None => Ok(()),
            Check::Json => Ok(check_json(payload)?),
            Check::Events => events::check(payload).map(drop),
        }
    }
}

/// Walks a JSON text byte by byte, telling for each byte whether it is part of
/// a string (quotes included). Both rewriters below keep string bytes as they are.
struct StringTracker {
    in_string: bool,
    escaped: bool,
}

impl StringTracker {
    fn new() -> Self {
        Self {
            in_string: false,
            escaped: false,
        }
    }

    /// Whether `b`, the next byte, belongs to a string.
    fn is_string_byte(&mut self, b: u8) -> bool {
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
    let mut tracker = StringTracker::new();
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
