#!/usr/bin/env bash
# Bulk `ce-crypt send` against a loopback stand-in of Netcore's Activity API.
#
#   scripts/bench_send.sh         # writes inputs, journals and reports to bench-data/
#
# Measures, and compares with the goals:
#   a. 1,000,000 NDJSON events, default batch size and concurrency: wall, CPU,
#      peak RSS (goal <= 48 MiB) and the events the stand-in counted (= 1,000,000);
#   b. client CPU (user + sys) for 100,000 events, median of 3 runs: ce-crypt
#      against scripts/python_bulk_client.py (8 threads, batches of 1000);
#      goal ce-crypt / python <= 0.2;
#   c. a stand-in answering after 50 ms: wall time of 100,000 events with
#      --batch-size 100 --concurrency 4 against --concurrency 1; goal <= 0.33.
# Exit status 1 if a goal is missed or an event count is wrong.
#
# Builds target/release/ce-crypt first (cargo build --release). Inputs are regenerated
# when missing or older than an hour (their timestamps span the last 23 hours).
# Needs: python3 with `cryptography` and `requests` (pip install cryptography
# requests) and GNU time at /usr/bin/time (Debian: apt-get install time).
# Not part of `cargo test` or CI: timings belong to a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "bench_send.sh: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is missing (Debian: apt-get install python3)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (Debian: apt-get install time)"
python3 -c 'import cryptography, requests' 2>/dev/null || die "python3 needs cryptography and requests (pip install cryptography requests)"

ROOT="$PWD"
CE="$ROOT/target/release/ce-crypt"
DATA="$ROOT/bench-data"
cargo build --release --quiet   # a no-op when the binary is up to date
"$CE" send --help 2>&1 | grep -q -- '--concurrency' && "$CE" send --help 2>&1 | grep -q -- '--journal' \
  || die "$CE has no bulk send (--lines, --concurrency, --journal); rebuild it: cargo build --release"
mkdir -p "$DATA"

# Throwaway test values, known to the stand-ins only.
KEY=Xk29vPqL0aZt7RmN4bWc8YdE1fGh3JsU
IV=Qw5Er7Ty9Ui2Op4A
API_KEY="bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
export CE_SECRET_KEY="$KEY" CE_SECRET_IV="$IV" CE_API_KEY="$API_KEY"
unset CE_ASSET_ID CE_PROFILE CE_REGION CE_KEY_ENCODING CE_CA_FILE CE_ENDPOINT
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

EV1M="$DATA/events-1m.ndjson"
EV100K="$DATA/events-100k.ndjson"
gen() { # FILE COUNT: (re)write unless present and written in the last hour
  if [ -s "$1" ] && [ -n "$(find "$1" -mmin -60)" ]; then return; fi
  echo "writing $2 events to ${1#"$ROOT"/}"
  python3 scripts/gen_events.py --count "$2" -o "$1.tmp" && mv "$1.tmp" "$1"
}
gen "$EV1M" 1000000
gen "$EV100K" 100000

# Stand-ins: started in this shell (so the trap can stop them), port read from their first line.
PIDS=()
stop_standins() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_standins EXIT
trap 'exit 130' INT TERM

start_standin() { # NAME [stand-in options...] -> sets PORT
  local name="$1"; shift
  local out="$DATA/standin-$name.out"
  : >"$out"
  python3 scripts/standin_api.py --port 0 --key "$KEY" --iv "$IV" --api-key "$API_KEY" "$@" \
    >"$out" 2>"$DATA/standin-$name.err" &
  local pid=$!
  PIDS+=("$pid")
  local i
  for i in $(seq 100); do
    [ -s "$out" ] && break
    kill -0 "$pid" 2>/dev/null || die "stand-in $name did not start: $(tail -n 3 "$DATA/standin-$name.err")"
    sleep 0.1
  done
  PORT=$(head -n 1 "$out")
  [[ "$PORT" =~ ^[0-9]+$ ]] || die "stand-in $name printed no port"
}

