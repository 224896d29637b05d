import type { Kysely } from 'kysely';

/**
 * PINs and security values (issue 5): the dynamic CVV2 state and the CVV2 invalid-try counter
 * of a card, beside the PIN columns of 0002_cards.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('cards')
    // Last dCVV2 generated: when, the validity it was generated with, and the end of its window.
    .addColumn('dcvv2_generated_at', 'timestamptz')
    .addColumn('dcvv2_validity_minutes', 'integer')
    .addColumn('dcvv2_expires_at', 'timestamptz')
    // Wrong CVV2/dCVV2 values, counted like PIN tries against the logo's maximum.
    .addColumn('cvv2_tries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('cvv2_last_invalid', 'date')
    .addColumn('cvv2_blocked', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}
