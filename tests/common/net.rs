//! Loopback network fixtures: an HTTP/1.1 server (plain or TLS with a throwaway CA),
//! an HTTP CONNECT proxy and a SOCKS5 proxy, each on `127.0.0.1:0`.
//!
//! The rules they keep:
//!
//! * **Loopback only.** Every listener binds `127.0.0.1`, and the proxies only ever
//!   connect onward to `127.0.0.1` (a target of `127.0.0.1` or `localhost`, which they
//!   map to `127.0.0.1` themselves, without DNS). Any other target is recorded and
//!   refused (`403` from [`ConnectProxy`], reply `0x02` from [`Socks5Proxy`]), so a
//!   client that tries to reach the real API through them fails instead of leaving
//!   the machine.
//! * **Bounded.** Every socket has read and write timeouts of [`TIMEOUT`], and the
//!   accept loops poll, so nothing blocks for longer than that.
//! * **Clean shutdown.** Dropping a fixture shuts down every socket it accepted or
//!   opened (which wakes any thread blocked on one), then joins all its threads.
//!   Scripted delays are cut short too. A test never waits on a fixture's threads
//!   for longer than it takes them to notice.
//! * **Quiet.** Server threads never panic: I/O problems (a client that rejected the
//!   certificate, a reset, a malformed request) are kept and can be read with
//!   `errors()`.
//!
//! A typical test:
//!
//! ```ignore
//! let server = TestServer::start(queue([json(200, r#"{"status":"success"}"#)]));
//! let mut cmd = ce_keyed();
//! clear_proxy_env(&mut cmd);
//! cmd.args(["send", "--endpoint", &server.url(), SAMPLE]).assert().success();
//! let request = server.only_request();
//! assert_eq!(request.header("x-ecode"), Some("11256"));
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The longest any fixture socket waits to read or write (and the longest
/// [`TestServer::wait_for_requests`] waits).
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The path of Netcore's upload API, which [`TestServer::url`] ends with.
pub const UPLOAD_PATH: &str = "/v1/activity/upload";

/// Environment variables that route or verify a client's connections: proxies,
/// `NO_PROXY`, and CA bundles. [`clear_proxy_env`] removes them all.
pub const PROXY_ENV: [&str; 11] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CE_CA_FILE",
];

/// How often the accept loops look for a new connection or for shutdown.
const POLL: Duration = Duration::from_millis(2);

// ---------------------------------------------------------------------------
// Environment and tools

/// Removes every [`PROXY_ENV`] variable from `cmd`'s environment, so a test behaves
/// the same behind a proxy (or with a CA bundle set) as on a bare machine.
pub fn clear_proxy_env(cmd: &mut assert_cmd::Command) {
    for var in PROXY_ENV {
        cmd.env_remove(var);
    }
}

/// [`clear_proxy_env`] for a `std::process::Command`.
pub fn clear_proxy_env_std(cmd: &mut std::process::Command) {
    for var in PROXY_ENV {
        cmd.env_remove(var);
    }
}

/// `curl -q --silent --show-error --max-time 20` with [`PROXY_ENV`] (and
/// `CURL_CA_BUNDLE`) cleared: an independent client to check the fixtures and the
/// CLI against. Panics, failing the test, when curl is not installed.
pub fn curl() -> std::process::Command {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v curl"])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found,
        "the curl command is required for these tests (apt-get install curl)"
    );
    let mut cmd = std::process::Command::new("curl");
    // -q must come first: it stops curl reading ~/.curlrc.
    cmd.args(["-q", "--silent", "--show-error", "--max-time"])
        .arg(TIMEOUT.as_secs().to_string());
    clear_proxy_env_std(&mut cmd);
    cmd.env_remove("CURL_CA_BUNDLE");
    cmd
}

/// A `127.0.0.1` address with nothing listening: bound to find a free port, then
/// released. (Another test could take the port in between; that is unlikely.)
pub fn dead_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
}

/// `http://` [`dead_address`] [`UPLOAD_PATH`]: an endpoint that refuses connections.
pub fn dead_url() -> String {
    format!("http://{}{UPLOAD_PATH}", dead_address())
}

/// Polls `done` every 5 ms until it is true; panics, naming `what`, after [`TIMEOUT`].
/// (For what a fixture notes after the client has finished, like `errors()`.)
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < end, "waited {TIMEOUT:?} for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

/// The `Proxy-Authorization` (or `Authorization`) value for HTTP Basic credentials.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

// ---------------------------------------------------------------------------
// Threads and sockets, and shutting them all down

/// The threads and sockets of one fixture, so that dropping it can stop them all.
#[derive(Default)]
struct Hub {
    state: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    stopped: bool,
    next_socket: usize,
    /// Clones of the open sockets: shutting a clone down wakes a reader of the original.
    sockets: Vec<(usize, TcpStream)>,
    threads: Vec<JoinHandle<()>>,
    errors: Vec<String>,
    /// Connections accepted so far.
    accepted: usize,
}

