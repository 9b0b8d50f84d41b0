//! `ce-crypt decrypt`: what it accepts (whitespace, hex in either case, request bodies), `--pretty`,
//! and its errors, GCM tampering included.
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;

#[test]
fn decrypt_ignores_whitespace_and_prints_exact_bytes() {
    let payload = format!("{SAMPLE}{SAMPLE}\n"); // long enough for openssl to wrap at 64 columns
    let wrapped = openssl_cbc(&["-a"], payload.as_bytes());
    assert!(wrapped.iter().filter(|&&b| b == b'\n').count() > 3);
    let got = ce_keyed()
        .arg("decrypt")
        .write_stdin(wrapped.clone())
        .stdout_ok();
    assert_eq!(got, payload.as_bytes());
    let spaced: Vec<u8> = wrapped.iter().flat_map(|&b| [b, b' ']).collect();
    assert_eq!(
        ce_keyed().arg("decrypt").write_stdin(spaced).stdout_ok(),
        payload.as_bytes()
    );
    let one_line = openssl_encrypt(KEY, IV, b"[1]");
    assert_eq!(ce_keyed().args(["decrypt", &one_line]).stdout_ok(), b"[1]");
}

#[test]
fn hex_decrypt_accepts_either_case_and_whitespace() {
    let text = encrypt_with("cbc-hex", SAMPLE);
    assert!(
        text.trim_end()
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    let upper = text.to_uppercase();
    assert_eq!(decrypt_with("cbc-hex", &upper), SAMPLE.as_bytes());
    let wrapped: String = text
        .trim_end()
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c) + "\n")
        .collect();
    assert_eq!(decrypt_with("11257", &wrapped), SAMPLE.as_bytes());
    ce_keyed()
        .args(["decrypt", "--method", "cbc-hex", "abcg"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not valid hex"));
}

#[test]
fn decrypt_reads_request_bodies() {
    for method in ["cbc-base64", "cbc-hex", "gcm-base64"] {
        let body = ce_keyed()
            .args(["encrypt", "--request", "--method", method, SAMPLE])
            .stdout_ok();
        ce_keyed()
            .args(["decrypt", "--method", method])
            .write_stdin(body)
            .assert()
            .success()
            .stdout(SAMPLE);
    }
    let pretty_body = format!(
        "{{\n  \"encryptedRequest\": \"{}\"\n}}\n",
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes())
    );
    ce_keyed()
        .arg("decrypt")
        .write_stdin(pretty_body)
        .assert()
        .success()
        .stdout(SAMPLE);
    ce_keyed()
        .arg("decrypt")
        .write_stdin(r#"{"something":"else"}"#)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("not a request body"));
}

#[test]
fn decrypt_pretty_reindents_and_the_default_stays_exact() {
    let payload = r#"[{"a":1.50e+3,"b":{"c":[true,null]}}]"#;
    let ct = openssl_encrypt(KEY, IV, payload.as_bytes());
    ce_keyed()
        .args(["decrypt", &ct])
        .assert()
        .success()
        .stdout(payload);
    let out = ce_keyed().args(["decrypt", "--pretty", &ct]).stdout_ok();
    let pretty = String::from_utf8(out).unwrap();
    assert!(
        pretty.starts_with("[\n  {\n    \"a\": 1.50e+3,"),
        "{pretty}"
    );
    let a: serde_json::Value = serde_json::from_str(&pretty).unwrap();
    let b: serde_json::Value = serde_json::from_str(payload).unwrap();
    assert_eq!(a, b);
    let raw = openssl_encrypt(KEY, IV, b"not json");
    ce_keyed()
        .args(["decrypt", "--pretty", &raw])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("--pretty needs a JSON plaintext"));
}

#[test]
fn decrypt_errors_are_distinct() {
    fails_with(
        ce_keyed().arg("decrypt").write_stdin("abc$def"),
        "not valid Base64",
    );
    fails_with(ce_keyed().arg("decrypt").write_stdin(" \n"), "empty");
    fails_with(
        ce_keyed().arg("decrypt").write_stdin("AAAAAAAA"),
        "not a multiple of 16",
    );
    let other = openssl_encrypt("00000000000000000000000000000000", IV, SAMPLE.as_bytes());
    fails_with(
        ce_keyed().args(["decrypt", &other]),
        "wrong key or IV, or corrupted data",
    );
}

