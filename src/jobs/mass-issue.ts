import type PgBoss from 'pg-boss';
import { everyQuarterFile, type IssuanceService } from '../modules/issuance/index.ts';
import type { Logger } from '../shared/logger.ts';
import { PERSONALIZATION_FLUSH_QUEUE, type FlushRequest } from './personalization.ts';

export const MASS_ISSUE_QUEUE = 'emboss.mass-issue';

/**
 * Mass issue requests run as pg-boss jobs, one job per request at a time (singleton key). A job
 * that dies is retried; the run resumes from the request's count. When a request completes, the
 * personalization flush is asked for, so its bureau files follow at once.
 */
export async function registerMassIssue(boss: PgBoss, deps: { issuance: IssuanceService; logger: Logger }, options: { work: boolean }) {
  await boss.createQueue(MASS_ISSUE_QUEUE, { name: MASS_ISSUE_QUEUE, retryLimit: 20, retryDelay: 5, expireInSeconds: 3600 } as PgBoss.Queue);
  deps.issuance.useQueue(async (requestId) => {
    await boss.send(MASS_ISSUE_QUEUE, { requestId }, { singletonKey: `mass-${requestId}` });
  });
  if (!options.work) return;
  await boss.work<{ requestId: string }>(MASS_ISSUE_QUEUE, async ([job]) => {
    const requestId = job!.data.requestId;
    let lastLog = 0;
    const request = await deps.issuance.load(requestId);
    const progress = await deps.issuance.run(requestId, {
      // Full bureau files are written while the cards are issued (by the flush worker, asked
      // each time another quarter file's worth of cards is made); the remainder when the request completes.
      alongside: everyQuarterFile(async () => {
        if (!request) return;
        const files: FlushRequest = { fullFiles: { organization: request.organization, logo: request.logo } };
        await boss.send(PERSONALIZATION_FLUSH_QUEUE, files, { singletonKey: `flush-full-${request.organization}-${request.logo}` });
      }),
      onProgress: (p) => {
        if (Date.now() - lastLog < 2000 && p.done < p.total) return;
        lastLog = Date.now();
        deps.logger.info({ massIssue: requestId, done: p.done, total: p.total, cardsPerSecond: p.cardsPerSecond, etaSeconds: p.etaSeconds }, 'mass issue progress');
      },
    });
    deps.logger.info({ massIssue: requestId, cards: progress.done }, 'mass issue complete');
    await boss.send(PERSONALIZATION_FLUSH_QUEUE, {}, { singletonKey: 'flush' });
  });
}
