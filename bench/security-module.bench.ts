/**
 * Benchmarks of the software security module, through its async interface (key blocks in, as the
 * modules call it). Run: node --import tsx bench/security-module.bench.ts
 *
 * Each operation runs sequentially (await per call) for a time slice after a warm-up; the figures
 * include the promise round trip and the key-block cache look-up. The mass-issuance composite is
 * what one card of a batch costs: card number, PAN token, CVV + CVV2 + iCVV under the bureau ZPK, a
 * PIN with its PVV (and an IBM 3624 variant), the stored-PAN encryption and the look-up hash; its
 * CPU time (process.cpuUsage, user + system) per card is reported beside the wall time.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { SoftwareSecurityModule } from '../src/security-module/software/software-security-module.ts';
import type { PinVerificationMethod } from '../src/security-module/port.ts';
import { encryptPinBlock, generateCardNumber } from '../src/crypto/index.ts';

export interface SecurityModuleBenchResult { name: string; opsPerSec: number; usPerOp: number; cpuUsPerOp?: number }

/**
 * Runs `fn` sequentially for `ms` after a warm-up, in 5 sub-slices; reports the fastest sub-slice
 * (wall and CPU time per op), so that a noisy neighbour on a shared machine skews the figure less.
 */
async function measure(name: string, fn: () => Promise<unknown>, ms: number): Promise<SecurityModuleBenchResult> {
  const warmEnd = performance.now() + ms / 4;
  while (performance.now() < warmEnd) for (let i = 0; i < 20; i++) await fn();
  let bestWall = Infinity;
  let bestCpu = Infinity;
  for (let r = 0; r < 5; r++) {
    let ops = 0;
    const cpu = process.cpuUsage();
    const start = performance.now();
    const end = start + ms / 5;
    let now = start;
    while (now < end) {
      for (let i = 0; i < 50; i++) await fn();
      ops += 50;
      now = performance.now();
    }
    const used = process.cpuUsage(cpu);
    bestWall = Math.min(bestWall, ((now - start) * 1000) / ops);
    bestCpu = Math.min(bestCpu, (used.user + used.system) / ops);
  }
  return { name, opsPerSec: Math.round(1e6 / bestWall), usPerOp: round(bestWall), cpuUsPerOp: round(bestCpu) };
}

const round = (x: number) => Math.round(x * 100) / 100;

export async function runSecurityModuleBench(options: { sliceMs?: number } = {}): Promise<SecurityModuleBenchResult[]> {
  const ms = options.sliceMs ?? 1200;
  const sm = new SoftwareSecurityModule(randomBytes(32));
  const zpkClear = randomBytes(16);
  const cvk = (await sm.generateKey({ type: 'CVK' })).keyBlock;
  const pvk = (await sm.generateKey({ type: 'PVK' })).keyBlock;
  const tok = (await sm.generateKey({ type: 'TOK' })).keyBlock;
  const dek = (await sm.generateKey({ type: 'DEK' })).keyBlock;
  const hmk = (await sm.generateKey({ type: 'HMK' })).keyBlock;
  const zpk = (await sm.importKey({ type: 'ZPK', components: [zpkClear.toString('hex')] })).keyBlock;
  const pan = '4123456789012345';
  const pvv: PinVerificationMethod = { kind: 'PVV', pvki: '1' };
  const ibm: PinVerificationMethod = { kind: 'IBM3624', decimalizationTable: '0123456789012345', pinLength: 4 };
  const imported = await sm.importPin({
    zpk, pinBlock: encryptPinBlock(zpkClear, 0, '4827', pan).toString('hex'), format: 0, pan, pvk, method: pvv,
  });
  const pinBlock = encryptPinBlock(zpkClear, 0, '4827', pan).toString('hex');
  const token = await sm.tokenizePan({ tok, pan });

  const card = async (method: PinVerificationMethod) => {
    const number = generateCardNumber('412345', 16);
    await sm.tokenizePan({ tok, pan: number });
    await sm.cardSecurityValues({ cvk, pan: number, expiryYYMM: '3012', serviceCode: '201', zpk, which: ['CVV', 'CVV2', 'ICVV'] });
    await sm.generatePin({ pvk, pan: number, method });
    await sm.encryptData(dek, number);
    await sm.panLookupHash(hmk, number);
  };

  const results: SecurityModuleBenchResult[] = [];
  results.push(await measure('cardSecurityValues CVV+CVV2+iCVV', () =>
    sm.cardSecurityValues({ cvk, pan, expiryYYMM: '3012', serviceCode: '201', zpk, which: ['CVV', 'CVV2', 'ICVV'] }), ms));
  results.push(await measure('verifyPin format 0 (PVV)', () =>
    sm.verifyPin({ zpk, pinBlock, format: 0, pan, pvk, method: pvv, pvv: imported.pvv }), ms));
  results.push(await measure('generatePin PVV', () => sm.generatePin({ pvk, pan, method: pvv }), ms));
  results.push(await measure('tokenizePan', () => sm.tokenizePan({ tok, pan }), ms));
  results.push(await measure('detokenizePan', () => sm.detokenizePan({ tok, token }), ms));
  results.push(await measure('mass-issuance card (PVV)', () => card(pvv), ms * 1.5));
  results.push(await measure('mass-issuance card (IBM 3624)', () => card(ibm), ms));
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runSecurityModuleBench();
  console.log('security module (software), sequential awaits, one core');
  console.log('operation'.padEnd(36) + 'ops/s'.padStart(10) + 'µs/op'.padStart(10) + 'CPU µs/op'.padStart(12));
  for (const r of results) {
    console.log(r.name.padEnd(36) + String(r.opsPerSec).padStart(10) + r.usPerOp.toFixed(2).padStart(10) + (r.cpuUsPerOp?.toFixed(2) ?? '').padStart(12));
  }
  const card = results.find((r) => r.name === 'mass-issuance card (PVV)');
  if (card?.cpuUsPerOp !== undefined) {
    console.log(`mass-issuance card: ${card.cpuUsPerOp.toFixed(1)} µs CPU per card (budget 50 µs): ${card.cpuUsPerOp < 50 ? 'OK' : 'OVER BUDGET'}`);
  }
}
