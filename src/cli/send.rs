//! `ce-crypt send`: check, encrypt and POST a payload to the activity upload API.
//!
//! Settings come from, first match wins: flags, the environment, the key file
//! or profile, the defaults (region us; the asset_id the events share).

use std::env;
use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use ce_crypt::keys::{API_KEY_VAR, ASSET_ID_VAR, ENDPOINT_VAR, KeyFile, REGION_VAR};
use ce_crypt::upload::curl::{self, CurlOptions, CurlProxy};
use ce_crypt::upload::proxy::{self, ProxySetting};
use ce_crypt::upload::{
    ApiKey, Client, ClientConfig, Endpoint, ExtraCa, ProxyUrl, Region, Upload, check_header_value,
};
use ce_crypt::{Cipher, EventRules, events, request};

use super::args::SendArgs;
use super::error;
use super::input::Input;
use super::keysource;

mod bulk;

/// Environment variable naming an extra CA file, as `--cacert` does.
const CA_FILE_VAR: &str = "CE_CA_FILE";

/// Checks, encrypts and sends (or, with `--dry-run`, prints a curl script).
pub fn run(args: SendArgs) -> Result<()> {
    if let Some(text) = &args.payload.text {
        error::refuse_file_name(text, "send")?;
    }
    let (cipher, key_file) =
        keysource::resolve_with_file(args.payload.keys.clone(), args.payload.method)?;
    let key_file = key_file.unwrap_or_default();
    let endpoint = endpoint(args.endpoint.clone(), args.region, &key_file)?;
    if args.status {
        let chosen = chosen_asset(args.asset.clone(), &key_file)?;
        return bulk::status(&args, &endpoint, chosen);
    }
    // Look for the API key before reading the payload, so a missing key fails fast.
    let api_key = if args.dry_run {
        None
    } else {
        Some(api_key(args.api_key_file.clone(), &key_file)?)
    };
    let ca_file = args.cacert.clone().or_else(|| env_path(CA_FILE_VAR));
    let setting = if args.no_proxy {
        ProxySetting::Off
    } else if let Some(url) = &args.proxy {
        ProxySetting::Url(ProxyUrl::parse(url)?)
    } else {
        ProxySetting::Environment
    };
    let proxy = proxy::for_endpoint(&endpoint, &setting, |name| env::var(name).ok())?;
    let chosen = chosen_asset(args.asset.clone(), &key_file)?;
    let Some(api_key) = api_key else {
        return dry_run(args, &cipher, &endpoint, chosen, ca_file, setting);
    };

    let mut config = ClientConfig::new()
        .timeout(Duration::from_secs_f64(args.timeout))
        .connections(usize::from(args.concurrency))
        .proxy(proxy);
    if let Some(path) = &ca_file {
        let pem = fs::read(path)
            .with_context(|| format!("could not read the CA file {}", path.display()))?;
        config = config.extra_ca(ExtraCa {
            name: format!("the CA file {}", path.display()),
            pem,
        });
    }
    let client = Client::new(config)?;
    if args.verbose {
        describe_client(&client, &endpoint, &cipher);
    }
    bulk::send(&args, &client, &endpoint, &api_key, &cipher, chosen)
}

