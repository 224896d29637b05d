/**
 * ISO 9564-1 PIN blocks: formats 0, 1, 3 (64-bit, for TDES) and 4 (128-bit, for AES).
 *
 * Nibble layouts (C = control, N = PIN length 4..12, P = PIN digit, F = fill):
 *   Format 0:  PIN field  0 N P P P P P/F ... F      (fill 0xF)
 *              PAN field  0 0 0 0 + 12 rightmost PAN digits excluding check digit
 *              block = PIN field XOR PAN field
 *   Format 1:  1 N P P P P P/R ... R                 (R random 0x0-0xF, no PAN)
 *   Format 3:  like format 0, control 3, fill random 0xA-0xF
 *   Format 4 (ISO 9564-1:2017):
 *              PIN field (16 bytes): 4 N P..P then 'A' fill up to nibble 15,
 *                                    nibbles 16..31 random 0x0-0xF
 *              PAN field (16 bytes): M (= PAN length - 12, 0 if shorter)
 *                                    PAN (left-padded with 0 to 12 digits if
 *                                    shorter), right-padded with 0
 *              encipher: B = AES(K, PIN field) XOR PAN field; block = AES(K, B)
 *              decipher: PIN field = AES^-1(K, AES^-1(K, block) XOR PAN field)
 *
 * Formats 0/1/3 are encrypted with TDES-ECB, format 4 with AES-ECB as above.
 * Random fill comes from the OpenSSL CSPRNG (random.ts; injectable for known-answer tests).
 *
 * Errors are PinBlockError with a code; messages never include the PIN,
 * the PAN or any block bytes.
 */
import { Buffer } from 'node:buffer';
import { PinBlockError } from './errors.ts';
import { asAes, asTdes, isBlockCipher, type KeyInput } from './cipher.ts';
import { isDigits } from './decimalize.ts';
import { secureRandomBytes } from './random.ts';

export type PinBlockFormat = 0 | 1 | 3 | 4;

export interface PinBlockOptions {
  /** Source of random bytes for fill (default: node CSPRNG via secureRandomBytes). */
  randomBytes?: (n: number) => Uint8Array;
}

function checkPin(pin: unknown): asserts pin is string {
  if (!isDigits(pin) || pin.length < 4 || pin.length > 12) throw new PinBlockError('BAD_PIN', 'PIN must be 4 to 12 digits');
}

function checkFormat(format: unknown): asserts format is PinBlockFormat {
  if (format !== 0 && format !== 1 && format !== 3 && format !== 4) throw new PinBlockError('BAD_FORMAT', 'unsupported PIN block format (supported: 0, 1, 3, 4)');
}

/** PAN field for formats 0 and 3 (8 bytes). PAN: 12..19 digits. */
export function panField03(pan: string): Buffer<ArrayBuffer> {
  if (!isDigits(pan) || pan.length < 12 || pan.length > 19) throw new PinBlockError('BAD_PAN', 'PAN must be 12 to 19 digits for PIN block formats 0 and 3');
  return Buffer.from('0000' + pan.slice(-13, -1).padStart(12, '0'), 'hex');
}

/** PAN field for format 4 (16 bytes). PAN: 1..19 digits. */
export function panField4(pan: string): Buffer<ArrayBuffer> {
  if (!isDigits(pan) || pan.length > 19) throw new PinBlockError('BAD_PAN', 'PAN must be 1 to 19 digits for PIN block format 4');
  const m = pan.length > 12 ? pan.length - 12 : 0;
  return Buffer.from((String(m) + pan.padStart(12, '0')).padEnd(32, '0'), 'hex');
}

/** `count` values uniform in [0, range) from random bytes (rejection sampling, range <= 16). */
function randomNibbles(count: number, range: number, options: PinBlockOptions): number[] {
  const rng = options.randomBytes ?? secureRandomBytes;
  const limit = 256 - (256 % range);
  const out: number[] = [];
  for (let attempt = 0; out.length < count; attempt++) {
    if (attempt === 64) throw new PinBlockError('BAD_FORMAT', 'random source is not producing usable bytes');
    const rnd = rng(count);
    for (let i = 0; i < rnd.length && out.length < count; i++) {
      const r = rnd[i] as number;
      if (r < limit) out.push(r % range);
    }
  }
  return out;
}

