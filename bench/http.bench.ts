import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { runWrk, wrkAvailable } from './wrk.ts';
import { cpuSnapshot, cpuUsed, machineTicks, quietestRun, stolenPercent, type CpuSnapshot } from './cpu.ts';
import { embossArgv } from './emboss-process.ts';

/**
 * HTTP benchmarks: the emboss server runs in its own process (as `npm start` runs it), the load
 * comes from wrk in another (autocannon in this one when wrk is missing), over loopback only, for
 * a fixed time.
 */

export interface HttpResult {
  backend: string; name: string; requestsPerSec: number; p50: number; p99: number; errors: number; non2xx: number; total: number;
  /** CPU time per request of the emboss process and of all PostgreSQL processes (µs; Linux /proc): less sensitive to other load on the machine than req/s. */
  apiCpuUs?: number; pgCpuUs?: number;
  /** Share of the machine's CPU time stolen by the hypervisor during the run (percent). */
  stolen?: number | undefined;
}

/** The table row of a result (the header is `RESULT_HEADER`). */
export const RESULT_HEADER = '| store | operation | req/s | p50 ms | p99 ms | API CPU µs/req | PostgreSQL CPU µs/req | CPU stolen % | errors | non-2xx | requests |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
export const resultRow = (r: HttpResult) => `| ${r.backend} | ${r.name} | ${r.requestsPerSec.toLocaleString('en-US')} | ${r.p50} | ${r.p99} | ${r.apiCpuUs ?? ''} | ${r.pgCpuUs ?? ''} | ${r.stolen ?? ''} | ${r.errors} | ${r.non2xx} | ${r.total} |\n`;

/**
 * On PostgreSQL the server runs as many API processes as there are cores (EMBOSS_API_PROCESSES),
 * as it would be deployed; BENCH_API_PROCESSES sets another number.
 */
export const API_PROCESSES = Number(process.env.BENCH_API_PROCESSES ?? cpus().length);
export const POSTGRES_LABEL = API_PROCESSES > 1 ? `PostgreSQL, ${API_PROCESSES} API processes` : 'PostgreSQL';
export const postgresServerEnv = (databaseUrl: string, dataDir: string, configFile: string): Record<string, string> => ({
  DATABASE_URL: databaseUrl, EMBOSS_DATA_DIR: dataDir, EMBOSS_CONFIG: configFile, DB_POOL_SIZE: '16', EMBOSS_API_PROCESSES: String(API_PROCESSES),
});

const WARM_UP_SECONDS = Number(process.env.BENCH_WARM_UP_SECONDS ?? 2);

/** Per server URL: its process and its PostgreSQL database (whose backends' CPU is counted). */
const servers = new Map<string, { pid: number; database: string | undefined }>();

export const SECRET = 'bench-secret-0123456789abcdef';
const ZEK_HEX = '0123456789ABCDEF1032547698BADCFE';
export const APIKEY = 'bench-apikey-0123456789';
/**
 * The bench's bootstrap file: one organization and logo, one API client with the PCI scope and a
 * card-number key (ZEK), as a client needs to learn its card numbers through card-pan. `key` adds
 * a client key (a ZPK line under `keys:`), `client` the fields naming it.
 */
export function benchBootstrap(key = '', client = ''): string {
  return `
organizations:
  - number: 100
    name: Bench Bank
    logos:
      - { number: 1, bin: "400000", serviceCode: "201", pin: { method: PVV }, keys: { cvk: b.cvk, pvk: b.pvk } }
keys:
  - { name: b.cvk, type: CVK, generate: true }
  - { name: b.pvk, type: PVK, generate: true }
  - { name: b.zek, type: ZEK, components: ["${ZEK_HEX}"] }${key ? `\n  - ${key}` : ''}
clients:
  - { clientId: bench, apikey: ${APIKEY}, secret: ${SECRET}, organizations: [100], scopes: [cards, pci], cardNumberKey: b.zek${client ? `, ${client}` : ''} }
`;
}
const BOOTSTRAP = benchBootstrap();
const zek = (data: Buffer, decrypt = false) => {
  const c = (decrypt ? createDecipheriv : createCipheriv)('des-ede-ecb', Buffer.from(ZEK_HEX, 'hex'), null).setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
};
/** The client side of card-number encryption (3DES-ECB under the ZEK, PAN padded with F to 32 hex). */
function encryptPan(pan: string): string {
  return zek(Buffer.from(pan.padEnd(32, 'F'), 'hex')).toString('hex').toUpperCase();
}

