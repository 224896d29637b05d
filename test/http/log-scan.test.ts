import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, tester, other, customerBody, addCustomer, addAccount, type Harness } from '../helpers/harness.ts';

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
      assert.doesNotMatch(failed.body, /boom|4111/);
      assert.match(failed.json().data.traceId, /^[0-9a-f-]{36}$/);

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
  });
}
