//! `ce-crypt send` against a real HTTP server on 127.0.0.1 that each test starts: headers, body,
//! API key, errors, timeouts, `--dry-run`, event checks. Nothing here reaches the internet.
#![cfg(feature = "cli")]

mod common;
use common::*;
use predicates::prelude::*;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::{self, JoinHandle};
use std::time::Duration;

const API_KEY: &str = "panel-api-key-5f3c9a";

/// What the server received.
#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Serves one request with `status` and `body`; returns its URL and what it got.
fn serve(status: &'static str, body: &'static str) -> (String, JoinHandle<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v1/activity/upload",
        listener.local_addr().unwrap()
    );
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut content = vec![0; length];
        reader.read_exact(&mut content).unwrap();
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        Received {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body: String::from_utf8(content).unwrap(),
        }
    });
    (url, handle)
}

/// `send` with the test key, making one attempt per request: these tests are
/// about what one answer does (retries are tested in `cli_send_bulk`).
fn send() -> Command {
    let mut cmd = ce_keyed();
    cmd.env("CE_API_KEY", API_KEY)
        .args(["send", "--retries", "0"]);
    cmd
}

#[test]
fn posts_exactly_what_the_api_expects() {
    let (url, server) = serve("200 OK", r#"{"status":"success"}"#);
    send()
        .args(["--endpoint", &url, SAMPLE])
        .assert()
        .success()
        .stdout("{\"status\":\"success\"}\n")
        // SAMPLE's timestamp is long past: the API stores it but starts no journey.
        .stderr(predicate::str::starts_with(
            "warning: event[0].timestamp: 2025-08-26T12:05:43Z is more than 24 hours old",
        ));
    let got = server.join().unwrap();
    assert_eq!(got.request_line, "POST /v1/activity/upload HTTP/1.1");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("x-ecode"), Some("11256"));
    assert_eq!(
        got.header("x-asset"),
        Some("ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1")
    );
    assert_eq!(
        got.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1);
    let ciphertext = body["encryptedRequest"].as_str().unwrap();
    assert_eq!(ciphertext, openssl_encrypt(KEY, IV, SAMPLE.as_bytes()));
}

#[test]
fn method_code_asset_flag_and_key_file() {
    let (url, server) = serve("202 Accepted", "queued");
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("api.key");
    std::fs::write(&key_file, "from-a-file\n").unwrap();
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    ce_keyed()
        .args([
            "send",
            "--method",
            "gcm-base64",
            "--asset",
            "ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1",
            "--endpoint",
            &url,
            "--api-key-file",
        ])
        .arg(&key_file)
        .arg(SAMPLE)
        .assert()
        .success()
        .stdout("queued\n");
    let got = server.join().unwrap();
    assert_eq!(got.header("x-ecode"), Some("11258"));
    assert_eq!(
        got.header("x-asset"),
        Some("ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1")
    );
    assert_eq!(got.header("authorization"), Some("Bearer from-a-file"));
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    ce_keyed()
        .args([
            "decrypt",
            "--method",
            "gcm-base64",
            body["encryptedRequest"].as_str().unwrap(),
        ])
        .assert()
        .success()
        .stdout(SAMPLE);
}

#[test]
fn error_statuses_are_reported_with_their_body() {
    for (status, body, expected) in [
        (
            "401 Unauthorized",
            r#"{"error":"invalid token"}"#,
            r#"the API answered 401 Unauthorized: {"error":"invalid token"}"#,
        ),
        (
            "500 Internal Server Error",
            "boom",
            "the API answered 500 Internal Server Error: boom",
        ),
    ] {
        let (url, server) = serve(status, body);
        let stderr = send().args(["--endpoint", &url, SAMPLE]).stderr_failed();
        // After the warning that SAMPLE's timestamp is more than 24 hours old.
        assert_eq!(stderr.lines().last().unwrap(), format!("error: {expected}"));
        assert!(!stderr.contains(API_KEY));
        server.join().unwrap();
    }
}

#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let holder = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_secs(3));
        drop(stream);
    });
    let started = std::time::Instant::now();
    send()
        .args(["--endpoint", &url, "--timeout", "0.5", SAMPLE])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("no answer from").and(predicate::str::contains("--timeout")),
        );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout did not bound the request"
    );
    holder.join().unwrap();
}

