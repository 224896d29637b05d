import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { Logo } from '../organizations/index.ts';
import type { Selectable } from 'kysely';
import type { CardTable } from '../../db/schema.ts';
import { ShownCardNumber } from './cards.schemas.ts';

/**
 * POST /cards/v2/embosser/details: every field upstream documents for the answer
 * (EmbosserDetailsResponse, Cards 1.3.0), and how emboss fills each (docs/wire-compatibility.md:
 * Cards). Where emboss keeps a value it is the card's; where it has none, the neutral value
 * VisionPLUS shows for an empty field: "" for text, 0 for numbers, "0.00" for an amount upstream
 * types as text; a date (`format: date`) is always a real date — the card's issue date, unless the
 * field says otherwise.
 */

const str = (description?: string) => Type.String(description ? { description } : {});
const int = (description?: string) => Type.Integer(description ? { description } : {});
const num = (description?: string) => Type.Number(description ? { description } : {});
const date = (description?: string) => Type.String({ format: 'date', ...(description ? { description } : {}) });
const obj = <T extends Record<string, TSchema>>(properties: T) => Type.Object(properties);

const ISSUE = 'Not kept by emboss: the card\'s issue date.';
const NONE = 'Not kept by emboss: neutral value.';
const NO_USAGE = 'emboss authorizes no transactions: 0.';
/** Today, cycle-, year- and life-to-date counters. */
const usage = (make: (description?: string) => TSchema) => obj({ today: make(NO_USAGE), cycleToDate: make(NO_USAGE), yearToDate: make(NO_USAGE), lifeToDate: make(NO_USAGE) });

