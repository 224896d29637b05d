import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { resolve } from 'node:path';
import { ConfigError } from '../shared/errors.ts';

/** Process settings from the environment, validated once at boot. */
const EnvSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  EMBOSS_DATA_DIR: Type.String({ default: './.emboss' }),
  EMBOSS_CONFIG: Type.Optional(Type.String()),
  /** Where personalization files for the card bureau are written; default <data dir>/personalization. */
  EMBOSS_PERSONALIZATION_DIR: Type.Optional(Type.String()),
  EMBOSS_MASTER_KEY: Type.Optional(Type.String()),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' }),
  /** Requests per authenticated client per minute before 429, counted across all API processes. */
  RATE_LIMIT_PER_MINUTE: Type.Integer({ minimum: 1, default: 6000 }),
  /** Failed authentications per source address per minute before that address gets 429. */
  EMBOSS_AUTH_FAILURES_PER_MINUTE: Type.Integer({ minimum: 1, default: 30 }),
  /** POST /token requests per address, and tokens issued per client, per minute. */
  EMBOSS_TOKENS_PER_MINUTE: Type.Integer({ minimum: 1, default: 60 }),
  /** Wrong secrets for one client id from one address before that pair is locked out for 15 minutes. */
  EMBOSS_TOKEN_LOCKOUT_FAILURES: Type.Integer({ minimum: 1, default: 10 }),
  /** Allowed clock difference for signed requests, seconds. */
  SIGNATURE_WINDOW_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  DB_POOL_SIZE: Type.Integer({ minimum: 1, default: 10 }),
  /**
   * How long a reserved request id stays blocked ("in progress") without an answer: after that, a
   * retry of a request whose process died runs it (its uncommitted effect left nothing). Seconds.
   */
  EMBOSS_REQUEST_LEASE_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 10 }),
  /**
   * API processes sharing the port (node:cluster), to use more than one core: PostgreSQL only
   * (PGlite belongs to one process). Each is a whole emboss (HTTP API and job worker); rate
   * limits are counted per process.
   */
  EMBOSS_API_PROCESSES: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  /**
   * On SIGTERM/SIGINT, how long requests in flight and running jobs may take to finish before
   * their connections are closed and the process ends (each API process counts its own).
   */
  EMBOSS_SHUTDOWN_SECONDS: Type.Integer({ minimum: 0, maximum: 3600, default: 10 }),
  /**
   * Per card and per UTC day: verifications (PIN validation, the current PIN of a PIN change,
   * CVV2 verification; right or wrong) and PIN unblocks, beyond which they are refused (pins
   * module), so that unblocking after every third wrong PIN does not give endless guesses.
   */
  EMBOSS_VERIFICATIONS_PER_CARD_PER_DAY: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 20 }),
  EMBOSS_UNBLOCKS_PER_CARD_PER_DAY: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 2 }),
  /**
   * Port of the Prometheus metrics endpoint (GET /metrics), apart from the API port; unset: no
   * metrics endpoint. With EMBOSS_API_PROCESSES > 1 the primary process serves it, summed over the
   * API processes.
   */
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  /** Address the metrics endpoint listens on: loopback by default (the metrics are not public). */
  METRICS_HOST: Type.String({ default: '127.0.0.1' }),
  /**
   * Webhook delivery (docs/events.md): the wait before the first retry of a failed delivery,
   * milliseconds; each next wait doubles, up to an hour. Rounds of delivery also run at most this
   * far apart (at least 0.5 s, at most 5 s) to pick up new events.
   */
  EMBOSS_WEBHOOK_BACKOFF_MS: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 5000 }),
  /** A failing webhook delivery is retried for this long (its last attempt is at least this late), hours. */
  EMBOSS_WEBHOOK_RETRY_HOURS: Type.Number({ minimum: 0, maximum: 720, default: 24 }),
  /** Run the background job worker in this process. */
  EMBOSS_WORKER: Type.Union([Type.Literal('on'), Type.Literal('off')], { default: 'on' }),
  /**
   * `production` refuses what is only for trying emboss out: the demo set-up and the published
   * sandbox keys (src/config/demo.ts). NODE_ENV=production counts as production too.
   */
  EMBOSS_ENV: Type.Union([Type.Literal('development'), Type.Literal('production')], { default: 'development' }),
  NODE_ENV: Type.Optional(Type.String({ maxLength: 64 })),
});

export type Env = Static<typeof EnvSchema>;

export interface Settings extends Env {
  dataDir: string;
}

export function loadSettings(source: NodeJS.ProcessEnv = process.env): Settings {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const converted = Value.Default(EnvSchema, Value.Convert(EnvSchema, raw));
  const errors = [...Value.Errors(EnvSchema, converted)];
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new ConfigError(`environment variable ${first.path.slice(1)}: ${first.message}`);
  }
  const env = converted as Env;
  if (env.EMBOSS_API_PROCESSES > 1 && !env.DATABASE_URL) throw new ConfigError('EMBOSS_API_PROCESSES above 1 needs DATABASE_URL: the embedded PGlite store belongs to one process');
  return { ...env, dataDir: resolve(env.EMBOSS_DATA_DIR) };
}

/** Production mode: EMBOSS_ENV=production or NODE_ENV=production. */
export function isProduction(settings: Pick<Env, 'EMBOSS_ENV' | 'NODE_ENV'>): boolean {
  return settings.EMBOSS_ENV === 'production' || settings.NODE_ENV === 'production';
}
