import { randomInt } from 'node:crypto';

/** A string of `length` random decimal digits, drawn without modulo bias. */
export function randomDigits(length: number): string {
  let out = '';
  // randomInt's range is capped at 2^48; 12 digits at a time stays well inside it.
  while (out.length < length) {
    const take = Math.min(12, length - out.length);
    out += String(randomInt(0, 10 ** take)).padStart(take, '0');
  }
  return out;
}

/**
 * A 19-digit record number (customer, account, relationship). Random, never all zeros; the
 * caller inserts it under a unique key and draws again on the rare collision.
 */
export function randomRecordNumber(): string {
  for (;;) {
    const n = randomDigits(19);
    if (!/^0+$/.test(n)) return n;
  }
}

/** True for the FirstVision "no value" spellings of a number: empty, spaces or zeros. */
export function isBlankNumber(value: string | undefined | null): boolean {
  return value === undefined || value === null || /^[0 ]*$/.test(value);
}

/** Left-pads a record number to the 19 characters FirstVision shows. */
export const pad19 = (value: string) => value.padStart(19, '0');

/**
 * A record number (customer, account, relationship) as a client sent it: undefined when blank
 * (empty, spaces or zeros), null when it is not 1–19 digits (it can name no record: the caller
 * answers its 422), else its 19 digits.
 */
export function recordNumber(value: string | undefined): string | undefined | null {
  if (isBlankNumber(value)) return undefined;
  const digits = value!.trim();
  return /^[0-9]{1,19}$/.test(digits) ? pad19(digits) : null;
}
