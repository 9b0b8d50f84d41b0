//! `send` proper: the events in batches through the library's bulk upload,
//! with a progress bar or progress lines, a summary, a report and an exit
//! status that says whether every event arrived; and `send --status`.

use std::io::{self, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use ce_crypt::upload::bulk::{
    self, Bookkeeping, BulkInput, BulkJob, BulkOptions, BulkSummary, Counts, Destination,
    InputFormat, LiveCounts, RequestLog, StopReason,
};
use ce_crypt::upload::{ApiKey, Client, Endpoint, UploadError};
use ce_crypt::{Cipher, EventRules};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::super::args::SendArgs;
use super::super::error::{self, ExitStatus};
use super::super::input::Input;
use super::super::keysource;
use super::super::output::{Existing, Output, refuse_overlaps};
use super::super::process;
use super::super::terminal::escape_controls;

/// Without a terminal, a progress line at most this often.
const PROGRESS_LINE_EVERY: Duration = Duration::from_secs(10);
/// No progress is shown before a run has taken this long.
const QUIET_START: Duration = Duration::from_secs(1);

/// Sends the input's events and reports how it went.
pub fn send(
    args: &SendArgs,
    client: &Client,
    endpoint: &Endpoint,
    api_key: &ApiKey,
    cipher: &Cipher,
    chosen: Option<(String, String)>,
) -> Result<()> {
    let input = choose_input(args)?;
    let asset = chosen.map(|(asset, _)| asset);
    let bookkeeping = bookkeeping(args);
    let destination = Destination {
        endpoint: endpoint.to_string(),
        asset: asset.clone(),
    };
    check_outputs(args, &input, &destination, &bookkeeping)?;
    let input = bulk_input(input)?;
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
        if !args.quiet {
            scope.spawn(|| show_progress(&counts, &running));
        }
        let summary = job.run(input, format(args), &bookkeeping);
        running.store(false, Ordering::SeqCst);
        summary
    });
    let summary = summary?;

    if !args.quiet {
        for note in &summary.notes {
            eprintln!("note: {note}");
        }
    }
    if let Some(path) = &args.report {
        write_report(path, &summary)?;
    }
    if !args.quiet {
        error::warn(&summary.warnings);
    }
    match finish(args, &summary)? {
        0 => Ok(()),
        code => Err(ExitStatus(code).into()),
    }
}

/// `send --status`: what the delivery's journal records; sends nothing.
pub fn status(
    args: &SendArgs,
    endpoint: &Endpoint,
    chosen: Option<(String, String)>,
) -> Result<()> {
    let input = choose_input(args)?;
    let destination = Destination {
        endpoint: endpoint.to_string(),
        asset: chosen.map(|(asset, _)| asset),
    };
    let file = match &input {
        Input::File(path) => Some(path.as_path()),
        _ => None,
    };
    let status = bulk::status(file, format(args), &destination, &bookkeeping(args))?;
    let mut out = io::stdout().lock();
    writeln!(out, "journal: {}", status.journal.display())?;
    writeln!(out, "destination: {}", status.destination)?;
    if !status.exists {
        writeln!(
            out,
            "state: nothing recorded: no run has sent this delivery"
        )?;
        return Ok(out.flush()?);
    }
    let state = match (status.finished, status.input_unchanged) {
        (Some(_), Some(false)) => {
            "finished; the input has changed since, so it would be sent again"
        }
        (Some(_), _) => "finished: a run sends nothing again (--restart to send it all again)",
        (None, Some(false)) => "unfinished, and the input has changed since",
        (None, _) => "unfinished: the same command resumes",
    };
    writeln!(out, "state: {state}")?;
    writeln!(out, "acknowledged: {}", count(status.sent, "event"))?;
    writeln!(out, "rejected: {}", count(status.rejected, "event"))?;
    writeln!(
        out,
        "possibly delivered, unacknowledged: {} (a rerun sends them again)",
        count(status.in_doubt, "event")
    )?;
    if let Some(events) = status.finished {
        writeln!(out, "events in the input: {events}")?;
    }
    if let Some(rejects) = &status.rejects {
        writeln!(out, "rejects: {}", rejects.display())?;
    }
    if let Some(modified) = status.modified {
        let at = jiff::Timestamp::try_from(modified).map_or_else(|_| "?".into(), |t| t.to_string());
        writeln!(out, "last written: {at}")?;
    }
    Ok(out.flush()?)
}

fn choose_input(args: &SendArgs) -> Result<Input> {
    Input::choose(
        args.payload.text.clone(),
        args.payload.input.input.clone(),
        "payload",
    )
}

fn format(args: &SendArgs) -> InputFormat {
    if args.lines {
        InputFormat::Lines
    } else {
        InputFormat::Array
    }
}

fn bookkeeping(args: &SendArgs) -> Bookkeeping {
    Bookkeeping {
        journal: args.journal.clone(),
        rejects: args.rejects.clone(),
        restart: args.restart,
        ..Bookkeeping::in_state_folder()
    }
}

