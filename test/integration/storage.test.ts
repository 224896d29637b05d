import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { Writable } from 'node:stream';
import { backends, openTestStore, type TestStore } from '../helpers/storage.ts';
import { startQueue } from '../../src/jobs/queue.ts';
import { createLogger } from '../../src/shared/logger.ts';

const quietLogger = createLogger({ level: 'error', destination: new Writable({ write(_c, _e, done) { done(); } }) });

for (const backend of backends) {
  describe(`storage and jobs (${backend})`, () => {
    let store: TestStore;
    before(async () => { store = await openTestStore(backend); });
    after(async () => { await store.close(); });

    test('a transaction is not visible outside until it commits, and rolls back whole', async () => {
      const db = store.storage.db;
      let release!: () => void;
      const held = new Promise<void>((r) => { release = r; });
      let inserted!: () => void;
      const didInsert = new Promise<void>((r) => { inserted = r; });
      const trx = db.transaction().execute(async (t) => {
        await t.insertInto('organizations').values({ number: 901, name: 'in flight', pan_token_enabled: true }).execute();
        inserted();
        await held;
        throw new Error('roll back');
      });
      await didInsert;
      // On PGlite this read waits for the transaction (one session); on PostgreSQL it does not see it.
      const outside = db.selectFrom('organizations').select('number').where('number', '=', 901).execute();
      setTimeout(release, 50);
      await assert.rejects(trx, /roll back/);
      assert.deepEqual(await outside, []);
      assert.deepEqual(await db.selectFrom('organizations').select('number').where('number', '=', 901).execute(), []);
    });

    test('DATE columns come back as YYYY-MM-DD text', async () => {
      const r = await sql<{ d: unknown }>`select date '2030-01-31' as d`.execute(store.storage.db);
      assert.equal(r.rows[0]!.d, '2030-01-31');
    });

    test('pg-boss runs jobs on this store, while transactions are open', async () => {
      const boss = await startQueue(store.storage, quietLogger, { schema: store.jobSchema });
      try {
        await boss.createQueue('test.echo');
        const seen: unknown[] = [];
        await boss.work('test.echo', { pollingIntervalSeconds: 0.5 } as never, async ([job]: Array<{ data: unknown }>) => { seen.push(job!.data); });
        // Keep the database busy with transactions while the job is sent and worked.
        const busy = (async () => {
          for (let i = 0; i < 20; i++) {
            await store.storage.db.transaction().execute(async (t) => { await sql`select pg_sleep(0.01)`.execute(t); });
          }
        })();
        await boss.send('test.echo', { n: 42 });
        await busy;
        const deadline = Date.now() + 15_000;
        while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(seen, [{ n: 42 }]);
      } finally {
        await boss.stop({ graceful: false, wait: true, close: true } as never);
      }
    });
  });
}
