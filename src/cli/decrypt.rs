//! `ce-crypt decrypt`: ciphertext text in, the exact payload bytes out.

use std::io::Write;

use anyhow::{Context, Result};
use ce_crypt::{batch, codec, payload};

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

    // The plaintext is only released once its padding or tag has checked out.
    let plaintext = codec::decrypt_reader(method, &keys, reader, size)?;
    if args.pretty {
        let pretty = payload::pretty_json(&plaintext)
            .context("--pretty needs a JSON plaintext; drop it to see the exact bytes")?;
        out.write_all(&pretty)?;
    } else {
        out.write_all(&plaintext)?;
    }
    out.commit()
}
