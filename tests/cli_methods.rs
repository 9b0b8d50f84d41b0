//! `ce-crypt methods` and the method table behind `--method`: every alias selects its method,
//! and GCM's wire format is checked against ring's AES-256-GCM both ways.
#![cfg(feature = "cli")]

mod common;
use common::*;

#[test]
fn every_alias_selects_its_method() {
    let cbc = openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n";
    for alias in [
        "cbc-base64",
        "CBC-BASE64",
        "AES_256_CBC_BASE64",
        "aes_256_cbc_base64",
        "11256",
    ] {
        assert_eq!(encrypt_with(alias, SAMPLE), cbc, "{alias}");
    }
    let raw_hex = {
        let bytes = openssl_cbc(&[], SAMPLE.as_bytes());
        hex(&bytes) + "\n"
    };
    for alias in ["cbc-hex", "Cbc-Hex", "AES_256_CBC_HEX", "11257"] {
        assert_eq!(encrypt_with(alias, SAMPLE), raw_hex, "{alias}");
    }
    for alias in ["gcm-base64", "AES_256_GCM_BASE64", "11258"] {
        let text = encrypt_with(alias, SAMPLE);
        assert_eq!(
            decrypt_with("gcm-base64", &text),
            SAMPLE.as_bytes(),
            "{alias}"
        );
    }
}

#[test]
fn methods_lists_the_table() {
    let out = ce().arg("methods").stdout_ok();
    let text = String::from_utf8(out).unwrap();
    for row in [
        [
            "AES_256_CBC_BASE64",
            "AES-256-CBC",
            "Base64",
            "11256",
            "cbc-base64",
        ],
        ["AES_256_CBC_HEX", "AES-256-CBC", "hex", "11257", "cbc-hex"],
        [
            "AES_256_GCM_BASE64",
            "AES-256-GCM",
            "Base64",
            "11258",
            "gcm-base64",
        ],
    ] {
        let line = text.lines().find(|l| l.starts_with(row[0])).expect(row[0]);
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cells[..5], &row[..], "{line}");
    }
}

#[test]
fn gcm_interoperates_with_ring() {
    // Ours opens there: nonce = first 12 bytes, the rest is ciphertext ‖ tag.
    let ours = encrypt_with("gcm-base64", SAMPLE);
    assert_eq!(ring_gcm::open(KEY, &ours), SAMPLE.as_bytes());

    // Theirs opens here, nonce prepended.
    let theirs = ring_gcm::seal(KEY, SAMPLE.as_bytes());
    assert_eq!(decrypt_with("gcm-base64", &theirs), SAMPLE.as_bytes());
}
