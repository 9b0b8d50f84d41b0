//! Why an upload failed, as a sentence, and whether the request may have
//! reached the API ([`UploadError::may_have_arrived`]).
//!
//! ureq's errors are turned into these here, and nowhere else: certificate
//! problems into words (never rustls's `Debug` names), a proxy's refusal of
//! `CONNECT` into [`UploadError::ProxyRefused`], and every text that may
//! hold a server's words redacted ([`Redactor`]) and kept on one line.

use std::io;
use std::time::Duration;

use super::HeaderValueError;
use super::endpoint::Endpoint;
use super::proxy::ProxyUrl;
use super::redact::Redactor;

/// Why an upload failed. No message holds the API key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The API answered with a status other than 2xx or 3xx.
    #[error("the API answered {status} {reason}: {body}")]
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
        /// The response body, cleaned and shortened, the API key redacted.
        body: String,
        /// How long the API asked to wait before trying again (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The API answered with a redirect, which is never followed for an upload.
    #[error(
        "the API answered {status} {reason}, a redirect to {location}; uploads never follow \
         redirects (the events were not delivered)"
    )]
    Redirected {
        /// The HTTP status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
        /// The `Location` header, cleaned and redacted (or `(none)`).
        location: String,
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
    /// The server's certificate was not trusted.
    #[error("the certificate of {host} is not trusted: {detail}")]
    Certificate {
        /// The host whose certificate failed.
        host: String,
        /// Why, in words.
        detail: String,
    },
    /// The asset id cannot be sent in a header.
    #[error("{0}")]
    Header(HeaderValueError),
    /// The connection could not be made (`sent` false), or broke once the
    /// request may have been written (`sent` true).
    #[error(
        "{} {endpoint}{}: {detail}",
        if *.sent { "the connection broke before the answer came from" } else { "could not reach" },
        via(.proxy.as_ref())
    )]
    Connection {
        /// The endpoint.
        endpoint: String,
        /// The proxy in use, password redacted.
        proxy: Option<String>,
        /// What went wrong.
        detail: String,
        /// Whether the request may have been written, in part or whole.
        sent: bool,
    },
    /// The proxy refused to open the way to the endpoint (`CONNECT` answered
    /// 403, 407, 5xx…, or a SOCKS refusal): a setting to fix, not to retry.
    #[error("the proxy {proxy} refused to connect to {endpoint}: {reason}")]
    ProxyRefused {
        /// The proxy, password redacted.
        proxy: String,
        /// The endpoint.
        endpoint: String,
        /// The HTTP status the proxy answered (none from a SOCKS proxy).
        status: Option<u16>,
        /// What it answered, in words.
        reason: String,
    },
}

impl UploadError {
    /// Whether the request may have reached the API: false only when it
    /// certainly did not (no connection, DNS, a TLS handshake or certificate
    /// failure, a proxy's refusal, a header refused before sending); true
    /// after any answer, a timeout, or a connection that broke once the
    /// request may have been written.
    pub fn may_have_arrived(&self) -> bool {
        match self {
            UploadError::Rejected { .. }
            | UploadError::Redirected { .. }
            | UploadError::Timeout { .. } => true,
            UploadError::Connection { sent, .. } => *sent,
            UploadError::HostNotFound { .. }
            | UploadError::Certificate { .. }
            | UploadError::Header(_)
            | UploadError::ProxyRefused { .. } => false,
        }
    }
}

fn via(proxy: Option<&String>) -> String {
    proxy.map_or_else(String::new, |proxy| format!(" through the proxy {proxy}"))
}

/// What [`classify`] needs to know of the request that failed.
pub(crate) struct Failed<'a> {
    pub endpoint: &'a Endpoint,
    pub proxy: Option<&'a ProxyUrl>,
    pub timeout: Duration,
    pub redactor: &'a Redactor,
}

