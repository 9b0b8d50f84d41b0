//! Containers for secret values: wiped from memory on drop, redacted in `Debug`.
//!
//! Every key, IV and API key ce-crypt handles lives in one of these from the
//! moment it is read or generated, so neither a stray `{:?}` nor a freed
//! allocation can give it away.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A fixed-size secret byte array (an AES key or a CBC IV).
#[derive(Clone)]
pub struct SecretBytes<const N: usize>([u8; N]);

impl<const N: usize> Zeroize for SecretBytes<N> {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl<const N: usize> Drop for SecretBytes<N> {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl<const N: usize> ZeroizeOnDrop for SecretBytes<N> {}

impl<const N: usize> SecretBytes<N> {
    /// Wraps `bytes`; the caller should wipe any copy it still holds.
    pub fn new(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// The secret bytes themselves.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }
}

/// Copies `bytes` in if it is exactly `N` long (`Key::try_from(&bytes[..])`).
impl<const N: usize> TryFrom<&[u8]> for SecretBytes<N> {
    type Error = std::array::TryFromSliceError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        bytes.try_into().map(Self)
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes<{N}>([redacted])")
    }
}

/// A 32-byte AES-256 key: wiped on drop, `[redacted]` in `Debug`.
///
/// ```
/// use ce_crypt::{Key, KeyEncoding, KeyError};
///
/// // As Netcore's scripts take it: 32 characters, their UTF-8 bytes.
/// let key = Key::parse("Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU", KeyEncoding::Utf8)?;
/// // 32 random bytes, written as hex (or Base64).
/// let hex = Key::parse(&"ab".repeat(32), KeyEncoding::Hex)?;
/// assert_eq!(hex.expose(), &[0xab; 32]);
/// // Bytes already in hand.
/// let raw = Key::try_from(&[7u8; 32][..])?;
/// assert_eq!(format!("{raw:?}"), "SecretBytes<32>([redacted])");
/// // A wrong length is told in bytes, never by what the key holds.
/// let short = Key::parse("s3cr3t", KeyEncoding::Utf8).unwrap_err();
/// assert!(matches!(short, KeyError::WrongLength { got: 6, .. }));
/// assert!(!short.to_string().contains("s3cr3t"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Key = SecretBytes<32>;
/// A 16-byte CBC initialisation vector (the account's, fixed): parsed and
/// held as [`Key`] is.
pub type Iv = SecretBytes<16>;

/// A secret text (a key as typed, a generated key, an API key).
///
/// Deliberately not `PartialEq`: comparing secrets byte by byte leaks, through
/// timing, how much of a guess was right.
#[derive(Clone, Default)]
pub struct SecretString(String);

impl Zeroize for SecretString {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for SecretString {}

impl SecretString {
    /// Takes ownership of `text`; its buffer is wiped when this is dropped.
    pub(crate) fn new(text: String) -> Self {
        Self(text)
    }

    /// The secret text itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for SecretString {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let key = Key::new([b'k'; 32]);
        let text = SecretString::from("hunter2-api-key");
        let shown = format!("{key:?} {text:?}");
        assert!(!shown.contains("kkkk"), "{shown}");
        assert!(!shown.contains("107"), "{shown}"); // b'k' as a number
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn from_slice_checks_the_length() {
        assert!(Iv::try_from(&[0; 16][..]).is_ok());
        assert!(Iv::try_from(&[0; 15][..]).is_err());
        assert!(Iv::try_from(&[0; 17][..]).is_err());
        assert_eq!(Key::try_from(&[7; 32][..]).unwrap().expose(), &[7; 32]);
    }

    #[test]
    fn zeroize_wipes_the_bytes() {
        let mut key = Key::new([9; 32]);
        key.zeroize();
        assert_eq!(key.expose(), &[0; 32]);
        let mut text = SecretString::from("secret");
        text.zeroize();
        assert!(text.expose().is_empty());
    }
}
