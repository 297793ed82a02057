// The server the extension starts: `casepol lsp` from this repository (CASEPOL, or
// target/debug/casepol as editors/parsed-files.sh builds it), driven over stdio with the JSON-RPC
// library the client itself uses. It must offer what the extension relies on (formatting,
// semantic tokens) and publish a diagnostic for a policy with a mistake.
'use strict';

const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');
const rpc = require('vscode-jsonrpc/node');

const ROOT = path.join(__dirname, '..', '..', '..');

function casepolBinary() {
  const binary = process.env.CASEPOL || path.join(ROOT, 'target', 'debug', 'casepol');
  if (!fs.existsSync(binary)) {
    execFileSync('cargo', ['build', '--quiet', '--bin', 'casepol'], { cwd: ROOT, stdio: 'inherit' });
  }
  return path.resolve(ROOT, binary);
}

test('casepol lsp offers formatting and semantic tokens, and reports a mistake', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casepol-vscode-'));
  const file = path.join(dir, 'policy.casepol');
  const text = 'role Clerk;\naction view;\nallow Clerk: veiw;\n';
  fs.writeFileSync(file, text);
  const server = spawn(casepolBinary(), ['lsp'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = rpc.createMessageConnection(
    new rpc.StreamMessageReader(server.stdout),
    new rpc.StreamMessageWriter(server.stdin),
  );
  const diagnostics = new Promise((resolve) => {
    connection.onNotification('textDocument/publishDiagnostics', (params) => {
      if (params.uri.endsWith('/policy.casepol') && params.diagnostics.length > 0) resolve(params);
    });
  });
  connection.listen();
  try {
    const uri = `file://${file}`;
    const init = await connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: `file://${dir}`,
      capabilities: {},
    });
    const caps = init.capabilities;
    assert.ok(caps.documentFormattingProvider, 'no formatting');
    assert.ok(caps.semanticTokensProvider, 'no semantic tokens');
    assert.ok(caps.hoverProvider && caps.definitionProvider, 'no hover or definition');
    await connection.sendNotification('initialized', {});
    await connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'casepol', version: 1, text },
    });
    const published = await Promise.race([
      diagnostics,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no diagnostics in 20 s')), 20000)),
    ]);
    const codes = published.diagnostics.map((d) => d.code);
    assert.ok(codes.length > 0, 'a diagnostic for `veiw`');
    assert.ok(
      published.diagnostics.some((d) => d.range.start.line === 2),
      `the diagnostic is on line 3: ${JSON.stringify(published.diagnostics)}`,
    );
    await connection.sendRequest('shutdown');
    await connection.sendNotification('exit');
  } finally {
    connection.dispose();
    server.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
