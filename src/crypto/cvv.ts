/**
 * Visa CVV method — also used for Mastercard CVC1/CVC2, Amex-style 3-digit
 * values and iCVV — under a CVK pair (CVK A, CVK B: two single-length DES keys,
 * i.e. one double-length TDES key A||B).
 *
 *   1. D = PAN || expiry (YYMM) || service code, right-padded with '0' to 32
 *      decimal digits, read as 16 bytes (BCD). Split into D1 | D2 (8 bytes each).
 *   2. R1 = DES(CVK A, D1)
 *   3. R2 = TDES(CVK A||CVK B, R1 XOR D2)  (encrypt A, decrypt B, encrypt A)
 *   4. Decimalise R2 (digits first, then A-F minus 10); first 3 digits = CVV.
 *
 * CVV  = magnetic stripe value, card's real service code (e.g. 101, 201).
 * CVV2 = printed value: same with service code 000.
 * iCVV = chip track-2 equivalent data value: service code 999.
 *
 * Cost: 2 block-cipher calls (one single-DES, one TDES). For throughput,
 * prepare a CvkPair once per key (`prepareCvk`) and reuse it; every function
 * also accepts raw CVK A / CVK B bytes for convenience.
 */
import { Buffer } from 'node:buffer';
import { timingSafeEqual } from 'node:crypto';
import { CryptoInputError } from './errors.ts';
import { createTdesCipher, type BlockCipher } from './cipher.ts';
import { decimalize, isDigits } from './decimalize.ts';

/** Prepared CVK pair: single-DES cipher under CVK A and TDES cipher under A||B. */
export interface CvkPair {
  readonly kind: 'cvk-pair';
  readonly a: BlockCipher;
  readonly ab: BlockCipher;
}

/**
 * Prepare a CVK pair from CVK A and CVK B (8 bytes each), or from one
 * 16-byte double-length key (A||B) when `cvkB` is omitted.
 */
export function prepareCvk(cvkA: Uint8Array, cvkB?: Uint8Array): CvkPair {
  let a: Uint8Array;
  let b: Uint8Array;
  if (cvkB === undefined) {
    if (!(cvkA instanceof Uint8Array) || cvkA.length !== 16) throw new CryptoInputError('BAD_KEY', 'double-length CVK must be 16 bytes');
    a = cvkA.subarray(0, 8);
    b = cvkA.subarray(8, 16);
  } else {
    if (!(cvkA instanceof Uint8Array) || cvkA.length !== 8 || !(cvkB instanceof Uint8Array) || cvkB.length !== 8) {
      throw new CryptoInputError('BAD_KEY', 'CVK A and CVK B must be 8 bytes each');
    }
    a = cvkA;
    b = cvkB;
  }
  const ab = Buffer.alloc(16);
  ab.set(a, 0);
  ab.set(b, 8);
  const pair: CvkPair = { kind: 'cvk-pair', a: createTdesCipher(a), ab: createTdesCipher(ab) };
  ab.fill(0);
  return pair;
}

function isCvkPair(x: unknown): x is CvkPair {
  return typeof x === 'object' && x !== null && (x as CvkPair).kind === 'cvk-pair';
}

/** Split overload arguments: (cvkA, cvkB, ...rest) or (cvkPair, ...rest). */
export function takeCvk(args: readonly unknown[]): [CvkPair, unknown[]] {
  if (isCvkPair(args[0])) return [args[0], args.slice(1)];
  if (args[0] instanceof Uint8Array && args[1] instanceof Uint8Array) {
    return [prepareCvk(args[0], args[1]), args.slice(2)];
  }
  throw new CryptoInputError('BAD_KEY', 'expected a prepared CVK pair or CVK A and CVK B bytes');
}

/**
 * Core of the Visa CVV method on an arbitrary data string of hex digits
 * (<= 32, right-padded with '0'). Exported for dcvv2.ts; callers validate
 * the data themselves.
 */
export function cvvMethod(cvk: CvkPair, data: string, digits: number): string {
  const d = Buffer.from(data.padEnd(32, '0'), 'hex');
  const r1 = cvk.a.encryptBlock(d.subarray(0, 8));
  for (let i = 0; i < 8; i++) r1[i] = (r1[i] as number) ^ (d[8 + i] as number);
  return decimalize(cvk.ab.encryptBlock(r1), digits);
}

function checkCvvInputs(pan: unknown, expiry: unknown, serviceCode: unknown): void {
  if (!isDigits(pan) || pan.length < 12 || pan.length > 19) throw new CryptoInputError('BAD_PAN', 'PAN must be 12 to 19 digits');
  if (!isDigits(expiry) || expiry.length !== 4) throw new CryptoInputError('BAD_INPUT', 'expiry must be 4 digits (YYMM)');
  if (!isDigits(serviceCode) || serviceCode.length !== 3) throw new CryptoInputError('BAD_INPUT', 'service code must be 3 digits');
}

/** CVV/CVC (3 digits) for PAN, expiry YYMM and service code. */
export function computeCvv(cvkA: Uint8Array, cvkB: Uint8Array, pan: string, expiryYYMM: string, serviceCode: string): string;
export function computeCvv(cvk: CvkPair, pan: string, expiryYYMM: string, serviceCode: string): string;
export function computeCvv(...args: unknown[]): string {
  const [cvk, [pan, expiry, sc]] = takeCvk(args);
  checkCvvInputs(pan, expiry, sc);
  return cvvMethod(cvk, (pan as string) + (expiry as string) + (sc as string), 3);
}

/** Service code used for CVV2/CVC2 (card-not-present value printed on the card). */
export const CVV2_SERVICE_CODE = '000';
/** Service code used for iCVV (chip track-2 equivalent data). */
export const ICVV_SERVICE_CODE = '999';

/** CVV2/CVC2: the CVV method with service code 000. */
export function computeCvv2(cvkA: Uint8Array, cvkB: Uint8Array, pan: string, expiryYYMM: string): string;
export function computeCvv2(cvk: CvkPair, pan: string, expiryYYMM: string): string;
export function computeCvv2(...args: unknown[]): string {
  const [cvk, [pan, expiry]] = takeCvk(args);
  return computeCvv(cvk, pan as string, expiry as string, CVV2_SERVICE_CODE);
}

/** iCVV: the CVV method with service code 999. */
export function computeIcvv(cvkA: Uint8Array, cvkB: Uint8Array, pan: string, expiryYYMM: string): string;
export function computeIcvv(cvk: CvkPair, pan: string, expiryYYMM: string): string;
export function computeIcvv(...args: unknown[]): string {
  const [cvk, [pan, expiry]] = takeCvk(args);
  return computeCvv(cvk, pan as string, expiry as string, ICVV_SERVICE_CODE);
}

/** Constant-time comparison of two equal-length digit strings. */
export function digitsEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Verify a 3-digit CVV/CVV2/iCVV (pass the service code that applies). Timing-safe compare. */
export function verifyCvv(cvkA: Uint8Array, cvkB: Uint8Array, pan: string, expiryYYMM: string, serviceCode: string, cvv: string): boolean;
export function verifyCvv(cvk: CvkPair, pan: string, expiryYYMM: string, serviceCode: string, cvv: string): boolean;
export function verifyCvv(...args: unknown[]): boolean {
  const [cvk, [pan, expiry, sc, cvv]] = takeCvk(args);
  if (!isDigits(cvv) || cvv.length !== 3) throw new CryptoInputError('BAD_INPUT', 'CVV to verify must be 3 digits');
  return digitsEqual(computeCvv(cvk, pan as string, expiry as string, sc as string), cvv);
}
