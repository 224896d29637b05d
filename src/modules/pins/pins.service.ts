import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { RequestTakenOver, type Actor, type Outcome, type RecordedAnswer } from '../../shared/actor.ts';
import type { Clock } from '../../shared/clock.ts';
import { Batcher } from '../../shared/batcher.ts';
import { Refusal, refusal as fail } from '../../shared/errors.ts';
import {
  SecurityModuleError, type KeyBlock, type PinBlockFormat, type SecurityModule, type SecurityModuleErrorCode,
} from '../../security-module/port.ts';
import { auditRow, recordAudit } from '../audit/index.ts';
import { eventRow } from '../events/index.ts';
import { answeredWrite, commitAnswers } from '../idempotency/index.ts';
import type { KeysService } from '../keys/index.ts';
import type { Logo, Organization, OrganizationsService } from '../organizations/index.ts';
import type { Account } from '../accounts/index.ts';
import {
  CardCodes, cardProblem, pinMethodOf, shownCardNumber, type CardRepository, type CardRow, type CorrectCheck, type Dcvv2ModeChange, type TryCounter,
} from '../cards/index.ts';
import {
  Cvv2Codes, DynamicValueCodes, InvalidAttemptsCodes, PinChangeCodes, PinCodes, PinStatusCodes, SecurityValueCodes, ValidationCodes,
  type CardCheckCodes, type Code,
} from './pins.codes.ts';
import type {
  Cvv2VerificationRequest, DynamicValuesRequest, InvalidPinAttemptsInquiryRequest, PinBlockUpdateRequest, PinChangeRequest,
  PinValidateRequest, SecurityCodeDetailsRequest, SecurityValuesDetailsV2Request,
} from './pins.schemas.ts';

export interface PinsDeps {
  db: Kysely<DB>;
  sm: SecurityModule;
  keys: KeysService;
  organizations: OrganizationsService;
  /** The cards module's repository: the cards a request names, their numbers. */
  cards: CardRepository;
  clock: Clock;
  /** Per card and UTC day (EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY, EMBOSS_UNBLOCKS_PER_CARD_PER_DAY). */
  dailyCaps: DailyCaps;
}

/** How many verifications (PIN, current PIN of a change, CVV2; right or wrong) and PIN unblocks a card may have a UTC day. */
export interface DailyCaps { verifications: number; unblocks: number }
type Daily = keyof DailyCaps;
const CAPPED: Record<Daily, Code> = { verifications: PinCodes.verificationsCapped, unblocks: PinCodes.unblocksCapped };

/**
 * Who calls, with what the calling client holds: its key associations and organizations. (Its
 * scopes are checked by the routes; a response shows a card number the same way to every client:
 * see shownCardNumber.)
 */
export interface Caller {
  actor: Actor;
  /** Key association code (e.g. IYY) → name of the client's ZPK. */
  keyAssociations: Record<string, string>;
  /** Organizations the client may use: where a card is looked for when the request names none. */
  organizations: number[];
}

/** Which invalid-try counter: the PIN's or the CVV2's (same rules, own columns: see CardRepository). */
type Counter = TryCounter;

const isoDay = (d: Date) => d.toISOString().slice(0, 10);

interface Found { org: Organization; card: CardRow; logo: Logo; account: Account | undefined }

/**
 * PINs and card security values: security codes (CVV, CVV2, iCVV and the PIN, encrypted under a
 * client's zone PIN key), PIN validation with an invalid-try counter, PIN change, PIN block and
 * unblock, dynamic CVV2 and CVV2 verification for an authorization host.
 *
 * Counters are race-free across any number of API processes: the security module checks the
 * PIN first, outside any lock, and then ONE statement moves the counter —
 *   wrong:   `update … set pin_tries = pin_tries + 1, pin_blocked = pin_tries + 1 >= max
 *             where id = $1 and not pin_blocked returning …`
 *   correct: `update … set pin_tries = 0 where id = $1 and not pin_blocked and pin_verification = $v`
 * with the audit record in the same statement (a data-modifying CTE); a correct PIN on a card
 * with no invalid tries has nothing to reset. Every such statement also counts the check against
 * the card's daily cap (`countToday`), and moves nothing when the cap is reached; a correct one
 * with nothing to reset is one statement with its answer and no transaction, shared by the
 * concurrent checks of other cards (`countCorrect`). Over HTTP the request id is reserved just
 * before it (`Actor.reserve`): a request refused before its check is recorded after it ran,
 * with its audit record, as an inquiry is. PostgreSQL re-checks the WHERE clause on the latest
 * row version after waiting for a concurrent writer, so wrong tries
 * stop at exactly the maximum, and a correct PIN can never clear a block set by a concurrent wrong
 * one (nor reset the counter of a PIN that was changed meanwhile). Checking the PIN before the
 * update keeps the row lock to one statement's time, never across a security-module call (which
 * may be a network HSM); nothing is lost by it, since the outcome of the check does not depend on
 * the counter — only the answer does, and that comes from the guarded update.
 */
export class PinsService {
  private readonly db: Kysely<DB>;
  /** dCVV2 mode changes of concurrent requests, written together (one statement, see Batcher). */
  private readonly dcvv2Modes: Batcher<Dcvv2Mode, void>;
  /** Right PINs and CVV2s of concurrent requests, counted together (one statement, see countCorrects). */
  private readonly corrects: Batcher<CorrectCheck, 0 | 1 | 2 | undefined | 'again'>;