/// A socket the [`Hub`] knows of; dropping it shuts the socket down (both ways, so the
/// peer sees the end even though the hub held a clone) and forgets it.
struct Tracked {
    hub: Arc<Hub>,
    id: usize,
    stream: TcpStream,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        self.hub.lock().sockets.retain(|(id, _)| *id != self.id);
    }
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stopped(&self) -> bool {
        self.lock().stopped
    }

    /// Sets the timeouts on `stream` and keeps a clone to shut down on [`Hub::stop`].
    fn track(self: &Arc<Self>, stream: &TcpStream) -> io::Result<Tracked> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        let clone = stream.try_clone()?;
        let mut state = self.lock();
        let id = state.next_socket;
        state.next_socket += 1;
        if state.stopped {
            let _ = clone.shutdown(Shutdown::Both);
        } else {
            state.sockets.push((id, clone));
        }
        Ok(Tracked {
            hub: Arc::clone(self),
            id,
            stream: stream.try_clone()?,
        })
    }

    /// Runs `work` on a new thread that [`Hub::stop`] joins; an error it returns is
    /// kept for `errors()`, prefixed with `name`.
    fn spawn(
        self: &Arc<Self>,
        name: String,
        work: impl FnOnce() -> io::Result<()> + Send + 'static,
    ) {
        let hub = Arc::clone(self);
        let label = name.clone();
        let handle = thread::Builder::new()
            .name(name)
            .spawn(move || match catch_unwind(AssertUnwindSafe(work)) {
                Ok(Ok(())) => {}
                Ok(Err(error)) => hub.note(format!("{label}: {error}")),
                Err(_) => hub.note(format!("{label}: panicked")),
            })
            .expect("spawn a fixture thread");
        self.lock().threads.push(handle);
    }

    fn note(&self, error: String) {
        self.lock().errors.push(error);
    }

    fn errors(&self) -> Vec<String> {
        self.lock().errors.clone()
    }

    fn accepted(&self) -> usize {
        self.lock().accepted
    }

    /// Sleeps for `duration`, or less if the fixture stops; true if it did not stop.
    fn sleep(&self, duration: Duration) -> bool {
        let end = Instant::now() + duration;
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep((end - now).min(Duration::from_millis(10)));
        }
    }

    /// Accepts connections on `listener` (polling, so it notices [`Hub::stop`]) and
    /// hands each, tracked and numbered from 0, to `serve` on its own thread. An error
    /// `serve` returns is noted before the socket is shut down, so a client that saw
    /// the connection end can read it in `errors()`.
    fn accept_loop(
        self: &Arc<Self>,
        kind: &'static str,
        listener: TcpListener,
        serve: impl Fn(&Tracked, usize) -> io::Result<()> + Send + Sync + 'static,
    ) {
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let hub = Arc::clone(self);
        let serve = Arc::new(serve);
        self.spawn(format!("{kind} accept"), move || {
            let mut next = 0;
            while !hub.stopped() {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let id = next;
                        next += 1;
                        hub.lock().accepted += 1;
                        let tracked = match hub.track(&stream) {
                            Ok(tracked) => tracked,
                            Err(e) => {
                                hub.note(format!("{kind} connection {id}: {e}"));
                                continue;
                            }
                        };
                        drop(stream);
                        let (serve, hub2) = (Arc::clone(&serve), Arc::clone(&hub));
                        hub.spawn(format!("{kind} connection {id}"), move || {
                            if let Err(e) = serve(&tracked, id) {
                                hub2.note(format!("{kind} connection {id}: {e}"));
                            }
                            drop(tracked);
                            Ok(())
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
    }

    /// Stops accepting, shuts down every socket and joins every thread.
    fn stop(&self) {
        self.lock().stopped = true;
        loop {
            let (sockets, threads) = {
                let mut state = self.lock();
                (
                    std::mem::take(&mut state.sockets),
                    std::mem::take(&mut state.threads),
                )
            };
            for (_, socket) in &sockets {
                let _ = socket.shutdown(Shutdown::Both);
            }
            if threads.is_empty() {
                break;
            }
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}

/// Binds `127.0.0.1:0`.
fn bind_loopback() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
}

/// The address a proxy may connect onward to for `host`: `127.0.0.1` or `localhost`
/// (mapped here, without DNS) at `port`; `None` for anything else.
fn loopback_target(host: &str, port: u16) -> Option<SocketAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host == "127.0.0.1" || host.eq_ignore_ascii_case("localhost"))
        .then(|| SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Splits `host:port` (the port is required).
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = authority.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

// ---------------------------------------------------------------------------
// HTTP/1.1 messages

/// Headers in the order received; names keep their case, lookups ignore it.
type Headers = Vec<(String, String)>;

/// The first value of the header `name`, whatever its case.
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether a comma-separated header (`Connection`, `Transfer-Encoding`) has `token`.
fn header_has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Reads one CRLF- (or LF-) terminated line, without the terminator; `None` at a clean
/// end of input.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection ended inside a line",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// A request (or CONNECT) head: its first line and its headers. `None` if the
/// connection ended (or idled out) before the head began.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<(String, Headers)>> {
    let first = loop {
        match read_line(reader) {
            Ok(None) => return Ok(None),
            // Idle keep-alive connections end quietly.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
            // Tolerate blank lines before a request (RFC 9112 section 2.2).
            Ok(Some(line)) if line.is_empty() => continue,
            Ok(Some(line)) => break line,
        }
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection ended inside the headers",
            )
        })?;
        if line.is_empty() {
            return Ok(Some((first, headers)));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a header line: {line:?}"),
            )
        })?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

/// Reads a message body framed by `headers`: chunked (decoded), `Content-Length`, or
/// none. Returns the bytes and whether they came chunked.
fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
) -> io::Result<(Vec<u8>, bool)> {
    let invalid = |message: String| io::Error::new(io::ErrorKind::InvalidData, message);
    if header_has_token(headers, "transfer-encoding", "chunked") {
        let mut body = Vec::new();
        loop {
            let line = read_line(reader)?
                .ok_or_else(|| invalid("the connection ended before the last chunk".into()))?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                // Trailers, up to the blank line.
                while !read_line(reader)?.unwrap_or_default().is_empty() {}
                return Ok((body, true));
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            if !read_line(reader)?.unwrap_or_default().is_empty() {
                return Err(invalid("a chunk is longer than its size line says".into()));
            }
        }
    }
    match find_header(headers, "content-length") {
        Some(length) => {
            let length: usize = length
                .parse()
                .map_err(|_| invalid(format!("bad Content-Length {length:?}")))?;
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            Ok((body, false))
        }
        None => Ok((Vec::new(), false)),
    }
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Which connection it came on: 0 for the server's first connection, and so on.
    pub connection: usize,
    /// The request line, e.g. `POST /v1/activity/upload HTTP/1.1`.
    pub request_line: String,
    /// The method, e.g. `POST`.
    pub method: String,
    /// The request target as sent, e.g. `/v1/activity/upload`.
    pub path: String,
    /// The protocol version, e.g. `HTTP/1.1`.
    pub version: String,
    /// Every header in the order received, names as sent (see [`Request::header`]).
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it came chunked.
    pub body: Vec<u8>,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

impl Request {
    /// The first value of the header `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of the header `name`, whatever its case.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as UTF-8; panics if it is not.
    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("the request body is UTF-8")
    }
}

