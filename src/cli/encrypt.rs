//! `ce-crypt encrypt`: payload in, ciphertext text out.

use std::io::Write;
use std::thread;

use anyhow::{Context, Result, anyhow, bail};
use ce_crypt::keys::KeyMaterial;
use ce_crypt::method::Method;
use ce_crypt::{batch, codec, payload};

use super::args::EncryptArgs;
use super::input::Input;
use super::keysource;
use super::output::{Existing, Output};

/// Payloads at least this large are JSON-checked on a second thread while the
/// first encrypts, when the output is a file that is only kept if both succeed.
const PARALLEL_CHECK_MIN: usize = 1024 * 1024;

/// Encrypts one payload, or one per line with `--lines`.
pub fn run(args: EncryptArgs) -> Result<()> {
    let method = args.method;
    let keys = keysource::resolve(args.keys, method)?;
    let input = Input::choose(args.text, args.input.input, "payload")?;
    let check = Check { json: !args.raw };
    let mut out = Output::open(args.output.as_deref(), Existing::Replace)?;

    if args.lines {
        let (reader, _) = input.open()?;
        batch::encrypt_lines(method, &keys, |p| check.run(p), reader, &mut out)?;
        return out.commit();
    }

    let payload = input.read_all()?;
    if args.verify {
        check.run(&payload).map_err(|e| anyhow!(e))?;
        let text = codec::encrypt_to_string(method, &keys, &payload)?;
        verify(method, &keys, &text, &payload)?;
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        out.commit()?;
        eprintln!(
            "verified: the ciphertext decrypts to the exact {} payload bytes",
            payload.len()
        );
        return Ok(());
    }

    if check.json && out.is_atomic() && payload.len() >= PARALLEL_CHECK_MIN {
        // Two cores: check and encrypt at once. The temporary file is dropped
        // (deleted) unless both succeed.
        thread::scope(|scope| -> Result<()> {
            let checker = scope.spawn(|| check.run(&payload));
            let encrypted = codec::encrypt_to(method, &keys, &payload, &mut out);
            let checked = checker
                .join()
                .map_err(|_| anyhow!("the JSON check stopped unexpectedly"))?;
            checked.map_err(|e| anyhow!(e))?;
            encrypted?;
            Ok(())
        })?;
    } else {
        check.run(&payload).map_err(|e| anyhow!(e))?;
        codec::encrypt_to(method, &keys, &payload, &mut out)?;
    }
    out.write_all(b"\n")?;
    out.commit()
}

/// What a payload must pass before it is encrypted.
#[derive(Clone, Copy)]
struct Check {
    json: bool,
}

impl Check {
    fn run(&self, payload: &[u8]) -> Result<(), String> {
        if self.json {
            payload::check_json(payload).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
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
