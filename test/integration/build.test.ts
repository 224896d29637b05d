import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { buildEmboss } from '../../scripts/build.mjs';
import { createContainer } from '../../src/container.ts';
import { loadSettings } from '../../src/config/env.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { testBootstrap } from '../helpers/harness.ts';
import { TEST_NODE_FLAGS } from '../helpers/emboss-server.ts';
import { copyPgliteTemplate } from '../helpers/storage.ts';

/**
 * The compiled build (`npm run build`, what `npm start` and the `emboss` command run) is a
 * different program from the sources the other tests load through tsx: one bundle, and the
 * security module's thread started from its compiled entry. Built here into a folder of its own
 * (never a stale dist/), it must run a mass issue end to end on the embedded database.
 */
test('the compiled build issues a mass request on the embedded database, the security module thread included', async () => {
  const root = resolve(import.meta.dirname, '../..');
  // Inside the project, so the bundle finds the npm packages it leaves out.
  mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
  const build = mkdtempSync(join(root, 'node_modules', '.cache', 'emboss-build-'));
  const dir = mkdtempSync(join(tmpdir(), 'emboss-compiled-'));
  const files = join(dir, 'bureau');
  const env = {
    DATABASE_URL: '', EMBOSS_DATA_DIR: dir, EMBOSS_CONFIG: join(dir, 'bootstrap.yaml'), EMBOSS_MASTER_KEY: randomBytes(32).toString('hex'),
    EMBOSS_PERSONALIZATION_DIR: files, LOG_LEVEL: 'warn',
  };
  writeFileSync(env.EMBOSS_CONFIG, testBootstrap);
  const open = () => createContainer({
    settings: loadSettings({ ...process.env, ...env }), jobs: false,
    logger: createLogger({ level: 'warn', destination: new Writable({ write(_c, _e, done) { done(); } }) }),
  });
  try {
    const entry = await buildEmboss(build);
    // The folder starts as a copy of the migrated test template: a fresh initdb costs seconds more,
    // and the command line's test starts from an empty folder already.
    await copyPgliteTemplate(join(dir, 'pgdata'));
    const before = await open();
    const customer = await before.customers.add({ clientId: 'test', requestId: 'compiled' }, { customerData: { customerKeyData: { organizationNumber: 100 } } });
    await before.close();

    const child = spawn(process.execPath, [...TEST_NODE_FLAGS, entry, 'issue-batch', '--org', '100', '--logo', '1', '--card-type', '7', '--quantity', '250',
      '--customer', customer.customerNumber, '--chunk', '100', '--records-per-file', '100'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { err += d; });
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0, err);
    assert.match(out, /^250 cards in [0-9.]+ s .* 3 personalization file\(s\)/m);

    const after = await open();
    try {
      const db = after.storage.db;
      const request = await db.selectFrom('mass_issue_requests').selectAll().where('card_type', '=', 7).executeTakeFirstOrThrow();
      assert.deepEqual([request.status, request.created], ['COMPLETED', 250]);
      const cards = await db.selectFrom('cards').select((e) => [e.fn.count('id').as('n'), e.fn.count('pan_hash').distinct().as('numbers'), e.fn.count('pin_verification').as('pins')])
        .where('mass_request_id', '=', request.id).executeTakeFirstOrThrow();
      assert.deepEqual([Number(cards.n), Number(cards.numbers), Number(cards.pins)], [250, 250, 250]);
      const written = await db.selectFrom('personalization_files').select(['status', 'record_count']).where('mass_request_id', '=', request.id).orderBy('mass_first').execute();
      assert.deepEqual(written, [{ status: 'WRITTEN', record_count: 100 }, { status: 'WRITTEN', record_count: 100 }, { status: 'WRITTEN', record_count: 50 }]);
      assert.equal(readdirSync(files).length, 3);
    } finally {
      await after.close();
    }
  } finally {
    rmSync(build, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
