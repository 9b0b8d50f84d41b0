#!/usr/bin/env python3
"""A loopback stand-in for Netcore's Activity API, for scripts/bench_send.sh only.

    standin_api.py --port 0 --key KEY32 --iv IV16 --api-key TOKEN [--latency-ms N]

Listens on 127.0.0.1 (HTTP/1.1, keep-alive) and prints the chosen port on the
first line of stdout. `POST /v1/activity/upload` is checked as the real API
would: headers `Content-Type: application/json`, `x-eCode: 11256`, a non-empty
`x-asset`, `Authorization: Bearer TOKEN` (else 401); the body
`{"encryptedRequest": "<standard Base64>"}` is decoded, decrypted
(AES-256-CBC, PKCS7, key and IV = the UTF-8 bytes of --key/--iv) and must be a
JSON array of 1..1000 objects whose `asset_id` all equal `x-asset` (else 400).
Accepted events are counted; the answer is 200 `{"status":"success"}`.
`GET /stats` answers `{"events":N,"requests":M,"rejected":R}` (M: accepted
uploads, R: uploads answered 4xx). On SIGTERM or SIGINT it prints
`events=N requests=M` on stdout and exits.

Needs Python 3.9+ and `cryptography` (pip install cryptography). Not a test
of ce-crypt's correctness beyond what it checks; never run by CI.
"""
import argparse
import base64
import binascii
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

UPLOAD_PATH = "/v1/activity/upload"
MAX_BODY = 64 * 1024 * 1024  # far above any 1000-event payload worth sending


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events = 0
        self.requests = 0
        self.rejected = 0

    def accept(self, events: int) -> None:
        with self.lock:
            self.events += events
            self.requests += 1

    def reject(self) -> None:
        with self.lock:
            self.rejected += 1

    def snapshot(self) -> dict:
        with self.lock:
            return {"events": self.events, "requests": self.requests, "rejected": self.rejected}


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def decrypt(key: bytes, iv: bytes, b64: str) -> bytes:
    try:
        ciphertext = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Rejected(400, f"encryptedRequest is not standard Base64: {e}")
    if not ciphertext or len(ciphertext) % 16:
        raise Rejected(400, f"ciphertext length {len(ciphertext)} is not a positive multiple of 16")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise Rejected(400, "bad PKCS7 padding (wrong key or IV?)")


def make_handler(args: argparse.Namespace, counters: Counters):
    key = args.key.encode("utf-8")
    iv = args.iv.encode("utf-8")
    expected_auth = f"Bearer {args.api_key}"
    latency = args.latency_ms / 1000.0

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle holds the
        # body until the client's delayed ACK (40 ms), which would swamp the
        # latency being measured.
        disable_nagle_algorithm = True
        server_version = "ce-standin/1"
        sys_version = ""

        def log_message(self, format: str, *a) -> None:  # quiet: only rejections are logged
            pass

        def send_json(self, status: int, obj: dict, close: bool = False) -> None:
            body = json.dumps(obj, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def read_body(self):
            """The request body, or None after answering (and closing) if it can't be framed."""
            if self.headers.get("Transfer-Encoding"):
                self.send_json(411, {"status": "fail", "message": "send a Content-Length"}, close=True)
                return None
            length = self.headers.get("Content-Length")
            try:
                n = int(length)
                if n < 0 or n > MAX_BODY:
                    raise ValueError
            except (TypeError, ValueError):
                self.send_json(411, {"status": "fail", "message": "bad or missing Content-Length"}, close=True)
                return None
            return self.rfile.read(n)

        def do_GET(self) -> None:
            if self.path == "/stats":
                self.send_json(200, counters.snapshot())
            else:
                self.send_json(404, {"status": "fail", "message": "not found"})

        def do_POST(self) -> None:
            body = self.read_body()
            if body is None:
                return
            if latency:
                time.sleep(latency)
            if self.path != UPLOAD_PATH:
                self.send_json(404, {"status": "fail", "message": "not found"})
                return
            try:
                n = self.check_upload(body)
            except Rejected as r:
                counters.reject()
                print(f"standin: {r.status}: {r.message}", file=sys.stderr, flush=True)
                self.send_json(r.status, {"status": "fail", "message": r.message})
                return
            counters.accept(n)
            self.send_json(200, {"status": "success"})

        def check_upload(self, body: bytes) -> int:
            h = self.headers
            if h.get("Authorization") != expected_auth:
                raise Rejected(401, "missing or wrong Authorization bearer token")
            media = (h.get("Content-Type") or "").split(";")[0].strip().lower()
            if media != "application/json":
                raise Rejected(400, f"Content-Type {h.get('Content-Type')!r} is not application/json")
            if (h.get("x-eCode") or "").strip() != "11256":
                raise Rejected(400, f"x-eCode {h.get('x-eCode')!r} is not 11256")
            asset = (h.get("x-asset") or "").strip()
            if not asset:
                raise Rejected(400, "x-asset is missing or empty")
            try:
                envelope = json.loads(body)
            except ValueError as e:
                raise Rejected(400, f"body is not JSON: {e}")
            if not isinstance(envelope, dict) or not isinstance(envelope.get("encryptedRequest"), str):
                raise Rejected(400, 'body is not {"encryptedRequest": "<string>"}')
            plain = decrypt(key, iv, envelope["encryptedRequest"])
            try:
                events = json.loads(plain)
            except ValueError as e:  # UnicodeDecodeError is a ValueError too
                raise Rejected(400, f"decrypted payload is not JSON: {e}")
            if not isinstance(events, list) or not 1 <= len(events) <= 1000:
                what = f"an array of {len(events)}" if isinstance(events, list) else type(events).__name__
                raise Rejected(400, f"payload must be an array of 1..1000 events, got {what}")
            for i, event in enumerate(events):
                if not isinstance(event, dict):
                    raise Rejected(400, f"event {i} is not an object")
                if event.get("asset_id") != asset:
                    raise Rejected(400, f"event {i}: asset_id {event.get('asset_id')!r} != x-asset {asset!r}")
            return len(events)

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True  # an open keep-alive connection must not hold up the exit
    request_queue_size = 128  # read at listen(), so a class attribute


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    p.add_argument("--key", required=True, help="the 32-character key (UTF-8)")
    p.add_argument("--iv", required=True, help="the 16-character IV (UTF-8)")
    p.add_argument("--api-key", required=True, help="the expected bearer token")
    p.add_argument("--latency-ms", type=float, default=0.0, help="sleep before answering each POST")
    args = p.parse_args()
    if len(args.key.encode()) != 32 or len(args.iv.encode()) != 16:
        p.error("--key must be 32 bytes and --iv 16 bytes of UTF-8")

    counters = Counters()
    server = Server(("127.0.0.1", args.port), make_handler(args, counters))
    print(server.server_address[1], flush=True)

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    worker.start()
    while not stop.wait(1.0):
        pass
    server.shutdown()
    s = counters.snapshot()
    print(f"events={s['events']} requests={s['requests']}", flush=True)
    server.server_close()


if __name__ == "__main__":
    main()