/// What the server does with one request: answer it (status, headers, body), after an
/// optional delay, or drop the connection, or write raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase (the usual one for `status` unless set).
    pub reason: String,
    /// Headers to send as given. `Content-Length` is added unless this has it or
    /// `Transfer-Encoding`; `Connection: close` is added when the connection closes.
    pub headers: Vec<(String, String)>,
    /// The body bytes (not sent in answer to `HEAD`).
    pub body: Vec<u8>,
    /// How long to wait before answering (cut short if the server is dropped).
    pub delay: Duration,
    /// Close the connection after this response.
    pub close: bool,
    /// What to do instead of a normal answer.
    pub action: Action,
}

/// Instead of answering normally (see [`Response::action`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A normal answer.
    Answer,
    /// Close the connection after reading the request, without answering.
    DropConnection,
    /// Write these bytes exactly (a malformed or truncated answer), then close.
    Raw(Vec<u8>),
}

impl Response {
    /// Sets the reason phrase.
    pub fn reason(mut self, reason: &str) -> Self {
        reason.clone_into(&mut self.reason);
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Waits this long before answering (and before dropping or raw writes).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Answers with `Connection: close` and closes the connection.
    pub fn close(mut self) -> Self {
        self.close = true;
        self
    }

    /// Closes the connection after reading the request, without answering.
    pub fn drop_connection() -> Self {
        Response {
            action: Action::DropConnection,
            ..respond(500, "")
        }
    }

    /// Writes `bytes` exactly, instead of an answer, then closes the connection.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Response {
            action: Action::Raw(bytes.into()),
            ..respond(500, "")
        }
    }
}

/// The usual reason phrase for `status` (empty if it is not one the tests use).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Answers `status` with `body` (no `Content-Type`).
pub fn respond(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response {
        status,
        reason: reason_phrase(status).to_owned(),
        headers: Vec::new(),
        body: body.into(),
        delay: Duration::ZERO,
        close: false,
        action: Action::Answer,
    }
}

/// Answers `status` with `body` as `Content-Type: application/json`.
pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
    respond(status, body).header("Content-Type", "application/json")
}

/// A redirect (`status` 301, 302, 303, 307 or 308) to `location`, with an empty body.
pub fn redirect(status: u16, location: &str) -> Response {
    respond(status, "").header("Location", location)
}

/// Answers `status` with a body of exactly `len` bytes (`abc…z` repeating; ASCII).
pub fn body_of_len(status: u16, len: usize) -> Response {
    let body: Vec<u8> = (b'a'..=b'z').cycle().take(len).collect();
    respond(status, body).header("Content-Type", "text/plain")
}

/// The body of [`non_utf8_body`]: Latin-1 `café` and two bytes that are never UTF-8.
pub const NON_UTF8: &[u8] = b"caf\xe9 \xff\xfe";

/// Answers `status` with [`NON_UTF8`], labelled `text/plain; charset=utf-8`.
pub fn non_utf8_body(status: u16) -> Response {
    respond(status, NON_UTF8).header("Content-Type", "text/plain; charset=utf-8")
}

/// A script: answers 200 with the request's `Authorization` value as the body (empty
/// if it had none).
pub fn echo_authorization(request: &Request) -> Response {
    respond(200, request.header("authorization").unwrap_or(""))
}

/// A script that answers every request with `response`.
pub fn always(response: Response) -> impl FnMut(&Request) -> Response + Send + 'static {
    move |_| response.clone()
}

/// A script that answers with `responses` in turn, then with `500` and a body saying
/// the queue ran out.
pub fn queue(
    responses: impl IntoIterator<Item = Response>,
) -> impl FnMut(&Request) -> Response + Send + 'static {
    let mut responses: std::collections::VecDeque<Response> = responses.into_iter().collect();
    move |request| {
        responses.pop_front().unwrap_or_else(|| {
            respond(
                500,
                format!(
                    "test server: no response left in the queue for {}",
                    request.request_line
                ),
            )
        })
    }
}

