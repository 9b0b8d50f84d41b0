//! Line mode: one payload (or ciphertext) per input line, streamed.
//!
//! [`LineChunks`] reads the input and splits it into whole lines, handed on
//! in chunks of a few hundred KiB; the [`Cipher`] methods here check and
//! transform each chunk's lines and write one output line per input line,
//! flushing as they go so that a reader of a pipe sees each result as soon
//! as its input line has arrived. Memory stays constant whatever the input
//! size.
//!
//! Checking and transforming use every core: each chunk is cut into parts of
//! whole lines, done at the same time on the caller's thread and on helper
//! threads that end with the call. Reading runs on the caller's thread; to
//! have it overlap the rest, run [`LineChunks`] on another thread and pass
//! its chunks to [`Cipher::encrypt_line_chunks`] or
//! [`Cipher::decrypt_line_chunks`].

mod parts;

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::cipher::{Cipher, DecryptError, EncryptError};
use crate::events::{EventCheckError, MAX_REQUEST_BYTES, Warnings};
use crate::hazmat::crypto::{self, NONCE_LEN};
use crate::hazmat::stream::CbcMessages;
use crate::hazmat::text;
use crate::payload::Check;
use crate::read::read_some;
use crate::request::{self, CiphertextForm, NotARequestBody};
use crate::tuning::LINES_READ_LEN;

/// Why line mode stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinesError {
    /// One line failed; nothing after it was written.
    #[error("line {line}")]
    Line {
        /// 1-based input line number.
        line: u64,
        /// What was wrong with it.
        #[source]
        cause: LineError,
    },
    /// Reading the input failed.
    #[error("could not read the input")]
    Read(#[source] io::Error),
    /// Writing the output failed.
    #[error("could not write the output")]
    Write(#[source] io::Error),
}

/// What was wrong with one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The payload failed its check.
    #[error(transparent)]
    Check(#[from] EventCheckError),
    /// The payload could not be encrypted.
    #[error(transparent)]
    Encrypt(EncryptError),
    /// The ciphertext could not be decrypted.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// The line starts like a request body but is none.
    #[error(transparent)]
    NotARequestBody(#[from] NotARequestBody),
    /// The plaintext holds a newline, so it cannot be one output line.
    #[error("the plaintext contains a newline, so it cannot be one output line")]
    NewlineInPlaintext,
    /// The line is longer than any one request holds; it was not read whole.
    #[error("{}", too_long(*limit, *kind))]
    TooLong {
        /// The longest line taken, in bytes.
        limit: usize,
        /// What the line should hold.
        kind: LineKind,
    },
    /// The first payload line is a lone `[` or `{`: the input is one JSON
    /// document spread over lines (see [`opens_pretty_json`]).
    #[error(
        "a lone '{0}': the input looks like one JSON document spread over many lines, not one \
         payload per line"
    )]
    PrettyPrinted(char),
    /// A ciphertext line that did not decrypt, shaped like one line of a
    /// Base64 text wrapped at `width` columns.
    #[error(
        "{cause} (the line is {width} characters of Base64, as one ciphertext wrapped at \
         {width} columns would be)"
    )]
    Wrapped {
        /// Why the line did not decrypt.
        cause: DecryptError,
        /// The line's length: 64 or 76.
        width: usize,
    },
}

/// What each line of the input holds, for [`LineError::TooLong`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// A payload to encrypt or check.
    Payload,
    /// A ciphertext (or request body) to decrypt.
    Ciphertext,
}

/// The longest ciphertext line read: the hex text (the longest form) of a
/// payload of [`MAX_REQUEST_BYTES`] with room for padding, a nonce and a tag,
/// wrapped in a request body.
pub const MAX_CIPHERTEXT_LINE: usize = 2 * (MAX_REQUEST_BYTES + 64) + 64;

fn too_long(limit: usize, kind: LineKind) -> String {
    let mib = limit >> 20;
    match kind {
        LineKind::Payload => {
            format!("longer than {mib} MiB, more than one request to the upload API may hold")
        }
        LineKind::Ciphertext => format!(
            "longer than {mib} MiB, more than the ciphertext of the largest request to the \
             upload API ({} MiB of events)",
            MAX_REQUEST_BYTES >> 20
        ),
    }
}

