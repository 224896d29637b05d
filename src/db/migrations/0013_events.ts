import { sql, type Kysely } from 'kysely';

/**
 * Card lifecycle events and webhooks (events module).
 *
 * - `events`: the outbox, written in the transaction of the change. Ids are `evt_` and a UUID with its dashes (no long hex run, which the redaction rule would take for a key). `n` is the order of writing;
 *   `seq` (the global cursor of the pull API) and `subject_seq` (the order of the events of one
 *   subject, a card's PAN token) are given by the sequencer after commit, one at a time, so a cursor
 *   never passes over an event that commits late. Data never holds a card number, PIN, CVV or key:
 *   the card is named by its PAN token only.
 * - `webhook_endpoints`: per API client, a URL, its Standard Webhooks secret (encrypted under the
 *   data key) and the event types it wants (empty: all).
 * - `webhook_deliveries`: one per event and endpoint, pending until delivered or given up.
 * - `webhook_attempts`: the log of every attempt (HTTP status, error, duration).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('events')
    .addColumn('n', 'bigserial', (c) => c.primaryKey())
    .addColumn('id', 'text', (c) => c.notNull().unique().defaultTo(sql`'evt_' || gen_random_uuid()::text`))
    .addColumn('seq', 'bigint', (c) => c.unique())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('subject_seq', 'integer')
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('card_token', 'text')
    .addColumn('organization', 'integer')
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  // The sequencer's work list: events not numbered yet (a partial index stays tiny).
  await sql`create index events_unsequenced on events (n) where seq is null`.execute(db);
  await db.schema.createIndex('events_subject').on('events').columns(['subject', 'subject_seq']).execute();

  await db.schema.createTable('webhook_endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey().defaultTo(sql`'ep_' || gen_random_uuid()::text`))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('event_types', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('organizations', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('webhook_endpoints_client').on('webhook_endpoints').column('client_id').execute();

  await db.schema.createTable('webhook_deliveries')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('endpoint_id', 'text', (c) => c.notNull())
    .addColumn('event_n', 'bigint', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('subject_seq', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('first_attempt_at', 'timestamptz')
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('done_at', 'timestamptz')
    .execute();
  await sql`create index webhook_deliveries_pending on webhook_deliveries (endpoint_id, subject, subject_seq) where status = 'pending'`.execute(db);

  await db.schema.createTable('webhook_attempts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('delivery_id', 'bigint', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('webhook_attempts_delivery').on('webhook_attempts').column('delivery_id').execute();
}
