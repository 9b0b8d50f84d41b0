//! Which proxy, if any, carries a request: an explicit URL, or the
//! environment read the way curl 8.21 reads it.
//!
//! Where ureq's own `Proxy::try_from_env` differs from curl (it prefers
//! `ALL_PROXY` and uses `HTTP_PROXY` for https URLs too; its `NO_PROXY` entry
//! `example.com` does not cover `api.example.com`), curl's rules are kept.
//! One rule is ours alone: a plain-http endpoint (loopback only, see
//! [`Endpoint`]) is always reached directly, because the API key would cross
//! the proxy unencrypted.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ureq::http::Uri;

use super::endpoint::Endpoint;

/// A proxy URL: `http://`, `https://`, `socks4://`, `socks4a://`, `socks5://`
/// or `socks5h://` (a URL without a scheme is `http://`, as in curl).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    url: String,
    /// The URL with any password (or a lone user name) replaced, for messages.
    shown: String,
    /// `scheme://host[:port]`, without user name, password or path.
    bare: String,
    credentials: bool,
}

/// A proxy that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The URL is not one a proxy can have.
    #[error("the proxy {shown} is not a usable proxy URL: {problem}")]
    Unusable {
        /// The URL, any password replaced.
        shown: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A proxy was named for a plain-http endpoint, which is always reached directly.
    #[error(
        "the endpoint {endpoint} is plain http://, which is always reached directly and never \
         through a proxy (the proxy would see the API key unencrypted)"
    )]
    PlainHttpEndpoint {
        /// The endpoint.
        endpoint: String,
    },
}

impl ProxyUrl {
    /// Parses and checks a proxy URL.
    pub fn parse(text: &str) -> Result<ProxyUrl, ProxyError> {
        let text = text.trim();
        let url = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let shown = redact_credentials(&url);
        let error = |problem| ProxyError::Unusable {
            shown: shown.clone(),
            problem,
        };
        let uri: Uri = url.parse().map_err(|_| error("not a URL"))?;
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        if !matches!(
            scheme.as_str(),
            "http" | "https" | "socks4" | "socks4a" | "socks5" | "socks5h" | "socks"
        ) {
            return Err(error(
                "use http://, https://, socks4://, socks4a://, socks5:// or socks5h://",
            ));
        }
        let Some(authority) = uri.authority().filter(|a| !a.host().is_empty()) else {
            return Err(error("it names no host"));
        };
        ureq::Proxy::new(&url).map_err(|_| error("the HTTP client refused it"))?;
        let host_port = authority
            .as_str()
            .rsplit_once('@')
            .map_or(authority.as_str(), |(_, host)| host);
        let scheme_text = url.split_once("://").map_or("http", |(s, _)| s);
        Ok(ProxyUrl {
            bare: format!("{scheme_text}://{host_port}"),
            credentials: authority.as_str().contains('@'),
            url,
            shown,
        })
    }

    /// The URL itself (it may hold a password).
    #[cfg(test)]
    fn as_str(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`: the URL without user name, password or path.
    pub(crate) fn without_credentials(&self) -> &str {
        &self.bare
    }

    /// Whether the URL holds a user name (and perhaps a password).
    pub(crate) fn has_credentials(&self) -> bool {
        self.credentials
    }

    /// Whether it is a SOCKS proxy.
    pub(crate) fn is_socks(&self) -> bool {
        self.bare
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("socks"))
    }

    pub(crate) fn to_ureq(&self) -> Option<ureq::Proxy> {
        ureq::Proxy::new(&self.url).ok()
    }
}

impl fmt::Display for ProxyUrl {
    /// The URL with any password replaced by `[redacted]` (a user name
    /// without a password, which may be a token, too).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({})", self.shown)
    }
}

/// `scheme://user:[redacted]@host` for a URL with a password, and
/// `scheme://[redacted]@host` for one with a user name alone.
fn redact_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}{path}"),
            None => format!("{scheme}://[redacted]@{host}{path}"),
        },
        None => url.to_owned(),
    }
}

/// How the caller chose the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum ProxySetting {
    /// From the environment, as curl reads it ([`from_environment`]).
    #[default]
    Environment,
    /// None: connect directly.
    Off,
    /// This proxy, unless `NO_PROXY`/`no_proxy` covers the host (as curl's `--proxy`).
    Url(ProxyUrl),
}

