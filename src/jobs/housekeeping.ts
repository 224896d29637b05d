import type PgBoss from 'pg-boss';
import type { ClientsService } from '../modules/clients/index.ts';
import type { IdempotencyService } from '../modules/idempotency/index.ts';
import type { PinsService } from '../modules/pins/index.ts';
import type { Logger } from '../shared/logger.ts';
import { resumingAfterOutage, type OutageDeps } from './outage.ts';

export const HOUSEKEEPING_QUEUE = 'emboss.housekeeping';
/** Request ids are kept as idempotency keys this long. */
export const IDEMPOTENCY_RETENTION_HOURS = 24;

/** Removes expired access tokens, used signatures and rate counters past their window, and idempotency keys past retention, every 15 minutes. */
export async function registerHousekeeping(
  boss: PgBoss,
  deps: { clients: ClientsService; idempotency: IdempotencyService; pins: PinsService; logger: Logger; outage: OutageDeps },
  options: { work: boolean },
): Promise<void> {
  await boss.createQueue(HOUSEKEEPING_QUEUE);
  await boss.schedule(HOUSEKEEPING_QUEUE, '*/15 * * * *');
  if (!options.work) return;
  await boss.work(HOUSEKEEPING_QUEUE, async ([job]) => resumingAfterOutage(job!, deps.outage, async () => {
    const gate = await deps.clients.purgeExpired();
    const keys = await deps.idempotency.purgeOlderThan(IDEMPOTENCY_RETENTION_HOURS);
    deps.logger.info({ ...gate, idempotencyKeys: keys }, 'housekeeping done');
  }));
}
