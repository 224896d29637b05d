/**
 * Codes of the PIN and security-value endpoints: upstream (FirstVision Cards 1.0.0 / 1.3.0) where
 * the endpoint's list has one, emboss's own EMBP… otherwise. Descriptions never carry values.
 */
export type Code = readonly [string, string];

/** Codes shared by every endpoint of this module (emboss's own). */
export const PinCodes = {
  keyAssociationUnknown: ['EMBP01E', 'KEY ASSOCIATION NOT DEFINED FOR THIS CLIENT'],
  keyAssociationWrongKind: ['EMBP02E', 'KEY ASSOCIATION NAMES A KEY THAT CANNOT BE USED FOR THIS OPERATION'],
  pinNotOnFile: ['EMBP03E', 'NO PIN ON FILE FOR THIS CARD'],
  weakPin: ['EMBP04E', 'REQUESTED PIN IS TOO EASY TO GUESS (REPEATED OR SEQUENTIAL DIGITS)'],
  pinChangedMeanwhile: ['EMBP05E', 'THE PIN WAS CHANGED BY ANOTHER REQUEST - RETRY'],
  badExpiry: ['EMBP06E', 'EXPIRATION DATE MUST BE YYMM'],
  organizationUndetermined: ['EMBP07E', 'REQUESTED ORGANIZATION COULD NOT BE DETERMINED'],
  /** EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY reached: PIN validation, PIN change, CVV2 verification. */
  verificationsCapped: ['EMBP08E', 'DAILY LIMIT OF VERIFICATIONS FOR THIS CARD REACHED'],
  /** EMBOSS_UNBLOCKS_PER_CARD_PER_DAY reached: PIN unblock. */
  unblocksCapped: ['EMBP09E', 'DAILY LIMIT OF PIN UNBLOCKS FOR THIS CARD REACHED'],
  incorrectPin: ['VPL5SVP26S', 'INCORRECT PIN PROVIDED'],
  pinTriesExceeded: ['VPL5SVP27S', 'EXCEEDED NUMBER OF INVALID PIN TRIES'],
} as const satisfies Record<string, Code>;

/**
 * How one endpoint names the refusals every card look-up and state check can give. Endpoints
 * whose upstream list has no code for a case fall back to the cards module's codes.
 */
export interface CardCheckCodes {
  /** An organization number outside 001–998 (default: orgNotFound). */
  badOrganization?: Code;
  orgNotFound: Code;
  /** A card number that is neither 12–19 digits nor a PAN token (default: cardNotFound). */
  badNumber?: Code;
  cardNotFound: Code;
  panZeros?: Code;
  tokenSwitchOff?: Code;
  logoNotFound: Code;
  keyAssociationBlank?: Code;
  channelBlank?: Code;
  badPinBlock?: Code;
  accountStatus?: Code;
  accountBlocked?: Code;
  cardStatus?: Code;
  cardBlocked?: Code;
  notActivated?: Code;
  expired?: Code;
  pinSuppressed?: Code;
}

const EMBOSSER_NOT_FOUND: Code = ['VPL5SCI09S', 'EMBOSSER RECORD NOT FOUND'];

/** POST /cards/pin/validation (ARXVP). */
export const ValidationCodes = {
  orgNotFound: ['VPL5SVP07S', 'ORGANIZATION RECORD NOT FOUND'],
  badNumber: ['VPL5SVP04S', 'CARD NUMBER IS NOT NUMERIC OR EQUAL TO SPACES'],
  cardNotFound: EMBOSSER_NOT_FOUND,
  panZeros: ['VPL5SVP31S', 'INPUT PAN NUMBER SHOULD NOT BE SPACES OR ZEROS'],
  tokenSwitchOff: ['VPL5SVP33S', 'REQUEST CARD NBR IS PAN TOKEN, BUT ORG LVL PAN TOKEN SW INACTIVE'],
  logoNotFound: ['VPL5SVP18S', 'LOGO RECORD NOT FOUND ON FILE'],
  keyAssociationBlank: ['VPL5SVP06S', 'KEY ASSOCIATION MUST BE GREATER THAN SPACES'],
  badPinBlock: ['VPL5SVP05S', 'INVALID CURRENT PIN BLOCK VALUE'],
  accountStatus: ['VPL5SVP08S', 'INVALID ACCOUNT STATUS'],
  accountBlocked: ['VPL5SVP10S', 'ACCOUNT BLOCKED'],
  cardStatus: ['VPL5SVP12S', 'INVALID CARD STATUS'],
  cardBlocked: ['VPL5SVP13S', 'CARD BLOCKED'],
  notActivated: ['VPL5SVP14S', 'CARD IS NOT ACTIVATED'],
  expired: ['VPL5SVP15S', 'CARD IS EXPIRED'],
  pinSuppressed: ['VPL5SVP29S', 'PIN SUPPRESSION IS ON, PIN CHANGE NOT ALLOWED'],
} as const satisfies CardCheckCodes;

