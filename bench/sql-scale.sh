#!/usr/bin/env bash
# The scale figures of docs/performance.md §7: the filter's statements for the indexes and the
# correlated ones they replaced, side by side, on 1,000,000 generated cases (1.48 million
# resources) in SQLite and PostgreSQL: the first page of 50 allowed ids and the whole answer,
# for the users ann, fay and bob; then loading the entities from PostgreSQL against loading them
# from JSON. Medians go to target/perf/sql-scale.txt, the statements and their plans to
# target/perf/plan-*.txt. CASEPOL_BENCH_CASES changes the size; CASEPOL_PG_URL names a
# PostgreSQL to use (it creates and drops the schema casepol_scale), otherwise one is started on
# loopback in a temporary directory, as .ci/run does. CASEPOL_BENCH_RUNS sets the runs of a whole
# answer (5), CASEPOL_BENCH_TIMEOUT the seconds after which PostgreSQL cancels a statement (300;
# the line then says so), CASEPOL_BENCH_ONLY=postgres leaves SQLite out, CASEPOL_BENCH_ONLY=load
# measures only loading the entities, from JSON, from SQLite and from PostgreSQL, and CASEPOL_BENCH_KEEP=1
# keeps the schema (a later run of the same size uses its rows instead of importing them again).
# Takes about 30 minutes on a loaded machine and 8 GB of memory.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/perf
mkdir -p "$out"

if [ -z "${CASEPOL_PG_URL:-}" ]; then
  bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PG_DIR=$(mktemp -d /tmp/casepol-pg.XXXXXX)
  pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
  port=54329
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  pg "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
  trap 'pg "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"' EXIT
  pg "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c shared_buffers=1GB" start >/dev/null
  export CASEPOL_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
fi

cargo build --release --example sql_scale
uptime | tee "$out/sql-scale-load.txt"
target/release/examples/sql_scale "$out" | tee "$out/sql-scale.txt"
uptime | tee -a "$out/sql-scale-load.txt"
