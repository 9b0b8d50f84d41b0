//! Ciphertext as text: streaming Base64/hex encoding, and whitespace-tolerant decoding.
//!
//! Encoding writes straight into the output writer in fixed-size pieces, so a
//! 64 MiB ciphertext never exists as one 85 MiB string. Decoding reads text in
//! pieces, skips ASCII whitespace anywhere (a trailing newline, or Base64
//! wrapped at 64 columns as `openssl enc -a` writes it) and appends bytes to
//! one buffer.

use std::io::{self, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::PAD_INDIFFERENT;
use base64::engine::simd::Simd;

use crate::cipher::DecryptError;
use crate::method::TextEncoding;
use crate::read::read_some;
use crate::tuning::{DECODE_READ_LEN, PIECE};

fn base64_engine() -> Simd {
    // SIMD (AVX2/NEON) when the CPU has it, picked at run time; the scalar engine otherwise.
    // Encoding always writes `=` padding; decoding accepts it present or absent.
    Simd::standard(
        PAD_INDIFFERENT
            .with_encode_padding(true)
            .with_decode_allow_trailing_bits(true),
    )
}

/// Writes bytes as Base64 or hex text into `W`, in pieces, as they arrive.
pub(crate) struct TextWriter<W: Write> {
    inner: W,
    encoding: TextEncoding,
    engine: Simd,
    /// Up to two bytes held back so that Base64 groups never straddle pieces.
    carry: [u8; 2],
    carry_len: usize,
    scratch: Vec<u8>,
}

impl<W: Write> TextWriter<W> {
    /// Starts encoding into `inner`.
    pub(crate) fn new(inner: W, encoding: TextEncoding) -> Self {
        Self {
            inner,
            encoding,
            engine: base64_engine(),
            carry: [0; 2],
            carry_len: 0,
            scratch: Vec::new(),
        }
    }

    /// Encodes and writes `bytes`; any length, any number of calls.
    pub(crate) fn write_bytes(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if self.encoding == TextEncoding::Base64 && self.carry_len > 0 {
            let mut group = [0u8; 3];
            group[..self.carry_len].copy_from_slice(&self.carry[..self.carry_len]);
            let take = (3 - self.carry_len).min(bytes.len());
            group[self.carry_len..self.carry_len + take].copy_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.carry_len + take < 3 {
                self.carry_len += take;
                self.carry[..self.carry_len].copy_from_slice(&group[..self.carry_len]);
                return Ok(());
            }
            self.carry_len = 0;
            self.encode_piece(&group)?;
        }
        let whole = match self.encoding {
            TextEncoding::Base64 => bytes.len() - bytes.len() % 3,
            TextEncoding::Hex => bytes.len(),
        };
        let (body, rest) = bytes.split_at(whole);
        for piece in body.chunks(PIECE) {
            self.encode_piece(piece)?;
        }
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carry_len = rest.len();
        Ok(())
    }

    /// Writes the final padded group and hands back the inner writer (not flushed).
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.carry_len > 0 {
            let carry = self.carry;
            self.encode_piece(&carry[..self.carry_len])?;
        }
        Ok(self.inner)
    }

    fn encode_piece(&mut self, piece: &[u8]) -> io::Result<()> {
        let text_len = match self.encoding {
            TextEncoding::Base64 => piece.len().div_ceil(3) * 4,
            TextEncoding::Hex => piece.len() * 2,
        };
        self.scratch.resize(text_len, 0);
        let written = match self.encoding {
            TextEncoding::Base64 => self
                .engine
                .encode_slice(piece, &mut self.scratch)
                .map_err(io::Error::other)?,
            TextEncoding::Hex => encode_hex(piece, &mut self.scratch),
        };
        self.inner.write_all(&self.scratch[..written])
    }
}

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long;
/// returns the length written.
///
/// Ciphertext is public, so its hex goes through a SIMD codec (runtime CPU
/// detection), about 14 times as fast as the constant-time `base16ct`,
/// which keys and IVs keep.
fn encode_hex(bytes: &[u8], out: &mut [u8]) -> usize {
    hex_simd::encode(
        bytes,
        hex_simd::Out::from_slice(out),
        hex_simd::AsciiCase::Lower,
    )
    .len()
}

