import pino, { type DestinationStream, type Logger } from 'pino';
import { redact, redactError, redactText } from './redact.ts';

export type { Logger };

/**
 * The process logger. Every record passes through the redaction rule: structured fields by
 * `formatters.log`, message strings by `hooks.logMethod`, errors by the `err` serializer. A
 * caller cannot forget to redact.
 *
 * Records go to stdout (a server's logs are its output), or with `stderr` to stderr, written
 * synchronously: a command's logs, kept apart from its results on stdout.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream; stderr?: boolean } = {}): Logger {
  return pino({
    level: options.level ?? 'info',
    base: { service: 'emboss' },
    formatters: {
      // req, res and err are left to their (redacting) serializers below.
      log: (object) => {
        const { req, res, err, ...rest } = object as Record<string, unknown>;
        return { ...(redact(rest) as Record<string, unknown>), ...(req !== undefined ? { req } : {}), ...(res !== undefined ? { res } : {}), ...(err !== undefined ? { err } : {}) };
      },
    },
    serializers: {
      err: (err: Error) => redactError(err),
      error: (err: Error) => redactError(err),
      req: (req: { method?: string; url?: string; id?: string }) => ({ method: req.method, url: redactText(req.url ?? ''), id: req.id }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>;
        method.apply(this, redacted);
      },
    },
  }, options.destination ?? (options.stderr ? pino.destination({ dest: 2, sync: true }) : undefined));
}
