import { sql, type RawBuilder } from 'kysely';
import { commaList } from '../shared/batcher.ts';

/**
 * One column of a batch statement's `input` (see batchInput): its name in the statement, its SQL
 * type, its value for an item, and whether its values travel as one comma list (`list`: values
 * that are never empty and never hold a comma, or null; see commaList).
 */
export interface InputColumn<T> { name: string; type: string; value: (item: T) => unknown; list?: boolean }

/**
 * The rows of a batch statement's input: `select <columns>, i from unnest(…) with ordinality`, one
 * row per item, numbered `i` from 1, for a CTE `input as (${batchInput(…)})`.
 *
 * A column whose value is the same for every item travels as that one value instead of an array
 * of copies, and the statement fills it in (`coalesce` of the empty array's null with the value).
 * In a mass-issue chunk most of the card insert's fifty columns are such (the organization, the
 * logo, the expiry, the empty answer columns…): PostgreSQL unnests each array through a tuplestore
 * of its own, which made the chunk's input cost about 10 ms a thousand cards, and node-postgres
 * quoted every copy. Both forms are always sent (an array and a value, one of them empty), so the
 * statement's text, and its prepared plan, is the same whatever the batch holds.
 *
 * The first column always travels as an array: it gives the number of rows, so its values must
 * never be null.
 */
export function batchInput<T>(items: readonly T[], columns: ReadonlyArray<InputColumn<T>>): RawBuilder<unknown> {
  const unnested: RawBuilder<unknown>[] = [];
  const selected: RawBuilder<unknown>[] = [];
  for (let k = 0; k < columns.length; k++) {
    const c = columns[k]!;
    // One pass per column (hot in a mass-issue chunk: fifty columns of a thousand cards).
    const values: unknown[] = new Array(items.length);
    const first = items.length > 0 ? c.value(items[0]!) : undefined;
    let same = k > 0 && items.length > 0;
    for (let j = 0; j < items.length; j++) {
      const v = j === 0 ? first : c.value(items[j]!);
      values[j] = v;
      if (same && v !== first && !(v instanceof Date && first instanceof Date && v.getTime() === first.getTime())) same = false;
    }
    const type = sql.raw(c.type);
    const name = sql.raw(c.name);
    const sent = same ? [] : values;
    unnested.push(c.list ? sql`string_to_array(${commaList(sent as Array<string | number | boolean | null>, true)}, ',', '')::${type}[]` : sql`${sent}::${type}[]`);
    selected.push(k === 0 ? sql`u.${name}` : sql`coalesce(u.${name}, ${same ? first : null}::${type}) as ${name}`);
  }
  return sql`select ${sql.join(selected)}, u.i from unnest(${sql.join(unnested)}) with ordinality as u(${sql.join(columns.map((c) => sql.raw(c.name)))}, i)`;
}
