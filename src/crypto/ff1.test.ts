import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { Ff1, ff1Decrypt, ff1Encrypt, numeralsToString, stringToNumerals } from './ff1.ts';
import { createAesCipher } from './cipher.ts';
import { CryptoInputError } from './errors.ts';

const h = (s: string) => Buffer.from(s, 'hex');

// NIST SP 800-38G FF1 examples, "FF1samples.pdf" (CSRC, Cryptographic Standards and Guidelines,
// examples with intermediate values), samples 1-9.
const K128 = '2B7E151628AED2A6ABF7158809CF4F3C';
const K192 = K128 + 'EF4359D8D580AA4F';
const K256 = K192 + '7F036D6F04FC6A94';
const T1 = '';
const T2 = '39383736353433323130';
const T3 = '3737373770717273373737';
const NIST: Array<[string, string, number, string, string, string]> = [
  ['1', K128, 10, T1, '0123456789', '2433477484'],
  ['2', K128, 10, T2, '0123456789', '6124200773'],
  ['3', K128, 36, T3, '0123456789abcdefghi', 'a9tv40mll9kdu509eum'],
  ['4', K192, 10, T1, '0123456789', '2830668132'],
  ['5', K192, 10, T2, '0123456789', '2496655549'],
  ['6', K192, 36, T3, '0123456789abcdefghi', 'xbj3kv35jrawxv32ysr'],
  ['7', K256, 10, T1, '0123456789', '6657667009'],
  ['8', K256, 10, T2, '0123456789', '1001623463'],
  ['9', K256, 36, T3, '0123456789abcdefghi', 'xs8a0azh2avyalyzuwd'],
];

for (const [n, key, radix, tweak, pt, ct] of NIST) {
  test(`NIST SP 800-38G FF1 sample ${n}`, () => {
    const f = new Ff1(h(key));
    assert.equal(f.encrypt(pt, h(tweak), radix), ct);
    assert.equal(f.decrypt(ct, h(tweak), radix), pt);
    assert.equal(ff1Encrypt(h(key), h(tweak), radix, pt), ct);
    assert.equal(ff1Decrypt(createAesCipher(h(key)), h(tweak), radix, ct.toUpperCase()), pt);
    assert.deepEqual(f.encrypt(stringToNumerals(pt, radix), h(tweak), radix), stringToNumerals(ct, radix));
  });
}

test('encryptNumeralsMany gives the NIST SP 800-38G samples: 1-2, 4-5, 7-8 in lockstep (one AES call per round), 3, 6, 9 one by one', () => {
  for (const key of [K128, K192, K256]) {
    const samples = NIST.filter((s) => s[1] === key);
    // A cipher that counts its calls: in lockstep a batch costs one call per round, whatever its size.
    let calls = 0;
    const aes = createAesCipher(h(key));
    const counted = { ...aes, algorithm: aes.algorithm, blockSize: aes.blockSize, keyLength: aes.keyLength,
      encryptBlock: (d: Uint8Array) => { calls++; return aes.encryptBlock(d); }, decryptBlock: (d: Uint8Array) => aes.decryptBlock(d) };
    const f = new Ff1(counted);
    for (const [, , radix, tweak, pt, ct] of samples.filter((s) => s[2] === 10)) {
      f.encryptNumeralsMany([stringToNumerals(pt, 10)], [h(tweak)], 10); // the per-(radix, length, tweak length) setup
      calls = 0;
      const many = f.encryptNumeralsMany(Array.from({ length: 5 }, () => stringToNumerals(pt, radix)), Array.from({ length: 5 }, () => h(tweak)), radix);
      assert.deepEqual(many.map(numeralsToString), Array.from({ length: 5 }, () => ct));
      assert.equal(calls, 10);
    }
    const other = samples.filter((s) => s[2] === 36);
    assert.deepEqual(f.encryptNumeralsMany(other.map((s) => stringToNumerals(s[4], 36)), other.map((s) => h(s[3])), 36).map(numeralsToString), other.map((s) => s[5]));
  }
});

