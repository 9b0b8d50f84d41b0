//! `ce-crypt completions` and `ce-crypt man`: generated from the clap definitions,
//! so they never drift from `--help`.

use std::io::{self, Write};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::args::Cli;

/// Prints a completion script for `shell`.
pub fn completions(shell: Shell) -> Result<()> {
    // Generated into memory: clap_complete panics on a write error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ce-crypt", &mut script);
    if shell == Shell::Bash {
        script = fix_bash(&String::from_utf8_lossy(&script)).into_bytes();
    }
    write_stdout(&script)
}

/// clap_complete's bash script escapes the hyphen of `ce-crypt` twice: it
/// computes `ce__crypt__subcmd__encrypt` but labels the cases
/// `ce__subcmd__crypt__subcmd__encrypt`, so no option of a subcommand would
/// complete. Give the labels the names the script computes.
fn fix_bash(script: &str) -> String {
    script.replace("ce__subcmd__crypt__", "ce__crypt__")
}

/// Prints one roff man page covering the tool and every subcommand.
///
/// One page, so it names no other pages: clap_mangen's list of subcommands
/// would cite `ce-crypt-keygen(1)` and the like, which do not exist.
pub fn man() -> Result<()> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    let mut top = Vec::new();
    man.render_title(&mut top)?;
    man.render_name_section(&mut top)?;
    man.render_synopsis_section(&mut top)?;
    man.render_description_section(&mut top)?;
    man.render_options_section(&mut top)?;
    let mut page = String::from_utf8_lossy(&top).into_owned();
    // `.TH` first, as man-page tools expect; clap_mangen puts string definitions above it.
    if let Some(start) = page.find(".TH ") {
        let end = page[start..]
            .find('\n')
            .map_or(page.len(), |n| start + n + 1);
        let title = page[start..end].to_owned();
        page.replace_range(start..end, "");
        page.insert_str(0, &title);
    }
    let subcommands: Vec<_> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .collect();
    page.push_str(".SH SUBCOMMANDS\n");
    for sub in &subcommands {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        page.push_str(&format!(
            ".TP\n\\fBce\\-crypt {}\\fR\n{}; see \\fBCE\\-CRYPT {}\\fR below.\n",
            sub.get_name(),
            roff_text(&about),
            sub.get_name().to_uppercase(),
        ));
    }
    page.push_str(&extra_section(&man, ".SH")?);
    let mut version = Vec::new();
    man.render_version_section(&mut version)?;
    page.push_str(&String::from_utf8_lossy(&version));
    for sub in subcommands {
        let name = format!("ce-crypt {}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone().bin_name(&name));
        let mut section = Vec::new();
        man.render_description_section(&mut section)?;
        man.render_synopsis_section(&mut section)?;
        man.render_options_section(&mut section)?;
        let section = String::from_utf8_lossy(&section).replace(".SH ", ".SS ");
        page.push_str(&format!(".SH \"{}\"\n{section}", name.to_uppercase()));
        page.push_str(&extra_section(&man, ".SS")?);
    }
    // Every section clap_mangen renders defines the `Aq` string again: once is enough.
    let once = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let page = page
        .replace(once, "")
        .replacen('\n', &format!("\n{once}"), 1);
    write_stdout(page.as_bytes())
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    super::process::check_stdout_open()?;
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("could not write to standard output")
}

/// The examples and environment (clap's `after_help`), kept line for line:
/// `.nf` stops man from filling the lines into paragraphs.
fn extra_section(man: &clap_mangen::Man, heading: &str) -> Result<String> {
    let mut extra = Vec::new();
    man.render_extra_section(&mut extra)?;
    let extra = String::from_utf8_lossy(&extra);
    let Some((_, body)) = extra.split_once(".SH EXTRA\n") else {
        return Ok(String::new());
    };
    Ok(format!(
        "{heading} \"EXAMPLES AND ENVIRONMENT\"\n.nf\n{}\n.fi\n",
        body.trim_end()
    ))
}

/// Text escaped for roff: backslashes and hyphens.
fn roff_text(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}
