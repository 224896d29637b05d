import { sql, type Kysely, type Selectable } from 'kysely';
import type { CardTable, DB } from '../../db/schema.ts';
import { RequestTakenOver, withoutAnswer, type Actor, type RecordedAnswer } from '../../shared/actor.ts';
import type { Clock } from '../../shared/clock.ts';
import { Batcher, byOrdinality, column, commaList } from '../../shared/batcher.ts';
import { refusal as fail } from '../../shared/errors.ts';
import { isBlankNumber, pad19, recordNumber } from '../../shared/ids.ts';
import { isStorableAmount } from '../../shared/schema.ts';
import { generateCardNumber, isLuhnValid } from '../../crypto/luhn.ts';
import { MAX_ISSUE_CARDS, type IssuedCardValues, type PinVerificationMethod, type SecurityModule } from '../../security-module/port.ts';
import { auditInsertOfItems, auditRow, recordAudit, type AuditRow } from '../audit/index.ts';
import { eventsInsertFrom, recordEvent, recordEvents } from '../events/index.ts';
import { ANSWER_COLUMNS, answerArrays, answeredWrite, answersOf, heldItems, holdsRequestId } from '../idempotency/index.ts';
import type { KeysService } from '../keys/index.ts';
import type { Logo, Organization, OrganizationsService } from '../organizations/index.ts';
import { outboxRecord, splitName, type OutboxRecord, type PersonalizationOutbox } from '../personalization/index.ts';
import { toAccount, type Account, type AccountsService } from '../accounts/index.ts';
import type { CustomersService } from '../customers/index.ts';
import type { CardVault } from './card-vault.ts';
import { cardDetailsBody, type CardDetailsResponse } from './card-details.ts';
import type {
  CardActionRequest, CardActionResponse, CardActivationRequest, CardAddRequest, CardDetailsRequest, CardStatusRequest, CustomerCardsQuery, InstantCardRequest, PanInquiryRequest,
} from './cards.schemas.ts';

type Code = readonly [string, string];

/** An accounts row as `to_jsonb` gives it. */
type AccountRow = Parameters<typeof toAccount>[0];

/** A card as a client names it: by PAN token or by the keyed hash of its number; a sequence or the latest. */
interface CardKey { organization: number; token: string | null; hash: string | null; sequence: number | null }

/** Codes: upstream (FirstVision Cards / Accounts 1.3.0) where one fits, emboss's own EMBC… otherwise. */
export const CardCodes = {
  orgNotFound: ['VPL5SAD07S', 'REQUESTED ORG NUMBER IS NOT FOUND'],
  accountNotFound: ['VPL5SCI11S', 'ACCOUNT NUMBER NOT FOUND'],
  accountClosed: ['VPL5SCIA2S', 'ACCOUNT RECORD IS IN CLOSED STATUS'],
  accountBlocked: ['EMBC05E', 'ACCOUNT IS BLOCKED - NO CARD OPERATIONS'],
  customerNotFound: ['VPL5SIC13S', 'CUSTOMER RECORD NOT FOUND OR ADD PENDING'],
  logoNotFound: ['VPL5SCI06S', 'LOGO RECORD NOT FOUND'],
  cardNotFound: ['VPL5SCI09S', 'EMBOSSER RECORD NOT FOUND'],
  cardOrAccountNotFound: ['VPL5SCI05S', 'REQUESTED CARD / ACCOUNT NUMBER IS NOT FOUND'],
  rangeExhausted: ['EMBC01E', 'NO FREE CARD NUMBER LEFT IN THE LOGO BIN RANGE'],
  notLuhn: ['EMBC02E', 'CARD NUMBER FAILS THE LUHN CHECK'],
  wrongBin: ['EMBC03E', 'CARD NUMBER DOES NOT MATCH THE LOGO BIN AND LENGTH'],
  cardExists: ['EMBC04E', 'CARD NUMBER ALREADY ON FILE'],
  cardExpired: ['EMBC06E', 'CARD IS EXPIRED'],
  cardNotActive: ['EMBC07E', 'CARD IS NOT ACTIVE'],
  cardBlocked: ['EMBC09E', 'CARD IS BLOCKED'],
  cardNeedsActivation: ['EMBC10E', 'CARD IS NOT ACTIVATED'],
  badExpiry: ['EMBC08E', 'EXPIRATION DATE MUST BE A FUTURE MONTH WITHIN 20 YEARS'],
  panZeros: ['VPL5SEA04E', 'INPUT PAN NUMBER SHOULD NOT BE SPACES OR ZEROS'],
  tokenSwitchOff: ['VPL5SEA16S', 'REQUEST FOR PAN TOKEN, BUT ORG LVL PAN TOKEN SW INACTIVE'],
  badEncryptedPan: ['VPL5SIE32S', 'ENC-FAILURE INV LENGTH'],
  statusOrgNotFound: ['VPL5SCS09S', 'ORGANIZATION NUMBER IS NOT FOUND'],
  statusCardNotFound: ['VPL5SCS0BS', 'CARD NUMBER NOT FOUND'],
  statusAccountClosed: ['VPL5SCS0GE', 'ACCOUNT IS CLOSED'],
  statusInvalid: ['VPL5SCS0IE', 'INVALID CARD STATUS PROVIDED'],
  statusSame: ['VPL5SCS0JE', 'CURRENT CARD STATUS IS SAME AS NEW STATUS'],
  statusFinal: ['VPL5SCS0KE', 'CURRENT CARD STATUS-3 CANNOT BE UPDATED'],
  statusExpired: ['VPL5SCS0LE', 'CARD EXPIRED,CANNOT UPDATE STATUS'],
  activationOrgNotFound: ['VPL5SEA02S', 'ORGANIZATION NUMBER NOT FOUND'],
  activationBadType: ['VPL5SEA03E', 'FUNCTION TYPE IS INVALID, VALID VALUES A OR S'],
  activationAccountNeedsA: ['VPL5SEA04S', "FUNCTION TYPE MUST BE 'A' WHEN ACCOUNT NUMBER IS PROVIDED"],
  activationCardNotFound: ['VPL5SEA05S', 'CARD NUMBER NOT FOUND'],
  customerCardsOrgNotFound: ['VPL5SCE06S', 'ORGANIZATION RECORD NOT FOUND'],
  customerCardsNone: ['VPL5SCE07E', 'NO VALID CARDS ARE ASSOCIATED WITH THIS CUSTOMER'],
  customerCardsNeedStart: ['VPL5SCE08E', 'START ORG & ACCT SHOULD BE PROVIDED WHEN SVC FUNC CODE IS N OR P'],
  instantOrgNotFound: ['VPL5SIC11S', 'ORGANIZATION NOT FOUND ON FILE'],
  instantLogoNotFound: ['VPL5SIC14S', 'LOGO NOT FOUND ON FILE'],
  instantBadCreateFlag: ['VPL5SIC07S', "ACCOUNT CREATE VALID VALUES ARE 'Y' OR 'N'"],
  instantAccountNotFound: ['VPL5SIC17S', 'ACCOUNT NUMBER NOT FOUND'],
  instantNameBlank: ['VPL5SIC21S', 'EMBOSSER NAME CANNOT BE SPACES'],
  instantBadSameDayType: ['VPL5SIC08S', 'SDP PROCESS TYPE VALID VALUE ARE 0 OR 1'],
  instantBadCardAction: ['VPL5SIC20S', 'CARD ACTION VALID VALUES ARE 0 OR 1'],
  instantAccountGiven: ['VPL5SIC22S', "ACCOUNT NUMBER SHOULD BE SPACES WHEN ACCT CREATE IS 'Y'"],
  instantBadCustomer: ['VPL5SIC05S', 'CUSTOMER NUMBER IS INVALID'],
  cardNumberNotDigits: ['EMBC14E', 'CARD NUMBER MUST BE DIGITS, OR SPACES OR ZEROS TO GENERATE ONE'],
  badBlockCode: ['EMBC15E', 'BLOCK CODE MUST BE A LETTER A TO Z OR SPACE'],
  amountTooLarge: ['EMBC16E', 'AMOUNT MUST BE LESS THAN 1,000,000,000,000,000'],
} as const satisfies Record<string, Code>;

