import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createContainer, type Container } from '../../src/container.ts';
import { buildApp, type App } from '../../src/http/app.ts';
import { loadSettings } from '../../src/config/env.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { openTestStore, type TestStore } from '../helpers/storage.ts';

/**
 * The README's walk-through is examples/walkthrough.ts: run here as a user runs it (a child
 * process, `tsx examples/walkthrough.ts <base url>`), against a fresh server with the demo set-up
 * (no bootstrap text: the demo credentials file, with its sandbox keys, is written as `npm start`
 * writes it).
 */
describe('README walk-through (examples/walkthrough.ts) against the demo set-up', () => {
  let dataDir: string;
  let store: TestStore;
  let container: Container;
  let app: App;
  let baseUrl: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'emboss-walkthrough-'));
    store = await openTestStore('pglite');
    const settings = { ...loadSettings({}), dataDir, EMBOSS_DATA_DIR: dataDir };
    container = await createContainer({ settings, logger: createLogger({ level: 'silent' }), storage: store.storage, jobs: false, migrate: false, env: {} });
    app = await buildApp(container);
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    await container.close();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the README shows the script: its calls are the script\'s, its output lines the script\'s steps', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## A walk-through with the typed client'), readme.indexOf('\n## ', readme.indexOf('## A walk-through with the typed client') + 5));
    const script = readFileSync('examples/walkthrough.ts', 'utf8');
    const calls = (text: string) => new Set([...text.matchAll(/emboss\.(GET|POST|PUT)\('([^']+)'/g)].map((m) => `${m[1]} ${m[2]}`));
    assert.deepEqual([...calls(section)].sort(), [...calls(script)].filter((c) => c !== 'POST /cards/v2/embosser/details').sort());
    const shown = [...section.matchAll(/^# (\S.*?)\s{2,}/gm)].map((m) => m[1]);
    const printed = [...script.matchAll(/step\('([^']+)'/g)].map((m) => m[1]);
    assert.deepEqual(shown, printed);
  });

  test('every step of the script succeeds, and what it prints is what the README shows', async (t) => {
    assert.equal(container.demoCredentialsFile, join(dataDir, 'demo-credentials.json'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/walkthrough.ts', baseUrl], {
      env: { ...process.env, EMBOSS_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, `${out}\n${err}`);
    t.diagnostic(out);
    for (const step of ['customer add', 'account add', 'card add (PAN token)', 'card-pan: token → number', 'card-pan: number → token',
      'security codes', 'PIN (read from its block)', 'PIN validation', 'dCVV2', 'dCVV2 verification']) {
      assert.ok(out.split('\n').some((l) => l.startsWith(step + ' ')), `step "${step}" in\n${out}`);
    }
    assert.match(out, /dCVV2 verification\s+MATCH \(dynamic/i);
    // Nothing secret on the screen: the PIN is masked, the number shortened.
    const credentials = JSON.parse(readFileSync(join(dataDir, 'demo-credentials.json'), 'utf8'));
    assert.ok(!out.includes(credentials.secret));
    assert.match(out, /PIN \(read from its block\)\s+••••\n/);
  });
});
