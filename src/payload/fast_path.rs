//! A quick yes for JSON text that is valid: the grammar of RFC 8259 as
//! serde_json reads it when it ignores a value, in one pass with no value
//! built and no error told.
//!
//! It only ever says yes or "don't know": text it does not accept goes to
//! serde_json, which judges it and tells the error
//! ([`super::json_text_at`]). So a false "no" costs time, never a verdict;
//! the tests hold its verdict to serde_json's on the JSONTestSuite cases
//! and on generated texts. It reads bytes: UTF-8 and lone surrogates are
//! checked beside it, as for serde_json, whose skipping does not look
//! inside strings either.
//!
//! Why: the check of a large payload must end before its first encrypted
//! byte may be written, and serde_json's skipping is most of the check.
//! With the UTF-8 pass counted in both, this check of a 64 MiB payload takes
//! about 30 % less time than serde_json's, with no allocation
//! (`docs/BENCHMARKS.md`, "Issue 15, seventh stop").

/// Whether `bytes` are one JSON value with only whitespace around it, by
/// the grammar serde_json's `IgnoredAny` reads: `false` means "ask serde_json".
pub(super) fn accepts(bytes: &[u8]) -> bool {
    Reader { bytes, at: 0 }.value_text().is_some()
}

/// The text and how far it has been read.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// The arrays and objects a value is in, as bits, innermost lowest (1 for
/// an object): no allocation. Deeper nesting is left to serde_json.
#[derive(Default)]
struct Nesting {
    objects: u128,
    depth: u32,
}

impl Nesting {
    /// Opens an array or object; `None` past [`u128::BITS`] levels.
    fn open(&mut self, object: bool) -> Option<()> {
        if self.depth == u128::BITS {
            return None;
        }
        self.objects = self.objects << 1 | u128::from(object);
        self.depth += 1;
        Some(())
    }

    /// Whether the innermost open one is an object; `None` at the top level.
    fn in_object(&self) -> Option<bool> {
        (self.depth > 0).then_some(self.objects & 1 == 1)
    }

    fn close(&mut self) {
        self.objects >>= 1;
        self.depth -= 1;
    }
}

