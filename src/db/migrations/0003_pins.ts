import type { Kysely } from 'kysely';

/** PINs and security values (issue 5): columns the pins module needs beyond those of 0002_cards. */
export async function up(_db: Kysely<any>): Promise<void> {
  // Filled in by the pins module.
}
