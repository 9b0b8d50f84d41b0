//! Reliability and secret hygiene across `encrypt` and `decrypt`: output files written whole
//! or not at all (even when killed), special files and closed pipes, key-file permission
//! warnings, no plaintext after a failed check, odd inputs failing cleanly.
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command as Std, Stdio};
use std::time::Duration;

#[test]
fn a_shared_key_file_gets_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ce.env");
    fs::write(&file, format!("CE_SECRET_KEY={KEY}\nCE_SECRET_IV={IV}\n")).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    ce().args(["encrypt", "--key-file"])
        .arg(&file)
        .arg("{}")
        .assert()
        .success()
        .stderr(
            predicate::str::contains("warning:")
                .and(predicate::str::contains(file.display().to_string()))
                .and(predicate::str::contains("chmod 600")),
        );
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    ce().args(["encrypt", "--key-file"])
        .arg(&file)
        .arg("{}")
        .assert()
        .success()
        .stderr("");
}

/// A 96 MiB input, its whole ciphertext, and a folder for the interrupted runs' target.
struct LargeEncrypt {
    dir: tempfile::TempDir,
    input: std::path::PathBuf,
    whole: Vec<u8>,
    out_dir: std::path::PathBuf,
    target: std::path::PathBuf,
}

impl LargeEncrypt {
    fn new() -> LargeEncrypt {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("big.bin");
        let bytes: Vec<u8> = (0..96u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        fs::write(&input, &bytes).unwrap();
        drop(bytes);
        let whole = dir.path().join("whole.enc");
        ce_keyed()
            .args(["encrypt", "--raw", "-i"])
            .arg(&input)
            .arg("-o")
            .arg(&whole)
            .assert()
            .success();
        let whole = fs::read(&whole).unwrap();
        let out_dir = dir.path().join("out");
        fs::create_dir(&out_dir).unwrap();
        let target = out_dir.join("events.enc");
        LargeEncrypt {
            dir,
            input,
            whole,
            out_dir,
            target,
        }
    }
}

/// `ce-crypt encrypt --raw -i input -o target`, keyed, output silenced, to be killed.
fn encrypt_to(input: &std::path::Path, target: &std::path::Path) -> Std {
    let mut cmd = Std::new(env!("CARGO_BIN_EXE_ce-crypt"));
    cmd.env("CE_SECRET_KEY", KEY)
        .env("CE_SECRET_IV", IV)
        .args(["encrypt", "--raw", "-i"])
        .arg(input)
        .arg("-o")
        .arg(target)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

#[test]
fn killed_at_any_moment_the_output_is_old_or_whole() {
    let LargeEncrypt {
        dir: _dir,
        input,
        whole,
        out_dir,
        target,
    } = LargeEncrypt::new();
    let old = b"old content\n".to_vec();
    let mut killed_mid_write = 0;
    for delay_ms in [5u64, 20, 40, 80, 120, 160, 240, 320] {
        fs::write(&target, &old).unwrap();
        let mut child = encrypt_to(&input, &target).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        let now = fs::read(&target).unwrap();
        assert!(
            now == old || now == whole,
            "torn file after {delay_ms} ms: {} bytes",
            now.len()
        );
        // A temporary file left behind proves the kill landed mid-write.
        for name in entries(&out_dir).into_iter().filter(|n| n != "events.enc") {
            killed_mid_write += 1;
            fs::remove_file(out_dir.join(name)).unwrap();
        }
    }
    assert!(
        killed_mid_write > 0,
        "no kill landed during the write; the test proved nothing"
    );
}

#[test]
fn output_file_is_written_whole_and_failures_leave_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("events.enc");
    ce_keyed()
        .args(["encrypt", SAMPLE, "-o"])
        .arg(&out)
        .assert()
        .success()
        .stdout("");
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n"
    );

    // A failing run leaves the old content, and no temporary file.
    fails_with(
        ce_keyed().args(["encrypt", "[1,", "-o"]).arg(&out),
        "not valid JSON",
    );
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n"
    );
    fails_with(
        ce_keyed().args(["decrypt", "AAAA", "-o"]).arg(&out),
        "not a multiple",
    );
    assert_eq!(entries(dir.path()), ["events.enc"]);

    // A failing run with a new name leaves nothing at all.
    let fresh = dir.path().join("fresh.out");
    fails_with(
        ce_keyed().args(["decrypt", "AAAA", "-o"]).arg(&fresh),
        "not a multiple",
    );
    assert_eq!(entries(dir.path()), ["events.enc"]);
}

