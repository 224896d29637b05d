import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildTrack1, buildTrack2, parseTrack1, parseTrack2, trackLrc, buildTrack2Equivalent, parseTrack2Equivalent,
  buildDiscretionaryData, parseDiscretionaryData, defaultDiscretionaryLength,
  normalizeCardName, formatTrack1Name, formatEmbossLine, embossPan, embossExpiry,
} from './track-data.ts';
import { CryptoInputError } from './errors.ts';

// Published examples: Wikipedia, "ISO/IEC 7813", section Track 1 (whose rendering collapses the
// name's trailing spaces). The first carries expiry 3782, service code 982 and discretionary data
// 1000123456789; the second marks expiry and service code absent ('^').
const WIKI_T1_A = '%B4815881002867896^YATES/EUGENE JOHN^37829821000123456789?';
const WIKI_T1_B = '%B4815881002861896^YATES/EUGENE L^^^356858 00998000000?';

describe('track 1 (ISO/IEC 7813 format B)', () => {
  it('parses the published examples', () => {
    assert.deepEqual(parseTrack1(WIKI_T1_A), {
      pan: '4815881002867896', name: 'YATES/EUGENE JOHN', expiryYYMM: '3782', serviceCode: '982', discretionary: '1000123456789',
    });
    const b = parseTrack1(WIKI_T1_B);
    assert.equal(b.pan, '4815881002861896');
    assert.equal(b.name, 'YATES/EUGENE L');
    assert.equal(b.expiryYYMM, undefined);
    assert.equal(b.serviceCode, undefined);
    assert.equal(b.discretionary, '356858 00998000000');
  });

  it('builds the published examples back from their fields', () => {
    assert.equal(buildTrack1(parseTrack1(WIKI_T1_A)), WIKI_T1_A);
    assert.equal(buildTrack1(parseTrack1(WIKI_T1_B)), WIKI_T1_B);
  });

  it('sentinels by default, LRC on request, bare content without sentinels', () => {
    const f = { pan: '4123456789012345', name: 'LOVELACE/ADA', expiryYYMM: '3012', serviceCode: '101', discretionary: '1234556100000' };
    const framed = buildTrack1(f);
    assert.equal(framed, '%B4123456789012345^LOVELACE/ADA^30121011234556100000?');
    assert.equal(buildTrack1(f, { sentinels: false }), framed.slice(1, -1));
    const withLrc = buildTrack1(f, { lrc: true });
    assert.equal(withLrc.slice(0, -1), framed);
    assert.equal(withLrc.length, framed.length + 1);
    // The LRC makes the XOR of all data bits zero.
    let x = 0;
    for (const c of withLrc) x ^= c.charCodeAt(0) - 0x20;
    assert.equal(x, 0);
    assert.deepEqual(parseTrack1(withLrc), { ...f, lrc: withLrc.slice(-1) });
    assert.deepEqual(parseTrack1(framed.slice(1, -1)), f);
    assert.throws(() => buildTrack1(f, { sentinels: false, lrc: true }), CryptoInputError);
  });

  it('refuses a wrong LRC, a bad name and a track that would be too long', () => {
    const f = { pan: '4123456789012345', name: 'LOVELACE/ADA', expiryYYMM: '3012', serviceCode: '101', discretionary: '0' };
    const t = buildTrack1(f, { lrc: true });
    const bad = t.slice(0, -1) + String.fromCharCode(((t.charCodeAt(t.length - 1) - 0x20 + 1) & 0x3f) + 0x20);
    assert.throws(() => parseTrack1(bad), /LRC/);
    assert.throws(() => buildTrack1({ ...f, name: 'A^B' }), CryptoInputError);
    assert.throws(() => buildTrack1({ ...f, name: 'X' }), CryptoInputError);
    assert.throws(() => buildTrack1({ ...f, name: 'N'.repeat(27) }), CryptoInputError);
    assert.throws(() => buildTrack1({ ...f, discretionary: '1'.repeat(60) }), /79/);
    assert.throws(() => parseTrack1('%A4123^X^?'), CryptoInputError);
  });
});

