import type { Selectable } from 'kysely';
import type { CardTable } from '../../db/schema.ts';
import { isStorableAmount } from '../../shared/schema.ts';
import type { PinVerificationMethod } from '../../security-module/port.ts';
import type { Account } from '../accounts/index.ts';
import type { Logo, Organization } from '../organizations/index.ts';

/**
 * The rules every part of the cards module applies (issuing, inquiries, state changes, card
 * actions) and the PIN module reuses: the codes, what makes a card usable, how a number is shown.
 * Pure: no database, no security module.
 */

export type Code = readonly [string, string];

export type CardRow = Selectable<CardTable>;

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
export const amountsStorable = (fields: Partial<Record<(typeof SPENDING_AMOUNTS)[number], number>>) => SPENDING_AMOUNTS.every((k) => isStorableAmount(fields[k]));

/** A card block code as VisionPLUS keeps it: one upper-case letter, or none (''); undefined when it is neither. */
export function blockCodeOf(value: string | undefined): string | undefined {
  const code = (value ?? '').trim().toUpperCase();
  return /^[A-Z]?$/.test(code) ? code : undefined;
}

/** Card status (the upstream cardStatus 0–3). */
export const CardStatus = { active: 0, inactive: 1, blocked: 2, closed: 3 } as const;

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

/** YYMM of a Date (UTC). */
export const yymm = (d: Date) => `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
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

/** The request fields kept as sent on the card record (addresses, limits, user fields), minus those stored in columns. */
export function profileOf(request: Record<string, unknown>, columns: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(request)) if (!columns.includes(k) && v !== undefined) out[k] = v;
  return out;
}
