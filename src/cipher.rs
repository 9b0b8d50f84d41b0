//! [`Cipher`]: one of Netcore's methods with its key (and IV), end to end from
//! payload bytes to ciphertext text and back.
//!
//! This is where [`Method`] meets the [`hazmat`](crate::hazmat) pieces: CBC
//! output is encrypted and encoded piece by piece straight into the writer;
//! decryption decodes into one buffer and decrypts it in place, releasing
//! plaintext only once padding or tag has checked out.

mod error;
mod seekable;
mod stream;

pub use error::{DecryptError, EncryptError};

use std::io::{Read, Write};
use std::thread;

use crate::hazmat::crypto;
use crate::hazmat::stream::GcmStream;
use crate::hazmat::text::{self, TextWriter};
use crate::keys::KeyError;
use crate::method::{CipherMode, Method};
use crate::payload::Check;
use crate::request::CiphertextForm;
use crate::secret::{Iv, Key};
use crate::tuning::{PIECE, THREAD_MIN};

/// A method with its key material, checked once: ready to encrypt and decrypt.
///
/// ```
/// use ce_crypt::{Cipher, Iv, Key, KeyEncoding, Method};
///
/// let key = Key::parse("Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU", KeyEncoding::Utf8)?;
/// let iv = Iv::parse("Qw5Er7Ty9Ui2Op4A", KeyEncoding::Utf8)?;
/// let cipher = Cipher::new(Method::CbcBase64, key, Some(iv))?;
/// let text = cipher.encrypt(br#"[{"activity_name":"Page Browse"}]"#)?;
/// assert_eq!(cipher.decrypt(text.as_bytes())?, br#"[{"activity_name":"Page Browse"}]"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cipher {
    pub(crate) method: Method,
    pub(crate) key: Key,
    /// Always present for CBC methods, never for GCM.
    pub(crate) iv: Option<Iv>,
}

/// How [`Cipher::encrypt_payload_to`] treats a payload: by default, checked
/// as JSON and written as bare ciphertext text.
///
/// The binary's `encrypt`: check, encrypt and wrap in one call, the check on
/// a second core where the output is a temporary file. A library caller
/// composes the same from [`payload::check_json`](crate::payload::check_json)
/// or [`events::check`](crate::events::check), [`Cipher::encrypt_to`] and
/// [`request::body`](crate::request::body).
#[derive(Debug, Clone, Default)]
pub(crate) struct EncryptOptions {
    check: Check,
    form: CiphertextForm,
    verify: bool,
    discardable_output: bool,
}

impl EncryptOptions {
    /// The defaults: a JSON check, bare ciphertext, no verification.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// What the payload must pass before anything is written.
    pub(crate) fn check(mut self, check: Check) -> Self {
        self.check = check;
        self
    }

    /// Bare ciphertext text, or a whole request body.
    pub(crate) fn form(mut self, form: CiphertextForm) -> Self {
        self.form = form;
        self
    }

    /// Decrypt the result again and compare it with the payload before writing.
    pub(crate) fn verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// Whether the caller discards the output if encryption fails (a temporary
    /// file that is only kept on success): the check may then run on a second
    /// core while encryption already writes.
    pub(crate) fn discardable_output(mut self, discardable: bool) -> Self {
        self.discardable_output = discardable;
        self
    }
}

