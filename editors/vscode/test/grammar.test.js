// Tests of the TextMate grammar (syntaxes/casepol.tmLanguage.json):
// - every `.casepol` file of the repository that casepol parses (editors/parsed-files.sh)
//   tokenizes without an `invalid` scope on any line;
// - the annotated samples in test/samples/ get the scopes their assertion comments name;
// - text that is no casepol (`||`, `/* */`, an unknown escape) does get an `invalid` scope, so
//   the first check can fail.
'use strict';

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { tokenize } = require('./tokenize');

const ROOT = path.join(__dirname, '..', '..', '..');
const SAMPLES = path.join(__dirname, 'samples');

const invalidTokens = (tokens) =>
  tokens.filter((t) => t.scopes.some((s) => s.startsWith('invalid')) && t.text.trim() !== '');

test('every .casepol file that casepol parses has no invalid token', async () => {
  const list = execFileSync('bash', [path.join(ROOT, 'editors', 'parsed-files.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const files = list.split('\n').filter((f) => f !== '');
  // The repository has hundreds: a short list means the helper lost files.
  assert.ok(files.length >= 400, `only ${files.length} files listed`);
  const failures = [];
  for (const file of files) {
    const { tokens } = await tokenize(fs.readFileSync(path.join(ROOT, file), 'utf8'));
    for (const t of invalidTokens(tokens)) {
      failures.push(`${file}:${t.line + 1}:${t.start + 1}: \`${t.text}\` is ${t.scopes.at(-1)}`);
    }
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} invalid tokens`);
  console.log(`# tokenized ${files.length} files`);
});

/**
 * The assertions of a sample file, in the manner of vscode-tmgrammar-test: a comment line
 * `//   ^^^ scope another.scope` asserts the columns of its carets on the nearest line above that
 * is no assertion; `// <--- scope` asserts the first columns (one per dash), which carets cannot
 * reach. Each scope named must be on the token, or a prefix of one of its scopes; `- scope` asserts
 * it is not.
 */
function assertions(lines) {
  const out = [];
  let source = -1;
  lines.forEach((text, line) => {
    const caret = /^\s*\/\/( *)(\^+)\s+(.*)$/.exec(text);
    const arrow = /^\s*\/\/ *<(-+)\s+(.*)$/.exec(text);
    if (!caret && !arrow) {
      source = line;
      return;
    }
    assert.ok(source >= 0, `assertion on line ${line + 1} has no source line above`);
    const start = caret ? text.indexOf('^') : 0;
    const length = caret ? caret[2].length : arrow[1].length;
    const spec = (caret ? caret[3] : arrow[2]).trim();
    const [want, notWant = ''] = spec.split(/\s+-\s+/);
    out.push({
      line: source,
      assertedOn: line,
      start,
      end: start + length,
      want: want.split(/\s+/).filter(Boolean),
      notWant: notWant.split(/\s+/).filter(Boolean),
    });
  });
  return out;
}

const hasScope = (scopes, want) => scopes.some((s) => s === want || s.startsWith(`${want}.`));

const samples = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.casepol'));

test('there are annotated samples', () => {
  assert.ok(samples.length >= 3, `${samples.length} samples`);
});

for (const sample of samples) {
  test(`sample ${sample}`, async () => {
    const { lines, tokens } = await tokenize(fs.readFileSync(path.join(SAMPLES, sample), 'utf8'));
    const checks = assertions(lines);
    assert.ok(checks.length > 0, 'a sample asserts something');
    assert.deepEqual(invalidTokens(tokens).map((t) => `${t.line + 1}:${t.start + 1} ${t.text}`), []);
    for (const check of checks) {
      for (let column = check.start; column < check.end; column++) {
        const token = tokens.find((t) => t.line === check.line && t.start <= column && column < t.end);
        const where = `${sample}:${check.assertedOn + 1}: column ${column + 1} of line ${check.line + 1}`;
        assert.ok(token, `${where}: no token`);
        for (const want of check.want) {
          assert.ok(hasScope(token.scopes, want), `${where}: \`${token.text}\` has ${token.scopes.join(' ')}, not ${want}`);
        }
        for (const notWant of check.notWant) {
          assert.ok(!hasScope(token.scopes, notWant), `${where}: \`${token.text}\` has ${notWant}`);
        }
      }
    }
  });
}

test('text that is no casepol is marked invalid', async () => {
  for (const text of [
    'allow Clerk: view when principal.a == 1 || principal.b == 2;',
    '/* a block comment */',
    'role A && B;',
    'attr name: string = "a\\qb";',
    'role Clerk; #',
  ]) {
    const { tokens } = await tokenize(text);
    assert.ok(invalidTokens(tokens).length > 0, `nothing invalid in ${text}`);
  }
});
