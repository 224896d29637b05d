import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  buildPinBlock, buildPinField4, decryptPinBlock, encryptPinBlock, encryptPinBlocks, panField03, panField4, parsePinBlock, parsePinField4,
} from './pin-block.ts';
import { bytesToHex, createAesCipher, createTdesCipher, type BlockCipher } from './cipher.ts';
import { PinBlockError } from './errors.ts';

const h = (s: string) => Buffer.from(s, 'hex');
const code = (c: string) => (e: unknown) => e instanceof PinBlockError && e.code === c;

/** Identity "cipher" — lets the format-4 XOR structure be checked against moov-io's NoOp vector. */
const identityAes: BlockCipher = {
  algorithm: 'aes', blockSize: 16, keyLength: 16,
  encryptBlock: (d) => Buffer.from(d), decryptBlock: (d) => Buffer.from(d),
};

test('format 0 published vectors', () => {
  // moov-io/pinblock formats/iso0_test.go: PIN 1234, PAN 5432101234567891 -> 041215FEDCBA9876
  assert.equal(bytesToHex(buildPinBlock(0, '1234', '5432101234567891')), '041215FEDCBA9876');
  assert.equal(parsePinBlock(0, h('041215FEDCBA9876'), '5432101234567891'), '1234');
  // psec (knovichikhin/psec) tests/test_pinblock.py, PAN 5555555551234567
  assert.equal(bytesToHex(buildPinBlock(0, '1234', '5555555551234567')), '041261AAAAEDCBA9');
  assert.equal(bytesToHex(buildPinBlock(0, '123456789012', '5555555551234567')), '0C1261032D8226A9');
  assert.equal(parsePinBlock(0, h('091261032D8DCBA9'), '5555555551234567'), '123456789');
  assert.equal(parsePinBlock(0, h('0A1261032D82CBA9'), '5555555551234567'), '1234567890');
  assert.equal(parsePinBlock(0, h('0C1261032D8226A9'), '5555555551234567'), '123456789012');
});

test('format 0 malformed blocks (psec tests/test_pinblock.py error vectors) map to typed codes', () => {
  const pan = '5555555551234567';
  assert.throws(() => parsePinBlock(0, h('241261AAAAEDCBA9'), pan), code('BAD_CONTROL'));
  assert.throws(() => parsePinBlock(0, h('041261AAAAEDCB'), pan), code('BAD_LENGTH'));
  assert.throws(() => parsePinBlock(0, h('0F1261AAAAEDCBA9'), pan), code('BAD_LENGTH'));
  assert.throws(() => parsePinBlock(0, h('021261AAAAEDCBA9'), pan), code('BAD_LENGTH'));
  // bad fill / non-numeric PIN beyond the 4th nibble: attributed to the PAN (the likely cause)
  assert.throws(() => parsePinBlock(0, h('041261AAAAEDCBAA'), pan), code('PAN_MISMATCH'));
  assert.throws(() => parsePinBlock(0, h('051261AAAAEDCBA9'), pan), code('PAN_MISMATCH'));
  assert.throws(() => parsePinBlock(0, h('041215FEDCBA9876'), '5432101234567881'), code('PAN_MISMATCH'));
  assert.throws(() => parsePinBlock(0, h('051261AAAAEDCBA9'), '555555555123'.slice(0, 11)), code('BAD_PAN'));
  assert.throws(() => parsePinBlock(0, h('051261AAAAEDCBA9'), '5555555551234A'), code('BAD_PAN'));
});

test('format 1 published vectors and random fill', () => {
  // moov-io/pinblock formats/iso1_test.go decode vectors
  assert.equal(parsePinBlock(1, h('141234FFFFFFFFFF')), '1234');
  assert.equal(parsePinBlock(1, h('1C123456789012FF')), '123456789012');
  const b = buildPinBlock(1, '1234', undefined, { randomBytes: (n) => Buffer.alloc(n, 0x3c) });
  assert.equal(bytesToHex(b), '141234CCCCCCCCCC');
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) seen.add(bytesToHex(buildPinBlock(1, '1234')));
  assert.ok(seen.size > 45);
  assert.throws(() => parsePinBlock(1, h('041234FFFFFFFFFF')), code('BAD_CONTROL'));
  assert.throws(() => parsePinBlock(1, h('14123AFFFFFFFFFF')), code('BAD_FORMAT'));
});