  constructor(readonly deps: PinsDeps) {
    this.db = deps.db;
    this.dcvv2Modes = new Batcher((modes) => this.setDcvv2Modes(modes));
    this.corrects = new Batcher((checks) => this.countCorrects(checks));
  }

  /**
   * Sets the dCVV2 mode of cards, with each change's audit record, in one statement (the
   * repository's setDcvv2Modes). Two changes of one card in one batch are concurrent requests: the
   * card keeps one of them, as it would keep the later of two separate statements; both are recorded.
   */
  private async setDcvv2Modes(modes: Dcvv2Mode[]): Promise<void[]> {
    const answers = modes.flatMap((m) => (m.answer ? [m.answer] : []));
    if (answers.length === 0) return this.writeDcvv2Modes(this.db, modes);
    // With their requests' answers, in one transaction: a run that no longer holds its request id
    // fails the batch, and the Batcher then runs each change alone, so it fails alone.
    return this.db.transaction().execute(async (trx) => {
      const written = await this.writeDcvv2Modes(trx, modes);
      if ((await commitAnswers(trx, answers)).includes(false)) throw new RequestTakenOver();
      return written;
    });
  }

  private async writeDcvv2Modes(db: Kysely<DB>, modes: Dcvv2Mode[]): Promise<void[]> {
    await this.deps.cards.setDcvv2Modes(db, modes);
    return modes.map(() => undefined);
  }

  // --- security values ---------------------------------------------------------------------------

  /** POST /cards/pin/security-codes (Cards 1.0.0): CVV, CVV2, iCVV and the PIN, each under the client's 3DES key. */
  async securityCodes(caller: Caller, request: SecurityCodeDetailsRequest) {
    const v = await this.securityValues(caller, request.organizationNumber, request.cardNumber, request.channel, request.keyAssociation, 'security-codes');
    return { cardNumber: v.cardNumber, ud1ec: v.cvv, ud2ec: v.cvv2, ud3ec: v.icvv, pinEncrypt: v.pin };
  }

  /** POST /cards/v1/pin/codes (Cards 1.3.0). */
  async securityValuesV2(caller: Caller, request: SecurityValuesDetailsV2Request) {
    const v = await this.securityValues(caller, request.organizationNumber, request.cardNumber, request.channelIndicator, request.keyAssociation, 'v1/pin/codes');
    return {
      pinEncrypt: v.pin,
      usersDefined: [{ key: '1', value: v.cvv }, { key: '2', value: v.cvv2 }, { key: '3', value: v.icvv }],
      cardSecurity: { magnetic: v.cvv, contactless: v.icvv, chip: v.icvv, printed: [{ key: '1', value: v.cvv2 }] },
    };
  }

  /** Works whatever the card's state (upstream: inactive cards too): it only reads. */
  private async securityValues(caller: Caller, organization: number, number: string, channel: string, keyAssociation: string, endpoint: string) {
    const codes = SecurityValueCodes;
    const org = await this.organization(organization, codes);
    if (channel.trim() === '') throw fail(codes.channelBlank);
    const zpk = await this.zpk(caller, keyAssociation, codes.keyAssociationBlank);
    const { card, logo } = await this.find(org, number, undefined, codes);
    const [pan, cvk] = await Promise.all([this.deps.cards.panOf(card), this.key(logo.keys.cvk, 'CVK')]);
    const values = await this.sm(() => this.deps.sm.cardSecurityValues({
      cvk, pan, expiryYYMM: card.expiry, serviceCode: card.service_code, zpk, which: ['CVV', 'CVV2', 'ICVV'],
    }), {});
    const pin = card.pin_stored
      ? await this.sm(() => this.deps.sm.translatePin({ storedPinBlock: card.pin_stored!, pan, zpk, format: 0 }), {})
      : '';
    await recordAudit(this.db, caller.actor, {
      action: 'card.security-values.read', entityType: 'card', entityId: card.pan_token, organization: org.number,
      details: { endpoint, keyAssociation: keyAssociation.trim().toUpperCase(), values: pin ? 'CVV,CVV2,ICVV,PIN' : 'CVV,CVV2,ICVV' },
    });
    return { cardNumber: await shownCardNumber(org, card.pan_token, pan), cvv: values.CVV!, cvv2: values.CVV2!, icvv: values.ICVV!, pin };
  }

  // --- PINs ----------------------------------------------------------------------------------------

  /** POST /cards/pin/validation */
  async validate(caller: Caller, request: PinValidateRequest) {
    const codes = ValidationCodes;
    const org = await this.organization(request.organizationNumber, codes);
    const zpk = await this.zpk(caller, request.keyAssociation, codes.keyAssociationBlank);
    const { card, logo, account } = await this.find(org, request.cardNumber, undefined, codes);
    const pan = await this.deps.cards.panOf(card);
    const audit = { actor: caller.actor, card, action: 'pin.validate', details: { channel: request.channel.trim() } };
    await this.usable(audit, card, account, codes);
    const format = await this.pinBlockFormat(audit, request.currentPinBlock, request.pinBlockFormat, codes.badPinBlock);
    const correct = await this.verifyPin(audit, card, logo, pan, zpk, request.currentPinBlock, format, codes.badPinBlock);
    const result = { cardNumber: await shownCardNumber(org, card.pan_token, pan) };
    await this.settle(audit, card, logo, correct, result);
    return result;
  }

