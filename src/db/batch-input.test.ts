import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { backends, openTestStore, type TestStore } from '../../test/helpers/storage.ts';
import { batchInput, type InputColumn } from './batch-input.ts';

interface Item { key: string; n: number | null; flag: boolean; at: Date | null; note: string | null; data: string }

const COLUMNS: ReadonlyArray<InputColumn<Item>> = [
  { name: 'key', type: 'text', value: (it) => it.key, list: true },
  { name: 'n', type: 'int', value: (it) => it.n, list: true },
  { name: 'flag', type: 'boolean', value: (it) => it.flag, list: true },
  { name: 'at', type: 'timestamptz', value: (it) => it.at },
  { name: 'note', type: 'text', value: (it) => it.note },
  { name: 'data', type: 'jsonb', value: (it) => it.data },
];

const at = new Date('2026-03-04T05:06:07.000Z');
const item = (key: string, over: Partial<Item> = {}): Item => ({ key, n: 7, flag: true, at, note: 'a, "quoted" note', data: '{"x":1}', ...over });

for (const backend of backends) {
  describe(`batchInput (${backend})`, () => {
    let store: TestStore;
    before(async () => { store = await openTestStore(backend); });
    after(async () => { await store?.close(); });

    const rowsOf = async (items: Item[]) => {
      const r = await sql<{ key: string; n: number | null; flag: boolean; at: Date | null; note: string | null; data: unknown; i: string }>`
        with input as (${batchInput(items, COLUMNS)}) select * from input order by i`.execute(store.storage.db);
      return r.rows.map((row) => ({ ...row, i: Number(row.i), at: row.at === null ? null : new Date(row.at).toISOString() }));
    };
    const expected = (items: Item[]) => items.map((it, k) => ({
      key: it.key, n: it.n, flag: it.flag, at: it.at?.toISOString() ?? null, note: it.note, data: JSON.parse(it.data), i: k + 1,
    }));

    it('gives each item its values, numbered from 1, whether a column is the same for all (sent once) or not', async () => {
      // All the same but the key: every other column travels as one value.
      const same = [item('a'), item('b'), item('c')];
      assert.deepEqual(await rowsOf(same), expected(same));
      // Each column differs somewhere, nulls among them, in lists and in arrays.
      const mixed = [item('a', { n: null, flag: false, at: null, note: null }), item('b', { n: 3, data: '{"y":[1,2]}' }), item('c', { at: new Date(0), note: '' })];
      assert.deepEqual(await rowsOf(mixed), expected(mixed));
      // One item alone, with nulls, and no item.
      const alone = [item('z', { n: null, at: null, note: null })];
      assert.deepEqual(await rowsOf(alone), expected(alone));
      assert.deepEqual(await rowsOf([]), []);
    });

    it('has one statement text whatever the batch holds (one prepared plan)', () => {
      const text = (items: Item[]) => sql`select * from (${batchInput(items, COLUMNS)}) as u`.compile(store.storage.db).sql;
      assert.equal(text([item('a'), item('b')]), text([item('a', { n: 1 }), item('b', { n: 2, at: null })]));
      assert.equal(text([item('a')]), text([item('a'), item('b', { flag: false })]));
    });

    it('refuses a list value that would change the list', () => {
      assert.throws(() => batchInput([item('a'), item('b,c')], COLUMNS), /holds a comma/);
    });
  });
}
