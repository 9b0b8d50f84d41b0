//! `ce-crypt keygen`: a new key and IV, printed or written to a 0600 file.

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use anyhow::Result;
use ce_crypt::KeyEncoding;
use ce_crypt::keygen;

use super::args::{KeygenArgs, KeygenFormat};
use super::output::{Existing, Output};

/// Generates and writes the key material.
pub fn run(args: KeygenArgs) -> Result<()> {
    let existing = if args.force {
        Existing::ReplacePrivate
    } else {
        Existing::Refuse
    };
    // Open first: refuse an existing file before drawing any secret. No
    // buffer of ours: the key text is only in wiped memory.
    let mut out = Output::open_unbuffered(args.output.as_deref(), existing)?;
    let keys = keygen::generate(KeyEncoding::from(args.key_encoding))?;
    let text = match args.format {
        KeygenFormat::Env => keys.to_env_lines(),
        KeygenFormat::Json => keys.to_json(),
    };
    out.write_all(text.expose().as_bytes())?;
    out.commit()?;
    if let Some(path) = args.output.as_deref().filter(|p| *p != Path::new("-")) {
        let next = match args.format {
            KeygenFormat::Env => format!(
                "; then encrypt with: ce-crypt encrypt --key-file {} -i events.json",
                path.display()
            ),
            KeygenFormat::Json => String::new(),
        };
        eprintln!(
            "wrote a new key and IV to {} (mode 0600, readable by you only)\n\
             next: share both values with Netcore over a secure channel, and keep the file \
             out of version control{next}",
            path.display()
        );
    }
    if args.output.is_none() && io::stdout().is_terminal() {
        eprintln!(
            "note: share both values with Netcore over a secure channel, and keep them secret \
             (save them with -o FILE rather than copying from the terminal)"
        );
    }
    Ok(())
}