/// `--dry-run`: one request's worth of events, as a curl script.
fn dry_run(
    args: SendArgs,
    cipher: &Cipher,
    endpoint: &Endpoint,
    chosen: Option<(String, String)>,
    ca_file: Option<PathBuf>,
    setting: ProxySetting,
) -> Result<()> {
    let payload =
        Input::choose(args.payload.text, args.payload.input.input, "payload")?.read_all()?;
    // An empty array is no request, and nothing to send: as send says it.
    let empty = serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(&payload);
    if empty.is_ok_and(|events| events.is_empty()) {
        eprintln!("nothing to send: the input holds no events");
        return Ok(());
    }
    let summary = if args.no_check {
        // Still JSON, and still look for a shared asset_id, without judging the events.
        events::summarize(&payload)?
    } else {
        // The events must all belong to the asset named for x-asset, if one is.
        let rules = EventRules::new(SystemTime::now())
            .strict(args.strict)
            .asset(chosen.as_ref().map(|(asset, _)| asset.clone()));
        let summary = events::check(&payload, &rules)?;
        error::warn(&summary.warnings);
        summary
    };
    let asset_id = asset_id(chosen, summary.shared_asset_id)?;
    let body = request::body(&cipher.encrypt(&payload)?);
    let upload = Upload {
        endpoint,
        method: cipher.method(),
        asset_id: &asset_id,
        body: &body,
    };
    let options = CurlOptions {
        ca_files: ca_file.iter().map(|p| p.display().to_string()).collect(),
        // A proxy from the environment reaches curl through the same variables,
        // and curl applies NO_PROXY to --proxy as the client does.
        proxy: match setting {
            ProxySetting::Environment => CurlProxy::Environment,
            ProxySetting::Off => CurlProxy::Direct,
            ProxySetting::Url(proxy) => CurlProxy::Url {
                url: proxy.without_credentials().to_owned(),
                credentials: proxy.has_credentials(),
            },
        },
        timeout_seconds: Some(args.timeout),
    };
    let mut stdout = io::stdout().lock();
    stdout.write_all(curl::curl_script(&upload, &options).as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// `-v`: how the client connects, and where to.
fn describe_client(client: &Client, endpoint: &Endpoint, cipher: &Cipher) {
    let trust = client.trust();
    // A plain-http endpoint is reached directly whatever the proxy.
    let proxy = client
        .proxy()
        .filter(|_| endpoint.is_https())
        .map_or_else(|| "none".to_owned(), ToString::to_string);
    eprintln!(
        "* method {} ({}), trust: {} system + {} bundled + {} extra CA certificates \
         ({} set aside: not allowed to issue), proxy: {proxy}",
        cipher.method().name(),
        cipher.method().code(),
        trust.system,
        trust.bundled,
        trust.extra,
        trust.dropped,
    );
    eprintln!("> POST {endpoint}");
    eprintln!("> Content-Type: application/json");
    eprintln!("> x-eCode: {}", cipher.method().code());
    eprintln!("> x-asset: (each request's, as listed below)");
    eprintln!("> Authorization: Bearer [redacted]");
}

/// `--endpoint`, `--region`, `CE_ENDPOINT`, `CE_REGION`, then the key file's, then us.
fn endpoint(flag: Option<String>, region: Option<Region>, file: &KeyFile) -> Result<Endpoint> {
    let from = |url: &str, source: &str| Endpoint::parse(url).context(source.to_owned());
    let region_from = |name: &str, source: &str| -> Result<Endpoint> {
        let region: Region = name.parse().context(source.to_owned())?;
        Ok(region.endpoint())
    };
    if let Some(url) = flag {
        return from(&url, "--endpoint");
    }
    if let Some(region) = region {
        return Ok(region.endpoint());
    }
    if let Some(url) = env_text(ENDPOINT_VAR) {
        return from(&url, ENDPOINT_VAR);
    }
    if let Some(name) = env_text(REGION_VAR) {
        return region_from(&name, REGION_VAR);
    }
    if let Some(url) = &file.endpoint {
        return from(url, &format!("{ENDPOINT_VAR} in the key file"));
    }
    if let Some(name) = &file.region {
        return region_from(name, &format!("{REGION_VAR} in the key file"));
    }
    Ok(Endpoint::default())
}

/// `--api-key-file`, then `CE_API_KEY`, then the key file's. Never a flag.
fn api_key(flag_file: Option<PathBuf>, file: &KeyFile) -> Result<ApiKey> {
    if let Some(path) = flag_file {
        let text = keysource::read_secret_file(&path, "API key file")?;
        return ApiKey::new(text.expose())
            .with_context(|| format!("the API key file {}", path.display()));
    }
    if let Some(value) = keysource::env_secret(API_KEY_VAR)? {
        return ApiKey::new(value.expose()).context(API_KEY_VAR);
    }
    if let Some(value) = &file.api_key {
        return ApiKey::new(value.expose())
            .with_context(|| format!("{API_KEY_VAR} in the key file"));
    }
    bail!(
        "no API key: set {API_KEY_VAR} to the panel's API key, or pass --api-key-file FILE, or \
         add {API_KEY_VAR}= to the key file (or use --dry-run to see the request without sending it)"
    )
}

/// `--asset`, then `CE_ASSET_ID`, then the key file's: the asset named for
/// x-asset, and where; checked as a header value at once.
fn chosen_asset(flag: Option<String>, file: &KeyFile) -> Result<Option<(String, String)>> {
    let chosen = if let Some(asset) = flag {
        Some((asset, "--asset".to_owned()))
    } else if let Some(asset) = env_text(ASSET_ID_VAR) {
        Some((asset, ASSET_ID_VAR.to_owned()))
    } else {
        file.asset_id
            .clone()
            .map(|asset| (asset, format!("{ASSET_ID_VAR} in the key file")))
    };
    if let Some((asset, source)) = &chosen {
        check_header_value(asset, "asset id").with_context(|| source.clone())?;
    }
    Ok(chosen)
}

/// The asset named (see `chosen_asset`), else the asset_id the events share.
fn asset_id(chosen: Option<(String, String)>, shared: Option<String>) -> Result<String> {
    let (asset, source) = if let Some(chosen) = chosen {
        chosen
    } else if let Some(asset) = shared {
        (asset, "the events' asset_id".to_owned())
    } else {
        bail!(
            "the events do not share one asset_id: pass --asset ID (the asset id from the panel)"
        );
    };
    check_header_value(&asset, "asset id").with_context(|| source)?;
    Ok(asset)
}

fn env_text(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_path(name: &str) -> Option<PathBuf> {
    env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
