import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openStorage } from '../../src/db/database.ts';
import { LOCK_FILE } from '../../src/db/pglite-lock.ts';
import { alive, apiClient, buildForTest, freePort, request, runEmboss, type EmbossProcess } from '../helpers/emboss-server.ts';
import { customerBody, testBootstrap } from '../helpers/harness.ts';
import { copyPgliteTemplate } from '../helpers/storage.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The embedded database's data folder has one opener: a command run against the folder of a
 * running `serve` (as `npm start` runs it) is refused with a message saying what to do instead, and
 * the server goes on; a server stopped with SIGTERM leaves the folder free and whole; a lock left
 * by a killed server is taken over by the next opener.
 */
describe('one process per PGlite data folder', () => {
  let build: Awaited<ReturnType<typeof buildForTest>>;
  const dir = mkdtempSync(join(tmpdir(), 'emboss-pglite-lock-'));
  const lockFile = join(dir, 'pgdata', LOCK_FILE);
  const env: Record<string, string> = {
    DATABASE_URL: '', EMBOSS_DATA_DIR: dir, EMBOSS_CONFIG: join(dir, 'bootstrap.yaml'), EMBOSS_MASTER_KEY: randomBytes(32).toString('hex'),
    EMBOSS_PERSONALIZATION_DIR: join(dir, 'bureau'), LOG_LEVEL: 'warn', HOST: '127.0.0.1',
  };
  const servers: EmbossProcess[] = [];
  const serve = async () => {
    const port = await freePort();
    const server = runEmboss(build.entry, ['serve'], { ...env, PORT: String(port) });
    servers.push(server);
    const base = `http://127.0.0.1:${port}`;
    await waitFor('the server answering', async () => {
      if (server.ended()) throw new Error(`serve ended: ${server.output()}`);
      return (await request(`${base}/health/ready`)).status === 200 ? true : undefined;
    }, 60_000);
    return { server, base };
  };
  /** A command against the same folder, to its end. */
  const command = async (...args: string[]) => {
    const p = runEmboss(build.entry, args, { ...env, PORT: String(await freePort()) });
    const code = await p.exited;
    return { code, output: p.output() };
  };
  const holder = () => JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number };

  before(async () => {
    build = await buildForTest();
    writeFileSync(env.EMBOSS_CONFIG!, testBootstrap);
    // The folder starts as a copy of the migrated test template (a fresh initdb takes seconds more).
    const storage = await openStorage({ dataDir: await copyPgliteTemplate(join(dir, 'pgdata')) });
    assert.equal(holder().pid, process.pid, 'this process holds it while open');
    await storage.close();
    assert.equal(existsSync(lockFile), false, 'closed, it is free again');
  });
  after(() => {
    for (const s of servers) if (!s.ended()) s.child.kill('SIGKILL');
    build.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  test('while serve runs, a second opener is refused with what to do instead, and the server goes on', async () => {
    const { server, base } = await serve();
    assert.equal(holder().pid, server.pid);
    const api = apiClient(base);
    assert.equal((await api.call('POST', '/customer/l8v2', customerBody())).status, 200);

    const batch = await command('issue-batch', '--org', '100', '--logo', '1', '--card-type', '1', '--quantity', '10', '--customer', '1');
    assert.equal(batch.code, 75, batch.output);
    assert.match(batch.output, new RegExp(`emboss issue-batch: the embedded database in .*pgdata is in use by process ${server.pid} \\(started [0-9T:.Z-]+\\); PGlite allows one process at a time\\.`));
    assert.match(batch.output, /Stop the server that uses it first \(emboss serve, npm start\), or run against PostgreSQL \(DATABASE_URL=postgres:\/\/…\)/);
    for (const args of [['keys'], ['migrate'], ['files', 'list']]) {
      const other = await command(...args);
      assert.equal(other.code, 75, `${args.join(' ')}: ${other.output}`);
      assert.match(other.output, new RegExp(`emboss ${args[0]}: .* in use by process ${server.pid} `));
    }
    const second = await command('serve');
    assert.equal(second.code, 75, second.output);
    assert.match(second.output, /Another emboss already serves from this data folder: stop it first/);

    // The first one still serves, and still holds the folder.
    assert.equal((await api.call('POST', '/customer/l8v2', customerBody())).status, 200);
    assert.equal((await request(`${base}/health/ready`)).status, 200);
    assert.equal(holder().pid, server.pid);

    // SIGTERM: it ends with 0 and frees the folder, which the next opener finds whole.
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    assert.equal(existsSync(lockFile), false);
    const keys = await command('keys');
    assert.equal(keys.code, 0, keys.output);
    assert.match(keys.output, /^t\.cvk\tCVK\t/m);
  });

  test('the lock of a server killed with SIGKILL is taken over by the next opener', async () => {
    const { server } = await serve();
    server.child.kill('SIGKILL');
    await server.exited;
    assert.equal(alive(server.pid), false);
    assert.equal(holder().pid, server.pid, 'the killed server left its lock');
    const keys = await command('keys');
    assert.equal(keys.code, 0, keys.output);
    assert.match(keys.output, /^t\.cvk\tCVK\t/m);
    assert.equal(existsSync(lockFile), false, 'the command took it over and released it');
    // And the server starts again on the folder.
    const again = await serve();
    again.server.child.kill('SIGTERM');
    assert.equal(await again.server.exited, 0);
  });
});
