//! [`Cipher`] over readers and writers of any length, in memory of fixed size.
//!
//! Encryption reads a piece while the one before it is encrypted and the one
//! before that encoded and written; decryption reads, decodes and decrypts,
//! and writes, likewise, in pieces of [`PIECE`] bytes. A message below
//! [`THREAD_MIN`] bytes stays on the calling thread.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Cipher, DecryptError, EncryptError};
use crate::hazmat::crypto::{self, BLOCK_LEN, NONCE_LEN, TAG_LEN};
use crate::hazmat::stream::{CbcDecryptStream, CbcEncryptStream, GcmStream};
use crate::hazmat::text::{TextDecoder, TextWriter};
use crate::pipeline::{self, Buffer};
use crate::read::read_some;
use crate::secret::Iv;
use crate::tuning::{PIECE, READ_MIN_ROOM, THREAD_MIN};

/// Whether a stream of `size_hint` bytes is worth a second thread: from
/// [`THREAD_MIN`] on, or of unknown length.
fn parallel(size_hint: Option<u64>) -> bool {
    size_hint.is_none_or(|size| size >= THREAD_MIN)
}

/// Fills `buffer` from `reader` up to `len` bytes; fewer only at the end.
fn read_full(reader: &mut impl Read, buffer: &mut Buffer, len: usize) -> io::Result<()> {
    let start = buffer.len();
    buffer.resize(start + len, 0);
    let mut filled = start;
    while filled < buffer.len() {
        match read_some(reader, &mut buffer[filled..])? {
            Some(n) => filled += n,
            None => break,
        }
    }
    buffer.truncate(filled);
    Ok(())
}

/// CBC or GCM state for one message being encrypted.
// One per stream, made once and never moved in a loop: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Sealer {
    Cbc(CbcEncryptStream),
    Gcm(GcmStream, [u8; NONCE_LEN]),
}

impl Cipher {
    /// Encrypts everything `reader` gives and writes the ciphertext text (no
    /// newline) into `out`, a fixed-size piece at a time.
    ///
    /// `size_hint` is the payload's length if known: from 1 MiB (or when
    /// unknown), encryption runs on a second thread while this one reads the
    /// next piece and encodes and writes the one before. The payload is not checked: check it first (for example
    /// with [`crate::payload::check_json_reader`]) or beside it, into an
    /// output that is dropped unless the check passes.
    pub fn encrypt_stream<R: Read + Send, W: Write + Send>(
        &self,
        mut reader: R,
        size_hint: Option<u64>,
        out: W,
    ) -> Result<W, EncryptError> {
        let sealer = match &self.iv {
            Some(iv) => Sealer::Cbc(CbcEncryptStream::new(&self.key, iv)),
            None => {
                let nonce = crypto::random_nonce()?;
                Sealer::Gcm(GcmStream::new(&self.key, &nonce), nonce)
            }
        };
        let mut writer = TextWriter::new(out, self.method.encoding());
        let nonce = match &sealer {
            Sealer::Gcm(_, nonce) => Some(*nonce),
            Sealer::Cbc(_) => None,
        };
        // GCM's first buffer starts with the nonce; the payload follows.
        let (mut first_read, mut first_sealed) = (true, true);
        let mut sealer = Some(sealer);
        pipeline::run(
            parallel(size_hint),
            PIECE + NONCE_LEN + TAG_LEN,
            |buffer| {
                if let (true, Some(nonce)) = (first_read, &nonce) {
                    buffer.extend_from_slice(nonce);
                }
                let start = buffer.len();
                first_read = false;
                read_full(&mut reader, buffer, PIECE).map_err(EncryptError::Read)?;
                Ok(buffer.len() - start == PIECE)
            },
            |buffer| {
                let start = if first_sealed {
                    nonce.map_or(0, |n| n.len())
                } else {
                    0
                };
                first_sealed = false;
                // A short piece is the last one (an empty one, if the payload
                // is a whole number of pieces).
                let last = buffer.len() - start < PIECE;
                match (sealer.as_mut(), last) {
                    (Some(Sealer::Cbc(cbc)), false) => cbc.encrypt_blocks(&mut buffer[start..]),
                    (Some(Sealer::Gcm(gcm, _)), false) => gcm.encrypt(&mut buffer[start..])?,
                    (Some(_), true) => match sealer.take() {
                        Some(Sealer::Cbc(cbc)) => cbc.finish_in(buffer, start),
                        Some(Sealer::Gcm(mut gcm, _)) => {
                            gcm.encrypt(&mut buffer[start..])?;
                            buffer.extend_from_slice(&gcm.tag());
                        }
                        None => {}
                    },
                    (None, _) => {}
                }
                Ok(())
            },
            |buffer| writer.write_bytes(buffer).map_err(EncryptError::Write),
        )?;
        writer.finish().map_err(EncryptError::Write)
    }

