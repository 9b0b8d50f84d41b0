//! Files written in a shared folder (sticky and writable by everyone, like
//! /tmp) as one user, where another user may have planted a link or a FIFO:
//! nothing planted is followed or written into (`-o`, `--report`, keygen,
//! `--journal`, `--rejects`), and the file it leads to is untouched; the
//! user's own links still work. Also the message for a folder
//! the user may not write in.
//!
//! These tests need two users: as root (CI runs as root) they plant files as
//! uid 65533 and run ce-crypt as root and as `nobody` (uid 65534, through
//! util-linux `setpriv`). Run as anyone else, each prints a SKIPPED line on
//! the terminal (past the test harness's capture) and checks nothing.
#![cfg(all(feature = "cli", unix))]

mod common;
use common::standin::{API_KEY, Faults, StandIn, ndjson};
use common::*;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command as Std, Output, Stdio};
use std::time::{Duration, Instant};

/// The user who plants links and FIFOs.
const PLANTER: u32 = 65533;
/// `nobody`, the second user ce-crypt runs as.
const NOBODY: u32 = 65534;

/// True if the test can act as two users; otherwise says so plainly.
fn as_root(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED cli_shared_folders::{test}: acting as two users needs root (CI runs as root)"
        );
    }
    root
}

/// A folder tree for one user of ce-crypt: a shared folder like /tmp, and a
/// home of the user's own holding the files a planted link would lead to.
struct Scene {
    _dir: tempfile::TempDir,
    shared: PathBuf,
    home: PathBuf,
    uid: u32,
}

impl Scene {
    fn new(uid: u32) -> Scene {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        lchown(&home, Some(uid), Some(uid)).unwrap();
        Scene {
            _dir: dir,
            shared,
            home,
            uid,
        }
    }

    /// A file of the user's in their home.
    fn own_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.join(name);
        fs::write(&path, text).unwrap();
        lchown(&path, Some(self.uid), Some(self.uid)).unwrap();
        path
    }

    /// A link in the shared folder to `target`, made by `owner`.
    fn link(&self, name: &str, target: &Path, owner: u32) -> PathBuf {
        let path = self.shared.join(name);
        symlink(target, &path).unwrap();
        lchown(&path, Some(owner), Some(owner)).unwrap();
        path
    }

    /// ce-crypt as this scene's user, with nothing of ours in its environment.
    fn ce(&self, args: &[&str]) -> Std {
        let mut cmd = if self.uid == 0 {
            Std::new(env!("CARGO_BIN_EXE_ce-crypt"))
        } else {
            let mut cmd = Std::new("setpriv");
            let id = self.uid.to_string();
            cmd.args(["--reuid", &id, "--regid", &id, "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_ce-crypt"));
            cmd
        };
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("CE_SECRET_KEY", KEY)
            .env("CE_SECRET_IV", IV)
            .env("XDG_STATE_HOME", self.home.join("state"))
            .current_dir(&self.home)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Nothing left behind in the shared folder but `names`, nor in the home but `home`.
    fn left_only(&self, names: &[&str], home: &[&str]) {
        assert_eq!(entries(&self.shared), names);
        assert_eq!(entries(&self.home), home);
    }
}

/// Runs `cmd` for at most 20 s: a write into a FIFO with no reader would wait forever.
fn run_bounded(cmd: &mut Std) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("still running after 20 s: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Exit 1 and exactly this one error line.
fn refused(out: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr, format!("error: {message}\n"));
    assert!(out.stdout.is_empty());
}

fn planted_link_message(link: &Path, shared: &Path) -> String {
    format!(
        "{} is a symbolic link that another user (uid {PLANTER}) made in the shared folder {}; \
         it was not followed and nothing was written: remove the link, or choose another name",
        link.display(),
        shared.display()
    )
}

