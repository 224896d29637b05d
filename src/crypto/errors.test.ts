import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CryptoInputError, PinBlockError } from './errors.ts';
import * as c from './index.ts';

const h = (s: string) => Buffer.from(s, 'hex');

const KEY15 = 'A1B2C3D4E5F60718293A4B5C6D7E8F';
const KEY16 = 'A1B2C3D4E5F60718293A4B5C6D7E8F90';
const PAN = '4929123412341234';
const PIN = '987654';

/** Run fn, expect a CryptoInputError, and check no secret leaks into message / String(err) / stack. */
function assertSafe(fn: () => unknown, secrets: string[], expectedCode?: string): void {
  let caught: unknown;
  try { fn(); } catch (e) { caught = e; }
  assert.ok(caught instanceof CryptoInputError, `expected a CryptoInputError, got ${String(caught)}`);
  const err = caught as CryptoInputError;
  if (expectedCode) assert.equal(err.code, expectedCode);
  assert.equal(typeof err.code, 'string');
  const surfaces = [err.message, String(err), err.stack ?? ''];
  for (const s of secrets) {
    for (const variant of [s, s.toLowerCase(), s.toUpperCase()]) {
      for (const surface of surfaces) assert.ok(!surface.includes(variant), `secret material leaked in ${err.code}: ${err.message}`);
    }
  }
}

test('error classes', () => {
  const e = new PinBlockError('BAD_FILL', 'x');
  assert.ok(e instanceof CryptoInputError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'PinBlockError');
  assert.equal(e.code, 'BAD_FILL');
  assert.equal(new CryptoInputError('BAD_KEY', 'y').name, 'CryptoInputError');
});

test('no error message contains key, PIN, PAN, block or token material', () => {
  const tdes = h('0123456789ABCDEFFEDCBA9876543210');
  const aes = h('000102030405060708090A0B0C0D0E0F');
  // keys
  assertSafe(() => c.createTdesCipher(h(KEY15)), [KEY15], 'BAD_KEY');
  assertSafe(() => c.createAesCipher(h(KEY15)), [KEY15], 'BAD_KEY');
  assertSafe(() => c.hexToBytes('ZZ' + KEY16), [KEY16], 'BAD_HEX');
  assertSafe(() => c.combineKeyComponents([h(KEY16), h(KEY16)]), [KEY16], 'WEAK_KEY');
  assertSafe(() => c.combineKeyComponents([h(KEY16), h(KEY15)]), [KEY16, KEY15], 'BAD_KEY');
  assertSafe(() => c.prepareCvk(h(KEY15)), [KEY15], 'BAD_KEY');
  // PAN / PIN validation
  assertSafe(() => c.computeCvv(tdes.subarray(0, 8), tdes.subarray(8), PAN + '999X', '2812', '101'), [PAN], 'BAD_PAN');
  assertSafe(() => c.computeCvv(tdes.subarray(0, 8), tdes.subarray(8), PAN, '28A2', '101'), [PAN, '28A2'], 'BAD_INPUT');
  assertSafe(() => c.computePvv(tdes, PAN, '1', '98765A'), [PAN, '98765A'], 'BAD_PIN');
  assertSafe(() => c.verifyPvv(tdes, PAN, '1', PIN, '12X4'), [PAN, PIN, '12X4'], 'BAD_INPUT');
  assertSafe(() => c.ibm3624Offset(tdes, '492912341234', '0123456789012345', '9876543210123'), ['9876543210123', '492912341234'], 'BAD_PIN');
  assertSafe(() => c.ibm3624NaturalPin(tdes, '49291234123412345', '0123456789012345', 4), ['49291234123412345'], 'BAD_VALIDATION_DATA');
  assertSafe(() => c.maskPan('49291234123'), ['49291234123'], 'BAD_PAN');
  assertSafe(() => c.generateCardNumber(PAN + '123', 16), [PAN], 'BAD_INPUT');
  assertSafe(() => c.computeDcvv2(c.prepareCvk(tdes), PAN + '0000', 5), [PAN], 'BAD_PAN');
  // PIN blocks
  const block0 = c.buildPinBlock(0, PIN, PAN);
  const hex0 = c.bytesToHex(block0);
  assertSafe(() => c.parsePinBlock(0, block0, '4929123412341334'), [PIN, PAN, '4929123412341334', hex0], 'PAN_MISMATCH');
  assertSafe(() => c.parsePinBlock(3, block0, PAN), [PIN, PAN, hex0], 'BAD_CONTROL');
  assertSafe(() => c.buildPinBlock(0, '98765432109876', PAN), ['98765432109876', PAN], 'BAD_PIN');
  assertSafe(() => c.buildPinBlock(0, PIN, '49291234123'), [PIN, '49291234123'], 'BAD_PAN');
  const enc4 = c.encryptPinBlock(aes, 4, PIN, PAN);
  assertSafe(() => c.decryptPinBlock(h('0F0E0D0C0B0A09080706050403020100'), 4, enc4, PAN), [PIN, PAN, c.bytesToHex(enc4)]);
  assertSafe(() => c.decryptPinBlock(tdes, 0, c.encryptPinBlock(tdes, 0, PIN, PAN), '4929123412349234'), [PIN, PAN, '4929123412349234']);
  // FF1 and tokens
  assertSafe(() => new c.Ff1(aes).encrypt('s3cr3t-value', undefined, 36), ['s3cr3t-value'], 'BAD_RADIX');
  assertSafe(() => c.tokenizePan(aes, PAN + '9999'), [PAN], 'BAD_PAN');
  const token = c.tokenizePan(aes, PAN);
  assertSafe(() => c.detokenizePan(h('FFEEDDCCBBAA99887766554433221100'), token.slice(0, 6) + 'ZZZZZZZZZ' + token.slice(-4)), [token, PAN]);
  assertSafe(() => c.detokenizePan(aes, PAN + '123'), [PAN], 'BAD_TOKEN');
  // client encryption
  const panCt = c.encryptPanForClient(tdes, PAN);
  assertSafe(() => c.decryptPanFromClient(h(KEY16), panCt), [panCt, PAN, KEY16], 'BAD_PADDING');
  assertSafe(() => c.decryptCvvFromClient(tdes, 'Q' + panCt.slice(1, 16)), [panCt.slice(1, 16)], 'BAD_HEX');
  assertSafe(() => c.encryptCvvForClient(h(KEY15), '123'), [KEY15], 'BAD_KEY');
  assertSafe(() => c.decryptPinFromClient(tdes, c.encryptPinForClient(tdes, PIN, PAN), '4929123412341294'), [PIN, PAN, '4929123412341294']);
});
