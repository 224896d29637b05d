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
  const scalars: unknown[] = [];
  const arrays: unknown[] = [];
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
    const sent = same ? [] : values;
    if (k > 0) scalars.push(same ? first : null);
    arrays.push(c.list ? commaList(sent as Array<string | number | boolean | null>, true) : sent);
  }
  // One node with the values in the statement's text made once per column list: building and
  // compiling a fragment per column cost a card add about 4 % of its API CPU.
  return sql(textOf(columns), ...scalars, ...arrays);
}

/** The text around batchInput's values (scalars, then arrays), as the `sql` tag takes it. */
const texts = new WeakMap<ReadonlyArray<InputColumn<never>>, TemplateStringsArray>();
function textOf<T>(columns: ReadonlyArray<InputColumn<T>>): TemplateStringsArray {
  const known = texts.get(columns as ReadonlyArray<InputColumn<never>>);
  if (known) return known;
  const parts: string[] = [];
  let text = `select u.${columns[0]!.name}`;
  for (const c of columns.slice(1)) {
    parts.push(`${text}, coalesce(u.${c.name}, `);
    text = `::${c.type}) as ${c.name}`;
  }
  text += ', u.i from unnest(';
  columns.forEach((c, k) => {
    parts.push(`${text}${k > 0 ? ', ' : ''}${c.list ? 'string_to_array(' : ''}`);
    text = c.list ? `, ',', '')::${c.type}[]` : `::${c.type}[]`;
  });
  parts.push(`${text}) with ordinality as u(${columns.map((c) => c.name).join(', ')}, i)`);
  const made = Object.assign(parts, { raw: parts }) as unknown as TemplateStringsArray;
  texts.set(columns as ReadonlyArray<InputColumn<never>>, made);
  return made;
}
