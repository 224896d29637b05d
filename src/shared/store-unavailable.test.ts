import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStoreUnavailable } from './store-unavailable.ts';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

test('driver errors of an unreachable or departing database are an outage', () => {
  const outages = [
    withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
    withCode('ECONNRESET', 'read ECONNRESET'),
    withCode('EPIPE'), withCode('ETIMEDOUT'), withCode('EHOSTUNREACH'), withCode('ENETUNREACH'), withCode('EAI_AGAIN'),
    withCode('57P01', 'terminating connection due to administrator command'),
    withCode('57P02', 'terminating connection because of crash of another server process'),
    withCode('57P03', 'the database system is starting up'),
    withCode('53300', 'sorry, too many clients already'),
    withCode('08006'), withCode('08001'), withCode('08P01'), withCode('08000'),
    new Error('Connection terminated unexpectedly'),
    new Error('Connection terminated'),
    new Error('Connection terminated due to connection timeout', { cause: new Error('timeout expired') }),
    new Error('timeout exceeded when trying to connect'),
    new Error('Client has encountered a connection error and is not queryable'),
    new Error('Client was closed and is not queryable'),
    new Error('Cannot use a pool after calling end on the pool'),
    new Error('PGlite is closed'),
    new Error('driver has already been destroyed'),
    // localhost: one refusal per address
    Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], ''), { code: undefined }),
    // kept as the cause of a wrapper
    new Error('mass issue chunk failed', { cause: withCode('57P01') }),
  ];
  for (const err of outages) assert.equal(isStoreUnavailable(err), true, `${(err as { code?: string }).code ?? ''} ${err.message}`);
});

test('a statement failing on its own, or anything else, is not an outage', () => {
  const others: unknown[] = [
    withCode('23505', 'duplicate key value violates unique constraint'),
    withCode('40P01', 'deadlock detected'), withCode('40001'), withCode('42P01', 'relation does not exist'),
    withCode('57014', 'canceling statement due to statement timeout'),
    withCode('ENOENT'), withCode('EACCES'),
    new Error('Connection terminated by the card bureau'), // not the driver's message
    new TypeError('Cannot read properties of undefined'),
    new AggregateError([withCode('ECONNREFUSED'), withCode('23505')], ''),
    'ECONNREFUSED', undefined, null, 57, { code: 1 },
  ];
  for (const err of others) assert.equal(isStoreUnavailable(err), false, String((err as { message?: string })?.message ?? err));
});

test('a cycle of causes ends', () => {
  const a = new Error('a') as Error & { cause?: unknown };
  const b = new Error('b', { cause: a });
  a.cause = b;
  assert.equal(isStoreUnavailable(a), false);
});
