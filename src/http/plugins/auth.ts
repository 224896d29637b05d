import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiClient, ClientsService, Scope } from '../../modules/clients/index.ts';
import type { Actor } from '../../shared/actor.ts';
import { Refusal, notAllowed, notAuthenticated, tooManyRequests } from '../../shared/errors.ts';
import { HttpCodes } from '../codes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    client: ApiClient | undefined;
    /** The request id the client sent; undefined when its profile lets it send none (no exactly-once then). */
    clientRequestId: string | undefined;
    /** The request's verified signature: accepted once (with one request id). Undefined: the request was not signed (see WireProfile). */
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

/** Over a rate limit or locked out: how long to wait, in whole seconds, at least one. */
export const rateLimited = (waitMs: number) => tooManyRequests(...HttpCodes.rateLimited, Math.max(1, Math.ceil(waitMs / 1000)));

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
/** A request id as accepted: printable ASCII, 1 to 128 characters (it is stored, logged and echoed). */
export const REQUEST_ID_PATTERN = /^[\x21-\x7E]{1,128}$/;
export const SIGNATURE_HEADERS = ['x-hmac-signature', 'signature'];
/** The client id header upstream declares (X-ClientID; Node reads header names in lower case). */
export const CLIENT_ID_HEADERS = ['x-clientid'];

