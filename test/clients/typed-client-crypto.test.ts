import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import {
  buildPinBlock, clearPinBlock, combineComponents, decryptCardNumber, decryptSecurityValue, encryptCardNumber, pinField4, readPinBlock,
} from '../../clients/typescript/crypto.ts';
// emboss's own implementation (server side), for cross-implementation round trips.
import { decryptPinBlock, encryptPinBlock } from '../../src/crypto/pin-block.ts';
import { encryptCvvForClient, encryptPanForClient, decryptPanFromClient } from '../../src/crypto/client-encryption.ts';

const h = (s: string) => Buffer.from(s, 'hex');
const ff = (n: number) => Buffer.alloc(n, 0xff);
const TDES = '0123456789ABCDEFFEDCBA9876543210';
const tdesEncrypt = (keyHex: string, clearHex: string) =>
  createCipheriv('des-ede-ecb', h(keyHex), null).setAutoPadding(false).update(h(clearHex)).toString('hex').toUpperCase();

test('clear PIN blocks, formats 0 and 3: published vectors', () => {
  // moov-io/pinblock formats/iso0_test.go: PIN 1234, PAN 5432101234567891
  assert.equal(clearPinBlock(0, '1234', '5432101234567891'), '041215FEDCBA9876');
  // psec (knovichikhin/psec) tests/test_pinblock.py, PAN 5555555551234567
  assert.equal(clearPinBlock(0, '1234', '5555555551234567'), '041261AAAAEDCBA9');
  assert.equal(clearPinBlock(0, '123456789012', '5555555551234567'), '0C1261032D8226A9');
  // psec test_encode_pinblock_iso_3: the prefix for PIN 1234 / PAN 5555555551234567, the fill A–F
  const f3 = clearPinBlock(3, '1234', '5555555551234567');
  assert.ok(f3.startsWith('341261'));
  // format 1 takes no PAN; its fill is random 0–F (forced to C here)
  assert.equal(clearPinBlock(1, '1234', undefined, (n) => Buffer.alloc(n, 0x3c)), '141234CCCCCCCCCC');
});

test('reading encrypted PIN blocks of formats 0, 1, 3: published clear vectors, encrypted under a 3DES key', () => {
  // moov-io/pinblock iso0_test.go / TestISO3_Decode, iso1_test.go; psec test_decode_pinblock_iso_3
  assert.equal(readPinBlock(tdesEncrypt(TDES, '041215FEDCBA9876'), '5432101234567891', TDES), '1234');
  assert.equal(readPinBlock(tdesEncrypt(TDES, '0C1261032D8226A9'), '5555555551234567', TDES), '123456789012');
  assert.equal(readPinBlock(tdesEncrypt(TDES, '141234FFFFFFFFFF'), '5555555551234567', TDES), '1234');
  assert.equal(readPinBlock(tdesEncrypt(TDES, '1C123456789012FF'), '5555555551234567', TDES), '123456789012');
  assert.equal(readPinBlock(tdesEncrypt(TDES, '341215FEDCBA9876'), '5432101234567891', TDES), '1234');
  assert.equal(readPinBlock(tdesEncrypt(TDES, '391261032D8DCBA9'), '5555555551234567', TDES), '123456789');
  // psec error vectors: a fill that is not F (format 0) or A–F (format 3), another card's PAN, a bad control nibble
  assert.throws(() => readPinBlock(tdesEncrypt(TDES, '041261AAAAEDCBAA'), '5555555551234567', TDES));
  assert.throws(() => readPinBlock(tdesEncrypt(TDES, '341261AAAAEDCBA2'), '5555555551234567', TDES));
  assert.throws(() => readPinBlock(tdesEncrypt(TDES, '041215FEDCBA9876'), '5432101234567881', TDES));
  assert.throws(() => readPinBlock(tdesEncrypt(TDES, '241261AAAAEDCBA9'), '5555555551234567', TDES));
});

test('format 4 under an AES key: published vectors', () => {
  // psec tests/test_pinblock.py::test_encode_pin_field_iso_4 (first 8 bytes)
  assert.equal(pinField4('1234').slice(0, 16), '441234AAAAAAAAAA');
  // psec test_encipher_pinblock_iso_4_det (random fill forced to FF)
  assert.equal(buildPinBlock(4, '1234', '1234567890123456789', '00112233445566778899AABBCCDDEEFF', ff), '28B41FDDD29B743E93124BD8E32D921E');
  // psec test_decipher_pinblock_iso_4: ep2 eft/pos 2000 Security Specification v8.0.0, 8.4 PIN Encryption
  assert.equal(readPinBlock('CC17F65586BFD0953010226C4FC5B3CA', '432198765432109870', 'C1D0F8FB4958670DBA40AB1F3752EF0D'), '1234');
  // psec: a PAN shorter than 12 digits
  assert.equal(readPinBlock('39B69B1B91FE05D48F7EF0D68EB2CBD6', '1', '00112233445566778899AABBCCDDEEFF'), '123456');
  // psec test_decipher_pinblock_iso_4_exception: a wrong control nibble, a non-digit PIN, a bad fill
  assert.throws(() => readPinBlock('7D5AF4C33667A2098626027FB7A9A1B7', '4266229809609384667', 'E60B15B90ABDF14CEE337C97440F0D6E'));
  assert.throws(() => readPinBlock('2F9C910447F17293EC95DEDE1E3CA201', '8220499325458689523', 'C7BBEBA16C5AD97D5866450718C03750'));
  assert.throws(() => readPinBlock('CCF310A8300B46C925A86B1098089301', '939589847393485609', '820F6C7C12355BDFF1AB6CE12E8EED89'));
});

