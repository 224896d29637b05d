/**
 * Visa PIN Verification Value (PVV).
 *
 *   TSP = 11 rightmost PAN digits excluding the check digit
 *         || PVKI (1 digit, 0-9) || 4 leftmost PIN digits        (16 digits)
 *   C   = TDES-ECB(PVK pair, TSP as 8 BCD bytes)
 *   PVV = first 4 digits of decimalise(C) (digits first, then A-F minus 10)
 *
 * PVK pair = double-length TDES key (PVK A || PVK B); 24-byte keys and
 * single-length keys are also accepted by the TDES helper. Cost: one TDES call.
 */
import { Buffer } from 'node:buffer';
import { CryptoInputError } from './errors.ts';
import { asTdes, type KeyInput } from './cipher.ts';
import { decimalize, isDigits } from './decimalize.ts';
import { digitsEqual } from './cvv.ts';

function checkPvvInputs(pan: unknown, pvki: unknown, pin: unknown): void {
  if (!isDigits(pan) || pan.length < 12 || pan.length > 19) throw new CryptoInputError('BAD_PAN', 'PAN must be 12 to 19 digits');
  if (!isDigits(pvki) || pvki.length !== 1) throw new CryptoInputError('BAD_INPUT', 'PVKI must be one digit 0-9');
  if (!isDigits(pin) || pin.length < 4 || pin.length > 12) throw new CryptoInputError('BAD_PIN', 'PIN must be 4 to 12 digits');
}

/** Compute the 4-digit Visa PVV. */
export function computePvv(pvk: KeyInput, pan: string, pvki: string, pin: string): string {
  return computePvvs(pvk, [pan], pvki, [pin])[0] as string;
}

/** The PVVs of many cards (`pins[i]` for `pans[i]`) in one TDES call: ECB encrypts each TSP on its own. */
export function computePvvs(pvk: KeyInput, pans: readonly string[], pvki: string, pins: readonly string[]): string[] {
  if (pans.length !== pins.length) throw new CryptoInputError('BAD_INPUT', 'one PIN per PAN');
  if (pans.length === 0) return [];
  let tsps = '';
  for (let i = 0; i < pans.length; i++) {
    const pan = pans[i] as string;
    const pin = pins[i] as string;
    checkPvvInputs(pan, pvki, pin);
    tsps += pan.slice(-12, -1) + pvki + pin.slice(0, 4);
  }
  const data = Buffer.from(tsps, 'hex');
  const c = asTdes(pvk).encryptBlock(data);
  data.fill(0);
  const out: string[] = [];
  for (let i = 0; i < pans.length; i++) out.push(decimalize(c.subarray(8 * i, 8 * i + 8), 4));
  c.fill(0);
  return out;
}

/** Verify a PIN against a stored PVV (timing-safe comparison). */
export function verifyPvv(pvk: KeyInput, pan: string, pvki: string, pin: string, pvv: string): boolean {
  if (!isDigits(pvv) || pvv.length !== 4) throw new CryptoInputError('BAD_INPUT', 'PVV to verify must be 4 digits');
  return digitsEqual(computePvv(pvk, pan, pvki, pin), pvv);
}
