//! `ce-crypt check`: judge a payload (or one per line) by the event rules,
//! report every problem with its place, and send nothing.

use std::io::{self, BufRead, BufReader, Write};
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use ce_crypt::events::{self, EventCheckError, EventRules, RULES, Severity, Warnings};

use super::args::CheckArgs;
use super::error;
use super::input::Input;

/// Checks; exits 0 only when no rule reports an error.
pub fn run(args: CheckArgs) -> Result<()> {
    if args.rules {
        return print_rules();
    }
    let input = Input::choose(args.text, args.input.input, "payload")?;
    let rules = EventRules::new(SystemTime::now())
        .strict(args.strict)
        .asset(args.asset);
    if !args.lines {
        // A failure is reported like any error: one line per problem.
        let summary = events::check(&input.read_all()?, &rules)?;
        error::warn(&summary.warnings);
        return ok(&counted(summary.count as u64, "event"), &summary.warnings);
    }

    let (reader, _) = input.open()?;
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let (mut number, mut payloads, mut failed, mut count) = (0u64, 0u64, 0u64, 0usize);
    let mut warnings = Warnings::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .context("could not read the input")?
            == 0
        {
            break;
        }
        number += 1;
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
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
            Err(other) => return Err(other.into()),
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
