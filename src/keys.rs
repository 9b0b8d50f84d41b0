//! Key material: how key and IV strings become AES bytes, the key-file
//! format, and new keys ([`generate`]).
//!
//! Netcore's scheme takes the key and IV as the UTF-8 bytes of 32- and
//! 16-character strings. `base64` and `hex` encodings are offered for accounts
//! configured with random bytes instead. Lengths are checked here, once, and
//! counted in bytes; no message ever contains a key or IV value.

mod generate;
mod shell;

use std::fmt;
use std::str::FromStr;

use base64ct::Encoding as _;
use zeroize::Zeroizing;

pub use generate::{GeneratedKeys, RandomError, generate};

use crate::method::Method;
use crate::secret::{Iv, Key, SecretString};

/// Environment variable (and key-file name) holding the key.
pub(crate) const KEY_VAR: &str = "CE_SECRET_KEY";
/// Environment variable (and key-file name) holding the IV.
pub(crate) const IV_VAR: &str = "CE_SECRET_IV";
/// Key-file name (and environment variable) naming the key encoding.
pub(crate) const ENCODING_VAR: &str = "CE_KEY_ENCODING";

/// How a key or IV string maps to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyEncoding {
    /// The string's own UTF-8 bytes (Netcore's reference scripts).
    #[default]
    Utf8,
    /// Standard Base64 of the bytes.
    Base64,
    /// Hexadecimal (either case) of the bytes.
    Hex,
}

impl KeyEncoding {
    /// The name used on the command line and in key files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            KeyEncoding::Utf8 => "utf8",
            KeyEncoding::Base64 => "base64",
            KeyEncoding::Hex => "hex",
        }
    }
}

impl fmt::Display for KeyEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyEncoding {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Ok(KeyEncoding::Utf8),
            "base64" => Ok(KeyEncoding::Base64),
            "hex" => Ok(KeyEncoding::Hex),
            _ => Err(KeyError::UnknownEncoding),
        }
    }
}

/// Which secret a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The 32-byte key.
    Key,
    /// The 16-byte IV.
    Iv,
}

impl Part {
    fn len(self) -> usize {
        match self {
            Part::Key => 32,
            Part::Iv => 16,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Key => "key",
            Part::Iv => "IV",
        })
    }
}

/// What is wrong with key material. Never carries the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The decoded length is not 32 (key) or 16 (IV).
    #[error(
        "the {part} is {} {how}; it must be exactly {} bytes{}",
        bytes(*got),
        part.len(),
        hint.map_or("", LengthHint::text)
    )]
    WrongLength {
        /// Key or IV.
        part: Part,
        /// Length after decoding.
        got: usize,
        /// "once UTF-8 encoded", "after Base64 decoding", ...
        how: &'static str,
        /// The likely cause, when one stands out.
        hint: Option<LengthHint>,
    },
    /// The string is not valid in the declared encoding.
    #[error("the {part} is not valid {encoding}")]
    NotDecodable {
        /// Key or IV.
        part: Part,
        /// The declared encoding.
        encoding: KeyEncoding,
    },
    /// A key of 16 bytes beside an IV of 32: the two given the wrong way round.
    #[error(
        "the key is 16 bytes and the IV 32 bytes: they look swapped (the key is the longer one)"
    )]
    Swapped,
    /// A CBC method without the account's IV.
    #[error("{0} needs the account's 16-byte IV, and none was given")]
    MissingIv(Method),
    /// An encoding name other than utf8, base64 or hex.
    #[error("unknown key encoding: use utf8, base64 or hex")]
    UnknownEncoding,
    /// A key-file line that is not `NAME=VALUE`, a comment or blank.
    #[error("line {line} of the key file {problem}")]
    KeyFileLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// The likely cause of a key or IV of the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthHint {
    /// The right number of characters, but some take more than one byte.
    NonAscii,
    /// Leading or trailing whitespace.
    Whitespace,
    /// The length of the hex or Base64 text of the right number of bytes.
    LooksEncoded,
}

