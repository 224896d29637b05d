import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCard, TEST_BUREAU_HEX, type Harness } from '../helpers/harness.ts';
import { decodePersonalizationFile } from '../../src/modules/personalization/index.ts';
import { computeCvv } from '../../src/crypto/index.ts';
import { parseTrack2 } from '../../src/crypto/track-data.ts';

const CVK = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex');

for (const backend of backends) {
  describe(`personalization files from card issuing (${backend})`, () => {
    let h: Harness;
    let folder: string;
    before(async () => {
      folder = mkdtempSync(join(tmpdir(), 'emboss-perso-'));
      h = await startHarness(backend, { settings: { EMBOSS_PERSONALIZATION_DIR: folder } });
    });
    after(async () => { await h.close(); rmSync(folder, { recursive: true, force: true }); });

    test('every new plastic gets one record; a flush writes them to a file the bureau can decode', async () => {
      const cards = [await addCard(h, { embossedName1: 'ADA LOVELACE' }), await addCard(h, { embossedName1: 'GRACE HOPPER' }), await addCard(h, { digitalCardFlag: 1 })];
      const written = await h.container.personalization.flush();
      assert.equal(written.length, 1);
      assert.equal(written[0]!.records, 2, 'the digital card has no plastic');
      const file = readFileSync(join(folder, written[0]!.name));
      for (const c of cards) assert.ok(!file.includes(c.pan), 'no clear card number in the file');
      const decoded = await decodePersonalizationFile(file, { bureauKey: { algorithm: 'AES', key: TEST_BUREAU_HEX } });
      assert.equal(decoded.header.recordCount, 2);
      assert.equal(decoded.trailer.recordCount, 2);
      for (const [i, c] of cards.slice(0, 2).entries()) {
        const f = decoded.records[i]!.fields!;
        assert.equal(f.pan, c.pan);
        assert.equal(decoded.records[i]!.reference, `${c.token}.1`);
        const t2 = parseTrack2(f.track2);
        assert.equal(t2.pan, c.pan);
        assert.equal(t2.serviceCode, '201');
        // Discretionary data for a PVV logo: PVKI(1) PVV(4) CVV(3): the CVV is the one the card's CVK gives.
        assert.equal(t2.discretionary.slice(5, 8), computeCvv(CVK.subarray(0, 8), CVK.subarray(8), c.pan, t2.expiryYYMM!, '201'));
        assert.equal(f.cvv2, computeCvv(CVK.subarray(0, 8), CVK.subarray(8), c.pan, t2.expiryYYMM!, '000'));
      }
      assert.match(decoded.records[0]!.fields!.embossLine1, /ADA LOVELACE/);
      // Nothing is pending now; a second flush writes nothing.
      assert.deepEqual(await h.container.personalization.flush(), []);
      const files = await h.container.personalization.files();
      assert.equal(files.length, 1);
      assert.equal(files[0]!.status, 'WRITTEN');
    });

    test('a file planned but lost before it was marked written is written again under the same name, once', async () => {
      await addCard(h);
      const first = await h.container.personalization.flush();
      assert.equal(first.length, 1);
      // Simulate a crash after planning: the file is back to PLANNED and gone from the folder.
      await h.container.storage.db.updateTable('personalization_files').set({ status: 'PLANNED' }).where('name', '=', first[0]!.name).execute();
      unlinkSync(join(folder, first[0]!.name));
      const again = await h.container.personalization.flush();
      assert.deepEqual(again.map((f) => f.name), [first[0]!.name]);
      // And a crash after the write but before the mark: the file stays single.
      await h.container.storage.db.updateTable('personalization_files').set({ status: 'PLANNED' }).where('name', '=', first[0]!.name).execute();
      const third = await h.container.personalization.flush();
      assert.deepEqual(third.map((f) => f.name), [first[0]!.name]);
      assert.equal(readdirSync(folder).filter((n) => n === first[0]!.name).length, 1);
      const records = await h.container.storage.db.selectFrom('personalization_records').select('file_id').execute();
      assert.ok(records.every((r) => r.file_id !== null));
    });

    test('files of at most the given size; a file written from its plan is, after a crash, the one a rewrite gives', async () => {
      for (let i = 0; i < 5; i++) await addCard(h);
      const full = await h.container.personalization.flush(2);
      assert.deepEqual(full.map((f) => f.records), [2, 2, 1]);
      const db = h.container.storage.db;
      const pending = await db.selectFrom('personalization_records').select((e) => e.fn.countAll().as('n')).where('file_id', 'is', null).executeTakeFirstOrThrow();
      assert.equal(Number(pending.n), 0);
      // A crash after planning: the file is written again from the database, byte for byte the same.
      const name = full[1]!.name;
      const bytes = readFileSync(join(folder, name));
      const before = await db.selectFrom('personalization_files').select('sha256').where('name', '=', name).executeTakeFirstOrThrow();
      await db.updateTable('personalization_files').set({ status: 'PLANNED' }).where('name', '=', name).execute();
      unlinkSync(join(folder, name));
      const rest = await h.container.personalization.writePlanned();
      assert.deepEqual(rest.map((f) => f.records), [2]);
      assert.equal(rest[0]!.name, name);
      assert.ok(readFileSync(join(folder, name)).equals(bytes));
      const after = await db.selectFrom('personalization_files').select('sha256').where('name', '=', name).executeTakeFirstOrThrow();
      assert.equal(after.sha256, before.sha256);
    });
  });
}
