import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { RequestTakenOver, withoutAnswer, type Actor } from '../../shared/actor.ts';
import { Batcher } from '../../shared/batcher.ts';
import type { Clock } from '../../shared/clock.ts';
import { refusal as fail } from '../../shared/errors.ts';
import { isBlankNumber, recordNumber } from '../../shared/ids.ts';
import { generateCardNumber, isLuhnValid } from '../../crypto/luhn.ts';
import { MAX_ISSUE_CARDS, type IssueCardFace, type IssuedCardValues, type IssuedPin, type KeyBlock, type PinVerificationMethod } from '../../security-module/port.ts';
import { auditRow, type AuditRow } from '../audit/index.ts';
import { answeredWrite } from '../idempotency/index.ts';
import type { KeysService } from '../keys/index.ts';
import type { Logo, Organization, OrganizationsService } from '../organizations/index.ts';
import { outboxRecord, splitName, type OutboxRecord, type PersonalizationOutbox } from '../personalization/index.ts';
import type { Account, AccountsService } from '../accounts/index.ts';
import type { CustomersService } from '../customers/index.ts';
import type { CardVault } from './card-vault.ts';
import { isMassPositionConflict, type CardInsert, type CardRepository } from './card-repository.ts';
import {
  CardCodes, accountProblem, amountsStorable, blockCodeOf, expiryDate, pinMethodOf, profileOf, shownCardNumber, yymm, type CardRow,
} from './card-rules.ts';
import type { CardAddRequest, InstantCardRequest } from './cards.schemas.ts';

/** How many draws of a fresh number may collide before the BIN range counts as exhausted. */
const MAX_NUMBER_DRAWS = 32;

/** Everything needed to issue one card (a new number, or a given one, or a new sequence of one on file). */
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
  /** The audit action and the event's cause (card.add, card.instant, card.action.N). */
  action: string;
  /** The logo's PVK key block, looked up before the transaction (absent when the PIN is suppressed). */
  pvk?: string;
  /**
   * A new sequence of a number already issued (card actions): the number is not drawn or
   * inserted again; `pin`, when given, is kept (same number, same PIN: no PIN mailer) instead of
   * generating one.
   */
  existing?: { pan: string; panHash: string; token: string; pin?: IssuedPin };
}

export interface IssuedCard {
  pan: string;
  token: string;
  sequence: number;
  expiry: string;
  /** The card's row, for a card issued inside the caller's transaction (a card action marks it next). */
  card: CardRow | undefined;
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

/** Mass-issue cards whose security-module work is done, ready to insert (see prepareMass). */
export interface PreparedMassCard {
  pan: string;
  values: IssuedCardValues;
}

/**
 * One card's security-module work: what issueCards needs of it. Cards whose `batch` key is the
 * same (one logo, bureau, PIN or none) go to the module in one call, whoever asked for them.
 */
interface CardWork {
  pan: string;
  binLength: number;
  method: PinVerificationMethod;
  pvk: KeyBlock | undefined;
  bureau: { bur: KeyBlock; cvk: KeyBlock } | undefined;
  face: IssueCardFace;
}

export interface CardIssuingDeps {
  db: Kysely<DB>;
  repository: CardRepository;
  vault: CardVault;
  keys: KeysService;
  organizations: OrganizationsService;
  accounts: AccountsService;
  customers: CustomersService;
  personalization: PersonalizationOutbox;
  clock: Clock;
  /** Draws a candidate card number (BIN + random body + Luhn digit). Tests inject a tiny range. */
  drawCardNumber?: (bin: string, length: number) => string;
  /** Test hook: runs inside the instant-card transaction between the account and the card writes. */
  afterInstantAccount?: () => Promise<void>;
}

/**
 * Issuing, one path for one card or a million: card add, instant card, the card actions that make
 * a new card, and mass issue all draw numbers the same way, have the security module make each
 * card's values in batches (issueCards: hash, token, stored number, PIN, bureau record), and write
 * through the repository's one insert. Concurrent card adds share both: their cards go to the
 * module in one call and to the database in one statement.
 */
export class CardIssuing {
  private readonly draw: (bin: string, length: number) => string;
  /** The security-module work of cards issued one by one (card add, instant card, card actions), batched across requests. */
  private readonly work = new Batcher((cards: CardWork[]) => this.makeValues(cards), { maxBatch: 256, maxInFlight: 2 });

