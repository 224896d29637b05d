import type { Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import type { Actor } from '../../shared/actor.ts';
import type { Clock } from '../../shared/clock.ts';
import { refusal as fail } from '../../shared/errors.ts';
import { isStorableAmount } from '../../shared/schema.ts';
import type { IssuedPin, SecurityModule, TrackDataForClient, TrackPinField } from '../../security-module/port.ts';
import { recordAudit } from '../audit/index.ts';
import { recordEvent } from '../events/index.ts';
import { answeredWrite } from '../idempotency/index.ts';
import type { Account, AccountsService } from '../accounts/index.ts';
import type { KeysService } from '../keys/index.ts';
import type { Logo, Organization, OrganizationsService } from '../organizations/index.ts';
import { splitName, type PersonalizationOutbox } from '../personalization/index.ts';
import { CardCodes, CardStatus, expiryDate, pinMethodOf, shownCardNumber, type CardRow, type Viewer } from './card-rules.ts';
import type { CardRepository } from './card-repository.ts';
import type { CardIssuing, IssuedCard } from './issuing.ts';
import type { CardActionRequest, CardActionResponse } from './cards.schemas.ts';

type Code = readonly [string, string];

/**
 * Codes of `PUT /cards/embosser/cardAction-L8V2`: the upstream VPL5SPR…/VPL5SCP… codes of
 * EmbosserCardActionL8V2, emboss's own EMBC… where the upstream list has none.
 */
export const CardActionCodes = {
  orgNotFound: ['VPL5SPR02S', 'ORG NUMBER NOT FOUND'],
  invalidAction: ['VPL5SPR04E', 'INVALID INPUT CARD ACTION - VALID VALUES ARE 0 TO 7'],
  cardNotFound: ['VPL5SPR04S', 'CARD NUMBER NOT FOUND'],
  accountNotFound: ['VPL5SPR05S', 'ACCOUNT NUMBER NOT FOUND'],
  logoNotFound: ['VPL5SPR06S', 'LOGO NUMBER NOT FOUND'],
  requestedNeeded: ['VPL5SPR10S', '# CARD REQ MUST BE GREATER THAN ZERO FOR ACTION 1 OR 2 OR 3 OR 6'],
  requestedMustBeZero: ['VPL5SPR17S', 'CARD REQUESTED MUST BE ZERO WHEN ACTION 0 OR 4 OR 5'],
  randomPinOnlyAction5: ['VPL5SPR29S', 'RANDOM PIN GEN CAN BE ACTIVE ONLY IF CARD ACTION IS 5'],
  badInstantType: ['VPL5SPR32E', 'INVALID INSTANT PROCESS TYPE, VALID VALUES ARE 0 AND 1'],
  pinSuppressed: ['VPL5SCP29S', 'PIN SUPPRESSION IS ON, PIN CHANGE NOT ALLOWED'],
  accountClosed: CardCodes.accountClosed,
  cardClosed: ['EMBC11E', 'CARD IS CLOSED - NO CARD ACTION'],
  randomPinNeeded: ['EMBC12E', 'RANDOM PIN MUST BE 1 FOR CARD ACTION 5'],
  renewalExpiry: ['EMBC13E', 'RENEWAL EXPIRY MUST BE LATER THAN THE CURRENT ONE AND WITHIN 20 YEARS'],
  amountTooLarge: CardCodes.amountTooLarge,
} as const satisfies Record<string, Code>;

/**
 * The card action table (README: Card actions).
 * - none: nothing but the action, reason and counts recorded on the card.
 * - sequence: the same number, the next sequence, a new plastic; the PIN is kept (no mailer).
 * - replace: a new number (drawn as for card add), a new PIN; every open sequence of the old
 *   number closed for good (status 3) with `blockCode`, linked both ways to the new card.
 * - pin: a new random PIN for the same card and a PIN mailer record for the bureau.
 */
type ActionRule =
  | { kind: 'none'; requested: 'zero' }
  | { kind: 'pin'; requested: 'zero' }
  | { kind: 'sequence'; requested: 'positive'; renew: boolean }
  | { kind: 'replace'; requested: 'zero' | 'positive'; blockCode: 'L' | 'C'; instant: boolean };

export const CARD_ACTIONS: Readonly<Record<number, ActionRule>> = {
  0: { kind: 'none', requested: 'zero' },
  1: { kind: 'sequence', requested: 'positive', renew: false },
  2: { kind: 'sequence', requested: 'positive', renew: true },
  3: { kind: 'sequence', requested: 'positive', renew: false },
  4: { kind: 'replace', requested: 'zero', blockCode: 'L', instant: false },
  5: { kind: 'pin', requested: 'zero' },
  6: { kind: 'replace', requested: 'positive', blockCode: 'L', instant: true },
  7: { kind: 'replace', requested: 'zero', blockCode: 'C', instant: false },
};

/** Longest validity a renewal may give, in months from now (as for a requested expiry at card add). */
const MAX_VALIDITY_MONTHS = 240;

export interface CardActionsDeps {
  db: Kysely<DB>;
  repository: CardRepository;
  /** The one issuing path, for the new card of a sequence or replacement action. */
  issuing: CardIssuing;
  sm: SecurityModule;
  keys: KeysService;
  organizations: OrganizationsService;
  accounts: AccountsService;
  personalization: PersonalizationOutbox;
  clock: Clock;
}

/** Months since year 0 of a YYMM expiry (20YY) or a date, to count in months. */
const monthIndexOf = (expiry: string) => (2000 + Number(expiry.slice(0, 2))) * 12 + Number(expiry.slice(2, 4)) - 1;
const monthIndexNow = (d: Date) => d.getUTCFullYear() * 12 + d.getUTCMonth();
const yymmOf = (index: number) => `${String(Math.floor(index / 12) % 100).padStart(2, '0')}${String((index % 12) + 1).padStart(2, '0')}`;

/**
 * PUT /cards/embosser/cardAction-L8V2. Every look-up that is not the card itself (organization,
 * logo, keys) and every security-module operation that does not depend on the locked state runs
 * before the transaction; inside it, only `trx` is used (PGlite has one session).
 */
export class CardActions {
  constructor(private readonly deps: CardActionsDeps) {}

  async update(actor: Actor, request: CardActionRequest, viewer: Viewer): Promise<CardActionResponse> {
    const org = request.organizationNumber;
    const organization = await this.deps.organizations.organization(org);
    if (!organization) throw fail(CardActionCodes.orgNotFound);
    const action = request.cardAction;
    const rule = CARD_ACTIONS[action];
    if (!rule) throw fail(CardActionCodes.invalidAction);
    const requested = request.numberCardsRequested ?? 0;
    const returned = request.numberCardsReturned ?? 0;
    if (rule.requested === 'positive' && requested <= 0) throw fail(CardActionCodes.requestedNeeded);
    if (rule.requested === 'zero' && requested !== 0) throw fail(CardActionCodes.requestedMustBeZero);
    if (request.randomPin === 1 && action !== 5) throw fail(CardActionCodes.randomPinOnlyAction5);
    if (action === 5 && request.randomPin !== 1) throw fail(CardActionCodes.randomPinNeeded);
    const instantType = (request.instantProcessType ?? '').trim();
    if (!['', '0', '1'].includes(instantType)) throw fail(CardActionCodes.badInstantType);
    const reason = (request.cardActionReason ?? '').trim();
    if (!isStorableAmount(request.userData?.userAmount)) throw fail(CardActionCodes.amountTooLarge);

    const found = await this.deps.repository.resolve(org, request.cardNumber, request.cardSequence);
    if (!found) throw fail(CardActionCodes.cardNotFound);
    const logo = await this.deps.organizations.logo(org, found.logo);
    if (!logo) throw fail(CardActionCodes.logoNotFound);
    const pan = await this.deps.repository.panOf(found);
    const pvk = (await this.deps.keys.require(logo.keys.pvk, 'PVK')).keyBlock;
    const cvk = (await this.deps.keys.require(logo.keys.cvk, 'CVK')).keyBlock;
    const zekKey = viewer.pci && viewer.cardNumberKey ? await this.deps.keys.find(viewer.cardNumberKey) : undefined;
    const zek = zekKey?.type === 'ZEK' ? zekKey.keyBlock : undefined;
    const newPin = rule.kind === 'pin' && !found.pin_suppressed ? await this.deps.sm.generatePin({ pvk, pan, method: pinMethodOf(logo) }) : undefined;
    const now = this.deps.clock.now();
    const today = now.toISOString().slice(0, 10);
    const actionName = `card.action.${action}`;
    const recorded = {
      cardAction: action, numberOfCardsRequested: requested, numberCardsReturned: returned,
      ...(request.userData ? { cardActionUserData: request.userData } : {}),
    };

    return answeredWrite(this.deps.db, actor, async (trx) => {
      // Every sequence of the number, locked: the next sequence and the closing of a replaced
      // number are decided on rows no one else changes meanwhile.
      const sequences = await this.deps.repository.sequencesLocked(trx, found.pan_hash);
      const card = sequences.find((c) => c.id === found.id);
      if (!card) throw fail(CardActionCodes.cardNotFound);
      const account = await this.deps.accounts.find(org, card.account_number, trx);
      if (!account) throw fail(CardActionCodes.accountNotFound);
      if (account.status === 'C') throw fail(CardActionCodes.accountClosed);
      if (card.status === CardStatus.closed) throw fail(CardActionCodes.cardClosed);
      const markActed = (id: string) => this.deps.repository.markActed(trx, id, action, reason, recorded, now);
      const audit = async (details: Record<string, unknown>) => {
        await recordAudit(trx, actor, {
          action: actionName, entityType: 'card', entityId: card.pan_token, organization: org,
          details: { cardAction: action, sequence: card.card_sequence, reason, requested, returned, instantProcessType: instantType, ...details },
        });
        // The event names the action and what it made; the free-text reason stays in the audit trail.
        await recordEvent(trx, {
          type: 'card.action', cardToken: card.pan_token, organization: org,
          data: { cardAction: action, kind: rule.kind, sequence: card.card_sequence, ...eventDetails(details) },
        });
      };

      let result: { card: CardRow; pan: string };
      if (rule.kind === 'none') {
        result = { card: await markActed(card.id), pan };
        await audit({});
      } else if (rule.kind === 'pin') {
        if (card.pin_suppressed || !newPin) throw fail(CardActionCodes.pinSuppressed);
        const updated = await this.deps.repository.reissuePin(trx, card.id, { storedPinBlock: newPin.storedPinBlock, verification: newPin.pvv ?? newPin.offset ?? null }, { action, reason, recorded }, now);
        // The PIN mailer: a bureau record for the same card, its reference marked '.PIN'.
        const mailer = await this.deps.personalization.recordFor({
          organization, logo, pan, reference: `${card.pan_token}.${card.card_sequence}.PIN`, expiry: card.expiry, serviceCode: card.service_code,
          embossedName1: card.embossed_name_1, embossedName2: card.embossed_name_2, reason: actionName,
          pin: { method: pinMethodOf(logo), ...newPin },
        }, trx);
        if (mailer) await this.deps.personalization.add(trx, mailer, card.id);
        await audit({ pin: 'reissued', pinMailer: mailer ? 'queued' : 'no bureau' });
        result = { card: updated, pan };
      } else if (rule.kind === 'sequence') {
        // Read again once the lock is held: under READ COMMITTED this statement also sees a
        // sequence that a transaction we waited for has just added.
        const sequence = await this.deps.repository.lastSequence(trx, card.pan_hash) + 1;
        const expiry = rule.renew ? renewalExpiry(card.expiry, logo, now) : card.expiry;
        const issued = await this.deps.issuing.issue(trx, actor, {
          ...this.specFrom(card, organization, logo, account, pvk, actionName, recorded),
          sequence, expiry, blockCode: card.block_code,
          existing: { pan, panHash: card.pan_hash, token: card.pan_token, ...(keptPin(card, logo) ? { pin: keptPin(card, logo)! } : {}) },
        });
        await markActed(card.id);
        result = { card: await this.markNew(trx, issued, action, reason, null), pan };
        await audit({ newSequence: sequence, ...(rule.renew ? { expiry: 'renewed' } : {}) });
      } else {
        const issued = await this.deps.issuing.issue(trx, actor, {
          ...this.specFrom(card, organization, logo, account, pvk, actionName, recorded),
          sequence: 1, expiry: yymmOf(monthIndexNow(now) + logo.expiryMonths), blockCode: '',
          activationRequired: !rule.instant && !card.digital,
        });
        // Every open sequence of the old number closes for good and points to its replacement.
        await this.deps.repository.closeNumber(trx, card.pan_hash, rule.blockCode, issued.card!.id, now);
        await markActed(card.id);
        result = { card: await this.markNew(trx, issued, action, reason, card.id), pan: issued.pan };
        await audit({ replacedBy: issued.token, blockCode: rule.blockCode });
      }
      // Computed before the commit: a failure here leaves nothing half done.
      const tracks = rule.kind !== 'none' && zek ? await this.trackData(zek, cvk, result.pan, result.card, logo) : undefined;
      const c = result.card;
      const profile = c.profile as Record<string, unknown>;
      return {
        organizationNumber: org,
        cardNumber: await shownCardNumber(organization, c.pan_token, result.pan),
        cardSequence: c.card_sequence,
        cardAction: action,
        numberCardsRequested: requested,
        numberCardsReturned: returned,
        randomPin: request.randomPin,
        logo: c.logo,
        customerNumber: c.customer_number,
        encryptedTrack1: tracks?.encryptedTrack1 ?? '',
        encryptedTrack2: tracks?.encryptedTrack2 ?? '',
        embosserBlockData: tracks?.embosserBlockData ?? '',
        embosserName1: c.embossed_name_1,
        embosserName2: c.embossed_name_2,
        owningBranchNumber: typeof profile.owningBranchNumber === 'number' ? profile.owningBranchNumber : 0,
        expiryDate: expiryDate(c.expiry),
        // The action's user data, every field: as sent, else the date of the action and zeros.
        userData: [{ userDate: request.userData?.userDate ?? today, userAmount: request.userData?.userAmount ?? 0, userCode: request.userData?.userCode ?? 0 }],
      };
    });
  }

  /** What a new card of an action takes over from the card acted on. */
  private specFrom(card: CardRow, organization: Organization, logo: Logo, account: Account, pvk: string, action: string, recorded: Record<string, unknown>) {
    return {
      organization, logo, account, pvk, action,
      customerNumber: card.customer_number,
      serviceCode: card.service_code,
      embossedName1: card.embossed_name_1,
      embossedName2: card.embossed_name_2,
      // A mailed plastic waits for the cardholder's activation; a digital card has no plastic.
      activationRequired: !card.digital,
      pinSuppressed: card.pin_suppressed,
      digital: card.digital,
      profile: { ...(card.profile as Record<string, unknown>), ...recorded },
    };
  }

  private markNew(trx: Kysely<DB>, issued: IssuedCard, action: number, reason: string, replaces: string | null) {
    return this.deps.repository.markMadeBy(trx, issued.card!.id, action, reason, replaces);
  }

  /** The card's tracks and embosser block under the client's card-number key. */
  private trackData(zek: string, cvk: string, pan: string, card: CardRow, logo: Logo): Promise<TrackDataForClient> {
    const pin: TrackPinField | undefined = card.pin_verification === null ? undefined
      : logo.pin.method === 'PVV' ? { kind: 'PVV', pvki: String(logo.pin.pvki), pvv: card.pin_verification } : { kind: 'IBM3624', offset: card.pin_verification };
    return this.deps.sm.trackDataForClient({
      zek, cvk, pan, expiryYYMM: card.expiry, serviceCode: card.service_code, cardholder: splitName(card.embossed_name_1),
      embossLine1: card.embossed_name_1, embossLine2: card.embossed_name_2, ...(pin ? { pin } : {}),
    });
  }
}

/** An action's audit details as event data: a reissued PIN is said so (a field named `pin` would be redacted). */
function eventDetails({ pin, ...details }: Record<string, unknown>): Record<string, unknown> {
  return pin === undefined ? details : { ...details, pinReissued: true };
}

/** The PIN a new sequence of the same number keeps: the card's stored PIN and PVV/offset. */
function keptPin(card: CardRow, logo: Logo): IssuedPin | undefined {
  if (card.pin_suppressed || card.pin_stored === null || card.pin_verification === null) return undefined;
  return logo.pin.method === 'PVV'
    ? { storedPinBlock: card.pin_stored, pvv: card.pin_verification }
    : { storedPinBlock: card.pin_stored, offset: card.pin_verification };
}

/**
 * Renewal: the logo's validity counted from the card's current expiry month, or from this month
 * when the card has already expired; refused when that is not later than the current expiry or
 * more than 20 years from now.
 */
function renewalExpiry(current: string, logo: Logo, now: Date): string {
  const from = Math.max(monthIndexOf(current), monthIndexNow(now));
  const next = from + logo.expiryMonths;
  if (next <= monthIndexOf(current) || next - monthIndexNow(now) > MAX_VALIDITY_MONTHS) throw fail(CardActionCodes.renewalExpiry);
  return yymmOf(next);
}