#[test]
fn a_planted_link_is_not_followed_by_any_output() {
    if !as_root("a_planted_link_is_not_followed_by_any_output") {
        return;
    }
    for uid in [0, NOBODY] {
        let scene = Scene::new(uid);
        let secret = scene.own_file("secret.txt", "keep\n");
        let link = scene.link("out.enc", &secret, PLANTER);
        let shown = link.to_str().unwrap();
        let ciphertext = openssl_encrypt(KEY, IV, b"[1]");
        for args in [
            &["encrypt", "[1]", "-o", shown][..],
            &["encrypt", "[1]", "--force", "-o", shown],
            &["decrypt", &ciphertext, "-o", shown],
            &["keygen", "-o", shown],
            &["keygen", "--force", "-o", shown],
        ] {
            let out = run_bounded(&mut scene.ce(args));
            refused(&out, &planted_link_message(&link, &scene.shared));
            assert_eq!(fs::read_to_string(&secret).unwrap(), "keep\n", "{args:?}");
            assert_eq!(fs::metadata(&secret).unwrap().mode() & 0o777, 0o644);
            scene.left_only(&["out.enc"], &["secret.txt"]);
        }
        // A link through which a folder is reached is no different.
        let folder = scene.link("folder", &scene.home, PLANTER);
        let through = folder.join("secret.txt");
        let out = run_bounded(&mut scene.ce(&["encrypt", "[1]", "-o", through.to_str().unwrap()]));
        refused(&out, &planted_link_message(&folder, &scene.shared));
        assert_eq!(fs::read_to_string(&secret).unwrap(), "keep\n");

        // The user's own link, and one of the folder's owner (root), are followed.
        let owners: &[u32] = if uid == 0 { &[0] } else { &[uid, 0] };
        for &owner in owners {
            let own = scene.link(&format!("own-{owner}"), &scene.home.join("new.enc"), owner);
            let out = run_bounded(&mut scene.ce(&["encrypt", "[1]", "-o", own.to_str().unwrap()]));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                fs::read_to_string(scene.home.join("new.enc")).unwrap(),
                ciphertext.clone() + "\n"
            );
            fs::remove_file(scene.home.join("new.enc")).unwrap();
        }
    }
}

#[test]
fn a_planted_fifo_is_not_written_into() {
    if !as_root("a_planted_fifo_is_not_written_into") {
        return;
    }
    for uid in [0, NOBODY] {
        let scene = Scene::new(uid);
        let fifo = scene.shared.join("out.enc");
        assert!(Std::new("mkfifo").arg(&fifo).status().unwrap().success());
        fs::set_permissions(&fifo, fs::Permissions::from_mode(0o666)).unwrap();
        lchown(&fifo, Some(PLANTER), Some(PLANTER)).unwrap();
        // The planter listening: anything written would arrive here.
        let mut listener = fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&fifo)
            .unwrap();
        let out = run_bounded(&mut scene.ce(&["encrypt", "[1]", "-o", fifo.to_str().unwrap()]));
        refused(
            &out,
            &format!(
                "{} is a FIFO that another user (uid {PLANTER}) made in the shared folder {}; \
                 nothing was written to it: remove it, or choose another name",
                fifo.display(),
                scene.shared.display()
            ),
        );
        let mut heard = Vec::new();
        let _ = listener.read_to_end(&mut heard);
        assert!(
            heard.is_empty(),
            "{} bytes written into the FIFO",
            heard.len()
        );
        scene.left_only(&["out.enc"], &[]);
    }
}

#[test]
fn another_users_file_is_never_written_into_nor_its_mode_copied() {
    if !as_root("another_users_file_is_never_written_into_nor_its_mode_copied") {
        return;
    }
    for uid in [0, NOBODY] {
        let scene = Scene::new(uid);
        let theirs = scene.shared.join("out.enc");
        fs::write(&theirs, "theirs\n").unwrap();
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o666)).unwrap();
        lchown(&theirs, Some(PLANTER), Some(PLANTER)).unwrap();
        let out = run_bounded(&mut scene.ce(&["encrypt", "[1]", "-o", theirs.to_str().unwrap()]));
        let meta = fs::symlink_metadata(&theirs).unwrap();
        if uid == 0 {
            // Root may replace it: the new file is root's, mode 0600, not 0666.
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!((meta.uid(), meta.mode() & 0o7777), (0, 0o600));
        } else {
            // The sticky bit keeps anyone else from replacing it; it stays as it was.
            assert_eq!(out.status.code(), Some(1));
            assert_eq!(fs::read_to_string(&theirs).unwrap(), "theirs\n");
            assert_eq!((meta.uid(), meta.mode() & 0o7777), (PLANTER, 0o666));
        }
        scene.left_only(&["out.enc"], &[]);
    }
}

