import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, addCustomer, addAccount, cardBody, customerBody, tester, sign, type Harness } from '../helpers/harness.ts';

/**
 * The findings of the malformed-input review (signed, authenticated requests answered 500), each
 * reproduced as a request that must be refused with the envelope and change nothing: numbers
 * as text that are not canonical decimal digits or out of range, unbounded pages, dates in year
 * 0000, deeply nested JSON, deep extra fields, control characters in names and addresses.
 */
for (const backend of backends) {
  describe(`input that never reaches the database raw (${backend})`, () => {
    let h: Harness;
    let account: string;
    let customer: string;
    before(async () => {
      h = await startHarness(backend, { settings: { RATE_LIMIT_PER_MINUTE: 1_000_000 } });
      customer = await addCustomer(h);
      account = await addAccount(h, customer);
    });
    after(async () => { await h.close(); });

    const counts = async () => {
      const db = h.container.storage.db;
      const n = async (t: 'cards' | 'customers' | 'accounts') => Number((await db.selectFrom(t).select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      return { cards: await n('cards'), customers: await n('customers'), accounts: await n('accounts') };
    };
    const refused = (res: { statusCode: number; body: string }, status: number, code?: string) => {
      assert.equal(res.statusCode, status, res.body);
      const body = JSON.parse(res.body);
      assert.equal(body.hasError, true, res.body);
      assert.ok(Array.isArray(body.errors) && body.errors.length > 0, res.body);
      assert.deepEqual(body.data, {});
      if (code) assert.equal(body.errors[0].code, code, res.body);
    };

    test('numbers as text: only canonical decimal digits within range, else 400', async () => {
      const before = await counts();
      const digits400 = '9'.repeat(400);
      const bad: Array<Record<string, unknown>> = [
        { cardSequence: 'Infinity' }, { cardSequence: '-Infinity' }, { cardSequence: 'NaN' }, { cardSequence: '1e400' },
        { cardSequence: digits400 }, { cardSequence: '007' }, { cardSequence: '-0' }, { cardSequence: ' 1' }, { cardSequence: '1 ' },
        { cardSequence: '1e2' }, { cardSequence: '0x10' }, { cardSequence: '1.0' }, { cardSequence: '+1' }, { cardSequence: '' },
        { posServiceCode: digits400 }, { deliveryOption: 'Infinity' }, { atmCashAmount: '1e3' }, { atmCashAmount: 'Infinity' },
        { atmCashNumber: '2147483648' }, { internetPurchaseNumber: '1e9' }, { cardSequence: 9999 }, { cardSequence: -1 },
        { cardSequence: 'JSON 1e400' }, { cardSequence: 'JSON 2147483648' }, { cardSequence: 'JSON 1.5' },
        { cardSequence: true }, { cardSequence: null }, { cardSequence: [1] }, { cardSequence: {} },
      ];
      for (const extra of bad) {
        // 'JSON x': the JSON number x as sent (JSON.stringify would write 1e400 as null).
        const raw = JSON.stringify(cardBody(account, extra)).replace(/"JSON ([^"]+)"/, '$1');
        const res = await h.call('POST', '/cards/embosser/l8vf', raw);
        refused(res, 400);
        assert.match(res.json().errors[0].code, /^EMBV(01|06|10)E$/, `${JSON.stringify(extra)}: ${res.body}`);
      }
      // Integers without a documented maximum used to reach an int4 column (integer out of range).
      const accountBad = await h.call('POST', '/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: customer, billingCycle: 2147483648 } });
      refused(accountBad, 400);
      const accountBadText = await h.call('POST', '/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: customer, billingCycle: '2147483648' } });
      refused(accountBadText, 400);
      assert.deepEqual(await counts(), before);
      // Canonical digits, as JSON numbers or as text, within range: accepted.
      for (const fine of [{ cardSequence: '1' }, { cardSequence: 1 }, { cardSequence: '0', posServiceCode: '201' }, { atmCashAmount: '12.50' }, { atmCashAmount: 12.5 }]) {
        const res = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, fine));
        assert.ok(res.statusCode === 200 || res.statusCode === 422, `${JSON.stringify(fine)}: ${res.body}`);
      }
    });

    test('numbers in query strings and headers: canonical digits only', async () => {
      for (const q of ['Infinity', 'NaN', '1e400', '007', '-0', '1e2', ' 1', '9'.repeat(400), '2147483648', '']) {
        const res = await h.call('GET', `/cards/mass-card-issue-L8V3?organizationNumber=${encodeURIComponent(q)}&logo=1&serviceType=1`);
        refused(res, 400);
      }
      const header = await h.call('GET', '/account/v2/accounts', undefined, { headers: { 'organization-number': 'Infinity', 'account-number': account } });
      refused(header, 400);
      const fine = await h.call('GET', '/account/v2/accounts', undefined, { headers: { 'organization-number': '100', 'account-number': account } });
      assert.equal(fine.statusCode, 200, fine.body);
    });

    test('pages are bounded', async () => {
      const mass = await h.call('POST', '/cards/mass-card-issue-L8V3', { organizationNumber: 100, logo: 1, cardType: 1, functionType: 'A', quantityToCreate: 10, customerNumber: customer });
      assert.equal(mass.statusCode, 200, mass.body);
      for (const page of ['2147483648', '1000001', '0', '-1']) {
        refused(await h.call('GET', `/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=1&page=${page}`), 400);
      }
      refused(await h.call('GET', '/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=1&pageSize=501'), 400);
      const fine = await h.call('GET', '/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=1&page=1000000&pageSize=500');
      assert.equal(fine.statusCode, 200, fine.body);
      assert.deepEqual(fine.json().outputArea.cards, []);
    });

    test('dates are within 1900–2199', async () => {
      const before = await counts();
      for (const date of ['0000-01-01', '0001-01-01', '1899-12-31', '2200-01-01', '9999-12-31', '2024-02-30', '2024-13-01', '+02024-01-01']) {
        refused(await h.call('POST', '/customer/l8v2', customerBody(100, { dateOfBirth: date })), 400);
        refused(await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { expirationDate: date })), 400);
        refused(await h.call('POST', '/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: customer, dateOpened: date } }), 400);
      }
      assert.deepEqual(await counts(), before);
      const fine = await h.call('POST', '/customer/l8v2', customerBody(100, { dateOfBirth: '1900-01-01' }));
      assert.equal(fine.statusCode, 200, fine.body);
    });

    test('deep JSON is refused before authentication, without overflowing the stack', async () => {
      const deep = `${'['.repeat(8800)}"\\u0041"${']'.repeat(8800)}`;
      const deepObject = `{"a":${'{"a":'.repeat(8800)}"\\u0041"${'}'.repeat(8801)}`;
      for (const body of [deep, deepObject, `${'['.repeat(33)}${']'.repeat(33)}`]) {
        // No credentials at all: the parser refuses it first.
        const token = await h.app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/json' }, payload: body });
        refused(token, 400, 'EMBV08E');
        const signed = await h.call('POST', '/cards/embosser/l8vf', body);
        refused(signed, 400, 'EMBV08E');
        const anonymous = await h.app.inject({ method: 'POST', url: '/customer/l8v2', headers: { 'content-type': 'application/json' }, payload: body });
        refused(anonymous, 400, 'EMBV08E');
      }
      // Depth 32 is fine as JSON (the schema decides about it).
      const ok32 = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { extra: JSON.parse(`${'['.repeat(8)}1${']'.repeat(8)}`) }));
      assert.equal(ok32.statusCode, 200, ok32.body);
    });

    test('extra fields kept as sent are bounded in depth and size', async () => {
      const before = await counts();
      // 5,000 levels (written as text: JSON.stringify itself would overflow the stack). Whole-body depth refuses it first.
      const nested = `${'{"n":'.repeat(5000)}"x"${'}'.repeat(5000)}`;
      refused(await h.call('POST', '/cards/embosser/l8vf', JSON.stringify(cardBody(account, { nested: 0 })).replace('"nested":0', `"nested":${nested}`)), 400, 'EMBV08E');
      let nine: unknown = 'x';
      for (let i = 0; i < 9; i++) nine = { n: nine };
      refused(await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { nine })), 400, 'EMBV09E');
      refused(await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { big: 'x'.repeat(17_000) })), 400, 'EMBV09E');
      const many = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, i]));
      refused(await h.call('POST', '/cards/embosser/l8vf', cardBody(account, many)), 400, 'EMBV09E');
      refused(await h.call('POST', '/customer/l8v2', customerBody(100, { nine })), 400, 'EMBV09E');
      refused(await h.call('POST', '/customer/l8v2', { ...customerBody(100), resvData: { nine } }), 400, 'EMBV09E');
      assert.deepEqual(await counts(), before);
    });

    test('control characters in any text are a 400 EMBV07E', async () => {
      const before = await counts();
      for (const bad of ['ADA\nLOVELACE', 'ADA\r\nX', 'TAB\tX', 'BEL\u0007', 'DEL\u007f', 'C1\u0085', 'C1\u009b31m', 'ESC\u001b[31m']) {
        refused(await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { embossedName1: bad.slice(0, 26) })), 400, 'EMBV07E');
        refused(await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { addressLine1: bad })), 400, 'EMBV07E');
        refused(await h.call('POST', '/customer/l8v2', customerBody(100, { firstName: bad })), 400, 'EMBV07E');
        refused(await h.call('POST', '/customer/l8v2', customerBody(100, { [`key${bad}`]: 'v' })), 400, 'EMBV07E');
      }
      // A raw DEL or C1 character is valid JSON: the check does not depend on escapes.
      const rawDel = JSON.stringify(cardBody(account, { city: 'X\u007fY' })).replace('\\u007f', '\u007f');
      refused(await h.call('POST', '/cards/embosser/l8vf', rawDel), 400, 'EMBV07E');
      refused(await h.call('GET', `/customer/v3/cards/details?organizationNumber=100&startAccount=%0A`, undefined, { headers: { customernumber: customer } }), 400, 'EMBV07E');
      // The request id (kept in the idempotency record, the audit trail and the logs): HTTP lets TAB and Latin-1 C1 through.
      for (const requestId of ['a\tb', 'a\u0085b', 'a\u009bb']) {
        refused(await h.call('POST', '/cards/pin/invalid-attempts', { organizationNumber: 100, cardNumber: '4111111111111111' }, { requestId }), 400, 'EMBV07E');
      }
      // Form fields of /token too.
      const form = await h.app.inject({ method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${tester.clientId}%0D%0A&client_secret=x` });
      refused(form, 400, 'EMBV07E');
      assert.deepEqual(await counts(), before);
      // Printable text beyond ASCII is fine.
      const fine = await h.call('POST', '/cards/embosser/l8vf', cardBody(account, { embossedName1: 'JOSÉ MUÑOZ', addressLine1: 'Straße 1 – 東京 \ud83d\ude00' }));
      assert.equal(fine.statusCode, 200, fine.body);
    });

    test('bodies: size, content type and emptiness answered with the envelope', async () => {
      const big = JSON.stringify(cardBody(account, { embossedName1: 'x'.repeat(70_000) }));
      refused(await h.call('POST', '/cards/embosser/l8vf', big), 413, 'EMBV04E');
      const ts = String(h.clock.now().getTime());
      const token = await h.token();
      const sent = (contentType: string, payload: string) => h.app.inject({
        method: 'POST', url: '/cards/embosser/l8vf', payload,
        headers: {
          authorization: `Bearer ${token}`, apikey: tester.apikey, 'x-timestamp': ts, 'x-request-id': crypto.randomUUID(),
          'x-hmac-signature': sign(tester.secret, tester.apikey, ts, payload, '/cards/embosser/l8vf'), 'content-type': contentType,
        },
      });
      for (const [type, payload] of [['text/plain', 'x'], ['application/xml', '<a/>'], ['application/json', ''], ['application/json', 'nul'], ['application/json', '{"a":1} x']] as const) {
        const res = await sent(type, payload);
        assert.ok([400, 401, 413, 415, 422].includes(res.statusCode), `${type} ${JSON.stringify(payload)}: ${res.statusCode} ${res.body}`);
        refused(res, res.statusCode);
      }
    });
  });
}
