import { Type, type Static } from '@sinclair/typebox';
import { AMOUNT_MAX, Int, IsoDate, LogoNumber, Open, OrganizationNumber, Text } from '../../shared/schema.ts';

/** Wire schemas of the card endpoints, after the upstream FirstVision Cards 1.3.0 and Accounts 1.3.0 files. */

/** A clear card number (up to 19 digits, zero-padded as FirstVision shows it) or a 19-character PAN token. */
export const CardNumberOrToken = Type.String({ pattern: '^[0-9A-Za-z]{12,19}$', maxLength: 19, description: 'Card number (clear PAN, may be zero-padded to 19) or PAN token.' });
/** A card number in a response: see shownCardNumber (card-rules.ts). */
export const ShownCardNumber = Type.String({ description: 'FirstVision PAN token; for an organization without PAN tokens, the card number masked: first 4 and last 4 digits, lower-case x between, as long as the number (e.g. 0581xxxxxxx5846). Never the clear number, whatever the client\'s scope (docs/wire-compatibility.md: Card numbers in responses).' });
/**
 * An amount of upstream's "Max Length: 17" (up to 999,999,999,999,999.99): the schema takes up to
 * 1e15, the service answers 1e15 itself 422 EMBC16E (see AMOUNT_MAX).
 */
const Amount = (description?: string) => Type.Number({ minimum: 0, maximum: AMOUNT_MAX, ...(description ? { description } : {}) });
/** An amount of upstream's "Max Length: 13": up to 99,999,999,999.99, which a double tells apart. */
const Amount13 = () => Type.Number({ minimum: 0, maximum: 99999999999.99 });
/**
 * The upstream int32 of a field without a documented length: the int32 range, less -2^31 (every
 * integer of a request fits a PostgreSQL integer both ways: ±2147483647).
 */
const Int32 = (description?: string) => Int(-2147483647, 2147483647, description);
/** A counter of transactions (the upstream's 9 digits). */
const Count = () => Int(0, 999999999);
const Sequence = Type.Integer({ minimum: 0, maximum: 9998, description: 'Card sequence; default 1.' });

const SpendingLimits = {
  atmCashAmount: Type.Optional(Amount()),
  atmCashNumber: Type.Optional(Count()),
  atmCashSingleTransactionLimit: Type.Optional(Amount()),
  overTheCounterCashAmount: Type.Optional(Amount()),
  overTheCounterCashNumber: Type.Optional(Count()),
  overTheCounterCashSingleTransactionLimit: Type.Optional(Amount()),
  retailPurchaseAmt: Type.Optional(Amount()),
  retailPurchaseNumber: Type.Optional(Count()),
  retailPurchaseSingleTransactionLimit: Type.Optional(Amount()),
  internetPurchaseAmount: Type.Optional(Amount()),
  internetPurchaseNumber: Type.Optional(Type.Number({ minimum: 0, maximum: 999999999 })),
  internetPurchaseSingleTransactionLimit: Type.Optional(Amount13()),
};

/** The embosser fields shared by Card Add and Instant Card. */
const EmbosserFields = {
  embossedName1: Type.Optional(Text(26, 'First embossing line.')),
  embossedName2: Type.Optional(Text(26, 'Second embossing line.')),
  name1: Type.Optional(Text(40)),
  name2: Type.Optional(Text(40)),
  expirationDate: Type.Optional(IsoDate('Card expiry; default: the logo\'s expiry months from today, end of month.')),
  customerNumber: Type.Optional(Text(19, 'Cardholder, when other than the account owner (additional card): an existing customer (digits); blank: the account owner. Other text or unknown: 422 VPL5SIC13S (instant card: not digits 422 VPL5SIC05S).')),
  posServiceCode: Type.Optional(Type.Integer({ minimum: 0, maximum: 999, description: 'Service code; default the logo\'s.' })),
  addressLine1: Type.Optional(Text(40)),
  addressLine2: Type.Optional(Text(40)),
  city: Type.Optional(Text(30)),
  stateOrProvince: Type.Optional(Text(3)),
  postalCode: Type.Optional(Text(10)),
  languageCode: Type.Optional(Text(3)),
  plasticId: Type.Optional(Text(10)),
  cardholderFlag: Type.Optional(Type.String({ maxLength: 1 })),
  deliveryOption: Type.Optional(Type.Integer({ minimum: 0, maximum: 999 })),
  ...SpendingLimits,
};