/** The amounts of a card's spending limits (card add, instant card): each below 1e15 (AMOUNT_MAX). */
const SPENDING_AMOUNTS = [
  'atmCashAmount', 'atmCashSingleTransactionLimit', 'overTheCounterCashAmount', 'overTheCounterCashSingleTransactionLimit',
  'retailPurchaseAmt', 'retailPurchaseSingleTransactionLimit', 'internetPurchaseAmount', 'internetPurchaseSingleTransactionLimit',
] as const;
const amountsStorable = (fields: Partial<Record<(typeof SPENDING_AMOUNTS)[number], number>>) => SPENDING_AMOUNTS.every((k) => isStorableAmount(fields[k]));

/** A card block code as VisionPLUS keeps it: one upper-case letter, or none (''); undefined when it is neither. */
export function blockCodeOf(value: string | undefined): string | undefined {
  const code = (value ?? '').trim().toUpperCase();
  return /^[A-Z]?$/.test(code) ? code : undefined;
}

/** Card status (the upstream cardStatus 0–3). */
export const CardStatus = { active: 0, inactive: 1, blocked: 2, closed: 3 } as const;

/** How many draws of a fresh number may collide before the BIN range counts as exhausted. */
const MAX_NUMBER_DRAWS = 32;
const PAGE_SIZE = 20;

export type CardRow = Selectable<CardTable>;

/**
 * The calling client. PCI scope does not change how a response shows a card number (see
 * `shownCardNumber`); it governs the values given under the client's card-number key
 * (`encryptedCardNumber`, encrypted tracks) and card-pan.
 */
export interface Viewer {
  pci: boolean;
  /** Name of the client's card-number key (ZEK), if it has one. */
  cardNumberKey: string | null;
}

/** Everything needed to issue one card (a new number, or a given one). */
export interface IssueSpec {
  organization: Organization;
  logo: Logo;
  account: Account;
  customerNumber: string;
  /** A given card number (portfolio migration); absent: drawn from the logo's BIN. */
  pan?: string;
  sequence: number;
  expiry: string;
  serviceCode: string;
  embossedName1: string;
  embossedName2: string;
  activationRequired: boolean;
  pinSuppressed: boolean;
  digital: boolean;
  blockCode: string;
  profile: Record<string, unknown>;
  action: string;
  /** The logo's PVK key block, looked up before the transaction (absent when the PIN is suppressed). */
  pvk?: string;
  /**
   * A new sequence of a number already issued (card actions): the number is not drawn or
   * inserted again; `pin`, when given, is kept (same number, same PIN: no PIN mailer) instead of
   * generating one.
   */
  existing?: { pan: string; panHash: string; token: string; pin?: { storedPinBlock: string; pvv?: string; offset?: string } };
}

/** The rows of one card as `insertCards` writes them (the security-module work done). */
interface CardInsert {
  hash: string; token: string; encrypted: string; bin: string; last4: string;
  /** The number is already on file (a new sequence of it): only the card is inserted. */
  existing: boolean;
  organization: number; logo: number; sequence: number; account: string; customer: string; expiry: string; serviceCode: string;
  statusDate: string; activationRequired: boolean; activatedAt: Date | null; blockCode: string; embossedName1: string; embossedName2: string;
  digital: boolean; plasticStatus: string; pinSuppressed: boolean; pinStored: string | null; pinVerification: string | null;
  /** JSON text. */
  profile: string;
  createdBy: string;
  audit: AuditRow;
  plastic: OutboxRecord | undefined;
  /** The request's answer, recorded with the card (card add): see insertAnswered. */
  answer?: RecordedAnswer | undefined;
}

/** A mass-issue card whose security-module work is done, ready to insert. */
export interface PreparedMassCard {
  last4: string;
  hash: string;
  token: string;
  encrypted: string;
  pin: { storedPinBlock: string; pvv?: string; offset?: string };
  plastic: OutboxRecord | undefined;
}

/** A chunk of a mass issue: positions in the request, one account per position. */
export interface MassIssueSpec {
  actor: Actor;
  requestId: string;
  organization: Organization;
  logo: Logo;
  pvk: string;
  customerNumber: string;
  expiry: string;
  serviceCode: string;
  embossedName1: string;
  embossedName2: string;
  positions: number[];
  accounts: string[];
  /** The bureau file each position's record goes into (a mass issue's FILLING files), or none yet. */
  fileIds?: Array<string | null>;
}

/** PUT /cards/embosser/cardAction-L8V2 (card-actions.ts), handed in by the composition root. */
export type CardActionHandler = (actor: Actor, request: CardActionRequest, viewer: Viewer) => Promise<CardActionResponse>;

export interface IssuedCard {
  pan: string;
  token: string;
  sequence: number;
  expiry: string;
  card: CardRow;
}

export interface CardsDeps {
  db: Kysely<DB>;
  sm: SecurityModule;
  keys: KeysService;
  vault: CardVault;
  organizations: OrganizationsService;
  accounts: AccountsService;
  customers: CustomersService;
  clock: Clock;
  /** Personalization records for the bureau, one per new plastic. */
  personalization: PersonalizationOutbox;
  /** Draws a candidate card number (BIN + random body + Luhn digit). Tests inject a tiny range. */
  drawCardNumber?: (bin: string, length: number) => string;
  /** Test hook: runs inside the instant-card transaction between the account and the card writes. */
  afterInstantAccount?: () => Promise<void>;
}

