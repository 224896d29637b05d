import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { createContainer, type Container } from '../../src/container.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { loadSettings } from '../../src/config/env.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { addCard, sign, signingTimestamp, tester, testBootstrap, type Harness } from '../helpers/harness.ts';
import { backends, openTestStore } from '../helpers/storage.ts';
import { waitFor } from '../helpers/wait.ts';

const until = (what: string, cond: () => Promise<boolean> | boolean, ms: number) => waitFor(what, async () => ((await cond()) ? true : undefined), ms);

/**
 * Card lifecycle events through webhooks, end to end: a local receiver on 127.0.0.1 that fails
 * (500) for a while and then recovers; cards issued, changed, PIN blocked, while it fails; the
 * process stopped and another started on the same store with deliveries pending. Every event
 * arrives, signed per Standard Webhooks, in order per card; duplicates are dropped by webhook-id.
 */
interface Received { id: string; body: string; headers: IncomingHttpHeaders; at: number }

async function receiver() {
  const received: Received[] = [];
  let failing = true;
  let refused = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failing) { refused++; res.statusCode = 500; res.end('not now'); return; }
      received.push({ id: String(req.headers['webhook-id']), body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, at: Date.now() });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/emboss`, received,
    recover() { failing = false; },
    get refused() { return refused; },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An app over a container on `store`, with the job worker on and short retries; `call` signs as the harness does. */
async function openApp(store: Awaited<ReturnType<typeof openTestStore>>, logs: string[], masterKey: string) {
  const destination = new Writable({ write(chunk, _enc, done) { logs.push(chunk.toString()); done(); } });
  const container: Container = await createContainer({
    settings: { ...loadSettings({}), EMBOSS_WORKER: 'on', EMBOSS_WEBHOOK_BACKOFF_MS: 200, EMBOSS_MASTER_KEY: masterKey },
    logger: createLogger({ level: 'info', destination }), storage: store.storage, bootstrapText: testBootstrap,
    jobs: true, jobSchema: store.jobSchema, migrate: false, env: {},
  });
  const app: App = await buildApp(container, { docs: false });
  await app.ready();
  const auth = await app.inject({
    method: 'POST', url: '/token', payload: { grant_type: 'client_credentials' },
    headers: { authorization: `Basic ${Buffer.from(`${tester.clientId}:${tester.secret}`).toString('base64')}` },
  });
  if (auth.statusCode !== 200) throw new Error(`token: ${auth.statusCode} ${auth.body} ${logs.filter((l) => l.includes('"level":50')).join('')}`);
  const token = auth.json().access_token as string;
  const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const raw = body === undefined ? '' : JSON.stringify(body);
    const timestamp = signingTimestamp(Date.now());
    return app.inject({
      method, url, ...(raw ? { payload: raw } : {}),
      headers: {
        authorization: `Bearer ${token}`, apikey: tester.apikey, 'x-timestamp': timestamp, 'x-request-id': randomUUID(),
        'x-hmac-signature': sign(tester.secret, tester.apikey, timestamp, raw, url), ...(raw ? { 'content-type': 'application/json' } : {}),
      },
    });
  };
  return {
    container, app, call,
    /** Enough of a harness for the card helpers. */
    h: { call: (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) => call(method, url, body) } as unknown as Harness,
    async close() { await app.close(); await container.close(); },
  };
}

for (const backend of backends) {
  describe(`card lifecycle events and webhooks (${backend})`, () => {
    test('every event arrives, signed, in order per card, once per id after dedupe, across a restart', async () => {
      const store = await openTestStore(backend);
      const hook = await receiver();
      const logs: string[] = [];
      const masterKey = randomBytes(32).toString('hex');
      let run = await openApp(store, logs, masterKey);
      try {
        const added = await run.call('POST', '/webhooks/endpoints', { url: hook.url });
        assert.equal(added.statusCode, 200, added.body);
        const { id: endpointId, secret } = added.json() as { id: string; secret: string };
        assert.match(secret, /^whsec_/);
        const listed = await run.call('GET', '/webhooks/endpoints');
        assert.deepEqual(listed.json().endpoints.map((e: { id: string }) => e.id), [endpointId]);

        // While the receiver fails: two cards issued, one changed several times, a PIN blocked.
        const a = await addCard(run.h, { currentCardActivation: 'Y' });
        const b = await addCard(run.h);
        for (const [method, url, body] of [
          ['PUT', '/cards/activation', { organizationNumber: 100, cardNumber: a.token, serviceType: 'S' }],
          ['PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: a.token, serviceFunctionCode: 'B', channel: 'W' }],
          ['PUT', '/cards/pin/status', { organizationNumber: 100, cardNumber: a.token, serviceFunctionCode: 'U', channel: 'W' }],
          ['PUT', '/cards/status-L8V1', { organizationNumber: 100, cardStatus: 2, cardSequence: 1, cardNumber: a.token }],
          ['PUT', '/cards/status-L8V1', { organizationNumber: 100, cardStatus: 0, cardSequence: 1, cardNumber: a.token }],
        ] as const) {
          const res = await run.call(method, url, body);
          assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
        }
        // Attempts have failed (logged) before the process stops.
        await until('refused attempts', () => hook.refused >= 2, 20_000);

        // The process stops with deliveries pending; another starts on the same store.
        await run.close();
        run = await openApp(store, logs, masterKey);
        const res = await run.call('PUT', '/cards/status-L8V1', { organizationNumber: 100, cardStatus: 2, cardSequence: 1, cardNumber: b.token });
        assert.equal(res.statusCode, 200, res.body);
        hook.recover();

        // The pull API: every event of the client's organizations, paged by cursor.
        const pulled: Array<{ id: string; type: string; cursor: string; subject: string; sequence: number; cardToken: string | null }> = [];
        for (let after = '0'; ;) {
          const page = await run.call('GET', `/events?after=${after}&limit=3`);
          assert.equal(page.statusCode, 200, page.body);
          const body = page.json() as { events: typeof pulled; next: string };
          if (body.events.length === 0) break;
          pulled.push(...body.events);
          after = body.next;
        }
        // The cards' events (a bureau file written meanwhile has its own).
        const cardEvents = pulled.filter((e) => e.cardToken === a.token || e.cardToken === b.token);
        const types = cardEvents.map((e) => `${e.cardToken === a.token ? 'a' : 'b'}:${e.type}`);
        assert.deepEqual(types, [
          'a:card.issued', 'b:card.issued', 'a:card.activated', 'a:pin.blocked', 'a:pin.unblocked', 'a:card.status_changed', 'a:card.status_changed', 'b:card.status_changed',
        ]);
        assert.deepEqual(pulled.filter((e) => e.subject === a.token).map((e) => e.sequence), [1, 2, 3, 4, 5, 6]);
        assert.deepEqual(pulled.map((e) => Number(e.cursor)), pulled.map((_e, k) => k + 1), 'cursors without gaps');
        for (const e of pulled) for (const pan of [a.pan, b.pan]) assert.ok(!JSON.stringify(e).includes(pan), 'an event holds a card number');

        // Every event arrives.
        const ids = new Set(pulled.map((e) => e.id));
        await until('every event', () => [...ids].every((id) => hook.received.some((r) => r.id === id)), 60_000);

        // Signatures verify; duplicates (a delivery cut by the restart is sent again) are dropped by webhook-id.
        const wh = new Webhook(secret);
        const firstSeen = new Map<string, { cursor: string; subject: string; sequence: number }>();
        for (const r of hook.received) {
          const payload = wh.verify(r.body, {
            'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']),
            'webhook-signature': String(r.headers['webhook-signature']),
          }) as { id: string; cursor: string; subject: string; sequence: number };
          assert.equal(payload.id, r.id);
          if (!firstSeen.has(r.id)) firstSeen.set(r.id, payload);
        }
        // Every pulled event was delivered, and nothing was delivered that is not an event: a bureau
        // file written after the pull has an event of its own, so the store is read again for that.
        for (const id of ids) assert.ok(firstSeen.has(id), `${id} delivered`);
        const stored = new Set((await run.container.storage.db.selectFrom('events').select('id').execute()).map((e) => e.id));
        for (const id of firstSeen.keys()) assert.ok(stored.has(id), `${id} delivered, and an event of the store`);
        // In order per card: the events of one subject arrive (first time) in their sequence.
        const bySubject = new Map<string, number[]>();
        for (const e of firstSeen.values()) bySubject.set(e.subject, [...(bySubject.get(e.subject) ?? []), e.sequence]);
        for (const [subject, seqs] of bySubject) assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), `order of ${subject}`);
        assert.equal(bySubject.get(a.token)?.length, 6);

        // Each attempt is logged: the refused ones with their status.
        const attempts = await run.container.events.attemptsOf(cardEvents[0]!.id);
        assert.ok(attempts.some((x) => x.status_code === 500 && x.error === 'HTTP 500'), JSON.stringify(attempts));
        assert.ok(attempts.some((x) => x.status === 'delivered' && x.status_code === 204));
        // The delivery lag goes to the metrics: one observation per delivery made by this process.
        assert.match(await run.container.metrics.text(), /emboss_webhook_delivery_lag_seconds_count [1-9]/);

        // Replay: the events after a cursor, delivered again (same ids: a receiver drops them).
        const before = hook.received.length;
        const replayed = pulled.filter((e) => BigInt(e.cursor) > BigInt(cardEvents[5]!.cursor)).map((e) => e.id);
        assert.ok(await run.container.events.replay(cardEvents[5]!.cursor, endpointId) >= replayed.length);
        await until('the replay', () => replayed.every((id) => hook.received.slice(before).some((r) => r.id === id)), 30_000);
        const again = hook.received.slice(before).map((r) => r.id);
        assert.ok(again.indexOf(cardEvents[6]!.id) >= 0 && again.indexOf(cardEvents[7]!.id) >= 0);

        // Nothing in the logs or events holds a card number.
        for (const pan of [a.pan, b.pan]) assert.ok(!logs.join('').includes(pan));

        // A removed endpoint gets nothing more.
        const removed = await run.call('DELETE', `/webhooks/endpoints/${endpointId}`);
        assert.equal(removed.statusCode, 200, removed.body);
        assert.equal((await run.call('DELETE', `/webhooks/endpoints/${endpointId}`)).statusCode, 404);
      } finally {
        await run.close();
        await hook.close();
        await store.close();
      }
    });
  });
}
