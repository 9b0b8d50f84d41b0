//! AES-256-GCM from ring (BoringSSL's code, in the tree through rustls), an
//! implementation independent of ce-crypt's (RustCrypto's `aes-gcm`), for
//! checking the GCM method's wire format both ways: Base64 of nonce (12
//! bytes) ‖ ciphertext ‖ tag (16 bytes), no associated data.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

fn key(key: &str) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key.as_bytes()).expect("a 32-byte key"))
}

/// Opens the Base64 text (surrounding whitespace allowed); panics, failing the
/// test, if it is not well formed or its tag does not check.
pub fn open(key_text: &str, text: &str) -> Vec<u8> {
    let raw = super::base64_decode(text.trim());
    assert!(
        raw.len() >= NONCE_LEN + 16,
        "{} bytes: too short",
        raw.len()
    );
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).unwrap();
    let mut in_out = sealed.to_vec();
    let plain = key(key_text)
        .open_in_place(nonce, Aad::empty(), &mut in_out)
        .expect("ring: the GCM tag does not check");
    plain.to_vec()
}

/// Seals `payload` under a fresh random nonce, as Base64 text.
pub fn seal(key_text: &str, payload: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).unwrap();
    let mut in_out = payload.to_vec();
    key(key_text)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut in_out,
        )
        .unwrap();
    super::base64_encode(&[&nonce[..], &in_out].concat())
}