    /// Decrypts the ciphertext text `reader` gives (ASCII whitespace anywhere
    /// is ignored) and writes the plaintext into `out`, a piece at a time.
    ///
    /// **Plaintext reaches `out` before the padding or the tag has been
    /// checked**, which happens at the end: on an error, the caller must
    /// discard everything written (write into a temporary file, or into
    /// [`io::sink`] for a first pass that only checks). `size_hint` is the
    /// text's length if known, as for [`Cipher::encrypt_stream`].
    pub fn decrypt_stream<R: Read + Send, W: Write + Send>(
        &self,
        reader: R,
        size_hint: Option<u64>,
        mut out: W,
    ) -> Result<W, DecryptError> {
        self.open_stream(reader, size_hint, Some(&mut out))?;
        Ok(out)
    }

    /// Checks the ciphertext text `reader` gives as [`Cipher::decrypt_stream`]
    /// would (its text, its length, then CBC's padding or GCM's tag) without
    /// producing the plaintext: CBC decrypts its last block only, GCM only
    /// hashes. A first pass before plaintext may be released where it cannot
    /// be taken back.
    pub(crate) fn check_ciphertext_stream<R: Read + Send>(
        &self,
        reader: R,
        size_hint: Option<u64>,
    ) -> Result<(), DecryptError> {
        self.open_stream(reader, size_hint, None::<&mut io::Sink>)
    }

    /// Decrypts into `out`, or with none only checks.
    ///
    /// The calling thread reads the text and, decrypting, writes the
    /// plaintext; the second thread decodes the text and decrypts it, or,
    /// checking, only decodes it while the calling thread checks.
    fn open_stream<R: Read + Send, W: Write + Send>(
        &self,
        mut reader: R,
        size_hint: Option<u64>,
        out: Option<&mut W>,
    ) -> Result<(), DecryptError> {
        let mut first = TextDecoder::new(self.method.encoding(), 0);
        // Every buffer handed on starts with the room; see `decode_into`.
        first.output().resize(HELD_ROOM, 0);
        let mut decoder = Some(first);
        let mut opener = Opener::new(self, out.is_none());
        let capacity = (HELD_ROOM + PIECE + 64).max(TEXT_PIECE);
        // One read a piece, so that text coming slowly is decrypted as it
        // comes; an empty buffer marks the end. The room read into is
        // zeroed first, twice as much as the last read gave, so that short
        // reads (a pipe, a socket) do not pay for zeroing a whole piece.
        // A failed read ends the text too, with `cut` set, and is told
        // after what the text read before it comes to: a problem there lies
        // earlier in the stream.
        let mut read_failed = None;
        let cut = AtomicBool::new(false);
        let mut room = TEXT_PIECE;
        let read_text = |buffer: &mut Buffer| {
            buffer.resize(room, 0);
            let read = read_some(&mut reader, &mut buffer[..]).unwrap_or_else(|error| {
                read_failed = Some(error);
                cut.store(true, Ordering::Relaxed);
                None
            });
            buffer.truncate(read.unwrap_or(0));
            room = read
                .unwrap_or(0)
                .saturating_mul(2)
                .clamp(READ_MIN_ROOM, TEXT_PIECE);
            Ok(read.is_some())
        };
        let mut text = Vec::with_capacity(TEXT_PIECE);
        let mut decode = |buffer: &mut Buffer| {
            std::mem::swap(&mut text, &mut **buffer);
            if text.is_empty() && cut.load(Ordering::Relaxed) {
                // Cut short by a failed read: there is no end to judge.
                buffer.clear();
                return Ok(());
            }
            decode_into(
                &mut decoder,
                (!text.is_empty()).then_some(&text[..]),
                buffer,
            )
        };
        let mut out = out;
        match out.as_deref_mut() {
            Some(out) => pipeline::run(
                parallel(size_hint),
                capacity,
                read_text,
                |buffer| {
                    decode(buffer)?;
                    opener.open(buffer)
                },
                |buffer| {
                    let written = out.write_all(buffer).map_err(DecryptError::Write);
                    // Plaintext: wiped before the buffer goes round again.
                    zeroize::Zeroize::zeroize(&mut buffer[..]);
                    written
                },
            )?,
            None => pipeline::run(parallel(size_hint), capacity, read_text, decode, |buffer| {
                opener.open(buffer)
            })?,
        }
        if let Some(error) = read_failed {
            return Err(DecryptError::Read(error));
        }
        let mut rest = opener.finish()?;
        let written = match out {
            Some(out) => out.write_all(&rest).map_err(DecryptError::Write),
            None => Ok(()),
        };
        zeroize::Zeroize::zeroize(&mut rest);
        written
    }
}

