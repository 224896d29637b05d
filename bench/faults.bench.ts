import { faultTableRow, FAULT_TABLE_HEADER, loadDuring, preparePools, startFaultBed, verify, type FaultRow } from '../test/helpers/fault-bed.ts';
import { havePostgresBinaries } from '../test/helpers/pg-cluster.ts';
import { alive } from '../test/helpers/emboss-server.ts';
import { waitFor } from '../test/helpers/wait.ts';

/**
 * `npm run bench -- faults`: the fault suite's long forms (test/integration/faults.test.ts has the
 * short ones), on a PostgreSQL cluster the bench creates in a temporary folder on a free port and
 * removes afterwards (never the server on 5432): emboss with two API processes and the default
 * request lease under a bounded mixed load (BENCH_FAULT_CONNECTIONS clients, each request its own
 * id and connection), a fault in the middle, then every request sent again under its own id.
 */
export async function faultsTable(): Promise<string> {
  if (!havePostgresBinaries) return 'faults: PostgreSQL 15 binaries missing, skipped\n';
  const connections = Number(process.env.BENCH_FAULT_CONNECTIONS ?? 16);
  const leaseSeconds = 10;
  const bed = await startFaultBed({ processes: 2, leaseSeconds });
  const rows: FaultRow[] = [];
  try {
    const pools = await preparePools(bed, 50);
    const run = async (name: string, fault: () => Promise<void>) => {
      const load = await loadDuring(bed, pools, { connections, leadMs: 5000, afterMs: 10_000, timeoutMs: 30_000, fault });
      rows.push(await verify(bed, name, load, { deadlineMs: (leaseSeconds + 30) * 1000, connections }));
    };
    await run('PostgreSQL restart (fast)', () => bed.cluster.restart('fast'));
    await run('PostgreSQL restart (immediate)', () => bed.cluster.restart('immediate'));
    await run('PostgreSQL stopped 15 s', async () => {
      await bed.cluster.stop('fast');
      await new Promise((r) => setTimeout(r, 15_000));
      await bed.cluster.start();
    });
    for (let i = 1; i <= 2; i++) {
      const victim = bed.workers()[0]!;
      await run(`kill -9 of an API process (${i})`, async () => {
        process.kill(victim, 'SIGKILL');
        await waitFor('the process gone', () => (alive(victim) ? undefined : true), 5000);
      });
      await waitFor('a replacement API process', () => (bed.workers().length === 2 ? true : undefined), 60_000);
    }
  } finally {
    await bed.close();
  }
  const examples = rows.flatMap((r) => r.changedExamples.map((e) => `- ${r.fault}: ${e}\n`)).join('');
  return `\n**Faults** (${connections} clients, request lease ${leaseSeconds} s; a row's retries run after its load):\n\n${FAULT_TABLE_HEADER}${rows.map(faultTableRow).join('')}${examples ? `\nChanged answers:\n${examples}` : ''}`;
}
