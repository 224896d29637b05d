import { createContainer } from '../container.ts';
import { readBootstrapFile } from '../config/bootstrap.ts';
import { openStorage, StoreLockedError } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import type { Settings } from '../config/env.ts';
import type { Logger } from '../shared/logger.ts';
import cluster from 'node:cluster';
import { join } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { MAX_RECORDS_PER_FILE, type WrittenFile } from '../modules/personalization/index.ts';
import { serveHere } from './serve.ts';
import { servePrimary } from './api-processes.ts';

const HELP = `emboss — card management system

usage: emboss [command]

  serve            start the HTTP API (default); applies migrations and the bootstrap file
  migrate          apply database migrations and exit
  config check F   validate a bootstrap file without applying it
  keys             list stored keys (name, type, check value; never the key)
  issue-batch      mass issue in this process, with a progress bar:
                     --org N --logo N --card-type N --quantity N --customer NUMBER
                     [--credit-limit N] [--expiry YYYY-MM-DD] [--chunk N] [--parallel N]
                     [--records-per-file N]
                   an existing request of the same org/logo/card type is modified (or
                   resumed when the quantity is unchanged)
  files list       personalization files written (name, records, status)
  files flush      write pending personalization records to files now
  files reexport NAME FOLDER   copy a file byte for byte to FOLDER
  tokens revoke CLIENT_ID      revoke every bearer token of a client, at once in every API process
  help             this text

Environment: HOST, PORT, DATABASE_URL, EMBOSS_DATA_DIR, EMBOSS_CONFIG, EMBOSS_MASTER_KEY,
LOG_LEVEL, RATE_LIMIT_PER_MINUTE, EMBOSS_AUTH_FAILURES_PER_MINUTE, EMBOSS_TOKENS_PER_MINUTE,
EMBOSS_TOKEN_LOCKOUT_FAILURES, SIGNATURE_WINDOW_SECONDS, DB_POOL_SIZE, EMBOSS_WORKER,
EMBOSS_API_PROCESSES, EMBOSS_SHUTDOWN_SECONDS (SIGTERM/SIGINT: how long requests and jobs in
flight may take to finish, default 10), EMBOSS_REQUEST_LEASE_SECONDS (how long a request id whose
run died without an answer stays "in progress", default 10).

The embedded database (no DATABASE_URL) belongs to one process at a time: while \`serve\` runs
on a data folder, the other commands on that folder are refused (exit code 75); stop the server
first, or use PostgreSQL (DATABASE_URL), where they can run side by side.
`;

/** Exit code of a command refused because another process holds the embedded database (EX_TEMPFAIL). */
export const EXIT_STORE_IN_USE = 75;

export async function runCli(argv: string[], ctx: { settings: Settings; logger: Logger }): Promise<number | undefined> {
  const command = argv[0] ?? 'serve';
  try {
    return await runCommand(command, argv.slice(1), ctx);
  } catch (err) {
    if (!(err instanceof StoreLockedError)) throw err;
    // What to do instead, for the command given: two openers would break the data folder.
    const instead = command === 'serve'
      ? 'Another emboss already serves from this data folder: stop it first, start this one with another EMBOSS_DATA_DIR, '
        + 'or run both against PostgreSQL (DATABASE_URL=postgres://…).'
      : 'Stop the server that uses it first (emboss serve, npm start), or run against PostgreSQL (DATABASE_URL=postgres://…), '
        + 'where the server and the other commands can work at the same time.';
    process.stderr.write(`emboss ${command}: ${err.message}.\n${instead}\n`);
    return EXIT_STORE_IN_USE;
  }
}

