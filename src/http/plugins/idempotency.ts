import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { takeAuditJournal } from '../../modules/audit/index.ts';
import { IdempotencyService, type Response } from '../../modules/idempotency/index.ts';
import { RequestAnsweredBefore, type Outcome, type RecordedAnswer } from '../../shared/actor.ts';
import { conflict, notAuthenticated, type Refusal } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import { isStoreUnavailable } from '../../shared/store-unavailable.ts';
import { HttpCodes } from '../codes.ts';
import { refusalAnswer } from '../refusals.ts';

/** The body as stored for replay: the JSON text exactly as sent, when it is text. */
const responseOf = (payload: unknown): Response => (typeof payload === 'string' ? { json: payload } : { value: payload });

declare module 'fastify' {
  interface FastifyRequest {
    /** The run's hold on its request id, once reserved (see IdempotencyService). */
    idempotencyHolder: string | undefined;
    /** On a `reservesLate` route: reserves the request id when the handler is about to write (see Actor.reserve). */
    reserveRequestId: (() => Promise<void>) | undefined;
    /** The answer on file that a late reservation found (it threw RequestAnsweredBefore): sent instead of the handler's. */
    storedAnswer: { statusCode: number; response: unknown } | undefined;
    /** For a reserved request: its answer to an outcome, to be recorded by the write's own transaction (see Actor.answer). */
    answerRequest: ((outcome: Outcome) => Promise<RecordedAnswer>) | undefined;
    /** The last answer made for the write's transaction: whether it committed is known once the handler ends. */
    pendingAnswer: { statusCode: number; json: string; journalLength: number } | undefined;
    /** The handler ended with an error (set by the onError hook). */
    failed: boolean;
    /** It was an outage (the store could not be reached). */
    failedUnreachable: boolean;
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
    /**
     * The route's write records the request id with its effect, in one statement, instead of
     * reserving it first (a batch insert without a transaction: card add, see heldItems): its
     * answers carry the request's key, and it reserves the id only when that statement found it
     * on file. Refusals made before the write are recorded after it ran, as an inquiry's. Same
     * guarantees, one statement less.
     */
    reservesInWrite?: boolean;
  }
}

/**
 * For the error handler, on RequestAnsweredBefore: sends the answer a late reservation of this
 * request found on file, as first sent (its JSON, not the route's serializer: it may be a
 * refusal's envelope). Undefined when this request found none (the signal came from elsewhere).
 */
export function replayStoredAnswer(request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
  const stored = request.storedAnswer;
  if (!stored) return undefined;
  reply.header('x-idempotent-replay', 'true');
  return reply.code(stored.statusCode).serializer((p: unknown) => JSON.stringify(p)).send(stored.response);
}

/**
 * The response text of a status and body as the route sends it (its response schema's
 * serializer): made before a write commits, so a response that cannot be sent rolls the write
 * back instead of leaving an effect without an answer.
 */
function serialized(reply: FastifyReply, statusCode: number, body: Record<string, unknown>): string {
  try {
    return reply.serializeInput(body, statusCode as unknown as string) as string;
  } catch (err) {
    if ((err as { code?: string }).code === 'FST_ERR_MISSING_SERIALIZATION_FN') return JSON.stringify(body);
    throw err;
  }
}

/**
 * The request id as an idempotency key for every authenticated call that is not a GET: the
 * same id with the same method, path and body returns the stored response (status and body)
 * without running the handler again; with anything else it is refused with 409 (README:
 * "Exactly-once requests").
 *
 * A write records its answer in its own transaction (Actor.answer, commitAnswer): the response
 * is serialized and sealed here, before the commit, and sent as recorded. Requests that wrote
 * nothing (refusals) are completed here after they ran; a 5xx frees the id for an immediate
 * retry. The audit journal (the records of the request's reads and refusals) goes with the
 * answer; whatever it still holds after (GET, 5xx, a failed write) is stored on its own, before
 * the response leaves.
 */
