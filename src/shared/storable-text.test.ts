import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasUnstorableText, stringProblem, textProblem } from './storable-text.ts';

test('NUL characters and unpaired surrogates are found anywhere in a value; pairs and plain text are fine', () => {
  for (const fine of ['', 'ADA LOVELACE', 'caf\u00e9 \ud83d\ude00', '\\u0000', 42, null, undefined, true, { a: ['b', { c: 'd' }] }]) {
    assert.equal(hasUnstorableText(fine), false, JSON.stringify(fine));
  }
  for (const bad of ['a\u0000b', '\ud800', 'x\ud83d', '\ude00x', '\ude00\ud83d', ['ok', 'n\u0000'], { a: { b: ['\udfff'] } }, { ['k\u0000']: 'v' }]) {
    assert.equal(hasUnstorableText(bad), true, JSON.stringify(bad));
  }
});

test('control characters: every C0 (TAB, CR, LF included), DEL and every C1, and nothing else', () => {
  for (let c = 0x01; c <= 0x1f; c++) assert.equal(stringProblem(`A${String.fromCharCode(c)}B`), 'control', `U+${c.toString(16)}`);
  for (let c = 0x7f; c <= 0x9f; c++) assert.equal(stringProblem(`A${String.fromCharCode(c)}B`), 'control', `U+${c.toString(16)}`);
  for (const fine of [' ', '~', '\u00a0', '\u00a1', 'É', 'ß', '東京', '\ud83d\ude00', '\u2028', '\\n', '\\u0007']) assert.equal(stringProblem(fine), undefined, JSON.stringify(fine));
  assert.equal(stringProblem('A\u0000B'), 'unstorable', 'a NUL keeps its own code');
});

test('in values: keys and nested strings; an unstorable character wins wherever it is', () => {
  assert.equal(textProblem({ name: 'ADA\r\nLOVELACE' }), 'control');
  assert.equal(textProblem({ ['key\n']: 'v' }), 'control');
  assert.equal(textProblem([[['\u0085']]]), 'control');
  assert.equal(textProblem({ a: 'x\ny', b: ['\ud800'] }), 'unstorable');
  assert.equal(textProblem({ a: ['\ud800'], b: 'x\ny' }), 'unstorable');
  assert.equal(textProblem({ a: 'JOSÉ', b: [1, null, true] }), undefined);
});

test('the walk is not recursive: 100,000 levels are checked, not a stack overflow', () => {
  let deep: unknown = 'x\u001by';
  for (let i = 0; i < 100_000; i++) deep = { n: deep };
  assert.equal(textProblem(deep), 'control');
});
