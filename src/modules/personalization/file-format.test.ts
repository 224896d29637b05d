import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  PersonalizationFileError, buildPersonalizationFile, parsePersonalizationFile, parsePersonalizationFileName, personalizationFileName,
} from './file-format.ts';
import type { PersonalizationRecord } from '../../security-module/port.ts';

const rec = (reference: string, encryptedRecord: string): PersonalizationRecord => ({ reference, encryptedRecord, cipher: 'AES-CBC', bureauKcv: '0A1B2C3D4E' });
const input = {
  fileId: '7d0f4c1e-1111-4222-8333-944455556666', organization: '100', logo: '001', createdAt: new Date('2030-01-31T12:34:56.789Z'),
  records: [rec('card-1', 'AAAAAAAAAAAAAAAAAAAAAA=='), rec('card-2', 'BBBBBBBBBBBBBBBBBBBBBB=='), rec('TOK41234AB', 'Q0NDQ0NDQ0NDQ0NDQ0ND')],
};

const code = (c: string) => (e: unknown) => e instanceof PersonalizationFileError && e.code === c;

describe('personalization file format', () => {
  it('header, one line per record, trailer with count and SHA-256 of everything before it', () => {
    const { text, sha256 } = buildPersonalizationFile(input);
    const lines = text.split('\n');
    assert.equal(lines[0], 'H|EMBPF|1|7d0f4c1e-1111-4222-8333-944455556666|100|001|2030-01-31T12:34:56.789Z|3|AES-CBC|0A1B2C3D4E');
    assert.equal(lines[1], 'D|1|card-1|AAAAAAAAAAAAAAAAAAAAAA==');
    assert.equal(lines[3], 'D|3|TOK41234AB|Q0NDQ0NDQ0NDQ0NDQ0ND');
    assert.equal(lines[4], `T|3|${sha256}`);
    assert.equal(lines[5], '');
    assert.equal(sha256, createHash('sha256').update(lines.slice(0, 4).join('\n') + '\n').digest('hex'));
    const parsed = parsePersonalizationFile(text);
    assert.equal(parsed.header.recordCount, 3);
    assert.equal(parsed.header.organization, '100');
    assert.equal(parsed.header.cipher, 'AES-CBC');
    assert.deepEqual(parsed.lines.map((l) => l.reference), ['card-1', 'card-2', 'TOK41234AB']);
    assert.deepEqual(parsed.trailer, { recordCount: 3, sha256 });
  });

  it('detects an altered byte, a dropped record and a wrong count', () => {
    const { text } = buildPersonalizationFile(input);
    assert.throws(() => parsePersonalizationFile(text.replace('D|2|card-2|B', 'D|2|card-2|C')), code('HASH_MISMATCH'));
    const lines = text.split('\n');
    const dropped = [lines[0], lines[1], lines[2], lines[4], ''].join('\n');
    assert.throws(() => parsePersonalizationFile(dropped), code('HASH_MISMATCH'));
    // Consistent hash but the header promises 3 records and only 2 are there.
    const body = [lines[0], lines[1], lines[2]].join('\n') + '\n';
    const fake = `${body}T|2|${createHash('sha256').update(body).digest('hex')}\n`;
    assert.throws(() => parsePersonalizationFile(fake), code('COUNT_MISMATCH'));
    assert.throws(() => parsePersonalizationFile(text.slice(0, -1)), code('BAD_FILE'));
    assert.throws(() => parsePersonalizationFile('hello\n'), code('BAD_FILE'));
  });

  it('refuses bad batches: empty, mixed bureau keys, references that are no references, bad ids', () => {
    assert.throws(() => buildPersonalizationFile({ ...input, records: [] }), code('BAD_INPUT'));
    assert.throws(() => buildPersonalizationFile({ ...input, records: [rec('a', 'AAAA'), { ...rec('b', 'AAAA'), bureauKcv: 'FFFFFFFFFF' }] }), code('BAD_INPUT'));
    assert.throws(() => buildPersonalizationFile({ ...input, records: [rec('a|b', 'AAAA')] }), code('BAD_INPUT'));
    assert.throws(() => buildPersonalizationFile({ ...input, records: [rec('a', 'not base64!')] }), code('BAD_INPUT'));
    assert.throws(() => buildPersonalizationFile({ ...input, organization: '1_0' }), code('BAD_INPUT'));
    assert.throws(() => buildPersonalizationFile({ ...input, logo: '' }), code('BAD_INPUT'));
  });

  it('takes a record as encrypted exactly when it is base64 text (^[A-Za-z0-9+/]+={0,2}$)', () => {
    const base64 = /^[A-Za-z0-9+/]+={0,2}$/;
    const text = fc.string({ unit: fc.constantFrom(...'AZaz09+/=|\n é,'.split('')), maxLength: 12 });
    fc.assert(fc.property(text, (encrypted) => {
      let built = true;
      try { buildPersonalizationFile({ ...input, records: [rec('card-1', encrypted)] }); } catch (e) { assert.ok(code('BAD_INPUT')(e)); built = false; }
      assert.equal(built, base64.test(encrypted), JSON.stringify(encrypted));
    }), { numRuns: 2000 });
    for (const edge of ['', '=', '==', 'A===', 'A=B', '=A', 'AB==', 'A']) {
      let built = true;
      try { buildPersonalizationFile({ ...input, records: [rec('card-1', edge)] }); } catch { built = false; }
      assert.equal(built, base64.test(edge), edge);
    }
  });

  it('names files EMB_<org>_<logo>_<yyyymmddHHMMss>_<seq>.txt[.pgp] and reads the names back', () => {
    const at = new Date('2030-01-31T12:34:56.789Z');
    assert.equal(personalizationFileName('100', '001', at, 1, false), 'EMB_100_001_20300131123456_0001.txt');
    assert.equal(personalizationFileName('100', '001', at, 12345, true), 'EMB_100_001_20300131123456_12345.txt.pgp');
    assert.deepEqual(parsePersonalizationFileName('EMB_100_001_20300131123456_0007.txt.pgp'), {
      name: 'EMB_100_001_20300131123456_0007.txt.pgp', organization: '100', logo: '001', createdAt: '2030-01-31T12:34:56Z', seq: 7, pgp: true,
    });
    assert.equal(parsePersonalizationFileName('EMB_100_001_2030013112345_0007.txt'), undefined);
    assert.equal(parsePersonalizationFileName('notes.txt'), undefined);
  });
});
