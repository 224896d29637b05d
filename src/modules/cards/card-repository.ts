import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { RecordedAnswer } from '../../shared/actor.ts';
import { Batcher, byOrdinality, column } from '../../shared/batcher.ts';
import { auditInsert, auditInsertFrom, auditInsertOfItems, type AuditRow } from '../audit/index.ts';
import { eventsInsert, eventsInsertFrom, type EventRow } from '../events/index.ts';
import { ANSWER_COLUMNS, answerArrays, answerColumns, answersOf, heldItems, isRequestKeyRace, keyTaken } from '../idempotency/index.ts';
import { batchInput, type InputColumn } from '../../db/batch-input.ts';
import { isUniqueViolation } from '../../db/unique-violation.ts';
import { recordsInsertFrom, type OutboxRecord } from '../personalization/index.ts';
import { toAccount, type Account } from '../accounts/index.ts';
import type { CardVault } from './card-vault.ts';
import { CardStatus, type CardRow } from './card-rules.ts';

/** The insert's items without request ids (see `insert`): all of them go. */
const EVERY_ITEM_GOES = sql`go as (select * from input)`;
/** The insert's answers of the made cards' requests (see answersOf), or none. */
const ANSWERS_OF_MADE = sql`${answersOf('made')}, `;
const NO_ANSWERS = sql``;

/** An accounts row as `to_jsonb` gives it. */
type AccountRow = Parameters<typeof toAccount>[0];

/** A card as a client names it: by PAN token or by the keyed hash of its number; a sequence or the latest. */
interface CardKey { organization: number; token: string | null; hash: string | null; sequence: number | null }

/** A card with its number's stored encryption (most callers need the number next). */
export type FoundCard = CardRow & { pan_encrypted: string };

/** The rows of one card as `insert` writes them (the security-module work done). */
export interface CardInsert {
  hash: string; token: string; encrypted: string; bin: string; last4: string;
  /** The number is already on file (a new sequence of it): only the card is inserted. */
  existing: boolean;
  organization: number; logo: number; sequence: number; account: string; customer: string; expiry: string; serviceCode: string;
  statusDate: string; activationRequired: boolean; activatedAt: Date | null; blockCode: string; embossedName1: string; embossedName2: string;
  digital: boolean; plasticStatus: string; pinSuppressed: boolean; pinStored: string | null; pinVerification: string | null;
  /** JSON text. */
  profile: string;
  createdBy: string;
  /** Its audit record; none for the cards of a mass-issue chunk (audited per chunk). */
  audit: AuditRow | undefined;
  /** What the card.issued event says besides the card itself (JSON text); a mass-issue card's request and position are added to it. */
  eventData: string;
  plastic: OutboxRecord | undefined;
  /** The bureau file its record goes into (a mass issue's planned files). */
  fileId: string | null;
  /** A mass-issue card: its request and position (the unique key that makes a position issued once). */
  massRequestId: string | null;
  massSeq: number | null;
  /** The request's answer, recorded with the card (card add): see `insert`. */
  answer?: RecordedAnswer | undefined;
}

/**
 * The columns of `insert`'s input, one row per card. Values that never hold a comma and are never
 * empty (or are null) travel as one comma-separated text each (`list`: cheaper for both sides than an array
 * literal, which counts in a mass-issue chunk of a thousand cards), the others as arrays; a value
 * the same for every card of the call travels once (see batchInput).
 */
const CARD_INPUT: ReadonlyArray<InputColumn<CardInsert>> = [
  { name: 'h', type: 'text', value: (r) => r.hash, list: true },
  { name: 't', type: 'text', value: (r) => r.token, list: true },
  { name: 'e', type: 'text', value: (r) => r.encrypted, list: true },
  { name: 'bin', type: 'text', value: (r) => r.bin, list: true },
  { name: 'l4', type: 'text', value: (r) => r.last4, list: true },
  { name: 'ex', type: 'boolean', value: (r) => r.existing, list: true },
  { name: 'org', type: 'int', value: (r) => r.organization, list: true },
  { name: 'logo', type: 'int', value: (r) => r.logo, list: true },
  { name: 'seq', type: 'int', value: (r) => r.sequence, list: true },
  { name: 'acct', type: 'text', value: (r) => r.account, list: true },
  { name: 'cust', type: 'text', value: (r) => r.customer, list: true },
  { name: 'exp', type: 'text', value: (r) => r.expiry, list: true },
  { name: 'sc', type: 'text', value: (r) => r.serviceCode, list: true },
  { name: 'sdate', type: 'date', value: (r) => r.statusDate, list: true },
  { name: 'areq', type: 'boolean', value: (r) => r.activationRequired, list: true },
  { name: 'aat', type: 'timestamptz', value: (r) => r.activatedAt },
  { name: 'blk', type: 'text', value: (r) => r.blockCode },
  { name: 'n1', type: 'text', value: (r) => r.embossedName1 },
  { name: 'n2', type: 'text', value: (r) => r.embossedName2 },
  { name: 'dig', type: 'boolean', value: (r) => r.digital, list: true },
  { name: 'pst', type: 'text', value: (r) => r.plasticStatus, list: true },
  { name: 'psup', type: 'boolean', value: (r) => r.pinSuppressed, list: true },
  { name: 'pin', type: 'text', value: (r) => r.pinStored, list: true },
  { name: 'pv', type: 'text', value: (r) => r.pinVerification, list: true },
  { name: 'prof', type: 'jsonb', value: (r) => r.profile },
  { name: 'by_', type: 'text', value: (r) => r.createdBy, list: true },
  { name: 'mreq', type: 'bigint', value: (r) => r.massRequestId, list: true },
  { name: 'mseq', type: 'int', value: (r) => r.massSeq, list: true },
  { name: 'evdata', type: 'jsonb', value: (r) => r.eventData },
  { name: 'p_org', type: 'int', value: (r) => r.plastic?.organization ?? null, list: true },
  { name: 'p_logo', type: 'int', value: (r) => r.plastic?.logo ?? null, list: true },
  { name: 'p_reason', type: 'text', value: (r) => r.plastic?.reason ?? null, list: true },
  { name: 'p_ref', type: 'text', value: (r) => r.plastic?.reference ?? null, list: true },
  { name: 'p_record', type: 'text', value: (r) => r.plastic?.encrypted_record ?? null, list: true },
  { name: 'p_cipher', type: 'text', value: (r) => r.plastic?.cipher ?? null, list: true },
  { name: 'p_kcv', type: 'text', value: (r) => r.plastic?.bureau_kcv ?? null, list: true },
  { name: 'p_file', type: 'bigint', value: (r) => r.fileId, list: true },
  ...answerColumns((r: CardInsert) => r.answer),
];

