#!/usr/bin/env bash
# The C library's tests (docs/bindings.md): its Rust tests (including the header's staleness
# check), then tests/test.c built with gcc against the static and the shared library, run, and
# run again under valgrind memcheck, which fails on any invalid access or leak.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v valgrind >/dev/null; then
  echo "installing valgrind"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

cargo test -p casepol-c
cargo build -p casepol-c
lib=target/debug
out=target/c-tests
mkdir -p "$out"
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -I bindings/c/include)
gcc "${cflags[@]}" bindings/c/tests/test.c "$lib/libcasepol_c.a" -lpthread -ldl -lm -o "$out/test-static"
gcc "${cflags[@]}" bindings/c/tests/test.c -L "$lib" -lcasepol_c -Wl,-rpath,"$PWD/$lib" -lpthread \
  -o "$out/test-shared"

echo "C test, static library"
"$out/test-static" policies/workzone
echo "C test, shared library, under valgrind memcheck"
valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
  --error-exitcode=1 "$out/test-shared" policies/workzone
