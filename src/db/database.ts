import { Kysely, PostgresDialect } from 'kysely';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import type { DB } from './schema.ts';
import { PGliteDialect } from './pglite-dialect.ts';

export type Database = Kysely<DB>;

const DATE_OID = 1082;

/** Runs one SQL text with optional parameters: what pg-boss needs from a database. */
export interface SqlExecutor {
  executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

export interface StorageHandle {
  kind: 'pglite' | 'postgres';
  db: Database;
  /** For pg-boss: the same store, outside Kysely. */
  sql: SqlExecutor;
  /** pg connection settings when on PostgreSQL (pg-boss opens its own pool there). */
  postgres?: { connectionString: string; schema?: string };
  /** PGlite only: a copy of the whole data directory (backups, test templates). */
  dumpDataDir?: () => Promise<Blob>;
  close(): Promise<void>;
}

export interface StorageOptions {
  /** postgres://… — PostgreSQL; absent: embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data folder; absent: in memory. */
  dataDir?: string;
  /** A PGlite data dump to start from (tests copy a migrated template this way). */
  loadDataDir?: Blob;
  /** PostgreSQL schema to work in (tests isolate files by schema). */
  schema?: string;
  poolSize?: number;
}

export async function openStorage(options: StorageOptions): Promise<StorageHandle> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  return openPglite(options);
}

async function openPglite(options: StorageOptions): Promise<StorageHandle> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const pglite = new PGlite({
    // DATE columns stay 'YYYY-MM-DD' strings: a Date would shift with the process time zone.
    parsers: { [DATE_OID]: (value: string) => value },
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  await pglite.waitReady;
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite) });
  return {
    kind: 'pglite',
    db,
    sql: {
      // PGlite's query() takes one statement with parameters; pg-boss also sends parameter-less
      // multi-statement scripts (its migrations), which only exec() runs.
      async executeSql(text, values) {
        if (!values || values.length === 0) {
          const results = await pglite.exec(text);
          return { rows: results.at(-1)?.rows ?? [] };
        }
        const result = await pglite.query(text, values);
        return { rows: result.rows };
      },
    },
    dumpDataDir: () => pglite.dumpDataDir('none') as Promise<Blob>,
    async close() {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}

async function openPostgres(connectionString: string, options: StorageOptions): Promise<StorageHandle> {
  pg.types.setTypeParser(DATE_OID, (value: string) => value);
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // NUMERIC and BIGINT come back as strings from pg; amounts are converted where they are read.
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return {
    kind: 'postgres',
    db,
    sql: { async executeSql(text, values) { const r = await pool.query(text, values as any[]); return { rows: r.rows }; } },
    postgres: { connectionString, ...(options.schema ? { schema: options.schema } : {}) },
    async close() { await db.destroy(); },
  };
}
