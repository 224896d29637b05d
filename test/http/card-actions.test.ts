import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv } from 'node:crypto';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCard, cardsOnly, other, panOf, tester, TEST_BUREAU_HEX, TEST_CVK_HEX, TEST_ZEK_HEX, type Harness } from '../helpers/harness.ts';
import { isLuhnValid } from '../../src/crypto/luhn.ts';
import { computeCvv, computeCvv2, prepareCvk } from '../../src/crypto/index.ts';
import { parseDiscretionaryData, parseTrack1, parseTrack2 } from '../../src/crypto/track-data.ts';
import { listAudit } from '../../src/modules/audit/index.ts';
import { decryptPersonalizationRecord } from '../../src/modules/personalization/index.ts';
import { Refusal } from '../../src/shared/errors.ts';
import { responseProblems } from '../helpers/contract.ts';

const URL = '/cards/embosser/cardAction-L8V2';

/** YYMM of the month `months` after the current one (UTC). */
const yymmIn = (now: Date, months: number) => {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + months, 1));
  return `${String(d.getUTCFullYear() % 100).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
};
/** YYMM + months. */
const addMonths = (yymm: string, months: number) => {
  const i = (2000 + Number(yymm.slice(0, 2))) * 12 + Number(yymm.slice(2)) - 1 + months;
  return `${String(Math.floor(i / 12) % 100).padStart(2, '0')}${String((i % 12) + 1).padStart(2, '0')}`;
};
const lastDay = (yymm: string) => new Date(Date.UTC(2000 + Number(yymm.slice(0, 2)), Number(yymm.slice(2)), 0)).toISOString().slice(0, 10);

/** A response field as the client reads it: 3DES-ECB under its ZEK, ASCII, trailing spaces dropped. */
function clientRead(hex: string): string {
  assert.match(hex, /^([0-9A-F]{16})+$/);
  const d = createDecipheriv('des-ede-ecb', Buffer.from(TEST_ZEK_HEX, 'hex'), null).setAutoPadding(false);
  return Buffer.concat([d.update(Buffer.from(hex, 'hex')), d.final()]).toString('latin1').replace(/ +$/, '');
}

const cvk = () => prepareCvk(Buffer.from(TEST_CVK_HEX, 'hex'));

for (const backend of backends) {
  describe(`card actions (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend); });
    after(async () => { await h.close(); });

    const db = () => h.container.storage.db;
    const act = (body: Record<string, unknown>, client = tester, requestId?: string) =>
      h.call('PUT', URL, { organizationNumber: 100, randomPin: 0, numberCardsRequested: 0, ...body }, { client, ...(requestId ? { requestId } : {}) });
    const rows = (token: string) => db().selectFrom('cards').selectAll().where('pan_token', '=', token).orderBy('card_sequence').execute();
    const byId = (id: string) => db().selectFrom('cards').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const records = (cardId: string) => db().selectFrom('personalization_records').selectAll().where('card_id', '=', cardId).orderBy('id').execute();
    const bureau = { algorithm: 'AES' as const, key: TEST_BUREAU_HEX };
    const expectCode = async (body: Record<string, unknown>, code: string, client = tester) => {
      const res = await act(body, client);
      assert.equal(res.statusCode, 422, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().errors[0].code, code);
      return res;
    };

    /** Checks the response's tracks and embosser block against the card (number, expiry, service code, CVV, PVV). */
    function checkTracks(data: Record<string, string>, pan: string, expiry: string, serviceCode: string, pvv: string | null) {
      const t2text = clientRead(data.encryptedTrack2!);
      assert.equal(data.encryptedTrack2!.length, 80);
      const t2 = parseTrack2(t2text);
      assert.equal(t2.pan, pan);
      assert.equal(t2.expiryYYMM, expiry);
      assert.equal(t2.serviceCode, serviceCode);
      const dd = parseDiscretionaryData(t2.discretionary, { kind: 'PVV' });
      assert.equal(dd.cvv, computeCvv(cvk(), pan, expiry, serviceCode), 'the stripe CVV of this card and expiry');
      if (pvv) assert.equal(dd.pvv, pvv);
      const t1 = parseTrack1(clientRead(data.encryptedTrack1!));
      assert.equal(t1.pan, pan);
      assert.equal(t1.expiryYYMM, expiry);
      assert.equal(t1.serviceCode, serviceCode);
      assert.equal(t1.name, 'LOVELACE/ADA');
      const block = clientRead(data.embosserBlockData!);
      assert.equal(data.embosserBlockData!.length, 176);
      assert.equal(block.slice(0, 23).trim(), pan.replace(/(\d{4})(?=\d)/g, '$1 '));
      assert.equal(block.slice(23, 28), `${expiry.slice(2)}/${expiry.slice(0, 2)}`);
      assert.equal(block.slice(28, 54).trim(), 'ADA LOVELACE');
      assert.equal(block.slice(80, 83), computeCvv2(cvk(), pan, expiry));
      return dd;
    }

    test('0 no action: records the action and reason only; no personalization data', async () => {
      const { pan, token } = await addCard(h);
      const res = await act({ cardNumber: token, cardSequence: 1, cardAction: 0, cardActionReason: 'N', numberCardsReturned: 2 });
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.equal(d.cardNumber, token, 'the PAN token, also for a PCI client');
      assert.ok(!res.body.includes(pan));
      assert.equal(d.cardSequence, 1);
      assert.equal(d.cardAction, 0);
      assert.equal(d.numberCardsRequested, 0);
      assert.equal(d.numberCardsReturned, 2);
      assert.equal(d.encryptedTrack1, '');
      assert.equal(d.encryptedTrack2, '');
      assert.equal(d.embosserBlockData, '');
      // Every documented field; no user data sent: the date of the action and zeros.
      assert.deepEqual(responseProblems('cardAction', d), []);
      assert.deepEqual(d.userData, [{ userDate: h.clock.now().toISOString().slice(0, 10), userAmount: 0, userCode: 0 }]);
      const all = await rows(token);
      assert.equal(all.length, 1);
      assert.equal(all[0]!.last_action, 0);
      assert.equal(all[0]!.last_action_reason, 'N');
      assert.equal((await records(all[0]!.id)).length, 1, 'only the card add record');
      await expectCode({ cardNumber: token, cardAction: 0, numberCardsRequested: 1 }, 'VPL5SPR17S');
    });

    test('1 additional plastic: same number and expiry, next sequence, same PIN, a plastic without PIN mailer', async () => {
      const { pan, token } = await addCard(h);
      const res = await act({ cardNumber: pan, cardAction: 1, numberCardsRequested: 1, cardActionReason: 'A' }, tester, `act1-${token}`);
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.equal(d.cardNumber, token);
      assert.ok(!res.body.includes(pan));
      assert.equal(d.cardSequence, 2);
      assert.equal(d.numberCardsRequested, 1);
      assert.equal(d.logo, 1);
      assert.equal(d.embosserName1, 'ADA LOVELACE');
      const [first, second] = await rows(token);
      assert.ok(first && second);
      assert.equal(second.expiry, first.expiry);
      assert.equal(d.expiryDate, lastDay(first.expiry));
      assert.equal(second.pan_hash, first.pan_hash);
      assert.equal(second.status, 0);
      assert.equal(first.status, 0, 'the first plastic stays valid');
      assert.equal(second.pin_stored, first.pin_stored, 'same number, same PIN');
      assert.equal(second.pin_verification, first.pin_verification);
      assert.equal(second.activation_required, true, 'a mailed plastic waits for activation');
      assert.equal(second.last_action, 1);
      assert.equal(second.last_action_reason, 'A');
      assert.equal(first.last_action, 1);
      assert.equal(second.replaces_card_id, null);
      const recs = await records(second.id);
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.reason, 'card.action.1');
      assert.equal(recs[0]!.reference, `${token}.2`);
      const f = decryptPersonalizationRecord(recs[0]!.encrypted_record, recs[0]!.cipher as 'AES-CBC', bureau);
      assert.equal(f.pan, pan);
      assert.equal(f.pinBlock, '', 'the PIN is not new: no PIN mailer');
      assert.equal(parseDiscretionaryData(parseTrack2(f.track2).discretionary, { kind: 'PVV' }).pvv, first.pin_verification);
      checkTracks(d, pan, first.expiry, '201', first.pin_verification);
      const audit = await listAudit(db(), { requestId: `act1-${token}` });
      assert.deepEqual(audit.map((a) => a.action).sort(), ['card.action.1', 'card.action.1']);
      assert.doesNotMatch(JSON.stringify(audit), new RegExp(pan));
      await expectCode({ cardNumber: token, cardAction: 1, numberCardsRequested: 0 }, 'VPL5SPR10S');
    });

    test('2 renewal: same number, next sequence, expiry extended from the current one, new CVV', async () => {
      const { pan, token } = await addCard(h);
      assert.equal((await act({ cardNumber: token, cardAction: 1, numberCardsRequested: 1 })).statusCode, 200);
      const res = await act({ cardNumber: token, cardSequence: 1, cardAction: 2, numberCardsRequested: 1 });
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.equal(d.cardSequence, 3, 'the next sequence of the number, whichever sequence was named');
      const all = await rows(token);
      assert.equal(all.length, 3);
      const [first, , renewed] = all;
      const expected = addMonths(first!.expiry, 36);
      assert.equal(renewed!.expiry, expected);
      assert.equal(d.expiryDate, lastDay(expected));
      assert.equal(renewed!.pin_verification, first!.pin_verification);
      assert.equal((await records(renewed!.id))[0]?.reason, 'card.action.2');
      const dd = checkTracks(d, pan, expected, '201', first!.pin_verification);
      assert.notEqual(dd.cvv, computeCvv(cvk(), pan, first!.expiry, '201'), 'new expiry, new security values');
      assert.equal((await byId(first!.id)).status, 0, 'the current plastic stays valid until it expires');

      // An expired card renews from this month.
      const old = await addCard(h);
      const lastMonth = yymmIn(h.clock.now(), -1);
      await db().updateTable('cards').set({ expiry: lastMonth }).where('pan_token', '=', old.token).execute();
      const late = await act({ cardNumber: old.token, cardAction: 2, numberCardsRequested: 1 });
      assert.equal(late.statusCode, 200, late.body);
      assert.equal(late.json().expiryDate, lastDay(yymmIn(h.clock.now(), 36)));

      // A renewal may not give an expiry more than 20 years ahead.
      const far = await addCard(h);
      await db().updateTable('cards').set({ expiry: yymmIn(h.clock.now(), 230) }).where('pan_token', '=', far.token).execute();
      await expectCode({ cardNumber: far.token, cardAction: 2, numberCardsRequested: 1 }, 'EMBC13E');
      assert.equal((await rows(far.token)).length, 1);
    });

    test('3 damaged card: same number and expiry, next sequence, reason kept', async () => {
      const { pan, token } = await addCard(h);
      const res = await act({ cardNumber: token, cardAction: 3, numberCardsRequested: 1, cardActionReason: 'D', userData: { userCode: 7, userDate: '2024-01-02' } });
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.equal(d.cardSequence, 2);
      assert.deepEqual(d.userData, [{ userCode: 7, userDate: '2024-01-02', userAmount: 0 }]);
      assert.deepEqual(responseProblems('cardAction', d), []);
      const [first, second] = await rows(token);
      assert.equal(second!.expiry, first!.expiry);
      assert.equal(second!.last_action_reason, 'D');
      assert.equal(first!.last_action, 3);
      assert.equal((await records(second!.id))[0]?.reason, 'card.action.3');
      checkTracks(d, pan, first!.expiry, '201', first!.pin_verification);
      const details = await h.call('POST', '/cards/v2/embosser/details', { organizationNumber: '100', cardNumber: token, cardSequence: '2', foreignUse: '0' });
      assert.equal(details.json().cardIssueAction, 3);
      assert.equal(details.json().numberCardsRequested, 1);
    });

    test('4 lost/stolen: a new number and PIN; every sequence of the old number closed with block code L; links both ways', async () => {
      const { pan, token } = await addCard(h);
      assert.equal((await act({ cardNumber: token, cardAction: 1, numberCardsRequested: 1 })).statusCode, 200);
      const res = await act({ cardNumber: token, cardSequence: 1, cardAction: 4, cardActionReason: 'S', numberCardsReturned: 0 });
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      // The new card's token; its number through card-pan.
      assert.match(d.cardNumber, /^411111[0-9A-Z]{9}[0-9]{4}$/);
      const newPan = await panOf(h, d.cardNumber);
      assert.ok(!res.body.includes(newPan) && !res.body.includes(pan));
      assert.notEqual(newPan, pan);
      assert.ok(isLuhnValid(newPan) && newPan.startsWith('411111') && newPan.length === 16);
      assert.equal(d.cardSequence, 1);
      const expiry = yymmIn(h.clock.now(), 36);
      assert.equal(d.expiryDate, lastDay(expiry));
      const old = await rows(token);
      assert.equal(old.length, 2);
      const fresh = await db().selectFrom('cards').selectAll().where('replaces_card_id', '=', old[0]!.id).executeTakeFirstOrThrow();
      for (const o of old) {
        assert.equal(o.status, 3, 'closed for good');
        assert.equal(o.block_code, 'L');
        assert.equal(o.replaced_by_card_id, fresh.id);
      }
      assert.equal(old[0]!.last_action, 4);
      assert.equal(old[0]!.last_action_reason, 'S');
      assert.notEqual(fresh.pan_hash, old[0]!.pan_hash);
      assert.equal(fresh.status, 0);
      assert.equal(fresh.block_code, '');
      assert.equal(fresh.activation_required, true);
      assert.equal(fresh.account_number, old[0]!.account_number);
      assert.equal(fresh.customer_number, old[0]!.customer_number);
      assert.equal(fresh.last_action, 4);
      assert.notEqual(fresh.pin_stored, old[0]!.pin_stored, 'a new PIN');
      const recs = await records(fresh.id);
      assert.equal(recs[0]?.reason, 'card.action.4');
      const f = decryptPersonalizationRecord(recs[0]!.encrypted_record, recs[0]!.cipher as 'AES-CBC', bureau);
      assert.equal(f.pan, newPan);
      assert.notEqual(f.pinBlock, '', 'a new PIN comes with a PIN mailer');
      checkTracks(d, newPan, expiry, '201', fresh.pin_verification);

      // The old number takes no further action, whichever sequence is named.
      await expectCode({ cardNumber: token, cardSequence: 2, cardAction: 3, numberCardsRequested: 1 }, 'EMBC11E');
      await expectCode({ cardNumber: pan, cardAction: 0 }, 'EMBC11E');
      await expectCode({ cardNumber: fresh.pan_token, cardAction: 4, numberCardsRequested: 1 }, 'VPL5SPR17S');
    });

    test('5 PIN reissue: a new random PIN for the same card, counters reset, a PIN mailer for the bureau', async () => {
      const { pan, token } = await addCard(h);
      const [before] = await rows(token);
      await db().updateTable('cards').set({ pin_tries: 3, pin_blocked: true }).where('id', '=', before!.id).execute();
      const res = await act({ cardNumber: token, cardAction: 5, randomPin: 1, cardActionReason: 'P' });
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.equal(d.cardSequence, 1);
      assert.equal(d.randomPin, 1);
      const after = await byId(before!.id);
      assert.notEqual(after.pin_stored, before!.pin_stored);
      assert.match(after.pin_stored ?? '', /^EMBP1\./);
      assert.match(after.pin_verification ?? '', /^[0-9]{4}$/);
      assert.equal(after.pin_tries, 0);
      assert.equal(after.pin_blocked, false);
      assert.equal(after.last_action, 5);
      assert.equal((await rows(token)).length, 1, 'no new plastic');
      const recs = await records(before!.id);
      const mailer = recs.at(-1)!;
      assert.equal(mailer.reason, 'card.action.5');
      assert.equal(mailer.reference, `${token}.1.PIN`);
      const f = decryptPersonalizationRecord(mailer.encrypted_record, mailer.cipher as 'AES-CBC', bureau);
      assert.equal(f.pinBlockFormat, '4');
      assert.notEqual(f.pinBlock, '');
      assert.equal(parseDiscretionaryData(parseTrack2(f.track2).discretionary, { kind: 'PVV' }).pvv, after.pin_verification);
      checkTracks(d, pan, before!.expiry, '201', after.pin_verification);

      await expectCode({ cardNumber: token, cardAction: 5, randomPin: 0 }, 'EMBC12E');
      await expectCode({ cardNumber: token, cardAction: 5, randomPin: 1, numberCardsRequested: 1 }, 'VPL5SPR17S');
      for (const action of [0, 1, 2, 3, 4, 6, 7]) {
        await expectCode({ cardNumber: token, cardAction: action, randomPin: 1, numberCardsRequested: [1, 2, 3, 6].includes(action) ? 1 : 0 }, 'VPL5SPR29S');
      }
      const suppressed = await addCard(h, { pinSuppression: 1 });
      await expectCode({ cardNumber: suppressed.token, cardAction: 5, randomPin: 1 }, 'VPL5SCP29S');
      assert.equal((await rows(suppressed.token))[0]!.pin_stored, null);
    });

    test('6 emergency replacement: a new number active at once, old card closed, bureau record flagged card.action.6', async () => {
      const { token } = await addCard(h);
      const res = await act({ cardNumber: token, cardAction: 6, numberCardsRequested: 1, instantProcessType: '1' });
      assert.equal(res.statusCode, 200, res.body);
      const [old] = await rows(token);
      assert.equal(old!.status, 3);
      assert.equal(old!.block_code, 'L');
      const fresh = await byId(old!.replaced_by_card_id!);
      assert.equal(fresh.replaces_card_id, old!.id);
      assert.equal(fresh.status, 0);
      assert.equal(fresh.activation_required, false, 'instant: usable at once');
      assert.ok(fresh.activated_at);
      assert.equal(fresh.last_action, 6);
      assert.equal((await records(fresh.id))[0]?.reason, 'card.action.6');
      assert.equal(res.json().cardNumber, fresh.pan_token);
      assert.equal((await panOf(h, fresh.pan_token)).length, 16);
      await expectCode({ cardNumber: fresh.pan_token, cardAction: 6, numberCardsRequested: 0 }, 'VPL5SPR10S');
    });

    test('7 compromised card: a new number and PIN, old card closed with block code C', async () => {
      const { pan, token } = await addCard(h);
      const res = await act({ cardNumber: token, cardAction: 7 });
      assert.equal(res.statusCode, 200, res.body);
      const [old] = await rows(token);
      assert.equal(old!.status, 3);
      assert.equal(old!.block_code, 'C');
      const fresh = await byId(old!.replaced_by_card_id!);
      assert.equal(fresh.replaces_card_id, old!.id);
      assert.notEqual(fresh.pan_hash, old!.pan_hash);
      assert.notEqual(fresh.pin_stored, old!.pin_stored);
      assert.equal(fresh.activation_required, true);
      assert.equal((await records(fresh.id))[0]?.reason, 'card.action.7');
      assert.equal(res.json().cardNumber, fresh.pan_token);
      const newPan = await panOf(h, fresh.pan_token);
      assert.ok(!res.body.includes(newPan));
      assert.notEqual(newPan, pan);
      checkTracks(res.json(), newPan, fresh.expiry, '201', fresh.pin_verification);
      await expectCode({ cardNumber: fresh.pan_token, cardAction: 7, numberCardsRequested: 1 }, 'VPL5SPR17S');
    });

    test('clients without PCI scope see the PAN token and no personalization data', async () => {
      const { pan, token } = await addCard(h);
      const res = await act({ cardNumber: token, cardAction: 4 }, cardsOnly);
      assert.equal(res.statusCode, 200, res.body);
      const d = res.json();
      assert.equal(d.cardNumber.length, 19);
      assert.match(d.cardNumber, /[A-Z]/);
      assert.notEqual(d.cardNumber, token);
      assert.equal(d.encryptedTrack1, '');
      assert.equal(d.encryptedTrack2, '');
      assert.equal(d.embosserBlockData, '');
      assert.doesNotMatch(res.body, new RegExp(pan));
      const again = await act({ cardNumber: d.cardNumber, cardAction: 1, numberCardsRequested: 1 }, cardsOnly);
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.json().cardNumber, d.cardNumber);
      assert.equal(again.json().cardSequence, 2);
    });

    test('refusals: action out of range, unknown card, closed card or account, instant type; nothing changes', async () => {
      const { token, account } = await addCard(h);
      const count = async () => Number((await db().selectFrom('cards').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const before = await count();
      await expectCode({ cardNumber: token, cardAction: 8 }, 'VPL5SPR04E');
      await expectCode({ cardNumber: token, cardAction: 9 }, 'VPL5SPR04E');
      await expectCode({ cardNumber: '4111111111111111', cardAction: 1, numberCardsRequested: 1 }, 'VPL5SPR04S');
      await expectCode({ cardNumber: token.replace(/.{4}$/, '0000'), cardAction: 0 }, 'VPL5SPR04S');
      await expectCode({ cardNumber: token, cardSequence: 5, cardAction: 0 }, 'VPL5SPR04S');
      await expectCode({ cardNumber: token, cardAction: 3, numberCardsRequested: 1, instantProcessType: 'X' }, 'VPL5SPR32E');
      // An amount of 17 digits past what a column holds (999,999,999,999,999.99 reads as 1e15).
      await expectCode({ cardNumber: token, cardAction: 0, userData: { userAmount: 1e15 } }, 'EMBC16E');
      await expectCode({ cardNumber: token, cardAction: 0, userData: { userAmount: -999999999999999.99 } }, 'EMBC16E');
      // A card of another organization is not found from this one.
      const otherCard = await addCard(h);
      await db().updateTable('cards').set({ organization: 200 }).where('pan_token', '=', otherCard.token).execute();
      await expectCode({ cardNumber: otherCard.token, cardAction: 0 }, 'VPL5SPR04S');
      // Closed card (status 3 through the status endpoint), closed account.
      const closed = await addCard(h);
      assert.equal((await h.call('PUT', '/cards/status-L8V1', { organizationNumber: 100, cardStatus: 3, cardSequence: 1, cardNumber: closed.token })).statusCode, 200);
      await expectCode({ cardNumber: closed.token, cardAction: 4 }, 'EMBC11E');
      await expectCode({ cardNumber: closed.token, cardAction: 5, randomPin: 1 }, 'EMBC11E');
      await db().updateTable('accounts').set({ status: 'C' }).where('account_number', '=', account).execute();
      await expectCode({ cardNumber: token, cardAction: 1, numberCardsRequested: 1 }, 'VPL5SCIA2S');
      assert.equal(await count(), before + 2, 'only the two cards this test added');
      const unchanged = (await rows(token))[0]!;
      assert.equal(unchanged.status, 0);
      assert.equal(unchanged.last_action, 0);

      // An organization with no record: only reachable below the HTTP layer (clients are bound to existing ones).
      const refusal = await h.container.cards.actions.update({ clientId: 'tester', requestId: 'x' }, { organizationNumber: 998, cardNumber: token, cardAction: 0, randomPin: 0 }, { pci: false, cardNumberKey: null })
        .catch((e: unknown) => e);
      assert.ok(refusal instanceof Refusal);
      assert.equal(refusal.kind, 'business-rule');
      assert.equal(refusal.code, 'VPL5SPR02S');
    });

    test('user data as upstream types it: any int32 code, an amount of 17 digits', async () => {
      const { token } = await addCard(h);
      for (const userData of [{ userCode: -2147483647, userAmount: 999999999999999 }, { userCode: 2147483647, userAmount: -0.01, userDate: '2031-02-28' }]) {
        const res = await act({ cardNumber: token, cardAction: 0, userData });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json().userData, [{ userDate: h.clock.now().toISOString().slice(0, 10), ...userData }]);
      }
      for (const userCode of [2147483648, -2147483648]) {
        assert.equal((await act({ cardNumber: token, cardAction: 0, userData: { userCode } })).statusCode, 400);
      }
    });

    test('schema failures (400), another organization (403), no signature (401)', async () => {
      const { token } = await addCard(h);
      for (const body of [
        { cardNumber: token, cardAction: -1 },
        { cardNumber: token, cardAction: 10 },
        { cardNumber: token, cardAction: '1x' },
        { cardNumber: token, cardAction: 0, randomPin: 2 },
        { cardNumber: token, cardAction: 0, numberCardsRequested: 100 },
        { cardNumber: token, cardAction: 0, processingType: '2' },
        { cardNumber: token, cardAction: 0, cardActionReason: 'AB' },
        { cardNumber: 'ABC', cardAction: 0 },
        { cardAction: 0 },
      ]) {
        const res = await act(body);
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
        assert.equal(res.json().errors[0].code, 'EMBV01E');
      }
      const noPin = await h.call('PUT', URL, { organizationNumber: 100, cardNumber: token, cardAction: 0 });
      assert.equal(noPin.statusCode, 400, 'randomPin is required');
      assert.equal((await act({ organizationNumber: 200, cardNumber: token, cardAction: 0 })).statusCode, 403);
      assert.equal((await act({ cardNumber: token, cardAction: 0 }, other)).statusCode, 403);
      assert.equal((await h.call('PUT', URL, { organizationNumber: 100, cardNumber: token, cardAction: 0, randomPin: 0 }, { signature: 'x' })).statusCode, 401);
      assert.equal((await rows(token))[0]!.last_action, 0);
    });

    test('concurrent actions on one number: sequences never collide; a number is replaced once', async () => {
      const { token } = await addCard(h);
      const plastics = await Promise.all([1, 3, 1].map((cardAction) => act({ cardNumber: token, cardAction, numberCardsRequested: 1 })));
      assert.deepEqual(plastics.map((r) => r.statusCode), [200, 200, 200], plastics.map((r) => r.body).join('\n'));
      assert.deepEqual(plastics.map((r) => r.json().cardSequence).sort(), [2, 3, 4]);
      const replaced = await Promise.all([4, 7].map((cardAction) => act({ cardNumber: token, cardSequence: 1, cardAction })));
      assert.deepEqual(replaced.map((r) => r.statusCode).sort(), [200, 422]);
      assert.equal(replaced.find((r) => r.statusCode === 422)!.json().errors[0].code, 'EMBC11E');
      const [old] = await rows(token);
      assert.equal(Number((await db().selectFrom('cards').select((e) => e.fn.countAll().as('n')).where('replaces_card_id', '=', old!.id).executeTakeFirstOrThrow()).n), 1);
    });

    test('a replayed request id returns the same card, and issues no second one', async () => {
      const { token } = await addCard(h);
      const id = `replay-${token}`;
      const first = await act({ cardNumber: token, cardAction: 7 }, tester, id);
      const second = await act({ cardNumber: token, cardAction: 7 }, tester, id);
      assert.equal(first.statusCode, 200);
      assert.equal(second.body, first.body);
      const [old] = await rows(token);
      assert.equal(Number((await db().selectFrom('cards').select((e) => e.fn.countAll().as('n')).where('replaces_card_id', '=', old!.id).executeTakeFirstOrThrow()).n), 1);
    });
  });
}
