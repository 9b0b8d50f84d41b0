//! `ce-crypt encrypt`: where the payload comes from, `--raw`, `--verify`, `--compact`, `--request`,
//! `--check-events`, key sources and encodings and their errors, fresh GCM nonces, and `--lines`
//! (one payload per line).
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Std, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
fn encrypt_compact_removes_only_insignificant_whitespace() {
    let spaced = "[\n  {\n    \"name\" : \"a  b\\n\\\"c\\\"\",\n    \"n\": 1.0E+2 ,\n    \"n\": -0,\n    \"u\": \"\\u00e9\"\n  }\n]\n";
    let out = ce_keyed()
        .args(["encrypt", "--compact", spaced])
        .stdout_ok();
    let ct = String::from_utf8(out).unwrap();
    let plain = ce_keyed().args(["decrypt", ct.trim_end()]).stdout_ok();
    // Byte-equal to the same whitespace removal done independently (Python's tokenizer-aware json.dumps
    // would re-spell numbers, so compare against a hand-stripped form and against values).
    let expected = r#"[{"name":"a  b\n\"c\"","n":1.0E+2,"n":-0,"u":"\u00e9"}]"#;
    assert_eq!(String::from_utf8(plain.clone()).unwrap(), expected);
    let a: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    let b: serde_json::Value = serde_json::from_str(spaced).unwrap();
    assert_eq!(a, b);
    ce_keyed()
        .args(["encrypt", "--compact", "--raw", "{}"])
        .assert()
        .code(2);
}

#[test]
fn encrypt_request_prints_the_body() {
    let out = ce_keyed()
        .args(["encrypt", "--request", SAMPLE])
        .stdout_ok();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert_eq!(
        text,
        format!(
            "{{\"encryptedRequest\":\"{}\"}}\n",
            openssl_encrypt(KEY, IV, SAMPLE.as_bytes())
        )
    );
    // Failing checks print nothing, not even the start of the body.
    ce_keyed()
        .args(["encrypt", "--request", "[1,"])
        .assert()
        .code(1)
        .stdout("");
}

#[test]
fn encrypt_check_events_reports_every_problem() {
    let payload = r#"[{"asset_id":"A","activity_name":"x","timestamp":"2025-08-26T12:05:43Z","identity":"u","activity_source":"web","activity_params":{}}, {"activity_name":"", "timestamp": 5, "identity": true, "activity_source":"web","activity_params":{}}]"#;
    let stderr = ce_keyed()
        .args(["encrypt", "--check-events", payload])
        .stderr_failed();
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "error: event[1].asset_id: missing",
            "error: event[1].activity_name: empty",
            "error: event[1].timestamp: must be a string, found a number; write UTC as \
             2021-12-29T12:06:28Z, or local time with its offset as 2021-12-29T06:12:28+05:30 \
             (fractions of a second allowed)",
            "error: event[1].identity: must be a string or an integer, found a boolean",
            // Warnings come after the errors, once per rule.
            "warning: event[0].timestamp: 2025-08-26T12:05:43Z is more than 24 hours old: the API \
             stores the event but starts no journey for it (--strict makes this an error)",
        ]
    );
    ce_keyed()
        .args(["encrypt", "--check-events", "[]"])
        .assert()
        .code(1)
        .stderr("error: payload: the array is empty; send at least one event\n");
    ce_keyed()
        .args(["encrypt", "--check-events", SAMPLE])
        .assert()
        .success();
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
        "pass --iv with --key",
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

/// `--lines` input: three payloads, a blank line (skipped) and a CRLF line ending.
const LINES: &str = "[{\"n\":1}]\n\n{\"b\": \"é\"}\r\n[3]\n";

