/**
 * Magnetic-stripe track data (ISO/IEC 7813, character sets and LRC of ISO/IEC 7811-2) and the
 * EMV chip "track 2 equivalent data" (tag 57): builders and parsers, pure and synchronous.
 *
 * Track 1, format B (alphanumeric, 6-bit characters 0x20-0x5F, at most 79 characters on the
 * stripe including SS, ES and LRC):
 *
 *     %B<PAN>^<NAME>^<YYMM><SVC><discretionary>?[LRC]
 *     SS '%' | FC 'B' | PAN 1-19 digits | FS '^' | name 2-26 | FS '^' | expiry YYMM (or '^' when
 *     absent) | service code 3 digits (or '^' when absent) | discretionary data | ES '?' | LRC
 *
 * Track 2 (numeric, 4-bit characters 0x30-0x3F, at most 40 characters including SS, ES and LRC):
 *
 *     ;<PAN>=<YYMM><SVC><discretionary>?[LRC]
 *     SS ';' | PAN | FS '=' | expiry YYMM (or '=') | service code (or '=') | discretionary | ES '?' | LRC
 *
 * Sentinels and LRC: the builders return the track WITH the start and end sentinels and WITHOUT
 * the LRC by default (what card bureaus' encoders usually take: the encoder computes and writes
 * the LRC itself). `{ lrc: true }` appends the LRC character; `{ sentinels: false }` gives only
 * the content between the sentinels (track 1 then starts with the format code 'B'). The parsers
 * accept all three forms and check an LRC when one is present.
 *
 * LRC (ISO/IEC 7811-2): the exclusive-or of the data bits (6 for track 1, 4 for track 2, parity
 * bit excluded) of every character from the start sentinel to the end sentinel inclusive. It is
 * written as the character with those data bits (its own parity bit is the encoder's business):
 * track 1 character = 0x20 + value, track 2 character = 0x30 + value.
 *
 * Discretionary data layout used by emboss (issuer-defined; documented in docs/personalization.md):
 *
 *     PVV logos:      PVKI (1) | PVV (4)                      | CVV (3) | '0' fill
 *     IBM 3624 logos: offset, right-aligned in max(5, n) digits, '0'-filled on the left
 *                     (n = the logo's PIN length, so for 4 and 5 digit PINs the CVV stays at
 *                     positions 6-8 as with PVV)            | CVV (3) | '0' fill
 *     no PIN yet:     '00000'                                  | CVV (3) | '0' fill
 *
 * The fill makes track 2 exactly 37 characters between the sentinels (40 with SS, ES and LRC):
 * discretionary length = 37 − (PAN length + 8); 13 for a 16-digit PAN. Track 1 carries the same
 * discretionary data as track 2. The CVV on the stripe is computed with the card's service code;
 * the chip's track 2 equivalent carries the same layout with the iCVV (service code 999).
 *
 * Chip track 2 equivalent data (EMV Book 3, tag 57, 'cn' ≤ 19 bytes): PAN | 'D' | YYMM | service
 * code | discretionary, as hexadecimal nibbles, padded with 'F' to a whole byte. Returned as
 * uppercase hex.
 *
 * Errors are CryptoInputError; messages never contain the input (card numbers, names, CVVs).
 */
import { CryptoInputError } from './errors.ts';
import { isDigits } from './decimalize.ts';

export const TRACK1_MAX_LENGTH = 79;
export const TRACK2_MAX_LENGTH = 40;
/** Longest name field of track 1. */
export const TRACK1_NAME_MAX = 26;
/** Longest embossed name line emboss produces (ISO/IEC 7811-1 embossing line, name area). */
export const EMBOSS_LINE_MAX = 26;

export interface TrackFields {
  pan: string;
  /** YYMM; undefined when the track marks it absent. */
  expiryYYMM?: string | undefined;
  /** 3 digits; undefined when the track marks it absent. */
  serviceCode?: string | undefined;
  discretionary: string;
}

export interface Track1Fields extends TrackFields {
  /** Name field as on the track (e.g. 'LOVELACE/ADA'), 2 to 26 characters. */
  name: string;
}

