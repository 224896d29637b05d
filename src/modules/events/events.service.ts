import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { Webhook } from 'standardwebhooks';
import type { DB } from '../../db/schema.ts';
import type { Actor } from '../../shared/actor.ts';
import { recordAudit } from '../audit/index.ts';
import { answeredWrite } from '../idempotency/index.ts';
import { businessRule, notFound } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { redactText } from '../../shared/redact.ts';
import type { Endpoint, EndpointRequest, EventPayload } from './events.schemas.ts';

/** Codes of this module's refusals (emboss's own EMBE…). */
export const EventCodes = {
  badUrl: ['EMBE01E', 'WEBHOOK URL MUST BE AN HTTP OR HTTPS URL'],
  endpointNotFound: ['EMBE02E', 'WEBHOOK ENDPOINT NOT FOUND'],
  tooManyEndpoints: ['EMBE03E', 'TOO MANY WEBHOOK ENDPOINTS FOR THIS CLIENT'],
} as const;

/** Endpoints one client may have. */
const MAX_ENDPOINTS = 20;
/** Advisory lock of the sequencer: one numbering at a time across processes. */
const SEQUENCER_LOCK = 4_711_013;
/** Events numbered per sequencer statement. */
const SEQUENCE_BATCH = 1000;
/** Deliveries attempted at the same time (different subjects; one subject's are one at a time). */
const CONCURRENCY = 16;
const ATTEMPT_TIMEOUT_MS = 10_000;
/** The longest wait between two attempts of one delivery. */
const MAX_BACKOFF_MS = 3600_000;

export interface EventsDeps {
  db: Kysely<DB>;
  logger: Logger;
  /** The endpoint secrets are kept encrypted under the data key (security module). */
  seal: (clear: string) => Promise<string>;
  open: (sealed: string) => Promise<string>;
  /** First retry delay; each next one doubles, up to an hour. */
  backoffBaseMs: number;
  /** A delivery is given up after failing for this long (its last attempt is at least this late). */
  retryHours: number;
  /** Told the seconds from an event to its successful delivery (the container wires the metrics). */
  onDelivered?: (lagSeconds: number) => void;
}

export interface DispatchResult { delivered: number; failed: number; gaveUp: number; pending: number; nextDueMs: number | null }

interface Due {
  id: string; attempts: number; url: string; secret_sealed: string; event_id: string; seq: string; subject: string; subject_seq: number;
  type: string; card_token: string | null; organization: number | null; occurred_at: Date | string; data: Record<string, unknown>; age_ms: number | null;
}

/**
 * Card lifecycle events: the outbox other modules write in the transaction of their change
 * (outbox.ts), numbered after commit by one sequencer, read by clients through the pull API,
 * and delivered to their webhook endpoints (Standard Webhooks signatures), in order per subject,
 * retried with exponential backoff, every attempt logged.
 */
export class EventsService {
  private readonly db: Kysely<DB>;

  constructor(private readonly deps: EventsDeps) {
    this.db = deps.db;
  }

