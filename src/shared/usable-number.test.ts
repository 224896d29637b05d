import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasUnusableNumber, parseCanonicalDecimal, parseCanonicalInteger, spellsUnusableNumber } from './usable-number.ts';

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

test('the walk is not recursive: a value nested 100,000 deep is checked, not a stack overflow', () => {
  let deep: unknown = Infinity;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.equal(hasUnusableNumber(deep), true);
});

test('canonical integers: optional minus, no leading zeros, no sign, exponent, fraction or space', () => {
  const good: Array<[string, number]> = [['0', 0], ['1', 1], ['-1', -1], ['2147483647', 2147483647], ['-2147483648', -2147483648], ['9007199254740991', 2 ** 53 - 1]];
  for (const [text, n] of good) assert.equal(parseCanonicalInteger(text), n, text);
  for (const bad of ['', ' ', '-', '-0', '00', '007', '+1', ' 1', '1 ', '1.0', '1.', '.5', '1e2', '1E2', '0x10', '0b1', '0o7', 'Infinity', '-Infinity', 'NaN',
    '1_000', '١٢', '9'.repeat(400), '9007199254740993', '99999999999999999', '1\n', '\t1']) {
    assert.equal(parseCanonicalInteger(bad), undefined, JSON.stringify(bad));
  }
});

test('canonical decimals: a canonical whole part and optionally a fraction of digits', () => {
  const good: Array<[string, number]> = [['0', 0], ['12', 12], ['12.5', 12.5], ['12.50', 12.5], ['0.01', 0.01], ['-0.5', -0.5], ['-3.25', -3.25], ['99999999999999.99', 99999999999999.99]];
  for (const [text, n] of good) assert.equal(parseCanonicalDecimal(text), n, text);
  for (const bad of ['', '-0', '-0.0', '-0.00', '01.5', '1.', '.5', '+1.5', '1.5e2', '1,5', ' 1.5', 'Infinity', 'NaN', '1'.repeat(17), '1.1234567890123456']) {
    assert.equal(parseCanonicalDecimal(bad), undefined, JSON.stringify(bad));
  }
});

test('text that spells a number no column holds is told apart from plain bad text', () => {
  for (const t of ['Infinity', '-Infinity', '+Infinity', 'NaN', ' Infinity ', '1e400', '-1e400', '9'.repeat(400), '9007199254740993', '1e16']) {
    assert.equal(spellsUnusableNumber(t), true, t);
  }
  for (const t of ['abc', '', ' ', '007', '-0', '1e2', '1.5', '0x10', '12abc', '9007199254740991']) assert.equal(spellsUnusableNumber(t), false, t);
});
