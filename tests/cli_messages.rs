//! Every user-facing error message, pinned: a change of wording is a reviewed diff (`TRYCMD=overwrite cargo test --test cli_messages`).
//!
//! One case per message in `tests/cmd/*.toml`. `TRYCMD=overwrite` writes a changed
//! snapshot literally: put back the wildcards it drops (the `[..]` of a temporary file
//! name) before committing.
#![cfg(feature = "cli")]

use std::fs;
use std::os::unix::fs::PermissionsExt;

#[test]
fn cli_messages() {
    // A checkout's files take their mode from the umask (0664 under 002), and
    // a key file that group or others may change is refused: the cases' own
    // files are made 0600, as keygen writes them, so that each case gives the
    // message it pins on every machine. (Git keeps no mode but the x bit, so
    // the checkout does not change.)
    for case in fs::read_dir("tests/cmd").unwrap() {
        let case = case.unwrap().path();
        if case.extension().is_some_and(|ext| ext == "in") {
            for file in fs::read_dir(&case).unwrap() {
                let file = file.unwrap().path();
                fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
    }
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
