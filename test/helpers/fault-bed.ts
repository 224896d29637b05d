import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createCluster, type PgCluster } from './pg-cluster.ts';
import { apiClient, buildForTest, childrenRunning, request, runEmboss, type Answer, type EmbossProcess } from './emboss-server.ts';
import { cardBody, clientDecryptPan, clientPinBlock, clientReadPinBlock, customerBody, sign, signingTimestamp, testBootstrap, tester } from './harness.ts';
import { waitFor } from './wait.ts';

/**
 * The fault suite's test bed: `emboss serve` as `npm start` runs it (the compiled build, several
 * API processes) on a PostgreSQL cluster of its own, which the faults stop and restart; a bounded
 * mixed load of signed requests (card add, PAN token inquiry, PIN validation), each under its own
 * request id; then every request sent again under its id, and the database asked what was done.
 * The short forms run in `npm test` (test/integration/faults.test.ts), the long ones in
 * `npm run bench -- faults` (bench/faults.bench.ts), which prints the table.
 */

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

export interface FaultBed {
  base: string;
  cluster: PgCluster;
  server: EmbossProcess;
  processes: number;
  /** The API processes running now (children of the primary). */
  workers(): number[];
  /** A statement on emboss's database, on a connection of its own. */
  sql<T = any>(statement: string, values?: unknown[]): Promise<T[]>;
  /** A signed POST under the given request id (the same id and body for a retry). */
  post(path: string, raw: string, requestId: string, timeoutMs?: number): Promise<Answer>;
  close(): Promise<void>;
}

