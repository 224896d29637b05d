import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCustomer, addAccount, cardBody, panOf, type Harness } from '../helpers/harness.ts';
import { isLuhnValid, luhnCheckDigit } from '../../src/crypto/luhn.ts';

/** A card-number draw that gives every body from `first` on twice in a row (BIN + body + Luhn digit). */
function drawingEachNumberTwice(first: number) {
  let drawn = 0;
  return (bin: string, length: number) => {
    const body = String(first + Math.floor(drawn++ / 2)).padStart(length - bin.length - 1, '0');
    return bin + body + luhnCheckDigit(bin + body);
  };
}

/** Card numbers: distinct under concurrency, collisions drawn again, an exhausted range refused. */
for (const backend of backends) {
  describe(`card numbers under load (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend, { settings: { RATE_LIMIT_PER_MINUTE: 1_000_000, DB_POOL_SIZE: 20 } }); });
    after(async () => { await h.close(); });

    test('2,000 card adds from 50 concurrent clients give 2,000 distinct numbers and tokens', async () => {
      const accounts: string[] = [];
      for (let i = 0; i < 10; i++) accounts.push(await addAccount(h, await addCustomer(h)));
      const total = backend === 'postgres' ? 2000 : 600;
      let next = 0;
      const statuses: number[] = [];
      const numbers: string[] = [];
      await Promise.all(Array.from({ length: 50 }, async () => {
        while (next < total) {
          const i = next++;
          const res = await h.call('POST', '/cards/embosser/l8vf', cardBody(accounts[i % accounts.length]!));
          statuses.push(res.statusCode);
          if (res.statusCode === 200) numbers.push(res.json().cardNumber);
        }
      }));
      assert.deepEqual([...new Set(statuses)], [200]);
      assert.equal(numbers.length, total);
      assert.equal(new Set(numbers).size, total);
      const tokens = await h.container.storage.db.selectFrom('cards').select('pan_token').execute();
      assert.equal(new Set(tokens.map((t) => t.pan_token)).size, tokens.length);
      assert.ok(tokens.length >= total);
    });
  });

  describe(`a tiny card-number range (${backend})`, () => {
    let h: Harness;
    // Only five possible numbers, drawn in turn: the draws collide more and more, then the range is
    // full. (In turn rather than at random, so 32 draws always reach a free number while one is left.)
    const bodies = ['000000001', '000000002', '000000003', '000000004', '000000005'];
    let drawn = 0;
    before(async () => {
      h = await startHarness(backend, {
        cards: {
          drawCardNumber: (bin, length) => {
            const body = bodies[drawn++ % bodies.length]!.padStart(length - bin.length - 1, '0');
            return bin + body + luhnCheckDigit(bin + body);
          },
        },
      });
    });
    after(async () => { await h.close(); });

    test('collisions are drawn again, never duplicated; a full range is a clear 422', async () => {
      const account = await addAccount(h, await addCustomer(h));
      const results = await Promise.all(Array.from({ length: 8 }, () => h.call('POST', '/cards/embosser/l8vf', cardBody(account))));
      const ok = results.filter((r) => r.statusCode === 200).map((r) => r.json().cardNumber as string);
      const refused = results.filter((r) => r.statusCode === 422);
      assert.equal(ok.length, 5, results.map((r) => r.statusCode).join(','));
      assert.equal(new Set(ok).size, 5);
      // Card add answers PAN tokens; the numbers come through card-pan.
      for (const n of ok) assert.ok(isLuhnValid(await panOf(h, n)));
      assert.equal(refused.length, 3, results.map((r) => `${r.statusCode} ${r.statusCode === 200 ? '' : r.body}`).join(' | ') + h.logs.filter((l) => l.includes('request failed')).join(''));
      for (const r of refused) assert.equal(r.json().errors[0].code, 'EMBC01E');
      const again = await h.call('POST', '/cards/embosser/l8vf', cardBody(account));
      assert.equal(again.json().errors[0].code, 'EMBC01E');
      const stored = await h.container.storage.db.selectFrom('card_numbers').select('pan_hash').execute();
      assert.equal(stored.length, 5);
    });
  });
  describe(`the same number drawn by two requests at once (${backend})`, () => {
    let h: Harness;
    // Requests draw in pairs: the 2k-th and (2k+1)-th draws give the same number, so two card adds
    // sent together try to insert one number at once (in one batch statement, or in two).
    before(async () => { h = await startHarness(backend, { cards: { drawCardNumber: drawingEachNumberTwice(5000) } }); });
    after(async () => { await h.close(); });

    test('one request gets the number, the other draws again; never a 500', async () => {
      const account = await addAccount(h, await addCustomer(h));
      const numbers: string[] = [];
      for (let round = 0; round < 10; round++) {
        const pair = await Promise.all([0, 1].map(() => h.call('POST', '/cards/embosser/l8vf', cardBody(account))));
        assert.deepEqual(pair.map((r) => r.statusCode), [200, 200], pair.map((r) => r.body).join(' | '));
        numbers.push(...pair.map((r) => r.json().cardNumber as string));
      }
      assert.equal(new Set(numbers).size, 20);
    });
  });

  describe(`mass issue drawing the same number twice in one chunk (${backend})`, () => {
    let h: Harness;
    // Every number is drawn twice in a row: each chunk's batch holds pairs of equal numbers.
    before(async () => { h = await startHarness(backend, { cards: { drawCardNumber: drawingEachNumberTwice(1000) } }); });
    after(async () => { await h.close(); });

    test('each number is issued once; the duplicates are drawn again', async () => {
      const customerNumber = await addCustomer(h);
      const actor = { clientId: 'test', requestId: 'mass-duplicates' };
      await h.container.issuance.submit(actor, { organizationNumber: 100, logo: 1, cardType: 7, functionType: 'A', quantityToCreate: 40, customerNumber });
      const request = (await h.container.issuance.find(100, 1, 7))!;
      const done = await h.container.issuance.run(request.id, { chunk: 20, actor });
      assert.equal(done.status, 'COMPLETED');
      assert.equal(done.done, 40);
      const cards = await h.container.storage.db.selectFrom('cards').select(['pan_hash', 'mass_seq']).where('mass_request_id', '=', request.id).execute();
      assert.equal(cards.length, 40);
      assert.equal(new Set(cards.map((c) => c.pan_hash)).size, 40);
      assert.deepEqual(cards.map((c) => c.mass_seq).sort((a, b) => a! - b!), Array.from({ length: 40 }, (_, i) => i + 1));
    });
  });
}
