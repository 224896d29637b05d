import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  // Every card number ever issued, never deleted: a number is never generated twice. The clear
  // number is only stored encrypted; look-ups go by its keyed hash or its PAN token.
  await db.schema.createTable('card_numbers')
    .addColumn('pan_hash', 'text', (c) => c.primaryKey())
    .addColumn('pan_token', 'char(19)', (c) => c.notNull().unique())
    .addColumn('pan_encrypted', 'text', (c) => c.notNull())
    .addColumn('bin', 'text', (c) => c.notNull())
    .addColumn('last4', 'char(4)', (c) => c.notNull())
    .addColumn('organization', 'integer', (c) => c.notNull())
    .addColumn('logo', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // One row per plastic/embosser record: a card number with its sequence.
  await db.schema.createTable('cards')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('pan_hash', 'text', (c) => c.notNull().references('card_numbers.pan_hash'))
    .addColumn('card_sequence', 'integer', (c) => c.notNull())
    .addColumn('pan_token', 'char(19)', (c) => c.notNull())
    .addColumn('organization', 'integer', (c) => c.notNull())
    .addColumn('logo', 'integer', (c) => c.notNull())
    .addColumn('account_number', 'char(19)', (c) => c.notNull().references('accounts.account_number'))
    .addColumn('customer_number', 'char(19)', (c) => c.notNull().references('customers.customer_number'))
    .addColumn('expiry', 'char(4)', (c) => c.notNull())
    .addColumn('service_code', 'char(3)', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('status_date', 'date', (c) => c.notNull())
    .addColumn('activation_required', 'boolean', (c) => c.notNull())
    .addColumn('activated_at', 'timestamptz')
    .addColumn('block_code', 'text', (c) => c.notNull())
    .addColumn('embossed_name_1', 'text', (c) => c.notNull())
    .addColumn('embossed_name_2', 'text', (c) => c.notNull())
    .addColumn('digital', 'boolean', (c) => c.notNull())
    .addColumn('plastic_status', 'text', (c) => c.notNull())
    .addColumn('pin_suppressed', 'boolean', (c) => c.notNull())
    .addColumn('pin_stored', 'text')
    .addColumn('pin_verification', 'text')
    .addColumn('pin_tries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pin_last_invalid', 'date')
    .addColumn('pin_blocked', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('dcvv2_active', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('profile', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('cards_number_sequence', ['pan_hash', 'card_sequence'])
    .execute();
  await db.schema.createIndex('cards_token').on('cards').columns(['pan_token', 'card_sequence']).execute();
  await db.schema.createIndex('cards_account').on('cards').column('account_number').execute();
  await db.schema.createIndex('cards_customer').on('cards').columns(['customer_number', 'account_number', 'id']).execute();
}
