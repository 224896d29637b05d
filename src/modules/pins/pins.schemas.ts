import { Type, type Static } from '@sinclair/typebox';
import { Open } from '../../shared/schema.ts';
import { ShownCardNumber } from '../cards/index.ts';

/**
 * Wire schemas of the PIN and security-value endpoints, after the upstream FirstVision Cards
 * 1.0.0 (security codes) and 1.3.0 files. Values the upstream answers with a 422 code (blank
 * channel or key association, a malformed PIN block) are accepted by the schema and refused by
 * the service with that code.
 */

// Upstream's form for these is plain text of a length (and a number of digits): the schema takes
// that form, and the service answers a value that names nothing with the endpoint's 422 code.
const OrganizationNumber = Type.Integer({ minimum: 0, maximum: 999, description: 'Organization number (001–998; another is answered 422 with the endpoint\'s code for an invalid or unknown organization).' });
const CardNumber = Type.String({ maxLength: 19, description: 'Card number (clear PAN, 12–19 digits, may be zero-padded to 19) or PAN token (19 letters and digits); blanks around it are ignored. Anything else: 422 (the endpoint\'s code for a card number not numeric, or not on file).' });
const Sequence = Type.Integer({ minimum: 0, maximum: 9999, description: 'Card sequence; default the latest.' });
const Channel = Type.String({ maxLength: 1, pattern: '^[AIW ]?$', description: 'A ATM, I IVR, W web.' });
const KeyAssociation = Type.String({ maxLength: 3, description: 'Key association (e.g. IYY): names the calling client\'s zone PIN key the values are encrypted under (one it does not name: 422 EMBP01E).' });
const PinBlock = (description: string) => Type.String({ maxLength: 32, description });
const PinBlockFormat = Type.Optional(Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(3), Type.Literal(4)], {
  description: 'emboss extension: ISO 9564-1 format of the PIN block(s). Default: 4 for a 32-digit block (AES key), 0 for a 16-digit one (3DES key).',
}));
const Encrypted = (description: string) => Type.String({ description: `${description} Encrypted under the key association's 3DES key: digits right-padded with F to 16 hex digits, 3DES-ECB.` });

// --- security values ----------------------------------------------------------------------------

export const SecurityCodeDetailsRequest = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: CardNumber,
  channel: Channel,
  keyAssociation: KeyAssociation,
});
export type SecurityCodeDetailsRequest = Static<typeof SecurityCodeDetailsRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
SecurityCodeDetailsRequest.examples = [{ organizationNumber: 100, cardNumber: '4111112QP3MK80Y7459', channel: 'A', keyAssociation: 'IYY' }];

export const SecurityCodeDetailsResponse = Type.Object({
  cardNumber: ShownCardNumber,
  ud1ec: Encrypted('CVV (magnetic stripe, the card\'s service code).'),
  ud2ec: Encrypted('CVV2 (printed).'),
  ud3ec: Encrypted('iCVV (chip, service code 999).'),
  pinEncrypt: Type.String({ description: 'The PIN as an ISO 9564-1 format 0 PIN block under the key association\'s 3DES key (16 hex digits); empty when the card has no PIN.' }),
});

export const SecurityValuesDetailsV2Request = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: CardNumber,
  channelIndicator: Channel,
  keyAssociation: KeyAssociation,
});
export type SecurityValuesDetailsV2Request = Static<typeof SecurityValuesDetailsV2Request>;

const Item = Type.Object({ key: Type.String(), value: Type.String() });
export const SecurityValuesDetailsV2Response = Type.Object({
  pinEncrypt: Type.String({ description: 'The PIN as an ISO 9564-1 format 0 PIN block under the key association\'s 3DES key; empty when the card has no PIN.' }),
  usersDefined: Type.Array(Item, { description: 'key 1: CVV, 2: CVV2, 3: iCVV, each encrypted.' }),
  cardSecurity: Type.Object({
    magnetic: Encrypted('CVV of the magnetic stripe.'),
    contactless: Encrypted('Contactless security code (the iCVV, as the chip\'s track 2 equivalent carries it).'),
    chip: Encrypted('iCVV.'),
    printed: Type.Array(Item, { description: 'key 1: the printed CVV2.' }),
  }),
});

// --- PINs ----------------------------------------------------------------------------------------

export const PinValidateRequest = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: CardNumber,
  currentPinBlock: PinBlock('The PIN block under the key association\'s zone PIN key: 16 hex digits (formats 0, 1, 3; 3DES) or 32 (format 4; AES, emboss extension).'),
  channel: Channel,
  keyAssociation: KeyAssociation,
  pinBlockFormat: PinBlockFormat,
});
export type PinValidateRequest = Static<typeof PinValidateRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
PinValidateRequest.examples = [{ organizationNumber: 100, cardNumber: '4111112QP3MK80Y7459', currentPinBlock: '95FFA0D534BF020F', channel: 'A', keyAssociation: 'IYY', pinBlockFormat: 0 }];

export const PinValidateResponse = Type.Object({
  cardNumber: ShownCardNumber,
});

