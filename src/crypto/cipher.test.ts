import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import {
  aesDecrypt, aesEncrypt, bytesToHex, cbcEncryptMany, createAesCipher, createTdesCipher, hexToBytes, isHex,
  tdesDecrypt, tdesEncrypt, xor, xorInto,
} from './cipher.ts';
import { CryptoInputError } from './errors.ts';

const h = (s: string) => Buffer.from(s, 'hex');

test('TDES double-length known answer', () => {
  // pyemv (knovichikhin/pyemv) pyemv/tools.py docstring of encrypt_tdes_ecb:
  // key 0123456789ABCDEFFEDCBA9876543210, data b"12345678" -> 41D2FFBA3CDC15FE
  assert.equal(bytesToHex(tdesEncrypt(h('0123456789ABCDEFFEDCBA9876543210'), Buffer.from('12345678'))), '41D2FFBA3CDC15FE');
});

test('single DES (K1K1K1) known answer', () => {
  // FIPS PUB 81 (DES modes of operation), Appendix B ECB example:
  // key 0123456789ABCDEF, "Now is t" (4E6F772069732074) -> 3FA40E8A984D4815
  assert.equal(bytesToHex(tdesEncrypt(h('0123456789ABCDEF'), h('4E6F772069732074'))), '3FA40E8A984D4815');
});

test('AES known answers (FIPS-197 Appendix C.1 / C.2 / C.3)', () => {
  const pt = h('00112233445566778899AABBCCDDEEFF');
  assert.equal(bytesToHex(aesEncrypt(h('000102030405060708090A0B0C0D0E0F'), pt)), '69C4E0D86A7B0430D8CDB78070B4C55A');
  assert.equal(bytesToHex(aesEncrypt(h('000102030405060708090A0B0C0D0E0F1011121314151617'), pt)), 'DDA97CA4864CDFE06EAF70A0EC0D7191');
  assert.equal(bytesToHex(aesEncrypt(h('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F'), pt)), '8EA2B7CA516745BFEAFC49904B496089');
});

test('a reused cipher object gives the same result as a fresh one, block after block', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.array(fc.uint8Array({ minLength: 8, maxLength: 8 }), { minLength: 1, maxLength: 20 }),
    (key, blocks) => {
      const c = createTdesCipher(key);
      for (const b of blocks) {
        const fresh = createCipheriv('des-ede3-ecb', Buffer.concat([key, key.subarray(0, 8)]), null).setAutoPadding(false).update(b);
        assert.deepEqual(c.encryptBlock(b), fresh);
        assert.deepEqual(c.decryptBlock(c.encryptBlock(b)), Buffer.from(b));
      }
    },
  ), { numRuns: 100 });
});

test('multi-block ECB and round trips for AES 128/192/256 and TDES 8/16/24', () => {
  fc.assert(fc.property(
    fc.constantFrom(16, 24, 32), fc.integer({ min: 1, max: 4 }), fc.uint8Array({ minLength: 64, maxLength: 64 }),
    (klen, nblocks, rnd) => {
      const key = rnd.subarray(0, klen);
      const data = Buffer.from(rnd.subarray(0, 16 * nblocks));
      const c = createAesCipher(key);
      const ct = c.encryptBlock(data);
      for (let i = 0; i < nblocks; i++) assert.deepEqual(ct.subarray(16 * i, 16 * i + 16), c.encryptBlock(data.subarray(16 * i, 16 * i + 16)));
      assert.deepEqual(aesDecrypt(key, ct), data);
    },
  ), { numRuns: 60 });
  for (const klen of [8, 16, 24]) {
    const key = Buffer.alloc(klen, 0x5a).map((v, i) => v ^ i);
    const data = h('0011223344556677FFEEDDCCBBAA9988');
    assert.deepEqual(tdesDecrypt(key, tdesEncrypt(key, data)), data);
  }
});

test('partial blocks are rejected and do not corrupt the cipher object', () => {
  const c = createAesCipher(Buffer.alloc(16, 1));
  const block = Buffer.alloc(16, 2);
  const before = c.encryptBlock(block);
  assert.throws(() => c.encryptBlock(Buffer.alloc(15)), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_LENGTH');
  assert.throws(() => c.decryptBlock(Buffer.alloc(17)), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_LENGTH');
  assert.deepEqual(c.encryptBlock(block), before);
  assert.throws(() => createTdesCipher(Buffer.alloc(15)), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_KEY');
  assert.throws(() => createAesCipher(Buffer.alloc(20)), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_KEY');
  assert.throws(() => tdesEncrypt(createAesCipher(Buffer.alloc(16)), Buffer.alloc(8)), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_KEY');
});

test('hex and xor helpers', () => {
  assert.equal(bytesToHex(h('0aff')), '0AFF');
  assert.deepEqual(hexToBytes('0aFF'), h('0aff'));
  assert.equal(isHex('abc'), false);
  assert.throws(() => hexToBytes('xyz1'), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_HEX');
  assert.throws(() => hexToBytes('00', 2), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_LENGTH');
  assert.deepEqual(xor(h('f0f0'), h('0ff0')), h('ff00'));
  const t = h('0102');
  xorInto(t, h('0101'));
  assert.deepEqual(t, h('0003'));
  assert.throws(() => xor(h('00'), h('0000')), CryptoInputError);
});

test('cbcEncryptMany: NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, then the PKCS#7 block', () => {
  const key = h('2b7e151628aed2a6abf7158809cf4f3c');
  const iv = h('000102030405060708090a0b0c0d0e0f');
  const clear = h('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710');
  const [ct] = cbcEncryptMany(createAesCipher(key), [iv], [clear]);
  assert.equal(ct!.subarray(0, 64).toString('hex'),
    '7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7');
  assert.equal(ct!.length, 80); // a whole block of padding after a whole-block message
});

test('cbcEncryptMany equals node\'s CBC cipher message by message, for messages of any length (property)', () => {
  fc.assert(fc.property(
    fc.constantFrom('aes-128', 'aes-256', 'des-ede3-16', 'des-ede3-24'), fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.array(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.uint8Array({ maxLength: 90 })), { maxLength: 12 }),
    (kind, keyBytes, messages) => {
      const aes = kind.startsWith('aes');
      const keyLength = kind === 'aes-128' || kind === 'des-ede3-16' ? 16 : kind === 'aes-256' ? 32 : 24;
      const key = Buffer.from(keyBytes.subarray(0, keyLength));
      const bs = aes ? 16 : 8;
      const cipher = aes ? createAesCipher(key) : createTdesCipher(key);
      const ivs = messages.map(([iv]) => Buffer.from(iv.subarray(0, bs)));
      const nodeKey = keyLength === 16 && !aes ? Buffer.concat([key, key.subarray(0, 8)]) : key;
      const expected = messages.map(([, m], i) => {
        const c = createCipheriv(aes ? `aes-${keyLength * 8}-cbc` : 'des-ede3-cbc', nodeKey, ivs[i]!);
        return Buffer.concat([c.update(m), c.final()]).toString('hex');
      });
      assert.deepEqual(cbcEncryptMany(cipher, ivs, messages.map(([, m]) => m)).map((b) => b.toString('hex')), expected);
    },
  ), { numRuns: 200 });
  assert.throws(() => cbcEncryptMany(createAesCipher(Buffer.alloc(16)), [Buffer.alloc(8)], [Buffer.alloc(3)]), CryptoInputError);
  assert.throws(() => cbcEncryptMany(createAesCipher(Buffer.alloc(16)), [], [Buffer.alloc(3)]), CryptoInputError);
});
