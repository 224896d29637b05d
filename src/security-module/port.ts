/**
 * The security module: the only door to keys (the idea of jPOS's SMAdapter, in small).
 *
 * Keys never leave it in clear. A key lives outside the module only as a *key block*: the key
 * encrypted under the module's master key, with its type and algorithm bound to it, so a key
 * cannot be used as another type. The host stores key blocks (the `keys` module) and hands them
 * back to each operation, as with a payment HSM. Operations take key blocks and clear or
 * encrypted data and return encrypted data or a boolean; no operation returns a clear key, and
 * none returns a clear PIN.
 *
 * The software implementation (`software/`) is the default. A hardware HSM or a cloud payment
 * cryptography service can be added behind this interface and must pass the same contract
 * tests (`contract.suite.ts`). All operations are async so such adapters fit.
 */

/**
 * Key types.
 * - CVK: card verification key pair (3DES double length: CVK A | CVK B) for CVV, CVV2, iCVV, dCVV2.
 * - PVK: PIN verification key (3DES double length) for PVV and IBM 3624 offsets.
 * - ZPK: a client's zone PIN key: PIN blocks and security values it receives (3DES, or AES for ISO format 4).
 * - ZEK: a client's zone encryption key for card numbers it sends and receives (3DES).
 * - DEK: data encryption key for stored card numbers (AES-256-GCM).
 * - HMK: HMAC key for card-number look-up hashes (HMAC-SHA-256).
 * - TOK: PAN token key (AES, FF1).
 * - API: an API client's shared secret for HMAC request signatures and /token.
 * - BUR: a card bureau's key (3DES double/triple length, or AES): personalization records and
 *   the PIN mailer PIN blocks in them are encrypted under it (see `personalizationRecord`).
 */
export type KeyType = 'CVK' | 'PVK' | 'ZPK' | 'ZEK' | 'DEK' | 'HMK' | 'TOK' | 'API' | 'BUR';
export type KeyAlgorithm = '3DES' | 'AES' | 'HMAC';

export const KEY_TYPES: readonly KeyType[] = ['CVK', 'PVK', 'ZPK', 'ZEK', 'DEK', 'HMK', 'TOK', 'API', 'BUR'];

/** A key encrypted under the master key; safe to store and to pass around. */
export type KeyBlock = string;

export interface ProtectedKey {
  keyBlock: KeyBlock;
  /** Key check value (hex, uppercase). */
  kcv: string;
  type: KeyType;
  algorithm: KeyAlgorithm;
}

export interface ImportKeyRequest {
  type: KeyType;
  /** Clear components in hex; XOR-combined (a key ceremony). One component is a whole key. */
  components: string[];
  /** Expected key check value; the import fails when it differs. */
  kcv?: string;
  algorithm?: KeyAlgorithm;
}

export interface GenerateKeyRequest {
  type: KeyType;
  algorithm?: KeyAlgorithm;
  /** Bytes: 16 or 24 for 3DES, 16/24/32 for AES, 32 for HMAC. Defaults by type. */
  length?: number;
}

/**
 * Why an operation refused its input; the message is always safe to show (it never contains a
 * key, PIN, PIN block, card number or card security value).
 * - KCV_MISMATCH: imported components do not give the expected key check value.
 * - WEAK_KEY: a 3DES key that is, or contains, a DES weak or semi-weak key, or that degrades to
 *   single DES (equal halves, or equal second and third parts); see crypto/keys.ts tdesKeyWeakness.
 * - BAD_KEY: key length/shape not usable (e.g. a CVK that is not double-length 3DES).
 * - BAD_KEY_BLOCK: not a key block of this module, or it failed authentication (tampered, other master key).
 * - WRONG_KEY_TYPE: a key of another type (or algorithm) than the operation needs.
 * - BAD_INPUT: any other malformed argument (card number, expiry, token, ciphertext, …).
 * - BAD_PIN_BLOCK: a PIN block (from a client, or a stored one) that is malformed, was made with
 *   another key or for another card number; callers answer 422.
 * - WEAK_PIN: `importPin` refused a PIN of repeated or sequential digits.
 */
