/**
 * What went wrong, in the domain's words. The edges turn a kind into their own terms (over HTTP a
 * status and its headers, in src/http/plugins/errors.ts alone; on the command line an exit code),
 * so nothing below them needs to know what a status is.
 */
export type RefusalKind =
  /** A business rule said no (the upstream VPL5… codes, with each module's code table). */
  | 'business-rule'
  /** The request is malformed: not the schema, not storable, not decodable. */
  | 'invalid-input'
  /** The caller could not be identified: no token, a bad signature, wrong credentials. */
  | 'not-authenticated'
  /** The caller is known but may not do this (an organization, a scope). */
  | 'not-allowed'
  /** What the request names does not exist (a route, a webhook endpoint). */
  | 'not-found'
  /** The request clashes with another one (a request id used for another request, or still running). */
  | 'conflict'
  /** The request is bigger than the bounds the API keeps. */
  | 'too-large'
  /** The request's body is in a format the API does not read. */
  | 'unsupported-media-type'
  /** The caller is over its rate limit or locked out for now: retry after `retryAfterSeconds`. */
  | 'too-many-requests'
  /** The service cannot serve now (the store is away, the process is stopping): retry after `retryAfterSeconds`. */
  | 'unavailable';

/**
 * A refusal a client may see: its kind, a FirstVision-style code and a description that is safe
 * to show (never card data, PINs or keys). Thrown, it ends the request having changed nothing;
 * as an Outcome, it is the answer of a write that did change something (a wrong PIN counted).
 */
export class Refusal extends Error {
  constructor(
    readonly kind: RefusalKind,
    readonly code: string,
    readonly description: string,
    /** For `too-many-requests` and `unavailable`: how long the caller should wait before trying again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${code} ${description}`);
    this.name = 'Refusal';
  }
}

/** A business rule refused the request (the upstream VPL5… codes where one fits). */
export const businessRule = (code: string, description: string) => new Refusal('business-rule', code, description);
/** The business-rule refusal of a module's code table entry (`[code, description]`, as the upstream lists them). */
export const refusal = (entry: readonly [string, string]) => businessRule(entry[0], entry[1]);
export const invalidInput = (code: string, description: string) => new Refusal('invalid-input', code, description);
export const notAuthenticated = (code: string, description: string) => new Refusal('not-authenticated', code, description);
export const notAllowed = (code: string, description: string) => new Refusal('not-allowed', code, description);
export const notFound = (code: string, description: string) => new Refusal('not-found', code, description);
export const conflict = (code: string, description: string) => new Refusal('conflict', code, description);
export const tooLarge = (code: string, description: string) => new Refusal('too-large', code, description);
export const unsupportedMediaType = (code: string, description: string) => new Refusal('unsupported-media-type', code, description);
export const tooManyRequests = (code: string, description: string, retryAfterSeconds: number) =>
  new Refusal('too-many-requests', code, description, retryAfterSeconds);
export const unavailable = (code: string, description: string, retryAfterSeconds: number) =>
  new Refusal('unavailable', code, description, retryAfterSeconds);

/**
 * A problem in the operator's configuration (bootstrap file, environment). Raised at start-up,
 * before anything is written.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