async function runCommand(command: string, rest: string[], ctx: { settings: Settings; logger: Logger }): Promise<number | undefined> {
  const { settings, logger } = ctx;
  switch (command) {
    case 'serve':
      return settings.EMBOSS_API_PROCESSES > 1 && cluster.isPrimary ? servePrimary(settings, logger) : serveHere(settings, logger);
    case 'migrate': {
      const storage = await openStorage(settings.DATABASE_URL ? { databaseUrl: settings.DATABASE_URL } : { dataDir: join(settings.dataDir, 'pgdata') });
      try {
        const applied = await migrateToLatest(storage.db, storage.postgres?.schema);
        logger.info({ migrations: applied }, 'migrations applied');
      } finally {
        await storage.close();
      }
      return 0;
    }
    case 'config': {
      if (rest[0] !== 'check' || !rest[1]) { process.stderr.write('usage: emboss config check FILE\n'); return 64; }
      const parsed = readBootstrapFile(rest[1]);
      process.stdout.write(`${rest[1]}: ${parsed.config.organizations.length} organizations, ${parsed.config.keys.length} keys, ${parsed.config.clients.length} clients: OK\n`);
      return 0;
    }
    case 'keys': {
      const container = await createContainer({ settings, logger, jobs: false });
      for (const k of await container.keys.list()) process.stdout.write(`${k.name}\t${k.type}\t${k.kcv}\t${k.origin}\n`);
      await container.close();
      return 0;
    }
    case 'issue-batch': {
      const args = parseFlags(rest);
      // The run's tuning flags, checked before anything is written: a file is built in memory, so
      // its size stays within MAX_RECORDS_PER_FILE.
      const limits: Record<string, number> = { chunk: Number.MAX_SAFE_INTEGER, parallel: Number.MAX_SAFE_INTEGER, 'records-per-file': MAX_RECORDS_PER_FILE };
      for (const [flag, max] of Object.entries(limits)) {
        const value = args[flag];
        if (value !== undefined && !(/^[0-9]+$/.test(value) && Number(value) >= 1 && Number(value) <= max)) {
          process.stderr.write(`emboss issue-batch: --${flag} must be a whole number from 1${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}\n`);
          return 64;
        }
      }
      const container = await createContainer({ settings, logger, jobs: false });
      try {
        const org = Number(args.org);
        const logo = Number(args.logo);
        const cardType = Number(args['card-type'] ?? 1);
        const existing = await container.issuance.find(org, logo, cardType);
        const actor = { clientId: 'cli', requestId: `cli-${Date.now()}` };
        if (!existing || Number(args.quantity) !== existing.quantity) {
          await container.issuance.submit(actor, {
            organizationNumber: org, logo, cardType, functionType: existing ? 'M' : 'A', quantityToCreate: Number(args.quantity),
            customerNumber: String(args.customer ?? existing?.customer_number ?? ''),
            ...(args['credit-limit'] ? { creditLimit: Number(args['credit-limit']) } : {}),
            ...(args.expiry ? { expiryDate: String(args.expiry) } : {}),
          });
        }
        const request = (await container.issuance.find(org, logo, cardType))!;
        const bar = new SingleBar({ format: 'mass issue {bar} {value}/{total} cards | {rate} cards/s | ETA {eta_formatted}', hideCursor: true }, Presets.shades_classic);
        bar.start(request.quantity, request.created, { rate: 0 });
        const started = Date.now();
        const cpuAtStart = process.cpuUsage();
        // Full bureau files are written while the cards are issued; the remainder after.
        const files: WrittenFile[] = [];
        const result = await container.issuance.run(request.id, {
          actor,
          ...(args.chunk ? { chunk: Number(args.chunk) } : {}),
          ...(args.parallel ? { parallel: Number(args.parallel) } : {}),
          onProgress: (p) => bar.update(p.done, { rate: p.cardsPerSecond }),
          ...(args['records-per-file'] ? { recordsPerFile: Number(args['records-per-file']) } : {}),
          alongside: async () => { files.push(...await container.personalization.writePlanned()); },
        });
        bar.stop();
        const issued = (Date.now() - started) / 1000;
        const during = files.length;
        files.push(...await container.personalization.flush());
        const seconds = (Date.now() - started) / 1000;
        const cpu = process.cpuUsage(cpuAtStart);
        const made = Math.max(1, result.done - request.created);
        process.stdout.write(`${result.done} cards in ${issued.toFixed(1)} s (${Math.round(made / issued)} cards/s, `
          + `${Math.round((cpu.user + cpu.system) / made)} µs CPU per card in this process); `
          + `${files.length} personalization file(s), ${during} of them written alongside the cards, the rest in ${(seconds - issued).toFixed(1)} s more; `
          + `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB\n`);
      } finally {
        await container.close();
      }
      return 0;
    }
    case 'files': {
      const container = await createContainer({ settings, logger, jobs: false });
      try {
        if (rest[0] === 'flush') {
          for (const f of await container.personalization.flush()) process.stdout.write(`${f.name}\t${f.records}\n`);
        } else if (rest[0] === 'reexport' && rest[1] && rest[2]) {
          const info = await container.personalization.reexport(rest[1], rest[2]);
          process.stdout.write(`${info.name} copied to ${rest[2]} (${info.size} bytes)\n`);
        } else {
          for (const f of await container.personalization.files()) process.stdout.write(`${f.name ?? '(planned)'}\t${f.record_count}\t${f.status}\t${f.sha256 ?? ''}\n`);
        }
      } finally {
        await container.close();
      }
      return 0;
    }
    case 'tokens': {
      if (rest[0] !== 'revoke' || !rest[1]) { process.stderr.write('usage: emboss tokens revoke CLIENT_ID\n'); return 64; }
      const container = await createContainer({ settings, logger, jobs: false });
      try {
        const revoked = await container.clients.revokeTokens(rest[1]);
        process.stdout.write(`${revoked} token(s) of ${rest[1]} revoked: refused from now on by every API process\n`);
      } finally {
        await container.close();
      }
      return 0;
    }
    case 'help': case '--help': case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`unknown command ${command}\n${HELP}`);
      return 64;
  }
}

/** --name value pairs. */
function parseFlags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) out[a.slice(2)] = args[i + 1] ?? '';
    if (a.startsWith('--')) i++;
  }
  return out;
}