export const CardAddRequest = Open({
  organizationNumber: OrganizationNumber,
  postToAccount: Text(19, 'The account the card posts to (digits); blank, other text or unknown: 422 VPL5SCI11S.'),
  cardNumber: Text(19, 'Empty, spaces or zeros: generated from the logo\'s BIN. Given (portfolio migration): the card number, digits (zero-padded or not); other text 422 EMBC14E.'),
  cardSequence: Type.Optional(Sequence),
  cardAction: Type.Optional(Type.Integer({ minimum: 0, maximum: 1 })),
  numberOfCardsRequested: Type.Optional(Type.Integer({ minimum: 0, maximum: 99 })),
  pinSuppression: Type.Optional(Type.Integer({ minimum: 0, maximum: 1, description: '1: no PIN is generated.' })),
  currentCardActivation: Type.Optional(Type.String({ pattern: '^[YN ]?$', maxLength: 1, description: 'Y: the card needs activation before use.' })),
  blockCode: Type.Optional(Type.String({ maxLength: 1, description: 'A letter (lower case is taken as upper case) or blank; anything else 422 EMBC15E.' })),
  digitalCardFlag: Type.Optional(Type.Integer({ minimum: 0, maximum: 1 })),
  ...EmbosserFields,
  internetPurchaseAmount: Type.Optional(Amount13()),
});
export type CardAddRequest = Static<typeof CardAddRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
CardAddRequest.examples = [{ organizationNumber: 100, postToAccount: '4559353227606994320', cardNumber: '', embossedName1: 'ADA LOVELACE', addressLine1: '12 ST JAMES SQ', city: 'LONDON', deliveryOption: 1 }];

export const CardAddResponse = Type.Object({
  organizationNumber: Type.Integer(),
  organizationAssociatedToForeignAccount: Type.Integer(),
  logo: Type.Integer(),
  accountNumber: Type.String(),
  cardNumber: ShownCardNumber,
  cardSequence: Type.Integer(),
  currentChipSequenceNumber: Type.Integer(),
});

export const PanInquiryRequest = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: Type.String({
    pattern: '^[0-9A-Fa-f]{32}$|^[0-9A-Za-z]{12,19}$', maxLength: 32,
    description: 'What it is, its form says (not functionType): 32 hex digits, the card number encrypted under the client\'s card-number key (ZEK); 19 characters with a letter, a PAN token; 12-19 digits, the clear card number (may be zero-padded to 19).',
  }),
  cardSequence: Type.Optional(Sequence),
  functionType: Type.String({
    pattern: '^(P|C)$', maxLength: 1,
    description: 'C or P; either way the answer carries both the encrypted card number and the PAN token. P asks for the PAN token: 422 VPL5SEA16S for an organization without PAN tokens (as is a PAN token as cardNumber).',
  }),
});
export type PanInquiryRequest = Static<typeof PanInquiryRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
PanInquiryRequest.examples = [{ organizationNumber: 100, cardNumber: '4111112QP3MK80Y7459', functionType: 'C' }];

export const PanInquiryResponse = Type.Object({
  organizationNumber: Type.Integer(),
  logo: Type.Integer(),
  cardNumber: Type.String({ description: 'The card number encrypted under the client\'s card-number key (ZEK): 32 hex, whatever form it came in.' }),
  cardSequence: Type.Integer(),
  accountNumber: Type.String(),
  panToken: Type.String({ description: 'The PAN token; empty for an organization without PAN tokens.' }),
});

