//! Finding the API key in what a server says, in any form it may be echoed
//! in, and replacing it with `[redacted]`: the one place this is done, for
//! every path that prints or stores a server's words (error bodies, 2xx
//! bodies, `Location`, transport messages).
//!
//! Forms found, each also when split by whitespace or newlines (whitespace is
//! removed before searching):
//! - the key itself, in any ASCII case;
//! - its hex, in either case;
//! - Base64 and Base64url of the key and of `Bearer KEY`, at each of the three
//!   alignments an unknown prefix can give it: only the characters that
//!   depend on the key alone are searched for, and the one partly
//!   depending character on each side is redacted with them;
//! - any of these percent-encoded (`%2F`, in any case, for any subset of
//!   characters), JSON-escaped (`\/`, `\u0041`, surrogate pairs), or both.
//!
//! Encoded forms shorter than [`MIN_ENCODED`] characters are not searched
//! for (a one-letter key's hex would match everywhere); the key itself always is.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use memchr::memmem;

/// What stands in for each copy of the key.
pub(crate) const REDACTED: &str = "[redacted]";

/// The shortest encoded form searched for.
pub(crate) const MIN_ENCODED: usize = 8;

/// The shortest prefix of a form redacted at the end of a text that was cut.
const MIN_CUT_PREFIX: usize = 6;

/// A secret's forms, ready to search texts for.
#[derive(Clone)]
pub(crate) struct Redactor {
    needles: Vec<Needle>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms)", self.needles.len())
    }
}

impl Drop for Redactor {
    /// The forms are the secret, encoded: wiped as a key is.
    fn drop(&mut self) {
        for needle in &mut self.needles {
            zeroize::Zeroize::zeroize(&mut needle.bytes);
        }
    }
}

/// One form of the secret.
#[derive(Clone, PartialEq, Eq)]
struct Needle {
    /// Whitespace removed; lower case when `fold_case`.
    bytes: Vec<u8>,
    fold_case: bool,
    /// Base64 characters just before and after that depend partly on the
    /// secret, redacted with it when present.
    lead: usize,
    trail: usize,
}

impl Redactor {
    /// The forms of `secret` (surrounding whitespace ignored).
    pub(crate) fn new(secret: &str) -> Redactor {
        let secret: Vec<u8> = strip_whitespace(secret.trim().as_bytes());
        let mut needles = Vec::new();
        if secret.is_empty() {
            return Redactor { needles };
        }
        let mut add = |needle: Needle| {
            let long_enough = needle.bytes.len() >= MIN_ENCODED || needle.bytes == lower(&secret);
            if !needle.bytes.is_empty() && long_enough && !needles.contains(&needle) {
                needles.push(needle);
            }
        };
        add(Needle {
            bytes: lower(&secret),
            fold_case: true,
            lead: 0,
            trail: 0,
        });
        add(Needle {
            bytes: base16ct::lower::encode_string(&secret).into_bytes(),
            fold_case: true,
            lead: 0,
            trail: 0,
        });
        let bearer = [b"Bearer ".as_slice(), &secret].concat();
        for plain in [&secret, &bearer] {
            for offset in 0..3 {
                for needle in base64_cores(plain, offset) {
                    add(needle);
                }
            }
        }
        Redactor { needles }
    }

    /// `text` with every form of the secret replaced by [`REDACTED`].
    pub(crate) fn redact(&self, text: &str) -> String {
        self.redact_inner(text, false)
    }

    /// [`Redactor::redact`] for a text that was cut short: a form's start
    /// (of at least six characters) at its very end is redacted too.
    pub(crate) fn redact_cut(&self, text: &str) -> String {
        self.redact_inner(text, true)
    }

    fn redact_inner(&self, text: &str, cut: bool) -> String {
        if self.needles.is_empty() || text.is_empty() {
            return text.to_owned();
        }
        let mut ranges = Vec::new();
        let base = View::of(text.as_bytes());
        let mut views = vec![base.strip_whitespace()];
        if text.contains('%') {
            views.push(base.percent_decode().strip_whitespace());
        }
        if text.contains('\\') {
            let unescaped = base.json_unescape();
            if unescaped.bytes.contains(&b'%') {
                views.push(unescaped.percent_decode().strip_whitespace());
            }
            views.push(unescaped.strip_whitespace());
        }
        for view in &views {
            self.find(view, cut, &mut ranges);
        }
        replace_ranges(text, ranges)
    }

