import { hash, randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { InputColumn } from '../../db/batch-input.ts';
import { isUniqueViolation } from '../../db/unique-violation.ts';
import { Batcher, column } from '../../shared/batcher.ts';
import { RequestTakenOver, type Actor, type Outcome, type RecordedAnswer, type RequestKey } from '../../shared/actor.ts';
import { auditInsert, collectAuditIn, insertAuditRows, storeAuditRows, takeCollectedAudit, type AuditRow } from '../audit/index.ts';
import type { Clock } from '../../shared/clock.ts';

export type Reservation =
  | { kind: 'new'; holder: string }
  | { kind: 'replay'; statusCode: number; response: unknown }
  | { kind: 'mismatch' }
  /** The request's signature came before with another request id: a replay (see 0010). */
  | { kind: 'replayed-signature' }
  | { kind: 'in-progress' };

/**
 * Request ids as idempotency keys. A request that writes first reserves its (client, request id)
 * pair with a fingerprint of method, path and body; the database's primary key decides between
 * racing duplicates. The same id with the same fingerprint gets the stored response again; with
 * another fingerprint it is refused.
 *
 * Exactly once: a reservation is held by one run of the request (a holder) for a lease of a few
 * seconds, and a write records its answer in the same transaction as its effect, guarded by the
 * holder (`commitAnswer`). So a committed effect always has its answer on file, and an effect
 * that did not commit left nothing behind. A reservation whose process died (it never answered)
 * stops blocking its id when the lease ends: a retry takes the id over and runs the request,
 * which is safe for that reason, and the first run, were it only slow, can no longer commit.
 */
export interface Sealer {
  seal(clear: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

interface KeyRow {
  clientId: string; requestId: string; fingerprint: string; statusCode: number | null; responseSealed: string | null;
  /** The request's signature: unique, so a replay under another request id is not stored (null for a completion). */
  signature: string | null;
  /** The run holding a reservation (insert) or answering it (complete); null for an inquiry's record. */
  holder: string | null;
  leaseUntil: Date | null;
  /** The request's audit records of reads and refusals, stored by the same statement. */
  audit: AuditRow[];
}
/** A key to insert (a request starting, or an inquiry's record) or to complete with its response. */
type KeyWrite = KeyRow & { kind: 'insert' | 'complete' };

/** A response body: its JSON text as sent (kept as is), or a value to serialize. */
export type Response = { json: string } | { value: unknown };
const jsonText = (r: Response) => ('json' in r ? r.json : JSON.stringify(r.value));

/** A request id is unique per client: the pair is the key. */
const keyOf = (clientId: string, requestId: string) => `${clientId}\n${requestId}`;

export class IdempotencyService {
  /**
   * Every request writes here, so the writes of concurrent requests go to the database together:
   * one statement per batch (see Batcher), each request still waiting for its own outcome.
   */
  private readonly writes: Batcher<KeyWrite, boolean>;

  /**
   * `sealer` encrypts stored responses: a replayable response may carry card data. `leaseSeconds`:
   * how long a reservation blocks its id without an answer.
   */
  constructor(private readonly db: Kysely<DB>, private readonly clock: Clock, private readonly sealer: Sealer, private readonly leaseSeconds: number) {
    this.writes = new Batcher((rows) => this.write(rows));
  }

  static fingerprint(method: string, url: string, body: string): string {
    // One-shot (crypto.hash): a Hash object per request cost about three times as much.
    return hash('sha256', `${method}\n${url}\n${body}`, 'hex');
  }

  /** The key of a request whose write records its id with its effect, not reserved beforehand (see heldItems). */
  requestKey(method: string, url: string, body: string, signature: string | null): RequestKey {
    return { fingerprint: IdempotencyService.fingerprint(method, url, body), signature, at: this.clock.now() };
  }

  private leaseEnd(): Date {
    return new Date(this.clock.now().getTime() + this.leaseSeconds * 1000);
  }

  /** `signature`: the request's verified signature, accepted once; null for a request that was not signed (its client's profile allows it). */
  async reserve(clientId: string, requestId: string, fingerprint: string, signature: string | null): Promise<Reservation> {
    const holder = randomUUID();
    const inserted = await this.writes.submit({
      kind: 'insert', clientId, requestId, fingerprint, statusCode: null, responseSealed: null, signature, holder, leaseUntil: this.leaseEnd(), audit: [],
    });
    if (inserted) return { kind: 'new', holder };
    const seen = await this.seen(clientId, requestId, fingerprint) ?? await this.signatureSeen(signature);
    if (seen?.kind === 'in-progress' && await this.takeOver(clientId, requestId, fingerprint, holder)) return { kind: 'new', holder };
    return seen ?? this.reserve(clientId, requestId, fingerprint, signature); // released meanwhile
  }

  /** Not stored, and no key of this request id: its signature is on file under another one. */
  private async signatureSeen(signature: string | null): Promise<Reservation | undefined> {
    if (signature === null) return undefined;
    const row = await this.db.selectFrom('idempotency_keys').select('request_id').where('signature', '=', signature).executeTakeFirst();
    return row ? { kind: 'replayed-signature' } : undefined;
  }

  /**
   * A reservation whose lease has ended without an answer (its run died, or was stopped before it
   * answered) passes to a new run. Rows from before leases existed count as ended.
   */
  private async takeOver(clientId: string, requestId: string, fingerprint: string, holder: string): Promise<boolean> {
    const r = await this.db.updateTable('idempotency_keys').set({ holder, lease_until: this.leaseEnd() })
      .where('client_id', '=', clientId).where('request_id', '=', requestId).where('fingerprint', '=', fingerprint)
      .where('status_code', 'is', null)
      .where(sql<boolean>`coalesce(lease_until, '-infinity') < ${this.clock.now()}::timestamptz`)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Stores the response of a reserved request that wrote nothing (a refusal, a 4xx), and the
   * request's audit records with it; nothing when the run no longer holds the id.
   */
  async complete(clientId: string, requestId: string, holder: string, statusCode: number, response: Response, audit: AuditRow[] = []): Promise<void> {
    const responseSealed = await this.sealer.seal(jsonText(response));
    await this.writes.submit({ kind: 'complete', clientId, requestId, fingerprint: '', statusCode, responseSealed, signature: null, holder, leaseUntil: null, audit });
  }

  /**
   * The audit records of a request that no answer took with it (a GET, which records no answer;
   * a 5xx; a write that failed): stored on their own, outside any transaction, in one statement
   * with those of concurrent requests. The request's journal holds them (see Actor.auditJournal).
   */
  async storeUnansweredAudit(rows: unknown[]): Promise<void> {
    if (rows.length > 0) await storeAuditRows(this.db, rows as AuditRow[]);
  }

  /** Seals a response for an answer recorded by a write's own transaction (see commitAnswer). */
  seal(json: string): Promise<string> {
    return this.sealer.seal(json);
  }

  /**
   * For inquiries, which change nothing: the response is recorded after the fact, in one
   * statement. A request id seen before with the same request gets the first response again;
   * with another request it is refused, as for any other call.
   */
  async recordInquiry(clientId: string, requestId: string, fingerprint: string, signature: string | null, statusCode: number, response: Response, audit: AuditRow[] = []): Promise<Reservation | { kind: 'stored' }> {
    const responseSealed = await this.sealer.seal(jsonText(response));
    if (await this.writes.submit({ kind: 'insert', clientId, requestId, fingerprint, statusCode, responseSealed, signature, holder: null, leaseUntil: null, audit })) return { kind: 'stored' };
    return (await this.seen(clientId, requestId, fingerprint)) ?? (await this.signatureSeen(signature)) ?? { kind: 'mismatch' };
  }

  /** The answer on file for a request id, if any (a run that failed after its transaction may have committed one). */
  async answered(clientId: string, requestId: string): Promise<{ statusCode: number; response: unknown } | undefined> {
    const row = await this.keyRow(clientId, requestId);
    return row ? this.answerIn(row) : undefined;
  }

  /** What a request id already on file means for a new request with this fingerprint (undefined: gone meanwhile). */
  private async seen(clientId: string, requestId: string, fingerprint: string): Promise<Reservation | undefined> {
    const row = await this.keyRow(clientId, requestId);
    if (!row) return undefined;
    if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
    const answer = await this.answerIn(row);
    return answer ? { kind: 'replay', ...answer } : { kind: 'in-progress' };
  }

  private keyRow(clientId: string, requestId: string) {
    return this.db.selectFrom('idempotency_keys').select(['fingerprint', 'status_code', 'response_sealed'])
      .where('client_id', '=', clientId).where('request_id', '=', requestId).executeTakeFirst();
  }

  /** The stored answer of a key's row, opened; undefined while its request runs. */
  private async answerIn(row: { status_code: number | null; response_sealed: string | null }): Promise<{ statusCode: number; response: unknown } | undefined> {
    if (row.status_code === null || row.response_sealed === null) return undefined;
    return { statusCode: row.status_code, response: JSON.parse(await this.sealer.open(row.response_sealed)) };
  }

  /**
   * One statement for a batch of writes: inserts of keys not on file yet (new requests, inquiry
   * records), completions of reserved keys (requests ending, by the run that holds them), and
   * the audit records that come with either, whatever happens to the keys. Answers, per insert,
   * whether it was inserted: the database's primary key decides between racing requests, and the
   * unique signature between a request and its replay under another id; within one batch the
   * first insert of a key wins and the others are answered as if they had come second. A completion and an insert of one key in the same batch are a finished request and a
   * late duplicate of it: the insert finds the key on file.
   */
  private async write(rows: KeyWrite[]): Promise<boolean[]> {
    const now = this.clock.now();
    const inserts = rows.filter((r) => r.kind === 'insert');
    const completions = rows.filter((r) => r.kind === 'complete');
    const first = new Map<string, KeyWrite>();
    for (const r of inserts) if (!first.has(keyOf(r.clientId, r.requestId))) first.set(keyOf(r.clientId, r.requestId), r);
    const unique = [...first.values()];
    const inserted = await sql<{ client_id: string; request_id: string }>`
      with audit as (${auditInsert(rows.flatMap((r) => r.audit))}),
      completed as (
        update idempotency_keys as k set status_code = v.s, response_sealed = v.x, holder = null, lease_until = null
        from unnest(${column(completions, 'clientId')}::text[], ${column(completions, 'requestId')}::text[], ${column(completions, 'statusCode')}::int[],
          ${column(completions, 'responseSealed')}::text[], ${column(completions, 'holder')}::text[]) as v(c, r, s, x, h)
        where k.client_id = v.c and k.request_id = v.r and k.holder = v.h and k.status_code is null
        returning 1
      )
      insert into idempotency_keys (client_id, request_id, fingerprint, status_code, response_sealed, holder, lease_until, signature, created_at)
      select c, r, f, s, x, h, l, g, ${now}::timestamptz
      from unnest(${column(unique, 'clientId')}::text[], ${column(unique, 'requestId')}::text[], ${column(unique, 'fingerprint')}::text[],
        ${column(unique, 'statusCode')}::int[], ${column(unique, 'responseSealed')}::text[], ${column(unique, 'holder')}::text[],
        ${column(unique, 'leaseUntil')}::timestamptz[], ${column(unique, 'signature')}::text[]) as k(c, r, f, s, x, h, l, g)
      -- Either key: the request id (a retry, or another request under a used id) or the signature (a replay).
      on conflict do nothing
      returning client_id, request_id`.execute(this.db);
    const stored = new Set(inserted.rows.map((r) => keyOf(r.client_id, r.request_id)));
    return rows.map((r) => r.kind === 'insert' && first.get(keyOf(r.clientId, r.requestId)) === r && stored.has(keyOf(r.clientId, r.requestId)));
  }

  /** Frees a reservation whose request failed on our side, so the client may retry with the same id at once. */
  async release(clientId: string, requestId: string, holder: string): Promise<void> {
    await this.db.deleteFrom('idempotency_keys')
      .where('client_id', '=', clientId).where('request_id', '=', requestId).where('holder', '=', holder).where('status_code', 'is', null)
      .execute();
  }

  /** Drops keys older than the retention period (a housekeeping job). */
  async purgeOlderThan(hours: number): Promise<number> {
    const before = new Date(this.clock.now().getTime() - hours * 3600_000);
    const r = await this.db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

/**
 * Records the actor's answer to `outcome` inside the caller's transaction `trx`, the one that
 * makes the request's effect: both commit or neither does. Throws RequestTakenOver (rolling the
 * transaction back) when this run no longer holds the request id. Nothing to do for an actor
 * nobody waits an answer from.
 */
export async function commitAnswer(trx: Kysely<DB>, actor: Actor, outcome: Outcome): Promise<void> {
  if (!actor.answer) return;
  if (!trx.isTransaction) throw new Error('commitAnswer: the answer must be recorded in the transaction of the effect');
  const answer = await actor.answer(outcome);
  if (answer.holder === null) throw new Error('commitAnswer: a request id not reserved is recorded only by a batch statement (heldItems)');
  // Two plain statements rather than commitAnswers' arrays: one request's answer is written on its
  // own, and on PGlite (no prepared statements) a plain statement is planned in a fraction of the time.
  const updated = await trx.updateTable('idempotency_keys')
    .set({ status_code: answer.statusCode, response_sealed: answer.responseSealed, holder: null, lease_until: null })
    .where('client_id', '=', answer.clientId).where('request_id', '=', answer.requestId).where('holder', '=', answer.holder)
    .where('status_code', 'is', null)
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) throw new RequestTakenOver();
  // The request's journal and the change's audit records (collected by answeredWrite), in one insert.
  const audit = [...answer.audit as AuditRow[], ...takeCollectedAudit(trx)];
  await insertAuditRows(trx, audit);
}

/**
 * The answers of several requests in one statement, in the caller's transaction (a batch of dCVV2
 * mode changes): per answer, whether it was recorded (false: its run no longer holds the request id).
 */
export async function commitAnswers(trx: Kysely<DB>, answers: RecordedAnswer[]): Promise<boolean[]> {
  if (answers.length === 0) return [];
  if (answers.some((a) => a.holder === null)) throw new Error('commitAnswers: a request id not reserved is recorded only by a batch statement (heldItems)');
  const r = await sql<{ client_id: string; request_id: string }>`
    with audit as (${auditInsert(answers.flatMap((a) => a.audit as AuditRow[]))})
    update idempotency_keys as k set status_code = v.s, response_sealed = v.x, holder = null, lease_until = null
    from unnest(${column(answers, 'clientId')}::text[], ${column(answers, 'requestId')}::text[], ${column(answers, 'holder')}::text[],
      ${column(answers, 'statusCode')}::int[], ${column(answers, 'responseSealed')}::text[]) as v(c, r, h, s, x)
    where k.client_id = v.c and k.request_id = v.r and k.holder = v.h and k.status_code is null
    returning k.client_id, k.request_id`.execute(trx);
  const done = new Set(r.rows.map((row) => keyOf(row.client_id, row.request_id)));
  return answers.map((a) => done.has(keyOf(a.clientId, a.requestId)));
}

/**
 * A batch statement of writes without a transaction (card adds, customer adds) records each
 * item's answer with its effect. Its `input` CTE takes, per item, these arrays (`answerArrays`,
 * named by `ANSWER_COLUMNS`, before its `with ordinality` item number `i`); `heldItems` adds the
 * CTE `go`: the items the statement makes. An item's request id is either
 *
 * - held (reserved beforehand, the answer names its holder): the item goes while its run holds
 *   the id — the key rows are locked FOR UPDATE for the statement (CTE `live`), so no retry can
 *   take one over meanwhile; or
 * - not reserved (the answer carries its `key`): the item goes when neither its request id nor its
 *   signature is on file as the statement sees them (CTE `fresh`; within the batch, the first of
 *   a request id or signature), and the key is inserted with the answer. A run of the same request
 *   id that commits while the statement runs makes that insert fail on the key's unique index
 *   (23505, `isRequestKeyRace`): the statement makes nothing, and sent again it sees that key.
 *
 * Items without an answer always go. `answersOf(made)` records the answers of the items the CTE
 * `made` (with their `i`) holds, as the CTEs `answered` and `keyed`; `keyTaken` says, per item of
 * `input`, that it did not go because of its request id (held by another run, or on file).
 */
export function answerArrays(answers: ReadonlyArray<RecordedAnswer | undefined>): RawBuilder<unknown> {
  return sql.join(ANSWER_INPUT.map((c, k) => sql`${answers.map(c.value)}::${ANSWER_TYPES[k]}[]`));
}
/** The answer columns for a batch statement whose input is a `batchInput`: each item's answer by `answerOf`. */
export function answerColumns<T>(answerOf: (item: T) => RecordedAnswer | undefined): Array<InputColumn<T>> {
  return ANSWER_INPUT.map((c) => ({ name: c.name, type: c.type, value: (item: T) => c.value(answerOf(item)) }));
}
const ANSWER_INPUT: ReadonlyArray<InputColumn<RecordedAnswer | undefined>> = [
  { name: 'k_client', type: 'text', value: (a) => a?.clientId ?? null },
  { name: 'k_request', type: 'text', value: (a) => a?.requestId ?? null },
  { name: 'k_holder', type: 'text', value: (a) => a?.holder ?? null },
  { name: 'k_status', type: 'int', value: (a) => a?.statusCode ?? null },
  { name: 'k_sealed', type: 'text', value: (a) => a?.responseSealed ?? null },
  { name: 'k_fingerprint', type: 'text', value: (a) => a?.key?.fingerprint ?? null },
  { name: 'k_signature', type: 'text', value: (a) => a?.key?.signature ?? null },
  { name: 'k_at', type: 'timestamptz', value: (a) => a?.key?.at ?? null },
];
/** The columns' types as SQL, made once: the same nodes at every call (a statement's shape, see CachingQueryCompiler). */
const ANSWER_TYPES = ANSWER_INPUT.map((c) => sql.raw(c.type));
export const ANSWER_COLUMNS = sql.raw(ANSWER_INPUT.map((c) => c.name).join(', '));
export const heldItems = (): RawBuilder<unknown> => sql`live as (
    select u.i from input u join idempotency_keys k on k.client_id = u.k_client and k.request_id = u.k_request
    where k.holder = u.k_holder and k.status_code is null
    for update of k
  ), fresh as (
    select u.i from input u
    where u.k_client is not null and u.k_holder is null
      and not exists (select 1 from idempotency_keys k where k.client_id = u.k_client and k.request_id = u.k_request)
      -- No signature (null) matches none. Not "is null or not exists": under an OR, PostgreSQL
      -- reads the whole table into a hash for every statement instead of an anti-join on the index.
      and not exists (select 1 from idempotency_keys k where k.signature = u.k_signature)
      and not exists (select 1 from input v where v.i < u.i and v.k_client is not null
        and ((v.k_client = u.k_client and v.k_request = u.k_request) or v.k_signature = u.k_signature))
  ), go as (
    select * from input where k_client is null or i in (select i from live) or i in (select i from fresh)
  )`;
// The items with an answer first, then whether they were made: a chunk of a mass issue (a thousand
// items, none with an answer) is then no work, where a join of made with input, planned for one
// row, went through input once per card made (223 ms a chunk).
export const answersOf = (made: string): RawBuilder<unknown> => answersOfTable(tableOf(made));
const answersOfTable = (made: RawBuilder<unknown>): RawBuilder<unknown> => sql`answered as (
    update idempotency_keys k set status_code = u.k_status, response_sealed = u.k_sealed, holder = null, lease_until = null
    from input u
    where u.k_holder is not null and u.i in (select i from ${made}) and k.client_id = u.k_client and k.request_id = u.k_request
  ), keyed as (
    insert into idempotency_keys (client_id, request_id, fingerprint, status_code, response_sealed, signature, created_at)
    select u.k_client, u.k_request, u.k_fingerprint, u.k_status, u.k_sealed, u.k_signature, u.k_at
    from input u
    where u.k_holder is null and u.k_client is not null and u.i in (select i from ${made})
  )`;
/** A CTE's name as a table, one node per name: a statement's text is then found by the node (see CachingQueryCompiler). */
const tables = new Map<string, RawBuilder<unknown>>();
const tableOf = (name: string): RawBuilder<unknown> => {
  let table = tables.get(name);
  if (!table) tables.set(name, table = sql`${sql.table(name)}`);
  return table;
};
/** Per item of `input` (as `u`): it did not go because of its request id (see heldItems). */
export const keyTaken = (): RawBuilder<unknown> => sql`(u.k_client is not null and u.i not in (select i from go))`;

/**
 * The failure of a statement that inserted a request id not reserved (see heldItems) while
 * another run of that request id, or a request with the same signature, committed: nothing of the
 * statement was kept; run again, it sees that key on file.
 */
export function isRequestKeyRace(err: unknown): boolean {
  return isUniqueViolation(err, ['idempotency_keys_pk', 'idempotency_keys_signature']);
}

/**
 * Runs a write in a transaction and records the actor's answer in it (see commitAnswer): the
 * answer to the work's result, or to what `outcomeOf` makes of it (a refusal with an effect).
 */
export async function answeredWrite<T>(db: Kysely<DB>, actor: Actor, work: (trx: Kysely<DB>) => Promise<T>,
  outcomeOf: (value: T, trx: Kysely<DB>) => Outcome | Promise<Outcome> = (value) => ({ result: value })): Promise<T> {
  const run = async (trx: Kysely<DB>) => {
    // With an answer to record, the change's audit records wait to be inserted with the request's
    // journal, in one statement after the answer; an outer write's transaction is already collecting them.
    const own = actor.answer !== undefined && !db.isTransaction;
    if (own) collectAuditIn(trx);
    try {
      const value = await work(trx);
      await commitAnswer(trx, actor, await outcomeOf(value, trx));
      return value;
    } finally {
      if (own) takeCollectedAudit(trx);
    }
  };
  return db.isTransaction ? run(db) : db.transaction().execute(run);
}