impl LengthHint {
    fn text(self) -> &'static str {
        match self {
            LengthHint::NonAscii => {
                " (it has non-ASCII characters, which take more than one byte each)"
            }
            LengthHint::Whitespace => " (it starts or ends with whitespace)",
            LengthHint::LooksEncoded => " (is it hex or Base64?)",
        }
    }
}

/// "1 byte", "33 bytes".
fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_owned()
    } else {
        format!("{n} bytes")
    }
}

impl Key {
    /// Turns a key string into the 32 key bytes.
    pub fn parse(text: &str, encoding: KeyEncoding) -> Result<Key, KeyError> {
        let bytes = decode(text, encoding, Part::Key)?;
        Key::try_from(&bytes[..]).map_err(|_| wrong_length(text, &bytes, encoding, Part::Key))
    }
}

impl Iv {
    /// Turns an IV string into the 16 IV bytes.
    pub fn parse(text: &str, encoding: KeyEncoding) -> Result<Iv, KeyError> {
        let bytes = decode(text, encoding, Part::Iv)?;
        Iv::try_from(&bytes[..]).map_err(|_| wrong_length(text, &bytes, encoding, Part::Iv))
    }
}

/// Parses a key and, when `iv_needed`, the IV beside it, both in `encoding`.
/// A key that fails as 16 bytes beside an IV of 32 is reported as
/// [`KeyError::Swapped`], whether the IV is needed or not; an IV that is not
/// needed (GCM draws a nonce) is otherwise not read.
pub fn parse_key_and_iv(
    key: &str,
    iv: Option<&str>,
    encoding: KeyEncoding,
    iv_needed: bool,
) -> Result<(Key, Option<Iv>), KeyError> {
    let key = match Key::parse(key, encoding) {
        Err(KeyError::WrongLength { got: 16, .. })
            if iv.is_some_and(|iv| decode(iv, encoding, Part::Iv).is_ok_and(|b| b.len() == 32)) =>
        {
            return Err(KeyError::Swapped);
        }
        other => other?,
    };
    let iv = match iv {
        Some(iv) if iv_needed => Some(Iv::parse(iv, encoding)?),
        _ => None,
    };
    Ok((key, iv))
}

fn decode(text: &str, encoding: KeyEncoding, part: Part) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let not_decodable = KeyError::NotDecodable { part, encoding };
    Ok(Zeroizing::new(match encoding {
        KeyEncoding::Utf8 => text.as_bytes().to_vec(),
        // Constant-time decoders (RustCrypto's base64ct/base16ct): no timing leak of key bytes.
        KeyEncoding::Base64 => return base64_bytes(text).ok_or(not_decodable),
        KeyEncoding::Hex => base16ct::mixed::decode_vec(text.trim()).map_err(|_| not_decodable)?,
    }))
}

/// Decodes Base64 key text under the same policy as ciphertext: `=` padding
/// optional, and non-zero spare bits in the last character accepted (as
/// Node, Java, PHP, Python and Go accept them); other alphabets refused.
fn base64_bytes(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let unpadded = text.trim().trim_end_matches('=');
    if unpadded.len() % 4 == 1 {
        return None; // one character cannot hold a byte
    }
    // Completing the last group with `A` (zero bits) moves its spare bits into
    // a byte of their own, which is dropped: base64ct, strict about spare
    // bits, then has none to refuse.
    let mut whole = Zeroizing::new(String::with_capacity(unpadded.len() + 3));
    whole.push_str(unpadded);
    while !whole.len().is_multiple_of(4) {
        whole.push('A');
    }
    let mut bytes = Zeroizing::new(base64ct::Base64Unpadded::decode_vec(&whole).ok()?);
    bytes.truncate(unpadded.len() * 6 / 8);
    Some(bytes)
}

fn wrong_length(text: &str, bytes: &[u8], encoding: KeyEncoding, part: Part) -> KeyError {
    let chars = text.chars().count();
    let hint = if encoding == KeyEncoding::Utf8 && chars == part.len() && bytes.len() > chars {
        Some(LengthHint::NonAscii)
    } else if text != text.trim() {
        Some(LengthHint::Whitespace)
    } else if encoding == KeyEncoding::Utf8
        && (bytes.len() == part.len() * 2 || bytes.len() == part.len().div_ceil(3) * 4)
    {
        Some(LengthHint::LooksEncoded)
    } else {
        None
    };
    KeyError::WrongLength {
        part,
        got: bytes.len(),
        how: match encoding {
            KeyEncoding::Utf8 => "once UTF-8 encoded",
            KeyEncoding::Base64 => "after Base64 decoding",
            KeyEncoding::Hex => "after hex decoding",
        },
        hint,
    }
}

