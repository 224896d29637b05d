import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sql } from 'kysely';
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

/**
 * The test stores' PostgreSQL settings, written into the template's postgresql.conf. PostgreSQL
 * zeroes its shared buffers when it starts: PGlite's default of 128 MB cost every store opened
 * about 0.4 s of CPU, for test databases of a few megabytes.
 */
const TEST_SETTINGS = 'shared_buffers = 16MB\n';

/**
 * The databases a store does without: emboss works in `postgres`, and nothing here creates a
 * database. Each is about 300 files, and each test store copies its folder and removes it again:
 * without them a store is 494 files instead of 1,091, and its copy and removal take 45 ms of CPU
 * instead of 76.
 */
const UNUSED_DATABASES = ['template0', 'template1'];

/** Changes whenever a migration, the PGlite version or how the template is made change, so the template is rebuilt. */
function templateId(): string {
  const h = createHash('sha256').update(TEST_SETTINGS).update(UNUSED_DATABASES.join());
  for (const f of readdirSync(migrationsDir).sort()) h.update(f).update(readFileSync(new URL(f, migrationsDir)));
  h.update(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url)));
  return h.digest('hex').slice(0, 16);
}

/**
 * Where the test stores' PGlite folders go: memory (tmpfs) where the machine has it, else the
 * temporary folder. Each test file's store is a folder of about 25 MB, removed when it closes.
 */
const storeRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/**
 * A fresh PGlite takes seconds to initialize (initdb), and loading a dump of a migrated one
 * (`loadDataDir`, a 40 MB tarball unpacked into PGlite's in-memory file system) took 2 to 3 s
 * of every test file. So a migrated template data folder is made once (per migration set and
 * PGlite version), and each store starts as a plain copy of that folder, opened as a data folder
 * (`dataDir`): the copy takes tens of milliseconds and the opening well under a second.
 */
export async function pgliteTemplateDir(): Promise<string> {
  const dir = join(storeRoot, `emboss-test-pglite-${templateId()}`);
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    const tmp = `${dir}.${randomBytes(4).toString('hex')}`;
    const fresh = await openStorage({ dataDir: tmp });
    await migrateToLatest(fresh.db);
    for (const name of UNUSED_DATABASES) {
      await sql`alter database ${sql.id(name)} is_template false`.execute(fresh.db);
      await sql`drop database ${sql.id(name)}`.execute(fresh.db);
    }
    await fresh.close(); // a clean shut-down: the copies open without recovery
    appendFileSync(join(tmp, 'postgresql.conf'), `\n# emboss tests (test/helpers/storage.ts)\n${TEST_SETTINGS}`);
    try {
      renameSync(tmp, dir); // atomic: concurrent test processes never see half a folder
    } catch (err) {
      // Another test process made it meanwhile: its folder is as good as this one.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return dir;
}

/** A new data folder holding a copy of the migrated template; the caller removes it. */
export async function copyPgliteTemplate(dest = mkdtempSync(join(storeRoot, 'emboss-test-store-'))): Promise<string> {
  cpSync(await pgliteTemplateDir(), dest, { recursive: true });
  return dest;
}

/** Advisory lock key between schema drops and migrations of parallel test files (see openTestStore). */
const SCHEMA_LOCK = 4_711_001;

export async function openTestStore(backend: Backend): Promise<TestStore> {
  const suffix = randomBytes(6).toString('hex');
  if (backend === 'pglite') {
    const dataDir = await copyPgliteTemplate();
    // Removed at close, or at the latest when the process ends (a test that closed its store
    // early, or failed before closing it, leaves no 25 MB folder in memory behind).
    const remove = () => rmSync(dataDir, { recursive: true, force: true });
    process.once('exit', remove);
    const storage = await openStorage({ dataDir });
    await migrateToLatest(storage.db, storage.postgres?.schema); // no-op on a current template
    return {
      backend, storage, jobSchema: 'pgboss',
      async close() {
        try {
          await storage.close();
        } finally {
          process.removeListener('exit', remove);
          remove();
        }
      },
    };
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