#[test]
fn a_closed_port_names_the_endpoint() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/upload");
    send()
        .args(["--endpoint", &url, SAMPLE])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("could not reach {url}")));
}

#[test]
fn the_api_key_is_required_and_never_a_flag() {
    ce_keyed()
        .args(["send", SAMPLE])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("CE_API_KEY").and(predicate::str::contains("--api-key-file")),
        );
    ce_keyed()
        .args(["send", "--api-key", "x", SAMPLE])
        .assert()
        .code(2);
}

#[test]
fn dry_run_sends_nothing_and_prints_a_script() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let script = String::from_utf8(
        send()
            .args(["--dry-run", "--endpoint", &url, SAMPLE])
            .stdout_ok(),
    )
    .unwrap();
    assert!(
        listener.accept().is_err(),
        "--dry-run connected to the server"
    );
    assert!(script.contains(&format!("--url '{url}'")), "{script}");
    assert!(script.contains("'x-eCode: 11256'"), "{script}");
    assert!(
        script.contains("\"Authorization: Bearer ${CE_API_KEY}\""),
        "{script}"
    );
    assert!(!script.contains(API_KEY));
    // Without --endpoint, the region's URL.
    let default = String::from_utf8(send().args(["--dry-run", SAMPLE]).stdout_ok()).unwrap();
    assert!(
        default.contains("'https://api2.netcoresmartech.com/v1/activity/upload'"),
        "{default}"
    );
    let india = String::from_utf8(
        send()
            .args(["--dry-run", "--region", "in", SAMPLE])
            .stdout_ok(),
    )
    .unwrap();
    assert!(
        india.contains("'https://apiin2.netcoresmartech.com/v1/activity/upload'"),
        "{india}"
    );
}

#[test]
fn the_dry_run_script_posts_a_megabyte_with_curl_and_no_key_in_argv() {
    // At most 1000 events go in one request: longer events make up the megabyte.
    let event = SAMPLE
        .trim_start_matches('[')
        .trim_end_matches(']')
        .replace("Red Shoes", &"Red Shoes ".repeat(80));
    let payload = format!("[{}]", vec![event; 1000].join(","));
    assert!(payload.len() > 1024 * 1024);
    let script = String::from_utf8(
        send()
            .args([
                "--dry-run",
                "--endpoint",
                "http://127.0.0.1:9/v1/activity/upload",
            ])
            .write_stdin(payload.clone())
            .stdout_ok(),
    )
    .unwrap();
    assert!(!script.contains(API_KEY));
    // Everything before the body's here-document is the command line: no body in it.
    let command_line = script.split("3<<'CE_CRYPT_BODY'").next().unwrap();
    assert!(!command_line.contains("encryptedRequest"));

    let (url, server) = serve("202 Accepted", r#"{"status":"queued"}"#);
    let dir = tempfile::tempdir().unwrap();
    let script_file = dir.path().join("upload.sh");
    fs::write(
        &script_file,
        script.replace("http://127.0.0.1:9/v1/activity/upload", &url),
    )
    .unwrap();
    let out = std::process::Command::new("sh")
        .arg(&script_file)
        .env("CE_API_KEY", API_KEY)
        .env_remove("http_proxy")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .output()
        .expect("sh and curl are needed (apt-get install curl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        r#"{"status":"queued"}"#
    );
    let got = server.join().unwrap();
    assert_eq!(
        got.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(got.header("x-ecode"), Some("11256"));
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    let ciphertext = body["encryptedRequest"].as_str().unwrap();
    assert_eq!(ciphertext, openssl_encrypt(KEY, IV, payload.as_bytes()));
    // Without CE_API_KEY the script stops before curl runs.
    let unset = std::process::Command::new("sh")
        .arg(&script_file)
        .env_remove("CE_API_KEY")
        .output()
        .unwrap();
    assert!(!unset.status.success());
    assert!(String::from_utf8_lossy(&unset.stderr).contains("set CE_API_KEY"));
}

#[test]
fn events_are_checked_before_sending() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let bad = SAMPLE
        .replace("\"web\"", "\"ios\"")
        .replace("\"2025-08-26T12:05:43Z\"", "\"26/08/2025\"");
    let stderr = send().args(["--endpoint", &url, &bad]).stderr_failed();
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "error: event[0].timestamp: \"26/08/2025\" is not a date-time the API takes: write UTC as \
             2021-12-29T12:06:28Z, or local time with its offset as 2021-12-29T06:12:28+05:30 \
             (fractions of a second allowed)",
            "error: event[0].activity_source: must be \"web\" or \"app\", found \"ios\"",
        ]
    );
    assert!(listener.accept().is_err(), "a bad payload was sent");
    // --no-check sends it anyway (to a dry run here).
    send()
        .args(["--no-check", "--dry-run", &bad])
        .assert()
        .success();
}

