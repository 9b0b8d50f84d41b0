//! AES-256 over bytes: CBC with PKCS7 padding, and GCM with nonce ‖ ciphertext ‖ tag.
//!
//! All cryptography is RustCrypto's: CBC is `cbc`'s (through
//! [`super::stream`]), GCM `aes-gcm`'s; this module only fixes the
//! parameters Netcore uses and turns their errors into ours. AES-NI (and
//! VAES) is picked at run time by `aes`, under both.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand::TryRng;
use zeroize::Zeroize;

use super::stream::{CbcDecryptStream, CbcEncryptStream};
use crate::cipher::{DecryptError, EncryptError};
use crate::secret::{Iv, Key};
use crate::tuning::PIECE;

/// AES block size in bytes.
pub const BLOCK_LEN: usize = 16;
/// GCM nonce length in bytes (96 bits, as Netcore's reference code uses).
pub const NONCE_LEN: usize = 12;
/// GCM tag length in bytes.
pub const TAG_LEN: usize = 16;

/// CBC-encrypts `plaintext` with PKCS7 padding, passing the ciphertext to `sink`
/// in pieces of whole Base64 groups and AES blocks (the last one up to 16
/// bytes longer, with the padding).
///
/// Every step is infallible: [`CbcEncryptStream`] chains whole blocks, and
/// the last (partial or empty) block is padded with PKCS7 before it is
/// chained too. Only `sink` can fail.
pub(crate) fn cbc_encrypt_pieces<E>(
    key: &Key,
    iv: &Iv,
    plaintext: &[u8],
    mut sink: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut encryptor = CbcEncryptStream::new(key, iv);
    let whole = plaintext.len() - plaintext.len() % BLOCK_LEN;
    let mut out = Vec::with_capacity(whole.min(PIECE) + BLOCK_LEN);
    let mut pieces = plaintext[..whole].chunks(PIECE).peekable();
    loop {
        let piece = pieces.next().unwrap_or_default();
        out.clear();
        out.extend_from_slice(piece);
        if pieces.peek().is_none() {
            out.extend_from_slice(&plaintext[whole..]);
            encryptor.finish_in(&mut out, 0);
            return sink(&out);
        }
        encryptor.encrypt_blocks(&mut out);
        sink(&out)?;
    }
}

/// CBC-encrypts `plaintext` with PKCS7 padding into a new vector.
pub fn cbc_encrypt(key: &Key, iv: &Iv, plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + BLOCK_LEN);
    out.extend_from_slice(plaintext);
    CbcEncryptStream::new(key, iv).finish_in(&mut out, 0);
    out
}

/// CBC-decrypts `buffer` in place and removes the PKCS7 padding.
///
/// On error `buffer` holds no plaintext: it is wiped before returning.
pub fn cbc_decrypt_in_place(key: &Key, iv: &Iv, buffer: &mut Vec<u8>) -> Result<(), DecryptError> {
    if buffer.is_empty() {
        return Err(DecryptError::ZeroBytes);
    }
    if !buffer.len().is_multiple_of(BLOCK_LEN) {
        return Err(DecryptError::NotWholeBlocks { len: buffer.len() });
    }
    let last_at = buffer.len() - BLOCK_LEN;
    let mut last = [0; BLOCK_LEN];
    last.copy_from_slice(&buffer[last_at..]);
    let mut decryptor = CbcDecryptStream::new(key, iv);
    decryptor.decrypt_blocks(&mut buffer[..last_at]);
    buffer.truncate(last_at);
    match decryptor.finish(&last) {
        Ok(mut tail) => {
            buffer.extend_from_slice(&tail);
            tail.zeroize();
            Ok(())
        }
        Err(error) => {
            // Wipes the spare capacity too, so the truncated bytes with it.
            buffer.zeroize();
            Err(error)
        }
    }
}

/// Draws a fresh GCM nonce from the operating system's RNG.
pub fn random_nonce() -> Result<[u8; NONCE_LEN], EncryptError> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::SysRng
        .try_fill_bytes(&mut nonce)
        .map_err(|e| EncryptError::Random(e.to_string()))?;
    Ok(nonce)
}