export type SecurityModuleErrorCode =
  | 'KCV_MISMATCH' | 'WEAK_KEY' | 'BAD_KEY' | 'BAD_KEY_BLOCK' | 'WRONG_KEY_TYPE' | 'BAD_INPUT' | 'BAD_PIN_BLOCK' | 'WEAK_PIN';

export class SecurityModuleError extends Error {
  constructor(readonly code: SecurityModuleErrorCode, message: string) {
    super(message);
    this.name = 'SecurityModuleError';
  }
}

// --- PINs ---------------------------------------------------------------------------------

/** ISO 9564-1 PIN block formats: 0, 1, 3 under a 3DES ZPK (8 bytes), 4 under an AES ZPK (16 bytes). */
export type PinBlockFormat = 0 | 1 | 3 | 4;

/**
 * A PIN as the issuer stores it: `EMBP1.` followed by 32 uppercase hex digits, an ISO 9564-1
 * format 4 PIN block for the card's PAN enciphered under a PIN-storage key held by the module
 * (see the software module for the exact construction). Safe to store; usable only by the module
 * that made it and only together with the card number it was made for.
 */
export type StoredPinBlock = string;

/**
 * How an issuer verifies PINs for a card range.
 * - PVV: Visa PIN Verification Value; 4-digit PINs; `pvki` is the PVK index, one digit 0-9.
 * - IBM3624: IBM 3624 PIN offset. `decimalizationTable`: 16 decimal digits (e.g.
 *   '0123456789012345'). `pinLength` (4-12) is the length of PINs `generatePin` draws.
 *   `validationData`: up to 16 hex digits; default the 12 rightmost PAN digits excluding the
 *   check digit. Pad character 'F'.
 */
export type PinVerificationMethod =
  | { kind: 'PVV'; pvki: string }
  | { kind: 'IBM3624'; decimalizationTable: string; pinLength: number; validationData?: string };

/** A PIN issued or changed: what the card record keeps. The clear PIN is not part of it. */
export interface IssuedPin {
  storedPinBlock: StoredPinBlock;
  /** 4 digits, when the method is PVV. */
  pvv?: string;
  /** As many digits as the PIN, when the method is IBM3624. */
  offset?: string;
}

export interface GeneratePinRequest {
  /** PVK key block (3DES). */
  pvk: KeyBlock;
  /** 12 to 19 digits. */
  pan: string;
  method: PinVerificationMethod;
}

/** A PIN block a client sent, with what checking or storing its PIN needs. */
export interface ClientPinBlock {
  /** The client's ZPK key block: 3DES for formats 0, 1, 3; AES for format 4. */
  zpk: KeyBlock;
  /** Encrypted PIN block, hex (16 digits for formats 0/1/3, 32 for format 4). */
  pinBlock: string;
  format: PinBlockFormat;
  pan: string;
  pvk: KeyBlock;
  method: PinVerificationMethod;
}

export interface VerifyPinRequest extends ClientPinBlock {
  /** The card's PVV (method PVV). */
  pvv?: string;
  /** The card's IBM 3624 offset (method IBM3624). */
  offset?: string;
}

export interface TranslatePinRequest {
  storedPinBlock: StoredPinBlock;
  pan: string;
  /** The receiving client's ZPK: 3DES for formats 0, 1, 3; AES for format 4. */
  zpk: KeyBlock;
  /** Default 0. */
  format?: PinBlockFormat;
}

/** The new PIN's block under the client's ZPK (3DES for formats 0/1/3, AES for 4). */
export interface ImportPinRequest extends ClientPinBlock {
  /** Accept PINs of repeated or sequential digits (e.g. when migrating existing cards). Default false. */
  allowWeak?: boolean;
}

// --- card security values -------------------------------------------------------------------

export type CardSecurityValueKind = 'CVV' | 'CVV2' | 'ICVV';

