import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { randomUUID } from 'node:crypto';
import type { Container } from '../container.ts';
import { authPlugin } from './plugins/auth.ts';
import { idempotencyPlugin } from './plugins/idempotency.ts';
import { errorsPlugin } from './plugins/errors.ts';
import { errorBody, wrapSuccess } from './envelope.ts';
import { HttpCodes } from './codes.ts';
import { BODY_LIMIT_BYTES, inputPlugin } from './plugins/input.ts';
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
    // Bounds of a request, documented in docs/configuration.md; see plugins/input.ts.
    bodyLimit: BODY_LIMIT_BYTES,
    // No type coercion: the input plugin turns numbers sent as text into numbers when they are
    // canonical decimal digits, and refuses the rest. Coercion would turn "Infinity", "1e400",
    // "007" or "" into numbers that pass an integer check.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    // Requests arriving while the app closes get the errors plugin's 503 envelope, not Fastify's own body.
    return503OnClosing: false,
    // Errors Fastify meets before it routes (a path that is not valid percent-encoding, a path
    // parameter past its length): the envelope too, not Fastify's own body.
    frameworkErrors: (error, request, routeReply) => {
      const reply = routeReply as unknown as FastifyReply;
      if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') return reply.code(400).send(errorBody(...HttpCodes.badUrl));
      request.log.error({ err: error, traceId: request.id }, 'request failed before routing');
      return reply.code(500).send(errorBody(HttpCodes.internal[0], HttpCodes.internal[1], { traceId: request.id }));
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Fastify would also parse text/plain: a body the signature does not cover (the raw body is
  // kept by the JSON parser). Signed routes take JSON alone; POST /token adds its form parser.
  app.removeAllContentTypeParsers();
  // Before the auth plugin: malformed input is refused before authentication does any work.
  await app.register(inputPlugin);
  await app.register(errorsPlugin);

  if (options.docs !== false) {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'emboss API',
          version: '0.1.0',
          description: 'Card management, wire-compatible with the FirstVision (VisionPLUS) LATAM card APIs. ' +
            'Every call but POST /token carries a bearer token (Authorization: Bearer, from POST /token) and the client\'s apikey; ' +
            'what else depends on the client\'s authentication profile (docs/security.md, "Authentication profiles"). ' +
            'Signed (the default): x-timestamp (epoch milliseconds), x-request-id and x-hmac-signature ' +
            '(Base64(HMAC-SHA256(secret, apikey + timestamp + body + path and query))), each signature accepted once. ' +
            'Upstream (as the FirstVision files declare it): X-ClientID required; a signature optional, and checked as above ' +
            '(with its timestamp and a request id) when sent; a request id optional — without one a request has no exactly-once guarantee. ' +
            'X-ClientID, when sent, must be the client id of the token. ' +
            'A request id is an idempotency key for every call but a GET: the same id and request gets the first answer again. ' +
            'Input: numbers within the minimum and maximum given here, as JSON numbers or as canonical decimal text (no leading zeros, ' +
            'exponent, sign + or spaces); dates YYYY-MM-DD, years 1900–2199; no control characters (C0, DEL, C1) in any text; ' +
            'bodies at most 64 KiB, JSON at most 32 levels deep; unmodelled fields kept as sent at most 8 levels deep, ' +
            '512 values and 16,384 characters: refused with an EMBV code. ' +
            'Success is the bare response object (inside { hasError: false, errors: [], data } for a client whose profile asks for the envelope); ' +
            'every refusal is the error envelope { hasError: true, errors: [{ code, description }], data } with a code (EMBA: authentication and rights).',
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer' },
            apikey: { type: 'apiKey', in: 'header', name: 'apikey' },
            clientId: {
              type: 'apiKey', in: 'header', name: 'X-ClientID',
              description: 'The client id of the token. Required for clients whose profile says so (upstream); checked whenever sent.',
            },
          },
        },
        // Either with X-ClientID or without it: which one a client must use is its profile's.
        security: [{ bearer: [], apikey: [], clientId: [] }, { bearer: [], apikey: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
    app.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () => app.swagger());
  }

  await app.register(authPlugin, { clients: container.clients, windowSeconds: container.settings.SIGNATURE_WINDOW_SECONDS, now: () => container.clock.now().getTime() });
  await app.register(idempotencyPlugin, { idempotency: container.idempotency, db: container.storage.db, logger: container.logger });
  // After the idempotency plugin's onSend, which stores and replays the bare body: a client whose
  // wire profile asks for the envelope gets its success bodies wrapped, replays included.
  app.addHook('onSend', async (request, reply, payload) =>
    (request.client?.wire.successEnvelope && reply.statusCode === 200 && typeof payload === 'string' ? wrapSuccess(payload) : payload));

  await app.register(healthRoutes, { container });
  await app.register(tokenRoutes, { container });
  await app.register(customerRoutes, { container });
  await app.register(accountRoutes, { container });
  await app.register(cardRoutes, { container });
  await app.register(pinRoutes, { container });
  await app.register(issuanceRoutes, { container });
  return app;
}