  /** POST /cards/pin/invalid-attempts */
  async invalidAttempts(caller: Caller, request: InvalidPinAttemptsInquiryRequest) {
    const codes = InvalidAttemptsCodes;
    const { org, card, logo } = await this.findAnywhere(caller, request.organizationNumber, request.cardNumber, request.cardSequenceNumber, codes);
    await recordAudit(this.db, caller.actor, { action: 'pin.tries.read', entityType: 'card', entityId: card.pan_token, organization: org.number });
    return {
      outputArea: {
        cardNumber: await shownCardNumber(org, card.pan_token, () => this.deps.cards.panOf(card)),
        cardSequenceNumber: card.card_sequence,
        cardInvalidPinTries: card.pin_tries,
        // A date (format: date): with no invalid try, the date the card was added — the counter's start.
        cardInvalidPinTryDate: card.pin_last_invalid ?? isoDay(new Date(card.created_at)),
        maxNumberInvalidPinTries: logo.pin.maxInvalidTries,
        exceededInvalidPinTries: logo.pin.exceededAction,
        blockedIndicator: card.pin_blocked ? 'B' : 'N',
      },
    };
  }

  /** PUT /cards/pin/pin-change: the current PIN block must be right (a wrong one counts as an invalid try). */
  async change(caller: Caller, request: PinChangeRequest) {
    const codes = PinChangeCodes;
    const org = await this.organization(request.organizationNumber, codes);
    const channel = request.channel.trim();
    if (channel === '') throw fail(codes.channelBlank);
    if (!['A', 'I', 'W'].includes(channel)) throw fail(codes.badChannel);
    const zpk = await this.zpk(caller, request.keyAssociationNumber, codes.keyAssociationBlank);
    const { card, logo, account } = await this.find(org, request.cardNumber, undefined, codes);
    const [pan, pvk] = await Promise.all([this.deps.cards.panOf(card), this.key(logo.keys.pvk, 'PVK')]);
    const audit = { actor: caller.actor, card, action: 'pin.change', details: { channel } };
    await this.usable(audit, card, account, codes);
    const format = await this.pinBlockFormat(audit, request.currPinBlock, request.pinBlockFormat, codes.badPinBlock);
    const newFormat = await this.pinBlockFormat(audit, request.reqdPinBlock, request.pinBlockFormat ?? format, codes.badNewPinBlock);
    const correct = await this.verifyPin(audit, card, logo, pan, zpk, request.currPinBlock, format, codes.badPinBlock);
    if (!correct) await this.settle(audit, card, logo, false, undefined); // throws: incorrect PIN or tries exceeded
    const issued = await this.refusing(audit, () => this.sm(() => this.deps.sm.importPin({
      zpk, pinBlock: request.reqdPinBlock, format: newFormat, pan, pvk, method: pinMethodOf(logo),
    }), { BAD_PIN_BLOCK: codes.badNewPinBlock, BAD_INPUT: codes.badNewPinBlock, WEAK_PIN: PinCodes.weakPin }));
    const verification = issued.pvv ?? issued.offset ?? null;
    const now = this.deps.clock.now();
    const row = auditRow(caller.actor, { action: 'pin.change', entityType: 'card', entityId: card.pan_token, organization: card.organization, details: { channel } });
    const result = { cardNumber: await shownCardNumber(org, card.pan_token, pan), feeAmount: 0, feeWaiveReason: 0, feeRespCode: 0 };
    const outcome = await answeredWrite(this.db, caller.actor, async (trx): Promise<Outcome> => {
      // The current PIN's check is counted against the daily cap in the same statement.
      const { counted, changed, wasBlocked } = await this.deps.cards.changePin(trx, {
        cardId: card.id, storedPinBlock: issued.storedPinBlock, verification, checked: card.pin_verification, at: now,
        counted: this.countToday(card, 'verifications', now, true),
        audit: { row, done: '{"outcome":"changed"}', refused: '{"outcome":"refused: blocked or changed meanwhile"}', capped: this.cappedDetails('verifications') },
        events: [eventRow({ type: 'pin.changed', cardToken: card.pan_token, organization: card.organization, data: { channel, sequence: card.card_sequence } })],
      });
      if (!counted && !wasBlocked) return { refusal: fail(CAPPED.verifications) };
      return !changed ? { refusal: fail(await this.lostRace(card, 'pin', trx)) } : { result };
    }, (o) => o);
    if ('refusal' in outcome) throw outcome.refusal;
    return result;
  }

