import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createCluster, havePostgresBinaries, type PgCluster } from '../helpers/pg-cluster.ts';
import { alive, apiClient, buildForTest, childrenRunning, freePort, request, runEmboss, type EmbossProcess } from '../helpers/emboss-server.ts';
import { customerBody, testBootstrap } from '../helpers/harness.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * Process faults and shutdown, with `serve` started as `npm start` starts it (the compiled build)
 * on a PostgreSQL cluster of this test's own: the primary of EMBOSS_API_PROCESSES replaces an API
 * process killed with SIGKILL; SIGTERM lets a request in flight finish, then the server exits 0,
 * with one API process or several; past EMBOSS_SHUTDOWN_SECONDS a request still running is cut.
 */
describe('process faults and graceful shutdown (PostgreSQL)', { skip: havePostgresBinaries ? false : 'PostgreSQL 15 binaries missing' }, () => {
  let cluster: PgCluster;
  let build: Awaited<ReturnType<typeof buildForTest>>;
  const dir = mkdtempSync(join(tmpdir(), 'emboss-faults-'));
  const servers: EmbossProcess[] = [];
  const masterKey = randomBytes(32).toString('hex');

  /** `serve` with `processes` API processes; resolves once each of them listens. */
  const serve = async (processes: number, extra: Record<string, string> = {}) => {
    const port = await freePort();
    const server = runEmboss(build.entry, ['serve'], {
      DATABASE_URL: cluster.url('emboss'), EMBOSS_DATA_DIR: dir, EMBOSS_CONFIG: join(dir, 'bootstrap.yaml'), EMBOSS_MASTER_KEY: masterKey,
      EMBOSS_API_PROCESSES: String(processes), HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...extra,
    });
    servers.push(server);
    const listening = () => server.output().match(/"msg":"emboss is listening"/g)?.length ?? 0;
    await waitFor(`${processes} API process(es) listening`, () => {
      if (server.ended()) throw new Error(`serve ended: ${server.output().slice(-3000)}`);
      return listening() >= processes ? true : undefined;
    }, 60_000);
    const base = `http://127.0.0.1:${port}`;
    return { server, base, api: apiClient(base), listening };
  };

  /**
   * Holds the customers table locked from a session of its own, so that a customer add waits in
   * the middle of its handler for as long as the test wants: a request in flight.
   */
  const lockCustomers = async () => {
    const c = new pg.Client({ connectionString: cluster.url('emboss') });
    await c.connect();
    await c.query('begin');
    await c.query('lock table customers in access exclusive mode');
    return { release: async () => { await c.query('commit'); await c.end(); } };
  };
  const waitingOnTheLock = async () => {
    const c = new pg.Client({ connectionString: cluster.url('emboss') });
    await c.connect();
    try {
      return await waitFor('a request waiting on the lock', async () => {
        const r = await c.query(`select count(*)::int as n from pg_locks l join pg_class t on t.oid = l.relation where t.relname = 'customers' and not l.granted`);
        return r.rows[0].n > 0 ? true : undefined;
      }, 15_000);
    } finally { await c.end(); }
  };

  before(async () => {
    [cluster, build] = await Promise.all([createCluster(), buildForTest()]);
    await cluster.query('create database emboss');
    writeFileSync(join(dir, 'bootstrap.yaml'), testBootstrap);
  });
  after(async () => {
    for (const s of servers) {
      for (const pid of [...childrenRunning(s.pid, build.entry), s.pid]) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    await cluster.remove();
    build.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the primary replaces an API process killed with SIGKILL, logs it, and goes on serving', async () => {
    const { server, api } = await serve(2);
    const workers = childrenRunning(server.pid, build.entry);
    assert.equal(workers.length, 2);
    process.kill(workers[0]!, 'SIGKILL');
    const replaced = await waitFor('a replacement process', () => {
      const now = childrenRunning(server.pid, build.entry);
      return now.length === 2 && !now.includes(workers[0]!) ? now : undefined;
    }, 20_000);
    assert.ok(replaced.includes(workers[1]!), 'the other process kept running');
    const restart = server.output().split('\n').find((l) => l.includes('an API process stopped; starting another'));
    assert.ok(restart, 'the restart is logged');
    assert.deepEqual((({ pid, signal, restartInSeconds, restarts }) => ({ pid, signal, restartInSeconds, restarts }))(JSON.parse(restart)),
      { pid: workers[0], signal: 'SIGKILL', restartInSeconds: 1, restarts: 1 });
    await waitFor('three listening (two first, one replacement)', () => (server.output().match(/"msg":"emboss is listening"/g)!.length === 3 ? true : undefined), 20_000);
    const answers = await Promise.all(Array.from({ length: 6 }, () => api.call('POST', '/customer/l8v2', customerBody())));
    assert.deepEqual(answers.map((a) => a.status), Array(6).fill(200));

    // Both at once: with no process left the primary stays (it has processes to start) and starts both.
    for (const pid of replaced) process.kill(pid, 'SIGKILL');
    const fresh = await waitFor('two new processes', () => {
      const now = childrenRunning(server.pid, build.entry);
      return now.length === 2 && now.every((p) => !replaced.includes(p)) ? now : undefined;
    }, 30_000);
    await waitFor('five listening in all', () => (server.output().match(/"msg":"emboss is listening"/g)!.length === 5 ? true : undefined), 30_000);
    assert.equal(server.ended(), false);
    assert.equal(server.output().split('\n').filter((l) => l.includes('an API process stopped; starting another')).length, 3);
    const again = await Promise.all(Array.from({ length: 6 }, () => api.call('POST', '/customer/l8v2', customerBody())));
    assert.deepEqual(again.map((a) => a.status), Array(6).fill(200));
    assert.equal(fresh.length, 2);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  });

  for (const processes of [1, 2]) {
    test(`SIGTERM (${processes} API process${processes > 1 ? 'es' : ''}): no new connections, the request in flight finishes, exit 0`, async () => {
      const { server, base, api } = await serve(processes);
      const workers = childrenRunning(server.pid, build.entry);
      assert.equal((await api.call('POST', '/customer/l8v2', customerBody())).status, 200); // a token, before the lock
      const lock = await lockCustomers();
      const inFlight = api.call('POST', '/customer/l8v2', customerBody(), 30_000);
      await waitingOnTheLock();
      server.child.kill('SIGTERM');
      // The port closes while the request is still in flight.
      await waitFor('new connections refused', async () => ((await request(`${base}/health/live`, {}, 2000)).failure === 'ECONNREFUSED' ? true : undefined), 10_000);
      assert.equal(server.ended(), false, 'still finishing the request');
      await new Promise((r) => setTimeout(r, 500));
      await lock.release();
      const answer = await inFlight;
      assert.equal(answer.status, 200, JSON.stringify(answer));
      assert.match(answer.body.customerNumber, /^[0-9]{19}$/);
      assert.equal(await server.exited, 0, server.output().slice(-3000));
      for (const pid of workers) assert.equal(alive(pid), false, `API process ${pid} ended`);
      assert.match(server.output(), /"msg":"shut down"/);
    });
  }

  test('past EMBOSS_SHUTDOWN_SECONDS a request still running is cut, and the process still ends with 0', async () => {
    const { server, api } = await serve(1, { EMBOSS_SHUTDOWN_SECONDS: '1' });
    assert.equal((await api.call('POST', '/customer/l8v2', customerBody())).status, 200);
    const lock = await lockCustomers();
    try {
      const inFlight = api.call('POST', '/customer/l8v2', customerBody(), 30_000);
      await waitingOnTheLock();
      const signalled = Date.now();
      server.child.kill('SIGTERM');
      const answer = await inFlight;
      assert.equal(answer.status, 0, 'no answer: its connection was closed');
      const cutAfter = Date.now() - signalled;
      assert.ok(cutAfter >= 900 && cutAfter < 4000, `cut after the grace period (${cutAfter} ms)`);
      assert.equal(await server.exited, 0, server.output().slice(-3000));
      // The cut request's statement still waits in the database, holding its pool connection: the
      // process ends at the closing margin instead of waiting for it.
      assert.match(server.output(), /"msg":"shutdown: closing took too long; exiting with it unfinished"/);
      assert.ok(Date.now() - signalled < 10_000, 'ended within the grace period and the closing margin');
    } finally {
      await lock.release();
    }
  });
});
