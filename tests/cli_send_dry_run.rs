//! `send --dry-run`'s script, run by every POSIX shell found here (dash, bash and
//! `bash --posix` always; zsh, ksh and busybox sh where installed), with hostile
//! values in every field: the request must reach a loopback server exactly as
//! `send` itself sends it, and nothing in the values may run.
#![cfg(feature = "cli")]

mod common;
use common::net::{self as loopback, ConnectProxy, TestServer};
use common::*;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

/// The shells to run each script with: (program, arguments before the script).
const SHELLS: [(&str, &[&str]); 6] = [
    ("dash", &[]),
    ("bash", &[]),
    ("bash", &["--posix"]),
    ("zsh", &[]),
    ("ksh", &[]),
    ("busybox", &["sh"]),
];

/// The shells installed here; dash and bash must be. Says plainly, on the
/// test's real standard error, which others were not found.
fn shells() -> Vec<(&'static str, &'static [&'static str])> {
    let found = |program: &str| {
        StdCommand::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    let (present, missing): (Vec<_>, Vec<_>) = SHELLS.iter().partition(|(p, _)| found(p));
    for required in ["dash", "bash"] {
        assert!(found(required), "{required} is needed for these tests");
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|(p, _)| *p).collect();
        let _ = writeln!(
            std::io::stderr(),
            "note: not installed, so the dry-run script was not run with: {} \
             (apt-get install zsh ksh busybox)",
            names.join(", ")
        );
    }
    present
}

/// A folder with a `curl` that records its arguments in `argv` (one a line)
/// and runs the real curl.
fn recording_curl(dir: &Path) -> (PathBuf, PathBuf) {
    let real = StdCommand::new("sh")
        .args(["-c", "command -v curl"])
        .output()
        .expect("sh");
    let real = String::from_utf8(real.stdout).unwrap().trim().to_owned();
    assert!(!real.is_empty(), "curl is needed (apt-get install curl)");
    let bin = dir.join("bin");
    fs::create_dir(&bin).unwrap();
    let argv = dir.join("argv");
    let wrapper = bin.join("curl");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\nexec '{real}' \"$@\"\n",
            argv.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    (bin, argv)
}

/// What must arrive: the request target and the headers that carry values.
fn essentials(request: &loopback::Request) -> Vec<String> {
    let mut out = vec![format!("{} {}", request.method, request.path)];
    for name in ["content-type", "x-ecode", "x-asset", "authorization"] {
        out.push(format!("{name}: {:?}", request.header(name)));
    }
    out
}

/// The events inside a request body, decrypted with `method`. (`send` sends
/// them without the whitespace between values, the script as given: the
/// same JSON either way, strings byte for byte.)
fn plaintext(method: &str, request: &loopback::Request) -> serde_json::Value {
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let text = decrypt_with(method, body["encryptedRequest"].as_str().unwrap());
    serde_json::from_slice(&text).unwrap()
}

/// Hostile text for every field: quotes, command substitutions, backticks,
/// backslashes, parameters, printf formats, here-document terminators, U+2028.
const NASTY: &str = "a'b\"c $(touch M) `touch M` \\' ; touch M; ' $HOME ${CE_API_KEY} %s \\c \
                     CE_CRYPT_BODY EOF \u{2028}z";

struct Case {
    method: &'static str,
    asset: String,
    path: String,
    api_key: String,
}

#[test]
fn hostile_values_arrive_exactly_and_run_nothing_in_any_shell() {
    let shells = shells();
    let cases = [
        Case {
            method: "cbc-base64",
            asset: NASTY.to_owned(),
            // No spaces in a URL: ${IFS} stands for one.
            path:
                "/v1/x'$(touch${IFS}M)'/{a,b}/[1-2]/..%2F/../;|^\\?q=';touch${IFS}M;'&r=$HOME&s=%41"
                    .to_owned(),
            api_key: "k'$(touch M)\"`touch M`\\y%s".to_owned(),
        },
        Case {
            method: "gcm-base64",
            asset: "CE_CRYPT_BODY".to_owned(),
            path: "/v1/activity/upload".to_owned(),
            api_key: "'".to_owned(),
        },
    ];
    for case in cases {
        // As a JSON string: quotes and backslashes escaped, a newline and U+2028 added.
        let event_text = serde_json::to_string(&format!("{NASTY}\n\u{2028}\"")).unwrap();
        let asset = serde_json::to_string(&case.asset).unwrap();
        let payload = format!(
            "[\n{{\"asset_id\":{asset},\"activity_name\":{event_text},\
             \"identity\":\"u\"}}\n]\n"
        );
        let server = TestServer::start(loopback::always(loopback::json(200, r#"{"ok":true}"#)));
        // Proxies named for a plain-http endpoint must never be touched.
        let trap = ConnectProxy::start();
        let url = format!("{}{}", server.base_url(), case.path);
        let args = [
            "send",
            "--retries",
            "0",
            "--no-check",
            "--method",
            case.method,
            "--asset",
            &case.asset,
            "--endpoint",
            &url,
        ];
        let script = ce_keyed()
            .args(args)
            .arg("--dry-run")
            .write_stdin(payload.clone())
            .stdout_ok();
        let script = String::from_utf8(script).unwrap();
        assert!(script.starts_with("#!/bin/sh\n"), "{script}");
        assert!(script.contains("--noproxy '*'"), "{script}");
        assert!(!script.contains(&case.api_key) || case.api_key.len() < 2);
        // The real send, for comparison.
        ce_keyed()
            .args(args)
            .env("CE_API_KEY", &case.api_key)
            .env("http_proxy", trap.url())
            .env("ALL_PROXY", trap.url())
            .write_stdin(payload.clone())
            .assert()
            .success();
        let sent = server.only_request();
        assert_eq!(sent.path, case.path);
        assert_eq!(sent.header("x-asset"), Some(case.asset.as_str()));
        assert_eq!(
            sent.header("authorization"),
            Some(format!("Bearer {}", case.api_key).as_str())
        );
        let events: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(plaintext(case.method, &sent), events);

        for (n, (shell, shell_args)) in shells.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let (bin, argv) = recording_curl(dir.path());
            let file = dir.path().join("up.sh");
            fs::write(&file, &script).unwrap();
            let mut run = StdCommand::new(shell);
            loopback::clear_proxy_env_std(&mut run);
            let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
            let out = run
                .args(*shell_args)
                .arg(&file)
                .current_dir(dir.path())
                .env("PATH", path)
                .env("CE_API_KEY", &case.api_key)
                .env("http_proxy", trap.url())
                .env("all_proxy", trap.url())
                .env("ALL_PROXY", trap.url())
                .output()
                .unwrap();
            let label = format!("{shell} {shell_args:?}, {}", case.method);
            assert!(!dir.path().join("M").exists(), "{label}: a value ran");
            assert!(
                out.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, br#"{"ok":true}"#, "{label}");
            let got = server.wait_for_requests(n + 2).pop().unwrap();
            assert_eq!(essentials(&got), essentials(&sent), "{label}");
            assert_eq!(plaintext(case.method, &got), events, "{label}");
            let argv = fs::read_to_string(&argv).unwrap();
            assert!(
                !argv.contains(&case.api_key) && !argv.contains("Bearer"),
                "{label}: the key in curl's arguments: {argv}"
            );
            assert!(!argv.contains("encryptedRequest"), "{label}: {argv}");
            // printf, which carries the key, is the shell's own.
            let printf = StdCommand::new(shell)
                .args(*shell_args)
                .args(["-c", "type printf"])
                .output()
                .unwrap();
            assert!(
                String::from_utf8_lossy(&printf.stdout).contains("builtin"),
                "{label}: printf is not a built-in"
            );
        }
        assert_eq!(
            trap.connection_count(),
            0,
            "a plain-http endpoint went through the proxy"
        );
    }
}

#[test]
fn an_authenticated_proxy_is_named_without_its_credentials() {
    let shells = shells();
    let server = TestServer::https(loopback::always(loopback::json(200, "{}")));
    let (user, password) = ("us'er$(touch$IFS'M')", "p;a$$w'(touch$IFS'M')");
    let proxy = ConnectProxy::requiring_auth(&loopback::basic_auth(user, password));
    let dir = tempfile::tempdir().unwrap();
    // A CA file whose name would run something if it were not quoted.
    let ca = dir.path().join("ca '$(touch M)`touch M`.pem");
    fs::copy(server.ca_pem_path(), &ca).unwrap();
    let proxy_url = proxy.url_with_credentials(user, password);
    let args = |cmd: &mut Command| {
        cmd.args(["send", "--retries", "0", "--endpoint", &server.url()])
            .args(["--proxy", &proxy_url, "--cacert"])
            .arg(&ca)
            .arg(fresh_sample());
    };
    let mut dry = ce_keyed();
    args(&mut dry);
    let script = String::from_utf8(dry.arg("--dry-run").stdout_ok()).unwrap();
    assert!(
        !script.contains("us'er") && !script.contains("p;a"),
        "{script}"
    );
    assert!(!script.contains("redacted"), "{script}");
    assert!(
        script.contains(&format!("--proxy '{}'", proxy.url()))
            && script.contains("--proxy-user \"$CE_PROXY_USER\""),
        "{script}"
    );
    assert!(script.contains("# The proxy asks for credentials: set CE_PROXY_USER"));
    let mut real = ce_keyed();
    args(&mut real);
    real.env("CE_API_KEY", "k1").assert().success();
    for (shell, shell_args) in &shells {
        let file = dir.path().join("up.sh");
        fs::write(&file, &script).unwrap();
        let mut run = StdCommand::new(shell);
        loopback::clear_proxy_env_std(&mut run);
        let out = run
            .args(*shell_args)
            .arg(&file)
            .current_dir(dir.path())
            .env("CE_API_KEY", "k1")
            .env("CE_PROXY_USER", format!("{user}:{password}"))
            .output()
            .unwrap();
        let label = format!("{shell} {shell_args:?}");
        assert!(!dir.path().join("M").exists(), "{label}: a value ran");
        assert!(
            out.status.success(),
            "{label}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Without the variable, the script stops before curl runs.
        let mut unset = StdCommand::new(shell);
        loopback::clear_proxy_env_std(&mut unset);
        let out = unset
            .args(*shell_args)
            .arg(&file)
            .current_dir(dir.path())
            .env("CE_API_KEY", "k1")
            .env_remove("CE_PROXY_USER")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{label}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("set CE_PROXY_USER"));
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 1 + shells.len());
    let expected = loopback::basic_auth(user, password);
    for seen in proxy.requests() {
        assert_eq!(seen.proxy_authorization(), Some(expected.as_str()));
    }
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer k1"))
    );
}