/// The values a key file holds, still as text.
#[derive(Debug, Default, Clone)]
pub struct KeyFile {
    /// `CE_SECRET_KEY`.
    pub key: Option<SecretString>,
    /// `CE_SECRET_IV`.
    pub iv: Option<SecretString>,
    /// `CE_KEY_ENCODING`, when the file names one.
    pub encoding: Option<KeyEncoding>,
    /// `CE_API_KEY`: the panel's API key, for uploads.
    pub api_key: Option<SecretString>,
    /// `CE_ASSET_ID`: the asset id uploads name in `x-asset`.
    pub asset_id: Option<String>,
    /// `CE_REGION`: `us`, `in` or `eu`, as written.
    pub region: Option<String>,
    /// `CE_ENDPOINT`: an upload URL, as written.
    pub endpoint: Option<String>,
    /// Names from Netcore's own scripts that were read in place of ours, as
    /// (name found, name meant): `SECRET_KEY` for `CE_SECRET_KEY`, `SECRET_IV`
    /// for `CE_SECRET_IV`.
    pub aliases: Vec<(&'static str, &'static str)>,
}

/// The names Netcore's reference scripts give the key and IV, read as ours.
pub(crate) const ALIASES: [(&str, &str); 2] = [("SECRET_KEY", KEY_VAR), ("SECRET_IV", IV_VAR)];

/// The JSON `ce-crypt keygen --format json` writes.
#[derive(serde::Deserialize)]
struct JsonKeyFile {
    secret_key: Option<String>,
    secret_iv: Option<String>,
    key_encoding: Option<String>,
}

/// Key-file name (and environment variable) of the panel's API key.
pub(crate) const API_KEY_VAR: &str = "CE_API_KEY";
/// Key-file name (and environment variable) of the asset id.
pub(crate) const ASSET_ID_VAR: &str = "CE_ASSET_ID";
/// Key-file name (and environment variable) of the region.
pub(crate) const REGION_VAR: &str = "CE_REGION";
/// Key-file name (and environment variable) of the upload endpoint.
pub(crate) const ENDPOINT_VAR: &str = "CE_ENDPOINT";

