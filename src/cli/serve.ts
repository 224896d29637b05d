import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { createContainer } from '../container.ts';
import { shareWithPrimary } from '../shared/metrics.ts';
import type { Settings } from '../config/env.ts';
import type { Logger } from '../shared/logger.ts';

/**
 * What closing may take beyond the grace period (the pools' last round trips, pg-boss marking its
 * jobs): past it the process ends anyway, so a shutdown never hangs on a store that does not answer.
 */
const CLOSE_MARGIN_MS = 5000;

/**
 * `serve` in this process: one API process (alone, or one of EMBOSS_API_PROCESSES under the
 * primary). SIGTERM or SIGINT shuts it down gracefully: see shutdown below.
 */
export async function serveHere(settings: Settings, logger: Logger): Promise<undefined> {
  const container = await createContainer({ settings, logger });
  // The HTTP stack (Fastify, the schemas, the OpenAPI UI) is loaded by `serve` only: the other
  // commands (a mass issue run among them) start faster and smaller without it.
  const { buildApp } = await import('../http/app.ts');
  const app = await buildApp(container);
  container.metrics.collectProcessMetrics();
  // Metrics (METRICS_PORT): served by this process when it is alone; under the cluster primary,
  // handed to the primary, which serves them summed over the API processes (api-processes.ts).
  let metricsServer: Server | undefined;
  if (cluster.isWorker) shareWithPrimary(container.metrics);

  let shuttingDown = false;
  /**
   * Stops taking connections, lets the requests in flight finish and the running jobs end (within
   * EMBOSS_SHUTDOWN_SECONDS; then their connections are closed and pg-boss marks the jobs failed,
   * to be retried), closes the pools and exits 0. Requests that arrive on an open keep-alive
   * connection meanwhile get 503 (Fastify's return503OnClosing) and a closed connection.
   */
  const shutdown = async (signal: string) => {
    // One shutdown: under a terminal's Ctrl-C an API process gets SIGINT from the terminal and
    // SIGTERM from its primary; the second must not cut the first short.
    if (shuttingDown) return;
    shuttingDown = true;
    const graceMs = settings.EMBOSS_SHUTDOWN_SECONDS * 1000;
    logger.info({ signal, graceSeconds: settings.EMBOSS_SHUTDOWN_SECONDS }, 'shutting down: no new connections; finishing requests and jobs in flight');
    // Past the grace period and a margin, the process ends whatever is still closing (a statement
    // stuck in the database holds the pool open): the database rolls back what its connections
    // leave unfinished, and the shutdown asked for is done.
    setTimeout(() => {
      logger.warn({ seconds: (graceMs + CLOSE_MARGIN_MS) / 1000 }, 'shutdown: closing took too long; exiting with it unfinished');
      process.exit(0);
    }, graceMs + CLOSE_MARGIN_MS).unref();
    const cut = setTimeout(() => {
      logger.warn('shutdown grace period over: closing the connections of requests still in flight');
      app.server.closeAllConnections();
    }, graceMs);
    try {
      // HTTP and jobs wind down side by side; the store closes after both (requests use it to the end).
      metricsServer?.close();
      await Promise.all([app.close().finally(() => clearTimeout(cut)), container.stopJobs(graceMs)]);
      await container.close();
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
    logger.info('shut down');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  const address = await app.listen({ host: settings.HOST, port: settings.PORT });
  logger.info({ address, database: container.storage.kind }, 'emboss is listening');
  if (!cluster.isWorker && settings.METRICS_PORT !== undefined) {
    const { startMetricsServer } = await import('../http/plugins/metrics.ts');
    metricsServer = await startMetricsServer({ host: settings.METRICS_HOST, port: settings.METRICS_PORT, source: container.metrics, logger });
    const a = metricsServer.address();
    logger.info({ metrics: typeof a === 'object' && a ? `http://${a.address}:${a.port}/metrics` : a }, 'metrics endpoint listening');
  }
  if (container.demoCredentialsFile) {
    logger.info(`demo API client credentials (client id, apikey, secret) are in ${container.demoCredentialsFile}; see the README for a first call`);
  }
  return undefined;
}