export interface TrackOptions {
  /** Start and end sentinels. Default true. */
  sentinels?: boolean;
  /** Append the LRC character (only with sentinels). Default false. */
  lrc?: boolean;
}

export interface ParsedTrack {
  /** The LRC character found after the end sentinel, if any (already checked). */
  lrc?: string | undefined;
}

/** Track 1 characters that may appear in data fields: the 6-bit set minus SS, FS, ES ('%', '^', '?'). */
const TRACK1_DATA_RE = /^[\x20-\x24\x26-\x3E\x40-\x5D\x5F]*$/;
/** Characters emboss allows in names (track 1 and embossing): letters, digits, space and . - ' / */
const NAME_RE = /^[A-Z0-9 .\-'/]+$/;

function checkPan(pan: unknown): asserts pan is string {
  if (!isDigits(pan) || pan.length < 1 || pan.length > 19) throw new CryptoInputError('BAD_PAN', 'PAN must be 1 to 19 digits');
}

function checkCommon(f: TrackFields): void {
  checkPan(f.pan);
  if (f.expiryYYMM !== undefined && (!isDigits(f.expiryYYMM) || f.expiryYYMM.length !== 4)) {
    throw new CryptoInputError('BAD_INPUT', 'expiry must be 4 digits (YYMM)');
  }
  if (f.serviceCode !== undefined && (!isDigits(f.serviceCode) || f.serviceCode.length !== 3)) {
    throw new CryptoInputError('BAD_INPUT', 'service code must be 3 digits');
  }
  if (typeof f.discretionary !== 'string') throw new CryptoInputError('BAD_INPUT', 'discretionary data must be text');
}

/**
 * ISO/IEC 7811-2 LRC character of a track given from its start sentinel to its end sentinel
 * inclusive (see the module comment).
 */
export function trackLrc(track: 1 | 2, fromStartToEndSentinel: string): string {
  const base = track === 1 ? 0x20 : 0x30;
  const mask = track === 1 ? 0x3f : 0x0f;
  let v = 0;
  for (let i = 0; i < fromStartToEndSentinel.length; i++) {
    const c = fromStartToEndSentinel.charCodeAt(i) - base;
    if (c < 0 || c > mask) throw new CryptoInputError('BAD_INPUT', `character outside the track ${track} character set`);
    v ^= c;
  }
  return String.fromCharCode(base + v);
}

function frame(track: 1 | 2, content: string, options: TrackOptions): string {
  if (options.sentinels === false) {
    if (options.lrc === true) throw new CryptoInputError('BAD_INPUT', 'an LRC needs the sentinels');
    return content;
  }
  const framed = (track === 1 ? '%' : ';') + content + '?';
  return options.lrc === true ? framed + trackLrc(track, framed) : framed;
}

/** Track 1, format B. */
export function buildTrack1(f: Track1Fields, options: TrackOptions = {}): string {
  checkCommon(f);
  if (typeof f.name !== 'string' || f.name.length < 2 || f.name.length > TRACK1_NAME_MAX || !TRACK1_DATA_RE.test(f.name)) {
    throw new CryptoInputError('BAD_INPUT', 'track 1 name must be 2 to 26 track 1 characters without ^ % ?');
  }
  if (!TRACK1_DATA_RE.test(f.discretionary)) throw new CryptoInputError('BAD_INPUT', 'track 1 discretionary data has a character outside the track 1 set');
  const content = `B${f.pan}^${f.name}^${f.expiryYYMM ?? '^'}${f.serviceCode ?? '^'}${f.discretionary}`;
  if (content.length + 3 > TRACK1_MAX_LENGTH) throw new CryptoInputError('BAD_LENGTH', 'track 1 would exceed 79 characters');
  return frame(1, content, options);
}

/** Track 2. Discretionary data: digits only (emboss does not use the other track 2 characters). */
export function buildTrack2(f: TrackFields, options: TrackOptions = {}): string {
  checkCommon(f);
  if (!/^[0-9]*$/.test(f.discretionary)) throw new CryptoInputError('BAD_INPUT', 'track 2 discretionary data must be digits');
  const content = `${f.pan}=${f.expiryYYMM ?? '='}${f.serviceCode ?? '='}${f.discretionary}`;
  if (content.length + 3 > TRACK2_MAX_LENGTH) throw new CryptoInputError('BAD_LENGTH', 'track 2 would exceed 40 characters');
  return frame(2, content, options);
}

/** Splits sentinels and LRC off a track, checking the LRC when present. */
function unframe(track: 1 | 2, text: unknown): { content: string; lrc?: string } {
  if (typeof text !== 'string') throw new CryptoInputError('BAD_INPUT', `track ${track} must be text`);
  const ss = track === 1 ? '%' : ';';
  if (!text.startsWith(ss)) return { content: text };
  const end = text.indexOf('?');
  if (end < 0) throw new CryptoInputError('BAD_INPUT', `track ${track} has a start sentinel but no end sentinel`);
  const rest = text.slice(end + 1);
  if (rest.length > 1) throw new CryptoInputError('BAD_INPUT', `track ${track} has data after the end sentinel and LRC`);
  if (rest.length === 1 && trackLrc(track, text.slice(0, end + 1)) !== rest) {
    throw new CryptoInputError('BAD_INPUT', `track ${track} LRC does not match`);
  }
  return rest.length === 1 ? { content: text.slice(1, end), lrc: rest } : { content: text.slice(1, end) };
}

const TRACK1_RE = /^B([0-9]{1,19})\^([^^]{2,26})\^([0-9]{4}|\^)([0-9]{3}|\^)([^^?%]*)$/;
const TRACK2_RE = /^([0-9]{1,19})=([0-9]{4}|=)([0-9]{3}|=)([0-9:<>]*)$/;

/** Parses track 1 format B (with or without sentinels; LRC checked when present). */
export function parseTrack1(text: string): Track1Fields & ParsedTrack {
  const { content, lrc } = unframe(1, text);
  const m = TRACK1_RE.exec(content);
  if (!m || !TRACK1_DATA_RE.test(content.replace(/\^/g, ' '))) throw new CryptoInputError('BAD_INPUT', 'not an ISO/IEC 7813 track 1 format B');
  const [, pan, name, ed, sc, dd] = m as unknown as [string, string, string, string, string, string];
  return {
    pan, name, expiryYYMM: ed === '^' ? undefined : ed, serviceCode: sc === '^' ? undefined : sc, discretionary: dd,
    ...(lrc === undefined ? {} : { lrc }),
  };
}

/** Parses track 2 (with or without sentinels; LRC checked when present). */
export function parseTrack2(text: string): TrackFields & ParsedTrack {
  const { content, lrc } = unframe(2, text);
  const m = TRACK2_RE.exec(content);
  if (!m) throw new CryptoInputError('BAD_INPUT', 'not an ISO/IEC 7813 track 2');
  const [, pan, ed, sc, dd] = m as unknown as [string, string, string, string, string];
  return {
    pan, expiryYYMM: ed === '=' ? undefined : ed, serviceCode: sc === '=' ? undefined : sc, discretionary: dd,
    ...(lrc === undefined ? {} : { lrc }),
  };
}

/** EMV track 2 equivalent data (tag 57 value) as uppercase hex; expiry and service code required. */
export function buildTrack2Equivalent(f: TrackFields): string {
  checkCommon(f);
  if (f.expiryYYMM === undefined || f.serviceCode === undefined) throw new CryptoInputError('BAD_INPUT', 'track 2 equivalent data needs expiry and service code');
  if (!/^[0-9]*$/.test(f.discretionary)) throw new CryptoInputError('BAD_INPUT', 'track 2 equivalent discretionary data must be digits');
  let hex = `${f.pan}D${f.expiryYYMM}${f.serviceCode}${f.discretionary}`;
  if (hex.length % 2 === 1) hex += 'F';
  if (hex.length > 38) throw new CryptoInputError('BAD_LENGTH', 'track 2 equivalent data would exceed 19 bytes');
  return hex;
}

export function parseTrack2Equivalent(hex: string): TrackFields {
  const m = typeof hex === 'string' ? /^([0-9]{1,19})D([0-9]{4})([0-9]{3})([0-9]*)F?$/i.exec(hex) : null;
  if (!m || hex.length % 2 !== 0) throw new CryptoInputError('BAD_INPUT', 'not EMV track 2 equivalent data');
  const [, pan, expiryYYMM, serviceCode, discretionary] = m as unknown as [string, string, string, string, string];
  return { pan, expiryYYMM, serviceCode, discretionary };
}

// --- discretionary data ------------------------------------------------------------------------

/** What the discretionary data carries for PIN verification. */
export type DiscretionaryPin =
  | { kind: 'PVV'; pvki: string; pvv: string }
  | { kind: 'IBM3624'; offset: string }
  | { kind: 'NONE' };

/** How to read discretionary data back: the logo's method (the offset length is the PIN length). */
export type DiscretionaryLayout = { kind: 'PVV' } | { kind: 'IBM3624'; offsetLength: number } | { kind: 'NONE' };

export interface DiscretionaryFields {
  pvki?: string;
  pvv?: string;
  offset?: string;
  cvv: string;
  /** Whatever follows the CVV (the '0' fill). */
  rest: string;
}

/** Discretionary length that makes track 2 exactly 37 characters between its sentinels. */
export function defaultDiscretionaryLength(panLength: number): number {
  return 37 - (panLength + 8);
}

function pinFieldWidth(layout: DiscretionaryLayout): number {
  return layout.kind === 'IBM3624' ? Math.max(5, layout.offsetLength) : 5;
}

/**
 * Discretionary data (see the module comment): PIN field | CVV (3) | '0' fill up to `length`
 * (never truncated: a length shorter than PIN field + CVV gives no fill).
 */
export function buildDiscretionaryData(pin: DiscretionaryPin, cvv: string, length = 0): string {
  if (!isDigits(cvv) || cvv.length !== 3) throw new CryptoInputError('BAD_INPUT', 'CVV must be 3 digits');
  let field: string;
  if (pin.kind === 'PVV') {
    if (!isDigits(pin.pvki) || pin.pvki.length !== 1) throw new CryptoInputError('BAD_INPUT', 'PVKI must be one digit 0-9');
    if (!isDigits(pin.pvv) || pin.pvv.length !== 4) throw new CryptoInputError('BAD_INPUT', 'PVV must be 4 digits');
    field = pin.pvki + pin.pvv;
  } else if (pin.kind === 'IBM3624') {
    if (!isDigits(pin.offset) || pin.offset.length < 4 || pin.offset.length > 12) throw new CryptoInputError('BAD_INPUT', 'offset must be 4 to 12 digits');
    field = pin.offset.padStart(Math.max(5, pin.offset.length), '0');
  } else if (pin.kind === 'NONE') {
    field = '00000';
  } else {
    throw new CryptoInputError('BAD_INPUT', 'discretionary PIN kind must be PVV, IBM3624 or NONE');
  }
  if (!Number.isInteger(length) || length < 0) throw new CryptoInputError('BAD_INPUT', 'discretionary length must be a non-negative integer');
  return (field + cvv).padEnd(length, '0');
}

export function parseDiscretionaryData(dd: string, layout: DiscretionaryLayout): DiscretionaryFields {
  if (layout.kind === 'IBM3624' && (!Number.isInteger(layout.offsetLength) || layout.offsetLength < 4 || layout.offsetLength > 12)) {
    throw new CryptoInputError('BAD_INPUT', 'offset length must be 4 to 12');
  }
  const width = pinFieldWidth(layout);
  if (typeof dd !== 'string' || dd.length < width + 3 || !isDigits(dd.slice(0, width + 3))) {
    throw new CryptoInputError('BAD_INPUT', 'discretionary data is too short or not digits');
  }
  const field = dd.slice(0, width);
  const out: DiscretionaryFields = { cvv: dd.slice(width, width + 3), rest: dd.slice(width + 3) };
  if (layout.kind === 'PVV') { out.pvki = field.slice(0, 1); out.pvv = field.slice(1); }
  if (layout.kind === 'IBM3624') out.offset = field.slice(width - layout.offsetLength);
  return out;
}

// --- names and embossing -------------------------------------------------------------------------

/**
 * A name made fit for a card: accents removed (NFD, combining marks dropped; 'Ø' → 'O', 'ß' → 'SS',
 * 'Æ' → 'AE', 'Œ' → 'OE', 'Ł' → 'L', 'Đ' → 'D'), uppercase, every character outside
 * A-Z 0-9 . - ' replaced by a space (runs of them by one), trimmed. '/' is kept out of parts
 * (it separates surname and given names on track 1).
 */
export function normalizeCardName(text: string): string {
  if (typeof text !== 'string') throw new CryptoInputError('BAD_INPUT', 'name must be text');
  let t = text.toUpperCase();
  // Fast path (mass issuance): names already in printable ASCII skip the Unicode work.
  if (!/^[\x20-\x7E]*$/.test(t)) {
    t = t.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toUpperCase()
      .replace(/Ø/g, 'O').replace(/Æ/g, 'AE').replace(/Œ/g, 'OE').replace(/Ł/g, 'L').replace(/Đ/g, 'D');
  }
  return t.replace(/[^A-Z0-9.\-']+/g, ' ').trim();
}

/**
 * Track 1 name field: 'SURNAME/GIVEN NAMES' (ISO/IEC 7813: surname, '/', first name, space,
 * middle names), normalized as normalizeCardName, at most 26 characters. When too long, the
 * given names are cut first (down to their initial), then the surname. No padding.
 */
export function formatTrack1Name(surname: string, givenNames = ''): string {
  const s = normalizeCardName(surname);
  const g = normalizeCardName(givenNames);
  if (s.length === 0) throw new CryptoInputError('BAD_INPUT', 'surname must have at least one letter or digit');
  let name = g.length > 0 ? `${s}/${g}` : s;
  if (name.length > TRACK1_NAME_MAX && g.length > 0) {
    const room = TRACK1_NAME_MAX - s.length - 1;
    name = room >= 1 ? `${s}/${g.slice(0, room).trimEnd()}` : `${s.slice(0, TRACK1_NAME_MAX - 2)}/${g.slice(0, 1)}`;
  }
  name = name.slice(0, TRACK1_NAME_MAX);
  if (name.length < 2) name = name.padEnd(2, ' ');
  if (!NAME_RE.test(name)) throw new CryptoInputError('BAD_INPUT', 'name has characters a card cannot carry');
  return name;
}

/**
 * An embossing line: normalized as normalizeCardName and cut to `max` characters at a word
 * boundary when possible.
 */
export function formatEmbossLine(text: string, max = EMBOSS_LINE_MAX): string {
  const n = normalizeCardName(text);
  if (n.length <= max) return n;
  const cut = n.slice(0, max + 1);
  const space = cut.lastIndexOf(' ');
  return (space > max / 2 ? cut.slice(0, space) : n.slice(0, max)).trimEnd();
}

/**
 * The card number as embossed: groups of 4 (16 and 19 digit PANs: 4-4-4-4[-3]), 4-6-5 for 15
 * digits (American Express style), 4-4-5 for 13, otherwise groups of 4 from the left.
 */
export function embossPan(pan: string): string {
  if (!isDigits(pan) || pan.length < 12 || pan.length > 19) throw new CryptoInputError('BAD_PAN', 'PAN must be 12 to 19 digits');
  if (pan.length === 15) return `${pan.slice(0, 4)} ${pan.slice(4, 10)} ${pan.slice(10)}`;
  if (pan.length === 13) return `${pan.slice(0, 4)} ${pan.slice(4, 8)} ${pan.slice(8)}`;
  return pan.replace(/(\d{4})(?=\d)/g, '$1 ');
}

/** Expiry as embossed: YYMM → 'MM/YY'. */
export function embossExpiry(expiryYYMM: string): string {
  if (!isDigits(expiryYYMM) || expiryYYMM.length !== 4) throw new CryptoInputError('BAD_INPUT', 'expiry must be 4 digits (YYMM)');
  const mm = Number(expiryYYMM.slice(2));
  if (mm < 1 || mm > 12) throw new CryptoInputError('BAD_INPUT', 'expiry month must be 01 to 12');
  return `${expiryYYMM.slice(2)}/${expiryYYMM.slice(0, 2)}`;
}
