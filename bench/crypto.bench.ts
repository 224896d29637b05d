/**
 * Micro-benchmarks for src/crypto. Run: node --import tsx bench/crypto.bench.ts
 *
 * Each operation runs for a fixed time slice after a warm-up; the table shows
 * ops/s, µs/op and, where meaningful, the ratio to the cost of the raw block
 * cipher calls the operation needs (measured with reused cipher objects, the
 * fastest way node:crypto can do them). Keys are prepared once (BlockCipher,
 * CvkPair, Ff1), as the security module caches them per key handle.
 */
import { createCipheriv, randomBytes, randomInt } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  createAesCipher, createTdesCipher, prepareCvk, computeCvv, computeCvv2, computeIcvv, computePvv, verifyPvv,
  ibm3624Offset, ibm3624Verify, ibm3624ValidationData, DEFAULT_DECIMALIZATION_TABLE, encryptPinBlock,
  Ff1, tokenizePan, detokenizePan, generateCardNumber, computeDcvv2, encryptPanForClient, secureRandomBytes,
} from '../src/crypto/index.ts';

export interface BenchResult { name: string; opsPerSec: number; usPerOp: number; note?: string }

/** µs per call of `fn` over one time slice. */
function slice(fn: () => unknown, ms: number): number {
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(ms * 1e6));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 50; i++) fn();
    ops += 50;
    now = process.hrtime.bigint();
  }
  return Number(now - start) / 1000 / ops;
}

/**
 * Measure `fn` and (optionally) the raw cipher calls it needs, interleaved in
 * 6 alternating sub-slices so that CPU frequency drift or noisy neighbours hit
 * both equally; the fastest sub-slice of each is kept.
 */
function measure(fn: () => unknown, sliceMs: number, raw?: () => unknown): { us: number; rawUs?: number } {
  const warmEnd = performance.now() + sliceMs / 6;
  while (performance.now() < warmEnd) { for (let i = 0; i < 50; i++) { fn(); raw?.(); } }
  let best = Infinity;
  let bestRaw = Infinity;
  for (let r = 0; r < 6; r++) {
    best = Math.min(best, slice(fn, sliceMs / 6));
    if (raw) bestRaw = Math.min(bestRaw, slice(raw, sliceMs / 6));
  }
  return raw ? { us: best, rawUs: bestRaw } : { us: best };
}

