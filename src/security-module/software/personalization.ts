/**
 * The clear personalization record and its encryption for the card bureau (software security
 * module only: the clear record carries the PAN, CVV, CVV2, iCVV and the tracks, and never leaves
 * the module). The field order is PERSONALIZATION_RECORD_FIELDS of the port; docs/personalization.md
 * describes every field. Inputs are validated by the caller (the module) before this runs, except
 * the names and the reference, checked here.
 *
 * Encryption: CBC under the bureau key (3DES: des-ede3-cbc, a double-length key used as K1K2K1;
 * AES: aes-128/192/256-cbc), a fresh random IV per record (8 bytes 3DES, 16 AES), PKCS#7 padding,
 * output base64(IV || ciphertext). A bureau decrypts one record with
 *   openssl enc -d -des-ede3-cbc -K <K1K2K1 hex> -iv <first 8 bytes hex>   (or -aes-256-cbc …)
 */
import { Buffer } from 'node:buffer';
import {
  PERSONALIZATION_RECORD_FIELDS, PERSONALIZATION_RECORD_VERSION, SecurityModuleError,
  type PersonalizationCipher,
} from '../port.ts';
import { cbcEncryptMany, secureRandomBytes, type BlockCipher } from '../../crypto/index.ts';
import {
  buildDiscretionaryData, buildTrack1, buildTrack2, buildTrack2Equivalent, defaultDiscretionaryLength,
  embossExpiry, embossPan, formatEmbossLine, formatTrack1Name, type DiscretionaryPin,
} from '../../crypto/track-data.ts';

const REFERENCE_RE = /^[A-Za-z0-9._-]{1,40}$/;

/** Parts of a card's track data for a client (trackDataForClient); no reference, no PIN block. */
export interface ClientTrackParts {
  pan: string;
  expiryYYMM: string;
  serviceCode: string;
  cardholder: { surname: string; givenNames?: string | undefined };
  embossLine1?: string | undefined;
  embossLine2?: string | undefined;
  pin: DiscretionaryPin;
  cvv: string;
  cvv2: string;
}

/** Parts of a bureau record: the client's track parts plus the reference, iCVV and PIN mailer. */
export interface RecordParts extends ClientTrackParts {
  reference: string;
  icvv: string;
  /** PIN mailer block (hex) and its ISO 9564-1 format, or undefined. */
  pinBlock?: { format: 0 | 4; hex: string } | undefined;
}

/** A reference as the port describes it: never a card number. */
export function checkReference(reference: unknown): asserts reference is string {
  if (typeof reference !== 'string' || !REFERENCE_RE.test(reference) || /^[0-9]{12,}$/.test(reference)) {
    throw new SecurityModuleError('BAD_INPUT', 'reference must be 1 to 40 characters A-Z a-z 0-9 . _ - and not a card number');
  }
}

function text(value: unknown, what: string): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new SecurityModuleError('BAD_INPUT', `${what} must be text`);
  return value;
}

/** The clear record (see PERSONALIZATION_RECORD_FIELDS). */
export function personalizationRecordText(p: RecordParts): string {
  checkReference(p.reference);
  if (typeof p.cardholder !== 'object' || p.cardholder === null) throw new SecurityModuleError('BAD_INPUT', 'cardholder name is required');
  const surname = text(p.cardholder.surname, 'surname');
  const given = text(p.cardholder.givenNames, 'given names');
  const trackName = formatTrack1Name(surname, given); // refuses a surname without a letter or digit
  const line1 = formatEmbossLine(p.embossLine1 === undefined ? `${given} ${surname}` : text(p.embossLine1, 'emboss line 1'));
  const line2 = formatEmbossLine(text(p.embossLine2, 'emboss line 2'));
  const ddLength = defaultDiscretionaryLength(p.pan.length);
  const dd = buildDiscretionaryData(p.pin, p.cvv, ddLength);
  const ddChip = buildDiscretionaryData(p.pin, p.icvv, ddLength);
  const fields: Record<(typeof PERSONALIZATION_RECORD_FIELDS)[number], string> = {
    version: PERSONALIZATION_RECORD_VERSION,
    reference: p.reference,
    pan: p.pan,
    embossedPan: embossPan(p.pan),
    embossLine1: line1,
    embossLine2: line2,
    embossedExpiry: embossExpiry(p.expiryYYMM),
    expiryYYMM: p.expiryYYMM,
    serviceCode: p.serviceCode,
    track1: buildTrack1({ pan: p.pan, name: trackName, expiryYYMM: p.expiryYYMM, serviceCode: p.serviceCode, discretionary: dd }),
    track2: buildTrack2({ pan: p.pan, expiryYYMM: p.expiryYYMM, serviceCode: p.serviceCode, discretionary: dd }),
    chipTrack2: buildTrack2Equivalent({ pan: p.pan, expiryYYMM: p.expiryYYMM, serviceCode: p.serviceCode, discretionary: ddChip }),
    cvv2: p.cvv2,
    pinBlockFormat: p.pinBlock === undefined ? '' : String(p.pinBlock.format),
    pinBlock: p.pinBlock === undefined ? '' : p.pinBlock.hex,
  };
  let out = '';
  for (const f of PERSONALIZATION_RECORD_FIELDS) out += (out === '' && f === 'version' ? '' : '|') + fields[f];
  return out;
}

