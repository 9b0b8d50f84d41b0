//! `ce-crypt completions`: a script for every shell, and the bash one loads and completes.
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;

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

/// What bash completes for `words`, the last one being completed, with the
/// script `ce-crypt completions bash` prints loaded as a user would.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let out = ce().args(["completions", "bash"]).output().unwrap().stdout;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("ce-crypt.bash");
    std::fs::write(&script, out).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = if cword > 0 { words[cword - 1] } else { "" };
    let check = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && COMP_WORDS=({}) && COMP_CWORD={cword} && \
             _ce__crypt ce-crypt '{}' '{prev}' && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            quoted.join(" "),
            words[cword],
        ))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    String::from_utf8(check.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_the_options_of_subcommands() {
    assert_eq!(bash_completes(&["ce-crypt", "send", "--reg"]), ["--region"]);
    assert!(
        bash_completes(&["ce-crypt", "encrypt", "--"]).contains(&"--key-file".to_owned()),
        "encrypt's options"
    );
}

#[test]
fn bash_completes_every_value_list() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["ce-crypt", "encrypt", "--method", "c"],
            &["cbc-base64", "cbc-hex"],
        ),
        (&["ce-crypt", "decrypt", "-m", "g"], &["gcm-base64"]),
        (
            &["ce-crypt", "send", "--method", "1125"],
            &["11256", "11257", "11258"],
        ),
        (&["ce-crypt", "send", "--region", ""], &["us", "in", "eu"]),
        (
            &["ce-crypt", "encrypt", "--key-encoding", ""],
            &["utf8", "base64", "hex"],
        ),
        (&["ce-crypt", "keygen", "--key-encoding", "h"], &["hex"]),
        (&["ce-crypt", "keygen", "--format", ""], &["env", "json"]),
        (&["ce-crypt", "completions", "f"], &["fish"]),
    ];
    for (words, expected) in cases {
        assert_eq!(bash_completes(words), *expected, "{words:?}");
    }
}

#[test]
fn zsh_and_fish_scripts_list_the_values_too() {
    let zsh = String::from_utf8(ce().args(["completions", "zsh"]).stdout_ok()).unwrap();
    assert!(
        zsh.contains("cbc-base64") && zsh.contains(":REGION:(us in eu)"),
        "{zsh}"
    );
    let fish = String::from_utf8(ce().args(["completions", "fish"]).stdout_ok()).unwrap();
    assert!(
        fish.contains("-l region") && fish.contains("us\\t") && fish.contains("cbc-hex\\t"),
        "{fish}"
    );
}
