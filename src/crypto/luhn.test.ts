import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { generateCardNumber, isLuhnValid, luhnCheckDigit, maskPan } from './luhn.ts';
import { CryptoInputError } from './errors.ts';

test('Luhn known answers', () => {
  // ISO/IEC 7812-1 Annex B worked example as reproduced on Wikipedia "Luhn algorithm": 7992739871 -> check digit 3
  assert.equal(luhnCheckDigit('7992739871'), '3');
  assert.equal(isLuhnValid('79927398713'), true);
  assert.equal(isLuhnValid('79927398710'), false);
  // Visa test card published by Stripe/Visa docs: 4111 1111 1111 1111
  assert.equal(isLuhnValid('4111111111111111'), true);
  assert.equal(isLuhnValid('4111111111111112'), false);
  assert.equal(isLuhnValid('41x1'), false);
  assert.equal(isLuhnValid(''), false);
});

test('check digit makes any body valid, and a single-digit change always breaks it', () => {
  fc.assert(fc.property(fc.stringMatching(/^[0-9]{1,18}$/), fc.nat(), fc.integer({ min: 1, max: 9 }), (body, pos, delta) => {
    const full = body + luhnCheckDigit(body);
    assert.ok(isLuhnValid(full));
    const i = pos % full.length;
    const changed = full.slice(0, i) + String((Number(full[i]) + delta) % 10) + full.slice(i + 1);
    assert.equal(isLuhnValid(changed), false);
  }), { numRuns: 500 });
});

test('generated card numbers keep the BIN, have the requested length and a valid Luhn digit', () => {
  fc.assert(fc.property(fc.integer({ min: 12, max: 19 }), fc.stringMatching(/^[0-9]{6,8}$/), (length, bin) => {
    const pan = generateCardNumber(bin, length);
    assert.equal(pan.length, length);
    assert.ok(pan.startsWith(bin));
    assert.ok(isLuhnValid(pan));
  }), { numRuns: 1000 });
});

test('generateCardNumber draws one randomInt(10) per body digit', () => {
  const calls: number[] = [];
  const pan = generateCardNumber('411111', 16, (max) => { calls.push(max); return 7; });
  assert.deepEqual(calls, Array(9).fill(10));
  assert.equal(pan, '411111777777777' + luhnCheckDigit('411111777777777'));
  assert.throws(() => generateCardNumber('411111', 16, () => 10), CryptoInputError);
  assert.throws(() => generateCardNumber('4111111111111111', 16), CryptoInputError);
  assert.throws(() => generateCardNumber('41a', 16), CryptoInputError);
  assert.throws(() => generateCardNumber('411111', 20), CryptoInputError);
});

test('generated digits are roughly uniform', () => {
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 5000; i++) {
    const pan = generateCardNumber('4', 19);
    for (let j = 1; j < 18; j++) counts[Number(pan[j])]++;
  }
  for (const c of counts) assert.ok(c > 7500 && c < 9500, `digit count ${c} out of range`);
});

test('maskPan keeps first 6 and last 4', () => {
  assert.equal(maskPan('4111111111111111'), '411111******1111');
  assert.equal(maskPan('4000123456789012345'), '400012*********2345');
  assert.throws(() => maskPan('41111111111'), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_PAN');
});
