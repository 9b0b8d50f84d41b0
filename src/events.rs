//! The event rules: what Netcore's Add Activity API documents about the events
//! in a payload, checked before they are encrypted and sent.
//!
//! [`RULES`] is the one table of rules, each with a line on the documented
//! behaviour it stands for; [`check`] applies it, for `encrypt
//! --check-events`, `send`, `check` and line-by-line runs alike. Every
//! problem is collected, not just the first, so that one run shows everything
//! to fix. Rules whose breach the API survives (it stores the event but
//! starts no journey, say) are warnings: [`check`] returns them counted per
//! rule, or as errors when [`EventRules::strict`] asks for that.
//!
//! The payload is judged as JSON by [`payload::json_text`] first, the same
//! function the plain JSON check uses, so the two never disagree about what
//! is JSON.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use jiff::fmt::strtime;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::payload::{self, JsonError};

/// The most events the API takes in one request.
pub const MAX_EVENTS: usize = 1000;
/// The most bytes of events ce-crypt puts in one request: a batch closes
/// before it would pass this, and a single event (or line) longer than it
/// cannot be sent.
pub const MAX_REQUEST_BYTES: usize = 5 << 20;

/// Events older than this are stored by the API but start no journey.
pub const OLD_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Timestamps further ahead of now than this are warned about.
///
/// Clocks drift by seconds or minutes, not hours. An hour and more ahead is
/// a local time written with `Z` (India's times come out 5 h 30 min ahead),
/// a wrong offset or a wrong date.
pub const FUTURE_AFTER: Duration = Duration::from_secs(60 * 60);

/// How deep inside an event objects and arrays are still looked into.
pub const MAX_DEPTH: usize = 128;

/// Whether a rule's breach stops the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The API refuses or drops the event, or would read it wrongly.
    Error,
    /// The API takes the event, but not as one would expect; an error under
    /// [`EventRules::strict`].
    Warning,
}

/// One rule of [`RULES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// The payload is a non-empty JSON array of events.
    Array,
    /// At most [`MAX_EVENTS`] events.
    BatchSize,
    /// Each event is an object.
    Object,
    /// No object in an event repeats a key.
    DuplicateKey,
    /// `asset_id` is a non-empty string.
    AssetId,
    /// Every event has the request's asset.
    OneAsset,
    /// `activity_name` is a non-empty string.
    ActivityName,
    /// `timestamp` is an RFC 3339 date-time with `Z` or an offset.
    Timestamp,
    /// `timestamp` is at most [`OLD_AFTER`] old.
    OldTimestamp,
    /// `timestamp` is at most [`FUTURE_AFTER`] ahead of now.
    FutureTimestamp,
    /// At least one identifier.
    Identifier,
    /// Identifiers have the documented types.
    IdentifierType,
    /// `activity_source` is `web` or `app`.
    ActivitySource,
    /// `activity_params` is an object.
    ActivityParams,
    /// No empty array inside `activity_params`.
    EmptyArray,
    /// Nesting within [`MAX_DEPTH`].
    Depth,
}

/// A rule, what ce-crypt checks for it, and the documented behaviour behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule.
    pub rule: Rule,
    /// What it is about: `payload`, `event`, or a field.
    pub subject: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// What ce-crypt requires.
    pub requires: &'static str,
    /// The documented behaviour it stands for (Netcore's "Add Activity API"
    /// page unless another source is named).
    pub documented: &'static str,
}

/// Every rule, in the order problems are reported within an event.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        rule: Rule::Array,
        subject: "payload",
        severity: Severity::Error,
        requires: "a JSON array of events, not empty",
        documented: "the body carries single or bulk events as a JSON array",
    },
    RuleInfo {
        rule: Rule::BatchSize,
        subject: "payload",
        severity: Severity::Error,
        requires: "at most 1000 events",
        documented: "bulk events: up to 1000 in one request",
    },
    RuleInfo {
        rule: Rule::Object,
        subject: "event",
        severity: Severity::Error,
        requires: "a JSON object",
        documented: "each event is an object of the parameters below",
    },
    RuleInfo {
        rule: Rule::DuplicateKey,
        subject: "event",
        severity: Severity::Error,
        requires: "no object repeats a key, inside activity_params too",
        documented: "RFC 8259 section 4: with repeated names, which value counts depends on the \
                     parser; the others are lost without a word",
    },
    RuleInfo {
        rule: Rule::AssetId,
        subject: "asset_id",
        severity: Severity::Error,
        requires: "a non-empty string",
        documented: "asset_id: String, required; the website or app id the activity maps to",
    },
    RuleInfo {
        rule: Rule::OneAsset,
        subject: "asset_id",
        severity: Severity::Error,
        requires: "the same in every event, and the request's asset (x-asset) when one is named",
        documented: "one request is sent for one asset (its x-asset header)",
    },
    RuleInfo {
        rule: Rule::ActivityName,
        subject: "activity_name",
        severity: Severity::Error,
        requires: "a non-empty string",
        documented: "activity_name: String, required",
    },
    RuleInfo {
        rule: Rule::Timestamp,
        subject: "timestamp",
        severity: Severity::Error,
        requires: "a real date-time, YYYY-MM-DDTHH:MM:SS[.fraction] then Z or an offset \u{b1}HH:MM",
        documented: "Date-Time, required: UTC (2021-12-29T12:06:28Z) or ISO-8601 with an offset \
                     (2021-12-29T06:12:28+05:30 for IST)",
    },
    RuleInfo {
        rule: Rule::OldTimestamp,
        subject: "timestamp",
        severity: Severity::Warning,
        requires: "at most 24 hours old",
        documented: "an event more than 24 hours old is stored but triggers no journey",
    },
    RuleInfo {
        rule: Rule::FutureTimestamp,
        subject: "timestamp",
        severity: Severity::Warning,
        requires: "at most 1 hour ahead of now",
        documented: "not documented: an hour ahead is no clock drift but a local time written \
                     with Z, a wrong offset or a wrong date",
    },
    RuleInfo {
        rule: Rule::Identifier,
        subject: "identity",
        severity: Severity::Error,
        requires: "identity, or else email, mobile or anonid (annonid)",
        documented: "the API accepts identity, email, mobile and anonid; anonid is mandatory if \
                     identity is not passed",
    },
    RuleInfo {
        rule: Rule::IdentifierType,
        subject: "identity",
        severity: Severity::Error,
        requires: "identity: a non-empty string or an integer of any size; mobile: a string or \
                   an integer; email, anonid: non-empty strings",
        documented: "identity: String/Integer; anonid: String",
    },
    RuleInfo {
        rule: Rule::ActivitySource,
        subject: "activity_source",
        severity: Severity::Error,
        requires: "\"web\" or \"app\"",
        documented: "activity_source: required, \"web\" for a website, \"app\" for an app",
    },
    RuleInfo {
        rule: Rule::ActivityParams,
        subject: "activity_params",
        severity: Severity::Error,
        requires: "an object",
        documented: "activity_params: Object, required",
    },
    RuleInfo {
        rule: Rule::EmptyArray,
        subject: "activity_params",
        severity: Severity::Warning,
        requires: "no empty array, at any depth",
        documented: "an event whose activity_params hold a blank array is not inserted",
    },
    RuleInfo {
        rule: Rule::Depth,
        subject: "event",
        severity: Severity::Warning,
        requires: "objects and arrays nested at most 128 deep",
        documented: "not documented: ce-crypt's own limit; it checks nothing nested deeper",
    },
];