/// No output of the run (the journal, the rejects, the report) may be one
/// of its inputs (the events, the key file or profile, the API key file) or
/// another of its outputs.
fn check_outputs(
    args: &SendArgs,
    input: &Input,
    destination: &Destination,
    bookkeeping: &Bookkeeping,
) -> Result<()> {
    let file = match input {
        Input::File(path) => Some(path.as_path()),
        _ => None,
    };
    let (journal, rejects) = bulk::paths(file, destination, bookkeeping);
    let key_file = keysource::key_file_path(&args.payload.keys)?;
    let mut read: Vec<(&str, Option<&Path>)> = vec![
        ("key file", key_file.as_deref()),
        ("API key file", args.api_key_file.as_deref()),
    ];
    match input {
        Input::File(path) => read.push(("input file", Some(path))),
        Input::Stdin => read.push(("standard input", None)),
        Input::Argument(_) => {}
    }
    let written = [
        ("journal", journal.as_deref()),
        ("rejects file", rejects.as_deref()),
        ("report", args.report.as_deref()),
    ];
    refuse_overlaps(&read, &written)
}

/// The library's input.
fn bulk_input(input: Input) -> Result<BulkInput> {
    Ok(match input {
        Input::File(path) => {
            // Input::open refuses folders; it knows a size only for a regular file.
            let (reader, size) = Input::File(path.clone()).open()?;
            match size {
                Some(_) => BulkInput::File(path),
                // A FIFO or a device: read once, like standard input.
                None => BulkInput::Stream(Box::new(BufReader::new(reader))),
            }
        }
        Input::Argument(bytes) => BulkInput::Stream(Box::new(io::Cursor::new(bytes))),
        Input::Stdin => {
            BulkInput::Stream(Box::new(BufReader::with_capacity(256 << 10, io::stdin())))
        }
    })
}