#[test]
fn one_ciphertext_per_line_in_order_for_every_method() {
    let expected_cbc: String = ["[{\"n\":1}]", "{\"b\": \"é\"}", "[3]"]
        .iter()
        .map(|p| openssl_encrypt(KEY, IV, p.as_bytes()) + "\n")
        .collect();
    let out = ce_keyed()
        .args(["encrypt", "--lines"])
        .write_stdin(LINES)
        .stdout_ok();
    assert_eq!(String::from_utf8(out).unwrap(), expected_cbc);
    for method in ["cbc-base64", "cbc-hex", "gcm-base64"] {
        let ct = ce_keyed()
            .args(["encrypt", "--lines", "--method", method])
            .write_stdin(LINES)
            .stdout_ok();
        assert_eq!(ct.iter().filter(|&&b| b == b'\n').count(), 3, "{method}");
        ce_keyed()
            .args(["decrypt", "--lines", "--method", method])
            .write_stdin(ct)
            .assert()
            .success()
            .stdout("[{\"n\":1}]\n{\"b\": \"é\"}\n[3]\n");
    }
}

#[test]
fn lines_of_whole_blocks_and_more_match_openssl() {
    // 15, 16, 17 and 100 bytes: a tail alone, whole blocks with a padding
    // block, and whole blocks with a tail.
    let payloads: Vec<String> = [15, 16, 17, 100]
        .iter()
        .map(|&len| format!("[\"{}\"]", "x".repeat(len - 4)))
        .collect();
    let expected: String = payloads
        .iter()
        .map(|p| openssl_encrypt(KEY, IV, p.as_bytes()) + "\n")
        .collect();
    let out = ce_keyed()
        .args(["encrypt", "--lines"])
        .write_stdin(payloads.join("\n"))
        .stdout_ok();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn a_bad_line_stops_the_run_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.enc");
    ce_keyed()
        .args(["encrypt", "--lines", "-o"])
        .arg(&out)
        .write_stdin("[1]\n[2]\n{oops}\n[4]\n")
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: line 3: the payload is not valid JSON",
        ));
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    // --raw lets any line through.
    ce_keyed()
        .args(["encrypt", "--lines", "--raw"])
        .write_stdin("{oops}\n")
        .assert()
        .success();
    ce_keyed()
        .args(["decrypt", "--lines"])
        .write_stdin(format!(
            "{}\nnot base64!\n",
            openssl_encrypt(KEY, IV, b"[1]")
        ))
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("error: line 2: "));
}

#[test]
fn a_line_longer_than_one_request_is_refused_with_its_number() {
    // 5 MiB of events is the most one request holds (a line of exactly that
    // is taken); a longer line stops encrypt, decrypt and check there.
    let dir = tempfile::tempdir().unwrap();
    let at_limit = format!("[\"{}\"]", "x".repeat((5 << 20) - 4));
    let input = dir.path().join("in.ndjson");
    fs::write(&input, format!("[1]\n{at_limit}\n[2]\n")).unwrap();
    let out = ce_keyed()
        .args(["encrypt", "--lines", "-i"])
        .arg(&input)
        .stdout_ok();
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 3);

    fs::write(&input, format!("[1]\n[\"{at_limit}\"]\n[2]\n")).unwrap();
    let target = dir.path().join("out.enc");
    ce_keyed()
        .args(["encrypt", "--lines", "-o"])
        .arg(&target)
        .arg("-i")
        .arg(&input)
        .assert()
        .code(1)
        .stderr(
            "error: line 2: longer than 5 MiB, more than one request to the upload API may \
             hold; split its events over several lines\n",
        );
    assert!(!target.exists());
    ce().args(["check", "--lines", "-i"])
        .arg(&input)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::ends_with(
            "error: line 2: longer than 5 MiB, more than one request to the upload API may \
             hold; split its events over several lines\n",
        ));
    let ciphertext = format!(
        "{}\n{}\n",
        openssl_encrypt(KEY, IV, b"[1]"),
        "A".repeat(11 << 20)
    );
    ce_keyed()
        .args(["decrypt", "--lines"])
        .write_stdin(ciphertext)
        .assert()
        .code(1)
        .stdout("[1]\n")
        .stderr(
            "error: line 2: longer than 10 MiB, more than the ciphertext of the largest request \
             to the upload API (5 MiB of events)\n",
        );
}

