//! `ce-crypt decrypt`: ciphertext text (or a request body) in, the exact payload bytes out.

use std::io::{BufRead, BufReader, Read, Write};

use anyhow::{Context, Result, anyhow};
use ce_crypt::batch::NOT_A_BODY;
use ce_crypt::{batch, codec, payload, upload};

use super::args::DecryptArgs;
use super::input::Input;
use super::keysource;
use super::output::{Existing, Output};

/// Decrypts one ciphertext, or one per line with `--lines`.
pub fn run(args: DecryptArgs) -> Result<()> {
    let method = args.method;
    let keys = keysource::resolve(args.keys, method)?;
    let input = Input::choose(args.text, args.input.input, "ciphertext")?;
    let mut out = Output::open(args.output.as_deref(), Existing::Replace)?;
    let (reader, size) = input.open()?;

    if args.lines {
        batch::decrypt_lines(method, &keys, reader, &mut out)?;
        return out.commit();
    }

    // A request body (`encrypt --request`, or a captured request) is unwrapped first.
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let looks_like_json =
        reader.fill_buf()?.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // The plaintext is only released once its padding or tag has checked out.
    let plaintext = if looks_like_json {
        let mut body = Vec::with_capacity(size);
        reader.read_to_end(&mut body)?;
        let text = upload::ciphertext_in_body(&body).ok_or_else(|| anyhow!(NOT_A_BODY))?;
        codec::decrypt_text(method, &keys, text.as_bytes())?
    } else {
        codec::decrypt_reader(method, &keys, reader, size)?
    };
    if args.pretty {
        let pretty = payload::pretty_json(&plaintext)
            .context("--pretty needs a JSON plaintext; drop it to see the exact bytes")?;
        out.write_all(&pretty)?;
    } else {
        out.write_all(&plaintext)?;
    }
    out.commit()
}
