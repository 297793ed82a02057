#!/usr/bin/env bash
# The server under load: `casepol serve` (release build) on the WorkZone example, and wrk (from
# Debian's packages: `apt-get install wrk`) on loopback, each run DURATION seconds (10 unless
# set), in this order: the ceiling (`GET /health`, the smallest answer on the same stack: the
# same connections, middleware and JSON envelope, no body and no decision), one `/v1/check` per
# request with keep-alive, and batches of 1,000 requests. Prints one Markdown row per run:
# requests per second, latency percentiles, and decisions per second. docs/performance.md §9
# reports a run.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10}
if ! command -v wrk >/dev/null; then
  echo "wrk is not installed: apt-get install wrk" >&2
  exit 2
fi
cargo build --release --quiet
dir=$(mktemp -d /tmp/casepol-bench-serve.XXXXXX)
target/release/casepol serve policies/workzone --entities policies/workzone/entities.json \
  --listen 127.0.0.1:0 2>"$dir/serve.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
port=
for _ in $(seq 100); do
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$dir/serve.log" | sed 's/.*://' || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$dir/serve.log" >&2; exit 1; }
url="http://127.0.0.1:$port"

one='{"principal": "BB", "action": "view", "resource": "case-1"}'
cat >"$dir/check.lua" <<EOF
wrk.method = "POST"
wrk.body = '$one'
wrk.headers["Content-Type"] = "application/json"
EOF
# A batch of 1,000 requests: 4 users × 2 actions × 5 resources, repeated.
items=()
for p in BB AA CC DD; do
  for a in view edit; do
    for r in case-1 doc-1 supp-1 doc-2 contact-1; do
      items+=("{\"principal\": \"$p\", \"action\": \"$a\", \"resource\": \"$r\"}")
    done
  done
done
batch=""
for i in $(seq 0 999); do
  batch+="${batch:+,}${items[$((i % ${#items[@]}))]}"
done
cat >"$dir/batch.lua" <<EOF
wrk.method = "POST"
wrk.body = [[{"requests": [$batch]}]]
wrk.headers["Content-Type"] = "application/json"
EOF
# Every answer must be a 200; wrk counts the others as "Non-2xx".
check_answer() {
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' "$@")
  [ "$status" = 200 ] || { echo "bench: $* answered $status" >&2; exit 1; }
}
check_answer "$url/health"
check_answer -d "$one" "$url/v1/check"

echo "| what | connections | requests/s | p50 | p90 | p99 | decisions/s |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
run() {
  local what=$1 conns=$2 per=$3
  shift 3
  local out rps p50 p90 p99
  out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency "$@")
  if grep -q "Non-2xx" <<<"$out"; then
    echo "bench: $what: some answers were not 200" >&2
    echo "$out" >&2
    exit 1
  fi
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p90=$(awk '$1 == "90%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local decisions="—"
  if [ "$per" -gt 0 ]; then
    decisions=$(awk -v r="$rps" -v n="$per" 'BEGIN {printf "%.0f", r * n}')
  fi
  echo "| $what | $conns | $rps | $p50 | $p90 | $p99 | $decisions |"
}
for conns in 4 16; do
  run "ceiling: GET /health" "$conns" 0 "$url/health"
  run "POST /v1/check, one request" "$conns" 1 -s "$dir/check.lua" "$url/v1/check"
done
run "POST /v1/check, batches of 1,000" 2 1000 -s "$dir/batch.lua" "$url/v1/check"
echo
echo "load average when done: $(cut -d' ' -f1-3 /proc/loadavg)"