export interface CardSecurityValuesRequest {
  /** CVK key block (double-length 3DES: CVK A | CVK B). */
  cvk: KeyBlock;
  pan: string;
  /** 4 digits, YYMM. */
  expiryYYMM: string;
  /** 3 digits; needed when `which` includes 'CVV' (CVV2 uses 000, iCVV 999). */
  serviceCode?: string;
  /** The receiving client's ZPK (3DES): every value comes back encrypted under it. */
  zpk: KeyBlock;
  which: CardSecurityValueKind[];
}

/**
 * Each requested value encrypted under the ZPK: the digits right-padded with 'F' to 16 hex digits,
 * 3DES-ECB, 16 uppercase hex digits (e.g. 561 → 561FFFFFFFFFFFFF before encryption).
 */
export type CardSecurityValues = Partial<Record<CardSecurityValueKind, string>>;

export interface VerifyCvv2Request { cvk: KeyBlock; pan: string; expiryYYMM: string; cvv2: string }

export interface GenerateDcvv2Request {
  cvk: KeyBlock;
  pan: string;
  /** Milliseconds since the epoch (the caller's clock). */
  nowMs: number;
  /** 1 to 1440. */
  validityMinutes: number;
  /** The receiving client's ZPK (3DES). */
  zpk: KeyBlock;
}

export interface Dcvv2Issued {
  /** The dCVV2 under the ZPK, encoded as card security values are (16 hex digits). */
  encryptedValue: string;
  windowIndex: number;
  validFromMs: number;
  /** First millisecond at which the value is no longer valid. */
  expiresAtMs: number;
}

export interface VerifyDcvv2Request {
  cvk: KeyBlock;
  pan: string;
  dcvv2: string;
  nowMs: number;
  validityMinutes: number;
  /** Also accept the window just before the current one. Default false. */
  acceptPreviousWindow?: boolean;
}

// --- card numbers ---------------------------------------------------------------------------

export interface TokenizePanRequest { tok: KeyBlock; pan: string; /** Default 6. */ binLength?: 6 | 8 }
export interface DetokenizePanRequest { tok: KeyBlock; token: string; /** Default 6. */ binLength?: 6 | 8 }
export interface EncryptPanForClientRequest { zek: KeyBlock; pan: string }
export interface DecryptPanFromClientRequest { zek: KeyBlock; encrypted: string }

// --- personalization (card bureau) ---------------------------------------------------------------

/**
 * The PIN of a card as `generatePin`/`importPin` stored it, for the stripe's PVV/offset and the
 * PIN mailer. The module recomputes the PVV/offset from the stored PIN under the PVK and refuses
 * the request (BAD_PIN_BLOCK) when it differs from the given one, so the track never disagrees
 * with the card record.
 */
export interface PersonalizationPin {
  method: PinVerificationMethod;
  storedPinBlock: StoredPinBlock;
  /** The card's PVV (method PVV). */
  pvv?: string;
  /** The card's IBM 3624 offset (method IBM3624). */
  offset?: string;
  /** Put a PIN mailer PIN block in the record. Default true. */
  mailer?: boolean;
}

/** What is printed and encoded on a card: the data its tracks and embossing lines are built from. */
export interface CardFace {
  /** 12 to 19 digits. */
  pan: string;
  /** 4 digits, YYMM. */
  expiryYYMM: string;
  /** 3 digits (e.g. 101 stripe only, 201 chip). */
  serviceCode: string;
  /** Cardholder, for the track 1 name (SURNAME/GIVEN) and the first embossing line. */
  cardholder: { surname: string; givenNames?: string };
  /** First embossing line; default "GIVEN NAMES SURNAME". Normalized, at most 26 characters. */
  embossLine1?: string;
  /** Second embossing line (company name, …); default empty. */
  embossLine2?: string;
}

