/**
 * IBM 3624 PIN generation/verification ("natural PIN" and "PIN offset").
 *
 *   1. Validation data: up to 16 hex digits, right-padded with the pad
 *      character (default 'F') to 16 digits, read as 8 bytes.
 *   2. C = TDES-ECB(PVK, validation data)
 *   3. Each hex digit of C is mapped through the decimalisation table
 *      (16 decimal digits: table[i] is the digit for hex value i;
 *      default '0123456789012345').
 *   4. Natural PIN = leftmost `pinLength` decimalised digits (4..12).
 *   5. Offset      = (customer PIN - natural PIN) digit-wise mod 10, same
 *      length as the PIN. Customer PIN = (natural + offset) digit-wise mod 10.
 *
 * Validation data is issuer-defined. `ibm3624ValidationData(pan)` gives this
 * project's default: the 12 rightmost PAN digits excluding the check digit
 * (the same digits the ISO 9564 format 0 PAN field uses); pass
 * `{ start, length }` to take another PAN slice (as psec's
 * pan_verify_offset / pan_verify_length do).
 *
 * Cost: one TDES call.
 */
import { Buffer } from 'node:buffer';
import { CryptoInputError } from './errors.ts';
import { asTdes, type KeyInput } from './cipher.ts';
import { isDigits } from './decimalize.ts';
import { digitsEqual } from './cvv.ts';

export const DEFAULT_DECIMALIZATION_TABLE = '0123456789012345';

const HEX_DIGITS_RE = /^[0-9A-Fa-f]{1,16}$/;
const HEX1_RE = /^[0-9A-Fa-f]$/;

/** Default validation data from a PAN (see module comment). */
export function ibm3624ValidationData(pan: string, slice?: { start: number; length: number }): string {
  if (!isDigits(pan) || pan.length < 12 || pan.length > 19) throw new CryptoInputError('BAD_PAN', 'PAN must be 12 to 19 digits');
  if (slice === undefined) return pan.slice(-13, -1).padStart(12, '0');
  const { start, length } = slice;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 1 || length > 16 || start + length > pan.length) {
    throw new CryptoInputError('BAD_VALIDATION_DATA', 'validation data slice must lie within the PAN and be 1 to 16 digits');
  }
  return pan.slice(start, start + length);
}

function checkCommon(validationData: unknown, decTable: unknown, padChar: unknown): void {
  if (typeof validationData !== 'string' || !HEX_DIGITS_RE.test(validationData)) {
    throw new CryptoInputError('BAD_VALIDATION_DATA', 'validation data must be 1 to 16 hex digits');
  }
  if (!isDigits(decTable) || decTable.length !== 16) {
    throw new CryptoInputError('BAD_DEC_TABLE', 'decimalisation table must be 16 decimal digits');
  }
  if (typeof padChar !== 'string' || !HEX1_RE.test(padChar)) {
    throw new CryptoInputError('BAD_INPUT', 'pad character must be one hex digit');
  }
}

function intermediate(pvk: KeyInput, validationData: string, decTable: string, padChar: string, count: number): string {
  const block = asTdes(pvk).encryptBlock(Buffer.from(validationData.padEnd(16, padChar), 'hex'));
  let out = '';
  for (let i = 0; out.length < count; i++) {
    const byte = block[i >> 1] as number;
    const nib = (i & 1) === 0 ? byte >> 4 : byte & 15;
    out += decTable[nib] as string;
  }
  return out;
}

function checkPinLength(n: unknown): asserts n is number {
  if (!Number.isInteger(n) || (n as number) < 4 || (n as number) > 12) throw new CryptoInputError('BAD_PIN', 'PIN length must be 4 to 12');
}

/** Natural PIN of `pinLength` digits (4..12). */
export function ibm3624NaturalPin(pvk: KeyInput, validationData: string, decTable: string, pinLength: number, padChar = 'F'): string {
  checkCommon(validationData, decTable, padChar);
  checkPinLength(pinLength);
  return intermediate(pvk, validationData, decTable, padChar, pinLength);
}

/** PIN offset for a customer-selected PIN (offset length = PIN length). */
export function ibm3624Offset(pvk: KeyInput, validationData: string, decTable: string, pin: string, padChar = 'F'): string {
  checkCommon(validationData, decTable, padChar);
  if (!isDigits(pin) || pin.length < 4 || pin.length > 12) throw new CryptoInputError('BAD_PIN', 'PIN must be 4 to 12 digits');
  const natural = intermediate(pvk, validationData, decTable, padChar, pin.length);
  let out = '';
  for (let i = 0; i < pin.length; i++) out += (pin.charCodeAt(i) - natural.charCodeAt(i) + 10) % 10;
  return out;
}

/** PIN derived from the natural PIN and an offset (offset length = PIN length). */
export function ibm3624PinFromOffset(pvk: KeyInput, validationData: string, decTable: string, offset: string, padChar = 'F'): string {
  checkCommon(validationData, decTable, padChar);
  if (!isDigits(offset) || offset.length < 4 || offset.length > 12) throw new CryptoInputError('BAD_INPUT', 'offset must be 4 to 12 digits');
  const natural = intermediate(pvk, validationData, decTable, padChar, offset.length);
  let out = '';
  for (let i = 0; i < offset.length; i++) out += (natural.charCodeAt(i) - 48 + offset.charCodeAt(i) - 48) % 10;
  return out;
}

/** Verify a PIN against a stored offset (timing-safe comparison of offsets). */
export function ibm3624Verify(pvk: KeyInput, validationData: string, decTable: string, pin: string, offset: string, padChar = 'F'): boolean {
  if (!isDigits(offset) || offset.length < 4 || offset.length > 12) throw new CryptoInputError('BAD_INPUT', 'offset must be 4 to 12 digits');
  if (!isDigits(pin) || pin.length !== offset.length) return false;
  return digitsEqual(ibm3624Offset(pvk, validationData, decTable, pin, padChar), offset);
}
