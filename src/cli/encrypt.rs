//! `ce-crypt encrypt`: payload in, ciphertext text (or a request body) out.

use std::io::{Read, Write};
use std::thread;
use std::time::SystemTime;

use anyhow::Result;
use ce_crypt::cipher::EncryptOptions;
use ce_crypt::lines::LineChunks;
use ce_crypt::request::CiphertextForm;
use ce_crypt::tuning::STREAM_MIN;
use ce_crypt::{Check, Cipher, EventRules, events, payload};

use super::args::EncryptArgs;
use super::error;
use super::input::{Input, RegularFile};
use super::keysource;
use super::output::{Existing, Output};
use super::process;
use super::read_ahead::line_chunks;

/// How much of the input start is kept to explain a JSON error (its first
/// line must be whole in it to be recognised as one payload per line).
const EXPLAIN_LEN: usize = 1024 * 1024;

/// Encrypts one payload, or one per line with `--lines`.
pub fn run(args: EncryptArgs) -> Result<()> {
    let key_file = keysource::key_file_path(&args.payload.keys)?;
    let cipher = keysource::resolve(args.payload.keys, args.payload.method)?;
    let check = match (args.raw, args.check_events) {
        (_, true) => Check::Events(EventRules::new(SystemTime::now()).strict(args.strict)),
        (true, false) => Check::None,
        (false, false) => Check::Json,
    };
    if let Some(text) = &args.payload.text
        && check != Check::None
    {
        error::refuse_file_name(text, "encrypt")?;
    }
    let input = Input::choose(args.payload.text, args.payload.input.input, "payload")?;
    input.refuse_as_output(args.output.as_deref(), key_file.as_deref())?;
    let form = if args.request {
        CiphertextForm::RequestBody
    } else {
        CiphertextForm::Bare
    };
    let existing = if args.force {
        Existing::Force
    } else {
        Existing::Replace
    };
    let file = RegularFile::of(&input);
    // Hex doubles the bytes, Base64 adds a third; the request body a little more.
    let expected = file.as_ref().map(|file| file.len().saturating_mul(2) + 256);
    let mut out = Output::open_for(args.output.as_deref(), existing, expected)?;

    if args.lines {
        // Lines are read and split on a thread of their own, then checked and
        // encrypted on every core.
        let (reader, _) = input.open()?;
        let chunks = line_chunks(LineChunks::new(reader, check), file.is_some());
        let summary = cipher.encrypt_line_chunks(chunks, form, &mut out)?;
        out.commit()?;
        error::warn(&summary.warnings);
        return Ok(());
    }

    if let Some(file) = file.filter(|file| file.len() >= STREAM_MIN)
        && !args.compact
        && !args.verify
        && matches!(check, Check::Json | Check::None)
    {
        return encrypt_file(&cipher, &file, check == Check::Json, form, out).map_err(|error| {
            let mut start = Vec::new();
            let _ = file
                .open()
                .map(|f| f.take(EXPLAIN_LEN as u64).read_to_end(&mut start));
            error::explain_json(error, &start)
        });
    }

    let mut payload = input.read_all()?;
    // Kept to explain a JSON error: the payload itself is encrypted in place.
    let start = match check {
        Check::None => Vec::new(),
        _ => payload[..payload.len().min(EXPLAIN_LEN)].to_vec(),
    };
    let explain = |error| error::explain_json(error, &start);
    if args.compact {
        payload = payload::compact_json(&payload).map_err(|e| explain(e.into()))?;
    }
    // The event checks run here rather than inside the cipher, so that their
    // warnings can be shown; they include the JSON check.
    let check = match check {
        Check::Events(rules) => {
            let summary = events::check(&payload, &rules).map_err(|e| explain(e.into()))?;
            error::warn(&summary.warnings);
            Check::None
        }
        other => other,
    };
    let payload_len = payload.len();
    let options = EncryptOptions::new()
        .check(check)
        .form(form)
        .verify(args.verify)
        // Standard output cannot be taken back; a temporary file is dropped on failure.
        .discardable_output(out.is_atomic());
    cipher
        .encrypt_payload_to(payload, &options, &mut out)
        .map_err(|e| explain(e.into()))?;
    out.write_all(b"\n")?;
    out.commit()?;
    if args.verify {
        eprintln!("verified: the ciphertext decrypts to the exact {payload_len} payload bytes");
    }
    Ok(())
}

/// Encrypts a regular file a piece at a time, in memory of fixed size.
///
/// The JSON check reads the file on its own. Into a temporary file (`-o`) it
/// runs beside encryption on the second core, and the file is kept only if
/// both succeed; standard output cannot take back what it was given, so
/// there the check is a first pass and encryption a second.
fn encrypt_file(
    cipher: &Cipher,
    file: &RegularFile,
    check_json: bool,
    form: CiphertextForm,
    mut out: Output,
) -> Result<()> {
    let size = Some(file.len());
    if out.is_stdout() {
        process::widen_stdout_pipe();
    }
    let beside = check_json && out.is_atomic();
    if check_json && !beside {
        // Alone before encryption, so on all cores.
        payload::check_json_seekable(file.len(), || file.reopen())?;
    }
    out.write_all(form.prefix().as_bytes())?;
    let reader = file.open()?;
    let mut out = if beside {
        thread::scope(|scope| -> Result<Output> {
            let checker =
                scope.spawn(|| -> Result<u64> { Ok(payload::check_json_reader(file.open()?)?) });
            let encrypted = cipher.encrypt_stream(reader, size, out);
            checker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            Ok(encrypted?)
        })?
    } else {
        cipher.encrypt_stream(reader, size, out)?
    };
    out.write_all(form.suffix().as_bytes())?;
    out.write_all(b"\n")?;
    file.unchanged(if out.is_atomic() {
        "nothing was written"
    } else {
        "the ciphertext written may mix its old and new content"
    })?;
    out.commit()
}
