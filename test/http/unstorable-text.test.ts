import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCustomer, addAccount, cardBody, tester, type Harness } from '../helpers/harness.ts';

/**
 * PostgreSQL stores no NUL character in text and no unpaired UTF-16 surrogate in JSON: a request
 * carrying one (JSON escapes, form fields, query strings, Basic credentials) is a 400 or 401 with
 * a code, never a 500, and never fails the statement other requests' rows share (card adds go to
 * the database in batches).
 */
for (const backend of backends) {
  describe(`text the database cannot store (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend); });
    after(async () => { await h.close(); });
    const cards = async () => Number((await h.container.storage.db.selectFrom('cards').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    test('a NUL or an unpaired surrogate in a JSON string is a 400 EMBV05E and writes nothing', async () => {
      const account = await addAccount(h, await addCustomer(h));
      const before = await cards();
      for (const extra of [{ embossedName1: 'ADA\u0000LOVELACE' }, { addressLine1: 'ST JAMES \ud800 SQ' }, { embossedName2: 'X\udc00' }]) {
        const res = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, extra));
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().errors[0].code, 'EMBV05E');
      }
      const customer = await h.call('POST', '/customer/l8v2', { customerData: { customerKeyData: { organizationNumber: 100 }, ownerCoOwnerData: { ownerData: { firstName: 'A\u0000', lastName: 'B', nameLine1: 'A B' } } } });
      assert.equal(customer.statusCode, 400, customer.body);
      assert.equal(await cards(), before);
      // A pair of surrogates (one character beyond the BMP) is fine, as is the text "\u0000" itself.
      const fine = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { addressLine1: 'CAFE \ud83d\ude00 \\u0000' }));
      assert.equal(fine.statusCode, 200, fine.body);
    });

    test('one bad card add among concurrent ones fails alone', async () => {
      const account = await addAccount(h, await addCustomer(h));
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
        h.call('POST', '/cards/embosser/l8vf', cardBody(account, i === 3 ? { embossedName1: 'BAD\u0000' } : {}))));
      assert.deepEqual(results.map((r) => r.statusCode), [200, 200, 200, 400, 200, 200], results.map((r) => r.body).join(' | '));
    });

    test('form fields, Basic credentials and query strings', async () => {
      const form = await h.app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${encodeURIComponent(tester.clientId)}%00&client_secret=x` });
      assert.equal(form.statusCode, 400, form.body);
      assert.equal(form.json().errors[0].code, 'EMBV05E');
      const basic = await h.app.inject({ method: 'POST', url: '/token', headers: { authorization: `Basic ${Buffer.from(`${tester.clientId}\u0000:secret`).toString('base64')}` } });
      assert.equal(basic.statusCode, 401, basic.body);
      assert.equal(basic.json().errors[0].code, 'EMBA11E');
      const query = await h.call('GET', '/account/v2/accounts?organizationNumber=100&customerNumber=1%00');
      assert.equal(query.statusCode, 400, query.body);
      assert.equal(query.json().errors[0].code, 'EMBV05E');
    });
  });
}