/// Room kept at the front of every buffer of ciphertext for the 16 bytes
/// [`Opener`] held back from the buffer before, so that they join it
/// without moving it.
const HELD_ROOM: usize = BLOCK_LEN;
/// Text read at a time when decrypting: one piece's worth of Base64.
const TEXT_PIECE: usize = PIECE * 4 / 3;

/// Decodes `text` (or, with none, finishes) and leaves in `buffer`
/// [`HELD_ROOM`] bytes of room and then the bytes decoded so far in whole
/// 48-byte groups; the rest waits in `decoder` for more text.
fn decode_into(
    decoder: &mut Option<TextDecoder>,
    text: Option<&[u8]>,
    buffer: &mut Buffer,
) -> Result<(), DecryptError> {
    buffer.clear();
    let Some(text) = text else {
        let Some(mut last) = decoder.take() else {
            return Ok(());
        };
        // Room alone is taken out, so that the decoder can tell there was no text.
        if last.output().len() == HELD_ROOM {
            last.output().clear();
            buffer.resize(HELD_ROOM, 0);
        }
        buffer.extend_from_slice(&last.finish()?);
        return Ok(());
    };
    let Some(active) = decoder.as_mut() else {
        return Ok(());
    };
    active.push(text)?;
    // The decoder's output starts with the room: it becomes the buffer, and
    // the buffer's allocation the decoder's next output.
    std::mem::swap(&mut **buffer, active.output());
    let whole = buffer.len() - (buffer.len() - HELD_ROOM) % 48;
    active.output().resize(HELD_ROOM, 0);
    active.output().extend_from_slice(&buffer[whole..]);
    buffer.truncate(whole);
    Ok(())
}

/// CBC or GCM state for one ciphertext being decrypted, with the bytes held
/// back that only the end can tell about: CBC's last block, GCM's tag.
struct Opener {
    state: OpenerState,
    /// The last 16 bytes seen (or fewer, at the start).
    held: [u8; BLOCK_LEN],
    held_len: usize,
    /// Ciphertext bytes seen in all, nonce and tag included.
    seen: u64,
    /// CBC only: a piece that was not whole blocks was seen.
    broken: bool,
}

// One per stream, made once and never moved in a loop: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum OpenerState {
    Cbc(CbcDecryptStream),
    /// Checking only: the ciphertext block before the held last one is its IV.
    CbcCheck {
        key: crate::secret::Key,
        iv: Iv,
        before_last: Option<[u8; BLOCK_LEN]>,
    },
    /// The nonce is gathered first; the stream starts once it is whole.
    Gcm {
        key: crate::secret::Key,
        nonce: [u8; NONCE_LEN],
        stream: Option<GcmStream>,
        /// Hash only, for a pass that checks the tag.
        check_only: bool,
    },
}

impl Opener {
    fn new(cipher: &Cipher, check_only: bool) -> Self {
        let state = match &cipher.iv {
            Some(iv) if check_only => OpenerState::CbcCheck {
                key: cipher.key.clone(),
                iv: iv.clone(),
                before_last: None,
            },
            Some(iv) => OpenerState::Cbc(CbcDecryptStream::new(&cipher.key, iv)),
            None => OpenerState::Gcm {
                key: cipher.key.clone(),
                nonce: [0; NONCE_LEN],
                stream: None,
                check_only,
            },
        };
        Self {
            state,
            held: [0; BLOCK_LEN],
            held_len: 0,
            seen: 0,
            broken: false,
        }
    }

