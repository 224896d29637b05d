import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import {
  startHarness, addCard, addCustomer, addAccount, cardBody, clientPinBlock, clientReadPinBlock, customerBody, other, sign, signingTimestamp, tester, uuid, type Harness,
} from '../helpers/harness.ts';
import { IdempotencyService } from '../../src/modules/idempotency/index.ts';
import { buildApp } from '../../src/http/app.ts';
import { RequestTakenOver, type Actor, type Outcome } from '../../src/shared/actor.ts';
import { sql } from 'kysely';
import { waitFor } from '../helpers/wait.ts';

/**
 * The request-id semantics the README states under "Exactly-once requests", one test per
 * sentence: what a retry gets after a crash, a timeout, a 5xx; leases; batches that isolate
 * their items. The crash of a whole API process under load is in test/integration/faults.test.ts.
 */
const LEASE_SECONDS = 10;

for (const backend of backends) {
  describe(`exactly-once requests (${backend})`, () => {
    let h: Harness;
    let failInstantCard = false;
    before(async () => {
      h = await startHarness(backend, {
        settings: { EMBOSS_REQUEST_LEASE_SECONDS: LEASE_SECONDS },
        cards: { afterInstantAccount: async () => { if (failInstantCard) { failInstantCard = false; throw new Error('injected failure inside the transaction'); } } },
      });
    });
    after(async () => { await h.close(); });

    const db = () => h.container.storage.db;
    const count = async (table: 'customers' | 'accounts' | 'cards' | 'card_numbers' | 'personalization_records') =>
      Number((await db().selectFrom(table).select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    /**
     * A run of a request made without HTTP, as an API process makes it: reserved under the client's
     * request id, answering in its transaction. Its process "dies" after the call: nothing after
     * the transaction runs (no response, no completion).
     */
    async function reservedRun(requestId: string, method: string, url: string, body: unknown) {
      const r = await h.container.idempotency.reserve('tester', requestId, IdempotencyService.fingerprint(method, url, JSON.stringify(body)), `signature of the run that died, ${requestId}`);
      assert.equal(r.kind, 'new');
      return actorHolding(requestId, (r as { holder: string }).holder);
    }
    const actorHolding = (requestId: string, holder: string): Actor => ({
      clientId: 'tester', requestId,
      answer: async (outcome: Outcome) => ({
        clientId: 'tester', requestId, holder, statusCode: 200, audit: [],
        responseSealed: await h.container.idempotency.seal(JSON.stringify((outcome as { result: unknown }).result)),
      }),
    });

    test('every write route records its answer in the transaction of its effect, and a replay gets that answer', async () => {
      const { pan, token, account, customer } = await addCard(h);
      const card = await db().selectFrom('cards').selectAll().where('pan_token', '=', token).executeTakeFirstOrThrow();
      const pin = clientReadPinBlock((await h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' })).json().pinEncrypt, pan);
      const wrong = pin === '1357' ? '2468' : '1357';
      const writes: Array<[method: 'POST' | 'PUT', url: string, body: Record<string, unknown>, status: number]> = [
        ['POST', '/customer/l8v2', customerBody(), 200],
        ['PUT', '/customer/', { organizationNumber: 100, customerNumber: customer, numberType: '1', nameLine1: 'ADA KING' }, 200],
        ['POST', '/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: customer, creditLimit: 10, billingCycle: 1 } }, 200],
        ['PUT', '/account/block-code', { organizationNumber: 100, accountNumber: await addAccount(h, customer), foreignUse: '0', functionCode: 'B', blockCode: 'A', blockCodeIndicator: 1 }, 200],
        ['POST', '/cards/embosser/l8vf', cardBody(account), 200],
        ['POST', '/account/v2/instantCard', { organizationNumber: 100, logo: 1, customerNumber: customer, accountCreateFlag: 'Y', accountData: { creditLimit: 5 }, embosserData: { embossedName1: 'ADA', digitalCardFlag: 0 } }, 200],
        ['PUT', '/cards/embosser/cardAction-L8V2', { organizationNumber: 100, cardNumber: token, cardAction: 0, randomPin: 0, numberCardsRequested: 0 }, 200],
        ['POST', '/cards/pin/validation', { organizationNumber: 100, cardNumber: token, currentPinBlock: clientPinBlock(0, wrong, pan), channel: 'I', keyAssociation: 'IYY' }, 422],
        ['POST', '/cards/pin/validation', { organizationNumber: 100, cardNumber: token, currentPinBlock: clientPinBlock(0, pin, pan), channel: 'I', keyAssociation: 'IYY' }, 200],
        ['POST', '/cards/cvv2/verification', { organizationNumber: 100, cardNumber: token, expirationDate: card.expiry, cvv2: '000' }, 200],
        ['PUT', '/cards/pin/pin-change', { organizationNumber: 100, cardNumber: token, currPinBlock: clientPinBlock(0, pin, pan), reqdPinBlock: clientPinBlock(0, '4826', pan), channel: 'W', keyAssociationNumber: 'IYY' }, 200],
        ['POST', '/cards/pin/dynamic-values', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'N' }, 200],
        ['POST', '/cards/pin/dynamic-values', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'Y' }, 200],
        ['PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: token, serviceFunctionCode: 'B', channel: 'W' }, 200],
        ['PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: token, serviceFunctionCode: 'U', channel: 'W' }, 200],
        ['PUT', '/cards/activation', { organizationNumber: 100, cardNumber: token, serviceType: 'S' }, 200],
        ['PUT', '/cards/status-L8V1', { organizationNumber: 100, cardNumber: token, cardSequence: 1, cardStatus: 2 }, 200],
        ['POST', '/cards/mass-card-issue-L8V3', { organizationNumber: 100, logo: 2, cardType: 1, functionType: 'A', quantityToCreate: 5, customerNumber: customer }, 200],
      ];
      const logsBefore = h.logs.length;
      for (const [method, url, body, status] of writes) {
        const requestId = uuid();
        const first = await h.call(method, url, body, { requestId });
        assert.equal(first.statusCode, status, `${url}: ${first.body}`);
        const replay = await h.call(method, url, body, { requestId });
        assert.equal(replay.statusCode, status, url);
        assert.equal(replay.headers['x-idempotent-replay'], 'true', url);
        assert.equal(replay.body, first.body, url);
      }
      const outside = h.logs.slice(logsBefore).filter((l) => l.includes('answered outside its transaction'));
      assert.deepEqual(outside, [], 'a write route answered after its transaction');
    });

    test('a write whose answer cannot be made keeps nothing: customer add, card add, PIN block', async () => {
      const cannotAnswer: Actor = { clientId: 'tester', requestId: uuid(), answer: async () => { throw new Error('the response cannot be serialised'); } };
      const { token, account } = await addCard(h);
      const before = { customers: await count('customers'), cards: await count('cards'), numbers: await count('card_numbers'), records: await count('personalization_records') };
      await assert.rejects(h.container.customers.add(cannotAnswer, customerBody()), /cannot be serialised/);
      await assert.rejects(h.container.cards.issuing.add(cannotAnswer, cardBody(account)), /cannot be serialised/);
      await assert.rejects(h.container.pins.updateStatus({ actor: cannotAnswer, keyAssociations: {}, organizations: [100] },
        { organizationNumber: 100, cardNumber: token, serviceFunctionCode: 'B', channel: 'W' }), /cannot be serialised/);
      assert.deepEqual(
        { customers: await count('customers'), cards: await count('cards'), numbers: await count('card_numbers'), records: await count('personalization_records') },
        before,
      );
      const card = await db().selectFrom('cards').select('pin_blocked').where('pan_token', '=', token).executeTakeFirstOrThrow();
      assert.equal(card.pin_blocked, false);
    });

    test('a card action with a user code the response cannot carry ("Infinity") is refused and issues nothing, however often it is sent', async () => {
      const { token } = await addCard(h);
      const before = { cards: await count('cards'), records: await count('personalization_records') };
      const requestId = uuid();
      const body = { organizationNumber: 100, cardNumber: token, cardAction: 1, numberCardsRequested: 1, randomPin: 0, userData: { userCode: 'Infinity' } };
      for (let i = 0; i < 3; i++) {
        const res = await h.call('PUT', '/cards/embosser/cardAction-L8V2', body, { requestId });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().errors[0].code, 'EMBV06E');
      }
      assert.deepEqual({ cards: await count('cards'), records: await count('personalization_records') }, before);
    });

    test('after a crash behind a committed write, the retry gets the committed answer and the work is not done again', async () => {
      const requestId = uuid();
      const body = customerBody();
      const before = await count('customers');
      const committed = await h.container.customers.add(await reservedRun(requestId, 'POST', '/customer/l8v2', body), body);
      // The process died here: the client never got an answer. It retries under the same id.
      const retry = await h.call('POST', '/customer/l8v2', body, { requestId });
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal(retry.headers['x-idempotent-replay'], 'true');
      assert.equal(retry.json().customerNumber, committed.customerNumber);
      assert.equal(await count('customers'), before + 1);
    });

    test('a failure after the commit is answered with the committed answer, not a 5xx', async () => {
      // The same app, with a fault after the handler (its transaction committed): the response cannot be sent as made.
      const app = await buildApp(h.container, { docs: false });
      let fail = true;
      app.addHook('preSerialization', async () => { if (fail) { fail = false; throw new Error('injected failure after the commit'); } });
      await app.ready();
      try {
        const raw = JSON.stringify(customerBody());
        const requestId = uuid();
        const send = async () => {
          const timestamp = signingTimestamp(h.clock.now().getTime());
          return app.inject({
            method: 'POST', url: '/customer/l8v2', payload: raw,
            headers: {
              authorization: `Bearer ${await h.token()}`, apikey: tester.apikey, 'x-timestamp': timestamp, 'x-request-id': requestId,
              'x-hmac-signature': sign(tester.secret, tester.apikey, timestamp, raw, '/customer/l8v2'), 'content-type': 'application/json',
            },
          });
        };
        const before = await count('customers');
        const first = await send();
        assert.equal(first.statusCode, 200, first.body);
        assert.match(first.json().customerNumber, /^[0-9]{19}$/);
        assert.equal(await count('customers'), before + 1);
        const retry = await send();
        assert.equal(retry.headers['x-idempotent-replay'], 'true');
        assert.equal(retry.body, first.body);
        assert.equal(await count('customers'), before + 1);
      } finally {
        await app.close();
      }
    });

    /**
     * A run of the request at `url` reserved its id and died before it wrote anything: the id is
     * "in progress" (409) for the lease only, and nothing is made meanwhile; then a retry runs the
     * request once, and another gets its answer.
     */
    async function diedRunTakenOverAfterLease(url: string, body: unknown, made: () => Promise<number>) {
      const requestId = uuid();
      await reservedRun(requestId, 'POST', url, body);
      const before = await made();
      const early = await h.call('POST', url, body, { requestId });
      assert.equal(early.statusCode, 409, early.body);
      assert.equal(early.json().errors[0].code, 'EMBA13E');
      assert.equal(await made(), before, 'nothing made while the id is held');
      h.clock.advance((LEASE_SECONDS + 1) * 1000);
      const retry = await h.call('POST', url, body, { requestId, token: await h.freshToken() });
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal(retry.headers['x-idempotent-replay'], undefined);
      const again = await h.call('POST', url, body, { requestId, token: await h.freshToken() });
      assert.equal(again.headers['x-idempotent-replay'], 'true');
      assert.equal(again.body, retry.body);
      assert.equal(await made(), before + 1);
    }

    test('a request id whose run died without an answer is "in progress" (409) for the lease only; then a retry runs the request once', async () => {
      await diedRunTakenOverAfterLease('/customer/l8v2', customerBody(), () => count('customers'));
    });

    test('a run that outlived its lease cannot commit once a retry took its request id over', async () => {
      const requestId = uuid();
      const body = customerBody();
      const slow = await reservedRun(requestId, 'POST', '/customer/l8v2', body);
      h.clock.advance((LEASE_SECONDS + 1) * 1000);
      const taken = await h.container.idempotency.reserve('tester', requestId, IdempotencyService.fingerprint('POST', '/customer/l8v2', JSON.stringify(body)), `signature of the run that died, ${requestId}`);
      assert.equal(taken.kind, 'new', 'the retry takes the id over');
      const before = await count('customers');
      await assert.rejects(h.container.customers.add(slow, body), RequestTakenOver);
      assert.equal(await count('customers'), before, 'the slow run rolled back');
      const done = await h.container.customers.add(actorHolding(requestId, (taken as { holder: string }).holder), body);
      assert.equal(await count('customers'), before + 1);
      const replay = await h.call('POST', '/customer/l8v2', body, { requestId, token: await h.freshToken() });
      assert.equal(replay.json().customerNumber, done.customerNumber);
    });

    test('a card add that outlived its lease makes no card once a retry took its request id over (the batched path)', async () => {
      const { account } = await addCard(h);
      const requestId = uuid();
      const body = cardBody(account);
      const slow = await reservedRun(requestId, 'POST', '/cards/embosser/l8vf', body);
      h.clock.advance((LEASE_SECONDS + 1) * 1000);
      const taken = await h.container.idempotency.reserve('tester', requestId, IdempotencyService.fingerprint('POST', '/cards/embosser/l8vf', JSON.stringify(body)), `signature of the run that died, ${requestId}`);
      assert.equal(taken.kind, 'new');
      const before = { cards: await count('cards'), numbers: await count('card_numbers'), records: await count('personalization_records') };
      // Among other card adds in the same batch statement, which are made.
      const [lost, ...others] = await Promise.allSettled([h.container.cards.issuing.add(slow, body), ...[1, 2, 3].map(() => h.container.cards.issuing.add({ clientId: 'tester', requestId: uuid() }, body))]);
      assert.equal(lost!.status, 'rejected');
      assert.ok((lost as PromiseRejectedResult).reason instanceof RequestTakenOver);
      assert.deepEqual(others.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled']);
      assert.deepEqual({ cards: await count('cards'), numbers: await count('card_numbers'), records: await count('personalization_records') },
        { cards: before.cards + 3, numbers: before.numbers + 3, records: before.records + 3 });
      const done = await h.container.cards.issuing.add(actorHolding(requestId, (taken as { holder: string }).holder), body);
      const replay = await h.call('POST', '/cards/embosser/l8vf', body, { requestId, token: await h.freshToken() });
      assert.equal(replay.headers['x-idempotent-replay'], 'true');
      assert.equal(replay.json().cardNumber, done.cardNumber);
    });

    describe('card add records its request id with its card, in one statement (no reservation first)', () => {
      const cardsOf = async (account: string) => Number((await db().selectFrom('cards').select((e) => e.fn.countAll().as('n')).where('account_number', '=', account).executeTakeFirstOrThrow()).n);
      const keyOf = (requestId: string) => db().selectFrom('idempotency_keys').select(['status_code', 'holder', 'signature']).where('client_id', '=', 'tester').where('request_id', '=', requestId).executeTakeFirst();

      test('sent five times at once, it makes one card, and every answer is that card', async () => {
        const { account } = await addCard(h);
        const before = await cardsOf(account);
        const requestId = uuid();
        const answers = await Promise.all([1, 2, 3, 4, 5].map(() => h.call('POST', '/cards/embosser/l8vf', cardBody(account), { requestId })));
        assert.deepEqual(answers.map((a) => a.statusCode), [200, 200, 200, 200, 200], answers.map((a) => a.body).join('\n'));
        assert.equal(new Set(answers.map((a) => a.json().cardNumber)).size, 1);
        assert.equal(answers.filter((a) => a.headers['x-idempotent-replay'] === 'true').length, 4);
        assert.equal(await cardsOf(account), before + 1);
        const key = await keyOf(requestId);
        assert.equal(key?.status_code, 200);
        assert.equal(key?.holder, null, 'never reserved');
      });

      test('its request id with another body is refused (409), and its signature under another request id (401): no card', async () => {
        const { account } = await addCard(h);
        const requestId = uuid();
        const first = await h.call('POST', '/cards/embosser/l8vf', cardBody(account), { requestId });
        assert.equal(first.statusCode, 200, first.body);
        const before = await cardsOf(account);
        const reused = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { embossedName1: 'SOMEONE ELSE' }), { requestId });
        assert.equal(reused.statusCode, 409, reused.body);
        assert.equal(reused.json().errors[0].code, 'EMBA12E');
        // The same signed request (body, path, timestamp: one signature) under a new request id: a replay.
        const timestamp = signingTimestamp(h.clock.now().getTime());
        const signed = await h.call('POST', '/cards/embosser/l8vf', cardBody(account), { timestamp });
        assert.equal(signed.statusCode, 200, signed.body);
        const replayed = await h.call('POST', '/cards/embosser/l8vf', cardBody(account), { timestamp });
        assert.equal(replayed.statusCode, 401, replayed.body);
        assert.equal(replayed.json().errors[0].code, 'EMBA16E');
        assert.equal(await cardsOf(account), before + 1, 'only the signed request made a card');
      });

      test('a refusal is recorded under its request id: sent again, the same refusal', async () => {
        const requestId = uuid();
        const missing = '9'.repeat(19);
        const refused = await h.call('POST', '/cards/embosser/l8vf', cardBody(missing), { requestId });
        assert.equal(refused.statusCode, 422, refused.body);
        const again = await h.call('POST', '/cards/embosser/l8vf', cardBody(missing), { requestId });
        assert.equal(again.statusCode, 422);
        assert.equal(again.headers['x-idempotent-replay'], 'true');
        assert.equal(again.body, refused.body);
        assert.equal((await keyOf(requestId))?.status_code, 422);
      });

      test('a request id held by a run that died (a reservation, as an earlier version made) is in progress for its lease, then taken over: one card', async () => {
        const { account } = await addCard(h);
        await diedRunTakenOverAfterLease('/cards/embosser/l8vf', cardBody(account), () => cardsOf(account));
      });

      /**
       * Another run of the request (another API process) inserts the key and commits only once this
       * run's insert waits on it: that statement keeps nothing, and sent again it finds the key.
       */
      const raceOnTheKey = async (url: string, body: unknown, made: () => Promise<number>) => {
        const requestId = uuid();
        const before = await made();
        let inserted!: () => void;
        const keyInserted = new Promise<void>((resolve) => { inserted = resolve; });
        let release!: () => void;
        const released = new Promise<void>((resolve) => { release = resolve; });
        const other = db().transaction().execute(async (trx) => {
          await trx.insertInto('idempotency_keys').values({
            client_id: 'tester', request_id: requestId, fingerprint: IdempotencyService.fingerprint('POST', url, JSON.stringify(body)),
            status_code: 200, response_sealed: await h.container.idempotency.seal('{"from":"the other run"}'),
          }).execute();
          inserted();
          await released;
        });
        await keyInserted;
        const logsBefore = h.logs.length;
        const call = h.call('POST', url, body, { requestId });
        await waitFor('the insert waiting on the other run\'s key', async () =>
          ((await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`.execute(db())).rows[0]!.n > 0 ? true : undefined), 20_000);
        release();
        await other;
        const res = await call;
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.headers['x-idempotent-replay'], 'true');
        assert.deepEqual(res.json(), { from: 'the other run' });
        assert.equal(await made(), before, 'this run made nothing');
        // Not a failed write answered after the fact: the statement was sent again and found the key.
        assert.deepEqual(h.logs.slice(logsBefore).filter((l) => (JSON.parse(l) as { level: number }).level >= 50), []);
      };

      if (backend === 'postgres') {
        test('a run of the same request id that commits while the card insert runs: that statement keeps nothing, and sent again it sees the key', async () => {
          const { account } = await addCard(h);
          await raceOnTheKey('/cards/embosser/l8vf', cardBody(account), () => cardsOf(account));
        });
      }
    });

    test('a 5xx before the commit frees the request id at once: the retry runs once', async () => {
      const customer = await addCustomer(h);
      const before = { accounts: await count('accounts'), cards: await count('cards') };
      const requestId = uuid();
      const body = { organizationNumber: 100, logo: 1, customerNumber: customer, accountCreateFlag: 'Y', accountData: { creditLimit: 5 }, embosserData: { embossedName1: 'ADA', digitalCardFlag: 0 } };
      failInstantCard = true;
      const failed = await h.call('POST', '/account/v2/instantCard', body, { requestId });
      assert.equal(failed.statusCode, 500);
      assert.deepEqual({ accounts: await count('accounts'), cards: await count('cards') }, before, 'nothing of the failed run is kept');
      const retry = await h.call('POST', '/account/v2/instantCard', body, { requestId });
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal(retry.headers['x-idempotent-replay'], undefined);
      assert.deepEqual({ accounts: await count('accounts'), cards: await count('cards') }, { accounts: before.accounts + 1, cards: before.cards + 1 });
    });

    test('a poisoned item in a batch of concurrent look-ups fails alone', async () => {
      const { pan } = await addCard(h);
      // 2^40 is no card sequence PostgreSQL can compare with an integer column: the statement fails.
      const lookups = [1, 1, 2 ** 40, 1, 1].map((sequence) => h.container.cards.repository.resolve(100, pan, sequence).then((c) => c?.card_sequence, () => 'failed'));
      assert.deepEqual(await Promise.all(lookups), [1, 1, 'failed', 1, 1]);
    });

    test('one client\'s "Infinity" card sequence is refused at the edge and fails none of the concurrent requests of another', async () => {
      const { token } = await addCard(h);
      const details = (client = undefined as typeof other | undefined, cardSequence: unknown = 1) =>
        h.call('POST', '/cards/v2/embosser/details', { organizationNumber: client ? 200 : 100, cardNumber: token, cardSequence, foreignUse: '0' }, client ? { client } : {});
      const results = await Promise.all([...Array.from({ length: 20 }, () => details()), details(other, 'Infinity'), ...Array.from({ length: 20 }, () => details())]);
      assert.deepEqual(results.map((r) => r.statusCode), [...Array(20).fill(200), 400, ...Array(20).fill(200)]);
    });
  });
}
