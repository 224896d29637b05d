import { cpus } from 'node:os';
import { RESULT_HEADER, resultRow, runHttpBench, type HttpResult } from './http.bench.ts';
import { runCryptoBench } from './crypto.bench.ts';
import { runMassIssueBench } from './mass-issue.bench.ts';
import { pinsBenchTable } from './pins.bench.ts';
import { quietestRun } from './cpu.ts';
import { faultsTable } from './faults.bench.ts';
import { fuzzBench } from './fuzz.bench.ts';

/**
 * `npm run bench`: the crypto primitives, then the HTTP API on PGlite and on PostgreSQL
 * (BENCH_DATABASE_URL, default the local server; set it to "" to skip PostgreSQL).
 * Then the faults (a PostgreSQL cluster of its own, stopped and restarted under load; an API
 * process killed). Prints markdown tables for the README.
 *
 * `npm run bench -- fuzz` (only when named: it takes minutes): a hundred thousand hostile and
 * valid requests a store, by status; fails on any 5xx or other finding (bench/fuzz.bench.ts).
 */
async function main() {
  const only = process.argv[2];
  const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  process.stdout.write(`emboss benchmark — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n\n`);

  if (!only || only === 'crypto') {
    const rows = await runCryptoBench();
    process.stdout.write('| operation | ops/s | µs/op | note |\n|---|---:|---:|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.name} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.usPerOp.toFixed(2)} | ${r.note ?? ''} |\n`);
    process.stdout.write('\n');
  }
  if (!only || only === 'http') {
    const rows: HttpResult[] = await runHttpBench({
      seconds: Number(process.env.BENCH_SECONDS ?? 10),
      connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
      ...(postgresUrl ? { postgresUrl } : {}),
      ...(process.env.BENCH_ONLY ? { only: process.env.BENCH_ONLY.split(',') } : {}),
    });
    process.stdout.write(RESULT_HEADER);
    for (const r of rows) process.stdout.write(resultRow(r));
  }
  if ((!only || only === 'mass') && postgresUrl) await massIssue(postgresUrl);
  if (!only || only === 'pins') process.stdout.write(`\n${await pinsBenchTable({ seconds: Number(process.env.BENCH_SECONDS ?? 10), connections: Number(process.env.BENCH_CONNECTIONS ?? 32), postgresUrl })}`);
  if (!only || only === 'faults') process.stdout.write(await faultsTable());
  if (only === 'fuzz') {
    const { text, ok } = await fuzzBench(postgresUrl);
    process.stdout.write(text);
    if (!ok) process.exitCode = 1;
  }
}

async function massIssue(postgresUrl: string) {
  const quantity = Number(process.env.BENCH_MASS_QUANTITY ?? 100_000);
  const r = await quietestRun(() => runMassIssueBench({ postgresUrl, quantity }));
  process.stdout.write(`\n| mass issue on PostgreSQL | cards | seconds (incl. process start and bureau files) | cards/s | peak RSS MB | emboss CPU µs/card | PostgreSQL CPU µs/card | CPU stolen % |\n|---|---:|---:|---:|---:|---:|---:|---:|\n`);
  process.stdout.write(`| emboss issue-batch | ${r.quantity.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ${r.cardsPerSecond.toLocaleString('en-US')} | ${r.peakRssMb} | ${r.nodeCpuUs} | ${r.pgCpuUs} | ${r.stolen ?? ''} |\n`);
  process.stdout.write(`\n${r.output}\n`);
}

main().catch((err) => { process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`); process.exit(1); });
