/**
 * Luhn (ISO/IEC 7812-1 Annex B, "mod 10") check digit, validation, random
 * card-number generation and PAN masking.
 */
import { randomInt as cryptoRandomInt } from 'node:crypto';
import { CryptoInputError } from './errors.ts';
import { isDigits } from './decimalize.ts';

/** Returns an integer uniformly drawn from [0, max). */
export type RandomIntFn = (max: number) => number;

const defaultRandomInt: RandomIntFn = (max) => cryptoRandomInt(max);

function luhnSum(digits: string, doubleFirstFromRight: boolean): number {
  let sum = 0;
  let dbl = doubleFirstFromRight;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
    dbl = !dbl;
  }
  return sum;
}

/** Luhn check digit for a number given WITHOUT its check digit. */
export function luhnCheckDigit(partial: string): string {
  if (!isDigits(partial)) throw new CryptoInputError('BAD_INPUT', 'Luhn input must be a non-empty string of digits');
  return String((10 - (luhnSum(partial, true) % 10)) % 10);
}

/** True when `pan` is all digits (length >= 2) and its last digit is the Luhn check digit. */
export function isLuhnValid(pan: string): boolean {
  if (!isDigits(pan) || pan.length < 2) return false;
  return luhnSum(pan, false) % 10 === 0;
}

/**
 * Random card number: `bin` followed by random digits, then the Luhn digit.
 * Each body digit is drawn independently with `randomInt(10)` (node's
 * crypto.randomInt uses rejection sampling, so no modulo bias).
 * `length` is the total PAN length, 12..19; `bin` is 1..length-2 digits.
 */
export function generateCardNumber(bin: string, length: number, randomInt: RandomIntFn = defaultRandomInt): string {
  if (!Number.isInteger(length) || length < 12 || length > 19) {
    throw new CryptoInputError('BAD_INPUT', 'card number length must be an integer from 12 to 19');
  }
  if (!isDigits(bin) || bin.length > length - 2) {
    throw new CryptoInputError('BAD_INPUT', 'BIN must be digits and leave room for at least one random digit and the check digit');
  }
  let body = bin;
  for (let i = bin.length; i < length - 1; i++) {
    const d = randomInt(10);
    if (!Number.isInteger(d) || d < 0 || d > 9) throw new CryptoInputError('BAD_INPUT', 'randomInt must return an integer in [0, 10)');
    body += d;
  }
  return body + luhnCheckDigit(body);
}

/**
 * Mask a PAN for display: first 6 and last 4 digits kept, every digit in
 * between replaced by `*` (length preserved, PCI DSS 3.4 "first six / last
 * four"). PAN must be 12..19 digits — shorter numbers would reveal too much.
 */
export function maskPan(pan: string): string {
  if (!isDigits(pan) || pan.length < 12 || pan.length > 19) {
    throw new CryptoInputError('BAD_PAN', 'PAN must be 12 to 19 digits');
  }
  return pan.slice(0, 6) + '*'.repeat(pan.length - 10) + pan.slice(-4);
}