    /// Adds the original byte ranges of every form found in `view`.
    fn find(&self, view: &View, cut: bool, ranges: &mut Vec<(usize, usize)>) {
        let folded = lower(&view.bytes);
        for needle in &self.needles {
            let haystack = if needle.fold_case {
                &folded
            } else {
                &view.bytes
            };
            for start in memmem::find_iter(haystack, &needle.bytes) {
                let end = start + needle.bytes.len();
                ranges.push(view.original(needle.widen(&view.bytes, start, end)));
            }
            if cut {
                let longest = needle.bytes.len().saturating_sub(1);
                let shortest = MIN_CUT_PREFIX.min(longest.max(1));
                if let Some(len) = (shortest..=longest)
                    .rev()
                    .find(|&len| haystack.ends_with(&needle.bytes[..len]))
                {
                    let start = haystack.len() - len;
                    let (start, _) = needle.widen(&view.bytes, start, haystack.len());
                    ranges.push(view.original((start, haystack.len())));
                }
            }
        }
    }
}

impl Needle {
    /// `start..end` with the partly depending Base64 characters around it.
    fn widen(&self, bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
        let base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
        let before = bytes[..start]
            .iter()
            .rev()
            .take(self.lead)
            .take_while(|b| base64(b))
            .count();
        let after = bytes[end..]
            .iter()
            .take(self.trail)
            .take_while(|b| base64(b))
            .count();
        // Base64 padding right after goes too, when the needle is Base64.
        let padding = if self.fold_case {
            0
        } else {
            bytes[end + after..]
                .iter()
                .take(2)
                .take_while(|b| **b == b'=')
                .count()
        };
        (start - before, end + after + padding)
    }
}

