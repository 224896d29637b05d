import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_DECIMALIZATION_TABLE, ibm3624NaturalPin, ibm3624Offset, ibm3624PinFromOffset, ibm3624ValidationData, ibm3624Verify,
} from './ibm3624.ts';
import { createTdesCipher } from './cipher.ts';
import { CryptoInputError } from './errors.ts';

const PVK = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');
const T = '1234567890123456';

test('psec published IBM 3624 vectors', () => {
  // psec (knovichikhin/psec) tests/test_pin.py::test_generate_ibm3624_pin / _offset,
  // PVK 0123456789ABCDEFFEDCBA9876543210, conversion table 1234567890123456, PAN 1122334455667788.
  // Validation data = PAN[offset : offset+length], padded with the pad character.
  const vd = (start: number, length: number) => ibm3624ValidationData('1122334455667788', { start, length });
  assert.equal(ibm3624NaturalPin(PVK, vd(0, 16), T, 4), '4524');
  assert.equal(ibm3624PinFromOffset(PVK, vd(0, 16), T, '1111'), '5635');
  assert.equal(ibm3624PinFromOffset(PVK, vd(0, 16), T, '6586'), '0000');
  assert.equal(ibm3624PinFromOffset(PVK, vd(0, 16), T, '7697'), '1111');
  assert.equal(ibm3624PinFromOffset(PVK, vd(0, 16), T, '7710'), '1234');
  assert.equal(ibm3624NaturalPin(PVK, vd(0, 14), T, 4, 'F'), '5518');
  assert.equal(ibm3624NaturalPin(PVK, vd(0, 14), T, 4, 'f'), '5518');
  assert.equal(ibm3624NaturalPin(PVK, vd(1, 14), T, 4, '1'), '3675');
  assert.equal(ibm3624NaturalPin(PVK, vd(2, 14), T, 4, '1'), '5550');
  assert.equal(ibm3624Offset(PVK, vd(0, 16), T, '4524'), '0000');
  assert.equal(ibm3624Offset(PVK, vd(0, 16), T, '5635'), '1111');
  assert.equal(ibm3624Offset(PVK, vd(0, 16), T, '0000'), '6586');
  assert.equal(ibm3624Offset(PVK, vd(0, 16), T, '1111'), '7697');
  assert.equal(ibm3624Offset(PVK, vd(0, 16), T, '1234'), '7710');
  assert.equal(ibm3624Offset(PVK, vd(0, 14), T, '5518'), '0000');
  assert.equal(ibm3624Offset(PVK, vd(1, 14), T, '3675', '1'), '0000');
  assert.equal(ibm3624Offset(PVK, vd(2, 14), T, '5550', '1'), '0000');
});

test('default validation data = 12 rightmost PAN digits excluding the check digit', () => {
  assert.equal(ibm3624ValidationData('4000123456789017'), '012345678901');
  assert.equal(ibm3624ValidationData('400012345678'), '040001234567');
});

test('offset / PIN-from-offset / verify round trip, any PIN length 4..12', () => {
  const c = createTdesCipher(PVK);
  fc.assert(fc.property(fc.stringMatching(/^[0-9A-F]{1,16}$/), fc.stringMatching(/^[0-9]{4,12}$/), (vd, pin) => {
    const off = ibm3624Offset(c, vd, DEFAULT_DECIMALIZATION_TABLE, pin);
    assert.equal(off.length, pin.length);
    assert.equal(ibm3624PinFromOffset(PVK, vd, DEFAULT_DECIMALIZATION_TABLE, off), pin);
    assert.equal(ibm3624Verify(c, vd, DEFAULT_DECIMALIZATION_TABLE, pin, off), true);
    const wrong = pin.slice(0, -1) + String((Number(pin.at(-1)) + 1) % 10);
    assert.equal(ibm3624Verify(c, vd, DEFAULT_DECIMALIZATION_TABLE, wrong, off), false);
    const natural = ibm3624NaturalPin(c, vd, DEFAULT_DECIMALIZATION_TABLE, pin.length);
    assert.equal(ibm3624Offset(c, vd, DEFAULT_DECIMALIZATION_TABLE, natural), '0'.repeat(pin.length));
  }), { numRuns: 300 });
  assert.equal(ibm3624Verify(PVK, '1122334455667788', T, '45240', '0000'), false);
});

test('typed errors on bad input', () => {
  const code = (c: string) => (e: unknown) => e instanceof CryptoInputError && e.code === c;
  assert.throws(() => ibm3624NaturalPin(PVK, '1122334455667788', '123456789012345', 4), code('BAD_DEC_TABLE'));
  assert.throws(() => ibm3624NaturalPin(PVK, '1122334455667788', '123456789012345A', 4), code('BAD_DEC_TABLE'));
  assert.throws(() => ibm3624NaturalPin(PVK, '11223344556677889', T, 4), code('BAD_VALIDATION_DATA'));
  assert.throws(() => ibm3624NaturalPin(PVK, '', T, 4), code('BAD_VALIDATION_DATA'));
  assert.throws(() => ibm3624NaturalPin(PVK, '112233445566778G', T, 4), code('BAD_VALIDATION_DATA'));
  assert.throws(() => ibm3624NaturalPin(PVK, '1122', T, 3), code('BAD_PIN'));
  assert.throws(() => ibm3624NaturalPin(PVK, '1122', T, 13), code('BAD_PIN'));
  assert.throws(() => ibm3624NaturalPin(PVK, '1122', T, 4, 'X'), code('BAD_INPUT'));
  assert.throws(() => ibm3624Offset(PVK, '1122', T, '123'), code('BAD_PIN'));
  assert.throws(() => ibm3624Offset(PVK, '1122', T, '12a4'), code('BAD_PIN'));
  assert.throws(() => ibm3624Verify(PVK, '1122', T, '1234', '12'), code('BAD_INPUT'));
  assert.throws(() => ibm3624ValidationData('1122334455667788', { start: 1, length: 16 }), code('BAD_VALIDATION_DATA'));
  assert.throws(() => ibm3624ValidationData('11223344556'), code('BAD_PAN'));
  assert.throws(() => ibm3624Offset(Buffer.alloc(7), '1122', T, '1234'), code('BAD_KEY'));
});
