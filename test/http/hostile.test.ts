import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { backends } from '../helpers/storage.ts';
import {
  startHarness, addCard, addCustomer, cardholderApp, cardsOnly, clientPinBlock, customerBody, sign, signingTimestamp, tester, testBootstrap,
  upstreamClient, uuid, type Harness, type TestClient,
} from '../helpers/harness.ts';
import { createContainer, type Container } from '../../src/container.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { TOKEN_CACHE_MS } from '../../src/modules/clients/index.ts';

/**
 * The hostile-client suite: what an attacker tried against emboss, played again. Each test is an
 * attack that once worked (or a neighbour of one), and asserts that it is refused with the
 * envelope and a code, and that it changed nothing. The fuzz over every route's schema is in
 * fuzz.test.ts; tenant isolation in the other HTTP suites.
 */

/** One master key for the "processes" of a test, as API processes of one deployment share it. */
const MASTER_KEY = randomBytes(32).toString('hex');

/** A signed request exactly as sent, so that it can be sent again byte for byte, or changed one part at a time. */
interface Captured { method: 'GET' | 'POST' | 'PUT'; url: string; headers: Record<string, string>; payload: string }

function capture(client: TestClient, token: string, method: Captured['method'], url: string, body: unknown, nowMs: number): Captured {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const timestamp = signingTimestamp(nowMs);
  return {
    method, url, payload,
    headers: {
      authorization: `Bearer ${token}`, apikey: client.apikey, 'x-timestamp': timestamp, 'x-request-id': uuid(),
      'x-hmac-signature': sign(client.secret, client.apikey, timestamp, payload, url),
      ...(payload !== '' ? { 'content-type': 'application/json' } : {}),
    },
  };
}

const send = (app: App, r: Captured, changes: Partial<Captured> & { remoteAddress?: string } = {}) => {
  const { remoteAddress, ...rest } = changes;
  const m = { ...r, ...rest };
  return app.inject({ method: m.method, url: m.url, headers: m.headers, ...(m.payload !== '' ? { payload: m.payload } : {}), ...(remoteAddress ? { remoteAddress } : {}) });
};

const codeOf = (res: LightMyRequestResponse) => (res.json() as { errors: Array<{ code: string }> }).errors[0]?.code;

function refused(res: LightMyRequestResponse, status: number, code?: string) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json() as { hasError: boolean; errors: Array<{ code: string }> };
  assert.equal(body.hasError, true);
  if (code) assert.equal(body.errors[0]?.code, code, res.body);
}