/// Appends the text of `bytes`, a whole message (Base64 with its padding),
/// to `out`: for many small messages in a row, into one reused buffer.
pub(crate) fn encode_into(bytes: &[u8], encoding: TextEncoding, out: &mut Vec<u8>) {
    let start = out.len();
    let len = match encoding {
        TextEncoding::Base64 => bytes.len().div_ceil(3) * 4,
        TextEncoding::Hex => bytes.len() * 2,
    };
    out.resize(start + len, 0);
    // The room is exactly what either encoding needs: neither can fail.
    let written = match encoding {
        TextEncoding::Base64 => base64_engine()
            .encode_slice(bytes, &mut out[start..])
            .unwrap_or(0),
        TextEncoding::Hex => encode_hex(bytes, &mut out[start..]),
    };
    out.truncate(start + written);
}

/// Encodes `bytes` into a `String` (for small payloads and tests).
pub fn encode_to_string(bytes: &[u8], encoding: TextEncoding) -> String {
    let mut text = Vec::new();
    encode_into(bytes, encoding, &mut text);
    // Both encodings produce ASCII.
    String::from_utf8(text).unwrap_or_default()
}

/// Decodes text into bytes, ignoring ASCII whitespace anywhere.
pub fn decode(text: &[u8], encoding: TextEncoding) -> Result<Vec<u8>, DecryptError> {
    let mut decoder = TextDecoder::new(encoding, text.len());
    decoder.push(text)?;
    decoder.finish()
}

/// Symbols in a group of `encoding`'s text, and the bytes they stand for.
pub(crate) fn group_shape(encoding: TextEncoding) -> (u64, u64) {
    match encoding {
        TextEncoding::Base64 => (4, 3),
        TextEncoding::Hex => (2, 1),
    }
}

/// A symbol of `encoding`'s alphabet that stands for bits: not padding.
fn is_bare_symbol(encoding: TextEncoding, b: u8) -> bool {
    match encoding {
        TextEncoding::Base64 => b.is_ascii_alphanumeric() | (b == b'+') | (b == b'/'),
        TextEncoding::Hex => b.is_ascii_hexdigit(),
    }
}

/// Whether `text` is symbols of `encoding`'s alphabet alone, with no
/// padding and no whitespace. At memory speed: each block of 64 bytes is
/// judged whole, which the compiler turns into vector compares.
pub(crate) fn is_bare_text(encoding: TextEncoding, text: &[u8]) -> bool {
    let bare = |block: &[u8]| {
        block
            .iter()
            .fold(true, |bare, &b| bare & is_bare_symbol(encoding, b))
    };
    let mut blocks = text.chunks_exact(64);
    blocks.all(bare) && bare(blocks.remainder())
}

/// Decodes text read from `reader`, ignoring ASCII whitespace anywhere.
///
/// `size_hint` (the input's length, if known) sizes the output buffer once.
/// Reads on the calling thread; a caller that wants reading to overlap
/// decoding can hand in a reader that reads ahead.
pub(crate) fn decode_reader<R: Read>(
    mut reader: R,
    encoding: TextEncoding,
    size_hint: Option<u64>,
) -> Result<Vec<u8>, DecryptError> {
    let size_hint = size_hint.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
    let mut decoder = TextDecoder::new(encoding, size_hint);
    let piece_len = if size_hint > 0 {
        size_hint.clamp(4096, DECODE_READ_LEN)
    } else {
        DECODE_READ_LEN
    };
    let mut piece = vec![0u8; piece_len];
    while let Some(n) = read_some(&mut reader, &mut piece).map_err(DecryptError::Read)? {
        decoder.push(&piece[..n])?;
    }
    decoder.finish()
}

/// Whether `text` has any byte at or below space (all ASCII whitespace is).
///
/// Written without an early exit so that it compiles to SIMD compares.
fn has_whitespace(text: &[u8]) -> bool {
    text.chunks(64)
        .any(|chunk| chunk.iter().fold(false, |seen, &b| seen | (b <= b' ')))
}