#[test]
fn request_bodies_and_event_checks_per_line() {
    let sample_line = format!("{SAMPLE}\n");
    let out = ce_keyed()
        .args(["encrypt", "--lines", "--request", "--check-events"])
        .write_stdin(sample_line.repeat(2))
        .stdout_ok();
    let text = String::from_utf8(out).unwrap();
    let expected = format!(
        "{{\"encryptedRequest\":\"{}\"}}\n",
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes())
    );
    assert_eq!(text, expected.repeat(2));
    ce_keyed()
        .args(["encrypt", "--lines", "--check-events"])
        .write_stdin(format!("{sample_line}[]\n"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "line 2: payload: the array is empty",
        ));
}

/// `encrypt --lines`, keyed, reading `stdin`, its standard output piped.
fn encrypt_lines_piped(stdin: impl Into<Stdio>, stderr: Stdio) -> std::process::Child {
    Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
        .env("CE_SECRET_KEY", KEY)
        .env("CE_SECRET_IV", IV)
        .args(["encrypt", "--lines"])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[test]
fn output_is_streamed_while_input_is_still_open() {
    // Write one line, read its ciphertext back, and only then send the next:
    // this deadlocks (and the test times out) unless ce-crypt flushes as it goes.
    let mut child = encrypt_lines_piped(Stdio::piped(), Stdio::inherit());
    // A watchdog turns a deadlock into a failure instead of a hung test run.
    let done = Arc::new(AtomicBool::new(false));
    let (pid, watching) = (child.id(), Arc::clone(&done));
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        if !watching.load(Ordering::SeqCst) {
            let _ = Std::new("kill").arg(pid.to_string()).status();
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for payload in ["[1]", "[2]", "[3]"] {
        writeln!(stdin, "{payload}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, openssl_encrypt(KEY, IV, payload.as_bytes()) + "\n");
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    done.store(true, Ordering::SeqCst);
}

#[cfg(target_os = "linux")]
/// Runs `encrypt --lines` on a pipe holding `input` whose write end stays
/// open, for at most 30 s: its exit code (`None` if still running), its
/// stderr, and the number of lines it wrote.
fn lines_with_input_open(input: &[u8], pipe_size: Option<usize>) -> (Option<i32>, String, usize) {
    let (reader, mut writer) = std::io::pipe().unwrap();
    if let Some(size) = pipe_size {
        rustix::pipe::fcntl_setpipe_size(&writer, size).unwrap();
    }
    writer.write_all(input).unwrap();
    let mut child = encrypt_lines_piped(reader, Stdio::piped());
    let mut stdout = child.stdout.take().unwrap();
    let written = std::thread::spawn(move || {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut text).map(|_| text)
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(writer);
    let output = child.wait_with_output().unwrap();
    let written = written.join().unwrap().unwrap();
    let lines = written.iter().filter(|&&b| b == b'\n').count();
    (status, String::from_utf8(output.stderr).unwrap(), lines)
}

#[test]
#[cfg(target_os = "linux")]
fn a_bad_line_ends_the_run_while_input_is_still_open() {
    // The bad line's error must not wait for more input. A short burst:
    // one chunk, on the caller's thread.
    let input = format!("{}[2]\n[bad\n", "[1]\n".repeat(14_000));
    let (status, stderr, lines) = lines_with_input_open(input.as_bytes(), None);
    assert_eq!(status, Some(1), "still running: {stderr}");
    assert!(stderr.starts_with("error: line 14002: "), "{stderr}");
    assert_eq!(lines, 14_001);

    // Exactly one full read (256 KiB, in a pipe of 1 MiB): a chunk cut
    // into parts on two cores, the bad line in the helper's part, and a
    // read after it that would wait for ever.
    let mut input = "   \n".repeat(32_768);
    input.push_str(&"[1]\n".repeat(32_767));
    input.push_str("[b]\n");
    assert_eq!(input.len(), 256 * 1024);
    let (status, stderr, lines) = lines_with_input_open(input.as_bytes(), Some(1 << 20));
    assert_eq!(status, Some(1), "still running: {stderr}");
    assert!(stderr.starts_with("error: line 65536: "), "{stderr}");
    assert_eq!(lines, 32_767);
}

#[test]
fn verify_and_compact_do_not_combine_with_lines() {
    ce_keyed()
        .args(["encrypt", "--lines", "--verify"])
        .write_stdin("[1]\n")
        .assert()
        .code(2);
    ce_keyed()
        .args(["encrypt", "--lines", "--compact"])
        .write_stdin("[1]\n")
        .assert()
        .code(2);
    ce_keyed()
        .args(["decrypt", "--lines", "--pretty"])
        .write_stdin("x\n")
        .assert()
        .code(2);
}

#[test]
fn key_files_take_what_a_shell_would_source() {
    let dir = tempfile::tempdir().unwrap();
    let expected = openssl_encrypt(KEY, IV, b"[1]") + "\n";
    let forms = [
        format!("export\tCE_SECRET_KEY={KEY}\nexport  CE_SECRET_IV={IV}\n"),
        format!("CE_SECRET_KEY='{KEY}'\nCE_SECRET_IV=\"{IV}\"\n"),
        format!("CE_SECRET_KEY={KEY} # the key\nCE_SECRET_IV={IV}\t# the IV\n"),
        format!("CE_SECRET_KEY={KEY}\r\nCE_SECRET_IV={IV}\r\n"),
        format!("\u{feff}CE_SECRET_KEY={KEY}\nCE_SECRET_IV={IV}\n"),
    ];
    for (n, text) in forms.iter().enumerate() {
        let file = dir.path().join(format!("{n}.env"));
        fs::write(&file, text).unwrap();
        fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let got = ce()
            .args(["encrypt", "[1]", "--key-file"])
            .arg(&file)
            .assert()
            .success()
            .stderr("")
            .get_output()
            .stdout
            .clone();
        assert_eq!(String::from_utf8(got).unwrap(), expected, "{text:?}");
    }

    // What keygen --format json writes is a key file too.
    let json = dir.path().join("k.json");
    ce().args(["keygen", "--format", "json", "-o"])
        .arg(&json)
        .assert()
        .success();
    let ciphertext = ce()
        .args(["encrypt", "[1]", "--key-file"])
        .arg(&json)
        .stdout_ok();
    let plain = ce()
        .args(["decrypt", "--key-file"])
        .arg(&json)
        .arg(String::from_utf8(ciphertext).unwrap().trim())
        .stdout_ok();
    assert_eq!(plain, b"[1]");

    // The names Netcore's scripts use, with a note.
    let netcore = dir.path().join("netcore.env");
    fs::write(&netcore, format!("SECRET_KEY={KEY}\nSECRET_IV={IV}\n")).unwrap();
    fs::set_permissions(
        &netcore,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    ce().args(["encrypt", "[1]", "--key-file"])
        .arg(&netcore)
        .assert()
        .success()
        .stdout(expected)
        .stderr(
            predicate::str::contains(
                "names SECRET_KEY, as Netcore's scripts do; read as CE_SECRET_KEY",
            )
            .and(predicate::str::contains("names SECRET_IV")),
        );
}

#[test]
fn iv_given_with_gcm_is_a_warning_naming_why() {
    for sub in ["encrypt", "decrypt"] {
        let out = ce()
            .args([sub, "--key", KEY, "--iv", IV, "--method", "gcm-base64", "x"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("warning: --iv is ignored: gcm-base64 draws a fresh 12-byte nonce"),
            "{sub}: {stderr}"
        );
    }
    ce().args([
        "encrypt",
        "--key",
        KEY,
        "--iv",
        IV,
        "--method",
        "gcm-base64",
        "[]",
    ])
    .assert()
    .success();
    // A CBC method reads the IV: no warning.
    ce().args(["encrypt", "--key", KEY, "--iv", IV, "[]"])
        .assert()
        .success()
        .stderr("");
    // An IV from the environment is the account's setting, ignored without a word.
    ce_keyed()
        .args(["encrypt", "--method", "gcm-base64", "[]"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn a_key_starting_with_a_hyphen_gets_a_hint_naming_key_equals_value() {
    let key = format!("-{}", &KEY[1..]);
    let out = ce()
        .args(["encrypt", "--key", &key, "--iv", IV, "[]"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("write it as --key=VALUE") && !stderr.contains("'-- -"),
        "{stderr}"
    );
    ce().args(["encrypt", &format!("--key={key}"), "--iv", IV, "[]"])
        .assert()
        .success();
}