/// Whether `line` is what a pretty-printed JSON document starts with: a lone
/// `[` or `{` (blanks, a CR and a UTF-8 byte-order mark aside). Called on the
/// first non-blank line of an input taken as one payload per line, it tells
/// a document spread over lines from a line holding events, which is never
/// a lone bracket; the line's own JSON check would report it as cut short.
pub fn opens_pretty_json(line: &[u8]) -> Option<char> {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    match line.trim_ascii() {
        b"[" => Some('['),
        b"{" => Some('{'),
        _ => None,
    }
}

/// Whether `start`, the beginning of an input taken as one payload, looks
/// like one payload per line (NDJSON) instead: its first non-blank line is
/// JSON on its own, and a second one starts as JSON does (`[` or `{`).
pub fn looks_like_lines(start: &[u8]) -> bool {
    let mut lines = start.split(|&b| b == b'\n').filter(|line| !is_blank(line));
    let (Some(first), Some(second)) = (lines.next(), lines.next()) else {
        return false;
    };
    // A second line means the first is whole.
    serde_json::from_slice::<serde::de::IgnoredAny>(first).is_ok()
        && matches!(second.trim_ascii_start().first(), Some(b'[' | b'{'))
}

/// How many lines were processed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinesSummary {
    /// Non-empty lines transformed.
    pub payloads: u64,
    /// Lines read in all (blank ones included).
    pub lines: u64,
    /// What the event checks warned about, over all lines.
    pub warnings: Warnings,
}

/// Whole input lines, the first of them numbered `first_line`, and the check
/// their payloads must pass.
#[derive(Debug)]
pub struct LineChunk {
    text: Vec<u8>,
    first_line: u64,
    check: Arc<Check>,
    /// Whether reading on may wait for input (a pipe, a terminal): then
    /// this chunk is written before more is read, so that a failure in it
    /// ends the run at once.
    may_stall: bool,
}

impl LineChunk {
    /// Each line of the chunk with its 1-based number, without its line
    /// end (`\n` or `\r\n`); blank lines included.
    pub fn lines(&self) -> impl Iterator<Item = (u64, &[u8])> {
        lines_of(&self.text)
            .zip(self.first_line..)
            .map(|(line, number)| (number, strip_cr(line)))
    }
}

/// Reads whole lines from `R`, in chunks; every non-blank line is checked
/// where it is transformed, so the check runs on every core too.
pub struct LineChunks<R> {
    reader: R,
    check: Arc<Check>,
    pending: Vec<u8>,
    next_line: u64,
    done: bool,
    /// Whether a read may wait for input; see [`LineChunks::reads_never_wait`].
    reads_may_wait: bool,
    /// The longest line taken, and what lines hold.
    max_line: usize,
    kind: LineKind,
    /// Whether the first non-blank line has been seen.
    past_first_payload: bool,
}

impl<R: Read> LineChunks<R> {
    /// Starts reading `reader`; every non-blank line must pass `check`.
    ///
    /// A line longer than one request may hold ([`MAX_REQUEST_BYTES`]) is
    /// refused as soon as that many bytes of it have been read, so memory
    /// stays bounded. Unless `check` is [`Check::None`], a first payload line
    /// that is a lone `[` or `{` ([`opens_pretty_json`]) is refused too.
    pub fn new(reader: R, check: Check) -> Self {
        Self {
            reader,
            check: Arc::new(check),
            pending: Vec::new(),
            next_line: 1,
            done: false,
            reads_may_wait: true,
            max_line: MAX_REQUEST_BYTES,
            kind: LineKind::Payload,
            past_first_payload: false,
        }
    }

    /// Says that the lines are ciphertexts: they may be as long as
    /// [`MAX_CIPHERTEXT_LINE`].
    pub fn ciphertexts(mut self) -> Self {
        self.max_line = MAX_CIPHERTEXT_LINE;
        self.kind = LineKind::Ciphertext;
        self
    }