test('3DES-ECB wiring: the check value of the test key 0123456789ABCDEFFEDCBA9876543210 (08D7B4…), and values cross-checked with the OpenSSL CLI', () => {
  // A security value of 0000000000000000 is not digits: the key check value is the zero block encrypted.
  //   printf 0000000000000000 | xxd -r -p | openssl enc -des-ede-ecb -K 0123456789ABCDEFFEDCBA9876543210 -nopad | xxd -p → 08d7b4fb629d0885
  assert.throws(() => decryptSecurityValue('08D7B4FB629D0885', TDES));
  assert.equal(tdesEncrypt(TDES, '0000000000000000'), '08D7B4FB629D0885');
  // emboss's client-encryption vectors (src/crypto/client-encryption.test.ts, decrypted with OpenSSL 3.0 there):
  assert.equal(decryptSecurityValue('1290F56B892D7530', TDES), '561');
  assert.equal(decryptCardNumber('06CA5D7D1ACA5269847CA792BFA6FD4C', TDES), '4123456789012345');
  assert.equal(encryptCardNumber('4123456789012345', TDES), '06CA5D7D1ACA5269847CA792BFA6FD4C');
  //   printf 4123456789012345FFFFFFFFFFFFFFFF | xxd -r -p | openssl enc -des-ede-ecb -K FEDCBA98765432100123456789ABCDEF -nopad | xxd -p
  assert.equal(encryptCardNumber('4123456789012345', 'FEDCBA98765432100123456789ABCDEF'), 'A082CAC3FA5B07E0F7284B049D62F77A');
  // Components combine by XOR.
  assert.equal(combineComponents(['0123456789ABCDEFFEDCBA9876543210', '11111111111111112222222222222222']), '1032547698BADCFEDCFE98BA54761032');
});

test('round trips, and the same answers as emboss\'s own implementation (property)', () => {
  const tdesKey = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex').toUpperCase());
  const aesKey = fc.constantFrom(16, 24, 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })).map((b) => Buffer.from(b).toString('hex').toUpperCase());
  fc.assert(fc.property(fc.constantFrom(0, 1, 3) as fc.Arbitrary<0 | 1 | 3>, tdesKey, fc.stringMatching(/^[0-9]{4,12}$/), fc.stringMatching(/^[0-9]{13,19}$/), (format, key, pin, pan) => {
    const block = buildPinBlock(format, pin, pan, key);
    assert.match(block, /^[0-9A-F]{16}$/);
    assert.equal(readPinBlock(block, pan, key), pin);
    assert.equal(decryptPinBlock(h(key), format, h(block), pan), pin, 'emboss reads the client\'s block');
    assert.equal(readPinBlock(encryptPinBlock(h(key), format, pin, pan).toString('hex'), pan, key), pin, 'the client reads emboss\'s block');
  }), { numRuns: 300 });
  fc.assert(fc.property(aesKey, fc.stringMatching(/^[0-9]{4,12}$/), fc.stringMatching(/^[0-9]{1,19}$/), (key, pin, pan) => {
    const block = buildPinBlock(4, pin, pan, key);
    assert.match(block, /^[0-9A-F]{32}$/);
    assert.equal(readPinBlock(block, pan, key), pin);
    assert.equal(decryptPinBlock(h(key), 4, h(block), pan), pin);
    assert.equal(readPinBlock(encryptPinBlock(h(key), 4, pin, pan).toString('hex'), pan, key), pin);
  }), { numRuns: 200 });
  fc.assert(fc.property(tdesKey, fc.stringMatching(/^[0-9]{3,4}$/), fc.stringMatching(/^[0-9]{12,19}$/), (key, cvv, pan) => {
    assert.equal(decryptSecurityValue(encryptCvvForClient(h(key), cvv), key), cvv);
    assert.equal(decryptCardNumber(encryptPanForClient(h(key), pan), key), pan);
    assert.equal(encryptCardNumber(pan, key), encryptPanForClient(h(key), pan));
    assert.equal(decryptPanFromClient(h(key), encryptCardNumber(pan, key)), pan);
  }), { numRuns: 300 });
});

test('format 3 fill is A–F and format 1 fill random; wrong inputs are refused', () => {
  const fills = new Set<string>();
  for (let i = 0; i < 200; i++) for (const c of clearPinBlock(3, '1234', '4000000000000002').slice(6)) fills.add(c); // this PAN's field is zero
  assert.deepEqual([...fills].sort(), ['A', 'B', 'C', 'D', 'E', 'F']);
  assert.ok(new Set(Array.from({ length: 20 }, () => clearPinBlock(1, '1234'))).size > 15);
  assert.throws(() => buildPinBlock(0, '123', '4000000000000002', TDES), /4 to 12 digits/);
  assert.throws(() => buildPinBlock(0, '1234', '4000', TDES), /13 to 19 digits/);
  assert.throws(() => buildPinBlock(0, '1234', '4000000000000002', 'ABC'), /hexadecimal/);
  assert.throws(() => buildPinBlock(4, '1234', '4000000000000002', TDES.slice(0, 30)), /hexadecimal|AES key/);
  assert.throws(() => decryptCardNumber(tdesEncrypt(TDES, '4123456789FFFFFFFFFFFFFFFFFFFFFF'), TDES), /not a card number/);
});
