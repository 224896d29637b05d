import type { TSchema } from '@sinclair/typebox';
import type { Refusal, RefusalKind } from '../shared/errors.ts';
import { ErrorEnvelope, errorBody } from './envelope.ts';

/**
 * The one place where a refusal becomes HTTP: its kind's status. Everything else in src/http
 * (the error handler, the idempotency record, the route schemas) asks here, so a kind answered
 * 422 by a route is also documented, recorded and replayed as 422.
 */
const STATUS_OF_KIND: Record<RefusalKind, number> = {
  'invalid-input': 400,
  'not-authenticated': 401,
  'not-allowed': 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  'unsupported-media-type': 415,
  'business-rule': 422,
  'too-many-requests': 429,
  unavailable: 503,
};

/** The status, headers and envelope a refusal is answered with. */
export interface RefusalAnswer {
  statusCode: number;
  headers: Record<string, string>;
  body: ReturnType<typeof errorBody>;
}

export function refusalAnswer(refusal: Refusal): RefusalAnswer {
  return {
    statusCode: STATUS_OF_KIND[refusal.kind],
    // The wait a refusal asks for (a rate limit, an outage) is HTTP's Retry-After, in whole seconds.
    headers: refusal.retryAfterSeconds === undefined ? {} : { 'retry-after': String(refusal.retryAfterSeconds) },
    body: errorBody(refusal.code, refusal.description),
  };
}

/**
 * The kinds every authenticated route may answer besides its own: a request the input checks or
 * the schema refuse, authentication, an organization or scope, a request id reused or still
 * running, a rate limit.
 */
const EVERY_ROUTE: readonly RefusalKind[] = ['invalid-input', 'not-authenticated', 'not-allowed', 'conflict', 'too-many-requests'];

/** Response schemas of the refusals given: the error envelope under each one's status. */
export function refusalResponses(...kinds: RefusalKind[]): Record<number, TSchema> {
  return Object.fromEntries(kinds.map((kind) => [STATUS_OF_KIND[kind], ErrorEnvelope]));
}

/**
 * Response schemas for an authenticated route: 200 with the bare response object; the error
 * envelope for every refusal any route may answer, the kinds of its own (`kinds`), and a 500.
 */
export function responses<T extends TSchema>(data: T, ...kinds: RefusalKind[]): Record<number, TSchema> {
  // 500 is no refusal: a failure of emboss's own, answered with the envelope and a trace id.
  return { 200: data, ...refusalResponses(...EVERY_ROUTE, ...kinds), 500: ErrorEnvelope };
}