export async function startFaultBed(options: { processes: number; leaseSeconds: number }): Promise<FaultBed> {
  const [cluster, build] = await Promise.all([createCluster(), buildForTest()]);
  const dir = mkdtempSync(join(tmpdir(), 'emboss-faults-'));
  let server: EmbossProcess | undefined;
  try {
    await cluster.query('create database emboss');
    writeFileSync(join(dir, 'bootstrap.yaml'), testBootstrap);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = runEmboss(build.entry, ['serve'], {
      DATABASE_URL: cluster.url('emboss'), EMBOSS_DATA_DIR: dir, EMBOSS_CONFIG: join(dir, 'bootstrap.yaml'),
      EMBOSS_PERSONALIZATION_DIR: join(dir, 'bureau'), EMBOSS_API_PROCESSES: String(options.processes),
      EMBOSS_REQUEST_LEASE_SECONDS: String(options.leaseSeconds), HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info',
      RATE_LIMIT_PER_MINUTE: '100000000', EMBOSS_MASTER_KEY: randomBytes(32).toString('hex'),
    });
    const started = server;
    await waitFor('the API processes listening', () => ((started.output().match(/"msg":"emboss is listening"/g)?.length ?? 0) >= options.processes ? true : undefined), 90_000);
    const token = (await apiClient(base).token(10_000)).body?.access_token as string;
    if (!token) throw new Error('no token');
    const bed: FaultBed = {
      base, cluster, server: started, processes: options.processes,
      workers: () => childrenRunning(started.pid, build.entry),
      async sql(statement, values = []) {
        const c = new pg.Client({ connectionString: cluster.url('emboss'), connectionTimeoutMillis: 5000 });
        await c.connect();
        try { return (await c.query(statement, values as unknown[])).rows; } finally { await c.end(); }
      },
      post(path, raw, requestId, timeoutMs = 10_000) {
        const timestamp = signingTimestamp(Date.now());
        return request(`${base}${path}`, {
          method: 'POST', body: raw,
          headers: {
            authorization: `Bearer ${token}`, apikey: tester.apikey, 'x-timestamp': timestamp, 'x-request-id': requestId,
            'x-hmac-signature': sign(tester.secret, tester.apikey, timestamp, raw, path), 'content-type': 'application/json',
          },
        }, timeoutMs);
      },
      async close() {
        for (const pid of [...childrenRunning(started.pid, build.entry), started.pid]) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
        await started.exited;
        await cluster.remove();
        build.remove();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return bed;
  } catch (err) {
    if (server) { try { process.kill(server.pid, 'SIGKILL'); } catch { /* gone */ } }
    await cluster.remove();
    build.remove();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** What the load works on: accounts to add cards to, cards to look up and check PINs of. */
export interface Pools {
  accounts: string[];
  cards: Array<{ encrypted: string; pinBlock: string; token: string }>;
}

export async function preparePools(bed: FaultBed, size: number): Promise<Pools> {
  const ok = async (path: string, body: unknown) => {
    const a = await bed.post(path, JSON.stringify(body), randomUUID());
    if (a.status !== 200) throw new Error(`${path}: ${a.status} ${a.failure ?? JSON.stringify(a.body)}`);
    return a.body;
  };
  const customer = (await ok('/customer/l8v2', customerBody())).customerNumber as string;
  const pools: Pools = { accounts: [], cards: [] };
  for (let i = 0; i < size; i++) {
    const account = (await ok('/account/add-L8V3', { accountData: { organization: 100, logo: 1, customerNumber: customer, creditLimit: 100, billingCycle: 1 } })).accountNumber as string;
    pools.accounts.push(account);
    // Card add answers the PAN token; card-pan the number under the client's card-number key.
    const token = (await ok('/cards/embosser/l8vf', cardBody(account))).cardNumber as string;
    const encrypted = (await ok('/cards/embosser/card-pan-l8v2', { organizationNumber: 100, cardNumber: token, cardSequence: 1, functionType: 'C' })).cardNumber as string;
    const pan = clientDecryptPan(encrypted);
    const pin = clientReadPinBlock((await ok('/cards/pin/security-codes', { organizationNumber: 100, cardNumber: token, channel: 'W', keyAssociation: 'IYY' })).pinEncrypt, pan);
    pools.cards.push({ encrypted, token, pinBlock: clientPinBlock(0, pin, pan) });
  }
  return pools;
}

export type Operation = 'card add' | 'PAN token inquiry' | 'PIN validation';

export interface Sent {
  op: Operation;
  path: string;
  raw: string;
  requestId: string;
  at: number;
  answer: Answer;
}

function nextRequest(pools: Pools, n: number): Pick<Sent, 'op' | 'path' | 'raw'> {
  const card = pools.cards[n % pools.cards.length]!;
  switch (n % 3) {
    case 0: return { op: 'card add', path: '/cards/embosser/l8vf', raw: JSON.stringify(cardBody(pools.accounts[n % pools.accounts.length]!)) };
    case 1: return { op: 'PAN token inquiry', path: '/cards/embosser/card-pan-l8v2', raw: JSON.stringify({ organizationNumber: 100, cardNumber: card.encrypted, cardSequence: 1, functionType: 'P' }) };
    default: return { op: 'PIN validation', path: '/cards/pin/validation', raw: JSON.stringify({ organizationNumber: 100, cardNumber: card.token, currentPinBlock: card.pinBlock, channel: 'I', keyAssociation: 'IYY' }) };
  }
}

/**
 * `connections` clients send requests one after another (each its own connection and request id,
 * answered or given up after `timeoutMs`) while `fault` runs, and `afterMs` longer. Answers when
 * the fault ended (its promise resolved). With `backoffMs`, a client that got a 503 or no answer
 * waits that long before its next request, as a client that is not a load generator does: the
 * load stays at full concurrency while the service answers, and a stopped database does not turn
 * it into thousands of 503s (each retried afterwards).
 */
export async function loadDuring(bed: FaultBed, pools: Pools, options: { connections: number; leadMs: number; afterMs: number; timeoutMs: number; backoffMs?: number; fault: () => Promise<void> }):
  Promise<{ sent: Sent[]; faultEnded: number }> {
  const sent: Sent[] = [];
  let stop = false;
  let n = 0;
  const client = async () => {
    while (!stop) {
      const r = nextRequest(pools, n++);
      const requestId = randomUUID();
      const at = Date.now();
      const answer = await bed.post(r.path, r.raw, requestId, options.timeoutMs);
      sent.push({ ...r, requestId, at, answer });
      if (options.backoffMs && (answer.status === 0 || answer.status === 503)) await new Promise((res) => setTimeout(res, options.backoffMs));
    }
  };
  const clients = Array.from({ length: options.connections }, client);
  await new Promise((r) => setTimeout(r, options.leadMs));
  await options.fault();
  const faultEnded = Date.now();
  await new Promise((r) => setTimeout(r, options.afterMs));
  stop = true;
  await Promise.all(clients);
  return { sent, faultEnded };
}

/** An answer a retry can stop at: anything but no answer, a 5xx, or "still in progress". */
const definite = (a: Answer) => a.status !== 0 && a.status < 500 && !(a.status === 409 && a.body?.errors?.[0]?.code === 'EMBA13E');

export interface FaultRow {
  fault: string;
  sent: number;
  ok: number;
  unavailable: number;
  otherServerErrors: number;
  hung: number;
  resets: number;
  /** Card adds whose request id made more than one card (an effect done twice). */
  duplicated: number;
  /** Requests first answered 2xx whose retry got another answer. */
  changedAnswers: number;
  /** What the first few of those were (operation, first status, the retry's status and code): for a diagnosis. */
  changedExamples: string[];
  /** Request ids with no definite answer even after the lease (blocked "in progress"). */
  stuck: number;
  /** From the end of the fault to the first 2xx of a request sent after it. */
  recoverySeconds: number | undefined;
}

/**
 * Every request sent again under its own id, until it gets a definite answer (bounded by
 * `deadlineMs`); then, per card add, the cards its request id made. What must hold after any
 * fault: no effect twice, every first answer replayed as it was, no id stuck.
 */
export async function verify(bed: FaultBed, fault: string, load: { sent: Sent[]; faultEnded: number }, options: { deadlineMs: number; connections: number }): Promise<FaultRow> {
  const { sent, faultEnded } = load;
  const finals = new Map<string, Answer>();
  const deadline = Date.now() + options.deadlineMs;
  let next = 0;
  const retrier = async () => {
    for (let i = next++; i < sent.length; i = next++) {
      const s = sent[i]!;
      let a = await bed.post(s.path, s.raw, s.requestId);
      while (!definite(a) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        a = await bed.post(s.path, s.raw, s.requestId);
      }
      finals.set(s.requestId, a);
    }
  };
  await Promise.all(Array.from({ length: options.connections }, retrier));

  const cardAdds = sent.filter((s) => s.op === 'card add').map((s) => s.requestId);
  const made = await bed.sql<{ request_id: string; n: number }>(
    `select request_id, count(*)::int as n from audit_events where action = 'card.add' and request_id = any($1) group by request_id`, [cardAdds]);
  const firstOk = sent.filter((s) => s.answer.status >= 200 && s.answer.status < 300);
  const changed = firstOk.filter((s) => JSON.stringify(finals.get(s.requestId)?.body) !== JSON.stringify(s.answer.body));
  const recovered = sent.filter((s) => s.at >= faultEnded && s.answer.status >= 200 && s.answer.status < 300).map((s) => s.at + s.answer.ms);
  return {
    fault,
    sent: sent.length,
    ok: firstOk.length,
    unavailable: sent.filter((s) => s.answer.status === 503).length,
    otherServerErrors: sent.filter((s) => s.answer.status >= 500 && s.answer.status !== 503).length,
    hung: sent.filter((s) => s.answer.failure === 'timeout').length,
    resets: sent.filter((s) => s.answer.status === 0 && s.answer.failure !== 'timeout').length,
    duplicated: made.filter((m) => m.n > 1).length,
    changedAnswers: changed.length,
    changedExamples: changed.slice(0, 3).map((s) => {
      const f = finals.get(s.requestId)!;
      return `${s.op}: first ${s.answer.status}, retry ${f.status || f.failure} ${f.body?.errors?.[0]?.code ?? ''}${f.headers?.get('x-idempotent-replay') ? ' (replay)' : ''}`;
    }),
    stuck: sent.filter((s) => !definite(finals.get(s.requestId)!)).length,
    recoverySeconds: recovered.length > 0 ? Math.max(0, Math.min(...recovered) - faultEnded) / 1000 : undefined,
  };
}

export const FAULT_TABLE_HEADER = '| fault | requests sent | 2xx | 503 | other 5xx | hung | resets | duplicated effects | changed answers on retry | stuck ids | seconds to recover |\n'
  + '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
export const faultTableRow = (r: FaultRow) => `| ${r.fault} | ${r.sent} | ${r.ok} | ${r.unavailable} | ${r.otherServerErrors} | ${r.hung} | ${r.resets} | ${r.duplicated} | ${r.changedAnswers} | ${r.stuck} | ${r.recoverySeconds === undefined ? '—' : r.recoverySeconds.toFixed(1)} |\n`;
