//! Batch mode from the command line: `encrypt --lines` and `decrypt --lines`.

mod common;
use common::*;
use predicates::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Std, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

#[test]
fn output_is_streamed_while_input_is_still_open() {
    // Write one line, read its ciphertext back, and only then send the next:
    // this deadlocks (and the test times out) unless ce-crypt flushes as it goes.
    let mut child = Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
        .env("CE_SECRET_KEY", KEY)
        .env("CE_SECRET_IV", IV)
        .args(["encrypt", "--lines"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
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