#[test]
fn output_never_names_the_input_or_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.enc");
    let ciphertext = openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n";
    fs::write(&input, &ciphertext).unwrap();
    let linked = dir.path().join("linked.enc");
    fs::hard_link(&input, &linked).unwrap();
    let key_file = dir.path().join("k.env");
    fs::write(
        &key_file,
        format!("CE_SECRET_KEY={KEY}\nCE_SECRET_IV={IV}\n"),
    )
    .unwrap();
    fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600)).unwrap();
    let key_text = fs::read_to_string(&key_file).unwrap();
    let refused = |args: &[&str], output: &Path, what: &str| {
        let mut cmd = ce();
        cmd.current_dir(dir.path()).args(args).arg("-o").arg(output);
        let stderr = fails_with(&mut cmd, "writing it would destroy what is being read");
        assert!(stderr.contains(what), "{stderr}");
        assert_eq!(fs::read_to_string(&input).unwrap(), ciphertext);
        assert_eq!(fs::read_to_string(&key_file).unwrap(), key_text);
    };
    let keyed = ["--key-file", "k.env"];
    let decrypt = [&["decrypt", "-i", "events.enc"][..], &keyed].concat();
    let encrypt = [&["encrypt", "--raw", "-i", "events.enc"][..], &keyed].concat();
    for args in [&decrypt, &encrypt] {
        // The input, by the same name, another spelling and a hard link.
        refused(args, Path::new("events.enc"), "is the input file");
        refused(args, &dir.path().join("./events.enc"), "is the input file");
        refused(args, Path::new("linked.enc"), "is the input file");
        // The key file, by another spelling.
        refused(args, Path::new("./k.env"), "is the key file");
    }
    // Standard input redirected from the file (`decrypt -o F < F`), read
    // with or without `-i -`, by any spelling.
    let solo = dir.path().join("solo.enc");
    fs::write(&solo, &ciphertext).unwrap();
    for args in [
        &["decrypt"][..],
        &["decrypt", "-i", "-"],
        &["encrypt", "--raw"],
    ] {
        for output in ["solo.enc", "./solo.enc"] {
            let out = Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
                .current_dir(dir.path())
                .args(args)
                .args(keyed)
                .args(["-o", output])
                .stdin(fs::File::open(&solo).unwrap())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?} -o {output}: {stderr}");
            assert_eq!(
                stderr,
                format!(
                    "error: {output} is the file on standard input: writing it would destroy \
                     what is being read; nothing was written: choose another output file\n"
                ),
                "{args:?}"
            );
            assert_eq!(fs::read_to_string(&solo).unwrap(), ciphertext);
        }
    }
    assert_eq!(
        entries(dir.path()),
        ["events.enc", "k.env", "linked.enc", "solo.enc"]
    );
}

#[test]
fn dev_stdout_is_written_directly() {
    // -o /dev/stdout with stdout a pipe: the text arrives, and /dev/stdout survives.
    let out = ce_keyed()
        .args(["encrypt", SAMPLE, "-o", "/dev/stdout"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n"
    );
    assert!(fs::symlink_metadata("/dev/stdout").is_ok());
    let null = fs::metadata("/dev/null").unwrap();
    ce_keyed()
        .args(["decrypt", "-o", "/dev/null"])
        .write_stdin(openssl_encrypt(KEY, IV, b"{}"))
        .assert()
        .success();
    assert_eq!(
        fs::metadata("/dev/null").unwrap().permissions(),
        null.permissions()
    );
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &fs::metadata("/dev/null").unwrap().file_type()
    ));
}

#[test]
fn special_files_are_written_directly_and_survive() {
    ce_keyed()
        .args(["encrypt", SAMPLE, "-o", "/dev/null"])
        .assert()
        .success();
    assert!(
        std::path::Path::new("/dev/null")
            .metadata()
            .unwrap()
            .file_type()
            .is_char_device_like()
    );

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || fs::read(reader_path).unwrap());
    ce_keyed()
        .args(["encrypt", SAMPLE, "-o"])
        .arg(&fifo)
        .assert()
        .success();
    let got = reader.join().unwrap();
    assert_eq!(
        String::from_utf8(got).unwrap(),
        openssl_encrypt(KEY, IV, SAMPLE.as_bytes()) + "\n"
    );
    assert!(
        fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo_like(),
        "still a FIFO"
    );
}

