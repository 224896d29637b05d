import type { Logger } from '../shared/logger.ts';
import { isStoreUnavailable } from '../shared/store-unavailable.ts';

/** What a job needs to ride through a database outage. */
export interface OutageDeps {
  /** Whether the database answers (the storage handle's ping). */
  ping(timeoutMs: number): Promise<boolean>;
  logger: Logger;
  /** Aborted when the process shuts down: a job then stops waiting and fails, to be retried elsewhere. */
  stopping: AbortSignal;
}

const PING_TIMEOUT_MS = 2000;
const POLL_MS = 1000;

/**
 * Runs a job's work; when it fails because the database went away, waits until the database
 * answers again and runs it once more, until it succeeds, fails for another reason, the job's time
 * is up, or the process shuts down. Every job here is safe to run again (a mass issue resumes from
 * its count, a flush writes what is pending, housekeeping deletes what is expired).
 *
 * Why not just fail the job: pg-boss records a failure (and a completion) with a statement of its
 * own, which fails too while the database is away, so the job would stay `active` in pg-boss's
 * table until its expiry (an hour for a mass issue, 15 minutes for a flush, whose singleton queue
 * then holds every later flush back). Waiting keeps the handler running until the database is back,
 * and the job ends normally.
 */
export async function resumingAfterOutage<T>(
  job: { name: string; id: string; expireInSeconds: number | string },
  deps: OutageDeps,
  work: () => Promise<T>,
): Promise<T> {
  // A little before pg-boss gives up on the handler (it then fails the job for a retry).
  const deadline = Date.now() + Math.max(0, Number(job.expireInSeconds) * 1000 - 5000);
  for (;;) {
    try {
      return await work();
    } catch (err) {
      if (!isStoreUnavailable(err) || deps.stopping.aborted || Date.now() >= deadline) throw err;
      deps.logger.warn({ queue: job.name, job: job.id }, 'job interrupted: the database is unreachable; it resumes when the database is back');
      if (!(await storeBack(deps, deadline))) throw err;
      deps.logger.info({ queue: job.name, job: job.id }, 'the database is back; the job resumes');
    }
  }
}

/** Polls the database until it answers (true), or until shutdown or the deadline (false). */
async function storeBack(deps: OutageDeps, deadline: number): Promise<boolean> {
  while (!deps.stopping.aborted && Date.now() < deadline) {
    if (await deps.ping(PING_TIMEOUT_MS)) return true;
    await new Promise<void>((resolve) => {
      const done = () => { clearTimeout(timer); deps.stopping.removeEventListener('abort', done); resolve(); };
      const timer = setTimeout(done, POLL_MS);
      deps.stopping.addEventListener('abort', done);
    });
  }
  return false;
}