export const CardDetailsResponse = Type.Object({
  currencyData: obj({ numberOfDecimal: int(), code: int('The logo\'s currency (ISO 4217 numeric).') }),
  organizationNumber: str('Three digits.'),
  logo: int(),
  foreignUse: int(),
  cardNumber: ShownCardNumber,
  cardSequence: int(),
  cardTechnology: int(NONE),
  postToAccount: str(),
  fraud: str(NONE),
  prepaidIndicator: int('1 for a prepaid logo, else 0.'),
  statusCode: str('0 active, 1 inactive, 2 blocked by the issuer, 3 closed.'),
  dateStatus: date('Date the status was last changed.'),
  statusSecureId: str(NONE),
  fraudEffectiveDate: date(ISSUE),
  embosserRecordReplacement: str(`The card that replaced this one (card action 4, 6 or 7), as a card number is shown; "" when none. ${ShownCardNumber.description}`),
  numberCardsOutstanding: int('Plastics of this card number not closed.'),
  numberCardsReturned: int('As recorded by the last card action.'),
  currentChipSequence: int(),
  cardIssueAction: int('The last card action (card add: its cardAction).'),
  numberCardsRequested: int(),
  chipSequenceNumber: int(NONE),
  typeOfCard: int('As sent at card add.'),
  requestedCardType: int('As sent at card add.'),
  typeCardMailer: str('As sent at card add.'),
  plasticId: str('As sent at card add.'),
  secureActivation: int('securedCodeActivate as sent at card add.'),
  embosserNameType1: int('name1TypeIndicator as sent at card add.'),
  embosserNameType2: int('name2TypeIndicator as sent at card add.'),
  embosserName1: str(),
  embosserName2: str(),
  cardHolderName1: str(),
  cardHolderName2: str(),
  addressLine1: str(),
  addressLine2: str(),
  stateProvince: str(),
  cityPortion: str(),
  postalCodePortion: str(),
  plusIndicator: int('visaPlusIndicator as sent at card add.'),
  dateExpire: date(),
  customerNumber: str(),
  currentPinOffset: int('0: emboss does not disclose PIN verification values.'),
  previousPinOffset: int('0: emboss does not disclose PIN verification values.'),
  pinDelayDays: int('pinMailerDelayDays as sent at card add.'),
  typeOfPointOfSale: int('The card\'s service code.'),
  cardHolderFlag: str(),
  dateWarningBulletin: date(ISSUE),
  regionCode: str(NONE),
  languageCode: str(),
  visaMiniCardVersion: int('visaMiniIndicator as sent at card add.'),
  pinSuppression: int(),
  blockCode: str(),
  dateBlock: date('The date the card was closed with its block code by a card action; else the issue date.'),
  blockSecureId: str(NONE),
  warningCode1: str(NONE),
  warningCode7: str(NONE),
  numberOfIssueAttemptsRemaining: int(NONE),
  currentDateExpirationDate: date(),
  currentCardActivation: str('Y: the card awaits activation; N: it does not.'),
  dateEmbossedMagneticStripeCard: date('Valid from: the issue date.'),
  dateCurrentMagneticCardMailed: date('The issue date (the plastic goes to the bureau then).'),
  lastExpirationDate: date('The expiry of the previous sequence of the number, or of the card this one replaced; else this card\'s.'),
  lastCardActivation: str(NONE),
  dateFirstCardVerify: date(ISSUE),
  dateLastPlasticIssue: date('The issue date.'),
  frequencyMaximumAuthorizationParameters: int('maximumAuthorizationFrequency as sent at card add.'),
  authorizationData: obj({
    retailAmount: str('retailPurchaseAmt as sent, two decimals.'),
    retailNumber: num(),
    automatedTellerMachineCashAutomatedTellerMachine: str('atmCashAmount as sent, two decimals.'),
    automatedTellerMachineCashNumber: num(),
    overTheCounterAmount: str('overTheCounterCashAmount as sent, two decimals.'),
    overTheCounterCashNumber: num(),
    automatedTellerMachineCashSingleTransaction: str(),
    overTheCounterCashSingleTransaction: str(),
    retailSingleTransaction: str(),
    globalSpendingLimitNumber: str('customUserFields as sent at card add.'),
    globalSpendingLimitAmount: str(),
    globalSpendingLimitForSingleTransaction: str(),
  }),
  internetPurchaseData: obj({ purchaseNumber: num(), purchaseAmount: str(), purchaseSingleTransactionLimit: str() }),
  identificationNumberAuthorization: str('authorizationCriteriaTableNumber as sent at card add.'),
  identificationNumberSpendingLimitsTable: str('authorizationSpendingLimitTable as sent at card add.'),
  userData: obj({
    user1: str(), user2: str(), user3: str(), user4: int(), user5: str(), user6: str(), user7: str(), user8: str(),
    userData1: date('userDate1 as sent at card add; else the issue date.'),
    userData2: date('userDate2 as sent at card add; else the issue date.'),
  }),
  numberCurrentlyDisplayedEmbosserRecord: str('The card, as cardNumber.'),
  adminNumberBranch: int('branchNumber as sent at card add.'),
  nextExpirationDateOfTheCard: date('nextCardExpirationDate as sent at card add; else the expiry a renewal gives (the logo\'s validity from this expiry).'),
  branchIdentifierCardMailingLocation: int('firstIssueBranch as sent at card add.'),
  cardInformationData: obj({
    codeIdentificationNumberSpendingLimits: str(NONE),
    assignedSpendLimits: obj({
      spendingLimit: int('The first assignedSpendingLimits sent at card add (rounded to a whole number).'),
      transactionAllowed: int(),
      frequencyCommercialCard: int(),
    }),
  }),
  useAutomatedTellerMachineCashNumberData: usage(int),
  useAutomatedTellerMachineCashAmountData: usage(num),
  useOverTheCounterCashNumberData: usage(int),
  useOverTheCounterCashAmountData: usage(num),
  retailNumberData: usage(int),
  retailAmountData: usage(num),
  internetPurchaseNumberData: usage(int),
  internetPurchaseAmountData: usage(num),
  prepaidLimits: obj({ spendAmount: num(NO_USAGE), spendAvailable: int(NO_USAGE), spendExpirationDate: date(ISSUE) }),
  spendingLimitsData: obj({
    totalDailyAmount: num(NO_USAGE), totalDailyNumber: int(NO_USAGE), totalWeekToDateAmount: num(NO_USAGE), totalWeekToDateNumber: int(NO_USAGE),
    totalCycleToDateAmount: num(NO_USAGE), totalCycleToDateNumber: int(NO_USAGE), totalYearToDateAmount: num(NO_USAGE), totalYearToDateNumber: int(NO_USAGE),
    totalLifeToDateAmount: num(NO_USAGE), totalLifeToDateNumber: int(NO_USAGE),
  }),
  cardDelayDays: int('As sent at card add.'),
  cardDelayStatus: str('0: no card is warehoused.'),
  mailerDate: date('The issue date.'),
  pinOverrideActionEmbosserLevel: str('0.'),
  cardHolderType: int(NONE),
  pinDelayStatusMailer: str('0: no PIN is warehoused.'),
  cardActivatedDate: date('The date the card was activated (at issue when it needed no activation); while it awaits activation (currentCardActivation Y), the issue date.'),
  dateMostRecentlyIssueCard: date('The issue date.'),
  deliveryOptionReissuedCards: int('reissueDeliveryOption as sent at card add.'),
  deliveryOptionIssuedCards: int('deliveryOption as sent at card add.'),
  cardDeliveryStatus: str(NONE),
  cardDeliveryDate: date(ISSUE),
  deliveryStatusPreviousCard: str(NONE),
  deliveryDatePreviousCard: date(ISSUE),
  deliveryStatusCurrentPinMailer: str(NONE),
  deliveryDateCurrentPinMailer: date(ISSUE),
  deliveryStatusPreviousPinMailer: str(NONE),
  deliveryDatePreviousPinMailer: date(ISSUE),
  dateNextPinChanged: date(ISSUE),
  cardHolderAffiliation: str('cardholderAffiliationGroupId as sent at card add.'),
  cardVerifyByVisaStatus: str('enrollmentStatusVBV as sent at card add.'),
  customUserData: obj({
    falconMarking: str('customUserFields.falconMark as sent at card add.'),
    falconMarkingStartDate: date('As sent at card add; else the issue date.'),
    falconMarkingEndDate: date('As sent at card add; else the issue date.'),
    spendLimitsStatus: str(),
    retailPercentDaily: int('customUserFields as sent at card add, when a whole number; else 0.'),
    retailPercentMonthToDate: int(),
    retailPercentYearToDate: int(),
    retailAmountDaily: num('customUserFields as sent at card add, when a number; else 0.'),
    retailAmountMonthToDate: num(),
    retailAmountYearToDate: num(),
    cashPercentDaily: int(),
    cashPercentMonthToDay: int(),
    cashPercentYearToDay: int(),
    cashAmountDaily: num(),
    cashAmountMonthToDate: num(),
    cashAmountYearToDate: num(),
    cashPostedTodayNumber: num(NO_USAGE),
    cashPostedMonthToDateNumber: num(NO_USAGE),
    cashPostedYearToDateNumber: num(NO_USAGE),
    cashPostedTodayAmount: num(NO_USAGE),
    cashPostedMonthToDateAmount: num(NO_USAGE),
    cashPostedYearToDateAmount: num(NO_USAGE),
    cashDeclineTodayNumber: num(NO_USAGE),
    cashDeclineMonthToDayNumber: num(NO_USAGE),
    cashDeclineYearToDayNumber: num(NO_USAGE),
    cashDeclineTodayAmount: num(NO_USAGE),
    cashDeclineMonthToDayAmount: num(NO_USAGE),
    cashDeclineYearToDayAmount: num(NO_USAGE),
    retailPostedTodayNumber: num(NO_USAGE),
    retailPostedMonthToDayNumber: num(NO_USAGE),
    retailPostedYearToDayNumber: num(NO_USAGE),
    retailPostedTodayAmount: num(NO_USAGE),
    retailPostedMonthToDayAmount: num(NO_USAGE),
    retailPostedYearToDayAmount: num(NO_USAGE),
    retailDeclineTodayNumber: num(NO_USAGE),
    retailDeclineMonthToDayNumber: num(NO_USAGE),
    retailDeclineYearToDayNumber: num(NO_USAGE),
    retailDeclineToday: num(NO_USAGE),
    retailDeclineMountToDayAmount: num(NO_USAGE),
    retailDeclineYearToDayAmount: num(NO_USAGE),
  }),
  custEmbSeq: str(NONE),
  travelInd: str('0: no travel notice.'),
  travelData: Type.Array(obj({ travelCountry: str(), travelStartDt: str(), travelEndDt: str() }), { description: 'Empty: emboss keeps no travel notices.' }),
  vauLastRsnCode: str(NONE),
  noCvmCounter: str(NONE),
  noCvmAmt: str(NONE),
  profileId: str('As sent at card add.'),
  ecommInd: str('indicatorECommerce as sent at card add.'),
  contlsInd: str('contactlessIndicator as sent at card add.'),
  authRstrTbl: str(NONE),
  authCrLm: str('Not kept by emboss (no card-level credit limit): "0.00".'),
  ctdAuthAmt: str('emboss authorizes no transactions: "0.00".'),
  digiCardInd: str('1: a digital card; 0: a plastic.'),
  embCode1: str(NONE), embCode2: str(NONE), embCode3: str(NONE), embCode4: str(NONE),
  embCode5: str(NONE), embCode6: str(NONE), embCode7: str(NONE), embCode8: str(NONE),
  embDate1: str(NONE), embDate2: str(NONE),
  dvcInd: str('deviceIndicator as sent at card add.'),
  pinReset: str(NONE),
  dateLastMaintained: date('The date the card record last changed.'),
  newAcctCard: str(NONE),
  sdpFlag: str(NONE),
  internationalSingleTransaction: str('Not kept by emboss: "0.00".'),
  pinTryLimit: int('Invalid PIN tries counted on the card.'),
  transferNextAllowDate: date(ISSUE),
  transferReplacementIndicator: int(NONE),
  foreignCreditLimit: num(NONE),
  plasticIndicator: str(NONE),
  // emboss's own, besides upstream's:
  activationRequired: str('emboss: Y the card awaits activation (as currentCardActivation).'),
  digitalCardIndicator: int('emboss: 1 a digital card (as digiCardInd).'),
  serviceCode: str('emboss: the card\'s service code, three digits.'),
});
export type CardDetailsResponse = Static<typeof CardDetailsResponse>;

