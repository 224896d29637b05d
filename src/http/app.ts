import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { randomUUID } from 'node:crypto';
import type { Container } from '../container.ts';
import { authPlugin } from './plugins/auth.ts';
import { idempotencyPlugin } from './plugins/idempotency.ts';
import { errorsPlugin, sendInternalError, sendRefusal } from './plugins/errors.ts';
import { wrapSuccess } from './envelope.ts';
import { HttpCodes } from './codes.ts';
import { invalidInput } from '../shared/errors.ts';
import { BODY_LIMIT_BYTES, inputPlugin } from './plugins/input.ts';
import { TRACE_ID_HEADER, requestLogger, tracingPlugin } from './plugins/tracing.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { tokenRoutes } from './routes/token.ts';
import { customerRoutes } from './routes/customers.ts';
import { accountRoutes } from './routes/accounts.ts';
import { healthRoutes } from './routes/health.ts';
import { cardRoutes } from './routes/cards.ts';
import { pinRoutes } from './routes/pins.ts';
import { issuanceRoutes } from './routes/issuance.ts';
import { eventRoutes } from './routes/events.ts';
import { sharedSchemaCompilers } from './schema-compilers.ts';

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
    // Every log line of a request carries its trace id (reqId) and the client's request id (plugins/tracing.ts).
    childLoggerFactory: requestLogger,
    // Bounds of a request, documented in docs/configuration.md; see plugins/input.ts.
    bodyLimit: BODY_LIMIT_BYTES,
    // No type coercion: the input plugin turns numbers sent as text into numbers when they are
    // canonical decimal digits, and refuses the rest. Coercion would turn "Infinity", "1e400",
    // "007" or "" into numbers that pass an integer check.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    // Schemas compiled once a process, whatever the number of apps it builds (schema-compilers.ts).
    schemaController: { compilersFactory: sharedSchemaCompilers },
    // Requests arriving while the app closes get the errors plugin's 503 envelope, not Fastify's own body.
    return503OnClosing: false,
    // Errors Fastify meets before it routes (a path that is not valid percent-encoding, a path
    // parameter past its length): the envelope too, not Fastify's own body.
    frameworkErrors: (error, request, routeReply) => {
      const reply = routeReply as unknown as FastifyReply;
      reply.header(TRACE_ID_HEADER, request.id);
      if (error.code === 'FST_ERR_BAD_URL' || error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendRefusal(reply, invalidInput(...HttpCodes.badUrl));
      request.log.error({ err: error, traceId: request.id }, 'request failed before routing');
      return sendInternalError(request, reply);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Fastify would also parse text/plain: a body the signature does not cover (the raw body is
  // kept by the JSON parser). Signed routes take JSON alone; POST /token adds its form parser.
  app.removeAllContentTypeParsers();
  // First: the trace id header goes on every answer, refusals by the plugins below included.
  await app.register(tracingPlugin);
  await app.register(metricsPlugin, { metrics: container.metrics });
  // Before the auth plugin: malformed input is refused before authentication does any work.
  await app.register(inputPlugin);
  await app.register(errorsPlugin);

  if (options.docs !== false) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        // Relative: the server that serves this document (/openapi.json, /docs/json).
        servers: [{ url: '/', description: 'This emboss server' }],
        info: {
          title: 'emboss API',
          version: '0.1.0',
          license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
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
          // The headers of an authenticated call besides Authorization and apikey (docs/security.md,
          // "Authentication profiles"): referenced by every operation but POST /token and the health
          // routes (see transformObject). The auth plugin reads them, not the route schemas.
          parameters: AUTH_HEADER_PARAMETERS,
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
      // Routes without authentication (config.auth false: health) say so in the document too.
      transform: ({ schema, url, route }) => ({ schema: schema && route.config?.auth === false ? { ...schema, security: [] } : schema, url }),
      transformObject: (doc) => ('openapiObject' in doc ? withAuthHeaders(doc.openapiObject) : doc.swaggerObject),
    });
    // The docs page and its assets are public, as /openapi.json is: every route Swagger UI adds
    // (inside this encapsulated context only) is marked auth: false for the auth plugin.
    await app.register(async (docs) => {
      docs.addHook('onRoute', (route) => { route.config = { ...route.config, auth: false }; });
      await docs.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
    });
    app.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () => app.swagger());
  }

  await app.register(authPlugin, { clients: container.clients, windowSeconds: container.settings.SIGNATURE_WINDOW_SECONDS, now: () => container.clock.now().getTime() });
  await app.register(idempotencyPlugin, { idempotency: container.idempotency, logger: container.logger });
  // After the idempotency plugin's onSend, which stores and replays the bare body: a client whose
  // wire profile asks for the envelope gets its success bodies wrapped, replays included.
  app.addHook('onSend', (request, reply, payload, done) => {
    done(null, request.client?.wire.successEnvelope && reply.statusCode === 200 && typeof payload === 'string' ? wrapSuccess(payload) : payload);
  });

  // Each route plugin gets the services it calls, nothing more: this file alone knows the container.
  await app.register(healthRoutes, { ready: () => container.ready(), jobsReady: () => container.jobsReady(), store: container.storage.kind });
  await app.register(tokenRoutes, { clients: container.clients });
  await app.register(customerRoutes, { customers: container.customers, accounts: container.accounts });
  await app.register(accountRoutes, { accounts: container.accounts });
  const { issuing, inquiries, stateChanges, actions } = container.cards;
  await app.register(cardRoutes, { cards: { issuing, inquiries, stateChanges, actions } });
  await app.register(pinRoutes, { pins: container.pins });
  await app.register(issuanceRoutes, { issuance: container.issuance });
  await app.register(eventRoutes, { events: container.events });
  return app;
}

