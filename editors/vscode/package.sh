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
# And what it holds must load: extension.js and every module it requires, from the unpacked
# package alone, with a stand-in for the `vscode` module that only VS Code provides.
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' casepol.vsix "$unpacked"
node -e '
const Module = require("node:module");
const handler = { get: (t, p) => (p in t ? t[p] : (t[p] = new Proxy(class {}, handler))) };
const vscode = new Proxy({}, handler);
const load = Module._load;
Module._load = function (request, ...rest) {
  return request === "vscode" ? vscode : load.call(this, request, ...rest);
};
const extension = require(process.argv[1]);
for (const name of ["activate", "deactivate"]) {
  if (typeof extension[name] !== "function") throw new Error(`extension.js exports no ${name}`);
}
console.log("casepol.vsix: extension.js loads from the package");
' "$unpacked/extension/extension.js"