test('format 3 published vectors and A-F fill', () => {
  // moov-io/pinblock formats/iso0_test.go TestISO3_Decode
  assert.equal(parsePinBlock(3, h('341215FEDCBA9876'), '5432101234567891'), '1234');
  // psec tests/test_pinblock.py::test_decode_pinblock_iso_3
  assert.equal(parsePinBlock(3, h('341261AAAAEDCBA9'), '5555555551234567'), '1234');
  assert.equal(parsePinBlock(3, h('391261032D8DCBA9'), '5555555551234567'), '123456789');
  assert.equal(parsePinBlock(3, h('3C1261032D8226A9'), '5555555551234567'), '123456789012');
  // psec test_encode_pinblock_iso_3: prefix 341261 for PIN 1234 / PAN 5555555551234567
  assert.ok(bytesToHex(buildPinBlock(3, '1234', '5555555551234567')).startsWith('341261'));
  // psec error vector: fill digit 4 after XOR is not A-F
  assert.throws(() => parsePinBlock(3, h('341261AAAAEDCBA2'), '5555555551234567'), code('PAN_MISMATCH'));
  assert.throws(() => parsePinBlock(3, h('241261AAAAEDCBA9'), '5555555551234567'), code('BAD_CONTROL'));
  // fill is uniform over A-F
  const counts = new Map<string, number>();
  for (let i = 0; i < 500; i++) {
    const clear = bytesToHex(buildPinBlock(3, '1234', '4000000000000002')).slice(6); // PAN field is all zero for this PAN, so the block is the clear PIN field
    for (const ch of clear.slice(0, 9)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), ['A', 'B', 'C', 'D', 'E', 'F']);
});

test('format 4 PIN field and PAN field vectors', () => {
  // psec tests/test_pinblock.py::test_encode_pin_field_iso_4 (first 8 bytes)
  assert.equal(bytesToHex(buildPinField4('1234')).slice(0, 16), '441234AAAAAAAAAA');
  // openemv pinblock_format4_test.c (Leon Lynch): hand-made odd-length PIN example
  assert.equal(bytesToHex(buildPinField4('12345')).slice(0, 16), '4512345AAAAAAAAA');
  // ANSI X9.24-3:2017 supplement test vectors (AES-128 BDK, "Calculation of AES PIN Block Format 4"),
  // as used in openemv pinblock_format4_test.c: PAN 4111111111111111
  assert.equal(bytesToHex(panField4('4111111111111111')), '44111111111111111000000000000000');
  // openemv pinblock_format4_test.c hand-made examples: 15-digit PAN, and a short PAN (left-padded to 12)
  assert.equal(bytesToHex(panField4('411111111111111')), '34111111111111110000000000000000');
  assert.equal(bytesToHex(panField4('123456789')), '00001234567890000000000000000000');
  // psec test_encode_pan_field_iso_4
  assert.equal(bytesToHex(panField4('112233445566778899')), '61122334455667788990000000000000');
  // psec test_decode_pin_field_iso_4
  assert.equal(parsePinField4(h('441234AAAAAAAAAA548ED7FD65495950')), '1234');
  // psec decode error vectors
  assert.throws(() => parsePinField4(h('441234AAAAAAAAAA548ED7FD6549595000')), code('BAD_LENGTH'));
  assert.throws(() => parsePinField4(h('541234AAAAAAAAAA548ED7FD65495950')), code('BAD_CONTROL'));
  assert.throws(() => parsePinField4(h('43123AAAAAAAAAAA548ED7FD65495950')), code('BAD_LENGTH'));
  assert.throws(() => parsePinField4(h('441234ABCDEFABCD548ED7FD65495950')), code('BAD_FILL'));
  assert.throws(() => parsePinField4(h('4412D4AAAAAAAAAA548ED7FD65495950')), code('BAD_FORMAT'));
});

