import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { audited, type SecurityModuleAuditEvent } from './audited.ts';
import { securityModuleContract, clientPinBlock, clientReadPinBlock, clientReadValue } from './contract.suite.ts';
import { KEY_TYPES, SECURITY_MODULE_OPERATIONS, SecurityModuleError, type SecurityModule } from './port.ts';
import { SoftwareSecurityModule } from './software/software-security-module.ts';

/** The only shape an event may have: names, key types, an outcome, a boolean, a number. */
function assertEventShape(e: SecurityModuleAuditEvent): void {
  const keys = Object.keys(e).sort();
  assert.ok(keys.every((k) => ['durationUs', 'keyTypes', 'operation', 'outcome', 'result'].includes(k)), `unexpected field in ${keys.join(',')}`);
  assert.ok((SECURITY_MODULE_OPERATIONS as readonly string[]).includes(e.operation), e.operation);
  assert.ok(e.keyTypes.every((t) => (KEY_TYPES as readonly string[]).includes(t)));
  assert.ok(['ok', 'refused', 'error'].includes(e.outcome));
  assert.ok(e.result === undefined || typeof e.result === 'boolean');
  assert.ok(Number.isInteger(e.durationUs) && e.durationUs >= 0);
}

// The whole contract suite through the wrapper: the wrapper is transparent, and every event of that
// run (hundreds of operations, with keys, PINs, PIN blocks, card numbers, CVVs) has the fixed shape.
const contractEvents: SecurityModuleAuditEvent[] = [];
securityModuleContract('software, audited', async () => audited(new SoftwareSecurityModule(randomBytes(32)), (e) => contractEvents.push(e)));

