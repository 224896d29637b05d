import { createContainer } from '../container.ts';
import { buildApp } from '../http/app.ts';
import { readBootstrapFile } from '../config/bootstrap.ts';
import { openStorage } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import type { Settings } from '../config/env.ts';
import type { Logger } from '../shared/logger.ts';
import { join } from 'node:path';

const HELP = `emboss — card management system

usage: emboss [command]

  serve            start the HTTP API (default); applies migrations and the bootstrap file
  migrate          apply database migrations and exit
  config check F   validate a bootstrap file without applying it
  keys             list stored keys (name, type, check value; never the key)
  help             this text

Environment: HOST, PORT, DATABASE_URL, EMBOSS_DATA_DIR, EMBOSS_CONFIG, EMBOSS_MASTER_KEY,
LOG_LEVEL, RATE_LIMIT_PER_MINUTE, SIGNATURE_WINDOW_SECONDS, DB_POOL_SIZE, EMBOSS_WORKER.
`;

export async function runCli(argv: string[], ctx: { settings: Settings; logger: Logger }): Promise<number | undefined> {
  const [command = 'serve', ...rest] = argv;
  const { settings, logger } = ctx;
  switch (command) {
    case 'serve': {
      const container = await createContainer({ settings, logger });
      const app = await buildApp(container);
      const shutdown = async (signal: string) => {
        logger.info({ signal }, 'shutting down');
        await app.close();
        await container.close();
        process.exit(0);
      };
      process.once('SIGINT', () => void shutdown('SIGINT'));
      process.once('SIGTERM', () => void shutdown('SIGTERM'));
      const address = await app.listen({ host: settings.HOST, port: settings.PORT });
      logger.info({ address, database: container.storage.kind }, 'emboss is listening');
      if (container.demoCredentialsFile) {
        logger.info(`demo API client credentials (client id, apikey, secret) are in ${container.demoCredentialsFile}; see the README for a first call`);
      }
      return undefined;
    }
    case 'migrate': {
      const storage = await openStorage(settings.DATABASE_URL ? { databaseUrl: settings.DATABASE_URL } : { dataDir: join(settings.dataDir, 'pgdata') });
      const applied = await migrateToLatest(storage.db, storage.postgres?.schema);
      logger.info({ migrations: applied }, 'migrations applied');
      await storage.close();
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
    case 'help': case '--help': case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`unknown command ${command}\n${HELP}`);
      return 64;
  }
}
