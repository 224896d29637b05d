import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContainer } from '../../src/container.ts';
import { isProduction, loadSettings } from '../../src/config/env.ts';
import { SANDBOX_KEYS, SANDBOX_ZEK_COMPONENTS, SANDBOX_ZPK_COMPONENTS } from '../../src/config/demo.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { ConfigError } from '../../src/shared/errors.ts';
import { combineComponents } from '../../clients/typescript/crypto.ts';
import { openTestStore, type TestStore } from '../helpers/storage.ts';

/** The demo set-up's sandbox keys: published, written for the user, and refused in production mode. */
describe('demo set-up: sandbox keys', () => {
  let store: TestStore;
  const dirs: string[] = [];
  const dataDir = () => { const d = mkdtempSync(join(tmpdir(), 'emboss-demo-')); dirs.push(d); return d; };
  const start = (dir: string, env: NodeJS.ProcessEnv = {}, bootstrapText?: string) => createContainer({
    settings: { ...loadSettings(env), dataDir: dir, EMBOSS_DATA_DIR: dir }, logger: createLogger({ level: 'silent' }),
    storage: store.storage, jobs: false, migrate: false, env: {}, ...(bootstrapText !== undefined ? { bootstrapText } : {}),
  });
  before(async () => { store = await openTestStore('pglite'); });
  after(async () => {
    await store.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('the credentials file carries the sandbox keys (components, key, check value) next to the client; the server holds the same keys', async () => {
    const dir = dataDir();
    const container = await start(dir);
    try {
      const file = join(dir, 'demo-credentials.json');
      assert.equal(container.demoCredentialsFile, file);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const credentials = JSON.parse(readFileSync(file, 'utf8'));
      assert.deepEqual(credentials.sandboxKeys, SANDBOX_KEYS);
      assert.match(credentials.sandboxKeys.warning, /TEST-ONLY/);
      for (const k of [credentials.sandboxKeys.zpk, credentials.sandboxKeys.zpkAes, credentials.sandboxKeys.zek]) {
        assert.equal(k.key, combineComponents(k.components));
        assert.equal((await container.keys.find(k.name))?.kcv, k.kcv, `${k.name}: the server's check value`);
      }
      assert.equal(SANDBOX_KEYS.zpk.key, combineComponents(SANDBOX_ZPK_COMPONENTS));
    } finally {
      await container.close();
    }
  });

  test('a data folder from before the sandbox keys keeps its client and gets the keys added', async () => {
    const dir = dataDir();
    const old = { clientId: 'demo', apikey: 'demo-0123456789abcdef01234567', secret: 'an-old-demo-secret-0123456789', organizationNumber: 100, logo: 1, keyAssociation: 'IYY' };
    writeFileSync(join(dir, 'demo-credentials.json'), JSON.stringify(old), { mode: 0o600 });
    const container = await start(dir);
    await container.close();
    const credentials = JSON.parse(readFileSync(join(dir, 'demo-credentials.json'), 'utf8'));
    assert.deepEqual(credentials, { ...old, sandboxKeys: SANDBOX_KEYS });
  });

  test('production mode (EMBOSS_ENV=production or NODE_ENV=production) refuses the demo set-up, and the sandbox keys in any bootstrap file', async () => {
    assert.equal(isProduction(loadSettings({})), false);
    assert.equal(isProduction(loadSettings({ EMBOSS_ENV: 'production' })), true);
    assert.equal(isProduction(loadSettings({ NODE_ENV: 'production' })), true);
    assert.equal(isProduction(loadSettings({ NODE_ENV: 'test' })), false);
    assert.throws(() => loadSettings({ EMBOSS_ENV: 'staging' }), /EMBOSS_ENV/);

    for (const env of [{ EMBOSS_ENV: 'production' }, { NODE_ENV: 'production' }]) {
      const dir = dataDir();
      await assert.rejects(start(dir, env), (err: Error) => err instanceof ConfigError && /demo set-up .*refused in production/.test(err.message));
      assert.throws(() => readFileSync(join(dir, 'demo-credentials.json')), /ENOENT/, 'nothing written');
    }

    // The sandbox ZEK given as one component, its parity bits flipped: still the sandbox key.
    const flipped = Buffer.from(combineComponents(SANDBOX_ZEK_COMPONENTS), 'hex').map((b) => b ^ 1);
    const file = `keys:
  - { name: bank.zpk, type: ZPK, generate: true }
  - { name: bank.zek, type: ZEK, components: ["${Buffer.from(flipped).toString('hex').toUpperCase()}"] }
`;
    await assert.rejects(start(dataDir(), { EMBOSS_ENV: 'production' }, file), (err: Error) =>
      err instanceof ConfigError && /^bootstrap:3: key bank\.zek is the published sandbox key sandbox\.zek/.test(err.message));
    await assert.rejects(start(dataDir(), { EMBOSS_ENV: 'production' }, `keys:\n  - { name: bank.zpk, type: ZPK, components: ["${SANDBOX_ZPK_COMPONENTS[1]}", "${SANDBOX_ZPK_COMPONENTS[0]}"] }\n`),
      /sandbox key sandbox\.zpk/);
    // Other keys are fine in production; the sandbox keys are fine outside it.
    const ok = await start(dataDir(), { EMBOSS_ENV: 'production' }, 'keys:\n  - { name: bank.zek2, type: ZEK, components: ["0123456789ABCDEF1032547698BADCFE"] }\n');
    await ok.close();
    const dev = await start(dataDir(), {}, file);
    await dev.close();
  });
});
