#!/usr/bin/env bash
# Reproduces every figure of docs/performance.md in one run, and prints them as Markdown
# (also written to target/perf/report.md). Takes about a quarter of an hour and a few GB of
# memory; run it on an otherwise idle machine. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/perf
mkdir -p "$out"
uptime > "$out/load-before.txt"

# casepol alone: decide, explain and compile at three sizes, entity load, the batch.
cargo bench --bench decide --bench entities --bench batch --bench live -- --noplot
# casepol and Cedar side by side.
cargo bench -p casepol-cedar-bench --bench side_by_side -- --noplot

# Memory, which criterion cannot measure: a fresh process loads the entities and reads its own
# resident memory from /proc/self/status.
cargo build --release -p casepol-gen
cargo build --release --example entity_memory
target/release/casepol-gen policy --rules 1000 > "$out/policy-1000.casepol"
target/release/casepol-gen entities --rules 1000 --users 100000 --cases 1000000 --docs-per-case 0 > "$out/load.json"
target/release/examples/entity_memory "$out/policy-1000.casepol" "$out/load.json" > "$out/memory.json"
# Two versions of the same entities, one change apart (live entities).
cargo build --release --example live_memory
target/release/examples/live_memory "$out/policy-1000.casepol" "$out/load.json" > "$out/live-memory.json"

uptime > "$out/load-after.txt"
cargo run --quiet --release -p casepol-cedar-bench --bin report | tee "$out/report.md"
