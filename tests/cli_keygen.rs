//! `ce-crypt keygen` as a user runs it, and its output used as a key file for every key encoding
//! and method.
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;

fn parse_env(text: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let key = lines[0].strip_prefix("CE_SECRET_KEY=").expect("first line");
    let iv = lines[1].strip_prefix("CE_SECRET_IV=").expect("second line");
    (key.to_owned(), iv.to_owned())
}

#[test]
fn prints_two_alphanumeric_lines() {
    let out = ce()
        .arg("keygen")
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    let (key, iv) = parse_env(&String::from_utf8(out).unwrap());
    assert_eq!(key.len(), 32);
    assert_eq!(iv.len(), 16);
    assert!(
        key.bytes()
            .chain(iv.bytes())
            .all(|b| b.is_ascii_alphanumeric())
    );
    let again = ce().arg("keygen").output().unwrap().stdout;
    assert_ne!(parse_env(&String::from_utf8(again).unwrap()).0, key);
}

#[test]
fn json_format() {
    let out = ce().args(["keygen", "--format", "json"]).stdout_ok();
    let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(value["secret_key"].as_str().unwrap().len(), 32);
    assert_eq!(value["secret_iv"].as_str().unwrap().len(), 16);
    assert_eq!(value.as_object().unwrap().len(), 2);
}

#[test]
fn output_file_is_0600_and_never_overwritten_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ce.env");
    ce().args(["keygen", "-o"])
        .arg(&path)
        .assert()
        .success()
        .stdout("");
    assert_eq!(mode(&path), 0o600);
    let first = std::fs::read_to_string(&path).unwrap();
    parse_env(&first);

    ce().args(["keygen", "-o"])
        .arg(&path)
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("already exists").and(predicate::str::contains("--force")),
        );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), first, "untouched");

    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    ce().args(["keygen", "--force", "-o"])
        .arg(&path)
        .assert()
        .success();
    assert_ne!(std::fs::read_to_string(&path).unwrap(), first);
    assert_eq!(mode(&path), 0o600, "a forced key file is private again");
    assert_eq!(entries(dir.path()), ["ce.env"], "no temporary file left");
}

#[test]
fn the_written_file_is_created_private_under_a_loose_umask() {
    // Created 0600 from the start, not chmod-ed afterwards: even with umask 000.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.env");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000; exec \"$0\" keygen -o '{}'",
            path.display()
        ))
        .arg(env!("CARGO_BIN_EXE_ce-crypt"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn terminal_gets_a_note_on_stderr_and_pipes_do_not() {
    let screen = in_terminal(&format!("{} keygen", env!("CARGO_BIN_EXE_ce-crypt")));
    assert!(screen.contains("CE_SECRET_KEY="), "{screen}");
    assert!(screen.contains("secure channel"), "{screen}");
    ce().arg("keygen").assert().success().stderr("");
}

#[test]
fn keygen_output_works_as_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ce.env");
    ce().args(["keygen", "-o"]).arg(&path).assert().success();
    let ciphertext = ce()
        .args(["encrypt", "--key-file"])
        .arg(&path)
        .arg(SAMPLE)
        .stdout_ok();
    let (key, iv) = parse_env(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(
        String::from_utf8(ciphertext).unwrap().trim_end(),
        openssl_encrypt(&key, &iv, SAMPLE.as_bytes())
    );
}

#[test]
fn keygen_key_file_encrypt_decrypt_round_trips_for_every_encoding_and_method() {
    let dir = tempfile::tempdir().unwrap();
    for encoding in ["utf8", "base64", "hex"] {
        let file = dir.path().join(format!("{encoding}.env"));
        ce().args(["keygen", "--key-encoding", encoding, "-o"])
            .arg(&file)
            .assert()
            .success();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text.contains("CE_KEY_ENCODING="),
            encoding != "utf8",
            "{text}"
        );
        for method in ["cbc-base64", "cbc-hex", "gcm-base64"] {
            let ct = ce()
                .args(["encrypt", "--method", method, "--key-file"])
                .arg(&file)
                .arg(SAMPLE)
                .stdout_ok();
            ce().args(["decrypt", "--method", method, "--key-file"])
                .arg(&file)
                .write_stdin(ct)
                .assert()
                .success()
                .stdout(SAMPLE);
        }
        let json = ce()
            .args(["keygen", "--format", "json", "--key-encoding", encoding])
            .stdout_ok();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value.get("key_encoding").is_some(), encoding != "utf8");
    }
    // A file naming one encoding and a flag naming another is refused.
    let file = dir.path().join("hex.env");
    ce().args(["encrypt", "--key-encoding", "base64", "--key-file"])
        .arg(&file)
        .arg("{}")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("CE_KEY_ENCODING=hex"));
}

