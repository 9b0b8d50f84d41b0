//! Reliability and secret hygiene across `encrypt` and `decrypt`: output files written whole
//! or not at all (even when killed), special files and closed pipes, key-file permission
//! warnings, no plaintext after a failed check, odd inputs failing cleanly.
#![cfg(feature = "cli")]

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
fn output_file_is_written_whole_and_failures_leave_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.enc");
    ce_keyed()
        .args(["encrypt", SAMPLE, "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout("");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n"
    );

    // A failing run leaves the old content, and no temporary file.
    fails_with(
        ce_keyed().args(["encrypt", "[1,", "-o"]).arg(&out),
        "not valid JSON",
    );
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n"
    );
    fails_with(
        ce_keyed().args(["decrypt", "AAAA", "-o"]).arg(&out),
        "not a multiple",
    );
    assert_eq!(entries(dir.path()), ["events.enc"]);

    // A failing run with a new name leaves nothing at all.
    let fresh = dir.path().join("fresh.out");
    fails_with(
        ce_keyed().args(["decrypt", "AAAA", "-o"]).arg(&fresh),
        "not a multiple",
    );
    assert_eq!(entries(dir.path()), ["events.enc"]);

    // Decrypting into the file replaces it with the plaintext.
    ce_keyed()
        .arg("decrypt")
        .arg("-i")
        .arg(&out)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(fs::read_to_string(&out).unwrap(), SAMPLE);
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
fn special_files_are_written_directly_and_survive() {
    ce_keyed()
        .args(["encrypt", SAMPLE, "-o", "/dev/null"])
        .assert()
        .success();
    assert!(
        std::path::Path::new("/dev/null")
            .metadata()
            .unwrap()
            .file_type()
            .is_char_device_like()
    );

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || fs::read(reader_path).unwrap());
    ce_keyed()
        .args(["encrypt", SAMPLE, "-o"])
        .arg(&fifo)
        .assert()
        .success();
    let got = reader.join().unwrap();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n"
    );
    assert!(
        fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo_like(),
        "still a FIFO"
    );
}

trait FileTypeExt {
    fn is_char_device_like(&self) -> bool;
    fn is_fifo_like(&self) -> bool;
}

impl FileTypeExt for fs::FileType {
    fn is_char_device_like(&self) -> bool {
        std::os::unix::fs::FileTypeExt::is_char_device(self)
    }
    fn is_fifo_like(&self) -> bool {
        std::os::unix::fs::FileTypeExt::is_fifo(self)
    }
}

#[test]
fn closed_stdout_ends_quietly() {
    use std::io::Read;
    use std::process::{Command as Std, Stdio};
    let big = format!("[{}]", vec!["\"x\""; 400_000].join(","));
    let lines = "[1]\n".repeat(200_000);
    let dir = tempfile::tempdir().unwrap();
    let encrypted = dir.path().join("big.enc");
    fs::write(&encrypted, openssl_encrypt(KEY, IV, big.as_bytes())).unwrap();
    let jsonl = dir.path().join("lines.jsonl");
    fs::write(&jsonl, &lines).unwrap();
    for (args, first_bytes) in [
        (vec!["decrypt", "-i"], big.as_bytes()[..20].to_vec()),
        (
            vec!["encrypt", "--lines", "-i"],
            openssl_encrypt(KEY, IV, b"[1]").as_bytes()[..20].to_vec(),
        ),
    ] {
        let input = if args[0] == "decrypt" {
            &encrypted
        } else {
            &jsonl
        };
        let mut child = Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
            .env("CE_SECRET_KEY", KEY)
            .env("CE_SECRET_IV", IV)
            .args(&args)
            .arg(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 20];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
        let out = child.wait_with_output().unwrap();
        assert_eq!(&first[..], &first_bytes[..], "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
    }
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
        .write_stdin(vec![b'[', 0xffu8, 0xfe, b']'])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid UTF-8"));
    // FF FE first is UTF-16's byte-order mark: named as such.
    ce_keyed()
        .args(["encrypt"])
        .write_stdin(vec![0xffu8, 0xfe])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the payload is UTF-16 (little-endian)",
        ));
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
