import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import {
  SecurityModuleError,
  type CardFace,
  type CardSecurityValueKind,
  type CardSecurityValues,
  type CardSecurityValuesRequest,
  type DecryptPanFromClientRequest,
  type Dcvv2Issued,
  type DetokenizePanRequest,
  type EncryptPanForClientRequest,
  type GenerateDcvv2Request,
  type GenerateKeyRequest,
  type GeneratePinRequest,
  type ImportKeyRequest,
  type ImportPinRequest,
  type IssueCardFace,
  type IssueCardsRequest,
  type IssuedCardValues,
  type IssuedPin,
  type KeyAlgorithm,
  type KeyBlock,
  type KeyType,
  type PersonalizationRecord,
  type PersonalizationRecordRequest,
  type PinBlockFormat,
  type PinVerificationMethod,
  type ProtectedKey,
  type SecurityModule,
  type StoredPinBlock,
  type TokenizePanRequest,
  type TrackDataForClient,
  type TrackDataForClientRequest,
  type TranslatePinRequest,
  type VerifyCvv2Request,
  type VerifyDcvv2Request,
  type VerifyPinRequest,
  MAX_ISSUE_CARDS,
} from '../port.ts';
import {
  combineComponents, keyCheckValue, tdesKeyWeakness, withOddParity,
  createAesCipher, createTdesCipher, bytesToHex, secureRandomBytes,
  prepareCvk, verifyCvv, CVV2_SERVICE_CODE, ICVV_SERVICE_CODE,
  computePvvs, verifyPvv, ibm3624ValidationData, ibm3624Offset, ibm3624Verify,
  encryptPinBlock, encryptPinBlocks, decryptPinBlock,
  Ff1, tokenizePan, tokenizePans, detokenizePan,
  generateDcvv2, verifyDcvv2,
  encryptCvvForClient, encryptPanForClient, decryptPanFromClient,
  CryptoInputError, PinBlockError,
  type BlockCipher, type CvkPair,
} from '../../crypto/index.ts';
import { cvvBatch, cvvBatchMany, encryptValuesForClient } from './cvv-batch.ts';
import { checkReference, clientTrackText, encryptForBureau, personalizationRecordText, spacePadded } from './personalization.ts';
import type { DiscretionaryPin } from '../../crypto/track-data.ts';
import { ModuleThread } from './module-thread.ts';

const BLOCK_VERSION = 'EMB1';
/** Batches of issueCards from this many cards go to the module thread (see issueCards). */
const THREAD_MIN_CARDS = 64;

const DEFAULT_ALGORITHM: Record<KeyType, KeyAlgorithm> = {
  CVK: '3DES', PVK: '3DES', ZPK: '3DES', ZEK: '3DES', DEK: 'AES', HMK: 'HMAC', TOK: 'AES', API: 'HMAC', BUR: 'AES',
};
const DEFAULT_LENGTH: Record<KeyAlgorithm, number> = { '3DES': 16, AES: 32, HMAC: 32 };
const VALID_LENGTHS: Record<KeyAlgorithm, number[]> = { '3DES': [16, 24], AES: [16, 24, 32], HMAC: [16, 24, 32, 48, 64] };

/**
 * An unwrapped key with the cipher objects made from it, created on first use and kept with the
 * key (node:crypto cipher set-up costs several µs; reusing one object costs well under 1 µs per
 * block). Mass issuance runs thousands of cards through the same few key blocks, so every op after
 * the first one on a key block reuses these.
 */
interface ClearKey {
  type: KeyType;
  algorithm: KeyAlgorithm;
  key: Buffer;
  tdes?: BlockCipher;
  aes?: BlockCipher;
  cvk?: CvkPair;
  ff1?: Ff1;
  /** BUR keys: the check value. */
  kcv?: string;
}

/** Stored PIN block tag (version 1: ISO 9564-1 format 4 under the PIN-storage key). */
const STORED_PIN_TAG = 'EMBP1.';
const STORED_PIN_RE = /^EMBP1\.[0-9A-F]{32}$/;
const PAN_RE = /^[0-9]{12,19}$/;
const CVV_KINDS: readonly CardSecurityValueKind[] = ['CVV', 'CVV2', 'ICVV'];
const CACHE_LIMIT = 10_000;

