//! The event rules as the commands apply them: `send` takes every form Netcore's Add Activity
//! API documents and refuses what it forbids before anything leaves; warnings once per rule,
//! `--strict`; and error advice each command can act on.
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;
use std::net::TcpListener;

use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};

/// Now shifted by `minutes`, written in the local time of `offset` (`None`: UTC with `Z`).
fn stamp(minutes: i64, offset: Option<(i8, i8)>) -> String {
    let at = Timestamp::now() + SignedDuration::from_mins(minutes);
    match offset {
        None => at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some((hours, mins)) => {
            let seconds = (i32::from(hours) * 60 + i32::from(mins)) * 60;
            let offset = Offset::from_seconds(seconds).unwrap();
            let local = offset.to_datetime(at).strftime("%Y-%m-%dT%H:%M:%S");
            format!("{local}{hours:+03}:{:02}", mins.abs())
        }
    }
}

/// An event as the docs show one, with its identifier (raw JSON members) and the rest given.
fn event(asset: &str, timestamp: &str, who: &str, source: &str, params: &str) -> String {
    format!(
        r#"{{"asset_id":"{asset}","activity_name":"Product Purchase","timestamp":"{timestamp}",{who},"activity_source":"{source}","activity_params":{params}}}"#
    )
}

/// A valid event of asset A1 with `who` as its identifier.
fn event_of(who: &str) -> String {
    event("A1", &stamp(-60, None), who, "web", "{}")
}

fn payload<S: AsRef<str>>(events: &[S]) -> String {
    let events: Vec<&str> = events.iter().map(AsRef::as_ref).collect();
    format!("[{}]", events.join(","))
}

/// `send` to a port on this machine that records whether anything connected.
struct NothingSent {
    listener: TcpListener,
}

impl NothingSent {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Self { listener }
    }

    fn send(&self) -> Command {
        let mut cmd = ce_keyed();
        let url = format!(
            "http://{}/v1/activity/upload",
            self.listener.local_addr().unwrap()
        );
        cmd.env("CE_API_KEY", "panel-api-key")
            .env_remove("CE_ASSET_ID")
            .args(["send", "--endpoint", &url]);
        cmd
    }

    fn assert_untouched(&self) {
        assert!(self.listener.accept().is_err(), "something was sent");
    }
}

#[test]
fn the_offset_helper_writes_what_the_docs_show() {
    let utc = stamp(0, None);
    let ist = stamp(0, Some((5, 30)));
    let pst = stamp(0, Some((-8, 0)));
    assert!(utc.ends_with('Z') && utc.len() == 20, "{utc}");
    assert!(ist.ends_with("+05:30") && ist.len() == 25, "{ist}");
    assert!(pst.ends_with("-08:00") && pst.len() == 25, "{pst}");
    let [a, b, c] = [&utc, &ist, &pst].map(|t| t.parse::<Timestamp>().unwrap().as_second());
    assert!(
        a.abs_diff(b) <= 1 && a.abs_diff(c) <= 1,
        "{utc} {ist} {pst}"
    );
}