const PROFILES = 'Profiles: docs/security.md, "Authentication profiles".';

/** The authentication headers besides Authorization and apikey, as OpenAPI header parameters. */
const AUTH_HEADER_PARAMETERS = {
  XTimestamp: {
    name: 'x-timestamp', in: 'header', required: false,
    description: 'When the request was signed: epoch milliseconds (13 digits) or seconds (10), within the signature window of the server\'s clock. '
      + 'Required by the `signed` profile (the default), and with every signature sent under `upstream` (signature optional); not read under `signature: off`. '
      + `Also accepted as Timestamp. ${PROFILES}`,
    schema: { type: 'string', pattern: '^[0-9]{10,13}$' },
    example: '1767225600000',
  },
  XRequestId: {
    name: 'x-request-id', in: 'header', required: false,
    description: 'The request id, 1 to 128 printable ASCII characters (a UUID is usual): the idempotency key of every call but a GET (the same id and request get the first answer again). '
      + 'Required by the `signed` profile (the default) and by every signed call other than a GET; optional under `upstream` (without one, no exactly-once). '
      + `Also accepted as X-Client-Request-Id. ${PROFILES}`,
    schema: { type: 'string', pattern: '^[!-~]{1,128}$' },
    example: '3f2c1d5e-8a7b-4c6d-9e0f-1a2b3c4d5e6f',
  },
  XHmacSignature: {
    name: 'x-hmac-signature', in: 'header', required: false,
    description: 'Base64(HMAC-SHA256(client secret, apikey + x-timestamp + body + path and query as sent)); each signature is accepted once. '
      + 'Required by the `signed` profile (the default); optional under `upstream` (checked, with its timestamp and a request id, when sent); not read under `signature: off`. '
      + `Also accepted as Signature. ${PROFILES}`,
    schema: { type: 'string', maxLength: 512 },
    example: 'q2Vt8m0oJ0y2dW1hGm2a0r9Yt3v4b5n6m7k8j9h0g1E=',
  },
  XClientId: {
    name: 'X-ClientID', in: 'header', required: false,
    description: 'The client id of the token; whenever sent it must be that id. Required by the `upstream` profile; optional under `signed` (the default). '
      + `Also declared as the clientId security scheme. ${PROFILES}`,
    schema: { type: 'string', maxLength: 128 },
    example: 'tester',
  },
} as const;

interface Operation { security?: unknown[]; parameters?: unknown[] }

/**
 * The document with the authentication headers referenced by every authenticated operation (all
 * but those whose security is empty). As references, not inline parameters: they belong to the
 * auth plugin, not to a route's own input, and test/helpers/routes.ts reads only a route's own.
 */
function withAuthHeaders<T>(openapiObject: T): T {
  const paths = (openapiObject as { paths?: Record<string, Record<string, Operation>> }).paths ?? {};
  const refs = Object.keys(AUTH_HEADER_PARAMETERS).map((name) => ({ $ref: `#/components/parameters/${name}` }));
  for (const methods of Object.values(paths)) {
    for (const op of Object.values(methods)) {
      if (typeof op !== 'object' || op === null || (Array.isArray(op.security) && op.security.length === 0)) continue;
      const own = op.parameters ?? [];
      if (!own.some((p) => typeof p === 'object' && p !== null && '$ref' in p)) op.parameters = [...own, ...refs];
    }
  }
  return openapiObject;
}
