import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { detokenizePan, isPanToken, tokenizePan, tokenizePans } from './pan-token.ts';
import { Ff1 } from './ff1.ts';
import { generateCardNumber } from './luhn.ts';
import { CryptoInputError } from './errors.ts';

// No public vectors exist for this emboss-specific construction; it is tested by
// round trips, structural properties, uniqueness, and by recomputing a token by
// hand from the FF1 primitive (itself pinned by the NIST SP 800-38G samples).

const KEY = Buffer.from('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', 'hex');
const ff1 = new Ff1(KEY);
const code = (c: string) => (e: unknown) => e instanceof CryptoInputError && e.code === c;

test('token structure: 19 chars, BIN and last four kept, at least one letter; round trip (property)', () => {
  fc.assert(fc.property(fc.integer({ min: 12, max: 19 }), fc.stringMatching(/^[0-9]{19}$/), fc.constantFrom(6, 8), (len, digits, binLength) => {
    const pan = digits.slice(0, len);
    const token = tokenizePan(ff1, pan, binLength as 6 | 8);
    assert.equal(token.length, 19);
    assert.ok(token.startsWith(pan.slice(0, binLength)));
    assert.ok(token.endsWith(pan.slice(-4)));
    assert.match(token.slice(binLength, 15), /[A-Z]/);
    assert.ok(isPanToken(token));
    assert.equal(detokenizePan(ff1, token, binLength as 6 | 8), pan);
    assert.equal(tokenizePan(KEY, pan, binLength as 6 | 8), token); // deterministic, raw key == cached Ff1
  }), { numRuns: 3000 });
});

test('round trip over random Luhn-valid PANs of length 16-19 (property)', () => {
  fc.assert(fc.property(fc.integer({ min: 16, max: 19 }), fc.stringMatching(/^[1-9][0-9]{5}$/), (len, bin) => {
    const pan = generateCardNumber(bin, len);
    assert.equal(detokenizePan(ff1, tokenizePan(ff1, pan)), pan);
  }), { numRuns: 2000 });
});

test('uniqueness over 100k PANs sharing BIN and last four (hardest case: same tweak)', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const middle = String(i * 7919 % 1_000_000).padStart(6, '0'); // 100k distinct middles
    const token = tokenizePan(ff1, '411111' + middle + '1111');
    assert.ok(/[A-Z]/.test(token));
    seen.add(token);
  }
  assert.equal(seen.size, 100_000);
});

test('PANs of different lengths with the same BIN and last four get different tokens', () => {
  const tokens = new Set<string>();
  for (let len = 12; len <= 19; len++) tokens.add(tokenizePan(ff1, '411111' + '0'.repeat(len - 10) + '1234'));
  assert.equal(tokens.size, 8);
  for (const t of tokens) assert.equal(detokenizePan(ff1, t).length >= 12, true);
});

test('cycle walking: recomputed by hand from FF1, including outputs that needed extra steps', () => {
  // Find PANs whose first FF1 output is all digits (expected ~1e-5 of inputs for m = 9,
  // ~1.3e-4 for m = 7), and check the token equals the walk done by hand.
  const tweakFor = (binLength: number, bin: string, last4: string) => {
    const digits = bin + last4;
    return Uint8Array.from([0x54, 0x01, binLength, ...Array.from({ length: digits.length / 2 }, (_, i) => parseInt(digits.slice(2 * i, 2 * i + 2), 16))]);
  };
  let walked = 0;
  for (let i = 0; i < 40_000 && walked < 2; i++) {
    const pan = '41111122' + String(i % 10_000).padStart(4, '0') + '98' + String(70 + Math.floor(i / 10_000));
    const binLength = 8;
    const m = 7;
    let value = Number(pan.slice(8, 12));
    const x = new Array<number>(m);
    x[0] = 10 + (pan.length - 12);
    for (let j = m - 1; j >= 1; j--) { x[j] = value % 36; value = Math.floor(value / 36); }
    const tweak = tweakFor(binLength, pan.slice(0, 8), pan.slice(-4));
    let y = ff1.encryptNumerals(x, tweak, 36);
    let steps = 1;
    while (!y.some((v) => v >= 10)) { y = ff1.encryptNumerals(y, tweak, 36); steps++; }
    const expected = pan.slice(0, 8) + y.map((v) => '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'[v]).join('') + pan.slice(-4);
    assert.equal(tokenizePan(ff1, pan, 8), expected);
    if (steps > 1) {
      walked++;
      assert.equal(detokenizePan(ff1, expected, 8), pan);
      // In a batch too: the walk's extra steps run one by one after the lockstep rounds.
      assert.deepEqual(tokenizePans(ff1, ['4111112200001234987', pan, '41111122999999998'], 8), [tokenizePan(ff1, '4111112200001234987', 8), expected, tokenizePan(ff1, '41111122999999998', 8)]);
    }
  }
  assert.ok(walked >= 1, 'expected at least one multi-step cycle walk in the sample');
});

test('tokenizePans gives each PAN its own token as tokenizePan does, whatever their lengths and BINs (property)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 12, max: 19 }), fc.stringMatching(/^[0-9]{19}$/)), { minLength: 1, maxLength: 30 }), fc.constantFrom(6, 8), (inputs, binLength) => {
    const pans = inputs.map(([len, digits]) => digits.slice(0, len));
    assert.deepEqual(tokenizePans(ff1, pans, binLength as 6 | 8), pans.map((pan) => tokenizePan(ff1, pan, binLength as 6 | 8)));
  }), { numRuns: 300 });
  assert.deepEqual(tokenizePans(ff1, []), []);
  assert.throws(() => tokenizePans(ff1, ['4111111111111111', '41111111111']), code('BAD_PAN'));
});

test('rejects non-tokens, wrong keys and bad input with typed errors', () => {
  const token = tokenizePan(ff1, '4111111111111111');
  assert.equal(isPanToken('4111111111111111111'), false); // 19 digits: a PAN, never a token
  assert.equal(isPanToken('4111111111111111'), false);
  assert.equal(isPanToken(token.toLowerCase()), false);
  assert.throws(() => detokenizePan(ff1, '4111111111111111111'), code('BAD_TOKEN'));
  assert.throws(() => detokenizePan(ff1, token.slice(0, 18)), code('BAD_TOKEN'));
  // a different key: either rejected, or (rarely) decodes to some other PAN — never the original
  let rejected = 0;
  const other = new Ff1(Buffer.alloc(32, 0xee));
  for (let i = 0; i < 200; i++) {
    const pan = generateCardNumber('411111', 16);
    try { assert.notEqual(detokenizePan(other, tokenizePan(ff1, pan)), pan); } catch (e) { assert.ok(code('BAD_TOKEN')(e)); rejected++; }
  }
  assert.ok(rejected > 150, `only ${rejected}/200 foreign tokens were rejected`);
  assert.throws(() => tokenizePan(ff1, '41111111111'), code('BAD_PAN'));
  assert.throws(() => tokenizePan(ff1, '41111111111111111111'), code('BAD_PAN'));
  assert.throws(() => tokenizePan(ff1, '4111111111111111', 7 as never), code('BAD_INPUT'));
  assert.throws(() => detokenizePan(ff1, token, 7 as never), code('BAD_INPUT'));
  // a BIN-8 token read with the BIN-6 setting is a different permutation: rejected or a different PAN
  const t8 = tokenizePan(ff1, '4111111111111111', 8);
  try { assert.notEqual(detokenizePan(ff1, t8, 6), '4111111111111111'); } catch (e) { assert.ok(code('BAD_TOKEN')(e)); }
});
