import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { createLogger } from '../../shared/logger.ts';
import { requestLogger } from './tracing.ts';

/** A process logger at `level` whose lines are kept, and how many child loggers were made of it. */
function processLogger(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level, destination: new Writable({ write(chunk, _e, done) { lines.push(JSON.parse(String(chunk))); done(); } }) });
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<typeof child>) => { children++; return child(...args); }) as typeof logger.child;
  return { logger: logger as unknown as FastifyBaseLogger, lines, children: () => children };
}

const headers = { 'x-request-id': 'req-4111111111111111' };

test('a request logger makes its child only for a line the level lets through, with the trace and request ids', () => {
  const p = processLogger('warn');
  const log = requestLogger(p.logger, { reqId: 'trace-1' }, {}, { headers });
  log.info('incoming request');
  log.debug('detail');
  assert.equal(p.children(), 0, 'below the level: no child made');
  assert.equal(log.level, 'warn');
  log.warn({ note: 'slow' }, 'something to see');
  log.error('and worse');
  assert.equal(p.children(), 1, 'one child, made once');
  assert.deepEqual(p.lines.map((l) => [l.msg, l.reqId, l.clientRequestId, l.note]), [
    ['something to see', 'trace-1', 'req-411111******1111', 'slow'],
    ['and worse', 'trace-1', 'req-411111******1111', undefined],
  ]);
});

test('a route with a level of its own gets its child at once, at that level', () => {
  const p = processLogger('warn');
  const log = requestLogger(p.logger, { reqId: 'trace-2' }, { level: 'info' }, { headers: {} });
  assert.equal(p.children(), 1);
  log.info('kept at the route\'s level');
  assert.deepEqual(p.lines.map((l) => [l.msg, l.reqId]), [['kept at the route\'s level', 'trace-2']]);
});
