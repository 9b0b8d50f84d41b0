//! The library's upload `Client` against a real HTTP server on 127.0.0.1:
//! connections are reused across requests (what bulk sending needs).
#![cfg(feature = "cli")]

mod common;
use common::net::{self as loopback, TestServer};

use ce_crypt::upload::{ApiKey, Client, ClientConfig, Endpoint, Upload};
use ce_crypt::{Cipher, Iv, Key, Method, request};

#[test]
fn one_client_reuses_its_connection() {
    let server = TestServer::start(loopback::always(loopback::json(200, "{}")));
    let endpoint = Endpoint::parse(&server.url()).unwrap();
    let cipher = Cipher::new(Method::CbcBase64, Key::new([1; 32]), Some(Iv::new([2; 16]))).unwrap();
    let client = Client::new(ClientConfig::new()).unwrap();
    let key = ApiKey::new("k").unwrap();
    for n in 0..3 {
        let body = request::body(&cipher.encrypt(format!("[{n}]").as_bytes()).unwrap());
        let upload = Upload {
            endpoint: &endpoint,
            method: cipher.method(),
            asset_id: "A1",
            body: &body,
        };
        let answer = client.send(&upload, &key).unwrap();
        assert_eq!((answer.status, answer.body.as_str()), (200, "{}"));
    }
    assert_eq!(server.request_count(), 3);
    assert_eq!(server.connection_count(), 1);
    // A second client opens its own.
    let other = Client::new(ClientConfig::new()).unwrap();
    let body = request::body(&cipher.encrypt(b"[9]").unwrap());
    let upload = Upload {
        endpoint: &endpoint,
        method: cipher.method(),
        asset_id: "A1",
        body: &body,
    };
    other.send(&upload, &key).unwrap();
    assert_eq!(server.connection_count(), 2);
}

fn upload<'a>(endpoint: &'a Endpoint, body: &'a str) -> Upload<'a> {
    Upload {
        endpoint,
        method: Method::CbcBase64,
        asset_id: "A1",
        body,
    }
}

#[test]
fn a_plain_http_endpoint_is_reached_directly_whatever_the_proxy() {
    use ce_crypt::upload::ProxyUrl;
    let server = TestServer::start(loopback::always(loopback::json(200, "{}")));
    let proxy = loopback::ConnectProxy::start();
    let config = ClientConfig::new().proxy(Some(ProxyUrl::parse(&proxy.url()).unwrap()));
    let client = Client::new(config).unwrap();
    let endpoint = Endpoint::parse(&server.url()).unwrap();
    client
        .send(&upload(&endpoint, "{}"), &ApiKey::new("k").unwrap())
        .unwrap();
    assert_eq!(server.request_count(), 1);
    assert_eq!(proxy.connection_count(), 0, "the API key crossed a proxy");
}

#[test]
fn answers_are_redacted_at_the_source() {
    use base64::Engine;
    let key = "Zr8?Lm3>>Tz.w-live";
    let echo = base64::engine::general_purpose::STANDARD.encode(format!("Bearer {key}"));
    let server = TestServer::start(loopback::always(loopback::json(
        200,
        format!(
            "{{\"seen\":\"{echo}\",\"again\":\"{}\"}}",
            key.to_uppercase()
        ),
    )));
    let endpoint = Endpoint::parse(&server.url()).unwrap();
    let client = Client::new(ClientConfig::new()).unwrap();
    let answer = client
        .send(&upload(&endpoint, "{}"), &ApiKey::new(key).unwrap())
        .unwrap();
    assert_eq!(
        answer.body,
        "{\"seen\":\"[redacted]\",\"again\":\"[redacted]\"}"
    );
}

#[test]
fn failures_say_whether_the_request_may_have_arrived() {
    use ce_crypt::UploadError;
    let client = Client::new(ClientConfig::new()).unwrap();
    let key = ApiKey::new("k").unwrap();
    let send = |url: &str| {
        let endpoint = Endpoint::parse(url).unwrap();
        client.send(&upload(&endpoint, "{}"), &key)
    };
    let refused = send(&loopback::dead_url()).unwrap_err();
    assert!(!refused.may_have_arrived(), "{refused}");
    assert!(
        refused.to_string().contains("the connection was refused"),
        "{refused}"
    );
    // The server read the request, then hung up without answering.
    let dropped = TestServer::start(loopback::always(loopback::Response::drop_connection()));
    let broke = send(&dropped.url()).unwrap_err();
    assert!(broke.may_have_arrived(), "{broke}");
    assert_eq!(dropped.request_count(), 1);
    let rejected = TestServer::start(loopback::always(loopback::json(401, "{}")));
    let answer = send(&rejected.url()).unwrap_err();
    assert!(matches!(answer, UploadError::Rejected { status: 401, .. }));
    assert!(answer.may_have_arrived());
}
