//! `ce-crypt send` with many events, against a stand-in API on loopback that
//! decrypts every batch (see `common/standin.rs`). What these tests prove is
//! read off the set of identities the stand-in accepted.
#![cfg(feature = "cli")]

mod common;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::standin::{self, API_KEY, Faults, StandIn, all_users, ndjson};
use common::*;

/// A folder holding the input and the report, and a state folder of its
/// own (`XDG_STATE_HOME`) for the journals and rejects.
struct Run {
    dir: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl Run {
    fn new(input: &str, name: &str) -> Run {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), input).unwrap();
        Run {
            dir,
            state: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The files of the state folder's deliveries, sorted.
    fn deliveries(&self) -> Vec<PathBuf> {
        let folder = self.state.path().join("ce-crypt/deliveries");
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
            .map(|entries| entries.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The one journal in the state folder.
    fn journal(&self) -> PathBuf {
        let journals: Vec<PathBuf> = self
            .deliveries()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "journal"))
            .collect();
        assert_eq!(journals.len(), 1, "{journals:?}");
        journals[0].clone()
    }

    /// The rejects file the last report names.
    fn rejects(&self) -> String {
        let report = self.report();
        let path = report["rejects"]
            .as_str()
            .unwrap_or_else(|| panic!("no rejects file in {report}"));
        std::fs::read_to_string(path).unwrap()
    }

    /// `send --lines -i events.ndjson` (or the file given) to `api`, reporting to report.json.
    fn send(&self, api: &StandIn, input: &str) -> Command {
        let mut cmd = ce_keyed();
        cmd.current_dir(self.dir.path())
            .env("XDG_STATE_HOME", self.state.path())
            .env("CE_API_KEY", API_KEY)
            .args(["send", "--endpoint", &api.url(), "-i", input])
            .args(["--report", "report.json"]);
        if input.ends_with(".ndjson") {
            cmd.arg("--lines");
        }
        cmd
    }

    /// `send --lines -i events.ndjson` to `api` with `args`, as a child
    /// process (to signal, or to change the input under), stdout discarded.
    fn spawn(&self, api: &StandIn, args: &[&str], stderr: Stdio) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_ce-crypt"))
            .current_dir(self.dir.path())
            .env("CE_SECRET_KEY", KEY)
            .env("CE_SECRET_IV", IV)
            .env("CE_API_KEY", API_KEY)
            .env("XDG_STATE_HOME", self.state.path())
            .env_remove("CE_ASSET_ID")
            .args([
                "send",
                "--lines",
                "-i",
                "events.ndjson",
                "--endpoint",
                &api.url(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap()
    }

    fn report(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path("report.json")).expect("a report");
        let report: serde_json::Value = serde_json::from_str(&text).unwrap();
        let n = |k: &str| {
            report[k]
                .as_u64()
                .unwrap_or_else(|| panic!("{k} in {report}"))
        };
        assert_eq!(
            n("sent") + n("rejected") + n("pending"),
            n("read"),
            "the counts add up: {report}"
        );
        report
    }

    fn journal_text(&self) -> String {
        std::fs::read_to_string(self.journal()).expect("a journal")
    }
}

fn identities(seen: &standin::Seen) -> BTreeSet<String> {
    seen.accepted.iter().cloned().collect()
}

fn duplicates(seen: &standin::Seen) -> usize {
    seen.accepted.len() - identities(seen).len()
}

#[test]
fn every_event_arrives_in_batches_of_at_most_1000_of_one_asset() {
    // 1200 events of asset A, 900 of B, then 400 of A again.
    let asset = |i: usize| if (1200..2100).contains(&i) { "B" } else { "A" }.to_owned();
    let run = Run::new(&ndjson(2500, asset), "events.ndjson");
    let api = StandIn::start(Faults::default());
    run.send(&api, "events.ndjson")
        .assert()
        .success()
        .stdout("");
    let seen = api.seen();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert_eq!(identities(&seen), all_users(2500));
    assert_eq!(duplicates(&seen), 0);
    let sizes: Vec<(&str, usize)> = seen.batches.iter().map(|(a, n)| (a.as_str(), *n)).collect();
    let mut sorted = sizes.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [("A", 200), ("A", 400), ("A", 1000), ("B", 900)],
        "{sizes:?}"
    );
    let report = run.report();
    assert_eq!(report["sent"], 2500);
    assert_eq!(report["outcome"], "finished");
    // Four requests over the client's few connections, reused.
    let connections: BTreeSet<usize> = api.server.requests().iter().map(|r| r.connection).collect();
    assert!(connections.len() <= 4, "{connections:?}");

    // The journal knows it is finished: a rerun sends nothing.
    let stderr = run
        .send(&api, "events.ndjson")
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&stderr).contains("already sent"));
    assert_eq!(api.seen().accepted.len(), 2500);
    assert_eq!(run.report()["outcome"], "already_sent");
    // Nothing but the report (asked for) appeared beside the input.
    assert_eq!(entries(run.dir.path()), ["events.ndjson", "report.json"]);
}