export async function runCryptoBench(options: { sliceMs?: number } = {}): Promise<BenchResult[]> {
  const sliceMs = options.sliceMs ?? 360;
  const tdesKey = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');
  const aes128Key = randomBytes(16);
  const aes256Key = randomBytes(32);
  const tdes = createTdesCipher(tdesKey);
  const aes128 = createAesCipher(aes128Key);
  const aes256 = createAesCipher(aes256Key);
  const cvk = prepareCvk(randomBytes(8), randomBytes(8));
  const pvk = createTdesCipher(randomBytes(16));
  const ff1 = new Ff1(aes256);
  const gcmKey = randomBytes(32);
  const blk8 = randomBytes(8);
  const blk16 = randomBytes(16);
  const pan = '4123456789012345';
  const pin = '1234';
  const vd = ibm3624ValidationData(pan);
  const offset = ibm3624Offset(pvk, vd, DEFAULT_DECIMALIZATION_TABLE, pin);
  const pvv = computePvv(pvk, pan, '1', pin);
  const token = tokenizePan(ff1, pan);
  const tweak = Uint8Array.from([1, 2, 3, 4, 5, 6, 7]);
  const digits = '123456789012345'.split('').map(Number);
  const ffCt = ff1.encryptNumerals(digits, tweak, 10);

  // Raw baselines: node Cipheriv objects created once, one update() per block —
  // the fastest way node:crypto can do the cipher calls an operation needs.
  const rawCipher = (name: string, key: Buffer) => createCipheriv(name, key, null).setAutoPadding(false);
  const rawDes = rawCipher('des-ede3-ecb', Buffer.concat([tdesKey, tdesKey.subarray(0, 8)]));
  const rawAes128 = rawCipher('aes-128-ecb', aes128Key);
  const rawAes256 = rawCipher('aes-256-ecb', aes256Key);
  const des1 = () => rawDes.update(blk8);
  const des2 = () => { rawDes.update(blk8); return rawDes.update(blk8); };
  const aes2 = () => { rawAes128.update(blk16); return rawAes128.update(blk16); };
  const aes10 = () => { for (let i = 0; i < 9; i++) rawAes256.update(blk16); return rawAes256.update(blk16); };
  // GCM IV from the pooled CSPRNG helper (randomBytes(12) alone costs ~1-2 µs per call).
  const gcm = (data: string) => {
    const iv = secureRandomBytes(12);
    const g = createCipheriv('aes-256-gcm', gcmKey, iv);
    const ct = Buffer.concat([g.update(data, 'latin1'), g.final()]);
    return [iv, ct, g.getAuthTag()];
  };

  const results: BenchResult[] = [];
  const add = (name: string, m: { us: number; rawUs?: number }, note?: string) => {
    const ratio = m.rawUs ? `${(m.us / m.rawUs).toFixed(2)}× raw (${m.rawUs.toFixed(2)} µs)` : '';
    const text = [note, ratio].filter(Boolean).join(' — ');
    results.push({ name, opsPerSec: Math.round(1e6 / m.us), usPerOp: m.us, ...(text ? { note: text } : {}) });
  };
  add('raw des-ede3 block encrypt (reused cipher)', measure(des1, sliceMs), 'baseline');
  add('raw aes-128-ecb block encrypt (reused cipher)', measure(() => rawAes128.update(blk16), sliceMs), 'baseline');
  add('raw aes-256-ecb block encrypt (reused cipher)', measure(() => rawAes256.update(blk16), sliceMs), 'baseline');
  add('createCipheriv des-ede3 per call + 1 block', measure(() => rawCipher('des-ede3-ecb', Buffer.concat([tdesKey, tdesKey.subarray(0, 8)])).update(blk8), sliceMs, des1),
    'why ciphers are cached');
  add('CVV', measure(() => computeCvv(cvk, pan, '2812', '101'), sliceMs, des2), 'needs 2 DES');
  add('CVV2', measure(() => computeCvv2(cvk, pan, '2812'), sliceMs, des2), 'needs 2 DES');
  add('iCVV', measure(() => computeIcvv(cvk, pan, '2812'), sliceMs, des2), 'needs 2 DES');
  add('dCVV2', measure(() => computeDcvv2(cvk, pan, 29_000_000), sliceMs, des2), 'needs 2 DES');
  add('PVV compute', measure(() => computePvv(pvk, pan, '1', pin), sliceMs, des1), 'needs 1 TDES');
  add('PVV verify', measure(() => verifyPvv(pvk, pan, '1', pin, pvv), sliceMs, des1), 'needs 1 TDES');
  add('IBM 3624 offset + verify', measure(() => {
    ibm3624Offset(pvk, vd, DEFAULT_DECIMALIZATION_TABLE, pin);
    return ibm3624Verify(pvk, vd, DEFAULT_DECIMALIZATION_TABLE, pin, offset);
  }, sliceMs, des2), 'needs 2 TDES');
  add('PIN block format 0 build + encrypt', measure(() => encryptPinBlock(tdes, 0, pin, pan), sliceMs, des1), 'needs 1 TDES');
  add('PIN block format 4 build + encrypt', measure(() => encryptPinBlock(aes128, 4, pin, pan), sliceMs, aes2), 'needs 2 AES + 8 random bytes');
  add('FF1 encrypt (radix 10, 15 digits, AES-256)', measure(() => ff1.encryptNumerals(digits, tweak, 10), sliceMs, aes10), 'needs 10 AES');
  add('FF1 decrypt (radix 10, 15 digits, AES-256)', measure(() => ff1.decryptNumerals(ffCt, tweak, 10), sliceMs, aes10), 'needs 10 AES');
  add('tokenize PAN', measure(() => tokenizePan(ff1, pan), sliceMs, aes10), 'needs 10 AES (FF1 radix 36 x 9)');
  add('detokenize PAN', measure(() => detokenizePan(ff1, token), sliceMs, aes10), 'needs 10 AES');
  add('client PAN encryption (2 TDES blocks)', measure(() => encryptPanForClient(tdes, pan), sliceMs, des1), 'needs 1 TDES call on 2 blocks');
  add('card number generation (16 digits)', measure(() => generateCardNumber('412345', 16), sliceMs), 'crypto.randomInt per digit');
  add('AES-256-GCM encrypt of a PAN (random IV)', measure(() => gcm(pan), sliceMs), 'node:crypto directly');

  const massCard = () => {
    const number = generateCardNumber('412345', 16);
    const tok = tokenizePan(ff1, number);
    const cvv = computeCvv(cvk, number, '3012', '201');
    const cvv2 = computeCvv2(cvk, number, '3012');
    const icvv = computeIcvv(cvk, number, '3012');
    const p = String(randomInt(10)) + randomInt(10) + randomInt(10) + randomInt(10);
    const pv = computePvv(pvk, number, '1', p);
    const off = ibm3624Offset(pvk, ibm3624ValidationData(number), DEFAULT_DECIMALIZATION_TABLE, p);
    return [tok, cvv, cvv2, icvv, pv, off, gcm(number)];
  };
  const massRaw = () => { des2(); des2(); des2(); des2(); aes10(); return gcm(pan); };
  const mass = measure(massCard, sliceMs * 2, massRaw);
  const cpuStart = process.cpuUsage();
  const n = 20_000;
  for (let i = 0; i < n; i++) massCard();
  const cpu = process.cpuUsage(cpuStart);
  const cpuUs = (cpu.user + cpu.system) / n;
  add('mass-issuance card (composite)', mass,
    `number+token+CVV+CVV2+iCVV+PIN+PVV+offset+GCM; CPU ${cpuUs.toFixed(1)} µs/card over ${n} cards (target < 50); raw = 8 DES + 10 AES + GCM`);
  return results;
}

function printTable(results: BenchResult[]): void {
  const w = Math.max(...results.map((r) => r.name.length));
  console.log(`${'operation'.padEnd(w)}  ${'ops/s'.padStart(10)}  ${'µs/op'.padStart(8)}  note`);
  for (const r of results) {
    console.log(`${r.name.padEnd(w)}  ${r.opsPerSec.toLocaleString('en-US').padStart(10)}  ${r.usPerOp.toFixed(2).padStart(8)}  ${r.note ?? ''}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t0 = performance.now();
  printTable(await runCryptoBench());
  console.log(`\n(total ${((performance.now() - t0) / 1000).toFixed(1)} s, node ${process.version})`);
}
