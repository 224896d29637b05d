import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { computePvv, computePvvs, verifyPvv } from './pvv.ts';
import { createTdesCipher } from './cipher.ts';
import { CryptoInputError } from './errors.ts';

const PVK = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');

test('psec published PVV vectors', () => {
  // psec (knovichikhin/psec) tests/test_pin.py::test_generate_visa_pvv, PVK 0123456789ABCDEFFEDCBA9876543210
  assert.equal(computePvv(PVK, '1122334455667788', '1', '4524'), '8523');
  assert.equal(computePvv(PVK, '1122334455667788', '2', '1912'), '3244');
  assert.equal(computePvv(PVK, '1122334455667718', '1', '0570'), '3144');
  assert.equal(computePvv(PVK, '1122334455667708', '1', '8299'), '4422');
  // psec psec/pin.py docstring of generate_visa_pvv: PVKI 3, PIN 4524, PAN 1122334455667788 -> 4021
  assert.equal(computePvv(PVK, '1122334455667788', '3', '4524'), '4021');
});

test('computePvvs gives the psec vectors for several cards in one call', () => {
  // The same psec vectors as above (PVKI 1), each card with its own PIN.
  assert.deepEqual(computePvvs(PVK, ['1122334455667788', '1122334455667718', '1122334455667708'], '1', ['4524', '0570', '8299']), ['8523', '3144', '4422']);
  assert.deepEqual(computePvvs(PVK, [], '1', []), []);
  assert.throws(() => computePvvs(PVK, ['1122334455667788'], '1', []), CryptoInputError);
  assert.throws(() => computePvvs(PVK, ['1122334455667788', '11223344'], '1', ['4524', '4524']), CryptoInputError);
});

test('verify (timing-safe) and prepared key equivalence', () => {
  const c = createTdesCipher(PVK);
  assert.equal(verifyPvv(c, '1122334455667788', '1', '4524', '8523'), true);
  assert.equal(verifyPvv(PVK, '1122334455667788', '1', '4524', '8524'), false);
  assert.equal(verifyPvv(PVK, '1122334455667788', '1', '4525', '8523'), false);
  // only the 4 leftmost PIN digits enter the TSP
  assert.equal(computePvv(PVK, '1122334455667788', '1', '452499'), '8523');
});

test('matches an independent reference implementation', () => {
  fc.assert(fc.property(fc.stringMatching(/^[0-9]{12,19}$/), fc.stringMatching(/^[0-9]$/), fc.stringMatching(/^[0-9]{4,12}$/), (pan, pvki, pin) => {
    const tsp = pan.slice(-12, -1) + pvki + pin.slice(0, 4);
    const ct = createCipheriv('des-ede3-ecb', Buffer.concat([PVK, PVK.subarray(0, 8)]), null).setAutoPadding(false)
      .update(Buffer.from(tsp, 'hex')).toString('hex');
    const digits = [...ct].filter((ch) => /[0-9]/.test(ch)).join('') + [...ct].filter((ch) => /[a-f]/.test(ch)).map((ch) => String(parseInt(ch, 16) - 10)).join('');
    assert.equal(computePvv(PVK, pan, pvki, pin), digits.slice(0, 4));
  }), { numRuns: 300 });
});

test('input validation', () => {
  const code = (c: string) => (e: unknown) => e instanceof CryptoInputError && e.code === c;
  assert.throws(() => computePvv(PVK, '11223344556', '1', '4524'), code('BAD_PAN'));
  assert.throws(() => computePvv(PVK, '1122334455667788', 'A', '4524'), code('BAD_INPUT'));
  assert.throws(() => computePvv(PVK, '1122334455667788', '11', '4524'), code('BAD_INPUT'));
  assert.throws(() => computePvv(PVK, '1122334455667788', '1', '452'), code('BAD_PIN'));
  assert.throws(() => verifyPvv(PVK, '1122334455667788', '1', '4524', '85A3'), code('BAD_INPUT'));
  assert.throws(() => computePvv(Buffer.alloc(5), '1122334455667788', '1', '4524'), code('BAD_KEY'));
});
