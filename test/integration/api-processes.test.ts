import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadSettings } from '../../src/config/env.ts';
import { ConfigError } from '../../src/shared/errors.ts';
import { backends } from '../helpers/storage.ts';
import { waitFor } from '../helpers/wait.ts';
import { childrenRunning } from '../helpers/emboss-server.ts';

test('EMBOSS_API_PROCESSES above 1 is refused without PostgreSQL', () => {
  assert.throws(() => loadSettings({ EMBOSS_API_PROCESSES: '2' }), ConfigError);
  assert.equal(loadSettings({ EMBOSS_API_PROCESSES: '2', DATABASE_URL: 'postgres://x@127.0.0.1/y' }).EMBOSS_API_PROCESSES, 2);
  assert.equal(loadSettings({}).EMBOSS_API_PROCESSES, 1);
});

/** The emboss processes under `pid` (the tsx loader may have an esbuild service process of its own there). */
const childrenOf = (pid: number) => childrenRunning(pid, 'src/main.ts');

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };


/** `emboss serve` with two API processes on one port, as a real process tree (PostgreSQL only). */
for (const backend of backends.filter((b) => b === 'postgres')) {
  describe(`serve with EMBOSS_API_PROCESSES=2 (${backend})`, () => {
    const database = `emboss_processes_${randomBytes(4).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'emboss-processes-'));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const url = `http://127.0.0.1:${port}`;
    let server: ChildProcess;
    let stderr = '';
    /** Sends a signal to a process that may have ended meanwhile. */
    const signal = (pid: number, sig: NodeJS.Signals) => { try { process.kill(pid, sig); } catch { /* gone */ } };
    const admin = async (statement: string) => {
      const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await c.connect();
      try { await c.query(statement); } finally { await c.end(); }
    };

    before(async () => {
      await admin(`create database ${database}`);
      const databaseUrl = new URL(process.env.TEST_DATABASE_URL!);
      databaseUrl.pathname = `/${database}`;
      server = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
        env: {
          ...process.env, DATABASE_URL: databaseUrl.toString(), EMBOSS_DATA_DIR: dir, EMBOSS_API_PROCESSES: '2', HOST: '127.0.0.1', PORT: String(port),
          LOG_LEVEL: 'warn', EMBOSS_MASTER_KEY: randomBytes(32).toString('hex'), EMBOSS_CONFIG: '',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      server.stderr!.on('data', (d) => { stderr += d; });
    });
    after(async () => {
      if (server.exitCode === null) server.kill('SIGKILL');
      for (const pid of childrenOf(server.pid!)) signal(pid, 'SIGKILL');
      if (stderr) process.stderr.write(`emboss serve wrote on stderr:\n${stderr.slice(-3000)}\n`);
      await admin(`drop database if exists ${database} with (force)`);
      rmSync(dir, { recursive: true, force: true });
    });

    test('two processes serve the port; one that dies is replaced; SIGTERM stops them all', async () => {
      const primary = server.pid!;
      const workers = await waitFor('two API processes', () => { const c = childrenOf(primary); return c.length === 2 ? c : undefined; });
      await waitFor('the API answering', async () => { try { return (await fetch(`${url}/health`)).ok ? true : undefined; } catch { return undefined; } });
      // Separate connections: the primary hands them to the processes in turn; all are answered.
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/health`, { headers: { connection: 'close' } }).then((r) => r.status)));
      assert.deepEqual(answers, Array(20).fill(200));

      assert.equal(alive(workers[0]!), true, `API process ${workers[0]} ran until killed (stderr: ${stderr.slice(-500)})`);
      process.kill(workers[0]!, 'SIGKILL');
      const replaced = await waitFor('a replacement process', () => {
        const c = childrenOf(primary);
        return c.length === 2 && !c.includes(workers[0]!) ? c : undefined;
      });
      assert.ok(replaced.includes(workers[1]!), 'the other process kept running');
      await waitFor('the replacement answering', async () => {
        const statuses = await Promise.all(Array.from({ length: 6 }, () => fetch(`${url}/health`, { headers: { connection: 'close' } }).then((r) => r.status, () => 0)));
        return statuses.every((s) => s === 200) ? true : undefined;
      });

      server.kill('SIGTERM');
      await waitFor('the primary to exit', () => (server.exitCode !== null || server.signalCode !== null ? true : undefined), 30_000);
      assert.equal(server.exitCode, 0);
      for (const pid of replaced) assert.equal(alive(pid), false, `API process ${pid} stopped with the primary`);
    });
  });
}
