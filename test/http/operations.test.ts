import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { backends } from '../helpers/storage.ts';
import { addCard, addCustomer, clientPinBlock, clientReadPinBlock, startHarness, type Harness } from '../helpers/harness.ts';
import { startMetricsServer } from '../../src/http/plugins/metrics.ts';
import { loadSettings } from '../../src/config/env.ts';

/** The samples of an exposition text: name, labels, value. */
function samples(text: string) {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
/** The value of the sample with that name whose labels include those given (0 when absent). */
function valueOf(text: string, name: string, labels: Record<string, string>): number {
  const s = samples(text).find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}
const logLines = (h: Harness) => h.logs.flatMap((l) => l.split('\n').filter(Boolean).map((x) => JSON.parse(x) as Record<string, unknown>));

test('METRICS_PORT and METRICS_HOST: unset by default (no metrics endpoint), loopback when set', () => {
  assert.equal(loadSettings({}).METRICS_PORT, undefined);
  assert.equal(loadSettings({}).METRICS_HOST, '127.0.0.1');
  assert.equal(loadSettings({ METRICS_PORT: '9464' }).METRICS_PORT, 9464);
});

for (const backend of backends) {
  describe(`operations (${backend})`, () => {
    let h: Harness;
    let server: Server;
    let metricsUrl: string;
    const scrape = async () => {
      const res = await fetch(metricsUrl);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      return res.text();
    };
    before(async () => {
      h = await startHarness(backend, { jobs: true });
      server = await startMetricsServer({ host: '127.0.0.1', port: 0, source: h.container.metrics, logger: h.container.logger });
      metricsUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`;
    });
    after(async () => {
      server.close();
      await h.close();
    });

    test('/metrics: requests and latency by route pattern and status, refusals by code, cards issued, PIN failures, queue depth', async () => {
      const before = await scrape();
      await addCustomer(h);
      const refused = await h.call('POST', '/customer/l8v2', {}, { token: 'not-a-token' });
      assert.equal(refused.statusCode, 401);
      const stray = await h.call('GET', '/no/such/route/4111111111111111?q=x');
      assert.equal(stray.statusCode, 404);
      const { pan, token } = await addCard(h);
      const codes = await h.call('POST', '/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' });
      const pin = clientReadPinBlock(codes.json().pinEncrypt, pan);
      const wrong = await h.call('POST', '/cards/pin/validation', {
        organizationNumber: 100, cardNumber: token, currentPinBlock: clientPinBlock(0, pin === '1357' ? '2468' : '1357', pan), channel: 'I', keyAssociation: 'IYY',
      });
      assert.equal(wrong.statusCode, 422);
      assert.equal(wrong.json().errors[0].code, 'VPL5SVP26S');
      const after = await scrape();

      const moved = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
      assert.equal(moved('emboss_http_requests_total', { method: 'POST', route: '/customer/l8v2', status: '200' }), 2, 'addCustomer and addCard each add a customer');
      assert.equal(moved('emboss_http_requests_total', { method: 'POST', route: '/customer/l8v2', status: '401' }), 1);
      assert.equal(moved('emboss_http_request_duration_seconds_count', { method: 'POST', route: '/customer/l8v2', status: '200' }), 2);
      assert.ok(samples(after).some((s) => s.name === 'emboss_http_request_duration_seconds_bucket' && s.labels.route === '/cards/embosser/l8vf' && s.labels.le === '+Inf' && s.value >= 1));
      assert.equal(moved('emboss_http_refusals_total', { code: 'EMBA01E', status: '401' }), 1);
      assert.equal(moved('emboss_http_refusals_total', { code: 'EMBN01E', status: '404' }), 1);
      assert.equal(moved('emboss_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' }), 1);
      assert.ok(!after.includes('/no/such'), 'a raw URL is never a label');
      assert.equal(moved('emboss_cards_issued_total', { channel: 'api' }), 1);
      assert.equal(moved('emboss_pin_failures_total', { reason: 'wrong_pin' }), 1);
      assert.equal(moved('emboss_http_refusals_total', { code: 'VPL5SVP26S', status: '422' }), 1);
      assert.ok(samples(after).some((s) => s.name === 'emboss_job_queue_depth' && s.labels.queue === 'emboss.mass-issue'), 'the queue depth, by queue');
      assert.ok(!after.includes('emboss_webhook_delivery_lag'), 'no placeholder metric before a webhook is delivered');
      assert.ok(!after.includes(pan) && !after.includes(token));

      // The metrics port serves GET /metrics alone.
      assert.equal((await fetch(metricsUrl, { method: 'POST' })).status, 404);
      assert.equal((await fetch(metricsUrl.replace('/metrics', '/health'))).status, 404);
    });

    test('/metrics is not on the API port, with or without credentials', async () => {
      // Without credentials the API port answers every path it has no open route for with 401; with them, 404.
      const anonymous = await h.app.inject({ method: 'GET', url: '/metrics' });
      const authenticated = await h.call('GET', '/metrics');
      assert.equal(anonymous.statusCode, 401);
      assert.equal(authenticated.statusCode, 404);
      assert.equal(authenticated.json().errors[0].code, 'EMBN01E');
      for (const res of [anonymous, authenticated]) {
        assert.ok(!res.body.includes('emboss_http'));
      }
    });

    test('every response carries its trace id (x-trace-id), refusals included; the log lines of a request carry it and the client\'s request id', async () => {
      const requestId = `ops-${randomUUID()}`;
      const ok = await h.call('POST', '/customer/l8v2', { customerData: {} }, { requestId });
      const answers = [
        ok,
        await h.app.inject({ method: 'GET', url: '/health/live' }),
        await h.call('POST', '/customer/l8v2', {}, { token: 'not-a-token' }),
        await h.app.inject({ method: 'GET', url: '/nowhere' }),
        await h.app.inject({ method: 'GET', url: '/health/live%zz' }),
      ];
      for (const res of answers) assert.match(String(res.headers['x-trace-id']), /^[0-9a-f-]{36}$/, `${res.statusCode} ${res.body}`);
      assert.equal(answers[4]!.statusCode, 400, 'a path that is not valid percent-encoding, refused before routing');
      assert.equal(new Set(answers.map((r) => r.headers['x-trace-id'])).size, answers.length);

      const traceId = ok.headers['x-trace-id'];
      const lines = logLines(h).filter((l) => l.reqId === traceId);
      assert.ok(lines.some((l) => l.msg === 'incoming request'));
      assert.ok(lines.some((l) => l.msg === 'request completed'));
      assert.ok(lines.length >= 2 && lines.every((l) => l.clientRequestId === requestId), JSON.stringify(lines));
    });

    test('a request id the auth plugin would refuse never reaches the log; one shaped like a card number is masked', async () => {
      const tooLong = `x${'y'.repeat(200)}`;
      const spaced = 'has a space';
      const pan = '4111111111111111';
      const traces: string[] = [];
      for (const requestId of [tooLong, spaced, pan]) {
        const res = await h.call('POST', '/customer/l8v2', { customerData: {} }, { requestId });
        traces.push(String(res.headers['x-trace-id']));
      }
      const all = logLines(h);
      const of = (trace: string) => all.filter((l) => l.reqId === trace);
      for (const trace of traces.slice(0, 2)) {
        assert.ok(of(trace).length >= 2);
        assert.ok(of(trace).every((l) => l.clientRequestId === undefined), JSON.stringify(of(trace)));
      }
      assert.ok(of(traces[2]!).every((l) => l.clientRequestId === '411111******1111'));
      const text = h.logs.join('');
      for (const raw of [tooLong, spaced, pan]) assert.ok(!text.includes(raw));
    });

    test('readiness: the database and the job queue; 503 with the envelope once the queue is down', async () => {
      const ready = await h.app.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(ready.statusCode, 200, ready.body);
      assert.deepEqual(ready.json(), { status: 'ok', database: backend, jobs: 'ok' });

      await h.container.stopJobs(0);
      for (const url of ['/health/ready', '/health']) {
        const res = await h.app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 503, url);
        assert.equal(res.headers['retry-after'], '5');
        assert.ok(res.headers['x-trace-id']);
        assert.deepEqual(res.json(), { hasError: true, errors: [{ code: 'EMBS02E', description: 'SERVICE TEMPORARILY UNAVAILABLE, RETRY LATER' }], data: {} });
        assert.ok(logLines(h).some((l) => l.reqId === res.headers['x-trace-id'] && l.msg === 'not ready' && l.jobs === 'unavailable' && l.database === 'ok'));
      }
      assert.equal((await h.app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
      // No queue, no depth sample (rather than a stale one).
      assert.ok(!samples(await scrape()).some((s) => s.name === 'emboss_job_queue_depth'));
    });
  });
}
