//! The engine's accounting, in-process: an API of the test's own behind the
//! transport trait decrypts each request and counts what arrived, so that
//! every figure a run reports is checked against what the API saw.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::journal::Storage;
use super::run::Engine;
use super::transport::Transport;
use super::*;
use crate::{Iv, Key, KeyEncoding, Method};

const KEY: &str = "Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU";
const IV: &str = "Qw5Er7Ty9Ui2Op4A";

fn cipher() -> Cipher {
    let key = Key::parse(KEY, KeyEncoding::Utf8).unwrap();
    let iv = Iv::parse(IV, KeyEncoding::Utf8).unwrap();
    Cipher::new(Method::CbcBase64, key, Some(iv)).unwrap()
}

/// What the API does with request number `n` (from 1) holding `events`.
type Behaviour = dyn Fn(usize, &[serde_json::Value]) -> Result<Answer, UploadError> + Sync;

/// An API that decrypts what it is sent, and remembers what it accepted.
struct Api {
    behaviour: Box<Behaviour>,
    log: Mutex<ApiLog>,
}

#[derive(Default)]
struct ApiLog {
    requests: usize,
    /// Identity → how many times it was accepted.
    accepted: BTreeMap<String, usize>,
}

impl Api {
    fn new(
        behaviour: impl Fn(usize, &[serde_json::Value]) -> Result<Answer, UploadError> + Sync + 'static,
    ) -> Api {
        Api {
            behaviour: Box::new(behaviour),
            log: Mutex::new(ApiLog::default()),
        }
    }

    fn accepting() -> Api {
        Api::new(|_, _| Ok(ok()))
    }

    fn requests(&self) -> usize {
        self.log.lock().unwrap().requests
    }

    /// Events accepted, counting repeats.
    fn accepted(&self) -> usize {
        self.log.lock().unwrap().accepted.values().sum()
    }

    /// Events accepted more than once, counting each extra copy.
    fn duplicates(&self) -> usize {
        let log = self.log.lock().unwrap();
        log.accepted.values().map(|n| n - 1).sum()
    }

    fn distinct(&self) -> usize {
        self.log.lock().unwrap().accepted.len()
    }
}

impl Transport for Api {
    fn post(&self, _asset: &str, body: &str) -> Result<Answer, UploadError> {
        let ciphertext = crate::request::ciphertext_of(body.as_bytes()).unwrap();
        let plain = cipher().decrypt(&ciphertext).unwrap();
        let events: Vec<serde_json::Value> = serde_json::from_slice(&plain).unwrap();
        let n = {
            let mut log = self.log.lock().unwrap();
            log.requests += 1;
            log.requests
        };
        let answer = (self.behaviour)(n, &events);
        if answer.is_ok() {
            let mut log = self.log.lock().unwrap();
            for event in &events {
                let id = event["identity"].as_str().unwrap().to_owned();
                *log.accepted.entry(id).or_default() += 1;
            }
        }
        answer
    }
}

fn ok() -> Answer {
    Answer {
        status: 200,
        reason: "OK".into(),
        body: r#"{"status":"success"}"#.into(),
        body_incomplete: false,
        elapsed: Duration::ZERO,
    }
}

fn refused(status: u16) -> UploadError {
    UploadError::Rejected {
        status,
        reason: "Bad Request".into(),
        body: r#"{"error":"invalid request"}"#.into(),
        retry_after: None,
    }
}

fn timeout() -> UploadError {
    UploadError::Timeout {
        endpoint: "http://127.0.0.1:9/".into(),
        seconds: 1.0,
    }
}

/// `count` events, one per line, identities `user-<i>`.
fn ndjson(count: usize) -> String {
    let when = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    (0..count)
        .map(|i| {
            format!(
                r#"{{"asset_id":"A","activity_name":"Page Browse","timestamp":"{when}","identity":"user-{i}","activity_source":"web","activity_params":{{"n":{i}}}}}"#
            ) + "\n"
        })
        .collect()
}

/// Puts the journal's storage inside another (a failing one).
pub(crate) type WrapStorage = dyn Fn(Box<dyn Storage>) -> Box<dyn Storage> + Sync;