  /** PUT /cards/pin/status: B blocks the PIN; U unblocks it and resets the PIN and CVV2 invalid-try counters. */
  async updateStatus(caller: Caller, request: PinBlockUpdateRequest) {
    const codes = PinStatusCodes;
    const fn = request.serviceFunctionCode.trim().toUpperCase();
    if (fn !== 'B' && fn !== 'U') throw fail(codes.badFunction);
    if (!['A', 'I', 'W'].includes(request.channel.trim().toUpperCase())) throw fail(codes.badChannel);
    if (request.cardSequenceNumber === 9999) throw fail(codes.badSequence);
    const { org, card, account } = await this.findAnywhere(caller, request.organizationNumber, request.cardNumber, request.cardSequenceNumber, codes);
    if (card.pin_suppressed) throw fail(codes.pinSuppressed);
    if (fn === 'U') {
      // Unblocking needs a usable card; blocking is always allowed (fraud, lost card).
      const problem = cardProblem(card, account, this.deps.clock.now());
      if (problem && problem !== CardCodes.accountNotFound && problem !== CardCodes.accountClosed && problem !== CardCodes.accountBlocked) {
        throw fail(this.mapProblem(problem, codes));
      }
    }
    const now = this.deps.clock.now();
    const row = auditRow(caller.actor, {
      action: fn === 'U' ? 'pin.unblock' : 'pin.block', entityType: 'card', entityId: card.pan_token, organization: org.number,
      details: { channel: request.channel.trim(), sequence: card.card_sequence, triesBefore: card.pin_tries, wasBlocked: card.pin_blocked },
    });
    const result = { cardNumber: await shownCardNumber(org, card.pan_token, () => this.deps.cards.panOf(card)), cardSequenceNumber: card.card_sequence };
    // Blocking a PIN already blocked changes nothing: no event. An unblock always is one (it resets the counters).
    const event = eventRow({
      type: fn === 'U' ? 'pin.unblocked' : 'pin.blocked', cardToken: card.pan_token, organization: org.number,
      data: { sequence: card.card_sequence, ...(fn === 'B' ? { reason: 'requested' } : {}), channel: request.channel.trim() },
    });
    const outcome = await answeredWrite(this.db, caller.actor, async (trx): Promise<Outcome> => {
      const moved = await this.deps.cards.setPinStatus(trx, {
        cardId: card.id, unblock: fn === 'U', at: now,
        // Unblocks are counted against the daily cap; blocking never is (fraud, lost card).
        counted: fn === 'U' ? this.countToday(card, 'unblocks', now, false) : undefined,
        audit: { row, capped: this.cappedDetails('unblocks') },
        events: fn === 'U' || !card.pin_blocked ? [event] : [],
      });
      return moved ? { result } : { refusal: fail(CAPPED.unblocks) };
    }, (o) => o);
    if ('refusal' in outcome) throw outcome.refusal;
    return result;
  }

  // --- dynamic CVV2 and CVV2 verification ------------------------------------------------------------

  /**
   * POST /cards/pin/dynamic-values: N generates the dCVV2 of the current window (the logo's
   * validity) under the client's 3DES key and puts the card in dynamic mode — from then on only
   * a dCVV2 passes card-not-present checks; Y turns the card back to its static CVV2.
   */
  async dynamicValues(caller: Caller, request: DynamicValuesRequest) {
    const codes = DynamicValueCodes;
    const org = await this.organization(request.organizationNumber, codes);
    const disable = request.disableDCVV2.trim().toUpperCase();
    if (disable !== 'Y' && disable !== 'N') throw fail(codes.badDisableFlag);
    if (request.channel.trim() === '') throw fail(codes.channelBlank);
    const zpk = await this.zpk(caller, request.keyAssociation, codes.keyAssociationBlank);
    const { card, logo, account } = await this.find(org, request.cardNumber, undefined, codes);
    const [pan, cvk] = await Promise.all([this.deps.cards.panOf(card), this.key(logo.keys.cvk, 'CVK')]);
    const action = disable === 'Y' ? 'card.dcvv2.disable' : 'card.dcvv2.generate';
    const audit = { actor: caller.actor, card, action, details: { channel: request.channel.trim() } };
    await this.usable(audit, card, account, codes);
    const now = this.deps.clock.now();
    const accountType = logo.cardType === 'credit' ? 'Credit' : 'Debit';

    if (disable === 'Y') {
      const row = auditRow(caller.actor, { action, entityType: 'card', entityId: card.pan_token, organization: org.number, details: audit.details });
      const result = { cardNumber: await shownCardNumber(org, card.pan_token, pan), dcvv2: '', accountType, dcvv2ExpiryMinutes: '', dcvv2GenerationTime: '' };
      await this.dcvv2Modes.submit({ cardId: card.id, active: false, generatedAt: null, validityMinutes: null, expiresAt: null, at: now, audit: row, answer: await caller.actor.answer?.({ result }) });
      return result;
    }

    const validity = logo.dcvv2ValidityMinutes;
    const issued = await this.sm(() => this.deps.sm.generateDcvv2({ cvk, pan, nowMs: now.getTime(), validityMinutes: validity, zpk }), {});
    const expiresAt = new Date(issued.expiresAtMs);
    const row = auditRow(caller.actor, {
      action, entityType: 'card', entityId: card.pan_token, organization: org.number,
      details: { ...audit.details, validityMinutes: validity, expiresAt: expiresAt.toISOString() },
    });
    const result = {
      cardNumber: await shownCardNumber(org, card.pan_token, pan),
      dcvv2: issued.encryptedValue,
      accountType,
      dcvv2ExpiryMinutes: String(Math.max(1, Math.ceil((issued.expiresAtMs - now.getTime()) / 60_000))),
      dcvv2GenerationTime: now.toISOString(),
    };
    await this.dcvv2Modes.submit({ cardId: card.id, active: true, generatedAt: now, validityMinutes: validity, expiresAt, at: now, audit: row, answer: await caller.actor.answer?.({ result }) });
    return result;
  }

