import type { Kysely } from 'kysely';

/**
 * A reserved request id is held by one run of the request (`holder`) until `lease_until`: a run
 * whose process died stops blocking its id when the lease ends, and a retry takes the id over
 * (a new holder). The answer of a write is recorded in the same transaction as its effect, and
 * only by the run that still holds the id, so two runs can never both commit. Neither column is
 * indexed: completing a request stays a HOT update (see 0006).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('idempotency_keys')
    .addColumn('holder', 'text')
    .addColumn('lease_until', 'timestamptz')
    .execute();
}