/**
 * The failure of an `insert` whose mass-issue card takes a position another run issued meanwhile
 * (the unique position key): the statement keeps nothing.
 */
export function isMassPositionConflict(err: unknown): boolean {
  return isUniqueViolation(err, ['cards_mass_position']);
}

/** The columns `insert` writes of a card (values in this order: see `cardValues` there). */
const CARD_COLUMNS = sql.raw(`(pan_hash, card_sequence, pan_token, organization, logo, account_number, customer_number, expiry, service_code,
  status, status_date, activation_required, activated_at, block_code, embossed_name_1, embossed_name_2, digital,
  plastic_status, pin_suppressed, pin_stored, pin_verification, profile, created_by, mass_request_id, mass_seq)`);

/**
 * What became of one card of an `insert`: made (with its row, when the insert was asked for rows),
 * or not made because its number is on file (`numberTaken`: draw another, or refuse a given
 * number), or, its number being new or its own, because the card itself is taken (its mass-issue
 * position, or the sequence of its number) or its request lost its id.
 */
export interface InsertOutcome {
  made: boolean;
  numberTaken: boolean;
  /** Not made because of its request id: held by another run, or (not reserved) on file (see heldItems). */
  requestIdTaken: boolean;
  card?: CardRow;
}

/** Which invalid-try counter of a card: the PIN's or the CVV2's (same rules, own columns). */
export type TryCounter = 'pin' | 'cvv2';
const TRY_COLUMNS: Record<TryCounter, { tries: string; last: string; blocked: string }> = {
  pin: { tries: 'pin_tries', last: 'pin_last_invalid', blocked: 'pin_blocked' },
  cvv2: { tries: 'cvv2_tries', last: 'cvv2_last_invalid', blocked: 'cvv2_blocked' },
};

/** A card's dCVV2 mode as `setDcvv2Modes` writes it, with the change's audit record. */
export interface Dcvv2ModeChange {
  cardId: string; active: boolean; generatedAt: Date | null; validityMinutes: number | null; expiresAt: Date | null;
  /** When the change is made. */
  at: Date;
  audit: AuditRow;
}

/**
 * The audit record of a guarded statement on one card (a PIN change, a try counted or reset, a
 * PIN block or unblock): the row, and what its details get by the outcome the statement reaches
 * (JSON objects as text).
 */
export interface GuardedAudit {
  row: AuditRow;
  /** The card moved. */
  done: string;
  /** Not moved though counted (blocked, or the PIN changed meanwhile), or the counter already blocked. */
  refused: string;
  /** Not counted: the day's cap. */
  capped: string;
}

/** A right PIN or CVV2 on a card with no invalid tries, recorded by `recordCorrectChecks`. */
export interface CorrectCheck {
  cardId: string;
  counter: TryCounter;
  /** The UTC day it counts on (YYYY-MM-DD). */
  day: string;
  audit: AuditRow;
  /** The request's answers to the three outcomes: counted, blocked, capped. */
  answers?: readonly [RecordedAnswer, RecordedAnswer, RecordedAnswer] | undefined;
}

/**
 * The one owner of the `cards` and `card_numbers` tables: every statement on them is here, used
 * by issuing, inquiries, state changes, card actions, mass issue and the PIN module.
 */
export class CardRepository {
  private readonly lookups = new Batcher((keys: CardKey[]) => this.lookUp(keys, false));
  private readonly lookupsWithAccount = new Batcher((keys: CardKey[]) => this.lookUp(keys, true));
  /** Card adds' cards, inserted together; the caller needs no card row back (see `insert`). */
  private readonly inserts = new Batcher((rows: CardInsert[]) =>
    // Sent again once when a run of one of its request ids committed meanwhile: the key is then on file.
    this.insert(this.db, rows, 'outcomes').catch((err: unknown) => {
      if (isRequestKeyRace(err)) return this.insert(this.db, rows, 'outcomes');
      throw err;
    }));

  constructor(private readonly db: Kysely<DB>, private readonly vault: CardVault) {}

  // --- finding cards ---------------------------------------------------------------------

