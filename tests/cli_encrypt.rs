//! `ce-crypt encrypt` and `decrypt`: inputs, key sources, outputs and errors.

mod common;
use common::*;
use predicates::prelude::*;
use std::fs;

#[test]
fn argument_file_and_stdin_give_the_same_bytes_as_openssl() {
    let expected = openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.json");
    fs::write(&file, SAMPLE).unwrap();

    let from_arg = ce_keyed().args(["encrypt", SAMPLE]).stdout_ok();
    let from_file = ce_keyed().arg("encrypt").arg("-i").arg(&file).stdout_ok();
    let from_dash = ce_keyed()
        .args(["encrypt", "-i", "-"])
        .write_stdin(SAMPLE)
        .stdout_ok();
    let from_stdin = ce_keyed().arg("encrypt").write_stdin(SAMPLE).stdout_ok();
    for got in [from_arg, from_file, from_dash, from_stdin] {
        assert_eq!(String::from_utf8(got).unwrap(), expected);
    }
}

#[test]
fn payload_bytes_are_encrypted_exactly_as_given() {
    // Leading spaces, a trailing newline and CRLF are part of the payload.
    let payload = "  [ {\"a\" : 1} ]\r\n\n";
    let got = ce_keyed().arg("encrypt").write_stdin(payload).stdout_ok();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        openssl_encrypt(KEY, IV, payload.as_bytes()) + "\n"
    );
}

#[test]
fn terminal_stdin_fails_with_a_hint_instead_of_waiting() {
    let screen = in_terminal(&format!(
        "CE_SECRET_KEY={KEY} CE_SECRET_IV={IV} {} encrypt; echo rc=$?",
        env!("CARGO_BIN_EXE_ce-crypt")
    ));
    assert!(screen.contains("standard input is a terminal"), "{screen}");
    assert!(screen.contains("-i FILE"), "{screen}");
    assert!(screen.contains("rc=1"), "{screen}");
}

#[test]
fn payload_must_be_json_unless_raw() {
    let err = fails_with(
        ce_keyed().arg("encrypt").write_stdin("[\n {\"a\": 1,}\n]"),
        "not valid JSON",
    );
    assert!(err.contains("line 2, column 10"), "{err}");
    assert!(err.contains("--raw"), "{err}");
    let raw = ce_keyed()
        .args(["encrypt", "--raw"])
        .write_stdin("not json \u{0}")
        .stdout_ok();
    assert_eq!(
        String::from_utf8(raw).unwrap(),
        openssl_encrypt(KEY, IV, b"not json \0") + "\n"
    );
}

#[test]
fn verify_reports_the_round_trip_on_stderr() {
    ce_keyed()
        .args(["encrypt", "--verify", SAMPLE])
        .assert()
        .success()
        .stdout(openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n")
        .stderr(predicate::str::starts_with("verified:"));
}

#[test]
fn key_sources_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ce.env");
    fs::write(
        &file,
        format!("# comment\n\nCE_SECRET_KEY={KEY}\nCE_SECRET_IV={IV}\n"),
    )
    .unwrap();
    fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let expected = openssl_encrypt(KEY, IV, b"{}") + "\n";
    let other_key = "00000000000000000000000000000000";

    // 1. flags win over the environment.
    ce().env("CE_SECRET_KEY", other_key)
        .env("CE_SECRET_IV", "0000000000000000")
        .args(["encrypt", "--key", KEY, "--iv", IV, "{}"])
        .assert()
        .success()
        .stdout(expected.clone());
    // 2. the key file wins over the environment.
    ce().env("CE_SECRET_KEY", other_key)
        .env("CE_SECRET_IV", "0000000000000000")
        .args(["encrypt", "--key-file"])
        .arg(&file)
        .arg("{}")
        .assert()
        .success()
        .stdout(expected.clone())
        .stderr("");
    // 3. the environment.
    ce_keyed()
        .args(["encrypt", "{}"])
        .assert()
        .success()
        .stdout(expected);
    // --key-file conflicts with --key: a usage error.
    ce().args(["encrypt", "--key", KEY, "--iv", IV, "--key-file"])
        .arg(&file)
        .arg("{}")
        .assert()
        .code(2);
}

#[test]
fn no_key_source_names_all_three() {
    let err = fails_with(ce().args(["encrypt", "{}"]), "no key given");
    for name in [
        "--key",
        "--iv",
        "--key-file",
        "CE_SECRET_KEY",
        "CE_SECRET_IV",
    ] {
        assert!(err.contains(name), "{name} missing from {err}");
    }
}

#[test]
fn key_and_iv_lengths_are_bytes() {
    let accented = format!("é{}", &KEY[1..]);
    let err = fails_with(
        ce().args(["encrypt", "--key", &accented, "--iv", IV, "{}"]),
        "--key/--iv: the key is 33 bytes",
    );
    assert!(err.contains("exactly 32 bytes"), "{err}");
    assert!(!err.contains(&KEY[1..]), "{err}");
    fails_with(
        ce().args(["encrypt", "--key", KEY, "--iv", "short", "{}"]),
        "IV is 5 bytes",
    );
    fails_with(
        ce().args(["encrypt", "--key", KEY, "{}"]),
        "--key needs --iv",
    );
    fails_with(
        ce().env("CE_SECRET_KEY", KEY).args(["encrypt", "{}"]),
        "CE_SECRET_IV",
    );
    fails_with(
        ce().env("CE_SECRET_KEY", KEY)
            .env("CE_SECRET_IV", "x")
            .args(["encrypt", "{}"]),
        "CE_SECRET_KEY/CE_SECRET_IV: the IV is 1 byte once",
    );
}

#[test]
fn key_file_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.env");
    fs::write(&file, format!("{KEY}\n")).unwrap();
    fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    fails_with(
        ce().args(["encrypt", "--key-file"]).arg(&file).arg("{}"),
        "line 1",
    );
    fails_with(
        ce().args(["encrypt", "--key-file"])
            .arg(dir.path().join("missing.env"))
            .arg("{}"),
        "could not read the key file",
    );
}

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
fn usage_errors_exit_2() {
    ce().args(["encrypt", "--no-such-flag"])
        .assert()
        .code(2)
        .stdout("");
    ce().args(["encrypt", "--method", "aes-128", "{}"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cbc-base64").and(predicate::str::contains("11258")));
    ce().arg("frobnicate").assert().code(2);
}

#[test]
fn every_subcommand_help_has_examples_and_environment() {
    for sub in ["encrypt", "decrypt"] {
        ce().args([sub, "--help"]).assert().success().stdout(
            predicate::str::contains("EXAMPLES:")
                .and(predicate::str::contains("CE_SECRET_KEY"))
                .and(predicate::str::contains("CE_SECRET_IV")),
        );
    }
    ce().args(["keygen", "--help"]).assert().success().stdout(
        predicate::str::contains("EXAMPLES:").and(predicate::str::contains("CE_SECRET_KEY")),
    );
}
