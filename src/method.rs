//! The encryption methods Netcore accepts, with their API codes and names.

use std::fmt;
use std::str::FromStr;

/// The block cipher mode a method uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherMode {
    /// AES-256-CBC with PKCS7 padding and the account's fixed IV.
    Cbc,
    /// AES-256-GCM with a fresh 12-byte nonce per message and a 16-byte tag.
    Gcm,
}

/// How the ciphertext bytes are written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// Standard Base64 with `=` padding.
    Base64,
    /// Lowercase hexadecimal (either case accepted on input).
    Hex,
}

/// One of Netcore's encryption methods, named by its `x-eCode` API code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// `AES_256_CBC_BASE64`, code 11256: what the reference scripts do.
    #[default]
    CbcBase64,
    /// `AES_256_CBC_HEX`, code 11257.
    CbcHex,
    /// `AES_256_GCM_BASE64`, code 11258.
    GcmBase64,
}

impl Method {
    /// Every method, in API-code order.
    pub const ALL: [Method; 3] = [Method::CbcBase64, Method::CbcHex, Method::GcmBase64];

    /// Netcore's name for the method, e.g. `AES_256_CBC_BASE64`.
    pub fn name(self) -> &'static str {
        match self {
            Method::CbcBase64 => "AES_256_CBC_BASE64",
            Method::CbcHex => "AES_256_CBC_HEX",
            Method::GcmBase64 => "AES_256_GCM_BASE64",
        }
    }

    /// The short alias ce-crypt accepts, e.g. `cbc-base64`.
    pub fn alias(self) -> &'static str {
        match self {
            Method::CbcBase64 => "cbc-base64",
            Method::CbcHex => "cbc-hex",
            Method::GcmBase64 => "gcm-base64",
        }
    }

    /// The API code sent in the `x-eCode` header.
    pub fn code(self) -> u32 {
        match self {
            Method::CbcBase64 => 11256,
            Method::CbcHex => 11257,
            Method::GcmBase64 => 11258,
        }
    }

    /// The cipher mode.
    pub fn mode(self) -> CipherMode {
        match self {
            Method::CbcBase64 | Method::CbcHex => CipherMode::Cbc,
            Method::GcmBase64 => CipherMode::Gcm,
        }
    }

    /// The text encoding of the ciphertext.
    pub fn encoding(self) -> TextEncoding {
        match self {
            Method::CbcBase64 | Method::GcmBase64 => TextEncoding::Base64,
            Method::CbcHex => TextEncoding::Hex,
        }
    }

    /// Whether the method needs the account's IV (GCM draws its own nonce).
    pub(crate) fn needs_iv(self) -> bool {
        self.mode() == CipherMode::Cbc
    }
}

impl fmt::Display for CipherMode {
    /// `AES-256-CBC` or `AES-256-GCM`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CipherMode::Cbc => "AES-256-CBC",
            CipherMode::Gcm => "AES-256-GCM",
        })
    }
}

impl fmt::Display for TextEncoding {
    /// `Base64` or `hex`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextEncoding::Base64 => "Base64",
            TextEncoding::Hex => "hex",
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alias())
    }
}

/// A method name that matches no method.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error(
    "unknown method {given:?}: use one of cbc-base64 (AES_256_CBC_BASE64, 11256), \
     cbc-hex (AES_256_CBC_HEX, 11257), gcm-base64 (AES_256_GCM_BASE64, 11258)"
)]
pub struct UnknownMethod {
    /// What was given.
    pub given: String,
}

impl FromStr for Method {
    type Err = UnknownMethod;

    /// Accepts the alias, Netcore's name or the API code, in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let wanted = text.trim();
        Method::ALL
            .into_iter()
            .find(|m| {
                wanted.eq_ignore_ascii_case(m.alias())
                    || wanted.eq_ignore_ascii_case(m.name())
                    || wanted == m.code().to_string()
            })
            .ok_or_else(|| UnknownMethod {
                given: text.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_parses() {
        for method in Method::ALL {
            for spelling in [
                method.alias().to_owned(),
                method.alias().to_uppercase(),
                method.name().to_owned(),
                method.name().to_lowercase(),
                method.code().to_string(),
            ] {
                assert_eq!(spelling.parse::<Method>(), Ok(method), "{spelling}");
            }
        }
    }

    #[test]
    fn the_table_matches_netcore() {
        let rows: Vec<_> = Method::ALL
            .iter()
            .map(|m| (m.name(), m.code(), m.mode(), m.encoding()))
            .collect();
        assert_eq!(
            rows,
            [
                (
                    "AES_256_CBC_BASE64",
                    11256,
                    CipherMode::Cbc,
                    TextEncoding::Base64
                ),
                ("AES_256_CBC_HEX", 11257, CipherMode::Cbc, TextEncoding::Hex),
                (
                    "AES_256_GCM_BASE64",
                    11258,
                    CipherMode::Gcm,
                    TextEncoding::Base64
                ),
            ]
        );
        assert_eq!(Method::default(), Method::CbcBase64);
        let shown: Vec<_> = Method::ALL
            .iter()
            .map(|m| format!("{m} {} {}", m.mode(), m.encoding()))
            .collect();
        assert_eq!(
            shown,
            [
                "cbc-base64 AES-256-CBC Base64",
                "cbc-hex AES-256-CBC hex",
                "gcm-base64 AES-256-GCM Base64"
            ]
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = "aes-128".parse::<Method>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("\"aes-128\""));
        for method in Method::ALL {
            assert!(text.contains(method.alias()) && text.contains(method.name()));
        }
        assert!("11259".parse::<Method>().is_err());
        assert!("".parse::<Method>().is_err());
    }
}
