//! Key files and profiles as ce-crypt judges them before trusting them: the
//! kind of file first (a pipe is read, and never waited on without a
//! writer), then its owner and mode, and the folder of profiles; profile
//! names; and the next step keygen prints, run as printed.
#![cfg(feature = "cli")]

mod common;
use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

fn key_file(dir: &Path, name: &str, mode: u32) -> std::path::PathBuf {
    let file = dir.join(name);
    fs::write(&file, format!("CE_SECRET_KEY={KEY}\nCE_SECRET_IV={IV}\n")).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
    file
}

fn encrypt_with_file(file: &Path) -> assert_cmd::assert::Assert {
    ce().args(["encrypt", "[1]", "--key-file"])
        .arg(file)
        .timeout(Duration::from_secs(20))
        .assert()
}

/// Whether the tests run as root (`id -u` is 0), as CI does.
fn is_root() -> bool {
    let out = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim() == "0"
}

#[test]
fn key_files_others_may_change_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let expected = openssl_encrypt(KEY, IV, b"[1]") + "\n";
    for mode in [0o620, 0o602, 0o666, 0o660] {
        let file = key_file(dir.path(), "my keys.env", mode);
        let stderr = String::from_utf8(
            encrypt_with_file(&file)
                .code(1)
                .stdout("")
                .get_output()
                .stderr
                .clone(),
        )
        .unwrap();
        assert_eq!(
            stderr,
            format!(
                "error: the key file {} can be changed by group or others (mode {mode:04o}): \
                 run chmod 600 '{}'\n",
                file.display(),
                file.display()
            )
        );
        // The command given, run as given, fixes it.
        let command = stderr.split("run ").nth(1).unwrap().trim_end();
        let status = std::process::Command::new("sh")
            .args(["-c", command])
            .status()
            .unwrap();
        assert!(status.success());
        encrypt_with_file(&file)
            .success()
            .stdout(expected.clone())
            .stderr("");
    }
    // Readable only: a warning, and the key is used.
    for mode in [0o640, 0o604] {
        let file = key_file(dir.path(), "k.env", mode);
        encrypt_with_file(&file)
            .success()
            .stdout(expected.clone())
            .stderr(format!(
                "warning: the key file {} can be read by group or others (mode {mode:04o}); \
                 run: chmod 600 {}\n",
                file.display(),
                file.display()
            ));
    }
}

#[test]
fn key_files_of_another_user_are_refused_root_aside() {
    if !is_root() {
        eprintln!("skipped: changing a file's owner and switching users needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let file = key_file(dir.path(), "k.env", 0o600);
    let nobody = 65534;
    std::os::unix::fs::chown(&file, Some(nobody), None).unwrap();
    encrypt_with_file(&file).code(1).stdout("").stderr(format!(
        "error: the key file {} belongs to another user (uid {nobody}), who could change it: \
         make a copy of your own with: install -m 600 {} NEW_FILE\n",
        file.display(),
        file.display()
    ));
    // A file of root's is trusted by everyone: read here as user 65534.
    std::os::unix::fs::chown(&file, Some(0), None).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_ce-crypt"),
            "encrypt",
            "[1]",
            "--key-file",
        ])
        .arg(&file)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        openssl_encrypt(KEY, IV, b"[1]") + "\n"
    );
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .starts_with("warning: the key file"),
    );
}

#[test]
fn a_pipe_is_read_and_never_waited_on_without_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), "k.env", 0o600);
    // bash's process substitution: the key file is a pipe, with its writer.
    let out = std::process::Command::new("bash")
        .args([
            "-c",
            "\"$1\" encrypt '[1]' --key-file <(cat \"$2\")",
            "bash",
            env!("CARGO_BIN_EXE_ce-crypt"),
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        openssl_encrypt(KEY, IV, b"[1]") + "\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "");

    // A named pipe nobody writes to: an answer at once, with no chmod advice.
    let fifo = dir.path().join("fifo.env");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    encrypt_with_file(&fifo).code(1).stdout("").stderr(format!(
        "error: the key file {} is a pipe and nothing was written to it: start what writes it \
         first, or name a file\n",
        fifo.display()
    ));
}

#[test]
fn a_profile_folder_others_may_change_is_refused() {
    let config = tempfile::tempdir().unwrap();
    let folder = config.path().join("ce-crypt");
    fs::create_dir(&folder).unwrap();
    key_file(&folder, "shop.env", 0o600);
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o777)).unwrap();
    let refused = format!(
        "error: the profile folder {} can be changed by others (mode 0777): run chmod 700 {}\n",
        folder.display(),
        folder.display()
    );
    let profile = |args: &[&str]| {
        let mut cmd = ce();
        cmd.env("XDG_CONFIG_HOME", config.path()).args(args);
        cmd
    };
    profile(&["encrypt", "--profile", "shop", "[1]"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(refused.clone());
    profile(&["keygen", "--profile", "new"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(refused);
    assert!(!folder.join("new.env").exists());
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o700)).unwrap();
    profile(&["encrypt", "--profile", "shop", "[1]"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn profile_names_follow_the_rule_everywhere() {
    let config = tempfile::tempdir().unwrap();
    let cases = [
        (
            "my shop",
            "error: the profile name \"my shop\" is not a plain name: use letters, digits, - and _\n",
        ),
        (
            "shop.env",
            "error: the profile name \"shop.env\" is a file's name: give the profile's own name, shop\n",
        ),
        (
            "../shop",
            "error: the profile name \"../shop\" is not a plain name: use letters, digits, - and _\n",
        ),
    ];
    for (name, message) in cases {
        let keygen = ce()
            .env("XDG_CONFIG_HOME", config.path())
            .args(["keygen", "--profile", name])
            .assert()
            .code(1)
            .stdout("")
            .get_output()
            .stderr
            .clone();
        assert_eq!(String::from_utf8(keygen).unwrap(), message);
        ce().env("XDG_CONFIG_HOME", config.path())
            .args(["encrypt", "[1]", "--profile", name])
            .assert()
            .code(1)
            .stderr(message);
        ce().env("XDG_CONFIG_HOME", config.path())
            .env("CE_PROFILE", name)
            .args(["encrypt", "[1]"])
            .assert()
            .code(1)
            .stderr(message);
    }
    assert_eq!(entries(config.path()), Vec::<String>::new(), "nothing made");
}

/// The command keygen's message ends with, run by sh in `dir` with ce-crypt
/// on the PATH: it must succeed, and give a ciphertext of `events.json`.
fn run_next_step(stderr: &str, dir: &Path, config: &Path) {
    let command = stderr
        .split("then encrypt with: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no next step in {stderr}"))
        .trim_end();
    let bin = Path::new(env!("CARGO_BIN_EXE_ce-crypt")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .env("PATH", path)
        .env("XDG_CONFIG_HOME", config)
        .env_remove("CE_PROFILE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{command}: {out:?}");
    assert!(!out.stdout.is_empty(), "{command}");
}

#[test]
fn the_next_step_keygen_prints_works_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("events.json"), fresh_sample()).unwrap();
    for args in [
        &["keygen", "-o", "my keys.env"][..],
        &["keygen", "-o", "it's $HOME.env"][..],
        &["keygen", "--profile", "my-shop_2"][..],
        &["keygen", "--profile=-dash"][..],
    ] {
        let out = ce()
            .current_dir(dir.path())
            .env("XDG_CONFIG_HOME", config.path())
            .args(args)
            .assert()
            .success()
            .get_output()
            .clone();
        run_next_step(
            &String::from_utf8(out.stderr).unwrap(),
            dir.path(),
            config.path(),
        );
    }
}
