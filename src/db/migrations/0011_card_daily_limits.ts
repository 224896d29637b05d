import type { Kysely } from 'kysely';

/**
 * Per-card daily caps (pins module): how many verifications (PIN, the current PIN of a PIN
 * change, CVV2) and PIN unblocks a card had on a UTC day. One row per card and day, counted by
 * `insert … on conflict do update set n = n + 1 where n < cap` in the statement of the
 * verification itself, so the count is exact across processes. Rows of past days are purged by
 * housekeeping. No foreign key to cards: cards are never deleted, and the check would cost every
 * verification a look-up.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('card_daily_limits')
    .addColumn('card_id', 'bigint', (c) => c.notNull())
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('verifications', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('unblocks', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('card_daily_limits_pk', ['card_id', 'day'])
    .execute();
  // Housekeeping deletes by day, every 15 minutes: most runs find nothing, and should know it at once.
  await db.schema.createIndex('card_daily_limits_day').on('card_daily_limits').column('day').execute();
}