/** POST /cards/pin/security-codes and /cards/v1/pin/codes (ARXSV). */
export const SecurityValueCodes = {
  badOrganization: ['VPL5SPA01S', 'ORGANIZATION NUMBER MUST BE NUMERIC AND VALID VALUES ARE 001-998'],
  orgNotFound: ['VPL5SPA02S', 'ORGANIZATION NOT ON FILE'],
  cardNotFound: EMBOSSER_NOT_FOUND,
  panZeros: ['VPL5SPA03S', 'ACCOUNT NUMBER OR CARD NUMBER MUST BE PROVIDED'],
  logoNotFound: ['VPL5SCI06S', 'LOGO RECORD NOT FOUND'],
  keyAssociationBlank: ['VPL5SPA06S', 'KEY ASSOCIATION SHOULD BE PROVIDED'],
  channelBlank: ['VPL5SPA05S', 'CHANNEL SHOULD BE PROVIDED'],
} as const satisfies CardCheckCodes;

/** POST /cards/pin/invalid-attempts (AZXPT). */
export const InvalidAttemptsCodes = {
  orgNotFound: ['VPZ5SPT06S', 'ORGANIZATION RECORD NOT ON FILE'],
  orgUndetermined: ['VPZ5SPTZ4S', 'REQUESTED ORGANIZATION COULD NOT BE DETERMINED'],
  cardNotFound: ['VPZ5SPT09S', 'CARD NUMBER NOT FOUND ON FILE'],
  panZeros: ['VPZ5SPT04S', 'CARD NUMBER IS NOT NUMERIC OR EQUAL TO SPACES'],
  badNumber: ['VPZ5SPT04S', 'CARD NUMBER IS NOT NUMERIC OR EQUAL TO SPACES'],
  logoNotFound: ['VPZ5SPT11S', 'LOGO RECORD NOT ON FILE'],
} as const satisfies CardCheckCodes & Record<string, Code>;

/** POST /cards/pin/dynamic-values (ARXGD). */
export const DynamicValueCodes = {
  orgNotFound: ['VPL5SPA26S', 'REQUESTED ORGANIZATION NOT FOUND'],
  badNumber: ['VPL5SPA04S', 'CARD NUMBER IS NOT NUMERIC OR EQUAL TO SPACES'],
  cardNotFound: EMBOSSER_NOT_FOUND,
  panZeros: ['VPL5SEA04E', 'INPUT PAN NUMBER SHOULD NOT BE SPACES OR ZEROS'],
  tokenSwitchOff: ['VPL5SEA16S', 'REQUEST FOR PAN TOKEN, BUT ORG LVL PAN TOKEN SW INACTIVE'],
  logoNotFound: ['VPL5SPA19S', 'LOGO RECORD NOT FOUND ON FILE'],
  keyAssociationBlank: ['VPL5SPA07S', 'KEY ASSOCIATION MUST BE GREATER THAN SPACES'],
  channelBlank: ['VPL5SPA06S', 'CHANNEL MUST BE GREATER THAN SPACES'],
  accountStatus: ['VPL5SPA09S', 'INVALID ACCOUNT STATUS, GENERATE DCVV2 NOT ALLOWED'],
  accountBlocked: ['VPL5SPA11S', 'ACCOUNT BLOCKED, GENERATE DCVV2 NOT ALLOWED'],
  cardStatus: ['VPL5SPA13S', 'INVALID CARD STATUS, GENERATE DCVV2 NOT ALLOWED'],
  cardBlocked: ['VPL5SPA14S', 'CARD BLOCKED, GENERATE DCVV2 NOT ALLOWED'],
  notActivated: ['VPL5SPA15S', 'CARD IS NOT ACTIVATED, GENERATE DCVV2 NOT ALLOWED'],
  expired: ['VPL5SPA16S', 'CARD IS EXPIRED, GENERATE DCVV2 NOT ALLOWED'],
  badDisableFlag: ['VPL5SGD04S', 'INVALID VALUE IN DISABLE DCVV2 FLAG'],
} as const satisfies CardCheckCodes & Record<string, Code>;