/**
 * A new card on an account, as a client holds it: card add answers its PAN token (never the
 * number), card-pan its number encrypted under the client's ZEK, which the client decrypts.
 */
export async function benchCard(url: string, token: string, account: string): Promise<{ token: string; pan: string }> {
  const panToken = (await signedPost(url, token, '/cards/embosser/l8vf', { organizationNumber: 100, postToAccount: account, cardNumber: '', embossedName1: 'BENCH' })).cardNumber as string;
  const encrypted = (await signedPost(url, token, '/cards/embosser/card-pan-l8v2', { organizationNumber: 100, cardNumber: panToken, cardSequence: 1, functionType: 'C' })).cardNumber as string;
  return { token: panToken, pan: zek(Buffer.from(encrypted, 'hex'), true).toString('hex').toUpperCase().replace(/F+$/, '') };
}

export async function startServer(env: Record<string, string>): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, embossArgv('serve'), {
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '100000000', EMBOSS_MASTER_KEY: randomBytes(32).toString('hex') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  if (child.pid) servers.set(url, { pid: child.pid, database: env.DATABASE_URL ? new URL(env.DATABASE_URL).pathname.slice(1) : undefined });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try { if ((await fetch(`${url}/health`)).ok) break; } catch { /* not up yet */ }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, stop: () => new Promise((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }) };
}

/** Per request text: the last timestamp it was signed with (see signedHeaders). */
const lastSigned = new Map<string, number>();

/**
 * A signature is accepted once, and the requests of a run are signed beforehand, hundreds per
 * millisecond, from pools of a few hundred bodies: the same body and path in the same millisecond
 * would be one signature. So each text gets a timestamp after the last it had (ahead of the clock
 * by at most a few hundred milliseconds).
 */
export function signedHeaders(token: string, path: string, body: string): Record<string, string> {
  const text = path + body;
  const t = Math.max(Date.now(), (lastSigned.get(text) ?? 0) + 1);
  lastSigned.set(text, t);
  const ts = String(t);
  return {
    authorization: `Bearer ${token}`, apikey: APIKEY, 'x-timestamp': ts, 'x-request-id': randomUUID(),
    'x-hmac-signature': createHmac('sha256', SECRET).update(APIKEY + ts + body + path).digest('base64'),
    'content-type': 'application/json',
  };
}

type LoadRequest = () => { method: 'POST' | 'GET'; path: string; headers: Record<string, string>; body?: string };

export async function load(url: string, name: string, backend: string, seconds: number, connections: number, request: LoadRequest, overallRate?: number): Promise<HttpResult> {
  return quietestRun(() => loadOnce(url, name, backend, seconds, connections, request, overallRate));
}

async function loadOnce(url: string, name: string, backend: string, seconds: number, connections: number, request: LoadRequest, overallRate?: number): Promise<HttpResult> {
  // wrk when installed: see bench/wrk.ts.
  const useWrk = wrkAvailable();
  const run = (duration: number) => autocannon({
    url, connections, duration, ...(overallRate ? { overallRate } : {}),
    requests: [{ setupRequest: (req: any) => ({ ...req, ...request() }) }],
  } as any);
  // Unmeasured warm-up: the first seconds of a new code path are spent compiling it (JIT).
  if (useWrk) await runWrk(url, WARM_UP_SECONDS, connections, request, undefined, overallRate);
  else await run(WARM_UP_SECONDS);
  const before = cpuSnapshot(servers.get(url));
  const ticks = machineTicks();
  if (useWrk) {
    const r = await runWrk(url, seconds, connections, request, undefined, overallRate);
    return {
      backend, name: `${name} [wrk]`, requestsPerSec: Math.round(r.requests / r.seconds), p50: r.p50Ms, p99: r.p99Ms,
      errors: r.errors, non2xx: r.non2xx, total: r.requests, stolen: stolenPercent(ticks, machineTicks()),
      ...perRequest(before, cpuSnapshot(servers.get(url)), r.requests),
    };
  }
  const result = await run(seconds);
  return {
    backend, name: `${name} [autocannon]`, requestsPerSec: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99,
    errors: result.errors + result.timeouts, non2xx: result.non2xx, total: result.requests.total, stolen: stolenPercent(ticks, machineTicks()),
    ...perRequest(before, cpuSnapshot(servers.get(url)), result.requests.total),
  };
}

function perRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number) {
  if (requests === 0 || after.api.size === 0) return {};
  return { apiCpuUs: Math.round((cpuUsed(before.api, after.api) * 1e6) / requests), pgCpuUs: Math.round((cpuUsed(before.pg, after.pg) * 1e6) / requests) };
}

/**
 * A measured operation of signed JSON POSTs (a fresh body, signature and request id for each),
 * after the database is settled (settleDatabase) when `settle` is given.
 */
export function signedPostLoad(target: { url: string; backend: string; token: string; seconds: number; connections: number; settle?: (() => Promise<void>) | undefined }) {
  return async (name: string, path: string, makeBody: () => unknown, rate?: number): Promise<HttpResult> => {
    await target.settle?.();
    return load(target.url, name, target.backend, target.seconds, target.connections, () => {
      const body = JSON.stringify(makeBody());
      return { method: 'POST', path, headers: signedHeaders(target.token, path, body), body };
    }, rate);
  };
}

/**
 * Before each measured operation on PostgreSQL: VACUUM ANALYZE and a CHECKPOINT of the bench
 * database, so that the autovacuum and checkpoint work the previous operation's rows call for is
 * done before the next one is measured, not during it (where it would be charged to it).
 */
export async function settleDatabase(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('vacuum analyze');
    await c.query('checkpoint').catch(() => undefined); // needs the pg_checkpoint role; without it, vacuum only
  } finally {
    await c.end();
  }
}

/** A signed JSON call outside the load (set-up of pools of customers, accounts and cards). */
export async function signedPost(url: string, token: string, path: string, payload: unknown): Promise<any> {
  const body = JSON.stringify(payload);
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: signedHeaders(token, path, body), body });
  const json = (await r.json()) as any;
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

