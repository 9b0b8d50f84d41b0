//! Low-level pieces under [`Cipher`](crate::Cipher): AES-256 over bytes (whole,
//! in [`crypto`], or in pieces, in [`stream`]), and ciphertext as Base64 or
//! hex text.
//!
//! Use [`Cipher`](crate::Cipher) unless you know why you need these: it checks
//! the key material once, always draws a fresh GCM nonce, and never releases
//! plaintext whose padding or tag has not checked out.
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
//! [`crypto::gcm_seal`] takes the nonce from its caller, for test vectors and
//! interoperability tests. A nonce used twice with one key reveals the XOR of
//! the two plaintexts and lets an attacker forge messages: draw every nonce
//! with [`crypto::random_nonce`], as [`Cipher`](crate::Cipher) does.

pub use crate::tuning::PIECE;

pub mod crypto;
pub mod stream;
pub mod text;
