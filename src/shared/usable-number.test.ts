import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasUnusableNumber } from './usable-number.ts';

test('non-finite numbers and whole numbers past 2^53 are unusable, anywhere in a value', () => {
  for (const bad of [Infinity, -Infinity, NaN, 2 ** 53, -(2 ** 53), 1e300, JSON.parse('1e400')]) {
    assert.equal(hasUnusableNumber(bad), true, String(bad));
    assert.equal(hasUnusableNumber({ a: { b: [1, bad] } }), true, `nested ${bad}`);
  }
});

test('ordinary numbers, text and empty values are usable', () => {
  for (const good of [0, -1, 2 ** 53 - 1, 1.5, 9999, 'Infinity', '1e400', null, undefined, [], {}, { a: [1, 'x', { b: 2 }] }]) {
    assert.equal(hasUnusableNumber(good), false, JSON.stringify(good));
  }
});
