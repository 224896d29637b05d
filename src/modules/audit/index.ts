import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Actor } from '../../shared/actor.ts';
import { Batcher } from '../../shared/batcher.ts';
import { redact } from '../../shared/redact.ts';

export interface AuditEvent {
  /** What happened, e.g. `customer.add`, `account.read`. */
  action: string;
  entityType: string;
  entityId: string;
  organization?: number | null;
  /** Extra facts; passed through the redaction rule before they are stored. */
  details?: Record<string, unknown>;
}

/**
 * The audit trail: who did what, when, under which request id. State changes are recorded in
 * the same transaction as the change itself (pass the transaction), so there is no change
 * without its record and no record of a change that rolled back.
 */
export async function recordAudit(db: Kysely<DB>, actor: Actor, event: AuditEvent): Promise<void> {
  if (db.isTransaction) {
    await db.insertInto('audit_events').values(auditRow(actor, event)).execute();
    return;
  }
  // Outside a transaction (reads, refusals) the record is written together with those of
  // concurrent requests, in one statement; the caller still waits until it is stored.
  let batcher = writers.get(db);
  if (!batcher) {
    batcher = new Batcher((rows) => insertAuditRows(db, rows), { maxBatch: 128, maxInFlight: 2 });
    writers.set(db, batcher);
  }
  await batcher.submit(auditRow(actor, event));
}

type AuditRow = ReturnType<typeof auditRow>;
const writers = new WeakMap<Kysely<DB>, Batcher<AuditRow, void>>();

/** One INSERT for any number of rows (one statement text, whatever the count: it is prepared once). */
async function insertAuditRows(db: Kysely<DB>, rows: AuditRow[]): Promise<void[]> {
  const column = <K extends keyof AuditRow>(k: K) => rows.map((r) => r[k]);
  await sql`
    insert into audit_events (actor, request_id, action, entity_type, entity_id, organization, details)
    select * from unnest(${column('actor')}::text[], ${column('request_id')}::text[], ${column('action')}::text[],
      ${column('entity_type')}::text[], ${column('entity_id')}::text[], ${column('organization')}::int[], ${column('details')}::jsonb[])`.execute(db);
  return rows.map(() => undefined);
}

/**
 * The audit row for an event, details redacted: for a module that writes its change and the
 * audit record in one SQL statement (a data-modifying CTE) instead of a transaction.
 */
export function auditRow(actor: Actor, event: AuditEvent) {
  return {
    actor: actor.clientId,
    request_id: actor.requestId,
    action: event.action,
    entity_type: event.entityType,
    entity_id: event.entityId,
    organization: event.organization ?? null,
    details: JSON.stringify(redact(event.details ?? {})),
  };
}

export interface AuditRecord {
  at: Date;
  actor: string;
  requestId: string;
  action: string;
  entityType: string;
  entityId: string;
  organization: number | null;
  details: Record<string, unknown>;
}

export async function listAudit(db: Kysely<DB>, filter: { entityType?: string; entityId?: string; requestId?: string; limit?: number }): Promise<AuditRecord[]> {
  let q = db.selectFrom('audit_events').selectAll().orderBy('id', 'asc').limit(filter.limit ?? 100);
  if (filter.entityType) q = q.where('entity_type', '=', filter.entityType);
  if (filter.entityId) q = q.where('entity_id', '=', filter.entityId);
  if (filter.requestId) q = q.where('request_id', '=', filter.requestId);
  const rows = await q.execute();
  return rows.map((r) => ({
    at: r.at, actor: r.actor, requestId: r.request_id, action: r.action, entityType: r.entity_type,
    entityId: r.entity_id, organization: r.organization, details: r.details,
  }));
}
