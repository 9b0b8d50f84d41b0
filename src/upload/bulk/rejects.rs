//! The rejects file: JSON Lines, one rejected event per line with where it
//! was and why, created (mode 0600) only once something is rejected.
//!
//! Each line is an object: `position` (`event[3]`, `line 7`), `index` (the
//! event's number from 0), `reasons`, the API's `answer` when it refused the
//! event, and the event itself: `event`, the event's JSON with the
//! whitespace outside its strings removed (numbers, key order and escapes
//! kept byte for byte), or `text`, a line that is not JSON, as a string.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;

use super::source::Position;

/// A rejected event, as the summary keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Its number in the input, from 0.
    pub ordinal: u64,
    /// Where it is.
    pub position: Position,
    /// Why: the rules it breaks, or the API's answer.
    pub reasons: Vec<String>,
}

/// The event of a rejection: its JSON, or a line that is not JSON.
pub(crate) type RejectedText<'a> = Result<&'a RawValue, &'a str>;

#[derive(serde::Serialize)]
struct Line<'a> {
    position: String,
    index: u64,
    reasons: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<Answer<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct Answer<'a> {
    status: u16,
    body: &'a str,
}

/// A rejects file that holds something else, which would be emptied.
#[derive(Debug, thiserror::Error)]
#[error("{path} is not a rejects file of ce-crypt, and would be emptied")]
pub struct NotRejectsFile {
    /// The file.
    pub path: PathBuf,
}

/// Where rejected events go.
pub(crate) struct RejectsFile {
    path: Option<PathBuf>,
    file: Option<File>,
    /// Empty the file on first write (a fresh start), rather than append.
    fresh: bool,
    /// Lines written since the last [`RejectsFile::sync`].
    unsynced: bool,
}

impl RejectsFile {
    /// Rejects for `path` (none: kept only in the summary). A file already
    /// there must be a rejects file: a fresh start empties it, a resumed
    /// delivery appends to it.
    pub fn new(path: Option<PathBuf>, fresh: bool) -> Result<RejectsFile, NotRejectsFile> {
        if let Some(path) = &path
            && !is_rejects_file(path)
        {
            return Err(NotRejectsFile { path: path.clone() });
        }
        Ok(RejectsFile {
            path,
            file: None,
            fresh,
            unsynced: false,
        })
    }

    /// The file, if one was named (whether or not it was written).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Writes one rejected event (durable at the next [`RejectsFile::sync`]).
    pub fn write(
        &mut self,
        rejection: &Rejection,
        answer: Option<(u16, &str)>,
        event: RejectedText<'_>,
    ) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if self.file.is_none() {
            let file = crate::files::open_private(path)?;
            if self.fresh {
                file.set_len(0)?;
            }
            self.file = Some(file);
        }
        let line = Line {
            position: rejection.position.to_string(),
            index: rejection.ordinal,
            reasons: &rejection.reasons,
            answer: answer.map(|(status, body)| Answer { status, body }),
            event: event.ok().map(compact),
            text: event.err(),
        };
        let mut bytes = serde_json::to_vec(&line).expect("JSON serializes");
        bytes.push(b'\n');
        self.file
            .as_mut()
            .expect("opened above")
            .write_all(&bytes)?;
        self.unsynced = true;
        Ok(())
    }

    /// Makes the lines written so far durable.
    pub fn sync(&mut self) -> io::Result<()> {
        if let (Some(file), true) = (&self.file, self.unsynced) {
            file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }
}

/// The event on one line: its whitespace outside strings removed.
fn compact(event: &RawValue) -> Box<RawValue> {
    crate::payload::compact_json(event.get().as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| RawValue::from_string(text).ok())
        .unwrap_or_else(|| event.to_owned())
}

/// Whether `path` is absent, empty, or begins as a rejects file does.
fn is_rejects_file(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return true; // none yet
    };
    let mut first = String::new();
    if BufReader::new(file.take(1 << 20))
        .read_line(&mut first)
        .is_err()
    {
        return false;
    }
    /// What every line of a rejects file has (its other fields, the event
    /// among them, are only skipped: a number out of any float's range is
    /// still an event's).
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Head {
        index: u64,
        reasons: Vec<String>,
    }
    first.is_empty() || serde_json::from_str::<Head>(&first).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(ordinal: u64) -> Rejection {
        Rejection {
            ordinal,
            position: Position::Index(ordinal),
            reasons: vec!["because".into()],
        }
    }

    #[test]
    fn a_pretty_printed_event_takes_one_line_and_a_rerun_takes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let mut rejects = RejectsFile::new(Some(path.clone()), true).unwrap();
        assert!(!path.exists(), "created only when something is rejected");
        let pretty: Box<RawValue> = serde_json::from_str(
            "{\n  \"identity\": \"a b\",\n  \"n\": 1.50,\n  \"s\": \"x\\n\\u00e9\"\n}",
        )
        .unwrap();
        rejects.write(&rejection(0), None, Ok(&pretty)).unwrap();
        rejects
            .write(&rejection(1), Some((400, "no\nway")), Err("not\tjson {"))
            .unwrap();
        rejects.sync().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert!(
            lines[0].contains(r#""event":{"identity":"a b","n":1.50,"s":"x\n\u00e9"}"#),
            "{}",
            lines[0]
        );
        assert_eq!(first["position"], "event[0]");
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["text"], "not\tjson {");
        assert_eq!(second["answer"]["body"], "no\nway");
        // A rerun appends to its own file.
        let mut again = RejectsFile::new(Some(path.clone()), false).unwrap();
        again.write(&rejection(2), None, Err("x")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
        // A fresh start empties it.
        let mut fresh = RejectsFile::new(Some(path.clone()), true).unwrap();
        fresh.write(&rejection(3), None, Err("y")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[test]
    fn another_file_is_never_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, "my notes\n").unwrap();
        assert!(RejectsFile::new(Some(path.clone()), true).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "my notes\n");
    }
}
