// Tokenizes casepol text with the extension's TextMate grammar, through the same engine VS Code
// uses (vscode-textmate with the Oniguruma regular expressions of vscode-oniguruma).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const GRAMMAR = path.join(__dirname, '..', 'syntaxes', 'casepol.tmLanguage.json');

let grammarPromise;

/** The casepol grammar, loaded once. */
function loadGrammar() {
  if (!grammarPromise) {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
    const onigLib = oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength)).then(() => ({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }));
    const registry = new vsctm.Registry({
      onigLib,
      loadGrammar: async (scopeName) => {
        if (scopeName !== 'source.casepol') return null;
        return vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR);
      },
    });
    grammarPromise = registry.loadGrammar('source.casepol');
  }
  return grammarPromise;
}

/**
 * The tokens of `text`, line by line: `{ line, start, end, text, scopes }`, lines and columns
 * counted from 0. Lines end at `\n`, `\r\n` or `\r`, as VS Code splits them.
 */
async function tokenize(text) {
  const grammar = await loadGrammar();
  const lines = text.split(/\r\n|\r|\n/);
  const tokens = [];
  let state = vsctm.INITIAL;
  lines.forEach((lineText, line) => {
    const result = grammar.tokenizeLine(lineText, state);
    for (const token of result.tokens) {
      tokens.push({
        line,
        start: token.startIndex,
        end: Math.min(token.endIndex, lineText.length),
        text: lineText.slice(token.startIndex, token.endIndex),
        scopes: token.scopes,
      });
    }
    state = result.ruleStack;
  });
  return { lines, tokens };
}

module.exports = { tokenize };