  /**
   * The card a client names: a PAN token, or a clear number (zero-padded to 19 or not), of the
   * organization; the given sequence, or the latest one.
   */
  async resolve(organization: number, number: string, sequence?: number, db: Kysely<DB> = this.db): Promise<FoundCard | undefined> {
    const key = await this.cardKey(organization, number, sequence);
    if (!key) return undefined;
    // Outside a transaction, concurrent look-ups go to the database together (one statement).
    if (!db.isTransaction) return this.lookups.submit(key);
    // A token is looked up in card_numbers (its unique index), the card then by its key.
    let q = db.selectFrom('cards').innerJoin('card_numbers', 'card_numbers.pan_hash', 'cards.pan_hash')
      .selectAll('cards').select('card_numbers.pan_encrypted').where('cards.organization', '=', organization);
    q = key.token !== null ? q.where('card_numbers.pan_token', '=', key.token) : q.where('cards.pan_hash', '=', key.hash!);
    if (key.sequence !== null) q = q.where('cards.card_sequence', '=', key.sequence);
    return q.orderBy('cards.card_sequence', 'desc').limit(1).executeTakeFirst();
  }

  /**
   * As `resolve` (outside a transaction), with the card's account read in the same statement:
   * for operations that check both before they use the card.
   */
  async resolveWithAccount(organization: number, number: string, sequence?: number): Promise<{ card: FoundCard; account: Account | undefined } | undefined> {
    const key = await this.cardKey(organization, number, sequence);
    if (!key) return undefined;
    const found = await this.lookupsWithAccount.submit(key);
    if (!found) return undefined;
    const { account_row: accountRow, ...card } = found;
    return { card, account: accountRow ? toAccount(accountRow) : undefined };
  }

  /** The account of a card named by number or token (account inquiry by card number). */
  async accountOfCard(organization: number, number: string): Promise<string | undefined> {
    return (await this.resolve(organization, number))?.account_number;
  }

  /** The clear number of a card (inside emboss only: PIN and CVV operations, card-pan, bureau records). */
  async panOf(card: CardRow & { pan_encrypted?: string }, db: Kysely<DB> = this.db): Promise<string> {
    const encrypted = card.pan_encrypted
      ?? (await db.selectFrom('card_numbers').select('pan_encrypted').where('pan_hash', '=', card.pan_hash).executeTakeFirstOrThrow()).pan_encrypted;
    return this.vault.reveal(encrypted);
  }

  /** How a card number or token is looked up; undefined when it cannot name a card. */
  private async cardKey(organization: number, number: string, sequence: number | undefined): Promise<CardKey | undefined> {
    const key: CardKey = { organization, token: null, hash: null, sequence: sequence !== undefined && sequence > 0 ? sequence : null };
    if (/[A-Za-z]/.test(number)) {
      if (number.length !== 19) return undefined;
      key.token = number.toUpperCase();
    } else {
      const pan = number.replace(/^0+/, '');
      if (pan.length < 12) return undefined;
      key.hash = await this.vault.hash(pan);
    }
    return key;
  }

  /** Many `resolve`s in one statement: for each key, its card (the given sequence or the latest) or nothing. */
  private async lookUp(keys: CardKey[], withAccount: boolean): Promise<Array<(FoundCard & { account_row?: AccountRow | null }) | undefined>> {
    const account = withAccount
      ? { select: sql`, to_jsonb(a) as account_row`, join: sql`left join accounts a on a.account_number = c.account_number and a.organization = c.organization` }
      : { select: sql``, join: sql`` };
    const found = await sql<FoundCard & { i: string | number; account_row?: AccountRow | null }>`
      select k.i, c.*, n.pan_encrypted ${account.select}
      from unnest(${column(keys, 'organization')}::int[], ${column(keys, 'token')}::bpchar[], ${column(keys, 'hash')}::text[], ${column(keys, 'sequence')}::int[])
        with ordinality as k(organization, token, hash, sequence, i)
      cross join lateral (
        (select c.* from card_numbers t join cards c on c.pan_hash = t.pan_hash
          where t.pan_token = k.token and c.organization = k.organization and (k.sequence is null or c.card_sequence = k.sequence))
        union all
        (select * from cards c where c.pan_hash = k.hash and c.organization = k.organization and (k.sequence is null or c.card_sequence = k.sequence))
        order by card_sequence desc limit 1
      ) c
      join card_numbers n on n.pan_hash = c.pan_hash
      ${account.join}`.execute(this.db);
    return byOrdinality(keys.length, found.rows, (card) => card);
  }

  /** What card details tells besides the card: the expiry before this one, the replacement, the open plastics. */
  async relatedOf(cardId: string) {
    return (await sql<{ previous_expiry: string | null; replaced_expiry: string | null; replacement_token: string | null; replacement_encrypted: string | null; outstanding: number }>`
      select
        (select p.expiry from cards p where p.pan_hash = c.pan_hash and p.card_sequence < c.card_sequence order by p.card_sequence desc limit 1) as previous_expiry,
        (select r.expiry from cards r where r.id = c.replaces_card_id) as replaced_expiry,
        n.pan_token as replacement_token, nn.pan_encrypted as replacement_encrypted,
        (select count(*)::int from cards o where o.pan_hash = c.pan_hash and o.status <> ${CardStatus.closed} and not o.digital) as outstanding
      from cards c
      left join cards n on n.id = c.replaced_by_card_id
      left join card_numbers nn on nn.pan_hash = n.pan_hash
      where c.id = ${cardId}`.execute(this.db)).rows[0];
  }

  /**
   * A page of a customer's cards by account number, with the account's userAccountNumber: from
   * the first (`from` undefined), after an account (`next`) or before one (`previous`).
   */
  async ofCustomer(organization: number, customerNumber: string, page: { next?: string; previous?: string }, limit: number) {
    let q = this.db.selectFrom('cards')
      .leftJoin('accounts', (j) => j.onRef('accounts.account_number', '=', 'cards.account_number').onRef('accounts.organization', '=', 'cards.organization'))
      .selectAll('cards').select(sql<string | null>`accounts.profile->>'userAccountNumber'`.as('user_account_number'))
      .where('cards.customer_number', '=', customerNumber).where('cards.organization', '=', organization);
    if (page.next !== undefined) q = q.where('cards.account_number', '>', page.next).orderBy('cards.account_number', 'asc').orderBy('cards.id', 'asc');
    else if (page.previous !== undefined) q = q.where('cards.account_number', '<', page.previous).orderBy('cards.account_number', 'desc').orderBy('cards.id', 'desc');
    else q = q.orderBy('cards.account_number', 'asc').orderBy('cards.id', 'asc');
    return q.limit(limit).execute();
  }