/// ureq's `error` as an [`UploadError`].
pub(crate) fn classify(error: ureq::Error, failed: &Failed<'_>) -> UploadError {
    let endpoint = failed.endpoint.to_string();
    let connection = |detail: String, sent: bool| UploadError::Connection {
        endpoint: endpoint.clone(),
        proxy: failed.proxy.map(ToString::to_string),
        detail: super::clean(&failed.redactor.redact(&detail)),
        sent,
    };
    let rustls_error = match &error {
        ureq::Error::Rustls(inner) => Some(inner),
        ureq::Error::Io(io) => io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    if let Some(tls) = rustls_error {
        return match tls {
            rustls::Error::InvalidCertificate(cert) => UploadError::Certificate {
                host: failed.endpoint.host().to_owned(),
                detail: certificate_words(cert),
            },
            other => connection(
                format!("the TLS handshake failed: {}", tls_words(other)),
                !before_request(other),
            ),
        };
    }
    match error {
        ureq::Error::Timeout(_) => timeout(failed),
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::TimedOut => timeout(failed),
        ureq::Error::HostNotFound if failed.proxy.is_none() => {
            UploadError::HostNotFound { endpoint }
        }
        ureq::Error::HostNotFound => connection("a host name did not resolve".to_owned(), false),
        ureq::Error::ConnectProxyFailed(text) => match proxy_status(&text) {
            Some(status) => refused(failed, Some(status), http_refusal(status)),
            None => connection(
                "the proxy closed the connection without answering".into(),
                false,
            ),
        },
        ureq::Error::Io(io) => {
            let proxy_words = failed
                .proxy
                .filter(|proxy| proxy.is_socks())
                .and_then(|_| io.get_ref())
                .map(ToString::to_string)
                .filter(|text| SOCKS_REFUSALS.contains(&text.as_str()));
            if let Some(reason) = proxy_words {
                return refused(failed, None, reason);
            }
            let (detail, sent) = io_words(&io);
            connection(detail, sent)
        }
        ureq::Error::ConnectionFailed => connection("no connection could be made".into(), false),
        ureq::Error::Tls(text) => connection(format!("TLS failed: {text}"), false),
        ureq::Error::Protocol(e) => {
            connection(format!("the answer was not valid HTTP ({e})"), true)
        }
        ureq::Error::LargeResponseHeader(..) => {
            connection("the head of the answer was too large".into(), true)
        }
        other => connection(other.to_string(), true),
    }
}

fn timeout(failed: &Failed<'_>) -> UploadError {
    UploadError::Timeout {
        endpoint: failed.endpoint.to_string(),
        seconds: failed.timeout.as_secs_f64(),
    }
}

fn refused(failed: &Failed<'_>, status: Option<u16>, reason: String) -> UploadError {
    UploadError::ProxyRefused {
        proxy: failed.proxy.map_or_else(String::new, ToString::to_string),
        endpoint: failed.endpoint.to_string(),
        status,
        reason,
    }
}

/// The status in ureq 3.5's `proxy server responded 403/403`.
fn proxy_status(text: &str) -> Option<u16> {
    let rest = text.strip_prefix("proxy server responded ")?;
    rest.split('/').next()?.parse().ok()
}

fn http_refusal(status: u16) -> String {
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("");
    let answered = format!("it answered {status} {reason}")
        .trim_end()
        .to_owned();
    match status {
        407 => format!("{answered}: it wants a user name and password"),
        _ => answered,
    }
}

/// ureq 3.5's messages for a SOCKS proxy's refusals (its `socks.rs`).
const SOCKS_REFUSALS: [&str; 8] = [
    "general SOCKS server failure",
    "connection not allowed by ruleset",
    "request rejected or failed",
    "request rejected because SOCKS server cannot connect to identd on the client",
    "request rejected because the client program and identd report different user-ids",
    "no acceptable auth methods",
    "password authentication failed",
    "command not supported",
];

/// An I/O error in words, and whether the request may have been written:
/// errors of the connect itself (refused, unreachable) say it was not.
fn io_words(io: &io::Error) -> (String, bool) {
    use io::ErrorKind::*;
    let (words, sent) = match io.kind() {
        ConnectionRefused => ("the connection was refused", false),
        HostUnreachable => ("the host is unreachable", false),
        NetworkUnreachable | NetworkDown => ("the network is unreachable", false),
        AddrNotAvailable => ("the address is not available", false),
        ConnectionReset => ("the connection was reset", true),
        ConnectionAborted => ("the connection was aborted", true),
        BrokenPipe => ("the connection was closed while sending", true),
        UnexpectedEof => ("the connection closed before a whole answer came", true),
        _ => return (io.to_string(), true),
    };
    (words.to_owned(), sent)
}

/// Whether a TLS error can only come before the request was written.
fn before_request(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::AlertReceived(_)
            | rustls::Error::NoCertificatesPresented
            | rustls::Error::UnsupportedNameType
            | rustls::Error::PeerIncompatible(_)
            | rustls::Error::PeerMisbehaved(_)
            | rustls::Error::InappropriateHandshakeMessage { .. }
            | rustls::Error::InvalidCertificate(_)
            | rustls::Error::InvalidEncryptedClientHello(_)
            | rustls::Error::HandshakeNotComplete
            | rustls::Error::NoApplicationProtocol
    )
}

