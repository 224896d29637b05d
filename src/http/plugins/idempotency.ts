import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { IdempotencyService } from '../../modules/idempotency/index.ts';
import { conflict } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { HttpCodes } from '../codes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyReserved: boolean;
  }
}

/**
 * The request id as an idempotency key for every authenticated call that is not a GET: the
 * same id with the same method, path and body returns the stored response (status and body)
 * without running the handler again; with anything else it is refused with 409. Responses
 * with 5xx are not kept, so the client may retry them under the same id.
 */
export const idempotencyPlugin = fp(async (app: FastifyInstance, opts: { idempotency: IdempotencyService; logger: Logger }) => {
  app.decorateRequest('idempotencyReserved', false);

  app.addHook('preHandler', async (request, reply) => {
    if (!request.client || !request.clientRequestId || request.method === 'GET') return;
    const fingerprint = IdempotencyService.fingerprint(request.method, request.url, request.rawBody);
    const r = await opts.idempotency.reserve(request.client.clientId, request.clientRequestId, fingerprint);
    if (r.kind === 'mismatch') throw conflict(...HttpCodes.requestIdReused);
    if (r.kind === 'in-progress') throw conflict(...HttpCodes.requestInProgress);
    if (r.kind === 'replay') {
      reply.header('x-idempotent-replay', 'true');
      return reply.code(r.statusCode).serializer((p: unknown) => JSON.stringify(p)).send(r.response);
    }
    request.idempotencyReserved = true;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    if (!request.idempotencyReserved) return payload;
    request.idempotencyReserved = false;
    const clientId = request.client!.clientId;
    const requestId = request.clientRequestId!;
    try {
      if (reply.statusCode >= 500) await opts.idempotency.release(clientId, requestId);
      else await opts.idempotency.complete(clientId, requestId, reply.statusCode, typeof payload === 'string' ? JSON.parse(payload) : payload);
    } catch (err) {
      opts.logger.error({ err }, 'could not store the idempotent response');
    }
    return payload;
  });
});