  /**
   * POST /cards/cvv2/verification (emboss): whether a CVV2 given with the card's expiry is
   * valid. Static mode checks the printed CVV2; dynamic mode only the dCVV2 last generated, inside
   * its window. Wrong values count like PIN tries against the logo's maximum; once blocked, every
   * value is refused (TRIES_EXCEEDED) until PUT /cards/pin/status U.
   */
  async verifyCvv2(caller: Caller, request: Cvv2VerificationRequest) {
    const codes = Cvv2Codes;
    const expiry = request.expirationDate.trim();
    if (!/^[0-9]{2}(0[1-9]|1[0-2])$/.test(expiry)) throw fail(PinCodes.badExpiry);
    const org = await this.organization(request.organizationNumber, codes);
    const { card, logo, account } = await this.find(org, request.cardNumber, request.cardSequenceNumber, codes);
    const [pan, cvk] = await Promise.all([this.deps.cards.panOf(card), this.key(logo.keys.cvk, 'CVK')]);
    const audit = { actor: caller.actor, card, action: 'card.cvv2.verify', details: {} };
    await this.usable(audit, card, account, codes);
    const mode = card.dcvv2_active ? 'DYNAMIC' : 'STATIC';
    const now = this.deps.clock.now();
    const max = logo.pin.maxInvalidTries;
    const shown = await shownCardNumber(org, card.pan_token, pan);
    const answer = (valid: boolean, result: string, tries: number, blocked: boolean) => ({
      cardNumber: shown, cvv2Valid: valid ? 'Y' : 'N', result, cvv2Mode: mode,
      invalidTries: tries, maxInvalidTries: max, blockedIndicator: blocked ? 'B' : 'N',
    });
    if (card.cvv2_blocked) {
      await this.auditRefusal(audit, ['', 'tries exceeded']);
      return answer(false, 'TRIES_EXCEEDED', card.cvv2_tries, true);
    }
    let valid = false;
    if (expiry === card.expiry) {
      if (mode === 'STATIC') {
        valid = await this.sm(() => this.deps.sm.verifyCvv2({ cvk, pan, expiryYYMM: card.expiry, cvv2: request.cvv2 }), {});
      } else if (card.dcvv2_expires_at && card.dcvv2_validity_minutes && now.getTime() < new Date(card.dcvv2_expires_at).getTime()) {
        valid = await this.sm(() => this.deps.sm.verifyDcvv2({
          cvk, pan, dcvv2: request.cvv2, nowMs: now.getTime(), validityMinutes: card.dcvv2_validity_minutes!,
        }), {});
      }
    }
    const outcome = await this.count('cvv2', audit, card, max, valid, async (counted) => {
      if (valid && counted.ok) return { result: answer(true, 'MATCH', 0, false) };
      if (valid || counted.blockedBefore) return { result: answer(false, 'TRIES_EXCEEDED', max, true) }; // blocked by a concurrent request
      return { result: answer(false, 'NO_MATCH', counted.tries ?? card.cvv2_tries + 1, counted.blocked ?? false) };
    });
    if ('refusal' in outcome) throw outcome.refusal;
    return outcome.result as ReturnType<typeof answer>;
  }

  // --- counters ------------------------------------------------------------------------------------

  /**
   * The PIN outcome, settled in one guarded statement: correct resets the counter unless the
   * PIN is blocked (or was changed meanwhile); wrong counts, blocking at the logo's maximum.
   * Throws the refusal; returns only for a correct PIN on an unblocked card.
   */
  private async settle(audit: AuditContext, card: CardRow, logo: Logo, correct: boolean, result: unknown): Promise<void> {
    const outcome = await this.count('pin', audit, card, logo.pin.maxInvalidTries, correct, async (counted, db) => {
      if (correct) return counted.ok ? { result } : { refusal: fail(counted.blockedBefore ? PinCodes.pinTriesExceeded : await this.lostRace(card, 'pin', db)) };
      // The try that reaches the maximum is answered as "exceeded", as every later one.
      return { refusal: fail(counted.blocked === false ? PinCodes.incorrectPin : PinCodes.pinTriesExceeded) };
    });
    if ('refusal' in outcome) throw outcome.refusal;
  }

  /**
   * One statement: the counter update and its audit record. Correct: `tries = 0` where not
   * blocked (and, for the PIN, the PVV/offset is the one checked). Wrong: `tries + 1`, blocked
   * when it reaches `max`, where not blocked already. `decide` makes the request's outcome of what
   * was counted: when the counter moved, the answer is recorded in the same transaction.
   */
  private async count(counter: Counter, audit: AuditContext, card: CardRow, max: number, correct: boolean,
    decide: (counted: Counted, db: Kysely<DB>) => Promise<Outcome>): Promise<Outcome> {
    await audit.actor.reserve?.(); // the first write of a PIN validation or CVV2 check (see Actor.reserve)
    if (correct && (counter === 'pin' ? card.pin_tries : card.cvv2_tries) === 0) return this.countCorrect(counter, audit, card, decide);
    return answeredWrite(this.db, audit.actor, async (trx) => {
      const counted = await this.move(trx, counter, audit, card, max, correct);
      return counted.capped ? { refusal: fail(CAPPED.verifications) } : decide(counted, trx);
    }, (o) => o);
  }

