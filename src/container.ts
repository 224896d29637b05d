import type PgBoss from 'pg-boss';
import { join } from 'node:path';
import { isProduction, type Settings } from './config/env.ts';
import { parseBootstrap, readBootstrapFile, type ParsedBootstrap } from './config/bootstrap.ts';
import { demoBootstrap, refuseSandboxKeys } from './config/demo.ts';
import { openStorage, type StorageHandle } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { registerHousekeeping } from './jobs/housekeeping.ts';
import { registerPersonalizationFlush } from './jobs/personalization.ts';
import { massIssueEnqueue, registerMassIssue } from './jobs/mass-issue.ts';
import { registerWebhookDelivery } from './jobs/webhooks.ts';
import { SoftwareSecurityModule } from './security-module/software/software-security-module.ts';
import { loadMasterKey } from './security-module/software/master-key.ts';
import type { SecurityModule } from './security-module/port.ts';
import { audited } from './security-module/audited.ts';
import { KeysService, SYSTEM_KEYS } from './modules/keys/index.ts';
import { OrganizationsService } from './modules/organizations/index.ts';
import { ClientsService } from './modules/clients/index.ts';
import { CustomersService } from './modules/customers/index.ts';
import { AccountsService, accountOwnerQuery } from './modules/accounts/index.ts';
import { IdempotencyService } from './modules/idempotency/index.ts';
import { CardActions, CardInquiries, CardIssuing, CardRepository, CardStateChanges, CardVault, type CardIssuingDeps } from './modules/cards/index.ts';
import { PinsService } from './modules/pins/index.ts';
import { PersonalizationOutbox } from './modules/personalization/index.ts';
import { IssuanceService } from './modules/issuance/index.ts';
import { EventsService } from './modules/events/index.ts';
import { applyBootstrap, type SetupReport } from './modules/setup/index.ts';
import { systemClock, type Clock } from './shared/clock.ts';
import type { Logger } from './shared/logger.ts';
import { createMetrics, type Metrics } from './shared/metrics.ts';

/** Everything the HTTP app, the CLI and the job worker use: built and wired here only. */
export interface Container {
  settings: Settings;
  logger: Logger;
  clock: Clock;
  storage: StorageHandle;
  sm: SecurityModule;
  /** Security-module operations so far, by `operation:outcome`. */
  securityModuleStats: Map<string, number>;
  keys: KeysService;
  organizations: OrganizationsService;
  clients: ClientsService;
  customers: CustomersService;
  accounts: AccountsService;
  /** The cards module's services: issuing, inquiries, state changes, card actions; and the repository of its tables. */
  cards: Cards;
  pins: PinsService;
  personalization: PersonalizationOutbox;
  issuance: IssuanceService;
  idempotency: IdempotencyService;
  /** Card lifecycle events: pull API, webhook endpoints and delivery, replay. */
  events: EventsService;
  queue: PgBoss | undefined;
  setup: SetupReport | undefined;
  /** Where the demo client's credentials are, when running the demo set-up. */
  demoCredentialsFile: string | undefined;
  /** Whether the database answers now (within a couple of seconds); never throws. */
  ready(): Promise<boolean>;
  /**
   * Whether the job queue answers now: pg-boss started and not stopped, its tables read within
   * READY_TIMEOUT_MS. Undefined when this process runs no job queue (`jobs: false`: the command
   * line, the cluster primary). Never throws.
   */
  jobsReady(): Promise<boolean | undefined>;
  /** This process's Prometheus metrics (src/shared/metrics.ts). */
  metrics: Metrics;
  /**
   * Stops the job queue: no job is fetched any more; running jobs get `graceMs` to end (0: none),
   * then those still running are marked failed, to be retried. The store stays open.
   */
  stopJobs(graceMs: number): Promise<void>;
  /** Stops the job queue (if still running, without grace) and closes the store. */
  close(): Promise<void>;
}

export interface Cards {
  issuing: CardIssuing;
  inquiries: CardInquiries;
  stateChanges: CardStateChanges;
  actions: CardActions;
  repository: CardRepository;
}

/** How long a readiness check waits for the database. */
export const READY_TIMEOUT_MS = 2000;

export interface ContainerOptions {
  settings: Settings;
  logger: Logger;
  clock?: Clock;
  /** An already open store (tests); otherwise opened from the settings. */
  storage?: StorageHandle;
  /** Bootstrap text to apply instead of EMBOSS_CONFIG or the demo set-up (tests). */
  bootstrapText?: string;
  /** Environment for `secretEnv` references in the bootstrap file. */
  env?: NodeJS.ProcessEnv;
  /** Start pg-boss (and with EMBOSS_WORKER=on, its workers). Default true. */
  jobs?: boolean;
  /** pg-boss schema (tests isolate by schema). */
  jobSchema?: string;
  /** Skip migrations (a template store that is already migrated). */
  migrate?: boolean;
  /** Test seams of the cards module (a tiny card-number range, a fault between writes). */
  cards?: Pick<CardIssuingDeps, 'drawCardNumber' | 'afterInstantAccount'>;
}

