//! `ce-crypt check`: every problem with its place, a payload or one per line, nothing sent,
//! exit 0 only when no rule reports an error; `--rules`, help, man page and completions.
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;

/// A valid event of asset `A1` whose timestamp is `timestamp`.
fn event(timestamp: &str) -> String {
    format!(
        r#"{{"asset_id":"A1","activity_name":"Page Browse","timestamp":"{timestamp}","identity":"u","activity_source":"web","activity_params":{{}}}}"#
    )
}

fn fresh() -> String {
    let hour_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    event(&hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[test]
fn a_clean_payload_passes_without_key_or_network() {
    // No key, no API key, no endpoint: check needs none of them.
    let payload = format!("[{},{}]", fresh(), fresh());
    ce().args(["check", &payload])
        .assert()
        .success()
        .stdout("ok: 2 events, no problems\n")
        .stderr("");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.json");
    std::fs::write(&file, &payload).unwrap();
    ce().arg("check")
        .arg("-i")
        .arg(&file)
        .assert()
        .success()
        .stdout("ok: 2 events, no problems\n");
    ce().arg("check")
        .write_stdin(format!("[{}]", fresh()))
        .assert()
        .success()
        .stdout("ok: 1 event, no problems\n");
}

#[test]
fn every_problem_is_reported_with_its_place() {
    let bad = r#"{"asset_id":"A1","activity_name":"","timestamp":"2025-08-26T12:05:43","email":7,"activity_source":"web","activity_params":{"items":[{"sku":"a","sku":"b"}]}}"#;
    let payload = format!("[{},{bad},{}]", fresh(), event("2025-08-26T12:05:43Z"));
    let stderr = ce().args(["check", &payload]).stderr_failed();
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "error: event[1].activity_name: empty",
            "error: event[1].timestamp: \"2025-08-26T12:05:43\" has no time zone: add Z if it is \
             UTC, or its offset (+05:30 for India)",
            "error: event[1].email: must be a string, found a number",
            "error: event[1].activity_params.items[0].sku: the key appears more than once in its \
             object: which value counts depends on the parser that reads it, and the others are \
             lost without a word; keep one",
            "warning: event[2].timestamp: 2025-08-26T12:05:43Z is more than 24 hours old: the API \
             stores the event but starts no journey for it (--strict makes this an error)",
        ]
    );
}

#[test]
fn warnings_alone_exit_0_unless_strict() {
    let payload = format!(
        "[{},{}]",
        event("2025-08-26T12:05:43Z"),
        event("2025-08-27T12:05:43Z")
    );
    let out = ce()
        .args(["check", &payload])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "ok: 2 events, no errors, 2 warnings\n"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("warning: event[0].timestamp:")
            && stderr.ends_with("(2 like this in all; --strict makes them errors)\n"),
        "{stderr}"
    );
    let strict = ce().args(["check", "--strict", &payload]).stderr_failed();
    assert_eq!(strict.lines().count(), 2, "{strict}");
    assert!(strict.starts_with("error: event[0].timestamp:"), "{strict}");
}

#[test]
fn the_asset_to_send_to_can_be_named() {
    let other = fresh().replace("\"A1\"", "\"B2\"");
    let payload = format!("[{},{other}]", fresh());
    ce().args(["check", "--asset", "A1", &payload])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "error: event[1].asset_id: \"B2\" is not \"A1\", the asset this request goes to; send \
             each asset's events in a request of their own\n",
        );
    ce().args(["check", "--asset", "A1", &format!("[{}]", fresh())])
        .assert()
        .success();
}

#[test]
fn every_line_of_ndjson_is_checked() {
    let good = format!("[{}]", fresh());
    let input = format!(
        "{good}\n\n[{}]\r\n[1,\n{good}\n[{}]\n",
        fresh().replace("\"web\"", "\"ios\""),
        event("2025-08-26T12:05:43Z"),
    );
    let stderr = ce()
        .args(["check", "--lines"])
        .write_stdin(input)
        .stderr_failed();
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "error: line 3: event[0].activity_source: must be \"web\" or \"app\", found \"ios\"",
            "error: line 4: the payload is not valid JSON: EOF while parsing a value at line 1, \
             column 3",
            "warning: line 6: event[0].timestamp: 2025-08-26T12:05:43Z is more than 24 hours old: \
             the API stores the event but starts no journey for it (--strict makes this an error)",
            "error: 2 of 5 payloads break the rules",
        ]
    );
    ce().args(["check", "--lines"])
        .write_stdin(format!("{good}\n[{},{}]\n", fresh(), fresh()))
        .assert()
        .success()
        .stdout("ok: 2 payloads, 3 events, no problems\n")
        .stderr("");
}

#[test]
fn rules_lists_the_table_with_its_sources() {
    let out = ce().args(["check", "--rules"]).stdout_ok();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 2 * ce_crypt::events::RULES.len());
    for line in [
        "payload (error): at most 1000 events",
        "    documented: bulk events: up to 1000 in one request",
        "timestamp (warning): at most 24 hours old",
        "activity_params (warning): no empty array, at any depth",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line} missing from:\n{text}"
        );
    }
    ce().args(["check", "--rules", "--strict"]).assert().code(2);
}

#[test]
fn help_man_and_completions_know_check() {
    let help = String::from_utf8(ce().args(["check", "--help"]).stdout_ok()).unwrap();
    assert!(help.contains("EXAMPLES:\n  ce-crypt check "), "{help}");
    // check reads no key and no variable, and lists none.
    for var in ["CE_SECRET_KEY", "CE_API_KEY"] {
        assert!(!help.contains(var), "{var}");
    }
    for line in help
        .split("EXAMPLES:")
        .nth(1)
        .unwrap()
        .lines()
        .filter(|l| l.trim_start().starts_with("ce-crypt check"))
    {
        let words: Vec<&str> = line
            .split(" #")
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        ce().args(&words[1..]).arg("--help").assert().success();
    }
    let page = String::from_utf8(ce().arg("man").stdout_ok()).unwrap();
    assert!(page.contains(".SH \"CE-CRYPT CHECK\""));
    ce().args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("check"));
}

#[test]
fn the_quick_start_events_pass() {
    // examples/events.json is the README's quick-start payload: no errors, ever (its
    // timestamps only grow old, which warns).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/events.json");
    let out = ce().args(["check", "-i", path]).stdout_ok();
    let verdict = String::from_utf8(out).unwrap();
    assert!(verdict.starts_with("ok: 2 events, no "), "{verdict}");
    let text = std::fs::read_to_string(path).unwrap();
    for needle in ["+05:30\"", "\"identity\"", "\"anonid\"", "\"items\": ["] {
        assert!(text.contains(needle), "{needle}");
    }
}
