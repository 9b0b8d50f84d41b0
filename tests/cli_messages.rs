//! Every user-facing error message, pinned: a change of wording is a reviewed diff (`TRYCMD=overwrite cargo test --test cli_messages`).
//!
//! One case per message in `tests/cmd/*.toml`. `TRYCMD=overwrite` writes a changed
//! snapshot literally: put back the wildcards it drops (the `...` line of the key-file
//! cases, the `[..]` of a temporary file name) before committing.
#![cfg(feature = "cli")]
#[test]
fn cli_messages() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