export async function createContainer(options: ContainerOptions): Promise<Container> {
  const { settings, logger } = options;
  const clock = options.clock ?? systemClock;
  const storage = options.storage ?? await openStorage({
    ...(settings.DATABASE_URL ? { databaseUrl: settings.DATABASE_URL } : { dataDir: join(settings.dataDir, 'pgdata') }),
    poolSize: settings.DB_POOL_SIZE,
    // A connection the server ended while nobody used it (a restart): the pool opens another.
    onConnectionError: (err) => logger.warn({ reason: (err as { code?: unknown }).code ?? err.message }, 'database connection lost'),
  });
  let queue: PgBoss | undefined;
  try {
    if (options.migrate !== false) {
      const applied = await migrateToLatest(storage.db, storage.postgres?.schema);
      if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    }

    const masterKey = loadMasterKey({
      fromEnv: settings.EMBOSS_MASTER_KEY,
      keyFile: options.storage && !settings.EMBOSS_MASTER_KEY ? undefined : join(settings.dataDir, 'master.key'),
      warn: (m) => logger.warn(m),
    });
    // Every security-module operation passes the audit wrapper: counted per operation and
    // outcome; refusals and failures are logged (the wrapper never sees values, only key types).
    const securityModuleStats = new Map<string, number>();
    const sm = audited(new SoftwareSecurityModule(masterKey, { batchThread: true }), (event) => {
      const key = `${event.operation}:${event.outcome}`;
      securityModuleStats.set(key, (securityModuleStats.get(key) ?? 0) + 1);
      if (event.outcome !== 'ok') logger.warn({ securityModule: event }, 'security module operation refused');
    });
    const db = storage.db;
    const keys = new KeysService(db, sm);
    const organizations = new OrganizationsService(db);
    const clients = new ClientsService(db, sm, clock, {
      perClientPerMinute: settings.RATE_LIMIT_PER_MINUTE,
      authFailuresPerAddressPerMinute: settings.EMBOSS_AUTH_FAILURES_PER_MINUTE,
      tokensPerMinute: settings.EMBOSS_TOKENS_PER_MINUTE,
      tokenLockoutFailures: settings.EMBOSS_TOKEN_LOCKOUT_FAILURES,
      processes: settings.EMBOSS_API_PROCESSES,
    });

    // Bootstrap: the given text, the operator's file, or the demo set-up.
    let parsed: ParsedBootstrap;
    let demoCredentialsFile: string | undefined;
    let env = options.env ?? process.env;
    if (options.bootstrapText !== undefined) {
      parsed = parseBootstrap(options.bootstrapText, 'bootstrap');
    } else if (settings.EMBOSS_CONFIG) {
      parsed = readBootstrapFile(settings.EMBOSS_CONFIG);
    } else {
      const demo = demoBootstrap(settings.dataDir, { production: isProduction(settings) });
      parsed = parseBootstrap(demo.yaml, 'demo-bootstrap');
      env = { ...env, EMBOSS_DEMO_SECRET: demo.credentials.secret };
      demoCredentialsFile = demo.credentialsFile;
    }
    refuseSandboxKeys(parsed, isProduction(settings));
    const setup = await applyBootstrap({ db, sm, keys, organizations, clients, env }, parsed);
    logger.info({ keysCreated: setup.keysCreated.length, organizations: setup.organizations, logos: setup.logos, clients: setup.clients }, 'configuration applied');

    const [dek, hmk, tok] = [await keys.require(SYSTEM_KEYS[0]!.name, 'DEK'), await keys.require(SYSTEM_KEYS[1]!.name, 'HMK'), await keys.require(SYSTEM_KEYS[2]!.name, 'TOK')];
    const vault = new CardVault(sm, keys, { dek: dek.keyBlock, hmk: hmk.keyBlock, tok: tok.keyBlock });
    const personalization = new PersonalizationOutbox({ db, sm, keys, clock, logger, folder: settings.EMBOSS_PERSONALIZATION_DIR ?? join(settings.dataDir, 'personalization') });
    // The job queue starts before the services that send jobs, so they get it when built.
    if (options.jobs !== false) {
      // pg-boss is loaded only by processes that run jobs (a mass issue from the command line starts sooner without it).
      const { startQueue } = await import('./jobs/queue.ts');
      queue = await startQueue(storage, logger, options.jobSchema ? { schema: options.jobSchema } : {});
    }
    // Built bottom-up, each from what is below it: no setters, no cycles. Customers and accounts
    // read each other's tables only through a read-only query handed in (accountOwnerQuery,
    // the repository's accountOfCard).
    const repository = new CardRepository(db, vault);
    const customers = new CustomersService(db, organizations, clock, accountOwnerQuery(db));
    const accounts = new AccountsService(db, organizations, customers, clock, (org, card) => repository.accountOfCard(org, card));
    const issuing = new CardIssuing({ db, repository, vault, keys, organizations, accounts, customers, personalization, clock, ...options.cards });
    const cards: Cards = {
      issuing,
      inquiries: new CardInquiries({ db, repository, vault, organizations }),
      stateChanges: new CardStateChanges({ db, repository, organizations, accounts, clock }),
      actions: new CardActions({ db, repository, issuing, sm, keys, organizations, accounts, personalization, clock }),
      repository,
    };
    const issuance = new IssuanceService({ db, organizations, customers, accounts, cards, keys, personalization, clock, logger, ...(queue ? { enqueue: massIssueEnqueue(queue) } : {}) });
    const pins = new PinsService({
      db, sm, keys, organizations, cards: repository, clock,
      dailyCaps: { verifications: settings.EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY, unblocks: settings.EMBOSS_UNBLOCKS_PER_CARD_PER_DAY },
    });
    const idempotency = new IdempotencyService(db, clock, {
      seal: (clear) => sm.encryptData(dek.keyBlock, clear),
      open: (sealed) => sm.decryptData(dek.keyBlock, sealed),
    }, settings.EMBOSS_REQUEST_LEASE_SECONDS);
    const metrics = createMetrics();
    const events = new EventsService({
      db, logger,
      seal: (clear) => sm.encryptData(dek.keyBlock, clear),
      open: (sealed) => sm.decryptData(dek.keyBlock, sealed),
      backoffBaseMs: settings.EMBOSS_WEBHOOK_BACKOFF_MS,
      retryHours: settings.EMBOSS_WEBHOOK_RETRY_HOURS,
      onDelivered: (lagSeconds) => metrics.recordWebhookDeliveryLag(lagSeconds),
    });

    // Aborted when the container closes: jobs waiting for the database to come back stop waiting.
    const stopping = new AbortController();
    if (queue) {
      const outage = { ping: (ms: number) => storage.ping(ms), logger, stopping: stopping.signal };
      await registerHousekeeping(queue, { clients, idempotency, pins, logger, outage }, { work: settings.EMBOSS_WORKER === 'on' });
      await registerPersonalizationFlush(queue, { personalization, logger, outage }, { work: settings.EMBOSS_WORKER === 'on' });
      await registerMassIssue(queue, { issuance, logger, outage }, { work: settings.EMBOSS_WORKER === 'on' });
      await registerWebhookDelivery(queue, { events, logger, outage, backoffBaseMs: settings.EMBOSS_WEBHOOK_BACKOFF_MS }, { work: settings.EMBOSS_WORKER === 'on' });
      const boss = queue;
      metrics.useQueueDepth(async () => {
        const depth: Record<string, number> = {};
        for (const q of await boss.getQueues()) depth[q.name] = await boss.getQueueSize(q.name);
        return depth;
      });
    }

    let jobsStopped: Promise<void> | undefined;
    const stopJobs = (graceMs: number) => jobsStopped ??= (async () => {
      stopping.abort();
      metrics.useQueueDepth(undefined);
      if (!queue) return;
      try {
        // pg-boss marks the jobs still running after graceMs failed, so they are retried (by
        // another process, or at the next start).
        await queue.stop({ graceful: graceMs > 0, timeout: graceMs, wait: true, close: true } as PgBoss.StopOptions);
      } catch (err) {
        // With the database away pg-boss cannot mark its running jobs: they expire and are retried.
        logger.warn({ err }, 'job queue stopped with an error');
      }
    })();

    return {
      settings, logger, clock, storage, sm, securityModuleStats, keys, organizations, clients, customers, accounts, cards, pins, personalization, issuance, idempotency, events, queue, setup,
      demoCredentialsFile,
      ready: () => storage.ping(READY_TIMEOUT_MS),
      async jobsReady() {
        if (!queue) return undefined;
        if (jobsStopped) return false;
        let timer: NodeJS.Timeout | undefined;
        return Promise.race([
          queue.getQueues().then(() => true, () => false),
          new Promise<boolean>((r) => { timer = setTimeout(() => r(false), READY_TIMEOUT_MS); }),
        ]).finally(() => clearTimeout(timer));
      },
      metrics,
      stopJobs,
      async close() {
        await stopJobs(0);
        if (!options.storage) await storage.close();
      },
    };
  } catch (err) {
    await queue?.stop({ graceful: false, wait: true, close: true } as PgBoss.StopOptions).catch(() => undefined);
    if (!options.storage) await storage.close();
    throw err;
  }
}