/// GCM-encrypts `plaintext` with `nonce` and no associated data.
///
/// Returns nonce ‖ ciphertext ‖ tag, the layout of Netcore's GCM reference code.
pub fn gcm_seal(
    key: &Key,
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, EncryptError> {
    let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    sealed.extend_from_slice(nonce);
    sealed.extend_from_slice(plaintext);
    let tag = gcm_seal_in_place(key, nonce, &mut sealed[NONCE_LEN..])?;
    sealed.extend_from_slice(&tag);
    Ok(sealed)
}

/// GCM-encrypts `buffer` in place with `nonce` and no associated data; returns the tag.
///
/// For large payloads: no second copy of the message is made.
pub(crate) fn gcm_seal_in_place(
    key: &Key,
    nonce: &[u8; NONCE_LEN],
    buffer: &mut [u8],
) -> Result<[u8; TAG_LEN], EncryptError> {
    let cipher = Aes256Gcm::new(key.expose().into());
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(*nonce), b"", buffer.into())
        .map_err(|_| EncryptError::TooLong)?;
    Ok(tag.into())
}

/// Opens nonce ‖ ciphertext ‖ tag in place, leaving only the plaintext in `buffer`.
///
/// The tag is verified before any plaintext is released; on error `buffer` is wiped.
pub fn gcm_open_in_place(key: &Key, buffer: &mut Vec<u8>) -> Result<(), DecryptError> {
    let len = buffer.len();
    if len < NONCE_LEN + TAG_LEN {
        return Err(DecryptError::TooShortForGcm { len });
    }
    let cipher = Aes256Gcm::new(key.expose().into());
    let (nonce, rest) = buffer.split_at_mut(NONCE_LEN);
    let (body, tag) = rest.split_at_mut(len - NONCE_LEN - TAG_LEN);
    let nonce = Nonce::try_from(&*nonce).map_err(|_| DecryptError::TooShortForGcm { len })?;
    let tag = Tag::try_from(&*tag).map_err(|_| DecryptError::TooShortForGcm { len })?;
    if cipher
        .decrypt_inout_detached(&nonce, b"", body.into(), &tag)
        .is_err()
    {
        buffer.zeroize();
        return Err(DecryptError::AuthenticationFailed);
    }
    buffer.truncate(len - TAG_LEN);
    buffer.drain(..NONCE_LEN);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cbc::cipher::block_padding::Pkcs7;
    use cbc::cipher::{Array, BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};

    // `cbc`'s one-shot and block calls, around the library's streaming use of it.
    type CbcEncryptor = cbc::Encryptor<aes::Aes256>;
    type CbcDecryptor = cbc::Decryptor<aes::Aes256>;

    fn unhex(text: &str) -> Vec<u8> {
        base16ct::mixed::decode_vec(text.replace(char::is_whitespace, "")).unwrap()
    }

    // NIST SP 800-38A, F.2.5 (CBC-AES256.Encrypt) and F.2.6 (CBC-AES256.Decrypt).
    const SP800_38A_KEY: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
    const SP800_38A_IV: &str = "000102030405060708090a0b0c0d0e0f";
    const SP800_38A_PLAINTEXT: &str = "6bc1bee22e409f96e93d7e117393172a
        ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef
        f69f2445df4f9b17ad2b417be66c3710";
    const SP800_38A_CIPHERTEXT: &str = "f58c4c04d6e5f1ba779eabfb5f7bfbd6
        9cfc4e967edb808d679f777bc6702c7d 39f23369a9d9bacfa530e26304231461
        b2eb05e2c39be9fcda6c19078c6a9d1b";

    fn sp800_38a() -> (Key, Iv, Vec<u8>, Vec<u8>) {
        (
            Key::try_from(&unhex(SP800_38A_KEY)[..]).unwrap(),
            Iv::try_from(&unhex(SP800_38A_IV)[..]).unwrap(),
            unhex(SP800_38A_PLAINTEXT),
            unhex(SP800_38A_CIPHERTEXT),
        )
    }

    #[test]
    fn nist_sp800_38a_f25_encrypt() {
        let (key, iv, plaintext, ciphertext) = sp800_38a();
        let out = cbc_encrypt(&key, &iv, &plaintext);
        // No-padding vector: the first 64 bytes are the published blocks, then one
        // block of PKCS7 padding (sixteen 0x10 bytes, encrypted).
        assert_eq!(out.len(), 80);
        assert_eq!(&out[..64], &ciphertext[..]);
    }

    #[test]
    fn nist_sp800_38a_f26_decrypt() {
        let (key, iv, plaintext, ciphertext) = sp800_38a();
        // Decrypt the published blocks with no padding removal, through the raw mode.
        let mut blocks = ciphertext.clone();
        let mut decryptor = CbcDecryptor::new(key.expose().into(), iv.expose().into());
        let (chunks, rest) = Array::slice_as_chunks_mut(&mut blocks);
        assert!(rest.is_empty());
        decryptor.decrypt_blocks(chunks);
        assert_eq!(blocks, plaintext);
        // And the padded form round-trips through our API.
        let mut padded = cbc_encrypt(&key, &iv, &plaintext);
        cbc_decrypt_in_place(&key, &iv, &mut padded).unwrap();
        assert_eq!(padded, plaintext);
    }

    #[test]
    fn pkcs7_lengths() {
        let key = Key::new(*b"0123456789abcdef0123456789abcdef");
        let iv = Iv::new(*b"fedcba9876543210");
        for len in [0usize, 1, 15, 16, 17, 31, 32] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let ciphertext = cbc_encrypt(&key, &iv, &plaintext);
            assert_eq!(ciphertext.len(), (len / 16 + 1) * 16, "len {len}");
            // Decrypt without unpadding and look at the padding bytes themselves.
            let mut raw = ciphertext.clone();
            let mut decryptor = CbcDecryptor::new(key.expose().into(), iv.expose().into());
            decryptor.decrypt_blocks(Array::slice_as_chunks_mut(&mut raw).0);
            let pad = 16 - len % 16;
            assert_eq!(&raw[..len], &plaintext[..]);
            assert!(raw[len..].iter().all(|&b| b as usize == pad), "len {len}");
            let mut back = ciphertext;
            cbc_decrypt_in_place(&key, &iv, &mut back).unwrap();
            assert_eq!(back, plaintext);
        }
    }

    #[test]
    fn streaming_pieces_equal_one_shot() {
        let key = Key::new([3; 32]);
        let iv = Iv::new([5; 16]);
        for len in [PIECE - 1, PIECE, PIECE + 1, 3 * PIECE, 3 * PIECE + 17] {
            let plaintext: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut pieces = Vec::new();
            cbc_encrypt_pieces::<()>(&key, &iv, &plaintext, |p| {
                assert!(p.len() <= PIECE + BLOCK_LEN && p.len() % BLOCK_LEN == 0);
                pieces.push(p.to_vec());
                Ok(())
            })
            .unwrap();
            let joined = pieces.concat();
            let expected = CbcEncryptor::new(key.expose().into(), iv.expose().into())
                .encrypt_padded_vec::<Pkcs7>(&plaintext);
            assert_eq!(joined, expected, "len {len}");
            // Every piece but the last is whole Base64 groups.
            for piece in &pieces[..pieces.len() - 1] {
                assert_eq!(piece.len(), PIECE);
            }
        }
    }

    #[test]
    fn cbc_decrypt_errors() {
        let key = Key::new([1; 32]);
        let iv = Iv::new([2; 16]);
        assert!(matches!(
            cbc_decrypt_in_place(&key, &iv, &mut Vec::new()),
            Err(DecryptError::ZeroBytes)
        ));
        assert!(matches!(
            cbc_decrypt_in_place(&key, &iv, &mut vec![0; 17]),
            Err(DecryptError::NotWholeBlocks { len: 17 })
        ));
        let mut wrong_key = cbc_encrypt(&Key::new([9; 32]), &iv, b"{\"a\":1}");
        // A wrong key gives garbage padding (with overwhelming probability for this input).
        assert!(matches!(
            cbc_decrypt_in_place(&key, &iv, &mut wrong_key),
            Err(DecryptError::BadPadding)
        ));
        assert!(wrong_key.is_empty());
    }

    #[test]
    fn gcm_round_trip_and_tamper() {
        let key = Key::new([7; 32]);
        let nonce = random_nonce().unwrap();
        let sealed = gcm_seal(&key, &nonce, b"[{\"x\":1}]").unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 9 + TAG_LEN);
        assert_eq!(&sealed[..NONCE_LEN], &nonce);
        let mut open = sealed.clone();
        gcm_open_in_place(&key, &mut open).unwrap();
        assert_eq!(open, b"[{\"x\":1}]");
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(
                matches!(
                    gcm_open_in_place(&key, &mut tampered),
                    Err(DecryptError::AuthenticationFailed)
                ),
                "byte {i}"
            );
            assert!(tampered.is_empty());
        }
        let mut short = vec![0; 27];
        assert!(matches!(
            gcm_open_in_place(&key, &mut short),
            Err(DecryptError::TooShortForGcm { len: 27 })
        ));
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(random_nonce().unwrap(), random_nonce().unwrap());
    }
}