#[test]
fn gcm_detects_any_change_and_wrong_keys() {
    let text = encrypt_with("gcm-base64", SAMPLE);
    let mut bytes = base64_decode(text.trim_end());
    let last = bytes.len() - 1;
    for index in [0, 12, last / 2, last] {
        bytes[index] ^= 0x40;
        let tampered = base64_encode(&bytes);
        ce_keyed()
            .args(["decrypt", "--method", "gcm-base64", &tampered])
            .assert()
            .code(1)
            .stdout("")
            .stderr(predicate::str::contains("authentication failed"));
        bytes[index] ^= 0x40;
    }
    ce().env("CE_SECRET_KEY", "0".repeat(32))
        .args(["decrypt", "--method", "gcm-base64", text.trim_end()])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("authentication failed"));
    ce_keyed()
        .args([
            "decrypt",
            "--method",
            "gcm-base64",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("shorter than the 28 bytes"));
}

#[test]
fn pretty_streams_deep_nesting_under_a_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // Run under `ulimit -v`: a printer that builds its output in memory dies here.
    let run = |plaintext: &str| {
        let file = dir.path().join("nested.enc");
        std::fs::write(&file, openssl_encrypt(KEY, IV, plaintext.as_bytes())).unwrap();
        std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -v 400000 && exec "$0" "$@" > /dev/null"#)
            .arg(env!("CARGO_BIN_EXE_ce-crypt"))
            .args(["decrypt", "--pretty", "-i"])
            .arg(&file)
            .env("CE_SECRET_KEY", KEY)
            .env("CE_SECRET_IV", IV)
            .output()
            .unwrap()
    };
    let deep = run(&nested(1_000_000));
    let stderr = String::from_utf8_lossy(&deep.stderr);
    assert_eq!(deep.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: the JSON nests deeper than 1000 levels, too deep to indent; \
         drop --pretty to see the exact bytes\n"
    );
    // At the limit, 1,000 levels of indentation per element stream out.
    let wide = format!(
        "{}{}{}",
        "[".repeat(999),
        vec!["[1]"; 2000].join(","),
        "]".repeat(999)
    );
    let ok = run(&wide);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn cbc_warns_when_only_the_first_block_is_garbled() {
    let payload = br#"[{"activity_name":"Page Browse","identity":"user@example.com"}]"#;
    let ciphertext = openssl_encrypt(KEY, IV, payload);
    let wrong_iv = "AAAAAAAAAAAAAAAA";
    let out = ce()
        .args(["decrypt", "--key", KEY, "--iv", wrong_iv, &ciphertext])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(&out.stdout[16..], &payload[16..]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warning: the first 16 bytes of the plaintext are garbled and the rest is text: \
         the IV is probably wrong\n"
    );
    // The right IV: no warning.
    ce_keyed()
        .args(["decrypt", &ciphertext])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn base64_with_non_zero_trailing_bits_decodes_as_mainstream_decoders_do() {
    let canonical = String::from_utf8(ce_keyed().args(["encrypt", "[1]"]).stdout_ok()).unwrap();
    let canonical = canonical.trim();
    // 16 bytes: 22 characters and `==`; the 22nd carries 4 data bits and 2 spare ones.
    let (head, last) = canonical.trim_end_matches('=').split_at(21);
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let value = alphabet.find(last).unwrap();
    let sloppy = format!("{head}{}", &alphabet[value + 1..value + 2]);
    for text in [format!("{sloppy}=="), sloppy] {
        let plain = ce_keyed().args(["decrypt", &text]).stdout_ok();
        assert_eq!(plain, b"[1]", "{text}");
    }
}

#[test]
fn an_unpadded_base64_key_is_accepted_like_unpadded_ciphertext() {
    let key = "WGsyOXZQcUwwYVp0N1JtTjRiV2M4WWRFMWZHaDNKc1U"; // KEY, Base64 without `=`
    let iv = "UXc1RXI3VHk5VWkyT3A0QQ"; // IV, Base64 without `==`
    let expected = ce_keyed().args(["encrypt", "[1]"]).stdout_ok();
    let got = ce()
        .args([
            "encrypt",
            "--key-encoding",
            "base64",
            "--key",
            key,
            "--iv",
            iv,
            "[1]",
        ])
        .stdout_ok();
    assert_eq!(got, expected);
}