test('encryptNumeralsMany equals encryptNumerals input by input, in lockstep or not (property)', () => {
  fc.assert(fc.property(
    fc.constantFrom(16, 24, 32), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(10, 36), fc.constantFrom(7, 9, 15),
    fc.array(fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 12 }), fc.array(fc.nat(), { minLength: 15, maxLength: 15 })), { minLength: 1, maxLength: 40 }),
    fc.boolean(),
    (klen, keyBytes, radix, n, inputs, sameTweakLength) => {
      const f = new Ff1(Buffer.from(keyBytes.subarray(0, klen)));
      const xs = inputs.map(([, digits]) => digits.slice(0, n).map((v) => v % radix));
      const tweaks = inputs.map(([tweak]) => (sameTweakLength ? Uint8Array.from({ length: 7 }, (_, k) => tweak[k] ?? k) : tweak));
      assert.deepEqual(f.encryptNumeralsMany(xs, tweaks, radix), xs.map((x, i) => f.encryptNumerals(x, tweaks[i]!, radix)));
    },
  ), { numRuns: 300 });
  const f = new Ff1(Buffer.alloc(16, 7));
  assert.deepEqual(f.encryptNumeralsMany([], [], 10), []);
  assert.throws(() => f.encryptNumeralsMany([[1, 2, 3, 4, 5, 6]], [], 10), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_INPUT');
  assert.throws(() => f.encryptNumeralsMany([[1, 2, 3, 4, 5, 6], [1, 2, 3]], [new Uint8Array(0), new Uint8Array(0)], 10), (e: unknown) => e instanceof CryptoInputError && e.code === 'BAD_LENGTH');
});

test('radix 2 vectors with a 32-byte tweak (ubiqsecurity/ubiq-fpe-java FF1Test base2, base2_a, base2_b)', () => {
  const key = h('F4A116D6EE406A53A56CBE0F4AA7B1001CDC0A55CAC963CF5ACE390488B3477A');
  const tweak = h('FD7F4B9945A3C535ADB4720027116CA0F4987D7F3FDBA9BBC40E75375FEAA63C');
  const f = new Ff1(key);
  const cases: Array<[string, string]> = [
    ['00000101011011011101001001010011100111100011001', '10110101001110101101110000011000000011111100111'],
    ['000010101100011111010000111001100001011010011110100100110010010000000101000011000000001111110101111100111001001001100100100110101111110000011101010111001111010000010010111110101100001001100011',
      '111110001101110010010110001010100001101011001010011010111001001101101000011110000110110000001101011110101100001101000011101110110101001111100001011010010000010111001110010011001100001111100101'],
    ['00000111011010010101111110011110001011111000110100000101001010001100001101111000010000101011100100010111011101001010010100101010100011010101010000101111111001111100110100001100011001011010010000110',
      '00110011001000111100010111110001000110110110010010101101001011101001101010010001111001010100100001110101010101101110110010100110101110111011111010110010101110000001101000101010100011010100111011000'],
  ];
  for (const [pt, ct] of cases) {
    assert.equal(f.encrypt(pt, tweak, 2), ct);
    assert.equal(f.decrypt(ct, tweak, 2), pt);
  }
});

/**
 * Straight-from-the-spec reference (SP 800-38G Algorithm 7), BigInt everywhere and
 * PRF computed with node's aes-*-cbc (zero IV, last block) — a different code path
 * from the implementation under test (ECB chaining, Number fast path, cached P).
 */
