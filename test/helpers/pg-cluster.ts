import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway PostgreSQL 15 cluster for tests that stop, restart or kill the database: its own
 * data folder in a temporary directory, its own free port on 127.0.0.1, trust authentication. The
 * shared server on 5432 (TEST_DATABASE_URL) is never touched: these tests take down the server
 * they started, by the postmaster's own pid, and nothing else.
 */
export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const havePostgresBinaries = ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(PG_BIN, b)));

export type StopMode = 'smart' | 'fast' | 'immediate';

export interface PgCluster {
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/DATABASE */
  url(database?: string): string;
  /** The postmaster's pid while it runs. */
  pid(): number | undefined;
  start(): Promise<void>;
  stop(mode?: StopMode): Promise<void>;
  restart(mode?: StopMode): Promise<void>;
  /** Runs one SQL statement as the superuser (on database `postgres` unless given). */
  query(statement: string, database?: string): Promise<void>;
  /** Stops the server (immediate) and deletes its folder. */
  remove(): Promise<void>;
}

/** Root runs the PostgreSQL tools as the postgres user (initdb refuses root); others run them as themselves. */
const asRoot = process.getuid?.() === 0;

function run(command: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<string> {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, command), ...args]] : [join(PG_BIN, command), args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} ended with ${code ?? signal}: ${out.slice(-2000)}`));
    });
  });
}

/** A port nobody listens on at this moment (the server binds it a moment later). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function createCluster(): Promise<PgCluster> {
  if (!havePostgresBinaries) throw new Error(`PostgreSQL 15 binaries not found in ${PG_BIN}`);
  const dir = mkdtempSync(join(tmpdir(), 'emboss-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  let port = await freePort();
  const pgCtl = (...args: string[]) => run('pg_ctl', ['-D', data, ...args], dir);
  const cluster: PgCluster = {
    get port() { return port; },
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    pid() {
      try {
        const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        return Number.isInteger(pid) && pid > 0 ? pid : undefined;
      } catch { return undefined; }
    },
    async start() { await pgCtl('-l', log, '-w', '-t', '60', 'start'); },
    async stop(mode = 'fast') { await pgCtl('-m', mode, '-w', '-t', '60', 'stop'); },
    async restart(mode = 'fast') { await pgCtl('-l', log, '-m', mode, '-w', '-t', '60', 'restart'); },
    async query(statement, database = 'postgres') {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: cluster.url(database), connectionTimeoutMillis: 5000 });
      await client.connect();
      try { await client.query(statement); } finally { await client.end(); }
    },
    async remove() {
      const pid = cluster.pid();
      if (pid !== undefined) {
        try { await cluster.stop('immediate'); } catch {
          // pg_ctl could not stop it: the postmaster we started, by its pid, and nothing else.
          try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync', '--no-instructions'], dir);
    // Only this test's clients connect, over TCP on 127.0.0.1; the socket stays in the folder.
    // fsync off keeps the disk out of their timing: a server process that crashes (immediate
    // stop) still leaves what it wrote in the operating system's cache. Commits stay synchronous:
    // with synchronous_commit off, an immediate stop loses commits already answered to emboss, and
    // the fault suite would count the client's 200 for a card that is gone as a changed answer.
    appendFileSync(join(data, 'postgresql.conf'), [
      '', `port = ${port}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`,
      'fsync = off', 'full_page_writes = off', 'max_connections = 60', 'shared_buffers = 32MB',
      "log_min_messages = 'warning'", '',
    ].join('\n'));
    // The port was free a moment ago; another process may have taken it since: then another one
    // (a later `port =` line in postgresql.conf wins).
    for (let attempt = 1; ; attempt++) {
      try {
        await cluster.start();
        break;
      } catch (err) {
        if (attempt === 3 || cluster.pid() !== undefined) throw err;
        port = await freePort();
        appendFileSync(join(data, 'postgresql.conf'), `port = ${port}\n`);
      }
    }
  } catch (err) {
    await cluster.remove();
    throw err;
  }
  return cluster;
}
