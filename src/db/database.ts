import { Kysely, PostgresDialect } from 'kysely';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
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
  // Loaded only when PGlite is the store: on PostgreSQL the process stays without it (its
  // module is large, and every emboss process would carry it).
  const { PGlite: Embedded } = await import('@electric-sql/pglite');
  const pglite: PGlite = new Embedded({
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
  // Generic plans for the prepared statements (see withPreparedStatements): the batch statements
  // take their keys as arrays, so each execution's custom plan differs only in the array length,
  // and PostgreSQL kept planning them again on every execution (about a sixth of its CPU time in
  // a PAN token inquiry run). Every statement here finds its rows by key, where a plan made once
  // per connection is as good. pg-boss has its own pool and keeps the default.
  const sessionOptions = ['-c plan_cache_mode=force_generic_plan', ...(options.schema ? [`-c search_path=${options.schema}`] : [])];
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    options: sessionOptions.join(' '),
  });
  // NUMERIC and BIGINT come back as strings from pg; amounts are converted where they are read.
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: withPreparedStatements(pool) }) });
  return {
    kind: 'postgres',
    db,
    sql: { async executeSql(text, values) { const r = await pool.query(text, values as any[]); return { rows: r.rows }; } },
    postgres: { connectionString, ...(options.schema ? { schema: options.schema } : {}) },
    async close() { await db.destroy(); },
  };
}

/**
 * Kysely sends every query as an unnamed statement, which PostgreSQL parses and plans again each
 * time. The same few statements run thousands of times a second here, so each text is sent as a
 * named prepared statement instead: parsed and planned once per connection. Texts that are long
 * or too many (generated SQL with varying shapes) stay unnamed, so a connection holds a bounded
 * set of statements.
 */
const MAX_PREPARED_PER_CONNECTION = 200;
const MAX_PREPARED_TEXT = 4000;

function withPreparedStatements(pool: pg.Pool): pg.Pool {
  const prepared = new WeakMap<pg.PoolClient, Set<string>>();
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name) {
      name = `k${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      if (names.size < 10_000) names.set(text, name);
    }
    return name;
  };
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop !== 'connect') return Reflect.get(target, prop, receiver);
      return async () => {
        const client = await connect();
        if (!prepared.has(client)) {
          const own = new Set<string>();
          prepared.set(client, own);
          const query = client.query.bind(client) as (...args: unknown[]) => unknown;
          (client as unknown as { query: (...args: unknown[]) => unknown }).query = (text: unknown, values?: unknown) => {
            if (typeof text !== 'string' || text.length > MAX_PREPARED_TEXT || (!own.has(text) && own.size >= MAX_PREPARED_PER_CONNECTION)) {
              return query(text, values);
            }
            own.add(text);
            return query({ name: nameOf(text), text, values });
          };
        }
        return client;
      };
    },
  });
}
