import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createServer, type Server } from 'node:http';
import type { Metrics } from '../../shared/metrics.ts';
import type { Logger } from '../../shared/logger.ts';
import { PinCodes } from '../../modules/pins/index.ts';

/** Routes that issue one card when they answer 200 (method and route pattern). */
const CARD_ISSUING_ROUTES = new Set(['POST /cards/embosser/l8vf', 'POST /account/v2/instantCard']);
/** The refusals counted as PIN failures (PIN validation and the current PIN of a PIN change). */
const PIN_FAILURE_CODES: Record<string, 'wrong_pin' | 'tries_exceeded'> = { [PinCodes.incorrectPin[0]]: 'wrong_pin', [PinCodes.pinTriesExceeded[0]]: 'tries_exceeded' };
/** A code as emboss's envelopes carry them: anything else (never expected) is counted as `other`. */
const CODE = /^[A-Z0-9]{1,16}$/;

/**
 * Counts every answer of the API (see src/shared/metrics.ts): requests and their duration by route
 * pattern (`(unmatched)` for a path no route has) and status; refusals by their envelope's code;
 * cards issued; PIN failures. An idempotent replay (x-idempotent-replay) is counted as a request,
 * not again as a refusal, card or PIN failure: it repeats an outcome already counted.
 */
export const metricsPlugin = fp<{ metrics: Metrics }>(async (app: FastifyInstance, { metrics }) => {
  // Callback hooks: nothing here waits (see plugins/tracing.ts).
  app.addHook('onSend', (request, reply, payload, done) => {
    countRefusal(reply.statusCode, payload, reply.getHeader('x-idempotent-replay') !== undefined);
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? '(unmatched)';
    metrics.httpRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (reply.statusCode === 200 && CARD_ISSUING_ROUTES.has(`${request.method} ${route}`) && reply.getHeader('x-idempotent-replay') === undefined) {
      metrics.cardsIssued('api');
    }
    done();
  });

  function countRefusal(statusCode: number, payload: unknown, replayed: boolean): void {
    if (statusCode < 400 || typeof payload !== 'string' || replayed) return;
    let code: unknown;
    try {
      code = (JSON.parse(payload) as { errors?: { code?: unknown }[] }).errors?.[0]?.code;
    } catch {
      return;
    }
    if (typeof code !== 'string') return;
    metrics.refusal(CODE.test(code) ? code : 'other', statusCode);
    const pin = PIN_FAILURE_CODES[code];
    if (pin) metrics.pinFailure(pin);
  }
});

/**
 * The metrics endpoint on its own port (METRICS_PORT, on METRICS_HOST: loopback by default), apart
 * from the API: GET /metrics, nothing else. Whoever reaches the port may read it, so keep it on
 * loopback or a network only the scraper reaches.
 */
export async function startMetricsServer(options: {
  host: string; port: number; source: { text: () => Promise<string>; contentType: string }; logger: Logger;
}): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    options.source.text().then(
      (text) => res.writeHead(200, { 'content-type': options.source.contentType }).end(text),
      (err: unknown) => {
        options.logger.warn({ err }, 'metrics could not be collected');
        res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => { server.off('error', reject); resolve(); });
  });
  return server;
}
