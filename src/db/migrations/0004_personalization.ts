import { sql, type Kysely } from 'kysely';

/** Personalization output (issue 6): the bureau per organization, the record outbox, the files, card links. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('organizations')
    .addColumn('bureau_key_name', 'text')
    .addColumn('bureau_pgp_public_key', 'text')
    .execute();

  // Card actions: a replacement points to the card it replaces, and back.
  await db.schema.alterTable('cards')
    .addColumn('replaces_card_id', 'bigint')
    .addColumn('replaced_by_card_id', 'bigint')
    .addColumn('last_action', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_action_reason', 'text', (c) => c.notNull().defaultTo(''))
    .execute();

  await db.schema.createTable('personalization_files')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('file_id', 'uuid', (c) => c.notNull().unique())
    .addColumn('organization', 'integer', (c) => c.notNull())
    .addColumn('logo', 'integer', (c) => c.notNull())
    .addColumn('planned_at', 'timestamptz', (c) => c.notNull())
    /** PLANNED: records assigned, file not yet confirmed written; WRITTEN: on disk. */
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('record_count', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'text')
    .addColumn('written_at', 'timestamptz')
    .execute();

  // The outbox: one record per plastic to produce, encrypted for the bureau by the security
  // module, written into a file later (file_id set when a file is planned for it).
  await db.schema.createTable('personalization_records')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('organization', 'integer', (c) => c.notNull())
    .addColumn('logo', 'integer', (c) => c.notNull())
    .addColumn('card_id', 'bigint', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('reference', 'text', (c) => c.notNull())
    .addColumn('encrypted_record', 'text', (c) => c.notNull())
    .addColumn('cipher', 'text', (c) => c.notNull())
    .addColumn('bureau_kcv', 'text', (c) => c.notNull())
    .addColumn('file_id', 'bigint', (c) => c.references('personalization_files.id'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index personalization_records_pending on personalization_records (organization, logo, id) where file_id is null`.execute(db);
  await db.schema.createIndex('personalization_records_file').on('personalization_records').column('file_id').execute();
}
