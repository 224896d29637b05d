/**
 * End to end: keys into the security module, PINs generated, one personalization record per
 * card built and encrypted inside the module, a file per organization + logo written, then the
 * file decoded as the bureau does and every field checked against the reference primitives.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { SoftwareSecurityModule } from '../../security-module/software/software-security-module.ts';
import type { PersonalizationRecord, PinVerificationMethod, SecurityModule } from '../../security-module/port.ts';
import {
  computeCvv, computeCvv2, computeIcvv, decryptPinBlock, generateCardNumber, ibm3624ValidationData, ibm3624Verify,
  prepareCvk, verifyPvv,
} from '../../crypto/index.ts';
import { parseDiscretionaryData, parseTrack1, parseTrack2, parseTrack2Equivalent } from '../../crypto/track-data.ts';
import { FolderFileStore, PersonalizationFileWriter, decodePersonalizationFile, type BureauKey } from './index.ts';

const dirs: string[] = [];
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

interface Card { pan: string; surname: string; given: string; expiry: string; serviceCode: string }
const CARDS: Card[] = [
  { pan: generateCardNumber('412345', 16), surname: 'Lovelace', given: 'Ada', expiry: '3012', serviceCode: '201' },
  { pan: generateCardNumber('412345', 16), surname: 'Núñez García', given: 'José María', expiry: '3106', serviceCode: '201' },
  { pan: generateCardNumber('412345', 19), surname: 'Hopper', given: 'Grace Brewster Murray', expiry: '2909', serviceCode: '101' },
];

async function setUp(sm: SecurityModule, burAlgorithm: '3DES' | 'AES') {
  const clear = { cvk: randomBytes(16), pvk: randomBytes(16), bur: randomBytes(burAlgorithm === '3DES' ? 16 : 32) };
  const cvk = await sm.importKey({ type: 'CVK', components: [clear.cvk.toString('hex')] });
  const pvk = await sm.importKey({ type: 'PVK', components: [clear.pvk.toString('hex')] });
  const bur = await sm.importKey({ type: 'BUR', algorithm: burAlgorithm, components: [clear.bur.toString('hex')] });
  return { clear, cvk, pvk, bur };
}

async function issue(sm: SecurityModule, keys: Awaited<ReturnType<typeof setUp>>, method: PinVerificationMethod) {
  const records: PersonalizationRecord[] = [];
  const issued = [];
  for (const [i, c] of CARDS.entries()) {
    const pin = await sm.generatePin({ pvk: keys.pvk.keyBlock, pan: c.pan, method });
    issued.push(pin);
    records.push(await sm.personalizationRecord({
      bur: keys.bur.keyBlock, cvk: keys.cvk.keyBlock, pvk: keys.pvk.keyBlock, reference: `card-${i + 1}`,
      pan: c.pan, expiryYYMM: c.expiry, serviceCode: c.serviceCode, cardholder: { surname: c.surname, givenNames: c.given },
      ...(i === 0 ? { embossLine2: 'Analytical Engines Ltd' } : {}),
      pin: { method, storedPinBlock: pin.storedPinBlock, ...(pin.pvv ? { pvv: pin.pvv } : { offset: pin.offset as string }) },
    }));
  }
  return { records, issued };
}

async function tempDir() {
  const d = await mkdtemp(join(tmpdir(), 'emboss-perso-e2e-'));
  dirs.push(d);
  return d;
}

describe('personalization end to end', () => {
  it('PVV logo, 3DES bureau key: every field of every record decodes and verifies', async () => {
    const sm = new SoftwareSecurityModule(randomBytes(32));
    const keys = await setUp(sm, '3DES');
    const method: PinVerificationMethod = { kind: 'PVV', pvki: '1' };
    const { records, issued } = await issue(sm, keys, method);
    const folder = await tempDir();
    const writer = new PersonalizationFileWriter({ store: new FolderFileStore(folder) });
    const written = await writer.writeBatch({ organization: '100', logo: '001', records });

    const raw = await readFile(join(folder, written.name));
    const text = raw.toString('latin1');
    for (const c of CARDS) assert.ok(!text.includes(c.pan) && !text.includes(c.pan.slice(-10)), 'no card number in the file');

    const bureauKey: BureauKey = { algorithm: '3DES', key: keys.clear.bur };
    const file = await decodePersonalizationFile(raw, { bureauKey });
    assert.equal(file.header.organization, '100');
    assert.equal(file.header.logo, '001');
    assert.equal(file.header.recordCount, 3);
    assert.equal(file.trailer.recordCount, 3);
    assert.equal(file.trailer.sha256, written.sha256);
    assert.equal(file.header.cipher, '3DES-CBC');
    assert.equal(file.header.bureauKcv, keys.bur.kcv);
    assert.equal(file.records.length, 3);

    const cvk = prepareCvk(keys.clear.cvk);
    for (const [i, r] of file.records.entries()) {
      const c = CARDS[i] as Card;
      const f = r.fields;
      assert.ok(f);
      assert.equal(r.reference, `card-${i + 1}`);
      assert.equal(f.pan, c.pan);
      assert.equal(f.embossedPan.replace(/ /g, ''), c.pan);
      assert.equal(f.expiryYYMM, c.expiry);
      assert.equal(f.embossedExpiry, `${c.expiry.slice(2)}/${c.expiry.slice(0, 2)}`);
      assert.equal(f.serviceCode, c.serviceCode);
      const t1 = parseTrack1(f.track1);
      const t2 = parseTrack2(f.track2);
      for (const t of [t1, t2]) {
        assert.equal(t.pan, c.pan);
        assert.equal(t.expiryYYMM, c.expiry);
        assert.equal(t.serviceCode, c.serviceCode);
      }
      assert.equal(f.track2.length - 2, 37, 'track 2 filled to 37 characters between the sentinels');
      assert.equal(t1.discretionary, t2.discretionary);
      const dd = parseDiscretionaryData(t2.discretionary, { kind: 'PVV' });
      assert.equal(dd.cvv, computeCvv(cvk, c.pan, c.expiry, c.serviceCode), 'stripe CVV verifies under the card\'s CVK');
      assert.equal(dd.pvki, '1');
      assert.equal(dd.pvv, issued[i]?.pvv);
      assert.match(dd.rest, /^0*$/);
      const chip = parseTrack2Equivalent(f.chipTrack2);
      assert.equal(chip.pan, c.pan);
      assert.equal(chip.serviceCode, c.serviceCode);
      const chipDd = parseDiscretionaryData(chip.discretionary, { kind: 'PVV' });
      assert.equal(chipDd.cvv, computeIcvv(cvk, c.pan, c.expiry), 'chip carries the iCVV');
      assert.equal(chipDd.pvv, dd.pvv);
      assert.equal(f.cvv2, computeCvv2(cvk, c.pan, c.expiry));
      assert.equal(f.pinBlockFormat, '0');
      const pin = decryptPinBlock(keys.clear.bur, 0, Buffer.from(f.pinBlock, 'hex'), c.pan);
      assert.equal(pin.length, 4);
      assert.ok(verifyPvv(keys.clear.pvk, c.pan, '1', pin, dd.pvv as string), 'the mailer PIN matches the track PVV');
    }
    const [f1, f2, f3] = file.records.map((r) => r.fields);
    assert.equal(f1?.embossLine1, 'ADA LOVELACE');
    assert.equal(f1?.embossLine2, 'ANALYTICAL ENGINES LTD');
    assert.equal(parseTrack1(f1?.track1 as string).name, 'LOVELACE/ADA');
    assert.equal(f2?.embossLine1, 'JOSE MARIA NUNEZ GARCIA');
    assert.equal(parseTrack1(f2?.track1 as string).name, 'NUNEZ GARCIA/JOSE MARIA');
    assert.equal(f3?.embossLine2, '');
    assert.equal(parseTrack1(f3?.track1 as string).name, 'HOPPER/GRACE BREWSTER MURR');
    assert.equal(f3?.pan.length, 19);

    // Wrong bureau key: refused by its check value before anything is decrypted.
    await assert.rejects(decodePersonalizationFile(raw, { bureauKey: { algorithm: '3DES', key: randomBytes(16) } }), /check value/);
  });

  it('IBM 3624 logo, AES bureau key, PGP layer: offset on the stripe, format 4 PIN mailer', async () => {
    const sm = new SoftwareSecurityModule(randomBytes(32));
    const keys = await setUp(sm, 'AES');
    const method: PinVerificationMethod = { kind: 'IBM3624', decimalizationTable: '0123456789012345', pinLength: 4 };
    const { records, issued } = await issue(sm, keys, method);
    const pgpKeys = await openpgp.generateKey({ userIDs: [{ name: 'Card Bureau' }], format: 'armored' });
    const folder = await tempDir();
    const writer = new PersonalizationFileWriter({ store: new FolderFileStore(folder), pgpPublicKey: pgpKeys.publicKey });
    const written = await writer.writeBatch({ organization: '100', logo: '002', records });
    assert.match(written.name, /^EMB_100_002_[0-9]{14}_0001\.txt\.pgp$/);

    const file = await decodePersonalizationFile(await writer.read(written.name), {
      pgpPrivateKey: pgpKeys.privateKey, bureauKey: { algorithm: 'AES', key: keys.clear.bur.toString('hex') },
    });
    assert.equal(file.pgp, true);
    assert.equal(file.header.cipher, 'AES-CBC');
    assert.equal(file.header.recordCount, 3);
    const cvk = prepareCvk(keys.clear.cvk);
    for (const [i, r] of file.records.entries()) {
      const c = CARDS[i] as Card;
      const f = r.fields;
      assert.ok(f);
      const dd = parseDiscretionaryData(parseTrack2(f.track2).discretionary, { kind: 'IBM3624', offsetLength: 4 });
      assert.equal(dd.offset, issued[i]?.offset);
      assert.equal(dd.cvv, computeCvv(cvk, c.pan, c.expiry, c.serviceCode));
      assert.equal(parseDiscretionaryData(parseTrack2Equivalent(f.chipTrack2).discretionary, { kind: 'IBM3624', offsetLength: 4 }).cvv, computeIcvv(cvk, c.pan, c.expiry));
      assert.equal(f.pinBlockFormat, '4');
      const pin = decryptPinBlock(keys.clear.bur, 4, Buffer.from(f.pinBlock, 'hex'), c.pan);
      assert.ok(ibm3624Verify(keys.clear.pvk, ibm3624ValidationData(c.pan), method.decimalizationTable, pin, dd.offset as string), 'the mailer PIN matches the offset');
    }
  });
});