/// A folder with the input and a state folder.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(input: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("events.ndjson"), input).unwrap();
        Setup { dir }
    }

    fn input(&self) -> PathBuf {
        self.dir.path().join("events.ndjson")
    }

    fn bookkeeping(&self) -> Bookkeeping {
        Bookkeeping {
            state_dir: Some(self.dir.path().join("state")),
            ..Bookkeeping::default()
        }
    }

    fn run(&self, api: &Api, options: BulkOptions) -> BulkSummary {
        self.run_with(api, options, "api-key", None).unwrap()
    }

    /// A run whose stop flag is set from the start (a signal before anything went).
    fn run_stopped(&self, api: &Api, options: BulkOptions) -> Result<BulkSummary, BulkError> {
        self.engine(api, options, "api-key", None, true)
    }

    fn run_with(
        &self,
        api: &Api,
        options: BulkOptions,
        api_key: &str,
        wrap: Option<&WrapStorage>,
    ) -> Result<BulkSummary, BulkError> {
        self.engine(api, options, api_key, wrap, false)
    }

    fn engine(
        &self,
        api: &Api,
        options: BulkOptions,
        api_key: &str,
        wrap: Option<&WrapStorage>,
        stopped: bool,
    ) -> Result<BulkSummary, BulkError> {
        let stop = AtomicBool::new(stopped);
        let counts = LiveCounts::default();
        let cipher = cipher();
        Engine {
            transport: api,
            cipher: &cipher,
            destination: Destination {
                endpoint: "https://api2.netcoresmartech.com/v1/activity/upload".into(),
                asset: None,
            },
            api_key,
            options: &options,
            stop: &stop,
            counts: &counts,
            on_request: None,
            wrap_journal: wrap,
        }
        .run(
            BulkInput::File(self.input()),
            InputFormat::Lines,
            &self.bookkeeping(),
        )
    }
}

/// Quick retries, and the given batching.
fn options(batch_size: usize, concurrency: usize) -> BulkOptions {
    BulkOptions {
        batch_size,
        concurrency,
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        },
        ..BulkOptions::default()
    }
}

fn journal_records(setup: &Setup) -> Vec<journal::Record> {
    let folder = setup.dir.path().join("state/deliveries");
    let path = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "journal"))
        .unwrap();
    journal::read(&path).unwrap()
}

#[test]
fn a_few_events_refused_alike_are_a_request_problem_not_rejects() {
    let setup = Setup::new(&ndjson(3));
    let api = Api::new(|_, _| Err(refused(400)));
    let summary = setup.run(&api, options(1000, 1));
    assert!(
        matches!(
            summary.stopped,
            Some(StopReason::RequestRefused { status: 400, .. })
        ),
        "{:?}",
        summary.stopped
    );
    assert_eq!(summary.counts.rejected, 0);
    assert_eq!(summary.pending, 3);
    assert!(summary.rejects.is_none(), "no rejects file");
    assert!(
        !journal_records(&setup)
            .iter()
            .any(|r| matches!(r, journal::Record::Rejected { .. })),
        "nothing journaled as rejected"
    );
    // Once the API accepts, the rerun sends all three, none counted twice.
    let good = Api::accepting();
    let summary = setup.run(&good, options(1000, 1));
    assert_eq!(good.distinct(), 3);
    assert_eq!(summary.counts.sent, 3);
    assert_eq!(summary.counts.possible_duplicates, 0);
    assert!(summary.stopped.is_none());
}

#[test]
fn one_event_refused_while_others_are_accepted_is_rejected() {
    let setup = Setup::new(&ndjson(10));
    let api = Api::new(|_, events| {
        if events.iter().any(|e| e["identity"] == "user-7") {
            Err(refused(400))
        } else {
            Ok(ok())
        }
    });
    let summary = setup.run(&api, options(1000, 1));
    assert!(summary.stopped.is_none(), "{:?}", summary.stopped);
    assert_eq!((summary.counts.sent, summary.counts.rejected), (9, 1));
    assert_eq!(api.distinct(), 9);
    assert_eq!(summary.first_rejects[0].ordinal, 7);
    assert!(summary.rejects.is_some());
}

#[test]
fn answers_that_accepted_nothing_are_no_possible_duplicates() {
    // 429 and 503 say "not now": the events did not arrive.
    let setup = Setup::new(&ndjson(5));
    let api = Api::new(|n, _| {
        if n <= 2 {
            Err(UploadError::Rejected {
                status: if n == 1 { 429 } else { 503 },
                reason: "Wait".into(),
                body: String::new(),
                retry_after: None,
            })
        } else {
            Ok(ok())
        }
    });
    let summary = setup.run(&api, options(1000, 1));
    assert_eq!(summary.counts.retried, 2);
    assert_eq!(summary.counts.possible_duplicates, 0);
    assert_eq!(api.duplicates(), 0);
    // A timeout may hide an accepted request: the retry counts.
    let setup = Setup::new(&ndjson(5));
    let api = Api::new(|n, _| if n == 1 { Err(timeout()) } else { Ok(ok()) });
    let summary = setup.run(&api, options(1000, 1));
    assert_eq!(summary.counts.possible_duplicates, 5);
    assert!(summary.single_request, "one request, retried once");
}

