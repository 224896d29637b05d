/**
 * The personalization (embosser) file, format EMBPF version 1: ASCII text, '\n' line ends,
 * pipe-delimited lines (no field ever contains '|'). Described for bureaus in
 * docs/personalization.md.
 *
 *     H|EMBPF|1|<fileId>|<organization>|<logo>|<createdAt>|<recordCount>|<cipher>|<bureauKcv>
 *     D|<seq>|<reference>|<encryptedRecord>          one line per card, seq 1..recordCount
 *     T|<recordCount>|<sha256>
 *
 * - createdAt: ISO 8601 UTC with milliseconds (2030-01-31T12:00:00.000Z).
 * - cipher: 3DES-CBC or AES-CBC; bureauKcv: check value of the bureau key the records are under.
 * - encryptedRecord: base64(IV || CBC ciphertext) of one clear record (the security module's
 *   `personalizationRecord`; clear layout PERSONALIZATION_RECORD_FIELDS).
 * - sha256: lowercase hex SHA-256 of every byte of the file before the trailer line (the header
 *   line and all record lines, each with its '\n'). It is computed over the ENCRYPTED content:
 *   the writer never holds clear records (they exist only inside the security module), the
 *   bureau can check the file before it decrypts anything, and a hash of the clear records would
 *   let anyone holding the file test guesses of card data (a card record has little entropy
 *   beyond its PAN) — a hash of the ciphertext says nothing about the cards.
 *   It detects corruption and truncation; it does not authenticate the sender (anyone can
 *   recompute it): that is the job of the transport or of a PGP signature.
 */
import { createHash } from 'node:crypto';
import type { PersonalizationCipher, PersonalizationRecord } from '../../security-module/port.ts';

export const FILE_FORMAT = 'EMBPF';
export const FILE_FORMAT_VERSION = '1';

export type PersonalizationFileErrorCode = 'BAD_INPUT' | 'BAD_FILE' | 'COUNT_MISMATCH' | 'HASH_MISMATCH' | 'BAD_KEY' | 'NOT_FOUND' | 'EXISTS';

/** Messages never contain file content, record content or keys. */
export class PersonalizationFileError extends Error {
  constructor(readonly code: PersonalizationFileErrorCode, message: string) {
    super(message);
    this.name = 'PersonalizationFileError';
  }
}

export interface PersonalizationFileHeader {
  format: typeof FILE_FORMAT;
  formatVersion: string;
  fileId: string;
  organization: string;
  logo: string;
  /** ISO 8601 UTC. */
  createdAt: string;
  recordCount: number;
  cipher: PersonalizationCipher;
  bureauKcv: string;
}

export interface PersonalizationFileLine {
  seq: number;
  reference: string;
  encryptedRecord: string;
}

export interface PersonalizationFileTrailer {
  recordCount: number;
  sha256: string;
}

/** Organization and logo as they appear in file names and headers. */
export const ID_RE = /^[A-Za-z0-9]{1,16}$/;
const FILE_ID_RE = /^[A-Za-z0-9-]{1,64}$/;
const REFERENCE_RE = /^[A-Za-z0-9._-]{1,40}$/;
const KCV_RE = /^[0-9A-F]{4,16}$/;
/** Not base64: a character outside its alphabet (padding included). */
const NOT_BASE64_RE = /[^A-Za-z0-9+/=]/;
/** Padding only at the end, at most two characters of it, after at least one other. */
const PADDED_AT_END_RE = /^[^=]+={0,2}$/;

/**
 * Base64 text (`^[A-Za-z0-9+/]+={0,2}$`), checked for every record a file is built from or read
 * back into. The single anchored expression cost 2.7 µs per 560-character record (270 ms of a
 * 100,000-card mass issue on the main thread); these two, the same test, cost a fifth of it.
 */
function isBase64(value: string): boolean {
  return !NOT_BASE64_RE.test(value) && PADDED_AT_END_RE.test(value);
}

