#!/usr/bin/env bash
# Builds editors/vscode/casepol.vsix, the VS Code extension, with the npm packages pinned in
# package-lock.json (`npm ci`) and @vscode/vsce. Needs Node.js 20 or later and npm. Install the
# result with `code --install-extension editors/vscode/casepol.vsix` (docs/editors.md).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
cp ../../LICENSE LICENSE
npm run --silent package
# The package must hold the client, its one runtime dependency, the grammar and the language
# configuration: a .vsix without them installs and then does nothing.
python3 - casepol.vsix <<'PY'
import sys, zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = [
    "extension/package.json",
    "extension/extension.js",
    "extension/language-configuration.json",
    "extension/syntaxes/casepol.tmLanguage.json",
    "extension/LICENSE.txt",
    "extension/node_modules/vscode-languageclient/package.json",
]
missing = [n for n in need if n not in names]
if missing:
    sys.exit("casepol.vsix lacks " + ", ".join(missing))
leaked = sorted(n for n in names if n.startswith(("extension/test/", "extension/node_modules/@vscode/vsce/")))
if leaked:
    sys.exit("casepol.vsix holds what it should not: " + ", ".join(leaked[:5]))
print(f"casepol.vsix: {len(names)} files")
PY