impl Reader<'_> {
    /// Reads the whole text as one value; `None` at the first byte that
    /// does not fit (or at the end of the text where more must follow).
    fn value_text(&mut self) -> Option<()> {
        let mut nesting = Nesting::default();
        self.skip_whitespace();
        'value: loop {
            // A value starts here.
            match self.byte()? {
                open @ (b'{' | b'[') => {
                    self.at += 1;
                    self.skip_whitespace();
                    let object = open == b'{';
                    if self.byte()? == if object { b'}' } else { b']' } {
                        self.at += 1;
                    } else {
                        nesting.open(object)?;
                        if object {
                            self.member_name()?;
                        }
                        continue 'value;
                    }
                }
                b'"' => {
                    self.at += 1;
                    self.string()?;
                }
                b't' => self.word(b"true")?,
                b'f' => self.word(b"false")?,
                b'n' => self.word(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            // A value ended: a comma, or the end of what holds it.
            loop {
                self.skip_whitespace();
                let Some(object) = nesting.in_object() else {
                    return (self.at == self.bytes.len()).then_some(());
                };
                match (self.byte()?, object) {
                    (b',', _) => {
                        self.at += 1;
                        self.skip_whitespace();
                        if object {
                            self.member_name()?;
                        }
                        continue 'value;
                    }
                    (b']', false) | (b'}', true) => {
                        self.at += 1;
                        nesting.close();
                    }
                    _ => return None,
                }
            }
        }
    }

    fn byte(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// JSON's four whitespace bytes, as serde_json skips them.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.byte() {
            self.at += 1;
        }
    }

    /// An object member's name and its colon, and the whitespace after it.
    // Inlined, as `string`: called for every member, and the call's
    // register saves and the position kept in memory took a tenth of the time.
    #[inline(always)]
    fn member_name(&mut self) -> Option<()> {
        if self.byte()? != b'"' {
            return None;
        }
        self.at += 1;
        self.string()?;
        self.skip_whitespace();
        if self.byte()? != b':' {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        Some(())
    }

    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    fn skip_digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.byte() {
            self.at += 1;
        }
        self.at - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, of any size.
    fn number(&mut self) -> Option<()> {
        if self.byte() == Some(b'-') {
            self.at += 1;
        }
        match self.byte()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => _ = self.skip_digits(),
            _ => return None,
        }
        if self.byte() == Some(b'.') {
            self.at += 1;
            if self.skip_digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.byte() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.byte() {
                self.at += 1;
            }
            if self.skip_digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// The rest of a string whose opening quote has been read, through its
    /// closing quote: no control character, only JSON's escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<()> {
        loop {
            self.skip_plain();
            match self.byte()? {
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                b'\\' => {
                    let escape_len = match *self.bytes.get(self.at + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                        b'u' => {
                            let digits = self.bytes.get(self.at + 2..self.at + 6)?;
                            if !digits.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            6
                        }
                        _ => return None,
                    };
                    self.at += escape_len;
                }
                // A control character, which JSON strings may not hold.
                0..0x20 => return None,
                // A plain byte, among the last seven.
                _ => self.at += 1,
            }
        }
    }

    /// Skips string bytes that need no look (not a quote, a backslash or a
    /// control character), eight at a time (Mycroft's zero-byte test, as
    /// serde_json's own string skipping does).
    fn skip_plain(&mut self) {
        const ONES: u64 = u64::MAX / 255;
        const HIGH: u64 = ONES << 7;
        /// Bytes of `x` equal to zero, as their high bits; the lowest is exact.
        fn zero_bytes(x: u64) -> u64 {
            x.wrapping_sub(ONES) & !x & HIGH
        }
        while let Some(chunk) = self.bytes.get(self.at..self.at + 8) {
            let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
            let stops = control
                | zero_bytes(x ^ (ONES * u64::from(b'"')))
                | zero_bytes(x ^ (ONES * u64::from(b'\\')));
            if stops != 0 {
                self.at += (stops.trailing_zeros() / 8) as usize;
                return;
            }
            self.at += 8;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;
    use serde::de::IgnoredAny;

    use super::accepts;

    /// serde_json's verdict on the same bytes, read as bytes (no UTF-8
    /// check, which serde_json's skipping does not make inside strings either).
    fn serde_accepts(bytes: &[u8]) -> bool {
        serde_json::from_slice::<IgnoredAny>(bytes).is_ok()
    }

    /// How deep arrays and objects nest in `bytes`, outside strings.
    fn nesting_depth(bytes: &[u8]) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
        for &b in bytes {
            match (in_string, escaped, b) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
                (false, _, b'[' | b'{') => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }

    /// The fast path's yes is serde_json's, and so is its no, but for
    /// nesting deeper than it holds.
    fn agrees(bytes: &[u8]) -> Result<(), String> {
        let (fast, serde) = (accepts(bytes), serde_accepts(bytes));
        let deep = nesting_depth(bytes) > u128::BITS as usize;
        if fast == serde || (deep && serde && !fast) {
            return Ok(());
        }
        Err(format!(
            "fast path {fast}, serde_json {serde} on {:?}",
            String::from_utf8_lossy(bytes)
        ))
    }

    #[test]
    fn agrees_with_serde_json_on_the_json_test_suite() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/json-test-suite");
        let (mut cases, mut accepted) = (0, 0);
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            agrees(&bytes).map_err(|e| format!("{name}: {e}")).unwrap();
            if name.starts_with("y_") {
                assert!(accepts(&bytes), "{name} is valid JSON");
            }
            if name.starts_with("n_") {
                assert!(!accepts(&bytes), "{name} is not JSON");
            }
            cases += 1;
            accepted += usize::from(accepts(&bytes));
        }
        assert_eq!(cases, 318, "the suite's parsing cases");
        assert!(accepted > 100, "{accepted} accepted");
    }

    #[test]
    fn nesting_deeper_than_it_holds_is_left_to_serde_json() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        // The innermost array is empty: it is never held open.
        assert!(accepts(nested(129).as_bytes()));
        assert!(!accepts(nested(130).as_bytes()));
        assert!(serde_accepts(nested(130).as_bytes()));
        let objects = format!("{}1{}", "{\"a\":".repeat(128), "}".repeat(128));
        assert!(accepts(objects.as_bytes()));
    }

    #[test]
    fn edges_of_the_grammar() {
        for (text, valid) in [
            ("", false),
            (" \t\r\n", false),
            ("0", true),
            ("-0", true),
            ("-", false),
            ("01", false),
            ("-01", false),
            ("1.", false),
            (".1", false),
            ("1.5e", false),
            ("1.5e+", false),
            ("1.5E-07", true),
            ("1e400", true),
            ("123456789012345678901234567890", true),
            ("tru", false),
            ("true ", true),
            ("nul", false),
            ("nulll", false),
            ("[1,]", false),
            ("[,1]", false),
            ("[1 2]", false),
            ("{\"a\" 1}", false),
            ("{\"a\":1,}", false),
            ("{1:1}", false),
            ("{\"a\":}", false),
            ("[]]", false),
            ("[{]}", false),
            ("{\"a\":[1,{\"b\":null}]}", true),
            ("\"\\u12G4\"", false),
            ("\"\\u123\"", false),
            ("\"\\u00e9\\/\\b\\f\\n\\r\\t\\\"\\\\\"", true),
            ("\"\\x\"", false),
            ("\"tab\there\"", false),
            ("\"\x7f and \u{e9}\"", true),
            ("\"unterminated", false),
            ("[1] x", false),
            ("\u{feff}[]", false),
        ] {
            assert_eq!(accepts(text.as_bytes()), valid, "{text:?}");
            agrees(text.as_bytes()).unwrap();
        }
    }

    /// Bytes that matter to the grammar, and some that never may appear
    /// outside a string.
    fn piece() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"",
            "\\",
            "\\u",
            "\\ud83d",
            "e",
            "E",
            "+",
            "-",
            ".",
            "0",
            "1",
            "9",
            "true",
            "false",
            "null",
            " ",
            "\n",
            "\t",
            "\u{1}",
            "\u{1f}",
            "\u{7f}",
            "\u{e9}",
            "\"key\"",
            "\"a string of more than sixteen bytes\"",
            "x",
            "/",
            "b",
            "u",
        ])
    }

    /// JSON values of every kind, a few levels deep.
    fn value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".{0,12}", inner, 0..8)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn accepts_every_value_serde_json_writes(value in value(), pretty: bool) {
            let text = if pretty {
                serde_json::to_vec_pretty(&value)
            } else {
                serde_json::to_vec(&value)
            }
            .unwrap();
            prop_assert!(accepts(&text), "{}", String::from_utf8_lossy(&text));
        }

        #[test]
        fn agrees_on_token_soup(pieces in prop::collection::vec(piece(), 0..40)) {
            agrees(pieces.concat().as_bytes()).map_err(TestCaseError::fail)?;
        }

        /// Valid text with one byte changed, put in or taken out: near
        /// misses, at every place a string's eight-byte steps can stop.
        #[test]
        fn agrees_on_valid_text_with_one_byte_changed(
            value in value(),
            at in any::<prop::sample::Index>(),
            byte in prop::sample::select(b"{}[],:\"\\ 0-.eEtu\x01\x1f\x7f\xc3".to_vec()),
            edit in 0..3u8,
        ) {
            let mut text = serde_json::to_vec(&value).unwrap();
            let at = at.index(text.len() + 1);
            match edit {
                0 if at < text.len() => text[at] = byte,
                1 if at < text.len() => _ = text.remove(at),
                _ => text.insert(at, byte),
            }
            agrees(&text).map_err(TestCaseError::fail)?;
        }
    }
}
