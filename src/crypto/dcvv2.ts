/**
 * Dynamic CVV2 (time-windowed 3-digit card-not-present code) — emboss construction.
 *
 * Time windows: windowIndex = floor(unixSeconds / (validityMinutes * 60)),
 * validityMinutes an integer 1..1440. A value is valid from
 * windowIndex * validity until (windowIndex + 1) * validity (exclusive).
 *
 * Value: the Visa CVV method (see cvv.ts) under the card's CVK pair, applied
 * to the 32-hex-digit data block
 *
 *     PAN || 'D' || windowIndex as 10 decimal digits || '0' padding to 32
 *
 *   D1 = first 8 bytes, D2 = last 8 bytes
 *   R  = TDES(CVK A||B, DES(CVK A, D1) XOR D2); decimalise R; first 3 digits.
 *
 * Why this data block: static CVV/CVV2/iCVV inputs consist only of decimal
 * digits (PAN, YYMM, service code, zero pad). The 'D' nibble (0xD) makes every
 * dCVV2 input different from every static input under the same CVK, so a
 * dCVV2 can never be "the CVV2 for some expiry" (a construction that merely
 * put the window counter in the expiry field would collide with the static
 * CVV2 whenever the counter mod 10000 equals the card's YYMM). The delimiter
 * also makes the encoding injective across PAN lengths (PAN is 12..19 digits,
 * so at most 19 + 1 + 10 = 30 digits are used). Cost: 2 block-cipher calls,
 * the same as a static CVV.
 *
 * Verification policy: by default only the current window is accepted. The
 * generator returns the window's end (`expiresAtMs`) so the caller can show
 * the cardholder how long the code is valid. `acceptPreviousWindow: true`
 * additionally accepts the immediately preceding window (grace for a code
 * generated just before a window boundary); it doubles the guessing odds
 * (2/1000 instead of 1/1000), so it is opt-in.
 */
import { CryptoInputError } from './errors.ts';
import { cvvMethod, digitsEqual, takeCvk, type CvkPair } from './cvv.ts';
import { isDigits } from './decimalize.ts';

const MAX_WINDOW = 9_999_999_999;

function checkValidity(validityMinutes: unknown): asserts validityMinutes is number {
  if (!Number.isInteger(validityMinutes) || (validityMinutes as number) < 1 || (validityMinutes as number) > 1440) {
    throw new CryptoInputError('BAD_INPUT', 'validity must be an integer number of minutes from 1 to 1440');
  }
}

/** Window index for a time (ms since epoch) and validity period. */
export function dcvv2Window(nowMs: number, validityMinutes: number): number {
  checkValidity(validityMinutes);
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new CryptoInputError('BAD_INPUT', 'time must be a non-negative number of milliseconds');
  return Math.floor(nowMs / 1000 / (validityMinutes * 60));
}

/** dCVV2 for a PAN and window index. */
export function computeDcvv2(cvkA: Uint8Array, cvkB: Uint8Array, pan: string, windowIndex: number): string;
export function computeDcvv2(cvk: CvkPair, pan: string, windowIndex: number): string;
export function computeDcvv2(...args: unknown[]): string {
  const [cvk, [pan, windowIndex]] = takeCvk(args);
  if (!isDigits(pan) || pan.length < 12 || pan.length > 19) throw new CryptoInputError('BAD_PAN', 'PAN must be 12 to 19 digits');
  if (!Number.isInteger(windowIndex) || (windowIndex as number) < 0 || (windowIndex as number) > MAX_WINDOW) {
    throw new CryptoInputError('BAD_INPUT', 'window index must be an integer from 0 to 9999999999');
  }
  return cvvMethod(cvk, pan + 'D' + String(windowIndex).padStart(10, '0'), 3);
}

export interface Dcvv2Result {
  value: string;
  windowIndex: number;
  validFromMs: number;
  /** First millisecond at which the value is no longer current. */
  expiresAtMs: number;
}

/** Generate the dCVV2 valid at `nowMs`, with its validity interval. */
export function generateDcvv2(cvk: CvkPair, pan: string, nowMs: number, validityMinutes: number): Dcvv2Result {
  const windowIndex = dcvv2Window(nowMs, validityMinutes);
  const span = validityMinutes * 60_000;
  return {
    value: computeDcvv2(cvk, pan, windowIndex),
    windowIndex,
    validFromMs: windowIndex * span,
    expiresAtMs: (windowIndex + 1) * span,
  };
}

export interface Dcvv2VerifyOptions {
  /** Also accept the window just before the current one. Default false. */
  acceptPreviousWindow?: boolean;
}

/** Verify a dCVV2 at `nowMs` (timing-safe compare; see module comment for the window policy). */
export function verifyDcvv2(cvk: CvkPair, pan: string, value: string, nowMs: number, validityMinutes: number, options: Dcvv2VerifyOptions = {}): boolean {
  if (!isDigits(value) || value.length !== 3) throw new CryptoInputError('BAD_INPUT', 'dCVV2 to verify must be 3 digits');
  const w = dcvv2Window(nowMs, validityMinutes);
  let ok = digitsEqual(computeDcvv2(cvk, pan, w), value);
  if (options.acceptPreviousWindow && w > 0) {
    // evaluate both windows regardless, so timing does not reveal which matched
    const prev = digitsEqual(computeDcvv2(cvk, pan, w - 1), value);
    ok = ok || prev;
  }
  return ok;
}