describe('audited()', () => {
  it('recorded every operation of the contract run, each event in the fixed redacted shape', () => {
    assert.ok(contractEvents.length > 100);
    for (const e of contractEvents) assertEventShape(e);
    const seen = new Set(contractEvents.map((e) => e.operation));
    assert.deepEqual(SECURITY_MODULE_OPERATIONS.filter((op) => !seen.has(op)), []);
    assert.ok(contractEvents.some((e) => e.outcome === 'refused'));
    assert.ok(contractEvents.some((e) => e.result === true) && contractEvents.some((e) => e.result === false));
  });

  it('a full run of every operation leaves no PAN, PIN, key, CVV, PIN block or token in the events', async () => {
    const events: SecurityModuleAuditEvent[] = [];
    const sm = audited(new SoftwareSecurityModule(randomBytes(32)), (e) => events.push(e));
    const pan = '4539148803436467';
    const zpkHex = '0123456789ABCDEFFEDCBA9876543210';
    const zekHex = randomBytes(16).toString('hex').toUpperCase();
    const zpkAesHex = randomBytes(16).toString('hex').toUpperCase();
    const hmkHex = randomBytes(32).toString('hex').toUpperCase();
    const secret = `secret-${randomBytes(8).toString('hex')}`;
    const secrets: string[] = [pan, zpkHex, zekHex, zpkAesHex, hmkHex, secret];

    const cvk = await sm.generateKey({ type: 'CVK' });
    const pvk = await sm.generateKey({ type: 'PVK' });
    const tok = await sm.generateKey({ type: 'TOK' });
    const dek = await sm.generateKey({ type: 'DEK' });
    const zpk = await sm.importKey({ type: 'ZPK', components: [zpkHex], kcv: '08D7B4' });
    const zpkAes = await sm.importKey({ type: 'ZPK', algorithm: 'AES', components: [zpkAesHex] });
    const zek = await sm.importKey({ type: 'ZEK', components: [zekHex] });
    const hmk = await sm.importKey({ type: 'HMK', components: [hmkHex] });
    const api = await sm.importSecret(secret);
    for (const k of [cvk, pvk, tok, dek, zpk, zpkAes, zek, hmk, api]) secrets.push(k.keyBlock);
    await sm.keyCheckValue(zpk.keyBlock);
    assert.equal(await sm.verifySecret(api.keyBlock, secret), true);
    assert.equal(await sm.verifyHmac(api.keyBlock, 'm', createHmac('sha256', secret).update('m').digest('base64')), true);
    const stored = await sm.encryptData(dek.keyBlock, pan);
    secrets.push(stored);
    await sm.decryptData(dek.keyBlock, stored);
    secrets.push(await sm.panLookupHash(hmk.keyBlock, pan));

    const method = { kind: 'PVV', pvki: '1' } as const;
    const issued = await sm.generatePin({ pvk: pvk.keyBlock, pan, method });
    const mailer = await sm.translatePin({ storedPinBlock: issued.storedPinBlock, pan, zpk: zpk.keyBlock });
    const pin = clientReadPinBlock(0, mailer, pan, zpkHex);
    const block4 = clientPinBlock(4, pin, pan, zpkAesHex);
    secrets.push(issued.storedPinBlock, mailer, block4, issued.pvv as string);
    assert.equal(await sm.verifyPin({ zpk: zpkAes.keyBlock, pinBlock: block4, format: 4, pan, pvk: pvk.keyBlock, method, pvv: issued.pvv }), true);
    const changed = await sm.importPin({ zpk: zpk.keyBlock, pinBlock: clientPinBlock(0, '4827', pan, zpkHex), format: 0, pan, pvk: pvk.keyBlock, method });
    secrets.push(changed.storedPinBlock, changed.pvv as string);
    const values = await sm.cardSecurityValues({ cvk: cvk.keyBlock, pan, expiryYYMM: '3012', serviceCode: '201', zpk: zpk.keyBlock, which: ['CVV', 'CVV2', 'ICVV'] });
    for (const v of Object.values(values)) secrets.push(v, clientReadValue(v, zpkHex));
    const cvv2 = clientReadValue(values.CVV2 as string, zpkHex);
    assert.equal(await sm.verifyCvv2({ cvk: cvk.keyBlock, pan, expiryYYMM: '3012', cvv2 }), true);
    const d = await sm.generateDcvv2({ cvk: cvk.keyBlock, pan, nowMs: Date.now(), validityMinutes: 5, zpk: zpk.keyBlock });
    const dcvv2 = clientReadValue(d.encryptedValue, zpkHex);
    secrets.push(d.encryptedValue, dcvv2);
    await sm.verifyDcvv2({ cvk: cvk.keyBlock, pan, dcvv2, nowMs: Date.now(), validityMinutes: 5 });
    const token = await sm.tokenizePan({ tok: tok.keyBlock, pan });
    secrets.push(token);
    await sm.detokenizePan({ tok: tok.keyBlock, token });
    const enc = await sm.encryptPanForClient({ zek: zek.keyBlock, pan });
    secrets.push(enc);
    await sm.decryptPanFromClient({ zek: zek.keyBlock, encrypted: enc });
    const bur = await sm.generateKey({ type: 'BUR' });
    const record = await sm.personalizationRecord({
      bur: bur.keyBlock, cvk: cvk.keyBlock, pvk: pvk.keyBlock, reference: 'card-1', pan, expiryYYMM: '3012', serviceCode: '201',
      cardholder: { surname: 'Lovelace', givenNames: 'Ada' }, pin: { method, storedPinBlock: issued.storedPinBlock, pvv: issued.pvv as string },
    });
    secrets.push(record.encryptedRecord);
    const [bulk] = await sm.issueCards({
      pans: [pan], tok: tok.keyBlock, dek: dek.keyBlock, hmk: hmk.keyBlock, pvk: pvk.keyBlock, method, bur: bur.keyBlock, cvk: cvk.keyBlock,
      expiryYYMM: '3012', serviceCode: '201', cardholder: { surname: 'CARDHOLDER' },
    });
    secrets.push(bulk!.encrypted, bulk!.pin!.storedPinBlock, bulk!.record!.encryptedRecord);
    const tracks = await sm.trackDataForClient({
      zek: zek.keyBlock, cvk: cvk.keyBlock, pan, expiryYYMM: '3012', serviceCode: '201', cardholder: { surname: 'Lovelace' }, pin: { kind: 'PVV', pvki: '1', pvv: issued.pvv as string },
    });
    secrets.push(tracks.encryptedTrack1, tracks.encryptedTrack2, tracks.embosserBlockData);
    await sm.verifyPin({ zpk: zpk.keyBlock, pinBlock: 'not a pin block', format: 0, pan, pvk: pvk.keyBlock, method, pvv: issued.pvv }).catch(() => undefined);

    const seen = new Set(events.map((e) => e.operation));
    assert.deepEqual(SECURITY_MODULE_OPERATIONS.filter((op) => !seen.has(op)), []);
    for (const e of events) assertEventShape(e);
    const text = JSON.stringify(events);
    for (const s of secrets) {
      // 3-4 digit values (CVV, PVV) could match a duration by chance: look for them only as whole JSON strings.
      const needle = s.length <= 4 ? JSON.stringify(s) : s;
      assert.ok(!text.toUpperCase().includes(needle.toUpperCase()), 'an audit event contains secret material');
    }
    // Key types come from the key block headers only.
    const vp = events.find((e) => e.operation === 'verifyPin' && e.outcome === 'ok');
    assert.deepEqual(vp?.keyTypes.sort(), ['PVK', 'ZPK']);
    assert.equal(vp?.result, true);
    assert.deepEqual(events.find((e) => e.operation === 'encryptData')?.keyTypes, ['DEK']);
    assert.equal(events.find((e) => e.operation === 'tokenizePan')?.result, undefined);
    assert.deepEqual(events.find((e) => e.operation === 'personalizationRecord')?.keyTypes.sort(), ['BUR', 'CVK', 'PVK']);
    assert.deepEqual(events.find((e) => e.operation === 'trackDataForClient')?.keyTypes.sort(), ['CVK', 'ZEK']);
    const bad = events.filter((e) => e.operation === 'verifyPin').at(-1);
    assert.equal(bad?.outcome, 'refused');
    assert.equal(bad?.result, undefined);
  });

  it('wraps every method generically, separating refusals from failures, and passes errors on', async () => {
    const events: SecurityModuleAuditEvent[] = [];
    const inner = {
      async verifySecret() { return false; },
      async keyCheckValue() { throw new SecurityModuleError('BAD_KEY_BLOCK', 'nope'); },
      async decryptData() { throw new Error('disk on fire'); },
      async futureOperation(x: { zpk: string; pan: string }) { return `${x.pan}!`; },
    } as unknown as SecurityModule & { futureOperation(x: { zpk: string; pan: string }): Promise<string> };
    const sm = audited(inner, (e) => events.push(e)) as typeof inner;
    assert.equal(await sm.verifySecret('EMB1.API.HMAC.x.y.z', 'pw'), false);
    await assert.rejects(sm.keyCheckValue('EMB1.NOPE.x'), SecurityModuleError);
    await assert.rejects(sm.decryptData('EMB1.DEK.AES.a.b.c', 'x'), /disk on fire/);
    assert.equal(await sm.futureOperation({ zpk: 'EMB1.ZPK.3DES.a.b.c', pan: '4111111111111111' }), '4111111111111111!');
    assert.deepEqual(events.map(({ durationUs: _, ...e }) => e), [
      { operation: 'verifySecret', keyTypes: ['API'], outcome: 'ok', result: false },
      { operation: 'keyCheckValue', keyTypes: [], outcome: 'refused' },
      { operation: 'decryptData', keyTypes: ['DEK'], outcome: 'error' },
      { operation: 'futureOperation', keyTypes: ['ZPK'], outcome: 'ok' },
    ]);
    assert.equal((sm as unknown as Record<string, unknown>)['masterKey'], undefined);
    assert.equal(typeof String(sm), 'string');
  });

  it('fails the operation when the sink throws (no unaudited success)', async () => {
    const sm = audited(new SoftwareSecurityModule(randomBytes(32)), () => { throw new Error('audit store down'); });
    await assert.rejects(sm.generateKey({ type: 'ZPK' }), /audit store down/);
  });
});
