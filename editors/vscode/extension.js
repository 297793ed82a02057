// The casepol extension for VS Code: starts `casepol lsp` over stdio and connects it to the
// editor. Diagnostics, hover, go to definition, references, rename, completion, document symbols,
// semantic tokens and formatting all come from the server; highlighting without the server comes
// from the TextMate grammar (syntaxes/casepol.tmLanguage.json).
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

/**
 * How to start the server: the `casepol.serverPath` setting (a path, or a name looked up on
 * `PATH`; `casepol` when unset or blank), run as `<serverPath> lsp`, talking over stdio.
 * @param {{ get(name: string): unknown }} config the `casepol` section of the settings
 */
function serverOptions(config) {
  const setting = config.get('serverPath');
  const command = typeof setting === 'string' && setting.trim() !== '' ? setting.trim() : 'casepol';
  return { command, args: ['lsp'], transport: TransportKind.stdio };
}

function clientOptions() {
  return {
    documentSelector: [
      { scheme: 'file', language: 'casepol' },
      { scheme: 'untitled', language: 'casepol' },
    ],
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.casepol'),
    },
  };
}

async function start() {
  const options = serverOptions(vscode.workspace.getConfiguration('casepol'));
  client = new LanguageClient('casepol', 'casepol language server', options, clientOptions());
  try {
    await client.start();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    vscode.window.showErrorMessage(
      `casepol: could not start \`${options.command} lsp\` (${message}). ` +
        'Install casepol (`cargo install --path .` in its repository) or set `casepol.serverPath`.',
    );
  }
}

async function stop() {
  const running = client;
  client = undefined;
  if (running) {
    await running.stop().catch(() => undefined);
  }
}

/** @param {import('vscode').ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('casepol.restartServer', async () => {
      await stop();
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('casepol.serverPath')) {
        await stop();
        await start();
      }
    }),
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate, serverOptions };
