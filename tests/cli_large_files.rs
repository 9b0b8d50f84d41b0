//! `encrypt` and `decrypt` of regular files from 1 MiB on, which are streamed
//! in memory of fixed size: the bytes match openssl (CBC) and ring (GCM),
//! and nothing is written (to a pipe or an `-o` file) when the
//! JSON check, the padding or the tag fails at the far end of the file.
#![cfg(feature = "cli")]

mod common;
use common::*;
use std::fs;
use std::path::Path;

/// A JSON array of events of about `len` bytes, with a line break after each.
fn events(len: usize) -> Vec<u8> {
    let mut out = b"[\n".to_vec();
    let mut i = 0;
    while out.len() < len {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(
            format!(r#"{{"identity":"user{i}@example.com","activity_name":"Page Browse","activity_params":{{"n":{i},"s":"caf\u00e9 \"q\" , ]"}}}}"#)
                .as_bytes(),
        );
        i += 1;
    }
    out.extend_from_slice(b"\n]\n");
    out
}

fn run(args: &[&str], dir: &Path) -> std::process::Output {
    ce_keyed().args(args).current_dir(dir).output().unwrap()
}

#[test]
fn a_large_file_encrypts_as_openssl_does_to_a_pipe_and_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let payload = events(3 << 20);
    fs::write(dir.path().join("in.json"), &payload).unwrap();
    let expected = openssl_encrypt(KEY, IV, &payload) + "\n";

    let piped = run(&["encrypt", "-i", "in.json"], dir.path());
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert_eq!(String::from_utf8(piped.stdout).unwrap(), expected);

    let filed = run(&["encrypt", "-i", "in.json", "-o", "out.enc"], dir.path());
    assert!(
        filed.status.success(),
        "{}",
        String::from_utf8_lossy(&filed.stderr)
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("out.enc")).unwrap(),
        expected
    );

    let body = run(&["encrypt", "--request", "-i", "in.json"], dir.path());
    let expected_body = format!("{{\"encryptedRequest\":\"{}\"}}\n", expected.trim_end());
    assert_eq!(String::from_utf8(body.stdout).unwrap(), expected_body);
}

#[test]
fn a_large_file_encrypted_with_gcm_opens_with_ring() {
    let dir = tempfile::tempdir().unwrap();
    let payload = events(3 << 20);
    fs::write(dir.path().join("in.json"), &payload).unwrap();
    for out in ["out.gcm", "-"] {
        let done = run(
            &["encrypt", "-m", "gcm-base64", "-i", "in.json", "-o", out],
            dir.path(),
        );
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        if out == "-" {
            fs::write(dir.path().join("out.gcm"), &done.stdout).unwrap();
        }
        let text = fs::read_to_string(dir.path().join("out.gcm")).unwrap();
        assert!(
            ring_gcm::open(KEY, &text) == payload,
            "{out}: not the payload"
        );
    }
}

#[test]
fn a_large_ciphertext_decrypts_as_openssl_made_it_to_a_pipe_and_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let payload = events(3 << 20);
    // Wrapped at 64 columns, as `openssl enc -a` writes without -A.
    fs::write(dir.path().join("in.enc"), openssl_cbc(&["-a"], &payload)).unwrap();
    let piped = run(&["decrypt", "-i", "in.enc"], dir.path());
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(piped.stdout == payload, "the plaintext differs");
    let filed = run(&["decrypt", "-i", "in.enc", "-o", "out.json"], dir.path());
    assert!(
        filed.status.success(),
        "{}",
        String::from_utf8_lossy(&filed.stderr)
    );
    assert!(fs::read(dir.path().join("out.json")).unwrap() == payload);

    // The same through GCM, made by ce-crypt and read back.
    let sealed = run(
        &["encrypt", "-m", "gcm-base64", "-i", "in.enc", "--raw"],
        dir.path(),
    );
    fs::write(dir.path().join("in.gcm"), sealed.stdout).unwrap();
    let opened = run(&["decrypt", "-m", "gcm-base64", "-i", "in.gcm"], dir.path());
    assert!(opened.stdout == fs::read(dir.path().join("in.enc")).unwrap());
}