    /// Takes the next piece of ciphertext, after [`HELD_ROOM`] bytes of
    /// room at the front of `buffer`, and leaves in `buffer` the plaintext
    /// of all but the last 16 bytes seen so far, which are held back.
    fn open(&mut self, buffer: &mut Buffer) -> Result<(), DecryptError> {
        if buffer.len() < HELD_ROOM {
            // Nothing came after the end of the text.
            buffer.clear();
            return Ok(());
        }
        self.take_nonce(buffer);
        self.seen += (buffer.len() - HELD_ROOM) as u64;
        // The bytes held back from before go into the room; at the start
        // there are fewer of them, and the room left over goes.
        let unused = HELD_ROOM - self.held_len;
        buffer[unused..HELD_ROOM].copy_from_slice(&self.held[..self.held_len]);
        buffer.drain(..unused);
        let keep = buffer.len().min(BLOCK_LEN);
        let split = buffer.len() - keep;
        self.held[..keep].copy_from_slice(&buffer[split..]);
        self.held_len = keep;
        buffer.truncate(split);
        match &mut self.state {
            OpenerState::Cbc(cbc) => {
                if !buffer.len().is_multiple_of(BLOCK_LEN) || self.broken {
                    // Not whole blocks: the end reports the length; nothing more is written.
                    self.broken = true;
                    buffer.clear();
                } else {
                    cbc.decrypt_blocks(buffer);
                }
            }
            OpenerState::CbcCheck { before_last, .. } => {
                if !buffer.len().is_multiple_of(BLOCK_LEN) {
                    self.broken = true;
                } else if let Some(last) = buffer.last_chunk::<BLOCK_LEN>() {
                    *before_last = Some(*last);
                }
                buffer.clear();
            }
            OpenerState::Gcm {
                stream, check_only, ..
            } => match stream {
                Some(gcm) if *check_only => {
                    gcm.authenticate(buffer)?;
                    buffer.clear();
                }
                Some(gcm) => gcm.decrypt(buffer)?,
                None => buffer.clear(),
            },
        }
        Ok(())
    }

    /// GCM's first 12 bytes are the nonce: gathers them (off the front of
    /// `buffer`) and starts the stream once they are all there.
    fn take_nonce(&mut self, buffer: &mut Buffer) {
        let OpenerState::Gcm {
            key, nonce, stream, ..
        } = &mut self.state
        else {
            return;
        };
        if stream.is_some() {
            return;
        }
        let have = usize::try_from(self.seen)
            .unwrap_or(NONCE_LEN)
            .min(NONCE_LEN);
        let take = (NONCE_LEN - have).min(buffer.len() - HELD_ROOM);
        nonce[have..have + take].copy_from_slice(&buffer[HELD_ROOM..HELD_ROOM + take]);
        buffer.drain(HELD_ROOM..HELD_ROOM + take);
        self.seen += take as u64;
        if have + take == NONCE_LEN {
            *stream = Some(GcmStream::new(key, nonce));
        }
    }

    /// Checks the end: CBC's padding, GCM's tag. Returns the last plaintext bytes.
    fn finish(self) -> Result<Vec<u8>, DecryptError> {
        let len = usize::try_from(self.seen).unwrap_or(usize::MAX);
        if matches!(
            self.state,
            OpenerState::Cbc(_) | OpenerState::CbcCheck { .. }
        ) {
            if len == 0 {
                return Err(DecryptError::ZeroBytes);
            }
            if self.broken || !len.is_multiple_of(BLOCK_LEN) {
                return Err(DecryptError::NotWholeBlocks { len });
            }
        }
        match self.state {
            OpenerState::Cbc(cbc) => Ok(cbc.finish(&self.held)?),
            OpenerState::CbcCheck {
                key,
                iv,
                before_last,
            } => {
                check_cbc_end(&key, &iv, before_last, &self.held)?;
                Ok(Vec::new())
            }
            OpenerState::Gcm { stream, .. } => match stream {
                Some(gcm) if self.held_len == TAG_LEN => {
                    gcm.verify(&self.held)?;
                    Ok(Vec::new())
                }
                _ => Err(DecryptError::TooShortForGcm { len }),
            },
        }
    }
}