export const CardDetailsRequest = Open({
  organizationNumber: Type.Union([Type.String({ pattern: '^[0-9]{1,3}$', maxLength: 3 }), OrganizationNumber]),
  cardNumber: CardNumberOrToken,
  cardSequence: Type.Optional(Type.Union([Type.String({ pattern: '^[0-9]{1,4}$', maxLength: 4 }), Sequence])),
  foreignUse: Type.Optional(Type.String({ pattern: '^[ 01]?$', maxLength: 1 })),
});
export type CardDetailsRequest = Static<typeof CardDetailsRequest>;

/** CardDetailsResponse: card-details.ts (every documented field). */

export const CustomerCardsQuery = Type.Object({
  organizationNumber: OrganizationNumber,
  functionCode: Type.Optional(Type.String({ pattern: '^[ FNP]?$', maxLength: 1, description: 'Empty/F: first page; N: next after startAccount; P: the page before startAccount.' })),
  startOrganization: Type.Optional(Type.Integer({ minimum: 0, maximum: 998 })),
  startAccount: Type.Optional(Type.String({ pattern: '^[0-9]{0,19}$', maxLength: 19 })),
});
export type CustomerCardsQuery = Static<typeof CustomerCardsQuery>;
export const CustomerCardsHeaders = Type.Object({ customernumber: Type.String({ pattern: '^[0-9]{1,19}$', maxLength: 19 }) }, { additionalProperties: true });

export const CustomerCardsResponse = Type.Object({
  outputArea: Type.Object({
    numberOfReturnedItems: Type.Integer(),
    hasMore: Type.String(),
    customerNumber: Type.String(),
    accountTable: Type.Array(Type.Object({
      accountNumber: Type.String(),
      userAccountNumber: Type.String({ description: 'The account\'s userAccountNumber as sent at account add (or instant card); else empty.' }),
      cardNumber: ShownCardNumber,
      cardSequence: Type.Integer({ description: 'emboss: the card\'s sequence.' }),
      cardExpireDate: Type.String({ description: 'YYYY-MM-DD, the last day of the expiry month.' }),
      digitalCardIndicator: Type.Integer(),
      embosserCurrentFirstUsage: Type.String({ description: '1: the card awaits activation (first use); 0: it does not.' }),
      cardBlockCode: Type.String(),
      cardBlockCodeDate: Type.String({ description: 'YYYY-MM-DD the block code took effect (the card\'s issue, or the card action that closed it); empty without a block code.' }),
      cardStatus: Type.Integer({ description: 'emboss: 0 active, 1 inactive, 2 blocked by the issuer, 3 closed.' }),
      encryptedCardNumber: Type.String({ description: 'The card number under the client\'s card-number key (PCI scope and a configured key), else empty.' }),
      atmCashAmount: Type.Number({ description: 'The limit as sent at card add or instant card; else 0.' }),
      atmCashAmountDaily: Type.Number({ description: 'No daily limit kept by emboss: 0.' }),
      retailAmount: Type.Number({ description: 'retailPurchaseAmt as sent; else 0.' }),
      retailAmountDaily: Type.Number({ description: 'No daily limit kept by emboss: 0.' }),
      internetAmount: Type.Number({ description: 'internetPurchaseAmount as sent; else 0.' }),
      internetAmountDaily: Type.Number({ description: 'No daily limit kept by emboss: 0.' }),
      overTheCounterAmount: Type.Number({ description: 'overTheCounterCashAmount as sent; else 0.' }),
      overTheCounterAmountDaily: Type.Number({ description: 'No daily limit kept by emboss: 0.' }),
    })),
  }),
});

export const CardStatusRequest = Open({
  organizationNumber: OrganizationNumber,
  cardStatus: Int(0, 9, '0 active, 1 inactive, 2 blocked by the issuer, 3 closed (final).'),
  cardSequence: Type.Optional(Sequence),
  cardNumber: CardNumberOrToken,
  representativeId: Type.Optional(Text(3)),
});
export type CardStatusRequest = Static<typeof CardStatusRequest>;
export const CardStatusResponse = Type.Object({ successMessage: Type.String() });

