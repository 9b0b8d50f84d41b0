//! `ce-crypt man`: a roff page covering every subcommand.
#![cfg(feature = "cli")]

mod common;
use common::*;

#[test]
fn the_man_page_is_roff_covering_every_subcommand() {
    let out = ce().arg("man").stdout_ok();
    let page = String::from_utf8(out).unwrap();
    assert!(page.starts_with(".TH ce-crypt 1"), "{}", &page[..80]);
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!(".SH \"CE-CRYPT {}\"", sub.to_uppercase())),
            "{sub}"
        );
    }
    assert!(page.contains("CE_API_KEY"));
}

#[test]
fn the_man_page_documents_every_option_of_every_subcommand() {
    let out = ce().arg("man").stdout_ok();
    let page = String::from_utf8(out).unwrap();
    for sub in SUBCOMMANDS {
        let out = ce().args([sub, "--help"]).stdout_ok();
        let help = String::from_utf8(out).unwrap();
        let section = page
            .split(&format!(".SH \"CE-CRYPT {}\"", sub.to_uppercase()))
            .nth(1)
            .unwrap_or_else(|| panic!("{sub} has no section"))
            .split(".SH \"CE-CRYPT ")
            .next()
            .unwrap();
        // Each option line of --help opens with its flags: `-o, --output <FILE>`.
        let longs = help
            .lines()
            .map(str::trim_start)
            .filter(|line| line.starts_with('-'))
            .filter_map(|line| {
                let flags = line.split("  ").next()?;
                let long = flags.split_whitespace().find(|w| w.starts_with("--"))?;
                let name = long[2..].trim_end_matches(',');
                // Prose that opens a line with an option, `--profile)`, is no option line.
                let plain = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                plain.then(|| name.to_owned())
            });
        // --version is the tool's, listed once at the top of the page.
        for long in longs.filter(|long| long != "version") {
            let roff = format!("\\fB\\-\\-{}\\fR", long.replace('-', "\\-"));
            assert!(
                section.contains(&roff),
                "{sub} --{long} is not in its section"
            );
        }
    }
}

#[test]
fn the_man_page_cites_no_page_that_does_not_exist() {
    let page = String::from_utf8(ce().arg("man").stdout_ok()).unwrap();
    // One page covers everything: it may name itself and nothing else.
    let cited: Vec<&str> = page
        .match_indices("(1)")
        .map(|(at, _)| {
            let start = page[..at]
                .rfind(|c: char| c.is_whitespace() || c == 'R')
                .map_or(0, |n| n + 1);
            &page[start..at]
        })
        .filter(|name| *name != "ce\\-crypt")
        .collect();
    assert!(cited.is_empty(), "{cited:?}");
    assert!(!page.contains("ce\\-crypt\\-help"));
}

#[test]
fn the_man_page_keeps_every_example_line_for_line() {
    let page = String::from_utf8(ce().arg("man").stdout_ok()).unwrap();
    // The lines man prints as they are: those between `.nf` and `.fi`.
    let mut unfilled = Vec::new();
    let mut inside = false;
    for line in page.lines() {
        match line {
            ".nf" => inside = true,
            ".fi" => inside = false,
            _ if inside => unfilled.push(
                line.replace("\\-", "-")
                    .replace("\\*(Aq", "'")
                    .replace("\\e", "\\"),
            ),
            _ => {}
        }
    }
    for sub in std::iter::once("").chain(SUBCOMMANDS.iter().copied()) {
        let mut cmd = ce();
        if !sub.is_empty() {
            cmd.arg(sub);
        }
        let help = String::from_utf8(cmd.arg("--help").stdout_ok()).unwrap();
        let after = help.split_once("EXAMPLES:\n").expect(sub).1;
        for line in after.lines().filter(|l| l.starts_with("  ")) {
            assert!(
                unfilled.iter().any(|u| u == line),
                "{sub}: {line:?} is not kept as a line"
            );
        }
    }
}