export interface PersonalizationRecordRequest extends CardFace {
  /** The bureau's key (type BUR): 3DES (16 or 24 bytes) or AES. */
  bur: KeyBlock;
  /** CVK key block (double-length 3DES): CVV (stripe), CVV2 (printed), iCVV (chip). */
  cvk: KeyBlock;
  /**
   * The caller's reference for the record, written in clear in the file next to the encrypted
   * record and inside it: a card id or PAN token. 1-40 characters of A-Z a-z 0-9 . _ -, and not
   * a string of 12 or more digits only (it must never be a card number).
   */
  reference: string;
  /** Without it the stripe's PIN field is '00000' and there is no PIN mailer. */
  pin?: PersonalizationPin;
  /**
   * PVK key block (3DES), required with `pin`. (At the top level of the request, so that the
   * audit wrapper, which reads only direct properties, records the key type.)
   */
  pvk?: KeyBlock;
}

/** Cipher of a personalization record: CBC under the bureau key, random IV, PKCS#7 padding. */
export type PersonalizationCipher = '3DES-CBC' | 'AES-CBC';

/** A personalization record encrypted for the bureau: safe to store, log-free only as a whole. */
export interface PersonalizationRecord {
  reference: string;
  /** base64 of IV (8 bytes 3DES, 16 AES) || CBC ciphertext of the clear record (UTF-8, PKCS#7). */
  encryptedRecord: string;
  cipher: PersonalizationCipher;
  /** Check value of the bureau key (as `ProtectedKey.kcv`: 6 hex digits for 3DES, 10 for AES CMAC), so files name the key they need. */
  bureauKcv: string;
}

/**
 * The clear personalization record, inside the encryption: these fields in this order, joined
 * with '|' (no field contains '|'), no line end. Version 'EMBR1'. See docs/personalization.md.
 * - embossedPan: the number as embossed ('4123 4567 8901 2345'); embossedExpiry 'MM/YY'.
 * - track1, track2: ISO/IEC 7813 with start and end sentinels, without LRC; discretionary data
 *   PVKI|PVV|CVV or offset|CVV, '0'-filled so that track 2 has 37 characters between sentinels.
 * - chipTrack2: EMV track 2 equivalent data (tag 57, hex, 'D' separator, 'F' pad) with the iCVV.
 * - cvv2: the printed value. pinBlockFormat '0' (3DES bureau key) or '4' (AES), pinBlock hex
 *   under the bureau key; both empty without a PIN mailer.
 */
export const PERSONALIZATION_RECORD_FIELDS = [
  'version', 'reference', 'pan', 'embossedPan', 'embossLine1', 'embossLine2', 'embossedExpiry',
  'expiryYYMM', 'serviceCode', 'track1', 'track2', 'chipTrack2', 'cvv2', 'pinBlockFormat', 'pinBlock',
] as const;
export const PERSONALIZATION_RECORD_VERSION = 'EMBR1';

// --- new cards in bulk (mass issue) -----------------------------------------------------------------

/**
 * What a batch of new cards of one range needs from the module, in one call: for each card
 * number, its look-up hash (HMK), PAN token (TOK), stored encryption (DEK), a random PIN stored
 * with its PVV/offset (PVK), and — with `bur` and `cvk` — its personalization record with a PIN
 * mailer, as `personalizationRecord` builds it. The cards share expiry, service code and names
 * (a mass issue), or each has its own (`faces`: concurrent card adds of one logo, one batch).
 */
export interface IssueCardsRequest extends Omit<CardFace, 'pan'> {
  /** The new cards' numbers, 12 to 19 digits each; at most MAX_ISSUE_CARDS. */
  pans: string[];
  /**
   * Per card, in the order of `pans`: its own face and reference suffix, instead of the batch's
   * (whose face fields are then ignored).
   */
  faces?: IssueCardFace[];
  tok: KeyBlock;
  dek: KeyBlock;
  hmk: KeyBlock;
  /** Required unless `pins` is false. */
  pvk?: KeyBlock;
  /**
   * False: the cards get no PIN (PIN suppressed) — no `pin` in the answer, records without PVV or
   * offset and without a PIN mailer. Default true.
   */
  pins?: boolean;
  /** BIN length the PAN token keeps (default 6). */
  binLength?: 6 | 8;
  method: PinVerificationMethod;
  /** With `cvk`: a personalization record per card. */
  bur?: KeyBlock;
  cvk?: KeyBlock;
  /** Each record's reference is `<PAN token>.<referenceSuffix>` (e.g. the card sequence). */
  referenceSuffix?: string;
}