/**
 * Software security module. Keys are held as key blocks: AES-256-GCM under the master key, the
 * header (version, type, algorithm) as additional authenticated data, so a block cannot be
 * altered or re-labelled as another key type. Unwrapped keys (and the cipher objects made from
 * them) are cached in memory only.
 *
 * Encodings (so that a client can check every value with any 3DES/AES tool):
 *
 * - Key block: `EMB1.<TYPE>.<ALG>.<iv>.<ciphertext>.<tag>` (base64url parts), AES-256-GCM under the
 *   master key, AAD = `EMB1.<TYPE>.<ALG>`.
 * - Stored PIN block: `EMBP1.` + 32 uppercase hex digits =
 *     ISO 9564-1:2017 format 4 encipherment of the PIN for the card's PAN under
 *     K_PIN = HMAC-SHA-256(master key, "emboss/pin-storage/v1") (an AES-256 key, never stored):
 *       PIN field (16 bytes) = 4 | N | PIN digits | 'A' fill to nibble 15 | 8 random bytes
 *       PAN field (16 bytes) = M (PAN length − 12) | PAN | '0' fill
 *       block = AES(K_PIN, AES(K_PIN, PIN field) XOR PAN field)
 *   Randomised (fresh fill each time), bound to the PAN (another PAN gives a block that fails the
 *   format check) and separate from the key-wrapping use of the master key (own derived key).
 * - Client PIN blocks (verifyPin, translatePin, importPin): ISO 9564-1 format 0, 1, 3 under a
 *   3DES ZPK (TDES-ECB, 16 hex digits), format 4 under an AES ZPK (the encipherment above with the
 *   ZPK, 32 hex digits). Format 0/3 PAN field = 0000 | 12 rightmost PAN digits excluding the
 *   check digit; format 1 carries no PAN.
 * - CVV, CVV2, iCVV, dCVV2 for a client: digits right-padded with 'F' to 16 hex digits, TDES-ECB
 *   under the 3DES ZPK (K1K2K1 for double length), 16 uppercase hex digits. E.g. CVV 561 →
 *   561FFFFFFFFFFFFF → encrypt. OpenSSL: `xxd -r -p | openssl enc -d -des-ede-ecb -K <zpk> -nopad`.
 * - PAN for a client: PAN right-padded with 'F' to 32 hex digits, TDES-ECB under the 3DES ZEK,
 *   32 uppercase hex digits.
 * - PAN token: see crypto/pan-token.ts (FF1 over AES, 19 characters, BIN and last four kept).
 * - Personalization record: the fields of PERSONALIZATION_RECORD_FIELDS joined with '|', CBC
 *   under the bureau key (BUR) with a random IV and PKCS#7 padding, base64(IV || ciphertext);
 *   PIN mailer block in it: format 0 under a 3DES BUR, format 4 under an AES BUR
 *   (software/personalization.ts, docs/personalization.md).
 *
 * Errors: every refusal is a SecurityModuleError with a fixed, safe message; the primitives'
 * CryptoInputError messages (which never echo inputs) are passed on as BAD_INPUT.
 */
export class SoftwareSecurityModule implements SecurityModule {
  private readonly unwrapped = new Map<KeyBlock, ClearKey>();
  /** AES-256 cipher under K_PIN (see above): stored PIN blocks. */
  private readonly pinStorage: BlockCipher;

  /** The module's own thread for batch operations, when it was asked for one. */
  private readonly thread: ModuleThread | undefined;

  /**
   * `options.batchThread`: run batch operations (issueCards) on a worker thread of the module,
   * which holds the same master key, so a bulk issue's cryptography runs beside the caller's
   * event loop (as a network HSM's would), not on it.
   */
  constructor(private readonly masterKey: Buffer, options: { batchThread?: boolean } = {}) {
    if (masterKey.length !== 32) throw new SecurityModuleError('BAD_KEY', 'master key must be 32 bytes');
    const kPin = createHmac('sha256', masterKey).update('emboss/pin-storage/v1').digest();
    this.pinStorage = createAesCipher(kPin);
    kPin.fill(0);
    this.thread = options.batchThread ? new ModuleThread(masterKey) : undefined;
  }

  async importKey(request: ImportKeyRequest): Promise<ProtectedKey> {
    const algorithm = request.algorithm ?? DEFAULT_ALGORITHM[request.type];
    if (request.components.length === 0) throw new SecurityModuleError('BAD_INPUT', 'at least one key component is required');
    for (const c of request.components) {
      if (!/^([0-9A-Fa-f]{2})+$/.test(c)) throw new SecurityModuleError('BAD_INPUT', 'key components must be hexadecimal');
    }
    let key: Buffer;
    try {
      key = combineComponents(request.components.map((c) => Buffer.from(c, 'hex')));
    } catch {
      throw new SecurityModuleError('BAD_INPUT', 'key components must all have the same length');
    }
    this.checkLength(algorithm, key.length);
    if (algorithm === '3DES') {
      key = withOddParity(key);
      const weakness = tdesKeyWeakness(key);
      if (weakness) throw new SecurityModuleError('WEAK_KEY', weakness);
    }
    const kcv = this.kcv(algorithm, key);
    if (request.kcv !== undefined && !safeEqualText(request.kcv.toUpperCase(), kcv.slice(0, request.kcv.length))) {
      throw new SecurityModuleError('KCV_MISMATCH', 'key check value does not match the key components');
    }
    if (request.kcv !== undefined && request.kcv.length < 4) {
      throw new SecurityModuleError('BAD_INPUT', 'key check value must have at least 4 hexadecimal characters');
    }
    return this.protect(request.type, algorithm, key, kcv);
  }

  async generateKey(request: GenerateKeyRequest): Promise<ProtectedKey> {
    const algorithm = request.algorithm ?? DEFAULT_ALGORITHM[request.type];
    const length = request.length ?? DEFAULT_LENGTH[algorithm];
    this.checkLength(algorithm, length);
    const draw = () => (algorithm === '3DES' ? withOddParity(randomBytes(length)) : randomBytes(length));
    let key = draw();
    // A weak 3DES draw (about 2^-52 likely) is drawn again, as an imported one would be refused.
    while (algorithm === '3DES' && tdesKeyWeakness(key)) key = draw();
    return this.protect(request.type, algorithm, key, this.kcv(algorithm, key));
  }

  async keyCheckValue(block: KeyBlock): Promise<string> {
    const k = this.unwrap(block);
    return this.kcv(k.algorithm, k.key);
  }

  async importSecret(secret: string): Promise<ProtectedKey> {
    if (secret.length < 16) throw new SecurityModuleError('BAD_INPUT', 'an API secret must have at least 16 characters');
    const key = Buffer.from(secret, 'utf8');
    return this.protect('API', 'HMAC', key, this.kcv('HMAC', key));
  }

  async verifySecret(block: KeyBlock, presented: string): Promise<boolean> {
    const k = this.use(block, 'API');
    // Compare fixed-length digests so neither the length nor the content leaks through timing.
    const a = createHmac('sha256', k.key).update('emboss-secret-check').digest();
    const b = createHmac('sha256', Buffer.from(presented, 'utf8')).update('emboss-secret-check').digest();
    return timingSafeEqual(a, b);
  }

