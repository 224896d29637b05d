import { PostgresDialect, PostgresQueryCompiler, type CompiledQuery, type OperationNode, type QueryId, type RootOperationNode } from 'kysely';

/**
 * A step of a statement's shape: what follows a value, the end of a template's pieces, or a
 * piece (by key); at the statement's end, its text once known (null: not cached, see below).
 */
interface Shape { value?: Shape; end?: Shape; pieces?: Map<unknown, Shape>; text?: string | null }

/** Steps kept at most (a statement of fifty columns is a few hundred; emboss has a few hundred statements). */
const MAX_STEPS = 200_000;

type Raw = { kind: 'RawNode'; sqlFragments: readonly string[]; parameters: readonly OperationNode[] };
type Value = { kind: 'ValueNode'; value: unknown; immediate?: boolean };

/**
 * Kysely's PostgreSQL compiler, with the text of raw statements (sql`…`, the batch statements of
 * the hot paths) made once per shape instead of once per call.
 *
 * Kysely compiles a statement by visiting its nodes and appending its text piece by piece: for a
 * card insert of fifty input columns, a text of several kilobytes rebuilt for every batch, which
 * the pool then compares in full with the texts it knows to find the statement's prepared name
 * (StatementNames). Here a statement whose root is a raw node is walked once per call to collect
 * its values, and its text comes from a cache keyed by its shape: the template strings of each
 * sql`…` (the same array for every call of one template), the text of sql.raw and sql.join
 * pieces, the compiled text of a name (sql.table, sql.ref), and where values sit. The cached text
 * is the very string Kysely compiled the first time, so the pool's lookup is an identity check.
 *
 * A shape's first call is compiled by Kysely, and its text is kept only if Kysely's parameters
 * are exactly the values the walk collected, in order. A shape with an inline value (sql.lit) or a
 * name that compiles to a parameter is never cached. Any other root (the query builder's) is
 * compiled by Kysely as before.
 */
export class CachingQueryCompiler extends PostgresQueryCompiler {
  private readonly shapes: Shape = {};
  private steps = 0;
  /** Compiles the names found inside raw statements, on their own. */
  private readonly names = new PostgresQueryCompiler();
  /** The keys of fragments that are not a template's (sql.raw, sql.join) and of names, for the nodes made once (module constants). */
  private readonly keys = new WeakMap<object, string | null>();

  override compileQuery(node: RootOperationNode, queryId: QueryId): CompiledQuery {
    if (node.kind !== 'RawNode') return super.compileQuery(node, queryId);
    const values: unknown[] = [];
    const shape = this.walk(node as unknown as Raw, this.shapes, values);
    if (shape === undefined || shape.text === null) return super.compileQuery(node, queryId);
    if (shape.text !== undefined) return Object.freeze({ query: node, queryId, sql: shape.text, parameters: values });
    const compiled = super.compileQuery(node, queryId);
    const same = compiled.parameters.length === values.length && compiled.parameters.every((p, i) => p === values[i]);
    shape.text = same ? compiled.sql : null;
    return compiled;
  }

  /** The shape reached from `at` by the raw node's pieces, collecting its values; undefined when it cannot be cached. */
  private walk(node: Raw, at: Shape, values: unknown[]): Shape | undefined {
    // A template's strings are one array per template, for good; other fragments (sql.raw, sql.join) are keyed by their text.
    const fragments = node.sqlFragments;
    let shape = this.piece(at, 'raw' in fragments ? fragments : this.keyOf(fragments, () => `\u0000${fragments.join('\u0001')}`));
    const params = node.parameters;
    for (let i = 0; i < params.length && shape; i++) {
      const p = params[i]!;
      if (p.kind === 'ValueNode') {
        if ((p as Value).immediate) return undefined;
        values.push((p as Value).value);
        shape = shape.value ?? this.made(shape, 'value');
      } else if (p.kind === 'RawNode') {
        shape = this.walk(p as unknown as Raw, shape, values);
      } else {
        const name = this.keyOf(p, () => {
          const compiled = this.names.compileQuery(p as RootOperationNode, NO_QUERY_ID);
          return compiled.parameters.length > 0 ? null : `\u0002${compiled.sql}`;
        });
        if (name === null) return undefined;
        shape = this.piece(shape, name);
      }
    }
    return shape && (shape.end ?? this.made(shape, 'end'));
  }

  private keyOf<K extends string | null>(node: object, make: () => K): K {
    let key = this.keys.get(node) as K | undefined;
    if (key === undefined) this.keys.set(node, key = make());
    return key;
  }

  private piece(at: Shape, key: unknown): Shape | undefined {
    const next = at.pieces?.get(key);
    if (next !== undefined || this.steps >= MAX_STEPS) return next;
    this.steps++;
    const made: Shape = {};
    (at.pieces ??= new Map()).set(key, made);
    return made;
  }

  private made(at: Shape, kind: 'value' | 'end'): Shape | undefined {
    if (this.steps >= MAX_STEPS) return undefined;
    this.steps++;
    return (at[kind] = {});
  }
}

const NO_QUERY_ID: QueryId = { queryId: 'name' };

/** Kysely's PostgreSQL dialect with the caching compiler. */
export class CachingPostgresDialect extends PostgresDialect {
  override createQueryCompiler() { return new CachingQueryCompiler(); }
}
