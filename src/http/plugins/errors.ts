import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../../shared/errors.ts';
import { isStoreUnavailable } from '../../shared/store-unavailable.ts';
import { RequestAnsweredBefore, RequestTakenOver } from '../../shared/actor.ts';
import { errorBody } from '../envelope.ts';
import { HttpCodes } from '../codes.ts';
import { replayStoredAnswer } from './idempotency.ts';

/** Seconds a client is asked to wait before retrying while the database is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** 503 with the envelope and Retry-After: the request did nothing wrong, the store is away for now. */
export function sendUnavailable(reply: FastifyReply) {
  return reply.code(503).header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS)).send(errorBody(...HttpCodes.unavailable));
}

/**
 * One error handler for every route: the envelope with a code for everything a client can
 * cause (400, 401, 403, 404, 409, 422, 429), 503 with Retry-After while the database cannot be
 * reached, and a generic 500 with a trace id for the rest, whose details go only to the
 * (redacting) log.
 */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    // A late reservation found the request id answered: the idempotency plugin holds that answer.
    if (error instanceof RequestAnsweredBefore) {
      const replayed = replayStoredAnswer(request, reply);
      if (replayed) return replayed;
    }
    // This run's lease on its request id ended and a retry holds it now: its write rolled back.
    if (error instanceof RequestTakenOver) return reply.code(409).send(errorBody(...HttpCodes.requestInProgress));
    if (error instanceof AppError) {
      for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
      return reply.code(error.status).send(errorBody(error.code, error.description));
    }
    const fe = error as FastifyError;
    if (fe.validation) {
      // Ajv messages name the field and the rule, never the value sent.
      const first = fe.validation[0];
      const field = first ? `${fe.validationContext ?? 'body'}${first.instancePath || ''}` : fe.validationContext ?? 'body';
      const detail = first ? `${field} ${first.message ?? 'is invalid'}` : 'invalid request';
      return reply.code(400).send(errorBody(HttpCodes.schema[0], `${HttpCodes.schema[1]}: ${detail}`.slice(0, 300)));
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError) {
      return reply.code(400).send(errorBody(...HttpCodes.badJson));
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      return reply.code(415).send(errorBody(...HttpCodes.mediaType));
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send(errorBody(...HttpCodes.bodyTooLarge));
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send(errorBody(HttpCodes.schema[0], HttpCodes.schema[1]));
    }
    if (isStoreUnavailable(error)) {
      // An outage, not a bug: one line without a stack (every request fails the same way meanwhile).
      request.log.warn({ traceId: request.id, reason: (error as { code?: unknown }).code ?? error.message }, 'database unavailable; answered 503');
      return sendUnavailable(reply);
    }
    request.log.error({ err: error, traceId: request.id }, 'request failed');
    return reply.code(500).send(errorBody(HttpCodes.internal[0], HttpCodes.internal[1], { traceId: request.id }));
  });

  // While the app closes (graceful shutdown), a request that still arrives on an open keep-alive
  // connection is not run: 503 with the envelope and Retry-After, as for an outage, and Fastify
  // closes that connection after it (Connection: close). The app turns Fastify's own 503 off.
  let closing = false;
  app.addHook('preClose', (done) => { closing = true; done(); });
  app.addHook('onRequest', async (_request, reply) => {
    if (closing) return sendUnavailable(reply);
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(...HttpCodes.notFound));
  });
});