  async verifyHmac(block: KeyBlock, message: string, signatureBase64: string): Promise<boolean> {
    const k = this.use(block, 'API');
    const expected = createHmac('sha256', k.key).update(message, 'utf8').digest();
    // Standard Base64 with its padding and nothing else: Node's decoder would also take base64url,
    // missing padding, spaces and a trailing ", junk" (a repeated header), so one signature would
    // have many spellings. Only the canonical one is accepted.
    const presented = Buffer.from(signatureBase64, 'base64');
    if (presented.length !== expected.length || presented.toString('base64') !== signatureBase64) return false;
    return timingSafeEqual(expected, presented);
  }

  async encryptData(dek: KeyBlock, clear: string): Promise<string> {
    const k = this.use(dek, 'DEK');
    if (typeof clear !== 'string') throw new SecurityModuleError('BAD_INPUT', 'data to encrypt must be text');
    return sealData(k, clear);
  }

  async decryptData(dek: KeyBlock, stored: string): Promise<string> {
    const k = this.use(dek, 'DEK');
    if (typeof stored !== 'string') throw new SecurityModuleError('BAD_INPUT', 'stored data is malformed');
    const raw = Buffer.from(stored, 'base64');
    if (raw.length < 12 + 16 + 1) throw new SecurityModuleError('BAD_INPUT', 'stored data is malformed');
    const decipher = createDecipheriv(aesGcm(k.key), k.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecurityModuleError('BAD_INPUT', 'stored data failed authentication');
    }
  }

  async panLookupHash(hmk: KeyBlock, pan: string): Promise<string> {
    const k = this.use(hmk, 'HMK');
    if (typeof pan !== 'string') throw new SecurityModuleError('BAD_INPUT', 'card number must be text');
    return lookupHash(k, pan);
  }

  // --- PINs -------------------------------------------------------------------------------

  async generatePin(request: GeneratePinRequest): Promise<IssuedPin> {
    return guarded(() => {
      const { pan, method } = request;
      checkPan(pan);
      const pvk = this.tdes(request.pvk, 'PVK');
      const pin = randomPin(pinLengthFor(method));
      return { storedPinBlock: this.storePin(pin, pan), ...pinReference(pvk, pan, method, pin) };
    });
  }

  async verifyPin(request: VerifyPinRequest): Promise<boolean> {
    return guarded(() => {
      const { pan, method } = request;
      checkPan(pan);
      const pvk = this.tdes(request.pvk, 'PVK');
      checkMethod(method);
      const reference = method.kind === 'PVV' ? request.pvv : request.offset;
      if (method.kind === 'PVV' && (typeof reference !== 'string' || !/^[0-9]{4}$/.test(reference))) {
        throw new SecurityModuleError('BAD_INPUT', 'the PVV method needs the card\'s 4-digit PVV');
      }
      if (method.kind === 'IBM3624' && (typeof reference !== 'string' || !/^[0-9]{4,12}$/.test(reference))) {
        throw new SecurityModuleError('BAD_INPUT', 'the IBM 3624 method needs the card\'s offset (4 to 12 digits)');
      }
      const pin = this.readClientPinBlock(request.zpk, request.format, request.pinBlock, pan);
      if (method.kind === 'PVV') {
        // Visa PVV covers 4 digits; this module issues and accepts 4-digit PINs only under PVV,
        // so a longer PIN cannot pass on its first four digits.
        const ok = verifyPvv(pvk, pan, method.pvki, pin.slice(0, 4).padEnd(4, '0'), reference as string);
        return ok && pin.length === 4;
      }
      return ibm3624Verify(pvk, validationData(method, pan), method.decimalizationTable, pin, reference as string);
    });
  }

  async translatePin(request: TranslatePinRequest): Promise<string> {
    return guarded(() => {
      const { pan } = request;
      const format = request.format ?? 0;
      checkPan(pan);
      const zpk = this.zpkFor(request.zpk, format);
      const pin = this.loadPin(request.storedPinBlock, pan);
      return bytesToHex(encryptPinBlock(zpk, format, pin, pan));
    });
  }

  async importPin(request: ImportPinRequest): Promise<IssuedPin> {
    return guarded(() => {
      const { pan, method } = request;
      checkPan(pan);
      const pvk = this.tdes(request.pvk, 'PVK');
      checkMethod(method);
      const pin = this.readClientPinBlock(request.zpk, request.format, request.pinBlock, pan);
      if (method.kind === 'PVV' && pin.length !== 4) {
        throw new SecurityModuleError('BAD_INPUT', 'the PVV method takes 4-digit PINs');
      }
      if (request.allowWeak !== true && isWeakPin(pin)) {
        throw new SecurityModuleError('WEAK_PIN', 'the PIN is too easy to guess (repeated or sequential digits)');
      }
      return { storedPinBlock: this.storePin(pin, pan), ...pinReference(pvk, pan, method, pin) };
    });
  }

  // --- card security values -----------------------------------------------------------------

  async cardSecurityValues(request: CardSecurityValuesRequest): Promise<CardSecurityValues> {
    return guarded(() => {
      const { pan, expiryYYMM, serviceCode, which } = request;
      checkPan(pan);
      const cvk = this.cvk(request.cvk);
      const zpk = this.tdes(request.zpk, 'ZPK');
      if (!Array.isArray(which) || which.length === 0 || !which.every((w) => CVV_KINDS.includes(w))) {
        throw new SecurityModuleError('BAD_INPUT', `which must list one or more of ${CVV_KINDS.join(', ')}`);
      }
      checkExpiry(expiryYYMM);
      if (which.includes('CVV') && (typeof serviceCode !== 'string' || !/^[0-9]{3}$/.test(serviceCode))) {
        throw new SecurityModuleError('BAD_INPUT', 'the CVV needs the card\'s 3-digit service code');
      }
      // CVV: the card's service code; CVV2: 000; iCVV: 999 (Visa CVV method, all values in one pass).
      const codes = which.map((w) => (w === 'CVV' ? (serviceCode as string) : w === 'CVV2' ? CVV2_SERVICE_CODE : ICVV_SERVICE_CODE));
      const encrypted = encryptValuesForClient(zpk, cvvBatch(cvk, pan, expiryYYMM, codes));
      const out: CardSecurityValues = {};
      which.forEach((w, i) => { out[w] = encrypted[i] as string; });
      return out;
    });
  }

