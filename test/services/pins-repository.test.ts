import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCard, clientPinBlock, clientReadPinBlock, type Harness } from '../helpers/harness.ts';
import { auditRow, listAudit } from '../../src/modules/audit/index.ts';
import { eventRow } from '../../src/modules/events/index.ts';
import type { CorrectCheck, GuardedAudit } from '../../src/modules/cards/index.ts';
import type { Caller } from '../../src/modules/pins/index.ts';

/**
 * The cards repository's statements the PIN module relies on, without HTTP: each method of
 * CardRepository that moves a card's PIN, tries or dCVV2 mode (with its audit record, its events
 * and the PIN module's count of the day, a piece it passes in), then the PIN service on top of
 * them. Cards are made over HTTP (the harness); everything else calls the container.
 */
for (const backend of backends) {
  describe(`cards repository: the PIN module's statements (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend); });
    after(async () => { await h.close(); });

    const db = () => h.container.storage.db;
    const repo = () => h.container.cards.repository;
    const cardOf = (token: string) => db().selectFrom('cards').selectAll().where('pan_token', '=', token).executeTakeFirstOrThrow();
    const eventsOf = (token: string, type: string) => db().selectFrom('events').selectAll().where('card_token', '=', token).where('type', '=', type).orderBy('n').execute();
    const auditOf = async (requestId: string) => listAudit(db(), { requestId });

    // `counted` pieces as the PIN module passes them: they read the statement's `card (id, blocked)`.
    const counts: RawBuilder<unknown> = sql`select card.id from card`;
    const countsUnlessBlocked: RawBuilder<unknown> = sql`select card.id from card where not card.blocked`;
    const capped: RawBuilder<unknown> = sql`select card.id from card where false`;

    const audit = (requestId: string, token: string, action: string): GuardedAudit => ({
      row: auditRow({ clientId: 'tester', requestId }, { action, entityType: 'card', entityId: token, organization: 100, details: { channel: 'I' } }),
      done: '{"outcome":"done"}', refused: '{"outcome":"refused"}', capped: '{"outcome":"capped"}',
    });
    const wrongAudit = (requestId: string, token: string) => {
      const { done: _done, ...rest } = audit(requestId, token, 'pin.validate');
      return { ...rest, incorrect: 'incorrect', nowBlocked: 'incorrect, now blocked' };
    };
    const blockedEvent = (token: string) => [eventRow({ type: 'pin.blocked', cardToken: token, organization: 100, data: { reason: 'tries exceeded' } })];

    test('countWrongTry: one try a statement, dated; the try reaching max blocks (event once); a blocked counter moves no more', async () => {
      const { token } = await addCard(h);
      const card = await cardOf(token);
      const at = h.clock.now();
      const results = [];
      for (let k = 0; k < 4; k++) {
        results.push(await repo().countWrongTry(db(), {
          cardId: card.id, counter: 'pin', max: 3, at, counted: countsUnlessBlocked, audit: wrongAudit(`wrong-${k}-${token}`, token), eventsIfBlocked: blockedEvent(token),
        }));
      }
      assert.deepEqual(results.map((r) => [r.counted, r.tries, r.blocked, r.wasBlocked]), [
        [true, 1, false, false], [true, 2, false, false], [true, 3, true, false],
        [false, null, null, true], // blocked: not counted, nothing moved, seen as blocked
      ]);
      const after = await cardOf(token);
      assert.equal(after.pin_tries, 3);
      assert.equal(after.pin_blocked, true);
      const last: unknown = after.pin_last_invalid;
      assert.equal(last instanceof Date ? last.toISOString().slice(0, 10) : last, at.toISOString().slice(0, 10));
      assert.equal(after.cvv2_tries, 0, 'the CVV2 counter is not the PIN one');
      assert.equal((await eventsOf(token, 'pin.blocked')).length, 1, 'the blocking try alone writes the event');
      const outcomes = [];
      for (let k = 0; k < 4; k++) outcomes.push((await auditOf(`wrong-${k}-${token}`)).map((a) => a.details));
      assert.deepEqual(outcomes, [
        [{ channel: 'I', outcome: 'incorrect', tries: 1 }], [{ channel: 'I', outcome: 'incorrect', tries: 2 }],
        [{ channel: 'I', outcome: 'incorrect, now blocked', tries: 3 }], [{ channel: 'I', outcome: 'refused' }],
      ]);
    });

    test('countWrongTry and resetTries at the cap (nothing counted): nothing moves, the audit record says capped', async () => {
      const { token } = await addCard(h);
      const card = await cardOf(token);
      const wrong = await repo().countWrongTry(db(), {
        cardId: card.id, counter: 'cvv2', max: 3, at: h.clock.now(), counted: capped, audit: wrongAudit(`capped-w-${token}`, token), eventsIfBlocked: [],
      });
      assert.deepEqual(wrong, { counted: false, wasBlocked: false, tries: null, blocked: null });
      await db().updateTable('cards').set({ cvv2_tries: 2 }).where('id', '=', card.id).execute();
      const reset = await repo().resetTries(db(), { cardId: card.id, counter: 'cvv2', at: h.clock.now(), counted: capped, audit: audit(`capped-r-${token}`, token, 'card.cvv2.verify') });
      assert.deepEqual(reset, { counted: false, reset: false, wasBlocked: false });
      assert.equal((await cardOf(token)).cvv2_tries, 2);
      assert.deepEqual((await auditOf(`capped-w-${token}`))[0]?.details, { channel: 'I', outcome: 'capped' });
      assert.deepEqual((await auditOf(`capped-r-${token}`))[0]?.details, { channel: 'I', outcome: 'capped' });
    });

    test('resetTries: resets the counter concerned; not while blocked, nor for a PIN changed since its check', async () => {
      const { token } = await addCard(h);
      const card = await cardOf(token);
      await db().updateTable('cards').set({ pin_tries: 2, cvv2_tries: 1 }).where('id', '=', card.id).execute();
      const changed = await repo().resetTries(db(), {
        cardId: card.id, counter: 'pin', pinVerification: 'not-the-pvv', at: h.clock.now(), counted: countsUnlessBlocked, audit: audit(`reset-0-${token}`, token, 'pin.validate'),
      });
      assert.deepEqual(changed, { counted: true, reset: false, wasBlocked: false });
      assert.equal((await cardOf(token)).pin_tries, 2);
      const reset = await repo().resetTries(db(), {
        cardId: card.id, counter: 'pin', pinVerification: card.pin_verification, at: h.clock.now(), counted: countsUnlessBlocked, audit: audit(`reset-1-${token}`, token, 'pin.validate'),
      });
      assert.deepEqual(reset, { counted: true, reset: true, wasBlocked: false });
      assert.deepEqual([(await cardOf(token)).pin_tries, (await cardOf(token)).cvv2_tries], [0, 1]);
      await db().updateTable('cards').set({ cvv2_blocked: true }).where('id', '=', card.id).execute();
      const blocked = await repo().resetTries(db(), { cardId: card.id, counter: 'cvv2', at: h.clock.now(), counted: counts, audit: audit(`reset-2-${token}`, token, 'card.cvv2.verify') });
      assert.deepEqual(blocked, { counted: true, reset: false, wasBlocked: true });
      assert.equal((await cardOf(token)).cvv2_tries, 1);
      const details = await Promise.all([0, 1, 2].map(async (k) => (await auditOf(`reset-${k}-${token}`))[0]?.details.outcome));
      assert.deepEqual(details, ['refused', 'done', 'refused']);
    });

    test('setPinStatus: an unblock resets both counters only when counted; a block sets the flag; events only when the card moved', async () => {
      const { token } = await addCard(h);
      const card = await cardOf(token);
      await db().updateTable('cards').set({ pin_tries: 3, pin_blocked: true, cvv2_tries: 3, cvv2_blocked: true }).where('id', '=', card.id).execute();
      const unblocked = (requestId: string) => ({
        cardId: card.id, unblock: true, at: h.clock.now(), audit: audit(requestId, token, 'pin.unblock'),
        events: [eventRow({ type: 'pin.unblocked', cardToken: token, organization: 100 })],
      });
      assert.equal(await repo().setPinStatus(db(), { ...unblocked(`status-0-${token}`), counted: capped }), false);
      const still = await cardOf(token);
      assert.deepEqual([still.pin_tries, still.pin_blocked, still.cvv2_tries, still.cvv2_blocked], [3, true, 3, true]);
      assert.equal((await eventsOf(token, 'pin.unblocked')).length, 0);
      assert.deepEqual((await auditOf(`status-0-${token}`))[0]?.details, { channel: 'I', outcome: 'capped' });

      assert.equal(await repo().setPinStatus(db(), { ...unblocked(`status-1-${token}`), counted: counts }), true);
      const open = await cardOf(token);
      assert.deepEqual([open.pin_tries, open.pin_blocked, open.cvv2_tries, open.cvv2_blocked], [0, false, 0, false]);
      assert.equal((await eventsOf(token, 'pin.unblocked')).length, 1);
      assert.deepEqual((await auditOf(`status-1-${token}`))[0]?.details, { channel: 'I' });

      assert.equal(await repo().setPinStatus(db(), {
        cardId: card.id, unblock: false, at: h.clock.now(), audit: audit(`status-2-${token}`, token, 'pin.block'), events: blockedEvent(token),
      }), true);
      const shut = await cardOf(token);
      assert.deepEqual([shut.pin_blocked, shut.pin_tries, shut.cvv2_blocked], [true, 0, false]);
      assert.equal((await eventsOf(token, 'pin.blocked')).length, 1);
    });

    test('changePin: the new PIN with the tries reset, only for the PIN checked and counted; the event only when changed', async () => {
      const { token } = await addCard(h);
      const card = await cardOf(token);
      await db().updateTable('cards').set({ pin_tries: 1 }).where('id', '=', card.id).execute();
      const change = (requestId: string, checked: string | null) => ({
        cardId: card.id, storedPinBlock: 'NEW-STORED-BLOCK', verification: '9999', checked, at: h.clock.now(), counted: countsUnlessBlocked,
        audit: audit(requestId, token, 'pin.change'), events: [eventRow({ type: 'pin.changed', cardToken: token, organization: 100 })],
      });
      assert.deepEqual(await repo().changePin(db(), change(`change-0-${token}`, 'another-pvv')), { counted: true, changed: false, wasBlocked: false });
      assert.equal((await cardOf(token)).pin_verification, card.pin_verification);
      assert.equal((await eventsOf(token, 'pin.changed')).length, 0);
      assert.deepEqual(await repo().changePin(db(), change(`change-1-${token}`, card.pin_verification)), { counted: true, changed: true, wasBlocked: false });
      const after = await cardOf(token);
      assert.deepEqual([after.pin_stored, after.pin_verification, after.pin_tries], ['NEW-STORED-BLOCK', '9999', 0]);
      assert.equal((await eventsOf(token, 'pin.changed')).length, 1);
      await db().updateTable('cards').set({ pin_blocked: true }).where('id', '=', card.id).execute();
      assert.deepEqual(await repo().changePin(db(), change(`change-2-${token}`, '9999')), { counted: false, changed: false, wasBlocked: true });
      assert.deepEqual(await repo().tryState(db(), card.id), { pin_blocked: true, cvv2_blocked: false, pin_verification: '9999' });
      const details = await Promise.all([0, 1, 2].map(async (k) => (await auditOf(`change-${k}-${token}`))[0]?.details.outcome));
      assert.deepEqual(details, ['refused', 'done', 'refused']);
    });

    test('setDcvv2Modes: each card its mode, an audit record and a card.dcvv2_mode_changed event per change, in one call', async () => {
      const [a, b] = [await addCard(h), await addCard(h)];
      const [ca, cb] = [await cardOf(a.token), await cardOf(b.token)];
      const at = h.clock.now();
      const expiresAt = new Date(at.getTime() + 60 * 60_000);
      const row = (token: string, requestId: string) => auditRow({ clientId: 'tester', requestId }, { action: 'card.dcvv2.generate', entityType: 'card', entityId: token, organization: 100 });
      await repo().setDcvv2Modes(db(), [
        { cardId: ca.id, active: true, generatedAt: at, validityMinutes: 60, expiresAt, at, audit: row(a.token, `dcvv2-a-${a.token}`) },
        { cardId: cb.id, active: false, generatedAt: null, validityMinutes: null, expiresAt: null, at, audit: row(b.token, `dcvv2-b-${b.token}`) },
      ]);
      const [na, nb] = [await cardOf(a.token), await cardOf(b.token)];
      assert.deepEqual([na.dcvv2_active, na.dcvv2_validity_minutes, new Date(na.dcvv2_expires_at!).getTime()], [true, 60, expiresAt.getTime()]);
      assert.deepEqual([nb.dcvv2_active, nb.dcvv2_validity_minutes, nb.dcvv2_expires_at], [false, null, null]);
      assert.equal((await auditOf(`dcvv2-a-${a.token}`)).length, 1);
      assert.equal((await auditOf(`dcvv2-b-${b.token}`)).length, 1);
      assert.deepEqual((await eventsOf(a.token, 'card.dcvv2_mode_changed')).map((e) => e.data.dynamic), [true]);
      assert.deepEqual((await eventsOf(b.token, 'card.dcvv2_mode_changed')).map((e) => e.data.dynamic), [false]);
    });

    test('recordCorrectChecks: a card counted once per call (the second check again), a blocked counter 1, the cap 2; each outcome its audit details; a run without its request id writes nothing', async () => {
      const cards = await Promise.all([addCard(h), addCard(h), addCard(h)]);
      const [free, blocked, full] = await Promise.all(cards.map((c) => cardOf(c.token)));
      await db().updateTable('cards').set({ cvv2_blocked: true }).where('id', '=', blocked!.id).execute();
      const day = h.clock.now().toISOString().slice(0, 10);
      // The card `full` is at its cap of 2 today.
      await db().insertInto('card_daily_limits').values({ card_id: full!.id, day, verifications: 2 }).execute();
      // The PIN module's piece, with a cap of 2: it counts each card of `checked` once, in card order.
      const counted = sql`
        insert into card_daily_limits as l (card_id, day, verifications)
        select id, day, 1 from checked
        where not blocked and coalesce((select t.verifications from card_daily_limits t where t.card_id = checked.id and t.day = checked.day), 0) < 2
        order by id
        on conflict (card_id, day) do update set verifications = l.verifications + 1 where l.verifications < 2
        returning card_id`;
      const check = (card: { id: string; pan_token: string }, requestId: string, counter: 'pin' | 'cvv2' = 'pin'): CorrectCheck => ({
        cardId: card.id, counter, day,
        audit: auditRow({ clientId: 'tester', requestId }, { action: 'pin.validate', entityType: 'card', entityId: card.pan_token, organization: 100 }),
      });
      const checks = [check(free!, `ok-0-${free!.id}`), check(free!, `ok-1-${free!.id}`), check(blocked!, `ok-2-${blocked!.id}`, 'cvv2'), check(full!, `ok-3-${full!.id}`)];
      const details = ['{"outcome":"correct"}', '{"outcome":"blocked"}', '{"outcome":"capped"}'] as const;
      assert.deepEqual(await repo().recordCorrectChecks(checks, counted, details), [0, 'again', 1, 2]);
      const count = async (id: string) => (await db().selectFrom('card_daily_limits').select('verifications').where('card_id', '=', id).where('day', '=', day).executeTakeFirst())?.verifications;
      assert.deepEqual([await count(free!.id), await count(blocked!.id), await count(full!.id)], [1, undefined, 2]);
      const outcome = async (requestId: string) => (await auditOf(requestId)).map((a) => a.details.outcome);
      assert.deepEqual([await outcome(`ok-0-${free!.id}`), await outcome(`ok-1-${free!.id}`), await outcome(`ok-2-${blocked!.id}`), await outcome(`ok-3-${full!.id}`)],
        [['correct'], [], ['blocked'], ['capped']]);
      // The second check, in the next call: counted, and now the card is at its cap.
      assert.deepEqual(await repo().recordCorrectChecks([checks[1]!, { ...checks[2]!, cardId: free!.id }], counted, details), [0, 'again']);
      assert.equal(await count(free!.id), 2);

      // With answers: recorded only by the run that holds its request id.
      const requestId = `held-${free!.id}`;
      await db().insertInto('idempotency_keys').values({ client_id: 'tester', request_id: requestId, fingerprint: 'f', status_code: null, response_sealed: null, holder: 'run-1' }).execute();
      const answer = (statusCode: number, holder: string) => ({ clientId: 'tester', requestId, holder, statusCode, responseSealed: `sealed-${statusCode}`, audit: [] });
      const answered = (holder: string): CorrectCheck => ({ ...check(free!, requestId), answers: [answer(200, holder), answer(422, holder), answer(423, holder)] });
      assert.deepEqual(await repo().recordCorrectChecks([answered('run-0')], counted, details), [undefined]);
      assert.deepEqual(await outcome(requestId), []);
      assert.deepEqual(await repo().recordCorrectChecks([answered('run-1')], counted, details), [2], 'the card is at its cap');
      const key = await db().selectFrom('idempotency_keys').selectAll().where('client_id', '=', 'tester').where('request_id', '=', requestId).executeTakeFirstOrThrow();
      assert.deepEqual([key.status_code, key.response_sealed, key.holder], [423, 'sealed-423', null], 'the answer to the outcome reached');
      assert.deepEqual(await outcome(requestId), ['capped']);
    });

    // --- the PIN service on top of them -----------------------------------------------------------

    const caller = (): Caller => ({ actor: { clientId: 'tester', requestId: randomUUID() }, keyAssociations: { IYY: 't.zpk' }, organizations: [100] });
    const withPin = async () => {
      const { pan, token } = await addCard(h);
      const codes = await h.container.pins.securityCodes(caller(), { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' });
      const pin = clientReadPinBlock(codes.pinEncrypt, pan);
      const validate = (p: string) => h.container.pins.validate(caller(), {
        organizationNumber: 100, cardNumber: token, currentPinBlock: clientPinBlock(0, p, pan), channel: 'I', keyAssociation: 'IYY',
      });
      return { pan, token, pin, wrong: pin === '1357' ? '2468' : '1357', validate };
    };
    const codeOf = (p: Promise<unknown>) => p.then(() => 'OK', (e: { code?: string }) => e.code ?? String(e));
    const verificationsToday = async (token: string) => {
      const card = await cardOf(token);
      return (await db().selectFrom('card_daily_limits').select(['verifications', 'unblocks']).where('card_id', '=', card.id).executeTakeFirst()) ?? { verifications: 0, unblocks: 0 };
    };

    test('PIN service: concurrent right PINs of one card each counted once; wrong ones block at the maximum; an unblock resets both counters', async () => {
      const c = await withPin();
      assert.deepEqual(await Promise.all([c.validate(c.pin), c.validate(c.pin), c.validate(c.pin)]).then((r) => r.length), 3);
      assert.equal((await verificationsToday(c.token)).verifications, 3, 'each check counted once');
      await db().updateTable('cards').set({ cvv2_tries: 2 }).where('pan_token', '=', c.token).execute();
      assert.deepEqual([await codeOf(c.validate(c.wrong)), await codeOf(c.validate(c.wrong)), await codeOf(c.validate(c.wrong)), await codeOf(c.validate(c.pin))],
        ['VPL5SVP26S', 'VPL5SVP26S', 'VPL5SVP27S', 'VPL5SVP27S']);
      const blocked = await cardOf(c.token);
      assert.deepEqual([blocked.pin_tries, blocked.pin_blocked], [3, true]);
      assert.equal((await verificationsToday(c.token)).verifications, 6, 'the try on a blocked PIN is no verification');
      assert.equal((await eventsOf(c.token, 'pin.blocked')).length, 1);
      await h.container.pins.updateStatus(caller(), { organizationNumber: 100, cardNumber: c.token, serviceFunctionCode: 'U', channel: 'W' });
      const open = await cardOf(c.token);
      assert.deepEqual([open.pin_tries, open.pin_blocked, open.cvv2_tries, open.cvv2_blocked], [0, false, 0, false]);
      assert.equal((await verificationsToday(c.token)).unblocks, 1);
      assert.equal(await codeOf(c.validate(c.pin)), 'OK');
    });

    test('PIN service: a right PIN after a wrong one resets the tries; a PIN change replaces the PIN checked', async () => {
      const c = await withPin();
      assert.equal(await codeOf(c.validate(c.wrong)), 'VPL5SVP26S');
      assert.equal((await cardOf(c.token)).pin_tries, 1);
      assert.equal(await codeOf(c.validate(c.pin)), 'OK');
      assert.equal((await cardOf(c.token)).pin_tries, 0);
      const before = await cardOf(c.token);
      const fresh = c.pin === '2580' ? '3691' : '2580';
      await h.container.pins.change(caller(), {
        organizationNumber: 100, cardNumber: c.token, currPinBlock: clientPinBlock(0, c.pin, c.pan), reqdPinBlock: clientPinBlock(0, fresh, c.pan),
        channel: 'W', keyAssociationNumber: 'IYY',
      });
      assert.equal((await eventsOf(c.token, 'pin.changed')).length, 1);
      assert.equal(await codeOf(c.validate(fresh)), 'OK');
      // A PVV is four digits: two PINs share one about once in 10,000 cards (the card's PIN is
      // random), and then the old PIN is as good as the new one (a run failed once that way).
      if ((await cardOf(c.token)).pin_verification !== before.pin_verification) assert.equal(await codeOf(c.validate(c.pin)), 'VPL5SVP26S');
    });

    test('PIN service: dCVV2 on (N) and off (Y) through the mode statement', async () => {
      const c = await withPin();
      const dynamic = (flag: 'N' | 'Y') => h.container.pins.dynamicValues(caller(), {
        organizationNumber: 100, cardNumber: c.token, disableDCVV2: flag, channel: 'W', keyAssociation: 'IYY',
      });
      const on = await dynamic('N');
      assert.notEqual(on.dcvv2, '');
      const card = await cardOf(c.token);
      assert.equal(card.dcvv2_active, true);
      assert.equal(card.dcvv2_validity_minutes, 60);
      await dynamic('Y');
      assert.equal((await cardOf(c.token)).dcvv2_active, false);
      assert.deepEqual((await eventsOf(c.token, 'card.dcvv2_mode_changed')).map((e) => e.data.dynamic), [true, false]);
    });
  });
}
