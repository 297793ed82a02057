#!/usr/bin/env bash
# Prints, one a line, every `.casepol` file of the repository (as git tracks them) that casepol
# itself parses: all of them but those it rejects with a syntax error (CP0001) or cannot read
# (not UTF-8). The editor
# grammars (editors/vscode, editors/tree-sitter-casepol) are tested on this list, so a file the
# casepol parser accepts must be read by them without an error.
#
# The files left out are deliberately broken fixtures. They may lie only under tests/data/
# and fuzz/seeds/: a syntax error in any other file fails this script. A summary goes to stderr.
#
# CASEPOL names the casepol binary; without it, target/debug/casepol, built if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
casepol=${CASEPOL:-target/debug/casepol}
if [ ! -x "$casepol" ]; then
  cargo build --quiet --bin casepol
fi
mapfile -t files < <(git ls-files '*.casepol')
if [ "${#files[@]}" -eq 0 ]; then
  echo "parsed-files.sh: git lists no .casepol file" >&2
  exit 1
fi
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# Exit status 1 means some policy has errors, which most fixtures do; 2, that some file could not
# be read (the report says which).
status=0
"$casepol" validate --format json "${files[@]}" >"$report" || status=$?
if [ "$status" -gt 2 ]; then
  echo "parsed-files.sh: casepol validate exited with $status" >&2
  exit 1
fi
python3 - "$report" "${#files[@]}" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    policies = json.load(f)["policies"]
if len(policies) != int(sys.argv[2]):
    sys.exit(f"parsed-files.sh: {len(policies)} reports for {sys.argv[2]} files")
parsed, broken = [], []
for policy in policies:
    codes = {d["code"] for d in policy.get("diagnostics", [])}
    unreadable = "error" in policy
    (broken if unreadable or "CP0001" in codes else parsed).append(policy["policy"])
stray = [p for p in broken if not p.startswith(("tests/data/", "fuzz/seeds/"))]
if stray:
    sys.exit("parsed-files.sh: a syntax error outside tests/data/ and fuzz/seeds/: " + ", ".join(stray))
print(f"{len(parsed)} .casepol files parse; {len(broken)} fixtures with a syntax error (CP0001) or not in UTF-8 are left out", file=sys.stderr)
print("\n".join(parsed))
PY
