import { sql, type Kysely } from 'kysely';

/** Mass card issue (issue 6). */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('mass_issue_requests')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('organization', 'integer', (c) => c.notNull())
    .addColumn('logo', 'integer', (c) => c.notNull())
    .addColumn('card_type', 'integer', (c) => c.notNull())
    /** PENDING, RUNNING, COMPLETED, FAILED */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addColumn('created', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('customer_number', 'char(19)', (c) => c.notNull())
    .addColumn('credit_limit', 'numeric(17, 2)', (c) => c.notNull())
    .addColumn('expiry', 'char(4)', (c) => c.notNull())
    .addColumn('request', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('run_started_at', 'timestamptz')
    .addColumn('run_started_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('mass_issue_requests_key', ['organization', 'logo', 'card_type'])
    .execute();

  // A card made by a mass request carries the request and its position in it: the unique key
  // makes a repeated chunk impossible (each position is issued once, ever).
  await db.schema.alterTable('cards')
    .addColumn('mass_request_id', 'bigint')
    .addColumn('mass_seq', 'integer')
    .execute();
  await sql`create unique index cards_mass_position on cards (mass_request_id, mass_seq) where mass_request_id is not null`.execute(db);
}
