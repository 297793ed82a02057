#!/usr/bin/env bash
# The Python package's tests (docs/bindings.md): the wheel built with maturin (unoptimised by
# default, for build time; CASEPOL_PY_PROFILE=release for the optimised one), installed in a
# fresh venv, and pytest run against the installed package (tests/test_casepol.py compares it
# with the command line, so the casepol binary is built first).
set -euo pipefail
cd "$(dirname "$0")/../.."

tools=target/python-venv
if [ ! -x "$tools/bin/maturin" ]; then
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet 'maturin==1.16.0'
fi
cargo build --quiet --bin casepol

profile=${CASEPOL_PY_PROFILE:-dev}
wheels=target/wheels-$profile
rm -rf "$wheels"
"$tools/bin/maturin" build --quiet --profile "$profile" -m bindings/python/Cargo.toml --out "$wheels"

# A fresh venv, as a user's: the wheel and pytest, nothing else.
venv=target/python-test-venv
python3 -m venv --clear "$venv"
"$venv/bin/pip" install --quiet 'pytest==8.4.2'
"$venv/bin/pip" install --quiet "$wheels"/casepol-*.whl
# From another directory, so that `import casepol` finds the installed package, not the source.
(cd "$venv" && CASEPOL_BIN="$OLDPWD/target/debug/casepol" bin/python -m pytest -q -p no:cacheprovider \
  "$OLDPWD/bindings/python/tests")
