//! A stand-in for Netcore's Activity API on loopback, for the bulk send tests.
//!
//! It does what the API documents: it decrypts each body with the shared key
//! (with RustCrypto's `cbc` and `aes` directly, not ce-crypt's code), parses
//! the events, refuses more than 1000 in one request or a request whose
//! events name another asset than `x-asset`, and records the identities it
//! accepted. Faults are injected on demand (see [`Faults`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};

use super::net::{self as loopback, Request, Response, TestServer};
use super::{IV, KEY};

/// The API key the stand-in expects.
pub const API_KEY: &str = "standin-api-key";
/// Another key it takes too: the same account's key after a rotation.
pub const ROTATED_API_KEY: &str = "standin-api-key-rotated";

/// What to do wrong, and when. Requests are counted from 1, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The first N requests get 429 with this `Retry-After` value.
    pub retry_after: Option<(usize, String)>,
    /// Every Nth request gets 503.
    pub unavailable_every: Option<usize>,
    /// Every Nth request is accepted, then its connection dropped unanswered.
    pub drop_after_accept_every: Option<usize>,
    /// A request holding an event whose identity contains this gets 400.
    pub refuse_marked: Option<String>,
    /// Every request gets 400.
    pub refuse_all: bool,
    /// Requests after the first N get 401.
    pub unauthorized_after: Option<usize>,
    /// Request N is accepted, then answered only after this long.
    pub slow_request: Option<(usize, Duration)>,
    /// Answer this late.
    pub latency: Duration,
}

/// What the stand-in saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The identities of the events it accepted, in order (repeats kept).
    pub accepted: Vec<String>,
    /// Each accepted request: its `x-asset` and how many events it held.
    pub batches: Vec<(String, usize)>,
    /// When each request arrived.
    pub arrivals: Vec<Instant>,
    /// Requests that broke the API's rules (too many events, mixed assets, bad headers).
    pub violations: Vec<String>,
}

/// The stand-in API.
pub struct StandIn {
    /// The HTTP server underneath (its `requests()` lists every request).
    pub server: TestServer,
    seen: Arc<Mutex<Seen>>,
    faults: Arc<Mutex<Faults>>,
}

impl StandIn {
    /// Starts it with `faults`.
    pub fn start(faults: Faults) -> StandIn {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let faults = Arc::new(Mutex::new(faults));
        let (shared, shared_faults) = (Arc::clone(&seen), Arc::clone(&faults));
        let mut count = 0;
        let server = TestServer::start(move |request: &Request| {
            count += 1;
            let faults = lock(&shared_faults).clone();
            let mut seen = lock(&shared);
            seen.arrivals.push(Instant::now());
            let delay = match faults.slow_request {
                Some((slow, delay)) if slow == count => delay,
                _ => faults.latency,
            };
            answer(count, request, &faults, &mut seen).delay(delay)
        });
        StandIn {
            server,
            seen,
            faults,
        }
    }

    /// From the next request on, these faults (requests are still counted
    /// from the first).
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// The upload URL.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// What it saw so far.
    pub fn seen(&self) -> Seen {
        lock(&self.seen).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn answer(n: usize, request: &Request, faults: &Faults, seen: &mut Seen) -> Response {
    if faults.unauthorized_after.is_some_and(|k| n > k) {
        return loopback::json(401, r#"{"error":"invalid API key"}"#);
    }
    let events = match decode(request) {
        Ok(events) => events,
        Err(violation) => {
            seen.violations.push(violation.clone());
            return loopback::json(400, format!(r#"{{"error":{violation:?}}}"#));
        }
    };
    if let Some((first, value)) = &faults.retry_after
        && n <= *first
    {
        return loopback::json(429, r#"{"error":"slow down"}"#).header("Retry-After", value);
    }
    if faults
        .unavailable_every
        .is_some_and(|k| n.is_multiple_of(k))
    {
        return loopback::json(503, r#"{"error":"try later"}"#);
    }
    if faults.refuse_all {
        return loopback::json(400, r#"{"error":"invalid request"}"#);
    }
    let identities: Vec<String> = events
        .iter()
        .map(|e| e["identity"].as_str().unwrap_or_default().to_owned())
        .collect();
    if let Some(mark) = &faults.refuse_marked
        && identities.iter().any(|id| id.contains(mark.as_str()))
    {
        return loopback::json(400, r#"{"error":"invalid event"}"#);
    }
    let asset = request.header("x-asset").unwrap_or_default().to_owned();
    seen.batches.push((asset, identities.len()));
    seen.accepted.extend(identities);
    if faults
        .drop_after_accept_every
        .is_some_and(|k| n.is_multiple_of(k))
    {
        return Response::drop_connection();
    }
    loopback::json(200, r#"{"status":"success"}"#)
}

/// The events of a request, or the rule it breaks.
fn decode(request: &Request) -> Result<Vec<serde_json::Value>, String> {
    let authorization = request.header("authorization").unwrap_or_default();
    if ![API_KEY, ROTATED_API_KEY]
        .iter()
        .any(|key| authorization == format!("Bearer {key}"))
    {
        return Err("bad Authorization".into());
    }
    let hex = match request.header("x-ecode") {
        Some("11256") => false,
        Some("11257") => true,
        _ => return Err("x-eCode is neither 11256 nor 11257".into()),
    };
    if request.header("content-type") != Some("application/json") {
        return Err("Content-Type is not application/json".into());
    }
    let asset = request.header("x-asset").ok_or("no x-asset")?;
    let body: serde_json::Value =
        serde_json::from_slice(&request.body).map_err(|e| format!("body: {e}"))?;
    let text = body["encryptedRequest"]
        .as_str()
        .ok_or("no encryptedRequest")?;
    let ciphertext = if hex {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2).unwrap_or("x"), 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|e| format!("hex: {e}"))?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("Base64: {e}"))?
    };
    let key: &[u8; 32] = KEY.as_bytes().try_into().expect("a 32-byte key");
    let iv: &[u8; 16] = IV.as_bytes().try_into().expect("a 16-byte IV");
    let mut buffer = ciphertext;
    let plain = cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
        .decrypt_padded::<Pkcs7>(&mut buffer)
        .map_err(|_| "does not decrypt".to_owned())?
        .to_vec();
    let events: Vec<serde_json::Value> =
        serde_json::from_slice(&plain).map_err(|e| format!("events: {e}"))?;
    if events.is_empty() || events.len() > 1000 {
        return Err(format!("{} events in one request", events.len()));
    }
    if let Some(other) = events.iter().find(|e| e["asset_id"] != asset) {
        return Err(format!(
            "asset {} in a request for {asset}",
            other["asset_id"]
        ));
    }
    Ok(events)
}

/// `count` events, one per NDJSON line, identities `user-<i>`, of `asset`
/// (`asset_of(i)` when given), stamped a minute ago.
pub fn ndjson(count: usize, asset_of: impl Fn(usize) -> String) -> String {
    let when = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    (0..count)
        .map(|i| {
            format!(
                r#"{{"asset_id":"{}","activity_name":"Page Browse","timestamp":"{when}","identity":"user-{i}","activity_source":"web","activity_params":{{"n":{i}}}}}"#,
                asset_of(i)
            ) + "\n"
        })
        .collect()
}

/// The identities `user-0` to `user-<count - 1>`.
pub fn all_users(count: usize) -> std::collections::BTreeSet<String> {
    (0..count).map(|i| format!("user-{i}")).collect()
}