/// Writes `response` (the body only if `with_body`), adding `Content-Length` and,
/// if `close`, `Connection: close`.
fn write_response(
    out: &mut impl Write,
    response: &Response,
    with_body: bool,
    close: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let framed = find_header(&response.headers, "content-length").is_some()
        || find_header(&response.headers, "transfer-encoding").is_some();
    if !framed {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    if close && !header_has_token(&response.headers, "connection", "close") {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if with_body {
        bytes.extend_from_slice(&response.body);
    }
    out.write_all(&bytes)?;
    out.flush()
}

// ---------------------------------------------------------------------------
// TLS: a throwaway CA and server certificates

/// A certificate authority made for one test, with its certificate in a temporary
/// PEM file (for `--cacert FILE`, `SSL_CERT_FILE`, `curl --cacert`).
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pem: String,
    pem_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("pem_path", &self.pem_path)
            .finish()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// A new CA (ECDSA P-256, `CN=ce-crypt test CA`), its PEM written to a temp file.
    pub fn new() -> TestCa {
        Self::made(
            rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained),
            "ce-crypt test CA",
            vec![
                rcgen::KeyUsagePurpose::KeyCertSign,
                rcgen::KeyUsagePurpose::CrlSign,
                rcgen::KeyUsagePurpose::DigitalSignature,
            ],
        )
    }

    /// A self-signed certificate that is not a CA (`basicConstraints CA:FALSE`,
    /// like Debian's `ssl-cert-snakeoil.pem`), used as one all the same: OpenSSL
    /// and curl refuse what it signs.
    pub fn not_a_ca() -> TestCa {
        Self::made(
            rcgen::IsCa::ExplicitNoCa,
            "ce-crypt test non-CA",
            Vec::new(),
        )
    }

    /// A self-signed certificate named `name`, its PEM written to a temp file.
    fn made(is_ca: rcgen::IsCa, name: &str, usages: Vec<rcgen::KeyUsagePurpose>) -> TestCa {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = is_ca;
        params.key_usages = usages;
        let key = rcgen::KeyPair::generate().expect("generate the key");
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).expect("self-sign");
        let pem = issuer.pem();
        let dir = tempfile::tempdir().expect("a temp folder for the CA");
        let pem_path = dir.path().join("test-ca.pem");
        std::fs::write(&pem_path, &pem).expect("write the CA PEM");
        TestCa {
            issuer,
            pem,
            pem_path,
            _dir: dir,
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The CA certificate, DER (for `ureq::tls::Certificate::from_der`).
    pub fn der(&self) -> &[u8] {
        self.issuer.der()
    }

    /// The file holding [`TestCa::pem`]; it lives as long as this CA.
    pub fn pem_path(&self) -> &Path {
        &self.pem_path
    }

    /// A server certificate for `names` (DNS names or IP addresses) signed by this CA,
    /// valid from 1975 to 4096 or, if `expired`, only during 2000; with its key.
    pub fn server_cert(
        &self,
        names: &[&str],
        expired: bool,
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let params = leaf_params(names, expired);
        let key = rcgen::KeyPair::generate().expect("generate a server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("sign a server cert");
        (cert.der().clone(), pkcs8(&key))
    }
}

fn leaf_params(names: &[&str], expired: bool) -> rcgen::CertificateParams {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names.clone()).expect("valid names");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0].as_str());
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    if expired {
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    params
}

fn pkcs8(key: &rcgen::KeyPair) -> PrivateKeyDer<'static> {
    PrivatePkcs8KeyDer::from(key.serialize_der()).into()
}

/// Which certificate an HTTPS [`TestServer`] presents. All but `SelfSigned` are
/// signed by the server's [`TestCa`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerCert {
    /// For `localhost` and `127.0.0.1`: what a client trusting the CA accepts.
    Valid,
    /// For `wrong-host.invalid` only: a name mismatch for `localhost` and `127.0.0.1`.
    WrongHost,
    /// For `localhost` and `127.0.0.1`, but it expired in 2001.
    Expired,
    /// For `localhost` and `127.0.0.1`, self-signed: unknown even to a client that
    /// trusts the CA.
    SelfSigned,
    /// For `localhost` and `127.0.0.1`, signed by a certificate that is not a CA
    /// ([`TestCa::not_a_ca`], the server's `ca()`).
    IssuedByNonCa,
}

fn tls_config(
    ca: &TestCa,
    which: ServerCert,
) -> (Arc<rustls::ServerConfig>, CertificateDer<'static>) {
    const LOOPBACK: [&str; 2] = ["localhost", "127.0.0.1"];
    let (cert, key) = match which {
        ServerCert::Valid | ServerCert::IssuedByNonCa => ca.server_cert(&LOOPBACK, false),
        ServerCert::WrongHost => ca.server_cert(&["wrong-host.invalid"], false),
        ServerCert::Expired => ca.server_cert(&LOOPBACK, true),
        ServerCert::SelfSigned => {
            let key = rcgen::KeyPair::generate().expect("generate a server key");
            let cert = leaf_params(&LOOPBACK, false)
                .self_signed(&key)
                .expect("self-sign a server cert");
            (cert.der().clone(), pkcs8(&key))
        }
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.clone()], key)
    .expect("the server certificate and key");
    (Arc::new(config), cert)
}

// ---------------------------------------------------------------------------
// The HTTP server

