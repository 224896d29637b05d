import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasUnstorableText } from './storable-text.ts';

test('NUL characters and unpaired surrogates are found anywhere in a value; pairs and plain text are fine', () => {
  for (const fine of ['', 'ADA LOVELACE', 'caf\u00e9 \ud83d\ude00', '\\u0000', 42, null, undefined, true, { a: ['b', { c: 'd' }] }]) {
    assert.equal(hasUnstorableText(fine), false, JSON.stringify(fine));
  }
  for (const bad of ['a\u0000b', '\ud800', 'x\ud83d', '\ude00x', '\ude00\ud83d', ['ok', 'n\u0000'], { a: { b: ['\udfff'] } }, { ['k\u0000']: 'v' }]) {
    assert.equal(hasUnstorableText(bad), true, JSON.stringify(bad));
  }
});