  async verifyCvv2(request: VerifyCvv2Request): Promise<boolean> {
    return guarded(() => {
      checkPan(request.pan);
      const cvk = this.cvk(request.cvk);
      // verifyCvv compares with crypto.timingSafeEqual.
      return verifyCvv(cvk, request.pan, request.expiryYYMM, CVV2_SERVICE_CODE, request.cvv2);
    });
  }

  async generateDcvv2(request: GenerateDcvv2Request): Promise<Dcvv2Issued> {
    return guarded(() => {
      checkPan(request.pan);
      const cvk = this.cvk(request.cvk);
      const zpk = this.tdes(request.zpk, 'ZPK');
      const r = generateDcvv2(cvk, request.pan, request.nowMs, request.validityMinutes);
      return {
        encryptedValue: encryptCvvForClient(zpk, r.value),
        windowIndex: r.windowIndex,
        validFromMs: r.validFromMs,
        expiresAtMs: r.expiresAtMs,
      };
    });
  }

  async verifyDcvv2(request: VerifyDcvv2Request): Promise<boolean> {
    return guarded(() => {
      checkPan(request.pan);
      const cvk = this.cvk(request.cvk);
      return verifyDcvv2(cvk, request.pan, request.dcvv2, request.nowMs, request.validityMinutes, {
        acceptPreviousWindow: request.acceptPreviousWindow === true,
      });
    });
  }

  // --- card numbers ---------------------------------------------------------------------------

  async tokenizePan(request: TokenizePanRequest): Promise<string> {
    return guarded(() => {
      checkPan(request.pan);
      return tokenizePan(this.ff1(request.tok), request.pan, request.binLength ?? 6);
    });
  }

  async detokenizePan(request: DetokenizePanRequest): Promise<string> {
    return guarded(() => {
      const f = this.ff1(request.tok);
      try {
        return detokenizePan(f, request.token, request.binLength ?? 6);
      } catch (e) {
        if (e instanceof CryptoInputError && e.code === 'BAD_TOKEN') {
          throw new SecurityModuleError('BAD_INPUT', 'value is not a PAN token made with this key');
        }
        throw e;
      }
    });
  }

  async encryptPanForClient(request: EncryptPanForClientRequest): Promise<string> {
    return guarded(() => {
      checkPan(request.pan);
      return encryptPanForClient(this.tdes(request.zek, 'ZEK'), request.pan);
    });
  }

  async decryptPanFromClient(request: DecryptPanFromClientRequest): Promise<string> {
    return guarded(() => {
      const zek = this.tdes(request.zek, 'ZEK');
      if (typeof request.encrypted !== 'string' || !/^[0-9A-Fa-f]{32}$/.test(request.encrypted)) {
        throw new SecurityModuleError('BAD_INPUT', 'encrypted card number must be 32 hexadecimal digits');
      }
      try {
        return decryptPanFromClient(zek, request.encrypted);
      } catch (e) {
        if (e instanceof CryptoInputError) {
          throw new SecurityModuleError('BAD_INPUT', 'encrypted card number does not decrypt to a card number under this key');
        }
        throw e;
      }
    });
  }

  // --- personalization -------------------------------------------------------------------------

  async personalizationRecord(request: PersonalizationRecordRequest): Promise<PersonalizationRecord> {
    return guarded(() => {
      if (typeof request !== 'object' || request === null) throw new SecurityModuleError('BAD_INPUT', 'a request is required');
      const { pan, expiryYYMM, serviceCode } = request;
      checkCardData(pan, expiryYYMM, serviceCode);
      checkReference(request.reference);
      const bur = this.bureau(request.bur);
      const cvk = this.cvk(request.cvk);

      let pinField: DiscretionaryPin = { kind: 'NONE' };
      let mailerPin: string | undefined;
      const p = request.pin;
      if (p !== undefined) {
        if (typeof p !== 'object' || p === null) throw new SecurityModuleError('BAD_INPUT', 'pin must be an object');
        if (request.pvk === undefined) throw new SecurityModuleError('BAD_INPUT', 'a PIN needs the PVK');
        const pvk = this.tdes(request.pvk, 'PVK');
        checkMethod(p.method);
        const given = p.method.kind === 'PVV' ? p.pvv : p.offset;
        if (typeof given !== 'string' || !/^[0-9]{4,12}$/.test(given)) {
          throw new SecurityModuleError('BAD_INPUT', p.method.kind === 'PVV' ? 'the PVV method needs the card\'s 4-digit PVV' : 'the IBM 3624 method needs the card\'s offset');
        }
        const pin = this.loadPin(p.storedPinBlock, pan);
        const ref = pinReference(pvk, pan, p.method, pin);
        const computed = 'pvv' in ref ? ref.pvv : ref.offset;
        if (!safeEqualText(computed, given)) {
          throw new SecurityModuleError('BAD_PIN_BLOCK', 'the stored PIN does not match the card\'s PVV or offset');
        }
        pinField = discretionaryPin(p.method, ref);
        if (p.mailer !== false) mailerPin = pin;
      }
      return this.sealRecords(bur, cvk, [{ face: { ...request, pan }, pinField, mailerPin }])[0] as PersonalizationRecord;
    });
  }