type Script = Box<dyn FnMut(&Request) -> Response + Send>;

struct ServerShared {
    script: Mutex<Script>,
    requests: Mutex<Vec<Request>>,
    connections: AtomicUsize,
}

/// An HTTP/1.1 server on `127.0.0.1` that answers every request with its script until
/// dropped. It keeps connections alive (several requests over one connection, as
/// well as several connections), reads `Content-Length` and chunked request bodies,
/// answers `Expect: 100-continue`, and records every request with its connection id.
///
/// A script is any `FnMut(&Request) -> Response + Send + 'static`: a closure, or
/// [`always`], [`queue`], [`echo_authorization`]. The request is recorded before the
/// script runs, so once a client has its answer, [`TestServer::requests`] has the
/// request. A script that panics is answered with 500 (and noted in `errors()`).
pub struct TestServer {
    addr: SocketAddr,
    ca: Option<TestCa>,
    /// The certificate an HTTPS server presents.
    cert: Option<CertificateDer<'static>>,
    shared: Arc<ServerShared>,
    hub: Arc<Hub>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url())
            .finish()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.hub.stop();
    }
}

impl TestServer {
    /// A plain HTTP server answering with `script`.
    pub fn start(script: impl FnMut(&Request) -> Response + Send + 'static) -> TestServer {
        Self::launch(None, script)
    }

    /// An HTTPS server answering with `script`, with a fresh [`TestCa`] and a
    /// certificate for `localhost` and `127.0.0.1` signed by it.
    pub fn https(script: impl FnMut(&Request) -> Response + Send + 'static) -> TestServer {
        Self::https_with(ServerCert::Valid, script)
    }

    /// An HTTPS server presenting the certificate `which` (all made at start).
    pub fn https_with(
        which: ServerCert,
        script: impl FnMut(&Request) -> Response + Send + 'static,
    ) -> TestServer {
        let ca = match which {
            ServerCert::IssuedByNonCa => TestCa::not_a_ca(),
            _ => TestCa::new(),
        };
        let (config, cert) = tls_config(&ca, which);
        let mut server = Self::launch(Some((ca, config)), script);
        server.cert = Some(cert);
        server
    }

