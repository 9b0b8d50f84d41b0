//! Where bulk upload keeps its state: `$XDG_STATE_HOME/ce-crypt/` (by
//! default `~/.local/state/ce-crypt/`), never beside the user's files.
//!
//! - `deliveries/<hash>.journal`: one journal per delivery, named from a hash
//!   of the input's canonical path, the endpoint and the asset;
//! - `deliveries/<hash>.rejects.jsonl`: that delivery's rejected events;
//! - `deliveries/stream-<time>-<pid>.rejects.jsonl`: the rejects of a stream
//!   sent without a journal;
//! - `key-salt`: 32 random bytes, under which the API key's fingerprint is
//!   an HMAC-SHA-256, so that a journal can tell a changed key without
//!   holding anything usable.
//!
//! The folders are mode 0700 and the files 0600. Finished journals (and
//! their rejects) older than [`KEEP_FINISHED`] are removed by a later run.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::journal::{self, Destination, Record};

/// How long a finished journal is kept.
pub const KEEP_FINISHED: Duration = Duration::from_secs(90 * 24 * 3600);
/// The folder of journals and rejects, inside the state folder.
const DELIVERIES: &str = "deliveries";
/// The salt of the API key's fingerprint, inside the state folder.
const SALT_FILE: &str = "key-salt";
/// A journal's name ends so.
const JOURNAL_EXTENSION: &str = "journal";
/// A rejects file's name ends so.
const REJECTS_SUFFIX: &str = ".rejects.jsonl";

/// ce-crypt's state folder as the XDG Base Directory spec places it:
/// `$XDG_STATE_HOME/ce-crypt` if that is an absolute path, else
/// `$HOME/.local/state/ce-crypt`; none if neither is set.
pub fn state_dir_from_env() -> Option<PathBuf> {
    state_dir_from(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
}

fn state_dir_from(xdg: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    // The spec: "If an implementation encounters a relative path in any of
    // these variables it should consider the path invalid and ignore it."
    let base = match xdg.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(xdg) => xdg,
        None => PathBuf::from(home.filter(|h| !h.is_empty())?)
            .join(".local")
            .join("state"),
    };
    Some(base.join("ce-crypt"))
}

/// The journal of the delivery of `input` (a canonical path; none for a
/// stream) to `destination`, in `state_dir`.
pub(crate) fn journal_path(
    state_dir: &Path,
    input: Option<&Path>,
    destination: &Destination,
) -> PathBuf {
    let mut hash = Sha256::new();
    hash.update(b"input\0");
    if let Some(path) = input {
        hash.update(path_bytes(path));
    }
    hash.update(b"\0endpoint\0");
    hash.update(destination.endpoint.as_bytes());
    match &destination.asset {
        Some(asset) => {
            hash.update(b"\0asset\0");
            hash.update(asset.as_bytes());
        }
        None => hash.update(b"\0events' own assets"),
    }
    let name = base16ct::lower::encode_string(&hash.finalize()[..16]);
    state_dir
        .join(DELIVERIES)
        .join(format!("{name}.{JOURNAL_EXTENSION}"))
}

/// The rejects file that goes with the journal at `journal`.
pub fn rejects_beside(journal: &Path) -> PathBuf {
    let mut name = journal.with_extension("").into_os_string();
    name.push(REJECTS_SUFFIX);
    PathBuf::from(name)
}

/// A new rejects file for a stream sent without a journal.
pub(crate) fn stream_rejects_path(state_dir: &Path) -> PathBuf {
    let now = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    state_dir.join(DELIVERIES).join(format!(
        "stream-{now}-{}{REJECTS_SUFFIX}",
        std::process::id()
    ))
}

/// Makes sure the state folder and its deliveries folder exist, private.
pub(crate) fn prepare(state_dir: &Path) -> io::Result<()> {
    crate::files::private_folder(&state_dir.join(DELIVERIES))?;
    crate::files::private_folder(state_dir)
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> &[u8] {
    path.to_str().map_or(&[][..], str::as_bytes)
}

/// The API key's fingerprint: HMAC-SHA-256 under the state folder's salt
/// (made on first use), lowercase hex. Equal keys give equal fingerprints;
/// without the salt, nothing about the key can be learnt from one.
pub(crate) fn key_fingerprint(state_dir: &Path, api_key: &str) -> io::Result<String> {
    let salt = salt(state_dir)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&salt).expect("HMAC takes any key length");
    mac.update(api_key.as_bytes());
    Ok(base16ct::lower::encode_string(&mac.finalize().into_bytes()))
}

fn salt(state_dir: &Path) -> io::Result<[u8; 32]> {
    let path = state_dir.join(SALT_FILE);
    let mut salt = [0u8; 32];
    match crate::files::create_private(&path) {
        Ok(mut file) => {
            rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut salt)
                .map_err(|e| io::Error::other(e.to_string()))?;
            file.write_all(&salt)?;
            file.sync_all()?;
            crate::files::sync_folder(&path);
            Ok(salt)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let mut file = crate::files::open_private(&path)?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            bytes.try_into().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not 32 bytes long", path.display()),
                )
            })
        }
        Err(e) => Err(e),
    }
}

