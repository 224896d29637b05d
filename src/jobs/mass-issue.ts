import type PgBoss from 'pg-boss';
import { CompiledQuery, type Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { IssuanceService } from '../modules/issuance/index.ts';
import type { Logger } from '../shared/logger.ts';
import { PERSONALIZATION_FLUSH_QUEUE } from './personalization.ts';
import { resumingAfterOutage, type OutageDeps } from './outage.ts';

export const MASS_ISSUE_QUEUE = 'emboss.mass-issue';

/** pg-boss's statements run through a Kysely transaction (its `db` option): a job queued with what it is about, or not at all. */
const inTransaction = (trx: Kysely<DB>) => ({
  async executeSql(text: string, values: unknown[] = []) {
    return { rows: (await trx.executeQuery(CompiledQuery.raw(text, values))).rows as any[] };
  },
});

/** How a saved mass-issue request reaches a worker: its run's job, added in the transaction that saves the request. */
export function massIssueEnqueue(boss: PgBoss) {
  return async (requestId: string, trx: Kysely<DB>): Promise<void> => {
    await boss.send(MASS_ISSUE_QUEUE, { requestId }, { singletonKey: `mass-${requestId}`, db: inTransaction(trx) } as PgBoss.SendOptions);
  };
}

/**
 * Mass issue requests run as pg-boss jobs, one job per request at a time (singleton key). A job
 * that dies is retried; the run resumes from the request's count. When a request completes, the
 * personalization flush is asked for, so its bureau files follow at once.
 */
export async function registerMassIssue(boss: PgBoss, deps: { issuance: IssuanceService; logger: Logger; outage: OutageDeps }, options: { work: boolean }) {
  await boss.createQueue(MASS_ISSUE_QUEUE, { name: MASS_ISSUE_QUEUE, retryLimit: 20, retryDelay: 5, expireInSeconds: 3600 } as PgBoss.Queue);
  if (!options.work) return;
  await boss.work<{ requestId: string }>(MASS_ISSUE_QUEUE, async ([job]) => {
    const requestId = job!.data.requestId;
    let lastLog = 0;
    const progress = await resumingAfterOutage(job!, deps.outage, () => deps.issuance.run(requestId, {
      // Each bureau file of the request is written as soon as it is full (by the flush worker,
      // asked then); the last one when the request completes.
      alongside: () => boss.send(PERSONALIZATION_FLUSH_QUEUE, {}, { singletonKey: 'flush' }),
      onProgress: (p) => {
        if (Date.now() - lastLog < 2000 && p.done < p.total) return;
        lastLog = Date.now();
        deps.logger.info({ massIssue: requestId, done: p.done, total: p.total, cardsPerSecond: p.cardsPerSecond, etaSeconds: p.etaSeconds }, 'mass issue progress');
      },
    }));
    deps.logger.info({ massIssue: requestId, cards: progress.done }, 'mass issue complete');
    await boss.send(PERSONALIZATION_FLUSH_QUEUE, {}, { singletonKey: 'flush' });
  });
}