for (const backend of backends) {
  describe(`hostile clients (${backend})`, () => {
    let h: Harness;
    before(async () => { h = await startHarness(backend, { settings: { RATE_LIMIT_PER_MINUTE: 1_000_000, EMBOSS_MASTER_KEY: MASTER_KEY } }); });
    after(async () => { await h.close(); });

    const count = async (table: 'customers' | 'cards' | 'mass_issue_requests' | 'audit_events') =>
      Number((await h.container.storage.db.selectFrom(table).select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const now = () => h.clock.now().getTime();

    test('a signed request sent again with a new request id is a replay: 401 EMBA16E, nothing written; with its own id it is a retry', async () => {
      const original = capture(tester, await h.token(), 'POST', '/customer/l8v2', customerBody(), now());
      const first = await send(h.app, original);
      assert.equal(first.statusCode, 200, first.body);
      const before = await count('customers');
      for (let i = 0; i < 3; i++) {
        refused(await send(h.app, original, { headers: { ...original.headers, 'x-request-id': uuid() } }), 401, 'EMBA16E');
        // Under the other spelling of the request id header, too.
        const legacy: Record<string, string> = { ...original.headers, 'x-client-request-id': uuid() };
        delete legacy['x-request-id'];
        refused(await send(h.app, original, { headers: legacy }), 401, 'EMBA16E');
      }
      assert.equal(await count('customers'), before);
      const retry = await send(h.app, original);
      assert.equal(retry.statusCode, 200);
      assert.equal(retry.headers['x-idempotent-replay'], 'true');
      assert.equal(retry.body, first.body);
      assert.equal(await count('customers'), before);
    });

    test('a replay is refused in another API process too (the signatures are in the database)', async () => {
      const second = await secondProcess(h);
      try {
        const original = capture(tester, await h.token(), 'POST', '/customer/l8v2', customerBody(), now());
        assert.equal((await send(h.app, original)).statusCode, 200);
        const before = await count('customers');
        refused(await send(second.app, original, { headers: { ...original.headers, 'x-request-id': uuid() } }), 401, 'EMBA16E');
        assert.equal(await count('customers'), before);
      } finally {
        await second.close();
      }
    });

    test('a body the signature does not cover is refused: signed routes take JSON only (415), a form body never reaches a handler', async () => {
      const { token: cardToken } = await addCard(h);
      const url = '/cards/pin/security-codes';
      const form = `organizationNumber=100&cardNumber=${cardToken}&channel=A&keyAssociation=IYY`;
      const auditBefore = await count('audit_events');
      for (const signedOver of ['', form]) {
        const r = capture(tester, await h.token(), 'POST', url, undefined, now());
        const timestamp = r.headers['x-timestamp']!;
        const headers = { ...r.headers, 'content-type': 'application/x-www-form-urlencoded', 'x-hmac-signature': sign(tester.secret, tester.apikey, timestamp, signedOver, url) };
        const res = await send(h.app, r, { headers, payload: form });
        refused(res, 415, 'EMBV03E');
        assert.doesNotMatch(res.body, /pinEncrypt|cvv/i);
      }
      for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
        const r = capture(tester, await h.token(), 'POST', url, { organizationNumber: 100, cardNumber: cardToken, channel: 'A', keyAssociation: 'IYY' }, now());
        refused(await send(h.app, r, { headers: { ...r.headers, 'content-type': type } }), 415, 'EMBV03E');
      }
      assert.equal(await count('audit_events'), auditBefore);
    });

    test('a captured GET signature cannot become a POST: not with a form body, a JSON body, or no body', async () => {
      const customer = await addCustomer(h);
      const url = '/cards/mass-card-issue-L8V3?organizationNumber=100&logo=1&serviceType=7';
      const get = capture(tester, await h.token(), 'GET', url, undefined, now());
      const answered = await send(h.app, get);
      assert.ok(answered.statusCode === 200 || answered.statusCode === 422, answered.body);
      const before = await count('mass_issue_requests');
      const cards = await count('cards');
      const form = `organizationNumber=100&logo=1&cardType=7&functionType=A&quantityToCreate=3&customerNumber=${customer}`;
      const asForm = await send(h.app, get, { method: 'POST', payload: form, headers: { ...get.headers, 'x-request-id': uuid(), 'content-type': 'application/x-www-form-urlencoded' } });
      refused(asForm, 415, 'EMBV03E');
      const json = JSON.stringify({ organizationNumber: 100, logo: 1, cardType: 7, functionType: 'A', quantityToCreate: 3, customerNumber: customer });
      refused(await send(h.app, get, { method: 'POST', payload: json, headers: { ...get.headers, 'x-request-id': uuid(), 'content-type': 'application/json' } }), 401, 'EMBA07E');
      // Without a body: every POST route requires one.
      refused(await send(h.app, get, { method: 'POST', headers: { ...get.headers, 'x-request-id': uuid() } }), 400, 'EMBV01E');
      // And the GET itself, again under a new id: a replay.
      refused(await send(h.app, get, { headers: { ...get.headers, 'x-request-id': uuid() } }), 401, 'EMBA16E');
      assert.equal(await count('mass_issue_requests'), before);
      assert.equal(await count('cards'), cards);
    });

    test('one signature has one spelling: base64url, no padding, spaces, a repeated header or two spellings are refused', async () => {
      const before = await count('customers');
      const variants: Array<[string, (sig: string, headers: Record<string, string>) => Record<string, string | string[]>]> = [
        ['base64url', (s, hd) => ({ ...hd, 'x-hmac-signature': s.replace(/\+/g, '-').replace(/\//g, '_') })],
        ['no padding', (s, hd) => ({ ...hd, 'x-hmac-signature': s.replace(/=+$/, '') })],
        ['surrounding spaces', (s, hd) => ({ ...hd, 'x-hmac-signature': ` ${s} ` })],
        ['valid, junk in one header', (s, hd) => ({ ...hd, 'x-hmac-signature': `${s}, junk` })],
        ['the header twice', (s, hd) => ({ ...hd, 'x-hmac-signature': [s, 'junk'] })],
        ['both spellings, one of them junk', (s, hd) => ({ ...hd, 'x-hmac-signature': s, signature: 'junk' })],
        ['lower-case base64', (s, hd) => ({ ...hd, 'x-hmac-signature': s.toLowerCase() })],
      ];
      for (const [name, change] of variants) {
        // A signature made with a '+' or '/' in it, so that base64url differs from base64.
        let r: Captured;
        do { r = capture(tester, await h.token(), 'POST', '/customer/l8v2', customerBody(), now()); } while (!/[+/]/.test(r.headers['x-hmac-signature']!));
        const headers = change(r.headers['x-hmac-signature']!, r.headers);
        const res = await h.app.inject({ method: 'POST', url: r.url, headers, payload: r.payload });
        assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
        assert.ok(['EMBA07E'].includes(codeOf(res)!), `${name}: ${res.body}`);
      }
      assert.equal(await count('customers'), before);
    });

    test('a wire profile waives only what it says: a signed client cannot drop its signature, X-ClientID cannot name another client, and each refusal counts against the address', async () => {
      const address = '198.51.100.31';
      const failures = async () => Number((await h.container.storage.db.selectFrom('rate_counters').select((e) => e.fn.sum<string>('hits').as('n'))
        .where('key', '=', `fail:${address}`).executeTakeFirst())?.n ?? 0);
      const before = { customers: await count('customers'), failures: await failures() };
      const original = capture(tester, await h.token(), 'POST', '/customer/l8v2', customerBody(), now());
      const unsigned: Record<string, string> = { ...original.headers };
      for (const k of ['x-timestamp', 'x-hmac-signature', 'x-request-id']) delete unsigned[k];
      const attempts: Array<[string, Record<string, string | string[]>, string]> = [
        // A signed client's token and apikey, sent as the upstream client sends them.
        ['a signed client without its signature', { ...unsigned, 'x-clientid': tester.clientId }, 'EMBA04E'],
        // The upstream client's name on the signed client's token: the profile is the token's client's.
        ['the upstream client named on a signed client\'s token', { ...unsigned, 'x-clientid': upstreamClient.clientId }, 'EMBA17E'],
        ['a valid signed request naming another client', { ...original.headers, 'x-clientid': 'other' }, 'EMBA17E'],
        ['X-ClientID twice, its own first', { ...original.headers, 'x-clientid': [tester.clientId, 'other'] }, 'EMBA17E'],
      ];
      for (const [name, headers, code] of attempts) {
        const res = await h.app.inject({ method: 'POST', url: original.url, headers, payload: original.payload, remoteAddress: address });
        assert.equal(res.statusCode, 401, `${name}: ${res.body}`);
        assert.equal(res.json().hasError, true, name);
        assert.equal(codeOf(res), code, `${name}: ${res.body}`);
        assert.equal(res.headers['x-ratelimit-remaining'], undefined, name);
      }
      assert.equal(await failures(), before.failures + attempts.length);
      assert.equal(await count('customers'), before.customers);
      // The signed request itself was never admitted: it still runs, once.
      assert.equal((await send(h.app, original)).statusCode, 200);

      // The upstream client: its profile waives the signature, not its rights.
      const upstream = { authorization: `Bearer ${await h.token(upstreamClient)}`, apikey: upstreamClient.apikey, 'x-clientid': upstreamClient.clientId, 'content-type': 'application/json' };
      const asUpstream = (url: string, body: unknown) => h.app.inject({ method: 'POST', url, headers: upstream, payload: JSON.stringify(body) });
      refused(await asUpstream('/customer/l8v2', customerBody(200)), 403, 'EMBA09E');
      // Scopes are checked with authentication, before the body is read: no card is needed to be refused.
      refused(await asUpstream('/cards/pin/security-codes', { organizationNumber: 100, cardNumber: '4111111111111111', channel: 'A', keyAssociation: 'IYY' }), 403, 'EMBA10E');
      // A signature it sends is held to every rule: sent again under another request id, a replay.
      const signedUpstream = capture(upstreamClient, await h.token(upstreamClient), 'POST', '/customer/l8v2', customerBody(), now());
      signedUpstream.headers['x-clientid'] = upstreamClient.clientId;
      assert.equal((await send(h.app, signedUpstream)).statusCode, 200);
      const afterSigned = await count('customers');
      refused(await send(h.app, signedUpstream, { headers: { ...signedUpstream.headers, 'x-request-id': uuid() } }), 401, 'EMBA16E');
      // And without a request id it is refused, so it cannot be accepted once more in the GETs' table.
      const noId: Record<string, string> = { ...signedUpstream.headers };
      delete noId['x-request-id'];
      refused(await send(h.app, signedUpstream, { headers: noId }), 401, 'EMBA08E');
      assert.equal(await count('customers'), afterSigned);
    });

    test('a cards-only client cannot recover a PIN: the PIN blocks, it cannot unblock it, and the right PIN then proves nothing', async () => {
      const { pan, token } = await addCard(h);
      const validate = (pin: string) => h.call('POST', '/cards/pin/validation', {
        organizationNumber: 100, cardNumber: token, currentPinBlock: clientPinBlock(1, pin, pan), channel: 'I', keyAssociation: 'IYY',
      }, { client: cardsOnly });
      // The real PIN, read by a PCI client, to place it among the guesses.
      const codes = await h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'A', keyAssociation: 'IYY' });
      const { clientReadPinBlock } = await import('../helpers/harness.ts');
      const realPin = clientReadPinBlock(codes.json().pinEncrypt, pan);
      const guesses = Array.from({ length: 12 }, (_, i) => String(i).padStart(4, '0')).filter((p) => p !== realPin);
      guesses.splice(8, 0, realPin); // tried as the ninth guess: after the block
      const answers: Array<[string, number, string | undefined]> = [];
      for (const guess of guesses) {
        const res = await validate(guess);
        answers.push([guess, res.statusCode, res.statusCode === 200 ? undefined : codeOf(res)]);
        // After every third try, the attacker asks to unblock the PIN: refused, it is an operator's duty.
        if (answers.length % 3 === 0) {
          refused(await h.call('PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: token, serviceFunctionCode: 'U', channel: 'W' }, { client: cardsOnly }), 403, 'EMBA10E');
        }
      }
      assert.equal(answers.filter(([, s]) => s === 200).length, 0, JSON.stringify(answers));
      const atRealPin = answers.find(([g]) => g === realPin)!;
      const blockedCode = answers[answers.length - 1]![2];
      // The real PIN got the very answer a wrong guess gets once the PIN is blocked.
      assert.equal(atRealPin[2], blockedCode, JSON.stringify(answers));
      // A lower-case u is an unblock too.
      refused(await h.call('PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: token, serviceFunctionCode: 'u', channel: 'W' }, { client: cardsOnly }), 403, 'EMBA10E');
      // Blocking is anyone's duty (a cardholder who lost the card).
      assert.equal((await h.call('PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: token, serviceFunctionCode: 'B', channel: 'W' }, { client: cardsOnly })).statusCode, 200);
    });

    test('dynamic CVV2 generation needs the pci or dcvv2 scope; turning it off does not', async () => {
      const { token } = await addCard(h);
      const body = (disableDCVV2: string) => ({ organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY', disableDCVV2 });
      for (const flag of ['N', 'n', ' ']) refused(await h.call('POST', '/cards/pin/dynamic-values', body(flag), { client: cardsOnly }), 403, 'EMBA10E');
      assert.equal((await h.call('POST', '/cards/pin/dynamic-values', body('Y'), { client: cardsOnly })).statusCode, 200);
      const app = await h.call('POST', '/cards/pin/dynamic-values', body('N'), { client: cardholderApp });
      assert.equal(app.statusCode, 200, app.body);
      assert.match(app.json().dcvv2, /^[0-9A-F]{16}$/);
      // The app's scope is for dCVV2 alone: no other security value, no card number.
      refused(await h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'A', keyAssociation: 'IYY' }, { client: cardholderApp }), 403, 'EMBA10E');
    });

    test('a stranger with a client\'s apikey cannot use up that client\'s budget, nor read it', async () => {
      const limited = await startHarness(backend, { settings: { RATE_LIMIT_PER_MINUTE: 50, EMBOSS_AUTH_FAILURES_PER_MINUTE: 30 } });
      try {
        const stranger = '203.0.113.7';
        const statuses = new Map<number, number>();
        for (let i = 0; i < 300; i++) {
          const res = await limited.app.inject({
            method: 'POST', url: '/customer/l8v2', remoteAddress: stranger, payload: customerBody(),
            headers: { authorization: `Bearer ${'A'.repeat(43)}`, apikey: tester.apikey, 'x-timestamp': String(limited.clock.now().getTime()), 'x-request-id': uuid(), 'x-hmac-signature': 'x' },
          });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          assert.equal(res.headers['x-ratelimit-remaining'], undefined, 'a stranger learns nothing of a client\'s budget');
          assert.equal(res.json().hasError, true);
        }
        assert.equal(statuses.get(401), 30, JSON.stringify([...statuses]));
        assert.equal(statuses.get(429), 270, JSON.stringify([...statuses]));
        // The client itself, from its own address, has its whole budget.
        const own = await limited.call('POST', '/customer/l8v2', customerBody());
        assert.equal(own.statusCode, 200, own.body);
        assert.equal(own.headers['x-ratelimit-limit'], '50');
        assert.equal(own.headers['x-ratelimit-remaining'], '49');
        // Rotating the apikey does not help the stranger: it is counted by address, before any look-up.
        const rotated = await limited.app.inject({
          method: 'POST', url: '/customer/l8v2', remoteAddress: stranger, payload: customerBody(),
          headers: { authorization: `Bearer ${'B'.repeat(43)}`, apikey: `guess-${uuid()}`, 'x-timestamp': String(limited.clock.now().getTime()), 'x-request-id': uuid(), 'x-hmac-signature': 'x' },
        });
        refused(rotated, 429, 'EMBA14E');
        assert.ok(Number(rotated.headers['retry-after']) >= 1);
        // A new minute, a new budget.
        limited.clock.advance(60_000);
        const later = await limited.app.inject({ method: 'POST', url: '/customer/l8v2', remoteAddress: stranger, payload: customerBody(), headers: { authorization: `Bearer ${'A'.repeat(43)}` } });
        refused(later, 401, 'EMBA02E');
      } finally {
        await limited.close();
      }
    });

    test('a client over its budget gets 429 in every API process: the count is shared', async () => {
      const limited = await startHarness(backend, { settings: { RATE_LIMIT_PER_MINUTE: 10, EMBOSS_API_PROCESSES: 2, EMBOSS_MASTER_KEY: MASTER_KEY } });
      const second = await secondProcess(limited);
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 16; i++) {
          const r = capture(tester, await limited.token(), 'POST', '/customer/l8v2', customerBody(), limited.clock.now().getTime());
          statuses.push((await send(i % 2 === 0 ? limited.app : second.app, r)).statusCode);
        }
        assert.deepEqual(statuses, [...Array(10).fill(200), ...Array(6).fill(429)]);
        // Concurrent requests, too: exactly the budget is admitted.
        limited.clock.advance(60_000);
        const concurrent = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
          const r = capture(tester, await limited.token(), 'POST', '/customer/l8v2', customerBody(), limited.clock.now().getTime());
          return (await send(i % 2 === 0 ? limited.app : second.app, r)).statusCode;
        }));
        assert.equal(concurrent.filter((s) => s === 200).length, 10, concurrent.join(','));
        assert.equal(concurrent.filter((s) => s === 429).length, 20, concurrent.join(','));
      } finally {
        await second.close();
        await limited.close();
      }
    });

    test('POST /token: wrong secrets lock out the guessing address for that client id, not the client', async () => {
      const limited = await startHarness(backend, { settings: { EMBOSS_TOKEN_LOCKOUT_FAILURES: 5, EMBOSS_AUTH_FAILURES_PER_MINUTE: 100 } });
      try {
        const token = (address: string, secret: string, id = tester.clientId) => limited.app.inject({
          method: 'POST', url: '/token', remoteAddress: address,
          headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
        });
        const guesser = '198.51.100.9';
        const statuses: number[] = [];
        for (let i = 0; i < 8; i++) statuses.push((await token(guesser, `wrong-secret-${i}-0123456789`)).statusCode);
        assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
        // Locked out even with the right secret: the guesser cannot tell a right guess from a wrong one.
        const right = await token(guesser, tester.secret);
        refused(right, 429, 'EMBA14E');
        // Until the end of the 15-minute window the failures were counted in.
        assert.ok(Number(right.headers['retry-after']) >= 1 && Number(right.headers['retry-after']) <= 900, right.headers['retry-after'] as string);
        // The client itself, from its own address, still gets its tokens.
        assert.equal((await token('192.0.2.1', tester.secret)).statusCode, 200);
        // After the lock-out window, the pair may try again.
        limited.clock.advance(15 * 60_000);
        assert.equal((await token(guesser, tester.secret)).statusCode, 200);
      } finally {
        await limited.close();
      }
    });

    test('POST /token: an address guessing across many client ids is limited per address', async () => {
      const limited = await startHarness(backend, { settings: { EMBOSS_AUTH_FAILURES_PER_MINUTE: 20 } });
      try {
        const statuses = new Map<number, number>();
        for (let i = 0; i < 60; i++) {
          const res = await limited.app.inject({
            method: 'POST', url: '/token', remoteAddress: '198.51.100.77',
            headers: { authorization: `Basic ${Buffer.from(`guess-${i}:secret-guess-0123456789`).toString('base64')}` },
          });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        }
        assert.equal(statuses.get(401), 20, JSON.stringify([...statuses]));
        assert.equal(statuses.get(429), 40, JSON.stringify([...statuses]));
        // A secret sent in the id field (credentials swapped) is counted under its hash, never kept in clear.
        await limited.app.inject({
          method: 'POST', url: '/token', remoteAddress: '198.51.100.78',
          headers: { authorization: `Basic ${Buffer.from(`${tester.secret}:${tester.clientId}-0123456789`).toString('base64')}` },
        });
        const keys = await limited.container.storage.db.selectFrom('rate_counters').select('key').execute();
        assert.ok(keys.some((k) => k.key.startsWith('lockout:') && k.key.endsWith('@198.51.100.78')));
        assert.ok(keys.every((k) => !k.key.includes(tester.secret)));
      } finally {
        await limited.close();
      }
    });

    test(`a revoked token is refused in every API process within ${TOKEN_CACHE_MS} ms, though both had it cached`, async () => {
      const second = await secondProcess(h);
      try {
        const token = await h.freshToken(cardsOnly);
        for (const app of [h.app, second.app]) {
          assert.equal((await send(app, capture(cardsOnly, token, 'POST', '/customer/l8v2', customerBody(), now()))).statusCode, 200);
        }
        assert.ok(await h.container.clients.revokeTokens(cardsOnly.clientId) >= 1);
        // A process that had not read the token yet refuses it at once.
        const third = await secondProcess(h);
        refused(await send(third.app, capture(cardsOnly, token, 'POST', '/customer/l8v2', customerBody(), now())), 401, 'EMBA02E');
        await third.close();
        h.clock.advance(TOKEN_CACHE_MS);
        for (const app of [h.app, second.app]) {
          refused(await send(app, capture(cardsOnly, token, 'POST', '/customer/l8v2', customerBody(), now())), 401, 'EMBA02E');
        }
      } finally {
        await second.close();
      }
    });

    test('an expired token is refused at once, in every API process', async () => {
      const second = await secondProcess(h);
      try {
        const token = await h.freshToken(cardsOnly);
        for (const app of [h.app, second.app]) {
          assert.equal((await send(app, capture(cardsOnly, token, 'POST', '/customer/l8v2', customerBody(), now()))).statusCode, 200);
        }
        h.clock.advance(900_001);
        try {
          for (const app of [h.app, second.app]) {
            refused(await send(app, capture(cardsOnly, token, 'POST', '/customer/l8v2', customerBody(), now())), 401, 'EMBA02E');
          }
        } finally {
          h.clock.advance(-900_001);
        }
      } finally {
        await second.close();
      }
    });

    test('the events routes need the events scope: 403 on each and nothing changed; a webhook URL that is not http(s) is refused with 422', async () => {
      const endpoints = async () => Number((await h.container.storage.db.selectFrom('webhook_endpoints').select((e) => e.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const own = await h.call('POST', '/webhooks/endpoints', { url: 'http://127.0.0.1:9/hook' });
      assert.equal(own.statusCode, 200, own.body);
      const id = (own.json() as { id: string }).id;
      const before = await endpoints();
      const audit = await count('audit_events');
      for (const client of [cardsOnly, cardholderApp]) {
        const token = await h.freshToken(client);
        refused(await h.call('GET', '/events?after=0', undefined, { client, token }), 403);
        refused(await h.call('GET', '/webhooks/endpoints', undefined, { client, token }), 403);
        refused(await h.call('POST', '/webhooks/endpoints', { url: 'http://127.0.0.1:9/other' }, { client, token }), 403);
        refused(await h.call('DELETE', `/webhooks/endpoints/${id}`, undefined, { client, token }), 403);
      }
      assert.equal(await endpoints(), before);
      assert.equal((await h.call('GET', '/webhooks/endpoints')).json().endpoints.length, before, 'the endpoint is still there');
      for (const url of ['ftp://127.0.0.1/x', 'file:///etc/passwd', 'javascript:alert(1)', 'gopher://127.0.0.1:70/_', 'data:text/plain,hi', 'not a url', 'http://user:pw@127.0.0.1/']) {
        refused(await h.call('POST', '/webhooks/endpoints', { url }), 422, 'EMBE01E');
      }
      assert.equal(await endpoints(), before);
      assert.ok(await count('audit_events') >= audit);
      assert.equal((await h.call('DELETE', `/webhooks/endpoints/${id}`)).statusCode, 200);
    });
  });
}

/** Another API "process" on the same store: its own container, caches and gate, the same database and clock. */
async function secondProcess(h: Harness): Promise<{ app: App; container: Container; close(): Promise<void> }> {
  const container = await createContainer({
    settings: h.container.settings, logger: createLogger({ level: 'warn', destination: new Writable({ write(_c, _e, done) { done(); } }) }),
    clock: h.clock, storage: h.store.storage, bootstrapText: testBootstrap, jobs: false, migrate: false, env: {},
  });
  const app = await buildApp(container, { docs: false });
  await app.ready();
  return { app, container, close: async () => { await app.close(); } };
}