/**
 * Records encrypted for the bureau: CBC, a random IV each, PKCS#7; base64(IV || ciphertext) each.
 * `cipher` is the bureau key's ECB cipher: all the records are chained together (cbcEncryptMany).
 */
export function encryptForBureau(algorithm: '3DES' | 'AES', cipher: BlockCipher, clears: readonly string[]): Array<{ encryptedRecord: string; cipher: PersonalizationCipher }> {
  const bs = cipher.blockSize;
  const random = secureRandomBytes(bs * clears.length);
  const ivs: Buffer[] = [];
  const data: Buffer[] = [];
  for (let i = 0; i < clears.length; i++) {
    ivs.push(random.subarray(bs * i, bs * i + bs));
    data.push(Buffer.from(clears[i] as string, 'utf8'));
  }
  const encrypted = cbcEncryptMany(cipher, ivs, data);
  for (const d of data) d.fill(0);
  const name = algorithm === '3DES' ? '3DES-CBC' : 'AES-CBC';
  const sealed: Array<{ encryptedRecord: string; cipher: PersonalizationCipher }> = [];
  for (let i = 0; i < encrypted.length; i++) sealed.push({ encryptedRecord: Buffer.concat([ivs[i] as Buffer, encrypted[i] as Buffer]).toString('base64'), cipher: name });
  return sealed;
}

/** Length of the clear embosser block data (see TrackDataForClient in the port). */
export const EMBOSSER_BLOCK_LENGTH = 88;

/**
 * The clear fields of trackDataForClient: track 1 and track 2 exactly as in the bureau record, and
 * the 88-character embosser block (embossed number 23 | 'MM/YY' 5 | line 1 26 | line 2 26 | CVV2 3
 * | 5 spaces).
 */
export function clientTrackText(p: ClientTrackParts): { track1: string; track2: string; embosserBlock: string } {
  if (typeof p.cardholder !== 'object' || p.cardholder === null) throw new SecurityModuleError('BAD_INPUT', 'cardholder name is required');
  const surname = text(p.cardholder.surname, 'surname');
  const given = text(p.cardholder.givenNames, 'given names');
  const trackName = formatTrack1Name(surname, given);
  const line1 = formatEmbossLine(p.embossLine1 === undefined ? `${given} ${surname}` : text(p.embossLine1, 'emboss line 1'));
  const line2 = formatEmbossLine(text(p.embossLine2, 'emboss line 2'));
  const dd = buildDiscretionaryData(p.pin, p.cvv, defaultDiscretionaryLength(p.pan.length));
  const embosserBlock = embossPan(p.pan).padEnd(23, ' ') + embossExpiry(p.expiryYYMM) + line1.padEnd(26, ' ') + line2.padEnd(26, ' ') + p.cvv2 + ' '.repeat(5);
  if (embosserBlock.length !== EMBOSSER_BLOCK_LENGTH) throw new SecurityModuleError('BAD_INPUT', 'embosser block data has the wrong length');
  return {
    track1: buildTrack1({ pan: p.pan, name: trackName, expiryYYMM: p.expiryYYMM, serviceCode: p.serviceCode, discretionary: dd }),
    track2: buildTrack2({ pan: p.pan, expiryYYMM: p.expiryYYMM, serviceCode: p.serviceCode, discretionary: dd }),
    embosserBlock,
  };
}

/** ASCII text right-padded with spaces to a multiple of `blockSize` bytes (client track data). */
export function spacePadded(clearText: string, blockSize: number): Buffer {
  const data = Buffer.from(clearText, 'latin1');
  const padded = Buffer.alloc(Math.ceil(data.length / blockSize) * blockSize, 0x20);
  data.copy(padded);
  data.fill(0);
  return padded;
}
