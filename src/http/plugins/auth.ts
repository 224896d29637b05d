import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiClient, ClientsService, Scope } from '../../modules/clients/index.ts';
import type { Actor } from '../../shared/actor.ts';
import { AppError, forbidden, unauthorized } from '../../shared/errors.ts';
import { HttpCodes } from '../codes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    client: ApiClient | undefined;
    clientRequestId: string | undefined;
    /** The request's verified signature: accepted once (with one request id). */
    signature: string | undefined;
    rawBody: string;
    /** Audit records of the request's reads and refusals, not stored yet (see actorOf). */
    auditJournal: unknown[] | undefined;
  }
  interface FastifyContextConfig {
    /** false: no token or signature (POST /token, health, docs). */
    auth?: boolean;
    /** Scope the client must hold. Default: cards. */
    scope?: Scope;
  }
}

const fail = (c: readonly [string, string], status = 401) => (status === 403 ? forbidden(c[0], c[1]) : unauthorized(c[0], c[1]));

/** 429 with the envelope and how long to wait. */
export const tooMany = (waitMs: number) => new AppError(429, HttpCodes.rateLimited[0], HttpCodes.rateLimited[1], { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) });

/** The first non-empty header of the spellings given. */
export function header(request: FastifyRequest, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = request.headers[name];
    const value = Array.isArray(v) ? v[0] : v;
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/**
 * The one value a header carries under any of its spellings; undefined when absent. Sent twice
 * (under two spellings with different values, or repeated, which Node joins with ", "), it is
 * ambiguous, and a signed request must not be: the caller refuses it.
 */
function single(request: FastifyRequest, ...names: string[]): string | undefined | null {
  let found: string | undefined;
  for (const name of names) {
    const v = request.headers[name];
    if (v === undefined || v === '') continue;
    if (Array.isArray(v) || (found !== undefined && found !== v)) return null;
    found = v;
  }
  return found;
}

export const TIMESTAMP_HEADERS = ['x-timestamp', 'timestamp'];
export const REQUEST_ID_HEADERS = ['x-request-id', 'x-client-request-id'];
export const SIGNATURE_HEADERS = ['x-hmac-signature', 'signature'];

/**
 * Authentication as FirstVision clients send it: a bearer token from POST /token, the client's
 * apikey, a timestamp (epoch milliseconds), a request id, and
 * `Base64(HMAC-SHA256(secret, apikey + timestamp + body + path))` where path is the request
 * target as sent (path and query string) and body is the raw body ('' when there is none).
 * Signed routes take JSON bodies only (a form parser exists only for POST /token), so the
 * signature covers every byte the route reads. Then the gate (ClientsService.admit): the client
 * must be within its rate limit, and a signature must not have come with another request id
 * before (for GETs here; for the others where the request id is reserved or recorded). Runs before schema validation and before any
 * handler, so a refused request writes nothing but the gate's counters.
 *
 * A source address whose authentications keep failing is refused with 429 before any of this
 * is done, so a stranger's flood neither reaches the database nor touches a client's budget.
 */
export const authPlugin = fp(async (app: FastifyInstance, opts: { clients: ClientsService; windowSeconds: number; now: () => number }) => {
  app.decorateRequest('client', undefined);
  app.decorateRequest('clientRequestId', undefined);
  app.decorateRequest('signature', undefined);
  app.decorateRequest('rawBody', '');
  app.decorateRequest('auditJournal', undefined);

  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    const authorization = header(request, 'authorization');
    const match = authorization && /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/.exec(authorization);
    if (!match) throw fail(HttpCodes.tokenMissing);
    const client = await opts.clients.clientForToken(match[1]!);
    if (!client) throw fail(HttpCodes.tokenInvalid);
    const apikey = single(request, 'apikey');
    if (apikey !== client.apikey) throw fail(HttpCodes.apikeyMismatch);

    const timestamp = single(request, ...TIMESTAMP_HEADERS);
    if (!timestamp || !/^[0-9]{10,13}$/.test(timestamp)) throw fail(HttpCodes.timestampInvalid);
    const ms = timestamp.length === 13 ? Number(timestamp) : Number(timestamp) * 1000;
    if (Math.abs(opts.now() - ms) > opts.windowSeconds * 1000) throw fail(HttpCodes.timestampOutOfWindow);

    const requestId = single(request, ...REQUEST_ID_HEADERS);
    // Printable ASCII only: the id is stored, logged and echoed (a UUID is the usual form).
    if (!requestId || !/^[\x21-\x7E]{1,128}$/.test(requestId)) throw fail(HttpCodes.requestIdMissing);

    const signature = single(request, ...SIGNATURE_HEADERS);
    if (!signature) throw fail(signature === null ? HttpCodes.signatureInvalid : HttpCodes.signatureMissing);
    const message = apikey + timestamp + request.rawBody + request.url;
    if (!(await opts.clients.verifySignature(client, message, signature))) throw fail(HttpCodes.signatureInvalid);

    const scope = request.routeOptions.config?.scope ?? 'cards';
    if (!client.scopes.includes(scope)) throw fail(HttpCodes.scopeForbidden, 403);

    // A GET's signature is kept until its timestamp leaves the window (after that it is refused
    // anyway); the others' with their request ids (idempotency plugin).
    const admission = await opts.clients.admit(client, { get: request.method === 'GET', signature, requestId, expiresMs: ms + opts.windowSeconds * 1000 });
    const { budget } = admission;
    reply.header('x-ratelimit-limit', String(budget.limit));
    reply.header('x-ratelimit-remaining', String(budget.remaining));
    reply.header('x-ratelimit-reset', String(Math.ceil(budget.resetMs / 1000)));
    if (admission.refusal === 'replay') throw fail(HttpCodes.signatureReplayed);
    if (admission.refusal === 'limited') throw tooMany(budget.resetMs);

    request.client = client;
    request.clientRequestId = requestId;
    request.signature = signature;
  };

  app.addHook('preValidation', async (request, reply) => {
    if (request.routeOptions.config?.auth === false) return;
    const wait = opts.clients.addressRefused(request.ip);
    if (wait > 0) throw tooMany(wait);
    try {
      await authenticate(request, reply);
    } catch (err) {
      if (err instanceof AppError && err.status === 401) await opts.clients.countFailure(request.ip);
      throw err;
    }
  });
});

/**
 * The authenticated actor of a request (after the auth hook), with the request's audit journal:
 * the idempotency plugin stores what it holds with the request's last write (see there).
 */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.client || !request.clientRequestId) throw new AppError(500, HttpCodes.internal[0], HttpCodes.internal[1]);
  request.auditJournal ??= [];
  return {
    clientId: request.client.clientId, requestId: request.clientRequestId, auditJournal: request.auditJournal,
    ...(request.reserveRequestId ? { reserve: request.reserveRequestId } : {}),
    ...(request.answerRequest ? { answer: request.answerRequest } : {}),
  };
}

/** Refuses (403) an organization the client may not use. Call before any work. */
export function requireOrganization(request: FastifyRequest, organization: number): void {
  if (!request.client?.organizations.includes(organization)) throw fail(HttpCodes.organizationForbidden, 403);
}

/** Whether the client may see clear card numbers. */
export const hasPciScope = (request: FastifyRequest) => request.client?.scopes.includes('pci') ?? false;

/** Refuses (403) a request whose client holds none of the scopes given: for a duty decided by the body. */
export function requireScope(request: FastifyRequest, ...scopes: Scope[]): void {
  if (!scopes.some((s) => request.client?.scopes.includes(s))) throw fail(HttpCodes.scopeForbidden, 403);
}
