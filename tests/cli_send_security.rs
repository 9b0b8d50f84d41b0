//! `send` against loopback fixtures, on what an attacker outside the machine
//! could use (issue 30): a plain-http endpoint never goes through a proxy, a
//! proxy's refusal is named and not retried, `NO_PROXY` is read as the real
//! curl reads it, only certificate authorities are trust anchors, and the
//! API key echoed back by a server in any form is never printed or stored.
#![cfg(feature = "cli")]

mod common;
use common::net::{self as loopback, ConnectProxy, ServerCert, Socks5Proxy, TestCa, TestServer};
use common::*;
use std::fs;
use std::process::Command as StdCommand;

const API_KEY: &str = "pk_live/9x+Yq~Zr8?Lm3>>Tz.w";

/// `send` of a fresh sample to `url`, one attempt per request.
fn send_to(url: &str) -> Command {
    let mut cmd = send_retrying(url, 0);
    cmd.arg(fresh_sample());
    cmd
}

/// `send` to `url` with `retries` (the payload still to add).
fn send_retrying(url: &str, retries: u8) -> Command {
    let mut cmd = ce_keyed();
    cmd.env("CE_API_KEY", API_KEY).args([
        "send",
        "--endpoint",
        url,
        "--retries",
        &retries.to_string(),
    ]);
    cmd
}

// ---- Proxies ----

#[test]
fn a_plain_http_endpoint_never_goes_through_a_proxy() {
    let server = TestServer::start(loopback::always(loopback::json(200, "{}")));
    let connect = ConnectProxy::start();
    let socks = Socks5Proxy::start();
    for (var, proxy) in [
        ("http_proxy", connect.url()),
        ("HTTP_PROXY", connect.url()),
        ("all_proxy", socks.url()),
        ("ALL_PROXY", connect.url()),
        ("https_proxy", connect.url()),
    ] {
        let stderr = send_to(&server.url())
            .arg("-v")
            .env(var, &proxy)
            .assert()
            .success();
        let stderr = String::from_utf8_lossy(&stderr.get_output().stderr).into_owned();
        assert!(stderr.contains("proxy: none"), "{var}: {stderr}");
    }
    assert_eq!(server.request_count(), 5);
    assert_eq!(connect.connection_count(), 0, "the API key crossed a proxy");
    assert_eq!(socks.connection_count(), 0, "the API key crossed a proxy");
    // Naming one for it is refused before anything is sent.
    let stderr = fails_with(
        send_to(&server.url()).args(["--proxy", &connect.url()]),
        "is plain http://, which is always reached directly and never through a proxy",
    );
    assert!(stderr.contains("; drop --proxy"), "{stderr}");
    assert_eq!(server.request_count(), 5);
    assert_eq!(connect.connection_count(), 0);
}

