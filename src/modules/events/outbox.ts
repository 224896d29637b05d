import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { column } from '../../shared/batcher.ts';
import { redact } from '../../shared/redact.ts';

/** The lifecycle events emboss writes (docs/events.md). */
export const EVENT_TYPES = [
  'card.issued', 'card.activated', 'card.status_changed', 'card.action', 'card.dcvv2_mode_changed',
  'pin.blocked', 'pin.unblocked', 'pin.changed',
  'mass_issue.started', 'mass_issue.progressed', 'mass_issue.completed',
  'bureau_file.written',
] as const;
export type EventType = typeof EVENT_TYPES[number];

export interface LifecycleEvent {
  type: EventType;
  /** The card's PAN token (never its number): the subject of a card event. */
  cardToken?: string | null;
  /** What the event is about, when it is not a card (e.g. `mass-issue:12`): events of one subject are delivered in order. */
  subject?: string;
  organization: number | null;
  /** Extra facts; passed through the redaction rule before they are stored. Never card data but the token. */
  data?: Record<string, unknown>;
}

export type EventRow = ReturnType<typeof eventRow>;

/** The row of an event, data redacted. */
export function eventRow(event: LifecycleEvent) {
  const subject = event.subject ?? event.cardToken;
  if (!subject) throw new Error('eventRow: an event needs a card token or a subject');
  return {
    type: event.type,
    subject,
    card_token: event.cardToken ?? null,
    organization: event.organization,
    data: JSON.stringify(redact(event.data ?? {})),
  };
}

/**
 * Writes events in the transaction of the change they tell of: there is no change without its
 * events and no event of a change that rolled back.
 */
export async function recordEvents(trx: Kysely<DB>, events: LifecycleEvent[]): Promise<void> {
  if (!trx.isTransaction) throw new Error('recordEvents: events are written in the transaction of their change');
  if (events.length === 0) return;
  await trx.insertInto('events').values(events.map(eventRow)).execute();
}

export const recordEvent = (trx: Kysely<DB>, event: LifecycleEvent) => recordEvents(trx, [event]);

/**
 * For a single statement that makes its change with data-modifying CTEs: the INSERT of the rows
 * (one statement text whatever their count), only when `when` holds (a condition on the
 * statement's other parts, e.g. `exists (select 1 from u)`).
 */
export function eventsInsert(rows: EventRow[], when: RawBuilder<unknown> = sql`true`): RawBuilder<unknown> {
  return sql`
    insert into events (type, subject, card_token, organization, data)
    select * from unnest(${column(rows, 'type')}::text[], ${column(rows, 'subject')}::text[], ${column(rows, 'card_token')}::text[],
      ${column(rows, 'organization')}::int[], ${column(rows, 'data')}::jsonb[])
    where ${when}`;
}

/**
 * For a batch statement: the events of the rows a query of the statement gives, as
 * `(type, card_token, organization, data)` — the subject is the card token. Only facts the
 * statement already holds go in `data`; never a card number.
 */
export function eventsInsertFrom(rows: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`
    insert into events (type, subject, card_token, organization, data)
    select e.type, e.card_token, e.card_token, e.organization, e.data from (${rows}) as e(type, card_token, organization, data)`;
}
