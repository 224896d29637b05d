import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { randomUUID } from 'node:crypto';
import type { Container } from '../container.ts';
import { authPlugin } from './plugins/auth.ts';
import { idempotencyPlugin } from './plugins/idempotency.ts';
import { errorsPlugin } from './plugins/errors.ts';
import { errorBody } from './envelope.ts';
import { HttpCodes } from './codes.ts';
import { badRequest } from '../shared/errors.ts';
import { hasUnstorableText } from '../shared/storable-text.ts';
import { hasUnusableNumber } from '../shared/usable-number.ts';
import { tokenRoutes } from './routes/token.ts';
import { customerRoutes } from './routes/customers.ts';
import { accountRoutes } from './routes/accounts.ts';
import { healthRoutes } from './routes/health.ts';
import { cardRoutes } from './routes/cards.ts';
import { pinRoutes } from './routes/pins.ts';
import { issuanceRoutes } from './routes/issuance.ts';

export type App = FastifyInstance;

export interface AppOptions {
  /** Serve the OpenAPI document and the docs page (default true). */
  docs?: boolean;
}

/**
 * The HTTP app as a plain function of the container: tests build it and call it with
 * `inject`; only src/main.ts listens on a port.
 */
export async function buildApp(container: Container, options: AppOptions = {}): Promise<App> {
  const app = Fastify({
    loggerInstance: container.logger as FastifyBaseLogger,
    genReqId: () => randomUUID(),
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
    // Requests arriving while the app closes get the errors plugin's 503 envelope, not Fastify's own body.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON bodies are kept raw as well: the HMAC signature covers the body exactly as sent.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    request.rawBody = text;
    if (text === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      const err = new SyntaxError('invalid JSON') as SyntaxError & { statusCode: number };
      err.statusCode = 400;
      return done(err, undefined);
    }
    // Only a \u escape can put a NUL or a lone surrogate in parsed JSON: the walk is skipped otherwise.
    if (text.includes('\\u') && hasUnstorableText(value)) return done(badRequest(...HttpCodes.unstorableText), undefined);
    done(null, value);
  });
  // Form fields and query strings, percent-decoded: checked before the route's schema and handler.
  app.addHook('preValidation', async (request) => {
    if (request.url.includes('%') && (hasUnstorableText(request.query) || hasUnstorableText(request.params))) throw badRequest(...HttpCodes.unstorableText);
    if (request.headers['content-type']?.startsWith('application/x-www-form-urlencoded') && hasUnstorableText(request.body)) {
      throw badRequest(...HttpCodes.unstorableText);
    }
  });
  // After validation, which coerces "Infinity" and "1e400" into numbers that pass an integer check.
  app.addHook('preHandler', async (request) => {
    if (hasUnusableNumber(request.body) || hasUnusableNumber(request.query) || hasUnusableNumber(request.params) || hasUnusableNumber(request.headers)) {
      throw badRequest(...HttpCodes.unusableNumber);
    }
  });
  await app.register(formbody);
  await app.register(errorsPlugin);

  await app.register(rateLimit, {
    global: true,
    max: container.settings.RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    // Per API client (apikey header), else per address for unauthenticated calls.
    keyGenerator: (request) => {
      const apikey = request.headers.apikey;
      return typeof apikey === 'string' && apikey !== '' ? `k:${apikey}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) => {
      const err = new Error('rate limited') as Error & { statusCode: number };
      err.statusCode = context.statusCode;
      return Object.assign(err, { body: errorBody(...HttpCodes.rateLimited) });
    },
  });

  if (options.docs !== false) {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'emboss API',
          version: '0.1.0',
          description: 'Card management, wire-compatible with the FirstVision (VisionPLUS) LATAM card APIs. ' +
            'Every call but POST /token carries a bearer token, apikey, x-timestamp, x-request-id and x-hmac-signature.',
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer' },
            apikey: { type: 'apiKey', in: 'header', name: 'apikey' },
          },
        },
        security: [{ bearer: [], apikey: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
    app.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () => app.swagger());
  }

  await app.register(authPlugin, { clients: container.clients, windowSeconds: container.settings.SIGNATURE_WINDOW_SECONDS, now: () => container.clock.now().getTime() });
  await app.register(idempotencyPlugin, { idempotency: container.idempotency, db: container.storage.db, logger: container.logger });

  await app.register(healthRoutes, { container });
  await app.register(tokenRoutes, { container });
  await app.register(customerRoutes, { container });
  await app.register(accountRoutes, { container });
  await app.register(cardRoutes, { container });
  await app.register(pinRoutes, { container });
  await app.register(issuanceRoutes, { container });
  return app;
}
