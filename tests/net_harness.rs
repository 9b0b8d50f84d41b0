//! Self-tests of the loopback fixtures in `tests/common/net.rs`, each against a real,
//! independent client: ureq (with its own config, never the crate's) and, for SOCKS5
//! and plain proxy forwarding, curl. Everything stays on 127.0.0.1.
//!
//! Some also pin down what ureq 3 does, which the `send` command builds on: the
//! `ureq_*` tests (redirects), `https_fails_without_the_ca` and
//! `bad_certificates_are_rejected_even_with_the_ca` (how certificate errors arrive),
//! `connect_proxy_credentials` (what a CONNECT proxy sees, and a 407).
#![cfg(feature = "cli")]

mod common;
use common::net::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;
use std::time::{Duration, Instant};

use ureq::config::ConfigBuilder;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::typestate::AgentScope;
use ureq::{Agent, Proxy};

/// A ureq agent that ignores proxy variables, returns 4xx/5xx as responses, and gives
/// up after 20 s; `tweak` adjusts it.
fn agent_with(tweak: impl FnOnce(ConfigBuilder<AgentScope>) -> ConfigBuilder<AgentScope>) -> Agent {
    let builder = Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT));
    tweak(builder).build().new_agent()
}

fn agent() -> Agent {
    agent_with(|b| b)
}

/// TLS that trusts only `server`'s test CA.
fn trusting(server: &TestServer) -> TlsConfig {
    let ca = Certificate::from_der(server.ca().der()).to_owned();
    TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&[ca]))
        .build()
}

/// POSTs `body` and returns the status and body.
fn post(agent: &Agent, url: &str, body: &str) -> Result<(u16, Vec<u8>), ureq::Error> {
    let mut response = agent.post(url).send(body)?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_vec()?;
    Ok((status, body))
}

