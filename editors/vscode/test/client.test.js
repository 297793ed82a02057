// Tests of the client (extension.js) without VS Code: the `vscode` module is replaced by a stub
// that records what the extension asks of it, and the language client by one that records how
// it would start the server.
'use strict';

const assert = require('node:assert/strict');
const Module = require('node:module');
const test = require('node:test');

const started = [];
let settings = {};
let failStart = false;
const errors = [];
const commands = new Map();
let configListener;

const vscodeStub = {
  workspace: {
    getConfiguration: (section) => {
      assert.equal(section, 'casepol');
      return { get: (name) => settings[name] };
    },
    createFileSystemWatcher: (glob) => ({ glob }),
    onDidChangeConfiguration: (listener) => {
      configListener = listener;
      return { dispose() {} };
    },
  },
  window: { showErrorMessage: (message) => errors.push(message) },
  commands: {
    registerCommand: (name, callback) => {
      commands.set(name, callback);
      return { dispose() {} };
    },
  },
};

class LanguageClientStub {
  constructor(id, name, serverOptions, clientOptions) {
    this.record = { id, serverOptions, clientOptions, stopped: false };
    started.push(this.record);
  }
  async start() {
    if (failStart) throw new Error('spawn casepol ENOENT');
  }
  async stop() {
    this.record.stopped = true;
  }
}

const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  if (request === 'vscode') return vscodeStub;
  if (request === 'vscode-languageclient/node') {
    return { LanguageClient: LanguageClientStub, TransportKind: { stdio: 0 } };
  }
  return originalLoad.call(this, request, parent, isMain);
};
const extension = require('../extension');

test('the server is `casepol lsp` over stdio, or the program casepol.serverPath names', () => {
  const options = (serverPath) => extension.serverOptions({ get: () => serverPath });
  assert.deepEqual(options(undefined), { command: 'casepol', args: ['lsp'], transport: 0 });
  assert.deepEqual(options(''), { command: 'casepol', args: ['lsp'], transport: 0 });
  assert.deepEqual(options('  '), { command: 'casepol', args: ['lsp'], transport: 0 });
  assert.deepEqual(options(' /opt/casepol/bin/casepol '), {
    command: '/opt/casepol/bin/casepol',
    args: ['lsp'],
    transport: 0,
  });
});

test('activation starts the client for casepol documents, and a setting change restarts it', async () => {
  settings = { serverPath: '/usr/local/bin/casepol' };
  const subscriptions = [];
  await extension.activate({ subscriptions });
  assert.equal(started.length, 1);
  const first = started[0];
  assert.equal(first.id, 'casepol');
  assert.equal(first.serverOptions.command, '/usr/local/bin/casepol');
  assert.deepEqual(first.serverOptions.args, ['lsp']);
  assert.deepEqual(
    first.clientOptions.documentSelector.map((s) => s.language),
    ['casepol', 'casepol'],
  );
  assert.equal(first.clientOptions.synchronize.fileEvents.glob, '**/*.casepol');
  assert.ok(commands.has('casepol.restartServer'));
  assert.equal(subscriptions.length, 2);

  // A change to another setting leaves the server alone.
  await configListener({ affectsConfiguration: (name) => name === 'editor.tabSize' });
  assert.equal(started.length, 1);

  settings = { serverPath: 'casepol-dev' };
  await configListener({ affectsConfiguration: (name) => name === 'casepol.serverPath' });
  assert.equal(started.length, 2);
  assert.ok(first.stopped);
  assert.equal(started[1].serverOptions.command, 'casepol-dev');

  await commands.get('casepol.restartServer')();
  assert.equal(started.length, 3);
  assert.ok(started[1].stopped);

  await extension.deactivate();
  assert.ok(started[2].stopped);
});

test('a server that cannot start is reported, not thrown', async () => {
  failStart = true;
  errors.length = 0;
  await commands.get('casepol.restartServer')();
  assert.equal(errors.length, 1);
  assert.match(errors[0], /could not start `casepol-dev lsp`/);
  assert.match(errors[0], /casepol\.serverPath/);
  failStart = false;
});