/// Removes the finished journals of `state_dir` last written more than
/// `keep` ago, with their rejects files, and rejects files of streams as
/// old; returns how many journals went. Best effort: what cannot be read or
/// removed stays.
pub(crate) fn remove_old(state_dir: &Path, keep: Duration, now: SystemTime) -> usize {
    let Ok(entries) = fs::read_dir(state_dir.join(DELIVERIES)) else {
        return 0;
    };
    let old = |path: &Path| {
        fs::symlink_metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|at| now.duration_since(at).is_ok_and(|age| age > keep))
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !old(&path) {
            continue;
        }
        if path.extension().is_some_and(|e| e == JOURNAL_EXTENSION) {
            let finished = journal::read(&path)
                .is_ok_and(|records| matches!(records.last(), Some(Record::Finished { .. })));
            if finished && fs::remove_file(&path).is_ok() {
                let _ = fs::remove_file(rejects_beside(&path));
                removed += 1;
            }
        } else if name.starts_with("stream-") && name.ends_with(REJECTS_SUFFIX) {
            let _ = fs::remove_file(&path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_folder_follows_the_xdg_spec() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(
            state_dir_from(os("/x/state"), os("/home/u")),
            Some(PathBuf::from("/x/state/ce-crypt"))
        );
        // A relative XDG_STATE_HOME is ignored, as the spec says.
        assert_eq!(
            state_dir_from(os("rel/state"), os("/home/u")),
            Some(PathBuf::from("/home/u/.local/state/ce-crypt"))
        );
        assert_eq!(
            state_dir_from(os(""), os("/home/u")),
            Some(PathBuf::from("/home/u/.local/state/ce-crypt"))
        );
        assert_eq!(state_dir_from(os("rel"), None), None);
        assert_eq!(state_dir_from(None, os("")), None);
    }

    #[test]
    fn a_delivery_is_named_by_its_input_endpoint_and_asset() {
        let state = Path::new("/s");
        let to = |endpoint: &str, asset: Option<&str>| Destination {
            endpoint: endpoint.into(),
            asset: asset.map(Into::into),
        };
        let a = Path::new("/data/a.json");
        let us = to("https://api2.netcoresmartech.com/v1/activity/upload", None);
        let name = journal_path(state, Some(a), &us);
        assert!(name.starts_with("/s/deliveries"), "{name:?}");
        assert_eq!(name, journal_path(state, Some(a), &us));
        let others = [
            journal_path(state, Some(Path::new("/data/b.json")), &us),
            journal_path(state, None, &us),
            journal_path(
                state,
                Some(a),
                &to(
                    "https://apiin2.netcoresmartech.com/v1/activity/upload",
                    None,
                ),
            ),
            journal_path(state, Some(a), &to(&us.endpoint, Some("A1"))),
            journal_path(state, Some(a), &to(&us.endpoint, Some("A2"))),
            journal_path(state, Some(a), &to(&us.endpoint, Some(""))),
        ];
        for (i, other) in others.iter().enumerate() {
            assert_ne!(*other, name, "{i}");
            for later in &others[i + 1..] {
                assert_ne!(other, later);
            }
        }
        assert_eq!(
            rejects_beside(&name).extension().unwrap(),
            "jsonl",
            "{name:?}"
        );
    }

    #[test]
    fn the_key_fingerprint_is_stable_private_and_tells_keys_apart() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        prepare(&state).unwrap();
        let one = key_fingerprint(&state, "key-one").unwrap();
        assert_eq!(one, key_fingerprint(&state, "key-one").unwrap());
        assert_ne!(one, key_fingerprint(&state, "key-two").unwrap());
        // Not a plain hash of the key: the salt is in it.
        let plain = base16ct::lower::encode_string(&Sha256::digest(b"key-one"));
        assert_ne!(one, plain);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&state.join(SALT_FILE)), 0o600);
            assert_eq!(mode(&state), 0o700);
            assert_eq!(mode(&state.join(DELIVERIES)), 0o700);
        }
        // Another state folder, another salt: another fingerprint.
        let other = dir.path().join("other");
        prepare(&other).unwrap();
        assert_ne!(one, key_fingerprint(&other, "key-one").unwrap());
    }

    #[test]
    fn only_old_finished_journals_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        prepare(state).unwrap();
        let folder = state.join(DELIVERIES);
        let header = "{\"journal\":{\"version\":2,\"format\":\"lines\",\"input\":null}}\n";
        let finished = format!("{header}{{\"finished\":{{\"sent\":1,\"rejected\":0}}}}\n");
        fs::write(folder.join("a.journal"), &finished).unwrap();
        fs::write(folder.join("a.rejects.jsonl"), "{}\n").unwrap();
        fs::write(folder.join("b.journal"), header).unwrap();
        fs::write(folder.join("stream-1-2.rejects.jsonl"), "{}\n").unwrap();
        let day = Duration::from_secs(86_400);
        let now = SystemTime::now();
        assert_eq!(remove_old(state, KEEP_FINISHED, now), 0);
        let later = now + KEEP_FINISHED + day;
        assert_eq!(remove_old(state, KEEP_FINISHED, later), 1);
        let left: Vec<String> = fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["b.journal"], "the unfinished journal stays");
    }
}