/** One card's own face in a batch of IssueCardsRequest. */
export interface IssueCardFace extends Omit<CardFace, 'pan'> {
  referenceSuffix?: string;
}

export const MAX_ISSUE_CARDS = 5000;

/** One card of IssueCardsRequest, in the order of `pans`. Nothing in it is clear card data. */
export interface IssuedCardValues {
  /** As `panLookupHash`. */
  hash: string;
  /** As `tokenizePan`. */
  token: string;
  /** As `encryptData` of the number. */
  encrypted: string;
  /** Absent when the batch has `pins: false`. */
  pin?: IssuedPin;
  record?: PersonalizationRecord;
}

// --- track data for a client (card actions) ---------------------------------------------------------

/** The PIN verification field of the stripe's discretionary data (no stored PIN needed: the card's PVV or offset). */
export type TrackPinField = { kind: 'PVV'; pvki: string; pvv: string } | { kind: 'IBM3624'; offset: string };

export interface TrackDataForClientRequest extends CardFace {
  /** The client's card-number key (ZEK, 3DES): every field comes back encrypted under it. */
  zek: KeyBlock;
  /** CVK key block (double-length 3DES): the stripe's CVV and the printed CVV2. */
  cvk: KeyBlock;
  /** PVKI + PVV or IBM 3624 offset for the discretionary data; absent: '00000' (no PIN). */
  pin?: TrackPinField;
}

/**
 * A card's personalization data for the client, each field 3DES-ECB under the client's ZEK
 * (K1K2K1 for a double-length key), uppercase hex. The clear text of each field is ASCII,
 * right-padded with spaces (0x20) to a multiple of 8 bytes before encryption; a client decrypts
 * and drops the trailing spaces (no field ends with a space: tracks end with '?').
 * - encryptedTrack1: ISO/IEC 7813 track 1 format B with sentinels, without LRC (as in the bureau
 *   record): at most 79 characters → at most 80 bytes → at most 160 hex digits.
 * - encryptedTrack2: track 2 with sentinels, without LRC, 39 characters → 40 bytes → 80 hex digits.
 *   Discretionary data as in the bureau record: PVKI|PVV|CVV or offset|CVV, '0'-filled.
 * - embosserBlockData: 88 characters → 176 hex digits, fixed positions (1-based):
 *   1-23 embossed card number ('4111 1111 1111 1111', left-aligned, space-filled), 24-28 expiry
 *   'MM/YY', 29-54 embossing line 1, 55-80 embossing line 2 (each left-aligned, space-filled),
 *   81-83 CVV2 (the printed value), 84-88 spaces.
 */
export interface TrackDataForClient {
  encryptedTrack1: string;
  encryptedTrack2: string;
  embosserBlockData: string;
}

export interface SecurityModule {
  importKey(request: ImportKeyRequest): Promise<ProtectedKey>;
  generateKey(request: GenerateKeyRequest): Promise<ProtectedKey>;
  /** The check value of a stored key. */
  keyCheckValue(key: KeyBlock): Promise<string>;

  /** Takes a client's shared secret into a key block of type API. */
  importSecret(secret: string): Promise<ProtectedKey>;
  /** Constant-time check of a presented secret against a key block of type API. */
  verifySecret(key: KeyBlock, presented: string): Promise<boolean>;
  /** Checks Base64(HMAC-SHA256(secret, message)) in constant time. */
  verifyHmac(key: KeyBlock, message: string, signatureBase64: string): Promise<boolean>;

  /**
   * Encrypts data at rest under a DEK (AES-256-GCM): stored card numbers, stored responses that
   * may carry card data. Returns base64 text to store (IV | ciphertext | tag).
   */
  encryptData(dek: KeyBlock, clear: string): Promise<string>;
  decryptData(dek: KeyBlock, stored: string): Promise<string>;
  /** Keyed look-up hash of a card number under an HMK (hex): for uniqueness and search. */
  panLookupHash(hmk: KeyBlock, pan: string): Promise<string>;

