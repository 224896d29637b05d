import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import {
  FolderFileStore, PersonalizationFileError, PersonalizationFileWriter, decodePersonalizationFile,
} from './index.ts';
import type { PersonalizationRecord } from '../../security-module/port.ts';

const rec = (reference: string): PersonalizationRecord => ({ reference, encryptedRecord: Buffer.from(`ciphertext of ${reference}`).toString('base64'), cipher: '3DES-CBC', bureauKcv: 'ABCDEF' });
const code = (c: string) => (e: unknown) => e instanceof PersonalizationFileError && e.code === c;

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'emboss-perso-'));
  dirs.push(d);
  return d;
}
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

describe('PersonalizationFileWriter', () => {
  it('writes a file per batch with the documented name, sequence numbers per organization and logo', async () => {
    const folder = await tempDir();
    let ids = 0;
    const writer = new PersonalizationFileWriter({
      store: new FolderFileStore(join(folder, 'out')), clock: () => new Date('2030-01-31T12:34:56.000Z'), newFileId: () => `file-${++ids}`,
    });
    const a = await writer.writeBatch({ organization: '100', logo: '001', records: [rec('c1'), rec('c2')] });
    assert.equal(a.name, 'EMB_100_001_20300131123456_0001.txt');
    assert.equal(a.recordCount, 2);
    assert.equal(a.pgp, false);
    // Same second, same organization and logo: the next sequence number, never an overwrite.
    const b = await writer.writeBatch({ organization: '100', logo: '001', records: [rec('c3')] });
    assert.equal(b.name, 'EMB_100_001_20300131123456_0002.txt');
    const c = await writer.writeBatch({ organization: '100', logo: '002', records: [rec('c4')] });
    assert.equal(c.name, 'EMB_100_002_20300131123456_0001.txt');
    const text = await readFile(join(folder, 'out', a.name), 'utf8');
    assert.ok(text.startsWith('H|EMBPF|1|file-1|100|001|2030-01-31T12:34:56.000Z|2|3DES-CBC|ABCDEF\n'));
    assert.ok(text.endsWith(`T|2|${a.sha256}\n`));
    assert.equal((await stat(join(folder, 'out', a.name))).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(folder, 'out')), [a.name, b.name, c.name].sort(), 'no temporary files left');
    const decoded = await decodePersonalizationFile(await writer.read(a.name));
    assert.deepEqual(decoded.records.map((r) => r.reference), ['c1', 'c2']);
    assert.equal(decoded.trailer.sha256, a.sha256);
  });

  it('concurrent writers of the same batch key at the same second get distinct names', async () => {
    const folder = await tempDir();
    const store = new FolderFileStore(folder);
    const clock = () => new Date('2030-02-01T00:00:00.000Z');
    const writers = Array.from({ length: 5 }, () => new PersonalizationFileWriter({ store, clock }));
    const written = await Promise.all(writers.map((w, i) => w.writeBatch({ organization: '100', logo: '001', records: [rec(`c${i}`)] })));
    assert.equal(new Set(written.map((w) => w.name)).size, 5);
    assert.equal((await readdir(folder)).length, 5);
  });

  it('lists files (filtered, ignoring foreign files) and re-exports one byte for byte, never overwriting', async () => {
    const folder = await tempDir();
    const store = new FolderFileStore(folder);
    let now = Date.parse('2030-03-01T08:00:00.000Z');
    const writer = new PersonalizationFileWriter({ store, clock: () => new Date(now += 1000) });
    const f1 = await writer.writeBatch({ organization: '100', logo: '001', records: [rec('c1')] });
    const f2 = await writer.writeBatch({ organization: '200', logo: '001', records: [rec('c2')] });
    await store.create('README.txt', Buffer.from('not a personalization file'));
    assert.deepEqual((await writer.list()).map((f) => f.name), [f1.name, f2.name]);
    assert.deepEqual((await writer.list({ organization: '200' })).map((f) => f.name), [f2.name]);
    const info = (await writer.list({ organization: '100', logo: '001' }))[0];
    assert.equal(info?.seq, 1);
    assert.equal(info?.size, f1.size);

    const target = new FolderFileStore(await tempDir());
    const re = await writer.reexport(f1.name, target);
    assert.equal(re.name, f1.name);
    assert.deepEqual(await target.read(f1.name), await store.read(f1.name));
    await assert.rejects(writer.reexport(f1.name, target), code('EXISTS'));
    await assert.rejects(writer.reexport('EMB_100_001_20300101000000_0009.txt', target), code('NOT_FOUND'));
    await assert.rejects(writer.reexport('../etc/passwd', target), code('BAD_INPUT'));
    await assert.rejects(writer.writeBatch({ organization: '100', logo: '001', records: [] }), code('BAD_INPUT'));
    await assert.rejects(writer.writeBatch({ organization: '../x', logo: '001', records: [rec('c')] }), code('BAD_INPUT'));
  });

  it('PGP: the whole file encrypted to the bureau public key, decoded with its private key', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ userIDs: [{ name: 'Card Bureau', email: 'bureau@example.org' }], passphrase: 'bureau pass', format: 'armored' });
    const folder = await tempDir();
    const writer = new PersonalizationFileWriter({ store: new FolderFileStore(folder), pgpPublicKey: publicKey });
    const w = await writer.writeBatch({ organization: '100', logo: '001', records: [rec('c1'), rec('c2'), rec('c3')] });
    assert.ok(w.name.endsWith('.txt.pgp'));
    assert.equal(w.pgp, true);
    const bytes = await writer.read(w.name);
    assert.ok(!Buffer.from(bytes).toString('latin1').includes('H|EMBPF'), 'nothing of the file in clear');
    const decoded = await decodePersonalizationFile(bytes, { pgpPrivateKey: privateKey, pgpPassphrase: 'bureau pass' });
    assert.equal(decoded.pgp, true);
    assert.equal(decoded.header.recordCount, 3);
    assert.equal(decoded.trailer.sha256, w.sha256);
    await assert.rejects(decodePersonalizationFile(bytes), code('BAD_KEY'));
    await assert.rejects(decodePersonalizationFile(bytes, { pgpPrivateKey: privateKey, pgpPassphrase: 'wrong' }), code('BAD_KEY'));
    const other = await openpgp.generateKey({ userIDs: [{ name: 'Other' }], format: 'armored' });
    await assert.rejects(decodePersonalizationFile(bytes, { pgpPrivateKey: other.privateKey }), code('BAD_FILE'));
    const bad = new PersonalizationFileWriter({ store: new FolderFileStore(folder), pgpPublicKey: 'not a key' });
    await assert.rejects(bad.writeBatch({ organization: '100', logo: '001', records: [rec('c1')] }), code('BAD_KEY'));
  });
});
