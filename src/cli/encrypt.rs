//! `ce-crypt encrypt`: payload in, ciphertext text (or a request body) out.

use std::io::Write;
use std::thread;

use anyhow::{Context, Result, anyhow, bail};
use ce_crypt::keys::KeyMaterial;
use ce_crypt::method::{CipherMode, Method};
use ce_crypt::payload::{self, Check};
use ce_crypt::{batch, codec, upload};

use super::args::EncryptArgs;
use super::input::Input;
use super::keysource;
use super::output::{Existing, Output};

/// CBC payloads at least this large are JSON-checked on a second thread while
/// the first encrypts, when the output is a file that is only kept if both
/// succeed. (GCM encrypts in place, so it checks first.)
const PARALLEL_CHECK_MIN: usize = 1024 * 1024;

/// Encrypts one payload, or one per line with `--lines`.
pub fn run(args: EncryptArgs) -> Result<()> {
    let method = args.payload.method;
    let keys = keysource::resolve(args.payload.keys, method)?;
    let input = Input::choose(args.payload.text, args.payload.input.input, "payload")?;
    let check = Check::from_flags(args.raw, args.check_events);
    let mut out = Output::open(args.output.as_deref(), Existing::Replace)?;

    if args.lines {
        let (reader, _) = input.open()?;
        let check_line = move |p: &[u8]| check.run(p).map_err(|e| e.to_string());
        batch::encrypt_lines(method, &keys, check_line, args.request, reader, &mut out)?;
        return out.commit();
    }

    let mut payload = input.read_all()?;
    if args.compact {
        payload = payload::compact_json(&payload)?;
    }
    let payload_len = payload.len();
    let (prefix, suffix) = if args.request {
        (upload::BODY_PREFIX, upload::BODY_SUFFIX)
    } else {
        ("", "")
    };
    // Standard output cannot be taken back: every check runs before its first byte.
    if args.verify {
        check.run(&payload)?;
        let text = codec::encrypt_to_string(method, &keys, &payload)?;
        verify(method, &keys, &text, &payload)?;
        out.write_all(prefix.as_bytes())?;
        out.write_all(text.as_bytes())?;
    } else if check != Check::None
        && out.is_atomic()
        && payload.len() >= PARALLEL_CHECK_MIN
        && method.mode() == CipherMode::Cbc
    {
        // Two cores: check and encrypt at once. The temporary file is dropped
        // (deleted) unless both succeed.
        out.write_all(prefix.as_bytes())?;
        thread::scope(|scope| -> Result<()> {
            let checker = scope.spawn(|| check.run(&payload));
            let encrypted = codec::encrypt_to(method, &keys, &payload, &mut out);
            checker
                .join()
                .map_err(|_| anyhow!("the payload check stopped unexpectedly"))??;
            encrypted?;
            Ok(())
        })?;
    } else {
        check.run(&payload)?;
        out.write_all(prefix.as_bytes())?;
        codec::encrypt_owned_to(method, &keys, payload, &mut out)?;
    }
    out.write_all(suffix.as_bytes())?;
    out.write_all(b"\n")?;
    out.commit()?;
    if args.verify {
        eprintln!("verified: the ciphertext decrypts to the exact {payload_len} payload bytes");
    }
    Ok(())
}

/// Decrypts `text` again and compares, as the reference script's "Match: True" did.
fn verify(method: Method, keys: &KeyMaterial, text: &str, payload: &[u8]) -> Result<()> {
    let back = codec::decrypt_text(method, keys, text.as_bytes())
        .context("verification failed: the new ciphertext does not decrypt")?;
    if back != payload {
        bail!(
            "verification failed: the ciphertext decrypts to different bytes; nothing was written"
        );
    }
    Ok(())
}