  /**
   * Cards' personalization records, encrypted for the bureau (inputs checked by the caller): CVV,
   * CVV2 and iCVV computed here, the PIN mailer block made of `mailerPin` when given. The cards of
   * a batch share each cipher call (ECB over all of their blocks; CBC chained per record).
   */
  private sealRecords(bur: ClearKey, cvk: CvkPair, cards: readonly SealedCard[]): PersonalizationRecord[] {
    const algorithm = bur.algorithm as '3DES' | 'AES'; // see bureau()
    const format = algorithm === 'AES' ? 4 : 0;
    const cipher = algorithm === 'AES' ? this.aesOf(bur) : this.tdesOf(bur);
    const mailerPins: string[] = [];
    const mailerPans: string[] = [];
    const cvvInput: Array<{ pan: string; expiryYYMM: string; serviceCodes: string[] }> = [];
    for (const { face, mailerPin } of cards) {
      if (mailerPin !== undefined) { mailerPins.push(mailerPin); mailerPans.push(face.pan); }
      // CVV (the card's service code), CVV2 (000) and iCVV (999).
      cvvInput.push({ pan: face.pan, expiryYYMM: face.expiryYYMM, serviceCodes: [face.serviceCode, CVV2_SERVICE_CODE, ICVV_SERVICE_CODE] });
    }
    const blocks = mailerPins.length === 0 ? [] : encryptPinBlocks(cipher, format, mailerPins, mailerPans);
    const values = cvvBatchMany(cvk, cvvInput);
    const clears: string[] = [];
    for (let i = 0, mailed = 0; i < cards.length; i++) {
      const { face, pinField, mailerPin } = cards[i] as SealedCard;
      const [cvv, cvv2, icvv] = values[i] as [string, string, string];
      const pinBlock = mailerPin === undefined ? undefined : { format, hex: bytesToHex(blocks[mailed++] as Buffer) } as const;
      clears.push(personalizationRecordText({
        reference: face.reference, pan: face.pan, expiryYYMM: face.expiryYYMM, serviceCode: face.serviceCode, cardholder: face.cardholder,
        embossLine1: face.embossLine1, embossLine2: face.embossLine2, pin: pinField, cvv, cvv2, icvv, pinBlock,
      }));
    }
    const kcv = (bur.kcv ??= this.kcv(algorithm, bur.key));
    const sealed = encryptForBureau(algorithm, cipher, clears);
    const out: PersonalizationRecord[] = [];
    for (let i = 0; i < cards.length; i++) out.push({ reference: (cards[i] as SealedCard).face.reference, ...(sealed[i] as (typeof sealed)[number]), bureauKcv: kcv });
    return out;
  }

  async issueCards(request: IssueCardsRequest): Promise<IssuedCardValues[]> {
    // A batch of concurrent card adds (fewer than 64 cards, at most a few milliseconds) is done
    // here: handing it to the thread and back costs about 115 µs of CPU (135 µs for one card here,
    // 50-60 µs a card in batches of 16, measured), and the thread compiles and collects its own
    // copy of this code. The thread is for bulk: mass-issue chunks of a thousand cards. With the
    // threshold at 8, a card add under load cost a few per cent more CPU.
    if (this.thread && request?.pans?.length >= THREAD_MIN_CARDS) return this.thread.issueCards(request);
    return this.issueCardsHere(request);
  }

  /** issueCards on the calling thread (the module thread runs this). */
  issueCardsHere(request: IssueCardsRequest): IssuedCardValues[] {
    // The batch is a method, not the closure given to guarded(): see cbcEncryptMany on callbacks.
    return guarded(() => this.issueBatch(request));
  }

  private issueBatch(request: IssueCardsRequest): IssuedCardValues[] {
    if (typeof request !== 'object' || request === null) throw new SecurityModuleError('BAD_INPUT', 'a request is required');
    const { pans, method, faces } = request;
    if (!Array.isArray(pans) || pans.length === 0 || pans.length > MAX_ISSUE_CARDS) {
      throw new SecurityModuleError('BAD_INPUT', `a batch is 1 to ${MAX_ISSUE_CARDS} card numbers`);
    }
    if (faces !== undefined && (!Array.isArray(faces) || faces.length !== pans.length)) {
      throw new SecurityModuleError('BAD_INPUT', 'faces, when given, are one per card number');
    }
    const faceOf = (i: number): IssueCardFace => faces?.[i] ?? request;
    for (let i = 0; i < pans.length; i++) checkCardData(pans[i], faceOf(i).expiryYYMM, faceOf(i).serviceCode);
    const binLength = request.binLength ?? 6;
    const ff1 = this.ff1(request.tok);
    const dek = this.use(request.dek, 'DEK');
    const hmk = this.use(request.hmk, 'HMK');
    const withPins = request.pins !== false;
    if (withPins && request.pvk === undefined) throw new SecurityModuleError('BAD_INPUT', 'a PVK is required to issue PINs');
    const pvk = withPins ? this.tdes(request.pvk as KeyBlock, 'PVK') : undefined;
    const pinLength = pinLengthFor(method);
    const records = request.bur !== undefined || request.cvk !== undefined
      ? { bur: this.bureau(request.bur as KeyBlock), cvk: this.cvk(request.cvk as KeyBlock) }
      : undefined;
    const tokens = tokenizePans(ff1, pans, binLength);
    const pins: string[] = [];
    if (pvk) for (let i = 0; i < pans.length; i++) pins.push(randomPin(pinLength));
    const refs = pvk ? pinReferences(pvk, pans, method, pins) : [];
    const stored = pvk ? this.storePins(pins, pans) : [];
    const cards: IssuedCardValues[] = [];
    for (let i = 0; i < pans.length; i++) {
      const pan = pans[i] as string;
      const card: IssuedCardValues = { hash: lookupHash(hmk, pan), token: tokens[i] as string, encrypted: sealData(dek, pan) };
      if (pvk) card.pin = { storedPinBlock: stored[i] as string, ...refs[i] };
      cards.push(card);
    }
    if (records) {
      const sealedCards: SealedCard[] = [];
      for (let i = 0; i < cards.length; i++) {
        const face = faceOf(i);
        const reference = `${(cards[i] as IssuedCardValues).token}.${face.referenceSuffix ?? request.referenceSuffix ?? '1'}`;
        checkReference(reference);
        sealedCards.push({
          face: { ...face, pan: pans[i] as string, reference },
          pinField: pvk ? discretionaryPin(method, refs[i] as PinReference) : { kind: 'NONE' },
          mailerPin: pins[i],
        });
      }
      const sealed = this.sealRecords(records.bur, records.cvk, sealedCards);
      for (let i = 0; i < cards.length; i++) (cards[i] as IssuedCardValues).record = sealed[i];
    }
    pins.fill('');
    return cards;
  }

