import cluster, { type Worker } from 'node:cluster';
import { createContainer } from '../container.ts';
import type { Settings } from '../config/env.ts';
import type { Logger } from '../shared/logger.ts';
import { DEFAULT_RESTART_POLICY, RestartPolicy } from './restart-policy.ts';
import { clusterMetrics } from '../shared/metrics.ts';

/** A process that neither listens nor ends by then is stuck in its start: it is killed (a failed start). */
const START_TIMEOUT_MS = 120_000;
/** What the API processes' own shutdown may take beyond EMBOSS_SHUTDOWN_SECONDS before they are killed. */
const STOP_MARGIN_MS = 10_000;

/** The young generation's semi-space of an API process, in MiB (V8's default on 64-bit: 16). */
export const API_SEMI_SPACE_MB = 32;

/**
 * The Node options of an API process: this process's, and a larger young generation unless the
 * operator set its size. A request makes many short-lived objects; with 16 MiB semi-spaces a card
 * add under load spent 8 % of its CPU collecting them, with 32 MiB 4.6 % (perf, same load), for
 * at most 48 MiB more memory a process.
 */
export function apiProcessArgs(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  const set = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].some((a) => /^--max-semi-space-size(=|$)/.test(a));
  return set ? [...execArgv] : [...execArgv, `--max-semi-space-size=${API_SEMI_SPACE_MB}`];
}

/**
 * `serve` with EMBOSS_API_PROCESSES > 1: this process prepares the store once (migrations, the
 * bootstrap file, the master key file), then starts that many emboss processes, which share the
 * port (each accepts connections from the shared socket) and PostgreSQL, where uniqueness, counters
 * and idempotency are decided.
 *
 * It stays up as long as it is not told to stop: a process that dies is started again after a
 * backoff (RestartPolicy), and each restart is logged. It exits non-zero only when it cannot serve
 * at all: DEFAULT_RESTART_POLICY.maxFailedStarts starts in a row never reached listening while no
 * other process was serving. SIGTERM/SIGINT stop the processes (each shuts down gracefully, see
 * serveHere) and then this one, with 0.
 */
export async function servePrimary(settings: Settings, logger: Logger, policyOptions = DEFAULT_RESTART_POLICY): Promise<undefined> {
  const prepared = await createContainer({ settings, logger, jobs: false });
  await prepared.close();
  // The processes accept connections from the shared socket themselves. With node:cluster's
  // default on Linux (round robin), this process accepts each connection and hands it over; one
  // handed to a process that dies at that moment is never answered nor closed (a client hangs
  // until its own timeout: the fault suite's kill -9 found one such request per run). Accepted by
  // the process itself, a connection dies with it (a reset the client can retry at once), and
  // those still in the socket's queue go to the others.
  // Node's own NODE_CLUSTER_SCHED_POLICY (rr | none), when an operator sets it, decides instead.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ execArgv: apiProcessArgs(process.execArgv, process.env.NODE_OPTIONS) });
  const policy = new RestartPolicy(policyOptions);
  let stopping = false;
  /** The process being started: one at a time (two pg-boss instances starting together can deadlock). */
  let starting: Worker | undefined;
  let startTimer: NodeJS.Timeout | undefined;
  let restarts = 0;
  /** Since when each listening process listens. */
  const listeningSince = new Map<number, number>();
  // Not the dead: node:cluster may keep an exited process in cluster.workers until its channel closes.
  const running = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  /**
   * Starts the next missing process after `delayMs`, unless one is starting or waiting to. The timer
   * is not unref'd: while processes are missing, this process has something to do and stays.
   */
  const startMissing = (delayMs: number) => {
    if (stopping || starting || startTimer || running().length >= settings.EMBOSS_API_PROCESSES) return;
    startTimer = setTimeout(() => {
      startTimer = undefined;
      if (stopping || running().length >= settings.EMBOSS_API_PROCESSES) return;
      const worker = cluster.fork();
      starting = worker;
      const stuck = setTimeout(() => {
        logger.error({ pid: worker.process.pid, seconds: START_TIMEOUT_MS / 1000 }, 'an API process did not start listening in time; killing it');
        worker.process.kill('SIGKILL');
      }, START_TIMEOUT_MS);
      worker.once('listening', () => {
        clearTimeout(stuck);
        listeningSince.set(worker.id, Date.now());
        policy.listening();
        if (starting === worker) starting = undefined;
        startMissing(0);
      });
      worker.once('exit', () => clearTimeout(stuck));
    }, delayMs);
  };

  cluster.on('exit', (worker, code, signal) => {
    const since = listeningSince.get(worker.id);
    listeningSince.delete(worker.id);
    if (starting === worker) starting = undefined;
    if (stopping) return;
    const decision = policy.exited(since === undefined ? undefined : Date.now() - since, listeningSince.size);
    if ('giveUp' in decision) {
      logger.fatal({ pid: worker.process.pid, code, signal, failedStarts: policy.failedInARow }, 'no API process could start; giving up');
      process.exit(1);
    }
    restarts++;
    logger.error({ pid: worker.process.pid, code, signal, restartInSeconds: decision.restartInMs / 1000, restarts, serving: listeningSince.size },
      'an API process stopped; starting another');
    startMissing(decision.restartInMs);
  });

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearTimeout(startTimer);
    logger.info({ signal }, 'shutting down the API processes');
    const workers = running();
    let left = workers.length;
    if (left === 0) process.exit(0);
    setTimeout(() => {
      logger.error('API processes did not stop in time; killing them');
      for (const w of running()) w.process.kill('SIGKILL');
      process.exit(1);
    }, settings.EMBOSS_SHUTDOWN_SECONDS * 1000 + STOP_MARGIN_MS).unref();
    for (const w of workers) {
      w.once('exit', () => { if (--left === 0) process.exit(0); });
      w.process.kill('SIGTERM');
    }
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  startMissing(0);
  logger.info({ processes: settings.EMBOSS_API_PROCESSES, port: settings.PORT }, 'emboss API processes starting');
  if (settings.METRICS_PORT !== undefined) {
    // The API processes share the API port, so a scrape there would reach one of them at random:
    // this process serves the metrics instead, asking each API process for its own and adding
    // them up (prom-client's AggregatorRegistry over node:cluster's channel).
    const { startMetricsServer } = await import('../http/plugins/metrics.ts');
    const server = await startMetricsServer({ host: settings.METRICS_HOST, port: settings.METRICS_PORT, source: clusterMetrics(), logger });
    server.unref();
    const a = server.address();
    logger.info({ metrics: typeof a === 'object' && a ? `http://${a.address}:${a.port}/metrics` : a }, 'metrics endpoint listening (summed over the API processes)');
  }
  return undefined;
}
