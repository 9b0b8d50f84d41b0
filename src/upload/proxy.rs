//! Which proxy, if any, carries a request: an explicit URL, or the
//! environment read the way curl reads it.
//!
//! Where ureq's own `Proxy::try_from_env` differs from curl (it prefers
//! `ALL_PROXY` and uses `HTTP_PROXY` for https URLs too; its `NO_PROXY` entry
//! `example.com` does not cover `api.example.com`), curl's rules are kept.

use std::fmt;
use std::net::IpAddr;

use ureq::http::Uri;

use super::endpoint::Endpoint;

/// A proxy URL: `http://`, `https://`, `socks4://`, `socks4a://`, `socks5://`
/// or `socks5h://` (a URL without a scheme is `http://`, as in curl).
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    url: String,
    /// The URL with any password replaced, for messages.
    shown: String,
}

/// A proxy URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the proxy {shown} is not a usable proxy URL: {problem}")]
#[non_exhaustive]
pub struct ProxyError {
    /// The URL, any password replaced.
    pub shown: String,
    /// What is wrong.
    pub problem: &'static str,
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
        let shown = redact_password(&url);
        let error = |problem| ProxyError {
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
        if uri.host().is_none_or(str::is_empty) {
            return Err(error("it names no host"));
        }
        ureq::Proxy::new(&url).map_err(|_| error("the HTTP client refused it"))?;
        Ok(ProxyUrl { url, shown })
    }

    /// The URL itself (it may hold a password).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub(crate) fn to_ureq(&self) -> Option<ureq::Proxy> {
        ureq::Proxy::new(&self.url).ok()
    }
}

impl fmt::Display for ProxyUrl {
    /// The URL with any password replaced by `[redacted]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({})", self.shown)
    }
}

/// `scheme://user:[redacted]@host`, for a URL with a password.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:[redacted]@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// The proxy curl would use for `endpoint`, given the environment `var`.
///
/// https URLs: `https_proxy`, `HTTPS_PROXY`, then `all_proxy`, `ALL_PROXY`;
/// http URLs: `http_proxy` (lower case only, as curl), then `all_proxy`,
/// `ALL_PROXY`. `no_proxy`/`NO_PROXY` lists hosts reached directly: `*`,
/// names (covering their subdomains, a leading dot optional), IP addresses
/// and CIDR ranges.
pub fn from_environment(
    endpoint: &Endpoint,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyUrl>, ProxyError> {
    let non_empty = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let names: &[&str] = if endpoint.is_https() {
        &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
    } else {
        &["http_proxy", "all_proxy", "ALL_PROXY"]
    };
    let Some(url) = names.iter().find_map(|name| non_empty(name)) else {
        return Ok(None);
    };
    let no_proxy = non_empty("no_proxy").or_else(|| non_empty("NO_PROXY"));
    if no_proxy.is_some_and(|list| bypasses(&list, endpoint.host())) {
        return Ok(None);
    }
    ProxyUrl::parse(&url).map(Some)
}

/// Whether the `NO_PROXY` list `list` covers `host`.
fn bypasses(list: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry.trim_start_matches('.').trim_start_matches("*.");
        if let (Some(ip), Some((net, bits))) = (host_ip, entry.split_once('/')) {
            return in_cidr(ip, net, bits);
        }
        let entry = strip_port(entry).to_ascii_lowercase();
        !entry.is_empty()
            && (host == entry
                || host
                    .strip_suffix(&entry)
                    .is_some_and(|prefix| prefix.ends_with('.')))
    })
}

fn strip_port(entry: &str) -> &str {
    if let Some(v6) = entry.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    match entry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => entry,
    }
}

fn in_cidr(ip: IpAddr, net: &str, bits: &str) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
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
        // http_proxy is for http:// URLs only, and only in lower case.
        assert_eq!(chosen(API, &[("http_proxy", "http://h:1")]), None);
        let local = "http://127.0.0.1:9/x";
        assert_eq!(chosen(local, &[("HTTP_PROXY", "http://h:1")]), None);
        assert_eq!(
            chosen(local, &[("http_proxy", "h:1")]).as_deref(),
            Some("http://h:1")
        );
        assert_eq!(
            chosen(API, &[("all_proxy", "socks5h://s:1080")]).as_deref(),
            Some("socks5h://s:1080")
        );
    }

    #[test]
    fn no_proxy_as_curl_reads_it() {
        let proxied = |no_proxy: &str| {
            chosen(
                API,
                &[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no_proxy)],
            )
            .is_some()
        };
        assert!(!proxied("*"));
        assert!(!proxied("netcoresmartech.com"));
        assert!(!proxied(".netcoresmartech.com"));
        assert!(!proxied("example.org, api2.netcoresmartech.com:443"));
        assert!(proxied("smartech.com"));
        assert!(proxied("example.org"));
        assert!(proxied(""));
        let local = |no_proxy: &str| {
            chosen(
                "http://127.0.0.1:9/x",
                &[("http_proxy", "http://p:1"), ("no_proxy", no_proxy)],
            )
            .is_some()
        };
        assert!(!local("127.0.0.0/8"));
        assert!(!local("127.0.0.1"));
        assert!(local("10.0.0.0/8"));
    }

    #[test]
    fn passwords_never_shown() {
        let proxy = ProxyUrl::parse("http://me:hunter2@proxy.corp:3128").unwrap();
        assert_eq!(proxy.to_string(), "http://me:[redacted]@proxy.corp:3128");
        assert!(!format!("{proxy:?}").contains("hunter2"));
        let err = ProxyUrl::parse("gopher://me:hunter2@proxy.corp:70").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(ProxyUrl::parse("socks5://127.0.0.1:1080").is_ok());
        assert!(ProxyUrl::parse("proxy.corp:3128").is_ok());
    }
}
