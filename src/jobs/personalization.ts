import type PgBoss from 'pg-boss';
import type { PersonalizationOutbox } from '../modules/personalization/index.ts';
import type { Logger } from '../shared/logger.ts';
import { resumingAfterOutage, type OutageDeps } from './outage.ts';

export const PERSONALIZATION_FLUSH_QUEUE = 'emboss.personalization.flush';

/**
 * Writes pending personalization records into bureau files: every minute, and when asked (after
 * a mass issue, and when one has full files while it runs). One flush at a time across all
 * workers (pg-boss singleton policy).
 */
export async function registerPersonalizationFlush(boss: PgBoss, deps: { personalization: PersonalizationOutbox; logger: Logger; outage: OutageDeps }, options: { work: boolean }) {
  await boss.createQueue(PERSONALIZATION_FLUSH_QUEUE, { name: PERSONALIZATION_FLUSH_QUEUE, policy: 'singleton' } as PgBoss.Queue);
  await boss.schedule(PERSONALIZATION_FLUSH_QUEUE, '* * * * *');
  if (!options.work) return;
  await boss.work(PERSONALIZATION_FLUSH_QUEUE, async ([job]) => resumingAfterOutage(job!, deps.outage, async () => {
    const files = await deps.personalization.flush();
    if (files.length > 0) deps.logger.info({ files: files.length, records: files.reduce((n, f) => n + f.records, 0) }, 'personalization flush');
  }));
}
