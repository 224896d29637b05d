import type { PGlite, protocol, Transaction } from '@electric-sql/pglite';

/** PGlite's writer of protocol messages (passed in: PGlite's module is loaded only when it is the store). */
export type Serialize = typeof protocol.serialize;

/** What a statement needs to run again: its name in the session, its parameters' types, its columns. */
interface Prepared { name: string; paramTypes: number[]; columns: Array<{ name: string; typeId: number }> }

export interface StatementResult<R> { rows: R[]; affectedRows: number }

/** Statements kept prepared at most, and the longest text prepared (as on PostgreSQL, database.ts). */
const MAX_PREPARED = 1_000;
const MAX_PREPARED_TEXT = 16_000;

/**
 * Named prepared statements on PGlite, as the pool keeps them on PostgreSQL (database.ts).
 *
 * `PGlite.query` sends each statement through the whole extended protocol: Parse, Describe the
 * statement, Bind, Describe the portal, Execute, Sync, six calls into PostgreSQL for one
 * statement, which parses it every time. Here a text is parsed and described once (its
 * parameter types and columns kept) under a name of this session; each call after that is one
 * Bind, Execute and Sync sent together (PostgreSQL still plans it at every call: see
 * database.ts). Measured on a card lookup by reference (PGlite alone, 4,000 statements, warm):
 * 295 µs of CPU a statement through `query`, 80 µs prepared; an insert, 237 against 74 µs.
 *
 * Values are written and rows read as `query` does, with the store's own serializers and
 * parsers (chosen by the parameter and column types), and errors are PostgreSQL's, as thrown by
 * `execProtocol`, with their code and constraint. Unlike `query`, an error does not carry the
 * statement's values.
 *
 * PGlite's locks are taken as `query` takes them: outside a transaction, its transaction lock
 * (so that a statement never runs inside another user's transaction, pg-boss's included) and its
 * statement lock; inside one (the caller runs within `PGlite.transaction`), the statement lock.
 * Texts over the size limit, and new texts once the limit of statements is reached, go through
 * `query` as before.
 */
export class PGliteStatements {
  private readonly prepared = new Map<string, Prepared>();
  private made = 0;

  constructor(private readonly pglite: PGlite, private readonly serialize: Serialize) {}

  /**
   * Runs one statement on `on`, PGlite itself or a transaction of it (whose caller then holds
   * PGlite's transaction, see above): prepared, unless its text is too long or the limit of
   * statements is reached, then through `on.query` as before.
   */
  async query<R>(on: Pick<PGlite, 'query'> | Transaction, text: string, values: readonly unknown[]): Promise<StatementResult<R>> {
    if (text.length > MAX_PREPARED_TEXT || (!this.prepared.has(text) && this.prepared.size >= MAX_PREPARED)) {
      const result = await on.query<R>(text, [...values]);
      return { rows: result.rows, affectedRows: result.affectedRows ?? 0 };
    }
    // Refused as `query` refuses once PGlite is closing or closed ("PGlite is closed"): its locks
    // and its protocol calls no longer answer then.
    await this.pglite._checkReady();
    const inTransaction = on !== this.pglite;
    const run = () => this.execute<R>(text, values, !inTransaction);
    if (inTransaction) return this.pglite.runExclusive(run);
    return this.pglite._runExclusiveTransaction(() => this.pglite.runExclusive(run));
  }

  private async execute<R>(text: string, values: readonly unknown[], syncToFs: boolean): Promise<StatementResult<R>> {
    const statement = this.prepared.get(text) ?? await this.prepare(text);
    const { serializers, parsers } = this.pglite;
    const params = values.map((value, i) => {
      if (value === null || value === undefined) return null;
      const write = serializers[statement.paramTypes[i]!];
      return write ? write(value) as string : String(value);
    });
    let messages;
    try {
      ({ messages } = await this.pglite.execProtocol(
        concat(this.serialize.bind({ statement: statement.name, values: params }), this.serialize.execute({}), this.serialize.sync()),
        { syncToFs },
      ));
    } catch (err) {
      // A table changed under the statement (its columns no longer those described) or the
      // statement is gone from the session: prepared again at its next call.
      const code = (err as { code?: string }).code;
      if (code === '0A000' || code === '26000') this.prepared.delete(text);
      throw err;
    }
    // Rows made here, not by PGlite's parseResults, which copies its whole table of parsers for
    // every statement.
    const rows: R[] = [];
    let affectedRows = 0;
    for (const message of messages) {
      if (message.name === 'dataRow') {
        const fields = (message as unknown as { fields: Array<string | null> }).fields;
        const row: Record<string, unknown> = {};
        for (let i = 0; i < fields.length; i++) {
          const column = statement.columns[i]!;
          const value = fields[i]!;
          const read = value === null ? undefined : parsers[column.typeId];
          row[column.name] = read ? read(value!, column.typeId) : value;
        }
        rows.push(row as R);
      } else if (message.name === 'commandComplete') {
        affectedRows += affected((message as unknown as { text: string }).text);
      }
    }
    return { rows, affectedRows };
  }

  private async prepare(text: string): Promise<Prepared> {
    const name = `emboss_${++this.made}`;
    const { messages } = await this.pglite.execProtocol(
      concat(this.serialize.parse({ name, text }), this.serialize.describe({ type: 'S', name }), this.serialize.sync()),
      { syncToFs: false },
    );
    let paramTypes: number[] = [];
    let columns: Prepared['columns'] = [];
    for (const message of messages) {
      if (message.name === 'parameterDescription') paramTypes = [...(message as unknown as { dataTypeIDs: number[] }).dataTypeIDs];
      if (message.name === 'rowDescription') {
        columns = (message as unknown as { fields: Array<{ name: string; dataTypeID: number }> }).fields.map((f) => ({ name: f.name, typeId: f.dataTypeID }));
      }
    }
    const statement = { name, paramTypes, columns };
    this.prepared.set(text, statement);
    return statement;
  }
}

/** The rows a command tag counts, as `PGlite.query` reads it (INSERT 0 n, UPDATE n, …; 0 for the others). */
function affected(tag: string): number {
  const words = tag.split(' ');
  switch (words[0]) {
    case 'INSERT': return Number.parseInt(words[2]!, 10);
    case 'UPDATE': case 'DELETE': case 'COPY': case 'MERGE': return Number.parseInt(words[1]!, 10);
    default: return 0;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) { out.set(part, at); at += part.length; }
  return out;
}