  async trackDataForClient(request: TrackDataForClientRequest): Promise<TrackDataForClient> {
    return guarded(() => {
      if (typeof request !== 'object' || request === null) throw new SecurityModuleError('BAD_INPUT', 'a request is required');
      const { pan, expiryYYMM, serviceCode } = request;
      checkCardData(pan, expiryYYMM, serviceCode);
      const zek = this.tdes(request.zek, 'ZEK');
      const cvk = this.cvk(request.cvk);
      let pinField: DiscretionaryPin = { kind: 'NONE' };
      const p = request.pin;
      if (p !== undefined) {
        if (typeof p !== 'object' || p === null) throw new SecurityModuleError('BAD_INPUT', 'pin must be an object');
        if (p.kind === 'PVV') pinField = { kind: 'PVV', pvki: p.pvki, pvv: p.pvv };
        else if (p.kind === 'IBM3624') pinField = { kind: 'IBM3624', offset: p.offset };
        else throw new SecurityModuleError('BAD_INPUT', 'pin kind must be PVV or IBM3624');
      }
      const [cvv, cvv2] = cvvBatch(cvk, pan, expiryYYMM, [serviceCode, CVV2_SERVICE_CODE]) as [string, string];
      const clear = clientTrackText({
        pan, expiryYYMM, serviceCode, cardholder: request.cardholder, embossLine1: request.embossLine1, embossLine2: request.embossLine2,
        pin: pinField, cvv, cvv2,
      });
      const encrypt = (t: string) => {
        const data = spacePadded(t, 8);
        const out = bytesToHex(zek.encryptBlock(data));
        data.fill(0);
        return out;
      };
      return { encryptedTrack1: encrypt(clear.track1), encryptedTrack2: encrypt(clear.track2), embosserBlockData: encrypt(clear.embosserBlock) };
    });
  }

  // --- PIN blocks -----------------------------------------------------------------------------

  private storePin(pin: string, pan: string): StoredPinBlock {
    return this.storePins([pin], [pan])[0] as StoredPinBlock;
  }

  /** PINs as stored: format 4 under the module's PIN-storage key (one cipher pass for them all). */
  private storePins(pins: readonly string[], pans: readonly string[]): StoredPinBlock[] {
    const stored: StoredPinBlock[] = [];
    for (const block of encryptPinBlocks(this.pinStorage, 4, pins, pans)) stored.push(STORED_PIN_TAG + bytesToHex(block));
    return stored;
  }

  private loadPin(stored: StoredPinBlock, pan: string): string {
    if (typeof stored !== 'string' || !STORED_PIN_RE.test(stored)) {
      throw new SecurityModuleError('BAD_PIN_BLOCK', 'stored PIN block is malformed');
    }
    try {
      return decryptPinBlock(this.pinStorage, 4, Buffer.from(stored.slice(STORED_PIN_TAG.length), 'hex'), pan);
    } catch (e) {
      if (e instanceof PinBlockError) {
        throw new SecurityModuleError('BAD_PIN_BLOCK', 'stored PIN block does not belong to this card or this module');
      }
      throw e;
    }
  }

  /** Decrypts a client's PIN block to the PIN (which stays inside the module). */
  private readClientPinBlock(zpkBlock: KeyBlock, format: PinBlockFormat, pinBlock: string, pan: string): string {
    const zpk = this.zpkFor(zpkBlock, format);
    const digits = format === 4 ? 32 : 16;
    if (typeof pinBlock !== 'string' || pinBlock.length !== digits || !/^[0-9A-Fa-f]+$/.test(pinBlock)) {
      throw new SecurityModuleError('BAD_PIN_BLOCK', `a format ${format} PIN block must be ${digits} hexadecimal digits`);
    }
    try {
      return decryptPinBlock(zpk, format, Buffer.from(pinBlock, 'hex'), pan);
    } catch (e) {
      if (e instanceof PinBlockError) {
        throw new SecurityModuleError('BAD_PIN_BLOCK', 'PIN block is malformed, or was not made with this key and card number');
      }
      throw e;
    }
  }

  // --- cached cipher objects per key block ------------------------------------------------------

  private tdes(block: KeyBlock, type: KeyType): BlockCipher {
    return this.tdesOf(this.use(block, type));
  }

  private tdesOf(k: ClearKey): BlockCipher {
    if (k.algorithm !== '3DES') throw new SecurityModuleError('WRONG_KEY_TYPE', `operation needs a 3DES ${k.type} key, got an ${k.algorithm} key`);
    return (k.tdes ??= createTdesCipher(k.key));
  }