/// Runs a command that must fail, to a pipe and into an existing `-o` file:
/// stdout stays empty, the file keeps its content, no temporary file is left.
fn fails_writing_nothing(args: &[&str], dir: &Path, needle: &str) {
    let piped = run(args, dir);
    assert_eq!(piped.status.code(), Some(1), "{args:?}");
    assert!(
        piped.stdout.is_empty(),
        "{args:?} wrote {} bytes",
        piped.stdout.len()
    );
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    fs::write(dir.join("kept.out"), "old content").unwrap();
    let filed = run(&[args, &["-o", "kept.out"]].concat(), dir);
    assert_eq!(filed.status.code(), Some(1), "{args:?} -o");
    assert!(String::from_utf8_lossy(&filed.stderr).contains(needle));
    assert_eq!(
        fs::read_to_string(dir.join("kept.out")).unwrap(),
        "old content"
    );
    let temporary = fs::read_dir(dir)
        .unwrap()
        .filter_map(|entry| entry.ok())
        .any(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(".ce-crypt-")
        });
    assert!(!temporary, "a temporary file was left behind");
}

/// Writes `payload` to `in.json` in `dir`, and returns the error its check
/// tells read from standard input, whole: the streamed check of the file
/// must tell the same error at the same place.
fn told_whole(payload: &[u8], dir: &Path) -> String {
    fs::write(dir.join("in.json"), payload).unwrap();
    let whole = ce_keyed()
        .arg("encrypt")
        .write_stdin(payload.to_vec())
        .output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(1));
    String::from_utf8(whole.stderr)
        .unwrap()
        .trim_end()
        .to_owned()
}

#[test]
fn a_json_error_at_the_far_end_of_a_large_file_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut payload = events(3 << 20);
    let lines = payload.iter().filter(|&&b| b == b'\n').count();
    // `,]` after the last event: a trailing comma, on the second-to-last line.
    let end = payload.len() - 3;
    payload.insert(end, b',');
    let needle = told_whole(&payload, dir.path());
    assert!(
        needle.contains(&format!("at line {lines}, column 1")),
        "{needle}"
    );
    fails_writing_nothing(&["encrypt", "-i", "in.json"], dir.path(), &needle);

    // Bytes that are not UTF-8, deep inside.
    let mut payload = events(3 << 20);
    let middle = payload.len() / 2;
    let quote = middle + payload[middle..].iter().position(|&b| b == b'@').unwrap();
    payload[quote] = 0xff;
    fs::write(dir.path().join("in.json"), &payload).unwrap();
    fails_writing_nothing(&["encrypt", "-i", "in.json"], dir.path(), "invalid UTF-8");

    // A JSON error near the start and bytes that are not UTF-8 near the end:
    // read whole, the payload is read as UTF-8 first, so that error is told.
    let mut payload = events(3 << 20);
    let early = payload.iter().position(|&b| b == b':').unwrap();
    payload[early] = b';';
    let late = payload.len() - 200;
    let late = late + payload[late..].iter().position(|&b| b == b'@').unwrap();
    payload[late] = 0xff;
    let needle = told_whole(&payload, dir.path());
    assert!(needle.contains("invalid UTF-8 at line "), "{needle}");
    fails_writing_nothing(&["encrypt", "-i", "in.json"], dir.path(), &needle);

    // Numbers, between which no cut is guessed, up to a last comma: the
    // payload ends where a value should be, as read whole.
    let mut payload = b"[".to_vec();
    while payload.len() < 3 << 20 {
        payload.extend_from_slice(b"12345,");
    }
    payload.push(b'\n');
    fs::write(dir.path().join("in.json"), &payload).unwrap();
    fails_writing_nothing(
        &["encrypt", "-i", "in.json"],
        dir.path(),
        "EOF while parsing a value at line 2, column 0",
    );
}