trait FileTypeExt {
    fn is_char_device_like(&self) -> bool;
    fn is_fifo_like(&self) -> bool;
}

impl FileTypeExt for fs::FileType {
    fn is_char_device_like(&self) -> bool {
        std::os::unix::fs::FileTypeExt::is_char_device(self)
    }
    fn is_fifo_like(&self) -> bool {
        std::os::unix::fs::FileTypeExt::is_fifo(self)
    }
}

#[test]
fn closed_stdout_ends_quietly() {
    use std::io::Read;
    use std::process::{Command as Std, Stdio};
    let big = format!("[{}]", vec!["\"x\""; 400_000].join(","));
    let lines = "[1]\n".repeat(200_000);
    let dir = tempfile::tempdir().unwrap();
    let encrypted = dir.path().join("big.enc");
    fs::write(&encrypted, openssl_encrypt(KEY, IV, big.as_bytes())).unwrap();
    let jsonl = dir.path().join("lines.jsonl");
    fs::write(&jsonl, &lines).unwrap();
    for (args, first_bytes) in [
        (vec!["decrypt", "-i"], big.as_bytes()[..20].to_vec()),
        (
            vec!["encrypt", "--lines", "-i"],
            openssl_encrypt(KEY, IV, b"[1]").as_bytes()[..20].to_vec(),
        ),
    ] {
        let input = if args[0] == "decrypt" {
            &encrypted
        } else {
            &jsonl
        };
        let mut child = Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
            .env("CE_SECRET_KEY", KEY)
            .env("CE_SECRET_IV", IV)
            .args(&args)
            .arg(input)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 20];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
        let out = child.wait_with_output().unwrap();
        assert_eq!(&first[..], &first_bytes[..], "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
    }
}

#[test]
fn failed_checks_print_no_plaintext() {
    // A wrong key decrypts to garbage: CBC padding fails and nothing is printed.
    let other = "0".repeat(32);
    for method in ["cbc-base64", "cbc-hex", "gcm-base64"] {
        let ct = ce()
            .env("CE_SECRET_KEY", &other)
            .env("CE_SECRET_IV", IV)
            .args(["encrypt", "--method", method, SAMPLE])
            .output()
            .unwrap()
            .stdout;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("plain.json");
        ce_keyed()
            .args(["decrypt", "--method", method, "-o"])
            .arg(&out)
            .write_stdin(ct)
            .assert()
            .code(1)
            .stdout("");
        assert!(
            entries(dir.path()).is_empty(),
            "{method}: something was written"
        );
    }
}

#[test]
fn odd_inputs_fail_cleanly() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("cbc-base64", vec![0xff, 0xfe, 0x00]),
        ("cbc-base64", b"====".to_vec()),
        ("cbc-base64", b"A".to_vec()),
        ("cbc-hex", b"0".to_vec()),
        ("cbc-hex", "é".as_bytes().to_vec()),
        ("gcm-base64", b"AAAA".to_vec()),
        ("gcm-base64", vec![b'A'; 100_001]),
    ];
    for (method, input) in cases {
        let out = ce_keyed()
            .args(["decrypt", "--method", method])
            .write_stdin(input)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{method}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with("error: ") && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    ce_keyed()
        .args(["encrypt"])
        .write_stdin(vec![b'[', 0xffu8, 0xfe, b']'])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid UTF-8"));
    // FF FE first is UTF-16's byte-order mark: named as such.
    ce_keyed()
        .args(["encrypt"])
        .write_stdin(vec![0xffu8, 0xfe])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the payload is UTF-16 (little-endian)",
        ));
    ce_keyed()
        .args(["encrypt"])
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not valid JSON"));
    // An empty payload with --raw is fine: one block of padding.
    ce_keyed()
        .args(["encrypt", "--raw"])
        .write_stdin("")
        .assert()
        .success()
        .stdout(openssl_encrypt(KEY, IV, b"") + "\n");
}