export const CardActivationRequest = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: Type.String({ pattern: '^[0-9A-Za-z]{12,19}$', maxLength: 19, description: 'Card number or PAN token (S or A), or account number (A).' }),
  serviceType: Type.String({ maxLength: 1, description: 'S: this card; A: all cards of its account.' }),
  userData: Type.Optional(Text(40)),
});
export type CardActivationRequest = Static<typeof CardActivationRequest>;
export const CardActivationResponse = Type.Object({
  organizationNumber: Type.Integer(),
  logo: Type.Integer(),
  cardNumber: Type.String({ description: `The card. ${ShownCardNumber.description} The account number (zero-padded to 19) when the request named an account.` }),
  serviceType: Type.String(),
  numberCardsActivated: Type.Integer(),
  foreignOrg: Type.Integer({ description: '0: emboss keeps no foreign organizations.' }),
  numberForeignCardsActivated: Type.Integer({ description: '0: emboss keeps no foreign cards.' }),
});

export const InstantCardRequest = Open({
  organizationNumber: OrganizationNumber,
  logo: LogoNumber,
  customerNumber: Text(19, 'The account owner and cardholder: an existing customer (digits). Not digits: 422 VPL5SIC05S; unknown: 422 VPL5SIC13S.'),
  accountCreateFlag: Type.String({ maxLength: 1, description: 'Y: create the account; N: use accountData.accountNumber.' }),
  firstPurchaseFlag: Type.Optional(Type.String({ maxLength: 1 })),
  cardActionFlag: Type.Optional(Int(0, 999, '0 or 1 (else 422 VPL5SIC20S); kept with the card: emboss issues one card either way.')),
  sameDayProcessingType: Type.Optional(Int(0, 9, '0 or 1 (else 422 VPL5SIC08S); kept with the card: emboss issues at once either way.')),
  accountData: Type.Optional(Open({
    accountNumber: Type.Optional(Text(19, 'accountCreateFlag N: the account (digits); not found or not digits 422 VPL5SIC17S. Y: blank (else 422 VPL5SIC22S).')),
    relationshipNumber: Type.Optional(Text(19, 'accountCreateFlag Y: the new account\'s relationship (digits, as account add: other text 422 EMBT02E).')),
    shortName: Type.Optional(Text(20)),
    creditLimit: Type.Optional(Amount()),
    billingCurrency: Type.Optional(Type.Integer({ minimum: 0, maximum: 999 })),
    billingCycle: Type.Optional(Int(0, 99, 'Cycle day, 1–31.')),
    blockCode1: Type.Optional(Type.String({ maxLength: 1, description: 'A letter (lower case is taken as upper case) or blank, as account add.' })),
    blockCode2: Type.Optional(Type.String({ maxLength: 1, description: 'As blockCode1.' })),
    dateOpened: Type.Optional(IsoDate()),
  })),
  embosserData: Type.Optional(Open({
    ...EmbosserFields,
    digitalCardFlag: Type.Integer({ minimum: 0, maximum: 1, description: '1: a digital (virtual) card, no plastic.' }),
  }, 'Absent: a plastic card without an embossed name, which is refused (422 VPL5SIC21S).')),
});
export type InstantCardRequest = Static<typeof InstantCardRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
InstantCardRequest.examples = [{
  organizationNumber: 100, logo: 1, customerNumber: '5161117319164675621', accountCreateFlag: 'Y',
  accountData: { creditLimit: 1500, billingCycle: 5, shortName: 'ADA' },
  embosserData: { embossedName1: 'ADA LOVELACE', digitalCardFlag: 1 },
}];

export const InstantCardResponse = Type.Object({
  organizationNumber: Type.Integer(),
  logo: Type.Integer(),
  customerNumber: Type.String(),
  accountNumber: Type.String(),
  cardNumber: ShownCardNumber,
  cardSequenceNumber: Type.Integer(),
  creditLimit: Type.Number(),
  cardExpiryDate: Type.String({ format: 'date', description: 'The last day of the expiry month.' }),
});

