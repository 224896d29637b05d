import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Actor } from '../../shared/actor.ts';
import { Batcher, column } from '../../shared/batcher.ts';
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
    // In a transaction that ends with a statement of its own (a request's answer), the record goes
    // in that statement: the same transaction, one statement less.
    const collected = collectors.get(db);
    if (collected) collected.push(auditRow(actor, event));
    else await insertAuditRows(db, [auditRow(actor, event)]);
    return;
  }
  // Outside a transaction (reads, refusals): kept for the request's last write (see Actor), or
  // written at once together with the records of concurrent requests.
  if (actor.auditJournal) actor.auditJournal.push(auditRow(actor, event));
  else await storeAuditRows(db, [auditRow(actor, event)]);
}

export type AuditRow = ReturnType<typeof auditRow>;
const collectors = new WeakMap<Kysely<DB>, AuditRow[]>();

/**
 * From now on, the audit records of changes made in `trx` are kept here instead of inserted one by
 * one: the caller must store them in the transaction before it commits (auditInsert), and takes
 * them with `takeCollectedAudit`.
 */
export function collectAuditIn(trx: Kysely<DB>): void {
  if (!trx.isTransaction) throw new Error('collectAuditIn: audit records of changes are collected in their transaction only');
  collectors.set(trx, []);
}

/** The records collected in `trx` so far, and no more collecting: later ones are inserted at once. */
export function takeCollectedAudit(trx: Kysely<DB>): AuditRow[] {
  const rows = collectors.get(trx) ?? [];
  collectors.delete(trx);
  return rows;
}
const writers = new WeakMap<Kysely<DB>, Batcher<AuditRow, void>>();

/** Stores rows outside any transaction, in one statement with those of concurrent callers. */
export async function storeAuditRows(db: Kysely<DB>, rows: AuditRow[]): Promise<void> {
  let batcher = writers.get(db);
  if (!batcher) {
    batcher = new Batcher(async (batch) => {
      await sql`${auditInsert(batch)}`.execute(db);
      return batch.map(() => undefined);
    });
    writers.set(db, batcher);
  }
  await Promise.all(rows.map((row) => batcher.submit(row)));
}

/** Stores rows in the caller's transaction, as one plain statement (one request's few rows). */
export async function insertAuditRows(trx: Kysely<DB>, rows: AuditRow[]): Promise<void> {
  if (rows.length > 0) await trx.insertInto('audit_events').values(rows).execute();
}

/** Empties an actor's journal, answering what it held (for the write that stores it). */
export function takeAuditJournal(holder: { auditJournal?: unknown[] | undefined }): AuditRow[] {
  return (holder.auditJournal?.splice(0) ?? []) as AuditRow[];
}

/**
 * The INSERT of any number of audit rows, as one statement text whatever the count (so it is
 * prepared once): alone, or as a data-modifying CTE of another module's statement.
 */
export function auditInsert(rows: AuditRow[]): RawBuilder<unknown> {
  return sql`
    insert into audit_events (actor, request_id, action, entity_type, entity_id, organization, details)
    select * from unnest(${column(rows, 'actor')}::text[], ${column(rows, 'request_id')}::text[], ${column(rows, 'action')}::text[],
      ${column(rows, 'entity_type')}::text[], ${column(rows, 'entity_id')}::text[], ${column(rows, 'organization')}::int[], ${column(rows, 'details')}::jsonb[])`;
}

/**
 * For a batch statement: the audit records that come with each item (`perItem[k]` with item k + 1,
 * as `with ordinality` numbers them), inserted for the items `madeItems` selects. No records (the
 * usual case): a no-op, so the statement has no part for it.
 */
export function auditInsertOfItems(perItem: ReadonlyArray<readonly AuditRow[]>, madeItems: RawBuilder<unknown>): RawBuilder<unknown> {
  const items: number[] = [];
  const rows: AuditRow[] = [];
  perItem.forEach((of, k) => { for (const row of of) { items.push(k + 1); rows.push(row); } });
  if (rows.length === 0) return sql`select 1`;
  return sql`
    insert into audit_events (actor, request_id, action, entity_type, entity_id, organization, details)
    select j.actor, j.request_id, j.action, j.entity_type, j.entity_id, j.organization, j.details
    from unnest(${items}::int[], ${column(rows, 'actor')}::text[], ${column(rows, 'request_id')}::text[],
      ${column(rows, 'action')}::text[], ${column(rows, 'entity_type')}::text[], ${column(rows, 'entity_id')}::text[],
      ${column(rows, 'organization')}::int[], ${column(rows, 'details')}::jsonb[]) as j(item, actor, request_id, action, entity_type, entity_id, organization, details)
    where j.item in (${madeItems})`;
}

/**
 * For a statement whose audit records come from its own data: the INSERT of the rows a query of
 * the statement gives, as `(actor, request_id, action, entity_type, entity_id, organization,
 * details)` — the columns of another CTE (a batch's input, the items it made), or one `auditRow`'s
 * values with details the statement completes (its outcome, known only as it runs).
 */
export function auditInsertFrom(rows: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`
    insert into audit_events (actor, request_id, action, entity_type, entity_id, organization, details)
    ${rows}`;
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