  constructor(private readonly deps: CardIssuingDeps) {
    this.draw = deps.drawCardNumber ?? ((bin, length) => generateCardNumber(bin, length));
  }

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
    if (pan !== undefined) checkGivenNumber(pan, logo);

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
    const issued = await this.issue(this.deps.db, actor, {
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

    return answeredWrite(this.deps.db, actor, async (trx) => {
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

  /**
   * Issues one card, inside the caller's transaction if `db` is one: a card number that was never
   * issued before (drawn again on collision; the database's primary key decides), its values from
   * the security module (batched with concurrent issues), and its rows through the repository's
   * one insert. Outside a transaction, `answerOf` makes the request's answer, recorded with the
   * card in the same statement (a card without its answer is never committed) and the insert is
   * batched with concurrent ones; inside one, the caller answers.
   */
  async issue(db: Kysely<DB>, actor: Actor, spec: IssueSpec, answerOf?: (card: Pick<IssuedCard, 'pan' | 'token' | 'sequence'>) => Promise<unknown>): Promise<IssuedCard> {
    const { logo, existing } = spec;
    const now = this.deps.clock.now();
    // A new plastic of a number on file gets its record from recordFor, which finds its own keys.
    const bureau = spec.digital || existing ? undefined : await this.deps.personalization.bureauKeys(spec, db);
    const face = faceOf(spec, spec.sequence);
    for (let draws = 0; ; draws++) {
      if (spec.pan === undefined && !existing && draws >= MAX_NUMBER_DRAWS) throw fail(CardCodes.rangeExhausted);
      const pan = existing?.pan ?? spec.pan ?? this.draw(logo.bin, logo.panLength);
      let values: Pick<IssuedCardValues, 'hash' | 'token' | 'encrypted' | 'pin'>;
      let plastic: OutboxRecord | undefined;
      if (existing) {
        // A new plastic of a number on file: its values are on file too; the PIN is kept (no mailer) or new.
        const pin = spec.pinSuppressed ? undefined : existing.pin ?? await this.newPin(spec, pan);
        values = { hash: existing.panHash, token: existing.token, encrypted: '', ...(pin ? { pin } : {}) };
        plastic = spec.digital ? undefined : await this.deps.personalization.recordFor({
          organization: spec.organization, logo, pan, reference: `${existing.token}.${spec.sequence}`, expiry: spec.expiry, serviceCode: spec.serviceCode,
          embossedName1: spec.embossedName1, embossedName2: spec.embossedName2, reason: spec.action,
          ...(pin ? { pin: { method: pinMethodOf(logo), ...pin, ...(existing.pin ? { mailer: false } : {}) } } : {}),
        }, db);
      } else {
        const made = await this.work.submit({
          pan, binLength: logo.bin.length, method: pinMethodOf(logo), pvk: spec.pinSuppressed ? undefined : required(spec.pvk), bureau, face,
        });
        values = made;
        plastic = made.record && outboxRecord(spec.organization.number, logo.number, spec.action, made.record);
      }
      const row = this.cardRow(actor, spec, this.cardCommon(actor, spec, now), pan, values, plastic);
      // Outside a transaction (card add), concurrent requests' cards go to the database together.
      if (!db.isTransaction && answerOf && actor.answer) row.answer = await actor.answer({ result: await answerOf({ pan, token: values.token, sequence: spec.sequence }) });
      const outcome = db.isTransaction ? (await this.deps.repository.insert(db, [row]))[0]! : await this.deps.repository.submit(row);
      if (outcome.made) return { pan, token: values.token, sequence: spec.sequence, expiry: spec.expiry, card: outcome.card };
      // Not made because of its request id: a run that held it lost it; one that did not reserve
      // it found it on file, and reserve tells why (a replay, another request) or, freed meanwhile, holds it for the next try.
      if (outcome.requestIdTaken) {
        if (row.answer?.holder || !actor.reserve) throw new RequestTakenOver();
        await actor.reserve();
        continue;
      }
      // Not made: its number was taken (drawn again below), or its sequence.
      if (spec.pan !== undefined || existing || !outcome.numberTaken) throw fail(CardCodes.cardExists);
    }
  }

  /**
   * The security-module work for `n` mass-issue cards, done before (and while the previous
   * chunk is written) so the database and the crypto overlap: numbers drawn here, their values in
   * batches of MAX_ISSUE_CARDS (the module runs them on its own thread).
   */
  async prepareMass(spec: Pick<MassIssueSpec, 'organization' | 'logo' | 'pvk' | 'expiry' | 'serviceCode' | 'embossedName1' | 'embossedName2'>, n: number): Promise<PreparedMassCard[]> {
    const { logo } = spec;
    const bureau = await this.deps.personalization.bureauKeys({ organization: spec.organization, logo });
    // One face for the whole chunk: the module gets it once, not once per card.
    const face = faceOf(spec, 1);
    const method = pinMethodOf(logo);
    const work: CardWork[] = [];
    for (let i = 0; i < n; i++) work.push({ pan: this.draw(logo.bin, logo.panLength), binLength: logo.bin.length, method, pvk: spec.pvk, bureau, face });
    const values = await this.makeValues(work);
    return work.map((w, i) => ({ pan: w.pan, values: values[i]! }));
  }

  /**
   * Issues many unnamed cards at once (mass issue), inside the caller's transaction, through the
   * same insert as every other card: each gets its account, a new number (collisions drawn again),
   * its values and bureau record; the (request, position) key on cards makes a position
   * impossible to issue twice. Answers how many were made.
   */
  async issueMany(db: Kysely<DB>, spec: MassIssueSpec, ready: PreparedMassCard[] = []): Promise<number> {
    const now = this.deps.clock.now();
    const { logo } = spec;
    let waiting = spec.positions.map((position, k) => ({ position, account: spec.accounts[k]!, file: spec.fileIds?.[k] ?? null }));
    let prepared = ready.slice(0, waiting.length);
    let made = 0;
    for (let draws = 0; waiting.length > 0; draws++) {
      if (draws >= MAX_NUMBER_DRAWS) throw fail(CardCodes.rangeExhausted);
      if (prepared.length < waiting.length) prepared.push(...await this.prepareMass(spec, waiting.length - prepared.length));
      const card = {
        organization: spec.organization, logo, customerNumber: spec.customerNumber, sequence: 1, expiry: spec.expiry, serviceCode: spec.serviceCode,
        embossedName1: spec.embossedName1, embossedName2: spec.embossedName2, activationRequired: true, pinSuppressed: false, digital: false,
        blockCode: '', profile: { massIssue: spec.requestId }, action: 'mass.issue',
      };
      const common = this.cardCommon(spec.actor, card, now);
      const rows = waiting.map((w, k) => {
        const { pan, values } = prepared[k]!;
        return this.cardRow(spec.actor, card, common, pan, values, values.record && outboxRecord(spec.organization.number, logo.number, `mass.${spec.requestId}`, values.record), {
          account: w.account, mass: { requestId: spec.requestId, position: w.position, fileId: w.file },
        });
      });
      const outcomes = await this.deps.repository.insert(db, rows, 'outcomes').catch((err: unknown) => {
        throw isMassPositionConflict(err) ? new MassPositionTaken() : err;
      });
      const again: typeof waiting = [];
      for (let k = 0; k < outcomes.length; k++) {
        const outcome = outcomes[k]!;
        if (outcome.made) made++;
        // Not made though its number was new: its position is taken. (A position issued by
        // another run fails the statement instead, caught above; this guards the same case.)
        else if (!outcome.numberTaken) throw new MassPositionTaken();
        else again.push(waiting[k]!);
      }
      waiting = again;
      prepared = [];
    }
    return made;
  }

  /**
   * What every card of one spec has the same in the repository's insert: one card add's card, or
   * all of a mass-issue chunk's (made once for the chunk, not once a card).
   */
  private cardCommon(actor: Actor, spec: Omit<IssueSpec, 'account'>, now: Date) {
    const { logo } = spec;
    return {
      bin: logo.bin, existing: spec.existing !== undefined, organization: logo.organization, logo: logo.number, sequence: spec.sequence,
      customer: spec.customerNumber, expiry: spec.expiry, serviceCode: spec.serviceCode, statusDate: now.toISOString().slice(0, 10),
      activationRequired: spec.activationRequired, activatedAt: spec.activationRequired ? null : now, blockCode: spec.blockCode,
      embossedName1: spec.embossedName1, embossedName2: spec.embossedName2, digital: spec.digital,
      plasticStatus: spec.digital ? 'NONE' : 'PENDING', pinSuppressed: spec.pinSuppressed,
      profile: JSON.stringify(spec.profile), createdBy: actor.clientId,
      // A mass-issue card's request and position join it in the statement (from massRequestId and massSeq).
      eventData: JSON.stringify({ cause: spec.action, sequence: spec.sequence, logo: logo.number, digital: spec.digital, activationRequired: spec.activationRequired }),
    } satisfies Partial<CardInsert>;
  }

  /** A card's rows for the repository's insert: its spec's common part (cardCommon) and its own values. */
  private cardRow(
    actor: Actor, spec: Omit<IssueSpec, 'account'> & { account?: Account }, common: ReturnType<CardIssuing['cardCommon']>, pan: string,
    values: Pick<IssuedCardValues, 'hash' | 'token' | 'encrypted' | 'pin'>, plastic: OutboxRecord | undefined,
    mass?: { account: string; mass: { requestId: string; position: number; fileId: string | null } },
  ): CardInsert {
    const account = mass?.account ?? spec.account!.accountNumber;
    const pin = values.pin;
    const audit: AuditRow | undefined = mass ? undefined : auditRow(actor, {
      action: spec.action, entityType: 'card', entityId: values.token, organization: spec.logo.organization,
      details: { accountNumber: account, sequence: spec.sequence, logo: spec.logo.number, digital: spec.digital, pin: pin ? 'issued' : 'suppressed' },
    });
    // Written out, not spread: one object shape for every card (a spread's copies were slower to build and to read).
    const c = common;
    return {
      hash: values.hash, token: values.token, encrypted: values.encrypted, bin: c.bin, last4: pan.slice(-4), existing: c.existing,
      organization: c.organization, logo: c.logo, sequence: c.sequence, account, customer: c.customer, expiry: c.expiry, serviceCode: c.serviceCode,
      statusDate: c.statusDate, activationRequired: c.activationRequired, activatedAt: c.activatedAt, blockCode: c.blockCode,
      embossedName1: c.embossedName1, embossedName2: c.embossedName2, digital: c.digital, plasticStatus: c.plasticStatus, pinSuppressed: c.pinSuppressed,
      pinStored: pin?.storedPinBlock ?? null, pinVerification: pin ? (pin.pvv ?? pin.offset ?? null) : null,
      profile: c.profile, createdBy: c.createdBy, audit, eventData: c.eventData, plastic,
      fileId: mass?.mass.fileId ?? null,
      massRequestId: mass?.mass.requestId ?? null,
      massSeq: mass?.mass.position ?? null,
    };
  }

  /**
   * The values of new cards, from the security module: one issueCards call per batch key (range,
   * PIN keys, bureau), each card with its own face unless the whole group shares one (a mass-issue
   * chunk), at most MAX_ISSUE_CARDS cards per call.
   */
  private async makeValues(cards: CardWork[]): Promise<IssuedCardValues[]> {
    const groups = new Map<string, number[]>();
    let group: number[] | undefined;
    cards.forEach((c, k) => {
      // A card with the very same batch key as the one before (all of a mass-issue chunk) joins its group as is.
      const before = cards[k - 1];
      if (!before || c.binLength !== before.binLength || c.method !== before.method || c.pvk !== before.pvk || c.bureau !== before.bureau) {
        const key = `${c.binLength}|${JSON.stringify(c.method)}|${c.pvk ?? '-'}|${c.bureau?.bur ?? '-'}|${c.bureau?.cvk ?? '-'}`;
        group = groups.get(key);
        if (!group) groups.set(key, group = []);
      }
      group!.push(k);
    });
    const out: IssuedCardValues[] = new Array(cards.length);
    await Promise.all([...groups.values()].flatMap((members) => {
      const calls: Array<Promise<void>> = [];
      for (let from = 0; from < members.length; from += MAX_ISSUE_CARDS) {
        const part = members.slice(from, from + MAX_ISSUE_CARDS);
        const first = cards[part[0]!]!;
        const shared = part.every((k) => cards[k]!.face === first.face);
        calls.push(this.deps.vault.issueCards(first.binLength, {
          pans: part.map((k) => cards[k]!.pan),
          ...first.face,
          ...(shared ? {} : { faces: part.map((k) => cards[k]!.face) }),
          method: first.method,
          ...(first.pvk ? { pvk: first.pvk } : { pins: false }),
          ...(first.bureau ?? {}),
        }).then((values) => { part.forEach((k, i) => { out[k] = values[i]!; }); }));
      }
      return calls;
    }));
    return out;
  }

  /** A new PIN for a new plastic of a number on file that had none kept. */
  private newPin(spec: IssueSpec, pan: string): Promise<IssuedPin> {
    return this.deps.vault.generatePin(required(spec.pvk), pan, pinMethodOf(spec.logo));
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

/** A mass-issue position was issued by another run meanwhile: the chunk's transaction is rolled back. */
export class MassPositionTaken extends Error {
  constructor() {
    super('a mass-issue position was issued by another run');
    this.name = 'MassPositionTaken';
  }
}

/** What is printed and encoded on a card, as the security module takes it; its bureau reference ends in the card's sequence. */
function faceOf(spec: Pick<IssueSpec, 'expiry' | 'serviceCode' | 'embossedName1' | 'embossedName2'>, sequence: number): IssueCardFace {
  return {
    expiryYYMM: spec.expiry, serviceCode: spec.serviceCode, cardholder: splitName(spec.embossedName1),
    embossLine1: spec.embossedName1, embossLine2: spec.embossedName2, referenceSuffix: String(sequence),
  };
}

function checkGivenNumber(pan: string, logo: Logo) {
  if (!/^[0-9]+$/.test(pan)) throw fail(CardCodes.wrongBin);
  if (!isLuhnValid(pan)) throw fail(CardCodes.notLuhn);
  if (pan.length !== logo.panLength || !pan.startsWith(logo.bin)) throw fail(CardCodes.wrongBin);
}

function required(pvk: string | undefined): string {
  if (!pvk) throw new Error('issue: the PVK key block is required to issue a PIN');
  return pvk;
}
