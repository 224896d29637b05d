import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStorage, type StorageHandle } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

export type Backend = 'pglite' | 'postgres';

/** The stores every storage test runs on: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export const backends: Backend[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestStore {
  backend: Backend;
  storage: StorageHandle;
  /** pg-boss schema for this store. */
  jobSchema: string;
  close(): Promise<void>;
}

const migrationsDir = new URL('../../src/db/migrations/', import.meta.url);

/** Changes whenever a migration or the PGlite version changes, so the template is rebuilt. */
function templateId(): string {
  const h = createHash('sha256');
  for (const f of readdirSync(migrationsDir).sort()) h.update(f).update(readFileSync(new URL(f, migrationsDir)));
  h.update(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url)));
  return h.digest('hex').slice(0, 16);
}

/**
 * A fresh PGlite takes seconds to initialize; a migrated template data directory is made once
 * (per migration set) and every test file loads its own copy of it in well under a second.
 */
export async function pgliteTemplate(): Promise<Blob> {
  const file = join(tmpdir(), `emboss-test-pglite-${templateId()}.tar`);
  if (!existsSync(file)) {
    const fresh = await openStorage({});
    await migrateToLatest(fresh.db);
    const dump = await fresh.dumpDataDir!();
    await fresh.close();
    const tmp = `${file}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, file); // atomic: concurrent test processes never read half a file
  }
  return new Blob([readFileSync(file)]);
}

/** Advisory lock key between schema drops and migrations of parallel test files (see openTestStore). */
const SCHEMA_LOCK = 4_711_001;

export async function openTestStore(backend: Backend): Promise<TestStore> {
  const suffix = randomBytes(6).toString('hex');
  if (backend === 'pglite') {
    const storage = await openStorage({ loadDataDir: await pgliteTemplate() });
    await migrateToLatest(storage.db, storage.postgres?.schema); // no-op on a current template
    return { backend, storage, jobSchema: 'pgboss', close: () => storage.close() };
  }
  const url = process.env.TEST_DATABASE_URL!;
  const schema = `t_${suffix}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  // Test files run in parallel on one database. Kysely's migrator looks at every schema
  // (has_schema_privilege on each), which fails when another file drops its schema at that
  // moment: migrations hold this lock shared, drops hold it alone.
  await admin.query('select pg_advisory_lock_shared($1)', [SCHEMA_LOCK]);
  let storage: StorageHandle;
  try {
    await admin.query(`create schema ${schema}`);
    storage = await openStorage({ databaseUrl: url, schema, poolSize: 10 });
    await migrateToLatest(storage.db, storage.postgres?.schema);
  } finally {
    await admin.end(); // ends the session, and with it the lock
  }
  const jobSchema = `pgboss_${suffix}`;
  return {
    backend,
    storage,
    jobSchema,
    async close() {
      await storage.close();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query('select pg_advisory_lock($1)', [SCHEMA_LOCK]);
        await c.query(`drop schema if exists ${schema} cascade`);
        await c.query(`drop schema if exists ${jobSchema} cascade`);
      } finally {
        await c.end();
      }
    },
  };
}
