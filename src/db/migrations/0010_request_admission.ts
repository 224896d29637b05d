import { sql, type Kysely } from 'kysely';

/**
 * Once-only signatures and shared rate limits.
 *
 * A signature comes once: sent again with another request id it is a replay and is refused;
 * with the same id it is a retry of that request. Every request but a GET already stores a row
 * under its request id (idempotency_keys), so its signature goes there, under a unique index:
 * the statement that reserves the id or records the inquiry also refuses the replay, at no
 * extra round trip. GETs store no key; theirs go to `client_signatures`, with their request id,
 * until the timestamp leaves the window.
 *
 * The gate in front of the routes (clients module) owns:
 *
 * - `client_signatures`: the signatures of GET requests (see above).
 * - `rate_counters`: hits per key (a client, an address, a client id at /token) in a fixed
 *   window that ends at `until_ms` (epoch milliseconds).
 *
 * Both are written in one batched statement per round of concurrent requests, and emptied of
 * past rows by housekeeping. Neither has a secondary index: inserts stay cheap, and the purge
 * reads the table once every 15 minutes. Keys compare bytewise (collation C): they are Base64 or
 * ASCII identifiers, and a linguistic collation would only make each comparison slower.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('idempotency_keys').addColumn('signature', sql`text collate "C"`).execute();
  await sql`create unique index idempotency_keys_signature on idempotency_keys (signature) where signature is not null`.execute(db);
  await db.schema.createTable('client_signatures')
    .addColumn('signature', sql`text collate "C"`, (c) => c.primaryKey())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createTable('rate_counters')
    .addColumn('key', sql`text collate "C"`, (c) => c.notNull())
    .addColumn('until_ms', 'bigint', (c) => c.notNull())
    .addColumn('hits', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_counters_pkey', ['key', 'until_ms'])
    .execute();
  // Counters are rewritten many times a second: leave room on the page for HOT updates.
  await sql`alter table rate_counters set (fillfactor = 50)`.execute(db);
}
