//! `ce-crypt send`: check, encrypt and POST a payload to the activity upload API.

use std::env;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ce_crypt::events;
use ce_crypt::secret::SecretString;
use ce_crypt::upload::{self, Upload};
use ce_crypt::{codec, payload};

use super::args::SendArgs;
use super::input::Input;
use super::keysource;

/// Environment variable holding the panel's API key.
const API_KEY_VAR: &str = "CE_API_KEY";

/// Checks, encrypts and sends (or, with `--dry-run`, prints the curl command).
pub fn run(args: SendArgs) -> Result<()> {
    let method = args.payload.method;
    let keys = keysource::resolve(args.payload.keys, method)?;
    // Look for the API key before reading the payload, so a missing key fails fast.
    let api_key = if args.dry_run {
        None
    } else {
        Some(api_key(args.api_key_file.as_deref())?)
    };
    let payload =
        Input::choose(args.payload.text, args.payload.input.input, "payload")?.read_all()?;

    let shared_asset_id = if args.no_check {
        // Still JSON, and still look for a shared asset_id, without judging the events.
        let value: serde_json::Value = serde_json::from_str(payload::utf8_text(&payload)?)
            .map_err(payload::JsonError::from)?;
        events::shared_asset_id(&value)
    } else {
        events::check(&payload)?.shared_asset_id
    };
    let asset_id = match (args.asset, shared_asset_id) {
        (Some(asset), _) => asset,
        (None, Some(shared)) => shared,
        (None, None) => bail!(
            "the events do not share one asset_id: pass --asset ID (the asset id from the panel)"
        ),
    };

    let ciphertext = codec::encrypt_to_string(method, &keys, &payload)?;
    let body = upload::request_body(&ciphertext);
    let request = Upload {
        endpoint: &args.endpoint,
        method,
        asset_id: &asset_id,
        body: &body,
        timeout: Duration::from_secs_f64(args.timeout),
    };
    let mut stdout = io::stdout().lock();
    let Some(api_key) = api_key else {
        writeln!(stdout, "{}", upload::curl_command(&request))?;
        return Ok(());
    };
    let answer = upload::send(&request, &api_key)?;
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
            let text =
                SecretString::new(fs::read_to_string(path).with_context(|| {
                    format!("could not read the API key file {}", path.display())
                })?);
            keysource::warn_if_shared(path);
            SecretString::from(text.expose().trim())
        }
        None => match env::var(API_KEY_VAR) {
            Ok(value) => SecretString::new(value),
            Err(env::VarError::NotPresent) => bail!(
                "no API key: set {API_KEY_VAR} to the panel's API key, or pass --api-key-file FILE \
                 (or use --dry-run to see the request without sending it)"
            ),
            Err(env::VarError::NotUnicode(_)) => bail!("{API_KEY_VAR} is not valid UTF-8"),
        },
    };
    if key.expose().is_empty() {
        bail!("the API key is empty: set {API_KEY_VAR} or fill the --api-key-file");
    }
    Ok(key)
}