/// The final lines on stderr (and the API's answer on stdout, for a single
/// request); returns the exit status, or the error to report.
fn finish(args: &SendArgs, summary: &BulkSummary) -> Result<u8> {
    let counts = summary.counts;
    let mut stderr = io::stderr().lock();
    let journal = summary
        .journal
        .as_deref()
        .map_or_else(String::new, |j| format!(" {}", j.display()));
    if summary.already_sent {
        if !args.quiet {
            let _ = writeln!(
                stderr,
                "already sent: the journal{journal} records all {} events as acknowledged ({}) \
                 or rejected ({}); nothing was sent (--restart sends them again)",
                counts.read, counts.sent, counts.rejected
            );
        }
        // 0 only when every event was acknowledged.
        return Ok(u8::from(counts.rejected > 0));
    }
    if counts.read == 0 && summary.stopped.is_none() {
        if !args.quiet {
            let _ = writeln!(stderr, "nothing to send: the input holds no events");
        }
        return Ok(0);
    }
    if summary.single_request
        && let Some(answer) = &summary.last_answer
    {
        let mut stdout = io::stdout().lock();
        // A server's answer shown on a terminal cannot steer it.
        let body = if stdout.is_terminal() {
            escape_controls(&answer.body)
        } else {
            answer.body.as_str().into()
        };
        stdout.write_all(body.as_bytes())?;
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
    // An input that made one request at most, and cannot be resumed
    // (an argument, a small pipe), is told as a single upload.
    let single = !summary.resumable && summary.batches <= 1;
    let label = if single { "error" } else { "rejected" };
    for rejection in &summary.first_rejects {
        for reason in &rejection.reasons {
            let _ = writeln!(stderr, "{label}: {reason}");
        }
    }
    if counts.rejected > summary.first_rejects.len() as u64
        && let Some(path) = &summary.rejects
    {
        let _ = writeln!(
            stderr,
            "{label}: {} in all; each, with why, is in {}",
            count(counts.rejected, "event"),
            path.display()
        );
    }
    if single {
        return match &summary.stopped {
            Some(StopReason::Interrupted) => Ok(interrupted(&mut stderr, summary, "")),
            Some(StopReason::TooManyRejects { .. }) => Ok(1),
            Some(reason) => {
                drop(stderr);
                Err(match reason.upload_error() {
                    Some(error) => error.clone().into(),
                    None => anyhow::anyhow!("{reason}"),
                })
            }
            None => Ok(u8::from(counts.rejected > 0 || summary.pending > 0)),
        };
    }
    if !args.quiet {
        let _ = writeln!(stderr, "{}", summary_line(summary));
    }
    if summary.unrecorded > 0 {
        let _ = writeln!(
            stderr,
            "warning: the API acknowledged {} that the journal{journal} could not record: a \
             rerun sends them again",
            count(summary.unrecorded, "event")
        );
    }
    let resume = resume_advice(summary, &journal);
    let in_doubt = match summary.in_doubt {
        0 => String::new(),
        n => format!(
            ", {} of them may have reached the API unacknowledged",
            count(n, "event")
        ),
    };
    Ok(match &summary.stopped {
        Some(StopReason::Interrupted) => interrupted(&mut stderr, summary, &in_doubt),
        Some(reason) => {
            let advice = match reason {
                StopReason::Unauthorized(_) => {
                    "check CE_API_KEY (the panel's API key) and the asset id; ".to_owned()
                }
                StopReason::TooManyRejects { .. } => {
                    "fix or remove the rejected events, or raise --max-rejects; ".to_owned()
                }
                StopReason::RequestRefused { .. } => {
                    "check the key, IV and method shared with Netcore, and the asset id; "
                        .to_owned()
                }
                _ => match reason.upload_error() {
                    Some(UploadError::Certificate { .. }) => {
                        "if a company proxy or a private CA signs the certificate, pass --cacert \
                         FILE (or set CE_CA_FILE); "
                            .to_owned()
                    }
                    _ => String::new(),
                },
            };
            let _ = writeln!(
                stderr,
                "error: stopped: {reason}; {} pending{in_doubt}: {advice}{resume}",
                count(summary.pending, "event")
            );
            1
        }
        None if counts.rejected > 0 || summary.pending > 0 => 1,
        None => 0,
    })
}

/// How to send what is pending.
fn resume_advice(summary: &BulkSummary, journal: &str) -> String {
    if summary.resumable {
        format!(
            "run the same command again to send them (the journal{journal} records what was sent)"
        )
    } else {
        "standard input cannot be read again: send those events again from their source (or \
         pass --journal FILE to make a stream resumable)"
            .to_owned()
    }
}

/// The line after a signal; the exit status a shell gives for it.
fn interrupted(stderr: &mut io::StderrLock<'_>, summary: &BulkSummary, in_doubt: &str) -> u8 {
    let journal = summary
        .journal
        .as_deref()
        .map_or_else(String::new, |j| format!(" {}", j.display()));
    let _ = writeln!(
        stderr,
        "interrupted: {} pending{in_doubt}; {}",
        count(summary.pending, "event"),
        resume_advice(summary, &journal)
    );
    128 + process::stop_signal().map_or(2, |s| s as u8)
}

/// `-v`: one line per request.
fn log_request(log: &RequestLog<'_>) {
    let what = format!(
        "{} events, x-asset: {}, {} bytes",
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

fn write_report(path: &Path, summary: &BulkSummary) -> Result<()> {
    let counts = summary.counts;
    let seconds = summary.elapsed.as_secs_f64();
    let outcome = match (&summary.stopped, summary.already_sent) {
        (_, true) => "already_sent",
        (Some(StopReason::Interrupted), _) => "interrupted",
        (Some(_), _) => "stopped",
        (None, _) if summary.pending == 0 && counts.rejected == 0 => "finished",
        (None, _) => "finished_with_rejects",
    };
    let path_text = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let report = serde_json::json!({
        "read": counts.read,
        "sent": counts.sent,
        "rejected": counts.rejected,
        "pending": summary.pending,
        "sent_by_earlier_runs": summary.sent_before,
        "requests": counts.requests,
        "retried_requests": counts.retried,
        "possible_duplicates": counts.possible_duplicates,
        "possibly_delivered_unacknowledged": summary.in_doubt,
        "acknowledged_unrecorded": summary.unrecorded,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "events_per_second": ((counts.sent - summary.sent_before) as f64 / seconds.max(1e-3)).round(),
        "outcome": outcome,
        "stop_reason": summary.stopped.as_ref().map(ToString::to_string),
        "journal": path_text(&summary.journal),
        "rejects": path_text(&summary.rejects),
        "notes": summary.notes.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    let mut out = Output::open(Some(path), Existing::Replace)
        .with_context(|| format!("could not write the report {}", path.display()))?;
    let mut text = serde_json::to_vec_pretty(&report).expect("JSON serializes");
    text.push(b'\n');
    out.write_all(&text)?;
    out.commit()
}

/// A bar on a terminal; otherwise a line every 10 s at most. Nothing for a
/// run that ends within its first second (one request, say).
fn show_progress(counts: &LiveCounts, running: &AtomicBool) {
    let terminal = io::stderr().is_terminal();
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let mut last_line = Instant::now();
    let mut shown = Counts::default();
    while running.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() < QUIET_START {
            continue;
        }
        let now = counts.snapshot();
        if terminal {
            let bar = bar.get_or_insert_with(|| {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{wide_bar} {pos}/{len} events  {per_sec}  ETA {eta}  {msg}",
                    )
                    .expect("the template is valid"),
                );
                bar
            });
            if let Some(total) = now.total {
                bar.set_length(total);
            }
            bar.set_position(now.sent);
            bar.set_message(format!(
                "{} retries, {} rejected",
                now.retried, now.rejected
            ));
        } else if last_line.elapsed() >= PROGRESS_LINE_EVERY && now != shown {
            let rate = now.sent as f64 / started.elapsed().as_secs_f64();
            let of = now.total.map_or_else(String::new, |t| format!(" of {t}"));
            eprintln!(
                "progress: {} events sent{of}, {} rejected, {} retries, {rate:.0} events/s",
                now.sent, now.rejected, now.retried
            );
            last_line = Instant::now();
            shown = now;
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