export async function runHttpBench(options: { seconds?: number; connections?: number; postgresUrl?: string; only?: string[] } = {}): Promise<HttpResult[]> {
  const seconds = options.seconds ?? 10;
  const connections = options.connections ?? 32;
  const results: HttpResult[] = [];
  const backends: Array<{ name: string; env: Record<string, string>; cleanup: () => Promise<void>; settle?: () => Promise<void> }> = [];

  const dir = mkdtempSync(join(tmpdir(), 'emboss-bench-'));
  const configFile = join(dir, 'bootstrap.yaml');
  writeFileSync(configFile, BOOTSTRAP);
  if (process.env.BENCH_STORES !== 'postgres') backends.push({ name: 'PGlite', env: { EMBOSS_DATA_DIR: join(dir, 'data'), EMBOSS_CONFIG: configFile }, cleanup: async () => {} });
  if (options.postgresUrl) {
    const admin = new pg.Client({ connectionString: options.postgresUrl });
    await admin.connect();
    await admin.query('drop database if exists emboss_bench with (force)');
    await admin.query('create database emboss_bench');
    // An experiment switch, not a recommendation: how much of the cost is waiting for WAL flushes.
    if (process.env.BENCH_SYNCHRONOUS_COMMIT === 'off') await admin.query('alter database emboss_bench set synchronous_commit = off');
    await admin.end();
    const benchUrl = new URL(options.postgresUrl);
    benchUrl.pathname = '/emboss_bench';
    backends.push({
      name: POSTGRES_LABEL, env: postgresServerEnv(benchUrl.toString(), join(dir, 'pgdata'), configFile),
      settle: () => settleDatabase(benchUrl.toString()),
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
      const tokenJson = (await tokenRes.json()) as { access_token?: string };
      if (!tokenJson.access_token) throw new Error(`token: ${JSON.stringify(tokenJson)}`);
      const token = tokenJson.access_token;

      const want = (name: string) => !options.only || options.only.some((o) => name.includes(o));
      const post = signedPostLoad({ url: server.url, backend: backend.name, token, seconds, connections, settle: backend.settle });

      if (want('token')) {
        await backend.settle?.();
        results.push(await load(server.url, 'token issue (POST /token)', backend.name, seconds, connections, () => ({
          method: 'POST', path: '/token', headers: { authorization: basic },
        })));
      }
      if (want('customer')) {
        results.push(await post('customer add (POST /customer/l8v2)', '/customer/l8v2', () => (
          { customerData: { customerKeyData: { organizationNumber: 100, customerNumber: '' }, ownerCoOwnerData: { ownerData: { firstName: 'Ada', lastName: 'Lovelace', nameLine1: 'ADA LOVELACE' } } } })));
      }

      // Pools made before the load: customers, their accounts, and cards on them.
      const customers: string[] = [];
      const accounts: string[] = [];
      for (let i = 0; i < 50; i++) {
        customers.push((await signedPost(server.url, token, '/customer/l8v2', { customerData: { customerKeyData: { organizationNumber: 100 } } })).customerNumber);
        accounts.push((await signedPost(server.url, token, '/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: customers[i], creditLimit: 1000, billingCycle: 1 } })).accountNumber);
      }
      const pans: string[] = [];
      const tokens: string[] = [];
      for (let i = 0; i < 200; i++) {
        const card = await benchCard(server.url, token, accounts[i % accounts.length]!);
        pans.push(card.pan);
        tokens.push(card.token);
      }
      const encryptedPans = pans.map(encryptPan);
      let i = 0;
      const next = <T>(pool: T[]) => pool[i++ % pool.length]!;

      if (want('account')) {
        results.push(await post('account add (POST /account/add-L8V3)', '/account/add-L8V3', () => (
          { accountData: { organization: 100, logo: 1, customerNumber: next(customers), creditLimit: 1000, billingCycle: 1 } })));
      }
      if (want('card add')) {
        const cardAdd = () => ({ organizationNumber: 100, postToAccount: next(accounts), cardNumber: '', embossedName1: 'ADA LOVELACE' });
        results.push(await post('card add (POST /cards/embosser/l8vf)', '/cards/embosser/l8vf', cardAdd));
        // Latency at the rate the issue asks for, rather than at saturation.
        if (backend.name === POSTGRES_LABEL) results.push(await post('card add at a fixed 800 req/s', '/cards/embosser/l8vf', cardAdd, 800));
      }
      if (want('PAN token inquiry P')) {
        results.push(await post('PAN token inquiry P: encrypted card number in', '/cards/embosser/card-pan-l8v2', () => (
          { organizationNumber: 100, cardNumber: next(encryptedPans), cardSequence: 1, functionType: 'P' })));
      }
      if (want('PAN token inquiry C')) {
        results.push(await post('PAN token inquiry C: PAN token in', '/cards/embosser/card-pan-l8v2', () => (
          { organizationNumber: 100, cardNumber: next(tokens), cardSequence: 1, functionType: 'C' })));
      }
      if (want('instant')) {
        results.push(await post('instant card (POST /account/v2/instantCard)', '/account/v2/instantCard', () => ({
          organizationNumber: 100, logo: 1, customerNumber: next(customers), accountCreateFlag: 'Y',
          accountData: { creditLimit: 1000, billingCycle: 1 }, embosserData: { embossedName1: 'ADA LOVELACE', digitalCardFlag: 1 },
        })));
      }
    } finally {
      await server.stop();
      await backend.cleanup();
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return results;
}
