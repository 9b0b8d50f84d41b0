#!/usr/bin/env python3
"""A straightforward Python bulk sender: the baseline for scripts/bench_send.sh.

    python_bulk_client.py --url URL --key KEY32 --iv IV16 --api-key TOKEN -i events.ndjson

Reads NDJSON (one event object a line), cuts it into batches of 1000 events,
and POSTs each batch from 8 threads (one `requests.Session` each) as
`{"encryptedRequest": base64(AES-256-CBC/PKCS7(json.dumps(batch)))}` with the
headers `Content-Type: application/json`, `x-eCode: 11256`,
`x-asset: <the batch's asset_id>` and `Authorization: Bearer TOKEN`. Any
non-2xx answer raises. Prints `events=N requests=M` on stderr at the end.

What a Python user would write without ce-crypt: no retries, no journal.
Needs `cryptography` and `requests` (pip install cryptography requests).
"""
import argparse
import base64
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BATCH = 1000
THREADS = 8


def encrypt(key: bytes, iv: bytes, payload: bytes) -> str:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(payload) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def batches(path: str):
    batch = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                batch.append(json.loads(line))
                if len(batch) == BATCH:
                    yield batch
                    batch = []
    if batch:
        yield batch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--iv", required=True)
    p.add_argument("--api-key", required=True)
    p.add_argument("-i", dest="input", required=True, help="NDJSON file of events")
    args = p.parse_args()
    key, iv = args.key.encode("utf-8"), args.iv.encode("utf-8")

    local = threading.local()

    def send(batch: list) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        body = {"encryptedRequest": encrypt(key, iv, json.dumps(batch).encode("utf-8"))}
        headers = {
            "Content-Type": "application/json",
            "x-eCode": "11256",
            "x-asset": batch[0]["asset_id"],
            "Authorization": f"Bearer {args.api_key}",
        }
        response = session.post(args.url, data=json.dumps(body), headers=headers, timeout=60)
        response.raise_for_status()
        return len(batch)

    events = requests_sent = 0
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for n in pool.map(send, batches(args.input)):
            events += n
            requests_sent += 1
    print(f"events={events} requests={requests_sent}", file=sys.stderr)


if __name__ == "__main__":
    main()
