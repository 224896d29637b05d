import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { buildEmboss } from '../../scripts/build.mjs';
import { sign, signingTimestamp, tester, type TestClient } from './harness.ts';

const root = resolve(import.meta.dirname, '../..');

/**
 * The compiled build, as `npm start` runs it (`node dist/main.js serve`), built into a folder of
 * this test file's own (never a dist/ that may lag the sources). Inside the project, so the bundle
 * finds the npm packages it leaves out.
 */
export async function buildForTest(): Promise<{ entry: string; remove(): void }> {
  mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
  const folder = mkdtempSync(join(root, 'node_modules', '.cache', 'emboss-build-'));
  const entry = await buildEmboss(folder);
  return { entry, remove: () => rmSync(folder, { recursive: true, force: true }) };
}

/**
 * The V8 flags of this test process that the emboss processes it starts get too: Liftoff alone
 * for WebAssembly (scripts/test.mjs says why), so a process started here costs what it would
 * cost in the test process itself.
 */
export const TEST_NODE_FLAGS = process.execArgv.filter((flag) => flag === '--liftoff-only');

export interface EmbossProcess {
  child: ChildProcess;
  pid: number;
  /** Everything the process tree wrote on stdout and stderr so far (JSON log lines). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  ended(): boolean;
}

/** Runs `node ENTRY ...args` with the environment given (on top of this process's). */
export function runEmboss(entry: string, args: string[], env: Record<string, string>): EmbossProcess {
  const child = spawn(process.execPath, [...TEST_NODE_FLAGS, entry, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  let done = false;
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => { done = true; r(code ?? signal ?? -1); }));
  return { child, pid: child.pid!, output: () => output, exited, ended: () => done };
}

/** The processes whose parent is `pid` and which run `entry` (Linux /proc): the API processes of a primary. */
export function childrenRunning(pid: number, entry: string): number[] {
  const found: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] !== String(pid)) continue;
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(entry)) found.push(Number(p));
    } catch { /* gone meanwhile */ }
  }
  return found.sort((a, b) => a - b);
}

/** A port nobody listens on at this moment. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

export const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

export interface Answer {
  status: number;
  /** Status 0: no HTTP answer (the error's cause code: ECONNRESET, ECONNREFUSED, a timeout). */
  failure?: string;
  body: any;
  headers: Headers | undefined;
  ms: number;
}

/**
 * One HTTP request with a deadline, on a connection of its own: an answer, or the reason there
 * was none (a reset, a refusal, no answer in time) — never a hang of the test.
 */
export async function request(url: string, init: RequestInit = {}, timeoutMs = 5000): Promise<Answer> {
  const started = Date.now();
  try {
    const res = await fetch(url, { ...init, headers: { connection: 'close', ...(init.headers as Record<string, string> ?? {}) }, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body, headers: res.headers, ms: Date.now() - started };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { status: 0, failure: e.name === 'TimeoutError' ? 'timeout' : e.cause?.code ?? e.message, body: undefined, headers: undefined, ms: Date.now() - started };
  }
}

/** A client of a running emboss: a bearer token and signed requests, as FirstVision clients send them. */
export function apiClient(base: string, client: TestClient = tester) {
  let token: string | undefined;
  const tokenFor = async (timeoutMs: number): Promise<Answer> => request(`${base}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  }, timeoutMs);
  return {
    /** POST /token. */
    token: tokenFor,
    /** A signed call with a new request id (a token is fetched first when there is none yet). */
    async call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, timeoutMs = 5000): Promise<Answer> {
      if (!token) {
        const t = await tokenFor(timeoutMs);
        if (t.status !== 200) return t;
        token = t.body.access_token as string;
      }
      const raw = body === undefined ? '' : JSON.stringify(body);
      const timestamp = signingTimestamp(Date.now());
      return request(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`, apikey: client.apikey, 'x-timestamp': timestamp, 'x-request-id': randomUUID(),
          'x-hmac-signature': sign(client.secret, client.apikey, timestamp, raw, path),
          ...(raw !== '' ? { 'content-type': 'application/json' } : {}),
        },
        ...(raw !== '' ? { body: raw } : {}),
      }, timeoutMs);
    },
  };
}