describe('track 2', () => {
  it('builds and parses, with and without sentinels and LRC', () => {
    const f = { pan: '4815881002867896', expiryYYMM: '3782', serviceCode: '982', discretionary: '1000123456789' };
    assert.equal(buildTrack2(f), ';4815881002867896=37829821000123456789?');
    assert.equal(buildTrack2(f).length, 39, 'a 16-digit PAN with 13 discretionary digits fills track 2 (40 with the LRC)');
    assert.deepEqual(parseTrack2(';4815881002867896=37829821000123456789?'), f);
    const withLrc = buildTrack2(f, { lrc: true });
    assert.equal(withLrc.length, 40);
    let x = 0;
    for (const c of withLrc) x ^= c.charCodeAt(0) - 0x30;
    assert.equal(x, 0);
    assert.equal(parseTrack2(withLrc).lrc, withLrc.slice(-1));
    assert.deepEqual(parseTrack2('4815881002867896=37829821000123456789'), f);
    assert.deepEqual(parseTrack2(';4815881002867896===1?'), { pan: '4815881002867896', expiryYYMM: undefined, serviceCode: undefined, discretionary: '1' });
  });

  it('LRC by hand: ;1=?', () => {
    // ';' 0xB, '1' 0x1, '=' 0xD, '?' 0xF → B^1^D^F = 8 → '8'
    assert.equal(trackLrc(2, ';1=?'), '8');
    // '%' 0x05, 'B' 0x22, '?' 0x1F → 0x05^0x22^0x1F = 0x38 → 0x58 'X'
    assert.equal(trackLrc(1, '%B?'), 'X');
    assert.throws(() => trackLrc(2, ';A?'), CryptoInputError);
  });

  it('refuses letters and a track longer than 40 characters', () => {
    const f = { pan: '4815881002867896', expiryYYMM: '3782', serviceCode: '982', discretionary: '1000123456789' };
    assert.throws(() => buildTrack2({ ...f, discretionary: '12A' }), CryptoInputError);
    assert.throws(() => buildTrack2({ ...f, discretionary: f.discretionary + '0' }), /40/);
    assert.throws(() => buildTrack2({ ...f, expiryYYMM: '378' }), CryptoInputError);
    assert.throws(() => parseTrack2(';48158810=3782?X'), /LRC/);
  });
});

describe('chip track 2 equivalent (tag 57)', () => {
  it('uses D as separator and pads with F to whole bytes', () => {
    const f = { pan: '4123456789012345', expiryYYMM: '3012', serviceCode: '201', discretionary: '1234599900000' };
    const hex = buildTrack2Equivalent(f);
    assert.equal(hex, '4123456789012345D30122011234599900000F');
    assert.equal(hex.length % 2, 0);
    assert.deepEqual(parseTrack2Equivalent(hex), f);
    assert.equal(buildTrack2Equivalent({ ...f, discretionary: '123459990000' }), '4123456789012345D3012201123459990000');
    assert.throws(() => parseTrack2Equivalent('4123D3012201F'), CryptoInputError);
  });
});

