//! The three Netcore methods and the key encodings, from the command line,
//! with GCM checked against Python's `cryptography` package both ways.

mod common;
use common::*;
use predicates::prelude::*;
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

#[test]
fn gcm_nonces_are_fresh_and_the_iv_is_not_needed() {
    let a = encrypt_with("gcm-base64", "{}");
    let b = encrypt_with("gcm-base64", "{}");
    assert_ne!(a, b);
    assert_ne!(
        base64_decode(a.trim_end())[..12],
        base64_decode(b.trim_end())[..12]
    );
    // Only a key: fine for GCM, an error for CBC.
    let text = ce()
        .env("CE_SECRET_KEY", KEY)
        .args(["encrypt", "--method", "gcm-base64", "{}"])
        .stdout_ok();
    ce().args(["decrypt", "--method", "gcm-base64", "--key", KEY])
        .write_stdin(text)
        .assert()
        .success()
        .stdout("{}");
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

#[test]
fn key_encodings_from_flags_and_environment() {
    let key_hex = hex(KEY.as_bytes());
    let iv_hex = hex(IV.as_bytes());
    let key_b64 = base64_encode(KEY.as_bytes());
    let iv_b64 = base64_encode(IV.as_bytes());
    let expected = openssl_encrypt(KEY, IV, b"{}") + "\n";
    ce().args([
        "encrypt",
        "--key-encoding",
        "hex",
        "--key",
        &key_hex,
        "--iv",
        &iv_hex,
        "{}",
    ])
    .assert()
    .success()
    .stdout(expected.clone());
    ce().args([
        "encrypt",
        "--key-encoding",
        "base64",
        "--key",
        &key_b64,
        "--iv",
        &iv_b64,
        "{}",
    ])
    .assert()
    .success()
    .stdout(expected.clone());
    ce().env("CE_SECRET_KEY", &key_hex)
        .env("CE_SECRET_IV", &iv_hex)
        .args(["encrypt", "--key-encoding", "hex", "{}"])
        .assert()
        .success()
        .stdout(expected.clone());
    ce().env("CE_SECRET_KEY", &key_b64)
        .env("CE_SECRET_IV", &iv_b64)
        .env("CE_KEY_ENCODING", "base64")
        .args(["encrypt", "{}"])
        .assert()
        .success()
        .stdout(expected);
    // Wrong lengths are reported in bytes after decoding.
    ce().args([
        "encrypt",
        "--key-encoding",
        "hex",
        "--key",
        &key_hex[..62],
        "--iv",
        &iv_hex,
        "{}",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains("31 bytes after hex decoding"));
    ce().args([
        "encrypt",
        "--key-encoding",
        "base64",
        "--key",
        "!!!!",
        "--iv",
        &iv_b64,
        "{}",
    ])
    .assert()
    .code(1)
    .stderr(predicate::str::contains("not valid base64"));
}

#[test]
fn keygen_key_file_encrypt_decrypt_round_trips_for_every_encoding_and_method() {
    let dir = tempfile::tempdir().unwrap();
    for encoding in ["utf8", "base64", "hex"] {
        let file = dir.path().join(format!("{encoding}.env"));
        ce().args(["keygen", "--key-encoding", encoding, "-o"])
            .arg(&file)
            .assert()
            .success();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text.contains("CE_KEY_ENCODING="),
            encoding != "utf8",
            "{text}"
        );
        for method in ["cbc-base64", "cbc-hex", "gcm-base64"] {
            let ct = ce()
                .args(["encrypt", "--method", method, "--key-file"])
                .arg(&file)
                .arg(SAMPLE)
                .stdout_ok();
            ce().args(["decrypt", "--method", method, "--key-file"])
                .arg(&file)
                .write_stdin(ct)
                .assert()
                .success()
                .stdout(SAMPLE);
        }
        let json = ce()
            .args(["keygen", "--format", "json", "--key-encoding", encoding])
            .stdout_ok();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value.get("key_encoding").is_some(), encoding != "utf8");
    }
    // A file naming one encoding and a flag naming another is refused.
    let file = dir.path().join("hex.env");
    ce().args(["encrypt", "--key-encoding", "base64", "--key-file"])
        .arg(&file)
        .arg("{}")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("CE_KEY_ENCODING=hex"));
}