impl KeyFile {
    /// Parses `NAME=VALUE` lines, as `ce-crypt keygen` writes them, or the
    /// JSON object `ce-crypt keygen --format json` writes.
    ///
    /// Each value is read as POSIX sh reads an assignment, without expanding
    /// anything: single quotes, double quotes with `\` escapes, backslashes,
    /// quoted parts side by side (`'ab'\''cd'`, as `shlex.quote` and
    /// `printf %q` write them); a `$`, backquote or leading `~` that sh would
    /// expand, and text it would run as a command, are refused. Blank lines
    /// and `#` comments, an `export` prefix, a trailing ` # comment`, CRLF
    /// line ends and a UTF-8 byte-order mark are accepted, and so are blanks
    /// around `=`. Other names are ignored so that the file can hold
    /// further settings; `SECRET_KEY` and `SECRET_IV`, as Netcore's scripts
    /// name them, are read as `CE_SECRET_KEY` and `CE_SECRET_IV` (see
    /// [`KeyFile::aliases`]).
    pub fn parse(text: &str) -> Result<KeyFile, KeyError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim_start().starts_with('{') {
            return KeyFile::parse_json(text);
        }
        let mut file = KeyFile::default();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let statement = match trimmed.strip_prefix("export") {
                Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
                _ => trimmed,
            };
            let Some((name, value)) = statement.split_once('=') else {
                return Err(KeyError::KeyFileLine {
                    line,
                    problem: "is not NAME=VALUE",
                });
            };
            let loose = name.ends_with([' ', '\t']);
            let value = shell::value(value, loose).map_err(|problem| KeyError::KeyFileLine {
                line,
                problem: problem.text(),
            })?;
            let name = match ALIASES.iter().find(|(alias, _)| *alias == name.trim()) {
                Some(&(alias, ours)) => {
                    file.aliases.push((alias, ours));
                    ours
                }
                None => name.trim(),
            };
            let repeated = KeyError::KeyFileLine {
                line,
                problem: "repeats a name given earlier in the file",
            };
            let setting = match name {
                ASSET_ID_VAR => Some(&mut file.asset_id),
                REGION_VAR => Some(&mut file.region),
                ENDPOINT_VAR => Some(&mut file.endpoint),
                _ => None,
            };
            if let Some(setting) = setting {
                if setting.replace(value.expose().to_owned()).is_some() {
                    return Err(repeated);
                }
                continue;
            }
            let slot = match name {
                KEY_VAR => &mut file.key,
                IV_VAR => &mut file.iv,
                API_KEY_VAR => &mut file.api_key,
                ENCODING_VAR => {
                    file.encoding =
                        Some(value.expose().parse().map_err(|_| KeyError::KeyFileLine {
                            line,
                            problem: "names an unknown key encoding (use utf8, base64 or hex)",
                        })?);
                    continue;
                }
                _ => continue,
            };
            if slot.is_some() {
                return Err(repeated);
            }
            *slot = Some(value);
        }
        Ok(file)
    }

    fn parse_json(text: &str) -> Result<KeyFile, KeyError> {
        let json: JsonKeyFile = serde_json::from_str(text).map_err(|e| KeyError::KeyFileLine {
            line: e.line(),
            problem: "is not the JSON keygen writes ({\"secret_key\": …, \"secret_iv\": …})",
        })?;
        let encoding = match json.key_encoding {
            Some(name) => Some(name.parse().map_err(|_| KeyError::KeyFileLine {
                line: 1,
                problem: "names an unknown key encoding (use utf8, base64 or hex)",
            })?),
            None => None,
        };
        Ok(KeyFile {
            key: json.secret_key.map(SecretString::new),
            iv: json.secret_iv.map(SecretString::new),
            encoding,
            ..KeyFile::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz012345";
    const IV: &str = "ABCDEFGHIJKLMNOP";

    #[test]
    fn utf8_takes_the_string_bytes() {
        assert_eq!(
            Key::parse(KEY, KeyEncoding::Utf8).unwrap().expose(),
            KEY.as_bytes()
        );
        assert_eq!(
            Iv::parse(IV, KeyEncoding::Utf8).unwrap().expose(),
            IV.as_bytes()
        );
    }

    #[test]
    fn lengths_are_counted_in_bytes() {
        let accented = "é".to_owned() + &KEY[1..]; // 32 characters, 33 bytes
        let err = Key::parse(&accented, KeyEncoding::Utf8).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("33 bytes once UTF-8 encoded"), "{text}");
        assert!(
            text.contains("exactly 32 bytes") && text.contains("non-ASCII"),
            "{text}"
        );
        assert!(
            !text.contains(&KEY[1..]),
            "the message must not echo the key"
        );

        let short = Iv::parse("short", KeyEncoding::Utf8)
            .unwrap_err()
            .to_string();
        assert!(
            short.contains("IV is 5 bytes") && short.contains("exactly 16"),
            "{short}"
        );
        let spaced = Iv::parse(&format!("{IV} "), KeyEncoding::Utf8)
            .unwrap_err()
            .to_string();
        assert!(spaced.contains("whitespace"), "{spaced}");
    }

    #[test]
    fn base64_and_hex_decode_to_bytes() {
        let bytes: Vec<u8> = (0..32).collect();
        let b64 = base64ct::Base64::encode_string(&bytes);
        let hex = base16ct::upper::encode_string(&bytes);
        assert_eq!(
            Key::parse(&b64, KeyEncoding::Base64).unwrap().expose()[..],
            bytes[..]
        );
        assert_eq!(
            Key::parse(&hex, KeyEncoding::Hex).unwrap().expose()[..],
            bytes[..]
        );
        let iv_hex = "000102030405060708090a0b0c0d0e0f";
        assert_eq!(
            Iv::parse(iv_hex, KeyEncoding::Hex).unwrap().expose()[..],
            bytes[..16]
        );

        let wrong = Key::parse(&hex[..40], KeyEncoding::Hex)
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("20 bytes after hex decoding"), "{wrong}");
        let bad = Key::parse("zz", KeyEncoding::Hex).unwrap_err();
        assert_eq!(
            bad,
            KeyError::NotDecodable {
                part: Part::Key,
                encoding: KeyEncoding::Hex
            }
        );
        assert!(Key::parse("%%%", KeyEncoding::Base64).is_err());
    }

    #[test]
    fn base64_keys_follow_the_ciphertext_decoding_policy() {
        let bytes: Vec<u8> = (100..132).collect();
        let canonical = base64ct::Base64::encode_string(&bytes); // 43 characters and `=`
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let (head, last) = canonical.trim_end_matches('=').split_at(42);
        // The 43rd character carries 2 data bits and 4 spare ones: set a spare one.
        let sloppy = format!(
            "{head}{}",
            &alphabet[alphabet.find(last).unwrap() + 1..][..1]
        );
        for text in [canonical.clone(), sloppy.clone(), format!("{sloppy}=")] {
            let key = Key::parse(&text, KeyEncoding::Base64).unwrap();
            assert_eq!(key.expose()[..], bytes[..], "{text}");
        }
        let iv_bytes: Vec<u8> = (7..23).collect();
        let iv = base64ct::Base64::encode_string(&iv_bytes);
        let parsed = Iv::parse(iv.trim_end_matches('='), KeyEncoding::Base64).unwrap();
        assert_eq!(parsed.expose()[..], iv_bytes[..]);

        // Strict where a mistake is likely: the URL-safe alphabet, a dangling
        // character, and text after the padding.
        let url_safe = canonical.replace('+', "-").replace('/', "_");
        assert_ne!(url_safe, canonical, "the sample must use + or /");
        let dangling = format!("{}AA", canonical.trim_end_matches('=')); // 45 characters
        for bad in [url_safe, dangling, format!("{canonical}A")] {
            assert!(
                matches!(
                    Key::parse(&bad, KeyEncoding::Base64),
                    Err(KeyError::NotDecodable { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_key_and_iv_given_the_wrong_way_round_are_called_swapped() {
        for encoding in [KeyEncoding::Utf8, KeyEncoding::Hex, KeyEncoding::Base64] {
            let (key, iv) = match encoding {
                KeyEncoding::Utf8 => (KEY.to_owned(), IV.to_owned()),
                KeyEncoding::Hex => ("ab".repeat(32), "cd".repeat(16)),
                KeyEncoding::Base64 => (
                    base64ct::Base64::encode_string(&[1; 32]),
                    base64ct::Base64::encode_string(&[2; 16]),
                ),
            };
            for iv_needed in [true, false] {
                let swapped = parse_key_and_iv(&iv, Some(&key), encoding, iv_needed);
                assert_eq!(swapped.unwrap_err(), KeyError::Swapped, "{encoding}");
                let (k, i) = parse_key_and_iv(&key, Some(&iv), encoding, iv_needed).unwrap();
                assert_eq!(
                    k.expose()[..],
                    decode(&key, encoding, Part::Key).unwrap()[..]
                );
                assert_eq!(i.is_some(), iv_needed);
            }
        }
        // A short key alone, or beside an IV that is not 32 bytes, is only short.
        for iv in [None, Some(IV), Some("x")] {
            let err = parse_key_and_iv(IV, iv, KeyEncoding::Utf8, true).unwrap_err();
            assert!(
                matches!(err, KeyError::WrongLength { got: 16, .. }),
                "{iv:?}"
            );
        }
        assert_eq!(
            KeyError::Swapped.to_string(),
            "the key is 16 bytes and the IV 32 bytes: they look swapped (the key is the longer one)"
        );
    }

    #[test]
    fn hex_key_given_as_utf8_gets_a_hint() {
        let hex64 = "00".repeat(32);
        let msg = Key::parse(&hex64, KeyEncoding::Utf8)
            .unwrap_err()
            .to_string();
        assert!(msg.ends_with("(is it hex or Base64?)"), "{msg}");
    }

    #[test]
    fn key_file_lines() {
        let text = format!(
            "# made by ce-crypt keygen\n\nexport {KEY_VAR}=\"{KEY}\"\n  {IV_VAR} = '{IV}'\nOTHER=1\n{ENCODING_VAR}=utf8\n"
        );
        let file = KeyFile::parse(&text).unwrap();
        assert_eq!(file.key.unwrap().expose(), KEY);
        assert_eq!(file.iv.unwrap().expose(), IV);
        assert_eq!(file.encoding, Some(KeyEncoding::Utf8));
    }

    #[test]
    fn key_files_read_what_a_shell_would_source() {
        const BOM: char = '\u{feff}';
        let forms = [
            format!("export\t{KEY_VAR}={KEY}\n{IV_VAR}={IV}\n"),
            format!("{KEY_VAR}={KEY} # the key\n{IV_VAR}='{IV}'  # the IV\n"),
            format!("{KEY_VAR}=\"{KEY}\"\r\n{IV_VAR}={IV}\r\n"),
            format!("{BOM}{KEY_VAR}={KEY}\n{IV_VAR}={IV}\n"),
            format!("{{\"secret_key\": \"{KEY}\", \"secret_iv\": \"{IV}\"}}\n"),
            format!("{BOM}{{\"secret_key\": \"{KEY}\", \"secret_iv\": \"{IV}\"}}"),
        ];
        for text in &forms {
            let file = KeyFile::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(file.key.unwrap().expose(), KEY, "{text:?}");
            assert_eq!(file.iv.unwrap().expose(), IV, "{text:?}");
            assert!(file.aliases.is_empty());
        }
        // A '#' inside a value is part of it; one after a space starts a comment.
        let file = KeyFile::parse(&format!("{KEY_VAR}=a#b\n{IV_VAR}=\"c # d\"\n")).unwrap();
        assert_eq!(file.key.unwrap().expose(), "a#b");
        assert_eq!(file.iv.unwrap().expose(), "c # d");
        assert!(KeyFile::parse(&format!("{KEY_VAR}=\"{KEY}\n")).is_err());
        assert!(KeyFile::parse(&format!("{KEY_VAR}=\"{KEY}\" x\n")).is_err());
        let json = KeyFile::parse(r#"{"secret_key": "k", "key_encoding": "hex"}"#).unwrap();
        assert_eq!(json.encoding, Some(KeyEncoding::Hex));
        assert!(KeyFile::parse(r#"{"secret_key": 1}"#).is_err());
    }

    #[test]
    fn netcore_script_names_are_aliases() {
        let file = KeyFile::parse(&format!("SECRET_KEY={KEY}\nSECRET_IV={IV}\n")).unwrap();
        assert_eq!(file.key.unwrap().expose(), KEY);
        assert_eq!(file.iv.unwrap().expose(), IV);
        assert_eq!(
            file.aliases,
            [("SECRET_KEY", KEY_VAR), ("SECRET_IV", IV_VAR)]
        );
        let both = KeyFile::parse(&format!("SECRET_KEY={KEY}\n{KEY_VAR}={KEY}\n")).unwrap_err();
        assert!(both.to_string().contains("repeats"), "{both}");
    }

    #[test]
    fn key_files_may_hold_upload_settings() {
        let text = format!(
            "{KEY_VAR}={KEY}\n{API_KEY_VAR}=\"panel key\"\n{ASSET_ID_VAR}=ADG1\n{REGION_VAR}=in\n{ENDPOINT_VAR}=https://h/x\n"
        );
        let file = KeyFile::parse(&text).unwrap();
        assert_eq!(file.api_key.unwrap().expose(), "panel key");
        assert_eq!(file.asset_id.as_deref(), Some("ADG1"));
        assert_eq!(file.region.as_deref(), Some("in"));
        assert_eq!(file.endpoint.as_deref(), Some("https://h/x"));
        let twice = KeyFile::parse(&format!("{REGION_VAR}=us\n{REGION_VAR}=eu\n")).unwrap_err();
        assert!(twice.to_string().contains("line 2"), "{twice}");
    }

    /// What `shell` (given `args` before the script) assigns to
    /// `CE_SECRET_KEY` when it sources `file`.
    fn sourced(shell: &str, args: &[&str], file: &std::path::Path) -> String {
        let out = std::process::Command::new(shell)
            .args(args)
            .arg("-c")
            .arg(". \"$1\"; printf %s \"$CE_SECRET_KEY\"")
            .arg("sh")
            .arg(file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn key_files_read_values_as_sh_does() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.env");
        let values = [
            "Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU",
            "ab'cd",
            "it's \"quoted\" \\ back\\slash",
            "$HOME `id` $(id) ${x}",
            "a#b # c",
            "~/x ; | & < > ( )",
            "*?[] {a,b} !1",
            "two  spaces é ü €",
            "'",
            "\\",
            "",
        ];
        // Python's shlex.quote, `'\''` as sh users write it, double quotes
        // with the four escapes, and bash's printf %q.
        let python = |v: &str| format!("'{}'", v.replace('\'', r#"'"'"'"#));
        let posix = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
        let double = |v: &str| {
            let mut out = String::from("\"");
            for c in v.chars() {
                if matches!(c, '\\' | '"' | '$' | '`') {
                    out.push('\\');
                }
                out.push(c);
            }
            out + "\""
        };
        let printf_q = |v: &str| {
            let out = std::process::Command::new("bash")
                .args(["-c", "printf %q \"$1\"", "bash", v])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let mut checked = 0;
        for value in values {
            for quoted in [python(value), posix(value), double(value), printf_q(value)] {
                let text = format!("{KEY_VAR}={quoted}\n");
                std::fs::write(&file, &text).unwrap();
                let ours = KeyFile::parse(&text)
                    .unwrap_or_else(|e| panic!("{text:?}: {e}"))
                    .key
                    .unwrap();
                assert_eq!(ours.expose(), value, "{text:?}");
                for (shell, args) in [("sh", &[][..]), ("bash", &["--posix"][..])] {
                    assert_eq!(sourced(shell, args, &file), value, "{shell}: {text:?}");
                }
                checked += 1;
            }
        }
        assert_eq!(checked, values.len() * 4);

        // Where sh would expand or run something, reading the characters as
        // they stand would disagree with it: refused, naming the line.
        for written in [
            "\"a$HOME\"",
            "a$(echo x)",
            "`echo x`",
            "\"`echo x`\"",
            "~",
            "${HOME}x",
            "a;true",
        ] {
            let text = format!("# note\n{KEY_VAR}={written}\n");
            std::fs::write(&file, &text).unwrap();
            assert_ne!(sourced("sh", &[], &file), written, "{written}");
            let err = KeyFile::parse(&text).unwrap_err().to_string();
            assert!(
                err.starts_with("line 2 of the key file has") || err.contains("starts with ~"),
                "{written}: {err}"
            );
            assert!(!err.contains("echo"), "{err}");
        }
    }

    #[test]
    fn key_file_errors_name_the_line_not_the_value() {
        let err = KeyFile::parse(&format!("\n{KEY}\n")).unwrap_err();
        assert_eq!(
            err,
            KeyError::KeyFileLine {
                line: 2,
                problem: "is not NAME=VALUE"
            }
        );
        assert!(!err.to_string().contains(KEY));
        let twice = KeyFile::parse(&format!("{KEY_VAR}=a\n{KEY_VAR}=b\n")).unwrap_err();
        assert!(twice.to_string().contains("line 2") && twice.to_string().contains("repeats"));
        let enc = KeyFile::parse(&format!("{ENCODING_VAR}=rot13\n")).unwrap_err();
        assert!(enc.to_string().contains("unknown key encoding"));
    }

    #[test]
    fn encodings_parse() {
        assert_eq!("UTF-8".parse::<KeyEncoding>(), Ok(KeyEncoding::Utf8));
        assert_eq!("Base64".parse::<KeyEncoding>(), Ok(KeyEncoding::Base64));
        assert_eq!("hex".parse::<KeyEncoding>(), Ok(KeyEncoding::Hex));
        assert!("b64x".parse::<KeyEncoding>().is_err());
    }
}
