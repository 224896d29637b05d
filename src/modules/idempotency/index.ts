import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
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

export class IdempotencyService {
  /** `sealer` encrypts stored responses: a replayable response may carry card data. */
  constructor(private readonly db: Kysely<DB>, private readonly clock: Clock, private readonly sealer: Sealer) {}

  static fingerprint(method: string, url: string, body: string): string {
    return createHash('sha256').update(method).update('\n').update(url).update('\n').update(body).digest('hex');
  }

  async reserve(clientId: string, requestId: string, fingerprint: string): Promise<Reservation> {
    const inserted = await this.db.insertInto('idempotency_keys')
      .values({ client_id: clientId, request_id: requestId, fingerprint, created_at: this.clock.now() })
      .onConflict((oc) => oc.columns(['client_id', 'request_id']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { kind: 'new' };
    const row = await this.db.selectFrom('idempotency_keys').select(['fingerprint', 'status_code', 'response_sealed'])
      .where('client_id', '=', clientId).where('request_id', '=', requestId).executeTakeFirst();
    if (!row) return this.reserve(clientId, requestId, fingerprint); // released meanwhile
    if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (row.status_code === null || row.response_sealed === null) return { kind: 'in-progress' };
    return { kind: 'replay', statusCode: row.status_code, response: JSON.parse(await this.sealer.open(row.response_sealed)) };
  }

  async complete(clientId: string, requestId: string, statusCode: number, response: unknown): Promise<void> {
    await this.db.updateTable('idempotency_keys')
      .set({ status_code: statusCode, response_sealed: await this.sealer.seal(JSON.stringify(response)) })
      .where('client_id', '=', clientId).where('request_id', '=', requestId)
      .execute();
  }

  /**
   * For inquiries, which change nothing: the response is recorded after the fact, in one
   * statement. A request id seen before with the same request gets the first response again;
   * with another request it is refused, as for any other call.
   */
  async recordInquiry(clientId: string, requestId: string, fingerprint: string, statusCode: number, response: unknown): Promise<Reservation | { kind: 'stored' }> {
    const inserted = await this.db.insertInto('idempotency_keys')
      .values({
        client_id: clientId, request_id: requestId, fingerprint, created_at: this.clock.now(),
        status_code: statusCode, response_sealed: await this.sealer.seal(JSON.stringify(response)),
      })
      .onConflict((oc) => oc.columns(['client_id', 'request_id']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { kind: 'stored' };
    const row = await this.db.selectFrom('idempotency_keys').select(['fingerprint', 'status_code', 'response_sealed'])
      .where('client_id', '=', clientId).where('request_id', '=', requestId).executeTakeFirst();
    if (!row || row.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (row.status_code === null || row.response_sealed === null) return { kind: 'in-progress' };
    return { kind: 'replay', statusCode: row.status_code, response: JSON.parse(await this.sealer.open(row.response_sealed)) };
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
