//! Reliability and secret hygiene from the command line: permissions warnings,
//! kill-safe output files, special files, no plaintext after a failed check.

mod common;
use common::*;
use predicates::prelude::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command as Std, Stdio};
use std::time::Duration;

#[test]
fn a_shared_key_file_gets_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ce.env");
    fs::write(&file, format!("CE_SECRET_KEY={KEY}\nCE_SECRET_IV={IV}\n")).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    ce().args(["encrypt", "--key-file"])
        .arg(&file)
        .arg("{}")
        .assert()
        .success()
        .stderr(
            predicate::str::contains("warning:")
                .and(predicate::str::contains(file.display().to_string()))
                .and(predicate::str::contains("chmod 600")),
        );
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    ce().args(["encrypt", "--key-file"])
        .arg(&file)
        .arg("{}")
        .assert()
        .success()
        .stderr("");
}

#[test]
fn killed_at_any_moment_the_output_is_old_or_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.bin");
    let bytes: Vec<u8> = (0..96u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&input, &bytes).unwrap();
    drop(bytes);
    let whole = dir.path().join("whole.enc");
    ce_keyed()
        .args(["encrypt", "--raw", "-i"])
        .arg(&input)
        .arg("-o")
        .arg(&whole)
        .assert()
        .success();
    let whole = fs::read(&whole).unwrap();

    let out_dir = dir.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let target = out_dir.join("events.enc");
    let old = b"old content\n".to_vec();
    let mut killed_mid_write = 0;
    for delay_ms in [5u64, 20, 40, 80, 120, 160, 240, 320] {
        fs::write(&target, &old).unwrap();
        let mut child = Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
            .env("CE_SECRET_KEY", KEY)
            .env("CE_SECRET_IV", IV)
            .args(["encrypt", "--raw", "-i"])
            .arg(&input)
            .arg("-o")
            .arg(&target)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        let now = fs::read(&target).unwrap();
        assert!(
            now == old || now == whole,
            "torn file after {delay_ms} ms: {} bytes",
            now.len()
        );
        // A temporary file left behind proves the kill landed mid-write.
        for name in entries(&out_dir).into_iter().filter(|n| n != "events.enc") {
            killed_mid_write += 1;
            fs::remove_file(out_dir.join(name)).unwrap();
        }
    }
    assert!(
        killed_mid_write > 0,
        "no kill landed during the write; the test proved nothing"
    );
}

#[test]
fn dev_stdout_is_written_directly() {
    // -o /dev/stdout with stdout a pipe: the text arrives, and /dev/stdout survives.
    let out = ce_keyed()
        .args(["encrypt", SAMPLE, "-o", "/dev/stdout"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n"
    );
    assert!(fs::symlink_metadata("/dev/stdout").is_ok());
    let null = fs::metadata("/dev/null").unwrap();
    ce_keyed()
        .args(["decrypt", "-o", "/dev/null"])
        .write_stdin(openssl_encrypt(KEY, IV, b"{}"))
        .assert()
        .success();
    assert_eq!(
        fs::metadata("/dev/null").unwrap().permissions(),
        null.permissions()
    );
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &fs::metadata("/dev/null").unwrap().file_type()
    ));
}

#[test]
fn failed_checks_print_no_plaintext() {
    // A wrong key decrypts to garbage: CBC padding fails and nothing is printed.
    let other = "0".repeat(32);
    for method in ["cbc-base64", "cbc-hex", "gcm-base64"] {
        let ct = ce()
            .env("CE_SECRET_KEY", &other)
            .env("CE_SECRET_IV", IV)
            .args(["encrypt", "--method", method, SAMPLE])
            .output()
            .unwrap()
            .stdout;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("plain.json");
        ce_keyed()
            .args(["decrypt", "--method", method, "-o"])
            .arg(&out)
            .write_stdin(ct)
            .assert()
            .code(1)
            .stdout("");
        assert!(
            entries(dir.path()).is_empty(),
            "{method}: something was written"
        );
    }
}

#[test]
fn odd_inputs_fail_cleanly() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("cbc-base64", vec![0xff, 0xfe, 0x00]),
        ("cbc-base64", b"====".to_vec()),
        ("cbc-base64", b"A".to_vec()),
        ("cbc-hex", b"0".to_vec()),
        ("cbc-hex", "é".as_bytes().to_vec()),
        ("gcm-base64", b"AAAA".to_vec()),
        ("gcm-base64", vec![b'A'; 100_001]),
    ];
    for (method, input) in cases {
        let out = ce_keyed()
            .args(["decrypt", "--method", method])
            .write_stdin(input)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{method}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with("error: ") && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    ce_keyed()
        .args(["encrypt"])
        .write_stdin(vec![0xffu8, 0xfe])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid UTF-8"));
    ce_keyed()
        .args(["encrypt"])
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not valid JSON"));
    // An empty payload with --raw is fine: one block of padding.
    ce_keyed()
        .args(["encrypt", "--raw"])
        .write_stdin("")
        .assert()
        .success()
        .stdout(openssl_encrypt(KEY, IV, b"") + "\n");
}
