#!/usr/bin/env bash
# Times ce-crypt against `openssl enc` and a Python `cryptography` script, side by side.
#
#   scripts/compare.sh            # builds the release binary, writes inputs to bench-data/
#
# Needs: hyperfine and /usr/bin/time (Debian: apt-get install hyperfine time),
# openssl, python3 with `cryptography`. Prints medians, ratios and peak RSS.
# Not part of `cargo test`: timings belong to a quiet machine, not to CI.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine openssl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is missing (apt-get install hyperfine time openssl)" >&2; exit 1; }
done
python3 -c 'import cryptography' || { echo "compare.sh: pip install cryptography" >&2; exit 1; }

cargo build --release --quiet
ROOT="$PWD"
CE="$ROOT/target/release/ce-crypt"
DATA="$ROOT/bench-data"
mkdir -p "$DATA"
cd "$DATA"

export CE_SECRET_KEY=Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU
export CE_SECRET_IV=Qw5Er7Ty9Ui2Op4A
K=$(printf %s "$CE_SECRET_KEY" | od -An -tx1 | tr -d ' \n')
V=$(printf %s "$CE_SECRET_IV" | od -An -tx1 | tr -d ' \n')
PY="python3 $ROOT/scripts/reference_encrypt.py"

# Inputs: the sample event (~400 B), a 64 MiB JSON array of events, 200,000 one-event lines.
python3 - <<'PYEOF'
import json, os
event = {"asset_id": "ADGMOT35CHFLVDHBJNIG50K969QH6J0F1L9HV20UJQ4PNQB1", "activity_name": "Page Browse",
         "timestamp": "2025-08-26T12:05:43Z", "identity": "user@example.com", "activity_source": "web",
         "activity_params": {"page_url": "https://www.example.com/products/shoes?color=red",
                             "page_title": "Red Shoes – Example Store", "price": 59.99, "currency": "EUR",
                             "tags": ["new", "sale"], "session": "9f8e7d6c5b4a3f2e1d0c"}}
small = json.dumps([event], ensure_ascii=False, separators=(",", ":"))
open("small.json", "w").write(small)
target, parts, size, i = 64 * 1024 * 1024, [], 2, 0
while size < target:
    e = dict(event, identity=f"user{i}@example.com"); i += 1
    s = json.dumps(e, ensure_ascii=False, separators=(",", ":")); parts.append(s); size += len(s.encode()) + 1
open("big.json", "w").write("[" + ",".join(parts) + "]")
with open("lines.jsonl", "w") as f:
    for i in range(200_000):
        f.write(json.dumps([dict(event, identity=f"user{i}@example.com")], ensure_ascii=False, separators=(",", ":")) + "\n")
PYEOF

# The outputs must agree before anything is timed.
"$CE" encrypt -i small.json | cmp -s - <(openssl enc -aes-256-cbc -K "$K" -iv "$V" -a -A -in small.json; echo) \
  || { echo "compare.sh: ce-crypt and openssl disagree on small.json" >&2; exit 1; }
"$CE" encrypt -i big.json -o big.enc
openssl enc -aes-256-cbc -K "$K" -iv "$V" -a -A -in big.json -out big.ossl
cmp -s big.enc <(cat big.ossl; echo) || { echo "compare.sh: outputs differ on big.json" >&2; exit 1; }
"$CE" encrypt --lines -i lines.jsonl | cmp -s - <($PY --lines lines.jsonl) \
  || { echo "compare.sh: ce-crypt and python disagree on lines.jsonl" >&2; exit 1; }

median() { # hyperfine JSON export -> median seconds of command N
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['median'])" "$1" "$2"
}
peak_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%d); ce-crypt $("$CE" --version | cut -d' ' -f2)"
echo

hyperfine -N --warmup 10 --runs 200 --export-json small.json.times \
  "$CE encrypt -i small.json" \
  "openssl enc -aes-256-cbc -K $K -iv $V -a -A -in small.json" >/dev/null
hyperfine --warmup 2 --runs 20 --export-json small-py.times "$PY small.json" >/dev/null
ce=$(median small.json.times 0); ossl=$(median small.json.times 1); py=$(median small-py.times 0)
echo "small payload (~400 B):  ce-crypt $(ratio "$ce" 1e-3) ms, openssl $(ratio "$ossl" 1e-3) ms, python $(ratio "$py" 1e-3) ms"
echo "  ce-crypt / openssl = $(ratio "$ce" "$ossl")   (goal <= 0.5)"
echo "  python / ce-crypt  = $(ratio "$py" "$ce")   (goal >= 40)"

hyperfine -N --warmup 3 --runs 15 --export-json big-enc.times \
  "$CE encrypt -i big.json -o big.enc" \
  "openssl enc -aes-256-cbc -K $K -iv $V -a -A -in big.json -out big.ossl" >/dev/null
ce=$(median big-enc.times 0); ossl=$(median big-enc.times 1)
size_kib=$(( $(stat -c %s big.json) / 1024 ))
rss=$(peak_kib "$CE" encrypt -i big.json -o big.enc)
echo "64 MiB encrypt (JSON check on): ce-crypt $(ratio "$ce" 1e-3) ms, openssl $(ratio "$ossl" 1e-3) ms"
echo "  ce-crypt / openssl = $(ratio "$ce" "$ossl")   (goal <= 1.0)"
echo "  peak RSS $((rss / 1024)) MiB; limit 1.25 x input + 16 MiB = $(( (size_kib * 5 / 4 + 16384) / 1024 )) MiB"

hyperfine -N --warmup 3 --runs 15 --output=null --export-json big-dec.times \
  "$CE decrypt -i big.enc" \
  "openssl enc -d -aes-256-cbc -K $K -iv $V -a -A -in big.ossl" >/dev/null
ce=$(median big-dec.times 0); ossl=$(median big-dec.times 1)
in_kib=$(( $(stat -c %s big.enc) / 1024 ))
rss=$(peak_kib "$CE" decrypt -i big.enc)
echo "64 MiB decrypt: ce-crypt $(ratio "$ce" 1e-3) ms, openssl $(ratio "$ossl" 1e-3) ms"
echo "  ce-crypt / openssl = $(ratio "$ce" "$ossl")   (goal <= 1.0)"
echo "  peak RSS $((rss / 1024)) MiB; limit 1.25 x input + 16 MiB = $(( (in_kib * 5 / 4 + 16384) / 1024 )) MiB"

hyperfine --warmup 1 --runs 5 --output=null --export-json lines.times \
  "$CE encrypt --lines -i lines.jsonl" \
  "$PY --lines lines.jsonl" >/dev/null
ce=$(median lines.times 0); py=$(median lines.times 1)
rss=$(peak_kib "$CE" encrypt --lines -i lines.jsonl)
echo "200,000 lines: ce-crypt $(ratio "$ce" 1e-3) ms, python $(ratio "$py" 1e-3) ms"
echo "  python / ce-crypt = $(ratio "$py" "$ce")   (goal >= 10)"
echo "  peak RSS $((rss / 1024)) MiB   (goal <= 16 MiB)"

# Bulk send (issue #12's goals): its own script, as it needs a stand-in API
# and the Python `requests` package. CE_SKIP_SEND=1 leaves it out.
if [ "${CE_SKIP_SEND:-0}" != 1 ]; then
  echo
  "$ROOT/scripts/bench_send.sh"
fi
