/**
 * Whether an error means the database could not be reached or went away: the request (or job)
 * did not fail for anything in it, and the same work may succeed once the store is back. Such
 * errors are answered 503 with Retry-After instead of 500, are logged as an outage rather than a
 * bug, and never end the process.
 *
 * Decided on what drivers report, never on a query's own failure: a constraint violation, a
 * deadlock or a bad statement is not an outage, even while the store is unwell.
 */

/** Socket and name-resolution errors of Node's net and dns modules: the server cannot be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'ENOTFOUND',
]);

/**
 * PostgreSQL SQLSTATEs of a server that is going or not there yet: 57P01 admin_shutdown
 * (`pg_ctl stop/restart -m fast`), 57P02 crash_shutdown (another backend crashed, or `-m
 * immediate`), 57P03 cannot_connect_now (starting up, shutting down, in recovery), 53300
 * too_many_connections (no session free for us now).
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * What node-postgres and pg-pool say when a connection died or could not be made in time, and what
 * PGlite and Kysely say once the store is closed (a request still running at shutdown). They carry
 * no code, so the message is the signal.
 */
const MESSAGES = [
  /^Connection terminated( unexpectedly| due to connection timeout)?$/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
  /^PGlite is closed$/,
  /^driver has already been destroyed$/,
];

export function isStoreUnavailable(err: unknown): boolean {
  return check(err, 0);
}

function check(err: unknown, depth: number): boolean {
  if (typeof err !== 'object' || err === null || depth > 4) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string') {
    if (NETWORK_CODES.has(e.code) || SQLSTATES.has(e.code)) return true;
    // Class 08: connection exception (08000, 08001 cannot establish, 08006 connection failure, …).
    if (/^08[0-9A-Z]{3}$/.test(e.code)) return true;
  }
  if (typeof e.message === 'string' && MESSAGES.some((m) => m.test(e.message as string))) return true;
  // Node reports a host with several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError
  // of one error per address; a wrapper may keep the driver's error as its cause.
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((x) => check(x, depth + 1))) return true;
  return e.cause !== undefined && check(e.cause, depth + 1);
}