test('format 4 encipherment vectors', () => {
  // moov-io/pinblock formats/iso4_test.go "Encode/Decode with NoOp encryption":
  // PIN 1234, PAN 432198765432109870 -> first 8 bytes 20202D2DCFE98BA3 (PIN field XOR PAN field)
  const noop = encryptPinBlock(identityAes, 4, '1234', '432198765432109870');
  assert.equal(bytesToHex(noop).slice(0, 16), '20202D2DCFE98BA3');
  assert.equal(decryptPinBlock(identityAes, 4, noop, '432198765432109870'), '1234');
  // psec tests/test_pinblock.py::test_encipher_pinblock_iso_4_det (random fill forced to FF)
  const det = encryptPinBlock(h('00112233445566778899AABBCCDDEEFF'), 4, '1234', '1234567890123456789', { randomBytes: (n) => Buffer.alloc(n, 0xff) });
  assert.equal(bytesToHex(det), '28B41FDDD29B743E93124BD8E32D921E');
  // psec test_decipher_pinblock_iso_4: ep2 eft/pos 2000 Security Specification v8.0.0, 8.4 PIN Encryption
  assert.equal(decryptPinBlock(h('C1D0F8FB4958670DBA40AB1F3752EF0D'), 4, h('CC17F65586BFD0953010226C4FC5B3CA'), '432198765432109870'), '1234');
  // psec: PAN shorter than 12 digits
  assert.equal(decryptPinBlock(h('00112233445566778899AABBCCDDEEFF'), 4, h('39B69B1B91FE05D48F7EF0D68EB2CBD6'), '1'), '123456');
  // psec test_decipher_pinblock_iso_4_exception vectors
  assert.throws(() => decryptPinBlock(h('E60B15B90ABDF14CEE337C97440F0D6E'), 4, h('7D5AF4C33667A2098626027FB7A9A1B7'), '4266229809609384667'), code('BAD_CONTROL'));
  assert.throws(() => decryptPinBlock(h('C7BBEBA16C5AD97D5866450718C03750'), 4, h('2F9C910447F17293EC95DEDE1E3CA201'), '8220499325458689523'), code('BAD_FORMAT'));
  assert.throws(() => decryptPinBlock(h('820F6C7C12355BDFF1AB6CE12E8EED89'), 4, h('CCF310A8300B46C925A86B1098089301'), '939589847393485609'), code('BAD_FILL'));
  assert.throws(() => decryptPinBlock(h('4FE3F0311936FBCE44F17159F1659CF09B2BF8913BB514A1'), 4, h('51334B00A6CBA3EC7B1C6F871F060AFC'), '2129100799029059903'), code('BAD_LENGTH'));
  assert.throws(() => decryptPinBlock(h('C1D0F8FB4958670DBA40AB1F3752EF0D'), 4, h('CC17F65586BFD0953010226C4FC5B3CA00'), '432198765432109870'), code('BAD_LENGTH'));
  assert.throws(() => decryptPinBlock(h('C1D0F8FB4958670DBA40AB1F3752EF0D'), 4, h('CC17F65586BFD0953010226C4FC5B3CA'), '43219876543210987099'), code('BAD_PAN'));
});

test('round trips for every format (property)', () => {
  const tdes = createTdesCipher(h('0123456789ABCDEFFEDCBA9876543210'));
  const aes = createAesCipher(h('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F'));
  fc.assert(fc.property(fc.constantFrom(0, 1, 3, 4), fc.stringMatching(/^[0-9]{4,12}$/), fc.stringMatching(/^[0-9]{12,19}$/), (format, pin, pan) => {
    const key = format === 4 ? aes : tdes;
    const enc = encryptPinBlock(key, format as 0 | 1 | 3 | 4, pin, pan);
    assert.equal(enc.length, format === 4 ? 16 : 8);
    assert.equal(decryptPinBlock(key, format as 0 | 1 | 3 | 4, enc, pan), pin);
    if (format !== 4) {
      const f = format as 0 | 1 | 3;
      assert.equal(parsePinBlock(f, buildPinBlock(f, pin, pan), pan), pin);
    }
  }), { numRuns: 1000 });
  fc.assert(fc.property(fc.stringMatching(/^[0-9]{4,12}$/), fc.stringMatching(/^[0-9]{1,19}$/), (pin, pan) => {
    const enc = encryptPinBlock(aes, 4, pin, pan);
    assert.equal(decryptPinBlock(aes, 4, enc, pan), pin);
    assert.equal(parsePinField4(buildPinField4(pin)), pin);
  }), { numRuns: 300 });
});

