import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, tester, other, customerBody, addCustomer, addAccount, addCard, clientPinBlock, type Harness } from '../helpers/harness.ts';

/**
 * Runs a whole scenario — tokens, good and refused requests, customers, accounts, errors — with
 * the real logger writing to memory, then scans every log line for anything secret.
 */
for (const backend of backends) {
  describe(`no secret reaches the logs (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend); });
    after(async () => { await h.close(); });

    test('full scenario', async () => {
      const pan = '4111111111111111';
      const tokens = [await h.token(tester), await h.token(other)];
      const customer = await addCustomer(h);
      const account = await addAccount(h, customer);
      await h.call('PUT', '/customer/', { organizationNumber: 100, customerNumber: customer, numberType: '1', nameLine1: 'X' });
      await h.call('GET', '/account/v2/accounts', undefined, { headers: { 'organization-number': '100', 'account-number': account } });
      // A card number where none belongs, in a body, a header, a query string and broken JSON.
      await h.call('POST', '/customer/l8v2', customerBody(100, { identificationNumber: pan, memo1: `card ${pan}` }));
      await h.call('GET', '/account/v2/accounts', undefined, { headers: { 'organization-number': '100', 'card-number': pan } });
      await h.call('GET', `/account/v2/accounts?cardNumber=${pan}`, undefined, { headers: { 'organization-number': '100', 'account-number': account } });
      await h.call('POST', '/customer/l8v2', `{"pan":"${pan}",`);
      // Refusals: bad signature, bad secret at /token, wrong token.
      await h.call('POST', '/customer/l8v2', customerBody(), { signature: 'AAAA' });
      await h.app.inject({ method: 'POST', url: '/token', payload: { client_id: 'tester', client_secret: `${tester.secret}-wrong` } });
      await h.call('POST', '/customer/l8v2', customerBody(), { token: 'B'.repeat(43) });
      // An internal error: the handler's failure must be logged redacted and answered generically.
      const orig = h.container.customers.add.bind(h.container.customers);
      h.container.customers.add = async () => { throw new Error(`boom with ${pan} and key 0123456789ABCDEFFEDCBA9876543210`); };
      const failed = await h.call('POST', '/customer/l8v2', customerBody());
      h.container.customers.add = orig;
      assert.equal(failed.statusCode, 500);
      assert.equal(failed.json().errors[0].code, 'EMBS01E');
      // The trace id is a random UUID, which holds "4111" about once in 2,300 runs (CI saw it once).
      const traceId = failed.json().data.traceId as string;
      assert.match(traceId, /^[0-9a-f-]{36}$/);
      assert.doesNotMatch(failed.body.replace(traceId, ''), /boom|4111/);

      const text = h.logs.join('');
      assert.ok(h.logs.length > 20, 'the scenario produced logs');
      assert.match(text, /request failed/);
      const forbidden = [
        pan, tester.secret, other.secret, `${tester.secret}-wrong`, ...tokens,
        '0123456789ABCDEFFEDCBA9876543210', '0123456789ABCDEF',
        Buffer.from(`tester:${tester.secret}`).toString('base64'),
      ];
      for (const secret of forbidden) assert.ok(!text.includes(secret), `a log line contains ${secret.slice(0, 4)}…`);
      // No key block either (they are safe at rest, but have no business in logs).
      assert.doesNotMatch(text, /EMB1\.[A-Z]{3}\./);
      assert.match(text, /411111\*{6}1111/, 'card numbers are masked, not dropped');
    });

    test('card lifecycle events hold no card data: the PAN token only', async () => {
      const card = await addCard(h, { currentCardActivation: 'Y' });
      assert.equal((await h.call('PUT', '/cards/activation', { organizationNumber: 100, cardNumber: card.token, serviceType: 'S' })).statusCode, 200);
      // Wrong PINs until the PIN blocks (0000 is a weak PIN: never the one issued).
      for (let i = 0; i < 5; i++) {
        const res = await h.call('POST', '/cards/pin/validation', { organizationNumber: 100, cardNumber: card.token, currentPinBlock: clientPinBlock(0, '0000', card.pan), channel: 'I', keyAssociation: 'IYY' });
        assert.equal(res.statusCode, 422, res.body);
      }
      const calls: Array<[string, unknown]> = [
        ['/cards/pin/status', { organizationNumber: 100, cardNumber: card.pan, serviceFunctionCode: 'U', channel: 'W' }],
        ['/cards/pin/status', { organizationNumber: 100, cardNumber: card.pan, serviceFunctionCode: 'B', channel: 'W' }],
        ['/cards/pin/status', { organizationNumber: 100, cardNumber: card.pan, serviceFunctionCode: 'U', channel: 'W' }],
        ['/cards/embosser/cardAction-L8V2', { organizationNumber: 100, cardNumber: card.pan, cardSequence: 1, cardAction: 0, randomPin: 0, numberCardsRequested: 0, cardActionReason: 'N' }],
        ['/cards/status-L8V1', { organizationNumber: 100, cardStatus: 2, cardSequence: 1, cardNumber: card.pan }],
      ];
      for (const [url, body] of calls) assert.equal((await h.call('PUT', url, body)).statusCode, 200, url);
      const pulled = await h.call('GET', '/events?after=0&limit=1000');
      assert.equal(pulled.statusCode, 200, pulled.body);
      const events = (pulled.json() as { events: Array<{ type: string; cardToken: string | null; data: Record<string, unknown> }> }).events.filter((e) => e.cardToken === card.token);
      assert.deepEqual(events.map((e) => e.type), [
        'card.issued', 'card.activated', 'pin.blocked', 'pin.unblocked', 'pin.blocked', 'pin.unblocked', 'card.action', 'card.status_changed',
      ]);
      assert.deepEqual(events.filter((_e, k) => k === 2 || k === 4).map((e) => e.data.reason), ['tries exceeded', 'requested']);
      const rows = await h.container.storage.db.selectFrom('events').selectAll().execute();
      const text = JSON.stringify(rows) + pulled.body;
      assert.ok(!text.includes(card.pan), 'an event holds the card number');
      // No other card number, PIN block, key or cryptogram: no Luhn-valid digit run, no long hex run, no key block.
      for (const run of text.match(/(?<![0-9])[0-9]{13,19}(?![0-9])/g) ?? []) assert.ok(!luhn(run), `an event holds a card number ${run.slice(0, 6)}…`);
      assert.doesNotMatch(text, /(?<![0-9A-Za-z])[0-9A-Fa-f]{16,}(?![0-9A-Za-z])/);
      assert.doesNotMatch(text, /EMB1\.[A-Z]{3}\./);
    });
  });
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}
