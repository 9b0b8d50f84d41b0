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
//! - [`upload`]: the request body and the POST to the upload API;
//! - `read_ahead` (internal): input read on a second thread.
//!
//! The `ce-crypt` binary (`src/main.rs`, `src/cli/`) maps arguments onto these.
//!
//! ```
//! use ce_crypt::codec;
//! use ce_crypt::keys::{KeyEncoding, KeyMaterial, parse_iv, parse_key};
//! use ce_crypt::method::Method;
//!
//! let keys = KeyMaterial {
//!     key: parse_key("Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU", KeyEncoding::Utf8)?,
//!     iv: Some(parse_iv("Qw5Er7Ty9Ui2Op4A", KeyEncoding::Utf8)?),
//! };
//! let payload = br#"[{"activity_name":"Page Browse"}]"#;
//! let ciphertext = codec::encrypt_to_string(Method::CbcBase64, &keys, payload)?;
//! assert_eq!(ciphertext.len() % 4, 0);
//! let plaintext = codec::decrypt_text(Method::CbcBase64, &keys, ciphertext.as_bytes())?;
//! assert_eq!(plaintext, payload);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
mod read_ahead;
pub mod secret;
pub mod text;
pub mod upload;