  // --- changing cards (inside the caller's transaction) ----------------------------------

  /** The card, locked for the rest of the transaction. */
  locked(trx: Kysely<DB>, id: string): Promise<CardRow> {
    return trx.selectFrom('cards').selectAll().where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
  }

  /** Every sequence of a number, locked, in sequence order. */
  sequencesLocked(trx: Kysely<DB>, panHash: string): Promise<CardRow[]> {
    return trx.selectFrom('cards').selectAll().where('pan_hash', '=', panHash).orderBy('card_sequence').forUpdate().execute();
  }

  /** The highest sequence of a number (read again once its rows are locked: see card actions). */
  async lastSequence(trx: Kysely<DB>, panHash: string): Promise<number> {
    return Number((await trx.selectFrom('cards').select((e) => e.fn.max('card_sequence').as('n')).where('pan_hash', '=', panHash).executeTakeFirstOrThrow()).n);
  }

  async setStatus(trx: Kysely<DB>, id: string, status: number, now: Date): Promise<void> {
    await trx.updateTable('cards').set({ status, status_date: now.toISOString().slice(0, 10), updated_at: now }).where('id', '=', id).execute();
  }

  /** Activates the cards of an account awaiting it (or only `cardId`), neither closed nor expired; answers those activated. */
  activate(trx: Kysely<DB>, accountNumber: string, cardId: string | undefined, now: Date, currentMonth: string) {
    let q = trx.updateTable('cards').set({ activation_required: false, activated_at: now, updated_at: now })
      .where('account_number', '=', accountNumber).where('activation_required', '=', true)
      .where('status', '!=', CardStatus.closed).where('expiry', '>=', currentMonth);
    if (cardId !== undefined) q = q.where('id', '=', cardId);
    return q.returning(['pan_token', 'card_sequence']).execute();
  }