/// Checks the padding of a CBC ciphertext's `last` block, given the block
/// before it (its IV, in CBC) or, if it is the only one, the message's `iv`.
pub(super) fn check_cbc_end(
    key: &crate::secret::Key,
    iv: &Iv,
    before_last: Option<[u8; BLOCK_LEN]>,
    last: &[u8; BLOCK_LEN],
) -> Result<(), DecryptError> {
    let iv = before_last.map_or_else(|| iv.clone(), Iv::new);
    let mut plaintext = CbcDecryptStream::new(key, &iv).finish(last)?;
    zeroize::Zeroize::zeroize(&mut plaintext);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;
    use crate::cipher::tests::cipher;
    use crate::read::Trickle;

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    const LENGTHS: [usize; 9] = [0, 1, 15, 16, 47, 48, PIECE - 1, PIECE, 2 * PIECE + 33];

    #[test]
    fn streamed_encryption_equals_encryption_in_one() {
        for method in Method::ALL {
            let cipher = cipher(method);
            for len in LENGTHS {
                let payload = payload(len);
                for (hint, step) in [(None, usize::MAX), (Some(len as u64), 1000)] {
                    let reader = Trickle {
                        bytes: &payload,
                        step,
                    };
                    let text = cipher.encrypt_stream(reader, hint, Vec::new()).unwrap();
                    match method.mode() {
                        crate::CipherMode::Cbc => {
                            assert_eq!(text, cipher.encrypt_to(&payload, Vec::new()).unwrap())
                        }
                        crate::CipherMode::Gcm => {
                            assert_eq!(cipher.decrypt(&text).unwrap(), payload, "{method} {len}")
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn streamed_decryption_equals_decryption_in_one() {
        for method in Method::ALL {
            let cipher = cipher(method);
            for len in LENGTHS {
                let payload = payload(len);
                let mut text = cipher.encrypt(&payload).unwrap().into_bytes();
                // Wrapped at 64 columns with a final newline, as `openssl enc -a` writes.
                let wrapped: Vec<u8> = text
                    .chunks(64)
                    .flat_map(|line| line.iter().copied().chain([b'\n']))
                    .collect();
                for (text, hint, step) in [
                    (&text, None, usize::MAX),
                    (&wrapped, Some(wrapped.len() as u64), 997),
                    (&wrapped, Some(10), 5),
                ] {
                    let reader = Trickle { bytes: text, step };
                    let plain = cipher.decrypt_stream(reader, hint, Vec::new()).unwrap();
                    assert_eq!(plain, payload, "{method} len {len} steps of {step}");
                    let reader = Trickle { bytes: text, step };
                    cipher.check_ciphertext_stream(reader, hint).unwrap();
                }
                text.clear();
            }
        }
    }

    fn stream_error(method: Method, text: &[u8]) -> DecryptError {
        cipher(method)
            .decrypt_stream(
                Trickle {
                    bytes: text,
                    step: 7,
                },
                None,
                Vec::new(),
            )
            .unwrap_err()
    }

    #[test]
    fn streamed_decryption_fails_as_decryption_in_one_does() {
        let long = payload(3 * PIECE);
        for method in Method::ALL {
            let cipher = cipher(method);
            let good = cipher.encrypt(&long).unwrap().into_bytes();
            let mut cases: Vec<Vec<u8>> = vec![
                Vec::new(),
                b" \n".to_vec(),
                cipher.encrypt(b"").unwrap().into_bytes()[..8].to_vec(),
                good[..good.len() - 8].to_vec(),
                [&good[..100], b"*", &good[100..]].concat(),
                // `=` ending a group that a read of 7 ends after: the group
                // decodes as a padded last one, and a whole group follows.
                [&good[..103], b"=", &good[104..]].concat(),
                // The same, then a character outside the alphabet, in the
                // next group or further on (found by review).
                [&good[..103], b"=!", &good[105..]].concat(),
                [&good[..103], b"=AAA!", &good[108..]].concat(),
                [
                    &good[..103],
                    b"=",
                    &good[104..good.len() - 40],
                    b"!",
                    &good[good.len() - 39..],
                ]
                .concat(),
            ];
            // A changed byte of the last block: bad padding or a failed tag.
            // (Not the last group's characters, whose low bits may be spare.)
            let mut changed = good.clone();
            let at = changed.len() - 8;
            changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
            cases.push(changed);
            for case in cases {
                let whole = cipher.decrypt(&case).unwrap_err().to_string();
                let streamed = stream_error(method, &case).to_string();
                assert_eq!(streamed, whole, "{method}");
                let reader = Trickle {
                    bytes: &case,
                    step: 7,
                };
                let checked = cipher.check_ciphertext_stream(reader, None).unwrap_err();
                assert_eq!(checked.to_string(), whole, "{method}, checking only");
            }
        }
    }

    /// A reader whose every read fails: chained after one that ends.
    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk gone"))
        }
    }

    /// A read that fails is told after what the text read before it comes
    /// to, as decrypting that text whole tells it, on one thread or two:
    /// the decoding thread must not lose the race to the reading one.
    #[test]
    fn a_failed_read_is_told_after_the_text_before_it() {
        let cipher = cipher(Method::CbcBase64);
        let good = cipher.encrypt(&payload(3 * PIECE)).unwrap().into_bytes();
        let mut bad = good.clone();
        bad[50] = b'!';
        for (text, step) in [
            (&bad[..200], 100),
            (&bad[..], TEXT_PIECE),
            (&good[..], TEXT_PIECE),
        ] {
            let whole = match cipher.decrypt(text) {
                // The text is whole and good: only the read's failure is left.
                Ok(_) => "could not read the ciphertext".to_owned(),
                Err(error) => error.to_string(),
            };
            for size_hint in [Some(10), None] {
                for _ in 0..10 {
                    let reader = || Trickle { bytes: text, step }.chain(Failing);
                    let streamed = cipher.decrypt_stream(reader(), size_hint, Vec::new());
                    assert_eq!(streamed.unwrap_err().to_string(), whole, "{size_hint:?}");
                    let checked = cipher.check_ciphertext_stream(reader(), size_hint);
                    assert_eq!(checked.unwrap_err().to_string(), whole, "{size_hint:?}");
                }
            }
        }
    }

    /// Text that comes slowly is decrypted as it comes: a read of text is
    /// not held back until a whole piece has come.
    #[test]
    fn text_is_decrypted_as_it_comes() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicUsize;
        struct Counting(Arc<AtomicUsize>);
        impl Write for Counting {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.fetch_add(buf.len(), Ordering::Relaxed);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        /// Reads `text`, and notes what had been written by its third read.
        struct Slow<'a> {
            text: Trickle<'a>,
            reads: usize,
            written: Arc<AtomicUsize>,
            written_by_third_read: Arc<AtomicUsize>,
        }
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.reads += 1;
                if self.reads == 3 {
                    let written = self.written.load(Ordering::Relaxed);
                    self.written_by_third_read.store(written, Ordering::Relaxed);
                }
                self.text.read(buf)
            }
        }
        let cipher = cipher(Method::CbcBase64);
        let text = cipher.encrypt(&payload(2 * PIECE)).unwrap().into_bytes();
        let (written, by_third) = (Arc::default(), Arc::new(AtomicUsize::new(0)));
        let reader = Slow {
            text: Trickle {
                bytes: &text,
                step: 64 * 1024,
            },
            reads: 0,
            written: Arc::clone(&written),
            written_by_third_read: Arc::clone(&by_third),
        };
        // One thread, so that what is written by a read does not hang on timing.
        cipher
            .decrypt_stream(reader, Some(10), Counting(Arc::clone(&written)))
            .unwrap();
        assert_eq!(written.load(Ordering::Relaxed), 2 * PIECE);
        // Two reads of 64 KiB of text: 96 KiB, less the last block held back.
        assert_eq!(by_third.load(Ordering::Relaxed), 2 * 48 * 1024 - BLOCK_LEN);
    }

    #[test]
    fn a_failed_write_stops_the_stream() {
        #[derive(Debug)]
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let long = payload(4 * PIECE);
        for method in Method::ALL {
            let cipher = cipher(method);
            let error = cipher.encrypt_stream(&long[..], None, Full).unwrap_err();
            assert!(matches!(error, EncryptError::Write(_)), "{error}");
            let text = cipher.encrypt(&long).unwrap();
            let error = cipher
                .decrypt_stream(text.as_bytes(), None, Full)
                .unwrap_err();
            assert!(matches!(error, DecryptError::Write(_)), "{error}");
        }
    }
}
