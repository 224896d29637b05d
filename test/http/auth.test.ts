import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../helpers/storage.ts';
import { startHarness, tester, other, noscope, customerBody, sign, type Harness } from '../helpers/harness.ts';

for (const backend of backends) {
  describe(`authentication and request rules (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend, { settings: { RATE_LIMIT_PER_MINUTE: 1000 } }); });
    after(async () => { await h.close(); });

    const customerCount = async () => Number((await h.container.storage.db.selectFrom('customers').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    test('POST /token with Basic auth gives a FirstVision-style token response', async () => {
      const res = await h.app.inject({
        method: 'POST', url: '/token',
        headers: { authorization: `Basic ${Buffer.from(`${tester.clientId}:${tester.secret}`).toString('base64')}` },
      });
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.token_type, 'BearerToken');
      assert.equal(body.client_id, 'tester');
      assert.equal(body.status, 'approved');
      assert.equal(body.expires_in, '900');
      assert.match(body.access_token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(body.issued_at, String(h.clock.now().getTime()));
    });

    test('POST /token with form fields, and by apikey as client id', async () => {
      for (const id of [tester.clientId, tester.apikey]) {
        const res = await h.app.inject({
          method: 'POST', url: '/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: `grant_type=client_credentials&client_id=${id}&client_secret=${encodeURIComponent(tester.secret)}`,
        });
        assert.equal(res.statusCode, 200, res.body);
      }
    });

    test('POST /token refuses a wrong secret, an unknown client, missing credentials and other grants', async () => {
      const cases = [
        { headers: { authorization: `Basic ${Buffer.from(`tester:wrong-secret-000000000`).toString('base64')}` }, status: 401, code: 'EMBA11E' },
        { headers: { authorization: `Basic ${Buffer.from(`nobody:${tester.secret}`).toString('base64')}` }, status: 401, code: 'EMBA11E' },
        { headers: {}, status: 401, code: 'EMBA11E' },
        { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=password&client_id=tester&client_secret=x', status: 400, code: 'EMBA15E' },
      ];
      for (const c of cases) {
        const res = await h.app.inject({ method: 'POST', url: '/token', headers: c.headers, ...(c.payload ? { payload: c.payload } : {}) });
        assert.equal(res.statusCode, c.status, res.body);
        assert.equal(res.json().hasError, true);
        assert.equal(res.json().errors[0].code, c.code);
        assert.doesNotMatch(res.body, /test-secret/);
      }
    });

    test('a token expires after its lifetime', async () => {
      const res = await h.app.inject({ method: 'POST', url: '/token', payload: { client_id: 'tester', client_secret: tester.secret } });
      const token = res.json().access_token;
      assert.equal((await h.call('POST', '/customer/l8v2', customerBody(), { token })).statusCode, 200);
      h.clock.advance(901_000);
      try {
        const late = await h.call('POST', '/customer/l8v2', customerBody(), { token });
        assert.equal(late.statusCode, 401);
        assert.equal(late.json().errors[0].code, 'EMBA02E');
      } finally {
        h.clock.advance(-901_000);
      }
    });

    test('both header spellings are accepted', async () => {
      for (const spelling of ['x', 'legacy'] as const) {
        const res = await h.call('POST', '/customer/l8v2', customerBody(), { spelling });
        assert.equal(res.statusCode, 200, res.body);
      }
    });

    test('every authentication failure is a 401/403 with a code, and writes nothing', async () => {
      const before = await customerCount();
      const body = customerBody();
      const raw = JSON.stringify(body);
      const now = h.clock.now().getTime();
      const cases: Array<[string, Parameters<Harness['call']>[3], number, string]> = [
        ['no token', { headers: { authorization: undefined } }, 401, 'EMBA01E'],
        ['malformed token', { headers: { authorization: 'Bearer x' } }, 401, 'EMBA01E'],
        ['unknown token', { token: 'A'.repeat(43) }, 401, 'EMBA02E'],
        ['no apikey', { headers: { apikey: undefined } }, 401, 'EMBA03E'],
        ['token of another client', { token: await h.token(other) }, 401, 'EMBA03E'],
        ['no timestamp', { headers: { 'x-timestamp': undefined } }, 401, 'EMBA04E'],
        ['timestamp not a number', { timestamp: '2026-11-22T10:00:00Z' }, 401, 'EMBA04E'],
        ['stale timestamp', { timestamp: String(now - 301_000) }, 401, 'EMBA05E'],
        ['future timestamp', { timestamp: String(now + 301_000) }, 401, 'EMBA05E'],
        ['no request id', { headers: { 'x-request-id': undefined } }, 401, 'EMBA08E'],
        ['no signature', { headers: { 'x-hmac-signature': undefined } }, 401, 'EMBA06E'],
        ['signature over another body', { signature: sign(tester.secret, tester.apikey, String(now), raw.replace('Ada', 'Eve'), '/customer/l8v2') }, 401, 'EMBA07E'],
        ['signature over another path', { signature: sign(tester.secret, tester.apikey, String(now), raw, '/account/add-L8V3') }, 401, 'EMBA07E'],
        ['signature with another secret', { signature: sign(other.secret, tester.apikey, String(now), raw, '/customer/l8v2') }, 401, 'EMBA07E'],
        ['client without the cards scope', { client: noscope }, 403, 'EMBA10E'],
      ];
      for (const [name, options, status, code] of cases) {
        const res = await h.call('POST', '/customer/l8v2', body, options);
        assert.equal(res.statusCode, status, `${name}: ${res.body}`);
        assert.deepEqual(res.json().errors.map((e: { code: string }) => e.code), [code], name);
        assert.equal(res.json().hasError, true);
      }
      assert.equal(await customerCount(), before);
    });

    test('timestamps inside the five-minute window pass, in seconds or milliseconds', async () => {
      const now = h.clock.now().getTime();
      for (const ts of [String(now - 299_000), String(now + 299_000), String(Math.floor(now / 1000))]) {
        const res = await h.call('POST', '/customer/l8v2', customerBody(), { timestamp: ts });
        assert.equal(res.statusCode, 200, `${ts}: ${res.body}`);
      }
    });

    test('an organization the client may not use is refused with 403 and nothing is written', async () => {
      const before = await customerCount();
      const res = await h.call('POST', '/customer/l8v2', customerBody(200));
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().errors[0].code, 'EMBA09E');
      const res2 = await h.call('POST', '/customer/l8v2', customerBody(100), { client: other });
      assert.equal(res2.statusCode, 403);
      assert.equal(await customerCount(), before);
    });

    test('the request id is an idempotency key: same body replays, another body is 409', async () => {
      const requestId = `idem-${Date.now()}`;
      const first = await h.call('POST', '/customer/l8v2', customerBody(), { requestId });
      assert.equal(first.statusCode, 200);
      const before = await customerCount();
      const again = await h.call('POST', '/customer/l8v2', customerBody(), { requestId });
      assert.equal(again.statusCode, 200);
      assert.equal(again.headers['x-idempotent-replay'], 'true');
      assert.deepEqual(again.json(), first.json());
      assert.equal(await customerCount(), before);
      const different = await h.call('POST', '/customer/l8v2', customerBody(100, { firstName: 'Grace' }), { requestId });
      assert.equal(different.statusCode, 409);
      assert.equal(different.json().errors[0].code, 'EMBA12E');
      assert.equal(await customerCount(), before);
      // Another client may use the same request id for its own request.
      const otherClient = await h.call('POST', '/customer/l8v2', customerBody(200), { requestId, client: other });
      assert.equal(otherClient.statusCode, 200);
    });

    test('inquiries keep the same request-id rules: replay for the same request, 409 for another', async () => {
      const customer = (await h.call('POST', '/customer/l8v2', customerBody())).json().customerNumber;
      const requestId = `inq-${Date.now()}`;
      const body = { organizationNumber: 100, customerAccountCardNumber: customer, numberType: '1' };
      const first = await h.call('POST', '/customer/demographicData-l8v2', body, { requestId });
      assert.equal(first.statusCode, 200);
      assert.equal(first.headers['x-idempotent-replay'], undefined);
      const again = await h.call('POST', '/customer/demographicData-l8v2', body, { requestId });
      assert.equal(again.statusCode, 200);
      assert.equal(again.headers['x-idempotent-replay'], 'true');
      assert.deepEqual(again.json(), first.json());
      const other = await h.call('POST', '/customer/demographicData-l8v2', { ...body, customerAccountCardNumber: '42' }, { requestId });
      assert.equal(other.statusCode, 409);
      assert.equal(other.json().errors[0].code, 'EMBA12E');
      assert.doesNotMatch(other.body, /Lovelace/i);
    });

    test('a replayed business refusal keeps its status and code', async () => {
      const requestId = `idem-422-${Date.now()}`;
      const body = customerBody(100, { dateOfBirth: '2199-12-31' });
      const first = await h.call('POST', '/customer/l8v2', body, { requestId });
      assert.equal(first.statusCode, 422);
      const again = await h.call('POST', '/customer/l8v2', body, { requestId });
      assert.equal(again.statusCode, 422);
      assert.deepEqual(again.json(), first.json());
    });

    test('concurrent requests with one request id create one customer', async () => {
      const before = await customerCount();
      const requestId = `race-${Date.now()}`;
      const results = await Promise.all(Array.from({ length: 8 }, () => h.call('POST', '/customer/l8v2', customerBody(), { requestId })));
      const statuses = results.map((r) => r.statusCode);
      assert.ok(statuses.every((s) => s === 200 || s === 409), statuses.join(','));
      assert.equal(await customerCount(), before + 1);
    });

    test('request ids past the retention are purged, newer ones kept', async () => {
      const db = h.container.storage.db;
      const old = `purge-old-${Date.now()}`;
      const recent = `purge-new-${Date.now()}`;
      assert.equal((await h.call('POST', '/customer/l8v2', customerBody(), { requestId: old })).statusCode, 200);
      h.clock.advance(49 * 3600_000);
      try {
        assert.equal((await h.call('POST', '/customer/l8v2', customerBody(), { requestId: recent, token: await h.freshToken(tester) })).statusCode, 200);
        const purged = await h.container.idempotency.purgeOlderThan(48);
        assert.ok(purged >= 1);
        const left = await db.selectFrom('idempotency_keys').select('request_id').where('request_id', 'in', [old, recent]).execute();
        assert.deepEqual(left.map((r) => r.request_id), [recent]);
      } finally {
        h.clock.advance(-49 * 3600_000);
      }
    });

    test('unknown routes, schema failures and bad JSON get the envelope with a code', async () => {
      const missing = await h.call('POST', '/no/such/route', {});
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().errors[0].code, 'EMBN01E');
      const schema = await h.call('POST', '/customer/l8v2', { customerData: { customerKeyData: { organizationNumber: 'abc' } } });
      assert.equal(schema.statusCode, 400);
      assert.equal(schema.json().errors[0].code, 'EMBV01E');
      assert.match(schema.json().errors[0].description, /organizationNumber/);
      const badJson = await h.call('POST', '/customer/l8v2', '{"customerData": 4111111111111111');
      assert.equal(badJson.statusCode, 400);
      assert.equal(badJson.json().errors[0].code, 'EMBV02E');
      assert.doesNotMatch(badJson.body, /4111111111111111/);
    });

    test('the OpenAPI document lists the routes', async () => {
      const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(res.statusCode, 200);
      const paths = Object.keys(res.json().paths);
      for (const p of ['/token', '/customer/l8v2', '/account/add-L8V3', '/account/v2/accounts', '/account/block-code']) assert.ok(paths.includes(p), p);
    });
  });
}

describe('rate limiting', () => {
  test('a client over its limit gets 429 with Retry-After and a code', async () => {
    const h = await startHarness('pglite', { settings: { RATE_LIMIT_PER_MINUTE: 3 } });
    try {
      const statuses: number[] = [];
      let limited;
      for (let i = 0; i < 5; i++) {
        const res = await h.call('POST', '/customer/l8v2', customerBody());
        statuses.push(res.statusCode);
        if (res.statusCode === 429) limited = res;
      }
      assert.deepEqual(statuses.slice(0, 2), [200, 200]);
      assert.ok(limited, statuses.join(','));
      assert.ok(Number(limited.headers['retry-after']) > 0);
      assert.equal(limited.json().errors[0].code, 'EMBA14E');
    } finally {
      await h.close();
    }
  });
});