describe('discretionary data', () => {
  it('PVV: PVKI | PVV | CVV | 0 fill; default length fills track 2 to 37 characters', () => {
    assert.equal(defaultDiscretionaryLength(16), 13);
    assert.equal(defaultDiscretionaryLength(19), 10);
    const dd = buildDiscretionaryData({ kind: 'PVV', pvki: '1', pvv: '2345' }, '561', 13);
    assert.equal(dd, '1234556100000');
    assert.deepEqual(parseDiscretionaryData(dd, { kind: 'PVV' }), { pvki: '1', pvv: '2345', cvv: '561', rest: '00000' });
    const t2 = buildTrack2({ pan: '4123456789012345', expiryYYMM: '3012', serviceCode: '101', discretionary: dd }, { sentinels: false });
    assert.equal(t2.length, 37);
  });

  it('IBM 3624: offset right-aligned in max(5, n) digits', () => {
    assert.equal(buildDiscretionaryData({ kind: 'IBM3624', offset: '4821' }, '561', 13), '0482156100000');
    assert.deepEqual(parseDiscretionaryData('0482156100000', { kind: 'IBM3624', offsetLength: 4 }), { offset: '4821', cvv: '561', rest: '00000' });
    assert.equal(buildDiscretionaryData({ kind: 'IBM3624', offset: '048213' }, '561', 13), '0482135610000');
    assert.deepEqual(parseDiscretionaryData('0482135610000', { kind: 'IBM3624', offsetLength: 6 }), { offset: '048213', cvv: '561', rest: '0000' });
    assert.equal(buildDiscretionaryData({ kind: 'NONE' }, '561'), '00000561');
    assert.deepEqual(parseDiscretionaryData('00000561', { kind: 'NONE' }), { cvv: '561', rest: '' });
  });

  it('refuses malformed parts without echoing them', () => {
    for (const f of [
      () => buildDiscretionaryData({ kind: 'PVV', pvki: '12', pvv: '2345' }, '561'),
      () => buildDiscretionaryData({ kind: 'PVV', pvki: '1', pvv: '234' }, '561'),
      () => buildDiscretionaryData({ kind: 'IBM3624', offset: '123' }, '561'),
      () => buildDiscretionaryData({ kind: 'NONE' }, '56'),
      () => parseDiscretionaryData('1234', { kind: 'PVV' }),
    ]) {
      assert.throws(f, (e: unknown) => e instanceof CryptoInputError && !/2345|561|1234/.test(e.message));
    }
  });
});

describe('names and embossing', () => {
  it('normalizes names to the card character set', () => {
    assert.equal(normalizeCardName('  José  Ñúñez-García '), 'JOSE NUNEZ-GARCIA');
    assert.equal(normalizeCardName("O'Brien, Søren ß"), "O'BRIEN SOREN SS");
    assert.equal(normalizeCardName('Zoë^%?|/x'), 'ZOE X');
  });

  it('formats the track 1 name SURNAME/GIVEN, at most 26 characters', () => {
    assert.equal(formatTrack1Name('Lovelace', 'Ada'), 'LOVELACE/ADA');
    assert.equal(formatTrack1Name('Yates', 'Eugene John'), 'YATES/EUGENE JOHN');
    assert.equal(formatTrack1Name('Madonna'), 'MADONNA');
    const long = formatTrack1Name('Wolfeschlegelsteinhausen', 'Hubert Blaine');
    assert.equal(long.length, 26);
    assert.equal(long, 'WOLFESCHLEGELSTEINHAUSEN/H');
    const longGiven = formatTrack1Name('Lovelace', 'Augusta Ada King Countess of Lovelace');
    assert.equal(longGiven, 'LOVELACE/AUGUSTA ADA KING');
    assert.ok(longGiven.length <= 26);
    assert.throws(() => formatTrack1Name('  '), CryptoInputError);
  });

  it('emboss lines, card number groups and expiry', () => {
    assert.equal(formatEmbossLine('Augusta Ada King, Countess of Lovelace'), 'AUGUSTA ADA KING COUNTESS');
    assert.equal(formatEmbossLine('Ada Lovelace'), 'ADA LOVELACE');
    assert.equal(embossPan('4123456789012345'), '4123 4567 8901 2345');
    assert.equal(embossPan('371449635398431'), '3714 496353 98431');
    assert.equal(embossPan('4123456789012345678'), '4123 4567 8901 2345 678');
    assert.equal(embossExpiry('3012'), '12/30');
    assert.throws(() => embossExpiry('3013'), CryptoInputError);
  });
});