function referenceFf1(key: Buffer, tweak: Buffer, radix: number, x: number[], decrypt: boolean): number[] {
  const n = x.length, u = Math.floor(n / 2), v = n - u, t = tweak.length;
  const R = BigInt(radix);
  const num = (xs: number[]) => xs.reduce((acc, d) => acc * R + BigInt(d), 0n);
  const str = (val: bigint, m: number) => { const o: number[] = []; for (let i = 0; i < m; i++) { o.unshift(Number(val % R)); val /= R; } return o; };
  const b = Math.ceil(Math.ceil(v * Math.log2(radix) - 1e-9) / 8);
  const d = 4 * Math.ceil(b / 4) + 4;
  const P = Buffer.from([1, 2, 1, (radix >> 16) & 255, (radix >> 8) & 255, radix & 255, 10, u % 256, 0, 0, 0, 0, 0, 0, 0, 0]);
  P.writeUInt32BE(n, 8); P.writeUInt32BE(t, 12);
  const alg = `aes-${key.length * 8}`;
  const prf = (data: Buffer) => { const out = createCipheriv(`${alg}-cbc`, key, Buffer.alloc(16)).setAutoPadding(false).update(data); return out.subarray(out.length - 16); };
  const ciph = (blk: Buffer) => createCipheriv(`${alg}-ecb`, key, null).setAutoPadding(false).update(blk);
  let A = x.slice(0, u), B = x.slice(u);
  for (let r = 0; r < 10; r++) {
    const i = decrypt ? 9 - r : r;
    const numHex = num(decrypt ? A : B).toString(16).padStart(2 * b, '0');
    const Q = Buffer.concat([tweak, Buffer.alloc(((-t - b - 1) % 16 + 16) % 16), Buffer.from([i]), Buffer.from(numHex, 'hex')]);
    const Rb = prf(Buffer.concat([P, Q]));
    const parts = [Rb];
    for (let j = 1; j < Math.ceil(d / 16); j++) { const jb = Buffer.alloc(16); jb.writeUInt32BE(j, 12); parts.push(ciph(Buffer.from(Rb.map((vv, k) => vv ^ (jb[k] as number))))); }
    const y = BigInt('0x' + Buffer.concat(parts).subarray(0, d).toString('hex'));
    const m = i % 2 === 0 ? u : v;
    const mod = R ** BigInt(m);
    if (decrypt) { const c = ((num(B) - y) % mod + mod) % mod; B = A; A = str(c, m); }
    else { const c = (num(A) + y) % mod; A = B; B = str(c, m); }
  }
  return [...A, ...B];
}

test('matches the reference implementation for random radix / length / tweak / key size (property)', () => {
  fc.assert(fc.property(
    fc.constantFrom(16, 24, 32), fc.integer({ min: 2, max: 36 }), fc.integer({ min: 0, max: 60 }), fc.uint8Array({ minLength: 0, maxLength: 40 }),
    fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.nat(), { minLength: 80, maxLength: 80 }),
    (klen, radix, extraLen, tweak, keyBytes, rnd) => {
      const minLen = Math.max(2, Math.ceil(6 / Math.log10(radix) - 1e-9));
      const n = minLen + (extraLen % 40);
      const x = rnd.slice(0, n).map((v) => v % radix);
      const key = Buffer.from(keyBytes.subarray(0, klen));
      const f = new Ff1(key);
      const ct = f.encryptNumerals(x, tweak, radix);
      assert.deepEqual(ct, referenceFf1(key, Buffer.from(tweak), radix, x, false));
      assert.deepEqual(f.decryptNumerals(ct, tweak, radix), x);
      assert.deepEqual(referenceFf1(key, Buffer.from(tweak), radix, ct, true), x);
    },
  ), { numRuns: 300 });
});

test('round trip on strings (property) and determinism', () => {
  const f = new Ff1(Buffer.alloc(32, 0x42));
  fc.assert(fc.property(fc.stringMatching(/^[0-9a-z]{4,30}$/), fc.uint8Array({ maxLength: 12 }), (s, tweak) => {
    const ct = f.encrypt(s, tweak, 36);
    assert.equal(ct.length, s.length);
    assert.match(ct, /^[0-9a-z]+$/);
    assert.equal(f.decrypt(ct, tweak, 36), s);
    assert.equal(f.encrypt(s, tweak, 36), ct);
  }), { numRuns: 500 });
});

test('domain and input validation', () => {
  const f = new Ff1(Buffer.alloc(16));
  const code = (c: string) => (e: unknown) => e instanceof CryptoInputError && e.code === c;
  assert.throws(() => f.encrypt('12345', undefined, 10), code('BAD_LENGTH')); // 10^5 < 10^6
  assert.throws(() => f.encrypt('0101', undefined, 1), code('BAD_RADIX'));
  assert.throws(() => f.encrypt('0101', undefined, 37), code('BAD_RADIX'));
  assert.throws(() => f.encrypt('012345678a', undefined, 10), code('BAD_RADIX'));
  assert.throws(() => f.encrypt('0123-56789', undefined, 10), code('BAD_RADIX'));
  assert.throws(() => f.encryptNumerals([1, 2, 3, 4, 5, 6, 10], new Uint8Array(0), 10), code('BAD_RADIX'));
  assert.throws(() => f.encrypt('0123456789', 'x' as never, 10), code('BAD_TWEAK'));
  assert.throws(() => new Ff1(Buffer.alloc(8)), code('BAD_KEY'));
  assert.equal(numeralsToString([35, 0, 10]), 'z0a');
  assert.equal(f.encrypt('000000', undefined, 10).length, 6);
});