#[test]
fn keygen_to_a_file_says_what_it_wrote_and_what_comes_next() {
    let dir = tempfile::tempdir().unwrap();
    let out = ce()
        .current_dir(dir.path())
        .args(["keygen", "-o", "ce.env"])
        .assert()
        .success()
        .stdout("")
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("wrote a new key and IV to ce.env (mode 0600"),
        "{stderr}"
    );
    assert!(
        stderr.contains("share both values with Netcore"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ce-crypt encrypt --key-file ce.env"),
        "{stderr}"
    );
    let secret = std::fs::read_to_string(dir.path().join("ce.env")).unwrap();
    let (key, iv) = parse_env(&secret);
    assert!(
        !stderr.contains(&key) && !stderr.contains(&iv),
        "no secret on stderr"
    );
    // Printing to standard output adds nothing to a pipe.
    ce().args(["keygen"]).assert().success().stderr("");
}

#[test]
fn key_files_and_send_journals_are_ignored_by_git() {
    let root = env!("CARGO_MANIFEST_DIR");
    let journals = ["events.json.ce-send", "events.json.ce-send.rejects.jsonl"];
    for name in ["ce.env", "k.env", "sub/prod.env"]
        .into_iter()
        .chain(journals)
    {
        let status = std::process::Command::new("git")
            .args(["check-ignore", "--no-index", "-q", name])
            .current_dir(root)
            .status()
            .unwrap();
        assert!(status.success(), "{name} is not in .gitignore");
    }
}

#[test]
fn keygen_writes_a_profile_outside_the_working_tree() {
    let config = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let keygen = || {
        let mut cmd = ce();
        cmd.current_dir(work.path())
            .env("XDG_CONFIG_HOME", config.path())
            .args(["keygen", "--profile", "shop"]);
        cmd
    };
    let out = keygen().assert().success().stdout("").get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let file = config.path().join("ce-crypt").join("shop.env");
    assert!(
        stderr.contains(&format!(
            "wrote a new key and IV to {} (mode 0600",
            file.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("ce-crypt encrypt --profile shop"),
        "{stderr}"
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "nothing in the working tree"
    );

    // Never overwritten without --force.
    let before = std::fs::read_to_string(&file).unwrap();
    keygen()
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    keygen().arg("--force").assert().success();
    assert_ne!(std::fs::read_to_string(&file).unwrap(), before);

    // The profile is what encrypt --profile reads.
    let (key, iv) = parse_env(&std::fs::read_to_string(&file).unwrap());
    let ciphertext = ce()
        .env("XDG_CONFIG_HOME", config.path())
        .args(["encrypt", "--profile", "shop", SAMPLE])
        .stdout_ok();
    assert_eq!(
        String::from_utf8(ciphertext).unwrap().trim_end(),
        openssl_encrypt(&key, &iv, SAMPLE.as_bytes())
    );
    // -o and --profile name two places: refused.
    ce().env("XDG_CONFIG_HOME", config.path())
        .args(["keygen", "--profile", "x", "-o", "x.env"])
        .assert()
        .code(2);
}
