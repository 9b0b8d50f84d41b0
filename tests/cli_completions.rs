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
