import { sql, type Kysely } from 'kysely';

/**
 * A mass issue's bureau files are planned when its run starts, and its records are inserted into
 * them with the cards (personalization_files.mass_request_id, first and last position, the
 * number of records expected): no later UPDATE of every record to assign it to a file (that
 * update wrote each record a second time). Such a file is FILLING until it holds the records it
 * expects, then PLANNED and written like any other.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('personalization_files')
    .addColumn('mass_request_id', 'bigint', (c) => c.references('mass_issue_requests.id'))
    .addColumn('mass_first', 'integer')
    .addColumn('mass_last', 'integer')
    .addColumn('expected_records', 'integer')
    .execute();
  await sql`create unique index personalization_files_mass on personalization_files (mass_request_id, mass_first) where mass_request_id is not null`.execute(db);
}
