#!/usr/bin/env bash
# The overhead of the bindings, measured in one run beside the Rust library on the same
# requests (docs/performance.md §11): the Rust library and the extern "C" functions from Rust
# (bindings/c/benches/overhead.rs, which also writes the requests), the C ABI from C
# (bindings/c/bench/bench.c, gcc -O2, the release static library), and the Python package
# (bindings/python/bench/overhead.py, the release wheel). Prints every figure; takes a few
# minutes, most of it building in release.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench -p casepol-c --bench overhead
cargo build --release -p casepol-c
mkdir -p target/overhead
gcc -std=c11 -O2 -Wall -Wextra -Werror -I bindings/c/include bindings/c/bench/bench.c \
  target/release/libcasepol_c.a -lpthread -ldl -lm -o target/overhead/bench-c
target/overhead/bench-c policies/workzone target/overhead/requests.tsv

tools=target/python-venv
if [ ! -x "$tools/bin/maturin" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet 'maturin==1.16.0'
fi
rm -rf target/wheels-release
"$tools/bin/maturin" build --quiet --release -m bindings/python/Cargo.toml --out target/wheels-release
venv=target/python-bench-venv
python3 -m venv --clear "$venv"
"$venv/bin/pip" install --quiet target/wheels-release/casepol-*.whl
(cd "$venv" && bin/python "$OLDPWD/bindings/python/bench/overhead.py" "$OLDPWD/policies/workzone" \
  "$OLDPWD/target/overhead/requests.tsv")
