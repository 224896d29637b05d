import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backends } from '../helpers/storage.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';
import { anyRequestArb, corpus, findingsReport, FUZZ_SETTINGS, startFuzzer, summary, uncleanStoredText, type Fuzzer } from '../helpers/fuzz.ts';
import { unboundedFields, requestSchemas } from '../helpers/routes.ts';

/**
 * A property-based fuzz of every route (test/helpers/fuzz.ts): a systematic corpus (each hostile
 * value at each route) and random requests made from each route's schema, signed and
 * authenticated. No answer is a 5xx, every answer is JSON and every refusal the envelope, and a
 * refused request changes no table but those that record refusals by design.
 *
 * Reproducible: FUZZ_SEED (default fixed) and FUZZ_RUNS (random requests a store, default
 * 4,000; the corpus adds about 7,000). `npm run bench -- fuzz` runs a hundred thousand.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261205);
const RUNS = Number(process.env.FUZZ_RUNS ?? 4000);

for (const backend of backends) {
  describe(`fuzz of every route (${backend})`, () => {
    let h: Harness;
    let fuzz: Fuzzer;
    let started = 0;
    before(async () => {
      started = Date.now();
      h = await startHarness(backend, { settings: FUZZ_SETTINGS });
      fuzz = await startFuzzer(h);
    });
    after(async () => {
      process.stdout.write(`# ${summary(fuzz.stats, (Date.now() - started) / 1000, `fuzz ${backend} (seed ${SEED})`)}\n`);
      await h.close();
    });

    test('every route is fuzzed, and every number and text of its requests is bounded', () => {
      // 28 routes: token, health (3), customers (4), accounts (3), cards (9), PINs (8), mass issue (2) … and any added later.
      assert.ok(fuzz.routes.length >= 28, `${fuzz.routes.length} routes`);
      const unbounded = fuzz.routes.flatMap((r) => requestSchemas(r).flatMap(([name, schema]) => unboundedFields(name, schema)));
      assert.deepEqual(unbounded, []);
    });

    test('the systematic corpus: each hostile value, body text and content type at every route', async () => {
      for (const req of corpus(fuzz.routes, fuzz.pools)) await fuzz.send(req);
      assert.equal(fuzz.stats.findings.length, 0, findingsReport(fuzz.stats.findings));
      assert.deepEqual(await uncleanStoredText(h), [], 'stored text with control characters');
    });

    test('random requests made from each route\'s schema', async () => {
      const before = fuzz.stats.requests;
      // Every finding is collected (with the request that made it) rather than the run stopped at
      // the first: a report of all of them says more than one shrunk example.
      await fc.assert(fc.asyncProperty(anyRequestArb(fuzz.routes, fuzz.pools), async (req) => {
        await fuzz.send(req);
      }), { seed: SEED, numRuns: RUNS });
      assert.ok(fuzz.stats.requests - before >= RUNS * 0.99, `${fuzz.stats.requests - before} requests`);
      assert.equal(fuzz.stats.findings.length, 0, findingsReport(fuzz.stats.findings));
      assert.deepEqual(await uncleanStoredText(h), [], 'stored text with control characters');
    });

    test('at least 10,000 requests, with successes among them', () => {
      if (!process.env.FUZZ_RUNS) assert.ok(fuzz.stats.requests >= 10_000, `${fuzz.stats.requests} requests`);
      // Not only refusals: the valid requests made from the schemas reach the handlers and write.
      assert.ok((fuzz.stats.byStatus.get(200) ?? 0) > fuzz.stats.requests / 50, JSON.stringify([...fuzz.stats.byStatus]));
    });
  });
}
