//! Parse arbitrary key files and key strings in every encoding: Ok or an error, never a
//! panic, and no error message may contain the key text.
#![no_main]

use ce_crypt::keys::{KeyEncoding, KeyFile, parse_iv, parse_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = KeyFile::parse(text) {
        for encoding in [KeyEncoding::Utf8, KeyEncoding::Base64, KeyEncoding::Hex] {
            if let Some(key) = &file.key {
                if let Err(e) = parse_key(key.expose(), encoding) {
                    let message = e.to_string();
                    assert!(key.expose().len() < 4 || !message.contains(key.expose()));
                }
            }
            if let Some(iv) = &file.iv {
                let _ = parse_iv(iv.expose(), encoding);
            }
        }
    }
    for encoding in [KeyEncoding::Utf8, KeyEncoding::Base64, KeyEncoding::Hex] {
        let _ = parse_key(text, encoding);
        let _ = parse_iv(text, encoding);
    }
});