/// Whether the only bytes at or below space in `text` are newlines.
///
/// Written without an early exit so that it compiles to SIMD compares.
fn whitespace_is_newlines(text: &[u8]) -> bool {
    text.chunks(64).all(|chunk| {
        chunk
            .iter()
            .fold(true, |lines, &b| lines & ((b > b' ') | (b == b'\n')))
    })
}

/// Incremental decoder: text in, bytes appended to one output buffer, which
/// the caller may empty between pieces ([`TextDecoder::output`]).
pub(crate) struct TextDecoder {
    encoding: TextEncoding,
    engine: Simd,
    out: Vec<u8>,
    /// Whitespace-free text not yet decoded (less than one group, or the current piece).
    pending: Vec<u8>,
    /// Non-whitespace characters already decoded, for error positions.
    consumed: u64,
    /// A group with `=` padding has been decoded: nothing may follow.
    ended: bool,
    /// Why the text is refused (whole groups after the padding, or padding
    /// inside a piece): told at the end, unless a character outside the
    /// alphabet comes first, as decoding all the text at once tells it.
    refused: Option<DecryptError>,
}

impl TextDecoder {
    /// A decoder whose output buffer starts with room for `size_hint` bytes of text.
    pub(crate) fn new(encoding: TextEncoding, size_hint: usize) -> Self {
        let capacity = match encoding {
            TextEncoding::Base64 => size_hint / 4 * 3 + 3,
            TextEncoding::Hex => size_hint / 2 + 1,
        };
        Self {
            encoding,
            engine: base64_engine(),
            out: Vec::with_capacity(capacity),
            pending: Vec::new(),
            consumed: 0,
            ended: false,
            refused: None,
        }
    }

    fn group(&self) -> usize {
        group_shape(self.encoding).0 as usize
    }

