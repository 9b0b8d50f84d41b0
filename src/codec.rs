//! A method end to end: payload bytes to ciphertext text, and back.
//!
//! This is where [`Method`] meets [`crypto`](crate::crypto) and
//! [`text`](crate::text): CBC output is encrypted and encoded piece by piece
//! straight into the writer; decryption decodes into one buffer and decrypts it
//! in place, releasing plaintext only once padding or tag has checked out.

use std::io::{self, Read, Write};

use crate::crypto::{self, CryptoError};
use crate::keys::KeyMaterial;
use crate::method::{CipherMode, Method};
use crate::secret::Iv;
use crate::text::{self, DecodeError, TextWriter};

/// Why encrypting failed.
#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    /// A CBC method without an IV.
    #[error("{0} needs an IV: give --iv, or CE_SECRET_IV in the key file or environment")]
    MissingIv(Method),
    /// The cipher refused (GCM length limit, RNG failure).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// Writing the output failed.
    #[error("could not write the ciphertext: {0}")]
    Io(#[from] io::Error),
}

/// Why decrypting failed.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// A CBC method without an IV.
    #[error("{0} needs an IV: give --iv, or CE_SECRET_IV in the key file or environment")]
    MissingIv(Method),
    /// The text is not valid Base64/hex.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Wrong length, bad padding, failed tag.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

fn cbc_iv(method: Method, keys: &KeyMaterial) -> Option<&Iv> {
    if method.mode() == CipherMode::Cbc {
        keys.iv.as_ref()
    } else {
        None
    }
}

/// Encrypts `plaintext` and writes the ciphertext text (no newline) into `out`.
pub fn encrypt_to<W: Write>(
    method: Method,
    keys: &KeyMaterial,
    plaintext: &[u8],
    out: W,
) -> Result<W, EncryptError> {
    let mut writer = TextWriter::new(out, method.encoding());
    match method.mode() {
        CipherMode::Cbc => {
            let iv = cbc_iv(method, keys).ok_or(EncryptError::MissingIv(method))?;
            crypto::cbc_encrypt_pieces(&keys.key, iv, plaintext, |piece| {
                writer.write_bytes(piece)
            })?;
        }
        CipherMode::Gcm => {
            let nonce = crypto::random_nonce()?;
            let sealed = crypto::gcm_seal(&keys.key, &nonce, plaintext)?;
            writer.write_bytes(&sealed)?;
        }
    }
    Ok(writer.finish()?)
}

/// Like [`encrypt_to`], taking the payload by value so that GCM can encrypt it
/// in place instead of copying it (CBC streams from it either way).
pub fn encrypt_owned_to<W: Write>(
    method: Method,
    keys: &KeyMaterial,
    mut plaintext: Vec<u8>,
    out: W,
) -> Result<W, EncryptError> {
    if method.mode() != CipherMode::Gcm {
        return encrypt_to(method, keys, &plaintext, out);
    }
    let nonce = crypto::random_nonce()?;
    let tag = crypto::gcm_seal_in_place(&keys.key, &nonce, &mut plaintext)?;
    let mut writer = TextWriter::new(out, method.encoding());
    writer.write_bytes(&nonce)?;
    writer.write_bytes(&plaintext)?;
    writer.write_bytes(&tag)?;
    Ok(writer.finish()?)
}

/// Encrypts `plaintext` into a ciphertext string.
pub fn encrypt_to_string(
    method: Method,
    keys: &KeyMaterial,
    plaintext: &[u8],
) -> Result<String, EncryptError> {
    let bytes = encrypt_to(method, keys, plaintext, Vec::new())?;
    // Base64 and hex are ASCII.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Decrypts ciphertext text held in memory.
pub fn decrypt_text(
    method: Method,
    keys: &KeyMaterial,
    text: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    let iv = iv_for_decrypt(method, keys)?;
    let buffer = text::decode(text, method.encoding())?;
    open(keys, iv, buffer)
}

/// Decrypts ciphertext text read from `reader` (`size_hint`: its length, if known).
pub fn decrypt_reader<R: Read + Send + 'static>(
    method: Method,
    keys: &KeyMaterial,
    reader: R,
    size_hint: usize,
) -> Result<Vec<u8>, DecryptError> {
    // Check the IV before reading anything: a missing IV is the caller's mistake.
    let iv = iv_for_decrypt(method, keys)?;
    let buffer = text::decode_reader(reader, method.encoding(), size_hint)?;
    open(keys, iv, buffer)
}

