import { loadSettings } from './config/env.ts';
import { createLogger } from './shared/logger.ts';
import { ConfigError } from './shared/errors.ts';
import { runCli } from './cli/index.ts';

/** Entry point: `serve` (default), `migrate`, `keys`, `config check` — see `emboss help`. */
async function main() {
  const settings = loadSettings();
  const logger = createLogger({ level: settings.LOG_LEVEL });
  const code = await runCli(process.argv.slice(2), { settings, logger });
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