fn tls_words(error: &rustls::Error) -> String {
    match error {
        rustls::Error::AlertReceived(alert) => {
            format!(
                "the server sent the alert {}",
                name_words(&format!("{alert:?}"))
            )
        }
        rustls::Error::PeerIncompatible(why) => format!(
            "the server and this client have no TLS version or cipher in common ({})",
            name_words(&format!("{why:?}"))
        ),
        rustls::Error::PeerMisbehaved(why) => format!(
            "the server broke the TLS protocol ({})",
            name_words(&format!("{why:?}"))
        ),
        rustls::Error::NoCertificatesPresented => "the server sent no certificate".to_owned(),
        rustls::Error::DecryptError => "a TLS record could not be decrypted".to_owned(),
        other => other.to_string(),
    }
}

/// Why a certificate was refused, as words that finish "is not trusted: ".
pub(crate) fn certificate_words(error: &rustls::CertificateError) -> String {
    use rustls::CertificateError::*;
    let date = |time: &rustls::pki_types::UnixTime| {
        jiff::Timestamp::from_second(time.as_secs() as i64)
            .map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    match error {
        UnknownIssuer => {
            "it is not signed by a certificate authority this machine trusts".to_owned()
        }
        Expired => "it has expired".to_owned(),
        ExpiredContext { not_after, .. } => format!("it expired on {}", date(not_after)),
        NotValidYet => "it is not valid yet (is the clock of this machine right?)".to_owned(),
        NotValidYetContext { not_before, .. } => format!(
            "it is not valid before {} (is the clock of this machine right?)",
            date(not_before)
        ),
        NotValidForName => "it is not for this host name".to_owned(),
        NotValidForNameContext { presented, .. } if presented.is_empty() => {
            "it names no host".to_owned()
        }
        NotValidForNameContext { presented, .. } => {
            let names: Vec<&str> = presented.iter().map(|name| presented_name(name)).collect();
            format!("it is for {}, not for this host name", names.join(", "))
        }
        Revoked => "it has been revoked".to_owned(),
        BadSignature => "its signature does not verify".to_owned(),
        BadEncoding => "it could not be read".to_owned(),
        InvalidPurpose | InvalidPurposeContext { .. } => "it is not for TLS servers".to_owned(),
        UnhandledCriticalExtension => {
            "it has a critical extension that cannot be checked".to_owned()
        }
        #[allow(deprecated)]
        UnsupportedSignatureAlgorithm
        | UnsupportedSignatureAlgorithmContext { .. }
        | UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "it is signed with an algorithm that is not supported".to_owned()
        }
        UnknownRevocationStatus | ExpiredRevocationList | ExpiredRevocationListContext { .. } => {
            "its revocation status is unknown".to_owned()
        }
        Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(webpki) => webpki_words(webpki),
            None => format!("it failed a check ({other})"),
        },
        other => format!("it failed a check ({})", name_words(&format!("{other:?}"))),
    }
}

/// `wrong-host.invalid` from webpki's `DnsName("wrong-host.invalid")`, and
/// `127.0.0.1` from `IpAddress(127.0.0.1)`.
fn presented_name(debug: &str) -> &str {
    debug
        .strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .or_else(|| {
            debug
                .strip_prefix("IpAddress(")
                .and_then(|rest| rest.strip_suffix(')'))
        })
        .unwrap_or(debug)
}

fn webpki_words(error: &webpki::Error) -> String {
    use webpki::Error::*;
    match error {
        CaUsedAsEndEntity => "it is a certificate authority's certificate, which a server \
                              cannot present as its own"
            .to_owned(),
        EndEntityUsedAsCa => {
            "a certificate in its chain that signs it is not a certificate authority".to_owned()
        }
        PathLenConstraintViolated => "its chain is longer than a certificate authority in it \
                                      allows"
            .to_owned(),
        NameConstraintViolation => {
            "a certificate authority in its chain may not issue for this name".to_owned()
        }
        UnsupportedCertVersion => "its X.509 version is not supported".to_owned(),
        other => format!("it failed a check ({})", name_words(&format!("{other:?}"))),
    }
}

