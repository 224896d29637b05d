import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus metrics (prom-client), one registry per container: counted by the HTTP
 * layer (src/http/plugins/metrics.ts) and the composition root, never by the domain modules, which
 * do not import this file (they report through callbacks the container wires here).
 *
 * Served only on METRICS_PORT (src/http/plugins/metrics.ts, startMetricsServer), never on the API port.
 * With EMBOSS_API_PROCESSES > 1 the primary serves the sum over the API processes (prom-client's
 * AggregatorRegistry over node:cluster's channel: counters and histograms added, the queue depth
 * its maximum, as every process sees the same queue).
 */
export interface Metrics {
  registry: Registry;
  /** One answered HTTP request: its route pattern (never the raw URL), its status, its duration. */
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** One refusal sent, by its envelope code. */
  refusal(code: string, status: number): void;
  /** Cards issued (card add, instant card). */
  cardsIssued(channel: 'api', count?: number): void;
  /** A wrong PIN (`wrong_pin`), or a PIN refused as blocked, the try that blocked it included (`tries_exceeded`). */
  pinFailure(reason: 'wrong_pin' | 'tries_exceeded'): void;
  /**
   * Seconds from an event's creation to its webhook's successful delivery. For the events module
   * to call (through a callback the container wires); the histogram appears on the first call.
   */
  recordWebhookDeliveryLag(seconds: number): void;
  /** Where the job queue depth comes from (jobs waiting, by queue); unset: no queue in this process. */
  useQueueDepth(source: (() => Promise<Record<string, number>>) | undefined): void;
  /** Process metrics (CPU, memory, event loop lag, GC) as well: for a serving process, once. */
  collectProcessMetrics(): void;
  /** The exposition text. */
  text(): Promise<string>;
  contentType: string;
}

/** Seconds a scrape waits for the queue depth before leaving it out. */
const QUEUE_DEPTH_TIMEOUT_MS = 1000;
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const requests = new Counter({ name: 'emboss_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
  const duration = new Histogram({
    name: 'emboss_http_request_duration_seconds', help: 'HTTP request duration, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'], buckets: LATENCY_BUCKETS, registers,
  });
  const refusals = new Counter({ name: 'emboss_http_refusals_total', help: 'Error envelopes sent, by error code and status', labelNames: ['code', 'status'], registers });
  const cards = new Counter({ name: 'emboss_cards_issued_total', help: 'Cards issued through the API (card add, instant card)', labelNames: ['channel'], registers });
  const pins = new Counter({ name: 'emboss_pin_failures_total', help: 'PIN verifications refused: wrong_pin, or tries_exceeded (the PIN is blocked)', labelNames: ['reason'], registers });
  let depth: (() => Promise<Record<string, number>>) | undefined;
  new Gauge({
    name: 'emboss_job_queue_depth', help: 'Jobs waiting to be fetched (created or retry), by pg-boss queue',
    labelNames: ['queue'], registers, aggregator: 'max',
    async collect() {
      this.reset();
      if (!depth) return;
      let timer: NodeJS.Timeout | undefined;
      const sizes = await Promise.race([
        depth().catch(() => undefined),
        new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), QUEUE_DEPTH_TIMEOUT_MS); }),
      ]).finally(() => clearTimeout(timer));
      // The database not answering: no sample (readiness says why), rather than a stale one.
      for (const [queue, size] of Object.entries(sizes ?? {})) this.set({ queue }, size);
    },
  });
  let lag: Histogram | undefined;
  let processMetrics = false;
  return {
    registry,
    contentType: registry.contentType,
    httpRequest(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    refusal: (code, status) => refusals.inc({ code, status: String(status) }),
    cardsIssued: (channel, count = 1) => cards.inc({ channel }, count),
    pinFailure: (reason) => pins.inc({ reason }),
    recordWebhookDeliveryLag(seconds) {
      lag ??= new Histogram({
        name: 'emboss_webhook_delivery_lag_seconds', help: 'Seconds from an event to its webhook delivery',
        buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600], registers,
      });
      lag.observe(seconds);
    },
    useQueueDepth(source) { depth = source; },
    collectProcessMetrics() {
      if (processMetrics) return;
      processMetrics = true;
      collectDefaultMetrics({ register: registry, prefix: 'emboss_' });
    },
    text: () => registry.metrics(),
  };
}

/** In an API process under node:cluster: answer the primary's metrics requests with these metrics. */
export function shareWithPrimary(metrics: Metrics): void {
  AggregatorRegistry.setRegistries([metrics.registry]);
}

/** In the cluster primary: the API processes' metrics, aggregated (they answer within five seconds). */
export function clusterMetrics(): { text: () => Promise<string>; contentType: string } {
  const aggregator = new AggregatorRegistry();
  return { text: () => aggregator.clusterMetrics(), contentType: aggregator.contentType };
}
