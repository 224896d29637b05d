import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PGlite, protocol } from '@electric-sql/pglite';
import { PGliteStatements } from './pglite-statements.ts';

const DATE_OID = 1082;

describe('PGliteStatements: prepared statements on PGlite', () => {
  let pglite: PGlite;
  let statements: PGliteStatements;
  const prepared = async () => (await pglite.query<{ n: number }>('select count(*)::int as n from pg_prepared_statements')).rows[0]!.n;

  before(async () => {
    pglite = new PGlite({ parsers: { [DATE_OID]: (value: string) => value } });
    await pglite.exec(`create table t (
      id bigserial primary key, name text unique, amount numeric(12,2), born date, at timestamptz,
      doc jsonb, raw bytea, flag boolean, tags text[], n int)`);
    statements = new PGliteStatements(pglite, protocol.serialize);
  });
  after(async () => { await pglite.close(); });

  test('rows, values and counts as PGlite.query gives them, for every type the store uses; one statement prepared per text', async () => {
    const insert = 'insert into t (name, amount, born, at, doc, raw, flag, tags, n) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning *';
    const values = ['ANA', '12.50', '1990-02-28', new Date('2026-01-02T03:04:05.678Z'), { a: [1, 'x'] }, new Uint8Array([0, 255, 7]), true, ['a', 'b,c'], 7];
    const ours = await statements.run<Record<string, unknown>>(insert, values, false);
    const theirs = await pglite.query<Record<string, unknown>>(insert.replace('ANA', 'X'), ['ANA2', ...values.slice(1)]);
    assert.equal(ours.affectedRows, 1);
    assert.deepEqual({ ...ours.rows[0], id: 0, name: '' }, { ...theirs.rows[0], id: 0, name: '' });
    assert.equal(ours.rows[0]!.born, '1990-02-28', 'the store\'s own parser (dates stay text)');
    assert.deepEqual(ours.rows[0]!.raw, new Uint8Array([0, 255, 7]));
    assert.deepEqual(ours.rows[0]!.tags, ['a', 'b,c']);
    // Nulls both ways, and a statement without rows.
    const nulls = await statements.run<Record<string, unknown>>(insert, ['NULLS', null, null, null, null, null, null, null, undefined], false);
    assert.deepEqual(Object.values(nulls.rows[0]!).filter((v) => v !== null).length, 2, 'id and name only');
    const select = 'select name, n from t where n = $1 order by id';
    assert.deepEqual((await statements.run(select, [7], false)).rows, [{ name: 'ANA', n: 7 }, { name: 'ANA2', n: 7 }]);
    assert.deepEqual((await statements.run(select, [8], false)).rows, []);
    const update = await statements.run('update t set n = n + 1 where n = $1', [7], false);
    assert.deepEqual(update, { rows: [], affectedRows: 2 });
    assert.equal((await statements.run('delete from t where name = $1', ['NULLS'], false)).affectedRows, 1);
    // insert, select, update, delete: four texts, four statements, however often each ran.
    assert.equal(await prepared(), 4);
  });

  test('errors are PostgreSQL\'s, with code and constraint; a failed text is not kept; a changed table gets its statement prepared again', async () => {
    await assert.rejects(statements.run('insert into t (name) values ($1)', ['ANA'], false), { code: '23505', constraint: 't_name_key' });
    const before = await prepared();
    await assert.rejects(statements.run('select nonsense from t where n = $1', [1], false), { code: '42703' });
    assert.equal(await prepared(), before);
    // The session goes on: the next statement runs.
    assert.equal((await statements.run('select count(*)::int as n from t where name = $1', ['ANA'], false)).rows.length, 1);
    await pglite.exec('create table u (a int); insert into u values (1)');
    const star = 'select * from u where a = $1';
    assert.deepEqual((await statements.run(star, [1], false)).rows, [{ a: 1 }]);
    await pglite.exec('alter table u add column b int default 2');
    await assert.rejects(statements.run(star, [1], false), { code: '0A000' });
    assert.deepEqual((await statements.run(star, [1], false)).rows, [{ a: 1, b: 2 }]);
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
    const seen = statements.run<{ n: number }>('select count(*)::int as n from t where name = $1', ['IN TX'], false);
    await new Promise((r) => setTimeout(r, 30));
    release();
    await transaction;
    // Had it run inside the transaction, it would have seen the row that was rolled back.
    assert.deepEqual((await seen).rows, [{ n: 0 }]);
    // Inside a transaction (its caller holds it), statements run within it.
    await pglite.transaction(async () => {
      await statements.run('insert into t (name) values ($1)', ['TX OWN'], true);
      assert.deepEqual((await statements.run<{ n: number }>('select count(*)::int as n from t where name = $1', ['TX OWN'], true)).rows, [{ n: 1 }]);
    });
  });

  test('a closed PGlite refuses as PGlite.query does, without hanging', async () => {
    const other = new PGlite();
    const mine = new PGliteStatements(other, protocol.serialize);
    await mine.run('select 1', [], false);
    await other.close();
    await assert.rejects(mine.run('select 1', [], false), /^Error: PGlite is closed$/);
  });
});