  /** Records a card action on a card (its action, reason and the action's fields in the profile). */
  markActed(trx: Kysely<DB>, id: string, action: number, reason: string, recorded: Record<string, unknown>, now: Date): Promise<CardRow> {
    return trx.updateTable('cards')
      .set({ last_action: action, last_action_reason: reason, profile: sql<string>`profile || ${JSON.stringify(recorded)}::jsonb`, updated_at: now })
      .where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  /** A new PIN for a card (card action 5): the tries and the block reset. */
  reissuePin(trx: Kysely<DB>, id: string, pin: { storedPinBlock: string; verification: string | null }, acted: { action: number; reason: string; recorded: Record<string, unknown> }, now: Date): Promise<CardRow> {
    return trx.updateTable('cards').set({
      pin_stored: pin.storedPinBlock, pin_verification: pin.verification, pin_tries: 0, pin_blocked: false, pin_last_invalid: null,
      last_action: acted.action, last_action_reason: acted.reason, profile: sql<string>`profile || ${JSON.stringify(acted.recorded)}::jsonb`, updated_at: now,
    }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  /** Closes every open sequence of a number for good, pointing to its replacement. */
  async closeNumber(trx: Kysely<DB>, panHash: string, blockCode: string, replacedBy: string, now: Date): Promise<void> {
    await trx.updateTable('cards').set({
      status: CardStatus.closed, status_date: now.toISOString().slice(0, 10), block_code: blockCode, replaced_by_card_id: replacedBy, updated_at: now,
    }).where('pan_hash', '=', panHash).where('status', '!=', CardStatus.closed).execute();
  }

  /** A card made by a card action: the action, its reason and the card it replaces. */
  markMadeBy(trx: Kysely<DB>, id: string, action: number, reason: string, replaces: string | null): Promise<CardRow> {
    return trx.updateTable('cards').set({ last_action: action, last_action_reason: reason, replaces_card_id: replaces })
      .where('id', '=', id).returningAll().executeTakeFirstOrThrow();
  }

  // --- mass issue -------------------------------------------------------------------------

  /** The highest position issued so far of a mass-issue request. */
  async lastMassPosition(trx: Kysely<DB>, requestId: string): Promise<number> {
    const highest = await trx.selectFrom('cards').select((eb) => eb.fn.max('mass_seq').as('p')).where('mass_request_id', '=', requestId).executeTakeFirst();
    return Number(highest?.p ?? 0);
  }

  /** How many cards of a mass-issue request exist per chunk (chunk numbers from 0). */
  async massChunkCounts(requestId: string, chunk: number) {
    return (await sql<{ k: number; n: number }>`
      select ((mass_seq - 1) / ${chunk}::int)::int as k, count(*)::int as n
      from cards where mass_request_id = ${requestId}::bigint group by 1`.execute(this.db)).rows;
  }

  /** The positions issued so far of a mass-issue request within a range. */
  async massPositions(requestId: string, from: number, to: number): Promise<number[]> {
    const rows = await this.db.selectFrom('cards').select('mass_seq').where('mass_request_id', '=', requestId)
      .where('mass_seq', '>=', from).where('mass_seq', '<=', to).execute();
    return rows.map((r) => Number(r.mass_seq));
  }

  /** A condition for another module's statement: the card of a mass-issue request's position exists. */
  static readonly massPositionIssued = (request: RawBuilder<unknown>, position: RawBuilder<unknown>): RawBuilder<unknown> =>
    sql`exists (select 1 from cards c where c.mass_request_id = ${request} and c.mass_seq = ${position})`;

  /** A page of a mass-issue request's cards, by position, with their accounts. */
  massPage(requestId: string, from: number, to: number) {
    return this.db.selectFrom('cards')
      .innerJoin('accounts', 'accounts.account_number', 'cards.account_number')
      .select(['cards.id', 'cards.mass_seq', 'cards.account_number', 'cards.customer_number', 'cards.pan_token', 'cards.pan_hash', 'cards.status',
        'cards.activation_required', 'cards.block_code', 'cards.expiry', 'accounts.credit_limit', 'accounts.status as account_status',
        'accounts.block_code_1', 'accounts.block_code_2', 'accounts.date_opened'])
      .where('cards.mass_request_id', '=', requestId)
      .where('cards.mass_seq', '>', from).where('cards.mass_seq', '<=', to)
      .orderBy('cards.mass_seq').execute();
  }

  // --- PINs, CVV2 tries and dCVV2 (the PIN module's statements) ----------------------------
  //
  // A check of a PIN or CVV2 counts against the card's daily cap (the PIN module's table): the
  // statements below that take `counted` move the card only when that count was made. `counted`
  // is a data-modifying CTE body built by the PIN module; it reads the CTE `card (id, blocked)` —
  // the card as the statement sees it (its snapshot), `blocked` the flag of the counter concerned —
  // and returns a row when it counted. Each is ONE statement with its audit record and events.

  /** The CTE `card` a `counted` piece reads (see above). */
  private cardAsSeen(cardId: string, counter: TryCounter): RawBuilder<unknown> {
    return sql`card as (select id, ${sql.ref(TRY_COLUMNS[counter].blocked)} as blocked from cards where id = ${cardId}::bigint)`;
  }

  /** The audit record of a one-card statement, its details completed by `more` (a jsonb expression of the statement). */
  private auditCompleted(row: AuditRow, more: RawBuilder<unknown>): RawBuilder<unknown> {
    return auditInsertFrom(sql`
      select ${row.actor}, ${row.request_id}, ${row.action}, ${row.entity_type}, ${row.entity_id}, ${row.organization}::int, ${row.details}::jsonb || ${more}`);
  }

  /**
   * Sets the dCVV2 mode of cards, with each change's audit record and card.dcvv2_mode_changed
   * event, in one statement. Two changes of one card in one call are concurrent requests: the card
   * keeps one of them, as it would keep the later of two separate statements; both are recorded.
   */
  async setDcvv2Modes(db: Kysely<DB>, modes: readonly Dcvv2ModeChange[]): Promise<void> {
    await sql`
      with v as (
        select * from unnest(${column(modes, 'cardId')}::bigint[], ${column(modes, 'active')}::boolean[], ${column(modes, 'generatedAt')}::timestamptz[],
          ${column(modes, 'validityMinutes')}::int[], ${column(modes, 'expiresAt')}::timestamptz[], ${column(modes, 'at')}::timestamptz[]) as v(id, active, generated_at, validity, expires_at, at)
      ), u as (
        update cards c set dcvv2_active = v.active, dcvv2_generated_at = v.generated_at, dcvv2_validity_minutes = v.validity,
          dcvv2_expires_at = v.expires_at, updated_at = v.at
        from v where c.id = v.id
        returning c.id, c.pan_token, c.organization, c.dcvv2_active, c.dcvv2_expires_at
      ), a as (${auditInsert(modes.map((m) => m.audit))}
      ), ev as (${eventsInsertFrom(sql`
        select 'card.dcvv2_mode_changed', u.pan_token, u.organization,
          jsonb_build_object('dynamic', u.dcvv2_active, 'expiresAt', u.dcvv2_expires_at) from u order by u.id`)})
      select count(*) from u`.execute(db);
  }

  /**
   * A new PIN for a card whose current PIN was checked against `checked` (its PVV or offset): set,
   * with the tries reset, only when `counted` counted, the PIN is not blocked and still the one
   * checked. `events` are written when it changed. Answers what the statement saw.
   */
  async changePin(db: Kysely<DB>, change: {
    cardId: string; storedPinBlock: string; verification: string | null; checked: string | null; at: Date;
    counted: RawBuilder<unknown>; audit: GuardedAudit; events: EventRow[];
  }): Promise<{ counted: boolean; changed: boolean; wasBlocked: boolean }> {
    const { audit } = change;
    const r = await sql<{ counted: number; n: number; was_blocked: boolean | null }>`
      with ${this.cardAsSeen(change.cardId, 'pin')}, d as (${change.counted}), u as (
        update cards set pin_stored = ${change.storedPinBlock}, pin_verification = ${change.verification}, pin_tries = 0, updated_at = ${change.at}::timestamptz
        where id = ${change.cardId}::bigint and not pin_blocked and pin_verification = ${change.checked} and exists (select 1 from d)
        returning id
      ), a as (${this.auditCompleted(audit.row, sql`case when exists (select 1 from u) then ${audit.done}::jsonb
            when exists (select 1 from d) or (select blocked from card) then ${audit.refused}::jsonb
            else ${audit.capped}::jsonb end`)}
      ), ev as (${eventsInsert(change.events, sql`exists (select 1 from u)`)})
      select (select count(*) from d)::int as counted, (select count(*) from u)::int as n, (select blocked from card) as was_blocked`.execute(db);
    const { counted, n, was_blocked: wasBlocked } = r.rows[0]!;
    return { counted: Number(counted) > 0, changed: Number(n) > 0, wasBlocked: wasBlocked === true };
  }

  /**
   * Blocks the PIN, or unblocks it and resets the PIN and CVV2 tries. With `counted` (an unblock
   * counted against its cap), only when it counted. `events` are written when the card moved.
   * Answers whether it did.
   */
  async setPinStatus(db: Kysely<DB>, change: {
    cardId: string; unblock: boolean; at: Date; counted?: RawBuilder<unknown> | undefined;
    audit: Pick<GuardedAudit, 'row' | 'capped'>; events: EventRow[];
  }): Promise<boolean> {
    const set = change.unblock
      ? sql`pin_blocked = false, pin_tries = 0, cvv2_blocked = false, cvv2_tries = 0`
      : sql`pin_blocked = true`;
    const [count, guard] = change.counted
      ? [sql`${this.cardAsSeen(change.cardId, 'pin')}, d as (${change.counted}),`, sql`and exists (select 1 from d)`]
      : [sql``, sql``];
    const r = await sql<{ n: number }>`
      with ${count} u as (update cards set ${set}, updated_at = ${change.at}::timestamptz where id = ${change.cardId}::bigint ${guard} returning id),
      a as (${this.auditCompleted(change.audit.row, sql`case when exists (select 1 from u) then '{}'::jsonb else ${change.audit.capped}::jsonb end`)}
      ), ev as (${eventsInsert(change.events, sql`exists (select 1 from u)`)})
      select count(*)::int as n from u`.execute(db);
    return Number(r.rows[0]?.n ?? 0) > 0;
  }

  /**
   * A right PIN (or CVV2) on a card with invalid tries: resets them, only when `counted` counted and
   * the counter is not blocked — and, with `pinVerification` (the PIN's check), while the card's
   * PVV or offset is still that one. Answers what the statement saw.
   */
  async resetTries(db: Kysely<DB>, reset: {
    cardId: string; counter: TryCounter; pinVerification?: string | null | undefined; at: Date; counted: RawBuilder<unknown>; audit: GuardedAudit;
  }): Promise<{ counted: boolean; reset: boolean; wasBlocked: boolean }> {
    const { audit } = reset;
    const [tries, blocked] = [sql.ref(TRY_COLUMNS[reset.counter].tries), sql.ref(TRY_COLUMNS[reset.counter].blocked)];
    const samePin = reset.pinVerification !== undefined ? sql`and pin_verification = ${reset.pinVerification}` : sql``;
    const r = await sql<{ counted: number; n: number; was_blocked: boolean | null }>`
      with ${this.cardAsSeen(reset.cardId, reset.counter)}, d as (${reset.counted}), u as (
        update cards set ${tries} = 0, updated_at = ${reset.at}::timestamptz
        where id = ${reset.cardId}::bigint and not ${blocked} ${samePin} and exists (select 1 from d)
        returning id
      ), a as (${this.auditCompleted(audit.row, sql`case when exists (select 1 from u) then ${audit.done}::jsonb
            when exists (select 1 from d) or (select blocked from card) then ${audit.refused}::jsonb
            else ${audit.capped}::jsonb end`)}
      )
      select (select count(*) from d)::int as counted, (select count(*) from u)::int as n, (select blocked from card) as was_blocked`.execute(db);
    const { counted, n, was_blocked: wasBlocked } = r.rows[0]!;
    return { counted: Number(counted) > 0, reset: Number(n) > 0, wasBlocked: wasBlocked === true };
  }

  /**
   * A wrong PIN (or CVV2): one more invalid try, dated, blocking the counter when it reaches `max`,
   * only when `counted` counted and the counter is not blocked already. The audit record's outcome
   * is `incorrect` or `nowBlocked` with the tries; `eventsIfBlocked` are written when this try
   * blocked it. Answers what the statement saw and, when it counted the try, the counter after it.
   */
  async countWrongTry(db: Kysely<DB>, wrong: {
    cardId: string; counter: TryCounter; max: number; at: Date; counted: RawBuilder<unknown>;
    audit: Omit<GuardedAudit, 'done'> & { incorrect: string; nowBlocked: string }; eventsIfBlocked: EventRow[];
  }): Promise<{ counted: boolean; wasBlocked: boolean; tries: number | null; blocked: boolean | null }> {
    const { audit } = wrong;
    const c = TRY_COLUMNS[wrong.counter];
    const [tries, last, blocked] = [sql.ref(c.tries), sql.ref(c.last), sql.ref(c.blocked)];
    const r = await sql<{ counted: number; was_blocked: boolean | null; tries: number | null; blocked: boolean | null }>`
      with ${this.cardAsSeen(wrong.cardId, wrong.counter)}, d as (${wrong.counted}), u as (
        update cards set ${tries} = ${tries} + 1, ${last} = ${wrong.at.toISOString().slice(0, 10)}::date, ${blocked} = ${tries} + 1 >= ${wrong.max}::int,
          updated_at = ${wrong.at}::timestamptz
        where id = ${wrong.cardId}::bigint and not ${blocked} and exists (select 1 from d)
        returning ${tries} as tries, ${blocked} as blocked
      ), a as (${this.auditCompleted(audit.row, sql`coalesce(
            (select jsonb_build_object('outcome', case when blocked then ${audit.nowBlocked}::text else ${audit.incorrect}::text end, 'tries', tries) from u),
            case when exists (select 1 from d) or (select blocked from card) then ${audit.refused}::jsonb else ${audit.capped}::jsonb end)`)}
      ), ev as (${eventsInsert(wrong.eventsIfBlocked, sql`coalesce((select blocked from u), false)`)})
      select (select count(*) from d)::int as counted, (select blocked from card) as was_blocked, u.tries, u.blocked from (select 1) as one left join u on true`.execute(db);
    const u = r.rows[0]!;
    return {
      counted: Number(u.counted) > 0, wasBlocked: u.was_blocked === true,
      tries: u.tries === null ? null : Number(u.tries), blocked: u.blocked,
    };
  }

  /**
   * Right PINs and CVV2s on cards with no invalid tries (nothing on the card to reset), of
   * concurrent requests, in one statement without a transaction: per check, its outcome — 0
   * counted (by `counted`), 1 the counter blocked as the statement sees the card, 2 not counted
   * (the cap) — with its audit record, its details completed by `details[outcome]`, and the
   * request's answer to that outcome; undefined when its run no longer holds its request id
   * (nothing of it written); 'again' for a second check of a card already in the call — `counted`
   * cannot count a card twice in one statement (an INSERT … ON CONFLICT DO UPDATE touches a row
   * once), so it goes in the next call. `counted` reads the CTE `checked (i, id, day, blocked)`,
   * a row per check with its card as the statement sees it, and returns the `card_id` of the cards
   * it counted. The same statement text for any number of checks (arrays per field).
   */
  async recordCorrectChecks(checks: readonly CorrectCheck[], counted: RawBuilder<unknown>, details: readonly [string, string, string]): Promise<Array<0 | 1 | 2 | undefined | 'again'>> {
    const cards = new Set<string>();
    const sent = checks.filter((it) => !cards.has(it.cardId) && cards.add(it.cardId));
    const audit = sent.map((it) => it.audit);
    const answer = (k: 0 | 1 | 2) => sent.map((it) => it.answers?.[k]);
    const [blocked, capped] = [answer(1), answer(2)];
    // The requests' own audit records (their reads, refusals) go with their answers.
    const journal = auditInsertOfItems(sent.map((it) => (it.answers?.[0].audit ?? []) as AuditRow[]), sql`select i from live`);
    const r = await sql<{ i: string; o: number | null }>`
      with input as (
        select * from unnest(${column(sent, 'cardId')}::bigint[], ${sent.map((it) => it.counter === 'pin')}::boolean[], ${column(sent, 'day')}::date[],
          ${column(audit, 'actor')}::text[], ${column(audit, 'request_id')}::text[], ${column(audit, 'action')}::text[], ${column(audit, 'entity_type')}::text[],
          ${column(audit, 'entity_id')}::text[], ${column(audit, 'organization')}::int[], ${column(audit, 'details')}::jsonb[],
          ${blocked.map((a) => a?.statusCode ?? null)}::int[], ${blocked.map((a) => a?.responseSealed ?? null)}::text[],
          ${capped.map((a) => a?.statusCode ?? null)}::int[], ${capped.map((a) => a?.responseSealed ?? null)}::text[],
          ${answerArrays(answer(0))})
          with ordinality as u(card, pin, day, a_actor, a_request, a_action, a_type, a_id, a_org, a_details,
            k_status1, k_sealed1, k_status2, k_sealed2, ${ANSWER_COLUMNS}, i)
      ), ${heldItems()}, checked as (
        select go.i, c.id, go.day, case when go.pin then c.pin_blocked else c.cvv2_blocked end as blocked
        from go join cards c on c.id = go.card
      ), d as (${counted}
      ), s as (
        select go.i, case when go.card in (select card_id from d) then 0
          when (select k.blocked from checked k where k.i = go.i) then 1 else 2 end as o
        from go
      ), a as (${auditInsertFrom(sql`
        select u.a_actor, u.a_request, u.a_action, u.a_type, u.a_id, u.a_org, u.a_details || (${details}::jsonb[])[s.o + 1]
        from s join input u using (i)`)}
      ), answered as (
        update idempotency_keys k
        set status_code = case s.o when 0 then u.k_status when 1 then u.k_status1 else u.k_status2 end,
          response_sealed = case s.o when 0 then u.k_sealed when 1 then u.k_sealed1 else u.k_sealed2 end, holder = null, lease_until = null
        from s join input u using (i)
        where k.client_id = u.k_client and k.request_id = u.k_request
      ), journal as (${journal})
      select s.i, s.o from s`.execute(this.db);
    const outcome = byOrdinality(sent.length, r.rows, (row) => Number(row.o) as 0 | 1 | 2);
    const bySent = new Map(sent.map((it, k) => [it, outcome[k]]));
    return checks.map((it) => (bySent.has(it) ? bySent.get(it) : 'again'));
  }

  /** The PIN's and the CVV2's block flags and the PIN's PVV or offset as `db` sees them now (why a guarded statement moved nothing). */
  tryState(db: Kysely<DB>, cardId: string) {
    return db.selectFrom('cards').select(['pin_blocked', 'cvv2_blocked', 'pin_verification']).where('id', '=', cardId).executeTakeFirst();
  }

  // --- the one insert ---------------------------------------------------------------------

  /**
   * Inserts cards made outside a transaction together with those of concurrent requests (card
   * add): one statement per batch (see `insert`), answering outcomes without rows.
   */
  submit(row: CardInsert): Promise<InsertOutcome> {
    return this.inserts.submit(row);
  }

  /**
   * One statement for the rows of any number of cards — one card add, a batch of concurrent ones,
   * an instant card, a card action's new card, a mass-issue chunk: each one's number (unless it
   * names an existing one), the card, its audit record, its card.issued event and its bureau
   * record, all or nothing, with no transaction round trips. Answers, per card, what became of it
   * (InsertOutcome). A number twice in one call is taken by the first.
   *
   * The number's ON CONFLICT has no target on purpose: with a target, only that index is an
   * arbiter, and a second transaction inserting the same number at the same moment fails on the
   * pan_token index (the token is a function of the number) with a unique violation instead of
   * inserting nothing. Without one, every unique index is an arbiter. A card of a number this
   * statement inserted has no ON CONFLICT at all: nothing else can hold its number, and checking
   * every unique index before each insert cost a mass-issue chunk about 14 ms a thousand cards.
   * The one key it can still meet is a mass-issue position another run issued meanwhile: the
   * statement then fails (isMassPositionConflict), as a chunk must. A new sequence of a number on
   * file (`existing`) is made unless that sequence is taken.
   *
   * A card that comes with its request's answer (card add) is made only when the request id is
   * its own — held by its run (the key's row locked FOR UPDATE for the statement, so no retry can
   * take it over meanwhile) or, not reserved, not on file (see heldItems) — and its answer is
   * recorded in the same statement: the card and the answer of its request commit together.
   *
   * The cards' values travel as CARD_INPUT says. `answer: 'outcomes'` leaves the made cards out
   * of the statement's answer (a chunk, or a batch of card adds, needs only to know that they were
   * made: parsing a thousand rows is not free), which then names only the cards not made.
   */
  async insert(db: Kysely<DB>, rows: CardInsert[], answer: 'cards' | 'outcomes' = 'cards'): Promise<InsertOutcome[]> {
    const seen = new Set<string>();
    const sent = rows.filter((r) => { const key = r.existing ? `${r.hash}.${r.sequence}` : r.hash; return !seen.has(key) && seen.add(key); });
    // Each card's audit record, and its request's own (its reads and refusals, going with its answer: almost always none).
    const auditInsert = auditInsertOfItems(sent.map((r) => [...(r.answer?.audit ?? []) as AuditRow[], ...(r.audit ? [r.audit] : [])]), sql`select i from made`);
    const cardValues = sql`h, seq, t, org, logo, acct, cust, exp, sc, ${CardStatus.active}::int, sdate, areq, aat, blk, n1, n2, dig, pst, psup, pin, pv, prof, by_, mreq, mseq`;
    // What the statement reads of the made cards: all of each, or what its other rows need.
    const returned = answer === 'cards' ? sql`*` : sql`id, pan_hash, card_sequence, pan_token, organization`;
    // The request-id clauses only when a card comes with its request's answer (card add): a
    // mass-issue chunk, an instant card or a card action's card (answered by its caller's
    // transaction) goes without them, and PostgreSQL opens idempotency_keys and its indexes for
    // none of them (an instant card's insert: 454 µs of execution a call, 497 with them; pg_stat_statements).
    const answered = sent.some((r) => r.answer !== undefined);
    const result = await sql<CardRow & { item: string; made_: boolean; number_new: boolean; key_taken: boolean }>`
      with input as (${batchInput(sent, CARD_INPUT)}
      ), ${answered ? heldItems() : EVERY_ITEM_GOES}, n as (
        insert into card_numbers (pan_hash, pan_token, pan_encrypted, bin, last4, organization, logo)
        select h, t, e, bin, l4, org, logo from go where not ex
        on conflict do nothing
        returning pan_hash
      ), c as (
        insert into cards ${CARD_COLUMNS} select ${cardValues} from go where not ex and h in (select pan_hash from n)
        returning ${returned}
      ), c_seq as (
        insert into cards ${CARD_COLUMNS} select ${cardValues} from go where ex
        on conflict do nothing
        returning ${returned}
      ), made as (
        select c.*, go.i from (select * from c union all select * from c_seq) c join go on go.h = c.pan_hash and go.seq = c.card_sequence
      ), ${answered ? ANSWERS_OF_MADE : NO_ANSWERS}audit as (${auditInsert}), ev as (${eventsInsertFrom(sql`
        select 'card.issued', made.pan_token, made.organization,
          case when u.mreq is null then u.evdata else u.evdata || jsonb_build_object('massIssue', u.mreq::text, 'position', u.mseq) end
        from made join input u using (i) order by made.i`)}
      ), p as (${recordsInsertFrom(sql`
        select u.p_org, u.p_logo, made.id, u.p_reason, u.p_ref, u.p_record, u.p_cipher, u.p_kcv, u.p_file from made join input u using (i)
        where u.p_record is not null`)}
      )
      select ${answer === 'cards' ? sql`m.*,` : sql``} u.i as item, m.i is not null as made_, (u.ex or u.h in (select pan_hash from n)) as number_new,
        ${answered ? keyTaken() : sql`false`} as key_taken
      from input u left join made m on m.i = u.i
      ${answer === 'cards' ? sql`` : sql`where m.i is null`}`.execute(db);
    const outcomes = new Map<number, InsertOutcome>();
    for (const { item, made_, number_new: numberNew, key_taken: requestIdTaken, ...card } of result.rows) {
      delete (card as { i?: unknown }).i;
      outcomes.set(Number(item), {
        made: made_, numberTaken: !made_ && !requestIdTaken && !numberNew, requestIdTaken: !made_ && requestIdTaken,
        ...(made_ && answer === 'cards' ? { card: card as CardRow } : {}),
      });
    }
    // Asked for outcomes, the statement answers only the cards it did not make: almost always none.
    const bySent = new Map(sent.map((r, k) => [r, outcomes.get(k + 1) ?? { made: true, numberTaken: false, requestIdTaken: false }]));
    // A row left out as a repeat of an earlier one in this call: its number is taken (by that one).
    return rows.map((r) => bySent.get(r) ?? { made: false, numberTaken: true, requestIdTaken: false });
  }
}