  /**
   * `count` for the common case, a right PIN (or CVV2) on a card read with no invalid tries: ONE
   * statement, no transaction, shared with the concurrent checks of other cards (`corrects`, a
   * Batcher: one statement and one commit for all of them). It has no counter to reset, so its
   * only outcomes are counted (the answer), blocked as the statement sees the card, or capped; all
   * three answers are made (and sealed) before, and the statement records the one each check
   * reaches, with the count and the audit records — the answer and the effect commit together
   * without BEGIN/COMMIT round trips, and the count row is locked for one statement only. The
   * request id's key row is locked for the statement (FOR UPDATE, as batch card adds do, see
   * heldItems): nothing of a check is written unless its run still holds the id, and no retry can
   * take it over meanwhile.
   */
  private async countCorrect(counter: Counter, audit: AuditContext, card: CardRow,
    decide: (counted: Counted, db: Kysely<DB>) => Promise<Outcome>): Promise<Outcome> {
    const { actor } = audit;
    // Statement order: 0 counted, 1 blocked, 2 capped (the `o` of the statement, see countCorrects).
    const outcomes: Outcome[] = [
      await decide({ ok: true }, this.db), await decide({ ok: false, blockedBefore: true }, this.db), { refusal: fail(CAPPED.verifications) },
    ];
    // The answer made last is the one the HTTP layer sends (Actor.answer): the likely one, counted, last.
    const others = actor.answer ? await Promise.all([actor.answer(outcomes[1]!), actor.answer(outcomes[2]!)]) : undefined;
    const answers = actor.answer ? [await actor.answer(outcomes[0]!), ...others!] as const : undefined;
    const item: CorrectCheck = {
      cardId: card.id, counter, day: isoDay(this.deps.clock.now()),
      audit: auditRow(actor, { action: audit.action, entityType: 'card', entityId: card.pan_token, organization: card.organization, details: audit.details }),
      answers,
    };
    let o: 0 | 1 | 2 | undefined | 'again';
    // A second check of a card already in the batch waits for the next one (see countCorrects).
    do o = await this.corrects.submit(item); while (o === 'again');
    if (o === undefined) throw new RequestTakenOver();
    // Another outcome than the likely one: made again, last, so that it is the one sent.
    if (actor.answer && o !== 0) await actor.answer(outcomes[o]!);
    return outcomes[o]!;
  }

  /**
   * The statement of concurrent `countCorrect` checks (the repository's recordCorrectChecks): per
   * check, its outcome (0 counted, 1 blocked, 2 capped), undefined when its run no longer holds its
   * request id (nothing of it written), or 'again' for a second check of a card already in the
   * batch, which goes in the next one. The day's counts are this module's (countCorrectsToday).
   */
  private countCorrects(items: CorrectCheck[]): Promise<Array<0 | 1 | 2 | undefined | 'again'>> {
    const details = ['{"outcome":"correct"}', '{"outcome":"refused: blocked or changed meanwhile"}', this.cappedDetails('verifications')] as const;
    return this.deps.cards.recordCorrectChecks(items, this.countCorrectsToday(), details);
  }

  /** The guarded statement of `count`. */
  private async move(db: Kysely<DB>, counter: Counter, audit: AuditContext, card: CardRow, max: number, correct: boolean): Promise<Counted> {
    const now = this.deps.clock.now();
    const row = auditRow(audit.actor, { action: audit.action, entityType: 'card', entityId: card.pan_token, organization: card.organization, details: audit.details });
    // The check counts against the card's daily cap, right or wrong; at the cap (nothing counted,
    // the card not blocked) nothing else moves.
    const counted = this.countToday(card, 'verifications', now, true);
    const capped = this.cappedDetails('verifications');
    if (correct) {
      // Invalid tries to reset (with none, count() takes countCorrect instead).
      const r = await this.deps.cards.resetTries(db, {
        cardId: card.id, counter, at: now, counted,
        ...(counter === 'pin' ? { pinVerification: card.pin_verification } : {}),
        audit: { row, done: '{"outcome":"correct"}', refused: '{"outcome":"refused: blocked or changed meanwhile"}', capped },
      });
      return { capped: !r.counted && !r.wasBlocked, ok: r.reset };
    }
    const u = await this.deps.cards.countWrongTry(db, {
      cardId: card.id, counter, max, at: now, counted,
      audit: { row, incorrect: 'incorrect', nowBlocked: 'incorrect, now blocked', refused: '{"outcome":"refused: tries exceeded"}', capped },
      eventsIfBlocked: counter !== 'pin' ? [] : [eventRow({
        type: 'pin.blocked', cardToken: card.pan_token, organization: card.organization,
        data: { sequence: card.card_sequence, reason: 'tries exceeded', maxTries: max },
      })],
    });
    if (!u.counted && !u.wasBlocked) return { ok: false, capped: true };
    return u.tries !== null ? { ok: false, tries: u.tries, blocked: u.blocked ?? false } : { ok: false, blockedBefore: true };
  }