impl Rule {
    /// The rule's line in [`RULES`].
    pub fn info(self) -> &'static RuleInfo {
        RULES
            .iter()
            .find(|info| info.rule == self)
            .expect("every rule is in RULES")
    }

    /// Error or warning.
    pub fn severity(self) -> Severity {
        self.info().severity
    }
}

/// One thing wrong with one event (or with the payload as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The rule broken.
    pub rule: Rule,
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

/// The warnings of one rule: where it first matched, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// The first match.
    pub first: Problem,
    /// The input line of the first match, when payloads came one per line.
    pub line: Option<u64>,
    /// How many places matched, the first included.
    pub count: usize,
}

/// Warnings counted per rule, in the order of [`RULES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Warnings {
    tallies: Vec<Tally>,
}

impl Warnings {
    /// Whether no rule warned.
    pub fn is_empty(&self) -> bool {
        self.tallies.is_empty()
    }

    /// One tally per rule that warned.
    pub fn iter(&self) -> std::slice::Iter<'_, Tally> {
        self.tallies.iter()
    }

    /// Adds `other`'s counts; `line` is where `other`'s payload came from.
    pub fn merge(&mut self, other: Warnings, line: Option<u64>) {
        for tally in other.tallies {
            match self.tally_mut(tally.first.rule) {
                Some(mine) => mine.count += tally.count,
                None => self.insert(Tally {
                    line: tally.line.or(line),
                    ..tally
                }),
            }
        }
    }

    fn add(&mut self, problem: Problem) {
        match self.tally_mut(problem.rule) {
            Some(tally) => tally.count += 1,
            None => self.insert(Tally {
                first: problem,
                line: None,
                count: 1,
            }),
        }
    }

    fn tally_mut(&mut self, rule: Rule) -> Option<&mut Tally> {
        self.tallies.iter_mut().find(|t| t.first.rule == rule)
    }

    fn insert(&mut self, tally: Tally) {
        let at = self
            .tallies
            .partition_point(|t| t.first.rule < tally.first.rule);
        self.tallies.insert(at, tally);
    }
}

/// Every problem found in a payload's events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct EventErrors {
    /// The problems, in payload order.
    pub problems: Vec<Problem>,
    /// The warnings found besides.
    pub warnings: Warnings,
}

/// What a payload that passed the checks holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsSummary {
    /// How many events.
    pub count: usize,
    /// The `asset_id` every event shares, if they all agree.
    pub shared_asset_id: Option<String>,
    /// What passed with a warning.
    pub warnings: Warnings,
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

/// How [`check`] applies the rules: the time to judge timestamps against,
/// whether warnings are errors, and the asset the request goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRules {
    now: SystemTime,
    strict: bool,
    asset: Option<String>,
}

impl EventRules {
    /// The rules as of `now` (pass `SystemTime::now()`; tests pass a fixed time).
    pub fn new(now: SystemTime) -> Self {
        Self {
            now,
            strict: false,
            asset: None,
        }
    }

    /// Report the warnings as errors.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The asset the request goes to (its x-asset header): every event's
    /// `asset_id` must be this one. Without it, they must agree among themselves.
    pub fn asset(mut self, asset: Option<String>) -> Self {
        self.asset = asset;
        self
    }
}

/// Summarises a JSON payload without judging its events (when the checks are skipped).
pub fn summarize(bytes: &[u8]) -> Result<EventsSummary, JsonError> {
    let root: &RawValue = serde_json::from_str(payload::json_text(bytes)?)?;
    let (count, shared_asset_id) = match kind(root) {
        Kind::Array => {
            let events: Vec<&RawValue> = serde_json::from_str(root.get())?;
            (events.len(), shared_asset_id(&events)?)
        }
        _ => (0, None),
    };
    Ok(EventsSummary {
        count,
        shared_asset_id,
        warnings: Warnings::default(),
    })
}

/// The `asset_id` that every event carries, if there is exactly one.
fn shared_asset_id(events: &[&RawValue]) -> Result<Option<String>, JsonError> {
    let mut shared: Option<Cow<'_, str>> = None;
    for event in events {
        match (asset_of(event)?, &shared) {
            (None, _) => return Ok(None),
            (Some(id), None) => shared = Some(id),
            (Some(id), Some(first)) if id == *first => {}
            (Some(_), Some(_)) => return Ok(None),
        }
    }
    Ok(shared.map(Cow::into_owned))
}

/// An event's `asset_id`, when it is an object whose `asset_id` is a string.
fn asset_of(event: &RawValue) -> Result<Option<Cow<'_, str>>, JsonError> {
    if kind(event) != Kind::Object {
        return Ok(None);
    }
    let members: Members<'_> = serde_json::from_str(event.get())?;
    match members.get("asset_id") {
        Some(id) if kind(id) == Kind::String => Ok(Some(text(id)?)),
        _ => Ok(None),
    }
}

/// An event's `asset_id`, without judging the event (when the checks are skipped).
pub fn asset_id(event: &RawValue) -> Result<Option<String>, JsonError> {
    Ok(asset_of(event)?.map(Cow::into_owned))
}

/// One event judged on its own, as a bulk upload judges each event it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventVerdict {
    /// The rules it breaks (warnings too, under [`EventRules::strict`]):
    /// empty when it may be sent.
    pub problems: Vec<Problem>,
    /// What passed with a warning.
    pub warnings: Warnings,
    /// The asset it goes to: the one [`EventRules::asset`] gives, else its
    /// own `asset_id` when that is a non-empty string.
    pub asset_id: Option<String>,
}

/// Checks one event against the per-event rules of [`RULES`] (and against
/// [`EventRules::asset`], if set); `place` names it in problems (`event[5]`,
/// `line 3`) and is written out only for a problem. The rules about a whole
/// payload (its size, one asset) are the caller's: a bulk upload makes its own
/// batches.
pub fn check_event(
    event: &RawValue,
    place: &dyn fmt::Display,
    rules: &EventRules,
) -> Result<EventVerdict, JsonError> {
    // serde_json parsed it into `event` already; what it lets through is left.
    payload::no_lone_surrogate(event.get())?;
    let mut checker = Checker::new(rules);
    checker.event(0, &|| place.to_string(), event)?;
    // With an asset given, an event that names none or another has a problem
    // reported; one without problems goes to the asset given.
    let asset_id = checker.asset.map(|(id, _)| id.into_owned());
    Ok(EventVerdict {
        problems: checker.problems,
        warnings: checker.warnings,
        asset_id,
    })
}