/// Shapes whose check cannot go element by element: one element of 9 MiB,
/// a value that is not an array, 9 MiB of whitespace after the array. Past
/// 8 MiB held, the rest is checked as a stream: it passes and encrypts as
/// openssl does, and an error deep inside is told as it is read whole.
#[test]
fn payloads_that_cannot_be_cut_are_checked_as_whole_ones_are() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(9 << 20);
    let shapes = [
        format!(r#"[{{"a": 1}}, {{"long": "{long}", "n": [1, 2]}}, {{"b": "\u00e9"}}]"#),
        format!(r#"{{"long": "{long}"}}"#),
        format!("[1, 2]{}\n", " ".repeat(9 << 20)),
    ];
    for payload in &shapes {
        fs::write(dir.path().join("in.json"), payload).unwrap();
        let expected = openssl_encrypt(KEY, IV, payload.as_bytes()) + "\n";
        for output in [&[][..], &["-o", "out.enc"][..]] {
            let encrypted = run(
                &[&["encrypt", "-i", "in.json"], output].concat(),
                dir.path(),
            );
            assert!(
                encrypted.status.success(),
                "{}",
                String::from_utf8_lossy(&encrypted.stderr)
            );
            let text = match output.is_empty() {
                true => String::from_utf8(encrypted.stdout).unwrap(),
                false => fs::read_to_string(dir.path().join("out.enc")).unwrap(),
            };
            assert!(text == expected, "{output:?}: not openssl's ciphertext");
        }
    }
    // Errors deep in the long element, after it, and in bytes that are not UTF-8.
    let at = (17 << 20) / 2;
    let errors = [
        format!("[1, \"{}\n{}\"]", &long[..at], &long[at..]),
        format!("[1, \"{long}\", ]"),
        format!("[1, \"{long}\"]\n\n  x"),
        format!("[1, \"{}\\ud800{}\"]", &long[..at], &long[at..]),
    ];
    for payload in &errors {
        let needle = told_whole(payload.as_bytes(), dir.path());
        assert!(needle.contains(" at line "), "{needle}");
        fails_writing_nothing(&["encrypt", "-i", "in.json"], dir.path(), &needle);
    }
    let mut payload = errors[2].clone().into_bytes();
    *payload.last_mut().unwrap() = 0xff;
    let needle = told_whole(&payload, dir.path());
    assert!(
        needle.contains("invalid UTF-8 at line 3, column 3"),
        "{needle}"
    );
    fails_writing_nothing(&["encrypt", "-i", "in.json"], dir.path(), &needle);
}

#[test]
fn a_large_ciphertext_changed_at_its_end_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let payload = events(3 << 20);
    fs::write(dir.path().join("in.json"), &payload).unwrap();
    for (method, needle) in [
        ("cbc-base64", "wrong key or IV, or corrupted data"),
        ("gcm-base64", "authentication failed"),
    ] {
        let sealed = run(&["encrypt", "-m", method, "-i", "in.json"], dir.path());
        let mut text = sealed.stdout;
        // A changed character among the last block's: bad padding, or a failed tag.
        let at = text.len() - 10;
        text[at] = if text[at] == b'A' { b'B' } else { b'A' };
        fs::write(dir.path().join("in.enc"), &text).unwrap();
        fails_writing_nothing(
            &["decrypt", "-m", method, "-i", "in.enc"],
            dir.path(),
            needle,
        );
    }
}

#[test]
fn a_wrong_iv_is_told_on_the_streamed_path_too() {
    let dir = tempfile::tempdir().unwrap();
    let payload = events(3 << 20);
    fs::write(dir.path().join("in.json"), &payload).unwrap();
    let sealed = run(&["encrypt", "-i", "in.json", "-o", "in.enc"], dir.path());
    assert!(sealed.status.success());
    let opened = ce()
        .args([
            "decrypt",
            "-i",
            "in.enc",
            "--key",
            KEY,
            "--iv",
            "0000000000000000",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(opened.status.success());
    assert!(opened.stdout[16..] == payload[16..]);
    let stderr = String::from_utf8_lossy(&opened.stderr);
    assert!(stderr.contains("the IV is probably wrong"), "{stderr}");
}
