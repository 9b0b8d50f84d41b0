//! [`Cipher::check_ciphertext_seekable`]: the check before plaintext is
//! released, for ciphertext text that can be read from anywhere (a regular
//! file), in parts on all cores.
//!
//! CBC text as ce-crypt and `openssl enc -a -A` write it is bare symbols up
//! to its padding and a newline. Whether a text is that needs only a look at
//! each character, which any part of it can take on its own; and then all
//! of it decodes, and only its last two blocks matter to the padding. Any
//! other text is checked as [`Cipher::check_ciphertext_stream`] checks it,
//! which also tells every error exactly.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use super::stream::check_cbc_end;
use super::{Cipher, DecryptError};
use crate::hazmat::crypto::BLOCK_LEN;
use crate::hazmat::text::{decode, group_shape, is_bare_text};
use crate::method::TextEncoding;
use crate::read::read_some;
use crate::tuning::{PARTS_MAX, PARTS_MIN, TEXT_END_LEN, TEXT_READ_LEN};

/// Symbols decoded at the text's end: at least the last two blocks' worth.
const END_SYMBOLS: u64 = 128;

impl Cipher {
    /// Checks ciphertext text `len` bytes long that `open` gives readers
    /// of, each from the start (a regular file, opened again for each), as
    /// [`Cipher::decrypt_stream`] would judge it (its text, its length, then
    /// CBC's padding or GCM's tag), with the same errors, but without
    /// producing the plaintext: a first pass before plaintext is released
    /// where it cannot be taken back.
    ///
    /// CBC text from 2 MiB on that is bare symbols up to its padding and
    /// trailing whitespace is judged by its characters alone, one part per
    /// core (at most four), each read by a thread of its own; only its end
    /// is decoded and its last block decrypted; last, the text must still
    /// end at `len`. Other text, and GCM (whose tag covers every byte), is
    /// read through once: CBC decrypts its last block only, GCM only hashes.
    pub(crate) fn check_ciphertext_seekable<R: Read + Seek + Send>(
        &self,
        len: u64,
        open: impl Fn() -> io::Result<R> + Sync,
    ) -> Result<(), DecryptError> {
        if len >= PARTS_MIN && self.bare_text_checks_out(len, &open) {
            return Ok(());
        }
        let reader = open().map_err(DecryptError::Read)?;
        self.check_ciphertext_stream(reader, Some(len))
    }

    /// Whether the text is CBC ciphertext of bare symbols up to its padding
    /// and whitespace, whose last block's padding is right. `false` also when
    /// that cannot be told this way: the full check then judges.
    fn bare_text_checks_out<R: Read + Seek>(
        &self,
        len: u64,
        open: &(impl Fn() -> io::Result<R> + Sync),
    ) -> bool {
        let Some(iv) = &self.iv else {
            return false;
        };
        let encoding = self.method.encoding();
        let Some(end) = TextEnd::read(len, encoding, open) else {
            return false;
        };
        if !bare_in_parts(encoding, end.symbols_end, open) {
            return false;
        }
        // Groups of symbols start at the text's start: it has no whitespace.
        let Ok(bytes) = decode(&end.text, encoding) else {
            return false;
        };
        let (group, group_bytes) = group_shape(encoding);
        let total = end.from / group * group_bytes + bytes.len() as u64;
        if total == 0 || !total.is_multiple_of(BLOCK_LEN as u64) || bytes.len() < 2 * BLOCK_LEN {
            return false;
        }
        let (before_last, last) = bytes[bytes.len() - 2 * BLOCK_LEN..].split_at(BLOCK_LEN);
        let (Ok(before_last), Ok(last)) = (before_last.try_into(), last.try_into()) else {
            return false;
        };
        check_cbc_end(&self.key, iv, Some(before_last), last).is_ok() && ends_at(len, open)
    }
}

