import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { Batcher, column } from '../../shared/batcher.ts';
import { auditInsert, type AuditRow } from '../audit/index.ts';
import type { Clock } from '../../shared/clock.ts';

export type Reservation =
  | { kind: 'new' }
  | { kind: 'replay'; statusCode: number; response: unknown }
  | { kind: 'mismatch' }
  | { kind: 'in-progress' };

/**
 * Request ids as idempotency keys. A request first reserves its (client, request id) pair with
 * a fingerprint of method, path and body; the database's primary key decides between racing
 * duplicates. The same id with the same fingerprint gets the stored response again; with
 * another fingerprint it is refused.
 */
export interface Sealer {
  seal(clear: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

interface KeyRow {
  clientId: string; requestId: string; fingerprint: string; statusCode: number | null; responseSealed: string | null;
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

  /** `sealer` encrypts stored responses: a replayable response may carry card data. */
  constructor(private readonly db: Kysely<DB>, private readonly clock: Clock, private readonly sealer: Sealer) {
    this.writes = new Batcher((rows) => this.write(rows));
  }

  static fingerprint(method: string, url: string, body: string): string {
    return createHash('sha256').update(method).update('\n').update(url).update('\n').update(body).digest('hex');
  }

  async reserve(clientId: string, requestId: string, fingerprint: string): Promise<Reservation> {
    const inserted = await this.writes.submit({ kind: 'insert', clientId, requestId, fingerprint, statusCode: null, responseSealed: null, audit: [] });
    if (inserted) return { kind: 'new' };
    const seen = await this.seen(clientId, requestId, fingerprint);
    return seen ?? this.reserve(clientId, requestId, fingerprint); // released meanwhile
  }

  /** Stores the response of a reserved request, and the request's audit records with it. */
  async complete(clientId: string, requestId: string, statusCode: number, response: Response, audit: AuditRow[] = []): Promise<void> {
    const responseSealed = await this.sealer.seal(jsonText(response));
    await this.writes.submit({ kind: 'complete', clientId, requestId, fingerprint: '', statusCode, responseSealed, audit });
  }

  /**
   * For inquiries, which change nothing: the response is recorded after the fact, in one
   * statement. A request id seen before with the same request gets the first response again;
   * with another request it is refused, as for any other call.
   */
  async recordInquiry(clientId: string, requestId: string, fingerprint: string, statusCode: number, response: Response, audit: AuditRow[] = []): Promise<Reservation | { kind: 'stored' }> {
    const responseSealed = await this.sealer.seal(jsonText(response));
    if (await this.writes.submit({ kind: 'insert', clientId, requestId, fingerprint, statusCode, responseSealed, audit })) return { kind: 'stored' };
    return (await this.seen(clientId, requestId, fingerprint)) ?? { kind: 'mismatch' };
  }

  /** What a request id already on file means for a new request with this fingerprint (undefined: gone meanwhile). */
  private async seen(clientId: string, requestId: string, fingerprint: string): Promise<Reservation | undefined> {
    const row = await this.db.selectFrom('idempotency_keys').select(['fingerprint', 'status_code', 'response_sealed'])
      .where('client_id', '=', clientId).where('request_id', '=', requestId).executeTakeFirst();
    if (!row) return undefined;
    if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (row.status_code === null || row.response_sealed === null) return { kind: 'in-progress' };
    return { kind: 'replay', statusCode: row.status_code, response: JSON.parse(await this.sealer.open(row.response_sealed)) };
  }

  /**
   * One statement for a batch of writes: inserts of keys not on file yet (new requests, inquiry
   * records), completions of reserved keys (requests ending), and the audit records that come
   * with either, whatever happens to the keys. Answers, per insert, whether it was inserted: the
   * database's primary key decides between racing requests; within one batch the first insert
   * of a key wins and the others are answered as if they had come second. A completion and an
   * insert of one key in the same batch are a finished request and a late duplicate of it: the
   * insert finds the key on file.
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
        update idempotency_keys as k set status_code = v.s, response_sealed = v.x
        from unnest(${column(completions, 'clientId')}::text[], ${column(completions, 'requestId')}::text[], ${column(completions, 'statusCode')}::int[],
          ${column(completions, 'responseSealed')}::text[]) as v(c, r, s, x)
        where k.client_id = v.c and k.request_id = v.r
        returning 1
      )
      insert into idempotency_keys (client_id, request_id, fingerprint, status_code, response_sealed, created_at)
      select c, r, f, s, x, ${now}::timestamptz
      from unnest(${column(unique, 'clientId')}::text[], ${column(unique, 'requestId')}::text[], ${column(unique, 'fingerprint')}::text[],
        ${column(unique, 'statusCode')}::int[], ${column(unique, 'responseSealed')}::text[]) as k(c, r, f, s, x)
      on conflict (client_id, request_id) do nothing
      returning client_id, request_id`.execute(this.db);
    const stored = new Set(inserted.rows.map((r) => keyOf(r.client_id, r.request_id)));
    return rows.map((r) => r.kind === 'insert' && first.get(keyOf(r.clientId, r.requestId)) === r && stored.has(keyOf(r.clientId, r.requestId)));
  }

  /** Frees a reservation whose request failed on our side, so the client may retry with the same id. */
  async release(clientId: string, requestId: string): Promise<void> {
    await this.db.deleteFrom('idempotency_keys')
      .where('client_id', '=', clientId).where('request_id', '=', requestId).where('status_code', 'is', null)
      .execute();
  }

  /** Drops keys older than the retention period (a housekeeping job). */
  async purgeOlderThan(hours: number): Promise<number> {
    const before = new Date(this.clock.now().getTime() - hours * 3600_000);
    const r = await this.db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
