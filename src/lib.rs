//! ce-crypt: encrypt event payloads for Netcore Customer Engagement.
//!
//! The library holds all logic, over bytes and with no terminal I/O:
//! - [`method`]: the three Netcore methods and their API codes;
//! - [`crypto`]: AES-256-CBC/PKCS7 and AES-256-GCM over bytes;
//! - [`text`]: ciphertext as Base64 or hex text, streamed;
//! - [`secret`]: zeroizing, redacted containers for keys;
//!
//! The `ce-crypt` binary (`src/main.rs`, `src/cli/`) maps arguments onto these.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod batch;
pub mod codec;
pub mod crypto;
pub mod keygen;
pub mod keys;
pub mod method;
pub mod payload;
pub mod secret;
pub mod text;
