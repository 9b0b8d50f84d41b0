//! `ce-crypt methods`: the table of Netcore methods.

use std::io::{self, Write};

use anyhow::{Context, Result};
use ce_crypt::Method;

/// Prints name, cipher, encoding, API code and alias of every method.
pub fn run() -> Result<()> {
    super::process::check_stdout_open()?;
    table(&mut io::stdout().lock()).context("could not write to standard output")
}

fn table(out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "{:<20} {:<13} {:<8} {:<6} ALIAS",
        "NAME", "CIPHER", "ENCODING", "CODE"
    )?;
    for method in Method::ALL {
        let default = if method == Method::default() {
            "  (default)"
        } else {
            ""
        };
        writeln!(
            out,
            "{:<20} {:<13} {:<8} {:<6} {}{default}",
            method.name(),
            method.mode().to_string(),
            method.encoding().to_string(),
            method.code(),
            method.alias()
        )?;
    }
    out.flush()?;
    Ok(())
}
