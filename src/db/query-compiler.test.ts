import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, PostgresDialect, PostgresQueryCompiler, sql, type RawBuilder, type RootOperationNode } from 'kysely';
import { CachingPostgresDialect } from './query-compiler.ts';
import { batchInput, type InputColumn } from './batch-input.ts';

// Compiling needs no connection: the pool is never asked for one.
const pool = {} as ConstructorParameters<typeof PostgresDialect>[0]['pool'];
const kysely = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
const caching = () => new Kysely<any>({ dialect: new CachingPostgresDialect({ pool }) });

interface Item { id: string; n: number }
const COLUMNS: ReadonlyArray<InputColumn<Item>> = [
  { name: 'id', type: 'text', value: (x) => x.id, list: true },
  { name: 'n', type: 'int', value: (x) => x.n },
];

/** Kysely's own compiles of raw statements (the caching compiler's misses), counted while `run` runs. */
function kyselyCompiles(run: () => void): number {
  const base = Object.getPrototypeOf(PostgresQueryCompiler.prototype) as { compileQuery: (node: RootOperationNode, ...rest: unknown[]) => unknown };
  const original = base.compileQuery;
  let count = 0;
  base.compileQuery = function (this: unknown, node: RootOperationNode, ...rest: unknown[]) {
    if (node.kind === 'RawNode') count++;
    return original.call(this, node, ...rest);
  };
  try { run(); } finally { base.compileQuery = original; }
  return count;
}

/** Statements of every kind of piece a raw statement may hold, each made anew per call, as the modules make them. */
const statements: Record<string, (k: number) => RawBuilder<unknown>> = {
  'values': (k) => sql`select ${k}::int, ${`t${k}`}::text, ${[k, k + 1]}::int[]`,
  'nested templates': (k) => sql`with a as (${sql`select ${k} as x`}) select x, ${k + 1} from a where x in (${sql`select ${k}`})`,
  'sql.raw and sql.join': (k) => sql`select ${sql.raw('1 as one')}, ${sql.join([sql`${k}`, sql`${k + 1}::int`, k + 2])}`,
  'names': (k) => sql`select ${sql.ref('a.b')} from ${sql.table('cards')} a where a.id = ${k}`,
  'batch input': (k) => sql`with input as (${batchInput([{ id: `a${k}`, n: k }, { id: 'b', n: k + 1 }], COLUMNS)}) select * from input`,
};

test('raw statements: the same text and values as Kysely\'s compiler, which compiles each shape once', () => {
  const db = caching();
  for (const [name, make] of Object.entries(statements)) {
    for (let k = 1; k <= 3; k++) {
      const theirs = make(k).compile(kysely);
      let ours: ReturnType<RawBuilder<unknown>['compile']> | undefined;
      const compiles = kyselyCompiles(() => { ours = make(k).compile(db); });
      assert.equal(ours!.sql, theirs.sql, name);
      assert.deepEqual(ours!.parameters, theirs.parameters, name);
      // The first call is Kysely's (and its text kept); the next two take the kept text.
      assert.equal(compiles, k === 1 ? 1 : 0, `${name}, call ${k}`);
    }
  }
});

test('raw statements: one template with a value or a statement in the same place gives two texts, both Kysely\'s', () => {
  const db = caching();
  const make = (inner: unknown) => sql`select * from t where x in (${inner})`;
  for (const inner of [5, sql`select y from u where z = ${6}`, 7, sql`select y from u where z = ${8}`]) {
    const ours = make(inner).compile(db);
    const theirs = make(inner).compile(kysely);
    assert.equal(ours.sql, theirs.sql);
    assert.deepEqual(ours.parameters, theirs.parameters);
  }
});

test('an inline value (sql.lit) is never cached: its text changes with it', () => {
  const db = caching();
  const make = (k: number) => sql`select ${sql.lit(k)} as k, ${k} as p`;
  for (const k of [1, 2, 3]) {
    let ours: ReturnType<RawBuilder<unknown>['compile']> | undefined;
    assert.equal(kyselyCompiles(() => { ours = make(k).compile(db); }), 1);
    assert.equal(ours!.sql, `select ${k} as k, $1 as p`);
    assert.deepEqual(ours!.parameters, [k]);
  }
});

test('the query builder\'s statements compile as with Kysely\'s compiler', () => {
  const db = caching();
  for (const k of [1, 2]) {
    const q = (d: Kysely<any>) => d.selectFrom('cards').select(['id', 'pan_token']).where('id', '=', k).compile();
    assert.deepEqual({ sql: q(db).sql, parameters: q(db).parameters }, { sql: q(kysely).sql, parameters: q(kysely).parameters });
  }
});
