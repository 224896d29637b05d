import { Type, type Static } from '@sinclair/typebox';
import { Int, IsoDate, Open, Text } from '../../shared/schema.ts';
import { ShownCardNumber } from '../cards/index.ts';

/** Wire schemas of mass card issue, after the upstream MassCardIssueAddRequestL8V3 / MassCardReissueDetailsResponseL8V3. */

/** Pagination bounds: a request makes a million cards at most, so a million pages of one card. */
export const MAX_PAGE = 1_000_000;
export const MAX_PAGE_SIZE = 500;

/**
 * The request as upstream documents it: every field of MassCardIssueAddRequestL8V3 in the form
 * (type, length, value list) upstream gives; what a value means is checked by the service (422,
 * IssuanceCodes). Fields emboss has no use for are recorded with the request and answered back.
 */
const Code1 = (description: string) => Type.Optional(Type.String({ maxLength: 1, description }));
export const MassIssueRequest = Open({
  organizationNumber: Type.Optional(Int(0, 999, 'Organization number: 001–998 (else 422 VPL5SMC01E).')),
  logo: Type.Optional(Int(0, 999, 'Logo: 001–998 (else 422 VPL5SMC04E).')),
  cardType: Type.Optional(Int(0, 99, 'Card type (default 0): with organization and logo, identifies the request.')),
  functionType: Type.String({ maxLength: 1, description: 'A: add a request; M: modify one (refused while it runs). Else 422 VPL5SMC06E.' }),
  status: Type.Optional(Int(0, 99, 'Status of the request: 1 or 9 (else 422 VPL5SMC07E); default 1. Recorded and answered back.')),
  bankOrigin: Type.Optional(Int(0, 999999999, 'Recorded and answered back.')),
  branch: Type.Optional(Int(0, 999999999, 'Recorded and answered back.')),
  minimumQuantity: Type.Optional(Int(0, 9999, 'Recorded and answered back.')),
  quantityToCreate: Int(0, 1_000_000, 'Cards to create in all, from 1 (0: 422 EMBM03E). Upstream allows 5 digits; emboss up to a million.'),
  creditLimit: Type.Optional(Type.Number({ minimum: 0, maximum: 999999999, description: 'Credit limit of each account made.' })),
  blockCode1: Code1('A letter or blank (else 422 VPL5SMC13E). Recorded and answered back.'),
  blockCode2: Code1('A letter or blank (else 422 VPL5SMC14E). Recorded and answered back.'),
  embosserCode: Code1('A letter or blank (else 422 VPL5SMC15E). Recorded and answered back.'),
  pctId: Type.Optional(Text(3, 'Recorded and answered back.')),
  relationAMBS: Code1('S, N or blank (else 422 VPL5SMC16E). Recorded and answered back.'),
  prepaidCardFlag: Type.Optional(Int(0, 9, '0 or 1 (else 422 VPL5SMC17E). Recorded and answered back.')),
  promoCode: Type.Optional(Text(4, 'Letters and blanks (else 422 VPL5SMC19E). Recorded and answered back.')),
  scheme: Type.Optional(Int(0, 9, '0, 1, 2 or 3 (else 422 VPL5SMC20E). Recorded and answered back.')),
  userCode1: Type.Optional(Int(0, 9, '0 or 1 (else 422 VPL5SMC22E). Recorded and answered back.')),
  userCode2: Type.Optional(Int(0, 9, '0 or 1 (else 422 VPL5SMC24E). Recorded and answered back.')),
  userCode3: Type.Optional(Int(0, 9, '0 or 1 (else 422 VPL5SMC26E). Recorded and answered back.')),
  customerNumber: Type.String({ maxLength: 19, description: 'The customer every account of the batch belongs to: digits (zeros or blank: 422 VPL5SMC28E; not on file: 422 VPL5SIC13S).' }),
  expiryDate: Type.Optional(IsoDate('Expiry of the cards, after today (else 422 VPL5SMC29E); default the logo\'s expiry months.')),
  inventoryControl: Type.Optional(Type.String({ pattern: '^(CI|SO|NO)$', maxLength: 2, description: 'CI, SO or NO. Recorded and answered back.' })),
  inventoryQuantity: Type.Optional(Int(0, 99999, 'Recorded and answered back.')),
  prepaidPlanNumber: Type.Optional(Int(0, 99999, 'Recorded and answered back.')),
  globalQualification: Code1('A letter, 1, 2 or blank (else 422 VPL5SMC37E). Recorded and answered back.'),
  emblem: Type.Optional(Int(0, 99999, 'Recorded and answered back.')),
  embossedName1: Type.Optional(Text(26, 'Embossed on every card of the batch.')),
  embossedName2: Type.Optional(Text(26, 'Embossed on every card of the batch.')),
  relationshipNumber: Type.Optional(Text(19, 'Recorded and answered back.')),
  userData1: Type.Optional(Text(20, 'Recorded and answered back.')),
  userData2: Type.Optional(Text(20, 'Recorded and answered back.')),
  plasticID: Type.Optional(Text(10, 'Recorded and answered back.')),
  posServiceCode: Type.Optional(Type.String({ maxLength: 3, description: 'Service code of the cards: 1 to 3 digits, zero-padded to 3 as card add does (else 422 VPL5SMC41E); blank: the logo\'s.' })),
  cardTechnology: Code1('Recorded and answered back.'),
});
export type MassIssueRequest = Static<typeof MassIssueRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
MassIssueRequest.examples = [{ organizationNumber: 100, logo: 1, cardType: 1, functionType: 'A', quantityToCreate: 500, customerNumber: '5161117319164675621', creditLimit: 100, embossedName1: 'GIFT CARD' }];

