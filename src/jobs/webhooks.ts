import type PgBoss from 'pg-boss';
import type { EventsService } from '../modules/events/index.ts';
import type { Logger } from '../shared/logger.ts';
import { resumingAfterOutage, type OutageDeps } from './outage.ts';

export const WEBHOOK_DISPATCH_QUEUE = 'emboss.webhooks.dispatch';
/** The longest a round waits before the next one when nothing is due sooner (new events wait at most this). */
const IDLE_MS = 5000;
const MIN_WAIT_MS = 500;

/**
 * Webhook delivery: a pg-boss job runs a round (EventsService.dispatch: number new events, attempt
 * what is due), then queues the next round for when the next retry is due, or soon for new events.
 * At most one round runs and one waits (stately queue) across all workers, so the events of a card
 * go out in order; a minute's schedule restarts the rounds should the chain ever break, and each
 * start queues one at once (deliveries left pending by a stopped process go on).
 */
export async function registerWebhookDelivery(
  boss: PgBoss,
  deps: { events: EventsService; logger: Logger; outage: OutageDeps; backoffBaseMs: number },
  options: { work: boolean },
): Promise<void> {
  await boss.createQueue(WEBHOOK_DISPATCH_QUEUE, { name: WEBHOOK_DISPATCH_QUEUE, policy: 'stately', retryLimit: 2, expireInSeconds: 300 } as PgBoss.Queue);
  await boss.schedule(WEBHOOK_DISPATCH_QUEUE, '* * * * *');
  if (!options.work) return;
  const idle = Math.max(MIN_WAIT_MS, Math.min(IDLE_MS, deps.backoffBaseMs));
  const next = (ms: number) => boss.send(WEBHOOK_DISPATCH_QUEUE, {}, { startAfter: new Date(Date.now() + Math.max(MIN_WAIT_MS, ms)) });
  await boss.work(WEBHOOK_DISPATCH_QUEUE, { pollingIntervalSeconds: MIN_WAIT_MS / 1000 } as PgBoss.WorkOptions, async ([job]) => {
    try {
      const r = await resumingAfterOutage(job!, deps.outage, () => deps.events.dispatch({ signal: deps.outage.stopping }));
      if (r.delivered + r.failed + r.gaveUp > 0) deps.logger.info({ delivered: r.delivered, failed: r.failed, gaveUp: r.gaveUp, pending: r.pending }, 'webhook deliveries');
      if (!deps.outage.stopping.aborted) await next(r.nextDueMs === null ? idle : Math.min(idle, r.nextDueMs));
    } catch (err) {
      if (!deps.outage.stopping.aborted) await next(idle).catch(() => {});
      throw err;
    }
  });
  await next(0);
}