/**
 * Authentication as FirstVision clients send it: a bearer token from POST /token, the client's
 * apikey, a timestamp (epoch milliseconds), a request id, and
 * `Base64(HMAC-SHA256(secret, apikey + timestamp + body + path))` where path is the request
 * target as sent (path and query string) and body is the raw body ('' when there is none).
 * What else a client may leave out is its wire profile's (ApiClient.wire, docs/security.md
 * "Authentication profiles"): the signature with its timestamp (`optional`: checked exactly as
 * above when sent; `off`: not read), the request id (`optional`: without one the request runs
 * without exactly-once). X-ClientID, when sent, must name the client of the token; a profile may
 * require it. Every refusal here (not authenticated) is counted against the source address.
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
    if (!match) throw notAuthenticated(...HttpCodes.tokenMissing);
    const client = await opts.clients.clientForToken(match[1]!);
    if (!client) throw notAuthenticated(...HttpCodes.tokenInvalid);
    const apikey = single(request, 'apikey');
    if (apikey !== client.apikey) throw notAuthenticated(...HttpCodes.apikeyMismatch);
    const wire = client.wire;

    const clientIdHeader = single(request, ...CLIENT_ID_HEADERS);
    if (clientIdHeader === null || (clientIdHeader === undefined ? wire.clientIdHeader === 'required' : clientIdHeader !== client.clientId)) {
      throw notAuthenticated(...HttpCodes.clientIdMismatch);
    }

    // Signed: always under `required`; under `optional` when a signature header is sent (a repeated
    // or conflicting one counts as sent, and is refused below); never under `off`, whose requests
    // are not read for a signature or a timestamp at all.
    const sentSignature = wire.signature === 'off' ? undefined : single(request, ...SIGNATURE_HEADERS);
    const signed = wire.signature === 'required' || sentSignature !== undefined;

    let timestamp = '';
    let ms = 0;
    if (signed) {
      timestamp = single(request, ...TIMESTAMP_HEADERS) ?? '';
      if (!/^[0-9]{10,13}$/.test(timestamp)) throw notAuthenticated(...HttpCodes.timestampInvalid);
      ms = timestamp.length === 13 ? Number(timestamp) : Number(timestamp) * 1000;
      if (Math.abs(opts.now() - ms) > opts.windowSeconds * 1000) throw notAuthenticated(...HttpCodes.timestampOutOfWindow);
    }

    const requestId = single(request, ...REQUEST_ID_HEADERS);
    // Printable ASCII only: the id is stored, logged and echoed (a UUID is the usual form).
    if (requestId === null || (requestId === undefined ? wire.requestId === 'required' : !REQUEST_ID_PATTERN.test(requestId))) {
      throw notAuthenticated(...HttpCodes.requestIdMissing);
    }
    // A signed request other than a GET without a request id is refused rather than admitted once
    // by the GETs' table (client_signatures): such a request's signature is accepted once by the
    // statement that reserves its request id (a unique index on idempotency_keys.signature), and a
    // signature kept in the GETs' table instead would be unknown to that index, so it could be
    // accepted once in each table (sent without a request id, then again with one: a replay that
    // neither sees). A client that signs can send a request id.
    if (signed && requestId === undefined && request.method !== 'GET') throw notAuthenticated(...HttpCodes.requestIdMissing);

    let signature: string | undefined;
    if (signed) {
      if (!sentSignature) {
        const [code, description] = sentSignature === null ? HttpCodes.signatureInvalid : HttpCodes.signatureMissing;
        throw notAuthenticated(code, description);
      }
      const message = apikey + timestamp + request.rawBody + request.url;
      if (!(await opts.clients.verifySignature(client, message, sentSignature))) throw notAuthenticated(...HttpCodes.signatureInvalid);
      signature = sentSignature;
    }

    const scope = request.routeOptions.config?.scope ?? 'cards';
    if (!client.scopes.includes(scope)) throw notAllowed(...HttpCodes.scopeForbidden);

    // A signed GET's signature is kept until its timestamp leaves the window (after that it is
    // refused anyway); the others' with their request ids (idempotency plugin). A GET sent without
    // a request id is kept under its trace id: sent again, it is a replay, never a retry.
    const signedGet = signature !== undefined && request.method === 'GET'
      ? { signature, requestId: requestId ?? request.id, expiresMs: ms + opts.windowSeconds * 1000 } : undefined;
    const admission = await opts.clients.admit(client, signedGet);
    const { budget } = admission;
    reply.header('x-ratelimit-limit', String(budget.limit));
    reply.header('x-ratelimit-remaining', String(budget.remaining));
    reply.header('x-ratelimit-reset', String(Math.ceil(budget.resetMs / 1000)));
    if (admission.refusal === 'replay') throw notAuthenticated(...HttpCodes.signatureReplayed);
    if (admission.refusal === 'limited') throw rateLimited(budget.resetMs);

    request.client = client;
    request.clientRequestId = requestId;
    request.signature = signature;
  };

  app.addHook('preValidation', async (request, reply) => {
    if (request.routeOptions.config?.auth === false) return;
    const wait = opts.clients.addressRefused(request.ip);
    if (wait > 0) throw rateLimited(wait);
    try {
      await authenticate(request, reply);
    } catch (err) {
      if (err instanceof Refusal && err.kind === 'not-authenticated') await opts.clients.countFailure(request.ip);
      throw err;
    }
  });
});

/**
 * The authenticated actor of a request (after the auth hook), with the request's audit journal:
 * the idempotency plugin stores what it holds with the request's last write (see there). A
 * request sent without a request id (its client's profile allows it) is audited under its trace
 * id, the server's id of the request (in the log and in a 500's body); it has nothing to reserve
 * and no answer to record.
 */
export function actorOf(request: FastifyRequest): Actor {
  // A route without authentication has no actor: asking for one is a bug (answered 500 with a trace id).
  if (!request.client) throw new Error('actorOf: the request has no authenticated client');
  request.auditJournal ??= [];
  return {
    clientId: request.client.clientId, requestId: request.clientRequestId ?? request.id, auditJournal: request.auditJournal,
    ...(request.reserveRequestId ? { reserve: request.reserveRequestId } : {}),
    ...(request.answerRequest ? { answer: request.answerRequest } : {}),
  };
}

/** Refuses (not allowed) an organization the client may not use. Call before any work. */
export function requireOrganization(request: FastifyRequest, organization: number): void {
  if (!request.client?.organizations.includes(organization)) throw notAllowed(...HttpCodes.organizationForbidden);
}

/** Whether the client may see clear card numbers. */
export const hasPciScope = (request: FastifyRequest) => request.client?.scopes.includes('pci') ?? false;

/** Refuses (not allowed) a request whose client holds none of the scopes given: for a duty decided by the body. */
export function requireScope(request: FastifyRequest, ...scopes: Scope[]): void {
  if (!scopes.some((s) => request.client?.scopes.includes(s))) throw notAllowed(...HttpCodes.scopeForbidden);
}