export const idempotencyPlugin = fp(async (app: FastifyInstance, opts: { idempotency: IdempotencyService; logger: Logger }) => {
  app.decorateRequest('idempotencyHolder', undefined);
  app.decorateRequest('reserveRequestId', undefined);
  app.decorateRequest('storedAnswer', undefined);
  app.decorateRequest('answerRequest', undefined);
  app.decorateRequest('pendingAnswer', undefined);
  app.decorateRequest('failed', false);
  app.decorateRequest('failedUnreachable', false);

  /**
   * Reserves the request's id. When the id was used before: RequestAnsweredBefore, with the answer
   * on file kept on the request for the error handler to replay (the signal crosses the modules,
   * which need not know what an answer is made of), or the refusal of another request or of a run
   * still working.
   */
  async function reserve(request: FastifyRequest): Promise<void> {
    const fingerprint = IdempotencyService.fingerprint(request.method, request.url, request.rawBody);
    const r = await opts.idempotency.reserve(request.client!.clientId, request.clientRequestId!, fingerprint, request.signature ?? null);
    if (r.kind === 'replayed-signature') throw notAuthenticated(...HttpCodes.signatureReplayed);
    if (r.kind === 'mismatch') throw conflict(...HttpCodes.requestIdReused);
    if (r.kind === 'in-progress') throw conflict(...HttpCodes.requestInProgress);
    if (r.kind === 'replay') {
      request.storedAnswer = { statusCode: r.statusCode, response: r.response };
      throw new RequestAnsweredBefore();
    }
    request.idempotencyHolder = r.holder;
  }

  function answerer(request: FastifyRequest, reply: FastifyReply) {
    return async (outcome: Outcome): Promise<RecordedAnswer> => {
      const holder = request.idempotencyHolder;
      const inWrite = !holder && request.routeOptions.config?.reservesInWrite === true;
      if (!holder && !inWrite) throw new Error('a write answered before its request id was reserved');
      // A refusal is recorded as the error handler sends it: its kind's status and envelope.
      const { statusCode, body }: { statusCode: number; body: Record<string, unknown> } = 'result' in outcome
        ? { statusCode: 200, body: outcome.result as Record<string, unknown> }
        : refusalAnswer(outcome.refusal);
      const json = serialized(reply, statusCode, body);
      const journal = request.auditJournal ?? [];
      request.pendingAnswer = { statusCode, json, journalLength: journal.length };
      return {
        clientId: request.client!.clientId, requestId: request.clientRequestId!, holder: holder ?? null, statusCode,
        ...(inWrite ? { key: opts.idempotency.requestKey(request.method, request.url, request.rawBody, request.signature ?? null) } : {}),
        responseSealed: await opts.idempotency.seal(json), audit: journal.slice(),
      };
    };
  }

  // A stored answer found here or by a late reservation is thrown (RequestAnsweredBefore), and sent by the error handler.
  // A callback hook: only a reservation waits (see plugins/tracing.ts).
  app.addHook('preHandler', (request, reply, done) => {
    // Without a request id (a client whose profile makes it optional) there is no key: nothing is
    // reserved or recorded, the actor has no answer to make, and a retry runs the request again.
    if (!request.client || !request.clientRequestId || request.method === 'GET') return done();
    const config = request.routeOptions.config;
    if (config?.inquiry) return done();
    request.answerRequest = answerer(request, reply);
    if (config?.reservesLate || config?.reservesInWrite) {
      request.reserveRequestId = async () => {
        if (request.idempotencyHolder) return;
        // A write that found its request id on file recorded nothing: the answer it made is not this request's.
        request.pendingAnswer = undefined;
        await reserve(request);
      };
      return done();
    }
    reserve(request).then(() => done(), (err: unknown) => done(err as Error));
  });

  app.addHook('onError', async (request, _reply, error) => {
    request.failed = true;
    request.failedUnreachable = isStoreUnavailable(error);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    try {
      return await recordResponse(request, reply, payload);
    } finally {
      await opts.idempotency.storeUnansweredAudit(takeAuditJournal(request));
    }
  });

  /** The response's idempotency record, with the audit rows (taken from the journal once they are stored with it). */
  async function recordResponse(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
    const config = request.routeOptions.config;
    const holder = request.idempotencyHolder;
    // A write that carried its request id (reservesInWrite) answered as recorded, if its statement committed.
    if (!holder && config?.reservesInWrite && request.pendingAnswer && request.client && request.clientRequestId) {
      const answer = await recordedAnswer(request, reply, request.client.clientId, request.clientRequestId);
      if (answer !== undefined) return answer;
    }
    // Otherwise nothing of it was recorded: its response (a refusal) is, after the fact.
    const afterTheFact = config?.inquiry || ((config?.reservesLate || config?.reservesInWrite) && !holder);
    if (afterTheFact && request.client && request.clientRequestId && request.method !== 'GET' && reply.statusCode < 500
      && !reply.hasHeader('x-idempotent-replay')) {
      const fingerprint = IdempotencyService.fingerprint(request.method, request.url, request.rawBody);
      const r = await opts.idempotency.recordInquiry(request.client.clientId, request.clientRequestId, fingerprint, request.signature ?? null, reply.statusCode, responseOf(payload), takeAuditJournal(request));
      if (r.kind === 'stored') return payload;
      reply.header('content-type', 'application/json; charset=utf-8');
      if (r.kind === 'replay') return replay(reply, r.statusCode, JSON.stringify(r.response));
      // A replayed signature: the inquiry ran (it reads, it changes nothing), its answer is withheld.
      if (r.kind === 'replayed-signature') return refusedInstead(reply, notAuthenticated(...HttpCodes.signatureReplayed));
      const [code, description] = r.kind === 'mismatch' ? HttpCodes.requestIdReused : HttpCodes.requestInProgress;
      return refusedInstead(reply, conflict(code, description));
    }
    if (!holder) return payload;
    request.idempotencyHolder = undefined;
    const clientId = request.client!.clientId;
    const requestId = request.clientRequestId!;
    if (request.pendingAnswer) {
      const answer = await recordedAnswer(request, reply, clientId, requestId);
      if (answer !== undefined) return answer;
    }
    // Every write route answers in its transaction; a success completed here is a route that does not (a test watches for this).
    if (!request.pendingAnswer && reply.statusCode < 300) opts.logger.warn({ route: request.routeOptions.url }, 'a write was answered outside its transaction');
    const logFailure = (err: unknown) => {
      if (isStoreUnavailable(err)) opts.logger.warn({ reason: (err as { code?: unknown }).code ?? (err as Error).message }, 'request id not freed: the database is unreachable (its lease ends it)');
      else opts.logger.error({ err }, 'could not store the idempotent response');
    };
    // A 503 is not held back by freeing its id: the database it could not reach would hold it for
    // the connect timeout again. Until it is freed (or, if it cannot be, until the lease ends) a
    // retry gets 409 EMBA13E.
    if (reply.statusCode === 503) {
      opts.idempotency.release(clientId, requestId, holder).catch(logFailure);
      return payload;
    }
    try {
      if (reply.statusCode >= 500) await opts.idempotency.release(clientId, requestId, holder);
      else await opts.idempotency.complete(clientId, requestId, holder, reply.statusCode, responseOf(payload), takeAuditJournal(request));
    } catch (err) {
      logFailure(err);
    }
    return payload;
  }

  /**
   * The payload of the answer on file once a write answered (request.pendingAnswer): its own,
   * when its write committed, or the answer another run of the request committed (a replay).
   * Undefined: no answer on file, or the database cannot tell now.
   */
  async function recordedAnswer(request: FastifyRequest, reply: FastifyReply, clientId: string, requestId: string): Promise<string | undefined> {
    const pending = request.pendingAnswer!;
    const committed = await committedAnswer(request, clientId, requestId);
    if (!committed) return undefined;
    reply.header('content-type', 'application/json; charset=utf-8');
    // Compared as values: a stored answer comes back parsed and written again by JSON.stringify.
    if (committed.statusCode === pending.statusCode && (committed.json === pending.json || committed.json === JSON.stringify(JSON.parse(pending.json)))) {
      // Ours: the journal's records up to the answer went with it.
      request.auditJournal?.splice(0, pending.journalLength);
      reply.code(committed.statusCode);
      return committed.json;
    }
    return replay(reply, committed.statusCode, committed.json);
  }

  /**
   * The answer a write's transaction committed for this request, if it did: certain when the
   * handler ended normally (it returns only after its transaction committed); after an error, as
   * the database has it (the commit may have happened before the error, or another run of the
   * request may have answered). Undefined: no answer on file, or the database cannot tell now.
   */
  async function committedAnswer(request: FastifyRequest, clientId: string, requestId: string): Promise<{ statusCode: number; json: string } | undefined> {
    if (!request.failed) return request.pendingAnswer;
    // The store it could not reach cannot tell now either (and asking would hold the 503 for the
    // connect timeout): the retry gets the answer if the commit happened, or runs after the lease.
    if (request.failedUnreachable) return undefined;
    try {
      const found = await opts.idempotency.answered(clientId, requestId);
      return found && { statusCode: found.statusCode, json: JSON.stringify(found.response) };
    } catch (err) {
      opts.logger.warn({ err }, 'could not read the answer of a failed write; a retry of the request gets it');
      return undefined;
    }
  }
});

/** The payload of a refusal sent instead of the response the handler made (in onSend, which cannot send anew). */
function refusedInstead(reply: FastifyReply, refusal: Refusal): string {
  const { statusCode, headers, body } = refusalAnswer(refusal);
  reply.code(statusCode).headers(headers);
  return JSON.stringify(body);
}

function replay(reply: FastifyReply, statusCode: number, json: string): string {
  reply.header('x-idempotent-replay', 'true');
  reply.code(statusCode);
  return json;
}
