import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { backends } from '../helpers/storage.ts';
import {
  startHarness, addCard, cardsOnly, other, clientPinBlock, clientReadPinBlock, clientDecryptValue, TEST_CVK_HEX, TEST_ZPK_HEX,
  type Harness,
} from '../helpers/harness.ts';
import { computeCvv, computeCvv2, computeIcvv, prepareCvk } from '../../src/crypto/cvv.ts';
import { computeDcvv2, dcvv2Window } from '../../src/crypto/dcvv2.ts';
import { listAudit } from '../../src/modules/audit/index.ts';

const cvk = prepareCvk(Buffer.from(TEST_CVK_HEX, 'hex'));

for (const backend of backends) {
  describe(`PINs and security values (${backend})`, () => {
    let h: Harness;
    // These tests try one card hundreds of times (the try counters); the daily caps per card are
    // lifted here and tested in card-daily-limits.test.ts.
    before(async () => { h = await startHarness(backend, { settings: { EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY: 100_000, EMBOSS_UNBLOCKS_PER_CARD_PER_DAY: 100 } }); });
    after(async () => { await h.close(); });

    const db = () => h.container.storage.db;
    const row = (token: string) => db().selectFrom('cards').selectAll().where('pan_token', '=', token).executeTakeFirstOrThrow();
    const codes = (body: string) => (JSON.parse(body) as { errors: Array<{ code: string }> }).errors.map((e) => e.code);

    const securityCodes = (cardNumber: string, extra: Record<string, unknown> = {}, options = {}) =>
      h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber, channel: 'W', keyAssociation: 'IYY', ...extra }, options);
    /** The card's PIN as the client reads it from the security codes. */
    const pinOf = async (pan: string) => clientReadPinBlock((await securityCodes(pan.padStart(19, '0'))).json().pinEncrypt, pan);
    const validate = (cardNumber: string, currentPinBlock: string, extra: Record<string, unknown> = {}, options = {}) =>
      h.call('POST', '/cards/pin/validation', { organizationNumber: 100, cardNumber, currentPinBlock, channel: 'I', keyAssociation: 'IYY', ...extra }, options);
    const attempts = (cardNumber: string, options = {}) => h.call('POST', '/cards/pin/invalid-attempts', { organizationNumber: 100, cardNumber }, options);
    const pinStatus = (cardNumber: string, serviceFunctionCode: string, extra: Record<string, unknown> = {}) =>
      h.call('PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber, serviceFunctionCode, channel: 'W', ...extra });
    const wrongPin = (pin: string) => (pin === '1357' ? '2468' : pin.length === 4 ? '1357' : '135792');

    test('security codes: the client decrypts exactly the CVV, CVV2, iCVV and PIN of the card, with plain 3DES', async () => {
      const { pan, token } = await addCard(h);
      const card = await row(token);
      const res = await securityCodes(token, {}, { requestId: `sc-${token}` });
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.equal(d.cardNumber, token, 'the PAN token, not the clear number');
      assert.ok(!res.body.includes(pan));
      for (const v of [d.ud1ec, d.ud2ec, d.ud3ec, d.pinEncrypt]) assert.match(v, /^[0-9A-F]{16}$/);
      assert.equal(clientDecryptValue(d.ud1ec), computeCvv(cvk, pan, card.expiry, card.service_code));
      assert.equal(clientDecryptValue(d.ud2ec), computeCvv2(cvk, pan, card.expiry));
      assert.equal(clientDecryptValue(d.ud3ec), computeIcvv(cvk, pan, card.expiry));
      const pin = clientReadPinBlock(d.pinEncrypt, pan);
      assert.match(pin, /^[0-9]{4}$/);
      // The PIN is the card's: it passes validation, and a neighbour does not.
      assert.equal((await validate(token, clientPinBlock(0, pin, pan))).statusCode, 200);
      assert.equal((await validate(token, clientPinBlock(0, wrongPin(pin), pan))).statusCode, 422);

      const audit = await listAudit(db(), { requestId: `sc-${token}` });
      assert.deepEqual(audit.map((a) => a.action), ['card.security-values.read']);
      const text = JSON.stringify(audit);
      for (const v of [d.ud1ec, d.ud2ec, d.ud3ec, d.pinEncrypt, pin, pan]) assert.ok(!text.includes(v));
    });

    test('security values V2 (v1/pin/codes) carry the same values, also for a card that is not active yet', async () => {
      const { pan, token } = await addCard(h, { currentCardActivation: 'Y' });
      const card = await row(token);
      assert.equal(card.activation_required, true);
      const res = await h.call('POST', '/cards/v1/pin/codes', { organizationNumber: 100, cardNumber: pan.padStart(19, '0'), channelIndicator: 'A', keyAssociation: 'IYY' });
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      const cvv = computeCvv(cvk, pan, card.expiry, card.service_code);
      const cvv2 = computeCvv2(cvk, pan, card.expiry);
      const icvv = computeIcvv(cvk, pan, card.expiry);
      assert.deepEqual(d.usersDefined.map((i: { key: string; value: string }) => [i.key, clientDecryptValue(i.value)]), [['1', cvv], ['2', cvv2], ['3', icvv]]);
      assert.equal(clientDecryptValue(d.cardSecurity.magnetic), cvv);
      assert.equal(clientDecryptValue(d.cardSecurity.chip), icvv);
      assert.equal(clientDecryptValue(d.cardSecurity.contactless), icvv);
      assert.deepEqual(d.cardSecurity.printed.map((i: { key: string; value: string }) => [i.key, clientDecryptValue(i.value)]), [['1', cvv2]]);
      assert.match(clientReadPinBlock(d.pinEncrypt, pan), /^[0-9]{4}$/);
      // A PIN-suppressed card has no PIN block.
      const suppressed = await addCard(h, { pinSuppression: 1 });
      const s = await securityCodes(suppressed.token);
      assert.equal(s.statusCode, 200, s.body);
      assert.equal(s.json().pinEncrypt, '');
    });

    test('security values: refusals (key association, channel, scope, organization, card) change nothing and say nothing', async () => {
      const { pan, token } = await addCard(h);
      const cases: Array<[Record<string, unknown>, number, string]> = [
        [{ keyAssociation: 'IXX' }, 422, 'EMBP01E'],
        [{ keyAssociation: '' }, 422, 'VPL5SPA06S'],
        [{ keyAssociation: 'IY4' }, 422, 'EMBP02E'], // an AES key: values are 3DES-encrypted
        [{ channel: ' ' }, 422, 'VPL5SPA05S'],
        [{ organizationNumber: 300 }, 403, 'EMBA09E'],
        [{ cardNumber: '4111110000000000000' }, 422, 'VPL5SCI09S'],
        [{ cardNumber: '0000000000000000000' }, 422, 'VPL5SPA03S'],
        [{ channel: 'X' }, 400, 'EMBV01E'],
      ];
      for (const [extra, status, code] of cases) {
        const res = await securityCodes(token, extra);
        assert.equal(res.statusCode, status, `${JSON.stringify(extra)}: ${res.body}`);
        assert.deepEqual(codes(res.body), [code]);
      }
      const cardsScope = await securityCodes(token, {}, { client: cardsOnly });
      assert.equal(cardsScope.statusCode, 403);
      assert.deepEqual(codes(cardsScope.body), ['EMBA10E']);
      const otherOrg = await securityCodes(token, {}, { client: other });
      assert.equal(otherOrg.statusCode, 403);
      assert.doesNotMatch(cardsScope.body + otherOrg.body, new RegExp(pan));
    });

    test('PIN validation accepts formats 0, 1, 3 (3DES) and 4 (AES) blocks of the right PIN and rejects the wrong one', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      for (const format of [0, 1, 3, 4] as const) {
        const keyAssociation = format === 4 ? 'IY4' : 'IYY';
        const right = await validate(token, clientPinBlock(format, pin, pan), { keyAssociation, pinBlockFormat: format });
        assert.equal(right.statusCode, 200, `format ${format}: ${right.body}`);
        assert.equal(right.json().cardNumber, token);
        const wrong = await validate(token, clientPinBlock(format, wrongPin(pin), pan), { keyAssociation, pinBlockFormat: format });
        assert.equal(wrong.statusCode, 422, `format ${format}: ${wrong.body}`);
        assert.deepEqual(codes(wrong.body), ['VPL5SVP26S']);
        assert.equal(wrong.json().errors[0].description, 'INCORRECT PIN PROVIDED');
      }
      // Without pinBlockFormat: 32 hex digits are format 4, 16 are format 0.
      assert.equal((await validate(token, clientPinBlock(4, pin, pan), { keyAssociation: 'IY4' })).statusCode, 200);
      assert.equal((await validate(token, clientPinBlock(0, pin, pan))).statusCode, 200);
      // Clients without PCI scope validate too, and see the token, as every client does.
      const asCards = await validate(pan, clientPinBlock(0, pin, pan), {}, { client: cardsOnly });
      assert.equal(asCards.statusCode, 200, asCards.body);
      assert.equal(asCards.json().cardNumber, token);
    });

    test('an IBM 3624 offset logo (6-digit PINs) validates too', async () => {
      const { pan, token } = await addCard(h, {}, 2);
      const pin = await pinOf(pan);
      assert.match(pin, /^[0-9]{6}$/);
      assert.match((await row(token)).pin_verification ?? '', /^[0-9]{6}$/);
      assert.equal((await validate(token, clientPinBlock(0, pin, pan))).statusCode, 200);
      const wrong = await validate(token, clientPinBlock(3, wrongPin(pin), pan), { pinBlockFormat: 3 });
      assert.deepEqual(codes(wrong.body), ['VPL5SVP26S']);
    });

    test('wrong PINs are counted, a right one resets the counter; at the maximum the PIN is blocked until unblocked', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const right = () => validate(token, clientPinBlock(0, pin, pan));
      const wrong = () => validate(token, clientPinBlock(0, wrongPin(pin), pan));
      const before = (await attempts(token)).json().outputArea;
      // With no invalid try, the date is the card's (the counter's start): a date, never "".
      const added = new Date((await row(token)).created_at).toISOString().slice(0, 10);
      assert.deepEqual(before, {
        cardNumber: token, cardSequenceNumber: 1, cardInvalidPinTries: 0, cardInvalidPinTryDate: added,
        maxNumberInvalidPinTries: 3, exceededInvalidPinTries: 'D', blockedIndicator: 'N',
      });
      assert.deepEqual(codes((await wrong()).body), ['VPL5SVP26S']);
      assert.deepEqual(codes((await wrong()).body), ['VPL5SVP26S']);
      let a = (await attempts(token)).json().outputArea;
      assert.equal(a.cardInvalidPinTries, 2);
      assert.equal(a.cardInvalidPinTryDate, h.clock.now().toISOString().slice(0, 10));
      assert.equal((await right()).statusCode, 200);
      assert.equal((await attempts(token)).json().outputArea.cardInvalidPinTries, 0);

      assert.deepEqual(codes((await wrong()).body), ['VPL5SVP26S']);
      assert.deepEqual(codes((await wrong()).body), ['VPL5SVP26S']);
      const third = await wrong();
      assert.equal(third.statusCode, 422);
      assert.deepEqual(codes(third.body), ['VPL5SVP27S']);
      assert.deepEqual(codes((await right()).body), ['VPL5SVP27S']);
      assert.deepEqual(codes((await wrong()).body), ['VPL5SVP27S']);
      a = (await attempts(pan, { client: cardsOnly })).json().outputArea;
      assert.equal(a.cardNumber, token, 'a client without PCI scope sees the token too');
      assert.equal(a.cardInvalidPinTries, 3);
      assert.equal(a.blockedIndicator, 'B');

      const unblock = await pinStatus(token, 'U');
      assert.equal(unblock.statusCode, 200, unblock.body);
      assert.deepEqual(unblock.json(), { cardNumber: token, cardSequenceNumber: 1 });
      a = (await attempts(token)).json().outputArea;
      assert.equal(a.cardInvalidPinTries, 0);
      assert.equal(a.blockedIndicator, 'N');
      assert.equal((await right()).statusCode, 200);

      // Blocking by the issuer: even the right PIN is refused.
      assert.equal((await pinStatus(token, 'B')).statusCode, 200);
      assert.deepEqual(codes((await right()).body), ['VPL5SVP27S']);
      assert.equal((await attempts(token)).json().outputArea.blockedIndicator, 'B');
      assert.equal((await pinStatus(token, 'U')).statusCode, 200);
      assert.equal((await right()).statusCode, 200);

      const actions = (await listAudit(db(), { entityType: 'card', entityId: token, limit: 1000 })).map((x) => x.action);
      assert.equal(actions.filter((x) => x === 'pin.validate').length, 11);
      assert.equal(actions.filter((x) => x === 'pin.unblock').length, 2);
      assert.equal(actions.filter((x) => x === 'pin.block').length, 1);
    });

    test('PIN validation refusals: malformed block, unknown key association or card, suppressed PIN, card state — nothing counted', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      // A block whose control field is no format at all, under the right key.
      const { createCipheriv } = await import('node:crypto');
      const c = createCipheriv('des-ede-ecb', Buffer.from(TEST_ZPK_HEX, 'hex'), null).setAutoPadding(false);
      const noFormat = Buffer.concat([c.update(Buffer.from('F41234FFFFFFFFFF', 'hex')), c.final()]).toString('hex').toUpperCase();
      const cases: Array<[string, Record<string, unknown>, number, string]> = [
        ['not hex', { currentPinBlock: 'XYZXYZXYZXYZXYZX' }, 422, 'VPL5SVP05S'],
        ['short', { currentPinBlock: '0123' }, 422, 'VPL5SVP05S'],
        ['no format', { currentPinBlock: noFormat }, 422, 'VPL5SVP05S'],
        ['another card\'s PAN in a format 0 block', { currentPinBlock: clientPinBlock(0, pin, '4111110000000013') }, 422, 'VPL5SVP05S'],
        ['format 4 under a 3DES key', { currentPinBlock: clientPinBlock(4, pin, pan) }, 422, 'EMBP02E'],
        ['unknown key association', { keyAssociation: 'IZZ' }, 422, 'EMBP01E'],
        ['blank key association', { keyAssociation: '   ' }, 422, 'VPL5SVP06S'],
        ['unknown organization', { organizationNumber: 200 }, 403, 'EMBA09E'],
        ['unknown card', { cardNumber: '4111110000000013' }, 422, 'VPL5SCI09S'],
        ['zeros', { cardNumber: '0000000000000000' }, 422, 'VPL5SVP31S'],
        ['too long', { currentPinBlock: 'A'.repeat(33) }, 400, 'EMBV01E'],
      ];
      for (const [what, extra, status, code] of cases) {
        const res = await validate(token, clientPinBlock(0, pin, pan), extra);
        assert.equal(res.statusCode, status, `${what}: ${res.body}`);
        assert.deepEqual(codes(res.body), [code], what);
        assert.doesNotMatch(res.body, new RegExp(`${pan}|${pin}`), what);
      }
      assert.equal((await row(token)).pin_tries, 0);

      const suppressed = await addCard(h, { pinSuppression: 1 });
      assert.deepEqual(codes((await validate(suppressed.token, clientPinBlock(0, '1357', suppressed.pan))).body), ['VPL5SVP29S']);
      const notActivated = await addCard(h, { currentCardActivation: 'Y' });
      assert.deepEqual(codes((await validate(notActivated.token, clientPinBlock(0, '1357', notActivated.pan))).body), ['VPL5SVP14S']);
      const status = await h.call('PUT', '/cards/status-L8V1', { organizationNumber: 100, cardNumber: token, cardStatus: 2 });
      assert.equal(status.statusCode, 200, status.body);
      assert.deepEqual(codes((await validate(token, clientPinBlock(0, pin, pan))).body), ['VPL5SVP12S']);
      assert.equal((await row(token)).pin_tries, 0);
    });

    test('an expired card is refused (clock moved past the expiry)', async () => {
      const { pan, token } = await addCard(h, { expirationDate: new Date(Date.UTC(h.clock.now().getUTCFullYear() + 1, 0, 15)).toISOString().slice(0, 10) });
      const pin = await pinOf(pan);
      const saved = h.clock.now();
      h.clock.set(new Date(Date.UTC(saved.getUTCFullYear() + 1, 1, 2)));
      try {
        const res = await validate(token, clientPinBlock(0, pin, pan), {}, { token: await h.freshToken() });
        assert.deepEqual(codes(res.body), ['VPL5SVP15S']);
      } finally {
        h.clock.set(saved);
      }
    });

    test('a replayed request id counts a wrong PIN once', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const block = clientPinBlock(0, wrongPin(pin), pan);
      const requestId = randomUUID();
      const first = await validate(token, block, {}, { requestId });
      const again = await validate(token, block, {}, { requestId });
      assert.deepEqual(codes(first.body), ['VPL5SVP26S']);
      assert.equal(again.headers['x-idempotent-replay'], 'true');
      assert.equal(again.body, first.body);
      assert.equal((await row(token)).pin_tries, 1);
    });

    test('one request id sent five times at once with a wrong PIN counts once', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const requestId = randomUUID();
      const block = clientPinBlock(0, wrongPin(pin), pan);
      const results = await Promise.all(Array.from({ length: 5 }, () => validate(token, block, {}, { requestId })));
      const answered = results.filter((r) => r.statusCode === 422 && r.headers['x-idempotent-replay'] === undefined);
      assert.equal(answered.length, 1, results.map((r) => `${r.statusCode} ${r.body}`).join('\n'));
      for (const r of results) {
        if (r.statusCode === 409) assert.deepEqual(codes(r.body), ['EMBA13E']);
        else assert.equal(r.body, answered[0]!.body);
      }
      assert.equal((await row(token)).pin_tries, 1);
    });

    test('a correct PIN is counted (the daily cap): the same request id replays its answer without checking again, another PIN under it is 409 and not counted', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const requestId = randomUUID();
      const first = await validate(token, clientPinBlock(0, pin, pan), {}, { requestId });
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.headers['x-idempotent-replay'], undefined);
      const again = await validate(token, clientPinBlock(0, pin, pan), {}, { requestId });
      assert.equal(again.headers['x-idempotent-replay'], 'true');
      assert.equal(again.body, first.body);
      const other = await validate(token, clientPinBlock(0, wrongPin(pin), pan), {}, { requestId });
      assert.equal(other.statusCode, 409);
      assert.deepEqual(codes(other.body), ['EMBA12E']);
      assert.equal((await row(token)).pin_tries, 0);
      const audit = await listAudit(db(), { requestId });
      // The replay is the stored answer, as a write's is; the wrong PIN left no trace but its 409.
      assert.deepEqual(audit.map((a) => [a.action, (a.details as { outcome?: string }).outcome]), [['pin.validate', 'correct']]);
    });

    test('200 wrong PIN blocks at once leave the counter exactly at the maximum, and the PIN blocked', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const block = clientPinBlock(0, wrongPin(pin), pan);
      const results = await Promise.all(Array.from({ length: 200 }, () => validate(token, block)));
      const tally = new Map<string, number>();
      for (const r of results) { assert.equal(r.statusCode, 422, r.body); const c = codes(r.body)[0]!; tally.set(c, (tally.get(c) ?? 0) + 1); }
      assert.equal(tally.get('VPL5SVP26S'), 2);
      assert.equal(tally.get('VPL5SVP27S'), 198);
      const card = await row(token);
      assert.equal(card.pin_tries, 3);
      assert.equal(card.pin_blocked, true);
    });

    test('a correct PIN sent with wrong ones never unblocks a blocked PIN; counter and block stay consistent', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const right = clientPinBlock(0, pin, pan);
      const wrong = clientPinBlock(0, wrongPin(pin), pan);
      // Blocked first: a storm of right and wrong PINs gets 27S only and changes nothing.
      for (let i = 0; i < 3; i++) await validate(token, wrong);
      const stormed = await Promise.all(Array.from({ length: 100 }, (_, i) => validate(token, i % 2 ? right : wrong)));
      assert.ok(stormed.every((r) => codes(r.body)[0] === 'VPL5SVP27S'));
      let card = await row(token);
      assert.equal(card.pin_tries, 3);
      assert.equal(card.pin_blocked, true);

      // Not blocked: whatever the interleaving, the counter never passes the maximum, it is
      // blocked exactly when at the maximum, and once blocked no right PIN was accepted after.
      const fresh = await addCard(h);
      const fpin = await pinOf(fresh.pan);
      const mixed = await Promise.all(Array.from({ length: 60 }, (_, i) => validate(fresh.token, clientPinBlock(0, i % 3 === 0 ? fpin : wrongPin(fpin), fresh.pan))));
      card = await row(fresh.token);
      assert.ok(card.pin_tries <= 3);
      assert.equal(card.pin_blocked, card.pin_tries === 3);
      const ok = mixed.filter((r) => r.statusCode === 200).length;
      const exceeded = mixed.filter((r) => codes(r.body)[0] === 'VPL5SVP27S').length;
      assert.equal(ok + exceeded + mixed.filter((r) => codes(r.body)[0] === 'VPL5SVP26S').length, 60);
      if (card.pin_blocked) assert.ok(exceeded >= 1);
    });

    test('PIN change: old and new PIN blocks; the old PIN stops working, the new one works; wrong current PINs are counted', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const change = (curr: string, reqd: string, extra: Record<string, unknown> = {}, options = {}) =>
        h.call('PUT', '/cards/pin/pin-change', { organizationNumber: 100, cardNumber: token, currPinBlock: curr, reqdPinBlock: reqd, channel: 'W', keyAssociationNumber: 'IYY', ...extra }, options);
      const newPin = pin === '2580' ? '3691' : '2580';

      const wrongCurrent = await change(clientPinBlock(0, wrongPin(pin), pan), clientPinBlock(0, newPin, pan));
      assert.deepEqual(codes(wrongCurrent.body), ['VPL5SVP26S']);
      assert.equal((await row(token)).pin_tries, 1);
      const weak = await change(clientPinBlock(0, pin, pan), clientPinBlock(0, '1111', pan));
      assert.deepEqual(codes(weak.body), ['EMBP04E']);
      const badNew = await change(clientPinBlock(0, pin, pan), 'NOTAPINBLOCK0000');
      assert.deepEqual(codes(badNew.body), ['VPL5SCP10S']);
      const badCurrent = await change('0000', clientPinBlock(0, newPin, pan));
      assert.deepEqual(codes(badCurrent.body), ['VPL5SCP09S']);
      assert.deepEqual(codes((await change(clientPinBlock(0, pin, pan), clientPinBlock(0, newPin, pan), { channel: ' ' })).body), ['VPL5SCP13S']);
      assert.deepEqual(codes((await change(clientPinBlock(0, pin, pan), clientPinBlock(0, newPin, pan), { keyAssociationNumber: undefined })).body), ['VPL5SCP14S']);
      const before = await row(token);
      assert.equal(before.pin_tries, 1);

      // Formats must be named when they are not 0: without it both blocks are read as format 0.
      assert.deepEqual(codes((await change(clientPinBlock(1, pin, pan), clientPinBlock(3, newPin, pan))).body), ['VPL5SCP09S']);
      const done = await change(clientPinBlock(3, pin, pan), clientPinBlock(3, newPin, pan), { pinBlockFormat: 3 }, { requestId: `chg-${token}` });
      assert.equal(done.statusCode, 200, done.body);
      assert.deepEqual(done.json(), { cardNumber: token, feeAmount: 0, feeWaiveReason: 0, feeRespCode: 0 });
      const after = await row(token);
      assert.equal(after.pin_tries, 0);
      assert.notEqual(after.pin_stored, before.pin_stored);
      assert.deepEqual(codes((await validate(token, clientPinBlock(0, pin, pan))).body), ['VPL5SVP26S']);
      assert.equal((await validate(token, clientPinBlock(0, newPin, pan))).statusCode, 200);
      assert.equal(await pinOf(pan), newPin, 'the security codes give the new PIN');
      // Format 4 under the AES key association.
      const aes = await change(clientPinBlock(4, newPin, pan), clientPinBlock(4, pin, pan), { keyAssociationNumber: 'IY4' });
      assert.equal(aes.statusCode, 200, aes.body);
      assert.equal((await validate(token, clientPinBlock(4, pin, pan), { keyAssociation: 'IY4' })).statusCode, 200);

      const audit = await listAudit(db(), { requestId: `chg-${token}` });
      assert.deepEqual(audit.map((a) => a.action), ['pin.change']);
      assert.equal(audit[0]!.details.outcome, 'changed');
    });

    test('PIN status refusals: function, channel, card, suppressed PIN', async () => {
      const { token } = await addCard(h);
      assert.deepEqual(codes((await pinStatus(token, 'X')).body), ['VPL5SRP11S']);
      assert.deepEqual(codes((await pinStatus(token, 'U', { channel: 'Z' })).body), ['VPL5SRP12S']);
      assert.deepEqual(codes((await pinStatus('4111110000000013', 'U')).body), ['VPL5SRP07S']);
      const noOrg = await h.call('PUT', '/cards/pin/status', { cardNumber: token, serviceFunctionCode: 'U', channel: 'I' });
      assert.equal(noOrg.statusCode, 200, noOrg.body);
      const suppressed = await addCard(h, { pinSuppression: 1 });
      assert.deepEqual(codes((await pinStatus(suppressed.token, 'U')).body), ['VPL5SRP18S']);
      assert.deepEqual(codes((await attempts('4111110000000013')).body), ['VPZ5SPT09S']);
    });

    test('dynamic CVV2: accepted inside its window, refused after; the static CVV2 is refused while dynamic mode is on', async () => {
      const { pan, token } = await addCard(h);
      const card = await row(token);
      const staticCvv2 = computeCvv2(cvk, pan, card.expiry);
      const saved = h.clock.now();
      // An hour boundary (the logo's validity is 60 minutes) plus 5 minutes.
      const start = new Date(Math.floor(saved.getTime() / 3_600_000 + 1) * 3_600_000 + 5 * 60_000);
      const at = async (t: Date) => { h.clock.set(t); return { token: await h.freshToken() }; };
      const verify = async (cvv2: string, options: object, expirationDate = card.expiry) => {
        const res = await h.call('POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: token, expirationDate, cvv2 }, options);
        assert.equal(res.statusCode, 200, res.body);
        return res.json();
      };
      const dynamic = (disableDCVV2: string, options: object) =>
        h.call('POST', '/cards/pin/dynamic-values', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY', disableDCVV2 }, options);
      try {
        let o = await at(start);
        assert.equal((await verify(staticCvv2, o)).result, 'MATCH');
        const gen = await dynamic('N', { ...o, requestId: `dcvv2-${token}` });
        assert.equal(gen.statusCode, 200, gen.body);
        const g = gen.json();
        assert.equal(g.cardNumber, token);
        assert.equal(g.accountType, 'Credit');
        assert.equal(g.dcvv2ExpiryMinutes, '55');
        assert.equal(g.dcvv2GenerationTime, start.toISOString());
        const dcvv2 = clientDecryptValue(g.dcvv2);
        assert.equal(dcvv2, computeDcvv2(cvk, pan, dcvv2Window(start.getTime(), 60)));
        assert.equal((await row(token)).dcvv2_active, true);

        o = await at(new Date(start.getTime() + 54 * 60_000));
        assert.deepEqual(await verify(dcvv2, o), {
          cardNumber: token, cvv2Valid: 'Y', result: 'MATCH', cvv2Mode: 'DYNAMIC', invalidTries: 0, maxInvalidTries: 3, blockedIndicator: 'N',
        });
        if (staticCvv2 !== dcvv2) {
          const s = await verify(staticCvv2, o);
          assert.deepEqual([s.cvv2Valid, s.result, s.invalidTries], ['N', 'NO_MATCH', 1], 'the static CVV2 is refused in dynamic mode');
          assert.equal((await verify(dcvv2, o)).result, 'MATCH');
        }
        assert.equal((await verify(dcvv2, o, card.expiry === '0101' ? '0102' : '0101')).result, 'NO_MATCH', 'another expiry');

        o = await at(new Date(start.getTime() + 56 * 60_000));
        const late = await verify(dcvv2, o);
        assert.deepEqual([late.result, late.invalidTries], ['NO_MATCH', 2], 'refused after its window');

        // Back to the static CVV2.
        const off = await dynamic('Y', o);
        assert.equal(off.statusCode, 200, off.body);
        assert.equal(off.json().dcvv2, '');
        assert.equal((await row(token)).dcvv2_active, false);
        const back = await verify(staticCvv2, o);
        assert.deepEqual([back.result, back.cvv2Mode, back.invalidTries], ['MATCH', 'STATIC', 0]);

        const audit = await listAudit(db(), { requestId: `dcvv2-${token}` });
        assert.deepEqual(audit.map((a) => a.action), ['card.dcvv2.generate']);
        assert.ok(!JSON.stringify(audit).includes(g.dcvv2));
      } finally {
        h.clock.set(saved);
      }
    });

    test('CVV2 tries are counted like PIN tries; the last try blocks, unblocking resets', async () => {
      const { pan, token } = await addCard(h);
      const card = await row(token);
      const cvv2 = computeCvv2(cvk, pan, card.expiry);
      const wrong = String((Number(cvv2) + 1) % 1000).padStart(3, '0');
      const verify = (value: string) => h.call('POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: pan, expirationDate: card.expiry, cvv2: value });
      const r1 = (await verify(wrong)).json();
      assert.deepEqual([r1.cvv2Valid, r1.result, r1.invalidTries, r1.blockedIndicator], ['N', 'NO_MATCH', 1, 'N']);
      assert.equal((await verify(cvv2)).json().result, 'MATCH');
      assert.equal((await row(token)).cvv2_tries, 0);
      const results = await Promise.all(Array.from({ length: 20 }, () => verify(wrong)));
      assert.ok(results.every((r) => r.statusCode === 200));
      const after = await row(token);
      assert.equal(after.cvv2_tries, 3);
      assert.equal(after.cvv2_blocked, true);
      assert.equal((await verify(cvv2)).json().result, 'TRIES_EXCEEDED');
      assert.equal((await pinStatus(token, 'U')).statusCode, 200);
      assert.equal((await verify(cvv2)).json().result, 'MATCH');

      // Refusals: a malformed expiry or CVV2, a client without PCI scope.
      assert.deepEqual(codes((await h.call('POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: pan, expirationDate: '2913', cvv2 })).body), ['EMBP06E']);
      assert.equal((await h.call('POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: pan, expirationDate: card.expiry, cvv2: '12' })).statusCode, 400);
      const scoped = await h.call('POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: token, expirationDate: card.expiry, cvv2 }, { client: cardsOnly });
      assert.equal(scoped.statusCode, 403);
    });

    test('dynamic values refusals: flag, channel, key association', async () => {
      const { token } = await addCard(h);
      const dyn = (extra: Record<string, unknown>) => h.call('POST', '/cards/pin/dynamic-values', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'N', ...extra });
      assert.deepEqual(codes((await dyn({ disableDCVV2: 'X' })).body), ['VPL5SGD04S']);
      assert.deepEqual(codes((await dyn({ channel: ' ' })).body), ['VPL5SPA06S']);
      assert.deepEqual(codes((await dyn({ keyAssociation: '' })).body), ['VPL5SPA07S']);
      assert.deepEqual(codes((await dyn({ keyAssociation: 'IY4' })).body), ['EMBP02E']);
      assert.deepEqual(codes((await dyn({ keyAssociation: 'ABC' })).body), ['EMBP01E']);
      assert.equal((await row(token)).dcvv2_active, false);
      const asCards = await dyn({});
      assert.equal(asCards.statusCode, 200, asCards.body);
    });

    test('values in upstream\'s form that name nothing are 422 with the endpoint\'s code, never 400; blanks around a card number are ignored', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const block = clientPinBlock(0, pin, pan);
      const base = {
        security: ['POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' }],
        validation: ['POST', '/cards/pin/validation', { organizationNumber: 100, cardNumber: token, currentPinBlock: block, channel: 'I', keyAssociation: 'IYY' }],
        attempts: ['POST', '/cards/pin/invalid-attempts', { organizationNumber: 100, cardNumber: token }],
        dynamic: ['POST', '/cards/pin/dynamic-values', { organizationNumber: 100, cardNumber: token, channel: 'I', keyAssociation: 'IYY', disableDCVV2: 'Y' }],
        status: ['PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: token, serviceFunctionCode: 'B', channel: 'W' }],
      } as const;
      const cases: Array<[keyof typeof base, Record<string, unknown>, string]> = [
        ['security', { organizationNumber: 0 }, 'VPL5SPA01S'], ['security', { organizationNumber: 999 }, 'VPL5SPA01S'],
        ['security', { cardNumber: ' '.repeat(19) }, 'VPL5SPA03S'], ['security', { cardNumber: '4111-1111-1111-1111' }, 'VPL5SCI09S'],
        ['security', { keyAssociation: '#!' }, 'EMBP01E'],
        ['validation', { organizationNumber: 999 }, 'VPL5SVP07S'], ['validation', { cardNumber: 'ABC DEF GHI JKL MNO' }, 'VPL5SVP04S'],
        ['validation', { keyAssociation: 'I-Y' }, 'EMBP01E'],
        ['attempts', { organizationNumber: 0 }, 'VPZ5SPT06S'], ['attempts', { cardNumber: '**** **** **** 1234' }, 'VPZ5SPT04S'],
        ['attempts', { cardSequenceNumber: 9999 }, 'VPZ5SPT09S'],
        ['dynamic', { organizationNumber: 999 }, 'VPL5SPA26S'], ['dynamic', { cardNumber: '%'.repeat(19) }, 'VPL5SPA04S'],
        ['status', { cardSequenceNumber: 9999 }, 'VPL5SRP05E'], ['status', { cardNumber: '#'.repeat(12) }, 'VPL5SRP04E'],
      ];
      for (const [which, extra, code] of cases) {
        const [method, url, body] = base[which];
        const res = await h.call(method, url, { ...body, ...extra });
        assert.equal(res.statusCode, 422, `${which} ${JSON.stringify(extra)}: ${res.body}`);
        assert.deepEqual(codes(res.body), [code], `${which} ${JSON.stringify(extra)}`);
      }
      // A number padded to upstream's 19 with blanks (as a fixed-length record has it) is the card.
      assert.equal((await validate(pan.padEnd(19, ' '), block)).statusCode, 200);
      const padded = await attempts(` ${pan}`);
      assert.equal(padded.statusCode, 200, padded.body);
      assert.equal(padded.json().outputArea.cardNumber, token);
      assert.equal((await row(token)).pin_tries, 0);
    });

    test('any PIN block a client sends is answered with a 422 code, never a 5xx: wrong length, not hex, wrong key kind or format', async () => {
      const { pan, token } = await addCard(h);
      const pin = await pinOf(pan);
      const { randomBytes } = await import('node:crypto');
      const hex = (n: number) => randomBytes(n).toString('hex').toUpperCase();
      const blocks = [
        hex(8), hex(16), hex(4), hex(12), hex(9), '', ' '.repeat(16), 'Z'.repeat(16), `${hex(7)}G${hex(7).slice(1)}`, 'abcdefabcdefabcd',
        clientPinBlock(0, pin, pan).slice(0, 15), clientPinBlock(4, pin, pan), clientPinBlock(1, pin, pan), clientPinBlock(3, pin, `${pan.slice(0, -2)}00`),
      ];
      const seen = new Set<string>();
      for (const currentPinBlock of blocks) {
        for (const keyAssociation of ['IYY', 'IY4']) {
          for (const pinBlockFormat of [undefined, 0, 1, 3, 4]) {
            const extra = { keyAssociation, ...(pinBlockFormat === undefined ? {} : { pinBlockFormat }) };
            const res = await validate(token, currentPinBlock, extra);
            const change = await h.call('PUT', '/cards/pin/pin-change', {
              organizationNumber: 100, cardNumber: token, currPinBlock: currentPinBlock, reqdPinBlock: currentPinBlock, channel: 'I', keyAssociationNumber: keyAssociation,
              ...(pinBlockFormat === undefined ? {} : { pinBlockFormat }),
            });
            for (const r of [res, change]) {
              assert.ok(r.statusCode === 200 || r.statusCode === 422, `${currentPinBlock} ${JSON.stringify(extra)}: ${r.statusCode} ${r.body}`);
              if (r.statusCode === 422) seen.add(codes(r.body)[0]!);
            }
            if (seen.has('VPL5SVP27S')) {
              assert.equal((await pinStatus(token, 'U')).statusCode, 200);
              seen.delete('VPL5SVP27S');
            }
          }
        }
      }
      for (const code of ['VPL5SVP05S', 'VPL5SCP09S', 'EMBP02E']) assert.ok(seen.has(code), `${code} among ${[...seen].join(', ')}`);
    });

    test('no PAN, PIN, PIN block, CVV2 or key in the logs after a PIN and CVV2 scenario', async () => {
      const { pan, token } = await addCard(h);
      const card = await row(token);
      const codesRes = (await securityCodes(token)).json();
      const pin = clientReadPinBlock(codesRes.pinEncrypt, pan);
      const cvv2 = computeCvv2(cvk, pan, card.expiry);
      const blocks = [clientPinBlock(0, pin, pan), clientPinBlock(0, wrongPin(pin), pan), clientPinBlock(4, pin, pan)];
      await validate(token, blocks[0]!);
      await validate(pan, blocks[1]!);
      await validate(token, blocks[2]!, { keyAssociation: 'IY4' });
      await validate(token, 'ZZ' + blocks[0]!.slice(2));
      await h.call('POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: pan, expirationDate: card.expiry, cvv2 });
      await h.call('POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: pan, expirationDate: card.expiry, cvv2: 'abc' });
      // The logger itself, given a request body: the cvv2 field is redacted.
      h.container.logger.info({ body: { cardNumber: pan, cvv2, currentPinBlock: blocks[0] } }, 'pins log-scan probe');
      const text = h.logs.join('');
      assert.match(text, /pins log-scan probe/);
      for (const secret of [pan, ...blocks, codesRes.pinEncrypt, codesRes.ud2ec, TEST_ZPK_HEX, TEST_CVK_HEX]) {
        assert.ok(!text.includes(secret), `a log line contains ${secret.slice(0, 4)}…`);
      }
      assert.doesNotMatch(text, new RegExp(`"cvv2":"${cvv2}"`));
      assert.doesNotMatch(text, new RegExp(`"(pin|currentPinBlock)":"[0-9A-F]`));
      // And the audit trail of the card has no value either.
      const audit = JSON.stringify(await listAudit(db(), { entityType: 'card', entityId: token, limit: 1000 }));
      for (const secret of [pan, ...blocks, codesRes.pinEncrypt, `"${cvv2}"`, `"${pin}"`]) assert.ok(!audit.includes(secret));
    });
  });
}

