import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pg from 'pg';
import { createContainer } from '../src/container.ts';
import { loadSettings } from '../src/config/env.ts';
import { machineTicks, stolenPercent, watchPostgresCpu } from './cpu.ts';
import { createLogger } from '../src/shared/logger.ts';
import { embossArgv } from './emboss-process.ts';

/**
 * Mass issue: one request for `quantity` cards on PostgreSQL, run by `emboss issue-batch` in its
 * own process (as an operator runs it); reports cards per second (time to the last chunk, and
 * with the bureau files written) and the process's peak RSS.
 */
export interface MassIssueResult {
  quantity: number; seconds: number; cardsPerSecond: number; peakRssMb: number; output: string;
  /** CPU per card: the emboss process over its run (as it reports it), PostgreSQL's backends over the whole command. */
  nodeCpuUs: number; pgCpuUs: number;
  /** Share of the machine's CPU time stolen by the hypervisor during the run (percent). */
  stolen: number | undefined;
}

const BOOTSTRAP = `
organizations:
  - number: 100
    name: Bench Bank
    personalization: { bureauKey: b.bureau }
    logos:
      - { number: 1, bin: "400000", serviceCode: "201", pin: { method: PVV }, keys: { cvk: b.cvk, pvk: b.pvk } }
keys:
  - { name: b.cvk, type: CVK, generate: true }
  - { name: b.pvk, type: PVK, generate: true }
  - { name: b.bureau, type: BUR, algorithm: AES, generate: true }
`;

export async function runMassIssueBench(options: { postgresUrl: string; quantity?: number }): Promise<MassIssueResult> {
  const quantity = options.quantity ?? 100_000;
  const admin = new pg.Client({ connectionString: options.postgresUrl });
  await admin.connect();
  await admin.query('drop database if exists emboss_bench_mass with (force)');
  await admin.query('create database emboss_bench_mass');
  // The dirty pages earlier benchmarks left are written now, not during this one.
  await admin.query('checkpoint').catch(() => undefined);
  await admin.end();
  const url = new URL(options.postgresUrl);
  url.pathname = '/emboss_bench_mass';
  const dir = mkdtempSync(join(tmpdir(), 'emboss-mass-bench-'));
  const config = join(dir, 'bootstrap.yaml');
  writeFileSync(config, BOOTSTRAP);
  const env = { DATABASE_URL: url.toString(), EMBOSS_CONFIG: config, EMBOSS_MASTER_KEY: randomBytes(32).toString('hex'), EMBOSS_DATA_DIR: dir, LOG_LEVEL: 'warn' };
  try {
    // The customer every account belongs to.
    const quiet = createLogger({ level: 'warn', destination: new Writable({ write(_c, _e, d) { d(); } }) });
    const container = await createContainer({ settings: loadSettings({ ...process.env, ...env }), logger: quiet, jobs: false });
    const customer = await container.customers.add({ clientId: 'bench', requestId: 'bench' }, { customerData: { customerKeyData: { organizationNumber: 100 } } });
    await container.close();

    const started = Date.now();
    const postgresCpu = watchPostgresCpu('emboss_bench_mass');
    const ticks = machineTicks();
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, embossArgv('issue-batch', '--org', '100', '--logo', '1', '--card-type', '1',
        '--quantity', String(quantity), '--customer', customer.customerNumber, ...(process.env.BENCH_MASS_PARALLEL ? ['--parallel', process.env.BENCH_MASS_PARALLEL] : []),
        ...(process.env.BENCH_MASS_CHUNK ? ['--chunk', process.env.BENCH_MASS_CHUNK] : [])), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { err += d; });
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`issue-batch exited ${code}: ${err.slice(-2000)}`))));
    });
    const seconds = (Date.now() - started) / 1000;
    const pgCpuUs = Math.round((postgresCpu.stop() * 1e6) / quantity);
    const stolen = stolenPercent(ticks, machineTicks());
    const rss = /peak RSS (\d+) MB/.exec(output);
    const nodeCpu = /(\d+) µs CPU per card/.exec(output);
    return {
      quantity, seconds, cardsPerSecond: Math.round(quantity / seconds), peakRssMb: rss ? Number(rss[1]) : NaN,
      nodeCpuUs: nodeCpu ? Number(nodeCpu[1]) : NaN, pgCpuUs, stolen, output: output.trim().split('\n').at(-1) ?? '',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    const c = new pg.Client({ connectionString: options.postgresUrl });
    await c.connect();
    await c.query('drop database if exists emboss_bench_mass with (force)');
    await c.end();
  }
}