#[test]
fn disagreeing_asset_ids_need_the_flag() {
    let event = |asset: &str| {
        SAMPLE
            .trim_start_matches('[')
            .trim_end_matches(']')
            .replace("ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1", asset)
    };
    let payload = format!("[{},{}]", event("A1"), event("B2"));
    // One request goes to one asset: the first event that differs is named.
    send()
        .args(["--dry-run", &payload])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: event[1].asset_id: \"B2\" differs from \"A1\" in event[0]",
        ));
    // Naming the asset does not make the other event's go there.
    send()
        .args(["--dry-run", "--asset", "A1", &payload])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(
            "error: event[1].asset_id: \"B2\" is not \"A1\", the asset this request goes to",
        ));
    // Without the checks, the named asset is used as given.
    send()
        .args(["--dry-run", "--no-check", "--asset", "A1", &payload])
        .assert()
        .success()
        .stdout(predicate::str::contains("'x-asset: A1'"));
}

// ---- The client: redirects, statuses, trust, proxies, regions, profiles ----

use common::net::{self as loopback, ConnectProxy, Socks5Proxy, TestServer};

/// `send` of the sample payload, stamped now, to `url`.
fn send_to(url: &str) -> Command {
    let mut cmd = send();
    cmd.args(["--endpoint", url, &fresh_sample()]);
    cmd
}

#[test]
fn redirects_are_errors_and_never_followed() {
    for status in [301, 302, 303, 307, 308] {
        let server = TestServer::start(loopback::always(loopback::redirect(
            status,
            "https://elsewhere.example/v1/activity/upload",
        )));
        let stderr = send_to(&server.url()).stderr_failed();
        assert!(
            stderr.starts_with(&format!("error: the API answered {status} "))
                && stderr.contains("a redirect to https://elsewhere.example/v1/activity/upload")
                && stderr.contains("not delivered"),
            "{stderr}"
        );
        assert_eq!(server.request_count(), 1, "{status} was followed");
    }
}

#[test]
fn any_2xx_is_success_whatever_its_body() {
    let weird = TestServer::start(loopback::always(loopback::non_utf8_body(200)));
    let out = send_to(&weird.url()).stdout_ok();
    assert_eq!(out, "caf\u{fffd} \u{fffd}\u{fffd}\n".as_bytes());

    let huge = TestServer::start(loopback::always(loopback::body_of_len(200, 17 << 20)));
    let assert = send_to(&huge.url()).assert().success();
    let output = assert.get_output();
    assert_eq!(output.stdout.len(), (1 << 20) + 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("accepted the upload (200 OK)"), "{stderr}");

    let empty = TestServer::start(loopback::always(loopback::respond(204, "")));
    assert_eq!(send_to(&empty.url()).stdout_ok(), b"\n");
}

#[test]
fn error_bodies_lose_escapes_and_the_echoed_key() {
    let server = TestServer::start(|request: &loopback::Request| {
        let auth = request.header("authorization").unwrap_or("").to_owned();
        loopback::respond(401, format!("\u{1b}[31mbad key\u{1b}[0m\n{auth}\r\n\u{7}"))
    });
    let stderr = send_to(&server.url()).stderr_failed();
    assert_eq!(
        stderr,
        "error: the API answered 401 Unauthorized: [31mbad key [0m Bearer [redacted]\n"
    );
    assert!(!stderr.contains(API_KEY) && !stderr.contains('\u{1b}'));
}

#[test]
fn plain_http_is_for_this_machine_only() {
    let stderr = send_to("http://netcore.invalid/v1/activity/upload").stderr_failed();
    assert!(
        stderr.contains("unencrypted") && stderr.contains("only https:// is allowed"),
        "{stderr}"
    );
    let stderr = send_to("https://user:hunter2@netcore.invalid/x").stderr_failed();
    assert!(stderr.contains("user name or password") && !stderr.contains("hunter2"));
}

