//! `send` proper: the events in batches through the library's bulk upload,
//! with a progress bar or progress lines, a summary, a report and an exit
//! status that says whether every event arrived.

use std::io::{self, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use ce_crypt::upload::bulk::{
    BulkFiles, BulkInput, BulkJob, BulkOptions, BulkSummary, Counts, InputFormat, LiveCounts,
    RequestLog, StopReason,
};
use ce_crypt::upload::{ApiKey, Client, Endpoint};
use ce_crypt::{Cipher, EventRules};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::super::args::SendArgs;
use super::super::error::{self, ExitStatus};
use super::super::input::Input;
use super::super::keysource;
use super::super::output::{Existing, Output, refuse_reading_and_writing};
use super::super::process;

/// The journal's default name: the input file's, with this added.
const JOURNAL_SUFFIX: &str = ".ce-send";
/// The rejects file's default name: the journal's, with this added.
const REJECTS_SUFFIX: &str = ".rejects.jsonl";
/// Without a terminal, a progress line at most this often.
const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(10);

/// Sends the input's events and reports how it went.
pub fn send(
    args: &SendArgs,
    client: &Client,
    endpoint: &Endpoint,
    api_key: &ApiKey,
    cipher: &Cipher,
    chosen: Option<(String, String)>,
) -> Result<()> {
    let input = Input::choose(
        args.payload.text.clone(),
        args.payload.input.input.clone(),
        "payload",
    )?;
    // The journal, the rejects and the report never replace the input (or the key file).
    let mut read: Vec<(&str, &Path)> = Vec::new();
    if let Input::File(path) = &input {
        read.push(("input file", path));
    }
    let key_file = keysource::key_file_path(&args.payload.keys)?;
    if let Some(path) = &key_file {
        read.push(("key file", path));
    }
    for written in [&args.journal, &args.rejects, &args.report] {
        refuse_reading_and_writing(written.as_deref(), &read)?;
    }
    let (input, default_journal) = bulk_input(input)?;
    let journal = args.journal.clone().or(default_journal);
    let rejects = args
        .rejects
        .clone()
        .or_else(|| journal.as_ref().map(|j| with_suffix(j, REJECTS_SUFFIX)));
    let files = BulkFiles {
        journal,
        rejects,
        restart: args.restart,
    };
    let asset = chosen.map(|(asset, _)| asset);
    let options = BulkOptions {
        batch_size: args.batch_size,
        concurrency: usize::from(args.concurrency),
        rate: args.rate,
        retries: args.retries,
        max_rejects: args.max_rejects,
        rules: (!args.no_check).then(|| {
            EventRules::new(SystemTime::now())
                .strict(args.strict)
                .asset(asset.clone())
        }),
        asset,
        ..BulkOptions::default()
    };
    let format = if args.lines {
        InputFormat::Lines
    } else {
        InputFormat::Array
    };
    let counts = LiveCounts::default();
    let job = BulkJob {
        client,
        endpoint,
        api_key,
        cipher,
        options,
        stop: process::stop_flag()?,
        counts: &counts,
        on_request: args
            .verbose
            .then_some(&log_request as &(dyn Fn(&RequestLog<'_>) + Sync)),
    };
    let running = AtomicBool::new(true);
    let summary = std::thread::scope(|scope| {
        // Progress only for runs with a journal: without one, the input is one request.
        if !args.quiet && files.journal.is_some() {
            scope.spawn(|| show_progress(&counts, &running));
        }
        let summary = job.run(input, format, &files);
        running.store(false, Ordering::SeqCst);
        summary
    });
    let summary = summary?;

    if let Some(path) = &args.report {
        write_report(path, &summary, &files)?;
    }
    if !args.quiet {
        error::warn(&summary.warnings);
    }
    let status = finish(args, &summary, &files)?;
    match status {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}

/// The library's input, and the default journal (beside a file input).
fn bulk_input(input: Input) -> Result<(BulkInput, Option<PathBuf>)> {
    Ok(match input {
        Input::File(path) => {
            // Input::open refuses folders; it knows a size only for a regular file.
            let (reader, size) = Input::File(path.clone()).open()?;
            match size {
                Some(_) => {
                    let journal = with_suffix(&path, JOURNAL_SUFFIX);
                    (BulkInput::File(path), Some(journal))
                }
                // A FIFO or a device: read once, like standard input.
                None => (BulkInput::Stream(Box::new(BufReader::new(reader))), None),
            }
        }
        Input::Argument(bytes) => (BulkInput::Stream(Box::new(io::Cursor::new(bytes))), None),
        Input::Stdin => (
            BulkInput::Stream(Box::new(BufReader::with_capacity(256 << 10, io::stdin()))),
            None,
        ),
    })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The final lines on stderr (and the API's answer on stdout, for a single
/// request); returns the exit status, or the error to report.
fn finish(args: &SendArgs, summary: &BulkSummary, files: &BulkFiles) -> Result<u8> {
    let counts = summary.counts;
    let mut stderr = io::stderr().lock();
    if summary.already_sent {
        if !args.quiet {
            let journal = files.journal.as_deref().map(Path::display);
            let _ = writeln!(
                stderr,
                "already sent: the journal {} records all {} events as acknowledged ({}) or \
                 rejected ({}); nothing was sent (--restart sends them again)",
                journal.map_or_else(String::new, |j| j.to_string()),
                counts.read,
                counts.sent,
                counts.rejected
            );
        }
        // 0 only when every event was acknowledged.
        return Ok(u8::from(counts.rejected > 0));
    }
    if counts.read == 0 && !args.quiet {
        let _ = writeln!(stderr, "note: the input holds no events; nothing was sent");
    }
    if counts.sent > summary.sent_before
        && counts.requests == 1
        && let Some(answer) = &summary.last_answer
    {
        let mut stdout = io::stdout().lock();
        stdout.write_all(answer.body.as_bytes())?;
        if !answer.body.ends_with('\n') {
            stdout.write_all(b"\n")?;
        }
        stdout.flush()?;
        if answer.body_incomplete {
            let _ = writeln!(
                stderr,
                "note: the API accepted the upload ({} {}); its answer was longer than 1 MiB or \
                 broke off, and only its start is shown",
                answer.status, answer.reason
            );
        }
    }
    // Without a journal the input made one request at most: report as a single upload.
    let single = files.journal.is_none();
    for rejection in &summary.first_rejects {
        for reason in &rejection.reasons {
            let label = if single { "error" } else { "rejected" };
            let _ = writeln!(stderr, "{label}: {reason}");
        }
    }
    if counts.rejected > summary.first_rejects.len() as u64
        && let Some(path) = &files.rejects
    {
        let _ = writeln!(
            stderr,
            "rejected: {} in all; each, with why, is in {}",
            count(counts.rejected, "event"),
            path.display()
        );
    }
    if !args.quiet && !single {
        let _ = writeln!(stderr, "{}", summary_line(summary));
    }
    let resume = match &files.journal {
        Some(journal) => format!(
            "run the same command again to send them (the journal {} records what was sent)",
            journal.display()
        ),
        None => "run the same command again".to_owned(),
    };
    Ok(match &summary.stopped {
        Some(StopReason::Interrupted) => {
            let _ = writeln!(
                stderr,
                "interrupted: {} pending; {resume}",
                count(summary.pending, "event")
            );
            128 + process::stop_signal().map_or(2, |s| s as u8)
        }
        Some(StopReason::TooManyRejects { .. }) if single => 1,
        Some(reason) if single => {
            drop(stderr);
            return Err(match reason.upload_error() {
                Some(error) => error.clone().into(),
                None => anyhow::anyhow!("{reason}"),
            });
        }
        Some(reason) => {
            let advice = match reason {
                StopReason::Unauthorized(_) => {
                    "check CE_API_KEY (the panel's API key) and the asset id; ".to_owned()
                }
                StopReason::TooManyRejects { .. } => {
                    "fix or remove the rejected events, or raise --max-rejects; ".to_owned()
                }
                _ => String::new(),
            };
            let _ = writeln!(
                stderr,
                "error: stopped: {reason}; {} pending: {advice}{resume}",
                count(summary.pending, "event")
            );
            1
        }
        None if counts.rejected > 0 || summary.pending > 0 => 1,
        None => 0,
    })
}

/// `-v`: one line per request.
fn log_request(log: &RequestLog<'_>) {
    let what = format!(
        "{} events for {}, {} bytes",
        log.events, log.asset, log.body_bytes
    );
    match log.result {
        Ok(answer) => eprintln!(
            "< {} {} in {:.3} s ({what})",
            answer.status,
            answer.reason,
            log.elapsed.as_secs_f64()
        ),
        Err(error) => eprintln!("< {error} ({what})"),
    }
}

/// `sent 1999 of 2000 events (1 rejected, 0 pending) in 3 requests ...`.
fn summary_line(summary: &BulkSummary) -> String {
    let counts = summary.counts;
    let seconds = summary.elapsed.as_secs_f64();
    let sent_now = counts.sent - summary.sent_before;
    let earlier = match summary.sent_before {
        0 => String::new(),
        n => format!(", {n} of them by earlier runs"),
    };
    format!(
        "sent {} of {}{earlier} ({} rejected, {} pending) in {} ({} retried); {}; {:.1} s, \
         {:.0} events/s",
        counts.sent,
        count(counts.read, "event"),
        counts.rejected,
        summary.pending,
        count(counts.requests, "request"),
        counts.retried,
        count(counts.possible_duplicates, "possible duplicate"),
        seconds,
        sent_now as f64 / seconds.max(1e-3)
    )
}

/// `1 request`, `2 requests`.
fn count(n: u64, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

fn write_report(path: &Path, summary: &BulkSummary, files: &BulkFiles) -> Result<()> {
    let counts = summary.counts;
    let seconds = summary.elapsed.as_secs_f64();
    let outcome = match (&summary.stopped, summary.already_sent) {
        (_, true) => "already_sent",
        (Some(StopReason::Interrupted), _) => "interrupted",
        (Some(_), _) => "stopped",
        (None, _) if summary.pending == 0 && counts.rejected == 0 => "finished",
        (None, _) => "finished_with_rejects",
    };
    let report = serde_json::json!({
        "read": counts.read,
        "sent": counts.sent,
        "rejected": counts.rejected,
        "pending": summary.pending,
        "sent_by_earlier_runs": summary.sent_before,
        "requests": counts.requests,
        "retried_requests": counts.retried,
        "possible_duplicates": counts.possible_duplicates,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "events_per_second": ((counts.sent - summary.sent_before) as f64 / seconds.max(1e-3)).round(),
        "outcome": outcome,
        "stop_reason": summary.stopped.as_ref().map(ToString::to_string),
        "journal": files.journal.as_ref().map(|p| p.display().to_string()),
        "rejects": files.rejects.as_ref().map(|p| p.display().to_string()),
    });
    let mut out = Output::open(Some(path), Existing::Replace)
        .with_context(|| format!("could not write the report {}", path.display()))?;
    let mut text = serde_json::to_vec_pretty(&report).expect("JSON serializes");
    text.push(b'\n');
    out.write_all(&text)?;
    out.commit()
}

/// A bar on a terminal; otherwise a line every 10 s at most.
fn show_progress(counts: &LiveCounts, running: &AtomicBool) {
    let terminal = io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{wide_bar} {pos}/{len} events  {per_sec}  ETA {eta}  {msg}",
            )
            .expect("the template is valid"),
        );
        bar
    });
    let started = Instant::now();
    let mut last_line = Instant::now();
    let mut shown = Counts::default();
    while running.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        let now = counts.snapshot();
        match &bar {
            Some(bar) => {
                if let Some(total) = now.total {
                    bar.set_length(total);
                }
                bar.set_position(now.sent);
                bar.set_message(format!(
                    "{} retries, {} rejected",
                    now.retried, now.rejected
                ));
            }
            None if last_line.elapsed() >= PROGRESS_LINE_EVERY && now != shown => {
                let rate = now.sent as f64 / started.elapsed().as_secs_f64();
                let of = now.total.map_or_else(String::new, |t| format!(" of {t}"));
                eprintln!(
                    "progress: {} events sent{of}, {} rejected, {} retries, {rate:.0} events/s",
                    now.sent, now.rejected, now.retried
                );
                last_line = Instant::now();
                shown = now;
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(count(1, "request"), "1 request");
        assert_eq!(count(0, "event"), "0 events");
        assert_eq!(count(2, "possible duplicate"), "2 possible duplicates");
    }
}
