import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { PGlite, protocol } from '@electric-sql/pglite';
import { copyPgliteTemplate } from '../../test/helpers/storage.ts';
import { PGliteStatements } from './pglite-statements.ts';

const DATE_OID = 1082;

/**
 * Each PGlite here starts as a copy of the tests' migrated template folder: a PGlite made in
 * memory runs initdb, about 2 s of CPU each, where opening a copy takes a fraction of that.
 */
async function folder() {
  const dir = await copyPgliteTemplate();
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('PGliteStatements: prepared statements on PGlite', () => {
  let pglite: PGlite;
  let statements: PGliteStatements;
  let data: Awaited<ReturnType<typeof folder>>;
  const prepared = async () => (await pglite.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements')).rows[0]!.n;

  before(async () => {
    data = await folder();
    pglite = new PGlite(data.dir, { parsers: { [DATE_OID]: (value: string) => value } });
    await pglite.exec(`create table t (
      id bigserial primary key, name text unique, amount numeric(12,2), born date, at timestamptz,
      doc jsonb, raw bytea, flag boolean, tags text[], n int)`);
    statements = new PGliteStatements(pglite, protocol.serialize);
  });
  after(async () => {
    if (!pglite.closed) await pglite.close();
    data.remove();
  });

  test('rows, values and counts as PGlite.query gives them, for every type the store uses; one statement prepared per text', async () => {
    const insert = 'insert into t (name, amount, born, at, doc, raw, flag, tags, n) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *';
    const values = ['ANA', '12.50', '1990-02-28', new Date('2026-01-02T03:04:05.678Z'), { a: [1, 'x'] }, new Uint8Array([0, 255, 7]), true, ['a', 'b,c'], 7];
    const ours = await statements.query<Record<string, unknown>>(pglite, insert, values);
    const theirs = await pglite.query<Record<string, unknown>>(insert.replace('ANA', 'X'), ['ANA2', ...values.slice(1)]);
    assert.equal(ours.affectedRows, 1);
    assert.deepEqual({ ...ours.rows[0], id: 0, name: '' }, { ...theirs.rows[0], id: 0, name: '' });
    assert.equal(ours.rows[0]!.born, '1990-02-28', 'the store\'s own parser (dates stay text)');
    assert.deepEqual(ours.rows[0]!.raw, new Uint8Array([0, 255, 7]));
    assert.deepEqual(ours.rows[0]!.tags, ['a', 'b,c']);
    // Nulls both ways, and a statement without rows.
    const nulls = await statements.query<Record<string, unknown>>(pglite, insert, ['NULLS', null, null, null, null, null, null, null, undefined]);
    assert.deepEqual(Object.values(nulls.rows[0]!).filter((v) => v !== null).length, 2, 'id and name only');
    const select = 'select name, n from t where n = $1 order by id';
    assert.deepEqual((await statements.query(pglite, select, [7])).rows, [{ name: 'ANA', n: 7 }, { name: 'ANA2', n: 7 }]);
    assert.deepEqual((await statements.query(pglite, select, [8])).rows, []);
    const update = await statements.query(pglite, 'update t set n = n + 1 where n = $1', [7]);
    assert.deepEqual(update, { rows: [], affectedRows: 2 });
    assert.equal((await statements.query(pglite, 'delete from t where name = $1', ['NULLS'])).affectedRows, 1);
    // insert, select, update, delete: four texts, four statements, however often each ran.
    assert.equal(await prepared(), 4);
  });

  test('errors are PostgreSQL\'s, with code and constraint; a failed text is not kept; a changed table gets its statement prepared again', async () => {
    await assert.rejects(statements.query(pglite, 'insert into t (name) values ($1)', ['ANA']), { code: '23505', constraint: 't_name_key' });
    const before = await prepared();
    await assert.rejects(statements.query(pglite, 'select nonsense from t where n = $1', [1]), { code: '42703' });
    assert.equal(await prepared(), before);
    // The session goes on: the next statement runs.
    assert.equal((await statements.query(pglite, 'select count(*)::int as n from t where name = $1', ['ANA'])).rows.length, 1);
    await pglite.exec('create table u (a int); insert into u values (1)');
    const star = 'select * from u where a = $1';
    assert.deepEqual((await statements.query(pglite, star, [1])).rows, [{ a: 1 }]);
    await pglite.exec('alter table u add column b int default 2');
    await assert.rejects(statements.query(pglite, star, [1]), { code: '0A000' });
    assert.deepEqual((await statements.query(pglite, star, [1])).rows, [{ a: 1, b: 2 }]);
  });

  test('outside a transaction a statement waits for another user\'s transaction to end instead of joining it', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    let inside!: () => void;
    const begun = new Promise<void>((r) => { inside = r; });
    const transaction = pglite.transaction(async (tx) => {
      await tx.query("insert into t (name) values ('IN TX')");
      inside();
      await held;
      await tx.rollback();
    });
    await begun;
    const seen = statements.query<{ n: number }>(pglite, 'select count(*)::int as n from t where name = $1', ['IN TX']);
    await new Promise((r) => setTimeout(r, 30));
    release();
    await transaction;
    // Had it run inside the transaction, it would have seen the row that was rolled back.
    assert.deepEqual((await seen).rows, [{ n: 0 }]);
    // Inside a transaction (its caller holds it), statements run within it.
    await pglite.transaction(async (tx) => {
      await statements.query(tx, 'insert into t (name) values ($1)', ['TX OWN']);
      assert.deepEqual((await statements.query<{ n: number }>(tx, 'select count(*)::int as n from t where name = $1', ['TX OWN'])).rows, [{ n: 1 }]);
    });
  });

  // The last of these: it closes the PGlite the others used.
  test('a closed PGlite refuses as PGlite.query does, without hanging', async () => {
    await statements.query(pglite, 'select 1', []);
    await pglite.close();
    await assert.rejects(statements.query(pglite, 'select 1', []), /^Error: PGlite is closed$/);
  });
});

test('on the store\'s PGlite, a batch look-up prepared on a small table is planned again once the table grew (index scans, not the first plan\'s sequential scan)', async () => {
  const { openStorage } = await import('./database.ts');
  const { sql } = await import('kysely');
  const data = await folder();
  const storage = await openStorage({ dataDir: data.dir });
  try {
    const db = storage.db;
    await sql`create table grows (id serial primary key, k text not null unique, v text)`.execute(db);
    await sql`create table beside (id int primary key, w text)`.execute(db);
    await sql`insert into grows (k, v) select 'a' || g, 'x' from generate_series(1, 10) g`.execute(db);
    await sql`insert into beside select g, 'w' from generate_series(1, 10) g`.execute(db);
    // As the batch look-ups are written (a PAN token inquiry's card numbers): keys as an array.
    const lookup = (keys: string[]) => sql<{ id: number }>`select g.id, g.v, b.w from unnest(${keys}::text[]) with ordinality as u(k, i)
      join grows g on g.k = u.k join beside b on b.id = g.id`.execute(db);
    for (let i = 1; i <= 10; i++) await lookup([`a${i}`, 'a2', 'a3']);
    await sql`insert into grows (k, v) select 'b' || g, 'x' from generate_series(1, 20000) g`.execute(db);
    await sql`insert into beside select g, 'w' from generate_series(11, 20010) g`.execute(db);
    assert.equal((await lookup(['b777'])).rows.length, 1);
    const { rows: [statement] } = await sql<{ name: string }>`select name from pg_prepared_statements where statement like ${'select g.id, g.v, b.w from unnest%'}`.execute(db);
    const plan = await sql<{ 'QUERY PLAN': string }>`explain execute ${sql.raw(statement!.name)}('{b777}')`.execute(db);
    const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    // PostgreSQL's default would keep a generic plan made on the small table: a hash join over a
    // sequential scan of the 20,010 rows, for every look-up.
    assert.doesNotMatch(text, /Seq Scan on grows/, text);
  } finally {
    await storage.close();
    data.remove();
  }
});
