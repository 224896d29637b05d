import { sql, type Kysely } from 'kysely';

/**
 * Fewer index writes per new card (every card add, and a mass issue's million):
 * - `cards_token` goes: a card is found by its token through `card_numbers`, whose unique
 *   `pan_token` index exists anyway, and then by (pan_hash, card_sequence), the cards' own key —
 *   two index probes, as before (the token index, then card_numbers for the stored number). Its
 *   keys were random, so each insert touched a random page (and, after a checkpoint, wrote that
 *   whole page to the WAL).
 * - `personalization_records_file` keeps only records assigned to a file: a record is inserted
 *   without one, and the index is only searched for a given file.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index cards_token`.execute(db);
  await sql`drop index personalization_records_file`.execute(db);
  await sql`create index personalization_records_file on personalization_records (file_id) where file_id is not null`.execute(db);
}