    fn launch(
        tls: Option<(TestCa, Arc<rustls::ServerConfig>)>,
        script: impl FnMut(&Request) -> Response + Send + 'static,
    ) -> TestServer {
        let listener = bind_loopback();
        let addr = listener.local_addr().expect("the server's address");
        let shared = Arc::new(ServerShared {
            script: Mutex::new(Box::new(script)),
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let hub = Arc::new(Hub::default());
        let (ca, config) = match tls {
            Some((ca, config)) => (Some(ca), Some(config)),
            None => (None, None),
        };
        let kind = if config.is_some() { "https" } else { "http" };
        {
            let shared = Arc::clone(&shared);
            let hub2 = Arc::clone(&hub);
            hub.accept_loop(kind, listener, move |tracked, id| {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let stream = tracked.stream.try_clone()?;
                match &config {
                    None => serve_http(PlainConn(stream), id, &shared, &hub2),
                    Some(config) => {
                        let conn = rustls::ServerConnection::new(Arc::clone(config))
                            .map_err(io::Error::other)?;
                        serve_http(
                            TlsConn(rustls::StreamOwned::new(conn, stream)),
                            id,
                            &shared,
                            &hub2,
                        )
                    }
                }
            });
        }
        TestServer {
            addr,
            ca,
            cert: None,
            shared,
            hub,
        }
    }

    /// `http://127.0.0.1:PORT/v1/activity/upload`, or for HTTPS
    /// `https://localhost:PORT/v1/activity/upload` (the name the certificate is for).
    pub fn url(&self) -> String {
        format!("{}{UPLOAD_PATH}", self.base_url())
    }

    /// [`TestServer::url`] with the host `127.0.0.1` (the same as `url()` for HTTP).
    pub fn ip_url(&self) -> String {
        format!("{}{UPLOAD_PATH}", self.ip_base_url())
    }

    /// The scheme, host and port, without a path: `http://127.0.0.1:PORT` or
    /// `https://localhost:PORT` (for building `Location`s and other paths).
    pub fn base_url(&self) -> String {
        match self.ca {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => self.ip_base_url(),
        }
    }

    /// [`TestServer::base_url`] with the host `127.0.0.1`.
    pub fn ip_base_url(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The address it listens on (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether it speaks TLS.
    pub fn is_https(&self) -> bool {
        self.ca.is_some()
    }

    /// The CA that signed the certificate; panics for a plain HTTP server.
    pub fn ca(&self) -> &TestCa {
        self.ca
            .as_ref()
            .expect("ca() is for a server made with TestServer::https")
    }

    /// The CA certificate's PEM file (for `--cacert`, `SSL_CERT_FILE`); panics for a
    /// plain HTTP server.
    pub fn ca_pem_path(&self) -> &Path {
        self.ca().pem_path()
    }

    /// The certificate the server presents, PEM; panics for a plain HTTP server.
    pub fn cert_pem(&self) -> String {
        use base64::Engine;
        let der = self
            .cert
            .as_ref()
            .expect("cert_pem() is for an HTTPS server");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).expect("Base64 is ASCII"))
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// The one request received; panics unless there was exactly one.
    pub fn only_request(&self) -> Request {
        let mut requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:#?}"
        );
        requests.remove(0)
    }

    /// How many requests have been received.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// How many connections have been accepted (TLS handshakes that failed included).
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` requests have arrived and returns them all; panics
    /// after [`TIMEOUT`]. (For a client that runs in the background.)
    pub fn wait_for_requests(&self, count: usize) -> Vec<Request> {
        let end = Instant::now() + TIMEOUT;
        loop {
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                Instant::now() < end,
                "waited {TIMEOUT:?} for {count} requests, got {requests:#?}"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Problems seen on connections so far: TLS handshakes the client aborted, resets,
    /// malformed requests, script panics.
    pub fn errors(&self) -> Vec<String> {
        self.hub.errors()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A server connection: plain or TLS, with a graceful close.
trait Conn: Read + Write {
    /// Ends the connection politely (TLS `close_notify`); the socket is shut down after.
    fn finish(&mut self) {}
}

struct PlainConn(TcpStream);

impl Read for PlainConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for PlainConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Conn for PlainConn {}

struct TlsConn(rustls::StreamOwned<rustls::ServerConnection, TcpStream>);

impl Read for TlsConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Conn for TlsConn {
    fn finish(&mut self) {
        self.0.conn.send_close_notify();
        let _ = self.0.flush();
    }
}

/// Serves requests on one connection until either side closes it.
fn serve_http(conn: impl Conn, id: usize, shared: &ServerShared, hub: &Hub) -> io::Result<()> {
    let mut reader = BufReader::new(conn);
    loop {
        let Some((request_line, headers)) = read_head(&mut reader)? else {
            return Ok(());
        };
        let mut parts = request_line.split(' ');
        let (Some(method), Some(path), Some(version), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            let _ = write_response(
                reader.get_mut(),
                &respond(400, "bad request line"),
                true,
                true,
            );
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad request line {request_line:?}"),
            ));
        };
        let (method, path, version) = (method.to_owned(), path.to_owned(), version.to_owned());
        if header_has_token(&headers, "expect", "100-continue") {
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            reader.get_mut().flush()?;
        }
        let (body, chunked) = read_body(&mut reader, &headers)?;
        let request = Request {
            connection: id,
            request_line,
            method,
            path,
            version,
            headers,
            body,
            chunked,
        };
        lock(&shared.requests).push(request.clone());
        let response = {
            let mut script = lock(&shared.script);
            match catch_unwind(AssertUnwindSafe(|| script(&request))) {
                Ok(response) => response,
                Err(_) => {
                    hub.note(format!(
                        "connection {id}: the script panicked on {}",
                        request.request_line
                    ));
                    respond(500, "test server: the script panicked").close()
                }
            }
        };
        if !response.delay.is_zero() && !hub.sleep(response.delay) {
            return Ok(());
        }
        let client_closes = header_has_token(&request.headers, "connection", "close")
            || (request.version == "HTTP/1.0"
                && !header_has_token(&request.headers, "connection", "keep-alive"));
        let close = response.close
            || client_closes
            || header_has_token(&response.headers, "connection", "close");
        match &response.action {
            Action::DropConnection => return Ok(()),
            Action::Raw(bytes) => {
                let out = reader.get_mut();
                out.write_all(bytes)?;
                out.flush()?;
                out.finish();
                return Ok(());
            }
            Action::Answer => {
                let with_body = request.method != "HEAD";
                write_response(reader.get_mut(), &response, with_body, close)?;
                if close {
                    reader.get_mut().finish();
                    return Ok(());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Tunnels

/// Copies bytes both ways between `client` and `upstream` until both directions end,
/// first sending `early` (client bytes read past the proxy handshake) upstream.
fn tunnel(hub: &Arc<Hub>, client: &Tracked, upstream: &Tracked, early: &[u8]) -> io::Result<()> {
    let mut to_upstream = upstream.stream.try_clone()?;
    to_upstream.write_all(early)?;
    let from_client = client.stream.try_clone()?;
    hub.spawn("tunnel client->upstream".into(), move || {
        pump(from_client, to_upstream)
    });
    pump(upstream.stream.try_clone()?, client.stream.try_clone()?)
}

/// Copies `from` into `to` until `from` ends, then ends `to`'s writing side.
fn pump(mut from: TcpStream, mut to: TcpStream) -> io::Result<()> {
    let copied = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    match copied {
        Ok(_) => Ok(()),
        // The other direction closed the sockets: normal at the end of a tunnel.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotConnected
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Connects to `addr` within [`TIMEOUT`] and tracks the socket.
fn connect_upstream(hub: &Arc<Hub>, addr: SocketAddr) -> io::Result<Tracked> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    hub.track(&stream)
}

// ---------------------------------------------------------------------------
// The CONNECT proxy

/// One request a [`ConnectProxy`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    /// The request line, e.g. `CONNECT localhost:4433 HTTP/1.1`.
    pub request_line: String,
    /// `CONNECT`, or the method of a forwarded request (`POST`).
    pub method: String,
    /// Where to: `host:port` as the client named it (the authority of an absolute URI
    /// for a forwarded request, with the default port filled in).
    pub target: String,
    /// Every header in the order received.
    pub headers: Vec<(String, String)>,
}

impl ProxyRequest {
    /// The first value of the header `name`, whatever its case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The `Proxy-Authorization` value, if sent.
    pub fn proxy_authorization(&self) -> Option<&str> {
        self.header("proxy-authorization")
    }
}

struct ProxyShared {
    requests: Mutex<Vec<ProxyRequest>>,
    auth: Option<String>,
}

/// An HTTP proxy on `127.0.0.1`. It tunnels `CONNECT host:port` both ways, and
/// forwards absolute-URI requests (`POST http://127.0.0.1:PORT/path`) one per client
/// connection (it adds `Connection: close` upstream and closes after the answer).
/// Targets other than `127.0.0.1`/`localhost` are recorded and answered `403`; a
/// target that refuses is answered `502`. Records every request and its
/// `Proxy-Authorization`.
pub struct ConnectProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
    hub: Arc<Hub>,
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.hub.stop();
    }
}

impl std::fmt::Debug for ConnectProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectProxy")
            .field("url", &self.url())
            .finish()
    }
}

