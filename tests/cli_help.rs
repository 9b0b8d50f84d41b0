//! What spans the subcommands: `--version`, every `--help` with its examples and environment,
//! and usage errors (exit 2).
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;

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
fn each_help_opens_with_the_description_the_command_list_gives() {
    // `ce-crypt --help` lists each subcommand with its description (a long
    // one wraps onto an indented line); its own --help opens with the same.
    let out = ce().arg("--help").stdout_ok();
    let help = String::from_utf8(out).unwrap();
    let listed = format!("\n{}", help.split("Commands:\n").nth(1).unwrap());
    for sub in SUBCOMMANDS {
        let start = listed
            .find(&format!("\n  {sub} "))
            .unwrap_or_else(|| panic!("{sub} is not listed"));
        let mut lines = listed[start + 1..].lines();
        let mut description = lines.next().unwrap()[2 + sub.len()..].trim().to_owned();
        for more in lines.take_while(|line| line.starts_with("     ")) {
            description.push(' ');
            description.push_str(more.trim());
        }
        let out = ce().args([sub, "--help"]).stdout_ok();
        let own = String::from_utf8(out).unwrap();
        let first = own.split("\n\n").next().unwrap().replace('\n', " ");
        assert_eq!(first, description, "{sub}");
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
fn every_subcommand_help_has_examples_and_environment() {
    for sub in ["encrypt", "decrypt"] {
        ce().args([sub, "--help"]).assert().success().stdout(
            predicate::str::contains("EXAMPLES:")
                .and(predicate::str::contains("CE_SECRET_KEY"))
                .and(predicate::str::contains("CE_SECRET_IV")),
        );
    }
    ce().args(["keygen", "--help"]).assert().success().stdout(
        predicate::str::contains("EXAMPLES:").and(predicate::str::contains("CE_SECRET_KEY")),
    );
}

#[test]
fn examples_and_notes_fit_80_columns_unwrapped() {
    // clap wraps help to the terminal (COLUMNS here): what follows the flags
    // is written to fit 80 columns, so no example breaks mid-phrase.
    let tail = |sub: &str, columns: &str| {
        let mut cmd = ce();
        if !sub.is_empty() {
            cmd.arg(sub);
        }
        let out = cmd.arg("--help").env("COLUMNS", columns).stdout_ok();
        let help = String::from_utf8(out).unwrap();
        help[help.find("EXAMPLES:").unwrap()..].to_owned()
    };
    for sub in SUBCOMMANDS.iter().chain(&["check", ""]) {
        let narrow = tail(sub, "80");
        assert_eq!(
            narrow,
            tail(sub, "1000"),
            "{sub} --help wraps at 80 columns"
        );
        for line in narrow.lines() {
            assert!(line.chars().count() <= 80, "{sub}: {line}");
        }
    }
}

#[test]
fn keygen_and_check_read_only_what_their_help_says() {
    let keygen = String::from_utf8(ce().args(["keygen", "--help"]).stdout_ok()).unwrap();
    let environment = keygen.split("ENVIRONMENT:\n").nth(1).unwrap();
    let listed = environment.split("\n\n").next().unwrap();
    assert!(
        listed.starts_with("  XDG_CONFIG_HOME, HOME\n") && !listed.contains("CE_"),
        "{listed}"
    );
    assert!(
        keygen.contains("keygen reads no other variable."),
        "{keygen}"
    );
    let check = String::from_utf8(ce().args(["check", "--help"]).stdout_ok()).unwrap();
    assert!(!check.contains("ENVIRONMENT"), "{check}");
    assert!(
        check.contains("It reads no key and no\nenvironment variable"),
        "{check}"
    );

    // And they do not: every variable the others read, set to what would
    // change or break them, changes nothing.
    let dir = tempfile::tempdir().unwrap();
    let unsettling = |cmd: &mut Command| {
        for var in CE_ENV {
            cmd.env(var, "../not usable");
        }
        cmd.env("CE_PROFILE", "missing").current_dir(dir.path());
    };
    let mut keygen = ce();
    unsettling(&mut keygen);
    let keys = String::from_utf8(keygen.arg("keygen").stdout_ok()).unwrap();
    assert!(keys.starts_with("CE_SECRET_KEY="), "{keys}");
    let mut check = ce();
    unsettling(&mut check);
    check
        .args(["check", &fresh_sample()])
        .assert()
        .success()
        .stdout("ok: 1 event, no problems\n");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn usage_errors_exit_2() {
    ce().args(["encrypt", "--no-such-flag"])
        .assert()
        .code(2)
        .stdout("");
    ce().args(["encrypt", "--method", "aes-128", "{}"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cbc-base64").and(predicate::str::contains("11258")));
    ce().arg("frobnicate").assert().code(2);
}
