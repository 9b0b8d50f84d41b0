//! ce-crypt: encrypt event payloads for Netcore Customer Engagement.
//!
//! The library holds all logic, over bytes and with no terminal I/O:
//! - [`method`]: the three Netcore methods and their API codes;
//! - [`crypto`]: AES-256-CBC/PKCS7 and AES-256-GCM over bytes;
//! - [`text`]: ciphertext as Base64 or hex text, streamed;
//! - [`secret`]: zeroizing, redacted containers for keys;
//! - [`keys`], [`keygen`]: key strings to bytes, key files, new keys;
//! - [`payload`], [`events`]: JSON and event checks before encrypting;
//! - [`codec`], [`batch`]: a method end to end, one payload or one per line;
//! - [`upload`]: the request body and the POST to the upload API.
//!
//! The `ce-crypt` binary (`src/main.rs`, `src/cli/`) maps arguments onto these.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod batch;
pub mod codec;
pub mod crypto;
pub mod events;
pub mod keygen;
pub mod keys;
pub mod method;
pub mod payload;
pub mod secret;
pub mod text;
pub mod upload;