impl ConnectProxy {
    /// A proxy that asks for no credentials.
    pub fn start() -> ConnectProxy {
        Self::launch(None)
    }

    /// A proxy that answers `407` (with `Proxy-Authenticate: Basic`, then closes)
    /// unless `Proxy-Authorization` is exactly `expected`, e.g.
    /// `basic_auth("user", "pass")`.
    pub fn requiring_auth(expected: &str) -> ConnectProxy {
        Self::launch(Some(expected.to_owned()))
    }

    fn launch(auth: Option<String>) -> ConnectProxy {
        let listener = bind_loopback();
        let addr = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(ProxyShared {
            requests: Mutex::new(Vec::new()),
            auth,
        });
        let hub = Arc::new(Hub::default());
        {
            let shared = Arc::clone(&shared);
            let hub2 = Arc::clone(&hub);
            hub.accept_loop("connect proxy", listener, move |client, _| {
                serve_proxy(&hub2, &shared, client)
            });
        }
        ConnectProxy { addr, shared, hub }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT` (neither may need percent-encoding).
    pub fn url_with_credentials(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The target (`host:port`) of every request so far, in order.
    pub fn targets(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.target).collect()
    }

    /// How many connections it has accepted, whether or not a request followed.
    pub fn connection_count(&self) -> usize {
        self.hub.accepted()
    }

    /// Problems seen so far (malformed requests, resets).
    pub fn errors(&self) -> Vec<String> {
        self.hub.errors()
    }
}

/// Headers a forwarding proxy does not pass on (framing is redone; the upstream
/// connection closes after one answer).
const HOP_BY_HOP: [&str; 9] = [
    "proxy-authorization",
    "proxy-connection",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
];

fn serve_proxy(hub: &Arc<Hub>, shared: &ProxyShared, client: &Tracked) -> io::Result<()> {
    let mut reader = BufReader::new(client.stream.try_clone()?);
    let Some((request_line, headers)) = read_head(&mut reader)? else {
        return Ok(());
    };
    let mut out = client.stream.try_clone()?;
    let answer = |out: &mut TcpStream, status: u16, body: &str| {
        let mut response = respond(status, body.to_owned());
        if status == 407 {
            response = response.header("Proxy-Authenticate", "Basic realm=\"ce-crypt test proxy\"");
        }
        write_response(out, &response, true, true)
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(uri), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        answer(&mut out, 400, "bad request line")?;
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad request line {request_line:?}"),
        ));
    };
    let (method, uri) = (method.to_owned(), uri.to_owned());
    // CONNECT host:port, or METHOD http://host[:port]/path.
    let (target, path) = if method.eq_ignore_ascii_case("CONNECT") {
        (uri.clone(), None)
    } else if let Some(rest) = uri.strip_prefix("http://") {
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let authority = if split_host_port(authority).is_some() {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        (authority, Some(path.to_owned()))
    } else {
        answer(
            &mut out,
            400,
            "test proxy: CONNECT host:port or an absolute http:// URI, please",
        )?;
        return Ok(());
    };
    let record = ProxyRequest {
        request_line: request_line.clone(),
        method: method.clone(),
        target: target.clone(),
        headers: headers.clone(),
    };
    lock(&shared.requests).push(record);

    if let Some(expected) = &shared.auth
        && find_header(&headers, "proxy-authorization") != Some(expected.as_str())
    {
        return answer(&mut out, 407, "test proxy: credentials required");
    }
    let Some(addr) = split_host_port(&target).and_then(|(host, port)| loopback_target(host, port))
    else {
        return answer(
            &mut out,
            403,
            "test proxy: only 127.0.0.1 and localhost are reachable",
        );
    };
    let upstream = match connect_upstream(hub, addr) {
        Ok(upstream) => upstream,
        Err(e) => return answer(&mut out, 502, &format!("test proxy: {target}: {e}")),
    };

    match path {
        None => {
            out.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
            out.flush()?;
            let early = reader.buffer().to_vec();
            tunnel(hub, client, &upstream, &early)
        }
        Some(path) => {
            // Forward one request, origin-form, and relay the answer until it closes.
            let (body, _) = read_body(&mut reader, &headers)?;
            let mut head = format!("{method} {path} HTTP/1.1\r\n");
            for (name, value) in &headers {
                if !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
            }
            if !body.is_empty() || !matches!(method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS")
            {
                head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
            head.push_str("Connection: close\r\n\r\n");
            let mut to_upstream = upstream.stream.try_clone()?;
            to_upstream.write_all(head.as_bytes())?;
            to_upstream.write_all(&body)?;
            to_upstream.flush()?;
            pump(upstream.stream.try_clone()?, client.stream.try_clone()?)
        }
    }
}

// ---------------------------------------------------------------------------
// The SOCKS5 proxy

/// How a SOCKS5 client named its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocksAddress {
    /// Address type 1: an IPv4 address (the client resolved the name itself).
    Ipv4,
    /// Address type 3: a domain name (the proxy resolves it, `socks5h`).
    Domain,
    /// Address type 4: an IPv6 address (refused here).
    Ipv6,
}

/// One SOCKS5 request a [`Socks5Proxy`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksRequest {
    /// `host:port` as the client sent it (IPv6 in brackets).
    pub target: String,
    /// How the host was sent.
    pub address: SocksAddress,
    /// The command: 1 CONNECT (the only one served), 2 BIND, 3 UDP ASSOCIATE.
    pub command: u8,
}

/// A minimal SOCKS5 proxy on `127.0.0.1` (RFC 1928): no authentication, the CONNECT
/// command, IPv4 and domain-name targets. It tunnels to `127.0.0.1` and `localhost`
/// only (others: reply `0x02`, not allowed) and records every request. A client that
/// offers only username/password authentication is refused (`0xFF`) and not recorded.
pub struct Socks5Proxy {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<SocksRequest>>>,
    hub: Arc<Hub>,
}

impl Drop for Socks5Proxy {
    fn drop(&mut self) {
        self.hub.stop();
    }
}

impl std::fmt::Debug for Socks5Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socks5Proxy")
            .field("url", &self.url())
            .finish()
    }
}

impl Socks5Proxy {
    /// Starts the proxy.
    pub fn start() -> Socks5Proxy {
        let listener = bind_loopback();
        let addr = listener.local_addr().expect("the proxy's address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let hub = Arc::new(Hub::default());
        {
            let requests = Arc::clone(&requests);
            let hub2 = Arc::clone(&hub);
            hub.accept_loop("socks5 proxy", listener, move |client, _| {
                serve_socks(&hub2, &requests, client)
            });
        }
        Socks5Proxy {
            addr,
            requests,
            hub,
        }
    }

    /// `socks5://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("socks5://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<SocksRequest> {
        lock(&self.requests).clone()
    }

