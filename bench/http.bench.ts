import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';

/**
 * HTTP benchmarks: the emboss server runs in its own process (as `npm start` runs it), the load
 * comes from autocannon in this process, over loopback only, for a fixed time.
 */

export interface HttpResult { backend: string; name: string; requestsPerSec: number; p50: number; p99: number; errors: number; non2xx: number; total: number }

const SECRET = 'bench-secret-0123456789abcdef';
const APIKEY = 'bench-apikey-0123456789';
const BOOTSTRAP = `
organizations:
  - number: 100
    name: Bench Bank
    logos:
      - { number: 1, bin: "400000", serviceCode: "201", pin: { method: PVV }, keys: { cvk: b.cvk, pvk: b.pvk } }
keys:
  - { name: b.cvk, type: CVK, generate: true }
  - { name: b.pvk, type: PVK, generate: true }
clients:
  - { clientId: bench, apikey: ${APIKEY}, secret: ${SECRET}, organizations: [100], scopes: [cards, pci] }
`;

async function startServer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '100000000', EMBOSS_MASTER_KEY: randomBytes(32).toString('hex') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try { if ((await fetch(`${url}/health`)).ok) break; } catch { /* not up yet */ }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, stop: () => new Promise((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }) };
}

function signedHeaders(token: string, path: string, body: string): Record<string, string> {
  const ts = String(Date.now());
  return {
    authorization: `Bearer ${token}`, apikey: APIKEY, 'x-timestamp': ts, 'x-request-id': randomUUID(),
    'x-hmac-signature': createHmac('sha256', SECRET).update(APIKEY + ts + body + path).digest('base64'),
    'content-type': 'application/json',
  };
}

async function load(url: string, name: string, backend: string, seconds: number, connections: number, request: () => { method: 'POST' | 'GET'; path: string; headers: Record<string, string>; body?: string }): Promise<HttpResult> {
  const result = await autocannon({
    url, connections, duration: seconds,
    requests: [{ setupRequest: (req: any) => ({ ...req, ...request() }) }],
  } as any);
  return {
    backend, name, requestsPerSec: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99,
    errors: result.errors + result.timeouts, non2xx: result.non2xx, total: result.requests.total,
  };
}

export async function runHttpBench(options: { seconds?: number; connections?: number; postgresUrl?: string } = {}): Promise<HttpResult[]> {
  const seconds = options.seconds ?? 10;
  const connections = options.connections ?? 32;
  const results: HttpResult[] = [];
  const backends: Array<{ name: string; env: Record<string, string>; cleanup: () => Promise<void> }> = [];

  const dir = mkdtempSync(join(tmpdir(), 'emboss-bench-'));
  const configFile = join(dir, 'bootstrap.yaml');
  writeFileSync(configFile, BOOTSTRAP);
  backends.push({ name: 'PGlite', env: { EMBOSS_DATA_DIR: join(dir, 'data'), EMBOSS_CONFIG: configFile }, cleanup: async () => {} });
  if (options.postgresUrl) {
    const admin = new pg.Client({ connectionString: options.postgresUrl });
    await admin.connect();
    await admin.query('drop database if exists emboss_bench with (force)');
    await admin.query('create database emboss_bench');
    await admin.end();
    const benchUrl = new URL(options.postgresUrl);
    benchUrl.pathname = '/emboss_bench';
    backends.push({
      name: 'PostgreSQL', env: { DATABASE_URL: benchUrl.toString(), EMBOSS_DATA_DIR: join(dir, 'pgdata'), EMBOSS_CONFIG: configFile, DB_POOL_SIZE: '16' },
      cleanup: async () => {
        const c = new pg.Client({ connectionString: options.postgresUrl });
        await c.connect();
        await c.query('drop database if exists emboss_bench with (force)');
        await c.end();
      },
    });
  }

  for (const backend of backends) {
    const server = await startServer(backend.env);
    try {
      const basic = `Basic ${Buffer.from(`bench:${SECRET}`).toString('base64')}`;
      const tokenRes = await fetch(`${server.url}/token`, { method: 'POST', headers: { authorization: basic } });
      const token = ((await tokenRes.json()) as { access_token: string }).access_token;

      results.push(await load(server.url, 'token issue (POST /token)', backend.name, seconds, connections, () => ({
        method: 'POST', path: '/token', headers: { authorization: basic },
      })));

      results.push(await load(server.url, 'customer add (POST /customer/l8v2)', backend.name, seconds, connections, () => {
        const body = JSON.stringify({ customerData: { customerKeyData: { organizationNumber: 100, customerNumber: '' }, ownerCoOwnerData: { ownerData: { firstName: 'Ada', lastName: 'Lovelace', nameLine1: 'ADA LOVELACE' } } } });
        return { method: 'POST', path: '/customer/l8v2', headers: signedHeaders(token, '/customer/l8v2', body), body };
      }));

      // Accounts go to a pool of existing customers.
      const customers: string[] = [];
      for (let i = 0; i < 100; i++) {
        const body = JSON.stringify({ customerData: { customerKeyData: { organizationNumber: 100 } } });
        const r = await fetch(`${server.url}/customer/l8v2`, { method: 'POST', headers: signedHeaders(token, '/customer/l8v2', body), body });
        customers.push(((await r.json()) as { data: { customerNumber: string } }).data.customerNumber);
      }
      let i = 0;
      results.push(await load(server.url, 'account add (POST /account/add-L8V3)', backend.name, seconds, connections, () => {
        const body = JSON.stringify({ accountData: { organization: 100, logo: 1, customerNumber: customers[i++ % customers.length], creditLimit: 1000, billingCycle: 1 } });
        return { method: 'POST', path: '/account/add-L8V3', headers: signedHeaders(token, '/account/add-L8V3', body), body };
      }));
    } finally {
      await server.stop();
      await backend.cleanup();
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return results;
}