/// Checks a payload against [`RULES`]: a non-empty JSON array of at most
/// [`MAX_EVENTS`] well-formed events.
pub fn check(bytes: &[u8], rules: &EventRules) -> Result<EventsSummary, EventCheckError> {
    let root: &RawValue =
        serde_json::from_str(payload::json_text(bytes)?).map_err(JsonError::from)?;
    let mut checker = Checker::new(rules);
    let events: Vec<&RawValue> = match kind(root) {
        Kind::Array => serde_json::from_str(root.get()).map_err(JsonError::from)?,
        other => {
            checker.report(
                Rule::Array,
                "payload".into(),
                format!(
                    "must be a JSON array of events, found {}",
                    other.described()
                ),
            );
            Vec::new()
        }
    };
    if kind(root) == Kind::Array && events.is_empty() {
        checker.report(
            Rule::Array,
            "payload".into(),
            "the array is empty; send at least one event".into(),
        );
    }
    if events.len() > MAX_EVENTS {
        checker.report(
            Rule::BatchSize,
            "payload".into(),
            format!(
                "{} events, but the API takes at most {MAX_EVENTS} in one request; split them \
                 into requests of {MAX_EVENTS} or fewer",
                events.len()
            ),
        );
    }
    for (index, event) in events.iter().enumerate() {
        checker.event(index, &|| format!("event[{index}]"), event)?;
    }
    let Checker {
        problems,
        warnings,
        asset,
        ..
    } = checker;
    if !problems.is_empty() {
        return Err(EventErrors { problems, warnings }.into());
    }
    Ok(EventsSummary {
        count: events.len(),
        shared_asset_id: asset.map(|(id, _)| id.into_owned()),
        warnings,
    })
}

/// The identifiers the API accepts, and whether each may be an integer.
const IDENTIFIERS: &[(&str, bool)] = &[
    ("identity", true),
    ("email", false),
    ("mobile", true),
    ("anonid", false),
    ("annonid", false),
];

/// The accepted timestamp forms: jiff's strptime with these patterns pins the
/// spelling (RFC 3339's), jiff's ISO 8601 parser judges the date and time.
const UTC_FORM: &str = "%Y-%m-%dT%H:%M:%S%.fZ";
const OFFSET_FORM: &str = "%Y-%m-%dT%H:%M:%S%.f%:z";
const LOCAL_FORM: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// What the API takes, for messages.
const FORMS: &str = "write UTC as 2021-12-29T12:06:28Z, or local time with its offset as \
                     2021-12-29T06:12:28+05:30 (fractions of a second allowed)";

/// Where a problem is (`event[3].timestamp`), written out only when one is reported.
type Place<'p> = &'p dyn Fn() -> String;

struct Checker<'a> {
    rules: &'a EventRules,
    now: Option<Timestamp>,
    problems: Vec<Problem>,
    warnings: Warnings,
    /// The request's asset, and the event that named it (none: the caller did).
    asset: Option<(Cow<'a, str>, Option<usize>)>,
    asset_reported: bool,
}

impl<'a> Checker<'a> {
    fn new(rules: &'a EventRules) -> Self {
        Checker {
            rules,
            now: Timestamp::try_from(rules.now).ok(),
            problems: Vec::new(),
            warnings: Warnings::default(),
            asset: rules.asset.as_deref().map(|id| (Cow::Borrowed(id), None)),
            asset_reported: false,
        }
    }

    fn report(&mut self, rule: Rule, place: String, message: String) {
        let problem = Problem {
            rule,
            place,
            message,
        };
        if rule.severity() == Severity::Error || self.rules.strict {
            self.problems.push(problem);
        } else {
            self.warnings.add(problem);
        }
    }

    fn event(
        &mut self,
        index: usize,
        place: Place<'_>,
        event: &'a RawValue,
    ) -> Result<(), JsonError> {
        if kind(event) != Kind::Object {
            self.report(
                Rule::Object,
                place(),
                format!("must be an object, found {}", kind(event).described()),
            );
            return Ok(());
        }
        let members: Members<'a> = serde_json::from_str(event.get())?;
        self.duplicates(&members, place);
        // Places are written out only for a problem: most events have none.
        let field = |name: &'static str| move || format!("{}.{name}", place());

        if let Some(id) = self.non_empty_string(&members, Rule::AssetId, &field("asset_id"))? {
            self.one_asset(index, id, &field("asset_id"));
        }
        self.non_empty_string(&members, Rule::ActivityName, &field("activity_name"))?;
        self.timestamp(members.get("timestamp"), &field("timestamp"))?;
        self.identifiers(&members, place)?;
        match members.get("activity_source") {
            None => self.missing(Rule::ActivitySource, &field("activity_source")),
            Some(source)
                if kind(source) == Kind::String && matches!(&*text(source)?, "web" | "app") => {}
            Some(other) => self.report(
                Rule::ActivitySource,
                field("activity_source")(),
                format!("must be \"web\" or \"app\", found {}", shown(other)),
            ),
        }
        match members.get("activity_params") {
            None => self.missing(Rule::ActivityParams, &field("activity_params")),
            Some(params) if kind(params) == Kind::Object => {}
            Some(other) => self.report(
                Rule::ActivityParams,
                field("activity_params")(),
                format!("must be an object, found {}", kind(other).described()),
            ),
        }
        // Inside the fields: repeated keys anywhere, empty arrays in activity_params.
        for (key, value) in &members.0 {
            if matches!(kind(value), Kind::Object | Kind::Array) {
                let in_params = key == "activity_params";
                self.walk(value, &|| member_place(&place(), key), 2, in_params)?;
            }
        }
        Ok(())
    }

    fn missing(&mut self, rule: Rule, place: Place<'_>) {
        self.report(rule, place(), "missing".into());
    }

