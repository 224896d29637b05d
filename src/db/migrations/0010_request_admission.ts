import { sql, type Kysely } from 'kysely';

/**
 * What the gate in front of the routes shares between API processes (clients module):
 *
 * - `client_signatures`: every accepted request signature, with the request id it came with,
 *   until its timestamp leaves the window. A signature comes once: sent again with another
 *   request id it is a replay and is refused; with the same id it is a retry of that request.
 * - `rate_counters`: hits per key (a client, an address, a client id at /token) in a fixed
 *   window that ends at `until_ms` (epoch milliseconds).
 *
 * Both are written in one batched statement per round of concurrent requests, and emptied of
 * past rows by housekeeping. Neither has a secondary index: inserts stay cheap, and the purge
 * reads the table once every 15 minutes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('client_signatures')
    .addColumn('signature', 'text', (c) => c.primaryKey())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createTable('rate_counters')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('until_ms', 'bigint', (c) => c.notNull())
    .addColumn('hits', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_counters_pkey', ['key', 'until_ms'])
    .execute();
  // Counters are rewritten many times a second: leave room on the page for HOT updates.
  await sql`alter table rate_counters set (fillfactor = 50)`.execute(db);
}