#[test]
fn signals_leave_no_temporary_file_and_say_truthfully_what_became_of_the_output() {
    use std::os::unix::process::ExitStatusExt;
    let LargeEncrypt {
        dir: _dir,
        input,
        whole,
        out_dir,
        target,
    } = LargeEncrypt::new();
    let old = b"old content\n".to_vec();
    let mut temps_seen = 0;
    let shown = target.display().to_string();
    for (signal, code) in [
        ("INT", 130),
        ("TERM", 143),
        ("HUP", 129),
        ("QUIT", 131),
        ("ABRT", 134),
    ] {
        let mut caught = 0;
        for delay_ms in [40u64, 120, 240, 400] {
            fs::write(&target, &old).unwrap();
            fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
            let child = encrypt_to(&input, &target)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay_ms));
            // While it exists, the temporary file is private, whatever the target's mode.
            for name in entries(&out_dir)
                .into_iter()
                .filter(|n| n.ends_with(".tmp"))
            {
                if let Ok(meta) = fs::metadata(out_dir.join(&name)) {
                    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
                    temps_seen += 1;
                }
            }
            let sent = Std::new("kill")
                .args(["-s", signal, &child.id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let at = format!("SIG{signal} after {delay_ms} ms");
            assert_eq!(entries(&out_dir), ["events.enc"], "{at} left a file behind");
            let now = fs::read(&target).unwrap();
            // What it says, and its exit status, match what became of the target.
            if out.status.code() == Some(code) {
                caught += 1;
                assert_eq!(now, old, "{at}: exit {code}, but the target changed");
                assert_eq!(
                    stderr,
                    format!("error: interrupted by SIG{signal}: {shown} was left as it was\n"),
                    "{at}"
                );
            } else if out.status.success() {
                assert_eq!(now, whole, "{at}: exit 0, but the target is not whole");
                assert!(
                    stderr.is_empty()
                        || stderr
                            == format!(
                                "note: interrupted by SIG{signal}, after {shown} was written whole: \
                                 it is complete\n"
                            ),
                    "{at}: {stderr}"
                );
            } else {
                // Before the handler was set up: the default action, nothing written yet.
                assert!(out.status.signal().is_some(), "{at}: {:?}", out.status);
                assert_eq!(now, old, "{at}");
            }
        }
        assert!(caught > 0, "no SIG{signal} landed mid-write");
    }
    assert!(temps_seen > 0, "no temporary file seen");
}

#[test]
fn output_targets_links_and_read_only_files() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let encrypt = |output: &Path| {
        let mut cmd = ce_keyed();
        cmd.args(["encrypt", "[1]", "-o"]).arg(output);
        cmd
    };
    // A read-only file is replaced only with --force, and keeps its mode.
    fs::write(at("ro.enc"), "old\n").unwrap();
    fs::set_permissions(at("ro.enc"), fs::Permissions::from_mode(0o444)).unwrap();
    fails_with(&mut encrypt(&at("ro.enc")), "is read-only: pass --force");
    assert_eq!(fs::read_to_string(at("ro.enc")).unwrap(), "old\n");
    encrypt(&at("ro.enc")).arg("--force").assert().success();
    assert_eq!(
        fs::read_to_string(at("ro.enc")).unwrap(),
        openssl_encrypt(KEY, IV, b"[1]") + "\n"
    );
    let mode = fs::metadata(at("ro.enc")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o444);

    // A hard-linked file is refused, never split from its other names.
    fs::write(at("a.enc"), "old\n").unwrap();
    fs::hard_link(at("a.enc"), at("b.enc")).unwrap();
    fails_with(&mut encrypt(&at("a.enc")), "has other hard links");
    assert_eq!(fs::read_to_string(at("b.enc")).unwrap(), "old\n");

    // Symbolic links are followed, working or dangling: the link stays a link.
    fs::write(at("real.enc"), "old\n").unwrap();
    std::os::unix::fs::symlink("real.enc", at("working")).unwrap();
    std::os::unix::fs::symlink("new.enc", at("dangling")).unwrap();
    for (link, file) in [("working", "real.enc"), ("dangling", "new.enc")] {
        encrypt(&at(link)).assert().success();
        assert!(
            fs::symlink_metadata(at(link)).unwrap().is_symlink(),
            "{link}"
        );
        assert_eq!(
            fs::read_to_string(at(file)).unwrap(),
            openssl_encrypt(KEY, IV, b"[1]") + "\n"
        );
    }
    std::os::unix::fs::symlink("key.env", at("key-link")).unwrap();
    ce().args(["keygen", "-o"])
        .arg(at("key-link"))
        .assert()
        .success();
    assert!(
        fs::read_to_string(at("key.env"))
            .unwrap()
            .contains("CE_SECRET_KEY=")
    );

    // A missing folder's error names the user's path, never a temporary one.
    let stderr = fails_with(&mut encrypt(&at("nowhere/x.enc")), "nowhere/x.enc");
    assert!(!stderr.contains(".ce-crypt-"), "{stderr}");
}

