//! Batch mode (`--lines`): one payload or ciphertext per input line, streamed.
//!
//! Two threads share the work: one reads the input, splits it into lines and
//! runs the payload check; the other encrypts (or decrypts) and writes. They
//! pass pieces of at most a few hundred KiB through a bounded channel, so
//! memory stays constant whatever the input size. Output is flushed whenever
//! no input is waiting, so a reader of a pipe sees each result as soon as the
//! producer pauses, while a file is processed in large writes.

use std::io::{self, Read, Write};
use std::sync::mpsc::{TryRecvError, sync_channel};
use std::thread;

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
pub fn encrypt_lines<R: Read + Send + 'static, W: Write>(
    method: Method,
    keys: &KeyMaterial,
    check: impl Fn(&[u8]) -> Result<(), String> + Send + 'static,
    request_body: bool,
    reader: R,
    writer: &mut W,
) -> Result<BatchSummary, BatchError> {
    for_each_line(reader, check, writer, |payload, out| {
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

/// Decrypts each non-empty line: ciphertext text, or a request body
/// `{"encryptedRequest":"…"}` (what `encrypt --lines --request` writes). A
/// plaintext containing a newline is refused, since it would split across
/// output lines.
pub fn decrypt_lines<R: Read + Send + 'static, W: Write>(
    method: Method,
    keys: &KeyMaterial,
    reader: R,
    writer: &mut W,
) -> Result<BatchSummary, BatchError> {
    for_each_line(
        reader,
        |_| Ok(()),
        writer,
        |line, out| {
            let body = match line.first() {
                Some(b'{') => Some(
                    upload::ciphertext_in_body(line)
                        .ok_or_else(|| LineFailure::Message(NOT_A_BODY.into()))?,
                ),
                _ => None,
            };
            let text = body.as_ref().map_or(line, |text| text.as_bytes());
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
        },
    )
}

/// A line (or input) that starts like JSON but is no request body.
pub const NOT_A_BODY: &str = "the input is JSON but not a request body {\"encryptedRequest\": \"...\"}; pass the ciphertext itself";

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

/// What the reading thread passes on.
enum Piece {
    /// Whole lines (each checked), the first of them numbered `first_line`.
    Lines { text: Vec<u8>, first_line: u64 },
    /// A line failed its check; nothing after it was sent.
    BadLine { line: u64, message: String },
    /// Reading failed.
    ReadError(io::Error),
}

/// Bytes read at a time.
const READ_PIECE: usize = 256 * 1024;

fn for_each_line<R: Read + Send + 'static, W: Write>(
    reader: R,
    check: impl Fn(&[u8]) -> Result<(), String> + Send + 'static,
    writer: &mut W,
    mut transform: impl FnMut(&[u8], &mut W) -> Result<(), LineFailure>,
) -> Result<BatchSummary, BatchError> {
    let (sender, pieces) = sync_channel::<Piece>(4);
    // Not joined: on an early error the reader may be blocked on a pipe or a
    // terminal, and the process must still be free to exit.
    thread::spawn(move || read_lines(reader, check, |piece| sender.send(piece).is_ok()));

    let mut summary = BatchSummary::default();
    loop {
        let piece = match pieces.try_recv() {
            Ok(piece) => piece,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                // Nothing is waiting: pass on what we have before blocking.
                writer.flush()?;
                match pieces.recv() {
                    Ok(piece) => piece,
                    Err(_) => break,
                }
            }
        };
        let (text, first_line) = match piece {
            Piece::Lines { text, first_line } => (text, first_line),
            Piece::BadLine { line, message } => {
                writer.flush()?;
                return Err(BatchError::Line { line, message });
            }
            Piece::ReadError(error) => return Err(error.into()),
        };
        let body = text.strip_suffix(b"\n").unwrap_or(&text);
        for (offset, line) in body.split(|&b| b == b'\n').enumerate() {
            let content = strip_cr(line);
            summary.lines = first_line + offset as u64;
            if is_blank(content) {
                continue;
            }
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
    }
    writer.flush()?;
    Ok(summary)
}

/// The reading thread: whole lines, checked, in pieces. `send` returns false
/// when the consumer has gone.
fn read_lines<R: Read>(
    mut reader: R,
    check: impl Fn(&[u8]) -> Result<(), String>,
    mut send: impl FnMut(Piece) -> bool,
) {
    let mut pending: Vec<u8> = Vec::with_capacity(READ_PIECE);
    let mut next_line = 1u64;
    loop {
        let start = pending.len();
        pending.resize(start + READ_PIECE, 0);
        let read = crate::read_ahead::read_some(&mut reader, &mut pending[start..]);
        let at_end = match read {
            Ok(Some(n)) => {
                pending.truncate(start + n);
                false
            }
            Ok(None) => {
                pending.truncate(start);
                true
            }
            Err(error) => {
                send(Piece::ReadError(error));
                return;
            }
        };
        // Whole lines go now; a partial last line waits for more input.
        let whole = if at_end {
            pending.len()
        } else {
            match pending.iter().rposition(|&b| b == b'\n') {
                Some(last) => last + 1,
                None => continue,
            }
        };
        if whole == 0 {
            return;
        }
        let rest = pending.split_off(whole);
        let mut text = std::mem::replace(&mut pending, rest);
        let first_line = next_line;
        let body = text.strip_suffix(b"\n").unwrap_or(&text);
        let mut failure = None;
        let mut checked_len = 0;
        for line in body.split(|&b| b == b'\n') {
            let content = strip_cr(line);
            if !is_blank(content)
                && let Err(message) = check(content)
            {
                failure = Some(Piece::BadLine {
                    line: next_line,
                    message,
                });
                break;
            }
            checked_len += line.len() + 1;
            next_line += 1;
        }
        if let Some(failure) = failure {
            text.truncate(checked_len);
            if !text.is_empty() {
                send(Piece::Lines { text, first_line });
            }
            send(failure);
            return;
        }
        if !send(Piece::Lines { text, first_line }) || at_end {
            return;
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn strip_cr(line: &[u8]) -> &[u8] {
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
            decrypt_lines(method, &keys(), io::Cursor::new(encrypted), &mut decrypted).unwrap();
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
    fn errors_far_into_the_input_stop_exactly_there() {
        // Far beyond one read piece: the lines before the bad one are all written,
        // none after it, and the line number is right.
        let mut input = "[1]\n".repeat(100_000);
        input.push_str("[oops\n");
        input.push_str(&"[2]\n".repeat(10));
        let mut out = Vec::new();
        let err = encrypt_lines(
            Method::CbcBase64,
            &keys(),
            json_check,
            false,
            io::Cursor::new(input),
            &mut out,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("line 100001: "), "{err}");
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 100_000);
    }

    #[test]
    fn lines_longer_than_a_read_piece() {
        let long = format!("[\"{}\"]", "x".repeat(3 * READ_PIECE));
        let input = format!("[0]\n{long}\n[2]");
        let mut out = Vec::new();
        let summary = encrypt_lines(
            Method::GcmBase64,
            &keys(),
            json_check,
            false,
            io::Cursor::new(input),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            summary,
            BatchSummary {
                payloads: 3,
                lines: 3
            }
        );
        let mut back = Vec::new();
        decrypt_lines(Method::GcmBase64, &keys(), io::Cursor::new(out), &mut back).unwrap();
        assert_eq!(back, format!("[0]\n{long}\n[2]\n").into_bytes());
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
    fn request_body_lines_decrypt_too() {
        let mut bodies = Vec::new();
        encrypt_lines(
            Method::GcmBase64,
            &keys(),
            json_check,
            true,
            io::Cursor::new("[1]\n[2]\n"),
            &mut bodies,
        )
        .unwrap();
        let mut back = Vec::new();
        decrypt_lines(
            Method::GcmBase64,
            &keys(),
            io::Cursor::new(bodies),
            &mut back,
        )
        .unwrap();
        assert_eq!(back, b"[1]\n[2]\n");
        let err = decrypt_lines(
            Method::GcmBase64,
            &keys(),
            io::Cursor::new("{\"x\":1}\n"),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a request body"), "{err}");
    }

    #[test]
    fn newline_in_a_plaintext_is_refused() {
        let mut enc = Vec::new();
        codec::encrypt_to(Method::CbcBase64, &keys(), b"[1,\n2]", &mut enc).unwrap();
        enc.push(b'\n');
        let err = decrypt_lines(
            Method::CbcBase64,
            &keys(),
            io::Cursor::new(enc),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("newline"), "{err}");
    }
}
