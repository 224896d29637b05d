import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secureRandomBytes } from './random.ts';

// Randomness cannot be checked against vectors; these are sanity checks of the pooling logic.
test('sizes, freshness and pool refill', () => {
  assert.equal(secureRandomBytes(0).length, 0);
  assert.equal(secureRandomBytes(12).length, 12);
  assert.equal(secureRandomBytes(1000).length, 1000);
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(secureRandomBytes(12).toString('hex')); // crosses many pool refills
  assert.equal(seen.size, 5000);
  const a = secureRandomBytes(16);
  const copy = Buffer.from(a);
  secureRandomBytes(4096);
  assert.deepEqual(a, copy); // returned buffers are not views into the pool
  assert.throws(() => secureRandomBytes(-1), RangeError);
});

test('bytes are roughly uniform', () => {
  const counts = new Array(256).fill(0);
  const n = 256 * 400;
  for (let i = 0; i < n / 8; i++) for (const b of secureRandomBytes(8)) counts[b]++;
  for (const c of counts) assert.ok(c > 280 && c < 520, `byte count ${c} out of range`);
});
