//! `ce-crypt methods` and the method table behind `--method`: every alias selects its method,
//! and GCM's wire format is checked against Python's `cryptography` package both ways.
#![cfg(feature = "cli")]

mod common;
use common::*;
use std::process::{Command as Std, Stdio};

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

fn python(script: &str, args: &[&str]) -> String {
    let out = Std::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .expect("python3 is needed for the interop tests");
    assert!(
        out.status.success(),
        "python failed (is the `cryptography` package installed? pip install cryptography): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn gcm_interoperates_with_python_cryptography() {
    // Ours opens there: nonce = first 12 bytes, the rest is ciphertext ‖ tag.
    let ours = encrypt_with("gcm-base64", SAMPLE);
    let opened = python(
        "import sys, base64\n\
         from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n\
         raw = base64.b64decode(sys.argv[2])\n\
         sys.stdout.write(AESGCM(sys.argv[1].encode()).decrypt(raw[:12], raw[12:], None).decode())",
        &[KEY, ours.trim_end()],
    );
    assert_eq!(opened, SAMPLE);

    // Theirs opens here, nonce prepended.
    let theirs = python(
        "import sys, os, base64\n\
         from cryptography.hazmat.primitives.ciphers.aead import AESGCM\n\
         nonce = os.urandom(12)\n\
         ct = AESGCM(sys.argv[1].encode()).encrypt(nonce, sys.argv[2].encode(), None)\n\
         print(base64.b64encode(nonce + ct).decode())",
        &[KEY, SAMPLE],
    );
    assert_eq!(decrypt_with("gcm-base64", &theirs), SAMPLE.as_bytes());
}
