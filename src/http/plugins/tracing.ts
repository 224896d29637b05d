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
 *
 * The request's logger is made when it first writes a line: below the process's level (`warn`
 * in production, say) most requests write none, and making a child logger (its bindings
 * serialized, the request id checked and redacted) was a few per cent of a request's CPU.
 */
export function requestLogger(logger: FastifyBaseLogger, bindings: Record<string, unknown>, options: { level?: string }, raw: { headers: IncomingHttpHeaders }): FastifyBaseLogger {
  const make = () => {
    const clientRequestId = loggableRequestId(raw.headers);
    return logger.child(clientRequestId === undefined ? bindings : { ...bindings, clientRequestId }, options);
  };
  // A route with a level of its own: its logger now (the process's level says nothing of it).
  return options.level === undefined && isLevelTest(logger) ? new RequestLog(logger, make) as unknown as FastifyBaseLogger : make();
}

type LevelTest = FastifyBaseLogger & { isLevelEnabled(level: string): boolean };
const isLevelTest = (logger: FastifyBaseLogger): logger is LevelTest => typeof (logger as Partial<LevelTest>).isLevelEnabled === 'function';
type Write = (...args: unknown[]) => void;

/** A request's logger, made (by `make`) at its first line the process's level lets through. Methods, not closures: one object a request. */
class RequestLog {
  private made: FastifyBaseLogger | undefined;
  constructor(private readonly parent: LevelTest, private readonly make: () => FastifyBaseLogger) {}

  private get log(): FastifyBaseLogger { return (this.made ??= this.make()); }
  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: unknown[]): void {
    if (this.made || this.parent.isLevelEnabled(level)) (this.log[level] as Write).apply(this.log, args);
  }

  get level(): string { return this.made?.level ?? this.parent.level; }
  set level(level: string) { this.log.level = level; }
  fatal(...args: unknown[]): void { this.write('fatal', args); }
  error(...args: unknown[]): void { this.write('error', args); }
  warn(...args: unknown[]): void { this.write('warn', args); }
  info(...args: unknown[]): void { this.write('info', args); }
  debug(...args: unknown[]): void { this.write('debug', args); }
  trace(...args: unknown[]): void { this.write('trace', args); }
  silent(): void {}
  child(bindings: Record<string, unknown>, options?: object): FastifyBaseLogger { return this.log.child(bindings, options); }
}

/** Every response carries the trace id (x-trace-id), errors included: what to quote to find the request's log lines. */
export const tracingPlugin = fp(async (app: FastifyInstance) => {
  // Callback hooks where nothing waits (here and in the plugins that run on every request): an
  // async hook costs a promise and a microtask per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(TRACE_ID_HEADER, request.id);
    done();
  });
});
