import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { corpus, describeFuzz, findingsReport, uncleanStoredText } from '../helpers/fuzz.ts';
import { unboundedFields, requestSchemas } from '../helpers/routes.ts';

/**
 * The fuzz of every route (test/helpers/fuzz.ts), first half: a systematic corpus, each hostile
 * value, body text and content type at every route, signed and authenticated. No answer is a 5xx,
 * every answer is JSON and every refusal the envelope, and a refused request changes no table but
 * those that record refusals by design. The second half, random requests made from each route's
 * schema, is test/http/fuzz-random.test.ts: a process of its own, so the two run side by side.
 * Together at least 10,000 requests a store. `npm run bench -- fuzz` runs a hundred thousand.
 */
for (const backend of backends) {
  describeFuzz(`fuzz of every route: the systematic corpus (${backend})`, backend, 'corpus', (suite) => {
    test('every route is fuzzed, and every number and text of its requests is bounded', () => {
      const { fuzz } = suite();
      // 28 routes: token, health (3), customers (4), accounts (3), cards (9), PINs (8), mass issue (2) … and any added later.
      assert.ok(fuzz.routes.length >= 28, `${fuzz.routes.length} routes`);
      const unbounded = fuzz.routes.flatMap((r) => requestSchemas(r).flatMap(([name, schema]) => unboundedFields(name, schema)));
      assert.deepEqual(unbounded, []);
    });

    test('the systematic corpus: each hostile value, body text and content type at every route', async () => {
      const { h, fuzz } = suite();
      for (const req of corpus(fuzz.routes, fuzz.pools)) await fuzz.send(req);
      assert.equal(fuzz.stats.findings.length, 0, findingsReport(fuzz.stats.findings));
      assert.deepEqual(await uncleanStoredText(h), [], 'stored text with control characters');
      // With the 4,000 random requests of fuzz-random.test.ts: at least 10,000 a store.
      assert.ok(fuzz.stats.requests >= 6_000, `${fuzz.stats.requests} requests`);
      // Not only refusals: the corpus's valid requests reach the handlers and write.
      assert.ok((fuzz.stats.byStatus.get(200) ?? 0) > fuzz.stats.requests / 50, JSON.stringify([...fuzz.stats.byStatus]));
    });
  });
}