export function checkId(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || !ID_RE.test(value)) throw new PersonalizationFileError('BAD_INPUT', `${what} must be 1 to 16 letters or digits`);
}

export interface BuildFileInput {
  fileId: string;
  organization: string;
  logo: string;
  createdAt: Date;
  records: readonly PersonalizationRecord[];
}

/** The file text (before any PGP layer) and its trailer hash. */
export function buildPersonalizationFile(input: BuildFileInput): { text: string; sha256: string } {
  const { bytes, sha256 } = encodePersonalizationFile(input);
  return { text: bytes.toString('ascii'), sha256 };
}

/**
 * The same file as `buildPersonalizationFile`, as bytes: each line is written straight into one
 * buffer of the exact size, so a 20,000-record file costs one copy of itself in memory, not a
 * line array, a joined text and its encoding besides.
 */
export function encodePersonalizationFile(input: BuildFileInput): { bytes: Buffer; sha256: string } {
  checkId(input.organization, 'organization');
  checkId(input.logo, 'logo');
  if (!FILE_ID_RE.test(input.fileId)) throw new PersonalizationFileError('BAD_INPUT', 'file id must be letters, digits and -');
  const { records } = input;
  if (!Array.isArray(records) || records.length === 0) throw new PersonalizationFileError('BAD_INPUT', 'a file needs at least one record');
  const first = records[0] as PersonalizationRecord;
  const header = `${['H', FILE_FORMAT, FILE_FORMAT_VERSION, input.fileId, input.organization, input.logo, input.createdAt.toISOString(),
    String(records.length), first.cipher, first.bureauKcv].join('|')}\n`;
  const count = String(records.length);
  let size = header.length + 'T||\n'.length + count.length + 64;
  records.forEach((r, i) => {
    if (r.cipher !== first.cipher || r.bureauKcv !== first.bureauKcv) {
      throw new PersonalizationFileError('BAD_INPUT', `record ${i + 1} is under another bureau key than record 1`);
    }
    if (typeof r.reference !== 'string' || !REFERENCE_RE.test(r.reference)) throw new PersonalizationFileError('BAD_INPUT', `record ${i + 1} has a malformed reference`);
    if (typeof r.encryptedRecord !== 'string' || !isBase64(r.encryptedRecord)) throw new PersonalizationFileError('BAD_INPUT', `record ${i + 1} is not an encrypted record`);
    size += 'D|||\n'.length + String(i + 1).length + r.reference.length + r.encryptedRecord.length;
  });
  // Header fields are checked above or generated (ISO time, count); a stray character would change the size.
  if (!/^[\x20-\x7e]*\n$/.test(header)) {
    throw new PersonalizationFileError('BAD_INPUT', 'the file header must be printable ASCII');
  }
  const bytes = Buffer.allocUnsafe(size);
  let at = bytes.write(header, 0, 'ascii');
  records.forEach((r, i) => { at += bytes.write(`D|${i + 1}|${r.reference}|${r.encryptedRecord}\n`, at, 'ascii'); });
  const sha256 = createHash('sha256').update(bytes.subarray(0, at)).digest('hex');
  at += bytes.write(`T|${count}|${sha256}\n`, at, 'ascii');
  if (at !== size) throw new Error('personalization file: size mismatch');
  return { bytes, sha256 };
}

/**
 * Parses a clear (not PGP) file and checks its structure, counts and hash; throws
 * PersonalizationFileError (BAD_FILE, COUNT_MISMATCH, HASH_MISMATCH) otherwise.
 */