    /// The target (`host:port`) of every request so far, in order.
    pub fn targets(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.target).collect()
    }

    /// How many connections it has accepted, whether or not a request followed.
    pub fn connection_count(&self) -> usize {
        self.hub.accepted()
    }

    /// Problems seen so far (protocol errors, resets).
    pub fn errors(&self) -> Vec<String> {
        self.hub.errors()
    }
}

fn serve_socks(
    hub: &Arc<Hub>,
    requests: &Mutex<Vec<SocksRequest>>,
    client: &Tracked,
) -> io::Result<()> {
    let protocol = |message: &str| io::Error::new(io::ErrorKind::InvalidData, message.to_owned());
    let mut stream = client.stream.try_clone()?;
    // Greeting: VER NMETHODS METHODS...
    let mut greeting = [0; 2];
    stream.read_exact(&mut greeting)?;
    if greeting[0] != 5 {
        return Err(protocol("not SOCKS5"));
    }
    let mut methods = vec![0; usize::from(greeting[1])];
    stream.read_exact(&mut methods)?;
    if !methods.contains(&0) {
        stream.write_all(&[5, 0xFF])?;
        return Ok(());
    }
    stream.write_all(&[5, 0])?;
    // Request: VER CMD RSV ATYP DST.ADDR DST.PORT
    let mut request = [0; 4];
    stream.read_exact(&mut request)?;
    if request[0] != 5 {
        return Err(protocol("not SOCKS5"));
    }
    let command = request[1];
    let (host, address) = match request[3] {
        1 => {
            let mut ip = [0; 4];
            stream.read_exact(&mut ip)?;
            (std::net::Ipv4Addr::from(ip).to_string(), SocksAddress::Ipv4)
        }
        3 => {
            let mut len = [0; 1];
            stream.read_exact(&mut len)?;
            let mut name = vec![0; usize::from(len[0])];
            stream.read_exact(&mut name)?;
            (
                String::from_utf8_lossy(&name).into_owned(),
                SocksAddress::Domain,
            )
        }
        4 => {
            let mut ip = [0; 16];
            stream.read_exact(&mut ip)?;
            (
                format!("[{}]", std::net::Ipv6Addr::from(ip)),
                SocksAddress::Ipv6,
            )
        }
        _ => {
            stream.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0])?;
            return Err(protocol("unknown address type"));
        }
    };
    let mut port = [0; 2];
    stream.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    lock(requests).push(SocksRequest {
        target: format!("{host}:{port}"),
        address,
        command,
    });
    let fail =
        |stream: &mut TcpStream, code: u8| stream.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
    if command != 1 {
        return fail(&mut stream, 7); // command not supported
    }
    let Some(addr) = loopback_target(&host, port).filter(|_| address != SocksAddress::Ipv6) else {
        return fail(&mut stream, 2); // connection not allowed by ruleset
    };
    let upstream = match connect_upstream(hub, addr) {
        Ok(upstream) => upstream,
        Err(_) => return fail(&mut stream, 5), // connection refused
    };
    let bound = upstream.stream.local_addr()?;
    let mut reply = vec![5, 0, 0, 1, 127, 0, 0, 1];
    reply.extend_from_slice(&bound.port().to_be_bytes());
    stream.write_all(&reply)?;
    tunnel(hub, client, &upstream, &[])
}