#[test]
fn send_takes_every_form_the_docs_show() {
    let items =
        r#"{"items":[{"sku":"SKU-1","qty":2,"price":59.99}],"total":119.98,"currency":"INR"}"#;
    let events = vec![
        // Timestamps: UTC, and local time with its offset (IST, PST, +00:00), fractions.
        event(
            "A1",
            &stamp(-60, None),
            r#""identity":"user@example.com""#,
            "web",
            "{}",
        ),
        event(
            "A1",
            &stamp(-60, Some((5, 30))),
            r#""identity":"user@example.com""#,
            "app",
            items,
        ),
        event(
            "A1",
            &stamp(-60, Some((-8, 0))),
            r#""identity":"user@example.com""#,
            "web",
            "{}",
        ),
        event(
            "A1",
            &stamp(-60, Some((0, 0))),
            r#""identity":"user@example.com""#,
            "web",
            "{}",
        ),
        event(
            "A1",
            &stamp(-60, None).replace('Z', ".250Z"),
            r#""identity":"u""#,
            "web",
            "{}",
        ),
        // Identifiers: identity as a string or an integer of any size, or one of the others.
        event_of(r#""identity":123456789012345678901234567890"#),
        event_of(r#""identity":12345678901234567890123"#),
        event_of(r#""identity":42"#),
        event_of(r#""email":"user@example.com""#),
        event_of(r#""mobile":"919876543210""#),
        event_of(r#""mobile":919876543210"#),
        event_of(r#""anonid":"3f2a-anon""#),
        event_of(r#""annonid":"3f2a-anon""#),
        event_of(r#""identity":"u","email":"user@example.com","anonid":"3f2a-anon""#),
    ];
    let text = payload(&events);
    let script = send()
        .args(["--dry-run", &text])
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    let script = String::from_utf8(script).unwrap();
    assert!(script.contains("'x-asset: A1'"), "{script}");
    // The documented maximum, 1000 events in one request.
    let thousand = payload(&vec![event_of(r#""identity":"u""#); 1000]);
    send()
        .args(["--dry-run"])
        .write_stdin(thousand)
        .assert()
        .success()
        .stderr("");
}

fn send() -> Command {
    let mut cmd = ce_keyed();
    cmd.env_remove("CE_ASSET_ID").arg("send");
    cmd
}

#[test]
fn send_refuses_what_the_docs_forbid_before_sending() {
    let good = event_of(r#""identity":"u""#);
    let with = |who: &str, timestamp: &str, source: &str, params: &str| {
        payload(&[event("A1", timestamp, who, source, params)])
    };
    let now = stamp(-60, None);
    let id = r#""identity":"u""#;
    let cases: Vec<(String, &str)> = vec![
        (
            with(r#""name":"u""#, &now, "web", "{}"),
            "error: event[0].identity: missing, and so are email, mobile and anonid",
        ),
        (
            with(r#""identity":1.5"#, &now, "web", "{}"),
            "error: event[0].identity: must be a string or an integer, found a decimal number",
        ),
        (
            with(id, "2025-08-26T12:05:43", "web", "{}"),
            "error: event[0].timestamp: \"2025-08-26T12:05:43\" has no time zone",
        ),
        (
            with(id, "2025-02-29T12:05:43Z", "web", "{}"),
            "error: event[0].timestamp: \"2025-02-29T12:05:43Z\" is not a valid date-time",
        ),
        (
            with(id, "2025-08-26T24:00:00Z", "web", "{}"),
            "error: event[0].timestamp: \"2025-08-26T24:00:00Z\" is not a date-time the API takes: write UTC as",
        ),
        (
            with(id, "26/08/2025", "web", "{}"),
            "is not a date-time the API takes",
        ),
        (
            with(id, &now, "ios", "{}"),
            "error: event[0].activity_source: must be \"web\" or \"app\", found \"ios\"",
        ),
        (
            with(id, &now, "web", "[]"),
            "error: event[0].activity_params: must be an object, found an array",
        ),
        (
            payload(&[good.replace("\"A1\"", "\"\"")]),
            "error: event[0].asset_id: empty",
        ),
        (
            payload(&[good.replacen('{', r#"{"asset_id":"B2","#, 1)]),
            "error: event[0].asset_id: the key appears more than once in its object",
        ),
        (
            with(id, &now, "web", r#"{"sku":"a","sku":"b"}"#),
            "error: event[0].activity_params.sku: the key appears more than once",
        ),
        (
            payload(&[good.replace("\"Product Purchase\"", r#""\ud800""#)]),
            "error: event[0]: the payload holds a lone surrogate, \\ud800 at line 1, column",
        ),
        (
            format!("\u{feff}{}", payload(&[&good])),
            "error: the payload starts with a UTF-8 byte-order mark",
        ),
    ];
    for (text, expected) in cases {
        let server = NothingSent::new();
        let stderr = server.send().write_stdin(text.clone()).stderr_failed();
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
        assert!(
            !stderr.contains("--raw encrypts") && !stderr.contains("pass --raw"),
            "{stderr}"
        );
        server.assert_untouched();
    }
    let utf16: Vec<u8> = payload(&[&good])
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let server = NothingSent::new();
    let stderr = server.send().write_stdin(utf16).stderr_failed();
    assert!(
        stderr.contains("the payload is UTF-16 (little-endian)")
            && stderr.contains("iconv -f UTF-16LE"),
        "{stderr}"
    );
    server.assert_untouched();
}

#[test]
fn a_named_asset_must_be_every_events_asset() {
    let good = event_of(r#""identity":"u""#);
    let text = payload(&[
        good.clone(),
        good.clone(),
        good.replace("\"A1\"", "\"B2\""),
        good.replace("\"A1\"", "\"C3\""),
    ]);
    let refusal = "error: event[2].asset_id: \"B2\" is not \"A1\", the asset this request goes to; \
                   send each asset's events in a request of their own\n";
    // From --asset, and from CE_ASSET_ID: the first event that differs is named, once.
    let server = NothingSent::new();
    server
        .send()
        .args(["--asset", "A1", &text])
        .assert()
        .code(1)
        .stdout("")
        .stderr(refusal);
    server
        .send()
        .env("CE_ASSET_ID", "A1")
        .arg(&text)
        .assert()
        .code(1)
        .stdout("")
        .stderr(refusal);
    server.assert_untouched();
    // A matching asset is fine.
    send()
        .args(["--dry-run", "--asset", "A1", &payload(&[good])])
        .assert()
        .success()
        .stdout(predicate::str::contains("'x-asset: A1'"));
}

#[test]
fn warnings_come_once_per_rule_with_a_count_and_strict_refuses_them() {
    let old = event(
        "A1",
        "2025-08-26T12:05:43Z",
        r#""identity":"u""#,
        "web",
        "{}",
    );
    let empty = event(
        "A1",
        &stamp(-60, None),
        r#""identity":"u""#,
        "web",
        r#"{"items":[]}"#,
    );
    let ahead = event("A1", &stamp(330, None), r#""identity":"u""#, "web", "{}");
    let text = payload(&[old.clone(), old.clone(), empty, old, ahead]);
    let expected = [
        "warning: event[0].timestamp: 2025-08-26T12:05:43Z is more than 24 hours old: the API \
         stores the event but starts no journey for it (3 like this in all; --strict makes them \
         errors)",
        "warning: event[4].timestamp:",
        "warning: event[2].activity_params.items: an empty array: the API does not insert an \
         event whose activity_params hold one; leave the field out, or give it items (--strict \
         makes this an error)",
    ];
    for args in [&["send", "--dry-run"][..], &["encrypt", "--check-events"]] {
        let out = ce_keyed()
            .args(args)
            .arg(&text)
            .assert()
            .success()
            .get_output()
            .clone();
        assert!(!out.stdout.is_empty());
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{stderr}");
        for (line, start) in lines.iter().zip(expected) {
            assert!(line.starts_with(start), "{args:?}: {line}");
        }
        assert!(
            lines[1].contains("is more than an hour in the future"),
            "{stderr}"
        );
        // --strict: every match is an error, and nothing is printed on stdout.
        let stderr = ce_keyed()
            .args(args)
            .args(["--strict", &text])
            .stderr_failed();
        assert_eq!(stderr.lines().count(), 5, "{stderr}");
        assert!(
            stderr.lines().all(|l| l.starts_with("error: event[")),
            "{stderr}"
        );
    }
    // --strict belongs to the event checks.
    ce_keyed()
        .args(["encrypt", "--strict", "[1]"])
        .assert()
        .code(2);
    ce_keyed()
        .args(["send", "--no-check", "--strict", "[1]"])
        .assert()
        .code(2);
    // One payload per line: counted over all lines, the first line named.
    let fresh = payload(&[event_of(r#""identity":"u""#)]);
    let lines = format!(
        "{fresh}\n{}\n{}\n",
        payload(&[event(
            "A1",
            "2025-08-26T12:05:43Z",
            r#""identity":"u""#,
            "web",
            "{}"
        )]),
        payload(&[event(
            "A1",
            "2025-08-27T12:05:43Z",
            r#""identity":"u""#,
            "web",
            "{}"
        )])
    );
    let out = ce_keyed()
        .args(["encrypt", "--lines", "--check-events"])
        .write_stdin(lines.clone())
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 3);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "warning: line 2: event[0].timestamp: 2025-08-26T12:05:43Z is more than 24 hours old"
        ) && stderr
            .trim_end()
            .ends_with("(2 like this in all; --strict makes them errors)")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    ce_keyed()
        .args(["encrypt", "--lines", "--check-events", "--strict"])
        .write_stdin(lines)
        .assert()
        .code(1)
        .stdout(predicate::str::is_empty().not())
        .stderr(predicate::str::starts_with(
            "error: line 2: event[0].timestamp: 2025-08-26T12:05:43Z is more than 24 hours old",
        ));
}

#[test]
fn advice_fits_the_command() {
    let not_json = "[1,";
    let advice = |args: &[&str]| -> String {
        let mut cmd = ce_keyed();
        cmd.args(args);
        fails_with(&mut cmd, "not valid JSON")
    };
    assert!(advice(&["encrypt", not_json]).ends_with("(pass --raw to encrypt any bytes)\n"));
    let events = advice(&["encrypt", "--check-events", not_json]);
    assert!(
        events.ends_with(
            "(--check-events needs a JSON array of events; without it, --raw encrypts any bytes)\n"
        ),
        "{events}"
    );
    let compact = advice(&["encrypt", "--compact", not_json]);
    assert!(
        compact.ends_with("(--compact needs JSON; without it, --raw encrypts any bytes)\n"),
        "{compact}"
    );
    let send = advice(&["send", "--dry-run", not_json]);
    assert!(
        send.ends_with("; the upload API takes only JSON, so send has no --raw: fix the payload\n"),
        "{send}"
    );
    let check = advice(&["check", not_json]);
    assert!(!check.contains("--"), "{check}");
    let ciphertext = openssl_encrypt(KEY, IV, b"not json");
    let pretty = advice(&["decrypt", "--pretty", &ciphertext]);
    assert!(
        pretty.ends_with("(--pretty needs a JSON plaintext; drop it to see the exact bytes)\n")
            && !pretty.contains("--raw"),
        "{pretty}"
    );
    // A byte-order mark would reach the API under --raw: no command suggests it.
    for args in [
        &["encrypt"][..],
        &["encrypt", "--check-events"],
        &["send", "--dry-run"],
        &["check"],
    ] {
        let stderr = ce_keyed()
            .args(args)
            .write_stdin("\u{feff}[1]")
            .stderr_failed();
        assert!(
            stderr.contains("byte-order mark (bytes EF BB BF)") && !stderr.contains("--raw"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn the_json_check_and_the_event_checks_agree() {
    // Once passed by the plain check and refused by the event checks as "not valid JSON".
    for args in [&["encrypt"][..], &["encrypt", "--check-events"], &["check"]] {
        let stderr = ce_keyed().args(args).arg(r#"["\ud800"]"#).stderr_failed();
        assert!(stderr.starts_with("error: the payload holds a lone surrogate, \\ud800 at line 1, column 3: one half of a UTF-16 pair"), "{args:?}: {stderr}");
    }
    // A number too large for a float is JSON to both.
    let big = payload(&[event(
        "A1",
        &stamp(-60, None),
        r#""identity":"u""#,
        "web",
        r#"{"n":1e400}"#,
    )]);
    ce_keyed().args(["encrypt", &big]).assert().success();
    ce_keyed()
        .args(["encrypt", "--check-events", &big])
        .assert()
        .success()
        .stderr("");
}
