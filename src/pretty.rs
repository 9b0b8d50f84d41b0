//! Re-indenting a JSON text for reading (`decrypt --pretty`), streamed.
//!
//! Tokens are copied byte for byte (numbers keep their spelling, keys their
//! order, strings their escapes); only whitespace outside strings changes.
//! The output goes straight to a writer, so memory stays bounded whatever
//! the nesting (indentation grows with depth, and depth is limited).

use std::io::{self, Write};

use crate::payload::{JsonError, StringTracker, check_json};
use crate::tuning::PRETTY_CHUNK;

/// How deep [`pretty_json_to`] nests by default.
pub const MAX_DEPTH: usize = 1000;

/// Why a JSON text could not be re-indented.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrettyError {
    /// The text is not JSON.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// Arrays and objects nest deeper than the limit.
    #[error("the JSON nests deeper than {limit} levels, too deep to indent")]
    TooDeep {
        /// The limit that was passed.
        limit: usize,
    },
    /// The writer failed.
    #[error("could not write the indented JSON")]
    Write(#[source] io::Error),
}

/// Writes `bytes`, a JSON text, indented by two spaces per level and ending
/// with a newline, to `out`. Nothing is written unless the text is JSON that
/// nests at most `max_depth` levels.
pub fn pretty_json_to(
    bytes: &[u8],
    mut out: impl Write,
    max_depth: usize,
) -> Result<(), PrettyError> {
    check_json(bytes)?;
    if depth(bytes) > max_depth {
        return Err(PrettyError::TooDeep { limit: max_depth });
    }
    let mut buf = Vec::with_capacity(PRETTY_CHUNK + 2 * max_depth + 16);
    let mut tracker = StringTracker::default();
    let mut depth = 0usize;
    let newline = |buf: &mut Vec<u8>, depth: usize| {
        buf.push(b'\n');
        buf.resize(buf.len() + 2 * depth, b' ');
    };
    let mut bytes = bytes
        .iter()
        .copied()
        .filter_map(|b| {
            let in_string = tracker.is_string_byte(b);
            (in_string || !is_whitespace(b)).then_some((b, in_string))
        })
        .peekable();
    while let Some((b, in_string)) = bytes.next() {
        if in_string {
            buf.push(b);
        } else {
            match b {
                b'{' | b'[' => {
                    buf.push(b);
                    // An empty container stays on one line: `{}` and `[]`.
                    match bytes.next_if(|&(next, _)| next == b'}' || next == b']') {
                        Some((close, _)) => buf.push(close),
                        None => {
                            depth += 1;
                            newline(&mut buf, depth);
                        }
                    }
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    newline(&mut buf, depth);
                    buf.push(b);
                }
                b',' => {
                    buf.push(b);
                    newline(&mut buf, depth);
                }
                b':' => buf.extend_from_slice(b": "),
                _ => buf.push(b),
            }
        }
        if buf.len() >= PRETTY_CHUNK {
            out.write_all(&buf).map_err(PrettyError::Write)?;
            buf.clear();
        }
    }
    buf.push(b'\n');
    out.write_all(&buf).map_err(PrettyError::Write)
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The deepest nesting of arrays and objects in a JSON text.
fn depth(bytes: &[u8]) -> usize {
    let mut tracker = StringTracker::default();
    let (mut depth, mut deepest) = (0usize, 0usize);
    for &b in bytes {
        if tracker.is_string_byte(b) {
            continue;
        }
        match b {
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(bytes: &[u8]) -> Result<String, PrettyError> {
        let mut out = Vec::new();
        pretty_json_to(bytes, &mut out, MAX_DEPTH)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn reindents_without_touching_values() {
        let text = br#"[{"a":1.50e+3,"b":[],"c":{},"d":"x,{y}:\"z"},[1,2]]"#;
        let pretty = pretty(text).unwrap();
        assert_eq!(
            pretty,
            "[\n  {\n    \"a\": 1.50e+3,\n    \"b\": [],\n    \"c\": {},\n    \"d\": \"x,{y}:\\\"z\"\n  },\n  [\n    1,\n    2\n  ]\n]\n"
        );
        assert_eq!(
            crate::payload::compact_json(pretty.as_bytes()).unwrap(),
            text.to_vec()
        );
        assert_eq!(self::pretty(b" 42 ").unwrap(), "42\n");
        assert_eq!(
            self::pretty(b"[ \"a b\" ,\n 1 ]").unwrap(),
            "[\n  \"a b\",\n  1\n]\n"
        );
        assert!(matches!(self::pretty(b"{"), Err(PrettyError::Json(_))));
    }

    #[test]
    fn depth_is_limited_before_anything_is_written() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let mut out = Vec::new();
        pretty_json_to(deep(3).as_bytes(), &mut out, 3).unwrap();
        let mut out = Vec::new();
        let error = pretty_json_to(deep(4).as_bytes(), &mut out, 3).unwrap_err();
        assert!(
            matches!(error, PrettyError::TooDeep { limit: 3 }),
            "{error}"
        );
        assert!(out.is_empty());
        // Brackets inside strings do not count.
        let mut out = Vec::new();
        pretty_json_to(br#"[["[[[[\"]]"]]"#, &mut out, 2).unwrap();
    }
}
