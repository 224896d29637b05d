import { describe, test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createCluster, havePostgresBinaries, type PgCluster, type StopMode } from '../helpers/pg-cluster.ts';
import { alive, apiClient, buildForTest, childrenRunning, freePort, request, runEmboss, type Answer, type EmbossProcess } from '../helpers/emboss-server.ts';
import { customerBody, testBootstrap } from '../helpers/harness.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * `emboss serve` with two API processes, started as `npm start` starts it (the compiled build), on
 * a PostgreSQL cluster of this test's own that the test restarts and stops under it. What must
 * hold: while the database is away every request is answered — 503 with EMBS02E and Retry-After,
 * promptly — never reset or left hanging; the liveness probe stays 200 and readiness says 503;
 * once the database is back the same processes serve again within seconds, and a mass issue cut
 * off in the middle finishes by itself, its bureau files written. No emboss process ends.
 */
describe('database outages under a running server (PostgreSQL, two API processes)', { skip: havePostgresBinaries ? false : 'PostgreSQL 15 binaries missing' }, () => {
  let cluster: PgCluster;
  let build: Awaited<ReturnType<typeof buildForTest>>;
  let server: EmbossProcess;
  const dir = mkdtempSync(join(tmpdir(), 'emboss-outage-'));
  const bureau = join(dir, 'bureau');
  let base: string;
  let api: ReturnType<typeof apiClient>;
  /** The primary and its two API processes, as first started: none of them may change. */
  let processes: number[];
  let failed = false;
  /** The test, noting a failure so that `after` shows what emboss logged. */
  const noting = (fn: (t: TestContext) => Promise<void>) => async (t: TestContext) => {
    try { await fn(t); } catch (err) { failed = true; throw err; }
  };

  const sql = async <T = any>(statement: string, values: unknown[] = []): Promise<T[]> => {
    const c = new pg.Client({ connectionString: cluster.url('emboss'), connectionTimeoutMillis: 5000 });
    await c.connect();
    try { return (await c.query(statement, values)).rows as T[]; } finally { await c.end(); }
  };
  const unavailable = (a: Answer) => a.status === 503 && a.body?.errors?.[0]?.code === 'EMBS02E' && a.headers?.get('retry-after') === '5';
  const sameProcesses = () => {
    assert.deepEqual([server.pid, ...childrenRunning(server.pid, build.entry)], processes, `no emboss process ended or was replaced\n${server.output().slice(-3000)}`);
    assert.ok(processes.every(alive));
    assert.doesNotMatch(server.output(), /an API process stopped/);
  };
  /** Customer adds (signed, each its own request id and connection) until every process answers 200. */
  const servingAgain = async (timeoutMs: number) => {
    const started = Date.now();
    await waitFor('emboss serving again', async () => {
      const answers = await Promise.all(Array.from({ length: 4 }, () => api.call('POST', '/customer/l8v2', customerBody())));
      return answers.every((a) => a.status === 200) ? true : undefined;
    }, timeoutMs);
    return Date.now() - started;
  };
  /** Requests from `loops` clients, one after another each, while `during` runs and for `afterMs` more. */
  const loadDuring = async (during: () => Promise<void>, afterMs: number, loops = 4) => {
    const answers: Answer[] = [];
    let stop = false;
    const loop = async (i: number) => {
      while (!stop) {
        answers.push(i % 2 === 0 ? await api.call('POST', '/customer/l8v2', customerBody()) : await api.token(5000));
      }
    };
    const running = Array.from({ length: loops }, (_, i) => loop(i));
    await new Promise((r) => setTimeout(r, 300));
    await during();
    await new Promise((r) => setTimeout(r, afterMs));
    stop = true;
    await Promise.all(running);
    return answers;
  };

  before(async () => {
    [cluster, build] = await Promise.all([createCluster(), buildForTest()]);
    await cluster.query('create database emboss');
    writeFileSync(join(dir, 'bootstrap.yaml'), testBootstrap);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = apiClient(base);
    server = runEmboss(build.entry, ['serve'], {
      DATABASE_URL: cluster.url('emboss'), EMBOSS_DATA_DIR: dir, EMBOSS_CONFIG: join(dir, 'bootstrap.yaml'), EMBOSS_PERSONALIZATION_DIR: bureau,
      // info: each API process says when it listens (the primary starts the second after the first listens).
      EMBOSS_API_PROCESSES: '2', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', EMBOSS_MASTER_KEY: randomBytes(32).toString('hex'),
      // The load asks for tokens without pause: the per-address token limit is not what this test is about.
      EMBOSS_TOKENS_PER_MINUTE: '1000000',
    });
    await waitFor('two API processes listening', () => (server.output().match(/"msg":"emboss is listening"/g)?.length === 2 ? true : undefined), 60_000);
    const workers = childrenRunning(server.pid, build.entry);
    assert.equal(workers.length, 2);
    await servingAgain(30_000);
    processes = [server.pid, ...workers];
  });

  after(async () => {
    for (const pid of [...childrenRunning(server.pid, build.entry), server.pid]) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await server.exited;
    // What emboss logged, but the request lines and the one line per 503 (there are hundreds).
    const worth = (l: string) => !/"msg":"(incoming request|request completed|database unavailable; answered 503)"/.test(l);
    if (failed) process.stderr.write(`emboss wrote:\n${server.output().split('\n').filter(worth).join('\n').slice(-8000)}\n`);
    await cluster.remove();
    build.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ['fast', 'immediate'] as StopMode[]) {
    test(`a ${mode} restart of PostgreSQL under load: every request answered (200 or 503), then served again`, noting(async (t) => {
      const started = Date.now();
      const answers = await loadDuring(() => cluster.restart(mode), 1000);
      const odd = answers.filter((a) => !(a.status === 200 || unavailable(a)));
      assert.deepEqual(odd.map((a) => ({ status: a.status, failure: a.failure, body: a.body })), [], 'no reset, no hang, no other status');
      assert.ok(answers.every((a) => a.ms < 4000), `each answered promptly (slowest ${Math.max(...answers.map((a) => a.ms))} ms)`);
      const back = await servingAgain(15_000);
      sameProcesses();
      t.diagnostic(`${answers.length} requests, ${answers.filter(unavailable).length} answered 503; serving again ${back} ms after; ${Date.now() - started} ms in all`);
    }));
  }

  test('PostgreSQL stopped for a few seconds in the middle of a mass issue: 503s, probes, then the same processes serve and the issue completes', noting(async (t) => {
    // Enough that the stop falls in the middle: the test stops the database at its first sight of
    // a committed chunk (1,000 cards), polled every 200 ms.
    const quantity = 10_000;
    const customer = await api.call('POST', '/customer/l8v2', customerBody());
    assert.equal(customer.status, 200);
    const submitted = await api.call('POST', '/cards/mass-card-issue-L8V3', {
      organizationNumber: 100, logo: 1, cardType: 3, functionType: 'A', quantityToCreate: quantity, customerNumber: customer.body.customerNumber,
    });
    assert.equal(submitted.status, 200, JSON.stringify(submitted.body));
    const created = async () => Number((await sql('select created from mass_issue_requests where card_type = 3'))[0]?.created ?? 0);
    await waitFor('the mass issue under way', async () => ((await created()) > 0 ? true : undefined), 30_000);

    const atStop = await created();
    assert.ok(atStop < quantity, 'stopped in the middle of the issue');
    await cluster.stop('fast');
    const outageStarted = Date.now();
    const during: Answer[] = [];
    const probes: Array<[number, number]> = [];
    while (Date.now() - outageStarted < 4000) {
      const [a, b, live, ready] = await Promise.all([
        api.call('POST', '/customer/l8v2', customerBody()), api.token(5000), request(`${base}/health/live`), request(`${base}/health/ready`),
      ]);
      during.push(a, b);
      probes.push([live.status, ready.status]);
      assert.equal(ready.body?.errors?.[0]?.code, 'EMBS02E');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(during.length >= 8);
    assert.deepEqual(during.filter((a) => !unavailable(a)).map((a) => ({ status: a.status, failure: a.failure, body: a.body })), [], 'every request: 503 EMBS02E with Retry-After');
    assert.ok(during.every((a) => a.ms < 3500), `promptly (slowest ${Math.max(...during.map((a) => a.ms))} ms)`);
    assert.ok(probes.every(([live, ready]) => live === 200 && ready === 503), JSON.stringify(probes));

    await cluster.start();
    const back = await servingAgain(15_000);
    assert.equal((await request(`${base}/health/ready`)).status, 200);
    sameProcesses();

    // The job was cut off mid-run; it resumes in the same job once the database answers, to the last card.
    const issueStarted = Date.now();
    await waitFor('the mass issue completed', async () => {
      const [r] = await sql('select status, created from mass_issue_requests where card_type = 3');
      return r?.status === 'COMPLETED' ? r : undefined;
    }, 90_000);
    const [cards] = await sql(`select count(*)::int as n, count(distinct mass_seq)::int as positions, min(mass_seq) as first, max(mass_seq) as last
      from cards where mass_request_id = (select id from mass_issue_requests where card_type = 3)`);
    assert.deepEqual(cards, { n: quantity, positions: quantity, first: 1, last: quantity });
    // Its bureau files are written by the flush job, which polls again after the outage as well.
    const files = await waitFor('the bureau files written', async () => {
      const rows = await sql(`select status, record_count, name from personalization_files
        where mass_request_id = (select id from mass_issue_requests where card_type = 3) order by mass_first`);
      return rows.length > 0 && rows.every((f) => f.status === 'WRITTEN') ? rows : undefined;
    }, 60_000);
    assert.equal(files.reduce((n, f) => n + f.record_count, 0), quantity);
    const written = readdirSync(bureau);
    for (const f of files) assert.ok(written.includes(f.name), `${f.name} is in the bureau folder`);
    assert.match(server.output(), /job interrupted: the database is unreachable/);
    sameProcesses();
    t.diagnostic(`cards at the stop: ${atStop}; ${during.length} requests during the outage; serving ${back} ms after the start; issue done ${Date.now() - issueStarted} ms later`);
  }));
});
