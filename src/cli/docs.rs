//! `ce-crypt completions` and `ce-crypt man`: generated from the clap definitions,
//! so they never drift from `--help`.

use std::io::{self, Write};

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use super::args::Cli;

/// Prints a completion script for `shell`.
pub fn completions(shell: Shell) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ce-crypt", &mut script);
    if shell == Shell::Bash {
        script = fix_bash(&String::from_utf8_lossy(&script)).into_bytes();
    }
    let mut out = io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// clap_complete's bash script escapes the hyphen of `ce-crypt` twice: it
/// computes `ce__crypt__subcmd__encrypt` but labels the cases
/// `ce__subcmd__crypt__subcmd__encrypt`, so no option of a subcommand would
/// complete. Give the labels the names the script computes.
fn fix_bash(script: &str) -> String {
    script.replace("ce__subcmd__crypt__", "ce__crypt__")
}

/// Prints one roff man page covering the tool and every subcommand.
pub fn man() -> Result<()> {
    let command = Cli::command();
    let mut top = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut top)?;
    let mut page =
        String::from_utf8_lossy(&top).replace(".SH EXTRA", ".SH \"EXAMPLES AND ENVIRONMENT\"");
    // `.TH` first, as man-page tools expect; clap_mangen puts string definitions above it.
    if let Some(start) = page.find(".TH ") {
        let end = page[start..]
            .find('\n')
            .map_or(page.len(), |n| start + n + 1);
        let title = page[start..end].to_owned();
        page.replace_range(start..end, "");
        page.insert_str(0, &title);
    }
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("ce-crypt {}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone().bin_name(&name));
        let mut section = Vec::new();
        man.render_description_section(&mut section)?;
        man.render_synopsis_section(&mut section)?;
        man.render_options_section(&mut section)?;
        man.render_extra_section(&mut section)?;
        let section = String::from_utf8_lossy(&section)
            .replace(".SH EXTRA", ".SS \"EXAMPLES AND ENVIRONMENT\"")
            .replace(".SH ", ".SS ");
        page.push_str(&format!(".SH \"{}\"\n{section}", name.to_uppercase()));
    }
    let mut out = io::stdout().lock();
    out.write_all(page.as_bytes())?;
    out.flush()?;
    Ok(())
}