const Progress = Type.Object({
  status: Type.String({ description: 'PENDING, RUNNING, COMPLETED or FAILED.' }),
  done: Type.Integer(),
  total: Type.Integer(),
  cardsPerSecond: Type.Number(),
  etaSeconds: Type.Union([Type.Number(), Type.Null()]),
});

/** A text field of the request, answered back ("" when it was not sent). */
const Echoed = (description = 'As recorded with the request; "" when it was not sent.') => Type.String({ description });
/** A number of the request, answered back (0 when it was not sent). */
const EchoedInt = (description = 'As recorded with the request; 0 when it was not sent.') => Type.Integer({ description });

export const MassIssueResponse = Type.Object({
  outputArea: Type.Object({
    organizationNumber: Type.Integer(),
    logo: Type.Integer(),
    cardType: Type.Integer(),
    dateLastMaintain: Type.String({ format: 'date', description: 'Date the request was last added or modified.' }),
    addStatus: Type.Integer({ description: 'Always 0: emboss has no pending add (a request is on file once answered).' }),
    status: Type.Integer({ description: 'The status sent (1 or 9); 1 when none was sent.' }),
    bankOrigin: EchoedInt(),
    branch: EchoedInt(),
    creditLimit: Type.Number({ description: 'Credit limit of each account made.' }),
    minimumQuantity: EchoedInt(),
    quantityToCreate: Type.Integer(),
    blockCode1: Echoed(),
    blockCode2: Echoed(),
    embosserCode: Echoed(),
    pctId: Echoed(),
    relationAMBS: Echoed(),
    promoCode: Echoed(),
    userCode1: EchoedInt(),
    userCode2: EchoedInt(),
    userCode3: EchoedInt(),
    expiryDate: Type.String({ format: 'date', description: 'Expiry of the cards (last day of the month).' }),
    scheme: EchoedInt(),
    customerNumber: Type.String(),
    inventoryQuantity: EchoedInt(),
    inventoryControl: Echoed(),
    prepaidCardFlag: EchoedInt(),
    prepaidPlanNumber: EchoedInt(),
    globalQualification: Echoed(),
    emblem: EchoedInt(),
    embossedName1: Echoed(),
    embossedName2: Echoed(),
    relationshipNumber: Echoed(),
    userData1: Echoed(),
    userData2: Echoed(),
    plasticID: Echoed(),
    posServiceCode: Echoed('Service code of the cards (3 digits) as sent, zero-padded; "" when none was sent (the logo\'s is used).'),
    cardTechnology: Echoed(),
    progress: Progress,
  }),
});

export const MassIssueQuery = Type.Object({
  organizationNumber: Int(0, 999, 'Organization number: 001–998 (else 422 VPL5SQC01E).'),
  logo: Int(0, 999, 'Logo: 001–998 (else 422 VPL5SQC04E).'),
  serviceType: Type.Integer({ minimum: 0, maximum: 99, description: 'The card type of the request.' }),
  page: Type.Optional(Int(1, MAX_PAGE, `Page of cards, from 1 to ${MAX_PAGE.toLocaleString('en-US')} (a request makes a million cards at most).`)),
  pageSize: Type.Optional(Int(1, MAX_PAGE_SIZE, `Cards per page, 1–${MAX_PAGE_SIZE} (default 50).`)),
});
export type MassIssueQuery = Static<typeof MassIssueQuery>;

const KeyValue = Type.Object({ key: Type.String(), value: Type.String() });

export const MassIssueDetails = Type.Object({
  outputArea: Type.Object({
    hasMoreRecords: Type.Boolean(),
    totalCardsCount: Type.Integer(),
    totalAvailableCreditLimitAmount: Type.Number(),
    totalPagesCount: Type.Integer(),
    currentPage: Type.Integer(),
    progress: Progress,
    cards: Type.Array(Type.Object({
      sequence: Type.Integer({ description: 'Position of the card in the request, from 1.' }),
      accountNumber: Type.String(),
      cardNumber: ShownCardNumber,
      customerNumber: Type.String(),
      cardType: Type.String(),
      availableCreditLimitAmount: Type.Number(),
      creditLimitAmount: Type.Number(),
      cardStatus: Type.String(),
      paymentDate: Type.String({ format: 'date', description: 'emboss keeps no statements, so nothing falls due: the date the account was opened.' }),
      cycleDueAmount: Type.Number({ description: 'Always 0 (emboss keeps no balances).' }),
      totalDueAmount: Type.Number({ description: 'Always 0 (emboss keeps no balances).' }),
      memoDebitAmount: Type.Number({ description: 'Always 0 (emboss keeps no balances).' }),
      memoCreditAmount: Type.Number({ description: 'Always 0 (emboss keeps no balances).' }),
      usedBalanceAmount: Type.Number({ description: 'Always 0 (emboss keeps no balances): the available amount is the credit limit.' }),
      accountStatus: Type.String(),
      isActive: Type.Boolean(),
      cardBlockCode: Type.String(),
      accountBlockCodes: Type.Array(KeyValue, { description: 'key 1 and 2: the account\'s block codes 1 and 2 ("" when none).' }),
      userAmounts: Type.Array(KeyValue, { description: 'key 1 to 5, value "0" (emboss keeps no user amounts).' }),
      userDates: Type.Array(KeyValue, { description: 'key 1 to 5, value "" (emboss keeps no user dates).' }),
      userCodes: Type.Array(KeyValue, { description: 'key 1 to 10, value "" (emboss keeps no user codes).' }),
      expiryDate: Type.String({ format: 'date' }),
    })),
  }),
});