/// Whether the text still ends at `len`: the look above read up to there
/// alone, and decryption reads to the end (a file may have grown).
fn ends_at<R: Read + Seek>(len: u64, open: &impl Fn() -> io::Result<R>) -> bool {
    let mut byte = [0; 1];
    let read = open().and_then(|mut reader| {
        reader.seek(SeekFrom::Start(len))?;
        reader.read(&mut byte)
    });
    matches!(read, Ok(0))
}

/// The end of a text: where its symbols end, and its last symbols from a
/// group's start on, with its padding and whitespace.
struct TextEnd {
    symbols_end: u64,
    from: u64,
    text: Vec<u8>,
}

impl TextEnd {
    /// Reads the last bytes of a text `len` bytes long and takes off its
    /// trailing whitespace and padding; `None` if that padding is more than
    /// two `=` (or any, for hex), or too few bytes are left before it.
    /// Whether the rest is symbols is for [`bare_in_parts`] to say.
    fn read<R: Read + Seek>(
        len: u64,
        encoding: TextEncoding,
        open: &impl Fn() -> io::Result<R>,
    ) -> Option<TextEnd> {
        let start = len.checked_sub(TEXT_END_LEN)?;
        let mut tail = Vec::with_capacity(TEXT_END_LEN as usize);
        let mut reader = open().ok()?;
        reader.seek(SeekFrom::Start(start)).ok()?;
        reader.take(TEXT_END_LEN).read_to_end(&mut tail).ok()?;
        let last = tail.iter().rposition(|b| !b.is_ascii_whitespace())?;
        let pads = tail[..=last]
            .iter()
            .rev()
            .take_while(|&&b| b == b'=')
            .count();
        if pads > 2 || (pads > 0 && encoding == TextEncoding::Hex) {
            return None;
        }
        let symbols_end = start + (last + 1 - pads) as u64;
        let (group, _) = group_shape(encoding);
        let from = symbols_end.checked_sub(END_SYMBOLS)?;
        let from = from - from % group;
        let text = tail.get(usize::try_from(from.checked_sub(start)?).ok()?..)?;
        Some(TextEnd {
            symbols_end,
            from,
            text: text.to_vec(),
        })
    }
}

/// Whether the first `end` bytes of the text are bare symbols, judged in
/// one part per core (at most [`PARTS_MAX`]), each read by a thread of its
/// own; all stop once one has found a byte that is not.
fn bare_in_parts<R: Read + Seek>(
    encoding: TextEncoding,
    end: u64,
    open: &(impl Fn() -> io::Result<R> + Sync),
) -> bool {
    let cores = thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let parts = cores.clamp(1, PARTS_MAX as u64);
    let bounds: Vec<u64> = (0..parts).map(|i| end / parts * i).chain([end]).collect();
    let dirty = AtomicBool::new(false);
    let part = |start: u64, stop: u64| {
        let bare = bare_part(encoding, start, stop, open, &dirty);
        if !bare {
            dirty.store(true, Ordering::Relaxed);
        }
        bare
    };
    thread::scope(|scope| {
        let others: Vec<_> = bounds[1..]
            .windows(2)
            .map(|range| scope.spawn(move || part(range[0], range[1])))
            .collect();
        let first = part(bounds[0], bounds[1]);
        others
            .into_iter()
            .fold(first, |bare, other| other.join().unwrap_or(false) & bare)
    })
}

