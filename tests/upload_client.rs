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
