#!/usr/bin/env python3
"""Writes N events as NDJSON (one compact JSON object a line), for scripts/bench_send.sh.

    gen_events.py --count 1000000 -o bench-data/events-1m.ndjson

Event i (from 0) is a page_browse of user-<i> on asset ASSET-1, stamped
"now" minus (i mod 23 hours) seconds in UTC (`2026-11-29T12:06:28Z`), so every
event stays under the 24-hour warning of `ce-crypt check` for about an hour
after the file is written.
"""
import argparse
import json
from datetime import datetime, timedelta, timezone

WINDOW = 23 * 3600  # seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, required=True, help="number of events")
    p.add_argument("-o", dest="output", required=True, help="output file")
    p.add_argument("--asset", default="ASSET-1", help="asset_id of every event (default ASSET-1)")
    args = p.parse_args()

    now = datetime.now(timezone.utc).replace(microsecond=0)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(args.output, "w", encoding="utf-8", buffering=1 << 20) as f:
        for i in range(args.count):
            ts = (now - timedelta(seconds=i % WINDOW)).strftime("%Y-%m-%dT%H:%M:%SZ")
            event = {
                "asset_id": args.asset,
                "activity_name": "page_browse",
                "timestamp": ts,
                "identity": f"user-{i}",
                "activity_source": "web",
                "activity_params": {"page_title": "Red Shoes", "price": 1999, "i": i},
            }
            f.write(dumps(event))
            f.write("\n")


if __name__ == "__main__":
    main()
