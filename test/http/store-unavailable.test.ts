import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { connect, createServer, type Socket } from 'node:net';
import { sql } from 'kysely';
import { CONNECT_TIMEOUT_MS, openStorage } from '../../src/db/database.ts';
import { isStoreUnavailable } from '../../src/shared/store-unavailable.ts';
import { errorsPlugin } from '../../src/http/plugins/errors.ts';
import { customerBody, startHarness, tester, type Harness } from '../helpers/harness.ts';

const withCode = (code: string, message: string) => Object.assign(new Error(message), { code });

test('the error handler answers an unreachable database with 503 EMBS02E and Retry-After, a failing statement with 500', async () => {
  const app = Fastify({ logger: false });
  await app.register(errorsPlugin);
  const thrown: Record<string, Error> = {
    refused: withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
    shutdown: withCode('57P01', 'terminating connection due to administrator command'),
    terminated: new Error('Connection terminated unexpectedly'),
    timeout: new Error('timeout exceeded when trying to connect'),
    unique: withCode('23505', 'duplicate key value violates unique constraint'),
  };
  app.get('/:what', async (request) => { throw thrown[(request.params as { what: string }).what]!; });
  for (const what of ['refused', 'shutdown', 'terminated', 'timeout']) {
    const res = await app.inject({ method: 'GET', url: `/${what}` });
    assert.equal(res.statusCode, 503, what);
    assert.equal(res.headers['retry-after'], '5');
    assert.deepEqual(res.json(), { hasError: true, errors: [{ code: 'EMBS02E', description: 'SERVICE TEMPORARILY UNAVAILABLE, RETRY LATER' }], data: {} });
  }
  const res = await app.inject({ method: 'GET', url: '/unique' });
  assert.equal(res.statusCode, 500);
  assert.equal(res.json().errors[0].code, 'EMBS01E');
  assert.equal(res.headers['retry-after'], undefined);
  await app.close();
});

test('while the app closes, a request still arriving on an open connection gets the same 503 envelope, and the one in flight finishes', async () => {
  const app = Fastify({ logger: false, return503OnClosing: false });
  await app.register(errorsPlugin);
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  let started!: () => void;
  const inFlight = new Promise<void>((r) => { started = r; });
  app.get('/slow', async () => { started(); await held; return { done: true }; });
  app.get('/fast', async () => ({ fast: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  // A request in flight on a keep-alive connection; the app starts closing; a second request comes
  // on that same connection (pipelined: it does not wait for the first answer).
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d) => { received += d; });
  socket.write('GET /slow HTTP/1.1\r\nhost: x\r\n\r\n');
  await inFlight;
  const closed = app.close();
  await new Promise((r) => setTimeout(r, 50));
  socket.write('GET /fast HTTP/1.1\r\nhost: x\r\n\r\n');
  await new Promise((r) => setTimeout(r, 50));
  release();
  await closed;
  await new Promise((r) => socket.once('close', r));
  const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
  assert.match(first!, /^HTTP\/1\.1 200 /);
  assert.match(first!, /\{"done":true\}$/);
  assert.match(second!, /^HTTP\/1\.1 503 /);
  assert.match(second!, /\r\nretry-after: 5\r\n/i);
  assert.match(second!, /\r\nconnection: close\r\n/i);
  assert.equal(JSON.parse(second!.slice(second!.indexOf('\r\n\r\n') + 4)).errors[0].code, 'EMBS02E');
});

test('a PostgreSQL that accepts connections but never answers: a statement fails as an outage within the connect timeout, and ping says no in time', async (t) => {
  // A black hole: TCP connections are accepted and then left alone (a server hung, a half-open network path).
  const sockets: Socket[] = [];
  const hole = createServer((s) => { sockets.push(s); });
  await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
  t.after(() => { for (const s of sockets) s.destroy(); hole.close(); });
  const { port } = hole.address() as { port: number };
  const storage = await openStorage({ databaseUrl: `postgres://emboss@127.0.0.1:${port}/emboss` });
  t.after(() => storage.close());
  const started = Date.now();
  const failure = await sql`select 1`.execute(storage.db).then(() => undefined, (err: unknown) => err);
  const took = Date.now() - started;
  assert.ok(failure instanceof Error, 'the statement failed');
  assert.equal(isStoreUnavailable(failure), true, String(failure));
  assert.ok(took >= CONNECT_TIMEOUT_MS - 100 && took < CONNECT_TIMEOUT_MS + 1500, `failed after the connect timeout (${took} ms)`);
  const pinged = Date.now();
  assert.equal(await storage.ping(500), false);
  assert.ok(Date.now() - pinged < 1000);
});

/** The whole app on a store that went away (PGlite closed under it; the PostgreSQL cases run as processes, test/integration/database-outage). */
describe('the API with its store gone (pglite)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness('pglite');
    // Before the store goes: a token, and the probes while it answers.
    assert.equal((await h.call('POST', '/customer/l8v2', customerBody())).statusCode, 200);
    for (const url of ['/health', '/health/ready', '/health/live']) assert.equal((await h.app.inject({ method: 'GET', url })).statusCode, 200, url);
    assert.deepEqual((await h.app.inject({ method: 'GET', url: '/health/ready' })).json(), { status: 'ok', database: 'pglite', jobs: 'off' });
    await h.store.storage.close();
  });
  after(async () => {
    await h.app.close();
    await h.container.close();
  });

  test('requests get 503 EMBS02E with Retry-After; liveness stays 200, readiness says 503', async () => {
    const unavailable = [
      await h.call('POST', '/customer/l8v2', customerBody()),
      await h.app.inject({ method: 'POST', url: '/token', payload: { client_id: tester.clientId, client_secret: tester.secret } }),
      await h.app.inject({ method: 'GET', url: '/health/ready' }),
      await h.app.inject({ method: 'GET', url: '/health' }),
    ];
    for (const res of unavailable) {
      assert.equal(res.statusCode, 503, `${res.body}\n${h.logs.filter((l) => l.includes('"level":50')).join('\n')}`);
      assert.equal(res.headers['retry-after'], '5');
      assert.equal(res.json().errors[0].code, 'EMBS02E');
    }
    const live = await h.app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    assert.deepEqual(live.json(), { status: 'ok' });
    assert.ok(!h.logs.some((l) => l.includes('"level":50') && l.includes('request failed')), 'an outage is not logged as a failed request');
  });
});
