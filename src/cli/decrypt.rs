//! `ce-crypt decrypt`: ciphertext text (or a request body) in, the exact payload bytes out.

use std::io::{BufRead, BufReader, Read, Write};

use anyhow::Result;
use ce_crypt::lines::LineChunks;
use ce_crypt::pretty;
use ce_crypt::{Check, CipherMode, looks_like_wrong_iv, request};

use super::args::DecryptArgs;
use super::input::Input;
use super::keysource;
use super::output::{Existing, Output};
use super::read_ahead::{ReadAhead, in_background};

/// Inputs larger than this (or of unknown size) are read on a second thread.
const READ_AHEAD_MIN: u64 = 1024 * 1024;

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
    let mut out = Output::open(args.output.as_deref(), existing)?;
    let (reader, size) = input.open()?;

    if args.lines {
        let chunks = in_background(LineChunks::new(reader, Check::None), 4);
        cipher.decrypt_line_chunks(chunks, &mut out)?;
        return out.commit();
    }

    let reader: Box<dyn Read + Send> = match size {
        Some(size) if size <= READ_AHEAD_MIN => reader,
        _ => Box::new(ReadAhead::new(reader, 1024 * 1024)),
    };
    // A request body (`encrypt --request`, or a captured request) is unwrapped first.
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
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
        eprintln!(
            "warning: the first 16 bytes of the plaintext are garbled and the rest is text: \
             the IV is probably wrong"
        );
    }
    if args.pretty {
        // The advice to drop --pretty is added where errors are reported.
        pretty::pretty_json_to(&plaintext, &mut out, pretty::MAX_DEPTH)?;
    } else {
        out.write_all(&plaintext)?;
    }
    out.commit()
}