  /**
   * Numbers the events committed and not numbered yet, in the order they were written: the
   * global cursor and the order within their subject, and their deliveries to the endpoints that
   * want them. One sequencer at a time (an advisory lock), so numbers only grow as they are seen:
   * a cursor never passes over an event that commits later. Answers how many were numbered.
   */
  async sequence(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${SEQUENCER_LOCK}::bigint)`.execute(trx);
        const r = await sql<{ n: number }>`
          with pending as (
            select n, subject from events where seq is null order by n limit ${SEQUENCE_BATCH}::int
          ), numbered as (
            select p.n, (select coalesce(max(seq), 0) from events) + row_number() over (order by p.n) as seq,
              coalesce((select max(e.subject_seq) from events e where e.subject = p.subject), 0)
                + row_number() over (partition by p.subject order by p.n) as subject_seq
            from pending p
          ), u as (
            update events e set seq = x.seq, subject_seq = x.subject_seq from numbered x where e.n = x.n
            returning e.n, e.type, e.subject, e.subject_seq, e.organization
          ), d as (
            insert into webhook_deliveries (endpoint_id, event_n, subject, subject_seq)
            select w.id, u.n, u.subject, u.subject_seq from u join webhook_endpoints w on w.deleted_at is null
              and (w.event_types = '[]'::jsonb or w.event_types @> jsonb_build_array(u.type))
              and u.organization is not null and w.organizations @> jsonb_build_array(u.organization)
            order by u.n
            returning 1
          )
          select count(*)::int as n from u`.execute(trx);
        return Number(r.rows[0]?.n ?? 0);
      });
      total += n;
      if (n < SEQUENCE_BATCH) return total;
    }
  }

  /** GET /events: the events of the organizations given after a cursor, in cursor order. */
  async list(organizations: number[], after: string | undefined, limit: number): Promise<{ events: EventPayload[]; next: string }> {
    await this.sequence();
    const from = after ?? '0';
    if (organizations.length === 0) return { events: [], next: from };
    const rows = await this.db.selectFrom('events').selectAll()
      .where('seq', 'is not', null).where('seq', '>', from).where('organization', 'in', organizations)
      .orderBy('seq').limit(limit).execute();
    const events = rows.map(payloadOf);
    return { events, next: events.at(-1)?.cursor ?? from };
  }

  // --- endpoints -------------------------------------------------------------------------

  /** POST /webhooks/endpoints: a new endpoint of the client, for its organizations; its secret is in this answer only. */
  async addEndpoint(actor: Actor, organizations: number[], request: EndpointRequest): Promise<Endpoint & { secret: string }> {
    const url = checkedUrl(request.url);
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const sealed = await this.deps.seal(secret);
    return answeredWrite(this.db, actor, async (trx) => {
      const count = await trx.selectFrom('webhook_endpoints').select((e) => e.fn.countAll<string>().as('n'))
        .where('client_id', '=', actor.clientId).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
      if (Number(count.n) >= MAX_ENDPOINTS) throw businessRule(...EventCodes.tooManyEndpoints);
      const row = await trx.insertInto('webhook_endpoints').values({
        client_id: actor.clientId, url, secret_sealed: sealed,
        event_types: JSON.stringify([...new Set(request.eventTypes ?? [])]), organizations: JSON.stringify(organizations),
      }).returningAll().executeTakeFirstOrThrow();
      await recordAudit(trx, actor, { action: 'webhook.endpoint.add', entityType: 'webhook-endpoint', entityId: row.id, details: { url: redactText(url) } });
      return { ...endpointOf(row), secret };
    });
  }

  async listEndpoints(clientId: string): Promise<Endpoint[]> {
    const rows = await this.db.selectFrom('webhook_endpoints').selectAll()
      .where('client_id', '=', clientId).where('deleted_at', 'is', null).orderBy('created_at').execute();
    return rows.map(endpointOf);
  }

  /** Removes a client's endpoint: nothing more is delivered to it (pending deliveries are cancelled). */
  async removeEndpoint(actor: Actor, id: string): Promise<{ id: string; removed: boolean }> {
    return answeredWrite(this.db, actor, async (trx) => {
      const r = await trx.updateTable('webhook_endpoints').set({ deleted_at: new Date() })
        .where('id', '=', id).where('client_id', '=', actor.clientId).where('deleted_at', 'is', null).executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw notFound(...EventCodes.endpointNotFound);
      await trx.updateTable('webhook_deliveries').set({ status: 'cancelled', done_at: new Date() })
        .where('endpoint_id', '=', id).where('status', '=', 'pending').execute();
      await recordAudit(trx, actor, { action: 'webhook.endpoint.remove', entityType: 'webhook-endpoint', entityId: id });
      return { id, removed: true };
    });
  }

  /**
   * `emboss events replay`: delivers again the events after `after` (cursor) to one endpoint, or
   * to every endpoint that wants them — new deliveries, in order per subject after those pending.
   * Receivers drop what they already have by webhook-id. Answers how many deliveries were queued.
   */
  async replay(after: string, endpointId?: string): Promise<number> {
    await this.sequence();
    if (endpointId) {
      const found = await this.db.selectFrom('webhook_endpoints').select('id').where('id', '=', endpointId).where('deleted_at', 'is', null).executeTakeFirst();
      if (!found) throw notFound(...EventCodes.endpointNotFound);
    }
    const r = await sql<{ n: number }>`
      with d as (
        insert into webhook_deliveries (endpoint_id, event_n, subject, subject_seq)
        select w.id, e.n, e.subject, e.subject_seq from events e join webhook_endpoints w on w.deleted_at is null
          and (w.event_types = '[]'::jsonb or w.event_types @> jsonb_build_array(e.type))
          and e.organization is not null and w.organizations @> jsonb_build_array(e.organization)
        where e.seq > ${after}::bigint ${endpointId ? sql`and w.id = ${endpointId}` : sql``}
        order by e.seq
        returning 1
      )
      select count(*)::int as n from d`.execute(this.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  // --- delivery --------------------------------------------------------------------------

  /**
   * One round of delivery (the webhook job): numbers new events, then attempts every delivery
   * that is due and first in its subject's line, again and again until none is due or `budgetMs`
   * has passed. One round at a time (the job's queue is a singleton), so a subject's events go
   * out one after the other, each once delivered (2xx) or given up.
   */
  async dispatch(options: { budgetMs?: number; signal?: AbortSignal } = {}): Promise<DispatchResult> {
    const until = Date.now() + (options.budgetMs ?? 20_000);
    const result: DispatchResult = { delivered: 0, failed: 0, gaveUp: 0, pending: 0, nextDueMs: null };
    await this.sequence();
    while (Date.now() < until && !options.signal?.aborted) {
      const due = await this.due();
      if (due.length === 0) break;
      let next = 0;
      const lane = async () => {
        for (let k = next++; k < due.length && !options.signal?.aborted; k = next++) {
          const outcome = await this.attempt(due[k]!);
          result[outcome]++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, lane));
    }
    const left = await sql<{ n: number; wait_ms: number | null }>`
      select count(*)::int as n, greatest(0, extract(epoch from (min(next_attempt_at) - now())) * 1000)::float8 as wait_ms
      from webhook_deliveries where status = 'pending'`.execute(this.db);
    result.pending = Number(left.rows[0]?.n ?? 0);
    const wait = left.rows[0]?.wait_ms;
    result.nextDueMs = wait === null || wait === undefined ? null : Number(wait);
    return result;
  }

  /** Deliveries due now whose subject has no earlier one pending at the same endpoint. */
  private async due(): Promise<Due[]> {
    const r = await sql<Due>`
      select d.id, d.attempts, w.url, w.secret_sealed, e.id as event_id, e.seq, e.subject, e.subject_seq, e.type, e.card_token,
        e.organization, e.occurred_at, e.data,
        (extract(epoch from (now() - d.first_attempt_at)) * 1000)::float8 as age_ms
      from webhook_deliveries d
      join webhook_endpoints w on w.id = d.endpoint_id
      join events e on e.n = d.event_n
      where d.status = 'pending' and d.next_attempt_at <= now()
        and not exists (
          select 1 from webhook_deliveries p
          where p.endpoint_id = d.endpoint_id and p.subject = d.subject and p.status = 'pending'
            and (p.subject_seq < d.subject_seq or (p.subject_seq = d.subject_seq and p.id < d.id)))
      order by d.id
      limit 200`.execute(this.db);
    return r.rows;
  }

  private async attempt(d: Due): Promise<'delivered' | 'failed' | 'gaveUp'> {
    const body = JSON.stringify(payloadOf({ ...d, id: d.event_id }));
    const at = new Date();
    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const signature = new Webhook(await this.deps.open(d.secret_sealed)).sign(d.event_id, at, body);
      const res = await fetch(d.url, {
        method: 'POST', body, redirect: 'manual', signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        headers: {
          'content-type': 'application/json', 'user-agent': 'emboss-webhooks',
          'webhook-id': d.event_id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature,
        },
      });
      status = res.status;
      await res.body?.cancel().catch(() => {});
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      error = redactText(`${(err as Error).name}: ${(err as Error).message}${cause ? ` (${cause})` : ''}`).slice(0, 500);
    }
    const duration = Math.round(performance.now() - started);
    const ok = error === null;
    const attempts = d.attempts + 1;
    const gaveUp = !ok && (d.age_ms ?? 0) >= this.deps.retryHours * 3600_000;
    const delay = Math.min(MAX_BACKOFF_MS, this.deps.backoffBaseMs * 2 ** Math.min(attempts - 1, 30));
    await sql`
      with a as (
        insert into webhook_attempts (delivery_id, status_code, error, duration_ms) values (${d.id}::bigint, ${status}::int, ${error}, ${duration}::int)
      )
      update webhook_deliveries set attempts = ${attempts}::int, first_attempt_at = coalesce(first_attempt_at, now()),
        status = ${ok ? 'delivered' : gaveUp ? 'failed' : 'pending'},
        done_at = ${ok || gaveUp ? sql`now()` : sql`null`},
        next_attempt_at = now() + ${delay}::int * interval '1 millisecond'
      where id = ${d.id}::bigint`.execute(this.db);
    if (gaveUp) this.deps.logger.warn({ webhookDelivery: d.id, event: d.event_id, attempts }, 'webhook delivery given up');
    if (ok) this.deps.onDelivered?.(Math.max(0, Date.now() - new Date(d.occurred_at).getTime()) / 1000);
    return ok ? 'delivered' : gaveUp ? 'gaveUp' : 'failed';
  }

  /** The attempts log of an event's deliveries (operators, tests). */
  async attemptsOf(eventId: string) {
    return this.db.selectFrom('webhook_attempts as a')
      .innerJoin('webhook_deliveries as d', 'd.id', 'a.delivery_id')
      .innerJoin('events as e', 'e.n', 'd.event_n')
      .select(['a.id', 'a.at', 'a.status_code', 'a.error', 'a.duration_ms', 'd.endpoint_id', 'd.status'])
      .where('e.id', '=', eventId).orderBy('a.id').execute();
  }
}

function checkedUrl(given: string): string {
  let url: URL;
  try {
    url = new URL(given.trim());
  } catch {
    throw businessRule(...EventCodes.badUrl);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || url.username !== '' || url.password !== '') {
    throw businessRule(...EventCodes.badUrl);
  }
  return url.toString();
}

function payloadOf(e: { id: string; type: string; seq: string | null; subject: string; subject_seq: number | null; occurred_at: Date | string;
  organization: number | null; card_token: string | null; data: Record<string, unknown> }): EventPayload {
  return {
    id: e.id, type: e.type as EventPayload['type'], cursor: String(e.seq), subject: e.subject, sequence: Number(e.subject_seq),
    timestamp: new Date(e.occurred_at).toISOString(), organization: e.organization, cardToken: e.card_token, data: e.data,
  };
}

function endpointOf(row: { id: string; url: string; event_types: string[]; organizations: number[]; created_at: Date }): Endpoint {
  return { id: row.id, url: row.url, eventTypes: row.event_types, organizations: row.organizations, createdAt: new Date(row.created_at).toISOString() };
}
