//! `ce-crypt check`: judge a payload (or one per line) by the event rules,
//! report every problem with its place, and send nothing.

use std::io::{self, Write};
use std::time::SystemTime;

use anyhow::{Result, bail};
use ce_crypt::Check;
use ce_crypt::events::{self, EventCheckError, EventRules, RULES, Severity, Warnings};
use ce_crypt::lines::LineChunks;

use super::args::CheckArgs;
use super::error;
use super::input::Input;

/// Checks; exits 0 only when no rule reports an error.
pub fn run(args: CheckArgs) -> Result<()> {
    if args.rules {
        return print_rules();
    }
    if let Some(text) = &args.text {
        error::refuse_file_name(text, "check")?;
    }
    let input = Input::choose(args.text, args.input.input, "payload")?;
    let rules = EventRules::new(SystemTime::now())
        .strict(args.strict)
        .asset(args.asset);
    if !args.lines {
        // A failure is reported like any error: one line per problem.
        let payload = input.read_all()?;
        let summary =
            events::check(&payload, &rules).map_err(|e| error::explain_json(e.into(), &payload))?;
        error::warn(&summary.warnings);
        return ok(&counted(summary.count as u64, "event"), &summary.warnings);
    }

    let (reader, _) = input.open()?;
    let (mut payloads, mut failed, mut count) = (0u64, 0u64, 0usize);
    let mut warnings = Warnings::default();
    // Lines of payloads (Check::Json), judged here: a line longer than one
    // request, or a first line that opens a pretty-printed document, ends
    // the reading.
    for chunk in LineChunks::new(reader, Check::Json) {
        for (number, content) in chunk?.lines() {
            if content.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            payloads += 1;
            match events::check(content, &rules) {
                Ok(summary) => {
                    count += summary.count;
                    warnings.merge(summary.warnings, Some(number));
                }
                Err(EventCheckError::Events(errors)) => {
                    failed += 1;
                    error::problems(Some(number), &errors.problems);
                    warnings.merge(errors.warnings, Some(number));
                }
                Err(EventCheckError::Json(json)) => {
                    failed += 1;
                    eprintln!("error: line {number}: {json}");
                }
            }
        }
    }
    error::warn(&warnings);
    if failed > 0 {
        bail!("{failed} of {payloads} payloads break the rules");
    }
    let what = format!(
        "{}, {}",
        counted(payloads, "payload"),
        counted(count as u64, "event")
    );
    ok(&what, &warnings)
}

/// `1 event`, `2 events`.
fn counted(n: u64, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// The verdict on standard output.
fn ok(what: &str, warnings: &Warnings) -> Result<()> {
    let warned: usize = warnings.iter().map(|tally| tally.count).sum();
    let mut stdout = io::stdout().lock();
    match warned {
        0 => writeln!(stdout, "ok: {what}, no problems")?,
        n => writeln!(
            stdout,
            "ok: {what}, no errors, {}",
            counted(n as u64, "warning")
        )?,
    }
    Ok(())
}

/// `--rules`: the table the checks run on.
fn print_rules() -> Result<()> {
    let mut stdout = io::stdout().lock();
    for info in RULES {
        let severity = match info.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(
            stdout,
            "{} ({severity}): {}\n    documented: {}",
            info.subject, info.requires, info.documented
        )?;
    }
    Ok(())
}
