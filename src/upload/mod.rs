//! The activity upload API: a [`Client`] that POSTs request bodies, and the
//! curl script that does the same.
//!
//! Rules a customer's data and API key can rely on:
//! - HTTPS only; plain HTTP to loopback hosts alone, for testing ([`Endpoint`]).
//! - Redirects are never followed: a 3xx is an error, and nothing counts as sent.
//! - The status decides: any 2xx is success whatever its body, which is read
//!   up to a bound and kept lossily; an error answer's body is cleaned of
//!   control characters and shortened.
//! - The API key travels only in the `Authorization` header: it is never part
//!   of an error, a report or the dry-run script. Whatever the server says
//!   (a 2xx body, an error body, a `Location`) has the key redacted in every
//!   form it may be echoed in before [`Client::send`] returns it.
//! - Trust is the operating system's store plus any extra CA, certificate
//!   authorities only; proxies are chosen as curl chooses them,
//!   and a plain-http endpoint never goes through one.
//! - Every failure is a sentence that says whether the request may have
//!   reached the API ([`UploadError::may_have_arrived`]).
//!
//! One client keeps its connections open across requests.
//!
//! ```no_run
//! use ce_crypt::upload::{ApiKey, Client, ClientConfig, Region, Upload};
//! use ce_crypt::{Cipher, Iv, Key, KeyEncoding, Method, request};
//!
//! let key = Key::parse(&std::env::var("CE_SECRET_KEY")?, KeyEncoding::Utf8)?;
//! let iv = Iv::parse(&std::env::var("CE_SECRET_IV")?, KeyEncoding::Utf8)?;
//! let cipher = Cipher::new(Method::CbcBase64, key, Some(iv))?;
//! let body = request::body(&cipher.encrypt(br#"[{"activity_name":"Page Browse"}]"#)?);
//!
//! let client = Client::new(ClientConfig::new())?;
//! let api_key = ApiKey::new(&std::env::var("CE_API_KEY")?)?;
//! let endpoint = Region::Us.endpoint();
//! let upload = Upload {
//!     endpoint: &endpoint,
//!     method: cipher.method(),
//!     asset_id: "ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1",
//!     body: &body,
//! };
//! match client.send(&upload, &api_key) {
//!     Ok(answer) => println!("{} {}", answer.status, answer.reason),
//!     // Safe to send again only if it certainly did not arrive.
//!     Err(error) if !error.may_have_arrived() => eprintln!("not sent: {error}"),
//!     Err(error) => eprintln!("may have arrived: {error}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bulk;
pub(crate) mod curl;
mod endpoint;
mod error;
pub(crate) mod proxy;
pub(crate) mod redact;
mod trust;

use std::io::Read;
use std::time::{Duration, Instant};

use crate::method::Method;
use crate::secret::SecretString;

pub use endpoint::{Endpoint, EndpointError, Region, UnknownRegion};
pub use error::UploadError;
pub use proxy::{ProxyError, ProxyUrl};
pub(crate) use redact::Redactor;
pub(crate) use trust::TrustSummary;
pub use trust::{ClientError, ExtraCa};

/// How much of a 2xx answer's body is kept.
const SUCCESS_BODY_LIMIT: u64 = 1024 * 1024;
/// How much of an error answer's body is read.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// How many characters of an error answer's body a message shows.
const ERROR_BODY_SHOWN: usize = 500;

/// Everything one upload needs but the API key.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// Where to POST.
    pub endpoint: &'a Endpoint,
    /// The method, whose code goes in `x-eCode`.
    pub method: Method,
    /// The panel's asset id, for `x-asset`: not empty, no control characters.
    pub asset_id: &'a str,
    /// The request body from [`request::body`](crate::request::body).
    pub body: &'a str,
}

/// The request headers of `upload`, with `key` standing for the API key.
pub(crate) fn header_lines(upload: &Upload<'_>, key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "application/json".to_owned()),
        ("x-eCode", upload.method.code().to_string()),
        ("x-asset", upload.asset_id.to_owned()),
        ("Authorization", format!("Bearer {key}")),
    ]
}

/// A header value that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderValueError {
    /// Nothing but whitespace, or nothing at all.
    #[error("the {what} is empty")]
    Empty {
        /// `API key`, `asset id`.
        what: &'static str,
    },
    /// A control character (a newline, say) would break the request.
    #[error(
        "the {what} contains a control character (at character {position}), which cannot be \
         sent in an HTTP header"
    )]
    ControlCharacter {
        /// `API key`, `asset id`.
        what: &'static str,
        /// 1-based position of the first one.
        position: usize,
    },
}

