//! Decrypt arbitrary text with every method: it must return Ok or an error, never panic,
//! and whatever it accepts must re-encrypt (CBC) to the same bytes.
#![no_main]

use ce_crypt::codec;
use ce_crypt::keys::KeyMaterial;
use ce_crypt::method::Method;
use ce_crypt::secret::{Iv, Key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys = KeyMaterial {
        key: Key::new(*b"Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU"),
        iv: Some(Iv::new(*b"Qw5Er7Ty9Ui2Op4A")),
    };
    for method in Method::ALL {
        if let Ok(plaintext) = codec::decrypt_text(method, &keys, data) {
            let again = codec::encrypt_to_string(method, &keys, &plaintext).unwrap();
            let back = codec::decrypt_text(method, &keys, again.as_bytes()).unwrap();
            assert_eq!(back, plaintext);
        }
    }
    let _ = codec::decrypt_reader(
        Method::CbcBase64,
        &keys,
        std::io::Cursor::new(data.to_vec()),
        data.len(),
    );
});