export const InvalidPinAttemptsInquiryRequest = Open({
  cardNumber: CardNumber,
  organizationNumber: Type.Optional(OrganizationNumber),
  cardSequenceNumber: Type.Optional(Sequence),
});
export type InvalidPinAttemptsInquiryRequest = Static<typeof InvalidPinAttemptsInquiryRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
InvalidPinAttemptsInquiryRequest.examples = [{ organizationNumber: 100, cardNumber: '4111112QP3MK80Y7459', cardSequenceNumber: 1 }];

export const InvalidPinAttemptsInquiryResponse = Type.Object({
  outputArea: Type.Object({
    cardNumber: ShownCardNumber,
    cardSequenceNumber: Type.Integer(),
    cardInvalidPinTries: Type.Integer({ description: 'Invalid PIN tries since the last correct PIN or unblock.' }),
    cardInvalidPinTryDate: Type.String({ format: 'date', description: 'Date of the last invalid try (ISO 8601); when there was none, the date the card was added (the counter\'s start).' }),
    maxNumberInvalidPinTries: Type.Integer(),
    exceededInvalidPinTries: Type.String({ description: 'Action when the maximum is reached (the logo\'s): C, D, K, R, S, V or space.' }),
    blockedIndicator: Type.String({ description: 'B blocked, N not blocked.' }),
  }),
});

export const PinChangeRequest = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: CardNumber,
  currPinBlock: PinBlock('The current PIN block under the key association\'s zone PIN key.'),
  reqdPinBlock: PinBlock('The requested PIN block, same key and format.'),
  pinOffset: Type.Optional(Type.Integer({ minimum: 0, maximum: 9999, description: 'Accepted and ignored: emboss computes the PVV or offset itself.' })),
  channel: Channel,
  keyAssociationNumber: Type.Optional(KeyAssociation),
  pinBlockFormat: PinBlockFormat,
});
export type PinChangeRequest = Static<typeof PinChangeRequest>;

export const PinChangeResponse = Type.Object({
  cardNumber: ShownCardNumber,
  feeAmount: Type.Integer(),
  feeWaiveReason: Type.Integer(),
  feeRespCode: Type.Integer(),
});

export const PinBlockUpdateRequest = Open({
  organizationNumber: Type.Optional(OrganizationNumber),
  cardNumber: CardNumber,
  cardSequenceNumber: Type.Optional(Sequence),
  serviceFunctionCode: Type.String({ minLength: 1, maxLength: 1, description: 'B block the PIN, U unblock it (and reset the invalid-try counters).' }),
  channel: Type.String({ minLength: 1, maxLength: 1, description: 'I IVR, A ATM, W web.' }),
});
export type PinBlockUpdateRequest = Static<typeof PinBlockUpdateRequest>;

export const PinBlockUpdateResponse = Type.Object({
  cardNumber: ShownCardNumber,
  cardSequenceNumber: Type.Integer(),
});

// --- dynamic CVV2 and CVV2 verification --------------------------------------------------------------

export const DynamicValuesRequest = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: CardNumber,
  channel: Channel,
  keyAssociation: KeyAssociation,
  disableDCVV2: Type.String({ maxLength: 1, description: 'Y: back to the static CVV2 (no value generated); N: generate a dCVV2.' }),
});
export type DynamicValuesRequest = Static<typeof DynamicValuesRequest>;
// A request the server accepts (the docs page shows it; test/http/openapi-examples.test.ts sends it with real numbers).
DynamicValuesRequest.examples = [{ organizationNumber: 100, cardNumber: '4111112QP3MK80Y7459', channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'N' }];

export const DynamicValuesResponse = Type.Object({
  cardNumber: ShownCardNumber,
  dcvv2: Type.String({ description: 'The dCVV2 encrypted as card security values are (16 hex digits); empty with disableDCVV2 Y.' }),
  accountType: Type.String({ description: 'Credit or Debit (prepaid logos answer Debit).' }),
  dcvv2ExpiryMinutes: Type.String({ description: 'Whole minutes (rounded up) until the value stops being accepted.' }),
  dcvv2GenerationTime: Type.String({ description: 'When the value was generated (ISO 8601, UTC).' }),
});

export const Cvv2VerificationRequest = Open({
  organizationNumber: OrganizationNumber,
  cardNumber: CardNumber,
  cardSequenceNumber: Type.Optional(Sequence),
  expirationDate: Type.String({ maxLength: 4, description: 'Card expiry as presented, YYMM.' }),
  cvv2: Type.String({ pattern: '^[0-9]{3}$', maxLength: 3, description: 'The CVV2 or dCVV2 as the cardholder gave it (clear, over TLS; never logged).' }),
});
export type Cvv2VerificationRequest = Static<typeof Cvv2VerificationRequest>;

export const Cvv2VerificationResponse = Type.Object({
  cardNumber: ShownCardNumber,
  cvv2Valid: Type.String({ description: 'Y valid, N not.' }),
  result: Type.String({ description: 'MATCH, NO_MATCH, or TRIES_EXCEEDED (refused without checking until the card is unblocked).' }),
  cvv2Mode: Type.String({ description: 'STATIC (the printed CVV2) or DYNAMIC (dCVV2 only).' }),
  invalidTries: Type.Integer(),
  maxInvalidTries: Type.Integer(),
  blockedIndicator: Type.String({ description: 'B blocked, N not blocked.' }),
});