    /// Says that reading never waits for input: the reader is a regular
    /// file or bytes in memory. Each chunk's lines are then transformed
    /// while the next is read; otherwise a chunk is written before the next
    /// read, so that a bad line ends the run even if the input then stays
    /// open and silent.
    pub fn reads_never_wait(mut self) -> Self {
        self.reads_may_wait = false;
        self
    }

    /// The next chunk of whole lines, if the input has more.
    fn next_chunk(&mut self) -> Result<Option<LineChunk>, LinesError> {
        loop {
            if self.done {
                return Ok(None);
            }
            let start = self.pending.len();
            self.pending.resize(start + LINES_READ_LEN, 0);
            let read = read_some(&mut self.reader, &mut self.pending[start..]);
            let at_end = match read {
                Ok(Some(n)) => {
                    self.pending.truncate(start + n);
                    false
                }
                Ok(None) => {
                    self.pending.truncate(start);
                    true
                }
                Err(error) => {
                    self.done = true;
                    return Err(LinesError::Read(error));
                }
            };
            self.done = at_end;
            // Whole lines go now; a partial last line waits for more input.
            let whole = if at_end {
                self.pending.len()
            } else {
                match memchr::memrchr(b'\n', &self.pending) {
                    Some(last) => last + 1,
                    None => {
                        // One partial line: refused once it is too long, so
                        // that a line of any length costs bounded memory.
                        self.refuse_long(self.pending.len())?;
                        continue;
                    }
                }
            };
            if whole == 0 {
                continue;
            }
            // Only the first line can have grown over several reads.
            let first = memchr::memchr(b'\n', &self.pending[..whole]).unwrap_or(whole);
            self.refuse_long(strip_cr(&self.pending[..first]).len())?;
            let rest = self.pending.split_off(whole);
            let text = std::mem::replace(&mut self.pending, rest);
            let first_line = self.next_line;
            self.next_line += line_count(&text);
            if !self.past_first_payload && *self.check != Check::None {
                self.refuse_pretty(&text, first_line)?;
            }
            return Ok(Some(LineChunk {
                text,
                first_line,
                check: Arc::clone(&self.check),
                may_stall: self.reads_may_wait,
            }));
        }
    }

    /// Fails, naming the line now being read, if `len` passes the limit.
    fn refuse_long(&mut self, len: usize) -> Result<(), LinesError> {
        if len <= self.max_line {
            return Ok(());
        }
        self.done = true;
        Err(LinesError::Line {
            line: self.next_line,
            cause: LineError::TooLong {
                limit: self.max_line,
                kind: self.kind,
            },
        })
    }

    /// Fails if the first non-blank line of `text` (line `first_line` on) is
    /// a lone bracket: nothing of the input is then written.
    fn refuse_pretty(&mut self, text: &[u8], first_line: u64) -> Result<(), LinesError> {
        let Some((index, line)) = lines_of(text).enumerate().find(|(_, l)| !is_blank(l)) else {
            return Ok(());
        };
        self.past_first_payload = true;
        match opens_pretty_json(line) {
            Some(bracket) => {
                self.done = true;
                Err(LinesError::Line {
                    line: first_line + index as u64,
                    cause: LineError::PrettyPrinted(bracket),
                })
            }
            None => Ok(()),
        }
    }
}

impl<R: Read> Iterator for LineChunks<R> {
    type Item = Result<LineChunk, LinesError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

impl Cipher {
    /// Encrypts each non-blank line `chunks` gives (each must pass the
    /// check its [`LineChunks`] was made with) and writes one ciphertext
    /// line per payload, in `form`. A file read through
    /// [`LineChunks::reads_never_wait`] is transformed while the next chunk
    /// is read.
    pub fn encrypt_line_chunks<W: Write + Send>(
        &self,
        chunks: impl IntoIterator<Item = Result<LineChunk, LinesError>>,
        form: CiphertextForm,
        writer: W,
    ) -> Result<LinesSummary, LinesError> {
        parts::transform_chunks(parts::per_core(), chunks, writer, || {
            let mut sealer = LineSealer::new(self);
            move |payload: &[u8], out: &mut Vec<u8>| {
                out.extend_from_slice(form.prefix().as_bytes());
                sealer.seal_into(payload, out).map_err(LineError::Encrypt)?;
                out.extend_from_slice(form.suffix().as_bytes());
                Ok(())
            }
        })
    }

