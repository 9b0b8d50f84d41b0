//! Batch mode (`--lines`): one payload or ciphertext per input line, streamed.
//!
//! Memory stays constant whatever the input size: one line at a time is read,
//! transformed and written. Output is flushed whenever the input has nothing
//! buffered, so a consumer reading a pipe sees each result as soon as the
//! producer pauses, while a file is processed in large writes.

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::codec::{self, DecryptError, EncryptError};
use crate::keys::KeyMaterial;
use crate::method::Method;
use crate::upload;

/// Why a batch stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// One line failed; nothing after it was processed.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based input line number.
        line: u64,
        /// What was wrong with it.
        message: String,
    },
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How many lines a batch processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchSummary {
    /// Non-empty lines transformed.
    pub payloads: u64,
    /// Lines read in all (blank ones included).
    pub lines: u64,
}

/// Encrypts each non-empty line; `check` runs first on each payload. With
/// `request_body`, each output line is `{"encryptedRequest":"…"}`.
pub fn encrypt_lines<R: Read, W: Write>(
    method: Method,
    keys: &KeyMaterial,
    check: impl Fn(&[u8]) -> Result<(), String>,
    request_body: bool,
    reader: R,
    writer: &mut W,
) -> Result<BatchSummary, BatchError> {
    for_each_line(reader, writer, |payload, out| {
        check(payload)?;
        if request_body {
            out.write_all(upload::BODY_PREFIX.as_bytes())?;
        }
        codec::encrypt_to(method, keys, payload, &mut *out).map_err(|e| match e {
            EncryptError::Io(io) => LineFailure::Io(io),
            other => LineFailure::Message(other.to_string()),
        })?;
        if request_body {
            out.write_all(upload::BODY_SUFFIX.as_bytes())?;
        }
        Ok(())
    })
}

/// Decrypts each non-empty line. A plaintext containing a newline is refused,
/// since it would split across output lines.
pub fn decrypt_lines<R: Read, W: Write>(
    method: Method,
    keys: &KeyMaterial,
    reader: R,
    writer: &mut W,
) -> Result<BatchSummary, BatchError> {
    for_each_line(reader, writer, |text, out| {
        let plaintext = codec::decrypt_text(method, keys, text)
            .map_err(|e: DecryptError| LineFailure::Message(e.to_string()))?;
        if plaintext.contains(&b'\n') {
            return Err(LineFailure::Message(
                "the plaintext contains a newline, so it cannot be one output line; \
                 decrypt it without --lines"
                    .into(),
            ));
        }
        out.write_all(&plaintext)?;
        Ok(())
    })
}

enum LineFailure {
    Message(String),
    Io(io::Error),
}

impl From<String> for LineFailure {
    fn from(message: String) -> Self {
        LineFailure::Message(message)
    }
}

impl From<io::Error> for LineFailure {
    fn from(error: io::Error) -> Self {
        LineFailure::Io(error)
    }
}

fn for_each_line<R: Read, W: Write>(
    reader: R,
    writer: &mut W,
    mut transform: impl FnMut(&[u8], &mut W) -> Result<(), LineFailure>,
) -> Result<BatchSummary, BatchError> {
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut summary = BatchSummary::default();
    let mut line = Vec::new();
    loop {
        if reader.fill_buf()?.is_empty() {
            break;
        }
        line.clear();
        reader.read_until(b'\n', &mut line)?;
        summary.lines += 1;
        let content = strip_line_end(&line);
        if !content.iter().all(u8::is_ascii_whitespace) {
            match transform(content, writer) {
                Ok(()) => writer.write_all(b"\n")?,
                Err(LineFailure::Io(error)) => return Err(error.into()),
                Err(LineFailure::Message(message)) => {
                    return Err(BatchError::Line {
                        line: summary.lines,
                        message,
                    });
                }
            }
            summary.payloads += 1;
        }
        // Nothing more is buffered: the next read may wait, so pass on what we have.
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
    writer.flush()?;
    Ok(summary)
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{Iv, Key};

    fn keys() -> KeyMaterial {
        KeyMaterial {
            key: Key::new([1; 32]),
            iv: Some(Iv::new([2; 16])),
        }
    }

    fn json_check(payload: &[u8]) -> Result<(), String> {
        crate::payload::check_json(payload).map_err(|e| e.to_string())
    }

    #[test]
    fn lines_round_trip_in_order_for_every_method() {
        let input = b"[1]\n\n{\"a\":\"b\"}\r\n  \n\"last\"";
        for method in Method::ALL {
            let mut encrypted = Vec::new();
            let summary = encrypt_lines(
                method,
                &keys(),
                json_check,
                false,
                &input[..],
                &mut encrypted,
            )
            .unwrap();
            assert_eq!(
                summary,
                BatchSummary {
                    payloads: 3,
                    lines: 5
                }
            );
            let mut decrypted = Vec::new();
            decrypt_lines(method, &keys(), &encrypted[..], &mut decrypted).unwrap();
            assert_eq!(decrypted, b"[1]\n{\"a\":\"b\"}\n\"last\"\n", "{method}");
        }
    }

    #[test]
    fn a_bad_line_is_named() {
        let mut out = Vec::new();
        let err = encrypt_lines(
            Method::CbcBase64,
            &keys(),
            json_check,
            false,
            &b"[1]\n\n[2,\n"[..],
            &mut out,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("line 3: the payload is not valid JSON"),
            "{text}"
        );

        let err = decrypt_lines(Method::CbcBase64, &keys(), &b"%%%%\n"[..], &mut out).unwrap_err();
        assert!(err.to_string().starts_with("line 1: "), "{err}");
    }

    #[test]
    fn request_bodies_per_line() {
        let mut out = Vec::new();
        encrypt_lines(
            Method::CbcHex,
            &keys(),
            json_check,
            true,
            &b"[1]\n[2]\n"[..],
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let ct = value["encryptedRequest"].as_str().unwrap();
            assert!(codec::decrypt_text(Method::CbcHex, &keys(), ct.as_bytes()).is_ok());
        }
    }

    #[test]
    fn newline_in_a_plaintext_is_refused() {
        let mut enc = Vec::new();
        codec::encrypt_to(Method::CbcBase64, &keys(), b"[1,\n2]", &mut enc).unwrap();
        enc.push(b'\n');
        let err = decrypt_lines(Method::CbcBase64, &keys(), &enc[..], &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("newline"), "{err}");
    }
}