/** Clear 8-byte PIN block for formats 0, 1, 3 (PAN required for 0 and 3). */
export function buildPinBlock(format: 0 | 1 | 3, pin: string, pan?: string, options: PinBlockOptions = {}): Buffer<ArrayBuffer> {
  checkFormat(format);
  if ((format as number) === 4) throw new PinBlockError('BAD_FORMAT', 'format 4 has no 8-byte clear block; use buildPinField4 / encryptPinBlock');
  checkPin(pin);
  const panField = format === 1 ? undefined : panField03(pan as string);
  const nibbles = new Uint8Array(16);
  nibbles[0] = format;
  nibbles[1] = pin.length;
  for (let i = 0; i < pin.length; i++) nibbles[2 + i] = pin.charCodeAt(i) - 48;
  const fillCount = 14 - pin.length;
  if (format === 0) {
    for (let i = 2 + pin.length; i < 16; i++) nibbles[i] = 0xf;
  } else {
    const fill = format === 1 ? randomNibbles(fillCount, 16, options) : randomNibbles(fillCount, 6, options);
    for (let i = 0; i < fillCount; i++) nibbles[2 + pin.length + i] = (format === 3 ? 0xa : 0) + (fill[i] as number);
  }
  const out = Buffer.allocUnsafe(8);
  for (let i = 0; i < 8; i++) out[i] = ((nibbles[2 * i] as number) << 4) | (nibbles[2 * i + 1] as number);
  if (panField) for (let i = 0; i < 8; i++) out[i] = (out[i] as number) ^ (panField[i] as number);
  return out;
}

/** Parse a clear 8-byte PIN block of format 0, 1 or 3 (PAN required for 0 and 3). */
export function parsePinBlock(format: 0 | 1 | 3, block: Uint8Array, pan?: string): string {
  checkFormat(format);
  if ((format as number) === 4) throw new PinBlockError('BAD_FORMAT', 'use parsePinField4 / decryptPinBlock for format 4');
  if (!(block instanceof Uint8Array) || block.length !== 8) throw new PinBlockError('BAD_LENGTH', 'PIN block must be 8 bytes');
  const clear = Buffer.from(block);
  if (format !== 1) {
    const pf = panField03(pan as string);
    for (let i = 0; i < 8; i++) clear[i] = (clear[i] as number) ^ (pf[i] as number);
  }
  const nib = (i: number): number => ((clear[i >> 1] as number) >> ((i & 1) === 0 ? 4 : 0)) & 0xf;
  if (nib(0) !== format) throw new PinBlockError('BAD_CONTROL', `PIN block control field is not format ${format}`);
  const n = nib(1);
  if (n < 4 || n > 12) throw new PinBlockError('BAD_LENGTH', 'PIN length field must be 4 to 12');
  // Nibbles 0..3 are not covered by the PAN field (it starts with 0000); an
  // inconsistency after that, with a sane header, most likely means the
  // block was built for another PAN.
  const fail = (i: number, code: 'BAD_FORMAT' | 'BAD_FILL'): never => {
    if (format !== 1 && i >= 4) throw new PinBlockError('PAN_MISMATCH', 'PIN block content is inconsistent with the supplied PAN');
    throw new PinBlockError(code, code === 'BAD_FILL' ? 'PIN block fill digits are invalid' : 'PIN block contains a non-decimal PIN digit');
  };
  let pin = '';
  for (let i = 2; i < 2 + n; i++) {
    const d = nib(i);
    if (d > 9) fail(i, 'BAD_FORMAT');
    pin += d;
  }
  for (let i = 2 + n; i < 16; i++) {
    const f = nib(i);
    if ((format === 0 && f !== 0xf) || (format === 3 && f < 0xa)) fail(i, 'BAD_FILL');
  }
  clear.fill(0);
  return pin;
}

/** Format 4 plaintext PIN field (16 bytes) with random fill in nibbles 16..31. */
export function buildPinField4(pin: string, options: PinBlockOptions = {}): Buffer<ArrayBuffer> {
  checkPin(pin);
  const out = Buffer.alloc(16);
  const rnd = (options.randomBytes ?? secureRandomBytes)(8);
  out[0] = 0x40 | pin.length;
  for (let i = 2; i < 16; i++) {
    const v = i - 2 < pin.length ? pin.charCodeAt(i - 2) - 48 : 0xa;
    out[i >> 1] = (out[i >> 1] as number) | ((i & 1) === 0 ? v << 4 : v);
  }
  for (let i = 0; i < 8; i++) out[8 + i] = rnd[i] as number;
  return out;
}

/** Parse a format 4 plaintext PIN field. */
export function parsePinField4(field: Uint8Array): string {
  if (!(field instanceof Uint8Array) || field.length !== 16) throw new PinBlockError('BAD_LENGTH', 'format 4 PIN field must be 16 bytes');
  const nib = (i: number): number => ((field[i >> 1] as number) >> ((i & 1) === 0 ? 4 : 0)) & 0xf;
  if (nib(0) !== 4) throw new PinBlockError('BAD_CONTROL', 'PIN block control field is not format 4');
  const n = nib(1);
  if (n < 4 || n > 12) throw new PinBlockError('BAD_LENGTH', 'PIN length field must be 4 to 12');
  let pin = '';
  for (let i = 2; i < 2 + n; i++) {
    const d = nib(i);
    if (d > 9) throw new PinBlockError('BAD_FORMAT', 'PIN block contains a non-decimal PIN digit');
    pin += d;
  }
  for (let i = 2 + n; i < 16; i++) if (nib(i) !== 0xa) throw new PinBlockError('BAD_FILL', 'PIN block fill digits are invalid');
  return pin;
}

