import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { CachingQueryCompiler } from './query-compiler.ts';
import type { PGliteStatements } from './pglite-statements.ts';

/**
 * Kysely dialect for PGlite.
 *
 * PGlite is one Postgres session. A Kysely transaction issued as plain BEGIN/COMMIT would let any
 * other user of the same PGlite (pg-boss above all) slip its statements into our transaction.
 * So a Kysely transaction is run inside `pglite.transaction()`, which holds PGlite's exclusive
 * lock until it ends: every other query waits outside instead of joining.
 *
 * Statements run prepared (PGliteStatements): parsed once per text, as on PostgreSQL.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite, private readonly statements: PGliteStatements) {}
  createAdapter() { return new PostgresAdapter(); }
  createDriver(): Driver { return new PGliteDriver(this.pglite, this.statements); }
  createQueryCompiler() { return new CachingQueryCompiler(); }
  createIntrospector(db: Kysely<any>) { return new PostgresIntrospector(db); }
}

type Executor = Pick<PGlite, 'query'> | Transaction;

class PGliteConnection implements DatabaseConnection {
  executor: Executor;
  endTransaction: ((commit: boolean) => Promise<void>) | undefined;
  constructor(readonly pglite: PGlite, private readonly statements: PGliteStatements) { this.executor = pglite; }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.statements.query<R>(this.executor, compiled.sql, compiled.parameters);
    return { rows: result.rows, numAffectedRows: BigInt(result.affectedRows) };
  }

  async *streamQuery<R>(compiled: CompiledQuery, chunkSize = 1000): AsyncIterableIterator<QueryResult<R>> {
    const result = await this.executeQuery<R>(compiled);
    for (let i = 0; i < result.rows.length; i += chunkSize) yield { rows: result.rows.slice(i, i + chunkSize) };
  }
}

class PGliteDriver implements Driver {
  // Kysely asks for a connection per query or transaction; PGlite has one session, so
  // connections are handed out one at a time.
  private busy = false;
  private readonly waiting: Array<(c: PGliteConnection) => void> = [];
  private readonly connection: PGliteConnection;

  constructor(pglite: PGlite, statements: PGliteStatements) { this.connection = new PGliteConnection(pglite, statements); }

  async init() {}

  async acquireConnection(): Promise<DatabaseConnection> {
    if (!this.busy) { this.busy = true; return this.connection; }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async releaseConnection(): Promise<void> {
    const next = this.waiting.shift();
    if (next) next(this.connection); else this.busy = false;
  }

  async beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const c = conn as PGliteConnection;
    await new Promise<void>((started, failedToStart) => {
      const finished = c.pglite.transaction(async (tx) => {
        if (settings.isolationLevel) await tx.query(`set transaction isolation level ${settings.isolationLevel}`);
        c.executor = tx;
        // PGlite commits when this callback returns and rolls back when it throws or calls rollback().
        await new Promise<void>((finish) => {
          c.endTransaction = async (commit) => {
            if (!commit) await tx.rollback();
            finish();
            await finished;
          };
          started();
        });
      });
      finished.catch(failedToStart);
    });
  }

  async commitTransaction(conn: DatabaseConnection): Promise<void> { await this.end(conn as PGliteConnection, true); }
  async rollbackTransaction(conn: DatabaseConnection): Promise<void> { await this.end(conn as PGliteConnection, false); }

  private async end(c: PGliteConnection, commit: boolean) {
    const end = c.endTransaction;
    c.endTransaction = undefined;
    c.executor = c.pglite;
    await end?.(commit);
  }

  async destroy(): Promise<void> {}
}
