//! The activity upload API: a [`Client`] that POSTs request bodies, and the
//! equivalent curl command.
//!
//! Blocking HTTPS with rustls (no OpenSSL linkage, so the binary stays
//! self-contained); one client keeps its connections open across requests.
//! The API key travels only in the `Authorization` header: it is never part of
//! an error, a log line or the dry-run output.

use std::time::Duration;

use crate::method::Method;
use crate::secret::SecretString;

/// Netcore's activity upload endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://api2.netcoresmartech.com/v1/activity/upload";

/// Everything one upload needs.
#[derive(Debug)]
pub struct Upload<'a> {
    /// Where to POST.
    pub endpoint: &'a str,
    /// The method, whose code goes in `x-eCode`.
    pub method: Method,
    /// The panel's asset id, for `x-asset`.
    pub asset_id: &'a str,
    /// The request body from [`request::body`](crate::request::body).
    pub body: &'a str,
}

/// A 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The response body.
    pub body: String,
}

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The API answered with a status other than 2xx.
    #[error("the API answered {status} {reason}: {body}")]
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
        /// The response body (shortened).
        body: String,
    },
    /// No complete answer within the timeout.
    #[error("no answer from {endpoint} within {seconds} s")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The timeout, in seconds.
        seconds: f64,
    },
    /// The host name did not resolve.
    #[error("could not resolve the host of {endpoint}: check the URL and your DNS")]
    HostNotFound {
        /// The endpoint.
        endpoint: String,
    },
    /// The connection could not be made or broke.
    #[error("could not reach {endpoint}: {detail}")]
    Connection {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        detail: String,
    },
    /// The endpoint is not a usable URL.
    #[error("the endpoint {endpoint} is not a valid http(s) URL")]
    BadEndpoint {
        /// The endpoint.
        endpoint: String,
    },
}

/// An HTTP client for the upload API; it reuses connections across requests.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
    timeout: Duration,
}

impl Client {
    /// A client whose requests each take at most `timeout`, connection to last byte.
    pub fn new(timeout: Duration) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("ce-crypt/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { agent, timeout }
    }

    /// POSTs the upload and returns the API's 2xx answer.
    pub fn send(&self, upload: &Upload<'_>, api_key: &SecretString) -> Result<Answer, UploadError> {
        let endpoint = upload.endpoint.to_owned();
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(UploadError::BadEndpoint { endpoint });
        }
        let authorization = SecretString::new(format!("Bearer {}", api_key.expose()));
        let result = self
            .agent
            .post(upload.endpoint)
            .header("Content-Type", "application/json")
            .header("x-eCode", upload.method.code().to_string())
            .header("x-asset", upload.asset_id)
            .header("Authorization", authorization.expose())
            .send(upload.body);
        let mut response = result.map_err(|e| self.classify(e, upload))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| self.classify(e, upload))?;
        if status.is_success() {
            Ok(Answer {
                status: status.as_u16(),
                body,
            })
        } else {
            Err(UploadError::Rejected {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_owned(),
                body: shorten(&body),
            })
        }
    }

    fn classify(&self, error: ureq::Error, upload: &Upload<'_>) -> UploadError {
        let endpoint = upload.endpoint.to_owned();
        let seconds = self.timeout.as_secs_f64();
        match error {
            ureq::Error::Timeout(_) => UploadError::Timeout { endpoint, seconds },
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                UploadError::Timeout { endpoint, seconds }
            }
            ureq::Error::HostNotFound => UploadError::HostNotFound { endpoint },
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => UploadError::BadEndpoint { endpoint },
            ureq::Error::Io(io) => UploadError::Connection {
                endpoint,
                detail: io.to_string(),
            },
            other => UploadError::Connection {
                endpoint,
                detail: other.to_string(),
            },
        }
    }
}

/// One line, at most 500 characters, for an error message.
fn shorten(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(500) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.is_empty() => "(empty body)".to_owned(),
        None => line,
    }
}

/// The equivalent curl command, with the literal `$CE_API_KEY` in place of the key.
pub fn curl_command(upload: &Upload<'_>) -> String {
    format!(
        "curl -sS -X POST {} \\\n  -H 'Content-Type: application/json' \\\n  -H 'x-eCode: {}' \\\n  -H {} \\\n  -H \"Authorization: Bearer $CE_API_KEY\" \\\n  --data-raw {}",
        shell_quote(upload.endpoint),
        upload.method.code(),
        shell_quote(&format!("x-asset: {}", upload.asset_id)),
        shell_quote(upload.body)
    )
}

/// Single-quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_quotes_and_hides_the_key() {
        let upload = Upload {
            endpoint: DEFAULT_ENDPOINT,
            method: Method::CbcHex,
            asset_id: "it's",
            body: r#"{"encryptedRequest":"00ff"}"#,
        };
        let curl = curl_command(&upload);
        assert!(curl.contains("-H 'x-eCode: 11257'"), "{curl}");
        assert!(curl.contains(r"-H 'x-asset: it'\''s'"), "{curl}");
        assert!(
            curl.contains("\"Authorization: Bearer $CE_API_KEY\""),
            "{curl}"
        );
        assert!(
            curl.contains(r#"--data-raw '{"encryptedRequest":"00ff"}'"#),
            "{curl}"
        );
    }

    #[test]
    fn long_bodies_are_shortened_for_messages() {
        assert_eq!(shorten("a\n b"), "a b");
        assert_eq!(shorten(""), "(empty body)");
        assert_eq!(shorten(&"x".repeat(600)).chars().count(), 501);
    }

    #[test]
    fn transport_failures_name_the_endpoint() {
        // DNS is not exercised for real (the tests stay off the network); the
        // mapping from the client's errors is checked instead.
        let upload = Upload {
            endpoint: "https://api.example.invalid/v1/activity/upload",
            method: Method::CbcBase64,
            asset_id: "a",
            body: "{}",
        };
        let client = Client::new(Duration::from_millis(2500));
        let classify = |error| client.classify(error, &upload);
        let dns = classify(ureq::Error::HostNotFound).to_string();
        assert_eq!(
            dns,
            "could not resolve the host of https://api.example.invalid/v1/activity/upload: \
             check the URL and your DNS"
        );
        let timeout = classify(ureq::Error::Timeout(ureq::Timeout::Global)).to_string();
        assert!(timeout.ends_with("within 2.5 s"), "{timeout}");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let io = classify(ureq::Error::Io(refused)).to_string();
        assert!(
            io.starts_with("could not reach https://api.example.invalid/"),
            "{io}"
        );
    }

    #[test]
    fn bad_endpoints_are_refused_before_sending() {
        let upload = Upload {
            endpoint: "ftp://example.invalid",
            method: Method::CbcBase64,
            asset_id: "a",
            body: "{}",
        };
        let error = Client::new(Duration::from_secs(1))
            .send(&upload, &SecretString::from("k"))
            .unwrap_err();
        assert!(matches!(error, UploadError::BadEndpoint { .. }), "{error}");
    }
}