    /// Decrypts each non-blank line `chunks` gives: ciphertext text, or a
    /// request body (what [`Cipher::encrypt_line_chunks`] writes with
    /// [`CiphertextForm::RequestBody`]), from a [`LineChunks`] made with
    /// [`LineChunks::ciphertexts`]. A plaintext holding a newline is
    /// refused, since it would split across output lines.
    pub fn decrypt_line_chunks<W: Write + Send>(
        &self,
        chunks: impl IntoIterator<Item = Result<LineChunk, LinesError>>,
        writer: W,
    ) -> Result<LinesSummary, LinesError> {
        parts::transform_chunks(parts::per_core(), chunks, writer, || {
            |line: &[u8], out: &mut Vec<u8>| {
                let text = request::ciphertext_of(line)?;
                let plaintext = self.decrypt(&text).map_err(|cause| wrapped(line, cause))?;
                if plaintext.contains(&b'\n') {
                    return Err(LineError::NewlineInPlaintext);
                }
                out.extend_from_slice(&plaintext);
                Ok(())
            }
        })
    }
}

/// The error for `line`, which did not decrypt: [`LineError::Wrapped`] if
/// the line has the width and alphabet of a line of Base64 wrapped as
/// `base64` (76 columns) or `openssl base64` and PEM (64) wrap it, and
/// decoded well but did not decrypt. Only a hint: a ciphertext of 48 bytes
/// is 64 characters too, and then the key or IV is wrong.
fn wrapped(line: &[u8], cause: DecryptError) -> LineError {
    let line = strip_cr(line).trim_ascii();
    let base64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    if cause.after_decoding() && matches!(line.len(), 64 | 76) && line.iter().all(base64) {
        return LineError::Wrapped {
            cause,
            width: line.len(),
        };
    }
    LineError::Decrypt(cause)
}

/// Encrypts one payload after another into a reused buffer, with the CBC key
/// expanded once: per line, only the work the line's bytes need.
struct LineSealer<'a> {
    cipher: &'a Cipher,
    /// CBC's expanded key (none for GCM: a nonce each).
    cbc: Option<CbcMessages>,
    ciphertext: Vec<u8>,
}

impl<'a> LineSealer<'a> {
    fn new(cipher: &'a Cipher) -> Self {
        Self {
            cipher,
            cbc: cipher
                .iv
                .as_ref()
                .map(|iv| CbcMessages::new(&cipher.key, iv)),
            ciphertext: Vec::new(),
        }
    }

    /// Appends the ciphertext text of `payload` to `out`.
    fn seal_into(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), EncryptError> {
        self.ciphertext.clear();
        match &self.cbc {
            Some(messages) => {
                self.ciphertext.extend_from_slice(payload);
                messages.start().finish_in(&mut self.ciphertext, 0);
            }
            None => {
                let nonce = crypto::random_nonce()?;
                self.ciphertext.extend_from_slice(&nonce);
                self.ciphertext.extend_from_slice(payload);
                let tag = crypto::gcm_seal_in_place(
                    &self.cipher.key,
                    &nonce,
                    &mut self.ciphertext[NONCE_LEN..],
                )?;
                self.ciphertext.extend_from_slice(&tag);
            }
        }
        text::encode_into(&self.ciphertext, self.cipher.method().encoding(), out);
        Ok(())
    }
}

/// How many lines `text` holds, as [`lines_of`] splits it.
fn line_count(text: &[u8]) -> u64 {
    let newlines = memchr::memchr_iter(b'\n', text).count() as u64;
    newlines + u64::from(!text.ends_with(b"\n"))
}