/// Checks a header value: not empty or whitespace-only, no control characters.
/// Messages say where the problem is, never what the value holds.
pub(crate) fn check_header_value(value: &str, what: &'static str) -> Result<(), HeaderValueError> {
    if value.trim().is_empty() {
        return Err(HeaderValueError::Empty { what });
    }
    match value.chars().position(char::is_control) {
        Some(index) => Err(HeaderValueError::ControlCharacter {
            what,
            position: index + 1,
        }),
        None => Ok(()),
    }
}

/// The panel's API key, trimmed and checked for use in a header. Whatever a
/// server echoes of it, in any form, is redacted before a [`Client`] returns it.
#[derive(Debug, Clone)]
pub struct ApiKey(SecretString, Redactor);

impl ApiKey {
    /// Trims `text` and checks it.
    pub fn new(text: &str) -> Result<ApiKey, HeaderValueError> {
        let key = text.trim();
        check_header_value(key, "API key")?;
        Ok(ApiKey(SecretString::from(key), Redactor::new(key)))
    }

    /// The key itself.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Finds the key in a text, in any form it may be echoed in.
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.1
    }
}

/// How a [`Client`] connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    timeout: Duration,
    proxy: Option<ProxyUrl>,
    extra_cas: Vec<ExtraCa>,
    connections: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: Duration::from_secs(30),
            proxy: None,
            extra_cas: Vec::new(),
            connections: 4,
        }
    }
}

impl ClientConfig {
    /// Direct connections, the system's trust store, 30 s per request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bound on each whole request, connection to last byte.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The proxy to go through, or none. A
    /// plain-http endpoint is reached directly all the same.
    pub fn proxy(mut self, proxy: Option<ProxyUrl>) -> Self {
        self.proxy = proxy;
        self
    }

    /// Trusts `ca` too, beside the system's store.
    pub fn extra_ca(mut self, ca: ExtraCa) -> Self {
        self.extra_cas.push(ca);
        self
    }

    /// Keeps up to `n` connections open for reuse (4 unless set): one for each
    /// request sent at the same time, so none is closed and opened again.
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }
}

/// An HTTP client for the upload API; it reuses connections across requests.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// Without the proxy, for plain-http endpoints (when there is a proxy).
    direct: Option<ureq::Agent>,
    config: ClientConfig,
    trust: TrustSummary,
}

/// A 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// Its reason phrase.
    pub reason: String,
    /// The response body, lossily decoded, at most 1 MiB of it, the API key
    /// redacted (control characters are kept: escape them for a terminal).
    pub body: String,
    /// Whether the body was longer than what was kept, or could not be read to
    /// its end (the upload succeeded all the same).
    pub body_incomplete: bool,
    /// From sending to the end of the answer.
    pub elapsed: Duration,
}

impl Client {
    /// A client as `config` says.
    pub fn new(config: ClientConfig) -> Result<Client, ClientError> {
        let (roots, trust) = trust::root_certs(&config.extra_cas)?;
        let tls = ureq::tls::TlsConfig::builder().root_certs(roots).build();
        let build = |proxy: Option<ureq::Proxy>| -> ureq::Agent {
            ureq::Agent::config_builder()
                .timeout_global(Some(config.timeout))
                .http_status_as_error(false)
                .max_redirects(0)
                .max_redirects_will_error(false)
                .max_idle_connections_per_host(config.connections)
                .max_idle_connections(config.connections.max(10))
                .proxy(proxy)
                .tls_config(tls.clone())
                .user_agent(concat!("ce-crypt/", env!("CARGO_PKG_VERSION")))
                .build()
                .into()
        };
        let proxy = config.proxy.as_ref().and_then(ProxyUrl::to_ureq);
        let direct = proxy.is_some().then(|| build(None));
        Ok(Client {
            agent: build(proxy),
            direct,
            config,
            trust,
        })
    }

    /// What this client trusts.
    pub(crate) fn trust(&self) -> TrustSummary {
        self.trust
    }

    /// The proxy this client goes through, if any (never for a plain-http endpoint).
    pub(crate) fn proxy(&self) -> Option<&ProxyUrl> {
        self.config.proxy.as_ref()
    }