events_counted() { # PORT -> events the stand-in accepted so far
  python3 -c 'import json, sys, urllib.request
print(json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/stats", timeout=10))["events"])' "$1"
}

TIMES="$DATA/send.time"
timed() { # COMMAND...: run under GNU time; sets WALL USER SYS RSS_KIB
  if ! /usr/bin/time -f '%e %U %S %M' -o "$TIMES" "$@"; then
    die "failed: $*"
  fi
  read -r WALL USER SYS RSS_KIB < <(tail -n 1 "$TIMES")
}

calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
FAILED=0

echo "machine: $(nproc) cores, $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ); $("$CE" --version)"

# a. One million events, defaults.
start_standin fast
URL="http://127.0.0.1:$PORT/v1/activity/upload"
echo "a. send 1,000,000 events (stand-in on port $PORT)"
before=$(events_counted "$PORT")
rm -f "$DATA/r1m.json"
timed env CE_ENDPOINT="$URL" "$CE" send --lines -i "$EV1M" --journal "$DATA/j1m.ce-send" --restart \
  --quiet --report "$DATA/r1m.json"
A_WALL=$WALL A_CPU=$(calc "$USER + $SYS") A_RSS=$(calc "$RSS_KIB / 1024" 1)
A_COUNTED=$(( $(events_counted "$PORT") - before ))
A_SENT=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sent"])' "$DATA/r1m.json")
echo "   wall ${A_WALL} s, user ${USER} s, sys ${SYS} s, peak RSS ${A_RSS} MiB;" \
  "stand-in counted ${A_COUNTED}, report says sent ${A_SENT}"

# b. CPU per 100,000 events: ce-crypt against the Python client, interleaved runs.
RUNS=3
echo "b. client CPU for 100,000 events, $RUNS runs each"
ce_cpu=() py_cpu=() B_COUNT_OK=1
for run in $(seq "$RUNS"); do
  before=$(events_counted "$PORT")
  timed env CE_ENDPOINT="$URL" "$CE" send --lines -i "$EV100K" --journal "$DATA/j100k.ce-send" --restart --quiet
  ce_cpu+=("$(calc "$USER + $SYS")")
  [ $(( $(events_counted "$PORT") - before )) -eq 100000 ] || B_COUNT_OK=0
  before=$(events_counted "$PORT")
  timed python3 scripts/python_bulk_client.py --url "$URL" --key "$KEY" --iv "$IV" --api-key "$API_KEY" \
    -i "$EV100K" 2>"$DATA/python-client.err"
  py_cpu+=("$(calc "$USER + $SYS")")
  [ $(( $(events_counted "$PORT") - before )) -eq 100000 ] || B_COUNT_OK=0
  echo "   run $run: ce-crypt ${ce_cpu[-1]} s, python ${py_cpu[-1]} s"
done
B_CE=$(median "${ce_cpu[@]}") B_PY=$(median "${py_cpu[@]}")
B_RATIO=$(calc "$B_CE / $B_PY")

# c. 50 ms per answer: concurrency 4 against 1, batches of 100.
start_standin slow --latency-ms 50
SLOW="http://127.0.0.1:$PORT/v1/activity/upload"
echo "c. 100,000 events in batches of 100, stand-in answering after 50 ms (port $PORT)"
C_COUNT_OK=1
before=$(events_counted "$PORT")
timed env CE_ENDPOINT="$SLOW" "$CE" send --lines -i "$EV100K" --journal "$DATA/jc4.ce-send" --restart --quiet \
  --batch-size 100 --concurrency 4
C4=$WALL
[ $(( $(events_counted "$PORT") - before )) -eq 100000 ] || C_COUNT_OK=0
echo "   --concurrency 4: ${C4} s"
before=$(events_counted "$PORT")
timed env CE_ENDPOINT="$SLOW" "$CE" send --lines -i "$EV100K" --journal "$DATA/jc1.ce-send" --restart --quiet \
  --batch-size 100 --concurrency 1
C1=$WALL
[ $(( $(events_counted "$PORT") - before )) -eq 100000 ] || C_COUNT_OK=0
echo "   --concurrency 1: ${C1} s"
C_RATIO=$(calc "$C4 / $C1")

row() { # MEASURE MEASURED GOAL CONDITION(awk, or "-"): prints a table row, sets FAILED on a miss
  local v=-
  if [ "$4" != - ]; then
    if awk "BEGIN { exit !($4) }"; then v=ok; else v=MISSED; FAILED=1; fi
  fi
  printf '%-42s %-28s %-11s %s\n' "$1" "$2" "$3" "$v"
}
echo
printf '%-42s %-28s %-11s %s\n' "measure" "measured" "goal" "verdict"
row "1M events: peak RSS" "${A_RSS} MiB" "<= 48 MiB" "$A_RSS <= 48"
row "1M events: counted by the stand-in" "$A_COUNTED (report: $A_SENT)" "= 1000000" \
  "$A_COUNTED == 1000000 && $A_SENT == 1000000"
row "1M events: wall / user+sys" "${A_WALL} s / ${A_CPU} s" "-" -
row "CPU per 100k events: ce-crypt / python" "$B_RATIO (${B_CE} s / ${B_PY} s)" "<= 0.2" "$B_RATIO <= 0.2"
row "  each run counted 100,000 events" "$B_COUNT_OK (1 = yes)" "1" "$B_COUNT_OK == 1"
row "50 ms latency, batch 100: wall c4 / c1" "$C_RATIO (${C4} s / ${C1} s)" "<= 0.33" "$C_RATIO <= 0.33"
row "  each run counted 100,000 events" "$C_COUNT_OK (1 = yes)" "1" "$C_COUNT_OK == 1"
exit "$FAILED"