#[test]
fn a_json_array_file_is_streamed_and_checked_whole_before_sending() {
    let events: Vec<String> = ndjson(1500, |_| "A".into())
        .lines()
        .map(String::from)
        .collect();
    let run = Run::new(&format!("[\n{}\n]\n", events.join(",\n")), "events.json");
    let api = StandIn::start(Faults::default());
    run.send(&api, "events.json").assert().success();
    assert_eq!(identities(&api.seen()), all_users(1500));
    assert_eq!(run.report()["requests"], 2);

    // Two bad events: with the default --max-rejects 0 nothing at all is
    // sent, and both are in the rejects file (the whole file was checked).
    let mut bad = events.clone();
    bad[1234] = bad[1234].replace("\"web\"", "\"ios\"");
    bad[1400] = bad[1400].replace("\"web\"", "\"tv\"");
    let run = Run::new(&format!("[{}]", bad.join(",")), "bad.json");
    let api = StandIn::start(Faults::default());
    let stderr = run.send(&api, "bad.json").stderr_failed();
    assert!(
        stderr.contains("rejected: event[1234].activity_source"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rejected: event[1400].activity_source"),
        "{stderr}"
    );
    assert_eq!(api.server.request_count(), 0, "nothing sent");
    assert_eq!(run.report()["read"], 1500);
    let rejects = run.rejects();
    assert_eq!(rejects.lines().count(), 2);
    let line: serde_json::Value = serde_json::from_str(rejects.lines().next().unwrap()).unwrap();
    assert_eq!(line["position"], "event[1234]");
    assert_eq!(line["event"]["identity"], "user-1234");
    // Rerunning the same command changes nothing: the limit counts earlier rejects.
    run.send(&api, "bad.json").stderr_failed();
    assert_eq!(api.server.request_count(), 0, "still nothing sent");

    // Fixed in part, the file starts over without --restart: none of it had been sent.
    bad[1400] = events[1400].clone();
    std::fs::write(run.path("bad.json"), format!("[{}]", bad.join(","))).unwrap();
    // Allowing one reject sends the rest; a rerun neither resends nor re-rejects.
    run.send(&api, "bad.json")
        .args(["--max-rejects", "1"])
        .assert()
        .code(1);
    let mut expected = all_users(1500);
    expected.remove("user-1234");
    assert_eq!(identities(&api.seen()), expected);
    let report = run.report();
    assert_eq!(
        (report["sent"].as_u64(), report["rejected"].as_u64()),
        (Some(1499), Some(1))
    );
    // Run again: "already sent", but not every event arrived, so still exit 1.
    let stderr = run
        .send(&api, "bad.json")
        .args(["--max-rejects", "1"])
        .stderr_failed();
    assert!(stderr.contains("already sent"), "{stderr}");
    assert_eq!(api.seen().accepted.len(), 1499);
    let rejects = run.rejects();
    assert_eq!(rejects.lines().count(), 1, "{rejects}");
    assert!(rejects.contains("event[1234]"), "{rejects}");
}

#[test]
fn every_event_arrives_under_faults_and_retry_after_is_respected() {
    let run = Run::new(&ndjson(3000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        retry_after: Some((1, "1".into())),
        unavailable_every: Some(3),
        drop_after_accept_every: Some(4),
        slow_request: Some((7, Duration::from_secs(4))),
        ..Faults::default()
    });
    run.send(&api, "events.ndjson")
        .args([
            "--batch-size",
            "250",
            "--concurrency",
            "1",
            "--timeout",
            "1",
        ])
        .assert()
        .success();
    let seen = api.seen();
    assert_eq!(identities(&seen), all_users(3000));
    // Retry-After: 1 on the first request: the second came at least a second later.
    let gap = seen.arrivals[1] - seen.arrivals[0];
    assert!(gap >= Duration::from_secs(1), "{gap:?}");
    // Dropped connections after acceptance are resent: duplicates, all counted.
    let report = run.report();
    assert!(duplicates(&seen) > 0);
    assert!(report["possible_duplicates"].as_u64().unwrap() >= duplicates(&seen) as u64);
    assert!(
        report["retried_requests"].as_u64().unwrap() >= 3,
        "{report}"
    );
    assert_eq!(report["sent"], 3000);
}

#[test]
fn only_the_refused_event_reaches_the_rejects_file() {
    let text = ndjson(1000, |_| "A".into()).replace("\"user-617\"", "\"bad-617\"");
    let run = Run::new(&text, "events.ndjson");
    let api = StandIn::start(Faults {
        refuse_marked: Some("bad-".into()),
        ..Faults::default()
    });
    let stderr = run.send(&api, "events.ndjson").stderr_failed();
    assert!(
        stderr.contains("rejected: line 618: the API refused it: 400"),
        "{stderr}"
    );
    let mut expected = all_users(1000);
    expected.remove("user-617");
    assert_eq!(identities(&api.seen()), expected);
    let rejects = run.rejects();
    assert_eq!(rejects.lines().count(), 1, "{rejects}");
    let line: serde_json::Value = serde_json::from_str(rejects.trim()).unwrap();
    assert_eq!(line["event"]["identity"], "bad-617");
    assert_eq!(line["position"], "line 618");
    assert_eq!(line["answer"]["status"], 400);
    // Halving found it in about 2 log2(1000) requests, not 1000.
    assert!(
        api.server.request_count() < 40,
        "{}",
        api.server.request_count()
    );
    assert_eq!(run.report()["rejected"], 1);
}

#[test]
fn events_refused_alike_stop_the_run_instead_of_a_flood() {
    let run = Run::new(&ndjson(1000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        refuse_all: true,
        ..Faults::default()
    });
    let stderr = run.send(&api, "events.ndjson").stderr_failed();
    assert!(
        stderr.contains("the request, not the events, looks wrong"),
        "{stderr}"
    );
    assert!(
        api.server.request_count() < 30,
        "{}",
        api.server.request_count()
    );
    let report = run.report();
    assert_eq!(
        (report["rejected"].as_u64(), report["pending"].as_u64()),
        (Some(0), Some(1000))
    );
}

#[test]
fn unauthorized_stops_at_once_and_a_rerun_resumes() {
    let run = Run::new(&ndjson(5000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        unauthorized_after: Some(2),
        ..Faults::default()
    });
    let stderr = run
        .send(&api, "events.ndjson")
        .args(["--concurrency", "1"])
        .stderr_failed();
    assert!(stderr.contains("401 Unauthorized"), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert_eq!(api.server.request_count(), 3, "stopped at the first 401");
    assert_eq!(run.report()["sent"], 2000);

    // The journal holds no event content, key or API key.
    let journal = run.journal_text();
    for secret in ["user-1", "Page Browse", KEY, IV, API_KEY] {
        assert!(!journal.contains(secret), "{secret} in the journal");
    }

    api.set_faults(Faults::default());
    run.send(&api, "events.ndjson").assert().success();
    let seen = api.seen();
    assert_eq!(seen.accepted.len(), 5000, "only what was not acknowledged");
    assert_eq!(identities(&seen), all_users(5000));
    let report = run.report();
    assert_eq!(report["sent_by_earlier_runs"], 2000);
    assert_eq!(report["possible_duplicates"], 0);
}

#[test]
fn a_changed_input_is_refused_on_resume() {
    let run = Run::new(&ndjson(3000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        unauthorized_after: Some(1),
        ..Faults::default()
    });
    run.send(&api, "events.ndjson")
        .args(["--concurrency", "1"])
        .assert()
        .code(1);
    std::fs::write(run.path("events.ndjson"), ndjson(3001, |_| "A".into())).unwrap();
    api.set_faults(Faults::default());
    let before = api.server.request_count();
    let stderr = run.send(&api, "events.ndjson").stderr_failed();
    assert!(
        stderr.contains("the input changed since an earlier run sent part of it"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--restart") && stderr.contains("--journal"),
        "{stderr}"
    );
    assert_eq!(api.server.request_count(), before);
    run.send(&api, "events.ndjson")
        .arg("--restart")
        .assert()
        .success();
    assert_eq!(identities(&api.seen()), all_users(3001));
}

#[test]
fn standard_input_of_any_length_goes_without_a_journal() {
    let api = StandIn::start(Faults::default());
    let run = Run::new("", "unused");
    run.send(&api, "-")
        .arg("--lines")
        .write_stdin(ndjson(2500, |_| "A".into()))
        .assert()
        .success();
    assert_eq!(identities(&api.seen()), all_users(2500));
    assert!(run.deliveries().is_empty(), "{:?}", run.deliveries());
    // A journal named for a stream makes it resumable.
    run.send(&api, "-")
        .args(["--lines", "--journal", "stdin.journal"])
        .write_stdin(ndjson(1001, |_| "A".into()))
        .assert()
        .success();
    assert!(run.path("stdin.journal").exists());
}

#[test]
fn batch_size_above_the_api_limit_is_refused() {
    let stderr = ce()
        .args(["send", "--batch-size", "1001", "[]"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(stderr).unwrap();
    assert!(
        stderr.contains("the API takes at most 1000 events per request"),
        "{stderr}"
    );
}

#[test]
fn rate_spaces_requests_out() {
    let run = Run::new(&ndjson(500, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults::default());
    run.send(&api, "events.ndjson")
        .args(["--batch-size", "100", "--rate", "10"])
        .assert()
        .success();
    let arrivals = api.seen().arrivals;
    assert_eq!(arrivals.len(), 5);
    let span = arrivals[4] - arrivals[0];
    assert!(span >= Duration::from_millis(380), "{span:?}");
}

/// Runs `send` on events.ndjson, sends it `signal` once the stand-in has
/// accepted `after` events, and returns its exit status.
fn interrupt(run: &Run, api: &StandIn, signal: &str, after: usize) -> std::process::ExitStatus {
    let mut child = run.spawn(api, &["--batch-size", "100", "--quiet"], Stdio::null());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while api.seen().accepted.len() < after && std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = child.id().to_string();
    std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    child.wait().unwrap()
}

#[test]
fn killed_at_random_moments_and_rerun_every_event_arrives_within_the_duplicate_bound() {
    let total = 20_000;
    let run = Run::new(&ndjson(total, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        latency: Duration::from_millis(20),
        ..Faults::default()
    });
    let mut kills = 0;
    for round in 1..=4 {
        // Somewhere in each quarter of the input (reruns start where the last stopped).
        let after = round * 4000 + (rand_u64() % 4000) as usize;
        let status = interrupt(&run, &api, "-KILL", after);
        if !status.success() {
            kills += 1;
        }
    }
    assert!(kills >= 3, "runs were not killed part-way ({kills})");
    run.send(&api, "events.ndjson")
        .args(["--batch-size", "100"])
        .assert()
        .success();
    let seen = api.seen();
    assert_eq!(identities(&seen), all_users(total));
    // Only batches in flight at a kill may arrive twice: concurrency 4 × 100 events each time.
    assert!(
        duplicates(&seen) <= kills * 4 * 100,
        "{} duplicates after {kills} kills",
        duplicates(&seen)
    );
    let report = run.report();
    assert_eq!(report["sent"].as_u64(), Some(total as u64));
    assert!(report["possible_duplicates"].as_u64().unwrap() <= (kills * 4 * 100) as u64);
}

#[test]
fn sigint_exits_130_with_the_journal_consistent() {
    let run = Run::new(&ndjson(20_000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        latency: Duration::from_millis(20),
        ..Faults::default()
    });
    let status = interrupt(&run, &api, "-INT", 5000);
    assert_eq!(status.code(), Some(130));
    let before = api.seen().accepted.len();
    assert!(
        (5000..20_000).contains(&before),
        "interrupted part-way: {before}"
    );
    run.send(&api, "events.ndjson")
        .args(["--batch-size", "100"])
        .assert()
        .success();
    let seen = api.seen();
    assert_eq!(identities(&seen), all_users(20_000));
    // SIGINT lets the requests in flight finish and records them: nothing twice.
    assert_eq!(duplicates(&seen), 0);
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[test]
fn the_state_folder_journal_and_rejects_file_are_private() {
    let text = ndjson(10, |_| "A".into()).replace("\"web\"", "\"tv\"");
    let run = Run::new(&text, "events.ndjson");
    let api = StandIn::start(Faults::default());
    // No rejects, no rejects file.
    let good = Run::new(&ndjson(10, |_| "A".into()), "events.ndjson");
    good.send(&api, "events.ndjson").assert().success();
    assert_eq!(good.deliveries().len(), 1, "{:?}", good.deliveries());
    assert!(good.report()["rejects"].is_null());

    run.send(&api, "events.ndjson")
        .args(["--max-rejects", "100"])
        .assert()
        .code(1);
    assert_eq!(mode(&run.state.path().join("ce-crypt")), 0o700);
    assert_eq!(mode(&run.state.path().join("ce-crypt/deliveries")), 0o700);
    assert_eq!(mode(&run.journal()), 0o600);
    let rejects = run.report()["rejects"].as_str().unwrap().to_owned();
    assert_eq!(mode(std::path::Path::new(&rejects)), 0o600);
    assert_eq!(run.rejects().lines().count(), 10);
}

#[test]
fn a_stream_resumes_from_its_journal_and_a_changed_stream_is_refused() {
    let events = ndjson(3000, |_| "A".into());
    let run = Run::new("", "unused");
    let api = StandIn::start(Faults {
        unauthorized_after: Some(1),
        ..Faults::default()
    });
    let stream = |journal: &str, input: String| {
        let mut cmd = run.send(&api, "-");
        cmd.args(["--lines", "--journal", journal, "--concurrency", "1"])
            .write_stdin(input);
        cmd
    };
    stream("stream.journal", events.clone()).assert().code(1);
    assert_eq!(api.seen().accepted.len(), 1000);

    // The same stream again: the first thousand are skipped.
    api.set_faults(Faults::default());
    stream("stream.journal", events.clone()).assert().success();
    assert_eq!(identities(&api.seen()), all_users(3000));
    assert_eq!(api.seen().accepted.len(), 3000);

    // Another stream against a journal part-way: refused before anything is sent.
    api.set_faults(Faults {
        unauthorized_after: Some(api.server.request_count() + 1),
        ..Faults::default()
    });
    stream("other.journal", events.clone()).assert().code(1);
    let changed = events.replacen("user-5", "user-x", 1);
    api.set_faults(Faults::default());
    let before = api.server.request_count();
    let stderr = stream("other.journal", changed).stderr_failed();
    assert!(stderr.contains("is not the one the journal"), "{stderr}");
    assert_eq!(api.server.request_count(), before);
}

#[test]
fn requests_overlap_up_to_the_concurrency() {
    let run = Run::new(&ndjson(800, |_| "A".into()), "events.ndjson");
    let latency = Duration::from_millis(300);
    let api = StandIn::start(Faults {
        latency,
        ..Faults::default()
    });
    run.send(&api, "events.ndjson")
        .args(["--batch-size", "100", "--concurrency", "4"])
        .assert()
        .success();
    let arrivals = api.seen().arrivals;
    assert_eq!(arrivals.len(), 8);
    // Serial requests arrive at least `latency` apart; overlapping ones do not.
    let overlapping = arrivals
        .windows(2)
        .filter(|w| w[1] - w[0] < latency / 2)
        .count();
    assert!(
        overlapping >= 4,
        "{overlapping} of 7 requests overlapped: {arrivals:?}"
    );
    let connections: BTreeSet<usize> = api.server.requests().iter().map(|r| r.connection).collect();
    assert!((2..=4).contains(&connections.len()), "{connections:?}");
}

#[test]
fn a_terminal_gets_a_progress_bar_and_a_pipe_only_the_summary() {
    let run = Run::new(&ndjson(2000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        latency: Duration::from_millis(200),
        ..Faults::default()
    });
    let command = format!(
        "cd '{}' && env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u ALL_PROXY \
         -u all_proxy XDG_STATE_HOME='{}' CE_SECRET_KEY={KEY} CE_SECRET_IV={IV} \
         CE_API_KEY={API_KEY} '{}' send --lines -i events.ndjson --endpoint '{}' --batch-size \
         100 --concurrency 2",
        run.dir.path().display(),
        run.state.path().display(),
        env!("CARGO_BIN_EXE_ce-crypt"),
        api.url()
    );
    let screen = in_terminal(&command);
    assert!(screen.contains("/2000 events"), "no bar: {screen}");
    assert!(screen.contains("sent 2000 of 2000 events"), "{screen}");
    assert_eq!(identities(&api.seen()), all_users(2000));

    // Without a terminal, a short run prints its summary line and nothing else.
    let out = run
        .send(&api, "events.ndjson")
        .args(["--restart", "--batch-size", "100"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("sent 2000 of 2000 events (0 rejected, 0 pending) in 20 requests"),
        "{stderr}"
    );
}

#[test]
fn the_journal_rejects_and_report_never_replace_the_input_or_another_file() {
    let text = ndjson(10, |_| "A".into());
    let run = Run::new(&text, "events.ndjson");
    std::fs::write(run.path("keep.txt"), "keep me\n").unwrap();
    let api = StandIn::start(Faults::default());
    for flag in ["--journal", "--rejects", "--report"] {
        let stderr = ce_keyed()
            .current_dir(run.dir.path())
            .env("CE_API_KEY", API_KEY)
            .args([
                "send",
                "--lines",
                "--endpoint",
                &api.url(),
                "-i",
                "events.ndjson",
            ])
            .args([flag, "events.ndjson"])
            .stderr_failed();
        assert!(stderr.contains("is the input file"), "{flag}: {stderr}");
    }
    for flag in ["--journal", "--rejects"] {
        let stderr = run
            .send(&api, "events.ndjson")
            .args([flag, "keep.txt", "--restart"])
            .stderr_failed();
        assert!(stderr.contains("keep.txt"), "{flag}: {stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(run.path("events.ndjson")).unwrap(),
        text
    );
    assert_eq!(
        std::fs::read_to_string(run.path("keep.txt")).unwrap(),
        "keep me\n"
    );
    assert_eq!(api.server.request_count(), 0);
}

#[test]
fn a_journal_of_one_stream_refuses_a_shorter_other_stream() {
    let run = Run::new("", "unused");
    let api = StandIn::start(Faults {
        unauthorized_after: Some(2),
        ..Faults::default()
    });
    let stream = |input: String| {
        let mut cmd = run.send(&api, "-");
        cmd.args(["--lines", "--journal", "j", "--concurrency", "1"])
            .write_stdin(input);
        cmd
    };
    let events = ndjson(5000, |_| "A".into());
    stream(events.clone()).assert().code(1);
    api.set_faults(Faults::default());
    let other: String = ndjson(10, |_| "A".into()).replace("user-", "other-");
    let before = api.server.request_count();
    let stderr = stream(other).stderr_failed();
    assert!(stderr.contains("is not the one the journal"), "{stderr}");
    assert_eq!(api.server.request_count(), before);
    // The original stream still finishes, and a finished journal checks its stream too.
    stream(events.clone()).assert().success();
    let shorter = events[..events.len() - 1].to_owned();
    let stderr = stream(shorter).stderr_failed();
    assert!(stderr.contains("is not the one the journal"), "{stderr}");
}

#[test]
fn events_added_to_a_file_after_its_check_are_never_sent() {
    let run = Run::new(&ndjson(3000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        latency: Duration::from_millis(100),
        ..Faults::default()
    });
    let args = ["--batch-size", "100", "--concurrency", "1", "--quiet"];
    let child = run.spawn(&api, &args, Stdio::piped());
    while api.server.request_count() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // More than a batch of them: not only the last batch, which goes after the
    // end-of-input check, but whole batches before it.
    let unchecked: String = (0..150)
        .map(|i| {
            format!(r#"{{"asset_id":"A","identity":"UNCHECKED-{i}","timestamp":"1999-01-01T00:00:00Z"}}"#)
                + "\n"
        })
        .collect();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(run.path("events.ndjson"))
        .unwrap();
    std::io::Write::write_all(&mut file, unchecked.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("grew while it was being sent"), "{stderr}");
    let seen = api.seen();
    assert!(!seen.accepted.iter().any(|id| id.starts_with("UNCHECKED")));
}

#[test]
fn a_few_bad_events_at_the_start_of_a_batch_are_rejected_not_taken_for_a_bad_request() {
    let mut text = ndjson(3000, |_| "A".into());
    for i in 1000..1004 {
        text = text.replace(&format!("\"user-{i}\""), &format!("\"bad-{i}\""));
    }
    let run = Run::new(&text, "events.ndjson");
    let api = StandIn::start(Faults {
        refuse_marked: Some("bad-".into()),
        ..Faults::default()
    });
    run.send(&api, "events.ndjson")
        .args(["--max-rejects", "10", "--concurrency", "1"])
        .assert()
        .code(1);
    let expected: BTreeSet<String> = all_users(3000)
        .into_iter()
        .filter(|u| !(1000..1004).any(|i| *u == format!("user-{i}")))
        .collect();
    assert_eq!(identities(&api.seen()), expected);
    let report = run.report();
    assert_eq!(
        (report["rejected"].as_u64(), report["pending"].as_u64()),
        (Some(4), Some(0))
    );
}

#[test]
fn a_run_whose_batches_were_only_in_flight_still_guards_its_input() {
    let run = Run::new(&ndjson(500, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        drop_after_accept_every: Some(1),
        ..Faults::default()
    });
    run.send(&api, "events.ndjson")
        .args(["--retries", "0"])
        .assert()
        .code(1);
    assert_eq!(
        api.seen().accepted.len(),
        500,
        "the API has them, unacknowledged"
    );
    std::fs::write(run.path("events.ndjson"), ndjson(501, |_| "A".into())).unwrap();
    api.set_faults(Faults::default());
    let stderr = run.send(&api, "events.ndjson").stderr_failed();
    assert!(stderr.contains("500 possibly delivered"), "{stderr}");
    assert_eq!(api.server.request_count(), 1);
}

#[test]
fn the_rejects_file_keeps_each_event_exactly_as_given() {
    let when = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let odd = format!(
        r#"{{"identity":"","timestamp":"{when}","asset_id":"A","activity_name":"x","activity_source":"web","activity_params":{{"big":1e400,"n":123456789012345678901234567890,"f":0.30000000000000000001}}}}"#
    );
    let text = format!("{odd}\nnot json at all\n{}", ndjson(1, |_| "A".into()));
    let run = Run::new(&text, "events.ndjson");
    let api = StandIn::start(Faults::default());
    let out = run
        .send(&api, "events.ndjson")
        .args(["--max-rejects", "2"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rejected: line 2: not JSON"), "{stderr}");
    let rejects = run.rejects();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines.len(), 2, "{rejects}");
    assert!(
        lines[0].ends_with(&format!(r#""event":{odd}}}"#)),
        "{}",
        lines[0]
    );
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["text"], "not json at all");
    assert_eq!(identities(&api.seen()), all_users(1));

    // Run again: already sent, but not every event arrived, so still exit 1.
    let stderr = run
        .send(&api, "events.ndjson")
        .args(["--max-rejects", "2"])
        .stderr_failed();
    assert!(stderr.contains("already sent"), "{stderr}");
}

#[test]
fn an_absurd_rate_is_a_usage_error() {
    ce().args(["send", "--rate", "1e-20", "[]"])
        .assert()
        .code(2);
}

/// The issue's cases: where the events went decides what "already sent" means.
#[test]
fn the_same_file_to_two_endpoints_arrives_at_each_once() {
    let run = Run::new(&ndjson(1500, |_| "A".into()), "events.ndjson");
    let staging = StandIn::start(Faults::default());
    let production = StandIn::start(Faults::default());
    run.send(&staging, "events.ndjson").assert().success();
    run.send(&production, "events.ndjson").assert().success();
    assert_eq!(identities(&staging.seen()), all_users(1500));
    assert_eq!(identities(&production.seen()), all_users(1500));
    // Each destination twice: nothing sent again.
    for api in [&staging, &production] {
        let stderr = run.send(api, "events.ndjson").assert().success();
        let stderr = String::from_utf8_lossy(&stderr.get_output().stderr).into_owned();
        assert!(stderr.contains("already sent"), "{stderr}");
        assert_eq!(api.seen().accepted.len(), 1500);
    }
    // Another asset at the same endpoint is another destination too.
    run.send(&staging, "events.ndjson")
        .args(["--asset", "A", "--no-check"])
        .assert()
        .success();
    assert_eq!(staging.seen().accepted.len(), 3000);
    assert_eq!(duplicates(&production.seen()), 0);
    assert_eq!(entries(run.dir.path()), ["events.ndjson", "report.json"]);
}

#[test]
fn a_method_change_or_a_rotated_key_sends_nothing_twice() {
    let run = Run::new(&ndjson(5000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        unauthorized_after: Some(2),
        ..Faults::default()
    });
    run.send(&api, "events.ndjson")
        .args(["--concurrency", "1"])
        .assert()
        .code(1);
    assert_eq!(api.seen().accepted.len(), 2000);
    api.set_faults(Faults {
        unauthorized_after: Some(4),
        ..Faults::default()
    });
    // Another method: the same delivery, resumed.
    run.send(&api, "events.ndjson")
        .args(["--concurrency", "1", "--method", "cbc-hex"])
        .assert()
        .code(1);
    assert_eq!(api.seen().accepted.len(), 3000);
    assert_eq!(api.seen().violations, Vec::<String>::new());
    // A new API key: the same delivery again, and said so.
    api.set_faults(Faults::default());
    let out = run
        .send(&api, "events.ndjson")
        .env("CE_API_KEY", standin::ROTATED_API_KEY)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the API key is not the one"), "{stderr}");
    let seen = api.seen();
    assert_eq!(identities(&seen), all_users(5000));
    assert_eq!(duplicates(&seen), 0);
    assert!(!run.journal_text().contains(standin::ROTATED_API_KEY));
}

#[test]
fn a_journal_left_beside_the_input_by_the_earlier_version_is_continued() {
    use sha2::{Digest, Sha256};
    let text = ndjson(3000, |_| "A".into());
    let run = Run::new(&text, "events.ndjson");
    let sha = hex(&Sha256::digest(text.as_bytes()));
    // What ce-crypt 0.1 wrote after 1000 events were acknowledged.
    let legacy = format!(
        "{{\"journal\":{{\"version\":1,\"format\":\"lines\",\"input\":{{\"size\":{},\"sha256\":\"{sha}\"}}}}}}\n\
         {{\"sent\":{{\"from\":0,\"to\":1000,\"events\":1000,\"offset\":1,\"sha256\":\"x\"}}}}\n\
         {{\"acked\":{{\"from\":0,\"to\":1000,\"events\":1000}}}}\n",
        text.len()
    );
    std::fs::write(run.path("events.ndjson.ce-send"), legacy).unwrap();
    std::fs::write(run.path("events.ndjson.ce-send.rejects.jsonl"), "").unwrap();
    let api = StandIn::start(Faults::default());
    let out = run.send(&api, "events.ndjson").assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("was moved to"), "{stderr}");
    let seen = api.seen();
    assert_eq!(seen.accepted.len(), 2000, "only the rest");
    let rest: BTreeSet<String> = (1000..3000).map(|i| format!("user-{i}")).collect();
    assert_eq!(identities(&seen), rest);
    assert_eq!(run.report()["sent"], 3000);
    // Moved, not copied: nothing is left beside the input.
    assert_eq!(entries(run.dir.path()), ["events.ndjson", "report.json"]);
    assert!(run.journal_text().contains("\"destination\""));
}

#[test]
fn a_pretty_printed_inputs_rejects_are_one_line_each_and_a_rerun_takes_them() {
    let events: Vec<serde_json::Value> = ndjson(20, |_| "A".into())
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut pretty = serde_json::to_string_pretty(&events).unwrap();
    pretty = pretty.replacen("\"web\"", "\"tv\"", 2);
    let run = Run::new(&pretty, "events.json");
    let api = StandIn::start(Faults {
        unauthorized_after: Some(0),
        ..Faults::default()
    });
    run.send(&api, "events.json")
        .args(["--max-rejects", "5"])
        .assert()
        .code(1);
    let rejects = run.rejects();
    assert_eq!(rejects.lines().count(), 2, "{rejects}");
    for line in rejects.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(record["event"]["activity_source"], "tv");
    }
    // The rerun takes its own file, and sends the rest.
    api.set_faults(Faults::default());
    run.send(&api, "events.json")
        .args(["--max-rejects", "5"])
        .assert()
        .code(1);
    assert_eq!(api.seen().accepted.len(), 18);
    assert_eq!(run.rejects().lines().count(), 2);
}

#[test]
fn a_report_onto_the_api_key_file_or_the_journal_is_refused_before_any_request() {
    let run = Run::new(&ndjson(5, |_| "A".into()), "events.ndjson");
    write_private(&run.path("api.key"), API_KEY);
    let api = StandIn::start(Faults::default());
    let stderr = ce_keyed()
        .current_dir(run.dir.path())
        .env("XDG_STATE_HOME", run.state.path())
        .args([
            "send",
            "--lines",
            "-i",
            "events.ndjson",
            "--endpoint",
            &api.url(),
        ])
        .args(["--api-key-file", "api.key", "--report", "api.key"])
        .stderr_failed();
    assert!(stderr.contains("is the API key file"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(run.path("api.key")).unwrap(),
        API_KEY
    );
    assert_eq!(api.server.request_count(), 0);
    // The journal: the state folder's, once it exists.
    run.send(&api, "events.ndjson").assert().success();
    let journal = run.journal();
    let before = std::fs::read_to_string(&journal).unwrap();
    let stderr = ce_keyed()
        .current_dir(run.dir.path())
        .env("XDG_STATE_HOME", run.state.path())
        .env("CE_API_KEY", API_KEY)
        .args([
            "send",
            "--lines",
            "-i",
            "events.ndjson",
            "--endpoint",
            &api.url(),
        ])
        .arg("--report")
        .arg(&journal)
        .stderr_failed();
    assert!(stderr.contains("the journal"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), before);
    assert_eq!(api.server.request_count(), 1);
}

#[test]
fn three_events_refused_alike_then_accepted_all_arrive_on_the_rerun() {
    let run = Run::new(&ndjson(3, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        refuse_all: true,
        ..Faults::default()
    });
    let stderr = run.send(&api, "events.ndjson").stderr_failed();
    assert!(
        stderr.contains("the request, not the events, looks wrong"),
        "{stderr}"
    );
    assert_eq!(run.report()["rejected"], 0);
    api.set_faults(Faults::default());
    run.send(&api, "events.ndjson").assert().success();
    assert_eq!(identities(&api.seen()), all_users(3));
    assert_eq!(run.report()["possible_duplicates"], 0);
}

#[test]
fn after_a_401_the_same_or_an_edited_file_is_sent_whole_with_no_possible_duplicates() {
    for edit in [false, true] {
        let run = Run::new(&ndjson(2500, |_| "A".into()), "events.ndjson");
        let api = StandIn::start(Faults {
            unauthorized_after: Some(0),
            ..Faults::default()
        });
        run.send(&api, "events.ndjson").assert().code(1);
        if edit {
            std::fs::write(run.path("events.ndjson"), ndjson(2600, |_| "A".into())).unwrap();
        }
        api.set_faults(Faults::default());
        run.send(&api, "events.ndjson").assert().success();
        let count = if edit { 2600 } else { 2500 };
        assert_eq!(identities(&api.seen()), all_users(count), "edited: {edit}");
        assert_eq!(run.report()["possible_duplicates"], 0, "edited: {edit}");
    }
}

#[test]
fn one_requests_answer_is_printed_after_retries_too() {
    let run = Run::new(&ndjson(3, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        unavailable_every: Some(1),
        ..Faults::default()
    });
    let spawned = run
        .send(&api, "events.ndjson")
        .args(["--retries", "3"])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1);
    assert_eq!(spawned.get_output().stdout, b"");
    api.set_faults(Faults {
        unavailable_every: Some(api.server.request_count() + 1),
        ..Faults::default()
    });
    let out = run.send(&api, "events.ndjson").assert().success();
    assert_eq!(out.get_output().stdout, b"{\"status\":\"success\"}\n");
    assert_eq!(run.report()["retried_requests"], 1);
}

#[test]
fn no_check_still_refuses_a_lone_surrogate() {
    let text = ndjson(2, |_| "A".into()).replacen("user-1", "user-\\ud800", 1);
    let run = Run::new(&text, "events.ndjson");
    let api = StandIn::start(Faults::default());
    let stderr = run
        .send(&api, "events.ndjson")
        .args(["--no-check", "--max-rejects", "1"])
        .stderr_failed();
    assert!(stderr.contains("surrogate"), "{stderr}");
    assert_eq!(
        identities(&api.seen()),
        BTreeSet::from(["user-0".to_owned()])
    );
}

#[test]
fn a_certificate_failure_in_a_multi_batch_run_suggests_cacert() {
    let run = Run::new(&ndjson(2500, |_| "A".into()), "events.ndjson");
    let server = common::net::TestServer::https(common::net::always(common::net::json(200, "{}")));
    let stderr = ce_keyed()
        .current_dir(run.dir.path())
        .env("XDG_STATE_HOME", run.state.path())
        .env("CE_API_KEY", API_KEY)
        .args([
            "send",
            "--lines",
            "-i",
            "events.ndjson",
            "--endpoint",
            &server.url(),
        ])
        .stderr_failed();
    assert!(stderr.contains("--cacert FILE"), "{stderr}");
    assert!(!stderr.contains("Other("), "{stderr}");
    assert_eq!(server.request_count(), 0);
}

#[test]
fn status_says_what_the_journal_records_and_sends_nothing() {
    let run = Run::new(&ndjson(2500, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        unauthorized_after: Some(1),
        ..Faults::default()
    });
    let status = |run: &Run| {
        let out = ce_keyed()
            .current_dir(run.dir.path())
            .env("XDG_STATE_HOME", run.state.path())
            .args([
                "send",
                "--lines",
                "-i",
                "events.ndjson",
                "--endpoint",
                &api.url(),
            ])
            .arg("--status")
            .assert()
            .success()
            .get_output()
            .clone();
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(
        status(&run).contains("nothing recorded"),
        "{}",
        status(&run)
    );
    run.send(&api, "events.ndjson")
        .args(["--concurrency", "1"])
        .assert()
        .code(1);
    let text = status(&run);
    assert!(
        text.contains("unfinished: the same command resumes"),
        "{text}"
    );
    assert!(text.contains("acknowledged: 1000 events"), "{text}");
    assert!(
        text.contains(&run.journal().display().to_string()),
        "{text}"
    );
    let requests = api.server.request_count();
    api.set_faults(Faults::default());
    run.send(&api, "events.ndjson").assert().success();
    let text = status(&run);
    assert!(text.contains("finished"), "{text}");
    assert!(text.contains("acknowledged: 2500 events"), "{text}");
    assert_eq!(
        api.server.request_count(),
        requests + 2,
        "status sent nothing"
    );
}

#[test]
fn a_second_run_of_the_same_delivery_is_refused_while_the_first_runs() {
    let run = Run::new(&ndjson(3000, |_| "A".into()), "events.ndjson");
    let api = StandIn::start(Faults {
        latency: Duration::from_millis(300),
        ..Faults::default()
    });
    let mut first = run.spawn(&api, &["--concurrency", "1", "--quiet"], Stdio::null());
    common::net::wait_until("the first request", || api.server.request_count() > 0);
    let stderr = run.send(&api, "events.ndjson").stderr_failed();
    assert!(
        stderr.contains("another run is sending this delivery"),
        "{stderr}"
    );
    assert!(first.wait().unwrap().success());
    assert_eq!(api.seen().accepted.len(), 3000);
    assert_eq!(duplicates(&api.seen()), 0);
}

#[test]
fn help_says_where_state_lives() {
    let out = ce().args(["send", "--help"]).assert().success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        help.contains("$XDG_STATE_HOME/ce-crypt/deliveries/"),
        "{help}"
    );
}

#[test]
fn a_closed_port_reports_no_possible_duplicates() {
    let run = Run::new(&ndjson(3, |_| "A".into()), "events.ndjson");
    for _ in 0..2 {
        let stderr = ce_keyed()
            .current_dir(run.dir.path())
            .env("XDG_STATE_HOME", run.state.path())
            .env("CE_API_KEY", API_KEY)
            .args([
                "send",
                "--lines",
                "-i",
                "events.ndjson",
                "--report",
                "report.json",
            ])
            .args(["--endpoint", &common::net::dead_url(), "--retries", "2"])
            .stderr_failed();
        assert!(stderr.contains("0 possible duplicates"), "{stderr}");
        assert!(!stderr.contains("may have reached"), "{stderr}");
        let report = run.report();
        assert_eq!(report["possible_duplicates"], 0);
        assert_eq!(report["possibly_delivered_unacknowledged"], 0);
        assert_eq!(report["retried_requests"], 2);
    }
}