/// The rustls error inside a ureq error. ureq 3.5 reports certificate problems as
/// `Error::Io` (kind `InvalidData`) wrapping a `rustls::Error`, not as `Error::Rustls`.
fn certificate_error(error: &ureq::Error) -> Option<&rustls::Error> {
    match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// Runs curl; panics with its stderr unless it succeeds.
fn curl_ok(args: &[&str]) -> String {
    let out: Output = curl().args(args).output().expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------
// The HTTP server

#[test]
fn urls_are_loopback() {
    let server = TestServer::start(always(respond(200, "")));
    let port = server.addr().port();
    assert_eq!(
        server.url(),
        format!("http://127.0.0.1:{port}/v1/activity/upload")
    );
    assert_eq!(server.ip_url(), server.url());
    assert!(!server.is_https());
    let tls = TestServer::https(always(respond(200, "")));
    let port = tls.addr().port();
    assert_eq!(
        tls.url(),
        format!("https://localhost:{port}/v1/activity/upload")
    );
    assert_eq!(
        tls.ip_url(),
        format!("https://127.0.0.1:{port}/v1/activity/upload")
    );
    let proxy = ConnectProxy::start();
    assert_eq!(
        proxy.url(),
        format!("http://127.0.0.1:{}", proxy.addr().port())
    );
    let socks = Socks5Proxy::start();
    assert_eq!(
        socks.url(),
        format!("socks5://127.0.0.1:{}", socks.addr().port())
    );
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = TestServer::start(queue([respond(200, "first"), json(201, r#"{"n":2}"#)]));
    let agent = agent();
    assert_eq!(
        post(&agent, &server.url(), "one").unwrap(),
        (200, b"first".to_vec())
    );
    assert_eq!(
        post(&agent, &server.url(), "two").unwrap(),
        (201, br#"{"n":2}"#.to_vec())
    );
    // The queue is empty now: 500, saying so.
    let (status, body) = post(&agent, &server.url(), "three").unwrap();
    assert_eq!(status, 500);
    assert!(text(&body).contains("no response left"), "{}", text(&body));

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(server.connection_count(), 1);
    assert!(requests.iter().all(|r| r.connection == 0));
    let first = &requests[0];
    assert_eq!(first.request_line, "POST /v1/activity/upload HTTP/1.1");
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("POST", UPLOAD_PATH)
    );
    assert_eq!(first.version, "HTTP/1.1");
    assert_eq!(first.body_str(), "one");
    assert!(!first.chunked);
    assert_eq!(first.header("CONTENT-LENGTH"), Some("3"));
    assert_eq!(first.header("content-length"), Some("3"));
    assert_eq!(requests[1].body, b"two");
}

#[test]
fn separate_connections_get_separate_ids() {
    let server = TestServer::start(queue([
        respond(200, "a").close(),
        respond(200, "b"),
        respond(200, "c"),
    ]));
    let agent = agent();
    // The first answer closes its connection, so the second request needs a new one.
    post(&agent, &server.url(), "1").unwrap();
    post(&agent, &server.url(), "2").unwrap();
    // Another agent has its own pool.
    post(&self::agent(), &server.url(), "3").unwrap();
    let ids: Vec<usize> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(server.connection_count(), 3);
}

#[test]
fn chunked_request_bodies_are_read() {
    let server = TestServer::start(always(respond(200, "ok")));
    let mut payload: &[u8] = b"streamed without a length";
    let response = agent()
        .post(&server.url())
        .send(ureq::SendBody::from_reader(&mut payload))
        .unwrap();
    assert_eq!(response.status(), 200);
    let request = server.only_request();
    assert!(request.chunked, "{request:#?}");
    assert_eq!(request.header("transfer-encoding"), Some("chunked"));
    assert_eq!(request.body_str(), "streamed without a length");

    // curl's chunked upload, and a large body after Expect: 100-continue.
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    std::fs::write(&small, "chunked by curl").unwrap();
    let big = dir.path().join("big");
    std::fs::write(&big, "x".repeat(2 * 1024 * 1024)).unwrap();
    let data = |path: &std::path::Path| format!("@{}", path.display());
    let chunked = ["-H", "Transfer-Encoding: chunked", "--data-binary"];
    curl_ok(&[&chunked[..], &[&data(&small), &server.url()]].concat());
    let expect = ["-H", "Expect: 100-continue", "--data-binary"];
    let start = Instant::now();
    curl_ok(&[&expect[..], &[&data(&big), &server.url()]].concat());
    // (curl waits up to 1 s for the 100 before sending anyway.)
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "no 100 Continue?"
    );
    let requests = server.requests();
    assert!(requests[1].chunked);
    assert_eq!(requests[1].body_str(), "chunked by curl");
    assert_eq!(requests[2].header("expect"), Some("100-continue"));
    assert_eq!(requests[2].body.len(), 2 * 1024 * 1024);
}

#[test]
fn scripted_bodies_reach_the_client() {
    let server = TestServer::start(queue([
        body_of_len(200, 100_000),
        non_utf8_body(502),
        respond(418, "short")
            .reason("I'm a teapot")
            .header("X-Test", "yes"),
        respond(200, "head has no body"),
    ]));
    let agent = agent();
    let (status, body) = post(&agent, &server.url(), "").unwrap();
    assert_eq!((status, body.len()), (200, 100_000));
    assert!(body.starts_with(b"abcdefghijklmnopqrstuvwxyzabc"));
    assert_eq!(
        post(&agent, &server.url(), "").unwrap(),
        (502, NON_UTF8.to_vec())
    );
    let mut response = agent.post(&server.url()).send("").unwrap();
    assert_eq!(response.status(), 418);
    assert_eq!(response.headers()["x-test"], "yes");
    // (A response dropped unread would cost the connection: read it.)
    assert_eq!(response.body_mut().read_to_string().unwrap(), "short");
    let mut response = agent.head(&server.url()).call().unwrap();
    assert_eq!(response.headers()["content-length"], "16");
    assert_eq!(response.body_mut().read_to_vec().unwrap(), b"");
    // Every answer so far kept the one connection usable.
    assert_eq!(server.connection_count(), 1);
}

#[test]
fn echo_authorization_returns_the_header() {
    let server = TestServer::start(echo_authorization);
    let mut response = agent()
        .post(&server.url())
        .header("Authorization", "Bearer abc123")
        .send("")
        .unwrap();
    assert_eq!(
        response.body_mut().read_to_string().unwrap(),
        "Bearer abc123"
    );
    assert_eq!(
        post(&agent(), &server.url(), "").unwrap(),
        (200, Vec::new())
    );
}

#[test]
fn a_closure_script_sees_each_request() {
    let server = TestServer::start(|request: &Request| {
        respond(
            200,
            format!("{} {} {}", request.method, request.path, request.body.len()),
        )
    });
    let url = format!("{}/other?x=1", server.base_url());
    assert_eq!(
        post(&agent(), &url, "12345").unwrap().1,
        b"POST /other?x=1 5"
    );
}

#[test]
fn delays_drops_and_raw_answers() {
    let server = TestServer::start(queue([
        respond(200, "late").delay(Duration::from_millis(300)),
        Response::drop_connection(),
        Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
        respond(200, "slow").delay(Duration::from_secs(5)),
    ]));
    let start = Instant::now();
    assert_eq!(post(&agent(), &server.url(), "").unwrap().1, b"late");
    assert!(start.elapsed() >= Duration::from_millis(300));

    let dropped = post(&agent(), &server.url(), "").unwrap_err();
    println!("a dropped connection: {dropped:?} / {dropped}");
    let truncated = post(&agent(), &server.url(), "").unwrap_err();
    println!("a truncated body: {truncated:?} / {truncated}");

    let start = Instant::now();
    let quick = agent_with(|b| b.timeout_global(Some(Duration::from_millis(200))));
    let timeout = post(&quick, &server.url(), "").unwrap_err();
    println!("a slow answer: {timeout:?} / {timeout}");
    assert!(matches!(timeout, ureq::Error::Timeout(_)), "{timeout:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(server.request_count(), 4);
}

#[test]
fn dropping_the_server_ends_its_connections_at_once() {
    let server = TestServer::start(queue([
        respond(200, "one"),
        respond(200, "never").delay(Duration::from_secs(60)),
    ]));
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut waiting = TcpStream::connect(server.addr()).unwrap();
    waiting
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    server.wait_for_requests(2);
    let start = Instant::now();
    drop(server);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        start.elapsed()
    );
    // Both connections are closed: reading reaches the end.
    for mut stream in [idle, waiting] {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
    }
}

#[test]
fn dropping_a_proxy_ends_its_tunnels_at_once() {
    let server = TestServer::start(always(respond(200, "ok")));
    let connect = ConnectProxy::start();
    let socks = Socks5Proxy::start();
    // An open CONNECT tunnel and an open SOCKS5 tunnel, both idle.
    let mut via_connect = TcpStream::connect(connect.addr()).unwrap();
    write!(via_connect, "CONNECT {} HTTP/1.1\r\n\r\n", server.addr()).unwrap();
    let mut established = [0; 39];
    via_connect.read_exact(&mut established).unwrap();
    assert_eq!(&established, b"HTTP/1.1 200 Connection established\r\n\r\n");
    let mut via_socks = TcpStream::connect(socks.addr()).unwrap();
    via_socks.write_all(&[5, 1, 0]).unwrap();
    let mut reply = [0; 2];
    via_socks.read_exact(&mut reply).unwrap();
    assert_eq!(reply, [5, 0]);
    let port = server.addr().port().to_be_bytes();
    via_socks
        .write_all(&[5, 1, 0, 1, 127, 0, 0, 1, port[0], port[1]])
        .unwrap();
    let mut reply = [0; 10];
    via_socks.read_exact(&mut reply).unwrap();
    assert_eq!(reply[..2], [5, 0]);
    // Both tunnels reach the server, and its answers come back.
    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    for stream in [&mut via_connect, &mut via_socks] {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = [0; 40];
        stream.read_exact(&mut got).unwrap();
        assert_eq!(&got, answer);
    }
    let requests = server.requests();
    assert_ne!(requests[0].connection, requests[1].connection);

    // The tunnels are idle and open; dropping the proxies closes them.
    let start = Instant::now();
    drop(connect);
    drop(socks);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        start.elapsed()
    );
    for mut stream in [via_connect, via_socks] {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"");
    }
}

#[test]
fn malformed_requests_get_400_and_are_noted() {
    let server = TestServer::start(always(respond(200, "")));
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream.write_all(b"NONSENSE\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert_eq!(server.request_count(), 0);
    let errors = server.errors();
    assert!(
        errors.iter().any(|e| e.contains("bad request line")),
        "{errors:?}"
    );
}

// ---------------------------------------------------------------------------
// HTTPS

#[test]
fn https_works_with_the_test_ca() {
    let server = TestServer::https(always(json(200, r#"{"status":"success"}"#)));
    let agent = agent_with(|b| b.tls_config(trusting(&server)));
    assert_eq!(post(&agent, &server.url(), "a").unwrap().0, 200);
    assert_eq!(post(&agent, &server.ip_url(), "b").unwrap().0, 200);
    // ureq pools per host name, so localhost and 127.0.0.1 use a connection each.
    let ids: Vec<usize> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(ids, [0, 1]);

    // curl with the PEM file.
    let ca = server.ca_pem_path().to_str().unwrap();
    assert_eq!(
        curl_ok(&["--cacert", ca, "-d", "c", &server.url()]),
        r#"{"status":"success"}"#
    );
    assert!(
        std::fs::read_to_string(ca)
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(server.requests()[2].body_str(), "c");
}

#[test]
fn https_fails_without_the_ca() {
    let server = TestServer::https(always(respond(200, "")));
    // ureq's own roots (webpki-roots) do not have the test CA.
    let error = post(&agent(), &server.url(), "").unwrap_err();
    println!("unknown CA: {error:?} / {error}");
    assert_eq!(
        error.to_string(),
        "io: invalid peer certificate: UnknownIssuer"
    );
    assert!(matches!(
        certificate_error(&error),
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    ));
    // curl with the system roots (SSL_CERT_FILE is cleared) fails too: exit 60.
    let out = curl().args(["-d", "x", &server.url()]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(60),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another CA's file is no better.
    let other = TestCa::new();
    let out = curl()
        .args([
            "--cacert",
            other.pem_path().to_str().unwrap(),
            "-d",
            "x",
            &server.url(),
        ])
        .output()
        .unwrap();
    // (OpenSSL finds an issuer of the same name whose signature does not match: 35.)
    assert!(
        matches!(out.status.code(), Some(35 | 60)),
        "{out:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server saw the handshakes fail and never got a request.
    assert_eq!(server.request_count(), 0);
    assert_eq!(server.connection_count(), 3);
    wait_until("3 errors", || server.errors().len() == 3);
    let errors = server.errors();
    println!("server side: {errors:?}");
}

#[test]
fn bad_certificates_are_rejected_even_with_the_ca() {
    for (which, expected) in [
        (ServerCert::WrongHost, "NotValidForName"),
        (ServerCert::Expired, "Expired"),
        (ServerCert::SelfSigned, "UnknownIssuer"),
    ] {
        let server = TestServer::https_with(which, always(respond(200, "")));
        let agent = agent_with(|b| b.tls_config(trusting(&server)));
        let error = post(&agent, &server.url(), "").unwrap_err();
        println!("{which:?}: {error:?} / {error}");
        let rustls = certificate_error(&error).unwrap_or_else(|| panic!("{which:?}: {error:?}"));
        assert!(
            format!("{rustls:?}").contains(expected),
            "{which:?}: {rustls:?}"
        );
        assert_eq!(server.request_count(), 0);
    }
}

// ---------------------------------------------------------------------------
// Proxies

#[test]
fn connect_proxy_tunnels_https_and_records_the_target() {
    let server = TestServer::https(echo_authorization);
    let proxy = ConnectProxy::start();
    let agent = agent_with(|b| {
        b.tls_config(trusting(&server))
            .proxy(Some(Proxy::new(&proxy.url()).unwrap()))
    });
    let mut response = agent
        .post(&server.url())
        .header("Authorization", "Bearer through-the-tunnel")
        .send("payload")
        .unwrap();
    assert_eq!(
        response.body_mut().read_to_string().unwrap(),
        "Bearer through-the-tunnel"
    );
    post(&agent, &server.url(), "again").unwrap();

    let port = server.addr().port();
    assert_eq!(
        proxy.targets(),
        [format!("localhost:{port}")],
        "one tunnel, reused"
    );
    let connect = &proxy.requests()[0];
    assert_eq!(
        connect.request_line,
        format!("CONNECT localhost:{port} HTTP/1.1")
    );
    assert_eq!(connect.method, "CONNECT");
    assert_eq!(connect.proxy_authorization(), None);
    // The origin server saw normal requests, both on the tunnelled connection.
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, UPLOAD_PATH);
    assert_eq!(requests[1].connection, requests[0].connection);
    assert_eq!(requests[0].body_str(), "payload");
}

#[test]
fn connect_proxy_credentials() {
    let server = TestServer::start(always(respond(200, "through")));
    let expected = basic_auth("user", "pa55");
    assert_eq!(expected, "Basic dXNlcjpwYTU1");
    let proxy = ConnectProxy::requiring_auth(&expected);
    let via = |proxy_url: &str| agent_with(|b| b.proxy(Some(Proxy::new(proxy_url).unwrap())));

    let error = post(&via(&proxy.url()), &server.url(), "").unwrap_err();
    println!("no credentials: {error:?} / {error}");
    assert!(
        matches!(error, ureq::Error::ConnectProxyFailed(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("407"), "{error}");

    let wrong = proxy.url_with_credentials("user", "wrong");
    assert!(post(&via(&wrong), &server.url(), "").is_err());

    let right = proxy.url_with_credentials("user", "pa55");
    assert_eq!(
        post(&via(&right), &server.url(), "").unwrap(),
        (200, b"through".to_vec())
    );

    let seen: Vec<Option<String>> = proxy
        .requests()
        .iter()
        .map(|r| r.proxy_authorization().map(str::to_owned))
        .collect();
    assert_eq!(
        seen,
        [
            None,
            Some(basic_auth("user", "wrong")),
            Some(expected.clone())
        ]
    );
    // ureq tunnels plain http:// too (CONNECT, not an absolute URI), to the IP as named.
    assert_eq!(proxy.requests()[2].target, server.addr().to_string());
    assert_eq!(server.only_request().path, UPLOAD_PATH);
}

#[test]
fn connect_proxy_forwards_absolute_uri_requests() {
    let server = TestServer::start(echo_authorization);
    let proxy = ConnectProxy::start();
    // curl sends plain http:// through an HTTP proxy as "POST http://... HTTP/1.1".
    let body = curl_ok(&[
        "-x",
        &proxy.url(),
        "-H",
        "Authorization: Bearer forwarded",
        "-d",
        "posted",
        &server.url(),
    ]);
    assert_eq!(body, "Bearer forwarded");
    let forwarded = &proxy.requests()[0];
    assert_eq!(
        forwarded.request_line,
        format!("POST {} HTTP/1.1", server.url())
    );
    assert_eq!(forwarded.target, server.addr().to_string());
    let request = server.only_request();
    assert_eq!(request.request_line, "POST /v1/activity/upload HTTP/1.1");
    assert_eq!(request.body_str(), "posted");
    assert_eq!(request.header("connection"), Some("close"));

    // And curl through it to HTTPS uses CONNECT.
    let tls = TestServer::https(always(respond(200, "tls")));
    let ca = tls.ca_pem_path().to_str().unwrap();
    assert_eq!(
        curl_ok(&["-x", &proxy.url(), "--cacert", ca, &tls.url()]),
        "tls"
    );
    assert_eq!(proxy.requests()[1].method, "CONNECT");
}

#[test]
fn connect_proxy_refuses_other_hosts_and_reports_dead_ones() {
    let proxy = ConnectProxy::start();
    let ask = |request: &str| {
        let mut stream = TcpStream::connect(proxy.addr()).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let answer = ask("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
    let answer = ask("POST http://10.0.0.1/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{answer}");
    assert_eq!(proxy.targets(), ["api.example.com:443", "10.0.0.1:80"]);

    // A loopback target with nothing listening: 502, which ureq reports as such.
    let dead = dead_url();
    let agent = agent_with(|b| b.proxy(Some(Proxy::new(&proxy.url()).unwrap())));
    let error = post(&agent, &dead, "").unwrap_err();
    println!("proxy to a dead port: {error:?} / {error}");
    assert!(error.to_string().contains("502"), "{error}");
}

#[test]
fn socks5_proxy_tunnels_and_records_targets() {
    let server = TestServer::start(always(respond(200, "via socks")));
    let tls = TestServer::https(always(respond(200, "tls via socks")));
    let proxy = Socks5Proxy::start();
    assert!(proxy.url().starts_with("socks5://127.0.0.1:"));
    // socks5://: curl sends the IPv4 address.
    assert_eq!(
        curl_ok(&["-x", &proxy.url(), "-d", "x", &server.url()]),
        "via socks"
    );
    // socks5h://: curl sends the name, and TLS runs through the tunnel.
    let socks5h = proxy.url().replace("socks5://", "socks5h://");
    let ca = tls.ca_pem_path().to_str().unwrap();
    assert_eq!(
        curl_ok(&["-x", &socks5h, "--cacert", ca, &tls.url()]),
        "tls via socks"
    );
    // --socks5-hostname is the same as socks5h.
    let addr = proxy.addr().to_string();
    assert_eq!(
        curl_ok(&["--socks5-hostname", &addr, "--cacert", ca, &tls.url()]),
        "tls via socks"
    );

    let requests = proxy.requests();
    let tls_port = tls.addr().port();
    assert_eq!(
        requests,
        [
            SocksRequest {
                target: server.addr().to_string(),
                address: SocksAddress::Ipv4,
                command: 1
            },
            SocksRequest {
                target: format!("localhost:{tls_port}"),
                address: SocksAddress::Domain,
                command: 1
            },
            SocksRequest {
                target: format!("localhost:{tls_port}"),
                address: SocksAddress::Domain,
                command: 1
            },
        ]
    );
    assert_eq!(server.request_count(), 1);
    assert_eq!(tls.request_count(), 2);
}

#[test]
fn socks5_proxy_refuses_other_hosts_and_dead_ports() {
    let proxy = Socks5Proxy::start();
    // socks5h: the name goes to the proxy unresolved, and the proxy refuses it.
    let out = curl()
        .args([
            "--socks5-hostname",
            &proxy.addr().to_string(),
            "http://api.example.com/",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    println!(
        "socks refusal, curl says: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dead = dead_address();
    let out = curl()
        .args(["-x", &proxy.url(), &format!("http://{dead}/")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    println!(
        "socks to a dead port, curl says: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        proxy.targets(),
        ["api.example.com:80".to_owned(), dead.to_string()]
    );
}

#[test]
fn dead_address_refuses_connections() {
    let url = dead_url();
    assert!(url.starts_with("http://127.0.0.1:"));
    let error = post(&agent(), &url, "").unwrap_err();
    println!("a dead address: {error:?} / {error}");
    assert!(
        matches!(&error, ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "{error:?}"
    );
    assert!(TcpStream::connect(dead_address()).is_err());
}

#[test]
fn clear_proxy_env_removes_every_variable() {
    let mut cmd = assert_cmd::Command::new("env");
    for var in PROXY_ENV {
        cmd.env(var, "http://192.0.2.1:9");
    }
    clear_proxy_env(&mut cmd);
    let out = cmd.output().unwrap();
    let env = String::from_utf8(out.stdout).unwrap();
    for var in PROXY_ENV {
        assert!(
            !env.lines().any(|l| l.starts_with(&format!("{var}="))),
            "{var} is still set"
        );
    }
}

// ---------------------------------------------------------------------------
// What ureq 3 does with redirects (the `send` command depends on these)

#[test]
fn ureq_redirects_with_max_redirects_0_reach_the_client_as_responses() {
    for status in [301, 302, 303, 307, 308] {
        let server = TestServer::start(always(redirect(status, "/moved")));
        let agent = agent_with(|b| b.max_redirects(0));
        let response = agent.post(&server.url()).send("body").unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(response.headers()["location"], "/moved");
        assert_eq!(server.request_count(), 1);
    }
}

#[test]
fn ureq_following_redirects_turns_post_into_get_or_fails() {
    for status in [301, 302, 303, 307, 308] {
        let server = TestServer::start(move |request: &Request| {
            if request.path == UPLOAD_PATH {
                redirect(status, "/moved")
            } else {
                respond(200, "landed")
            }
        });
        let result = agent()
            .post(&server.url())
            .header("Authorization", "Bearer secret")
            .send("body");
        let requests = server.requests();
        match status {
            301..=303 => {
                let mut response = result.unwrap();
                assert_eq!(response.body_mut().read_to_string().unwrap(), "landed");
                assert_eq!(requests.len(), 2);
                let second = &requests[1];
                assert_eq!(second.request_line, "GET /moved HTTP/1.1", "{status}");
                assert_eq!(second.body, b"");
                assert_eq!(second.header("authorization"), None, "{status}");
            }
            _ => {
                let error = result.unwrap_err();
                println!("{status} to a POST: {error:?} / {error}");
                assert!(
                    matches!(error, ureq::Error::RedirectFailed),
                    "{status}: {error:?}"
                );
                assert_eq!(requests.len(), 1);
            }
        }
    }
}