function keyFor(format: PinBlockFormat, key: KeyInput) {
  if (format === 4) {
    if (isBlockCipher(key) && key.algorithm !== 'aes') throw new PinBlockError('BAD_KEY', 'format 4 requires an AES key');
    if (key instanceof Uint8Array && key.length !== 16 && key.length !== 24 && key.length !== 32) throw new PinBlockError('BAD_KEY', 'format 4 requires an AES key');
    return asAes(key);
  }
  if (isBlockCipher(key) && key.algorithm !== 'tdes') throw new PinBlockError('BAD_KEY', 'formats 0, 1 and 3 require a TDES key');
  if (key instanceof Uint8Array && key.length !== 16 && key.length !== 24) throw new PinBlockError('BAD_KEY', 'formats 0, 1 and 3 require a double or triple length TDES key');
  return asTdes(key);
}

/**
 * Build and encrypt a PIN block: TDES-ECB for formats 0/1/3 (8 bytes out),
 * ISO 9564-1:2017 AES encipherment for format 4 (16 bytes out).
 * `pan` is required for formats 0, 3 and 4.
 */
export function encryptPinBlock(key: KeyInput, format: PinBlockFormat, pin: string, pan?: string, options: PinBlockOptions = {}): Buffer<ArrayBuffer> {
  return encryptPinBlocks(key, format, [pin], [pan], options)[0] as Buffer<ArrayBuffer>;
}

/**
 * encryptPinBlock for many PINs (`pins[i]` with `pans[i]`) under one key, with one cipher call
 * per step for all of them (two for format 4): ECB encrypts each block on its own.
 */
export function encryptPinBlocks(key: KeyInput, format: PinBlockFormat, pins: readonly string[], pans: ReadonlyArray<string | undefined>, options: PinBlockOptions = {}): Buffer<ArrayBuffer>[] {
  checkFormat(format);
  const cipher = keyFor(format, key);
  if (pins.length !== pans.length) throw new PinBlockError('BAD_LENGTH', 'one PAN per PIN');
  if (pins.length === 0) return [];
  const size = format === 4 ? 16 : 8;
  const clear = Buffer.allocUnsafe(size * pins.length);
  const panFields: Buffer[] = [];
  for (let i = 0; i < pins.length; i++) {
    if (format === 4) panFields.push(panField4(pans[i] as string));
    const field = format === 4 ? buildPinField4(pins[i] as string, options) : buildPinBlock(format, pins[i] as string, pans[i], options);
    field.copy(clear, size * i);
    field.fill(0);
  }
  let out = cipher.encryptBlock(clear);
  clear.fill(0);
  if (format === 4) {
    for (let i = 0; i < pins.length; i++) {
      const panField = panFields[i] as Buffer;
      for (let k = 0; k < 16; k++) out[16 * i + k] = (out[16 * i + k] as number) ^ (panField[k] as number);
    }
    const first = out;
    out = cipher.encryptBlock(first);
    first.fill(0);
  }
  const blocks: Buffer<ArrayBuffer>[] = [];
  for (let i = 0; i < pins.length; i++) blocks.push(out.subarray(size * i, size * i + size));
  return blocks;
}

/** Decrypt and parse a PIN block; returns the PIN. `pan` required for formats 0, 3, 4. */
export function decryptPinBlock(key: KeyInput, format: PinBlockFormat, block: Uint8Array, pan?: string): string {
  checkFormat(format);
  const cipher = keyFor(format, key);
  const size = format === 4 ? 16 : 8;
  if (!(block instanceof Uint8Array) || block.length !== size) throw new PinBlockError('BAD_LENGTH', `encrypted PIN block must be ${size} bytes`);
  if (format !== 4) {
    const clear = cipher.decryptBlock(block);
    try { return parsePinBlock(format, clear, pan); } finally { clear.fill(0); }
  }
  const panField = panField4(pan as string);
  const b = cipher.decryptBlock(block);
  for (let i = 0; i < 16; i++) b[i] = (b[i] as number) ^ (panField[i] as number);
  const pinField = cipher.decryptBlock(b);
  try { return parsePinField4(pinField); } finally { pinField.fill(0); }
}