/// The proxy for `endpoint` under `setting`, given the environment `var`.
///
/// A plain-http endpoint gets none: with [`ProxySetting::Url`] that is an
/// error ([`ProxyError::PlainHttpEndpoint`]), otherwise it is reached directly.
pub(crate) fn for_endpoint(
    endpoint: &Endpoint,
    setting: &ProxySetting,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, ProxyError> {
    match setting {
        ProxySetting::Off => Ok(None),
        ProxySetting::Environment => from_environment(endpoint, var),
        ProxySetting::Url(_) if !endpoint.is_https() => Err(ProxyError::PlainHttpEndpoint {
            endpoint: endpoint.to_string(),
        }),
        ProxySetting::Url(proxy) => Ok((!no_proxy_covers(endpoint, &var)).then(|| proxy.clone())),
    }
}

/// The proxy curl would use for `endpoint`, given the environment `var`;
/// none for a plain-http endpoint.
///
/// https URLs: `https_proxy`, `HTTPS_PROXY`, then `all_proxy`, `ALL_PROXY`
/// (an empty variable counts as unset, as in curl). `no_proxy`, or else
/// `NO_PROXY`, lists hosts reached directly (see [`bypasses`]).
pub(crate) fn from_environment(
    endpoint: &Endpoint,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, ProxyError> {
    if !endpoint.is_https() {
        return Ok(None);
    }
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    let names = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
    let Some(url) = names.iter().find_map(|name| set(name)) else {
        return Ok(None);
    };
    if no_proxy_covers(endpoint, &var) {
        return Ok(None);
    }
    ProxyUrl::parse(&url).map(Some)
}

/// Whether `no_proxy` (or, when that is unset or empty, `NO_PROXY`) covers the endpoint's host.
fn no_proxy_covers(endpoint: &Endpoint, var: &impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    set("no_proxy")
        .or_else(|| set("NO_PROXY"))
        .is_some_and(|list| bypasses(&list, endpoint.host()))
}

/// Whether the `NO_PROXY` list `list` covers `host` (a name, an IPv4 address,
/// or an IPv6 address without brackets), exactly as curl 8.21.0 decides
/// (`proxy_check_noproxy` in its `lib/proxy.c`, formerly `lib/noproxy.c`):
///
/// - the whole list `*` covers every host (`*` as one entry among others does not);
/// - entries are separated by commas, with blanks (spaces, tabs) around them;
///   anything else after an entry ends the list (curl 8.9 and later: a
///   space-separated list is read up to its first entry);
/// - a name entry matches the host and its subdomains, case-insensitively,
///   one leading and one trailing dot ignored (on the host too); it is not
///   a pattern: `*.example.com` and `example.com:443` match nothing;
/// - for an IP address host, an entry is an address or `ADDRESS/BITS`
///   (`/0` means the address alone); names never match an address.
pub(crate) fn bypasses(list: &str, host: &str) -> bool {
    if host.is_empty() {
        return false;
    }
    if list == "*" {
        return true;
    }
    let address = host
        .parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .or_else(|_| host.parse::<Ipv6Addr>().map(IpAddr::V6))
        .ok();
    let name = match address {
        Some(_) => host,
        None => host.strip_suffix('.').unwrap_or(host),
    };
    let blank = |c: char| c == ' ' || c == '\t';
    let mut rest = list;
    while !rest.is_empty() {
        rest = rest.trim_start_matches(blank);
        let end = rest
            .find(|c: char| blank(c) || c == ',')
            .unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        let matched = match address {
            _ if token.is_empty() => false,
            Some(ip) => matches_address(token, ip),
            None => matches_name(token, name),
        };
        if matched {
            return true;
        }
        rest = after.trim_start_matches(blank);
        if !rest.starts_with(',') {
            break;
        }
        rest = rest.trim_start_matches(',');
    }
    false
}

/// curl's `match_host`: `token` is `name` or a parent domain of it.
fn matches_name(token: &str, name: &str) -> bool {
    let token = token.strip_suffix('.').unwrap_or(token);
    let token = token.strip_prefix('.').unwrap_or(token);
    let (token, name) = (token.as_bytes(), name.as_bytes());
    if token.len() == name.len() {
        token.eq_ignore_ascii_case(name)
    } else if token.len() < name.len() {
        let tail = name.len() - token.len();
        name[tail - 1] == b'.' && token.eq_ignore_ascii_case(&name[tail..])
    } else {
        false
    }
}

/// curl's `match_ip`: `token` is `ADDRESS` or `ADDRESS/BITS` covering `ip`.
fn matches_address(token: &str, ip: IpAddr) -> bool {
    if token.len() >= 128 {
        return false;
    }
    let (network, bits) = match token.split_once('/') {
        Some((network, bits)) => {
            if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            match bits.parse::<u32>() {
                Ok(bits) if bits <= 128 => (network, bits),
                _ => return false,
            }
        }
        None => (token, 0),
    };
    match ip {
        IpAddr::V4(ip) => {
            let Ok(network) = network.parse::<Ipv4Addr>() else {
                return false;
            };
            match bits {
                33.. => false,
                0 | 32 => ip == network,
                bits => {
                    let mask = u32::MAX << (32 - bits);
                    (u32::from(ip) ^ u32::from(network)) & mask == 0
                }
            }
        }
        IpAddr::V6(ip) => {
            let Ok(network) = network.parse::<Ipv6Addr>() else {
                return false;
            };
            let bits = if bits == 0 { 128 } else { bits };
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            (u128::from(ip) ^ u128::from(network)) & mask == 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn chosen(url: &str, pairs: &[(&str, &str)]) -> Option<String> {
        let endpoint = Endpoint::parse(url).unwrap();
        from_environment(&endpoint, env(pairs))
            .unwrap()
            .map(|p| p.as_str().to_owned())
    }

    const API: &str = "https://api2.netcoresmartech.com/v1/activity/upload";
    const LOCAL: &str = "http://127.0.0.1:9/x";

    #[test]
    fn curls_variables_in_curls_order() {
        assert_eq!(chosen(API, &[]), None);
        assert_eq!(
            chosen(API, &[("HTTPS_PROXY", "http://p:3128")]).as_deref(),
            Some("http://p:3128")
        );
        assert_eq!(
            chosen(
                API,
                &[("https_proxy", "http://a:1"), ("HTTPS_PROXY", "http://b:1")]
            )
            .as_deref(),
            Some("http://a:1")
        );
        // An empty variable counts as unset, as curl_getenv has it.
        assert_eq!(
            chosen(API, &[("https_proxy", ""), ("HTTPS_PROXY", "http://b:1")]).as_deref(),
            Some("http://b:1")
        );
        assert_eq!(
            chosen(
                API,
                &[
                    ("ALL_PROXY", "socks5://s:1080"),
                    ("HTTPS_PROXY", "http://b:1")
                ]
            )
            .as_deref(),
            Some("http://b:1")
        );
        // http_proxy and HTTP_PROXY are for http:// URLs only.
        assert_eq!(chosen(API, &[("http_proxy", "http://h:1")]), None);
        assert_eq!(chosen(API, &[("HTTP_PROXY", "http://h:1")]), None);
        assert_eq!(
            chosen(API, &[("all_proxy", "socks5h://s:1080")]).as_deref(),
            Some("socks5h://s:1080")
        );
    }

    #[test]
    fn a_plain_http_endpoint_never_goes_through_a_proxy() {
        for var in [
            "http_proxy",
            "HTTP_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "https_proxy",
        ] {
            assert_eq!(chosen(LOCAL, &[(var, "http://p:1")]), None, "{var}");
        }
        let local = Endpoint::parse(LOCAL).unwrap();
        let proxy = ProxyUrl::parse("http://p:1").unwrap();
        let err = for_endpoint(&local, &ProxySetting::Url(proxy.clone()), env(&[])).unwrap_err();
        assert_eq!(
            err,
            ProxyError::PlainHttpEndpoint {
                endpoint: LOCAL.to_owned()
            }
        );
        let environment = env(&[("ALL_PROXY", "http://p:1")]);
        assert_eq!(
            for_endpoint(&local, &ProxySetting::Environment, &environment).unwrap(),
            None
        );
        // An https endpoint takes the flag's proxy, unless NO_PROXY covers it (as curl).
        let api = Endpoint::parse(API).unwrap();
        let flag = ProxySetting::Url(proxy.clone());
        assert_eq!(for_endpoint(&api, &flag, env(&[])).unwrap(), Some(proxy));
        let covered = env(&[("NO_PROXY", "netcoresmartech.com")]);
        assert_eq!(for_endpoint(&api, &flag, covered).unwrap(), None);
        assert_eq!(
            for_endpoint(&api, &ProxySetting::Off, environment).unwrap(),
            None
        );
    }

    #[test]
    fn no_proxy_as_curl_8_reads_it() {
        let host = "api2.netcoresmartech.com";
        for (list, covered) in [
            ("*", true),
            ("netcoresmartech.com", true),
            (".netcoresmartech.com", true),
            ("netcoresmartech.com.", true),
            ("API2.NetcoreSmartech.COM", true),
            ("example.org, api2.netcoresmartech.com", true),
            ("example.org,,\t api2.netcoresmartech.com ,", true),
            ("smartech.com", false),
            ("example.org", false),
            ("", false),
            // Not patterns: a star, a port, a list of more than "*".
            ("*.netcoresmartech.com", false),
            ("api2.netcoresmartech.com:443", false),
            ("*, example.org", false),
            // A space-separated list is read up to its first entry (curl 8.9 on).
            ("netcoresmartech.com example.org", true),
            ("example.org netcoresmartech.com", false),
        ] {
            assert_eq!(bypasses(list, host), covered, "{list:?}");
        }
        // A trailing dot on the host is ignored.
        assert!(bypasses("localhost", "localhost."));
        assert!(bypasses("localhost", "api.localhost"));
        assert!(!bypasses("*.localhost", "api.localhost"));
        for (list, covered) in [
            ("127.0.0.0/8", true),
            ("127.0.0.1", true),
            ("127.0.0.1/32", true),
            ("127.0.0.2/0", false),
            ("127.0.0.1/0", true),
            ("10.0.0.0/8", false),
            ("127.0.0.0/33", false),
            ("127.0.0.0/8x", false),
            ("localhost", false),
            ("127.0.0.1:9", false),
        ] {
            assert_eq!(bypasses(list, "127.0.0.1"), covered, "{list:?}");
        }
        assert!(bypasses("::1", "::1"));
        // "/0" means the address alone, as in curl.
        assert!(!bypasses("::/0", "::1"));
        assert!(bypasses("fe80::/10", "fe80::1"));
        assert!(!bypasses("[::1]", "::1"));
        // no_proxy first, NO_PROXY only when it is unset or empty.
        let proxied = |pairs: &[(&str, &str)]| {
            let mut all = vec![("HTTPS_PROXY", "http://p:1")];
            all.extend_from_slice(pairs);
            chosen(API, &all).is_some()
        };
        assert!(!proxied(&[("NO_PROXY", "netcoresmartech.com")]));
        assert!(proxied(&[("no_proxy", "example.org"), ("NO_PROXY", "*")]));
        assert!(!proxied(&[("no_proxy", ""), ("NO_PROXY", "*")]));
    }

    #[test]
    fn credentials_never_shown() {
        let proxy = ProxyUrl::parse("http://me:hunter2@proxy.corp:3128").unwrap();
        assert_eq!(proxy.to_string(), "http://me:[redacted]@proxy.corp:3128");
        assert!(!format!("{proxy:?}").contains("hunter2"));
        assert_eq!(proxy.without_credentials(), "http://proxy.corp:3128");
        assert!(proxy.has_credentials());
        // A user name alone may be a token.
        let token = ProxyUrl::parse("https://tok3n@proxy.corp/").unwrap();
        assert_eq!(token.to_string(), "https://[redacted]@proxy.corp/");
        assert_eq!(token.without_credentials(), "https://proxy.corp");
        let err = ProxyUrl::parse("gopher://me:hunter2@proxy.corp:70").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let socks = ProxyUrl::parse("socks5://127.0.0.1:1080").unwrap();
        assert!(socks.is_socks() && !socks.has_credentials());
        assert_eq!(socks.without_credentials(), "socks5://127.0.0.1:1080");
        let bare = ProxyUrl::parse("proxy.corp:3128").unwrap();
        assert_eq!(bare.without_credentials(), "http://proxy.corp:3128");
        assert!(!bare.is_socks());
    }
}