/** What the answer is made of: the card and what is looked up with it. */
export interface CardDetailsView {
  card: Selectable<CardTable>;
  logo: Logo | undefined;
  /** The card number as shown (token or masked), and the replacement's ('' for none). */
  shown: string;
  replacement: string;
  /** YYMM of the previous sequence of the number, or of the card this one replaced. */
  previousExpiry: string | null;
  /** Plastics of the number not closed. */
  outstanding: number;
  /** The last day of a YYMM month (expiryDate, card-rules.ts). */
  expiryDate: (yymm: string) => string;
}

const zeros = { today: 0, cycleToDate: 0, yearToDate: 0, lifeToDate: 0 };

/** The neutral value of every field that is neither the card's own nor a date: built once. */
const NEUTRAL = {
  cardTechnology: 0, fraud: '', statusSecureId: '', currentChipSequence: 1, chipSequenceNumber: 0, currentPinOffset: 0, previousPinOffset: 0,
  regionCode: '', blockSecureId: '', warningCode1: '', warningCode7: '', numberOfIssueAttemptsRemaining: 0, lastCardActivation: '',
  useAutomatedTellerMachineCashNumberData: zeros, useAutomatedTellerMachineCashAmountData: zeros, useOverTheCounterCashNumberData: zeros,
  useOverTheCounterCashAmountData: zeros, retailNumberData: zeros, retailAmountData: zeros, internetPurchaseNumberData: zeros, internetPurchaseAmountData: zeros,
  spendingLimitsData: {
    totalDailyAmount: 0, totalDailyNumber: 0, totalWeekToDateAmount: 0, totalWeekToDateNumber: 0, totalCycleToDateAmount: 0, totalCycleToDateNumber: 0,
    totalYearToDateAmount: 0, totalYearToDateNumber: 0, totalLifeToDateAmount: 0, totalLifeToDateNumber: 0,
  },
  cardDelayStatus: '0', pinOverrideActionEmbosserLevel: '0', cardHolderType: 0, pinDelayStatusMailer: '0',
  cardDeliveryStatus: '', deliveryStatusPreviousCard: '', deliveryStatusCurrentPinMailer: '', deliveryStatusPreviousPinMailer: '',
  custEmbSeq: '', travelInd: '0', travelData: [], vauLastRsnCode: '', noCvmCounter: '', noCvmAmt: '', authRstrTbl: '', authCrLm: '0.00', ctdAuthAmt: '0.00',
  embCode1: '', embCode2: '', embCode3: '', embCode4: '', embCode5: '', embCode6: '', embCode7: '', embCode8: '', embDate1: '', embDate2: '',
  pinReset: '', newAcctCard: '', sdpFlag: '', internationalSingleTransaction: '0.00', transferReplacementIndicator: 0, foreignCreditLimit: 0, plasticIndicator: '',
};