/// The IV a CBC method needs (an error if absent), or `None` for GCM.
fn iv_for_decrypt(method: Method, keys: &KeyMaterial) -> Result<Option<&Iv>, DecryptError> {
    match method.mode() {
        CipherMode::Cbc => Ok(Some(
            cbc_iv(method, keys).ok_or(DecryptError::MissingIv(method))?,
        )),
        CipherMode::Gcm => Ok(None),
    }
}

/// Decrypts decoded ciphertext bytes in place: CBC with `iv`, GCM without.
fn open(keys: &KeyMaterial, iv: Option<&Iv>, mut buffer: Vec<u8>) -> Result<Vec<u8>, DecryptError> {
    match iv {
        Some(iv) => crypto::cbc_decrypt_in_place(&keys.key, iv, &mut buffer)?,
        None => crypto::gcm_open_in_place(&keys.key, &mut buffer)?,
    }
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Key;

    fn keys() -> KeyMaterial {
        KeyMaterial {
            key: Key::new(*b"abcdefghijklmnopqrstuvwxyz012345"),
            iv: Some(Iv::new(*b"ABCDEFGHIJKLMNOP")),
        }
    }

    #[test]
    fn every_method_round_trips() {
        for method in Method::ALL {
            for len in [0, 1, 15, 16, 17, 100_000] {
                let payload: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
                let text = encrypt_to_string(method, &keys(), &payload).unwrap();
                let back = decrypt_text(method, &keys(), text.as_bytes()).unwrap();
                assert_eq!(back, payload, "{method} len {len}");
            }
        }
    }

    #[test]
    fn cbc_hex_and_base64_carry_the_same_bytes() {
        let payload = br#"[{"activity_name":"x"}]"#;
        let b64 = encrypt_to_string(Method::CbcBase64, &keys(), payload).unwrap();
        let hex = encrypt_to_string(Method::CbcHex, &keys(), payload).unwrap();
        assert_eq!(
            text::decode(b64.as_bytes(), crate::method::TextEncoding::Base64).unwrap(),
            text::decode(hex.as_bytes(), crate::method::TextEncoding::Hex).unwrap()
        );
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn gcm_does_not_need_an_iv_and_cbc_does() {
        let no_iv = KeyMaterial {
            key: keys().key,
            iv: None,
        };
        let text = encrypt_to_string(Method::GcmBase64, &no_iv, b"{}").unwrap();
        assert_eq!(
            decrypt_text(Method::GcmBase64, &no_iv, text.as_bytes()).unwrap(),
            b"{}"
        );
        assert!(matches!(
            encrypt_to_string(Method::CbcHex, &no_iv, b"{}"),
            Err(EncryptError::MissingIv(Method::CbcHex))
        ));
        assert!(matches!(
            decrypt_text(Method::CbcBase64, &no_iv, b"AAAA"),
            Err(DecryptError::MissingIv(Method::CbcBase64))
        ));
    }

    #[test]
    fn owned_and_borrowed_encryption_agree() {
        let payload: Vec<u8> = (0..100_003).map(|i| (i % 251) as u8).collect();
        for method in Method::ALL {
            let owned = encrypt_owned_to(method, &keys(), payload.clone(), Vec::new()).unwrap();
            let back = decrypt_text(method, &keys(), &owned).unwrap();
            assert_eq!(back, payload, "{method}");
            if method.mode() == CipherMode::Cbc {
                assert_eq!(
                    owned,
                    encrypt_to(method, &keys(), &payload, Vec::new()).unwrap()
                );
            }
        }
    }

    #[test]
    fn gcm_encryptions_differ() {
        let a = encrypt_to_string(Method::GcmBase64, &keys(), b"{}").unwrap();
        let b = encrypt_to_string(Method::GcmBase64, &keys(), b"{}").unwrap();
        assert_ne!(a, b);
    }
}