#[test]
fn a_full_stdout_is_an_error_and_dev_null_a_sink_for_every_writer() {
    let writers: [&[&str]; 9] = [
        &["keygen"],
        &["encrypt", "[1]"],
        &["decrypt", "uPj6eL3kfl5gRYm9Olv9vg=="],
        &["methods"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
        &["--version"],
        &["encrypt", "--help"],
    ];
    let run = |args: &[&str], stdout: Stdio| {
        Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
            .args(args)
            .env("CE_SECRET_KEY", KEY)
            .env("CE_SECRET_IV", IV)
            .stdout(stdout)
            .output()
            .unwrap()
    };
    for args in writers {
        // A full disk says what could not be written, in one line.
        let full = run(args, fs::File::create("/dev/full").unwrap().into());
        let stderr = String::from_utf8_lossy(&full.stderr);
        assert_eq!(
            full.status.code(),
            Some(1),
            "{args:?} > /dev/full: {stderr}"
        );
        assert_eq!(
            stderr,
            "error: could not write to standard output: No space left on device (os error 28)\n",
            "{args:?} > /dev/full"
        );

        // /dev/null is a sink however it was opened: write-only as a shell's
        // `> /dev/null`, read-write as `1<>/dev/null`, Python's DEVNULL or
        // systemd's StandardOutput=null.
        let read_write = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .unwrap();
        for (how, null) in [
            ("read-write", read_write),
            ("write-only", fs::File::create("/dev/null").unwrap()),
        ] {
            let sunk = run(args, null.into());
            let stderr = String::from_utf8_lossy(&sunk.stderr);
            assert!(
                sunk.status.success(),
                "{args:?} on /dev/null {how}: {stderr}"
            );
            assert_eq!(stderr, "", "{args:?} on /dev/null {how}");
        }

        // Standard output closed: the runtime opens /dev/null in its place,
        // read-write, which cannot be told from the above: output goes nowhere.
        // Opened for reading only, every write would fail: refused.
        let with_stdout = |redirect: &str| {
            Std::new("sh")
                .arg("-c")
                .arg(format!(r#"exec "$0" "$@" {redirect}"#))
                .arg(env!("CARGO_BIN_EXE_ce-crypt"))
                .args(args)
                .env("CE_SECRET_KEY", KEY)
                .env("CE_SECRET_IV", IV)
                .output()
                .unwrap()
        };
        let closed = with_stdout(">&-");
        assert!(
            closed.status.success(),
            "{args:?} >&-: {}",
            String::from_utf8_lossy(&closed.stderr)
        );
        if args[0].starts_with("--") || args.contains(&"--help") {
            continue; // clap writes help however standard output is open
        }
        let refused = with_stdout("1</dev/null");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(
            refused.status.code(),
            Some(1),
            "{args:?} 1</dev/null: {stderr}"
        );
        assert_eq!(
            stderr,
            "error: standard output is open for reading only: redirect it with > FILE, \
             or write to a file with -o FILE\n",
            "{args:?} 1</dev/null"
        );
    }
    // A closed pipe stays quiet, for the generated texts and help too.
    for args in [&["completions", "bash"][..], &["man"], &["--help"]] {
        let mut sh = Std::new("sh");
        sh.arg("-c")
            .arg(r#""$0" "$@" | (exec 0<&-; sleep .1)"#)
            .arg(env!("CARGO_BIN_EXE_ce-crypt"))
            .args(args);
        let out = sh.output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{args:?}");
        assert!(out.status.success(), "{args:?}");
    }
}

#[test]
fn core_dumps_are_disabled_in_a_running_process() {
    // decrypt waits for its standard input: read its limits meanwhile.
    let mut child = Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
        .env("CE_SECRET_KEY", KEY)
        .env("CE_SECRET_IV", IV)
        .arg("decrypt")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let limits = format!("/proc/{}/limits", child.id());
    let mut core = String::new();
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(20));
        let text = fs::read_to_string(&limits).unwrap();
        core = text
            .lines()
            .find(|line| line.starts_with("Max core file size"))
            .unwrap()
            .split_whitespace()
            .skip(4)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        if core == "0 0" {
            break;
        }
    }
    let _ = child.kill();
    child.wait().unwrap();
    assert_eq!(core, "0 0", "soft and hard core-size limits");
}
