//! Checks on the events inside a payload, before they are encrypted and sent.
//!
//! Netcore's upload API takes a JSON array of event objects. Every problem is
//! collected, not just the first, so that one run shows everything to fix.

use std::fmt;

use serde_json::{Map, Value};

use crate::payload::{self, JsonError};

/// One thing wrong with one event (or with the payload as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `event[1].identity`, or `payload` for the array itself.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

/// Every problem found in a payload's events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct EventErrors {
    /// The problems, in payload order.
    pub problems: Vec<Problem>,
}

/// What a payload that passed the checks holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsSummary {
    /// How many events.
    pub count: usize,
    /// The `asset_id` every event shares, if they all agree.
    pub shared_asset_id: Option<String>,
}

/// Why a payload failed the event checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventCheckError {
    /// Not JSON at all.
    #[error(transparent)]
    Json(#[from] JsonError),
    /// JSON, but the events are wrong.
    #[error(transparent)]
    Events(#[from] EventErrors),
}

/// Parses a payload, judged as JSON exactly as `check_json` judges it.
fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    Ok(serde_json::from_str(payload::json_text(bytes)?)?)
}

/// Summarises a JSON payload without judging its events (when the checks are skipped).
pub fn summarize(bytes: &[u8]) -> Result<EventsSummary, JsonError> {
    let value = parse(bytes)?;
    Ok(EventsSummary {
        count: value.as_array().map_or(0, Vec::len),
        shared_asset_id: shared_asset_id(&value),
    })
}