#[test]
fn a_request_left_in_doubt_is_counted_on_the_rerun_and_an_unstarted_one_is_not() {
    // Two batches; the first times out every time and is given up.
    let setup = Setup::new(&ndjson(4));
    let api = Api::new(|_, events| {
        if events[0]["identity"] == "user-0" {
            Err(timeout())
        } else {
            Ok(ok())
        }
    });
    let mut opts = options(2, 1);
    opts.retries = 1;
    let summary = setup.run(&api, opts);
    assert!(matches!(summary.stopped, Some(StopReason::GaveUp(_))));
    assert_eq!(summary.in_doubt, 2, "the batch that may have arrived");
    // The second batch never started: a rerun counts only the first.
    let good = Api::accepting();
    let summary = setup.run(&good, options(2, 1));
    assert_eq!(summary.counts.sent, 4);
    assert_eq!(summary.counts.possible_duplicates, 2);
}

/// Storage that fails every write after the first `budget` bytes, as a
/// full disk does.
struct FullDisk {
    inner: Box<dyn Storage>,
    budget: Mutex<usize>,
}

impl Storage for FullDisk {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut budget = self.budget.lock().unwrap();
        if bytes.len() > *budget {
            return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
        }
        *budget -= bytes.len();
        self.inner.append(bytes)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.inner.sync()
    }

    fn clear(&mut self) -> std::io::Result<()> {
        self.inner.clear()
    }
}

#[test]
fn a_full_disk_stops_the_run_and_every_figure_stays_true() {
    let setup = Setup::new(&ndjson(500));
    let api = Api::accepting();
    // Room for the header, the client record and a few batches' records.
    let wrap = |inner: Box<dyn Storage>| -> Box<dyn Storage> {
        Box::new(FullDisk {
            inner,
            budget: Mutex::new(800),
        })
    };
    let summary = setup
        .run_with(&api, options(50, 1), "api-key", Some(&wrap))
        .unwrap();
    assert!(
        matches!(summary.stopped, Some(StopReason::Journal(_))),
        "{:?}",
        summary.stopped
    );
    // "sent" is what the API acknowledged, and the API saw exactly that.
    assert_eq!(summary.counts.sent as usize, api.accepted());
    assert!(api.accepted() < 500, "stopped before more was sent");
    let recorded: u64 = journal_records(&setup)
        .iter()
        .map(|r| match r {
            journal::Record::Acked { events, .. } => *events,
            _ => 0,
        })
        .sum();
    assert_eq!(summary.counts.sent, recorded + summary.unrecorded);
    // The rerun sends the rest, and counts what it sends again.
    let summary = setup.run(&api, options(50, 1));
    assert_eq!(api.distinct(), 500);
    assert_eq!(
        summary.counts.possible_duplicates as usize,
        api.duplicates()
    );
}

#[test]
fn a_rotated_api_key_continues_the_delivery_and_is_noted() {
    let setup = Setup::new(&ndjson(6));
    let api = Api::new(|n, _| if n <= 1 { Ok(ok()) } else { Err(refused(401)) });
    let summary = setup
        .run_with(&api, options(3, 1), "old-key", None)
        .unwrap();
    assert_eq!(summary.counts.sent, 3);
    let good = Api::accepting();
    let summary = setup
        .run_with(&good, options(3, 1), "new-key", None)
        .unwrap();
    assert_eq!(summary.notes, [Note::KeyChanged]);
    assert_eq!(good.distinct(), 3, "only what was not acknowledged");
    assert_eq!(summary.counts.sent, 6);
    // The key itself is nowhere in the journal.
    let text = format!("{:?}", journal_records(&setup));
    assert!(!text.contains("old-key") && !text.contains("new-key"));
}

#[test]
fn the_same_delivery_twice_sends_once_and_a_method_change_sends_nothing_again() {
    let setup = Setup::new(&ndjson(3));
    let api = Api::accepting();
    setup.run(&api, options(1000, 1));
    let summary = setup.run(&api, options(1000, 1));
    assert!(summary.already_sent);
    assert_eq!(api.requests(), 1);
}

#[test]
fn a_stop_before_any_request_leaves_nothing_in_doubt() {
    let setup = Setup::new(&ndjson(3000));
    let api = Api::accepting();
    let summary = setup.run_stopped(&api, options(1000, 2)).unwrap();
    assert!(matches!(summary.stopped, Some(StopReason::Interrupted)));
    assert_eq!(api.requests(), 0);
    let rerun = setup.run(&api, options(1000, 2));
    assert_eq!(rerun.counts.possible_duplicates, 0);
    assert_eq!(api.distinct(), 3000);
}