/** The transaction counters of the custom user data: emboss authorizes none. */
const NO_CUSTOM_USAGE = Object.fromEntries([
  'cashPostedTodayNumber', 'cashPostedMonthToDateNumber', 'cashPostedYearToDateNumber', 'cashPostedTodayAmount', 'cashPostedMonthToDateAmount',
  'cashPostedYearToDateAmount', 'cashDeclineTodayNumber', 'cashDeclineMonthToDayNumber', 'cashDeclineYearToDayNumber', 'cashDeclineTodayAmount',
  'cashDeclineMonthToDayAmount', 'cashDeclineYearToDayAmount', 'retailPostedTodayNumber', 'retailPostedMonthToDayNumber', 'retailPostedYearToDayNumber',
  'retailPostedTodayAmount', 'retailPostedMonthToDayAmount', 'retailPostedYearToDayAmount', 'retailDeclineTodayNumber', 'retailDeclineMonthToDayNumber',
  'retailDeclineYearToDayNumber', 'retailDeclineToday', 'retailDeclineMountToDayAmount', 'retailDeclineYearToDayAmount',
].map((k) => [k, 0])) as Record<string, number>;

const ISO_DAY = /^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/;
const dayOf = (value: Date | string) => (typeof value === 'string' ? value.slice(0, 10) : value.toISOString().slice(0, 10));