#[test]
fn a_proxy_that_refuses_is_named_and_not_retried() {
    let server = TestServer::https(loopback::always(loopback::json(200, "{}")));
    let ca = server.ca_pem_path().to_owned();
    let wants_auth = ConnectProxy::requiring_auth(&loopback::basic_auth("me", "right"));
    let wrong = wants_auth.url_with_credentials("me", "hunter2");
    let stderr = send_retrying(&server.url(), 3)
        .args(["--proxy", &wrong, "--cacert"])
        .arg(&ca)
        .arg(fresh_sample())
        .stderr_failed();
    assert!(
        stderr.contains(&format!(
            "the proxy http://me:[redacted]@{} refused to connect to {}: it answered 407 \
             Proxy Authentication Required",
            wants_auth.addr(),
            server.url()
        )) && stderr.contains("USER:PASSWORD"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert_eq!(wants_auth.requests().len(), 1, "a refusal was retried");
    // 403: this proxy reaches 127.0.0.1 and localhost only.
    let strict = ConnectProxy::start();
    let elsewhere = format!(
        "https://127.0.0.2:{}/v1/activity/upload",
        server.addr().port()
    );
    let stderr = send_retrying(&elsewhere, 3)
        .args(["--proxy", &strict.url()])
        .arg(fresh_sample())
        .stderr_failed();
    assert!(
        stderr.contains("refused to connect to") && stderr.contains("it answered 403 Forbidden"),
        "{stderr}"
    );
    assert!(stderr.contains("--no-proxy"), "{stderr}");
    assert_eq!(strict.requests().len(), 1, "a refusal was retried");
    assert_eq!(server.request_count(), 0);
}

/// The version of the curl command, as (major, minor).
fn curl_version() -> (u32, u32) {
    let out = StdCommand::new("curl")
        .arg("--version")
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(1).unwrap_or("0.0");
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn no_proxy_is_read_as_the_curl_command_reads_it() {
    let server = TestServer::https(loopback::always(loopback::json(200, "{}")));
    let ca = server.ca_pem_path().to_str().unwrap().to_owned();
    let port = server.addr().port();
    // (the URL's host, NO_PROXY): each run once through curl, once through send.
    let mut cases: Vec<(String, String)> = [
        "localhost",
        ".localhost",
        "localhost.",
        "LOCALHOST",
        "*",
        "example.org, localhost",
        "example.org,,localhost",
        "*.localhost",
        "*, example.org",
        "host",
        "127.0.0.1",
    ]
    .iter()
    .map(|list| (server.url(), list.to_string()))
    .collect();
    cases.push((server.url(), format!("localhost:{port}")));
    for list in [
        "127.0.0.0/8",
        "127.0.0.1",
        "127.0.0.1/32",
        "10.0.0.0/8",
        "localhost",
        "127.0.0.2/0",
    ] {
        cases.push((server.ip_url(), list.to_owned()));
    }
    // curl 8.9 reads a space-separated list up to its first entry; older curl read it all.
    let (major, minor) = curl_version();
    if (major, minor) >= (8, 9) {
        cases.push((server.url(), "example.org localhost".to_owned()));
    } else {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "note: curl {major}.{minor} reads space-separated NO_PROXY lists as curl 7 \
                 did; that case was compared with the unit tests only\n"
            )
            .as_bytes(),
        );
    }
    for (url, list) in &cases {
        for explicit in [false, true] {
            let proxy = ConnectProxy::start();
            let mut curl = loopback::curl();
            curl.args(["-o", "/dev/null", "--cacert", &ca])
                .env("NO_PROXY", list);
            if explicit {
                curl.args(["--proxy", &proxy.url()]);
            } else {
                curl.env("https_proxy", proxy.url());
            }
            let status = curl.arg(url).status().unwrap();
            assert!(status.success(), "curl with NO_PROXY={list:?}");
            let curl_proxied = proxy.connection_count() > 0;

            let proxy = ConnectProxy::start();
            let mut send = send_to(url);
            send.args(["--cacert", &ca]).env("NO_PROXY", list);
            if explicit {
                send.args(["--proxy", &proxy.url()]);
            } else {
                send.env("https_proxy", proxy.url());
            }
            send.assert().success();
            assert_eq!(
                proxy.connection_count() > 0,
                curl_proxied,
                "NO_PROXY={list:?} for {url} (--proxy: {explicit}): curl went {}",
                if curl_proxied {
                    "through the proxy"
                } else {
                    "directly"
                }
            );
        }
    }
}

// ---- Trust ----

#[test]
fn a_certificate_issued_by_a_non_ca_is_refused_from_every_source() {
    let server = TestServer::https_with(
        ServerCert::IssuedByNonCa,
        loopback::always(loopback::json(200, "{}")),
    );
    let issuer = server.ca_pem_path().to_owned();
    // OpenSSL, through curl, refuses it as well.
    let curl = loopback::curl()
        .args(["-o", "/dev/null", "--cacert"])
        .arg(&issuer)
        .arg(server.url())
        .status()
        .unwrap();
    assert_eq!(
        curl.code(),
        Some(60),
        "curl accepted a leaf issued by a non-CA"
    );
    let seen_by_curl = server.connection_count();

    let stderr = fails_with(
        send_to(&server.url()).arg("--cacert").arg(&issuer),
        "holds no certificate authority: its 1 certificate(s) may not issue others",
    );
    assert!(stderr.contains("--cacert FILE"), "{stderr}");
    assert_eq!(
        server.connection_count(),
        seen_by_curl,
        "refused, yet connected"
    );

    let not_trusted = "the certificate of localhost is not trusted: it is not signed by a \
                       certificate authority this machine trusts";
    fails_with(
        send_to(&server.url()).env("SSL_CERT_FILE", &issuer),
        not_trusted,
    );
    let dir = tempfile::tempdir().unwrap();
    fs::copy(&issuer, dir.path().join("snakeoil.pem")).unwrap();
    fails_with(
        send_to(&server.url()).env("SSL_CERT_DIR", dir.path()),
        not_trusted,
    );
    // Beside a real CA in one file: set aside, and counted by -v.
    let other = TestCa::new();
    let both = dir.path().join("both.pem");
    fs::write(
        &both,
        format!("{}{}", fs::read_to_string(&issuer).unwrap(), other.pem()),
    )
    .unwrap();
    fails_with(
        send_to(&server.url()).arg("--cacert").arg(&both),
        not_trusted,
    );
    assert_eq!(server.request_count(), 0);

    let good = TestServer::https(loopback::always(loopback::json(200, "{}")));
    let mixed = dir.path().join("mixed.pem");
    let good_ca = fs::read_to_string(good.ca_pem_path()).unwrap();
    fs::write(
        &mixed,
        format!("{}{good_ca}", fs::read_to_string(&issuer).unwrap()),
    )
    .unwrap();
    let out = send_to(&good.url())
        .arg("-v")
        .env("SSL_CERT_FILE", &mixed)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains(
            "trust: 1 system + 0 bundled + 0 extra CA certificates (1 set aside: not allowed \
             to issue)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_self_signed_server_certificate_is_not_a_ca() {
    let server = TestServer::https_with(
        ServerCert::SelfSigned,
        loopback::always(loopback::json(200, "{}")),
    );
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("server.pem");
    fs::write(&own, server.cert_pem()).unwrap();
    // curl (OpenSSL) takes it as an exact match; ce-crypt asks for the CA.
    let curl = loopback::curl()
        .args(["-o", "/dev/null", "--cacert"])
        .arg(&own)
        .arg(server.url())
        .status()
        .unwrap();
    assert!(
        curl.success(),
        "curl refused a self-signed certificate given as --cacert"
    );
    let seen_by_curl = server.connection_count();
    fails_with(
        send_to(&server.url()).arg("--cacert").arg(&own),
        "holds no certificate authority",
    );
    assert_eq!(
        server.connection_count(),
        seen_by_curl,
        "refused, yet connected"
    );
}

#[test]
fn certificate_failures_read_as_sentences() {
    for (which, words) in [
        (
            ServerCert::Valid,
            "it is not signed by a certificate authority this machine trusts",
        ),
        (ServerCert::Expired, "it expired on 2001-01-01"),
        (
            ServerCert::WrongHost,
            "it is for wrong-host.invalid, not for this host name",
        ),
    ] {
        let server = TestServer::https_with(which, loopback::always(loopback::json(200, "{}")));
        let mut cmd = send_to(&server.url());
        if which != ServerCert::Valid {
            cmd.arg("--cacert").arg(server.ca_pem_path());
        }
        let stderr = fails_with(&mut cmd, words);
        assert!(
            !stderr.contains("Other(") && !stderr.contains("Error("),
            "{stderr}"
        );
        assert!(stderr.contains("--cacert FILE"), "{stderr}");
    }
}

// ---- Redaction ----

/// Every form a server might echo the key in, as the server writes it.
fn echoed_forms(key: &str) -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut forms = vec![
        key.to_owned(),
        key.to_uppercase(),
        key.to_lowercase(),
        hex(key.as_bytes()),
        hex(key.as_bytes()).to_uppercase(),
        key.bytes().map(|b| format!("%{b:02X}")).collect(),
        key.replace('/', "%2f")
            .replace('+', "%2B")
            .replace('?', "%3F"),
        key.replace('/', "\\/"),
        key.chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect(),
        format!("{}\n  {}", &key[..10], &key[10..]),
    ];
    for plain in [key.to_owned(), format!("Bearer {key}")] {
        for prefix in ["", "x", "xy"] {
            let input = format!("{prefix}{plain}");
            forms.push(STANDARD.encode(&input));
            forms.push(URL_SAFE_NO_PAD.encode(&input));
            forms.push(STANDARD.encode(&input).replace('/', "\\/"));
        }
    }
    forms
}

/// No eight characters in a row of `form` (whitespace aside) in `text`.
fn assert_no_trace(form: &str, text: &str, what: &str) {
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    let (form, text) = (squeeze(form), squeeze(text));
    for window in form.as_bytes().windows(8) {
        let window = String::from_utf8_lossy(window);
        assert!(
            !text.contains(&*window),
            "{window:?} of {form:?} in {what}: {text}"
        );
    }
}

#[test]
fn the_key_echoed_in_any_form_is_never_printed_or_stored() {
    let dir = tempfile::tempdir().unwrap();
    for (n, form) in echoed_forms(API_KEY).into_iter().enumerate() {
        for status in [401, 200] {
            let body = format!("{{\"error\":\"bad token\",\"echo\":\"{form}\"}}");
            let server = TestServer::start(loopback::always(loopback::json(status, body)));
            let report = dir.path().join(format!("report-{n}-{status}.json"));
            let out = send_to(&server.url())
                .arg("--report")
                .arg(&report)
                .output()
                .unwrap();
            assert_eq!(out.status.success(), status == 200, "{form:?}");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stored = fs::read_to_string(&report).unwrap();
            let label = format!("{status} echoing {form:?}");
            assert_no_trace(&form, &stdout, &format!("stdout of {label}"));
            assert_no_trace(&form, &stderr, &format!("stderr of {label}"));
            assert_no_trace(&form, &stored, &format!("the report of {label}"));
            assert!(
                format!("{stdout}{stderr}{stored}").contains("[redacted]"),
                "{label}: {stdout}{stderr}{stored}"
            );
        }
    }
}

#[test]
fn an_answer_shown_on_a_terminal_cannot_steer_it() {
    let server = TestServer::start(loopback::always(loopback::json(
        200,
        "{\"ok\":\"\u{1b}]0;owned\u{7}\u{1b}[2Jdone\"}",
    )));
    let state = tempfile::tempdir().unwrap();
    let command = format!(
        "env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy \
         XDG_STATE_HOME='{}' CE_SECRET_KEY={KEY} CE_SECRET_IV={IV} CE_API_KEY=key-7f3e9 '{}' send \
         --endpoint '{}' '{}'",
        state.path().display(),
        env!("CARGO_BIN_EXE_ce-crypt"),
        server.url(),
        fresh_sample()
    );
    let screen = in_terminal(&command);
    assert!(
        screen.contains("{\"ok\":\"\\x1b]0;owned\\x07\\x1b[2Jdone\"}"),
        "{screen:?}"
    );
    assert!(
        !screen.contains('\u{1b}'),
        "no progress bar either: {screen:?}"
    );
    // To a pipe, the answer's bytes as they are.
    let out = ce_keyed()
        .env("CE_API_KEY", "key-7f3e9")
        .args(["send", "--endpoint", &server.url(), &fresh_sample()])
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains('\u{1b}'));
}
