/**
 * Reads a personalization file as the bureau (or an operator checking a file) does: removes the
 * PGP layer when there is one, checks header, record count and hash, and — given the bureau key —
 * decrypts every record into its fields. Uses node:crypto only, so it doubles as the reference
 * for a bureau's own reader (docs/personalization.md).
 *
 * The clear bureau key is an input here: this is bureau-side code. emboss itself never calls it
 * with a real bureau key (its copy of that key lives only in a key block inside the security
 * module); tests and operator tools at the bureau do.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import {
  PERSONALIZATION_RECORD_FIELDS, PERSONALIZATION_RECORD_VERSION, type PersonalizationCipher,
} from '../../security-module/port.ts';
import {
  PersonalizationFileError, parsePersonalizationFile,
  type PersonalizationFileHeader, type PersonalizationFileTrailer,
} from './file-format.ts';
import { looksLikePgp, pgpDecrypt } from './pgp.ts';

export type PersonalizationRecordFields = Record<(typeof PERSONALIZATION_RECORD_FIELDS)[number], string>;

export interface BureauKey {
  algorithm: '3DES' | 'AES';
  /** Clear key: 16 or 24 bytes for 3DES, 16/24/32 for AES (bytes or hex). */
  key: Uint8Array | string;
}

export interface DecodeOptions {
  /** Without it the records are checked and listed but stay encrypted. */
  bureauKey?: BureauKey;
  /** For `.pgp` files: the bureau's armored private key (and its passphrase). */
  pgpPrivateKey?: string;
  pgpPassphrase?: string;
}

export interface DecodedRecord {
  seq: number;
  reference: string;
  encryptedRecord: string;
  /** The clear fields, when a bureau key was given. */
  fields?: PersonalizationRecordFields;
}

export interface DecodedPersonalizationFile {
  header: PersonalizationFileHeader;
  records: DecodedRecord[];
  trailer: PersonalizationFileTrailer;
  pgp: boolean;
}

function keyBytes(k: BureauKey): Buffer {
  const key = typeof k.key === 'string' ? Buffer.from(k.key, 'hex') : Buffer.from(k.key);
  const ok = k.algorithm === '3DES' ? [16, 24].includes(key.length) : [16, 24, 32].includes(key.length);
  if (!ok || (typeof k.key === 'string' && !/^([0-9A-Fa-f]{2})+$/.test(k.key))) {
    throw new PersonalizationFileError('BAD_KEY', `a ${k.algorithm} bureau key has the wrong length or is not hexadecimal`);
  }
  return k.algorithm === '3DES' && key.length === 16 ? Buffer.concat([key, key.subarray(0, 8)]) : key;
}

function ecb(name: string, key: Buffer, block: Buffer): Buffer {
  const c = createCipheriv(name, key, null);
  c.setAutoPadding(false);
  return c.update(block);
}

/** Check value as emboss reports it: 3DES: first 3 bytes of E(0); AES: first 5 bytes of CMAC(0^16) (X9.24-1:2017). */
export function bureauKeyCheckValue(k: BureauKey): string {
  const key = keyBytes(k);
  if (k.algorithm === '3DES') return ecb('des-ede3-ecb', key, Buffer.alloc(8)).subarray(0, 3).toString('hex').toUpperCase();
  const aes = `aes-${key.length * 8}-ecb`;
  const l = ecb(aes, key, Buffer.alloc(16));
  // CMAC subkey K1 = L << 1 (xor 0x87 when the top bit was set); one full zero block: T = E(K1).
  const k1 = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) k1[i] = (((l[i] as number) << 1) | ((l[i + 1] ?? 0) >> 7)) & 0xff;
  if (((l[0] as number) & 0x80) !== 0) k1[15] = (k1[15] as number) ^ 0x87;
  return ecb(aes, key, k1).subarray(0, 5).toString('hex').toUpperCase();
}

/** Decrypts one record (base64(IV || CBC ciphertext), PKCS#7) into its fields. */
export function decryptPersonalizationRecord(encryptedRecord: string, cipher: PersonalizationCipher, bureauKey: BureauKey): PersonalizationRecordFields {
  if ((cipher === '3DES-CBC') !== (bureauKey.algorithm === '3DES')) throw new PersonalizationFileError('BAD_KEY', 'the bureau key algorithm does not match the file cipher');
  const key = keyBytes(bureauKey);
  const raw = Buffer.from(encryptedRecord, 'base64');
  const ivLength = cipher === '3DES-CBC' ? 8 : 16;
  if (raw.length < 2 * ivLength || (raw.length - ivLength) % ivLength !== 0) throw new PersonalizationFileError('BAD_FILE', 'an encrypted record has the wrong length');
  let clear: string;
  try {
    const d = createDecipheriv(cipher === '3DES-CBC' ? 'des-ede3-cbc' : `aes-${key.length * 8}-cbc`, key, raw.subarray(0, ivLength));
    clear = Buffer.concat([d.update(raw.subarray(ivLength)), d.final()]).toString('utf8');
  } catch {
    throw new PersonalizationFileError('BAD_KEY', 'a record does not decrypt under this bureau key');
  }
  const parts = clear.split('|');
  if (parts.length !== PERSONALIZATION_RECORD_FIELDS.length || parts[0] !== PERSONALIZATION_RECORD_VERSION) {
    throw new PersonalizationFileError('BAD_FILE', 'a decrypted record is not an EMBR1 record');
  }
  return Object.fromEntries(PERSONALIZATION_RECORD_FIELDS.map((f, i) => [f, parts[i] as string])) as PersonalizationRecordFields;
}

/**
 * Decodes a personalization file (clear or PGP). Throws PersonalizationFileError: BAD_FILE,
 * COUNT_MISMATCH, HASH_MISMATCH, BAD_KEY (wrong bureau key: its check value differs from the
 * header's, or a record does not decrypt). Messages never contain file or record content.
 */
export async function decodePersonalizationFile(content: Uint8Array | string, options: DecodeOptions = {}): Promise<DecodedPersonalizationFile> {
  let bytes: Uint8Array = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const pgp = looksLikePgp(bytes);
  if (pgp) {
    if (options.pgpPrivateKey === undefined) throw new PersonalizationFileError('BAD_KEY', 'the file is PGP-encrypted: a PGP private key is needed');
    bytes = await pgpDecrypt(bytes, options.pgpPrivateKey, options.pgpPassphrase);
  }
  const text = Buffer.from(bytes).toString('latin1');
  if (!/^[\x20-\x7E\n]*$/.test(text)) throw new PersonalizationFileError('BAD_FILE', 'not a personalization file (not ASCII text)');
  const { header, lines, trailer } = parsePersonalizationFile(text);
  const { bureauKey } = options;
  if (bureauKey !== undefined && bureauKeyCheckValue(bureauKey) !== header.bureauKcv) {
    throw new PersonalizationFileError('BAD_KEY', 'the bureau key check value differs from the file header\'s');
  }
  const records: DecodedRecord[] = lines.map((l) => {
    if (bureauKey === undefined) return { ...l };
    const fields = decryptPersonalizationRecord(l.encryptedRecord, header.cipher, bureauKey);
    if (fields.reference !== l.reference) throw new PersonalizationFileError('BAD_FILE', `record ${l.seq}: the reference inside differs from the line's`);
    return { ...l, fields };
  });
  return { header, records, trailer, pgp };
}
