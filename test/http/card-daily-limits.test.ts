import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCard, clientPinBlock, clientReadPinBlock, sign, tester, testBootstrap, TEST_CVK_HEX, type Harness, type CallOptions } from '../helpers/harness.ts';
import { computeCvv2, prepareCvk } from '../../src/crypto/cvv.ts';
import { listAudit } from '../../src/modules/audit/index.ts';
import { createContainer } from '../../src/container.ts';
import { buildApp } from '../../src/http/app.ts';
import { openStorage } from '../../src/db/database.ts';
import { createLogger } from '../../src/shared/logger.ts';

const cvk = prepareCvk(Buffer.from(TEST_CVK_HEX, 'hex'));
const VERIFICATIONS_CAPPED = 'EMBP08E';
const UNBLOCKS_CAPPED = 'EMBP09E';

/**
 * Per card and per UTC day, verifications (PIN validation, the current PIN of a PIN change, CVV2
 * verification; right or wrong) and PIN unblocks are capped (EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY,
 * default 20; EMBOSS_UNBLOCKS_PER_CARD_PER_DAY, default 2): a client cannot guess PINs without end
 * by unblocking after every third try. The defaults are what is tested.
 */
for (const backend of backends) {
  describe(`per-card daily caps (${backend})`, () => {
    let h: Harness;
    // A master key of our own, so that a second process (last test) can use the keys too.
    before(async () => { h = await startHarness(backend, { settings: { EMBOSS_MASTER_KEY: randomBytes(32).toString('hex') } }); });
    after(async () => { await h.close(); });

    const db = () => h.container.storage.db;
    const row = (token: string) => db().selectFrom('cards').selectAll().where('pan_token', '=', token).executeTakeFirstOrThrow();
    const code = (body: string) => (JSON.parse(body) as { errors?: Array<{ code: string }> }).errors?.[0]?.code ?? 'OK';
    const wrongPin = (pin: string) => (pin === '1357' ? '2468' : '1357');
    const counted = async (token: string) => {
      const card = await row(token);
      return db().selectFrom('card_daily_limits').select(['day', 'verifications', 'unblocks']).where('card_id', '=', card.id).orderBy('day').execute();
    };

    /** A card with its PIN and CVV2, and the calls that verify them. */
    const card = async () => {
      const { pan, token } = await addCard(h);
      const codes = await h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' });
      const pin = clientReadPinBlock(codes.json().pinEncrypt, pan);
      const { expiry } = await row(token);
      const cvv2 = computeCvv2(cvk, pan, expiry);
      const wrongCvv2 = String((Number(cvv2) + 1) % 1000).padStart(3, '0');
      return {
        pan, token, pin, cvv2, wrongCvv2,
        validate: (p: string, o: CallOptions = {}) =>
          h.call('POST', '/cards/pin/validation', { organizationNumber: 100, cardNumber: token, currentPinBlock: clientPinBlock(0, p, pan), channel: 'I', keyAssociation: 'IYY' }, o),
        change: (current: string, wanted: string, o: CallOptions = {}) =>
          h.call('PUT', '/cards/pin/pin-change', { organizationNumber: 100, cardNumber: token, currPinBlock: clientPinBlock(0, current, pan), reqdPinBlock: clientPinBlock(0, wanted, pan), channel: 'W', keyAssociationNumber: 'IYY' }, o),
        verifyCvv2: (value: string, o: CallOptions = {}) =>
          h.call('POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: pan, expirationDate: expiry, cvv2: value }, o),
        pinStatus: (fn: 'B' | 'U', o: CallOptions = {}) => h.call('PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: token, serviceFunctionCode: fn, channel: 'W' }, o),
      };
    };

    /**
     * Runs `work` with the test clock at the start of the next UTC day (plus a second), with a token
     * issued then; the clock is set back afterwards, so the harness's cached tokens serve the next test.
     */
    const onNextUtcDay = async (work: (o: CallOptions) => Promise<void>) => {
      const today = h.clock.now();
      h.clock.set(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1, 0, 0, 1)));
      try {
        await work({ token: await h.freshToken() });
      } finally {
        h.clock.set(today);
      }
    };

    test('PIN validation, PIN change and CVV2 share one count a day: the 21st is refused whatever it holds, changes nothing, is audited; the next UTC day starts over', async () => {
      const c = await card();
      const other = await card();
      const newPin = c.pin === '2580' ? '3691' : '2580';
      const statuses: string[] = [];
      // 20 verifications, right and wrong, never three wrong in a row.
      for (let i = 0; i < 12; i++) statuses.push(code((await c.validate(i % 2 ? c.pin : wrongPin(c.pin))).body));
      for (let i = 0; i < 4; i++) statuses.push(code((await c.verifyCvv2(i % 2 ? c.cvv2 : c.wrongCvv2)).body));
      statuses.push(code((await c.change(wrongPin(c.pin), newPin)).body));
      statuses.push(code((await c.change(c.pin, newPin)).body));
      statuses.push(code((await c.validate(newPin)).body));
      statuses.push(code((await c.validate(wrongPin(newPin))).body));
      assert.ok(!statuses.includes(VERIFICATIONS_CAPPED), statuses.join(' '));
      assert.deepEqual((await counted(c.token)).map((r) => r.verifications), [20]);

      const before = await row(c.token);
      assert.equal(before.pin_tries, 1);
      const refused = [
        await c.validate(wrongPin(newPin)), await c.validate(newPin), await c.verifyCvv2(c.cvv2), await c.verifyCvv2(c.wrongCvv2),
        await c.change(newPin, c.pin), await c.change(wrongPin(newPin), c.pin),
      ];
      for (const r of refused) {
        assert.equal(r.statusCode, 422, r.body);
        assert.deepEqual(r.json().errors, [{ code: VERIFICATIONS_CAPPED, description: 'DAILY LIMIT OF VERIFICATIONS FOR THIS CARD REACHED' }]);
      }
      assert.deepEqual(await row(c.token), before, 'tries, PIN, CVV2 counter and block are as they were');
      assert.deepEqual((await counted(c.token)).map((r) => r.verifications), [20]);
      const audit = (await listAudit(db(), { entityType: 'card', entityId: c.token, limit: 1000 })).filter((a) => a.details.code === VERIFICATIONS_CAPPED);
      assert.deepEqual(audit.map((a) => a.action), ['pin.validate', 'pin.validate', 'card.cvv2.verify', 'card.cvv2.verify', 'pin.change', 'pin.change']);
      for (const a of audit) assert.deepEqual([a.details.outcome, a.details.cap], ['refused: daily limit of verifications for this card reached', 20]);
      // Another card is counted apart.
      assert.equal((await other.validate(other.pin)).statusCode, 200);

      await onNextUtcDay(async (tomorrow) => {
        assert.equal((await c.validate(newPin, tomorrow)).statusCode, 200);
        assert.equal((await c.verifyCvv2(c.cvv2, tomorrow)).json().result, 'MATCH');
      });
      assert.deepEqual((await counted(c.token)).map((r) => r.verifications), [20, 2]);
    });

    test('PIN unblocks are capped a day: the third is refused and the PIN stays blocked (audited); blocking is never capped; the next UTC day unblocks', async () => {
      const c = await card();
      for (let i = 0; i < 2; i++) {
        assert.equal((await c.pinStatus('B')).statusCode, 200);
        assert.equal((await c.pinStatus('U')).statusCode, 200);
      }
      assert.equal((await c.pinStatus('B')).statusCode, 200);
      const third = await c.pinStatus('U');
      assert.equal(third.statusCode, 422, third.body);
      assert.deepEqual(third.json().errors, [{ code: UNBLOCKS_CAPPED, description: 'DAILY LIMIT OF PIN UNBLOCKS FOR THIS CARD REACHED' }]);
      assert.equal((await row(c.token)).pin_blocked, true);
      assert.equal(code((await c.validate(c.pin)).body), 'VPL5SVP27S');
      assert.equal((await c.pinStatus('B')).statusCode, 200, 'blocking stays possible');
      const audit = (await listAudit(db(), { entityType: 'card', entityId: c.token, limit: 1000 })).filter((a) => a.details.code === UNBLOCKS_CAPPED);
      assert.deepEqual(audit.map((a) => [a.action, a.details.cap]), [['pin.unblock', 2]]);
      assert.deepEqual((await counted(c.token)).map((r) => r.unblocks), [2]);

      await onNextUtcDay(async (tomorrow) => {
        assert.equal((await c.pinStatus('U', tomorrow)).statusCode, 200);
        assert.equal((await c.validate(c.pin, tomorrow)).statusCode, 200);
      });
    });

    test('40 verifications of one card at once against the cap of 20: exactly 20 are served; 10 unblocks at once: exactly 2', async () => {
      const c = await card();
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 4 === 3 ? c.verifyCvv2(c.cvv2) : c.validate(c.pin))));
      const served = results.filter((r) => r.statusCode === 200);
      assert.equal(served.length, 20, results.map((r) => code(r.body)).join(' '));
      assert.ok(results.every((r) => r.statusCode === 200 || code(r.body) === VERIFICATIONS_CAPPED), results.map((r) => r.body).join('\n'));
      assert.deepEqual((await counted(c.token)).map((r) => r.verifications), [20]);
      const audit = (await listAudit(db(), { entityType: 'card', entityId: c.token, limit: 1000 })).filter((a) => a.details.code === VERIFICATIONS_CAPPED);
      assert.equal(audit.length, 20);

      const unblocks = await Promise.all(Array.from({ length: 10 }, () => c.pinStatus('U')));
      assert.equal(unblocks.filter((r) => r.statusCode === 200).length, 2, unblocks.map((r) => code(r.body)).join(' '));
      assert.ok(unblocks.every((r) => r.statusCode === 200 || code(r.body) === UNBLOCKS_CAPPED), unblocks.map((r) => r.body).join('\n'));
      assert.deepEqual((await counted(c.token)).map((r) => r.unblocks), [2]);
    });

    test('40 wrong PINs at once: blocked at exactly the maximum, never counted past the cap; tries on the blocked PIN get no verdict and are not counted', async () => {
      const c = await card();
      const results = await Promise.all(Array.from({ length: 40 }, () => c.validate(wrongPin(c.pin))));
      const tally: Record<string, number> = {};
      for (const r of results) tally[code(r.body)] = (tally[code(r.body)] ?? 0) + 1;
      assert.equal(tally.VPL5SVP26S, 2, JSON.stringify(tally));
      assert.deepEqual(Object.keys(tally).filter((k) => !['VPL5SVP26S', 'VPL5SVP27S', VERIFICATIONS_CAPPED].includes(k)), [], JSON.stringify(tally));
      const after = await row(c.token);
      assert.deepEqual([after.pin_tries, after.pin_blocked], [3, true]);
      const [today] = await counted(c.token);
      assert.ok(today!.verifications >= 3 && today!.verifications <= 20, String(today!.verifications));
      // Later tries meet the block when the card is read: no verdict, no count.
      assert.equal(code((await c.validate(c.pin)).body), 'VPL5SVP27S');
      assert.deepEqual(await counted(c.token), [today]);
    });

    test('a refused request replayed under its request id is answered the same and not counted again', async () => {
      const c = await card();
      for (let i = 0; i < 20; i++) await c.validate(c.pin);
      const requestId = randomUUID();
      const first = await c.validate(c.pin, { requestId });
      const again = await c.validate(c.pin, { requestId });
      assert.equal(code(first.body), VERIFICATIONS_CAPPED);
      assert.equal(again.headers['x-idempotent-replay'], 'true');
      assert.equal(again.body, first.body);
      assert.equal((await listAudit(db(), { requestId })).length, 1);
    });

    test('housekeeping purges the counts of past days', async () => {
      const c = await card();
      await c.validate(c.pin);
      await onNextUtcDay(async (tomorrow) => {
        await c.validate(c.pin, tomorrow);
        assert.equal((await counted(c.token)).length, 2);
        assert.ok(await h.container.pins.purgeDailyLimits() >= 1, 'yesterday\'s rows are purged');
        assert.deepEqual((await counted(c.token)).map((r) => r.day), [h.clock.now().toISOString().slice(0, 10)]);
        assert.equal(await h.container.pins.purgeDailyLimits(), 0);
      });
    });

    if (backend === 'postgres') {
      test('40 verifications at once split over two API processes: exactly 20 served', async () => {
        const storage2 = await openStorage({ databaseUrl: process.env.TEST_DATABASE_URL!, schema: h.store.storage.postgres!.schema!, poolSize: 10 });
        const container2 = await createContainer({
          settings: h.container.settings, logger: createLogger({ level: 'warn', destination: new Writable({ write(_c, _e, done) { done(); } }) }),
          clock: h.clock, storage: storage2, bootstrapText: testBootstrap, jobs: false, migrate: false, env: {},
        });
        const app2 = await buildApp(container2, { docs: false });
        await app2.ready();
        try {
          const c = await card();
          const token = await h.freshToken();
          const validateOn = (app: typeof app2, n: number) => {
            const raw = JSON.stringify({ organizationNumber: 100, cardNumber: c.token, currentPinBlock: clientPinBlock(0, c.pin, c.pan), channel: 'I', keyAssociation: 'IYY' });
            const timestamp = String(h.clock.now().getTime() - n);
            return app.inject({
              method: 'POST', url: '/cards/pin/validation', payload: raw,
              headers: {
                authorization: `Bearer ${token}`, apikey: tester.apikey, 'x-timestamp': timestamp, 'x-request-id': randomUUID(),
                'x-hmac-signature': sign(tester.secret, tester.apikey, timestamp, raw, '/cards/pin/validation'), 'content-type': 'application/json',
              },
            });
          };
          const results = await Promise.all(Array.from({ length: 40 }, (_, i) => validateOn(i % 2 ? h.app : app2, i)));
          assert.equal(results.filter((r) => r.statusCode === 200).length, 20, results.map((r) => code(r.body)).join(' '));
          assert.ok(results.every((r) => r.statusCode === 200 || code(r.body) === VERIFICATIONS_CAPPED), results.map((r) => r.body).join('\n'));
          assert.deepEqual((await counted(c.token)).map((r) => r.verifications), [20]);
        } finally {
          await app2.close();
          await container2.close();
          await storage2.close();
        }
      });
    }
  });
}
