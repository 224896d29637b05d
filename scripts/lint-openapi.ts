// `npm run lint` (after eslint): the OpenAPI document the app serves (/openapi.json, the docs page),
// linted by Redocly with redocly.yaml. The app is built as the tests build it (a PGlite copy of the
// migrated store, the test bootstrap): the document depends on the routes only, not on the data.
//
//   node --import tsx scripts/lint-openapi.ts [--out FILE]   also keep the document in FILE
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHarness } from '../test/helpers/harness.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const outArg = process.argv.indexOf('--out');
const dir = mkdtempSync(join(tmpdir(), 'emboss-openapi-'));
const file = outArg > 0 && process.argv[outArg + 1] ? resolve(process.argv[outArg + 1]!) : join(dir, 'openapi.json');

const h = await startHarness('pglite');
try {
  writeFileSync(file, `${JSON.stringify(h.app.swagger(), null, 2)}\n`);
} finally {
  await h.close();
}
const redocly = join(root, 'node_modules', '.bin', 'redocly');
const result = spawnSync(redocly, ['lint', '--config', join(root, 'redocly.yaml'), file], { stdio: 'inherit', cwd: root, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } });
rmSync(dir, { recursive: true, force: true });
process.exit(result.status ?? 1);
