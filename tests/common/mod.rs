//! Helpers shared by the CLI tests.
#![allow(dead_code)]
pub mod net;
pub mod ring_gcm;
pub mod standin;

use std::path::Path;
use std::process::{Command as StdCommand, Stdio};

pub use assert_cmd::Command;

/// A 32-character key and 16-character IV, as Netcore's script would make them.
pub const KEY: &str = "Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU";
pub const IV: &str = "Qw5Er7Ty9Ui2Op4A";

/// Every subcommand: each has `--help` with examples, and a section in the man page.
pub const SUBCOMMANDS: &[&str] = &[
    "keygen",
    "encrypt",
    "decrypt",
    "send",
    "methods",
    "completions",
    "man",
];

/// The sample event from Netcore's documentation.
pub const SAMPLE: &str = r#"[{"asset_id":"ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1","activity_name":"Page Browse","timestamp":"2025-08-26T12:05:43Z","identity":"user@example.com","activity_source":"web","activity_params":{"page_url":"https://www.example.com/products/shoes?color=red","page_title":"Red Shoes – Example Store","price":59.99,"currency":"EUR","tags":["new","sale"]}}]"#;

/// [`SAMPLE`] stamped a minute ago, so that it draws no "more than 24 hours old" warning.
pub fn fresh_sample() -> String {
    let now = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1);
    SAMPLE.replace(
        "2025-08-26T12:05:43Z",
        &now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// A state folder (`XDG_STATE_HOME`) shared by this test binary's commands,
/// removed at its end only by the system's temp cleaning: journals are named
/// by their input's path, and every test's input is in a folder of its own.
pub fn test_state_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path()
}

/// Running a command for what it prints.
pub trait StdoutOk {
    /// Asserts exit 0 and returns standard output.
    fn stdout_ok(&mut self) -> Vec<u8>;
    /// Asserts exit 1 with nothing on standard output, and returns standard error.
    fn stderr_failed(&mut self) -> String;
}

impl StdoutOk for Command {
    fn stdout_ok(&mut self) -> Vec<u8> {
        self.assert().success().get_output().stdout.clone()
    }

    fn stderr_failed(&mut self) -> String {
        let out = self.assert().code(1).stdout("").get_output().clone();
        String::from_utf8(out.stderr).expect("stderr is UTF-8")
    }
}

/// Every variable ce-crypt reads, besides the proxy and CA ones in [`net::PROXY_ENV`].
pub const CE_ENV: [&str; 9] = [
    "CE_SECRET_KEY",
    "CE_SECRET_IV",
    "CE_KEY_ENCODING",
    "CE_API_KEY",
    "CE_ASSET_ID",
    "CE_REGION",
    "CE_ENDPOINT",
    "CE_PROFILE",
    "XDG_CONFIG_HOME",
];

/// `ce-crypt` with none of its variables in its environment (no keys, no
/// profile, no proxy), so a developer's own settings cannot change a test.
pub fn ce() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ce-crypt"));
    for var in CE_ENV {
        cmd.env_remove(var);
    }
    // send's journals go to a state folder of the tests', never the user's.
    cmd.env("XDG_STATE_HOME", test_state_home());
    net::clear_proxy_env(&mut cmd);
    cmd
}

/// `ce-crypt` with [`KEY`] and [`IV`] in its environment.
pub fn ce_keyed() -> Command {
    let mut cmd = ce();
    cmd.env("CE_SECRET_KEY", KEY).env("CE_SECRET_IV", IV);
    cmd
}

/// Lowercase hex of bytes (for openssl's -K and -iv).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `openssl` with `args`, feeding `stdin`; panics (failing the test) if it is missing or fails.
pub fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = StdCommand::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command is required for these tests (apt-get install openssl)");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `openssl enc -aes-256-cbc` with [`KEY`] and [`IV`] and the `extra` flags.
pub fn openssl_cbc(extra: &[&str], stdin: &[u8]) -> Vec<u8> {
    let (key, iv) = (hex(KEY.as_bytes()), hex(IV.as_bytes()));
    let mut args = vec!["enc", "-aes-256-cbc", "-K", &key, "-iv", &iv];
    args.extend_from_slice(extra);
    openssl(&args, stdin)
}

/// `openssl enc -aes-256-cbc` with a UTF-8 key and IV, Base64 on one line.
pub fn openssl_encrypt(key: &str, iv: &str, payload: &[u8]) -> String {
    let out = openssl(
        &[
            "enc",
            "-aes-256-cbc",
            "-K",
            &hex(key.as_bytes()),
            "-iv",
            &hex(iv.as_bytes()),
            "-a",
            "-A",
        ],
        payload,
    );
    String::from_utf8(out).unwrap().trim_end().to_owned()
}

/// File mode bits (unix).
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Writes a file only its owner may read or write, as a secret's file must
/// be (whatever the umask).
pub fn write_private(path: &Path, contents: impl AsRef<[u8]>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Names of the entries in a folder, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs `command` under a pseudo-terminal (util-linux `script`), returning what it printed.
pub fn in_terminal(command: &str) -> String {
    let out = StdCommand::new("script")
        .args(["-qec", command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("util-linux `script` is needed to give the command a terminal");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the failure contract: exit 1, nothing on stdout, one `error:` line naming `needle`
/// (and neither [`KEY`] nor [`IV`], nor a panic); returns standard error.
pub fn fails_with(cmd: &mut Command, needle: &str) -> String {
    let stderr = cmd.stderr_failed();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
    assert!(
        !stderr.contains(KEY) && !stderr.contains(IV),
        "secret in {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// `ce-crypt encrypt --method METHOD PAYLOAD` with [`KEY`] and [`IV`]; asserts success, returns stdout.
pub fn encrypt_with(method: &str, payload: &str) -> String {
    let out = ce_keyed()
        .args(["encrypt", "--method", method, payload])
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

/// `ce-crypt decrypt --method METHOD` of `text` on stdin with [`KEY`] and [`IV`]; asserts success,
/// returns stdout.
pub fn decrypt_with(method: &str, text: &str) -> Vec<u8> {
    ce_keyed()
        .args(["decrypt", "--method", method])
        .write_stdin(text.to_owned())
        .stdout_ok()
}

/// Standard Base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard Base64 with padding; panics (failing the test) on bad input.
pub fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
