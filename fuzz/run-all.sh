#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each (default 60), one after the other, on one
# core, with the seed corpus and the dictionary, and stops at the first crash.
#
#   fuzz/run-all.sh [SECONDS] [TARGET...]
#
# One libFuzzer process, one thread: libFuzzer's default. (Its -jobs=1 -workers=1 would run
# the same single fuzzer, but in a child process whose output goes to fuzz-0.log.)
#
# Works on a stable toolchain: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags cargo-fuzz
# passes. SANITIZER=address adds AddressSanitizer (two to four times slower; casepol has no unsafe
# code, so it only watches the dependencies); the default, none, is still coverage-guided.
# New inputs go to fuzz/corpus/<target>/; a crash, hang (-timeout) or memory blow-up
# (-rss_limit_mb, -malloc_limit_mb) is saved under fuzz/artifacts/<target>/. Each run's log,
# ending with libFuzzer's final stats, is fuzz/logs/<target>.log.
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(parse check entities end_to_end scale)
fi
sanitizer="${SANITIZER:-none}"
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || {
    echo "cargo-fuzz is not installed: run \`cargo install cargo-fuzz --locked\`" >&2
    exit 2
}
[ -d fuzz/seeds ] || python3 fuzz/seeds.py

mkdir -p fuzz/logs
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    echo "== $t: ${seconds}s, sanitizer $sanitizer, log fuzz/logs/$t.log"
    cargo fuzz run --sanitizer "$sanitizer" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -dict=fuzz/casepol.dict -max_total_time="$seconds" \
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"fuzz/logs/$t.log" 2>&1 || {
        echo "!! $t found a crash: see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
        tail -n 40 "fuzz/logs/$t.log" >&2
        exit 1
    }
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb|new_units_added)' \
        "fuzz/logs/$t.log" | sed 's/^/   /'
done
