import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCard, clientPinBlock, clientReadPinBlock, sign, signingTimestamp, tester, testBootstrap, type Harness } from '../helpers/harness.ts';
import { createContainer, type Container } from '../../src/container.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { openStorage, type StorageHandle } from '../../src/db/database.ts';
import { createLogger } from '../../src/shared/logger.ts';

/**
 * Two API "processes" against one PostgreSQL: two containers, each with its own connection pool,
 * the same schema and master key. PIN counters must hold across them: the database decides.
 * PostgreSQL only (the embedded store has one process by construction).
 */
for (const backend of backends.filter((b) => b === 'postgres')) {
  describe(`PIN counters across two API processes (${backend})`, () => {
    const masterKey = randomBytes(32).toString('hex');
    let h: Harness;
    let storage2: StorageHandle;
    let container2: Container;
    let app2: App;

    before(async () => {
      // The daily caps per card are lifted: these tests try one card hundreds of times (the try
      // counters); card-daily-limits.test.ts tests the caps, across two processes too.
      h = await startHarness(backend, { settings: { EMBOSS_MASTER_KEY: masterKey, EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY: 100_000 } });
      storage2 = await openStorage({ databaseUrl: process.env.TEST_DATABASE_URL!, schema: h.store.storage.postgres!.schema!, poolSize: 10 });
      container2 = await createContainer({
        settings: h.container.settings, logger: createLogger({ level: 'warn', destination: new Writable({ write(_c, _e, done) { done(); } }) }),
        clock: h.clock, storage: storage2, bootstrapText: testBootstrap, jobs: false, migrate: false, env: {},
      });
      app2 = await buildApp(container2, { docs: false });
      await app2.ready();
    });
    after(async () => {
      await app2.close();
      await container2.close();
      await storage2.close();
      await h.close();
    });

    /** A signed call to either process. */
    const callOn = async (app: App, url: string, body: unknown) => {
      const raw = JSON.stringify(body);
      const timestamp = signingTimestamp(h.clock.now().getTime());
      return app.inject({
        method: 'POST', url, payload: raw,
        headers: {
          authorization: `Bearer ${await h.token(tester)}`, apikey: tester.apikey, 'x-timestamp': timestamp, 'x-request-id': randomUUID(),
          'x-hmac-signature': sign(tester.secret, tester.apikey, timestamp, raw, url), 'content-type': 'application/json',
        },
      });
    };
    const validateOn = (app: App, cardNumber: string, currentPinBlock: string) =>
      callOn(app, '/cards/pin/validation', { organizationNumber: 100, cardNumber, currentPinBlock, channel: 'I', keyAssociation: 'IYY' });
    const code = (body: string) => (JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]?.code ?? 'OK';

    test('200 wrong PIN blocks split over two processes: the counter stops at the maximum, the PIN is blocked', async () => {
      const { pan, token } = await addCard(h);
      // The second process sees the card the first one issued.
      const codes = await callOn(app2, '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' });
      assert.equal(codes.statusCode, 200, codes.body);
      const pin = clientReadPinBlock(codes.json().pinEncrypt, pan);
      const wrong = clientPinBlock(0, pin === '1357' ? '2468' : '1357', pan);

      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => validateOn(i % 2 ? h.app : app2, token, wrong)));
      const tally = new Map<string, number>();
      for (const r of results) tally.set(code(r.body), (tally.get(code(r.body)) ?? 0) + 1);
      assert.deepEqual(Object.fromEntries(tally), { VPL5SVP26S: 2, VPL5SVP27S: 198 });
      const card = await h.container.storage.db.selectFrom('cards').select(['pin_tries', 'pin_blocked']).where('pan_token', '=', token).executeTakeFirstOrThrow();
      assert.deepEqual(card, { pin_tries: 3, pin_blocked: true });

      // Right PINs racing wrong ones on both processes never unblock it.
      const right = clientPinBlock(0, pin, pan);
      const storm = await Promise.all(Array.from({ length: 100 }, (_, i) => validateOn(i % 2 ? h.app : app2, token, i % 4 < 2 ? right : wrong)));
      assert.ok(storm.every((r) => code(r.body) === 'VPL5SVP27S'));
      const after = await h.container.storage.db.selectFrom('cards').select(['pin_tries', 'pin_blocked']).where('pan_token', '=', token).executeTakeFirstOrThrow();
      assert.deepEqual(after, { pin_tries: 3, pin_blocked: true });
    });

    test('right and wrong PINs mixed over two processes: never past the maximum, blocked exactly at it', async () => {
      const { pan, token } = await addCard(h);
      const codes = await callOn(h.app, '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' });
      const pin = clientReadPinBlock(codes.json().pinEncrypt, pan);
      const right = clientPinBlock(0, pin, pan);
      const wrong = clientPinBlock(0, pin === '1357' ? '2468' : '1357', pan);
      const results = await Promise.all(Array.from({ length: 120 }, (_, i) => validateOn(i % 2 ? h.app : app2, token, i % 5 === 0 ? right : wrong)));
      assert.ok(results.every((r) => ['OK', 'VPL5SVP26S', 'VPL5SVP27S'].includes(code(r.body))));
      const card = await h.container.storage.db.selectFrom('cards').select(['pin_tries', 'pin_blocked']).where('pan_token', '=', token).executeTakeFirstOrThrow();
      assert.ok(card.pin_tries <= 3);
      assert.equal(card.pin_blocked, card.pin_tries === 3);
    });
  });
}
