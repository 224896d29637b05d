import PgBoss from 'pg-boss';
import { CONNECT_TIMEOUT_MS, type StorageHandle } from '../db/database.ts';
import type { Logger } from '../shared/logger.ts';
import { isStoreUnavailable } from '../shared/store-unavailable.ts';

/** While the database is away pg-boss fails every poll; one line per this long says so. */
const OUTAGE_LOG_INTERVAL_MS = 10_000;

/**
 * The job queue: pg-boss on the same database. On PostgreSQL pg-boss opens its own pool; on
 * PGlite it runs through pg-boss's `db` option, which PGlite's session serves (parameter-less
 * scripts through exec(), the rest through query()).
 *
 * A database outage does not stop it: pg-boss's pool reports dead connections as 'error' events
 * of the instance (handled here, never unhandled), and its workers, cron and maintenance loops
 * catch their failed statements and poll again, so jobs are fetched again once the database is
 * back (tested with PostgreSQL stopped and restarted under a running server).
 */
export async function startQueue(storage: StorageHandle, logger: Logger, options: { schema?: string } = {}): Promise<PgBoss> {
  const schema = options.schema ?? 'pgboss';
  const boss = storage.kind === 'postgres'
    // connectionTimeoutMillis as for emboss's own pool: a poll never waits on an unreachable server.
    ? new PgBoss({ connectionString: storage.postgres!.connectionString, schema, max: 4, connectionTimeoutMillis: CONNECT_TIMEOUT_MS } as PgBoss.ConstructorOptions)
    : new PgBoss({ db: storage.sql, schema } as PgBoss.ConstructorOptions);
  let lastOutageLog = 0;
  boss.on('error', (err) => {
    if (!isStoreUnavailable(err)) {
      logger.error({ err }, 'job queue error');
      return;
    }
    if (Date.now() - lastOutageLog < OUTAGE_LOG_INTERVAL_MS) return;
    lastOutageLog = Date.now();
    logger.warn({ reason: (err as { code?: unknown }).code ?? (err as Error).message }, 'job queue: the database is unreachable; polling again');
  });
  await boss.start();
  return boss;
}