export function parsePersonalizationFile(text: string): { header: PersonalizationFileHeader; lines: PersonalizationFileLine[]; trailer: PersonalizationFileTrailer } {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw new PersonalizationFileError('BAD_FILE', 'not a personalization file (no final line end)');
  const trailerStart = text.lastIndexOf('\n', text.length - 2) + 1;
  const body = text.slice(0, trailerStart);
  const all = text.slice(0, -1).split('\n');
  const h = (all[0] ?? '').split('|');
  if (h.length !== 10 || h[0] !== 'H' || h[1] !== FILE_FORMAT) throw new PersonalizationFileError('BAD_FILE', 'not a personalization file (header)');
  if (h[2] !== FILE_FORMAT_VERSION) throw new PersonalizationFileError('BAD_FILE', 'unsupported personalization file version');
  const [, , formatVersion, fileId, organization, logo, createdAt, count, cipher, bureauKcv] = h as [string, string, string, string, string, string, string, string, string, string];
  if (!/^[0-9]+$/.test(count) || (cipher !== '3DES-CBC' && cipher !== 'AES-CBC') || !KCV_RE.test(bureauKcv)
    || !ID_RE.test(organization) || !ID_RE.test(logo) || Number.isNaN(Date.parse(createdAt))) {
    throw new PersonalizationFileError('BAD_FILE', 'malformed personalization file header');
  }
  const t = (all[all.length - 1] ?? '').split('|');
  if (all.length < 2 || t.length !== 3 || t[0] !== 'T' || !/^[0-9]+$/.test(t[1] ?? '') || !/^[0-9a-f]{64}$/.test(t[2] ?? '')) {
    throw new PersonalizationFileError('BAD_FILE', 'malformed or missing personalization file trailer');
  }
  const sha256 = createHash('sha256').update(body, 'ascii').digest('hex');
  if (sha256 !== t[2]) throw new PersonalizationFileError('HASH_MISMATCH', 'the file hash does not match its trailer (corrupted or altered)');
  const lines: PersonalizationFileLine[] = [];
  for (let i = 1; i < all.length - 1; i++) {
    const d = (all[i] as string).split('|');
    if (d.length !== 4 || d[0] !== 'D' || d[1] !== String(i) || !REFERENCE_RE.test(d[2] ?? '') || !isBase64(d[3] ?? '')) {
      throw new PersonalizationFileError('BAD_FILE', `malformed record line ${i}`);
    }
    lines.push({ seq: i, reference: d[2] as string, encryptedRecord: d[3] as string });
  }
  const recordCount = Number(count);
  if (lines.length !== recordCount || Number(t[1]) !== recordCount) {
    throw new PersonalizationFileError('COUNT_MISMATCH', 'record count in header, trailer and body differ');
  }
  return {
    header: { format: FILE_FORMAT, formatVersion, fileId, organization, logo, createdAt, recordCount, cipher, bureauKcv },
    lines,
    trailer: { recordCount, sha256 },
  };
}

/** File name: EMB_<org>_<logo>_<yyyymmddHHMMss>_<seq>.txt[.pgp] (UTC time, seq at least 4 digits). */
export function personalizationFileName(organization: string, logo: string, at: Date, seq: number, pgp: boolean): string {
  checkId(organization, 'organization');
  checkId(logo, 'logo');
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `EMB_${organization}_${logo}_${stamp}_${String(seq).padStart(4, '0')}.txt${pgp ? '.pgp' : ''}`;
}

const NAME_RE = /^EMB_([A-Za-z0-9]{1,16})_([A-Za-z0-9]{1,16})_([0-9]{14})_([0-9]{4,})\.txt(\.pgp)?$/;

export interface ParsedFileName {
  name: string;
  organization: string;
  logo: string;
  /** ISO 8601 UTC, from the name (second precision). */
  createdAt: string;
  seq: number;
  pgp: boolean;
}

export function parsePersonalizationFileName(name: string): ParsedFileName | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const [, organization, logo, s, seq, pgp] = m as unknown as [string, string, string, string, string, string | undefined];
  const createdAt = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(8, 10)}:${s.slice(10, 12)}:${s.slice(12, 14)}Z`;
  return { name, organization, logo, createdAt, seq: Number(seq), pgp: pgp !== undefined };
}
