//! Property tests: round trips for arbitrary bytes and keys, and no panics on
//! arbitrary ciphertexts, key strings or key files.

use ce_crypt::hazmat;
use ce_crypt::keys::KeyFile;
use ce_crypt::{Cipher, Iv, Key, KeyEncoding, Method, payload};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::CbcBase64),
        Just(Method::CbcHex),
        Just(Method::GcmBase64)
    ]
}

fn encoding() -> impl Strategy<Value = KeyEncoding> {
    prop_oneof![
        Just(KeyEncoding::Utf8),
        Just(KeyEncoding::Base64),
        Just(KeyEncoding::Hex)
    ]
}

fn cipher(method: Method, key: [u8; 32], iv: [u8; 16]) -> Cipher {
    Cipher::new(method, Key::new(key), Some(Iv::new(iv))).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_method_round_trips(
        method in method(),
        key in any::<[u8; 32]>(),
        iv in any::<[u8; 16]>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let cipher = cipher(method, key, iv);
        let text = cipher.encrypt(&plaintext).unwrap();
        prop_assert_eq!(cipher.decrypt(text.as_bytes()).unwrap(), plaintext);
    }

    #[test]
    fn decrypting_arbitrary_text_never_panics(
        method in method(),
        data in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = cipher(method, [7; 32], [9; 16]).decrypt(&data);
    }

    #[test]
    fn decrypting_arbitrary_valid_encodings_never_panics(
        method in method(),
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        // Well-formed Base64/hex of random bytes reaches the cipher code itself.
        let cipher = cipher(method, [7; 32], [9; 16]);
        let encoded = hazmat::encode_to_string(&bytes, method.encoding());
        if let Ok(plaintext) = cipher.decrypt(encoded.as_bytes()) {
            // Anything accepted must be what some encryption produced (CBC is deterministic).
            if method != Method::GcmBase64 {
                prop_assert_eq!(cipher.encrypt(&plaintext).unwrap(), encoded);
            }
        }
    }

    #[test]
    fn key_parsing_never_panics(text in any::<String>(), encoding in encoding()) {
        let _ = Key::parse(&text, encoding).map_err(|e| e.to_string());
        let _ = Iv::parse(&text, encoding).map_err(|e| e.to_string());
    }

    #[test]
    fn key_messages_do_not_depend_on_the_key_text(key in "[!-<>-~]{32}", other in "[!-<>-~]{32}") {
        // Two wrong keys of the same shape give the same message: nothing of the
        // value itself can be in it. (No `=`, so every decodable one is 24 bytes.)
        let a = Key::parse(&key, KeyEncoding::Base64).unwrap_err();
        let b = Key::parse(&other, KeyEncoding::Base64).unwrap_err();
        if std::mem::discriminant(&a) == std::mem::discriminant(&b) {
            prop_assert_eq!(a.to_string(), b.to_string());
        }
        let short_a = Iv::parse(&key[..15], KeyEncoding::Utf8).unwrap_err().to_string();
        let short_b = Iv::parse(&other[..15], KeyEncoding::Utf8).unwrap_err().to_string();
        prop_assert_eq!(short_a, short_b);
    }

    #[test]
    fn key_file_parsing_never_panics(text in any::<String>()) {
        let _ = KeyFile::parse(&text);
    }

    #[test]
    fn key_file_lines_round_trip(key in "[A-Za-z0-9]{32}", iv in "[A-Za-z0-9]{16}") {
        let file = KeyFile::parse(&format!("CE_SECRET_KEY={key}\nCE_SECRET_IV={iv}\n")).unwrap();
        let parsed = Key::parse(file.key.unwrap().expose(), KeyEncoding::Utf8).unwrap();
        prop_assert_eq!(&parsed.expose()[..], key.as_bytes());
        let parsed = Iv::parse(file.iv.unwrap().expose(), KeyEncoding::Utf8).unwrap();
        prop_assert_eq!(&parsed.expose()[..], iv.as_bytes());
    }

    #[test]
    fn json_checks_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let checked = payload::check_json(&data);
        prop_assert_eq!(checked.is_ok(), serde_json::from_slice::<serde_json::Value>(&data).is_ok());
        if let Ok(compact) = payload::compact_json(&data) {
            let a: serde_json::Value = serde_json::from_slice(&data).unwrap();
            let b: serde_json::Value = serde_json::from_slice(&compact).unwrap();
            prop_assert_eq!(a, b);
        }
    }
}