/// Checks a payload: a non-empty JSON array of well-formed event objects.
pub fn check(bytes: &[u8]) -> Result<EventsSummary, EventCheckError> {
    let value = parse(bytes)?;
    let mut problems = Vec::new();
    let events = match &value {
        Value::Array(events) if events.is_empty() => {
            problems.push(problem(
                "payload",
                "the array is empty; send at least one event",
            ));
            &[][..]
        }
        Value::Array(events) => &events[..],
        other => {
            problems.push(problem(
                "payload",
                &format!("must be a JSON array of events, found {}", kind(other)),
            ));
            &[][..]
        }
    };
    for (index, event) in events.iter().enumerate() {
        match event {
            Value::Object(fields) => check_event(index, fields, &mut problems),
            other => problems.push(problem(
                &format!("event[{index}]"),
                &format!("must be an object, found {}", kind(other)),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(EventErrors { problems }.into());
    }
    Ok(EventsSummary {
        count: events.len(),
        shared_asset_id: shared_asset_id(&value),
    })
}

/// The `asset_id` that every event in a JSON array carries, if there is exactly one.
fn shared_asset_id(payload: &Value) -> Option<String> {
    let events = payload.as_array()?;
    let mut ids = events
        .iter()
        .map(|e| e.get("asset_id").and_then(Value::as_str));
    let first = ids.next()??;
    ids.all(|id| id == Some(first)).then(|| first.to_owned())
}

fn check_event(index: usize, fields: &Map<String, Value>, problems: &mut Vec<Problem>) {
    let mut report = |field: &str, message: String| {
        problems.push(problem(&format!("event[{index}].{field}"), &message));
    };
    for field in ["asset_id", "activity_name"] {
        match fields.get(field) {
            None => report(field, "missing".into()),
            Some(Value::String(s)) if s.trim().is_empty() => report(field, "empty".into()),
            Some(Value::String(_)) => {}
            Some(other) => report(field, format!("must be a string, found {}", kind(other))),
        }
    }
    match fields.get("timestamp") {
        None => report("timestamp", "missing".into()),
        Some(Value::String(s)) if is_utc_timestamp(s) => {}
        Some(Value::String(s)) => report(
            "timestamp",
            format!(
                "{} is not a UTC time like 2025-08-26T12:05:43Z",
                Value::from(s.as_str())
            ),
        ),
        Some(other) => report(
            "timestamp",
            format!(
                "must be a string like 2025-08-26T12:05:43Z, found {}",
                kind(other)
            ),
        ),
    }
    match fields.get("identity") {
        None => report("identity", "missing".into()),
        Some(Value::String(s)) if s.trim().is_empty() => report("identity", "empty".into()),
        Some(Value::String(_)) => {}
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        Some(other) => report(
            "identity",
            format!("must be a string or an integer, found {}", kind(other)),
        ),
    }
    match fields.get("activity_source") {
        None => report("activity_source", "missing".into()),
        Some(Value::String(s)) if s == "web" || s == "app" => {}
        Some(other) => report(
            "activity_source",
            format!("must be \"web\" or \"app\", found {other}"),
        ),
    }
    match fields.get("activity_params") {
        None => report("activity_params", "missing".into()),
        Some(Value::Object(_)) => {}
        Some(other) => report(
            "activity_params",
            format!("must be an object, found {}", kind(other)),
        ),
    }
}

fn problem(place: &str, message: &str) -> Problem {
    Problem {
        place: place.to_owned(),
        message: message.to_owned(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, a real date and time in UTC.
pub fn is_utc_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let separators = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[b.len() - 1] == b'Z';
    if !separators {
        return false;
    }
    let fraction = &b[19..b.len() - 1];
    let fraction_ok = fraction.is_empty()
        || (fraction.len() >= 2
            && fraction[0] == b'.'
            && fraction[1..].iter().all(u8::is_ascii_digit));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    fraction_ok && (1..=days_in_month).contains(&day) && hour < 24 && minute < 60 && second < 60
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"asset_id":"A1","activity_name":"Page Browse","timestamp":"2025-08-26T12:05:43Z","identity":"u@example.com","activity_source":"web","activity_params":{}}"#;

    fn problems(payload: &str) -> Vec<String> {
        match check(payload.as_bytes()) {
            Err(EventCheckError::Events(e)) => e.problems.iter().map(ToString::to_string).collect(),
            other => panic!("expected event problems, got {other:?}"),
        }
    }

    #[test]
    fn a_good_payload_passes_and_names_its_asset() {
        let summary = check(format!("[{GOOD},{GOOD}]").as_bytes()).unwrap();
        assert_eq!(summary.count, 2);
        assert_eq!(summary.shared_asset_id.as_deref(), Some("A1"));
        let other = GOOD.replace("\"A1\"", "\"B2\"");
        let mixed = check(format!("[{GOOD},{other}]").as_bytes()).unwrap();
        assert_eq!(mixed.shared_asset_id, None);
        let numeric = GOOD.replace("\"u@example.com\"", "12345");
        check(format!("[{numeric}]").as_bytes()).unwrap();
    }

    #[test]
    fn summarize_judges_nothing_but_json() {
        let summary = summarize(br#"[{"asset_id":"A"},{"asset_id":"A","x":[]}]"#).unwrap();
        assert_eq!(
            (summary.count, summary.shared_asset_id.as_deref()),
            (2, Some("A"))
        );
        assert_eq!(summarize(b"{}").unwrap().count, 0);
        assert!(summarize(b"[1,").is_err());
    }

    #[test]
    fn shared_asset_id_needs_every_event_to_agree() {
        let ids = |text: &str| shared_asset_id(&serde_json::from_str(text).unwrap());
        assert_eq!(
            ids(r#"[{"asset_id":"A"},{"asset_id":"A"}]"#).as_deref(),
            Some("A")
        );
        assert_eq!(ids(r#"[{"asset_id":"A"},{"asset_id":"B"}]"#), None);
        assert_eq!(ids(r#"[{"asset_id":"A"},{}]"#), None);
        assert_eq!(ids(r#"[]"#), None);
        assert_eq!(ids(r#"{"asset_id":"A"}"#), None);
    }

    #[test]
    fn the_payload_must_be_a_non_empty_array_of_objects() {
        assert_eq!(
            problems("[]"),
            ["payload: the array is empty; send at least one event"]
        );
        assert_eq!(
            problems(GOOD),
            ["payload: must be a JSON array of events, found an object"]
        );
        assert_eq!(
            problems(&format!("[{GOOD}, 3]")),
            ["event[1]: must be an object, found a number"]
        );
        assert!(matches!(check(b"[1,"), Err(EventCheckError::Json(_))));
    }

    #[test]
    fn every_rule_is_reported_with_index_and_field() {
        let bad = r#"{"asset_id":"","activity_name":7,"timestamp":"26/08/2025","identity":1.5,"activity_source":"ios","activity_params":[]}"#;
        let got = problems(&format!("[{GOOD},{bad},{{}}]"));
        assert_eq!(
            got,
            [
                "event[1].asset_id: empty",
                "event[1].activity_name: must be a string, found a number",
                "event[1].timestamp: \"26/08/2025\" is not a UTC time like 2025-08-26T12:05:43Z",
                "event[1].identity: must be a string or an integer, found a decimal number",
                "event[1].activity_source: must be \"web\" or \"app\", found \"ios\"",
                "event[1].activity_params: must be an object, found an array",
                "event[2].asset_id: missing",
                "event[2].activity_name: missing",
                "event[2].timestamp: missing",
                "event[2].identity: missing",
                "event[2].activity_source: missing",
                "event[2].activity_params: missing",
            ]
        );
    }

    #[test]
    fn timestamps_must_be_real_utc_times() {
        for good in [
            "2025-08-26T12:05:43Z",
            "2024-02-29T23:59:59Z",
            "2025-01-01T00:00:00.123Z",
        ] {
            assert!(is_utc_timestamp(good), "{good}");
        }
        for bad in [
            "2025-08-26 12:05:43Z",
            "2025-08-26T12:05:43",
            "2025-08-26T12:05:43+00:00",
            "2025-02-29T12:00:00Z",
            "2025-13-01T12:00:00Z",
            "2025-04-31T12:00:00Z",
            "2025-08-26T24:00:00Z",
            "2025-08-26T12:60:00Z",
            "2025-08-26T12:05:43.Z",
            "2025-8-26T12:05:43Z",
            "2025-08-26T12:05:4aZ",
            "",
            "1900-02-29T00:00:00Z",
        ] {
            assert!(!is_utc_timestamp(bad), "{bad}");
        }
    }
}