  private aesOf(k: ClearKey): BlockCipher {
    if (k.algorithm !== 'AES') throw new SecurityModuleError('WRONG_KEY_TYPE', `operation needs an AES ${k.type} key, got a ${k.algorithm} key`);
    return (k.aes ??= createAesCipher(k.key));
  }

  /** ZPK cipher for a PIN block format: 3DES for formats 0, 1, 3; AES for format 4. */
  private zpkFor(block: KeyBlock, format: PinBlockFormat): BlockCipher {
    if (format !== 0 && format !== 1 && format !== 3 && format !== 4) {
      throw new SecurityModuleError('BAD_INPUT', 'PIN block format must be 0, 1, 3 or 4');
    }
    const k = this.use(block, 'ZPK');
    if (format === 4) {
      if (k.algorithm !== 'AES') throw new SecurityModuleError('WRONG_KEY_TYPE', 'PIN block format 4 needs an AES ZPK');
      return this.aesOf(k);
    }
    if (k.algorithm !== '3DES') throw new SecurityModuleError('WRONG_KEY_TYPE', 'PIN block formats 0, 1 and 3 need a 3DES ZPK');
    return this.tdesOf(k);
  }

  private bureau(block: KeyBlock): ClearKey {
    const bur = this.use(block, 'BUR');
    if (bur.algorithm !== '3DES' && bur.algorithm !== 'AES') throw new SecurityModuleError('WRONG_KEY_TYPE', 'a bureau key must be a 3DES or AES key');
    return bur;
  }

  private cvk(block: KeyBlock): CvkPair {
    const k = this.use(block, 'CVK');
    if (k.algorithm !== '3DES' || k.key.length !== 16) {
      throw new SecurityModuleError('BAD_KEY', 'a CVK must be a double-length 3DES key (CVK A | CVK B)');
    }
    return (k.cvk ??= prepareCvk(k.key));
  }

  private ff1(block: KeyBlock): Ff1 {
    const k = this.use(block, 'TOK');
    return (k.ff1 ??= new Ff1(this.aesOf(k)));
  }

  // --- key blocks -------------------------------------------------------------------------

  private protect(type: KeyType, algorithm: KeyAlgorithm, key: Buffer, kcv: string): ProtectedKey {
    const header = `${BLOCK_VERSION}.${type}.${algorithm}`;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.masterKey, iv);
    cipher.setAAD(Buffer.from(header, 'utf8'));
    const ct = Buffer.concat([cipher.update(key), cipher.final()]);
    const keyBlock = `${header}.${b64(iv)}.${b64(ct)}.${b64(cipher.getAuthTag())}`;
    if (this.unwrapped.size >= CACHE_LIMIT) this.unwrapped.clear();
    this.unwrapped.set(keyBlock, { type, algorithm, key });
    return { keyBlock, kcv, type, algorithm };
  }

  private unwrap(block: KeyBlock): ClearKey {
    if (typeof block !== 'string') throw new SecurityModuleError('BAD_KEY_BLOCK', 'not an emboss key block');
    const cached = this.unwrapped.get(block);
    if (cached) return cached;
    const parts = block.split('.');
    if (parts.length !== 6 || parts[0] !== BLOCK_VERSION) throw new SecurityModuleError('BAD_KEY_BLOCK', 'not an emboss key block');
    const [version, type, algorithm, iv, ct, tag] = parts as [string, KeyType, KeyAlgorithm, string, string, string];
    const decipher = createDecipheriv('aes-256-gcm', this.masterKey, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(`${version}.${type}.${algorithm}`, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    let key: Buffer;
    try {
      key = Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]);
    } catch {
      throw new SecurityModuleError('BAD_KEY_BLOCK', 'key block failed authentication under the master key');
    }
    const clear: ClearKey = { type, algorithm, key };
    if (this.unwrapped.size >= CACHE_LIMIT) this.unwrapped.clear();
    this.unwrapped.set(block, clear);
    return clear;
  }

  private use(block: KeyBlock, type: KeyType): ClearKey {
    const k = this.unwrap(block);
    if (k.type !== type) throw new SecurityModuleError('WRONG_KEY_TYPE', `operation needs a ${type} key, got a ${k.type} key`);
    return k;
  }

  private checkLength(algorithm: KeyAlgorithm, length: number) {
    if (!VALID_LENGTHS[algorithm].includes(length)) {
      throw new SecurityModuleError('BAD_KEY', `a ${algorithm} key must be ${VALID_LENGTHS[algorithm].join(', ')} bytes`);
    }
  }

  private kcv(algorithm: KeyAlgorithm, key: Buffer): string {
    if (algorithm === 'HMAC') return createHmac('sha256', key).update(Buffer.alloc(16)).digest('hex').slice(0, 6).toUpperCase();
    return keyCheckValue(key, algorithm === 'AES' ? 'aes' : '3des');
  }
}

function aesGcm(key: Buffer): 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm' {
  return key.length === 16 ? 'aes-128-gcm' : key.length === 24 ? 'aes-192-gcm' : 'aes-256-gcm';
}

function b64(buf: Buffer) { return buf.toString('base64url'); }