    /// A required non-empty string field, if it is one.
    fn non_empty_string(
        &mut self,
        members: &Members<'a>,
        rule: Rule,
        place: Place<'_>,
    ) -> Result<Option<Cow<'a, str>>, JsonError> {
        let name = rule.info().subject;
        match members.get(name) {
            None => self.missing(rule, place),
            Some(value) if kind(value) == Kind::String => {
                let value = text(value)?;
                if !value.trim().is_empty() {
                    return Ok(Some(value));
                }
                self.report(rule, place(), "empty".into());
            }
            Some(other) => self.report(
                rule,
                place(),
                format!("must be a string, found {}", kind(other).described()),
            ),
        }
        Ok(None)
    }

    /// Every event goes to the request's asset: the one given, or the first event's.
    fn one_asset(&mut self, index: usize, id: Cow<'a, str>, place: Place<'_>) {
        let Some((asset, from)) = &self.asset else {
            self.asset = Some((id, Some(index)));
            return;
        };
        if self.asset_reported || id == *asset {
            return;
        }
        let message = match from {
            Some(first) => format!(
                "{} differs from {} in event[{first}], but one request goes to one asset; send \
                 each asset's events in a request of their own",
                quoted(&id),
                quoted(asset)
            ),
            None => format!(
                "{} is not {}, the asset this request goes to; send each asset's events in a \
                 request of their own",
                quoted(&id),
                quoted(asset)
            ),
        };
        self.asset_reported = true;
        self.report(Rule::OneAsset, place(), message);
    }

    fn timestamp(
        &mut self,
        value: Option<&'a RawValue>,
        place: Place<'_>,
    ) -> Result<(), JsonError> {
        let Some(value) = value else {
            self.missing(Rule::Timestamp, place);
            return Ok(());
        };
        if kind(value) != Kind::String {
            let message = format!(
                "must be a string, found {}; {FORMS}",
                kind(value).described()
            );
            self.report(Rule::Timestamp, place(), message);
            return Ok(());
        }
        let written = text(value)?;
        let instant = match parse_timestamp(&written) {
            Ok(instant) => instant,
            Err(message) => {
                self.report(Rule::Timestamp, place(), message);
                return Ok(());
            }
        };
        let Some(now) = self.now else { return Ok(()) };
        let ahead = now.duration_until(instant);
        if ahead > jiff::SignedDuration::try_from(FUTURE_AFTER).unwrap_or_default() {
            self.report(
                Rule::FutureTimestamp,
                place(),
                format!(
                    "{written} is more than an hour in the future: a local time written with Z, \
                     or a wrong offset or date?"
                ),
            );
        } else if -ahead > jiff::SignedDuration::try_from(OLD_AFTER).unwrap_or_default() {
            self.report(
                Rule::OldTimestamp,
                place(),
                format!(
                    "{written} is more than 24 hours old: the API stores the event but starts no \
                     journey for it"
                ),
            );
        }
        Ok(())
    }

    fn identifiers(&mut self, members: &Members<'a>, place: Place<'_>) -> Result<(), JsonError> {
        let mut any = false;
        for &(name, integer_allowed) in IDENTIFIERS {
            let Some(value) = members.get(name) else {
                continue;
            };
            any = true;
            let place = || format!("{}.{name}", place());
            match kind(value) {
                Kind::String if text(value)?.trim().is_empty() => {
                    self.report(Rule::IdentifierType, place(), "empty".into());
                }
                Kind::String => {}
                Kind::Integer if integer_allowed => {}
                other => {
                    let wanted = if integer_allowed {
                        "a string or an integer"
                    } else {
                        "a string"
                    };
                    self.report(
                        Rule::IdentifierType,
                        place(),
                        format!("must be {wanted}, found {}", other.described()),
                    );
                }
            }
        }
        if !any {
            self.report(
                Rule::Identifier,
                format!("{}.identity", place()),
                "missing, and so are email, mobile and anonid: the API needs one of them to \
                 know whose event it is"
                    .into(),
            );
        }
        Ok(())
    }

    /// Looks inside an object or array of an event.
    fn walk(
        &mut self,
        value: &RawValue,
        place: Place<'_>,
        depth: usize,
        in_params: bool,
    ) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            self.report(
                Rule::Depth,
                shortened(place()),
                format!("nested more than {MAX_DEPTH} levels deep; not checked any deeper"),
            );
            return Ok(());
        }
        match kind(value) {
            Kind::Object => {
                let members: Members<'_> = serde_json::from_str(value.get())?;
                self.duplicates(&members, place);
                for (key, inner) in &members.0 {
                    if matches!(kind(inner), Kind::Object | Kind::Array) {
                        self.walk(inner, &|| member_place(&place(), key), depth + 1, in_params)?;
                    }
                }
            }
            Kind::Array => {
                let items: Vec<&RawValue> = serde_json::from_str(value.get())?;
                if items.is_empty() && in_params {
                    self.report(
                        Rule::EmptyArray,
                        place(),
                        "an empty array: the API does not insert an event whose activity_params \
                         hold one; leave the field out, or give it items"
                            .into(),
                    );
                }
                for (index, inner) in items.iter().enumerate() {
                    if matches!(kind(inner), Kind::Object | Kind::Array) {
                        let at = || format!("{}[{index}]", place());
                        self.walk(inner, &at, depth + 1, in_params)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Reports each key that an object repeats, once.
    fn duplicates(&mut self, members: &Members<'_>, place: Place<'_>) {
        let keys = &members.0;
        // Events have a handful of keys: comparing them pairwise allocates nothing.
        if keys.len() <= 16 {
            let repeated = |i: usize| keys[..i].iter().any(|(k, _)| *k == keys[i].0);
            if !(1..keys.len()).any(repeated) {
                return;
            }
        }
        let mut seen = HashSet::with_capacity(keys.len());
        let mut reported = HashSet::new();
        for (key, _) in keys {
            if !seen.insert(key.as_ref()) && reported.insert(key.as_ref()) {
                self.report(
                    Rule::DuplicateKey,
                    member_place(&place(), key),
                    "the key appears more than once in its object: which value counts depends on \
                     the parser that reads it, and the others are lost without a word; keep one"
                        .into(),
                );
            }
        }
    }
}

/// Parses a timestamp as the API documents it, or says why it cannot be one.
///
/// jiff's strptime with the RFC 3339 patterns decides the spelling (`T`,
/// dashes and colons, an upper-case `Z` or a `±HH:MM` offset); jiff's ISO
/// 8601 parser, which wants two-digit fields, decides whether the date and
/// time are real (29 February only in leap years, no hour 24) and applies
/// the offset. A leap second (`:60`) is read as `:59`, as jiff reads it.
fn parse_timestamp(written: &str) -> Result<Timestamp, String> {
    // Quoted for a message only: most timestamps are fine.
    let shown = || quoted(written);
    if written.trim() != written {
        return Err(format!("{} has spaces around it; {FORMS}", shown()));
    }
    let spelled =
        strtime::parse(UTC_FORM, written).or_else(|_| strtime::parse(OFFSET_FORM, written));
    let Ok(fields) = spelled else {
        if strtime::parse(LOCAL_FORM, written).is_ok() {
            return Err(format!(
                "{} has no time zone: add Z if it is UTC, or its offset (+05:30 for India)",
                shown()
            ));
        }
        return Err(format!(
            "{} is not a date-time the API takes: {FORMS}",
            shown()
        ));
    };
    // RFC 3339 offsets are hours (00-23) and minutes, nothing finer.
    if let Some(offset) = fields.offset()
        && (offset.seconds() % 60 != 0 || offset.seconds().abs() >= 24 * 60 * 60)
    {
        return Err(format!(
            "{} is not a date-time the API takes: {FORMS}",
            shown()
        ));
    }
    written.parse::<Timestamp>().map_err(|error| {
        // jiff explains from the outside in; the innermost reason is the one to show.
        let error = error.to_string();
        let reason = error.rsplit(": ").next().unwrap_or(&error).replace('`', "");
        format!("{} is not a valid date-time ({reason})", shown())
    })
}

/// The broad type of a JSON value, read off its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Integer,
    Decimal,
    String,
    Array,
    Object,
}

impl Kind {
    fn described(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Integer => "a number",
            Kind::Decimal => "a decimal number",
            Kind::String => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

/// The kind of a value by its first byte; an integer is digits and maybe a
/// minus, of any length (so a 30-digit identity is an integer, as JSON says).
fn kind(value: &RawValue) -> Kind {
    let text = value.get();
    match text.as_bytes().first() {
        Some(b'"') => Kind::String,
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'n') => Kind::Null,
        _ if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') => Kind::Integer,
        _ => Kind::Decimal,
    }
}

/// A string value's text (the JSON check has already refused lone surrogates).
fn text(value: &RawValue) -> Result<Cow<'_, str>, JsonError> {
    Ok(serde_json::from_str::<Text<'_>>(value.get())?.0)
}

/// A value as written, shortened for messages.
fn shown(value: &RawValue) -> String {
    let text = value.get();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Text in double quotes, escaped as JSON.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// A place too long to read (hundreds of `[0]` deep) cut after its first
/// steps: where the nesting starts is what tells the reader where to look.
fn shortened(place: String) -> String {
    const KEEP: usize = 48;
    if place.len() <= KEEP + 16 {
        return place;
    }
    let mut end = KEEP;
    while !place.is_char_boundary(end) {
        end -= 1;
    }
    // Cut before the last step (`.name` or `[n]`) that starts in the kept part.
    let cut = place[..end]
        .rfind(['.', '['])
        .filter(|&at| at > 0)
        .unwrap_or(end);
    format!("{}…", &place[..cut])
}

/// `parent.key`, or `parent["odd key"]` when the key is not a plain name.
fn member_place(parent: &str, key: &str) -> String {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        format!("{parent}.{key}")
    } else {
        format!("{parent}[{}]", quoted(key))
    }
}

/// An object's members in order, repeats kept, values as their JSON text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The value of `name` (the last one, as most parsers keep it, if repeated).
    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|&(_, value)| value)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(Text(key)) = map.next_key()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// A string, borrowed from the input when it holds no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The moment the tests judge timestamps against.
    const NOW: &str = "2026-11-29T12:00:00Z";

    fn at(text: &str) -> SystemTime {
        SystemTime::try_from(text.parse::<Timestamp>().unwrap()).unwrap()
    }

    fn rules() -> EventRules {
        EventRules::new(at(NOW))
    }

    /// A valid event, an hour old.
    const FIELDS: &[(&str, &str)] = &[
        ("asset_id", r#""A1""#),
        ("activity_name", r#""Page Browse""#),
        ("timestamp", r#""2026-11-29T11:00:00Z""#),
        ("identity", r#""u@example.com""#),
        ("activity_source", r#""web""#),
        ("activity_params", r#"{"page_url":"https://example.com/"}"#),
    ];

    /// The valid event with `changes`: `Some(json)` replaces a field (or adds
    /// it, at the end), `None` removes it.
    fn event(changes: &[(&str, Option<&str>)]) -> String {
        let mut fields: Vec<(String, String)> = FIELDS
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for &(name, value) in changes {
            let at = fields.iter().position(|(k, _)| k == name);
            match (at, value) {
                (Some(i), Some(v)) => fields[i].1 = v.to_owned(),
                (Some(i), None) => drop(fields.remove(i)),
                (None, Some(v)) => fields.push((name.to_owned(), v.to_owned())),
                (None, None) => {}
            }
        }
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    }

    fn payload<S: AsRef<str>>(events: &[S]) -> String {
        let events: Vec<&str> = events.iter().map(AsRef::as_ref).collect();
        format!("[{}]", events.join(","))
    }

    fn passes(text: &str) -> EventsSummary {
        check(text.as_bytes(), &rules()).unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    fn problems_with(text: &str, rules: &EventRules) -> Vec<String> {
        match check(text.as_bytes(), rules) {
            Err(EventCheckError::Events(e)) => e.problems.iter().map(ToString::to_string).collect(),
            other => panic!("expected event problems for {text}, got {other:?}"),
        }
    }

    fn problems(text: &str) -> Vec<String> {
        problems_with(text, &rules())
    }

    /// The warnings of a payload that passes: (rule, first place, count).
    fn warnings(text: &str) -> Vec<(Rule, String, usize)> {
        passes(text)
            .warnings
            .iter()
            .map(|t| (t.first.rule, t.first.place.clone(), t.count))
            .collect()
    }

    #[test]
    fn the_rule_table_has_every_rule_once_with_its_reference() {
        let all = [
            Rule::Array,
            Rule::BatchSize,
            Rule::Object,
            Rule::DuplicateKey,
            Rule::AssetId,
            Rule::OneAsset,
            Rule::ActivityName,
            Rule::Timestamp,
            Rule::OldTimestamp,
            Rule::FutureTimestamp,
            Rule::Identifier,
            Rule::IdentifierType,
            Rule::ActivitySource,
            Rule::ActivityParams,
            Rule::EmptyArray,
            Rule::Depth,
        ];
        assert_eq!(RULES.iter().map(|r| r.rule).collect::<Vec<_>>(), all);
        for info in RULES {
            assert_eq!(info.rule.info(), info);
            for text in [info.subject, info.requires, info.documented] {
                assert!(!text.is_empty() && !text.contains('\n'), "{info:?}");
            }
        }
        let warnings: Vec<Rule> = RULES
            .iter()
            .filter(|r| r.severity == Severity::Warning)
            .map(|r| r.rule)
            .collect();
        assert_eq!(
            warnings,
            [
                Rule::OldTimestamp,
                Rule::FutureTimestamp,
                Rule::EmptyArray,
                Rule::Depth
            ]
        );
    }

    #[test]
    fn a_good_payload_passes_and_names_its_asset() {
        let good = event(&[]);
        let summary = passes(&payload(&[good.clone(), good.clone()]));
        assert_eq!(summary.count, 2);
        assert_eq!(summary.shared_asset_id.as_deref(), Some("A1"));
        assert!(summary.warnings.is_empty());
        let named = check(
            payload(&[good]).as_bytes(),
            &rules().asset(Some("A1".into())),
        )
        .unwrap();
        assert_eq!(named.shared_asset_id.as_deref(), Some("A1"));
    }

    #[test]
    fn summarize_judges_nothing_but_json() {
        let summary = summarize(br#"[{"asset_id":"A"},{"asset_id":"A","x":[]}]"#).unwrap();
        assert_eq!(
            (summary.count, summary.shared_asset_id.as_deref()),
            (2, Some("A"))
        );
        let ids = |text: &str| summarize(text.as_bytes()).unwrap().shared_asset_id;
        assert_eq!(ids(r#"[{"asset_id":"A"},{"asset_id":"B"}]"#), None);
        assert_eq!(ids(r#"[{"asset_id":"A"},{}]"#), None);
        assert_eq!(ids(r#"[{"asset_id":"A"},3]"#), None);
        assert_eq!(
            ids(r#"[{"asset_id":"\u0041"},{"asset_id":"A"}]"#).as_deref(),
            Some("A")
        );
        assert_eq!(ids("[]"), None);
        assert_eq!(summarize(b"{}").unwrap().count, 0);
        assert!(summarize(b"[1,").is_err());
    }

    #[test]
    fn the_payload_must_be_a_non_empty_array_of_objects() {
        assert_eq!(
            problems("[]"),
            ["payload: the array is empty; send at least one event"]
        );
        assert_eq!(
            problems(&event(&[])),
            ["payload: must be a JSON array of events, found an object"]
        );
        assert_eq!(
            problems(&format!("[{}, 3]", event(&[]))),
            ["event[1]: must be an object, found a number"]
        );
        assert!(matches!(
            check(b"[1,", &rules()),
            Err(EventCheckError::Json(_))
        ));
    }

    #[test]
    fn at_most_1000_events_in_one_request() {
        let one = event(&[]);
        assert_eq!(passes(&payload(&vec![one.clone(); 1000])).count, 1000);
        assert_eq!(
            problems(&payload(&vec![one; 1001])),
            [
                "payload: 1001 events, but the API takes at most 1000 in one request; split them \
              into requests of 1000 or fewer"
            ]
        );
    }

    #[test]
    fn every_rule_is_reported_with_index_and_field() {
        let bad = r#"{"asset_id":"","activity_name":7,"timestamp":"26/08/2025","identity":1.5,"activity_source":"ios","activity_params":[]}"#;
        let got = problems(&format!("[{},{bad},{{}}]", event(&[])));
        assert_eq!(
            got,
            [
                "event[1].asset_id: empty",
                "event[1].activity_name: must be a string, found a number",
                "event[1].timestamp: \"26/08/2025\" is not a date-time the API takes: write UTC as \
                 2021-12-29T12:06:28Z, or local time with its offset as 2021-12-29T06:12:28+05:30 \
                 (fractions of a second allowed)",
                "event[1].identity: must be a string or an integer, found a decimal number",
                "event[1].activity_source: must be \"web\" or \"app\", found \"ios\"",
                "event[1].activity_params: must be an object, found an array",
                "event[2].asset_id: missing",
                "event[2].activity_name: missing",
                "event[2].timestamp: missing",
                "event[2].identity: missing, and so are email, mobile and anonid: the API needs \
                 one of them to know whose event it is",
                "event[2].activity_source: missing",
                "event[2].activity_params: missing",
            ]
        );
    }

    #[test]
    fn the_documented_timestamp_forms_pass() {
        for (written, utc) in [
            ("2021-12-29T12:06:28Z", "2021-12-29T12:06:28Z"),
            ("2021-12-29T06:12:28+05:30", "2021-12-29T00:42:28Z"),
            ("2021-12-29T06:12:28-08:00", "2021-12-29T14:12:28Z"),
            ("2021-12-29T06:12:28+00:00", "2021-12-29T06:12:28Z"),
            ("2021-12-29T06:12:28.5Z", "2021-12-29T06:12:28.5Z"),
            (
                "2021-12-29T06:12:28.123456789+05:30",
                "2021-12-29T00:42:28.123456789Z",
            ),
            ("2024-02-29T23:59:59Z", "2024-02-29T23:59:59Z"),
            ("2000-02-29T00:00:00+05:30", "2000-02-28T18:30:00Z"),
            ("2025-12-31T23:59:59-12:00", "2026-01-01T11:59:59Z"),
            // A leap second is read as :59, as jiff reads it.
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z"),
        ] {
            let parsed = parse_timestamp(written).unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(parsed.to_string(), utc, "{written}");
        }
    }

    #[test]
    fn other_timestamps_are_refused_with_the_forms_named() {
        let form = |w: &str| format!("\"{w}\" is not a date-time the API takes: {FORMS}");
        for written in [
            "26/08/2025",
            "2025-08-26 12:05:43Z",
            "2025-08-26t12:05:43Z",
            "2025-08-26T12:05:43z",
            "2025-08-26T12:05:43+0530",
            "2025-08-26T12:05:43+05",
            "2025-08-26T12:05:43+05:30:10",
            "2025-08-26T12:05:43+24:00",
            "20250826T120543Z",
            "2025-08-26T12:05:43,5Z",
            "2025-08-26T12:05:43.Z",
            "2025-08-26T12:05:43.1234567891Z",
            "2025-08-26T24:00:00Z",
            "2025-08-26T24:00:00+05:30",
            "2025-08-26T12:60:00Z",
            "2025-13-01T12:00:00Z",
            "2025-08-26T12:05:43Z[Asia/Kolkata]",
            "",
        ] {
            assert_eq!(
                parse_timestamp(written).unwrap_err(),
                form(written),
                "{written}"
            );
        }
        for written in ["2025-08-26T12:05:43", "2025-08-26T12:05:43.250"] {
            assert_eq!(
                parse_timestamp(written).unwrap_err(),
                format!(
                    "\"{written}\" has no time zone: add Z if it is UTC, or its offset (+05:30 \
                     for India)"
                )
            );
        }
        for (written, reason) in [
            (
                "2025-02-29T12:00:00Z",
                "parameter 'day' for 2025-02 is invalid, must be in range 1..=28",
            ),
            (
                "1900-02-29T00:00:00+05:30",
                "parameter 'day' for 1900-02 is invalid, must be in range 1..=28",
            ),
            (
                "2025-04-31T12:00:00-08:00",
                "parameter 'day' for 2025-04 is invalid, must be in range 1..=30",
            ),
        ] {
            assert_eq!(
                parse_timestamp(written).unwrap_err(),
                format!("\"{written}\" is not a valid date-time ({reason})")
            );
        }
        for written in [" 2025-08-26T12:05:43Z", "2025-08-26T12:05:43Z\n"] {
            assert_eq!(
                parse_timestamp(written).unwrap_err(),
                format!("{} has spaces around it; {FORMS}", quoted(written))
            );
        }
        // Single-digit fields pass strptime but not the ISO 8601 parser.
        let short = parse_timestamp("2025-8-26T12:05:43Z").unwrap_err();
        assert!(
            short.starts_with("\"2025-8-26T12:05:43Z\" is not a valid date-time ("),
            "{short}"
        );
        // And as the check reports them.
        let not_string = problems(&payload(&[event(&[("timestamp", Some("1735689600"))])]));
        assert_eq!(
            not_string,
            [format!(
                "event[0].timestamp: must be a string, found a number; {FORMS}"
            )]
        );
    }

    #[test]
    fn old_and_future_timestamps_warn_and_strict_refuses_them() {
        let stamped = |ts: &str| payload(&[event(&[("timestamp", Some(&format!("\"{ts}\"")))])]);
        // The bounds: 24 hours back and 1 hour ahead, exactly, pass.
        for ts in [
            "2026-11-28T12:00:00Z",
            "2026-11-28T17:30:00+05:30",
            "2026-11-29T13:00:00Z",
            "2026-11-29T05:00:00-08:00",
        ] {
            assert_eq!(warnings(&stamped(ts)), [], "{ts}");
        }
        let old = stamped("2026-11-28T11:59:59Z");
        assert_eq!(
            warnings(&old),
            [(Rule::OldTimestamp, "event[0].timestamp".into(), 1)]
        );
        // India's local time written as UTC lands 5 h 30 min ahead.
        let future = stamped("2026-11-29T17:30:00Z");
        assert_eq!(
            warnings(&future),
            [(Rule::FutureTimestamp, "event[0].timestamp".into(), 1)]
        );
        assert!(warnings(&stamped("2026-11-29T17:30:00+05:30")).is_empty());
        let strict = rules().strict(true);
        assert_eq!(
            problems_with(&old, &strict),
            [
                "event[0].timestamp: 2026-11-28T11:59:59Z is more than 24 hours old: the API stores \
              the event but starts no journey for it"
            ]
        );
        assert_eq!(
            problems_with(&future, &strict),
            [
                "event[0].timestamp: 2026-11-29T17:30:00Z is more than an hour in the future: a \
              local time written with Z, or a wrong offset or date?"
            ]
        );
    }

    #[test]
    fn warnings_are_counted_once_per_rule() {
        let old = event(&[("timestamp", Some(r#""2025-08-26T12:05:43Z""#))]);
        let empty = event(&[("activity_params", Some(r#"{"items":[],"tags":[]}"#))]);
        let text = payload(&[event(&[]), old.clone(), empty, old]);
        assert_eq!(
            warnings(&text),
            [
                (Rule::OldTimestamp, "event[1].timestamp".into(), 2),
                (Rule::EmptyArray, "event[2].activity_params.items".into(), 2),
            ]
        );
        // Over several payloads (one per line), the first line that matched is kept.
        let mut all = Warnings::default();
        all.merge(passes(&text).warnings, Some(7));
        all.merge(passes(&text).warnings, Some(9));
        let tallies: Vec<_> = all
            .iter()
            .map(|t| (t.first.rule, t.line, t.count))
            .collect();
        assert_eq!(
            tallies,
            [
                (Rule::OldTimestamp, Some(7), 4),
                (Rule::EmptyArray, Some(7), 4)
            ]
        );
        // Errors come with the warnings found besides.
        let Err(EventCheckError::Events(errors)) = check(
            payload(&[
                event(&[("activity_name", None)]),
                event(&[("timestamp", Some(r#""2020-01-01T00:00:00Z""#))]),
            ])
            .as_bytes(),
            &rules(),
        ) else {
            panic!("expected errors")
        };
        assert_eq!(errors.problems.len(), 1);
        assert_eq!(errors.warnings.iter().count(), 1);
    }

    #[test]
    fn one_identifier_is_enough() {
        for changes in [
            vec![("identity", None), ("anonid", Some(r#""a-9f2c""#))],
            vec![("identity", None), ("annonid", Some(r#""a-9f2c""#))],
            vec![("identity", None), ("email", Some(r#""u@example.com""#))],
            vec![("identity", None), ("mobile", Some(r#""+919876543210""#))],
            vec![("identity", None), ("mobile", Some("919876543210"))],
            vec![("identity", Some("123456789012345678901234567890"))],
            vec![("identity", Some("12345678901234567890123"))],
            vec![("identity", Some("-42"))],
            vec![("identity", Some("0"))],
            vec![
                ("email", Some(r#""u@example.com""#)),
                ("anonid", Some(r#""a""#)),
            ],
        ] {
            passes(&payload(&[event(&changes)]));
        }
    }

    #[test]
    fn identifiers_have_their_documented_types() {
        type Case<'a> = (&'a [(&'a str, Option<&'a str>)], &'a str);
        let cases: &[Case] = &[
            (
                &[("identity", Some("1.5"))],
                "event[0].identity: must be a string or an integer, found a decimal number",
            ),
            (
                &[("identity", Some("1e3"))],
                "event[0].identity: must be a string or an integer, found a decimal number",
            ),
            (
                &[("identity", Some("12345678901234567890123.0"))],
                "event[0].identity: must be a string or an integer, found a decimal number",
            ),
            (&[("identity", Some(r#"" ""#))], "event[0].identity: empty"),
            (
                &[("identity", Some("null"))],
                "event[0].identity: must be a string or an integer, found null",
            ),
            (
                &[("identity", Some("true"))],
                "event[0].identity: must be a string or an integer, found a boolean",
            ),
            (
                &[("identity", Some(r#"["u"]"#))],
                "event[0].identity: must be a string or an integer, found an array",
            ),
            // Another identifier does not excuse a wrong one.
            (
                &[
                    ("identity", Some("1.5")),
                    ("email", Some(r#""u@example.com""#)),
                ],
                "event[0].identity: must be a string or an integer, found a decimal number",
            ),
            (
                &[("identity", None), ("email", Some("5"))],
                "event[0].email: must be a string, found a number",
            ),
            (
                &[("identity", None), ("anonid", Some(r#""""#))],
                "event[0].anonid: empty",
            ),
            (
                &[("identity", None), ("mobile", Some("9.5"))],
                "event[0].mobile: must be a string or an integer, found a decimal number",
            ),
        ];
        for (changes, expected) in cases {
            assert_eq!(
                problems(&payload(&[event(changes)])),
                [*expected],
                "{changes:?}"
            );
        }
    }

    #[test]
    fn activity_source_and_params_are_as_documented() {
        for source in [r#""web""#, r#""app""#, r#""w\u0065b""#] {
            passes(&payload(&[event(&[("activity_source", Some(source))])]));
        }
        for (source, shown) in [
            (r#""Web""#, r#""Web""#),
            (r#""CRM""#, r#""CRM""#),
            ("1", "1"),
            (
                r#""a very long source name that goes on and on and on""#,
                r#""a very long source name that goes on an..."#,
            ),
        ] {
            assert_eq!(
                problems(&payload(&[event(&[("activity_source", Some(source))])])),
                [format!(
                    "event[0].activity_source: must be \"web\" or \"app\", found {shown}"
                )]
            );
        }
        passes(&payload(&[event(&[("activity_params", Some("{}"))])]));
        assert_eq!(
            problems(&payload(&[event(&[("activity_params", Some("null"))])])),
            ["event[0].activity_params: must be an object, found null"]
        );
    }

    #[test]
    fn repeated_keys_are_errors_at_any_depth() {
        // At the top of the event: the last asset_id would win, silently.
        let top = r#"[{"asset_id":"A1","activity_name":"x","timestamp":"2026-11-29T11:00:00Z","identity":"u","activity_source":"web","activity_params":{},"asset_id":"B2"}]"#;
        assert_eq!(
            problems(top),
            [
                "event[0].asset_id: the key appears more than once in its object: which value counts \
              depends on the parser that reads it, and the others are lost without a word; keep one"
            ]
        );
        // Inside activity_params too, nested, in arrays, spelled with escapes, odd names.
        let params = r#"{"price":1,"items":[{"sku":"a","sku":"b"}],"m":{"k y":1,"k y":2},"price":2,"\u0070rice":3}"#;
        let places: Vec<String> =
            problems(&payload(&[event(&[("activity_params", Some(params))])]))
                .iter()
                .map(|p| p.split(": ").next().unwrap().to_owned())
                .collect();
        assert_eq!(
            places,
            [
                "event[0].activity_params.price",
                "event[0].activity_params.items[0].sku",
                "event[0].activity_params.m[\"k y\"]",
            ]
        );
        // The same key in sibling objects is no repeat.
        passes(&payload(&[event(&[(
            "activity_params",
            Some(r#"{"items":[{"sku":"a"},{"sku":"b"}],"x":{"sku":"c"}}"#),
        )])]));
    }

    #[test]
    fn empty_arrays_in_activity_params_warn_with_their_place() {
        let params = r#"{"items":[{"tags":[]}],"list":[[]],"ok":{},"full":[1]}"#;
        let text = payload(&[event(&[
            ("activity_params", Some(params)),
            ("extra", Some("[]")),
        ])]);
        assert_eq!(
            warnings(&text),
            [(
                Rule::EmptyArray,
                "event[0].activity_params.items[0].tags".into(),
                2
            )]
        );
        assert_eq!(
            problems_with(&text, &rules().strict(true)),
            [
                "event[0].activity_params.items[0].tags: an empty array: the API does not insert \
                 an event whose activity_params hold one; leave the field out, or give it items",
                "event[0].activity_params.list[0]: an empty array: the API does not insert an \
                 event whose activity_params hold one; leave the field out, or give it items",
            ]
        );
    }

    #[test]
    fn every_event_goes_to_one_asset() {
        let with = |asset: &str| event(&[("asset_id", Some(&format!("\"{asset}\"")))]);
        let mixed = payload(&[with("A1"), with("A1"), with("B2"), with("C3")]);
        assert_eq!(
            problems(&mixed),
            [
                "event[2].asset_id: \"B2\" differs from \"A1\" in event[0], but one request goes to \
              one asset; send each asset's events in a request of their own"
            ]
        );
        // A named asset (x-asset) must be every event's: the first that differs is named.
        let named = rules().asset(Some("A1".into()));
        assert_eq!(
            problems_with(&payload(&[with("A1"), with("B2"), with("B2")]), &named),
            [
                "event[1].asset_id: \"B2\" is not \"A1\", the asset this request goes to; send each \
              asset's events in a request of their own"
            ]
        );
        let other = rules().asset(Some("Z9".into()));
        assert_eq!(
            problems_with(&payload(&[with("A1")]), &other),
            [
                "event[0].asset_id: \"A1\" is not \"Z9\", the asset this request goes to; send each \
              asset's events in a request of their own"
            ]
        );
        // An event without a valid asset_id is reported as such, not compared.
        let missing = payload(&[event(&[("asset_id", None)]), with("A1"), with("A1")]);
        assert_eq!(problems(&missing), ["event[0].asset_id: missing"]);
    }

    #[test]
    fn deep_nesting_is_checked_to_a_depth_then_warned_about() {
        let nest = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        // Within the limit: the innermost empty array is found.
        let shallow = event(&[("activity_params", Some(&format!("{{\"a\":{}}}", nest(100))))]);
        let found = warnings(&payload(&[shallow]));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Rule::EmptyArray);
        // Beyond it (and far beyond: no stack overflow), a warning instead.
        for depth in [200, 100_000] {
            let deep = event(&[(
                "activity_params",
                Some(&format!("{{\"a\":{}}}", nest(depth))),
            )]);
            let text = payload(&[deep]);
            crate::payload::check_json(text.as_bytes()).unwrap();
            let found = warnings(&text);
            assert_eq!(found.len(), 1, "{depth}");
            assert_eq!(found[0].0, Rule::Depth);
            assert_eq!(
                found[0].1,
                "event[0].activity_params.a[0][0][0][0][0][0][0]…"
            );
        }
        // Cut at a step, never inside a character of a long quoted name.
        let key = "é".repeat(40);
        let deep = event(&[(
            "activity_params",
            Some(&format!("{{\"x\":{{\"{key}\":{}}}}}", nest(200))),
        )]);
        let found = warnings(&payload(&[deep]));
        assert_eq!(found[0].1, "event[0].activity_params.x…");
        // Shallow places stay whole.
        assert_eq!(shortened("event[0].a.b".into()), "event[0].a.b");
    }

    #[test]
    fn both_checks_judge_json_alike() {
        let good = event(&[]);
        let inputs: Vec<Vec<u8>> = vec![
            payload(&[event(&[("activity_name", Some(r#""\ud800""#))])]).into_bytes(),
            payload(&[event(&[("activity_name", Some(r#""x\udc00""#))])]).into_bytes(),
            payload(&[event(&[("activity_params", Some(r#"{"\ud83dx":1}"#))])]).into_bytes(),
            payload(&[event(&[(
                "activity_params",
                Some(r#"{"e":"\ud83d\ude00"}"#),
            )])])
            .into_bytes(),
            payload(&[event(&[(
                "activity_params",
                Some(r#"{"n":1e400,"m":-1e-400}"#),
            )])])
            .into_bytes(),
            [b"\xEF\xBB\xBF".as_slice(), payload(&[&good]).as_bytes()].concat(),
            payload(&[&good])
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
            payload(&[&good])
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect(),
            format!("{} x", payload(&[&good])).into_bytes(),
            b"[\xff]".to_vec(),
        ];
        for input in inputs {
            let plain = crate::payload::check_json(&input);
            let events = match check(&input, &rules()) {
                Err(EventCheckError::Json(json)) => Err(json),
                _ => Ok(()),
            };
            assert_eq!(plain, events, "{}", String::from_utf8_lossy(&input));
        }
        // A huge number inside activity_params is JSON, and is left alone.
        passes(&payload(&[event(&[(
            "activity_params",
            Some(r#"{"n":1e400}"#),
        )])]));
        assert!(matches!(
            check(br#"["\ud800"]"#, &rules()),
            Err(EventCheckError::Json(JsonError {
                kind: crate::payload::JsonErrorKind::LoneSurrogate,
                ..
            }))
        ));
    }
}