/// Whether bytes `start..stop` of the text are bare symbols, all there;
/// gives up once `dirty` says another part found one that is not.
fn bare_part<R: Read + Seek>(
    encoding: TextEncoding,
    start: u64,
    stop: u64,
    open: &impl Fn() -> io::Result<R>,
    dirty: &AtomicBool,
) -> bool {
    let judged = (|| -> io::Result<bool> {
        let mut reader = open()?;
        reader.seek(SeekFrom::Start(start))?;
        let mut reader = reader.take(stop - start);
        let mut buffer = vec![0; TEXT_READ_LEN];
        let mut read = 0;
        loop {
            if dirty.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let Some(n) = read_some(&mut reader, &mut buffer)? else {
                return Ok(read == stop - start);
            };
            if !is_bare_text(encoding, &buffer[..n]) {
                return Ok(false);
            }
            read += n as u64;
        }
    })();
    judged.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::tests::cipher;
    use crate::{CipherMode, Method};

    /// The text's check as [`Cipher::check_ciphertext_seekable`] tells it,
    /// as [`Cipher::check_ciphertext_stream`] does, and whether the look at
    /// its characters and its end alone passed it.
    fn judged(cipher: &Cipher, text: &[u8]) -> (Result<(), String>, Result<(), String>, bool) {
        let len = text.len() as u64;
        let open = || Ok(io::Cursor::new(text));
        let told = |checked: Result<(), DecryptError>| checked.map_err(|e| e.to_string());
        (
            told(cipher.check_ciphertext_seekable(len, open)),
            told(cipher.check_ciphertext_stream(text, Some(len))),
            len >= PARTS_MIN && cipher.bare_text_checks_out(len, &open),
        )
    }

    /// `text` with `at` (counted from the end if negative) set to `byte`.
    fn with(text: &[u8], at: isize, byte: u8) -> Vec<u8> {
        let mut text = text.to_vec();
        let at = if at < 0 {
            text.len() - at.unsigned_abs()
        } else {
            at as usize
        };
        text[at] = byte;
        text
    }

    #[test]
    fn texts_are_judged_as_the_stream_judges_them() {
        for method in Method::ALL {
            let cipher = cipher(method);
            let payload: Vec<u8> = (0..(2 << 20) + 33).map(|i| (i % 251) as u8).collect();
            let mut good = cipher.encrypt_to(&payload, Vec::new()).unwrap();
            good.push(b'\n');
            let symbols = good.len() - 1 - good.iter().rev().filter(|&&b| b == b'=').count();
            let other = if good[symbols - 5] == b'a' {
                b'b'
            } else {
                b'a'
            };
            let wrapped: Vec<u8> = good
                .chunks(64)
                .flat_map(|line| [line, b"\n"].concat())
                .collect();
            let cases: Vec<(&str, Vec<u8>, bool)> = vec![
                ("as written", good.clone(), true),
                (
                    "a symbol changed in the last block",
                    with(&good, symbols as isize - 5, other),
                    true,
                ),
                (
                    "a symbol changed in the middle",
                    with(&good, 1 << 20, other),
                    true,
                ),
                (
                    "a character outside the alphabet",
                    with(&good, 1 << 20, b'!'),
                    false,
                ),
                ("padding in the middle", with(&good, 1 << 20, b'='), false),
                ("a space in the middle", with(&good, 1 << 20, b' '), false),
                ("wrapped at 64 columns", wrapped, false),
                (
                    "without its padding",
                    [&good[..symbols], b"\n"].concat(),
                    true,
                ),
                (
                    "a symbol short",
                    [&good[..symbols - 1], b"\n"].concat(),
                    false,
                ),
                (
                    "ending in whitespace",
                    [&good[..], b"\r\n \t\n"].concat(),
                    true,
                ),
                (
                    "four symbols short",
                    [&good[..symbols - 4], b"\n"].concat(),
                    false,
                ),
            ];
            // Bytes after the length the caller gave (a file that grew).
            let grown = [&good[..], b"AAAA"].concat();
            let len = good.len() as u64;
            let checked = cipher.check_ciphertext_seekable(len, || Ok(io::Cursor::new(&grown)));
            let streamed = cipher.check_ciphertext_stream(&grown[..], Some(len));
            assert_eq!(
                checked.map_err(|e| e.to_string()),
                streamed.map_err(|e| e.to_string()),
                "{method}: grown"
            );
            for (case, text, bare) in cases {
                let (seekable, streamed, quick) = judged(&cipher, &text);
                assert_eq!(seekable, streamed, "{method}: {case}");
                // Only CBC text that checks out is passed by a look at its end.
                let cbc = method.mode() == CipherMode::Cbc;
                let expected = cbc && bare && streamed.is_ok();
                assert_eq!(quick, expected, "{method}: {case}: {streamed:?}");
            }
        }
    }
}
