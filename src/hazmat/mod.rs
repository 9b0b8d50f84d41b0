//! The pieces under [`Cipher`](crate::Cipher), for those who know why they
//! need them (test vectors, another program's format): AES-256 over whole
//! messages in Netcore's layout ([`cbc_encrypt`], [`cbc_decrypt_in_place`],
//! [`gcm_seal`], [`gcm_open_in_place`]), and ciphertext as Base64 or hex
//! text ([`encode_to_string`], [`decode`]). They fail with the
//! [`EncryptError`](crate::EncryptError) and
//! [`DecryptError`](crate::DecryptError) that `Cipher` returns.
//!
//! **Use [`Cipher`](crate::Cipher) unless you know why you need these**: it
//! checks the key material once, always draws a fresh GCM nonce, and never
//! releases plaintext whose padding or tag has not checked out. These do
//! what they are told. The streams `Cipher` is built on (CBC chained across
//! pieces, GCM assembled from RustCrypto's `ctr` and `ghash`) stay inside
//! the crate: a stream releases plaintext before its tag is checked, which
//! only `Cipher`'s own discipline makes safe.
//!
//! # What CBC as Netcore uses it does not give you
//! Methods 11256 and 11257 use AES-256-CBC with the account's *fixed* IV. That
//! makes them deterministic: the same payload always gives the same ciphertext,
//! and payloads that begin with the same 16-byte blocks give ciphertexts that
//! begin alike, so an observer learns which payloads are equal or share a
//! prefix. CBC is also unauthenticated: whoever can change the ciphertext can
//! change the plaintext in predictable ways, and a service that reports padding
//! errors becomes an oracle that decrypts for an attacker. Use CBC because the
//! API asks for it, over TLS only; prefer method 11258 (AES-256-GCM) where the
//! account allows it.
//!
//! # GCM nonces
//! [`gcm_seal`] takes the nonce from its caller, for test vectors and
//! interoperability tests. A nonce used twice with one key
//! reveals the XOR of the two plaintexts and lets an attacker forge
//! messages: draw every nonce with [`random_nonce`], as
//! [`Cipher`](crate::Cipher) does.

pub(crate) mod crypto;
pub(crate) mod stream;
pub(crate) mod text;

pub use crypto::{
    BLOCK_LEN, NONCE_LEN, TAG_LEN, cbc_decrypt_in_place, cbc_encrypt, gcm_open_in_place, gcm_seal,
    random_nonce,
};
pub use text::{decode, encode_to_string};