impl Cipher {
    /// Checks the key material against the method: CBC methods need the IV;
    /// GCM draws a fresh nonce per message, so an IV given with it is unused.
    pub fn new(method: Method, key: Key, iv: Option<Iv>) -> Result<Cipher, KeyError> {
        let iv = match method.mode() {
            CipherMode::Cbc => Some(iv.ok_or(KeyError::MissingIv(method))?),
            CipherMode::Gcm => None,
        };
        Ok(Cipher { method, key, iv })
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Encrypts `payload` into ciphertext text.
    pub fn encrypt(&self, payload: &[u8]) -> Result<String, EncryptError> {
        let bytes = self.encrypt_to(payload, Vec::new())?;
        // Base64 and hex are ASCII: this never fails, and is checked, not assumed.
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// Encrypts `payload` and writes the ciphertext text (no newline) into `out`.
    pub fn encrypt_to<W: Write>(&self, payload: &[u8], out: W) -> Result<W, EncryptError> {
        let mut writer = TextWriter::new(out, self.method.encoding());
        match &self.iv {
            Some(iv) => {
                crypto::cbc_encrypt_pieces(&self.key, iv, payload, |piece| {
                    writer.write_bytes(piece)
                })
                .map_err(EncryptError::Write)?;
            }
            None => {
                // In pieces through one small buffer: no copy of the whole payload.
                let nonce = crypto::random_nonce()?;
                let mut gcm = GcmStream::new(&self.key, &nonce);
                writer.write_bytes(&nonce).map_err(EncryptError::Write)?;
                let mut piece = Vec::with_capacity(payload.len().min(PIECE));
                for chunk in payload.chunks(PIECE) {
                    piece.clear();
                    piece.extend_from_slice(chunk);
                    gcm.encrypt(&mut piece)?;
                    writer.write_bytes(&piece).map_err(EncryptError::Write)?;
                }
                writer
                    .write_bytes(&gcm.tag())
                    .map_err(EncryptError::Write)?;
            }
        }
        writer.finish().map_err(EncryptError::Write)
    }

    /// Checks, encrypts and writes one payload as `options` say, in its
    /// [`CiphertextForm`] (no newline).
    ///
    /// Nothing reaches `out` before the check has passed, unless
    /// `options.discardable_output` allows the check to overlap encryption; with
    /// `options.verify`, nothing reaches it before the ciphertext has been
    /// decrypted again and compared. Warnings of the event checks do not stop
    /// it and are not returned: run [`crate::events::check`] first to see them.
    pub(crate) fn encrypt_payload_to<W: Write>(
        &self,
        payload: Vec<u8>,
        options: &EncryptOptions,
        mut out: W,
    ) -> Result<W, EncryptError> {
        let form = options.form;
        let write = |out: &mut W, text: &str| out.write_all(text.as_bytes());
        if options.verify {
            options.check.run(&payload)?;
            let text = self.encrypt(&payload)?;
            if self.decrypt(text.as_bytes()).ok().as_deref() != Some(&payload[..]) {
                return Err(EncryptError::VerificationFailed);
            }
            [form.prefix(), &text, form.suffix()]
                .into_iter()
                .try_for_each(|part| write(&mut out, part))
                .map_err(EncryptError::Write)?;
            return Ok(out);
        }
        let overlap = options.discardable_output
            && options.check != Check::None
            && self.iv.is_some()
            && payload.len() as u64 >= THREAD_MIN;
        if overlap {
            // Two cores: check and encrypt at once; the caller drops the output
            // unless both succeed.
            write(&mut out, form.prefix()).map_err(EncryptError::Write)?;
            out = thread::scope(|scope| {
                let checker = scope.spawn(|| options.check.run(&payload));
                let encrypted = self.encrypt_to(&payload, out);
                let checked = checker.join().unwrap_or_else(|panic| {
                    // The check does not panic; if it ever did, let it surface.
                    std::panic::resume_unwind(panic)
                });
                checked?;
                encrypted
            })?;
        } else {
            options.check.run(&payload)?;
            write(&mut out, form.prefix()).map_err(EncryptError::Write)?;
            out = self.encrypt_to(&payload, out)?;
        }
        write(&mut out, form.suffix()).map_err(EncryptError::Write)?;
        Ok(out)
    }

    /// Decrypts ciphertext text held in memory (ASCII whitespace anywhere is ignored).
    pub fn decrypt(&self, text: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let buffer = text::decode(text, self.method.encoding())?;
        self.open(buffer)
    }

    /// Decrypts ciphertext text read from `reader` (`size_hint`: its length, if known).
    pub(crate) fn decrypt_reader<R: Read>(
        &self,
        reader: R,
        size_hint: Option<u64>,
    ) -> Result<Vec<u8>, DecryptError> {
        let buffer = text::decode_reader(reader, self.method.encoding(), size_hint)?;
        self.open(buffer)
    }

    /// Decrypts decoded ciphertext bytes in place.
    fn open(&self, mut buffer: Vec<u8>) -> Result<Vec<u8>, DecryptError> {
        match &self.iv {
            Some(iv) => crypto::cbc_decrypt_in_place(&self.key, iv, &mut buffer)?,
            None => crypto::gcm_open_in_place(&self.key, &mut buffer)?,
        }
        Ok(buffer)
    }
}

/// Whether a CBC plaintext shows the classic wrong-IV signature: its first
/// 16-byte block is not text (invalid UTF-8, or control characters) while
/// everything after it is.
///
/// In CBC the IV only enters the first block, so a wrong IV garbles exactly
/// those 16 bytes and leaves the rest correct. A caller can warn on this; it
/// says nothing about binary plaintexts, which fail the second test too.
pub(crate) fn looks_like_wrong_iv(plaintext: &[u8]) -> bool {
    const BLOCK: usize = 16;
    let is_text = |bytes: &[u8]| {
        std::str::from_utf8(bytes)
            .is_ok_and(|text| !text.chars().any(|c| c.is_control() && !c.is_whitespace()))
    };
    if plaintext.len() <= BLOCK || is_text(&plaintext[..BLOCK]) {
        return false;
    }
    // The second block may begin inside a character the first one garbled.
    let rest = &plaintext[BLOCK..];
    let skip = rest
        .iter()
        .take(3)
        .take_while(|&&b| b & 0xC0 == 0x80)
        .count();
    is_text(&rest[skip..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::TextEncoding;
    use std::io;

    /// A cipher of `method` with a fixed test key and IV (also for `stream`'s tests).
    pub(super) fn cipher(method: Method) -> Cipher {
        Cipher::new(
            method,
            Key::new(*b"abcdefghijklmnopqrstuvwxyz012345"),
            Some(Iv::new(*b"ABCDEFGHIJKLMNOP")),
        )
        .unwrap()
    }

    #[test]
    fn every_method_round_trips() {
        for method in Method::ALL {
            for len in [0, 1, 15, 16, 17, 100_000] {
                let payload: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
                let text = cipher(method).encrypt(&payload).unwrap();
                let back = cipher(method).decrypt(text.as_bytes()).unwrap();
                assert_eq!(back, payload, "{method} len {len}");
                let read = cipher(method)
                    .decrypt_reader(text.as_bytes(), None)
                    .unwrap();
                assert_eq!(read, payload, "{method} len {len}");
            }
        }
    }

    #[test]
    fn cbc_hex_and_base64_carry_the_same_bytes() {
        let payload = br#"[{"activity_name":"x"}]"#;
        let b64 = cipher(Method::CbcBase64).encrypt(payload).unwrap();
        let hex = cipher(Method::CbcHex).encrypt(payload).unwrap();
        assert_eq!(
            text::decode(b64.as_bytes(), TextEncoding::Base64).unwrap(),
            text::decode(hex.as_bytes(), TextEncoding::Hex).unwrap()
        );
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }

    #[test]
    fn cbc_needs_an_iv_and_gcm_does_not() {
        let key = || Key::new([4; 32]);
        for method in [Method::CbcBase64, Method::CbcHex] {
            assert_eq!(
                Cipher::new(method, key(), None).unwrap_err(),
                KeyError::MissingIv(method)
            );
        }
        let gcm = Cipher::new(Method::GcmBase64, key(), None).unwrap();
        let text = gcm.encrypt(b"{}").unwrap();
        assert_eq!(gcm.decrypt(text.as_bytes()).unwrap(), b"{}");
        // An IV given with GCM plays no part.
        let with_iv = Cipher::new(Method::GcmBase64, key(), Some(Iv::new([1; 16]))).unwrap();
        assert_eq!(with_iv.decrypt(text.as_bytes()).unwrap(), b"{}");
    }

    #[test]
    fn gcm_encryptions_differ() {
        let gcm = cipher(Method::GcmBase64);
        assert_ne!(gcm.encrypt(b"{}").unwrap(), gcm.encrypt(b"{}").unwrap());
    }

    /// A JSON array of `len` bytes or a little more.
    fn json_of_len(len: usize) -> Vec<u8> {
        format!("[\"{}\"]", "x".repeat(len)).into_bytes()
    }

    #[test]
    fn payload_options_check_wrap_and_verify() {
        for method in Method::ALL {
            let cipher = cipher(method);
            for len in [10, THREAD_MIN as usize + 5] {
                for (verify, discardable_output) in [(false, false), (false, true), (true, false)] {
                    let options = EncryptOptions::new()
                        .form(CiphertextForm::RequestBody)
                        .verify(verify)
                        .discardable_output(discardable_output);
                    let payload = json_of_len(len);
                    let body = cipher
                        .encrypt_payload_to(payload.clone(), &options, Vec::new())
                        .unwrap();
                    let text = crate::request::ciphertext_of(&body).unwrap();
                    assert_eq!(cipher.decrypt(&text).unwrap(), payload, "{method} {len}");

                    let mut bad = payload.clone();
                    bad.pop(); // no longer JSON
                    let mut out = Vec::new();
                    let err = cipher
                        .encrypt_payload_to(bad, &options, &mut out)
                        .unwrap_err();
                    assert!(matches!(err, EncryptError::Check(_)), "{err}");
                    // Only an output the caller discards may have been written to.
                    let overlapped = discardable_output
                        && len > THREAD_MIN as usize
                        && method.mode() == CipherMode::Cbc;
                    assert_eq!(out.is_empty(), !overlapped, "{method} {len}");
                }
            }
        }
    }

    #[test]
    fn write_errors_keep_their_cause_once() {
        #[derive(Debug)]
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = cipher(Method::CbcBase64)
            .encrypt_to(b"[1]", Full)
            .unwrap_err();
        assert_eq!(err.to_string(), "could not write the ciphertext");
        let source = std::error::Error::source(&err).unwrap();
        assert_eq!(source.to_string(), "full");
        assert!(std::error::Error::source(source).is_none());
    }

    #[test]
    fn wrong_iv_signature_is_a_garbled_first_block_only() {
        let good = br#"[{"activity_name":"Page Browse","x":1}]"#;
        assert!(!looks_like_wrong_iv(good));
        let mut garbled = good.to_vec();
        garbled[..16].copy_from_slice(&[0xff; 16]);
        assert!(looks_like_wrong_iv(&garbled));
        garbled[20] = 0xff; // the rest broken too: binary, or a wrong key
        assert!(!looks_like_wrong_iv(&garbled));
        assert!(!looks_like_wrong_iv(&[0xff; 16]));
        // An ASCII IV mistaken for another garbles into control characters.
        let mut ascii = good.to_vec();
        ascii[3] = 0x01;
        assert!(looks_like_wrong_iv(&ascii));
    }
}
