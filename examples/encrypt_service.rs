//! A service encrypting payloads with the library alone (no CLI, no network):
//! the key material comes from the environment once, at start-up, and every
//! request body is made from one [`Cipher`].
//!
//! ```sh
//! CE_SECRET_KEY=Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU CE_SECRET_IV=Qw5Er7Ty9Ui2Op4A \
//!   cargo run --example encrypt_service
//! ```

use std::error::Error;

use std::time::SystemTime;

use ce_crypt::{Cipher, EventRules, Iv, Key, KeyEncoding, Method, events, request};

/// Builds the cipher once, from the account's key and IV.
fn cipher_from_env() -> Result<Cipher, Box<dyn Error>> {
    // Fallbacks keep `cargo run --example` working out of the box; a real
    // service would refuse to start without its key.
    let key = std::env::var("CE_SECRET_KEY")
        .unwrap_or_else(|_| "Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU".to_owned());
    let iv = std::env::var("CE_SECRET_IV").unwrap_or_else(|_| "Qw5Er7Ty9Ui2Op4A".to_owned());
    let key = Key::parse(&key, KeyEncoding::Utf8)?;
    let iv = Iv::parse(&iv, KeyEncoding::Utf8)?;
    Ok(Cipher::new(Method::CbcBase64, key, Some(iv))?)
}

/// One request body for the upload API, from events the service produced.
fn request_body(cipher: &Cipher, events: &serde_json::Value) -> Result<String, Box<dyn Error>> {
    let payload = serde_json::to_vec(events)?;
    // The same checks `ce-crypt send` runs: refuse what the API would drop.
    let checked = events::check(&payload, &EventRules::new(SystemTime::now()))?;
    for warning in checked.warnings.iter() {
        eprintln!("warning: {} ({} in all)", warning.first, warning.count);
    }
    Ok(request::body(&cipher.encrypt(&payload)?))
}

fn main() -> Result<(), Box<dyn Error>> {
    let cipher = cipher_from_env()?;
    let events = serde_json::json!([{
        "asset_id": "ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1",
        "activity_name": "Page Browse",
        "timestamp": "2025-08-26T12:05:43Z",
        "identity": "user@example.com",
        "activity_source": "web",
        "activity_params": {"page_url": "https://www.example.com/"}
    }]);
    let body = request_body(&cipher, &events)?;
    println!("POST with header x-eCode: {}", cipher.method().code());
    println!("{body}");

    // What Netcore does on receipt: the body decrypts to the exact payload bytes.
    let text = request::ciphertext_of(body.as_bytes())?;
    assert_eq!(cipher.decrypt(&text)?, serde_json::to_vec(&events)?);
    Ok(())
}