/** AES-GCM under a DEK, random 12-byte IV: base64(IV | ciphertext | tag). */
function sealData(k: ClearKey, clear: string): string {
  const iv = secureRandomBytes(12);
  const cipher = createCipheriv(aesGcm(k.key), k.key, iv);
  const ct = Buffer.concat([cipher.update(clear, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, ct, cipher.getAuthTag()]).toString('base64');
}

/** HMAC-SHA-256 of a card number under an HMK, hex. */
function lookupHash(k: ClearKey, pan: string): string {
  return createHmac('sha256', k.key).update(pan, 'utf8').digest('hex');
}

function safeEqualText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// --- PIN helpers ----------------------------------------------------------------------------------

function checkPan(pan: unknown): asserts pan is string {
  if (typeof pan !== 'string' || !PAN_RE.test(pan)) throw new SecurityModuleError('BAD_INPUT', 'card number must be 12 to 19 digits');
}

function checkExpiry(expiryYYMM: unknown): asserts expiryYYMM is string {
  if (typeof expiryYYMM !== 'string' || !/^[0-9]{4}$/.test(expiryYYMM)) throw new SecurityModuleError('BAD_INPUT', 'expiry must be 4 digits (YYMM)');
}

/** The card data track and embossing operations need: number, YYMM expiry, 3-digit service code. */
function checkCardData(pan: unknown, expiryYYMM: unknown, serviceCode: unknown): asserts pan is string {
  checkPan(pan);
  checkExpiry(expiryYYMM);
  if (typeof serviceCode !== 'string' || !/^[0-9]{3}$/.test(serviceCode)) throw new SecurityModuleError('BAD_INPUT', 'service code must be 3 digits');
}

function checkMethod(method: PinVerificationMethod): void {
  if (typeof method !== 'object' || method === null) throw new SecurityModuleError('BAD_INPUT', 'a PIN verification method is required');
  if (method.kind === 'PVV') {
    if (typeof method.pvki !== 'string' || !/^[0-9]$/.test(method.pvki)) throw new SecurityModuleError('BAD_INPUT', 'PVKI must be one digit 0-9');
    return;
  }
  if (method.kind === 'IBM3624') {
    if (typeof method.decimalizationTable !== 'string' || !/^[0-9]{16}$/.test(method.decimalizationTable)) {
      throw new SecurityModuleError('BAD_INPUT', 'decimalization table must be 16 decimal digits');
    }
    if (!Number.isInteger(method.pinLength) || method.pinLength < 4 || method.pinLength > 12) {
      throw new SecurityModuleError('BAD_INPUT', 'PIN length must be 4 to 12');
    }
    if (method.validationData !== undefined && (typeof method.validationData !== 'string' || !/^[0-9A-Fa-f]{1,16}$/.test(method.validationData))) {
      throw new SecurityModuleError('BAD_INPUT', 'validation data must be 1 to 16 hexadecimal digits');
    }
    return;
  }
  throw new SecurityModuleError('BAD_INPUT', 'PIN verification method must be PVV or IBM3624');
}

function pinLengthFor(method: PinVerificationMethod): number {
  checkMethod(method);
  return method.kind === 'PVV' ? 4 : method.pinLength;
}

/** A random PIN of `length` digits (crypto.randomInt), never a weak one. */
function randomPin(length: number): string {
  let pin: string;
  do pin = String(randomInt(10 ** length)).padStart(length, '0'); while (isWeakPin(pin));
  return pin;
}

/** The stripe's PIN field for a card's PVV or offset. */
function discretionaryPin(method: PinVerificationMethod, ref: { pvv: string } | { offset: string }): DiscretionaryPin {
  return method.kind === 'PVV' && 'pvv' in ref ? { kind: 'PVV', pvki: method.pvki, pvv: ref.pvv } : { kind: 'IBM3624', offset: (ref as { offset: string }).offset };
}

function validationData(method: { validationData?: string }, pan: string): string {
  return method.validationData ?? ibm3624ValidationData(pan);
}

type PinReference = { pvv: string } | { offset: string };

/** A card of sealRecords: its face (with the record's reference), the stripe's PIN field and the PIN for the mailer, if any. */
interface SealedCard { face: CardFace & { reference: string }; pinField: DiscretionaryPin; mailerPin: string | undefined }

/** PVV or IBM 3624 offset for a PIN (method already checked). */
function pinReference(pvk: BlockCipher, pan: string, method: PinVerificationMethod, pin: string): PinReference {
  return pinReferences(pvk, [pan], method, [pin])[0] as PinReference;
}

/** pinReference for many cards: the PVVs in one cipher call, IBM 3624 offsets one by one. */
function pinReferences(pvk: BlockCipher, pans: readonly string[], method: PinVerificationMethod, pins: readonly string[]): PinReference[] {
  const refs: PinReference[] = [];
  if (method.kind === 'PVV') for (const pvv of computePvvs(pvk, pans, method.pvki, pins)) refs.push({ pvv });
  else for (let i = 0; i < pans.length; i++) refs.push({ offset: ibm3624Offset(pvk, validationData(method, pans[i] as string), method.decimalizationTable, pins[i] as string) });
  return refs;
}

/**
 * Weak PINs, never generated and refused by importPin unless allowed: all digits the same
 * (0000, 111111) and runs stepping +1 or −1 with wrap-around (1234, 7890, 890123, 4321, 1098).
 * Among 4-digit PINs that is 30 of 10 000.
 */
export function isWeakPin(pin: string): boolean {
  let same = true;
  let up = true;
  let down = true;
  for (let i = 1; i < pin.length; i++) {
    const d = (pin.charCodeAt(i) - pin.charCodeAt(i - 1) + 10) % 10;
    if (d !== 0) same = false;
    if (d !== 1) up = false;
    if (d !== 9) down = false;
  }
  return same || up || down;
}

/**
 * Runs an operation body, turning the primitives' input errors (whose messages never echo the
 * input) into SecurityModuleError; every other error passes unchanged.
 */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SecurityModuleError) throw e;
    if (e instanceof PinBlockError) throw new SecurityModuleError('BAD_PIN_BLOCK', 'PIN block is malformed');
    if (e instanceof CryptoInputError) {
      throw new SecurityModuleError(e.code === 'WEAK_KEY' || e.code === 'BAD_KEY' ? e.code : 'BAD_INPUT', e.message);
    }
    throw e;
  }
}
