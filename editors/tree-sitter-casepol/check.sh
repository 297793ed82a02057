#!/usr/bin/env bash
# Checks the tree-sitter grammar of casepol (run by .ci/run; see docs/editors.md):
#  1. the tree-sitter CLI, at a pinned version, is built from crates.io into
#     target/tree-sitter-cli-VERSION when it is not there yet (the npm package downloads a
#     prebuilt binary instead, which cannot be had here); it needs a C compiler (gcc) to build
#     the parser it tests, and Node.js to run grammar.js;
#  2. `tree-sitter generate` must reproduce the committed src/ from grammar.js exactly;
#  3. `tree-sitter test`: the corpus (test/corpus) and the highlight tests (test/highlight);
#  4. every .casepol file of the repository that casepol parses (editors/parsed-files.sh: all
#     but the deliberately broken fixtures under tests/data/ and fuzz/seeds/) parses here
#     without an ERROR or MISSING node.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=0.27.1
cli="$root/target/tree-sitter-cli-$version/bin/tree-sitter"
# A debug build without debug information, and without the QuickJS runtime (its default
# feature), since Node.js runs grammar.js: on a busy machine of two cores that took 7 minutes,
# where the default release build took 24. The checks below run in a few seconds all the same.
if [ ! -x "$cli" ]; then
  echo "building tree-sitter-cli $version from crates.io"
  CARGO_PROFILE_DEV_DEBUG=0 cargo install --quiet --debug --no-default-features tree-sitter-cli \
    --locked --version "$version" --root "$root/target/tree-sitter-cli-$version"
fi
# The compiled parsers go to a cache of their own under target/, not to ~/.cache.
export XDG_CACHE_HOME="$root/target/tree-sitter-cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# No user configuration: the grammar is named by path (--grammar-path) alone.
echo '{ "parser-directories": [] }' >"$work/config.json"

cd "$here"
cp -a src "$work/committed"
"$cli" generate --js-runtime node
if ! diff -r "$work/committed" src >"$work/generate.diff"; then
  head -n 40 "$work/generate.diff" >&2
  echo "check.sh: src/ is not what \`tree-sitter generate\` makes of grammar.js: run it in" \
    "editors/tree-sitter-casepol and commit src/" >&2
  exit 1
fi

"$cli" test

cd "$root"
bash editors/parsed-files.sh >"$work/files"
count=$(wc -l <"$work/files")
status=0
"$cli" parse --grammar-path "$here" --paths "$work/files" --quiet --stat \
  --config-path "$work/config.json" >"$work/parse" 2>"$work/parse.err" || status=$?
# --quiet still names each file with an error; the summary says how many parsed cleanly.
if [ "$status" -ne 0 ] || grep -qE 'ERROR|MISSING' "$work/parse"; then
  grep -E 'ERROR|MISSING' "$work/parse" | head -n 40 >&2 || true
  cat "$work/parse.err" >&2
  echo "check.sh: tree-sitter failed to parse some of the $count files casepol parses" >&2
  exit 1
fi
echo "tree-sitter-casepol: $count of $count .casepol files parse without an error node"
# For information: how many of the broken fixtures tree-sitter rejects too (all but those that
# are broken in a way no grammar sees, such as a file that is not UTF-8).
git ls-files '*.casepol' | grep -vxF -f "$work/files" >"$work/broken" || true
"$cli" parse --grammar-path "$here" --paths "$work/broken" --quiet --stat \
  --config-path "$work/config.json" >"$work/parse-broken" 2>/dev/null || true
echo "tree-sitter-casepol: of the $(wc -l <"$work/broken") fixtures casepol rejects," \
  "$(grep -cE 'ERROR|MISSING' "$work/parse-broken" || true) have an error node here too"
