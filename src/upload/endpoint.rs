//! Where uploads go: Netcore's regional endpoints, and the rules any other
//! endpoint URL must meet before a connection is made.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ureq::http::Uri;

/// The path of the activity upload API on every regional host.
pub(crate) const UPLOAD_PATH: &str = "/v1/activity/upload";

/// The Netcore data centre an account lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Region {
    /// United States: `api2.netcoresmartech.com`.
    #[default]
    Us,
    /// India: `apiin2.netcoresmartech.com`.
    India,
    /// Europe: `apieu2.netcoresmartech.com`.
    Eu,
}

impl Region {
    /// Every region, in the order the documentation lists them.
    pub(crate) const ALL: [Region; 3] = [Region::Us, Region::India, Region::Eu];

    /// The short name: `us`, `in` or `eu`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::India => "in",
            Region::Eu => "eu",
        }
    }

    /// The documented base URL, e.g. `https://api2.netcoresmartech.com`.
    pub(crate) fn base_url(self) -> &'static str {
        match self {
            Region::Us => "https://api2.netcoresmartech.com",
            Region::India => "https://apiin2.netcoresmartech.com",
            Region::Eu => "https://apieu2.netcoresmartech.com",
        }
    }

    /// The region's upload endpoint.
    pub fn endpoint(self) -> Endpoint {
        Endpoint {
            url: format!("{}{UPLOAD_PATH}", self.base_url()),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A region name other than `us`, `in` or `eu`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region {given:?}: use us, in or eu")]
#[non_exhaustive]
pub struct UnknownRegion {
    /// What was given.
    pub given: String,
}

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        Region::ALL
            .into_iter()
            .find(|r| wanted.eq_ignore_ascii_case(r.name()))
            .or_else(|| {
                wanted
                    .eq_ignore_ascii_case("india")
                    .then_some(Region::India)
            })
            .ok_or_else(|| UnknownRegion {
                given: text.to_owned(),
            })
    }
}

/// An upload URL that passed the rules: HTTPS (plain HTTP to loopback hosts
/// only, for testing) and no user name or password in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
}

/// Why an endpoint URL was refused. Messages never repeat a URL that holds a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Not a URL with a scheme and a host.
    #[error("the endpoint {url:?} is not a valid URL (expected https://HOST/PATH)")]
    NotAUrl {
        /// What was given.
        url: String,
    },
    /// A scheme other than https (or http to a loopback host).
    #[error("the endpoint {url} uses {scheme}://; only https:// is supported")]
    Scheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// `http://` to a host that is not loopback: the API key would cross the network in clear text.
    #[error(
        "the endpoint {url} is plain http:// to a host that is not this machine; the API key \
         would cross the network unencrypted, so only https:// is allowed (http:// is accepted \
         for 127.0.0.1, ::1 and localhost, for testing)"
    )]
    CleartextToRemote {
        /// The URL.
        url: String,
    },
    /// `user:password@` in the URL.
    #[error(
        "the endpoint URL holds a user name or password (before @); remove it: the API key \
         travels in the Authorization header"
    )]
    UserInfo,
}

impl Endpoint {
    /// Checks `url` against the rules.
    pub fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        let trimmed = url.trim();
        let uri: Uri = trimmed.parse().map_err(|_| not_a_url(trimmed))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(not_a_url(trimmed));
        };
        if authority.as_str().contains('@') {
            return Err(EndpointError::UserInfo);
        }
        let host = authority.host();
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(EndpointError::CleartextToRemote {
                    url: trimmed.to_owned(),
                });
            }
            other => {
                return Err(EndpointError::Scheme {
                    url: trimmed.to_owned(),
                    scheme: other.to_owned(),
                });
            }
        }
        Ok(Endpoint {
            url: trimmed.to_owned(),
        })
    }

    /// The URL.
    pub(crate) fn as_str(&self) -> &str {
        &self.url
    }

    /// The host, without brackets around an IPv6 address.
    pub(crate) fn host(&self) -> &str {
        let after_scheme = self.url.split_once("://").map_or("", |(_, rest)| rest);
        let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
        match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        }
    }

    /// Whether the URL is `https://`.
    pub(crate) fn is_https(&self) -> bool {
        self.url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Region::default().endpoint()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

fn not_a_url(url: &str) -> EndpointError {
    if url.contains('@') {
        // It may hold a password: do not repeat it.
        return EndpointError::UserInfo;
    }
    EndpointError::NotAUrl {
        url: url.to_owned(),
    }
}

/// `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_netcores_documented_hosts() {
        let urls: Vec<_> = Region::ALL
            .iter()
            .map(|r| r.endpoint().to_string())
            .collect();
        assert_eq!(
            urls,
            [
                "https://api2.netcoresmartech.com/v1/activity/upload",
                "https://apiin2.netcoresmartech.com/v1/activity/upload",
                "https://apieu2.netcoresmartech.com/v1/activity/upload",
            ]
        );
        assert_eq!("IN".parse(), Ok(Region::India));
        assert_eq!("eu".parse(), Ok(Region::Eu));
        assert!("mars".parse::<Region>().is_err());
        assert_eq!(Endpoint::default(), Region::Us.endpoint());
    }

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        for good in [
            "https://api2.netcoresmartech.com/v1/activity/upload",
            "http://127.0.0.1:8080/v1/activity/upload",
            "http://127.3.4.5/x",
            "http://localhost:1/",
            "http://[::1]:9/x",
        ] {
            Endpoint::parse(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        assert!(matches!(
            Endpoint::parse("http://api2.netcoresmartech.com/v1/activity/upload"),
            Err(EndpointError::CleartextToRemote { .. })
        ));
        assert!(matches!(
            Endpoint::parse("http://10.0.0.1/"),
            Err(EndpointError::CleartextToRemote { .. })
        ));
        assert!(matches!(
            Endpoint::parse("http://localhost.example.com/"),
            Err(EndpointError::CleartextToRemote { .. })
        ));
        assert!(matches!(
            Endpoint::parse("ftp://example.com/"),
            Err(EndpointError::Scheme { .. })
        ));
        assert!(matches!(
            Endpoint::parse("api2.netcoresmartech.com"),
            Err(EndpointError::NotAUrl { .. })
        ));
    }

    #[test]
    fn user_info_is_refused_and_never_repeated() {
        for url in [
            "https://user:s3cret@api2.netcoresmartech.com/v1/activity/upload",
            "https://s3cret@host/",
            "https:// user:s3cret@host/",
        ] {
            let err = Endpoint::parse(url).unwrap_err();
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn hosts() {
        let host = |url| Endpoint::parse(url).unwrap().host().to_owned();
        assert_eq!(
            host("https://api2.netcoresmartech.com/v1"),
            "api2.netcoresmartech.com"
        );
        assert_eq!(host("http://127.0.0.1:8080/x"), "127.0.0.1");
        assert_eq!(host("http://[::1]:9/x"), "::1");
        assert_eq!(host("https://localhost"), "localhost");
    }
}
