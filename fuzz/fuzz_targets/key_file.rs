//! Parse arbitrary key files and key strings in every encoding: Ok or an error, never a
//! panic. (That no message holds a key is structural: `KeyError` carries no owned text.)
#![no_main]

use ce_crypt::keys::KeyFile;
use ce_crypt::{Iv, Key, KeyEncoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(file) = KeyFile::parse(text) {
        for encoding in [KeyEncoding::Utf8, KeyEncoding::Base64, KeyEncoding::Hex] {
            if let Some(key) = &file.key {
                let _ = Key::parse(key.expose(), encoding).map_err(|e| e.to_string());
            }
            if let Some(iv) = &file.iv {
                let _ = Iv::parse(iv.expose(), encoding);
            }
        }
    }
    for encoding in [KeyEncoding::Utf8, KeyEncoding::Base64, KeyEncoding::Hex] {
        let _ = Key::parse(text, encoding);
        let _ = Iv::parse(text, encoding);
    }
});
