//! Generating a new key and IV, and writing them as a key file or JSON.

use rand::distr::{Alphanumeric, Distribution};
use rand::rngs::SysRng;
use rand::{TryRng, rand_core::Infallible};
use zeroize::Zeroizing;

use crate::keys::{ENCODING_VAR, IV_VAR, KEY_VAR, KeyEncoding};
use crate::secret::SecretString;

/// A freshly generated key and IV, as text in their encoding.
#[derive(Debug, Clone)]
pub struct GeneratedKeys {
    /// The key: 32 characters of `[A-Za-z0-9]` (utf8), or 32 random bytes encoded.
    pub key: SecretString,
    /// The IV: 16 characters of `[A-Za-z0-9]` (utf8), or 16 random bytes encoded.
    pub iv: SecretString,
    /// How `key` and `iv` map to bytes.
    pub encoding: KeyEncoding,
}

/// The operating system's RNG failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

/// Generates a key and IV with the operating system's CSPRNG.
///
/// `utf8` matches Netcore's script: every character drawn uniformly from
/// `[A-Za-z0-9]` (rejection sampling, no modulo bias). `base64`/`hex` draw
/// 32 and 16 random bytes and encode them.
pub fn generate(encoding: KeyEncoding) -> Result<GeneratedKeys, RandomError> {
    let (key, iv) = match encoding {
        KeyEncoding::Utf8 => (alphanumeric(32)?, alphanumeric(16)?),
        KeyEncoding::Base64 | KeyEncoding::Hex => {
            (encoded_random(32, encoding)?, encoded_random(16, encoding)?)
        }
    };
    Ok(GeneratedKeys { key, iv, encoding })
}

impl GeneratedKeys {
    /// The key-file text: `CE_SECRET_KEY=…`, `CE_SECRET_IV=…` and, unless utf8,
    /// `CE_KEY_ENCODING=…`, one per line.
    pub fn to_env_lines(&self) -> SecretString {
        let mut text = self.text_buffer();
        for (name, value) in [(KEY_VAR, self.key.expose()), (IV_VAR, self.iv.expose())] {
            text.extend([name, "=", value, "\n"]);
        }
        if self.encoding != KeyEncoding::Utf8 {
            text.extend([ENCODING_VAR, "=", self.encoding.name(), "\n"]);
        }
        SecretString::new(text)
    }

    /// One line of JSON: `{"secret_key": …, "secret_iv": …}` (plus `"key_encoding"` unless utf8).
    pub fn to_json(&self) -> SecretString {
        // Base64, hex and [A-Za-z0-9] need no JSON escaping.
        let mut json = self.text_buffer();
        json.extend([
            "{\"secret_key\": \"",
            self.key.expose(),
            "\", \"secret_iv\": \"",
            self.iv.expose(),
            "\"",
        ]);
        if self.encoding != KeyEncoding::Utf8 {
            json.extend([", \"key_encoding\": \"", self.encoding.name(), "\""]);
        }
        json.push_str("}\n");
        SecretString::new(json)
    }

    /// An empty string with room for either text, so that writing into it
    /// never reallocates and leaves a copy of the key behind in freed memory.
    fn text_buffer(&self) -> String {
        String::with_capacity(self.key.expose().len() + self.iv.expose().len() + 128)
    }
}

fn alphanumeric(len: usize) -> Result<SecretString, RandomError> {
    let mut rng = OsRng::default();
    let text: String = (0..len)
        .map(|_| char::from(Alphanumeric.sample(&mut rng)))
        .collect();
    match rng.failure {
        Some(error) => Err(error),
        None => Ok(SecretString::new(text)),
    }
}

fn encoded_random(len: usize, encoding: KeyEncoding) -> Result<SecretString, RandomError> {
    let mut bytes = Zeroizing::new(vec![0u8; len]);
    SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| RandomError(e.to_string()))?;
    Ok(SecretString::new(match encoding {
        KeyEncoding::Hex => base16ct::lower::encode_string(&bytes),
        _ => {
            use base64ct::Encoding as _;
            base64ct::Base64::encode_string(&bytes)
        }
    }))
}

/// The OS RNG as an infallible `Rng`, remembering a failure instead of panicking.
///
/// `rand`'s distributions want an infallible generator; `SysRng` can (in theory)
/// fail. On failure this yields zeros and records the error, which the caller
/// checks before using anything drawn.
#[derive(Default)]
struct OsRng {
    failure: Option<RandomError>,
}

impl OsRng {
    fn fill(&mut self, dst: &mut [u8]) {
        if let Err(error) = SysRng.try_fill_bytes(dst) {
            dst.fill(0);
            self.failure.get_or_insert(RandomError(error.to_string()));
        }
    }
}

impl TryRng for OsRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyFile;
    use crate::secret::{Iv, Key};

    #[test]
    fn utf8_keys_are_alphanumeric_of_the_right_length() {
        let keys = generate(KeyEncoding::Utf8).unwrap();
        assert_eq!(keys.key.expose().len(), 32);
        assert_eq!(keys.iv.expose().len(), 16);
        assert!(keys.key.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(keys.iv.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(
            keys.key.expose(),
            generate(KeyEncoding::Utf8).unwrap().key.expose()
        );
    }

    #[test]
    fn characters_are_spread_over_all_62() {
        // 62 symbols over 200 keys (6,400 draws): each should appear about 103 times.
        // A modulo-biased or truncated alphabet fails these bounds.
        let mut counts = [0u32; 128];
        for _ in 0..200 {
            for b in generate(KeyEncoding::Utf8).unwrap().key.expose().bytes() {
                counts[b as usize] += 1;
            }
        }
        let alphabet: Vec<u8> = (b'A'..=b'Z')
            .chain(b'a'..=b'z')
            .chain(b'0'..=b'9')
            .collect();
        for &c in &alphabet {
            let n = counts[c as usize];
            assert!((50..=170).contains(&n), "{} drawn {n} times", c as char);
        }
        assert_eq!(counts.iter().sum::<u32>(), 6400);
    }

    #[test]
    fn every_encoding_round_trips_through_a_key_file() {
        for encoding in [KeyEncoding::Utf8, KeyEncoding::Base64, KeyEncoding::Hex] {
            let keys = generate(encoding).unwrap();
            let file = KeyFile::parse(keys.to_env_lines().expose()).unwrap();
            let used = file.encoding.unwrap_or_default();
            assert_eq!(used, encoding);
            Key::parse(file.key.unwrap().expose(), used).unwrap();
            Iv::parse(file.iv.unwrap().expose(), used).unwrap();
        }
    }

    #[test]
    fn json_has_the_documented_fields() {
        let keys = generate(KeyEncoding::Hex).unwrap();
        let value: serde_json::Value = serde_json::from_str(keys.to_json().expose()).unwrap();
        assert_eq!(value["secret_key"].as_str().unwrap().len(), 64);
        assert_eq!(value["secret_iv"].as_str().unwrap().len(), 32);
        assert_eq!(value["key_encoding"], "hex");
        let plain = generate(KeyEncoding::Utf8).unwrap();
        let value: serde_json::Value = serde_json::from_str(plain.to_json().expose()).unwrap();
        assert!(value.get("key_encoding").is_none());
    }
}