    /// Decodes `text`, the next piece, ignoring ASCII whitespace.
    pub(crate) fn push(&mut self, text: &[u8]) -> Result<(), DecryptError> {
        if self.pending.is_empty() && !has_whitespace(text) {
            // The common case (one long line): decode straight from the read buffer.
            let whole = text.len() - text.len() % self.group();
            self.decode_groups(&text[..whole])?;
            self.pending.extend_from_slice(&text[whole..]);
            return Ok(());
        }
        if whitespace_is_newlines(text) {
            // Lines, as `openssl enc -a` writes them: memchr's SIMD search
            // finds their ends, where a byte at a time took most of the time.
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', text) {
                self.pending.extend_from_slice(&text[start..end]);
                start = end + 1;
            }
            self.pending.extend_from_slice(&text[start..]);
        } else {
            for segment in text.split(u8::is_ascii_whitespace) {
                self.pending.extend_from_slice(segment);
            }
        }
        let whole = self.pending.len() - self.pending.len() % self.group();
        if whole > 0 {
            let pending = std::mem::take(&mut self.pending);
            self.decode_groups(&pending[..whole])?;
            self.pending = pending;
            self.pending.drain(..whole);
        }
        Ok(())
    }

    /// The bytes decoded so far and not yet taken: take some, or all.
    pub(crate) fn output(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// Decodes the last group and returns what is left of the output.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, DecryptError> {
        if self.consumed == 0 && self.pending.is_empty() && self.out.is_empty() {
            return Err(DecryptError::Empty);
        }
        if !self.pending.is_empty() {
            if self.encoding == TextEncoding::Hex {
                return Err(self.malformed("an odd number of hex digits"));
            }
            // Names a character outside the alphabet in the last group
            // first, even in text already refused.
            let tail = std::mem::take(&mut self.pending);
            self.decode_groups(&tail)?;
        }
        match self.refused.take() {
            Some(refused) => Err(refused),
            None => Ok(self.out),
        }
    }

    fn malformed(&self, problem: &'static str) -> DecryptError {
        DecryptError::Malformed {
            encoding: self.encoding,
            problem,
        }
    }

    fn decode_groups(&mut self, text: &[u8]) -> Result<(), DecryptError> {
        if text.is_empty() {
            // A piece shorter than a group (or none): it waits in `pending`,
            // and text after the padding is judged when there is some.
            return Ok(());
        }
        if self.ended || self.refused.is_some() {
            // Told as decoding all the groups at once tells it, though a
            // piece ended right after the padded group or the text was
            // refused in an earlier piece: the first character outside the
            // alphabet, found in the rest of the text; else why it was
            // refused (whole groups after the padding: early padding, at the
            // end); else the last, partial group follows the padding.
            if let Some(bad) = text.iter().position(|&b| !self.is_symbol(b)) {
                return Err(self.invalid_character(text[bad], bad));
            }
            if text.len() < self.group() && self.refused.is_none() {
                return Err(self.malformed("text follows the `=` padding that ends it"));
            }
            let early = self.malformed("`=` padding appears before the end");
            self.refused.get_or_insert(early);
            self.consumed += text.len() as u64;
            return Ok(());
        }
        let start = self.out.len();
        let room = match self.encoding {
            TextEncoding::Base64 => text.len().div_ceil(4) * 3,
            TextEncoding::Hex => text.len() / 2,
        };
        self.out.resize(start + room, 0);
        let decoded = match self.encoding {
            TextEncoding::Base64 => self
                .engine
                .decode_slice(text, &mut self.out[start..])
                .map_err(Some),
            // Public ciphertext: the SIMD codec, as for encoding (see `encode_hex`).
            TextEncoding::Hex => {
                hex_simd::decode(text, hex_simd::Out::from_slice(&mut self.out[start..]))
                    .map(|decoded| decoded.len())
                    .map_err(|_| None)
            }
        };
        let written = match decoded {
            Ok(written) => written,
            Err(error) => {
                self.out.truncate(start);
                // Name the first character outside the alphabet, if that is the problem.
                if let Some(bad) = text.iter().position(|&b| !self.is_symbol(b)) {
                    return Err(self.invalid_character(text[bad], bad));
                }
                // Else a later piece may still hold one, which decoding all
                // the text at once would name first: this waits for the end.
                self.refused = Some(match error {
                    Some(error) => self.base64_error(error),
                    None => self.malformed("it contains an invalid digit pair"),
                });
                self.consumed += text.len() as u64;
                return Ok(());
            }
        };
        self.out.truncate(start + written);
        self.ended = text.last() == Some(&b'=');
        self.consumed += text.len() as u64;
        Ok(())
    }

    fn is_symbol(&self, b: u8) -> bool {
        is_bare_symbol(self.encoding, b) || (self.encoding == TextEncoding::Base64 && b == b'=')
    }

    fn invalid_character(&self, byte: u8, index: usize) -> DecryptError {
        let found = if byte.is_ascii_graphic() {
            format!("'{}'", byte as char)
        } else {
            format!("byte 0x{byte:02x}")
        };
        let first = self.consumed + index as u64 == 0;
        let hint = match (self.encoding, byte) {
            (_, b'"' | b'\'') if first => {
                " (the ciphertext seems to be in quotes: give it without them)"
            }
            (TextEncoding::Base64, b'-' | b'_') => {
                " (that is URL-safe Base64; Netcore uses the standard alphabet with + and /)"
            }
            (TextEncoding::Base64, _) if byte.is_ascii_hexdigit() => "",
            (TextEncoding::Hex, _) if byte.is_ascii_alphanumeric() || byte == b'=' => {
                " (is this Base64?)"
            }
            _ => "",
        };
        DecryptError::InvalidCharacter {
            encoding: self.encoding,
            found,
            position: self.consumed + index as u64 + 1,
            hint,
        }
    }

    fn base64_error(&self, error: base64::DecodeSliceError) -> DecryptError {
        use base64::DecodeError as E;
        match error {
            base64::DecodeSliceError::DecodeError(E::InvalidByte(_, b'=')) => {
                self.malformed("`=` padding appears before the end")
            }
            base64::DecodeSliceError::DecodeError(E::InvalidByte(index, byte)) => {
                self.invalid_character(byte, index)
            }
            base64::DecodeSliceError::DecodeError(E::InvalidLength(_)) => {
                self.malformed("its length is not a whole number of Base64 groups")
            }
            base64::DecodeSliceError::DecodeError(E::InvalidLastSymbol { .. }) => {
                self.malformed("its last character has bits that must be zero")
            }
            base64::DecodeSliceError::DecodeError(E::InvalidPadding) => {
                self.malformed("its `=` padding is wrong")
            }
            base64::DecodeSliceError::OutputSliceTooSmall => {
                self.malformed("it decodes to more bytes than expected")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn encode_in_pieces(bytes: &[u8], encoding: TextEncoding, piece: usize) -> String {
        let mut writer = TextWriter::new(Vec::new(), encoding);
        for chunk in bytes.chunks(piece.max(1)) {
            writer.write_bytes(chunk).unwrap();
        }
        String::from_utf8(writer.finish().unwrap()).unwrap()
    }

    #[test]
    fn base64_matches_the_scalar_reference_for_every_split() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in [0, 1, 2, 3, 4, 5, 47, 48, 49, 999, 1000] {
            let expected = STANDARD.encode(&bytes[..len]);
            for piece in [1, 2, 3, 7, 48, 1000] {
                assert_eq!(
                    encode_in_pieces(&bytes[..len], TextEncoding::Base64, piece),
                    expected,
                    "len {len} piece {piece}"
                );
            }
        }
    }

    #[test]
    fn large_inputs_cross_piece_boundaries() {
        let bytes: Vec<u8> = (0..PIECE * 3 + 5).map(|i| (i * 31 % 251) as u8).collect();
        let text = encode_to_string(&bytes, TextEncoding::Base64);
        assert_eq!(text, STANDARD.encode(&bytes));
        assert_eq!(
            decode(text.as_bytes(), TextEncoding::Base64).unwrap(),
            bytes
        );
        let hex = encode_to_string(&bytes, TextEncoding::Hex);
        assert_eq!(hex.len(), bytes.len() * 2);
        assert_eq!(decode(hex.as_bytes(), TextEncoding::Hex).unwrap(), bytes);
    }

    #[test]
    fn hex_is_lowercase_and_decodes_either_case() {
        assert_eq!(
            encode_to_string(&[0xAB, 0x01, 0xff], TextEncoding::Hex),
            "ab01ff"
        );
        assert_eq!(
            decode(b"AB01fF", TextEncoding::Hex).unwrap(),
            [0xab, 0x01, 0xff]
        );
    }

    #[test]
    fn whitespace_anywhere_is_ignored() {
        let wrapped = b" QUJD\nREVG\r\n\tR0g=\n";
        assert_eq!(decode(wrapped, TextEncoding::Base64).unwrap(), b"ABCDEFGH");
        assert_eq!(
            decode(b"ab 01\nFF\n", TextEncoding::Hex).unwrap(),
            [0xab, 1, 0xff]
        );
    }

    #[test]
    fn reading_in_tiny_pieces_gives_the_same_bytes() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"QUJD\nREVG\nR0g=\n";
        let got = decode_reader(Trickle(text), TextEncoding::Base64, None).unwrap();
        assert_eq!(got, b"ABCDEFGH");
    }

    #[test]
    fn missing_padding_is_accepted() {
        assert_eq!(decode(b"QUI", TextEncoding::Base64).unwrap(), b"AB");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let empty = decode(b" \n\t", TextEncoding::Base64).unwrap_err();
        assert!(matches!(empty, DecryptError::Empty));

        let bad = decode(b"QUJD*EVG", TextEncoding::Base64)
            .unwrap_err()
            .to_string();
        assert!(bad.contains("'*'") && bad.contains("character 5"), "{bad}");

        let url = decode(b"ab-_", TextEncoding::Base64)
            .unwrap_err()
            .to_string();
        assert!(url.contains("URL-safe"), "{url}");

        let after = decode(b"QQ==QUJD", TextEncoding::Base64)
            .unwrap_err()
            .to_string();
        assert!(after.contains("padding"), "{after}");

        let cut = decode(b"QUJDR", TextEncoding::Base64)
            .unwrap_err()
            .to_string();
        assert!(cut.contains("not valid Base64"), "{cut}");

        let odd = decode(b"abc", TextEncoding::Hex).unwrap_err().to_string();
        assert!(odd.contains("odd number"), "{odd}");

        let not_hex = decode(b"zz", TextEncoding::Hex).unwrap_err().to_string();
        assert!(
            not_hex.contains("'z'") && not_hex.contains("Base64"),
            "{not_hex}"
        );
    }

    /// What decoding `text` fed in pieces of `piece` bytes comes to, errors as told.
    fn decode_in_pieces(
        text: &[u8],
        encoding: TextEncoding,
        piece: usize,
    ) -> Result<Vec<u8>, String> {
        let mut decoder = TextDecoder::new(encoding, 0);
        for chunk in text.chunks(piece) {
            decoder.push(chunk).map_err(|e| e.to_string())?;
        }
        decoder.finish().map_err(|e| e.to_string())
    }

    /// A piece shorter than a group right after one that ends in a padded
    /// group waits for the rest: it used to be refused at once as text
    /// after the padding, whatever followed.
    #[test]
    fn a_short_piece_after_the_padding_is_judged_with_what_follows() {
        let base64 = TextEncoding::Base64;
        for pieces in [
            &[&b"AAA="[..], b"A!"][..],
            &[b"AAA=", b"A", b"AAA"],
            &[b"AAA=", b""],
            &[b"AAA=", b"A"],
        ] {
            let whole: Vec<u8> = pieces.concat();
            let mut decoder = TextDecoder::new(base64, 0);
            let in_pieces = pieces
                .iter()
                .try_for_each(|piece| decoder.push(piece))
                .and_then(|()| decoder.finish())
                .map_err(|e| e.to_string());
            assert_eq!(
                in_pieces,
                decode_in_pieces(&whole, base64, whole.len()),
                "{pieces:?}"
            );
        }
        assert_eq!(decode_in_pieces(b"AAA=", base64, 4), Ok(vec![0, 0]));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// Text in lines (`openssl enc -a`) is read by finding its newlines;
        /// with spaces in their place, a byte at a time. Both must come to
        /// the same bytes, or the same error, whatever the pieces.
        #[test]
        fn lines_decode_as_text_with_spaces_does(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            hex: bool,
            width in 1..100usize,
            piece in 1..300usize,
            stray in proptest::option::of((
                proptest::prelude::any::<proptest::sample::Index>(),
                proptest::sample::select(b"*=-\x00\r A\n".to_vec()),
            )),
        ) {
            let encoding = if hex { TextEncoding::Hex } else { TextEncoding::Base64 };
            let bare = match encoding {
                TextEncoding::Base64 => STANDARD.encode(&bytes).into_bytes(),
                TextEncoding::Hex => base16ct::lower::encode_string(&bytes).into_bytes(),
            };
            let mut lines: Vec<u8> = bare
                .chunks(width)
                .flat_map(|line| line.iter().chain(b"\n").copied())
                .collect();
            if let Some((at, byte)) = stray {
                lines.insert(at.index(lines.len() + 1), byte);
            }
            let spaced: Vec<u8> = lines.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
            let decoded = decode_in_pieces(&lines, encoding, piece);
            proptest::prop_assert_eq!(&decoded, &decode_in_pieces(&spaced, encoding, piece));
            if stray.is_none() && !bytes.is_empty() {
                proptest::prop_assert_eq!(decoded, Ok(bytes));
            }
        }

        /// However the text is cut into pieces, decoding it comes to what
        /// decoding it in one piece does: the same bytes, or the same error.
        /// (A stray `=` inside a piece, then a stray `!` in a later one,
        /// was told as early padding, where the whole names the `!`.)
        #[test]
        fn pieces_decode_as_the_whole_does(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            hex: bool,
            piece in 1..400usize,
            strays in proptest::collection::vec((
                proptest::prelude::any::<proptest::sample::Index>(),
                proptest::sample::select(b"=!A \n".to_vec()),
            ), 0..3),
        ) {
            let encoding = if hex { TextEncoding::Hex } else { TextEncoding::Base64 };
            let mut text = match encoding {
                TextEncoding::Base64 => STANDARD.encode(&bytes).into_bytes(),
                TextEncoding::Hex => base16ct::lower::encode_string(&bytes).into_bytes(),
            };
            for (at, byte) in strays {
                text.insert(at.index(text.len() + 1), byte);
            }
            let whole = decode_in_pieces(&text, encoding, text.len().max(1));
            proptest::prop_assert_eq!(decode_in_pieces(&text, encoding, piece), whole);
        }
    }
}