/** Readers of what the card's record keeps as the request sent it (card add, card actions). */
function reader(record: Record<string, unknown>) {
  const text = (k: string) => (typeof record[k] === 'string' ? record[k] : '');
  const int = (k: string) => (Number.isSafeInteger(record[k]) ? (record[k] as number) : 0);
  const num = (k: string) => (typeof record[k] === 'number' && Number.isFinite(record[k]) ? record[k] : 0);
  /** An amount upstream answers as text: two decimals. */
  const amount = (k: string) => num(k).toFixed(2);
  const day = (k: string, otherwise: string) => {
    const v = record[k];
    return typeof v === 'string' && ISO_DAY.test(v) && !Number.isNaN(Date.parse(v)) ? v : otherwise;
  };
  return { text, int, num, amount, day };
}

/** The answer of card details: the neutral values, the issue date for the dates emboss has no event for, the card's own values over them. */
export function cardDetailsBody(v: CardDetailsView): CardDetailsResponse {
  const { card, logo } = v;
  const p = reader(card.profile as Record<string, unknown>);
  const custom = reader(isRecord(card.profile.customUserFields) ? card.profile.customUserFields : {});
  const limits = Array.isArray(card.profile.assignedSpendingLimits) && isRecord(card.profile.assignedSpendingLimits[0])
    ? reader(card.profile.assignedSpendingLimits[0]) : reader({});
  const issued = dayOf(card.created_at);
  const expires = v.expiryDate(card.expiry);
  const nextExpiry = logo ? v.expiryDate(addMonths(card.expiry, logo.expiryMonths)) : expires;
  const customInt = (k: string) => (/^-?[0-9]{1,9}$/.test(custom.text(k)) ? Number(custom.text(k)) : 0);
  const customNum = (k: string) => {
    const t = custom.text(k).trim();
    return /^-?[0-9]{1,15}(\.[0-9]{1,2})?$/.test(t) ? Number(t) : 0;
  };
  return {
    ...NEUTRAL,
    // Dates emboss keeps no event for: the issue date.
    fraudEffectiveDate: issued, dateWarningBulletin: issued, dateFirstCardVerify: issued, cardDeliveryDate: issued, deliveryDatePreviousCard: issued,
    deliveryDateCurrentPinMailer: issued, deliveryDatePreviousPinMailer: issued, dateNextPinChanged: issued, transferNextAllowDate: issued,
    prepaidLimits: { spendAmount: 0, spendAvailable: 0, spendExpirationDate: issued },
    // The card's own.
    currencyData: { numberOfDecimal: 2, code: logo?.currency ?? 0 },
    organizationNumber: String(card.organization).padStart(3, '0'),
    logo: card.logo,
    foreignUse: 0,
    cardNumber: v.shown,
    cardSequence: card.card_sequence,
    postToAccount: card.account_number,
    prepaidIndicator: logo?.cardType === 'prepaid' ? 1 : 0,
    statusCode: String(card.status),
    dateStatus: card.status_date,
    embosserRecordReplacement: v.replacement,
    numberCardsOutstanding: v.outstanding,
    numberCardsReturned: p.int('numberCardsReturned'),
    cardIssueAction: p.int('cardAction'),
    numberCardsRequested: card.profile.numberOfCardsRequested === undefined ? 1 : p.int('numberOfCardsRequested'),
    typeOfCard: p.int('typeOfCard'),
    requestedCardType: p.int('requestedCardType'),
    typeCardMailer: card.profile.typeCardMailer === undefined ? '' : String(p.int('typeCardMailer')).padStart(2, '0'),
    plasticId: p.text('plasticId'),
    secureActivation: p.int('securedCodeActivate'),
    embosserNameType1: p.int('name1TypeIndicator'),
    embosserNameType2: p.int('name2TypeIndicator'),
    embosserName1: card.embossed_name_1,
    embosserName2: card.embossed_name_2,
    cardHolderName1: p.text('name1'),
    cardHolderName2: p.text('name2'),
    addressLine1: p.text('addressLine1'),
    addressLine2: p.text('addressLine2'),
    stateProvince: p.text('stateOrProvince'),
    cityPortion: p.text('city'),
    postalCodePortion: p.text('postalCode'),
    plusIndicator: p.int('visaPlusIndicator'),
    dateExpire: expires,
    customerNumber: card.customer_number,
    pinDelayDays: p.int('pinMailerDelayDays'),
    typeOfPointOfSale: /^[0-9]{1,3}$/.test(card.service_code) ? Number(card.service_code) : 0,
    cardHolderFlag: p.text('cardholderFlag'),
    languageCode: p.text('languageCode'),
    visaMiniCardVersion: p.int('visaMiniIndicator'),
    pinSuppression: card.pin_suppressed ? 1 : 0,
    blockCode: card.block_code,
    dateBlock: card.replaced_by_card_id !== null && card.block_code !== '' ? card.status_date : issued,
    currentDateExpirationDate: expires,
    currentCardActivation: card.activation_required ? 'Y' : 'N',
    dateEmbossedMagneticStripeCard: issued,
    dateCurrentMagneticCardMailed: issued,
    lastExpirationDate: v.previousExpiry ? v.expiryDate(v.previousExpiry) : expires,
    dateLastPlasticIssue: issued,
    frequencyMaximumAuthorizationParameters: p.int('maximumAuthorizationFrequency'),
    authorizationData: {
      retailAmount: p.amount('retailPurchaseAmt'),
      retailNumber: p.num('retailPurchaseNumber'),
      automatedTellerMachineCashAutomatedTellerMachine: p.amount('atmCashAmount'),
      automatedTellerMachineCashNumber: p.num('atmCashNumber'),
      overTheCounterAmount: p.amount('overTheCounterCashAmount'),
      overTheCounterCashNumber: p.num('overTheCounterCashNumber'),
      automatedTellerMachineCashSingleTransaction: p.amount('atmCashSingleTransactionLimit'),
      overTheCounterCashSingleTransaction: p.amount('overTheCounterCashSingleTransactionLimit'),
      retailSingleTransaction: p.amount('retailPurchaseSingleTransactionLimit'),
      globalSpendingLimitNumber: custom.text('globalSpendingLimitNumber'),
      globalSpendingLimitAmount: custom.text('globalSpendingLimitAmount'),
      globalSpendingLimitForSingleTransaction: custom.text('globalSpendingLimitSingleTransaction'),
    },
    internetPurchaseData: {
      purchaseNumber: p.num('internetPurchaseNumber'),
      purchaseAmount: p.amount('internetPurchaseAmount'),
      purchaseSingleTransactionLimit: p.amount('internetPurchaseSingleTransactionLimit'),
    },
    identificationNumberAuthorization: p.text('authorizationCriteriaTableNumber'),
    identificationNumberSpendingLimitsTable: p.text('authorizationSpendingLimitTable'),
    userData: {
      user1: p.text('user1'), user2: p.text('user2'), user3: p.text('user3'), user4: p.int('user4'),
      user5: p.text('user5'), user6: p.text('user6'), user7: p.text('user7'), user8: p.text('user8'),
      userData1: p.day('userDate1', issued), userData2: p.day('userDate2', issued),
    },
    numberCurrentlyDisplayedEmbosserRecord: v.shown,
    adminNumberBranch: p.int('branchNumber'),
    nextExpirationDateOfTheCard: p.day('nextCardExpirationDate', nextExpiry),
    branchIdentifierCardMailingLocation: p.int('firstIssueBranch'),
    cardInformationData: {
      codeIdentificationNumberSpendingLimits: '',
      assignedSpendLimits: {
        spendingLimit: Math.round(limits.num('maximumSpendingLimit')),
        transactionAllowed: Math.round(limits.num('spendingTransaction')),
        frequencyCommercialCard: limits.int('spendingFrequency'),
      },
    },
    cardDelayDays: p.int('cardDelayDays'),
    mailerDate: issued,
    cardActivatedDate: card.activated_at ? dayOf(card.activated_at) : issued,
    dateMostRecentlyIssueCard: issued,
    deliveryOptionReissuedCards: p.int('reissueDeliveryOption'),
    deliveryOptionIssuedCards: p.int('deliveryOption'),
    cardHolderAffiliation: card.profile.cardholderAffiliationGroupId === undefined ? '' : String(p.int('cardholderAffiliationGroupId')),
    cardVerifyByVisaStatus: p.text('enrollmentStatusVBV'),
    customUserData: {
      ...NO_CUSTOM_USAGE,
      falconMarking: custom.text('falconMark'),
      falconMarkingStartDate: custom.day('falconMarkStartDate', issued),
      falconMarkingEndDate: custom.day('falconMarkEndDate', issued),
      spendLimitsStatus: custom.text('spendLimitsStatus'),
      retailPercentDaily: customInt('retailPercentageDaily'),
      retailPercentMonthToDate: customInt('retailPercentageMonthToDate'),
      retailPercentYearToDate: customInt('retailPercentageYearToDate'),
      retailAmountDaily: customNum('retailAmountDaily'),
      retailAmountMonthToDate: customNum('retailAmountMonthToDate'),
      retailAmountYearToDate: customNum('retailAmountYearToDate'),
      cashPercentDaily: customInt('cashPercentageDaily'),
      cashPercentMonthToDay: customInt('cashPercentageMonthToDate'),
      cashPercentYearToDay: customInt('cashPercentageYearToDate'),
      cashAmountDaily: customNum('cashAmountDaily'),
      cashAmountMonthToDate: customNum('cashAmountMonthToDate'),
      cashAmountYearToDate: customNum('cashAmountYearToDate'),
    } as CardDetailsResponse['customUserData'],
    profileId: card.profile.profileId === undefined ? '' : String(p.int('profileId')),
    ecommInd: p.text('indicatorECommerce'),
    contlsInd: p.text('contactlessIndicator'),
    digiCardInd: card.digital ? '1' : '0',
    dvcInd: p.text('deviceIndicator'),
    dateLastMaintained: dayOf(card.updated_at),
    pinTryLimit: card.pin_tries,
    activationRequired: card.activation_required ? 'Y' : 'N',
    digitalCardIndicator: card.digital ? 1 : 0,
    serviceCode: card.service_code,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A YYMM expiry `months` later. */
function addMonths(yymm: string, months: number): string {
  const index = (2000 + Number(yymm.slice(0, 2))) * 12 + Number(yymm.slice(2, 4)) - 1 + months;
  return `${String(Math.floor(index / 12) % 100).padStart(2, '0')}${String((index % 12) + 1).padStart(2, '0')}`;
}
