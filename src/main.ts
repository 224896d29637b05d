import { ConfigError } from './shared/errors.ts';
import { runCli, type CliContext } from './cli/index.ts';

/**
 * The settings (from the environment) and the logger, made once a command is to run (runCli):
 * help and a wrong command line need neither.
 */
async function context(command: string): Promise<CliContext> {
  const [{ loadSettings }, { createLogger }, { isStoreUnavailable }] = await Promise.all([
    import('./config/env.ts'), import('./shared/logger.ts'), import('./shared/store-unavailable.ts'),
  ]);
  const settings = loadSettings();
  // Results on stdout, logs on stderr: a command's stdout is its output (data with --json). `serve`
  // (the default command) logs on stdout, as servers do: its logs are its output.
  const logger = createLogger({ level: settings.LOG_LEVEL, stderr: command !== 'serve' });
  // pg-boss records a job's completion or failure without awaiting it: while the database is away
  // that promise rejects with nobody to catch it, and Node would end the process for it. Such a
  // rejection is an outage (the job expires and is retried); anything else stays fatal, as by default.
  process.on('unhandledRejection', (reason) => {
    if (isStoreUnavailable(reason)) {
      logger.warn({ reason: (reason as { code?: unknown }).code ?? (reason as Error).message }, 'a background database operation failed: the database is unreachable');
      return;
    }
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(1);
  });
  return { settings, logger };
}

/** Entry point: `serve` (default), `migrate`, `keys`, `config check` — see `emboss help`. */
async function main() {
  const code = await runCli(process.argv.slice(2), context);
  if (code !== undefined) process.exit(code);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`emboss: configuration error: ${err.message}\n`);
    process.exit(78);
  }
  // The redacting logger is not reachable here; print the type and message only.
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`emboss: ${e.name}: ${e.message}\n`);
  process.exit(1);
});