const UserData = Open({
  userDate: Type.Optional(IsoDate()),
  userAmount: Type.Optional(Type.Number({ minimum: -AMOUNT_MAX, maximum: AMOUNT_MAX, description: 'An amount of 17 digits: 1e15 and past answers 422 EMBC16E.' })),
  userCode: Type.Optional(Int32()),
});
/** The user data of a card action as answered: every field, as sent or its neutral value. */
const UserDataAnswer = Type.Object({
  userDate: Type.String({ format: 'date', description: 'As sent; else the date of the action.' }),
  userAmount: Type.Number({ description: 'As sent; else 0.' }),
  userCode: Type.Integer({ description: 'As sent; else 0.' }),
});

export const CardActionRequest = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: CardNumberOrToken,
  cardSequence: Type.Optional(Type.Integer({ minimum: 0, maximum: 9999, description: 'Card sequence; 0 or absent: the latest one.' })),
  cardAction: Type.Integer({ minimum: 0, maximum: 9, description: '0 none, 1 additional plastic, 2 renewal, 3 damaged, 4 lost/stolen, 5 PIN reissue, 6 emergency, 7 compromised (README: Card actions). 8-9: VPL5SPR04E.' }),
  numberCardsRequested: Type.Optional(Type.Integer({ minimum: 0, maximum: 99, description: 'Plastics requested: > 0 for actions 1, 2, 3, 6; 0 for 0, 4, 5, 7.' })),
  numberCardsReturned: Type.Optional(Type.Integer({ minimum: 0, maximum: 99, description: 'Kept and echoed.' })),
  randomPin: Type.Integer({ minimum: 0, maximum: 1, description: '1: a new random PIN (action 5 only; action 5 needs it).' }),
  userData: Type.Optional(UserData),
  processingType: Type.Optional(Type.String({ pattern: '^[0-1]{0,1}$', maxLength: 1 })),
  cardActionReason: Type.Optional(Type.String({ maxLength: 1, description: 'User-defined reason code, kept on the card.' })),
  instantProcessType: Type.Optional(Type.String({ maxLength: 1, description: '0 inactive, 1 active (VPL5SPR32E otherwise).' })),
});
export type CardActionRequest = Static<typeof CardActionRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
CardActionRequest.examples = [{ organizationNumber: 100, cardNumber: '4111112QP3MK80Y7459', cardAction: 5, numberCardsRequested: 0, randomPin: 1 }];

export const CardActionResponse = Type.Object({
  organizationNumber: Type.Integer(),
  cardNumber: Type.String({ description: `The resulting card (the new one for actions 1-4, 6, 7). ${ShownCardNumber.description}` }),
  cardSequence: Type.Integer(),
  cardAction: Type.Integer(),
  numberCardsRequested: Type.Integer(),
  numberCardsReturned: Type.Integer(),
  randomPin: Type.Integer(),
  logo: Type.Integer(),
  customerNumber: Type.String(),
  encryptedTrack1: Type.String({ description: 'Track 1 under the client\'s card-number key (PCI scope and a key; README: Card actions), else empty.' }),
  encryptedTrack2: Type.String({ description: 'Track 2 under the client\'s card-number key, else empty.' }),
  embosserBlockData: Type.String({ description: 'Embosser block (88 characters) under the client\'s card-number key, else empty.' }),
  embosserName1: Type.String(),
  embosserName2: Type.String(),
  owningBranchNumber: Type.Integer(),
  expiryDate: Type.String({ format: 'date', description: 'The resulting card\'s expiry (last day of the month).' }),
  userData: Type.Array(UserDataAnswer, { description: 'The user data of the action, one entry: as sent, with the date of the action and 0 for what was not.' }),
});
export type CardActionResponse = Static<typeof CardActionResponse>;