#[test]
fn the_report_does_not_follow_a_planted_link() {
    if !as_root("the_report_does_not_follow_a_planted_link") {
        return;
    }
    let api = StandIn::start(Faults::default());
    for uid in [0, NOBODY] {
        let scene = Scene::new(uid);
        let events = scene.own_file("events.ndjson", &ndjson(3, |_| "A".into()));
        let report = scene.own_file("report.json", "keep\n");
        let link = scene.link("report.json", &report, PLANTER);
        let mut cmd = scene.ce(&["send", "--lines", "--endpoint", &api.url(), "-i"]);
        cmd.arg(&events)
            .arg("--report")
            .arg(&link)
            .env("CE_API_KEY", API_KEY);
        let out = run_bounded(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&planted_link_message(&link, &scene.shared)),
            "{stderr}"
        );
        assert_eq!(fs::read_to_string(&report).unwrap(), "keep\n");
        assert_eq!(entries(&scene.shared), ["report.json"]);
    }
}

#[test]
fn the_journal_and_rejects_file_do_not_follow_a_planted_link() {
    if !as_root("the_journal_and_rejects_file_do_not_follow_a_planted_link") {
        return;
    }
    let api = StandIn::start(Faults::default());
    for uid in [0, NOBODY] {
        let scene = Scene::new(uid);
        // One event the checks reject, so that a rejects file is written.
        let text = ndjson(3, |_| "A".into()).replacen("\"web\"", "\"tv\"", 1);
        let events = scene.own_file("events.ndjson", &text);
        // (An empty file passes for a rejects file, as a new one would.)
        for (flag, name, text) in [
            ("--journal", "journal", "keep\n"),
            ("--rejects", "rejects.jsonl", ""),
        ] {
            let kept = scene.own_file(name, text);
            let link = scene.link(name, &kept, PLANTER);
            let mut cmd = scene.ce(&["send", "--lines", "--endpoint", &api.url(), "-i"]);
            cmd.arg(&events)
                .arg(flag)
                .arg(&link)
                .env("CE_API_KEY", API_KEY);
            let out = run_bounded(&mut cmd);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_ne!(out.status.code(), Some(0), "{flag}: {stderr}");
            assert!(
                stderr.contains(&planted_link_message(&link, &scene.shared)),
                "{flag}: {stderr}"
            );
            assert_eq!(fs::read_to_string(&kept).unwrap(), text, "{flag}");
            assert_eq!(fs::metadata(&kept).unwrap().mode() & 0o777, 0o644, "{flag}");
            fs::remove_file(&link).unwrap();
        }
        assert!(entries(&scene.shared).is_empty());
    }
}

#[test]
fn a_folder_the_user_may_not_write_in_is_named_with_what_to_do() {
    if !as_root("a_folder_the_user_may_not_write_in_is_named_with_what_to_do") {
        return;
    }
    let scene = Scene::new(NOBODY);
    let locked = scene.shared.join("locked");
    fs::create_dir(&locked).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o555)).unwrap();
    let target = locked.join("out.enc");
    let out = run_bounded(&mut scene.ce(&["encrypt", "[1]", "-o", target.to_str().unwrap()]));
    refused(
        &out,
        &format!(
            "could not write {}: the folder {} is not writable by you: write elsewhere, \
             or ask the folder's owner for write access",
            target.display(),
            locked.display()
        ),
    );
    assert!(entries(&locked).is_empty());
}