  // --- PINs (the clear PIN never leaves the module) ---

  /**
   * Draws a random PIN (crypto.randomInt; 4 digits for PVV, `pinLength` for IBM3624), never one of
   * repeated digits (1111) or a run (1234, 8901, 4321), and returns it stored plus its PVV/offset.
   */
  generatePin(request: GeneratePinRequest): Promise<IssuedPin>;
  /** True when the PIN in the client's PIN block matches the PVV/offset; false for a wrong PIN. */
  verifyPin(request: VerifyPinRequest): Promise<boolean>;
  /** The stored PIN as an ISO 9564-1 PIN block (hex) under a client's ZPK: PIN mailers, PIN inquiry. */
  translatePin(request: TranslatePinRequest): Promise<string>;
  /** Takes a new PIN (PIN change, PIN selection, migration) from a client's PIN block. */
  importPin(request: ImportPinRequest): Promise<IssuedPin>;

  // --- card security values (never returned in clear) ---

  cardSecurityValues(request: CardSecurityValuesRequest): Promise<CardSecurityValues>;
  /** Timing-safe check of a presented CVV2. */
  verifyCvv2(request: VerifyCvv2Request): Promise<boolean>;
  generateDcvv2(request: GenerateDcvv2Request): Promise<Dcvv2Issued>;
  verifyDcvv2(request: VerifyDcvv2Request): Promise<boolean>;

  // --- card numbers ---

  /** 19-character PAN token under a TOK key (AES, FF1); deterministic. */
  tokenizePan(request: TokenizePanRequest): Promise<string>;
  detokenizePan(request: DetokenizePanRequest): Promise<string>;
  /** PAN under a client's ZEK: PAN right-padded with 'F' to 32 hex digits, 3DES-ECB, 32 hex digits. */
  encryptPanForClient(request: EncryptPanForClientRequest): Promise<string>;
  decryptPanFromClient(request: DecryptPanFromClientRequest): Promise<string>;

  // --- personalization ---

  /**
   * One card's personalization (embosser) record — embossing lines, tracks 1 and 2 with PVV or
   * offset and CVV, chip track 2 equivalent with iCVV, CVV2, PIN mailer PIN block — built and
   * encrypted under the bureau key inside the module; the clear record never leaves it.
   */
  personalizationRecord(request: PersonalizationRecordRequest): Promise<PersonalizationRecord>;
  /**
   * A batch of new cards (see IssueCardsRequest): the same values the single operations give,
   * in one call, so a bulk issue pays the call overhead once per batch and a module may run the
   * batch on its own thread or hardware. All or nothing: one bad input refuses the batch.
   */
  issueCards(request: IssueCardsRequest): Promise<IssuedCardValues[]>;
  /**
   * A card's tracks 1 and 2 and embosser block (see TrackDataForClient), built inside the module
   * and returned only encrypted under the client's ZEK (card action responses).
   */
  trackDataForClient(request: TrackDataForClientRequest): Promise<TrackDataForClient>;
}

/** Every operation of the interface, for generic wrappers and contract coverage checks. */
export const SECURITY_MODULE_OPERATIONS = [
  'importKey', 'generateKey', 'keyCheckValue', 'importSecret', 'verifySecret', 'verifyHmac',
  'encryptData', 'decryptData', 'panLookupHash',
  'generatePin', 'verifyPin', 'translatePin', 'importPin',
  'cardSecurityValues', 'verifyCvv2', 'generateDcvv2', 'verifyDcvv2',
  'tokenizePan', 'detokenizePan', 'encryptPanForClient', 'decryptPanFromClient',
  'personalizationRecord', 'issueCards', 'trackDataForClient',
] as const satisfies readonly (keyof SecurityModule)[];

export type SecurityModuleOperation = (typeof SECURITY_MODULE_OPERATIONS)[number];

/** Compile-time check that SECURITY_MODULE_OPERATIONS names every method of SecurityModule. */
type MustBeNever<T extends never> = T;
export type AllOperationsListed = MustBeNever<Exclude<keyof SecurityModule, SecurityModuleOperation>>;