  /**
   * The part of a statement (a data-modifying CTE) that counts one verification or unblock of the
   * card today, unless today's cap is reached: it returns a row only when it counted. Statements of
   * any process on the same card and day wait for each other on the row and each adds to the
   * latest count (INSERT … ON CONFLICT DO UPDATE), so the count stops exactly at the cap — as the
   * try counters do (see the class comment). The row stays locked until the transaction ends, so
   * it is not touched at all when the statement's snapshot already shows the cap reached (counts
   * only grow within a day) or, with `blocked`, that column set: a try on a blocked PIN or CVV2
   * is answered without a verdict and is no verification. A flood on one card past its cap or
   * block then waits on no lock.
   */
  private countToday(card: CardRow, kind: Daily, now: Date, unlessBlocked: boolean): RawBuilder<unknown> {
    const [n, current, day, cap] = [sql.ref(kind), sql.ref(`l.${kind}`), isoDay(now), this.deps.dailyCaps[kind]];
    // `card (id, blocked)`: the card as the repository's statement sees it (see CardRepository).
    return sql`
      insert into card_daily_limits as l (card_id, day, ${n})
      select card.id, ${day}::date, 1 from card
      where ${unlessBlocked ? sql`not card.blocked and` : sql``}
        coalesce((select t.${n} from card_daily_limits t where t.card_id = ${card.id}::bigint and t.day = ${day}::date), 0) < ${cap}::int
      on conflict (card_id, day) do update set ${n} = ${current} + 1 where ${current} < ${cap}::int
      returning 1`;
  }

  /**
   * `countToday` for a batch of right checks (recordCorrectChecks): one verification of each card of
   * `checked (i, id, day, blocked)` whose counter is not blocked, unless its day's cap is reached;
   * returns the cards counted. The count rows are locked in card order, so batches of concurrent
   * statements (of any process) wait for each other instead of deadlocking.
   */
  private countCorrectsToday(): RawBuilder<unknown> {
    const cap = this.deps.dailyCaps.verifications;
    return sql`
      insert into card_daily_limits as l (card_id, day, verifications)
      select id, day, 1 from checked
      where not blocked
        and coalesce((select t.verifications from card_daily_limits t where t.card_id = checked.id and t.day = checked.day), 0) < ${cap}::int
      order by id
      on conflict (card_id, day) do update set verifications = l.verifications + 1 where l.verifications < ${cap}::int
      returning card_id`;
  }

  /** The audit details of a request refused at a daily cap: every refusal is recorded, with the cap. */
  private cappedDetails(kind: Daily): string {
    const code = CAPPED[kind];
    return JSON.stringify({ outcome: `refused: ${code[1].toLowerCase()}`, code: code[0], cap: this.deps.dailyCaps[kind] });
  }

