import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { backends } from '../helpers/storage.ts';
import {
  startHarness, customerBody, enveloped, sign, signingTimestamp, tester, upstreamClient, uuid, type Harness, type TestClient,
} from '../helpers/harness.ts';
import { listAudit } from '../../src/modules/audit/index.ts';

/**
 * Wire profiles per client (bootstrap `successEnvelope` and `authentication`; docs/security.md,
 * "Authentication profiles"): what a call must carry to authenticate, and how its success body
 * is shaped. The harness declares `upstream` (authentication: upstream) and `enveloped`
 * (successEnvelope: true); `tester` is the default (signed, bare bodies).
 */

const codeOf = (res: LightMyRequestResponse) => (res.json() as { errors: Array<{ code: string }> }).errors[0]?.code;

function refused(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.deepEqual(Object.keys(res.json()).sort(), ['data', 'errors', 'hasError']);
  assert.equal(res.json().hasError, true);
  assert.equal(codeOf(res), code, res.body);
}

for (const backend of backends) {
  describe(`wire profiles (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend, { settings: { RATE_LIMIT_PER_MINUTE: 1_000_000 } }); });
    after(async () => { await h.close(); });

    const customers = async () => Number((await h.container.storage.db.selectFrom('customers').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    /**
     * A call shaped as the upstream files declare it: X-ClientID, Authorization: Bearer and apikey
     * (no timestamp, no request id, no signature); `headers` adds or replaces (undefined removes).
     */
    async function upstreamCall(client: TestClient, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown, headers: Record<string, string | string[] | undefined> = {}) {
      const payload = body === undefined ? '' : JSON.stringify(body);
      const all: Record<string, string | string[] | undefined> = {
        'x-clientid': client.clientId, authorization: `Bearer ${await h.token(client)}`, apikey: client.apikey,
        ...(payload !== '' ? { 'content-type': 'application/json' } : {}), ...headers,
      };
      const sent = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<string, string | string[]>;
      return h.app.inject({ method, url, headers: sent, ...(payload !== '' ? { payload } : {}) });
    }

    /** The signature headers of a call by `client` (timestamp now, a new request id unless given; null: none). */
    function signed(client: TestClient, url: string, body: unknown, requestId: string | null = uuid()) {
      const timestamp = signingTimestamp(h.clock.now().getTime());
      return {
        'x-timestamp': timestamp,
        'x-hmac-signature': sign(client.secret, client.apikey, timestamp, body === undefined ? '' : JSON.stringify(body), url),
        ...(requestId ? { 'x-request-id': requestId } : {}),
      };
    }

    test('an upstream-shaped call (X-ClientID, bearer, apikey) succeeds for the upstream client, and is 401 for a signed one', async () => {
      const before = await customers();
      const add = await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', customerBody());
      assert.equal(add.statusCode, 200, add.body);
      assert.match(add.json().customerNumber, /^[0-9]{19}$/);
      assert.equal(add.json().hasError, undefined, 'bare body');
      // The client's budget is counted (and shown) as for a signed call.
      assert.ok(Number(add.headers['x-ratelimit-remaining']) > 0);
      const account = await upstreamCall(upstreamClient, 'POST', '/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: add.json().customerNumber, creditLimit: 1000, billingCycle: 10 } });
      assert.equal(account.statusCode, 200, account.body);
      // A GET, too.
      const inquiry = await upstreamCall(upstreamClient, 'GET', '/account/v2/accounts', undefined, { 'organization-number': '100', 'account-number': account.json().accountNumber });
      assert.equal(inquiry.statusCode, 200, inquiry.body);
      assert.equal(inquiry.json().accountData.accountNumber, account.json().accountNumber);
      assert.equal(await customers(), before + 1);

      // The default client must sign: the same shape is refused (no timestamp comes first), and writes nothing.
      refused(await upstreamCall(tester, 'POST', '/customer/l8v2', customerBody()), 401, 'EMBA04E');
      refused(await upstreamCall(tester, 'POST', '/customer/l8v2', customerBody(), { 'x-timestamp': String(h.clock.now().getTime()) }), 401, 'EMBA08E');
      refused(await upstreamCall(tester, 'POST', '/customer/l8v2', customerBody(), { 'x-timestamp': String(h.clock.now().getTime()), 'x-request-id': uuid() }), 401, 'EMBA06E');
      // The upstream client must send X-ClientID (its profile requires it).
      refused(await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', customerBody(), { 'x-clientid': undefined }), 401, 'EMBA17E');
      assert.equal(await customers(), before + 1);
    });

    test('X-ClientID is checked on every authenticated call: the client of the token or 401, for both profiles', async () => {
      const before = await customers();
      for (const wrong of ['tester', 'nobody', 'UPSTREAM', upstreamClient.apikey]) {
        refused(await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', customerBody(), { 'x-clientid': wrong }), 401, 'EMBA17E');
      }
      for (const wrong of ['upstream', 'Tester', tester.apikey]) {
        refused(await h.call('POST', '/customer/l8v2', customerBody(), { headers: { 'x-clientid': wrong } }), 401, 'EMBA17E');
      }
      // Repeated, even with the right value once: ambiguous, refused as any repeated header.
      refused(await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', customerBody(), { 'x-clientid': ['upstream', 'tester'] }), 401, 'EMBA17E');
      refused(await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', customerBody(), { 'x-clientid': ['upstream', 'upstream'] }), 401, 'EMBA17E');
      // A GET as well.
      refused(await upstreamCall(upstreamClient, 'GET', '/account/v2/accounts', undefined, { 'organization-number': '100', 'x-clientid': 'tester' }), 401, 'EMBA17E');
      assert.equal(await customers(), before);
      // The signed client may send it, and then it must be its own; it need not.
      const own = await h.call('POST', '/customer/l8v2', customerBody(), { headers: { 'x-clientid': 'tester' } });
      assert.equal(own.statusCode, 200, own.body);
      assert.equal(await customers(), before + 1);
    });

    test('the upstream client may sign: a bad signature is 401, a good one 200, the same signature again 401 (replay)', async () => {
      const url = '/customer/l8v2';
      const body = customerBody();
      const before = await customers();
      const good = signed(upstreamClient, url, body);
      refused(await upstreamCall(upstreamClient, 'POST', url, body, { ...good, 'x-hmac-signature': sign(tester.secret, upstreamClient.apikey, good['x-timestamp'], JSON.stringify(body), url) }), 401, 'EMBA07E');
      refused(await upstreamCall(upstreamClient, 'POST', url, body, { ...good, 'x-hmac-signature': 'not-a-signature' }), 401, 'EMBA07E');
      // A signature is checked with its timestamp, as for a signed client.
      refused(await upstreamCall(upstreamClient, 'POST', url, body, { ...good, 'x-timestamp': undefined }), 401, 'EMBA04E');
      refused(await upstreamCall(upstreamClient, 'POST', url, body, { ...signed(upstreamClient, url, body), 'x-timestamp': String(h.clock.now().getTime() - 301_000) }), 401, 'EMBA05E');
      // Two spellings with different values: ambiguous.
      refused(await upstreamCall(upstreamClient, 'POST', url, body, { ...good, signature: 'junk' }), 401, 'EMBA07E');
      assert.equal(await customers(), before);

      const first = await upstreamCall(upstreamClient, 'POST', url, body, good);
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(await customers(), before + 1);
      // Sent again under another request id: a replay.
      refused(await upstreamCall(upstreamClient, 'POST', url, body, { ...good, 'x-request-id': uuid() }), 401, 'EMBA16E');
      // Under its own request id: a retry, which gets the first answer.
      const retry = await upstreamCall(upstreamClient, 'POST', url, body, good);
      assert.equal(retry.statusCode, 200);
      assert.equal(retry.headers['x-idempotent-replay'], 'true');
      assert.equal(retry.body, first.body);
      assert.equal(await customers(), before + 1);
      // The limit of `optional` (docs/security.md): whoever holds the token and apikey may leave the
      // signature out, so a captured request sent again unsigned runs again.
      const unsigned = await upstreamCall(upstreamClient, 'POST', url, body);
      assert.equal(unsigned.statusCode, 200, unsigned.body);
      assert.equal(await customers(), before + 2);

      // A signed write without a request id is refused (auth.ts says why): its signature is kept with its request id.
      refused(await upstreamCall(upstreamClient, 'POST', url, body, signed(upstreamClient, url, body, null)), 401, 'EMBA08E');
      assert.equal(await customers(), before + 2);
    });

    test('a signed GET of the upstream client without a request id is accepted once', async () => {
      const add = await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', customerBody());
      const account = await upstreamCall(upstreamClient, 'POST', '/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: add.json().customerNumber, creditLimit: 1000, billingCycle: 10 } });
      const url = '/account/v2/accounts';
      const headers = { 'organization-number': '100', 'account-number': account.json().accountNumber, ...signed(upstreamClient, url, undefined, null) };
      const first = await upstreamCall(upstreamClient, 'GET', url, undefined, headers);
      assert.equal(first.statusCode, 200, first.body);
      refused(await upstreamCall(upstreamClient, 'GET', url, undefined, headers), 401, 'EMBA16E');
      refused(await upstreamCall(upstreamClient, 'GET', url, undefined, { ...headers, 'x-request-id': uuid() }), 401, 'EMBA16E');
    });

    test('without a request id there is no exactly-once: a write sent twice runs twice (documented)', async () => {
      const before = await customers();
      const body = customerBody(100, { firstName: 'Retried' });
      const first = await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', body);
      const retry = await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', body);
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(retry.statusCode, 200, retry.body);
      assert.equal(retry.headers['x-idempotent-replay'], undefined);
      assert.notEqual(retry.json().customerNumber, first.json().customerNumber);
      assert.equal(await customers(), before + 2);
      // Audited each under its own trace id, by the client.
      const ids = await Promise.all([first, retry].map(async (r) => {
        const rows = await h.container.storage.db.selectFrom('audit_events').select(['actor', 'request_id'])
          .where('action', '=', 'customer.add').where('entity_id', '=', r.json().customerNumber).execute();
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.actor, 'upstream');
        return rows[0]!.request_id;
      }));
      assert.notEqual(ids[0], ids[1]);
      // Nothing was kept as an idempotency key.
      const keys = await h.container.storage.db.selectFrom('idempotency_keys').select('request_id').where('client_id', '=', 'upstream').where('request_id', 'in', ids).execute();
      assert.deepEqual(keys, []);

      // With a request id (unsigned), the same client has exactly-once: a retry gets the first answer.
      const requestId = uuid();
      const once = await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', body, { 'x-request-id': requestId });
      const again = await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', body, { 'x-request-id': requestId });
      assert.equal(once.statusCode, 200, once.body);
      assert.equal(again.headers['x-idempotent-replay'], 'true');
      assert.equal(again.body, once.body);
      refused(await upstreamCall(upstreamClient, 'POST', '/customer/l8v2', customerBody(), { 'x-request-id': requestId }), 409, 'EMBA12E');
      assert.equal(await customers(), before + 3);
      const audit = await listAudit(h.container.storage.db, { requestId });
      assert.deepEqual(audit.map((a) => [a.actor, a.action]), [['upstream', 'customer.add']]);
      // An inquiry (a read sent as POST) with a request id is recorded and replayed too.
      const inquiry = { organizationNumber: 100, customerAccountCardNumber: once.json().customerNumber, numberType: '1' };
      const inquiryId = uuid();
      const read = await upstreamCall(upstreamClient, 'POST', '/customer/demographicData-l8v2', inquiry, { 'x-request-id': inquiryId });
      assert.equal(read.statusCode, 200, read.body);
      const reread = await upstreamCall(upstreamClient, 'POST', '/customer/demographicData-l8v2', inquiry, { 'x-request-id': inquiryId });
      assert.equal(reread.headers['x-idempotent-replay'], 'true');
      assert.equal(reread.body, read.body);
      // And without one it just runs.
      assert.equal((await upstreamCall(upstreamClient, 'POST', '/customer/demographicData-l8v2', inquiry)).statusCode, 200);
    });

    test('a profile with the signature off does not read signature headers; one that requires a request id refuses a call without', async () => {
      const offClient: TestClient = { clientId: 'unsigned', apikey: 'unsigned-apikey-0123456789', secret: 'unsigned-secret-0123456789-abcd' };
      await h.container.clients.upsert(h.container.storage.db, {
        clientId: offClient.clientId, apikey: offClient.apikey, secret: offClient.secret, organizations: [100], scopes: ['cards'],
        keyAssociations: {}, cardNumberKey: null, tokenTtlSeconds: 900,
        wire: { successEnvelope: false, signature: 'off', requestId: 'required', clientIdHeader: 'optional' },
      });
      const before = await customers();
      refused(await upstreamCall(offClient, 'POST', '/customer/l8v2', customerBody()), 401, 'EMBA08E');
      const junk = await upstreamCall(offClient, 'POST', '/customer/l8v2', customerBody(), { 'x-request-id': uuid(), 'x-hmac-signature': 'junk', 'x-timestamp': 'junk', 'x-clientid': undefined });
      assert.equal(junk.statusCode, 200, junk.body);
      const good = { ...signed(offClient, '/customer/l8v2', customerBody()) };
      assert.equal((await upstreamCall(offClient, 'POST', '/customer/l8v2', customerBody(), good)).statusCode, 200);
      // Not read, so not kept: the same signature under another request id is no replay.
      assert.equal((await upstreamCall(offClient, 'POST', '/customer/l8v2', customerBody(), { ...good, 'x-request-id': uuid() })).statusCode, 200);
      assert.equal(await customers(), before + 3);
    });

    test('the envelope client gets success wrapped, replays included; errors keep the plain error envelope', async () => {
      const requestId = uuid();
      const first = await h.call('POST', '/customer/l8v2', customerBody(), { client: enveloped, requestId });
      assert.equal(first.statusCode, 200, first.body);
      const wrapped = first.json();
      assert.deepEqual(Object.keys(wrapped), ['hasError', 'errors', 'data']);
      assert.equal(wrapped.hasError, false);
      assert.deepEqual(wrapped.errors, []);
      assert.match(wrapped.data.customerNumber, /^[0-9]{19}$/);
      assert.equal(wrapped.data.organizationNumber, 100);
      const replay = await h.call('POST', '/customer/l8v2', customerBody(), { client: enveloped, requestId });
      assert.equal(replay.statusCode, 200);
      assert.equal(replay.headers['x-idempotent-replay'], 'true');
      assert.deepEqual(replay.json(), wrapped);
      // An inquiry and its replay.
      const inquiry = { organizationNumber: 100, customerAccountCardNumber: wrapped.data.customerNumber, numberType: '1' };
      const inquiryId = uuid();
      const read = await h.call('POST', '/customer/demographicData-l8v2', inquiry, { client: enveloped, requestId: inquiryId });
      assert.equal(read.json().hasError, false, read.body);
      assert.equal(read.json().data.customerNumber, wrapped.data.customerNumber);
      const reread = await h.call('POST', '/customer/demographicData-l8v2', inquiry, { client: enveloped, requestId: inquiryId });
      assert.equal(reread.headers['x-idempotent-replay'], 'true');
      assert.deepEqual(reread.json(), read.json());

      // Errors: the error envelope once, never inside another.
      refused(await h.call('POST', '/customer/l8v2', customerBody(200), { client: enveloped }), 403, 'EMBA09E');
      refused(await h.call('POST', '/customer/l8v2', customerBody(), { client: enveloped, headers: { 'x-hmac-signature': undefined } }), 401, 'EMBA06E');
      refused(await h.call('POST', '/customer/l8v2', customerBody(100, { firstName: 'Grace' }), { client: enveloped, requestId }), 409, 'EMBA12E');
      const business = await h.call('POST', '/customer/l8v2', customerBody(100, { dateOfBirth: '2199-12-31' }), { client: enveloped });
      assert.equal(business.statusCode, 422, business.body);
      assert.equal(business.json().hasError, true);
      assert.equal(business.json().data.hasError, undefined);

      // The default client gets bare bodies.
      const bare = await h.call('POST', '/customer/l8v2', customerBody());
      assert.equal(bare.statusCode, 200);
      assert.equal(bare.json().hasError, undefined);
      assert.match(bare.json().customerNumber, /^[0-9]{19}$/);
    });
  });
}