/// The Base64 and Base64url characters of `plain` after `offset` unknown
/// bytes that depend on `plain` alone.
fn base64_cores(plain: &[u8], offset: usize) -> Vec<Needle> {
    let padded = [&[0u8; 2][..offset], plain].concat();
    let bits_before = 8 * offset;
    let bits_end = 8 * (offset + plain.len());
    let first = bits_before.div_ceil(6);
    let last = bits_end / 6;
    if last <= first {
        return Vec::new();
    }
    [STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .map(|engine| Needle {
            bytes: engine.encode(&padded).as_bytes()[first..last].to_vec(),
            fold_case: false,
            lead: usize::from(!bits_before.is_multiple_of(6)),
            trail: usize::from(!bits_end.is_multiple_of(6)),
        })
        .collect()
}

/// Bytes decoded from a text, each with the range of the text it came from.
struct View {
    bytes: Vec<u8>,
    starts: Vec<u32>,
    ends: Vec<u32>,
}

impl View {
    fn of(text: &[u8]) -> View {
        let positions = (0..text.len() as u32).collect::<Vec<_>>();
        View {
            bytes: text.to_vec(),
            ends: positions.iter().map(|p| p + 1).collect(),
            starts: positions,
        }
    }

    fn with_capacity(n: usize) -> View {
        View {
            bytes: Vec::with_capacity(n),
            starts: Vec::with_capacity(n),
            ends: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, byte: u8, start: u32, end: u32) {
        self.bytes.push(byte);
        self.starts.push(start);
        self.ends.push(end);
    }

    /// The text's byte range of the view's bytes `range`.
    fn original(&self, (start, end): (usize, usize)) -> (usize, usize) {
        (self.starts[start] as usize, self.ends[end - 1] as usize)
    }

    fn strip_whitespace(&self) -> View {
        let mut out = View::with_capacity(self.bytes.len());
        for i in 0..self.bytes.len() {
            if !self.bytes[i].is_ascii_whitespace() {
                out.push(self.bytes[i], self.starts[i], self.ends[i]);
            }
        }
        out
    }

    /// `%XX` (either case) as the byte it stands for.
    fn percent_decode(&self) -> View {
        let mut out = View::with_capacity(self.bytes.len());
        let mut i = 0;
        while i < self.bytes.len() {
            let decoded = (self.bytes[i] == b'%')
                .then(|| hex_byte(self.bytes.get(i + 1..i + 3)?))
                .flatten();
            match decoded {
                Some(byte) => {
                    out.push(byte, self.starts[i], self.ends[i + 2]);
                    i += 3;
                }
                None => {
                    out.push(self.bytes[i], self.starts[i], self.ends[i]);
                    i += 1;
                }
            }
        }
        out
    }

    /// JSON string escapes as the bytes they stand for; anything else kept.
    fn json_unescape(&self) -> View {
        let mut out = View::with_capacity(self.bytes.len());
        let mut i = 0;
        while i < self.bytes.len() {
            if self.bytes[i] != b'\\' {
                out.push(self.bytes[i], self.starts[i], self.ends[i]);
                i += 1;
                continue;
            }
            let simple = match self.bytes.get(i + 1) {
                Some(b'"') => Some(b'"'),
                Some(b'\\') => Some(b'\\'),
                Some(b'/') => Some(b'/'),
                Some(b'b') => Some(0x08),
                Some(b'f') => Some(0x0c),
                Some(b'n') => Some(b'\n'),
                Some(b'r') => Some(b'\r'),
                Some(b't') => Some(b'\t'),
                _ => None,
            };
            if let Some(byte) = simple {
                out.push(byte, self.starts[i], self.ends[i + 1]);
                i += 2;
            } else if let Some((c, len)) = self.unicode_escape(i) {
                let mut utf8 = [0; 4];
                for byte in c.encode_utf8(&mut utf8).bytes() {
                    out.push(byte, self.starts[i], self.ends[i + len - 1]);
                }
                i += len;
            } else {
                out.push(b'\\', self.starts[i], self.ends[i]);
                i += 1;
            }
        }
        out
    }

    /// `\uXXXX`, or a surrogate pair of them, at `i`: the character and the
    /// number of bytes it took.
    fn unicode_escape(&self, i: usize) -> Option<(char, usize)> {
        let unit = |at: usize| -> Option<u32> {
            if self.bytes.get(at..at + 2)? != b"\\u" {
                return None;
            }
            let hex = self.bytes.get(at + 2..at + 6)?;
            Some(u32::from(hex_byte(&hex[..2])?) << 8 | u32::from(hex_byte(&hex[2..])?))
        };
        let high = unit(i)?;
        if let Some(c) = char::from_u32(high) {
            return Some((c, 6));
        }
        let low = unit(i + 6)?;
        if !(0xD800..0xDC00).contains(&high) || !(0xDC00..0xE000).contains(&low) {
            return None;
        }
        let c = char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))?;
        Some((c, 12))
    }
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

fn lower(bytes: &[u8]) -> Vec<u8> {
    bytes.to_ascii_lowercase()
}

fn strip_whitespace(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect()
}

/// `text` with the byte `ranges` (widened to whole characters, merged)
/// replaced by [`REDACTED`].
fn replace_ranges(text: &str, mut ranges: Vec<(usize, usize)>) -> String {
    if ranges.is_empty() {
        return text.to_owned();
    }
    for (start, end) in &mut ranges {
        while !text.is_char_boundary(*start) {
            *start -= 1;
        }
        while !text.is_char_boundary(*end) {
            *end += 1;
        }
    }
    ranges.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (start, end) in ranges {
        if end <= done {
            continue;
        }
        if start >= done {
            out.push_str(&text[done..start]);
            out.push_str(REDACTED);
        }
        done = end;
    }
    out.push_str(&text[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    /// Holds `+` and `/` in its Base64 at some alignment, `-`, `.`, upper case.
    const KEY: &str = "Pk9x-Yq.Zr8~Lm3?Tz>>";

    fn redacted(text: &str) -> String {
        let out = Redactor::new(KEY).redact(text);
        assert_no_trace(&out);
        out
    }

    /// No 8-character window of any encoding of the key survives.
    fn assert_no_trace(out: &str) {
        let squeezed: String = out.split_whitespace().collect();
        let mut forms = vec![KEY.to_owned(), KEY.to_lowercase(), KEY.to_uppercase()];
        forms.push(base16ct::lower::encode_string(KEY.as_bytes()));
        forms.push(base16ct::upper::encode_string(KEY.as_bytes()));
        for window in forms.iter().flat_map(|form| {
            form.as_bytes()
                .windows(8)
                .map(|w| String::from_utf8(w.to_vec()).unwrap())
                .collect::<Vec<_>>()
        }) {
            assert!(!squeezed.contains(&window), "{window:?} in {out:?}");
        }
    }

    #[test]
    fn the_key_verbatim_in_any_case_and_split() {
        assert_eq!(redacted(&format!("bad key {KEY}!")), "bad key [redacted]!");
        assert_eq!(
            redacted(&format!("BEARER {}", KEY.to_uppercase())),
            "BEARER [redacted]"
        );
        assert_eq!(
            redacted(&format!("x{}\n  {}y", &KEY[..7], &KEY[7..])),
            "x[redacted]y"
        );
        assert_eq!(redacted("nothing here"), "nothing here");
    }

    #[test]
    fn hex_in_both_cases() {
        let hex = base16ct::lower::encode_string(KEY.as_bytes());
        assert_eq!(redacted(&format!("k={hex};")), "k=[redacted];");
        assert_eq!(
            redacted(&format!("k={}", hex.to_uppercase())),
            "k=[redacted]"
        );
    }

    #[test]
    fn base64_at_every_alignment_of_key_and_bearer() {
        for prefix in ["", "a", "ab", "abc", "{\"k\":\"", "xyz:"] {
            for bearer in ["", "Bearer "] {
                let input = format!("{prefix}{bearer}{KEY}");
                // The characters past the prefix and "Bearer " carry the key.
                let from = (8 * (prefix.len() + bearer.len())).div_ceil(6) + 1;
                for encoded in [STANDARD.encode(&input), URL_SAFE.encode(&input)] {
                    let keyed = encoded.trim_end_matches('=')[from..].to_owned();
                    let check = |out: &str| {
                        let squeezed = out.replace("\r\n", "");
                        assert!(squeezed.contains(REDACTED), "{out}");
                        for window in keyed.as_bytes().windows(6) {
                            let window = std::str::from_utf8(window).unwrap();
                            assert!(!squeezed.contains(window), "{window} in {out}");
                        }
                    };
                    let out = redacted(&format!("echo: {encoded} end"));
                    assert!(out.starts_with("echo: ") && out.ends_with(" end"), "{out}");
                    check(&out);
                    // MIME-style line breaks inside.
                    let wrapped: Vec<&str> = encoded
                        .as_bytes()
                        .chunks(7)
                        .map(|c| std::str::from_utf8(c).unwrap())
                        .collect();
                    check(&Redactor::new(KEY).redact(&wrapped.join("\r\n")));
                }
            }
        }
    }

    #[test]
    fn percent_and_json_escaped() {
        let every_byte: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
        assert_eq!(redacted(&format!("u={every_byte}&")), "u=[redacted]&");
        let some = KEY
            .replace('~', "%7e")
            .replace('?', "%3F")
            .replace('>', "%3e");
        assert_eq!(redacted(&format!("u={some}")), "u=[redacted]");
        let json: String = KEY
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 3 == 0 {
                    format!("\\u{:04x}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect();
        assert_eq!(
            redacted(&format!(r#"{{"token":"{json}"}}"#)),
            r#"{"token":"[redacted]"}"#
        );
        // Base64 with its `/` JSON-escaped, and percent-encoded inside JSON.
        let b64 = STANDARD.encode(format!("Bearer {KEY}")).replace('/', "\\/");
        assert!(redacted(&format!(r#"{{"a":"{b64}"}}"#)).contains(REDACTED));
        let both = every_byte.replace('%', "\\u0025");
        assert_eq!(redacted(&format!("[{both}]")), "[[redacted]]");
        // A key split by an escaped newline.
        let split = format!("{}\\n{}", &KEY[..4], &KEY[4..]);
        assert_eq!(redacted(&format!("\"{split}\"")), "\"[redacted]\"");
    }

    #[test]
    fn a_cut_text_loses_a_trailing_start_of_the_key() {
        let redactor = Redactor::new(KEY);
        let cut = format!("answer: {}", &KEY[..9]);
        assert_eq!(redactor.redact_cut(&cut), "answer: [redacted]");
        assert_eq!(redactor.redact(&cut), cut);
        assert_eq!(redactor.redact_cut("answer: Pk9"), "answer: Pk9");
    }

    #[test]
    fn short_keys_redact_only_themselves_and_texts_stay_whole() {
        let redactor = Redactor::new("k");
        assert_eq!(redactor.redact("ok: 6b"), "o[redacted]: 6b");
        assert_eq!(Redactor::new("  ").redact("text"), "text");
        let redactor = Redactor::new("é-key-ü");
        assert_eq!(redactor.redact("«É-KEY-ü» é-key-ü"), "«É-KEY-ü» [redacted]");
        assert_eq!(
            redactor.redact("\\ud83d\\ude00 %zz \\q"),
            "\\ud83d\\ude00 %zz \\q"
        );
    }
}
