import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import fc from 'fast-check';
import {
  decryptCvvFromClient, decryptPanFromClient, decryptPinFromClient, encryptCvvForClient, encryptPanForClient, encryptPinForClient,
} from './client-encryption.ts';
import { createTdesCipher } from './cipher.ts';
import { CryptoInputError, PinBlockError } from './errors.ts';

const h = (s: string) => Buffer.from(s, 'hex');
const KEY = h('0123456789ABCDEFFEDCBA9876543210');
const code = (c: string) => (e: unknown) => e instanceof CryptoInputError && e.code === c;

test('known answers, cross-checked with OpenSSL', () => {
  // Computed by this module and decrypted independently with the OpenSSL 3.0 CLI, as documented for clients:
  //   echo -n 1290F56B892D7530 | xxd -r -p | openssl enc -d -des-ede-ecb -K 0123456789ABCDEFFEDCBA9876543210 -nopad | xxd -p
  //   -> 561fffffffffffff
  //   echo -n 06CA5D7D1ACA5269847CA792BFA6FD4C | xxd -r -p | openssl enc -d -des-ede-ecb -K 0123456789ABCDEFFEDCBA9876543210 -nopad | xxd -p
  //   -> 4123456789012345ffffffffffffffff
  assert.equal(encryptCvvForClient(KEY, '561'), '1290F56B892D7530');
  assert.equal(decryptCvvFromClient(KEY, '1290F56B892D7530'), '561');
  assert.equal(encryptPanForClient(KEY, '4123456789012345'), '06CA5D7D1ACA5269847CA792BFA6FD4C');
  assert.equal(decryptPanFromClient(KEY, '06ca5d7d1aca5269847ca792bfa6fd4c'), '4123456789012345');
});

test('cross-implementation with node des-ede-ecb (two-key TDES) for any key, value and PAN (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.stringMatching(/^[0-9]{3,4}$/), fc.stringMatching(/^[0-9]{12,19}$/), (key, cvv, pan) => {
    const k = Buffer.from(key);
    const ede = (data: Buffer) => createCipheriv('des-ede-ecb', k, null).setAutoPadding(false).update(data).toString('hex').toUpperCase();
    assert.equal(encryptCvvForClient(k, cvv), ede(h(cvv.padEnd(16, 'F'))));
    assert.equal(encryptPanForClient(k, pan), ede(h(pan.padEnd(32, 'F'))));
    assert.equal(decryptCvvFromClient(k, encryptCvvForClient(k, cvv)), cvv);
    assert.equal(decryptPanFromClient(createTdesCipher(k), encryptPanForClient(k, pan)), pan);
  }), { numRuns: 300 });
});

test('PIN as ISO format 0 block (property), decryptable with plain TDES + XOR', () => {
  fc.assert(fc.property(fc.stringMatching(/^[0-9]{4,12}$/), fc.stringMatching(/^[0-9]{13,19}$/), (pin, pan) => {
    const hex = encryptPinForClient(KEY, pin, pan);
    assert.match(hex, /^[0-9A-F]{16}$/);
    assert.equal(decryptPinFromClient(KEY, hex, pan), pin);
    const clear = createDecipheriv('des-ede-ecb', KEY, null).setAutoPadding(false).update(h(hex));
    const panField = h('0000' + pan.slice(-13, -1));
    const field = Buffer.from(clear.map((v, i) => v ^ (panField[i] as number))).toString('hex').toUpperCase();
    assert.equal(field, ('0' + pin.length.toString(16).toUpperCase() + pin).padEnd(16, 'F'));
  }), { numRuns: 200 });
});

test('rejects bad hex, bad length, bad padding, bad key', () => {
  assert.throws(() => decryptCvvFromClient(KEY, 'XYZ0F56B892D7530'), code('BAD_HEX'));
  assert.throws(() => decryptCvvFromClient(KEY, '1290F56B892D75'), code('BAD_LENGTH'));
  assert.throws(() => decryptPanFromClient(KEY, '1290F56B892D7530'), code('BAD_LENGTH'));
  // a CVV ciphertext is not a valid 2-block PAN ciphertext and vice versa
  assert.throws(() => decryptPanFromClient(KEY, '1290F56B892D75301290F56B892D7530'), code('BAD_PADDING'));
  assert.throws(() => decryptCvvFromClient(KEY, '06CA5D7D1ACA5269'), code('BAD_PADDING'));
  const enc = (s: string) => createCipheriv('des-ede-ecb', KEY, null).setAutoPadding(false).update(h(s)).toString('hex');
  assert.throws(() => decryptCvvFromClient(KEY, enc('56FFFFFFFFFFFFFF')), code('BAD_PADDING')); // 2 digits
  assert.throws(() => decryptCvvFromClient(KEY, enc('561FFFFFFFFFFF0F')), code('BAD_PADDING')); // non-F pad
  assert.throws(() => decryptPanFromClient(KEY, enc('41234567890FFFFFFFFFFFFFFFFFFFFF')), code('BAD_PADDING')); // 11 digits
  assert.throws(() => decryptPinFromClient(KEY, '0000000000000000', '4123456789012345'), PinBlockError);
  assert.throws(() => encryptCvvForClient(KEY.subarray(0, 8), '561'), code('BAD_KEY'));
  assert.throws(() => encryptCvvForClient(KEY, '56'), code('BAD_INPUT'));
  assert.throws(() => encryptCvvForClient(KEY, '56A'), code('BAD_INPUT'));
  assert.throws(() => encryptPanForClient(KEY, '41234567890123456789'), code('BAD_PAN'));
});