/// `HandshakeFailure` as `handshake failure`; anything past the first
/// non-alphanumeric character (a `Debug` payload) is dropped.
fn name_words(name: &str) -> String {
    let name = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_for<'a>(endpoint: &'a Endpoint, redactor: &'a Redactor) -> Failed<'a> {
        Failed {
            endpoint,
            proxy: None,
            timeout: Duration::from_millis(2500),
            redactor,
        }
    }

    #[test]
    fn transport_failures_name_the_endpoint_and_what_may_have_arrived() {
        // DNS is not exercised for real (the tests stay off the network); the
        // mapping from the client's errors is checked instead.
        let endpoint = Endpoint::parse("https://api.example.invalid/v1/activity/upload").unwrap();
        let redactor = Redactor::new("k-123456789");
        let failed = failed_for(&endpoint, &redactor);
        let dns = classify(ureq::Error::HostNotFound, &failed);
        assert_eq!(
            dns.to_string(),
            "could not resolve the host of https://api.example.invalid/v1/activity/upload: \
             check the URL and your DNS"
        );
        assert!(!dns.may_have_arrived());
        let timeout = classify(ureq::Error::Timeout(ureq::Timeout::Global), &failed);
        assert!(timeout.to_string().ends_with("within 2.5 s"), "{timeout}");
        assert!(timeout.may_have_arrived());
        let io = |kind| classify(ureq::Error::Io(io::Error::from(kind)), &failed);
        let refused = io(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            refused.to_string(),
            "could not reach https://api.example.invalid/v1/activity/upload: the connection \
             was refused"
        );
        assert!(!refused.may_have_arrived());
        for kind in [
            io::ErrorKind::HostUnreachable,
            io::ErrorKind::NetworkUnreachable,
        ] {
            assert!(!io(kind).may_have_arrived(), "{kind:?}");
        }
        let reset = io(io::ErrorKind::ConnectionReset);
        assert_eq!(
            reset.to_string(),
            "the connection broke before the answer came from \
             https://api.example.invalid/v1/activity/upload: the connection was reset"
        );
        assert!(reset.may_have_arrived());
        let refusal = classify(ureq::Error::ConnectionFailed, &failed);
        assert!(!refusal.may_have_arrived());
        // Words a server chose are redacted.
        let odd = io::Error::other("junk k-123456789\u{1b}[2J");
        let odd = classify(ureq::Error::Io(odd), &failed).to_string();
        assert!(odd.ends_with(": junk [redacted] [2J"), "{odd}");
    }

    #[test]
    fn a_proxy_refusal_is_its_own_failure() {
        let endpoint = Endpoint::parse("https://api.example.invalid/x").unwrap();
        let redactor = Redactor::new("k");
        let proxy = ProxyUrl::parse("http://me:hunter2@127.0.0.1:3128").unwrap();
        let failed = Failed {
            proxy: Some(&proxy),
            ..failed_for(&endpoint, &redactor)
        };
        let refused = |status: u16| {
            let text = format!("proxy server responded {status}/{status}");
            classify(ureq::Error::ConnectProxyFailed(text), &failed)
        };
        let forbidden = refused(403);
        assert_eq!(
            forbidden.to_string(),
            "the proxy http://me:[redacted]@127.0.0.1:3128 refused to connect to \
             https://api.example.invalid/x: it answered 403 Forbidden"
        );
        assert!(!forbidden.may_have_arrived());
        assert!(matches!(
            refused(502),
            UploadError::ProxyRefused {
                status: Some(502),
                ..
            }
        ));
        assert!(refused(407).to_string().ends_with(
            "it answered 407 Proxy Authentication Required: it wants a user name and password"
        ));
        let silent = classify(
            ureq::Error::ConnectProxyFailed("proxy server did not respond".into()),
            &failed,
        );
        assert!(
            matches!(silent, UploadError::Connection { sent: false, .. }),
            "{silent}"
        );
        let socks = ProxyUrl::parse("socks5://127.0.0.1:1080").unwrap();
        let failed = Failed {
            proxy: Some(&socks),
            ..failed_for(&endpoint, &redactor)
        };
        let ruleset = io::Error::other("connection not allowed by ruleset");
        assert!(matches!(
            classify(ureq::Error::Io(ruleset), &failed),
            UploadError::ProxyRefused { status: None, .. }
        ));
    }

    #[test]
    fn certificate_problems_read_as_words() {
        use rustls::CertificateError as C;
        let ca_as_leaf = C::Other(rustls::OtherError(std::sync::Arc::new(
            webpki::Error::CaUsedAsEndEntity,
        )));
        for (error, words) in [
            (
                C::UnknownIssuer,
                "it is not signed by a certificate authority this machine trusts",
            ),
            (
                ca_as_leaf,
                "it is a certificate authority's certificate, which a server cannot present \
                 as its own",
            ),
            (C::Expired, "it has expired"),
            (C::BadSignature, "its signature does not verify"),
        ] {
            assert_eq!(certificate_words(&error), words);
        }
        let other = certificate_words(&C::Other(rustls::OtherError(std::sync::Arc::new(
            webpki::Error::MaximumPathDepthExceeded,
        ))));
        assert_eq!(other, "it failed a check (maximum path depth exceeded)");
        assert_eq!(name_words("HandshakeFailure"), "handshake failure");
        assert_eq!(presented_name("DnsName(\"a.test\")"), "a.test");
        assert_eq!(presented_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(name_words("Other(OtherError(X))"), "other");
    }
}
