//! ce-crypt: encrypt event payloads for Netcore Customer Engagement.
//!
//! A [`Cipher`] is one of Netcore's three [`Method`]s with the account's
//! [`Key`] (and, for CBC, its [`Iv`]); it encrypts payload bytes into the
//! Base64 or hex text the upload API takes, byte for byte as Netcore's
//! reference scripts do, and decrypts them again.
//!
//! ```
//! use ce_crypt::{Cipher, Iv, Key, KeyEncoding, Method};
//!
//! let key = Key::parse("Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU", KeyEncoding::Utf8)?;
//! let iv = Iv::parse("Qw5Er7Ty9Ui2Op4A", KeyEncoding::Utf8)?;
//! let cipher = Cipher::new(Method::CbcBase64, key, Some(iv))?;
//!
//! let payload = br#"[{"activity_name":"Page Browse"}]"#;
//! let ciphertext = cipher.encrypt(payload)?;
//! let body = ce_crypt::request::body(&ciphertext); // {"encryptedRequest":"…"}
//! assert!(body.starts_with(r#"{"encryptedRequest":""#));
//! assert_eq!(cipher.decrypt(ciphertext.as_bytes())?, payload);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is where
//! - The root holds what the example above needs: [`Cipher`], [`Method`],
//!   [`Key`] and [`Iv`], and the errors of each concern: [`KeyError`] (key
//!   material: a key or IV string, a key file, a CBC method without its
//!   IV), [`EncryptError`] and [`DecryptError`]. Each error is an enum whose
//!   variants are the kinds a caller matches on
//!   (`DecryptError::BadPadding`), with the I/O error behind one as its
//!   `source()`; no message holds a key, an IV or an API key.
//! - [`Cipher::encrypt_stream`], [`Cipher::decrypt_stream`]: payloads of any
//!   size in a few MiB of memory, on several cores;
//! - [`keys`]: key strings, key files and new keys;
//! - [`request`]: the upload API's request body, made and taken apart;
//! - [`payload`], [`events`]: the JSON and event checks a payload can be held to
//!   (the JSON check also for a payload read in pieces);
//! - [`pretty`]: re-indenting a JSON plaintext for reading, streamed;
//! - [`lines`]: one payload or ciphertext per input line, streamed;
//! - [`upload`] (feature `send`): the HTTP client for the upload API, and
//!   [`upload::bulk`] for any number of events, batched, retried and journaled;
//! - [`hazmat`]: AES-256 and the text encodings on their own, for those who
//!   know why they need them.
//!
//! # Features
//! `send` (the upload client: ureq and rustls) and `cli` (the `ce-crypt`
//! binary) are on by default; `default-features = false` leaves the
//! cryptography and the checks alone.
//!
//! # The binary
//! The `ce-crypt` command is this crate's `cli` module (feature `cli`),
//! which a five-line `main.rs` calls. It turns arguments into library calls
//! and adds advice (flag names) to errors; no other module uses it, and the
//! build without default features, which leaves it out, proves that. Living
//! in the same crate lets what only the binary needs (tuning numbers, the
//! dry run's curl script, the rules for creating files, proxy selection from
//! the environment) stay `pub(crate)`: the public API is what a program
//! calling ce-crypt needs, not what the binary happens to use.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// What only the binary uses is dead code in a build without it; the default
// build, which has it, still finds what nothing uses.
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

// The command line names the library as its callers do (`use ce_crypt::…`).
extern crate self as ce_crypt;

mod cipher;
#[cfg(feature = "cli")]
pub mod cli;
pub mod events;
mod files;
pub mod hazmat;
mod json_stream;
pub mod keys;
pub mod lines;
mod method;
pub mod payload;
mod pipeline;
pub mod pretty;
mod read;
pub mod request;
mod secret;
mod tuning;
#[cfg(feature = "send")]
pub mod upload;

pub use cipher::{Cipher, DecryptError, EncryptError};
pub use events::{EventCheckError, EventRules};
pub use keys::{KeyEncoding, KeyError};
pub use lines::{LineError, LinesError};
pub use method::{CipherMode, Method, TextEncoding, UnknownMethod};
pub use payload::{Check, JsonError, JsonErrorKind};
pub use request::NotARequestBody;
pub use secret::{Iv, Key, SecretBytes, SecretString};
#[cfg(feature = "send")]
pub use upload::{Client, UploadError};