  /** Housekeeping: the counts of past UTC days are spent. Returns how many rows went. */
  async purgeDailyLimits(): Promise<number> {
    const r = await this.db.deleteFrom('card_daily_limits').where('day', '<', isoDay(this.deps.clock.now())).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Why a guarded update matched no row: blocked by a concurrent request, or the PIN changed meanwhile. */
  private async lostRace(card: CardRow, counter: Counter, db: Kysely<DB>): Promise<Code> {
    const now = await this.deps.cards.tryState(db, card.id);
    if (!now) return CardCodes.cardNotFound;
    if (counter === 'pin' ? now.pin_blocked : now.cvv2_blocked) return PinCodes.pinTriesExceeded;
    return PinCodes.pinChangedMeanwhile;
  }

  // --- helpers -------------------------------------------------------------------------------------

  private async organization(number: number, codes: CardCheckCodes): Promise<Organization> {
    // Upstream's form allows 000–999; organizations are 001–998.
    if (number < 1 || number > 998) throw fail(codes.badOrganization ?? codes.orgNotFound);
    const org = await this.deps.organizations.organization(number);
    if (!org) throw fail(codes.orgNotFound);
    return org;
  }

  /** The card of an organization, by number or token; the upstream codes for a blank number or a token the organization does not use. */
  private async find(org: Organization, given: string, sequence: number | undefined, codes: CardCheckCodes): Promise<Found> {
    // Upstream's form is any text of the length: blanks around the number are ignored (a number
    // padded to 19 with spaces); what is then not 12–19 letters and digits names no card.
    const number = given.trim();
    if (/^0*$/.test(number)) throw fail(codes.panZeros ?? codes.cardNotFound);
    if (!/^[0-9A-Za-z]{12,19}$/.test(number)) throw fail(codes.badNumber ?? codes.cardNotFound);
    if (/[A-Za-z]/.test(number) && !org.panTokenEnabled && codes.tokenSwitchOff) throw fail(codes.tokenSwitchOff);
    // The account comes in the same statement: most operations here check it before using the card.
    const found = await this.deps.cards.resolveWithAccount(org.number, number, sequence);
    if (!found) throw fail(codes.cardNotFound);
    const { card, account } = found;
    const logo = await this.deps.organizations.logo(org.number, card.logo);
    if (!logo) throw fail(codes.logoNotFound);
    return { org, card, logo, account };
  }

  /** As `find`, in the named organization or, when none is named, in those of the client. */
  private async findAnywhere(caller: Caller, organization: number | undefined, number: string, sequence: number | undefined,
    codes: CardCheckCodes & { orgUndetermined: Code }): Promise<Found> {
    if (organization !== undefined) return this.find(await this.organization(organization, codes), number, sequence, codes);
    if (caller.organizations.length === 0) throw fail(codes.orgUndetermined);
    for (const n of caller.organizations) {
      const org = await this.deps.organizations.organization(n);
      if (!org) continue;
      try {
        return await this.find(org, number, sequence, codes);
      } catch (e) {
        if (caller.organizations.length === 1) throw e;
      }
    }
    throw fail(codes.cardNotFound);
  }

  /** The client's ZPK named by a key association (looked up before any statement that writes). */
  private async zpk(caller: Caller, association: string | undefined, blank: Code | undefined): Promise<KeyBlock> {
    const code = (association ?? '').trim().toUpperCase();
    if (code === '') throw fail(blank ?? PinCodes.keyAssociationUnknown);
    const name = Object.hasOwn(caller.keyAssociations, code) ? caller.keyAssociations[code] : undefined;
    const key = name ? await this.deps.keys.find(name) : undefined;
    if (!key || key.type !== 'ZPK') throw fail(PinCodes.keyAssociationUnknown);
    return key.keyBlock;
  }

  private async key(name: string, type: 'CVK' | 'PVK'): Promise<KeyBlock> {
    return (await this.deps.keys.require(name, type)).keyBlock;
  }

  /** Refuses (with an audit record) a card that may not be used now, under the endpoint's codes. */
  private async usable(audit: AuditContext, card: CardRow, account: Account | undefined, codes: CardCheckCodes): Promise<void> {
    const problem = cardProblem(card, account, this.deps.clock.now());
    if (problem) await this.auditRefusal(audit, this.mapProblem(problem, codes), true);
    if (codes.pinSuppressed && (card.pin_suppressed || !card.pin_stored || !card.pin_verification)) {
      await this.auditRefusal(audit, card.pin_suppressed ? codes.pinSuppressed : PinCodes.pinNotOnFile, true);
    }
    if (codes.pinSuppressed && card.pin_blocked) await this.auditRefusal(audit, PinCodes.pinTriesExceeded, true);
  }

  private mapProblem(problem: Code, codes: CardCheckCodes): Code {
    const byProblem = new Map<Code, Code | undefined>([
      [CardCodes.accountNotFound, codes.accountStatus], [CardCodes.accountClosed, codes.accountStatus],
      [CardCodes.accountBlocked, codes.accountBlocked], [CardCodes.cardNotActive, codes.cardStatus],
      [CardCodes.cardBlocked, codes.cardBlocked], [CardCodes.cardExpired, codes.expired], [CardCodes.cardNeedsActivation, codes.notActivated],
    ]);
    return byProblem.get(problem) ?? problem;
  }

  /** The format of a client PIN block (given, or 4 for 32 hex digits, 0 for 16) after a shape check. */
  private async pinBlockFormat(audit: AuditContext, block: string, given: PinBlockFormat | undefined, bad: Code): Promise<PinBlockFormat> {
    const format = given ?? (block.length === 32 ? 4 : 0);
    if (block.length !== (format === 4 ? 32 : 16) || !/^[0-9A-Fa-f]+$/.test(block)) await this.auditRefusal(audit, bad, true);
    return format;
  }

  private async verifyPin(audit: AuditContext, card: CardRow, logo: Logo, pan: string, zpk: KeyBlock, pinBlock: string, format: PinBlockFormat, bad: Code): Promise<boolean> {
    const pvk = await this.key(logo.keys.pvk, 'PVK');
    const method = pinMethodOf(logo);
    const reference = card.pin_verification!;
    return this.refusing(audit, () => this.sm(() => this.deps.sm.verifyPin({
      zpk, pinBlock, format, pan, pvk, method, ...(method.kind === 'PVV' ? { pvv: reference } : { offset: reference }),
    }), { BAD_PIN_BLOCK: bad }));
  }

  /** Calls the security module, turning its refusals into the endpoint's 422 codes (never its message). */
  private async sm<T>(call: () => Promise<T>, codes: Partial<Record<SecurityModuleErrorCode, Code>>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof SecurityModuleError) {
        const code = codes[e.code] ?? (e.code === 'WRONG_KEY_TYPE' ? PinCodes.keyAssociationWrongKind : undefined);
        if (code) throw fail(code);
      }
      throw e;
    }
  }

  /** Runs `call`; a business-rule refusal it throws is recorded in the audit trail first. */
  private async refusing<T>(audit: AuditContext, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof Refusal && e.kind === 'business-rule') {
        await this.auditRefusal(audit, [e.code, e.description], true);
      }
      throw e;
    }
  }

  /** Audit record of a refused attempt on a known card (the code only; never a value). Throws the code when asked. */
  private async auditRefusal(audit: AuditContext, code: Code, thenThrow = false): Promise<void> {
    await recordAudit(this.db, audit.actor, {
      action: audit.action, entityType: 'card', entityId: audit.card.pan_token, organization: audit.card.organization,
      details: { ...audit.details, outcome: `refused: ${code[1].toLowerCase()}`, ...(code[0] ? { code: code[0] } : {}) },
    });
    if (thenThrow) throw fail(code);
  }

}

/** A dCVV2 mode change, with the request's answer, recorded with the change (see setDcvv2Modes). */
interface Dcvv2Mode extends Dcvv2ModeChange {
  answer?: RecordedAnswer | undefined;
}

/** What a guarded counter statement did. */
interface Counted { ok: boolean; capped?: boolean; tries?: number; blocked?: boolean; blockedBefore?: boolean }

interface AuditContext { actor: Actor; card: CardRow; action: string; details: Record<string, unknown> }