/** YYMM of a Date (UTC). */
const yymm = (d: Date) => `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
/** The last day of a YYMM month, as ISO date. */
export const expiryDate = (expiry: string) =>
  new Date(Date.UTC(2000 + Number(expiry.slice(0, 2)), Number(expiry.slice(2, 4)), 0)).toISOString().slice(0, 10);
/** A card expires at the end of its expiry month. */
export const isExpired = (expiry: string, now: Date) => expiryDate(expiry) < now.toISOString().slice(0, 10);

/** A card number masked as upstream shows it: first 4 and last 4 digits, lower-case x between, as long as the number. */
export const maskPan = (pan: string): string => pan.slice(0, 4) + 'x'.repeat(Math.max(0, pan.length - 8)) + pan.slice(-4);

/**
 * What a response shows for a card number — the one place that decides it
 * (docs/wire-compatibility.md: Card numbers in responses): the PAN token when the organization has
 * PAN tokens, otherwise the masked number (`maskPan`). Never the clear number, whatever the
 * client's scope: that leaves emboss only through card-pan (under the client's card-number key)
 * and the bureau channel. `pan` is the clear number, or how to read it (only read when masked).
 */
export async function shownCardNumber(org: Pick<Organization, 'panTokenEnabled'>, token: string, pan: string | (() => Promise<string>)): Promise<string> {
  if (org.panTokenEnabled) return token;
  return maskPan(typeof pan === 'string' ? pan : await pan());
}

export function pinMethodOf(logo: Logo): PinVerificationMethod {
  return logo.pin.method === 'PVV'
    ? { kind: 'PVV', pvki: String(logo.pin.pvki) }
    : { kind: 'IBM3624', decimalizationTable: logo.pin.decimalizationTable, pinLength: logo.pin.length };
}

/**
 * The first reason a card may not be used now, or undefined: account closed or blocked, card
 * closed, inactive or blocked, awaiting activation, expired.
 */
export function cardProblem(card: CardRow, account: Account | undefined, now: Date): Code | undefined {
  if (!account) return CardCodes.accountNotFound;
  const problem = accountProblem(account);
  if (problem) return problem;
  if (card.status !== CardStatus.active) return CardCodes.cardNotActive;
  if (card.block_code !== '') return CardCodes.cardBlocked;
  if (isExpired(card.expiry, now)) return CardCodes.cardExpired;
  if (card.activation_required) return CardCodes.cardNeedsActivation;
  return undefined;
}

/**
 * Why the cards of an account may not be used, nor new ones issued on it (card add, instant card),
 * or undefined: the account is closed, or has a block code in either slot.
 */
export function accountProblem(account: Account): Code | undefined {
  if (account.status === 'C') return CardCodes.accountClosed;
  if (account.blockCode1 !== '' || account.blockCode2 !== '') return CardCodes.accountBlocked;
  return undefined;
}

export class CardsService {
  private readonly db: Kysely<DB>;
  private readonly draw: (bin: string, length: number) => string;
  private cardActions: CardActionHandler | undefined;

  private readonly lookups = new Batcher((keys: CardKey[]) => this.lookUp(keys, false));
  private readonly lookupsWithAccount = new Batcher((keys: CardKey[]) => this.lookUp(keys, true));
  private readonly inserts = new Batcher((rows: CardInsert[]) => this.insertCards(this.db, rows));

  constructor(private readonly deps: CardsDeps) {
    this.db = deps.db;
    this.draw = deps.drawCardNumber ?? ((bin, length) => generateCardNumber(bin, length));
  }

  /** Card actions live in card-actions.ts (which builds on this service): wired at start-up. */
  useCardActions(handler: CardActionHandler): void {
    this.cardActions = handler;
  }

  /** PUT /cards/embosser/cardAction-L8V2: the card action table (card-actions.ts, README: Card actions). */
  async cardAction(actor: Actor, request: CardActionRequest, viewer: Viewer): Promise<CardActionResponse> {
    if (!this.cardActions) throw new Error('card actions are not wired (container)');
    return this.cardActions(actor, request, viewer);
  }

  // --- issuing ---------------------------------------------------------------------------

  /** POST /cards/embosser/l8vf */
  async add(actor: Actor, request: CardAddRequest) {
    const org = request.organizationNumber;
    const organization = await this.deps.organizations.organization(org);
    if (!organization) throw fail(CardCodes.orgNotFound);
    // Upstream types these as text (and amounts of 17 digits): what cannot be meant is a 422.
    const givenNumber = request.cardNumber.trim();
    if (!isBlankNumber(givenNumber) && !/^[0-9]+$/.test(givenNumber)) throw fail(CardCodes.cardNumberNotDigits);
    const blockCode = blockCodeOf(request.blockCode);
    if (blockCode === undefined) throw fail(CardCodes.badBlockCode);
    if (!amountsStorable(request)) throw fail(CardCodes.amountTooLarge);
    const cardholder = recordNumber(request.customerNumber);
    if (cardholder === null) throw fail(CardCodes.customerNotFound);
    const postTo = recordNumber(request.postToAccount);
    const account = postTo ? await this.deps.accounts.find(org, postTo) : undefined;
    if (!account) throw fail(CardCodes.accountNotFound);
    const problem = accountProblem(account);
    if (problem) throw fail(problem);
    const logo = await this.deps.organizations.logo(org, account.logo);
    if (!logo) throw fail(CardCodes.logoNotFound);
    const customerNumber = cardholder ?? account.customerNumber;
    if (customerNumber !== account.customerNumber && !(await this.deps.customers.find(org, customerNumber))) throw fail(CardCodes.customerNotFound);
    const pan = isBlankNumber(givenNumber) ? undefined : givenNumber.replace(/^0+/, '');
    if (pan !== undefined) this.checkGivenNumber(pan, logo);

    const pvk = request.pinSuppression === 1 ? undefined : (await this.deps.keys.require(logo.keys.pvk, 'PVK')).keyBlock;
    const answerOf = async (card: Pick<IssuedCard, 'pan' | 'token' | 'sequence'>) => ({
      organizationNumber: org,
      organizationAssociatedToForeignAccount: 0,
      logo: logo.number,
      accountNumber: account.accountNumber,
      cardNumber: await shownCardNumber(organization, card.token, card.pan),
      cardSequence: card.sequence,
      currentChipSequenceNumber: 1,
    });
    const issued = await this.issue(this.db, actor, {
      organization, logo, account, customerNumber, ...(pvk ? { pvk } : {}),
      ...(pan !== undefined ? { pan } : {}),
      sequence: request.cardSequence && request.cardSequence > 0 ? request.cardSequence : 1,
      expiry: this.expiryFor(logo, request.expirationDate),
      serviceCode: request.posServiceCode !== undefined ? String(request.posServiceCode).padStart(3, '0') : logo.serviceCode,
      embossedName1: (request.embossedName1 ?? '').trim(),
      embossedName2: (request.embossedName2 ?? '').trim(),
      activationRequired: request.currentCardActivation === 'Y',
      pinSuppressed: request.pinSuppression === 1,
      digital: request.digitalCardFlag === 1,
      blockCode,
      profile: profileOf(request, ['organizationNumber', 'postToAccount', 'cardNumber', 'cardSequence', 'pinSuppression', 'currentCardActivation', 'blockCode', 'digitalCardFlag', 'embossedName1', 'embossedName2', 'expirationDate', 'customerNumber', 'posServiceCode']),
      action: 'card.add',
    }, answerOf);
    return await answerOf(issued);
  }

  /**
   * Issues one card, inside the caller's transaction if `db` is one: a card number that was never
   * issued before (drawn again on collision; the database's primary key decides), its token, the
   * encrypted number, a PIN unless suppressed, the card record, its audit record and its bureau
   * record (insertCards). Outside a transaction, `answerOf` makes the request's answer, recorded
   * with the card in the same transaction (a card without its answer is never committed); inside
   * one, the caller answers.
   */
  async issue(db: Kysely<DB>, actor: Actor, spec: IssueSpec, answerOf?: (card: Pick<IssuedCard, 'pan' | 'token' | 'sequence'>) => Promise<unknown>): Promise<IssuedCard> {
    const { logo } = spec;
    const now = this.deps.clock.now();
    const { existing } = spec;
    for (let draws = 0; ; draws++) {
      if (spec.pan === undefined && !existing && draws >= MAX_NUMBER_DRAWS) throw fail(CardCodes.rangeExhausted);
      const pan = existing?.pan ?? spec.pan ?? this.draw(logo.bin, logo.panLength);
      const p = existing ? { hash: existing.panHash, token: existing.token, encrypted: '' } : await this.deps.vault.protect(pan, logo.bin.length);
      let pin: { storedPinBlock: string; pvv?: string; offset?: string } | undefined;
      if (!spec.pinSuppressed) {
        if (existing?.pin) pin = existing.pin;
        else if (!spec.pvk) throw new Error('issue: the PVK key block is required to issue a PIN');
        else pin = await this.deps.sm.generatePin({ pvk: spec.pvk, pan, method: pinMethodOf(logo) });
      }
      const plastic = spec.digital ? undefined : await this.deps.personalization.recordFor({
        organization: spec.organization, logo, pan, reference: `${p.token}.${spec.sequence}`, expiry: spec.expiry, serviceCode: spec.serviceCode,
        embossedName1: spec.embossedName1, embossedName2: spec.embossedName2, reason: spec.action,
        ...(pin ? { pin: { method: pinMethodOf(logo), ...pin, ...(existing?.pin ? { mailer: false } : {}) } } : {}),
      }, db);
      const row: CardInsert = {
        hash: p.hash, token: p.token, encrypted: p.encrypted, bin: logo.bin, last4: pan.slice(-4), existing: existing !== undefined,
        organization: logo.organization, logo: logo.number, sequence: spec.sequence, account: spec.account.accountNumber,
        customer: spec.customerNumber, expiry: spec.expiry, serviceCode: spec.serviceCode, statusDate: now.toISOString().slice(0, 10),
        activationRequired: spec.activationRequired, activatedAt: spec.activationRequired ? null : now, blockCode: spec.blockCode,
        embossedName1: spec.embossedName1, embossedName2: spec.embossedName2, digital: spec.digital,
        plasticStatus: spec.digital ? 'NONE' : 'PENDING', pinSuppressed: spec.pinSuppressed,
        pinStored: pin?.storedPinBlock ?? null, pinVerification: pin ? (pin.pvv ?? pin.offset ?? null) : null,
        profile: JSON.stringify(spec.profile), createdBy: actor.clientId,
        audit: auditRow(actor, {
          action: spec.action, entityType: 'card', entityId: p.token, organization: logo.organization,
          details: { accountNumber: spec.account.accountNumber, sequence: spec.sequence, logo: logo.number, digital: spec.digital, pin: pin ? 'issued' : 'suppressed' },
        }),
        plastic,
      };
      // Outside a transaction (card add), concurrent requests' cards go to the database together.
      if (db === this.db && answerOf && actor.answer) row.answer = await actor.answer({ result: await answerOf({ pan, token: p.token, sequence: spec.sequence }) });
      const card = db === this.db ? await this.inserts.submit(row) : (await this.insertCards(db, [row]))[0];
      if (card) return { pan, token: p.token, sequence: spec.sequence, expiry: spec.expiry, card };
      // Not made: its number was taken (drawn again below), or this run lost its request id.
      if (row.answer && !(await holdsRequestId(this.db, row.answer))) throw new RequestTakenOver();
      if (spec.pan !== undefined || existing) throw fail(CardCodes.cardExists);
    }
  }

  /**
   * One statement for the rows of any number of cards: each one's number (unless it names an
   * existing one), the card, its audit record and its bureau record, all or nothing, with no
   * transaction round trips. Answers, per card, its row, or undefined when its number (or, for an
   * existing number, its sequence) is already taken: a collision, drawn again by the caller. A
   * number twice in one call is taken by the first.
   *
   * ON CONFLICT has no target on purpose: with a target, only that index is an arbiter, and a
   * second transaction inserting the same number at the same moment fails on the pan_token index
   * (the token is a function of the number) with a unique violation instead of inserting nothing.
   * Without one, every unique index is an arbiter.
   *
   * A card that comes with its request's answer (card add) is made only while its run holds the
   * request id — the key's row is locked (FOR UPDATE) for the statement, so no retry can take it
   * over meanwhile — and its answer is recorded in the same statement: the card and the answer of
   * its request commit together, one statement for the whole batch.
   */
  private async insertCards(db: Kysely<DB>, rows: CardInsert[]): Promise<Array<CardRow | undefined>> {
    const seen = new Set<string>();
    const sent = rows.filter((r) => { const key = r.existing ? `${r.hash}.${r.sequence}` : r.hash; return !seen.has(key) && seen.add(key); });
    const col = <K extends keyof CardInsert>(key: K) => column(sent, key);
    const audit = sent.map((r) => r.audit);
    const plastic = <K extends keyof OutboxRecord>(key: K) => sent.map((r) => r.plastic?.[key] ?? null);
    // The requests' own audit records (their reads, refusals) go with their answers: almost always none.
    const journalInsert = auditInsertOfItems(sent.map((r) => (r.answer?.audit ?? []) as AuditRow[]), sql`select i from made`);
    const result = await sql<CardRow & { i: string }>`
      with input as (
        select * from unnest(${col('hash')}::text[], ${col('token')}::text[], ${col('encrypted')}::text[], ${col('bin')}::text[],
          ${col('last4')}::text[], ${col('existing')}::boolean[], ${col('organization')}::int[], ${col('logo')}::int[], ${col('sequence')}::int[],
          ${col('account')}::text[], ${col('customer')}::text[], ${col('expiry')}::text[], ${col('serviceCode')}::text[], ${col('statusDate')}::date[],
          ${col('activationRequired')}::boolean[], ${col('activatedAt')}::timestamptz[], ${col('blockCode')}::text[], ${col('embossedName1')}::text[],
          ${col('embossedName2')}::text[], ${col('digital')}::boolean[], ${col('plasticStatus')}::text[], ${col('pinSuppressed')}::boolean[],
          ${col('pinStored')}::text[], ${col('pinVerification')}::text[], ${col('profile')}::jsonb[], ${col('createdBy')}::text[],
          ${column(audit, 'actor')}::text[], ${column(audit, 'request_id')}::text[], ${column(audit, 'action')}::text[], ${column(audit, 'entity_type')}::text[],
          ${column(audit, 'entity_id')}::text[], ${column(audit, 'organization')}::int[], ${column(audit, 'details')}::jsonb[],
          ${plastic('organization')}::int[], ${plastic('logo')}::int[], ${plastic('reason')}::text[], ${plastic('reference')}::text[],
          ${plastic('encrypted_record')}::text[], ${plastic('cipher')}::text[], ${plastic('bureau_kcv')}::text[],
          ${answerArrays(sent.map((r) => r.answer))})
          with ordinality as u(h, t, e, bin, l4, ex, org, logo, seq, acct, cust, exp, sc, sdate, areq, aat, blk, n1, n2, dig, pst, psup, pin, pv, prof, by_,
            a_actor, a_request, a_action, a_type, a_id, a_org, a_details, p_org, p_logo, p_reason, p_ref, p_record, p_cipher, p_kcv,
            ${ANSWER_COLUMNS}, i)
      ), ${heldItems()}, n as (
        insert into card_numbers (pan_hash, pan_token, pan_encrypted, bin, last4, organization, logo)
        select h, t, e, bin, l4, org, logo from go where not ex
        on conflict do nothing
        returning pan_hash
      ), c as (
        insert into cards (
          pan_hash, card_sequence, pan_token, organization, logo, account_number, customer_number, expiry, service_code,
          status, status_date, activation_required, activated_at, block_code, embossed_name_1, embossed_name_2, digital,
          plastic_status, pin_suppressed, pin_stored, pin_verification, profile, created_by
        )
        select h, seq, t, org, logo, acct, cust, exp, sc, ${CardStatus.active}::int, sdate, areq, aat, blk, n1, n2, dig, pst, psup, pin, pv, prof, by_
        from go where ex or h in (select pan_hash from n)
        on conflict do nothing
        returning *
      ), made as (
        select c.*, go.i from c join go on go.h = c.pan_hash and go.seq = c.card_sequence
      ), answered as (${answersOf('made')}
      ), journal as (${journalInsert}), a as (
        insert into audit_events (actor, request_id, action, entity_type, entity_id, organization, details)
        select u.a_actor, u.a_request, u.a_action, u.a_type, u.a_id, u.a_org, u.a_details from made join input u using (i)
      ), ev as (${eventsInsertFrom(sql`
        select 'card.issued', made.pan_token, made.organization, jsonb_build_object('cause', u.a_action, 'sequence', made.card_sequence,
          'logo', made.logo, 'digital', made.digital, 'activationRequired', made.activation_required)
        from made join input u using (i) order by made.i`)}
      ), p as (
        insert into personalization_records (organization, logo, card_id, reason, reference, encrypted_record, cipher, bureau_kcv)
        select u.p_org, u.p_logo, made.id, u.p_reason, u.p_ref, u.p_record, u.p_cipher, u.p_kcv from made join input u using (i)
        where u.p_record is not null
      )
      select * from made`.execute(db);
    const bySent = byOrdinality(sent.length, result.rows, (row) => row as CardRow);
    const made = new Map(sent.map((r, k) => [r, bySent[k]]));
    return rows.map((r) => made.get(r));
  }

  /**
   * Issues many unnamed cards at once (mass issue), inside the caller's transaction: one
   * multi-row statement per table instead of one per card. Each card gets its account, a new
   * number (collisions drawn again), token, encrypted number, PIN and bureau record; the
   * (request, position) key on cards makes a position impossible to issue twice.
   */
  async issueMany(db: Kysely<DB>, spec: MassIssueSpec, ready: PreparedMassCard[] = []): Promise<number> {
    const { logo } = spec;
    const today = this.deps.clock.now().toISOString().slice(0, 10);

    // Numbers first: insert what is new, draw again for the collisions.
    const prepared: PreparedMassCard[] = [];
    let batch = ready.slice(0, spec.positions.length);
    for (let draws = 0; prepared.length < spec.positions.length; draws++) {
      if (draws >= MAX_NUMBER_DRAWS) throw fail(CardCodes.rangeExhausted);
      if (batch.length === 0) batch = await this.prepareMass(spec, spec.positions.length - prepared.length);
      // The same number drawn twice in one batch: ON CONFLICT DO NOTHING inserts it once, so
      // both would look inserted. Keep the first; the other is drawn again.
      const once = new Set<string>();
      const unique: PreparedMassCard[] = [];
      for (const b of batch) if (!once.has(b.hash)) { once.add(b.hash); unique.push(b); }
      // Only the numbers already issued come back (collisions, drawn again), not every inserted one.
      const taken = await sql<{ h: string }>`
        with input as (
          select * from unnest(string_to_array(${commaList(column(unique, 'hash'))}, ','), string_to_array(${commaList(column(unique, 'token'))}, ','),
            string_to_array(${commaList(column(unique, 'encrypted'))}, ','), string_to_array(${commaList(column(unique, 'last4'))}, ',')) as u(h, t, e, l)
        ), inserted as (
          insert into card_numbers (pan_hash, pan_token, pan_encrypted, bin, last4, organization, logo)
          select h, t, e, ${logo.bin}, l, ${logo.organization}::int, ${logo.number}::int from input
          on conflict do nothing -- no target: see insertCards()
          returning pan_hash
        )
        select h from input where h not in (select pan_hash from inserted)`.execute(db);
      const refused = new Set(column(taken.rows, 'h'));
      for (const b of unique) if (!refused.has(b.hash)) prepared.push(b);
      batch = [];
    }
    const pinBlocks: string[] = [];
    const pinReferences: string[] = [];
    for (const { pin } of prepared) {
      pinBlocks.push(pin.storedPinBlock);
      pinReferences.push(pin.pvv ?? pin.offset ?? '');
    }

    // Records of the cards that have one (all of a chunk, when the organization has a bureau),
    // matched to their card by number in the same statement: no card ids travel back and forth.
    const records: Array<OutboxRecord & { hash: string; file: string | null }> = [];
    for (let i = 0; i < prepared.length; i++) {
      const { plastic, hash } = prepared[i] as PreparedMassCard;
      if (plastic !== undefined) records.push({ ...plastic, hash, file: spec.fileIds?.[i] ?? null });
    }
    const made = await sql<{ n: number }>`
      with c as (
        insert into cards (
          pan_hash, card_sequence, pan_token, organization, logo, account_number, customer_number, expiry, service_code,
          status, status_date, activation_required, activated_at, block_code, embossed_name_1, embossed_name_2, digital,
          plastic_status, pin_suppressed, pin_stored, pin_verification, profile, created_by, mass_request_id, mass_seq
        )
        select h, 1, t, ${logo.organization}::int, ${logo.number}::int, a, ${spec.customerNumber}, ${spec.expiry}, ${spec.serviceCode},
          ${CardStatus.active}::int, ${today}::date, true, null::timestamptz, '', ${spec.embossedName1}, ${spec.embossedName2}, false,
          'PENDING', false, ps, pv, ${JSON.stringify({ massIssue: spec.requestId })}::jsonb, ${spec.actor.clientId}, ${spec.requestId}::bigint, q
        from unnest(string_to_array(${commaList(column(prepared, 'hash'))}, ','), string_to_array(${commaList(column(prepared, 'token'))}, ','),
          string_to_array(${commaList(spec.accounts)}, ','), string_to_array(${commaList(pinBlocks)}, ','), string_to_array(${commaList(pinReferences)}, ','),
          string_to_array(${commaList(spec.positions)}, ',')::int[]) as u(h, t, a, ps, pv, q)
        returning id, pan_hash, pan_token, mass_seq
      ), ev as (${eventsInsertFrom(sql`
        select 'card.issued', c.pan_token, ${logo.organization}::int, jsonb_build_object('cause', 'mass.issue', 'massIssue', ${spec.requestId}::text,
          'position', c.mass_seq, 'sequence', 1, 'logo', ${logo.number}::int, 'digital', false, 'activationRequired', true)
        from c order by c.mass_seq`)}
      ), r as (
        insert into personalization_records (organization, logo, card_id, reason, reference, encrypted_record, cipher, bureau_kcv, file_id)
        select ${logo.organization}::int, ${logo.number}::int, c.id, p.r, p.ref, p.e, p.ci, p.k, p.f
        from unnest(string_to_array(${commaList(column(records, 'hash'))}, ','), string_to_array(${commaList(column(records, 'reason'))}, ','),
          string_to_array(${commaList(column(records, 'reference'))}, ','), string_to_array(${commaList(column(records, 'encrypted_record'))}, ','),
          string_to_array(${commaList(column(records, 'cipher'))}, ','), string_to_array(${commaList(column(records, 'bureau_kcv'))}, ','),
          ${column(records, 'file')}::bigint[]) as p(h, r, ref, e, ci, k, f)
        join c on c.pan_hash = p.h
      )
      select count(*)::int as n from c`.execute(db);
    return Number(made.rows[0]?.n ?? 0);
  }

  /**
   * The security-module work for `n` mass-issue cards, done before (and while the previous
   * chunk is written) so the database and the crypto overlap: numbers drawn here, then token,
   * stored number, look-up hash, PIN and bureau record in one security-module call (issueCards),
   * which the software module runs on its own thread.
   */
  async prepareMass(spec: Pick<MassIssueSpec, 'organization' | 'logo' | 'pvk' | 'expiry' | 'serviceCode' | 'embossedName1' | 'embossedName2' | 'requestId'>, n: number): Promise<PreparedMassCard[]> {
    const { logo } = spec;
    const bureau = await this.deps.personalization.bureauKeys({ organization: spec.organization, logo });
    const { surname, given } = splitName(spec.embossedName1);
    const pans: string[] = [];
    for (let i = 0; i < n; i++) pans.push(this.draw(logo.bin, logo.panLength));
    const issued: IssuedCardValues[] = [];
    for (let from = 0; from < n; from += MAX_ISSUE_CARDS) {
      issued.push(...await this.deps.vault.issueCards(logo.bin.length, {
        pans: pans.slice(from, from + MAX_ISSUE_CARDS), pvk: spec.pvk, method: pinMethodOf(logo),
        expiryYYMM: spec.expiry, serviceCode: spec.serviceCode, cardholder: { surname, givenNames: given },
        embossLine1: spec.embossedName1, embossLine2: spec.embossedName2,
        ...(bureau ? { bur: bureau.bur, cvk: bureau.cvk, referenceSuffix: '1' } : {}),
      }));
    }
    const prepared: PreparedMassCard[] = [];
    for (let i = 0; i < issued.length; i++) {
      const c = issued[i] as IssuedCardValues;
      prepared.push({
        last4: (pans[i] as string).slice(-4), hash: c.hash, token: c.token, encrypted: c.encrypted, pin: c.pin,
        plastic: c.record && outboxRecord(spec.organization.number, logo.number, `mass.${spec.requestId}`, c.record),
      });
    }
    return prepared;
  }

  /** POST /account/v2/instantCard: the account (when asked) and an active card, in one transaction. */
  async instantCard(actor: Actor, request: InstantCardRequest) {
    const org = request.organizationNumber;
    const organization = await this.deps.organizations.organization(org);
    if (!organization) throw fail(CardCodes.instantOrgNotFound);
    const logo = await this.deps.organizations.logo(org, request.logo);
    if (!logo) throw fail(CardCodes.instantLogoNotFound);
    if (!['Y', 'N'].includes(request.accountCreateFlag)) throw fail(CardCodes.instantBadCreateFlag);
    // Upstream's value lists for these two (0 or 1) are in its 422 codes, not its schema.
    if (request.sameDayProcessingType !== undefined && request.sameDayProcessingType > 1) throw fail(CardCodes.instantBadSameDayType);
    if (request.cardActionFlag !== undefined && request.cardActionFlag > 1) throw fail(CardCodes.instantBadCardAction);
    // Upstream types the numbers as text: one that is not digits cannot name a record.
    const owner = recordNumber(request.customerNumber);
    if (!owner) throw fail(CardCodes.instantBadCustomer);
    if (!(await this.deps.customers.find(org, owner))) throw fail(CardCodes.customerNotFound);
    // No embosser data: a plastic card without an embossed name (refused just below).
    const e = request.embosserData ?? { digitalCardFlag: 0 };
    const digital = e.digitalCardFlag === 1;
    if (!digital && (e.embossedName1 ?? '').trim() === '') throw fail(CardCodes.instantNameBlank);
    // The cardholder, when other than the owner (an additional card): an existing customer.
    const cardholder = recordNumber(e.customerNumber);
    if (cardholder === null) throw fail(CardCodes.instantBadCustomer);
    if (cardholder && cardholder !== owner && !(await this.deps.customers.find(org, cardholder))) throw fail(CardCodes.customerNotFound);
    const customerNumber = cardholder ?? owner;
    if (!amountsStorable(e)) throw fail(CardCodes.amountTooLarge);
    const a = request.accountData ?? {};
    const givenAccount = recordNumber(a.accountNumber);
    if (request.accountCreateFlag === 'Y' && givenAccount !== undefined) throw fail(CardCodes.instantAccountGiven);
    const expiry = this.expiryFor(logo, e.expirationDate);
    const pvk = (await this.deps.keys.require(logo.keys.pvk, 'PVK')).keyBlock;

    return answeredWrite(this.db, actor, async (trx) => {
      let account: Account | undefined;
      if (request.accountCreateFlag === 'Y') {
        // The account data as account add takes it (and checks it), for the owner; block codes
        // upper-cased as VisionPLUS keeps them; the fields it does not model kept on the account.
        const { accountNumber: _none, billingCurrency, blockCode1, blockCode2, ...fields } = a;
        const created = await this.deps.accounts.add(withoutAnswer(actor), {
          accountData: {
            ...fields,
            organization: org, logo: logo.number, customerNumber: owner,
            ...(billingCurrency !== undefined ? { billingCurrency: String(billingCurrency) } : {}),
            ...(blockCode1 !== undefined ? { blockCode1: blockCode1.toUpperCase() } : {}),
            ...(blockCode2 !== undefined ? { blockCode2: blockCode2.toUpperCase() } : {}),
          },
        }, trx);
        account = await this.deps.accounts.find(org, created.accountNumber, trx);
      } else {
        account = givenAccount ? await this.deps.accounts.find(org, givenAccount, trx) : undefined;
        if (!account) throw fail(CardCodes.instantAccountNotFound);
      }
      // The checks of card add, on the account found or just made (a refusal rolls the new one back).
      const problem = accountProblem(account!);
      if (problem) throw fail(problem);
      await this.deps.afterInstantAccount?.();
      const issued = await this.issue(trx, actor, {
        organization, logo, account: account!, customerNumber, pvk,
        sequence: 1,
        expiry,
        serviceCode: e.posServiceCode !== undefined ? String(e.posServiceCode).padStart(3, '0') : logo.serviceCode,
        embossedName1: (e.embossedName1 ?? '').trim(),
        embossedName2: (e.embossedName2 ?? '').trim(),
        activationRequired: false,
        pinSuppressed: false,
        digital,
        blockCode: '',
        profile: {
          ...profileOf(e, ['embossedName1', 'embossedName2', 'expirationDate', 'customerNumber', 'posServiceCode', 'digitalCardFlag']),
          ...profileOf({ firstPurchaseFlag: request.firstPurchaseFlag, cardActionFlag: request.cardActionFlag, sameDayProcessingType: request.sameDayProcessingType }, []),
        },
        action: 'card.instant',
      });
      return {
        organizationNumber: org,
        logo: logo.number,
        customerNumber: owner,
        accountNumber: account!.accountNumber,
        cardNumber: await shownCardNumber(organization, issued.token, issued.pan),
        cardSequenceNumber: issued.sequence,
        creditLimit: account!.creditLimit,
        cardExpiryDate: expiryDate(issued.expiry),
      };
    });
  }

  // --- finding cards ---------------------------------------------------------------------

  /**
   * The card a client names: a PAN token, or a clear number (zero-padded to 19 or not), of the
   * organization; the given sequence, or the latest one.
   */
  async resolve(organization: number, number: string, sequence?: number, db: Kysely<DB> = this.db): Promise<(CardRow & { pan_encrypted: string }) | undefined> {
    const key = await this.cardKey(organization, number, sequence);
    if (!key) return undefined;
    // Outside a transaction, concurrent look-ups go to the database together (one statement).
    if (!db.isTransaction) return this.lookups.submit(key);
    // The encrypted number comes along: most callers need the number next. A token is looked up
    // in card_numbers (its unique index), the card then by its key.
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
  async resolveWithAccount(organization: number, number: string, sequence?: number): Promise<{ card: CardRow & { pan_encrypted: string }; account: Account | undefined } | undefined> {
    const key = await this.cardKey(organization, number, sequence);
    if (!key) return undefined;
    const found = await this.lookupsWithAccount.submit(key);
    if (!found) return undefined;
    const { account_row: accountRow, ...card } = found;
    return { card, account: accountRow ? toAccount(accountRow) : undefined };
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
      key.hash = await this.deps.vault.hash(pan);
    }
    return key;
  }

  /** Many `resolve`s in one statement: for each key, its card (the given sequence or the latest) or nothing. */
  private async lookUp(keys: CardKey[], withAccount: boolean): Promise<Array<(CardRow & { pan_encrypted: string; account_row?: AccountRow | null }) | undefined>> {
    const account = withAccount
      ? { select: sql`, to_jsonb(a) as account_row`, join: sql`left join accounts a on a.account_number = c.account_number and a.organization = c.organization` }
      : { select: sql``, join: sql`` };
    const found = await sql<CardRow & { pan_encrypted: string; i: string | number; account_row?: AccountRow | null }>`
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

  /** The clear number of a card (inside emboss only: PIN and CVV operations, PCI responses). */
  async panOf(card: CardRow & { pan_encrypted?: string }, db: Kysely<DB> = this.db): Promise<string> {
    const encrypted = card.pan_encrypted
      ?? (await db.selectFrom('card_numbers').select('pan_encrypted').where('pan_hash', '=', card.pan_hash).executeTakeFirstOrThrow()).pan_encrypted;
    return this.deps.vault.reveal(encrypted);
  }

  /** The account of a card named by number or token (account inquiry by card number). */
  async accountOfCard(organization: number, number: string): Promise<string | undefined> {
    return (await this.resolve(organization, number))?.account_number;
  }

  /**
   * POST /cards/embosser/card-pan(-l8v2) (docs/wire-compatibility.md: card-pan). The form of
   * `cardNumber` says what it is, whatever the function type (C or P): 32 hex digits, the number
   * under the client's card-number key; 19 characters with a letter, a PAN token; 12–19 digits
   * (zero-padded or not), the clear number. The answer carries both: the number under the client's
   * card-number key and the PAN token ('' for an organization without PAN tokens, where a token
   * in, or function type P, is refused with VPL5SEA16S).
   */
  async panInquiry(actor: Actor, request: PanInquiryRequest, viewer: Viewer) {
    const org = await this.deps.organizations.organization(request.organizationNumber);
    if (!org) throw fail(CardCodes.orgNotFound);
    const number = request.cardNumber;
    if (/^0+$/.test(number)) throw fail(CardCodes.panZeros);
    const input = /^[0-9A-Fa-f]{32}$/.test(number) ? 'encrypted' : /[A-Za-z]/.test(number) ? 'token' : 'number';
    if (!org.panTokenEnabled && (input === 'token' || request.functionType === 'P')) throw fail(CardCodes.tokenSwitchOff);
    // The clear number, when the client sent it (encrypted or not): not read back from the vault.
    let pan: string | undefined;
    if (input === 'encrypted') {
      pan = (await this.deps.vault.fromClient(number, viewer.cardNumberKey))?.replace(/^0+/, '');
      if (!pan) throw fail(CardCodes.badEncryptedPan);
    } else if (input === 'number') {
      pan = number.replace(/^0+/, '');
    }
    const card = await this.resolve(org.number, pan ?? number, request.cardSequence);
    if (!card) throw fail(CardCodes.cardOrAccountNotFound);
    const encrypted = await this.deps.vault.forClient(pan ?? await this.panOf(card), viewer.cardNumberKey);
    await recordAudit(this.db, actor, {
      action: 'card.pan.read', entityType: 'card', entityId: card.pan_token, organization: org.number, details: { functionType: request.functionType, input },
    });
    return {
      organizationNumber: org.number,
      logo: card.logo,
      cardNumber: encrypted,
      cardSequence: card.card_sequence,
      accountNumber: card.account_number,
      panToken: org.panTokenEnabled ? card.pan_token : '',
    };
  }

  /** POST /cards/v2/embosser/details: every documented field (card-details.ts). */
  async details(actor: Actor, request: CardDetailsRequest): Promise<CardDetailsResponse> {
    const orgNumber = Number(request.organizationNumber);
    const org = await this.deps.organizations.organization(orgNumber);
    if (!org) throw fail(CardCodes.orgNotFound);
    const card = await this.resolve(orgNumber, request.cardNumber, request.cardSequence === undefined ? undefined : Number(request.cardSequence));
    if (!card) throw fail(CardCodes.cardNotFound);
    const logo = await this.deps.organizations.logo(orgNumber, card.logo);
    // What the answer tells besides the card itself: the expiry before this one (the previous
    // sequence of the number, or the card this one replaced), the replacement, the open plastics.
    const related = (await sql<{ previous_expiry: string | null; replaced_expiry: string | null; replacement_token: string | null; replacement_encrypted: string | null; outstanding: number }>`
      select
        (select p.expiry from cards p where p.pan_hash = c.pan_hash and p.card_sequence < c.card_sequence order by p.card_sequence desc limit 1) as previous_expiry,
        (select r.expiry from cards r where r.id = c.replaces_card_id) as replaced_expiry,
        n.pan_token as replacement_token, nn.pan_encrypted as replacement_encrypted,
        (select count(*)::int from cards o where o.pan_hash = c.pan_hash and o.status <> ${CardStatus.closed} and not o.digital) as outstanding
      from cards c
      left join cards n on n.id = c.replaced_by_card_id
      left join card_numbers nn on nn.pan_hash = n.pan_hash
      where c.id = ${card.id}`.execute(this.db)).rows[0];
    const replacement = related?.replacement_token
      ? await shownCardNumber(org, related.replacement_token, () => this.deps.vault.reveal(related.replacement_encrypted!))
      : '';
    await recordAudit(this.db, actor, { action: 'card.read', entityType: 'card', entityId: card.pan_token, organization: orgNumber });
    return cardDetailsBody({
      card, logo, replacement, expiryDate,
      shown: await shownCardNumber(org, card.pan_token, () => this.panOf(card)),
      previousExpiry: related?.previous_expiry ?? related?.replaced_expiry ?? null,
      outstanding: Number(related?.outstanding ?? 0),
    });
  }

  /** GET /customer/v3/cards/details: the customer's cards, by account, 20 at a time. */
  async customerCards(actor: Actor, query: CustomerCardsQuery, customer: string, viewer: Viewer) {
    const org = await this.deps.organizations.organization(query.organizationNumber);
    if (!org) throw fail(CardCodes.customerCardsOrgNotFound);
    const fn = (query.functionCode ?? '').trim();
    if ((fn === 'N' || fn === 'P') && isBlankNumber(query.startAccount)) throw fail(CardCodes.customerCardsNeedStart);
    const customerNumber = pad19(customer);
    // With the account's userAccountNumber (account add keeps the fields it does not model as sent).
    let q = this.db.selectFrom('cards')
      .leftJoin('accounts', (j) => j.onRef('accounts.account_number', '=', 'cards.account_number').onRef('accounts.organization', '=', 'cards.organization'))
      .selectAll('cards').select(sql<string | null>`accounts.profile->>'userAccountNumber'`.as('user_account_number'))
      .where('cards.customer_number', '=', customerNumber).where('cards.organization', '=', org.number);
    if (fn === 'N') q = q.where('cards.account_number', '>', pad19(query.startAccount!)).orderBy('cards.account_number', 'asc').orderBy('cards.id', 'asc');
    else if (fn === 'P') q = q.where('cards.account_number', '<', pad19(query.startAccount!)).orderBy('cards.account_number', 'desc').orderBy('cards.id', 'desc');
    else q = q.orderBy('cards.account_number', 'asc').orderBy('cards.id', 'asc');
    const rows = await q.limit(PAGE_SIZE + 1).execute();
    if (rows.length === 0 && fn === '') throw fail(CardCodes.customerCardsNone);
    const page = rows.slice(0, PAGE_SIZE);
    if (fn === 'P') page.reverse();
    const table = [];
    for (const card of page) {
      const p = card.profile as Record<string, unknown>;
      const amount = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : 0);
      // The clear number, only for the encrypted copy a PCI client with a card-number key gets.
      const pan = viewer.pci && viewer.cardNumberKey ? await this.panOf(card) : undefined;
      table.push({
        accountNumber: card.account_number,
        userAccountNumber: card.user_account_number ?? '',
        cardNumber: await shownCardNumber(org, card.pan_token, pan ?? (() => this.panOf(card))),
        cardSequence: card.card_sequence,
        cardExpireDate: expiryDate(card.expiry),
        digitalCardIndicator: card.digital ? 1 : 0,
        embosserCurrentFirstUsage: card.activation_required ? '1' : '0',
        cardBlockCode: card.block_code,
        // A card's block code is set when it is issued, or with its closing by a card action.
        cardBlockCodeDate: card.block_code === '' ? '' : card.replaced_by_card_id !== null ? card.status_date : card.created_at.toISOString().slice(0, 10),
        cardStatus: card.status,
        encryptedCardNumber: pan && viewer.cardNumberKey ? await this.deps.vault.forClient(pan, viewer.cardNumberKey) : '',
        atmCashAmount: amount('atmCashAmount'),
        atmCashAmountDaily: 0,
        retailAmount: amount('retailPurchaseAmt'),
        retailAmountDaily: 0,
        internetAmount: amount('internetPurchaseAmount'),
        internetAmountDaily: 0,
        overTheCounterAmount: amount('overTheCounterCashAmount'),
        overTheCounterAmountDaily: 0,
      });
    }
    await recordAudit(this.db, actor, { action: 'customer.cards.read', entityType: 'customer', entityId: customerNumber, organization: org.number });
    return { outputArea: { numberOfReturnedItems: table.length, hasMore: rows.length > PAGE_SIZE ? 'Y' : 'N', customerNumber, accountTable: table } };
  }

  // --- card state ------------------------------------------------------------------------

  /** PUT /cards/status-L8V1 */
  async updateStatus(actor: Actor, request: CardStatusRequest) {
    const org = request.organizationNumber;
    if (!(await this.deps.organizations.organization(org))) throw fail(CardCodes.statusOrgNotFound);
    if (![0, 1, 2, 3].includes(request.cardStatus)) throw fail(CardCodes.statusInvalid);
    const now = this.deps.clock.now();
    return answeredWrite(this.db, actor, async (trx) => {
      const found = await this.resolve(org, request.cardNumber, request.cardSequence, trx);
      if (!found) throw fail(CardCodes.statusCardNotFound);
      const card = await trx.selectFrom('cards').selectAll().where('id', '=', found.id).forUpdate().executeTakeFirstOrThrow();
      const account = await this.deps.accounts.find(org, card.account_number, trx);
      if (!account || account.status === 'C') throw fail(CardCodes.statusAccountClosed);
      if (card.status === CardStatus.closed) throw fail(CardCodes.statusFinal);
      if (card.status === request.cardStatus) throw fail(CardCodes.statusSame);
      if (isExpired(card.expiry, now)) throw fail(CardCodes.statusExpired);
      await trx.updateTable('cards').set({ status: request.cardStatus, status_date: now.toISOString().slice(0, 10), updated_at: now })
        .where('id', '=', card.id).execute();
      await recordAudit(trx, actor, {
        action: 'card.status', entityType: 'card', entityId: card.pan_token, organization: org,
        details: { from: card.status, to: request.cardStatus, sequence: card.card_sequence, representativeId: request.representativeId ?? '' },
      });
      await recordEvent(trx, {
        type: 'card.status_changed', cardToken: card.pan_token, organization: org,
        data: { from: card.status, to: request.cardStatus, sequence: card.card_sequence },
      });
      return { successMessage: `CARD STATUS UPDATED FROM ${card.status} TO ${request.cardStatus}` };
    });
  }

  /** PUT /cards/activation: S activates the card; A every card awaiting activation on its account. */
  async activate(actor: Actor, request: CardActivationRequest) {
    const org = request.organizationNumber;
    const organization = await this.deps.organizations.organization(org);
    if (!organization) throw fail(CardCodes.activationOrgNotFound);
    if (!['A', 'S'].includes(request.serviceType)) throw fail(CardCodes.activationBadType);
    const now = this.deps.clock.now();
    return answeredWrite(this.db, actor, async (trx) => {
      const card = await this.resolve(org, request.cardNumber, undefined, trx);
      let accountNumber: string;
      if (card) {
        accountNumber = card.account_number;
      } else {
        const account = /^[0-9]+$/.test(request.cardNumber) ? await this.deps.accounts.find(org, request.cardNumber, trx) : undefined;
        if (!account) throw fail(CardCodes.activationCardNotFound);
        if (request.serviceType !== 'A') throw fail(CardCodes.activationAccountNeedsA);
        accountNumber = account.accountNumber;
      }
      const account = await this.deps.accounts.find(org, accountNumber, trx);
      if (!account || account.status === 'C') throw fail(CardCodes.accountClosed);
      if (card && request.serviceType === 'S') {
        if (card.status === CardStatus.closed) throw fail(CardCodes.cardNotActive);
        if (isExpired(card.expiry, now)) throw fail(CardCodes.cardExpired);
      }
      let q = trx.updateTable('cards').set({ activation_required: false, activated_at: now, updated_at: now })
        .where('account_number', '=', accountNumber).where('activation_required', '=', true)
        .where('status', '!=', CardStatus.closed).where('expiry', '>=', yymm(now));
      if (request.serviceType === 'S') q = q.where('id', '=', card!.id);
      const updated = await q.returning(['pan_token', 'card_sequence']).execute();
      for (const u of updated) {
        await recordAudit(trx, actor, { action: 'card.activate', entityType: 'card', entityId: u.pan_token, organization: org, details: { serviceType: request.serviceType } });
      }
      await recordEvents(trx, updated.map((u) => ({
        type: 'card.activated' as const, cardToken: u.pan_token, organization: org, data: { sequence: u.card_sequence, serviceType: request.serviceType },
      })));
      // Named by an account number (A): the account number is echoed.
      const shownCard = card ? await shownCardNumber(organization, card.pan_token, () => this.panOf(card, trx)) : pad19(accountNumber);
      return {
        organizationNumber: org, logo: account.logo, cardNumber: shownCard, serviceType: request.serviceType, numberCardsActivated: updated.length,
        foreignOrg: 0, numberForeignCardsActivated: 0,
      };
    });
  }

  // --- helpers ---------------------------------------------------------------------------

  private checkGivenNumber(pan: string, logo: Logo) {
    if (!/^[0-9]+$/.test(pan)) throw fail(CardCodes.wrongBin);
    if (!isLuhnValid(pan)) throw fail(CardCodes.notLuhn);
    if (pan.length !== logo.panLength || !pan.startsWith(logo.bin)) throw fail(CardCodes.wrongBin);
  }

  /** YYMM from a requested expiry date, or the logo's validity from today. */
  private expiryFor(logo: Logo, requested: string | undefined): string {
    const now = this.deps.clock.now();
    if (requested) {
      const d = new Date(`${requested}T00:00:00Z`);
      const months = (d.getUTCFullYear() - now.getUTCFullYear()) * 12 + d.getUTCMonth() - now.getUTCMonth();
      if (Number.isNaN(months) || months < 0 || months > 240) throw fail(CardCodes.badExpiry);
      return yymm(d);
    }
    return yymm(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + logo.expiryMonths, 1)));
  }
}

/** The request fields kept as sent on the card record (addresses, limits, user fields), minus those stored in columns. */
function profileOf(request: Record<string, unknown>, columns: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(request)) if (!columns.includes(k) && v !== undefined) out[k] = v;
  return out;
}
