import PgBoss from 'pg-boss';
import type { StorageHandle } from '../db/database.ts';
import type { Logger } from '../shared/logger.ts';

/**
 * The job queue: pg-boss on the same database. On PostgreSQL pg-boss opens its own pool; on
 * PGlite it runs through pg-boss's `db` option, which PGlite's session serves (parameter-less
 * scripts through exec(), the rest through query()).
 */
export async function startQueue(storage: StorageHandle, logger: Logger, options: { schema?: string } = {}): Promise<PgBoss> {
  const schema = options.schema ?? 'pgboss';
  const boss = storage.kind === 'postgres'
    ? new PgBoss({ connectionString: storage.postgres!.connectionString, schema, max: 4 })
    : new PgBoss({ db: storage.sql, schema } as PgBoss.ConstructorOptions);
  boss.on('error', (err) => logger.error({ err }, 'job queue error'));
  await boss.start();
  return boss;
}
