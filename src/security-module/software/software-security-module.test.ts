import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SoftwareSecurityModule, isWeakPin } from './software-security-module.ts';
import { securityModuleContract, clientPinBlock, clientReadPinBlock } from '../contract.suite.ts';
import { SecurityModuleError } from '../port.ts';

securityModuleContract('software', async () => new SoftwareSecurityModule(randomBytes(32)));
// The same contract with batch operations on the module's own thread.
securityModuleContract('software, batch thread', async () => new SoftwareSecurityModule(randomBytes(32), { batchThread: true }));

const PAN = '4123456789012345';

async function code(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return e instanceof SecurityModuleError ? e.code : `other: ${String(e)}`; }
  return 'resolved';
}

describe('SoftwareSecurityModule specifics', () => {
  it('refuses a master key of the wrong size', () => {
    assert.throws(() => new SoftwareSecurityModule(randomBytes(16)), SecurityModuleError);
  });

  it('refuses a key block re-labelled as another type, or made under another master key', async () => {
    const master = randomBytes(32);
    const sm = new SoftwareSecurityModule(master);
    const zpk = await sm.generateKey({ type: 'ZPK' });
    const relabelled = zpk.keyBlock.replace('EMB1.ZPK.', 'EMB1.CVK.');
    // A fresh module has no cached clear keys: the block is checked against the master key.
    const fresh = new SoftwareSecurityModule(master);
    assert.equal(await fresh.keyCheckValue(zpk.keyBlock), zpk.kcv);
    assert.equal(await code(fresh.keyCheckValue(relabelled)), 'BAD_KEY_BLOCK');
    assert.equal(await code(sm.keyCheckValue(relabelled)), 'BAD_KEY_BLOCK');
    const other = new SoftwareSecurityModule(randomBytes(32));
    assert.equal(await code(other.keyCheckValue(zpk.keyBlock)), 'BAD_KEY_BLOCK');
  });

  it('stores PINs as EMBP1. + 32 hex, readable by another instance with the same master key only', async () => {
    const master = randomBytes(32);
    const a = new SoftwareSecurityModule(master);
    const pvk = await a.generateKey({ type: 'PVK' });
    const zpkHex = randomBytes(16).toString('hex');
    const zpk = await a.importKey({ type: 'ZPK', components: [zpkHex] });
    const issued = await a.generatePin({ pvk: pvk.keyBlock, pan: PAN, method: { kind: 'PVV', pvki: '1' } });
    assert.match(issued.storedPinBlock, /^EMBP1\.[0-9A-F]{32}$/);
    const again = await a.generatePin({ pvk: pvk.keyBlock, pan: PAN, method: { kind: 'PVV', pvki: '1' } });
    assert.notEqual(again.storedPinBlock, issued.storedPinBlock);

    const b = new SoftwareSecurityModule(master);
    const pin = clientReadPinBlock(0, await b.translatePin({ storedPinBlock: issued.storedPinBlock, pan: PAN, zpk: zpk.keyBlock }), PAN, zpkHex);
    assert.match(pin, /^[0-9]{4}$/);
    const c = new SoftwareSecurityModule(randomBytes(32));
    const zpkC = await c.importKey({ type: 'ZPK', components: [zpkHex] });
    assert.equal(await code(c.translatePin({ storedPinBlock: issued.storedPinBlock, pan: PAN, zpk: zpkC.keyBlock })), 'BAD_PIN_BLOCK');
  });

  it('a PIN stored by importPin round-trips through verifyPin and translatePin', async () => {
    const sm = new SoftwareSecurityModule(randomBytes(32));
    const pvk = await sm.generateKey({ type: 'PVK' });
    const zpkHex = randomBytes(16).toString('hex');
    const zpk = await sm.importKey({ type: 'ZPK', components: [zpkHex] });
    const method = { kind: 'IBM3624', decimalizationTable: '0123456789012345', pinLength: 4 } as const;
    const issued = await sm.importPin({ zpk: zpk.keyBlock, pinBlock: clientPinBlock(3, '80417', PAN, zpkHex), format: 3, pan: PAN, pvk: pvk.keyBlock, method });
    assert.equal(issued.offset?.length, 5);
    assert.equal(await sm.verifyPin({
      zpk: zpk.keyBlock, pinBlock: clientPinBlock(1, '80417', PAN, zpkHex), format: 1, pan: PAN, pvk: pvk.keyBlock, method, offset: issued.offset,
    }), true);
  });

  it('classifies weak PINs', () => {
    for (const p of ['0000', '1111', '999999', '1234', '3456', '7890', '8901', '4321', '0987', '123456789012']) assert.equal(isWeakPin(p), true, p);
    for (const p of ['1235', '4827', '1212', '0001', '9876543', '2468']) assert.equal(isWeakPin(p), p === '9876543', p);
  });

  it('reuses cipher objects per key block (mass issuance stays cheap)', async () => {
    const sm = new SoftwareSecurityModule(randomBytes(32));
    const cvk = await sm.generateKey({ type: 'CVK' });
    const zpk = await sm.generateKey({ type: 'ZPK' });
    const pvk = await sm.generateKey({ type: 'PVK' });
    const tok = await sm.generateKey({ type: 'TOK' });
    const card = async () => {
      await sm.tokenizePan({ tok: tok.keyBlock, pan: PAN });
      await sm.cardSecurityValues({ cvk: cvk.keyBlock, pan: PAN, expiryYYMM: '3012', serviceCode: '201', zpk: zpk.keyBlock, which: ['CVV', 'CVV2', 'ICVV'] });
      await sm.generatePin({ pvk: pvk.keyBlock, pan: PAN, method: { kind: 'PVV', pvki: '1' } });
    };
    for (let i = 0; i < 200; i++) await card();
    const n = 2000;
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) await card();
    const used = process.cpuUsage(start);
    const usPerCard = (used.user + used.system) / n;
    // Generous bound for slow CI machines; the benchmark reports the real figure (well under 50 µs).
    assert.ok(usPerCard < 250, `${usPerCard.toFixed(1)} µs CPU per card`);
  });
});
