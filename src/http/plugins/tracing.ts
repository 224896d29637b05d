import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { IncomingHttpHeaders } from 'node:http';
import { redactText } from '../../shared/redact.ts';
import { REQUEST_ID_HEADERS, REQUEST_ID_PATTERN } from './auth.ts';

/** The response header that carries the trace id (Fastify's request id, `reqId` in the log). */
export const TRACE_ID_HEADER = 'x-trace-id';

/**
 * The client's request id as the log may carry it: the one value of x-request-id /
 * X-Client-Request-Id when it passes the auth plugin's own rule (printable ASCII, at most 128
 * characters), through the log's redaction (a card number sent as an id is masked); undefined when
 * absent, repeated, conflicting or not acceptable. Read when the request arrives, before
 * authentication: an id auth would refuse never reaches the log.
 */
export function loggableRequestId(headers: IncomingHttpHeaders): string | undefined {
  let found: string | undefined;
  for (const name of REQUEST_ID_HEADERS) {
    const v = headers[name];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string' || (found !== undefined && found !== v)) return undefined;
    found = v;
  }
  return found !== undefined && REQUEST_ID_PATTERN.test(found) ? redactText(found) : undefined;
}

/**
 * Fastify's childLoggerFactory: every log line of a request carries its trace id (`reqId`) and,
 * when the client sent an acceptable one, its request id (`clientRequestId`), from the first
 * line ("incoming request") to the last.
 */
export function requestLogger(logger: FastifyBaseLogger, bindings: Record<string, unknown>, options: object, raw: { headers: IncomingHttpHeaders }): FastifyBaseLogger {
  const clientRequestId = loggableRequestId(raw.headers);
  return logger.child(clientRequestId === undefined ? bindings : { ...bindings, clientRequestId }, options);
}

/** Every response carries the trace id (x-trace-id), errors included: what to quote to find the request's log lines. */
export const tracingPlugin = fp(async (app: FastifyInstance) => {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(TRACE_ID_HEADER, request.id);
  });
});