    /// POSTs the upload and returns the API's 2xx answer, its body redacted.
    pub fn send(&self, upload: &Upload<'_>, api_key: &ApiKey) -> Result<Answer, UploadError> {
        check_header_value(upload.asset_id, "asset id").map_err(UploadError::Header)?;
        let redactor = api_key.redactor();
        // The API key never crosses a proxy unencrypted.
        let (agent, proxy) = match &self.direct {
            Some(direct) if !upload.endpoint.is_https() => (direct, None),
            _ => (&self.agent, self.config.proxy.as_ref()),
        };
        let started = Instant::now();
        let mut request = agent.post(upload.endpoint.as_str());
        for (name, value) in header_lines(upload, api_key.expose()) {
            request = request.header(name, SecretString::new(value).expose());
        }
        let failed = error::Failed {
            endpoint: upload.endpoint,
            proxy,
            timeout: self.config.timeout,
            redactor,
        };
        let mut response = request
            .send(upload.body)
            .map_err(|e| error::classify(e, &failed))?;
        let status = response.status();
        let reason = status.canonical_reason().unwrap_or("").to_owned();
        if status.is_redirection() {
            let location = response
                .headers()
                .get("location")
                .map(|value| clean(&redactor.redact(&String::from_utf8_lossy(value.as_bytes()))))
                .unwrap_or_else(|| "(none)".to_owned());
            return Err(UploadError::Redirected {
                status: status.as_u16(),
                reason,
                location,
            });
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| bulk::parse_retry_after(value, std::time::SystemTime::now()));
        let limit = if status.is_success() {
            SUCCESS_BODY_LIMIT
        } else {
            ERROR_BODY_LIMIT
        };
        let mut bytes = Vec::new();
        let mut reader = response.body_mut().as_reader().take(limit + 1);
        let read_whole = reader.read_to_end(&mut bytes).is_ok();
        let incomplete = !read_whole || bytes.len() as u64 > limit;
        bytes.truncate(limit as usize);
        let text = String::from_utf8_lossy(&bytes);
        // A body cut short may end with the start of the key.
        let body = if incomplete {
            redactor.redact_cut(&text)
        } else {
            redactor.redact(&text)
        };
        if status.is_success() {
            Ok(Answer {
                status: status.as_u16(),
                reason,
                body,
                body_incomplete: incomplete,
                elapsed: started.elapsed(),
            })
        } else {
            Err(UploadError::Rejected {
                status: status.as_u16(),
                reason,
                body: shorten(&clean(&body)),
                retry_after,
            })
        }
    }
}

/// `text` with control characters (escape sequences, newlines) replaced by
/// spaces, on one line. Redact first: cleaning would not find a split key.
fn clean(text: &str) -> String {
    let visible: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most [`ERROR_BODY_SHOWN`] characters, for an error message.
fn shorten(line: &str) -> String {
    match line.char_indices().nth(ERROR_BODY_SHOWN) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.is_empty() => "(empty body)".to_owned(),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new("panel-key-123").unwrap()
    }

    #[test]
    fn error_bodies_are_cleaned_and_redacted() {
        let body = "denied\u{1b}[31m for Bearer panel-key-123\r\n\tretry";
        assert_eq!(
            clean(&key().redactor().redact(body)),
            "denied [31m for Bearer [redacted] retry"
        );
        assert_eq!(shorten(""), "(empty body)");
        assert_eq!(shorten(&"x".repeat(600)).chars().count(), 501);
    }

    #[test]
    fn header_values_are_checked_without_showing_them() {
        assert!(ApiKey::new("  k-1 \n").is_ok());
        assert_eq!(
            ApiKey::new(" \t").unwrap_err(),
            HeaderValueError::Empty { what: "API key" }
        );
        let err = ApiKey::new("abc\ndef").unwrap_err();
        assert_eq!(
            err,
            HeaderValueError::ControlCharacter {
                what: "API key",
                position: 4
            }
        );
        assert!(!err.to_string().contains("abc"));
        assert!(check_header_value("ADGMOT35", "asset id").is_ok());
        assert!(check_header_value("", "asset id").is_err());
        assert!(check_header_value("A\u{0}B", "asset id").is_err());
    }

    #[test]
    fn a_bad_asset_id_is_refused_before_connecting() {
        // Port 9 on loopback: nothing is sent, so nothing needs to listen.
        let endpoint = Endpoint::parse("http://127.0.0.1:9/v1/activity/upload").unwrap();
        let upload = Upload {
            endpoint: &endpoint,
            method: Method::CbcBase64,
            asset_id: "A1\r\nX-Injected: 1",
            body: "{}",
        };
        let client = Client::new(ClientConfig::new()).unwrap();
        let err = client.send(&upload, &key()).unwrap_err();
        assert!(
            matches!(
                err,
                UploadError::Header(HeaderValueError::ControlCharacter { position: 3, .. })
            ),
            "{err}"
        );
    }
}
