import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('organizations')
    .addColumn('number', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('pan_token_enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.createTable('security_keys')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('kcv', 'text', (c) => c.notNull())
    .addColumn('key_block', 'text', (c) => c.notNull())
    .addColumn('origin', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.createTable('logos')
    .addColumn('organization', 'integer', (c) => c.notNull().references('organizations.number'))
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('bin', 'text', (c) => c.notNull())
    .addColumn('pan_length', 'integer', (c) => c.notNull())
    .addColumn('expiry_months', 'integer', (c) => c.notNull())
    .addColumn('service_code', 'text', (c) => c.notNull())
    .addColumn('pin_method', 'text', (c) => c.notNull())
    .addColumn('pin_length', 'integer', (c) => c.notNull())
    .addColumn('decimalization_table', 'text', (c) => c.notNull())
    .addColumn('pvki', 'integer', (c) => c.notNull())
    .addColumn('max_pin_tries', 'integer', (c) => c.notNull())
    .addColumn('pin_tries_exceeded_action', 'text', (c) => c.notNull())
    .addColumn('dcvv2_validity_minutes', 'integer', (c) => c.notNull())
    .addColumn('currency', 'integer', (c) => c.notNull())
    .addColumn('card_type', 'text', (c) => c.notNull())
    .addColumn('cvk_name', 'text', (c) => c.references('security_keys.name'))
    .addColumn('pvk_name', 'text', (c) => c.references('security_keys.name'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('logos_pk', ['organization', 'number'])
    .execute();

  await db.schema.createTable('api_clients')
    .addColumn('client_id', 'text', (c) => c.primaryKey())
    .addColumn('apikey', 'text', (c) => c.notNull().unique())
    .addColumn('secret_block', 'text', (c) => c.notNull())
    .addColumn('secret_fingerprint', 'text', (c) => c.notNull())
    .addColumn('organizations', 'jsonb', (c) => c.notNull())
    .addColumn('scopes', 'jsonb', (c) => c.notNull())
    .addColumn('key_associations', 'jsonb', (c) => c.notNull())
    .addColumn('card_number_key', 'text', (c) => c.references('security_keys.name'))
    .addColumn('token_ttl_seconds', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.createTable('access_tokens')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull().references('api_clients.client_id'))
    .addColumn('issued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('access_tokens_expires_at').on('access_tokens').column('expires_at').execute();

  // Customers and accounts are never deleted (a purge is a status), so a number once used stays
  // taken: the primary key alone guarantees numbers are never reused.
  await db.schema.createTable('customers')
    .addColumn('customer_number', 'char(19)', (c) => c.primaryKey())
    .addColumn('organization', 'integer', (c) => c.notNull().references('organizations.number'))
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('name_line_1', 'text', (c) => c.notNull())
    .addColumn('first_name', 'text', (c) => c.notNull())
    .addColumn('last_name', 'text', (c) => c.notNull())
    .addColumn('date_of_birth', 'date')
    .addColumn('identification_number', 'text', (c) => c.notNull())
    .addColumn('profile', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.createTable('accounts')
    .addColumn('account_number', 'char(19)', (c) => c.primaryKey())
    .addColumn('organization', 'integer', (c) => c.notNull())
    .addColumn('logo', 'integer', (c) => c.notNull())
    .addColumn('customer_number', 'char(19)', (c) => c.notNull().references('customers.customer_number'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('block_code_1', 'text', (c) => c.notNull())
    .addColumn('block_code_2', 'text', (c) => c.notNull())
    .addColumn('credit_limit', 'numeric(17, 2)', (c) => c.notNull())
    .addColumn('billing_cycle', 'integer', (c) => c.notNull())
    .addColumn('currency', 'integer', (c) => c.notNull())
    .addColumn('short_name', 'text', (c) => c.notNull())
    .addColumn('relationship_number', 'text', (c) => c.notNull())
    .addColumn('date_opened', 'date', (c) => c.notNull())
    .addColumn('profile', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addForeignKeyConstraint('accounts_logo_fk', ['organization', 'logo'], 'logos', ['organization', 'number'])
    .execute();
  await db.schema.createIndex('accounts_customer').on('accounts').columns(['customer_number', 'organization', 'account_number']).execute();

  await db.schema.createTable('audit_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('entity_type', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'text', (c) => c.notNull())
    .addColumn('organization', 'integer')
    .addColumn('details', 'jsonb', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_events_entity').on('audit_events').columns(['entity_type', 'entity_id']).execute();

  await db.schema.createTable('idempotency_keys')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('response_sealed', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pk', ['client_id', 'request_id'])
    .execute();
  await db.schema.createIndex('idempotency_keys_created_at').on('idempotency_keys').column('created_at').execute();
}
