//! `ce-crypt decrypt`: ciphertext text (or a request body) in, the exact payload bytes out.

use std::io::{self, BufRead, BufReader, Read, Write};

use anyhow::Result;
use ce_crypt::cipher::looks_like_wrong_iv;
use ce_crypt::lines::LineChunks;
use ce_crypt::pretty;
use ce_crypt::tuning::{DECRYPT_READ_BUFFER, READ_AHEAD_LEN, STREAM_MIN, THREAD_MIN};
use ce_crypt::{Check, Cipher, CipherMode, request};

use super::args::DecryptArgs;
use super::input::{Input, RegularFile};
use super::keysource;
use super::output::{Existing, Output};
use super::process;
use super::read_ahead::{ReadAhead, line_chunks};

/// Decrypts one ciphertext, or one per line with `--lines`.
pub fn run(args: DecryptArgs) -> Result<()> {
    let key_file = keysource::key_file_path(&args.keys)?;
    let cipher = keysource::resolve(args.keys, args.method)?;
    let input = Input::choose(args.text, args.input.input, "ciphertext")?;
    input.refuse_as_output(args.output.as_deref(), key_file.as_deref())?;
    let existing = if args.force {
        Existing::Force
    } else {
        Existing::Replace
    };
    let file = RegularFile::of(&input);
    let from_file = file.is_some();
    // Plaintext is shorter than its ciphertext, unless made pretty.
    let expected = file
        .as_ref()
        .filter(|_| !args.pretty)
        .map(|file| file.len() + 256);
    let mut out = Output::open_for(args.output.as_deref(), existing, expected)?;
    if !args.lines
        && !args.pretty
        && let Some(file) = file.filter(|file| file.len() >= STREAM_MIN)
        && !request::looks_like_body(&file_start(&file)?)
    {
        return decrypt_file(&cipher, &file, out);
    }
    let (reader, size) = input.open()?;

    if args.lines {
        let chunks = line_chunks(
            LineChunks::new(reader, Check::None).ciphertexts(),
            from_file,
        );
        cipher.decrypt_line_chunks(chunks, &mut out)?;
        return out.commit();
    }

    let reader: Box<dyn Read + Send> = match size {
        Some(size) if size <= THREAD_MIN => reader,
        _ => Box::new(ReadAhead::new(reader, READ_AHEAD_LEN)),
    };
    // A request body (`encrypt --request`, or a captured request) is unwrapped first.
    let mut reader = BufReader::with_capacity(DECRYPT_READ_BUFFER, reader);
    let is_body = request::looks_like_body(reader.fill_buf()?);
    // The plaintext is only released once its padding or tag has checked out.
    let plaintext = if is_body {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        cipher.decrypt(&request::ciphertext_of(&body)?)?
    } else {
        cipher.decrypt_reader(reader, size)?
    };
    if cipher.method().mode() == CipherMode::Cbc && looks_like_wrong_iv(&plaintext) {
        warn_wrong_iv();
    }
    if args.pretty {
        // The advice to drop --pretty is added where errors are reported.
        pretty::pretty_json_to(&plaintext, &mut out, pretty::MAX_DEPTH)?;
    } else {
        out.write_all(&plaintext)?;
    }
    out.commit()
}

/// The first bytes of `file`: enough to tell a request body from bare ciphertext.
fn file_start(file: &RegularFile) -> Result<Vec<u8>> {
    let mut start = Vec::with_capacity(4096);
    file.open()?.take(4096).read_to_end(&mut start)?;
    Ok(start)
}

/// Decrypts a regular file a piece at a time, in memory of fixed size.
///
/// The padding or tag is only known good at the end. A temporary file (`-o`)
/// is dropped if it is not; standard output cannot take back what it was
/// given, so there a first pass decrypts into nothing to check it, and only
/// a second one writes.
fn decrypt_file(cipher: &Cipher, file: &RegularFile, out: Output) -> Result<()> {
    let size = Some(file.len());
    if out.is_stdout() {
        process::widen_stdout_pipe();
    }
    if !out.is_atomic() {
        cipher.check_ciphertext_seekable(file.len(), || file.reopen())?;
    }
    let watched = WrongIvWatch {
        inner: out,
        watching: cipher.method().mode() == CipherMode::Cbc,
    };
    let out = cipher.decrypt_stream(file.open()?, size, watched)?.inner;
    file.unchanged(if out.is_atomic() {
        "nothing was written"
    } else {
        "the plaintext written may mix its old and new content"
    })?;
    out.commit()
}

fn warn_wrong_iv() {
    eprintln!(
        "warning: the first 16 bytes of the plaintext are garbled and the rest is text: \
         the IV is probably wrong"
    );
}

/// Passes writes on, and warns if the first plaintext written looks like
/// what a wrong IV gives (see [`looks_like_wrong_iv`]).
struct WrongIvWatch<W> {
    inner: W,
    watching: bool,
}

impl<W: Write> Write for WrongIvWatch<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.watching && !buf.is_empty() {
            self.watching = false;
            // Judged on whole characters: the piece may end inside one.
            let start = &buf[..buf.len().min(4096)];
            let whole = match std::str::from_utf8(start) {
                Err(error) if error.error_len().is_none() => &start[..error.valid_up_to()],
                _ => start,
            };
            if looks_like_wrong_iv(whole) {
                warn_wrong_iv();
            }
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
