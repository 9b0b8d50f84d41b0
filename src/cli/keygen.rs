//! `ce-crypt keygen`: a new key and IV, printed or written to a 0600 file.

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ce_crypt::KeyEncoding;
use ce_crypt::keys;

use super::args::{KeygenArgs, KeygenFormat};
use super::error;
use super::keysource;
use super::output::{Existing, Output};
use super::secret_file;

/// Generates and writes the key material.
pub fn run(args: KeygenArgs) -> Result<()> {
    let existing = if args.force {
        Existing::ReplacePrivate
    } else {
        Existing::Refuse
    };
    let path = match &args.profile {
        Some(name) => Some(profile_folder_made(name)?),
        None => args.output.clone(),
    };
    // Open first: refuse an existing file before drawing any secret. No
    // buffer of ours: the key text is only in wiped memory.
    let mut out = Output::open_unbuffered(path.as_deref(), existing)?;
    let keys = keys::generate(KeyEncoding::from(args.key_encoding))?;
    let text = match args.format {
        KeygenFormat::Env => keys.to_env_lines(),
        KeygenFormat::Json => keys.to_json(),
    };
    out.write_all(text.expose().as_bytes())?;
    out.commit()?;
    if let Some(path) = path.as_deref().filter(|p| *p != Path::new("-")) {
        let next = match (&args.profile, args.format) {
            (Some(name), _) => format!(
                "; then encrypt with: ce-crypt encrypt {} -i events.json",
                keysource::profile_arg(name)
            ),
            (None, KeygenFormat::Env) => format!(
                "; then encrypt with: ce-crypt encrypt --key-file {} -i events.json",
                error::shell_quoted(path)
            ),
            (None, KeygenFormat::Json) => String::new(),
        };
        eprintln!(
            "wrote a new key and IV to {} (mode 0600, readable by you only)\n\
             next: share both values with Netcore over a secure channel, and keep the file \
             out of version control{next}",
            path.display()
        );
    }
    if path.is_none() && io::stdout().is_terminal() {
        eprintln!(
            "note: share both values with Netcore over a secure channel, and keep them secret \
             (save them with -o FILE rather than copying from the terminal)"
        );
    }
    Ok(())
}

/// The key file of profile `name`, its folder created (mode 0700) if
/// missing, and refused if others may write to it.
fn profile_folder_made(name: &str) -> Result<PathBuf> {
    let path = keysource::profile_location(name)?;
    if let Some(folder) = path.parent() {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(folder)
            .with_context(|| format!("could not create the folder {}", folder.display()))?;
        secret_file::check_profile_folder(folder)?;
    }
    Ok(path)
}
