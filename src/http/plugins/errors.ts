import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Refusal, conflict, invalidInput, notFound, tooLarge, unavailable, unsupportedMediaType } from '../../shared/errors.ts';
import { isStoreUnavailable } from '../../shared/store-unavailable.ts';
import { RequestAnsweredBefore, RequestTakenOver } from '../../shared/actor.ts';
import { errorBody } from '../envelope.ts';
import { HttpCodes } from '../codes.ts';
import { refusalAnswer } from '../refusals.ts';
import { replayStoredAnswer } from './idempotency.ts';

/** Seconds a client is asked to wait before retrying while the database is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** The refusal of a request that did nothing wrong: the store (or the whole process) is away for now. */
export const serviceUnavailable = () => unavailable(...HttpCodes.unavailable, UNAVAILABLE_RETRY_AFTER_SECONDS);

/** Sends a refusal as HTTP: its kind's status and headers (src/http/refusals.ts), the envelope. */
export function sendRefusal(reply: FastifyReply, refusal: Refusal) {
  const { statusCode, headers, body } = refusalAnswer(refusal);
  return reply.code(statusCode).headers(headers).send(body);
}

/** 500 with the envelope and the trace id: a failure of emboss's own, whose details go only to the log. */
export function sendInternalError(request: FastifyRequest, reply: FastifyReply) {
  return reply.code(500).send(errorBody(HttpCodes.internal[0], HttpCodes.internal[1], { traceId: request.id }));
}

/**
 * One error handler for every route: a Refusal (whoever raised it: a module, a plugin, a route)
 * with its kind's status and the envelope; Fastify's own refusals (schema, JSON, content type,
 * size) as the same refusals; the stored answer of a request id answered before; 503 with
 * Retry-After while the database cannot be reached; and a generic 500 with a trace id for the
 * rest, whose details go only to the (redacting) log.
 */
export const errorsPlugin = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof Refusal) return sendRefusal(reply, error);
    // A late reservation found the request id answered: the idempotency plugin holds that answer.
    if (error instanceof RequestAnsweredBefore) {
      const replayed = replayStoredAnswer(request, reply);
      if (replayed) return replayed;
    }
    // This run's lease on its request id ended and a retry holds it now: its write rolled back.
    if (error instanceof RequestTakenOver) return sendRefusal(reply, conflict(...HttpCodes.requestInProgress));
    const fe = error as FastifyError;
    if (fe.validation) {
      // Ajv messages name the field and the rule, never the value sent.
      const first = fe.validation[0];
      const field = first ? `${fe.validationContext ?? 'body'}${first.instancePath || ''}` : fe.validationContext ?? 'body';
      const detail = first ? `${field} ${first.message ?? 'is invalid'}` : 'invalid request';
      return sendRefusal(reply, invalidInput(HttpCodes.schema[0], `${HttpCodes.schema[1]}: ${detail}`.slice(0, 300)));
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError) {
      return sendRefusal(reply, invalidInput(...HttpCodes.badJson));
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
      return sendRefusal(reply, unsupportedMediaType(...HttpCodes.mediaType));
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendRefusal(reply, tooLarge(...HttpCodes.bodyTooLarge));
    // Any other request Fastify refuses itself keeps the 4xx Fastify gave it, with the envelope.
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send(errorBody(HttpCodes.schema[0], HttpCodes.schema[1]));
    }
    if (isStoreUnavailable(error)) {
      // An outage, not a bug: one line without a stack (every request fails the same way meanwhile).
      request.log.warn({ traceId: request.id, reason: (error as { code?: unknown }).code ?? error.message }, 'database unavailable; answered 503');
      return sendRefusal(reply, serviceUnavailable());
    }
    request.log.error({ err: error, traceId: request.id }, 'request failed');
    return sendInternalError(request, reply);
  });

  // While the app closes (graceful shutdown), a request that still arrives on an open keep-alive
  // connection is not run: 503 with the envelope and Retry-After, as for an outage, and Fastify
  // closes that connection after it (Connection: close). The app turns Fastify's own 503 off.
  let closing = false;
  app.addHook('preClose', (done) => { closing = true; done(); });
  app.addHook('onRequest', (_request, reply, done) => {
    if (closing) sendRefusal(reply, serviceUnavailable());
    else done();
  });

  app.setNotFoundHandler((request, reply) => {
    sendRefusal(reply, notFound(...HttpCodes.notFound));
  });
});
