import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decimalize, isDigits } from './decimalize.ts';

// Hand-worked examples of the Visa decimalisation rule (digits left to right, then A-F as 0-5).
test('decimalisation examples', () => {
  const h = (s: string) => Buffer.from(s, 'hex');
  assert.equal(decimalize(h('A1B2C3D4E5F60789'), 3), '123');
  assert.equal(decimalize(h('ABCDEF12ABCDEFAB'), 4), '1201');
  assert.equal(decimalize(h('FFFFFFFFFFFFFFFF'), 4), '5555');
  assert.equal(decimalize(h('0000000000000009'), 4), '0000');
});

test('matches a string-based reference (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.integer({ min: 1, max: 16 }), (b, n) => {
    const hex = Buffer.from(b).toString('hex');
    const ref = ([...hex].filter((c) => c <= '9').join('') + [...hex].filter((c) => c > '9').map((c) => String(parseInt(c, 16) - 10)).join('')).slice(0, n);
    assert.equal(decimalize(b, n), ref);
  }), { numRuns: 1000 });
  assert.equal(isDigits('0123'), true);
  assert.equal(isDigits(''), false);
  assert.equal(isDigits('12a'), false);
  assert.equal(isDigits(12), false);
});
