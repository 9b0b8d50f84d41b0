//! What a finished CLI offers: version, completions, man page, help.

mod common;
use common::*;
use predicates::prelude::*;

const SUBCOMMANDS: &[&str] = &[
    "keygen",
    "encrypt",
    "decrypt",
    "send",
    "methods",
    "completions",
    "man",
];

#[test]
fn version_is_name_and_semver() {
    let out = ce().arg("--version").stdout_ok();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text, format!("ce-crypt {}\n", env!("CARGO_PKG_VERSION")));
    let parts: Vec<&str> = env!("CARGO_PKG_VERSION").split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()));
}

#[test]
fn every_help_has_examples_and_the_environment() {
    for sub in SUBCOMMANDS {
        let out = ce().args([sub, "--help"]).stdout_ok();
        let help = String::from_utf8(out).unwrap();
        assert!(help.contains("EXAMPLES:\n  ce-crypt "), "{sub}: {help}");
        for var in ["CE_SECRET_KEY", "CE_SECRET_IV", "CE_API_KEY"] {
            assert!(help.contains(var), "{sub} --help lacks {var}");
        }
    }
}

#[test]
fn help_examples_are_real_invocations() {
    // Every example line parses: clap accepts its flags (run with --help appended,
    // so nothing executes).
    for sub in SUBCOMMANDS {
        let out = ce().args([sub, "--help"]).output().unwrap().stdout;
        let help = String::from_utf8(out).unwrap();
        let examples = help
            .split("EXAMPLES:")
            .nth(1)
            .unwrap()
            .split("\n\n")
            .next()
            .unwrap();
        for line in examples
            .lines()
            .filter(|l| l.trim_start().starts_with("ce-crypt "))
        {
            let command = line
                .split(" #")
                .next()
                .unwrap()
                .split(" >")
                .next()
                .unwrap()
                .split(" |")
                .next()
                .unwrap()
                .split(" &&")
                .next()
                .unwrap();
            let words: Vec<String> = shell_words(command.trim());
            if words.iter().any(|w| w == "...") {
                continue;
            }
            let mut args: Vec<String> = words[1..].to_vec();
            args.push("--help".into());
            ce().args(&args).assert().success();
        }
    }
}

fn shell_words(line: &str) -> Vec<String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("for w in {line}; do printf '%s\\n' \"$w\"; done"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        ce().args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("ce-crypt").and(predicate::str::contains("encrypt")));
    }
    ce().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn the_bash_completion_script_loads_in_bash() {
    let out = ce().args(["completions", "bash"]).output().unwrap().stdout;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("ce-crypt.bash");
    std::fs::write(&script, out).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p ce-crypt && COMP_WORDS=(ce-crypt enc) COMP_CWORD=1 && \
             _ce__crypt ce-crypt enc ce-crypt && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(stdout.contains("-F _ce__crypt ce-crypt"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l == "encrypt"),
        "completing `enc` gave: {stdout}"
    );
}

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
    assert!(page.contains("\\-\\-key\\-file"));
    assert!(page.contains("CE_API_KEY"));
}