/// The lines of `text`, without their `\n`; a final `\n` ends the last line.
fn lines_of(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    // memchr finds the newlines with SIMD; the last line has none after it.
    let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
    let mut start = 0;
    ends.map(move |end| {
        let line = &text[start..end];
        start = end + 1;
        line
    })
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
    use crate::events::EventRules;
    use crate::method::Method;
    use crate::secret::{Iv, Key};
    use std::error::Error as _;

    fn cipher(method: Method) -> Cipher {
        Cipher::new(method, Key::new([1; 32]), Some(Iv::new([2; 16]))).unwrap()
    }

    /// JSON-checked, bare line encryption of `input`: the result and what was written.
    fn encrypt_json(
        method: Method,
        input: impl AsRef<[u8]>,
    ) -> (Result<LinesSummary, LinesError>, Vec<u8>) {
        let mut out = Vec::new();
        let result = cipher(method).encrypt_line_chunks(
            LineChunks::new(input.as_ref(), Check::Json),
            CiphertextForm::Bare,
            &mut out,
        );
        (result, out)
    }

    /// The whole error chain, as the CLI prints it.
    fn chain(error: &LinesError) -> String {
        let mut text = error.to_string();
        let mut cause = error.source();
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }

    #[test]
    fn lines_round_trip_in_order_for_every_method() {
        let input = b"[1]\n\n{\"a\":\"b\"}\r\n  \n\"last\"";
        for method in Method::ALL {
            let mut encrypted = Vec::new();
            let summary = cipher(method)
                .encrypt_line_chunks(
                    LineChunks::new(&input[..], Check::Json),
                    CiphertextForm::Bare,
                    &mut encrypted,
                )
                .unwrap();
            assert_eq!(
                summary,
                LinesSummary {
                    payloads: 3,
                    lines: 5,
                    warnings: Warnings::default(),
                }
            );
            let mut decrypted = Vec::new();
            cipher(method)
                .decrypt_line_chunks(
                    LineChunks::new(io::Cursor::new(encrypted), Check::None).ciphertexts(),
                    &mut decrypted,
                )
                .unwrap();
            assert_eq!(decrypted, b"[1]\n{\"a\":\"b\"}\n\"last\"\n", "{method}");
        }
    }

    #[test]
    fn a_bad_line_is_named() {
        let (result, mut out) = encrypt_json(Method::CbcBase64, b"[1]\n\n[2,\n");
        let err = result.unwrap_err();
        assert!(matches!(
            err,
            LinesError::Line {
                line: 3,
                cause: LineError::Check(_)
            }
        ));
        let text = chain(&err);
        assert!(
            text.starts_with("line 3: the payload is not valid JSON"),
            "{text}"
        );

        let err = cipher(Method::CbcBase64)
            .decrypt_line_chunks(
                LineChunks::new(&b"%%%%\n"[..], Check::None).ciphertexts(),
                &mut out,
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                LinesError::Line {
                    line: 1,
                    cause: LineError::Decrypt(_)
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn errors_far_into_the_input_stop_exactly_there() {
        // Far beyond one read piece: the lines before the bad one are all written,
        // none after it, and the line number is right.
        let mut input = "[1]\n".repeat(100_000);
        input.push_str("[oops\n");
        input.push_str(&"[2]\n".repeat(10));
        let (result, out) = encrypt_json(Method::CbcBase64, input);
        let err = result.unwrap_err();
        assert!(chain(&err).starts_with("line 100001: "), "{err}");
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 100_000);
    }

    #[test]
    fn a_bad_first_line_writes_nothing() {
        let (result, out) = encrypt_json(Method::CbcHex, b"[oops\n[1]\n");
        let err = result.unwrap_err();
        assert!(matches!(err, LinesError::Line { line: 1, .. }), "{err}");
        assert!(out.is_empty());
    }

    #[test]
    fn lines_longer_than_a_read_piece() {
        let long = format!("[\"{}\"]", "x".repeat(3 * LINES_READ_LEN));
        let input = format!("[0]\n{long}\n[2]");
        let mut out = Vec::new();
        let gcm = cipher(Method::GcmBase64);
        let summary = gcm
            .encrypt_line_chunks(
                LineChunks::new(io::Cursor::new(input), Check::Json),
                CiphertextForm::Bare,
                &mut out,
            )
            .unwrap();
        assert_eq!(
            summary,
            LinesSummary {
                payloads: 3,
                lines: 3,
                warnings: Warnings::default(),
            }
        );
        let mut back = Vec::new();
        gcm.decrypt_line_chunks(
            LineChunks::new(io::Cursor::new(out), Check::None).ciphertexts(),
            &mut back,
        )
        .unwrap();
        assert_eq!(back, format!("[0]\n{long}\n[2]\n").into_bytes());
    }

    #[test]
    fn request_bodies_per_line() {
        let hex = cipher(Method::CbcHex);
        let mut out = Vec::new();
        hex.encrypt_line_chunks(
            LineChunks::new(&b"[1]\n[2]\n"[..], Check::Json),
            CiphertextForm::RequestBody,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let ct = value["encryptedRequest"].as_str().unwrap();
            assert!(hex.decrypt(ct.as_bytes()).is_ok());
        }
        let mut back = Vec::new();
        hex.decrypt_line_chunks(
            LineChunks::new(io::Cursor::new(out), Check::None).ciphertexts(),
            &mut back,
        )
        .unwrap();
        assert_eq!(back, b"[1]\n[2]\n");
        let err = hex
            .decrypt_line_chunks(
                LineChunks::new(io::Cursor::new("{\"x\":1}\n"), Check::None).ciphertexts(),
                Vec::new(),
            )
            .unwrap_err();
        assert!(chain(&err).contains("not a request body"), "{err}");
    }

    #[test]
    fn newline_in_a_plaintext_is_refused() {
        let cbc = cipher(Method::CbcBase64);
        let mut enc = cbc.encrypt_to(b"[1,\n2]", Vec::new()).unwrap();
        enc.push(b'\n');
        let err = cbc
            .decrypt_line_chunks(
                LineChunks::new(io::Cursor::new(enc), Check::None).ciphertexts(),
                Vec::new(),
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                LinesError::Line {
                    line: 1,
                    cause: LineError::NewlineInPlaintext
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn warnings_name_their_first_line_across_parts() {
        // 300 events of about 250 bytes, in one chunk that is cut into parts
        // on a machine of two cores or more: the first old one is line 201.
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_417_600);
        let event = |timestamp: &str| {
            format!(
                r#"[{{"asset_id":"A1","activity_name":"Page Browse","timestamp":"{timestamp}","identity":"u@example.com","activity_source":"web","activity_params":{{"page_url":"https://example.com/{}"}}}}]"#,
                "x".repeat(80)
            )
        };
        let mut input = String::new();
        for line in 1..=300 {
            let timestamp = if line <= 200 {
                "2025-11-29T11:00:00Z"
            } else {
                "2025-11-01T11:00:00Z"
            };
            input.push_str(&event(timestamp));
            input.push('\n');
        }
        let summary = cipher(Method::CbcBase64)
            .encrypt_line_chunks(
                LineChunks::new(input.as_bytes(), Check::Events(EventRules::new(now))),
                CiphertextForm::Bare,
                Vec::new(),
            )
            .unwrap();
        assert_eq!(summary.payloads, 300);
        let tallies: Vec<_> = summary.warnings.iter().collect();
        assert_eq!(tallies.len(), 1, "{tallies:?}");
        assert_eq!((tallies[0].line, tallies[0].count), (Some(201), 100));
    }

    #[test]
    fn a_pretty_printed_document_stops_line_mode_before_anything_is_written() {
        for (input, line, bracket) in [
            ("[\n  {\"a\": 1}\n]\n", 1, '['),
            ("\n \r\n\u{feff}{ \r\n  \"a\": 1\n}\n", 3, '{'),
        ] {
            let (result, out) = encrypt_json(Method::CbcBase64, input);
            match result {
                Err(LinesError::Line {
                    line: at,
                    cause: LineError::PrettyPrinted(found),
                }) => assert_eq!((at, found), (line, bracket), "{input:?}"),
                other => panic!("{input:?}: {other:?}"),
            }
            assert!(out.is_empty());
            // Not looked for where lines need not be JSON.
            let mut raw = Vec::new();
            cipher(Method::CbcBase64)
                .encrypt_line_chunks(
                    LineChunks::new(input.as_bytes(), Check::None),
                    CiphertextForm::Bare,
                    &mut raw,
                )
                .unwrap();
        }
        // A line holding an array of events stays a payload; so does a
        // bracket on a later line, which fails as JSON of its own.
        let (result, _) = encrypt_json(Method::CbcBase64, "[{\"a\":1},{\"a\":2}]\n[3]\n");
        assert_eq!(result.unwrap().payloads, 2);
        let (result, out) = encrypt_json(Method::CbcBase64, "[1]\n[\n");
        assert!(matches!(
            result,
            Err(LinesError::Line {
                line: 2,
                cause: LineError::Check(_)
            })
        ));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(opens_pretty_json(b" [ \r"), Some('['));
        assert_eq!(opens_pretty_json(b"[]"), None);
        assert_eq!(opens_pretty_json(b"{}"), None);
    }

    /// A reader of `len` bytes of `x` after `head`, counting what was read.
    struct Endless<'a> {
        head: &'a [u8],
        left: usize,
        read: &'a std::cell::Cell<usize>,
    }

    impl Read for Endless<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !self.head.is_empty() {
                let n = self.head.read(buf)?;
                self.read.set(self.read.get() + n);
                return Ok(n);
            }
            let n = buf.len().min(self.left);
            buf[..n].fill(b'x');
            self.left -= n;
            self.read.set(self.read.get() + n);
            Ok(n)
        }
    }

    #[test]
    fn a_line_longer_than_a_request_is_refused_in_bounded_memory() {
        // 200 MB on line 3: refused with its number after reading little more
        // than the limit, the lines before it written.
        let read = std::cell::Cell::new(0);
        let reader = Endless {
            head: b"[1]\n[2]\n[\"",
            left: 200_000_000,
            read: &read,
        };
        let mut out = Vec::new();
        let err = cipher(Method::CbcBase64)
            .encrypt_line_chunks(
                LineChunks::new(reader, Check::Json),
                CiphertextForm::Bare,
                &mut out,
            )
            .unwrap_err();
        assert!(
            matches!(
                err,
                LinesError::Line {
                    line: 3,
                    cause: LineError::TooLong {
                        limit: MAX_REQUEST_BYTES,
                        kind: LineKind::Payload
                    }
                }
            ),
            "{err:?}"
        );
        assert!(
            read.get() <= MAX_REQUEST_BYTES + 2 * LINES_READ_LEN,
            "{}",
            read.get()
        );
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 2);
        assert_eq!(
            chain(&err),
            "line 3: longer than 5 MiB, more than one request to the upload API may hold"
        );

        // Exactly at the limit is taken, ended by a newline or by the input;
        // one byte more is not, wherever the reads end.
        for (len, ok) in [(MAX_REQUEST_BYTES, true), (MAX_REQUEST_BYTES + 1, false)] {
            for end in ["\n", "\r\n", ""] {
                let line = format!("\"{}\"{end}", "y".repeat(len - 2));
                let reader = crate::read::Trickle {
                    bytes: line.as_bytes(),
                    step: 100_003,
                };
                let chunks: Result<Vec<_>, _> = LineChunks::new(reader, Check::Json).collect();
                assert_eq!(chunks.is_ok(), ok, "{len} {end:?}");
            }
        }

        // Ciphertext lines may be as long as the hex of the longest payload.
        let hex_line = "0".repeat(2 * MAX_REQUEST_BYTES + 64);
        let chunks = LineChunks::new(hex_line.as_bytes(), Check::None).ciphertexts();
        assert!(chunks.collect::<Result<Vec<_>, _>>().is_ok());
        let too_long = "0".repeat(MAX_CIPHERTEXT_LINE + 1);
        let err = cipher(Method::CbcHex)
            .decrypt_line_chunks(
                LineChunks::new(too_long.as_bytes(), Check::None).ciphertexts(),
                Vec::new(),
            )
            .unwrap_err();
        assert!(
            chain(&err).starts_with("line 1: longer than 10 MiB, more than the ciphertext"),
            "{err}"
        );
    }

    #[test]
    fn a_wrapped_base64_line_that_fails_is_named() {
        let cbc = cipher(Method::CbcBase64);
        let long = cbc.encrypt(&[b'7'; 100]).unwrap();
        for width in [64, 76] {
            let wrapped: Vec<&str> = long
                .as_bytes()
                .chunks(width)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let err = cbc
                .decrypt_line_chunks(
                    LineChunks::new(wrapped.join("\n").as_bytes(), Check::None).ciphertexts(),
                    Vec::new(),
                )
                .unwrap_err();
            match err {
                LinesError::Line {
                    line: 1,
                    cause: LineError::Wrapped { width: w, .. },
                } => assert_eq!(w, width),
                other => panic!("{width}: {other:?}"),
            }
        }
        // Only a failure is explained: a 48-byte ciphertext is 64 characters.
        let short = cbc.encrypt(&[b'7'; 40]).unwrap();
        assert_eq!(short.len(), 64);
        let mut out = Vec::new();
        cbc.decrypt_line_chunks(
            LineChunks::new(format!("{short}\n{short}\n").as_bytes(), Check::None).ciphertexts(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 82);
        // Nor is a line of another width, or one that is not Base64.
        let err = cbc.decrypt_line_chunks(
            LineChunks::new(&b"AAAAAAAAAAAAAAAAAAAAAA==\n"[..], Check::None).ciphertexts(),
            Vec::new(),
        );
        assert!(matches!(
            err,
            Err(LinesError::Line {
                cause: LineError::Decrypt(_),
                ..
            })
        ));
    }

    #[test]
    fn one_payload_per_line_is_recognised_in_an_input_start() {
        assert!(looks_like_lines(b"[1]\n[2]\n"));
        assert!(looks_like_lines(b"\n{\"a\":1}\r\n  {\"a\":2"));
        // The first line must be whole and JSON on its own.
        assert!(!looks_like_lines(b"[1,\n2]\n"));
        assert!(!looks_like_lines(b"[1]"));
        assert!(!looks_like_lines(b"[1]\n"));
        assert!(!looks_like_lines(b"[1]\nx\n"));
        assert!(!looks_like_lines(b"[\n  {\"a\": 1}\n]\n"));
    }

    #[test]
    fn chunks_pass_whole_lines() {
        let chunks: Vec<_> = LineChunks::new(&b"[1]\n[2]\n[3]"[..], Check::Json)
            .collect::<Result<_, _>>()
            .unwrap();
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.text.clone()).collect();
        assert_eq!(joined, b"[1]\n[2]\n[3]");
        assert_eq!(chunks[0].first_line, 1);
    }

    #[test]
    fn reads_that_never_wait_give_the_same_lines() {
        // Lines short and longer than a read piece, the last without a
        // newline, read in pieces of 4099 bytes: the same chunks whether
        // reads may wait or not, only marked differently.
        let long = "y".repeat(LINES_READ_LEN + 5);
        let text = format!("a\n{long}\n\nb\n{}c", "x\n".repeat(LINES_READ_LEN));
        let lines = |reads_never_wait: bool| {
            let reader = crate::read::Trickle {
                bytes: text.as_bytes(),
                step: 4099,
            };
            let chunks = LineChunks::new(reader, Check::None);
            let chunks = if reads_never_wait {
                chunks.reads_never_wait()
            } else {
                chunks
            };
            let chunks: Vec<_> = chunks.collect::<Result<_, _>>().unwrap();
            for pair in chunks.windows(2) {
                let lines = line_count(&pair[0].text);
                assert_eq!(pair[1].first_line, pair[0].first_line + lines);
                assert!(pair[0].text.ends_with(b"\n"));
            }
            let may_stall = chunks
                .iter()
                .all(|chunk| chunk.may_stall != reads_never_wait);
            assert!(may_stall);
            chunks
                .into_iter()
                .flat_map(|chunk| chunk.text)
                .collect::<Vec<u8>>()
        };
        assert_eq!(lines(true), text.as_bytes());
        assert_eq!(lines(false), text.as_bytes());
    }
}
