import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { computeDcvv2, dcvv2Window, generateDcvv2, verifyDcvv2 } from './dcvv2.ts';
import { computeCvv2, prepareCvk } from './cvv.ts';
import { CryptoInputError } from './errors.ts';

// dCVV2 is an emboss construction (documented in dcvv2.ts); there are no public
// vectors. It is checked against an independent textbook implementation of the
// documented steps, and its CVV-method core is pinned by the Visa CVV vector in cvv.test.ts.

const h = (s: string) => Buffer.from(s, 'hex');
const A = h('0123456789ABCDEF');
const B = h('FEDCBA9876543210');
const CVK = prepareCvk(A, B);

function reference(pan: string, windowIndex: number): string {
  const d = (pan + 'D' + String(windowIndex).padStart(10, '0')).padEnd(32, '0');
  const des = (k: Buffer, x: Buffer) => createCipheriv('des-ede3-ecb', k, null).setAutoPadding(false).update(x);
  const r1 = des(Buffer.concat([A, A, A]), h(d.slice(0, 16)));
  const d2 = h(d.slice(16));
  const r2 = des(Buffer.concat([A, B, A]), Buffer.from(r1.map((v, i) => v ^ (d2[i] as number)))).toString('hex');
  return ([...r2].filter((c) => c <= '9').join('') + [...r2].filter((c) => c > '9').map((c) => String(parseInt(c, 16) - 10)).join('')).slice(0, 3);
}

test('window index', () => {
  assert.equal(dcvv2Window(0, 5), 0);
  assert.equal(dcvv2Window(299_999, 5), 0);
  assert.equal(dcvv2Window(300_000, 5), 1);
  assert.equal(dcvv2Window(Date.UTC(2025, 0, 1), 60), Math.floor(Date.UTC(2025, 0, 1) / 3_600_000));
  const code = (c: string) => (e: unknown) => e instanceof CryptoInputError && e.code === c;
  assert.throws(() => dcvv2Window(0, 0), code('BAD_INPUT'));
  assert.throws(() => dcvv2Window(0, 1.5), code('BAD_INPUT'));
  assert.throws(() => dcvv2Window(-1, 5), code('BAD_INPUT'));
  assert.throws(() => computeDcvv2(CVK, '4123456789012345', -1), code('BAD_INPUT'));
  assert.throws(() => computeDcvv2(CVK, '4123456789012345', 1e10), code('BAD_INPUT'));
  assert.throws(() => computeDcvv2(CVK, '41234567890', 1), code('BAD_PAN'));
  assert.throws(() => verifyDcvv2(CVK, '4123456789012345', '12', 0, 5), code('BAD_INPUT'));
});

test('matches the independent reference (property); raw keys == prepared pair', () => {
  fc.assert(fc.property(fc.stringMatching(/^[0-9]{12,19}$/), fc.integer({ min: 0, max: 9_999_999_999 }), (pan, w) => {
    const v = computeDcvv2(CVK, pan, w);
    assert.match(v, /^[0-9]{3}$/);
    assert.equal(v, reference(pan, w));
    assert.equal(computeDcvv2(A, B, pan, w), v);
  }), { numRuns: 300 });
});

test('generate / verify policy: current window only by default, previous window opt-in', () => {
  const pan = '4123456789012345';
  const t0 = Date.UTC(2025, 5, 1, 12, 0, 0);
  const g = generateDcvv2(CVK, pan, t0 + 10_000, 10);
  assert.equal(g.windowIndex, dcvv2Window(t0 + 10_000, 10));
  assert.equal(g.validFromMs, t0);
  assert.equal(g.expiresAtMs, t0 + 600_000);
  assert.equal(verifyDcvv2(CVK, pan, g.value, g.expiresAtMs - 1, 10), true);
  const next = computeDcvv2(CVK, pan, g.windowIndex + 1);
  if (next !== g.value) {
    assert.equal(verifyDcvv2(CVK, pan, g.value, g.expiresAtMs, 10), false);
    assert.equal(verifyDcvv2(CVK, pan, g.value, g.expiresAtMs, 10, { acceptPreviousWindow: true }), true);
  }
  const wrong = String((Number(g.value) + 1) % 1000).padStart(3, '0');
  assert.equal(verifyDcvv2(CVK, pan, wrong, t0, 10), false);
});

test('values change across windows and are spread over 000-999', () => {
  const seen = new Set<string>();
  for (let w = 0; w < 2000; w++) seen.add(computeDcvv2(CVK, '4123456789012345', w));
  assert.ok(seen.size > 800, `only ${seen.size} distinct values`);
  // a dCVV2 input is never a static CVV2 input: check the two differ for windows equal to the YYMM
  let same = 0;
  for (let yymm = 2501; yymm <= 2512; yymm++) if (computeDcvv2(CVK, '4123456789012345', yymm) === computeCvv2(CVK, '4123456789012345', String(yymm))) same++;
  assert.ok(same <= 2);
});
