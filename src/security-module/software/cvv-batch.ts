/**
 * The Visa CVV method (crypto/cvv.ts) for several values of one card at once — CVV, CVV2 and iCVV
 * differ only in the service code — with one cipher call per step for all of them instead of one
 * per value (cvvBatchMany: for many cards at once), and the client encryption of all of them in
 * one more call. ECB encrypts each 8-byte block on its own, so encrypting n blocks in one call
 * gives exactly the n single-block results; the values are identical to computeCvv's (checked
 * against it in cvv-batch.test.ts).
 *
 *   for each service code i:  D_i = PAN || expiry || sc_i, right-padded with '0' to 32 digits
 *   R1 = DES(CVK A, D1_1 | D1_2 | …)               (one call, n blocks)
 *   R2 = TDES(CVK A||B, (R1 XOR D2_1 | D2_2 | …))  (one call, n blocks)
 *   value_i = first 3 digits of decimalise(R2 block i)
 *
 * Inputs are validated by the caller (the security module) before this runs.
 */
import { Buffer } from 'node:buffer';
import { decimalize, type BlockCipher, type CvkPair } from '../../crypto/index.ts';

export function cvvBatch(cvk: CvkPair, pan: string, expiryYYMM: string, serviceCodes: readonly string[]): string[] {
  return cvvBatchMany(cvk, [{ pan, expiryYYMM, serviceCodes }])[0] as string[];
}

/** cvvBatch for many cards at once: still one cipher call per step, over every card's values. */
export function cvvBatchMany(cvk: CvkPair, cards: ReadonlyArray<{ pan: string; expiryYYMM: string; serviceCodes: readonly string[] }>): string[][] {
  let total = 0;
  for (const c of cards) total += c.serviceCodes.length;
  if (total === 0) return cards.map(() => []);
  const d1 = Buffer.allocUnsafe(8 * total);
  const d2 = Buffer.allocUnsafe(8 * total);
  let at = 0;
  for (const { pan, expiryYYMM, serviceCodes } of cards) {
    const digits = pan + expiryYYMM;
    for (const sc of serviceCodes) {
      // D = PAN || expiry || service code, right-padded with '0' to 32 digits (all decimal digits).
      const all = digits + sc;
      for (let k = 0; k < 16; k++) {
        const hi = 2 * k < all.length ? all.charCodeAt(2 * k) - 48 : 0;
        const lo = 2 * k + 1 < all.length ? all.charCodeAt(2 * k + 1) - 48 : 0;
        (k < 8 ? d1 : d2)[at + (k & 7)] = (hi << 4) | lo;
      }
      at += 8;
    }
  }
  const r1 = cvk.a.encryptBlock(d1);
  for (let j = 0; j < r1.length; j++) r1[j] = (r1[j] as number) ^ (d2[j] as number);
  const r2 = cvk.ab.encryptBlock(r1);
  at = 0;
  const out: string[][] = [];
  for (const { serviceCodes } of cards) {
    const values: string[] = [];
    for (let i = 0; i < serviceCodes.length; i++, at += 8) values.push(decimalize(r2.subarray(at, at + 8), 3));
    out.push(values);
  }
  d1.fill(0);
  d2.fill(0);
  r1.fill(0);
  r2.fill(0);
  return out;
}

/**
 * Card security values for a client: each value right-padded with 'F' to 16 hex digits, all
 * encrypted under the client's 3DES key in one ECB call, returned as 16 uppercase hex digits each
 * (the encoding of crypto/client-encryption.ts encryptCvvForClient).
 */
export function encryptValuesForClient(key: BlockCipher, values: readonly string[]): string[] {
  let clear = '';
  for (const v of values) clear += v.padEnd(16, 'F');
  const ct = key.encryptBlock(Buffer.from(clear, 'hex')).toString('hex').toUpperCase();
  const out = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = ct.slice(16 * i, 16 * i + 16);
  return out;
}
