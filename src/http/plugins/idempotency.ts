import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { storeAuditRows, takeAuditJournal, type AuditRow } from '../../modules/audit/index.ts';
import { IdempotencyService, type Response } from '../../modules/idempotency/index.ts';
import type { Database } from '../../db/database.ts';
import { conflict } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { HttpCodes } from '../codes.ts';
import { errorBody } from '../envelope.ts';

/** The body as stored for replay: the JSON text exactly as sent, when it is text. */
const responseOf = (payload: unknown): Response => (typeof payload === 'string' ? { json: payload } : { value: payload });

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyReserved: boolean;
    /** On a `reservesLate` route: reserves the request id when the handler is about to write (see Actor.reserve). */
    reserveRequestId: (() => Promise<void>) | undefined;
  }
  interface FastifyContextConfig {
    /**
     * The route only reads (an inquiry sent as POST): its response is recorded after it ran, in
     * one statement, instead of reserving the request id first. Same guarantees to the client.
     */
    inquiry?: boolean;
    /**
     * The route writes only on some paths (PIN validation writes only to count a wrong PIN or
     * reset the counter): the handler reserves the request id just before it writes; when it
     * wrote nothing, its response is recorded after it ran, as an inquiry's. Same guarantees.
     */
    reservesLate?: boolean;
  }
}

/** The answer stored for a request id, found by a late reservation: sent instead of the handler's. */
export class StoredAnswer extends Error {
  constructor(readonly statusCode: number, readonly response: unknown) {
    super('request id answered before');
  }

  send(reply: FastifyReply) {
    reply.header('x-idempotent-replay', 'true');
    return reply.code(this.statusCode).serializer((p: unknown) => JSON.stringify(p)).send(this.response);
  }
}

/**
 * The request id as an idempotency key for every authenticated call that is not a GET: the
 * same id with the same method, path and body returns the stored response (status and body)
 * without running the handler again; with anything else it is refused with 409. Responses
 * with 5xx are not kept, so the client may retry them under the same id.
 *
 * The request's last write is made here, and it also stores the request's audit journal (the
 * records of its reads and refusals) in the same statement; whatever the journal still holds
 * after it (GET, 5xx, a failed write) is stored on its own. Either way before the response leaves.
 */
export const idempotencyPlugin = fp(async (app: FastifyInstance, opts: { idempotency: IdempotencyService; db: Database; logger: Logger }) => {
  app.decorateRequest('idempotencyReserved', false);
  app.decorateRequest('reserveRequestId', undefined);

  /** Reserves the request's id; throws the stored answer (or a 409) when the id was used before. */
  async function reserve(request: FastifyRequest): Promise<void> {
    const fingerprint = IdempotencyService.fingerprint(request.method, request.url, request.rawBody);
    const r = await opts.idempotency.reserve(request.client!.clientId, request.clientRequestId!, fingerprint);
    if (r.kind === 'mismatch') throw conflict(...HttpCodes.requestIdReused);
    if (r.kind === 'in-progress') throw conflict(...HttpCodes.requestInProgress);
    if (r.kind === 'replay') throw new StoredAnswer(r.statusCode, r.response);
    request.idempotencyReserved = true;
  }

  // A stored answer found here or by a late reservation is thrown, and sent by the error handler.
  app.addHook('preHandler', async (request) => {
    if (!request.client || !request.clientRequestId || request.method === 'GET') return;
    const config = request.routeOptions.config;
    if (config?.inquiry) return;
    if (config?.reservesLate) {
      request.reserveRequestId = async () => { if (!request.idempotencyReserved) await reserve(request); };
      return;
    }
    await reserve(request);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const audit = takeAuditJournal(request);
    try {
      return await recordResponse(request, reply, payload, audit);
    } finally {
      const left = audit.splice(0);
      if (left.length > 0) await storeAuditRows(opts.db, left);
    }
  });

  /** The response's idempotency record, with the audit rows (emptied once they are stored with it). */
  async function recordResponse(request: FastifyRequest, reply: FastifyReply, payload: unknown, audit: AuditRow[]): Promise<unknown> {
    const config = request.routeOptions.config;
    const afterTheFact = config?.inquiry || (config?.reservesLate && !request.idempotencyReserved);
    if (afterTheFact && request.client && request.clientRequestId && request.method !== 'GET' && reply.statusCode < 500
      && !reply.hasHeader('x-idempotent-replay')) {
      const fingerprint = IdempotencyService.fingerprint(request.method, request.url, request.rawBody);
      const r = await opts.idempotency.recordInquiry(request.client.clientId, request.clientRequestId, fingerprint, reply.statusCode, responseOf(payload), audit);
      audit.length = 0;
      if (r.kind === 'stored') return payload;
      reply.header('content-type', 'application/json; charset=utf-8');
      if (r.kind === 'replay') {
        reply.header('x-idempotent-replay', 'true');
        reply.code(r.statusCode);
        return JSON.stringify(r.response);
      }
      const [code, description] = r.kind === 'mismatch' ? HttpCodes.requestIdReused : HttpCodes.requestInProgress;
      reply.code(409);
      return JSON.stringify(errorBody(code, description));
    }
    if (!request.idempotencyReserved) return payload;
    request.idempotencyReserved = false;
    const clientId = request.client!.clientId;
    const requestId = request.clientRequestId!;
    try {
      if (reply.statusCode >= 500) await opts.idempotency.release(clientId, requestId);
      else {
        await opts.idempotency.complete(clientId, requestId, reply.statusCode, responseOf(payload), audit);
        audit.length = 0;
      }
    } catch (err) {
      opts.logger.error({ err }, 'could not store the idempotent response');
    }
    return payload;
  }
});
