import fc from 'fast-check';
import { startHarness } from '../test/helpers/harness.ts';
import { anyRequestArb, corpus, findingsReport, FUZZ_SETTINGS, startFuzzer, summary, uncleanStoredText } from '../test/helpers/fuzz.ts';

/**
 * `npm run bench -- fuzz`: the fuzz of test/http/fuzz.test.ts at a larger scale (default 100,000
 * requests a store: the systematic corpus, then random requests made from the route schemas), on
 * PGlite and on PostgreSQL (BENCH_DATABASE_URL; "" skips it). Prints the counts by status and
 * code, and every finding; exits non-zero on any (a 5xx, an answer without the envelope, a
 * refusal that wrote, stored text with a control character).
 *
 * FUZZ_REQUESTS (default 100000), FUZZ_SEED (default random, printed), FUZZ_DIGEST_EVERY
 * (full table digests around one request in so many, default 1000).
 */
export async function fuzzBench(postgresUrl: string): Promise<{ text: string; ok: boolean }> {
  const total = Number(process.env.FUZZ_REQUESTS ?? 100_000);
  const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const digestEvery = Number(process.env.FUZZ_DIGEST_EVERY ?? 1000);
  // The test stores: PostgreSQL in a schema of its own (dropped afterwards) of that database.
  if (postgresUrl) process.env.TEST_DATABASE_URL = postgresUrl;
  const lines: string[] = [`fuzz: ${total.toLocaleString('en-US')} requests a store, seed ${seed}`];
  let ok = true;
  for (const backend of postgresUrl ? ['pglite', 'postgres'] as const : ['pglite'] as const) {
    const started = Date.now();
    const h = await startHarness(backend, { settings: FUZZ_SETTINGS });
    try {
      const fuzz = await startFuzzer(h, { digestEvery });
      for (const req of corpus(fuzz.routes, fuzz.pools)) {
        if (fuzz.stats.requests >= total) break;
        await fuzz.send(req);
      }
      const left = total - fuzz.stats.requests;
      if (left > 0) {
        await fc.assert(fc.asyncProperty(anyRequestArb(fuzz.routes, fuzz.pools), async (req) => { await fuzz.send(req); }), { seed, numRuns: left });
      }
      const unclean = await uncleanStoredText(h);
      lines.push(summary(fuzz.stats, (Date.now() - started) / 1000, backend));
      if (fuzz.stats.findings.length) lines.push(findingsReport(fuzz.stats.findings));
      if (unclean.length) lines.push(`stored text with control characters: ${unclean.join('; ')}`);
      ok &&= fuzz.stats.findings.length === 0 && unclean.length === 0;
    } finally {
      await h.close();
    }
  }
  return { text: `${lines.join('\n')}\n`, ok };
}
