//! `ce-crypt methods`: the table of Netcore methods.

use std::io::{self, Write};

use anyhow::Result;
use ce_crypt::method::{CipherMode, Method, TextEncoding};

/// Prints name, cipher, encoding, API code and alias of every method.
pub fn run() -> Result<()> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{:<20} {:<13} {:<8} {:<6} ALIAS",
        "NAME", "CIPHER", "ENCODING", "CODE"
    )?;
    for method in Method::ALL {
        let cipher = match method.mode() {
            CipherMode::Cbc => "AES-256-CBC",
            CipherMode::Gcm => "AES-256-GCM",
        };
        let encoding = match method.encoding() {
            TextEncoding::Base64 => "Base64",
            TextEncoding::Hex => "hex",
        };
        let default = if method == Method::default() {
            "  (default)"
        } else {
            ""
        };
        writeln!(
            out,
            "{:<20} {:<13} {:<8} {:<6} {}{default}",
            method.name(),
            cipher,
            encoding,
            method.code(),
            method.alias()
        )?;
    }
    out.flush()?;
    Ok(())
}