#[test]
fn header_values_are_checked_before_anything_is_sent() {
    let server = TestServer::start(loopback::always(loopback::json(200, "{}")));
    let stderr = send_to(&server.url())
        .args(["--asset", " "])
        .stderr_failed();
    assert_eq!(stderr, "error: --asset: the asset id is empty\n");
    let stderr = send_to(&server.url())
        .args(["--asset", "A1\nX-Evil: 1"])
        .stderr_failed();
    assert!(stderr.contains("--asset: the asset id contains a control character (at character 3)"));
    let stderr = send_to(&server.url())
        .env("CE_API_KEY", "secret-part\nmore")
        .stderr_failed();
    assert_eq!(
        stderr,
        "error: CE_API_KEY: the API key contains a control character (at character 12), \
         which cannot be sent in an HTTP header\n"
    );
    assert_eq!(server.request_count(), 0);
    // Surrounding whitespace is trimmed from CE_API_KEY as from a file.
    send_to(&server.url())
        .env("CE_API_KEY", format!("  {API_KEY}\n"))
        .assert()
        .success();
    assert_eq!(
        server.only_request().header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
}

#[test]
fn https_trusts_the_system_store_plus_cacert() {
    let server = TestServer::https(loopback::always(loopback::json(200, r#"{"ok":1}"#)));
    let stderr = send_to(&server.url()).stderr_failed();
    assert!(
        stderr.starts_with("error: the certificate of localhost is not trusted")
            && stderr.contains("--cacert FILE"),
        "{stderr}"
    );
    let ca = server.ca_pem_path().to_str().unwrap().to_owned();
    send_to(&server.url())
        .args(["--cacert", &ca])
        .assert()
        .success();
    send_to(&server.url())
        .env("CE_CA_FILE", &ca)
        .assert()
        .success();
    // SSL_CERT_FILE replaces the system store, as it does for OpenSSL.
    send_to(&server.url())
        .env("SSL_CERT_FILE", &ca)
        .assert()
        .success();
    let stderr = send_to(&server.url())
        .args(["--cacert", "Cargo.toml"])
        .stderr_failed();
    assert!(stderr.contains("holds no PEM certificate"), "{stderr}");
}

#[test]
fn proxies_from_the_environment_as_curl_reads_them() {
    let server = TestServer::https(loopback::always(loopback::json(200, "{}")));
    let ca = server.ca_pem_path().to_str().unwrap().to_owned();
    let target = format!("localhost:{}", server.addr().port());
    let proxy = ConnectProxy::start();
    send_to(&server.url())
        .args(["--cacert", &ca])
        .env("HTTPS_PROXY", proxy.url())
        .assert()
        .success();
    assert_eq!(proxy.targets(), std::slice::from_ref(&target));
    // NO_PROXY as curl reads it, --no-proxy, and --proxy over the environment.
    send_to(&server.url())
        .args(["--cacert", &ca])
        .env("HTTPS_PROXY", proxy.url())
        .env("NO_PROXY", "example.org,localhost")
        .assert()
        .success();
    send_to(&server.url())
        .args(["--cacert", &ca, "--no-proxy"])
        .env("HTTPS_PROXY", proxy.url())
        .assert()
        .success();
    let other = ConnectProxy::start();
    send_to(&server.url())
        .args(["--cacert", &ca, "--proxy", &other.url()])
        .env("HTTPS_PROXY", proxy.url())
        .assert()
        .success();
    assert_eq!(proxy.targets().len(), 1, "the proxy was not bypassed");
    assert_eq!(other.targets(), [target]);
    assert_eq!(server.request_count(), 4);
}

#[test]
fn socks_proxies_are_used_not_bypassed() {
    let server = TestServer::https(loopback::always(loopback::json(200, "{}")));
    let socks = Socks5Proxy::start();
    send_to(&server.ip_url())
        .arg("--cacert")
        .arg(server.ca_pem_path())
        .env("ALL_PROXY", socks.url())
        .assert()
        .success();
    assert_eq!(socks.targets().len(), 1, "{:?}", socks.targets());
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_dead_proxy_is_named() {
    let server = TestServer::https(loopback::always(loopback::json(200, "{}")));
    let dead = loopback::dead_url();
    let stderr = send_to(&server.url())
        .env("https_proxy", &dead)
        .stderr_failed();
    assert!(
        stderr.contains(&format!("through the proxy {dead}")) && stderr.contains("--no-proxy"),
        "{stderr}"
    );
    let with_password = dead.replace("http://", "http://me:hunter2@");
    let stderr = send_to(&server.url())
        .args(["--proxy", &with_password])
        .stderr_failed();
    assert!(
        stderr.contains("me:[redacted]@") && !stderr.contains("hunter2"),
        "{stderr}"
    );
    assert_eq!(server.request_count(), 0);
}

/// The asset id of [`SAMPLE`]'s event.
const ASSET: &str = "ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1";

/// A profile folder holding `prod.env` with `lines` below the keys.
fn profile(lines: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("ce-crypt");
    fs::create_dir(&folder).unwrap();
    let file = folder.join("prod.env");
    fs::write(
        &file,
        format!("CE_SECRET_KEY={KEY}\nCE_SECRET_IV={IV}\n{lines}"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

#[test]
fn profiles_and_the_order_of_settings() {
    let from_profile = TestServer::start(loopback::always(loopback::json(200, "{}")));
    let from_env = TestServer::start(loopback::always(loopback::json(200, "{}")));
    let config = profile(&format!(
        "CE_API_KEY=profile-key\nCE_ASSET_ID={ASSET}\nCE_ENDPOINT={}\n",
        from_profile.url()
    ));
    let sample = fresh_sample();
    let base = || {
        let mut cmd = ce();
        cmd.env("XDG_CONFIG_HOME", config.path()).arg("send");
        cmd
    };
    // The profile alone: keys, API key, asset and endpoint.
    base()
        .args(["--profile", "prod", SAMPLE])
        .assert()
        .success();
    let got = from_profile.only_request();
    assert_eq!(got.header("authorization"), Some("Bearer profile-key"));
    assert_eq!(got.header("x-asset"), Some(ASSET));
    // The environment beats the profile; CE_PROFILE picks it like --profile.
    base()
        .env("CE_PROFILE", "prod")
        .env("CE_API_KEY", "env-key")
        .env("CE_ENDPOINT", from_env.url())
        .arg(&sample)
        .assert()
        .success();
    let got = from_env.only_request();
    assert_eq!(got.header("authorization"), Some("Bearer env-key"));
    // The asset too: the environment's (another asset than the events') is refused.
    let stderr = base()
        .env("CE_PROFILE", "prod")
        .env("CE_ASSET_ID", "ENVASSET")
        .arg(&sample)
        .stderr_failed();
    assert!(stderr.contains("ENVASSET"), "{stderr}");
    // Flags beat both.
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("api.key");
    write_private(&key_file, "flag-key\n");
    base()
        .env("CE_API_KEY", "env-key")
        .env("CE_ENDPOINT", from_env.url())
        .args(["--profile", "prod", "--asset", ASSET, "--endpoint"])
        .arg(from_profile.url())
        .arg("--api-key-file")
        .arg(&key_file)
        .arg(SAMPLE)
        .assert()
        .success();
    let got = from_profile.wait_for_requests(2).pop().unwrap();
    assert_eq!(got.header("authorization"), Some("Bearer flag-key"));
    assert_eq!(got.header("x-asset"), Some(ASSET));
    // A missing profile says where it was looked for.
    let stderr = base()
        .args(["--profile", "staging", SAMPLE])
        .stderr_failed();
    assert!(stderr.contains("ce-crypt/staging.env"), "{stderr}");
}

#[test]
fn verbose_shows_the_request_without_the_key() {
    let server = TestServer::start(loopback::always(loopback::json(200, "{}")));
    let assert = send_to(&server.url()).arg("-v").assert().success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains(&format!("> POST {}", server.url())),
        "{stderr}"
    );
    assert!(
        stderr.contains("> Authorization: Bearer [redacted]"),
        "{stderr}"
    );
    assert!(stderr.contains("> x-eCode: 11256"), "{stderr}");
    assert!(stderr.contains("< 200 OK in "), "{stderr}");
    // Each request's own x-asset, as sent.
    let sent = server.only_request();
    let asset = sent.header("x-asset").unwrap();
    assert!(stderr.contains(&format!("x-asset: {asset}")), "{stderr}");
    assert!(!stderr.contains("each batch's"), "{stderr}");
    assert!(!stderr.contains(API_KEY));
}