test('encryptPinBlocks: the psec format 4 vector among others, and every block decrypts to its own PIN (property)', () => {
  // psec test_encipher_pinblock_iso_4_det again, as the second of three blocks made in one call.
  const ff = { randomBytes: (n: number) => Buffer.alloc(n, 0xff) };
  const key = h('00112233445566778899AABBCCDDEEFF');
  const many = encryptPinBlocks(key, 4, ['0000', '1234', '987654'], ['4111111111111111', '1234567890123456789', '5500000000000004'], ff);
  assert.equal(bytesToHex(many[1]!), '28B41FDDD29B743E93124BD8E32D921E');
  assert.deepEqual(many.map(bytesToHex), [encryptPinBlock(key, 4, '0000', '4111111111111111', ff), encryptPinBlock(key, 4, '1234', '1234567890123456789', ff), encryptPinBlock(key, 4, '987654', '5500000000000004', ff)].map(bytesToHex));
  const tdes = createTdesCipher(h('0123456789ABCDEFFEDCBA9876543210'));
  const aes = createAesCipher(h('000102030405060708090A0B0C0D0E0F'));
  fc.assert(fc.property(fc.constantFrom(0, 1, 3, 4), fc.array(fc.tuple(fc.stringMatching(/^[0-9]{4,12}$/), fc.stringMatching(/^[0-9]{12,19}$/)), { maxLength: 20 }), (format, cards) => {
    const f = format as 0 | 1 | 3 | 4;
    const k = f === 4 ? aes : tdes;
    const blocks = encryptPinBlocks(k, f, cards.map(([pin]) => pin), cards.map(([, pan]) => pan));
    assert.deepEqual(blocks.map((b, i) => decryptPinBlock(k, f, b, cards[i]![1])), cards.map(([pin]) => pin));
    if (f === 0) assert.deepEqual(blocks.map(bytesToHex), cards.map(([pin, pan]) => bytesToHex(encryptPinBlock(k, 0, pin, pan))));
  }), { numRuns: 200 });
  assert.throws(() => encryptPinBlocks(aes, 4, ['1234'], []), code('BAD_LENGTH'));
});

test('format 4 is randomised; wrong PAN is detected', () => {
  const aes = createAesCipher(Buffer.alloc(16, 9));
  const a = encryptPinBlock(aes, 4, '1234', '4111111111111111');
  const b = encryptPinBlock(aes, 4, '1234', '4111111111111111');
  assert.notDeepEqual(a, b);
  assert.throws(() => decryptPinBlock(aes, 4, a, '4111111111111112'), PinBlockError);
  const tdes = createTdesCipher(h('0123456789ABCDEFFEDCBA9876543210'));
  const c = encryptPinBlock(tdes, 0, '1234', '4111111111111111');
  assert.throws(() => decryptPinBlock(tdes, 0, c, '4111111111111121'), code('PAN_MISMATCH'));
});

test('key / format / PIN validation', () => {
  const tdes = h('0123456789ABCDEFFEDCBA9876543210');
  assert.throws(() => encryptPinBlock(tdes.subarray(0, 8), 0, '1234', '4111111111111111'), code('BAD_KEY'));
  assert.throws(() => encryptPinBlock(createAesCipher(tdes), 0, '1234', '4111111111111111'), code('BAD_KEY'));
  assert.throws(() => encryptPinBlock(createTdesCipher(tdes), 4, '1234', '4111111111111111'), code('BAD_KEY'));
  assert.throws(() => encryptPinBlock(tdes, 2 as never, '1234', '4111111111111111'), code('BAD_FORMAT'));
  assert.throws(() => buildPinBlock(0, '123', '4111111111111111'), code('BAD_PIN'));
  assert.throws(() => buildPinBlock(0, '1234567890123', '4111111111111111'), code('BAD_PIN'));
  assert.throws(() => buildPinBlock(0, '123A', '4111111111111111'), code('BAD_PIN'));
  assert.throws(() => buildPinBlock(0, '1234', '41111111111'), code('BAD_PAN'));
  assert.throws(() => buildPinBlock(0, '1234'), code('BAD_PAN'));
  assert.throws(() => buildPinBlock(4 as never, '1234', '4111111111111111'), code('BAD_FORMAT'));
  assert.throws(() => buildPinBlock(3, '1234', '4111111111111111', { randomBytes: (n) => Buffer.alloc(n, 0xff) }), code('BAD_FORMAT'));
  assert.equal(bytesToHex(panField03('4111111111111111')), '0000111111111111');
});
