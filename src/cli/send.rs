//! `ce-crypt send`: check, encrypt and POST a payload to the activity upload API.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use ce_crypt::upload::{self, Client, Upload};
use ce_crypt::{SecretString, events, request};

use super::args::SendArgs;
use super::input::Input;
use super::keysource;

/// Environment variable holding the panel's API key.
const API_KEY_VAR: &str = "CE_API_KEY";

/// Checks, encrypts and sends (or, with `--dry-run`, prints the curl command).
pub fn run(args: SendArgs) -> Result<()> {
    let cipher = keysource::resolve(args.payload.keys, args.payload.method)?;
    // Look for the API key before reading the payload, so a missing key fails fast.
    let api_key = if args.dry_run {
        None
    } else {
        Some(api_key(args.api_key_file.as_deref())?)
    };
    let payload =
        Input::choose(args.payload.text, args.payload.input.input, "payload")?.read_all()?;

    let summary = if args.no_check {
        // Still JSON, and still look for a shared asset_id, without judging the events.
        events::summarize(&payload)?
    } else {
        events::check(&payload)?
    };
    let asset_id = match (args.asset, summary.shared_asset_id) {
        (Some(asset), _) => asset,
        (None, Some(shared)) => shared,
        (None, None) => bail!(
            "the events do not share one asset_id: pass --asset ID (the asset id from the panel)"
        ),
    };

    let body = request::body(&cipher.encrypt(&payload)?);
    let request = Upload {
        endpoint: &args.endpoint,
        method: cipher.method(),
        asset_id: &asset_id,
        body: &body,
    };
    let mut stdout = io::stdout().lock();
    let Some(api_key) = api_key else {
        writeln!(stdout, "{}", upload::curl_command(&request))?;
        return Ok(());
    };
    let client = Client::new(Duration::from_secs_f64(args.timeout));
    let answer = client.send(&request, &api_key)?;
    stdout.write_all(answer.body.as_bytes())?;
    if !answer.body.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(())
}

/// The panel's API key: `--api-key-file FILE`, else `CE_API_KEY`. Never a flag.
fn api_key(file: Option<&Path>) -> Result<SecretString> {
    let key = match file {
        Some(path) => {
            let text = keysource::read_secret_file(path, "API key file")?;
            SecretString::from(text.expose().trim())
        }
        None => match keysource::env_secret(API_KEY_VAR)? {
            Some(value) => value,
            None => bail!(
                "no API key: set {API_KEY_VAR} to the panel's API key, or pass --api-key-file FILE \
                 (or use --dry-run to see the request without sending it)"
            ),
        },
    };
    if key.expose().is_empty() {
        bail!("the API key is empty: set {API_KEY_VAR} or fill the --api-key-file");
    }
    Ok(key)
}
