import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backends } from '../helpers/storage.ts';
import { anyRequestArb, describeFuzz, findingsReport, uncleanStoredText } from '../helpers/fuzz.ts';

/**
 * The fuzz of every route (test/helpers/fuzz.ts), second half: random requests made from each
 * route's schema, with the checks of the first half (test/http/fuzz.test.ts). Reproducible:
 * FUZZ_SEED (default fixed) and FUZZ_RUNS (random requests a store, default 4,000).
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);

for (const backend of backends) {
  describeFuzz(`fuzz of every route: random requests (${backend}, seed ${SEED})`, backend, 'random', (suite) => {
    test('random requests made from each route\'s schema', async () => {
      const { h, fuzz } = suite();
      // Every finding is collected (with the request that made it) rather than the run stopped at
      // the first: a report of all of them says more than one shrunk example.
      await fc.assert(fc.asyncProperty(anyRequestArb(fuzz.routes, fuzz.pools), async (req) => {
        await fuzz.send(req);
      }), { seed: SEED, numRuns: RUNS });
      assert.ok(fuzz.stats.requests >= RUNS * 0.99, `${fuzz.stats.requests} requests`);
      assert.equal(fuzz.stats.findings.length, 0, findingsReport(fuzz.stats.findings));
      assert.deepEqual(await uncleanStoredText(h), [], 'stored text with control characters');
      // Not only refusals: the valid requests made from the schemas reach the handlers and write.
      assert.ok((fuzz.stats.byStatus.get(200) ?? 0) > fuzz.stats.requests / 50, JSON.stringify([...fuzz.stats.byStatus]));
    });
  });
}
