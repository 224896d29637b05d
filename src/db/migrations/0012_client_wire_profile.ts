import { sql, type Kysely } from 'kysely';

/**
 * How a client speaks the wire (clients module, from the bootstrap file): whether its success
 * bodies come wrapped in the envelope, and what its requests must carry to authenticate
 * (signature required, optional or off; request id required or optional). `{}` is the default
 * profile: bare success bodies, signature and request id required.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_clients')
    .addColumn('wire_profile', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
}
