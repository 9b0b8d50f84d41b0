//! Why encrypting or decrypting failed: one enum each, whose variants are
//! the kinds a caller matches on, with `#[source]` only for the I/O error
//! that caused one. [`Cipher`](crate::Cipher) and the [`hazmat`](crate::hazmat)
//! pieces under it fail with the same two.

use std::io;

use crate::events::EventCheckError;
use crate::method::TextEncoding;

/// Why encrypting failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncryptError {
    /// The payload failed the check it was given.
    #[error(transparent)]
    Check(#[from] EventCheckError),
    /// The plaintext is too long for GCM (over 64 GiB).
    #[error("the payload is too large for AES-GCM (64 GiB at most)")]
    TooLong,
    /// The operating system's random number generator failed (drawing a
    /// GCM nonce).
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The new ciphertext did not decrypt to the payload (with verification).
    #[error("verification failed: the ciphertext decrypts to different bytes; nothing was written")]
    VerificationFailed,
    /// Writing the ciphertext failed.
    #[error("could not write the ciphertext")]
    Write(#[source] io::Error),
    /// Reading a payload from a reader failed.
    #[error("could not read the payload")]
    Read(#[source] io::Error),
}

/// Why decrypting failed: the text, the bytes it decodes to, or the output.
///
/// The text's faults are precise; a wrong key, a wrong IV and a changed
/// ciphertext are deliberately not told apart ([`DecryptError::BadPadding`],
/// [`DecryptError::AuthenticationFailed`]).
///
/// ```
/// use ce_crypt::{Cipher, DecryptError, Iv, Key, Method};
///
/// let cipher = Cipher::new(Method::CbcHex, Key::new([1; 32]), Some(Iv::new([2; 16])))?;
/// match cipher.decrypt(b"00ff") {
///     // Two bytes: cut short, or not AES-CBC output at all.
///     Err(DecryptError::NotWholeBlocks { len: 2 }) => {}
///     other => panic!("{other:?}"),
/// }
/// let other_key = Cipher::new(Method::CbcHex, Key::new([9; 32]), Some(Iv::new([2; 16])))?;
/// let text = other_key.encrypt(b"[]")?;
/// assert!(matches!(cipher.decrypt(text.as_bytes()), Err(DecryptError::BadPadding)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The text is nothing but whitespace.
    #[error("the ciphertext is empty")]
    Empty,
    /// A character outside the alphabet.
    #[error(
        "the ciphertext is not valid {encoding}: unexpected {found} at character {position}{hint}"
    )]
    InvalidCharacter {
        /// The encoding expected.
        encoding: TextEncoding,
        /// The offending character, described.
        found: String,
        /// 1-based position among the non-whitespace characters.
        position: u64,
        /// What the text looks like instead, for common mix-ups (or empty).
        hint: &'static str,
    },
    /// The text stops part-way through a character group, or padding is misplaced.
    #[error(
        "the ciphertext is not valid {encoding}: {problem}; was it cut short or copied incompletely?"
    )]
    Malformed {
        /// The encoding expected.
        encoding: TextEncoding,
        /// What is wrong.
        problem: &'static str,
    },
    /// Reading the ciphertext failed.
    #[error("could not read the ciphertext")]
    Read(#[source] io::Error),
    /// CBC ciphertext must be one or more whole blocks.
    #[error(
        "the ciphertext is {len} bytes, not a multiple of 16: it was cut short, \
         or it is not AES-CBC output"
    )]
    NotWholeBlocks {
        /// The decoded length.
        len: usize,
    },
    /// CBC ciphertext that decodes to zero bytes.
    #[error("the ciphertext decodes to zero bytes; AES-CBC output is at least 16")]
    ZeroBytes,
    /// PKCS7 padding was wrong after decryption. Deliberately vague: a wrong key
    /// and tampered data look the same, and must.
    #[error("decryption failed: wrong key or IV, or corrupted data")]
    BadPadding,
    /// GCM input shorter than nonce and tag.
    #[error(
        "the ciphertext is {len} bytes, shorter than the 28 bytes of nonce and tag \
         that every AES-256-GCM message has: it was cut short, or it is not GCM output"
    )]
    TooShortForGcm {
        /// The decoded length.
        len: usize,
    },
    /// The GCM tag did not verify: wrong key, or the message was changed.
    #[error("authentication failed: wrong key, or the ciphertext was changed or corrupted")]
    AuthenticationFailed,
    /// The ciphertext is too long for GCM (over 64 GiB).
    #[error("the ciphertext is too large for AES-GCM (64 GiB at most)")]
    TooLong,
    /// Writing the plaintext failed (streaming decryption).
    #[error("could not write the plaintext")]
    Write(#[source] io::Error),
}

impl DecryptError {
    /// Whether the text decoded and its bytes then failed to decrypt (length,
    /// padding or tag), rather than the text, the input or the output failing.
    pub(crate) fn after_decoding(&self) -> bool {
        matches!(
            self,
            DecryptError::NotWholeBlocks { .. }
                | DecryptError::ZeroBytes
                | DecryptError::BadPadding
                | DecryptError::TooShortForGcm { .. }
                | DecryptError::AuthenticationFailed
                | DecryptError::TooLong
        )
    }
}
