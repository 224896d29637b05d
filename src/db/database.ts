import { Kysely } from 'kysely';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { DB } from './schema.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { PGliteStatements, type Serialize } from './pglite-statements.ts';
import { lockDataDir } from './pglite-lock.ts';
import { CachingPostgresDialect } from './query-compiler.ts';

export { StoreLockedError } from './pglite-lock.ts';

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
  /**
   * PGlite only: LISTEN on `channel` in its one session. PGlite reads a notification with the
   * answer of the statement whose commit sent it, and calls `onPayload` before that statement's
   * caller resumes. The tests use it to see, without a query of their own, what a request wrote.
   * Resolves to the function that stops listening.
   */
  listen?: (channel: string, onPayload: (payload: string) => void) => Promise<() => Promise<void>>;
  /**
   * Whether the store answers a trivial statement within `timeoutMs` (readiness). Never throws;
   * a statement that outlives the timeout is left to finish (or fail) on its own.
   */
  ping(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * How long a new PostgreSQL connection may take (TCP, start-up, authentication), and how long a
 * statement may wait for a free one from the pool. An unreachable server that neither accepts nor
 * refuses (a network partition, a host that is down) would otherwise hold a request until the
 * operating system gives up, minutes later; past this the caller gets an error it can answer with
 * 503.
 */
export const CONNECT_TIMEOUT_MS = 3000;

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
  /**
   * Errors of connections nobody is waiting on (an idle connection the server ended, a restart):
   * reported here instead of crashing the process. The pool replaces such connections by itself.
   */
  onConnectionError?: (err: Error) => void;
}

export async function openStorage(options: StorageOptions): Promise<StorageHandle> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  return openPglite(options);
}

async function openPglite(options: StorageOptions): Promise<StorageHandle> {
  // A data folder belongs to one opener at a time (see pglite-lock.ts); in memory there is nothing to share.
  let lock: { release(): void } | undefined;
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    lock = lockDataDir(options.dataDir);
  }
  let pglite: PGlite;
  let serialize: Serialize;
  try {
    // Loaded only when PGlite is the store: on PostgreSQL the process stays without it (its
    // module is large, and every emboss process would carry it).
    const { PGlite: Embedded, protocol } = await import('@electric-sql/pglite');
    serialize = protocol.serialize;
    pglite = new Embedded({
      // DATE columns stay 'YYYY-MM-DD' strings: a Date would shift with the process time zone.
      parsers: { [DATE_OID]: (value: string) => value },
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    });
    await pglite.waitReady;
    // Prepared statements (PGliteStatements) are planned at every call, as unnamed ones were: a
    // plan cached by PostgreSQL's default (generic after five calls) is not made again as a
    // table grows (nothing analyzes PGlite's tables), so a batch look-up's plan made on a small
    // table (a hash join over a sequential scan) stayed in use as it grew: PAN token inquiries
    // on PGlite fell to less than half their req/s. Parsing and the protocol's round trips are
    // still saved.
    await pglite.exec('set plan_cache_mode = force_custom_plan');
  } catch (err) {
    lock?.release();
    throw err;
  }
  // One set of prepared statements for the session: Kysely's statements and pg-boss's share it.
  const statements = new PGliteStatements(pglite, serialize);
  const db = new Kysely<DB>({ dialect: new PGliteDialect(pglite, statements) });
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
        const result = await statements.query(pglite, text, values);
        return { rows: result.rows };
      },
    },
    dumpDataDir: () => pglite.dumpDataDir('none') as Promise<Blob>,
    listen: (channel, onPayload) => pglite.listen(channel, onPayload),
    // PGlite is one session: behind a long transaction (a mass issue chunk) the ping waits its turn.
    ping: (timeoutMs) => answersWithin(() => statements.query(pglite, 'select 1', []), timeoutMs),
    async close() {
      try {
        await db.destroy();
        if (!pglite.closed) await pglite.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/** Whether `statement` succeeds within `timeoutMs`. */
async function answersWithin(statement: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
  try {
    return await Promise.race([statement().then(() => true, () => false), late]);
  } finally {
    clearTimeout(timer);
  }
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
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // node-postgres emits 'error' on the pool for an idle connection that died, and on a client that
  // is checked out (inside a Kysely transaction) when its connection dies between two statements.
  // An 'error' event nobody listens to ends the process: a PostgreSQL restart killed every API
  // process that way. The statement that was running fails on its own (and is answered 503); the
  // pool drops the dead connection and opens new ones when asked.
  const onConnectionError = options.onConnectionError ?? (() => undefined);
  pool.on('error', (err) => onConnectionError(err));
  pool.on('connect', (client) => { client.on('error', (err) => onConnectionError(err)); });
  // NUMERIC and BIGINT come back as strings from pg; amounts are converted where they are read.
  const db = new Kysely<DB>({ dialect: new CachingPostgresDialect({ pool: withPreparedStatements(pool) }) });
  return {
    kind: 'postgres',
    db,
    sql: { async executeSql(text, values) { const r = await pool.query(text, values as any[]); return { rows: r.rows }; } },
    postgres: { connectionString, ...(options.schema ? { schema: options.schema } : {}) },
    ping: (timeoutMs) => answersWithin(() => pool.query('select 1'), timeoutMs),
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
/**
 * The one card insert (numbers, cards, audit, events, bureau records, answers: about 5,000
 * characters) must be prepared: sent unnamed, PostgreSQL planned it on every batch, which cost
 * a card add about 40 % more PostgreSQL CPU (measured 1,215 against 835 µs at 800 req/s).
 */
const MAX_PREPARED_TEXT = 16_000;

function withPreparedStatements(pool: pg.Pool): pg.Pool {
  const prepared = new WeakMap<pg.PoolClient, Set<string>>();
  const names = new StatementNames(10_000);
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
          // The pool hands the same clients to pool.query (the readiness ping), which passes a
          // callback after the values: it is passed on, or that query would never answer.
          (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
            const [text, ...rest] = args;
            if (typeof text !== 'string' || text.length > MAX_PREPARED_TEXT) return query(...args);
            const name = names.of(text);
            if (!own.has(name) && own.size >= MAX_PREPARED_PER_CONNECTION) return query(...args);
            own.add(name);
            const values = typeof rest[0] === 'function' ? undefined : rest.shift();
            return query({ name, text, values }, ...rest);
          };
        }
        return client;
      };
    },
  });
}

/**
 * The name of each statement text: a digest of it, kept for at most `max` texts. Found by length,
 * then by comparing the text with the few of that length: a Map or Set keyed by the text hashes
 * all of its characters on every query whose text is a new string (the query builder's), which
 * for the card insert's 9,000 characters cost about 3 % of a card add's API CPU; a comparison is a
 * memcmp, and none at all for a raw statement, whose text is the same string at every call
 * (CachingQueryCompiler).
 */
export class StatementNames {
  private readonly byLength = new Map<number, Array<{ text: string; name: string }>>();
  private size = 0;

  constructor(private readonly max: number) {}

  of(text: string): string {
    const same = this.byLength.get(text.length);
    if (same) for (const known of same) if (known.text === text) return known.name;
    const name = `k${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    if (this.size < this.max) {
      this.size++;
      if (same) same.push({ text, name }); else this.byLength.set(text.length, [{ text, name }]);
    }
    return name;
  }
}
