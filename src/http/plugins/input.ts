import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { invalidInput, type Refusal } from '../../shared/errors.ts';
import { jsonDepth } from '../../shared/json-depth.ts';
import { canonicalizeInput, type ExtraFieldLimits, type InputIssue } from '../../shared/schema-input.ts';
import { textProblem, type TextProblem } from '../../shared/storable-text.ts';
import { hasUnusableNumber } from '../../shared/usable-number.ts';
import { HttpCodes } from '../codes.ts';
import { REQUEST_ID_HEADERS } from './auth.ts';

/**
 * Bounds of a request body, documented in docs/configuration.md ("Request bounds"). The
 * largest request of the API (a customer add with every upstream field) is a few kilobytes.
 */
export const BODY_LIMIT_BYTES = 64 * 1024;
/** Nesting levels of a JSON body: the deepest schema is 4 levels, extra fields add up to 8. */
export const MAX_JSON_DEPTH = 32;
/** Fields kept as sent (upstream fields emboss does not model, stored in a record's profile). */
export const EXTRA_FIELD_LIMITS: ExtraFieldLimits = { depth: 8, values: 512, chars: 16 * 1024 };

const textError = (p: TextProblem) => {
  const [code, description] = p === 'unstorable' ? HttpCodes.unstorableText : HttpCodes.controlCharacter;
  return invalidInput(code, description);
};

function issueError(issue: InputIssue): Refusal {
  if (issue.kind === 'number-text') {
    // "Infinity", "1e400" and 400 digits keep the code they had when type coercion let them through.
    if (issue.unusable) return invalidInput(...HttpCodes.unusableNumber);
    const what = issue.expected === 'integer' ? 'an integer' : 'a number';
    return invalidInput(HttpCodes.schema[0], `${HttpCodes.schema[1]}: ${issue.path} must be ${what} (as text: canonical decimal digits)`.slice(0, 300));
  }
  return invalidInput(HttpCodes.extraFields[0], `${HttpCodes.extraFields[1]}: ${issue.path} (${issue.limit})`.slice(0, 300));
}

type Part = 'body' | 'querystring' | 'params' | 'headers';
const requestKey = { body: 'body', querystring: 'query', params: 'params', headers: 'headers' } as const;

/** Canonicalises one part of the request after the route's schema for it (see shared/schema-input.ts). */
function canonicalize(request: FastifyRequest, part: Part, holder: Record<string, unknown>, key: string): void {
  const schema = (request.routeOptions.schema as Record<string, unknown> | undefined)?.[part];
  if (schema === undefined) return;
  const issue = canonicalizeInput(schema, holder, key, part, part === 'body' ? EXTRA_FIELD_LIMITS : undefined);
  if (issue) throw issueError(issue);
}

/**
 * Input that never reaches the database raw. Everything here runs before authentication does
 * any work (the JSON parser, and a preValidation hook registered ahead of the auth plugin's), with
 * no recursion over client data, so a refusal costs a scan of at most BODY_LIMIT_BYTES:
 *
 * - JSON bodies (kept raw as well: the HMAC signature covers the body exactly as sent): nesting
 *   scanned before JSON.parse (EMBV08E), then every string and key checked for NUL, unpaired
 *   surrogates (EMBV05E) and control characters (EMBV07E), every number for being finite and
 *   exact (EMBV06E), and the body canonicalised after the route's schema: numbers sent as text
 *   (EMBV01E, or EMBV06E when they spell Infinity or too many digits) and fields kept as sent
 *   (EMBV09E).
 * - Query strings, path parameters, form fields (percent-decoded) and the request id header the
 *   same text checks; query strings, parameters and headers canonicalised after the route's
 *   schema.
 *
 * The validator runs afterwards without type coercion: what it sees is what the handler gets.
 */
export const inputPlugin = fp(async (app: FastifyInstance) => {
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    request.rawBody = text;
    if (text === '') return done(null, undefined);
    try {
      if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw invalidInput(...HttpCodes.tooDeep);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw invalidInput(...HttpCodes.badJson);
      }
      const problem = textProblem(value);
      if (problem) throw textError(problem);
      if (hasUnusableNumber(value)) throw invalidInput(...HttpCodes.unusableNumber);
      const holder = { body: value };
      canonicalize(request, 'body', holder, 'body');
      done(null, holder.body);
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // A callback hook: nothing here waits (see plugins/tracing.ts); a refusal thrown is Fastify's error.
  app.addHook('preValidation', (request, _reply, done) => {
    checkRequestText(request);
    done();
  });
});

/** The text of a request besides a JSON body (checked by its parser): refused (textError) when it cannot be stored; then canonical. */
function checkRequestText(request: FastifyRequest): void {
  for (const part of ['querystring', 'params'] as const) {
    const problem = textProblem(request[requestKey[part]]);
    if (problem) throw textError(problem);
  }
  // The request id is the one free text of the headers the app keeps (idempotency record, audit
  // trail, logs): HTTP lets a TAB and, as Latin-1 bytes, C1 characters through in a header.
  for (const name of REQUEST_ID_HEADERS) {
    const problem = textProblem(request.headers[name]);
    if (problem) throw textError(problem);
  }
  // Form fields (POST /token), whatever the spelling of their content type. A JSON body (the
  // one kind that sets rawBody) was checked by its parser already.
  if (request.rawBody === '') {
    const problem = textProblem(request.body);
    if (problem) throw textError(problem);
  }
  for (const part of ['querystring', 'params', 'headers'] as const) {
    canonicalize(request, part, request as unknown as Record<string, unknown>, requestKey[part]);
  }
}