/** PUT /cards/pin/pin-change (ARXCP). */
export const PinChangeCodes = {
  badOrganization: ['VPL5SCP06S', 'ORGANIZATION IS NOT NUMERIC OR MUST BE BETWEEN 000 AND 998'],
  orgNotFound: ['VPL5SCP20S', 'ORGANIZATION RECORD NOT FOUND'],
  cardNotFound: EMBOSSER_NOT_FOUND,
  panZeros: ['VPL5SCP41S', 'INPUT PAN NUMBER SHOULD NOT BE SPACES OR ZEROS'],
  tokenSwitchOff: ['VPL5SCP43S', 'REQUEST CARD NBR IS PAN TOKEN, BUT ORG LVL PAN TOKEN SW INACTIVE'],
  logoNotFound: ['VPL5SCP34S', 'LOGO RECORD NOT FOUND ON FILE'],
  keyAssociationBlank: ['VPL5SCP14S', 'KEY ASSOCIATION MUST BE GREATER THAN SPACES'],
  channelBlank: ['VPL5SCP13S', "CHANNEL MUST BE GREATER THAN SPACES AND EQUAL TO 'I' OR 'W'"],
  badChannel: ['VPL5SCP12S', "CHANNEL MUST BE 'I' OR 'W'"],
  badPinBlock: ['VPL5SCP09S', 'INVALID CURRENT PIN BLOCK VALUE'],
  badNewPinBlock: ['VPL5SCP10S', 'INVALID REQUESTED PIN BLOCK VALUE'],
  accountStatus: ['VPL5SCP21S', 'INVALID ACCOUNT STATUS, PIN CHANGE NOT ALLOWED'],
  accountBlocked: ['VPL5SCP23S', 'ACCOUNT BLOCKED, PIN CHANGE NOT ALLOWED'],
  cardStatus: ['VPL5SCP25S', 'INVALID CARD STATUS, PIN CHANGE NOT ALLOWED'],
  cardBlocked: ['VPL5SCP26S', 'CARD BLOCKED, PIN CHANGE NOT ALLOWED'],
  notActivated: ['VPL5SCP28S', 'CARD IS NOT ACTIVATED, PIN CHANGE NOT ALLOWED'],
  expired: ['VPL5SCP30S', 'CARD IS EXPIRED, PIN CHANGE NOT ALLOWED'],
  pinSuppressed: ['VPL5SCP29S', 'PIN SUPPRESSION IS ON, PIN CHANGE NOT ALLOWED'],
} as const satisfies CardCheckCodes & Record<string, Code>;

/** PUT /cards/pin/status (ARXRP). */
export const PinStatusCodes = {
  orgNotFound: ['VPL5SRP06S', 'ORGANIZATION NOT FOUND ON FILE'],
  orgUndetermined: PinCodes.organizationUndetermined,
  cardNotFound: ['VPL5SRP07S', 'CARD NUMBER DOES NOT EXIST'],
  panZeros: ['VPL5SRP04E', 'CARD NBR MUST BE NUMERIC AND GREATER THAN ZERO'],
  badNumber: ['VPL5SRP04E', 'CARD NBR MUST BE NUMERIC AND GREATER THAN ZERO'],
  badSequence: ['VPL5SRP05E', 'CARD SEQUENCE NUMBER NOT NUMERIC OR MUST BE BETWEEN 0001 AND 9998'],
  logoNotFound: ['VPL5SRP08S', 'CARD LOGO NOT FOUND ON FILE'],
  badFunction: ['VPL5SRP11S', 'INVALID SERVICE FUNCTION TYPE'],
  badChannel: ['VPL5SRP12S', 'INVALID CHANNEL ID, PIN UNBLOCK NOT ALLOWED'],
  cardStatus: ['VPL5SRP13S', 'INVALID CARD STATUS, PIN UNBLOCK NOT ALLOWED'],
  cardBlocked: ['VPL5SRP14S', 'CARD BLOCKED, PIN UNBLOCK NOT ALLOWED'],
  notActivated: ['VPL5SRP15S', 'CARD IS NOT ACTIVATED, PIN UNBLOCK NOT ALLOWED'],
  expired: ['VPL5SRP16S', 'CARD IS EXPIRED, PIN UNBLOCK NOT ALLOWED'],
  pinSuppressed: ['VPL5SRP18S', 'MANUAL PIN RESET NOT ALLOWED'],
} as const satisfies CardCheckCodes & Record<string, Code>;

/** POST /cards/cvv2/verification (emboss): card refusals are the cards module's. */
export const Cvv2Codes = {
  orgNotFound: ['VPL5SAD07S', 'REQUESTED ORG NUMBER IS NOT FOUND'],
  cardNotFound: EMBOSSER_NOT_FOUND,
  panZeros: ['VPL5SEA04E', 'INPUT PAN NUMBER SHOULD NOT BE SPACES OR ZEROS'],
  tokenSwitchOff: ['VPL5SEA16S', 'REQUEST FOR PAN TOKEN, BUT ORG LVL PAN TOKEN SW INACTIVE'],
  logoNotFound: ['VPL5SCI06S', 'LOGO RECORD NOT FOUND'],
} as const satisfies CardCheckCodes;
