import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startHarness, tester, sign, customerBody, TEST_ZEK_HEX, TEST_ZPK_HEX, TEST_ZPK_AES_HEX, type Harness } from '../helpers/harness.ts';
import { TOKEN_CACHE_MS } from '../../src/modules/clients/index.ts';
import {
  createEmbossClient, buildPinBlock, decryptCardNumber, decryptSecurityValue, encryptCardNumber, readPinBlock, type EmbossClient,
} from '../../clients/typescript/index.ts';

/**
 * The typed client (clients/typescript) against a real server on a loopback port: the whole seed
 * scenario through it, and what its middleware does — token fetched, renewed before it expires
 * and once on a 401 EMBA02E; every call signed over the body as sent and the path with its query;
 * a fresh request id, or the caller's (an idempotent retry).
 */
describe('typed client (clients/typescript) against a listening server', () => {
  let h: Harness;
  let baseUrl: string;
  /** Every request the client sent: method, path, headers and body, with the status of its answer. */
  const seen: Array<{ method: string; path: string; headers: Headers; body: string; status: number }> = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const body = request.body === null ? '' : await request.clone().text();
    const response = await fetch(request);
    const url = new URL(request.url);
    seen.push({ method: request.method, path: url.pathname + url.search, headers: request.headers, body, status: response.status });
    return response;
  };
  const client = (extra: Partial<Parameters<typeof createEmbossClient>[0]> = {}): EmbossClient =>
    createEmbossClient({ baseUrl, clientId: tester.clientId, apikey: tester.apikey, secret: tester.secret, fetch: recordingFetch, ...extra });

  before(async () => {
    h = await startHarness('pglite');
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  });
  after(async () => { await h.close(); });

  test('the seed scenario: customer, account, card, card-pan both ways, security codes, PIN block validated, dCVV2', async () => {
    const emboss = client();
    const customer = await emboss.POST('/customer/l8v2', { body: customerBody(100) });
    assert.equal(customer.response.status, 200, JSON.stringify(customer.error));
    const account = await emboss.POST('/account/add-L8V3', { body: { accountData: { organization: 100, logo: 1, customerNumber: customer.data!.customerNumber, creditLimit: 1000, billingCycle: 10 } } });
    assert.equal(account.response.status, 200, JSON.stringify(account.error));
    const card = await emboss.POST('/cards/embosser/l8vf', { body: { organizationNumber: 100, postToAccount: account.data!.accountNumber, cardNumber: '', embossedName1: 'ADA LOVELACE' } });
    assert.equal(card.response.status, 200, JSON.stringify(card.error));
    const token = card.data!.cardNumber;

    const byToken = await emboss.POST('/cards/embosser/card-pan-l8v2', { body: { organizationNumber: 100, cardNumber: token, cardSequence: 1, functionType: 'C' } });
    assert.equal(byToken.response.status, 200, JSON.stringify(byToken.error));
    const pan = decryptCardNumber(byToken.data!.cardNumber, TEST_ZEK_HEX);
    assert.match(pan, /^411111[0-9]{10}$/);
    // The number the server keeps is this one (its look-up of the encrypted number finds the card).
    const stored = await h.container.storage.db.selectFrom('cards').select('pan_token').where('pan_token', '=', token).executeTakeFirstOrThrow();
    assert.equal(stored.pan_token, token);
    const byNumber = await emboss.POST('/cards/embosser/card-pan', { body: { organizationNumber: 100, cardNumber: encryptCardNumber(pan, TEST_ZEK_HEX), cardSequence: 1, functionType: 'P' } });
    assert.equal(byNumber.response.status, 200, JSON.stringify(byNumber.error));
    assert.equal(byNumber.data!.panToken, token);

    const codes = await emboss.POST('/cards/pin/security-codes', { body: { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' } });
    assert.equal(codes.response.status, 200, JSON.stringify(codes.error));
    const [cvv, cvv2, icvv] = [codes.data!.ud1ec, codes.data!.ud2ec, codes.data!.ud3ec].map((v) => decryptSecurityValue(v, TEST_ZPK_HEX));
    for (const v of [cvv, cvv2, icvv]) assert.match(v!, /^[0-9]{3}$/);
    const pin = readPinBlock(codes.data!.pinEncrypt, pan, TEST_ZPK_HEX);
    assert.match(pin, /^[0-9]{4}$/);

    const validate = (block: string, keyAssociation: string, pinBlockFormat: 0 | 1 | 3 | 4) =>
      emboss.POST('/cards/pin/validation', { body: { organizationNumber: 100, cardNumber: token, currentPinBlock: block, channel: 'I', keyAssociation, pinBlockFormat } });
    for (const format of [0, 1, 3] as const) {
      const right = await validate(buildPinBlock(format, pin, pan, TEST_ZPK_HEX), 'IYY', format);
      assert.equal(right.response.status, 200, `format ${format}: ${JSON.stringify(right.error)}`);
    }
    assert.equal((await validate(buildPinBlock(4, pin, pan, TEST_ZPK_AES_HEX), 'IY4', 4)).response.status, 200);
    const wrong = await validate(buildPinBlock(0, pin === '1357' ? '2468' : '1357', pan, TEST_ZPK_HEX), 'IYY', 0);
    assert.equal(wrong.response.status, 422);

    const dynamic = await emboss.POST('/cards/pin/dynamic-values', { body: { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY', disableDCVV2: 'N' } });
    assert.equal(dynamic.response.status, 200, JSON.stringify(dynamic.error));
    const dcvv2 = decryptSecurityValue(dynamic.data!.dcvv2, TEST_ZPK_HEX);
    const expiry = (await h.container.storage.db.selectFrom('cards').select('expiry').where('pan_token', '=', token).executeTakeFirstOrThrow()).expiry;
    const verified = await emboss.POST('/cards/cvv2/verification', { body: { organizationNumber: 100, cardNumber: token, expirationDate: expiry, cvv2: dcvv2 } });
    assert.equal(verified.response.status, 200, JSON.stringify(verified.error));
    assert.equal(verified.data!.result, 'MATCH');

    // A GET with a query string and headers, signed over its path and query.
    const cards = await emboss.GET('/customer/v3/cards/details', { params: { query: { organizationNumber: 100 }, header: { customerNumber: customer.data!.customerNumber } } as never });
    assert.equal(cards.response.status, 200, JSON.stringify(cards.error));
  });

  test('every call is signed over the body as sent and the path with its query, with a fresh request id and increasing timestamps', async () => {
    seen.length = 0;
    const emboss = client();
    await Promise.all([1, 2, 3].map(() => emboss.POST('/customer/l8v2', { body: customerBody(100) })));
    await emboss.GET('/account/v2/accounts', { params: { header: { 'organization-number': 100, 'account-number': '1' } } as never });
    const signed = seen.filter((s) => s.path !== '/token');
    assert.equal(seen.filter((s) => s.path === '/token').length, 1, 'one token for concurrent first calls');
    assert.equal(signed.length, 4);
    for (const s of signed) {
      const ts = s.headers.get('x-timestamp')!;
      assert.equal(s.headers.get('x-hmac-signature'), sign(tester.secret, tester.apikey, ts, s.body, s.path));
      assert.equal(s.headers.get('apikey'), tester.apikey);
      assert.match(s.headers.get('authorization')!, /^Bearer /);
    }
    assert.equal(new Set(signed.map((s) => s.headers.get('x-request-id'))).size, 4);
    assert.equal(new Set(signed.map((s) => s.headers.get('x-timestamp'))).size, 4, 'no two signatures share a timestamp');
    assert.deepEqual(signed.slice(0, 3).map((s) => s.status), [200, 200, 200]);
  });

  test('a request id given by the caller is kept: a retry gets the stored answer', async () => {
    const emboss = client();
    const requestId = randomUUID();
    const first = await emboss.POST('/customer/l8v2', { body: customerBody(100), headers: { 'x-request-id': requestId } });
    const again = await emboss.POST('/customer/l8v2', { body: customerBody(100), headers: { 'x-request-id': requestId } });
    assert.equal(first.response.status, 200);
    assert.equal(again.response.status, 200);
    assert.equal(again.response.headers.get('x-idempotent-replay'), 'true');
    assert.equal(again.data!.customerNumber, first.data!.customerNumber);
  });

  test('the token is renewed before it expires, and once after a 401 EMBA02E (revoked), under the same request id', async () => {
    seen.length = 0;
    let clock = Date.now();
    const emboss = client({ now: () => clock });
    assert.equal((await emboss.POST('/customer/l8v2', { body: customerBody(100) })).response.status, 200);
    const first = await emboss.token();
    clock += 860_000; // 900 s tokens, renewed 30 s before their end
    assert.equal(await emboss.token(), first);
    clock += 11_000;
    const second = await emboss.token();
    assert.notEqual(second, first);
    assert.equal(seen.filter((s) => s.path === '/token').length, 2);

    await h.container.clients.revokeTokens(tester.clientId);
    await sleep(TOKEN_CACHE_MS + 200);
    seen.length = 0;
    const requestId = randomUUID();
    const res = await emboss.POST('/customer/l8v2', { body: customerBody(100), headers: { 'x-request-id': requestId } });
    assert.equal(res.response.status, 200, JSON.stringify(res.error));
    assert.deepEqual(seen.map((s) => [s.path, s.status]), [['/customer/l8v2', 401], ['/token', 200], ['/customer/l8v2', 200]]);
    assert.deepEqual(seen.filter((s) => s.path !== '/token').map((s) => s.headers.get('x-request-id')), [requestId, requestId]);
    assert.notEqual(await emboss.token(), second);

    // Any other 401 is the caller's to see, without a retry.
    seen.length = 0;
    const wrongKey = client({ apikey: 'not-the-apikey-0123456789' });
    const refused = await wrongKey.POST('/customer/l8v2', { body: customerBody(100) });
    assert.equal(refused.response.status, 401);
    assert.equal((refused.error as { errors: Array<{ code: string }> }).errors[0]!.code, 'EMBA03E');
    assert.equal(seen.filter((s) => s.path !== '/token').length, 1);
  });
});
