/**
 * The Visa CVV method (crypto/cvv.ts) for several values of one card at once — CVV, CVV2 and iCVV
 * differ only in the service code — with one cipher call per step for all of them instead of one
 * per value, and the client encryption of all of them in one more call. ECB encrypts each 8-byte
 * block on its own, so encrypting n blocks in one call gives exactly the n single-block results;
 * the values are identical to computeCvv's (checked against it in cvv-batch.test.ts).
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
  const n = serviceCodes.length;
  const d1 = Buffer.allocUnsafe(8 * n);
  const d2 = Buffer.allocUnsafe(8 * n);
  for (let i = 0; i < n; i++) {
    const d = Buffer.from((pan + expiryYYMM + (serviceCodes[i] as string)).padEnd(32, '0'), 'hex');
    d.copy(d1, 8 * i, 0, 8);
    d.copy(d2, 8 * i, 8, 16);
  }
  const r1 = cvk.a.encryptBlock(d1);
  for (let j = 0; j < r1.length; j++) r1[j] = (r1[j] as number) ^ (d2[j] as number);
  const r2 = cvk.ab.encryptBlock(r1);
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = decimalize(r2.subarray(8 * i, 8 * i + 8), 3);
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
