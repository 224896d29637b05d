import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { havePostgresBinaries } from '../helpers/pg-cluster.ts';
import { alive } from '../helpers/emboss-server.ts';
import { faultTableRow, loadDuring, preparePools, startFaultBed, verify, type FaultBed, type FaultRow, type Pools } from '../helpers/fault-bed.ts';
import { waitFor } from '../helpers/wait.ts';

/**
 * The fault suite's short forms (the long ones: `npm run bench -- faults`): a bounded mixed load
 * (card add, PAN token inquiry, PIN validation; eight clients, each request its own id) against
 * two API processes on a PostgreSQL cluster of this test's own, a fault in the middle of it, then
 * every request sent again under its id. After each fault: no request hung, no 5xx but 503, no
 * effect twice, every first answer replayed as it was, no id left "in progress" after the lease.
 */
const LEASE_SECONDS = 3;
const CONNECTIONS = 8;

describe('fault suite (PostgreSQL of its own, two API processes, mixed load)', { skip: havePostgresBinaries ? false : 'PostgreSQL 15 binaries missing' }, () => {
  let bed: FaultBed;
  let pools: Pools;
  before(async () => {
    bed = await startFaultBed({ processes: 2, leaseSeconds: LEASE_SECONDS });
    pools = await preparePools(bed, 12);
  });
  after(async () => { await bed?.close(); });

  const run = async (name: string, fault: () => Promise<void>): Promise<FaultRow> => {
    const load = await loadDuring(bed, pools, { connections: CONNECTIONS, leadMs: 750, afterMs: 1250, timeoutMs: 10_000, backoffMs: 100, fault });
    return verify(bed, name, load, { deadlineMs: (LEASE_SECONDS + 20) * 1000, connections: CONNECTIONS });
  };
  const holds = (row: FaultRow, t: { diagnostic(m: string): void }) => {
    t.diagnostic(faultTableRow(row).trim());
    assert.ok(row.ok > 0, 'the load got answers');
    assert.equal(row.hung, 0, 'no request hung');
    assert.equal(row.otherServerErrors, 0, 'no 5xx but 503');
    assert.equal(row.duplicated, 0, 'no effect twice');
    assert.deepEqual(row.changedExamples, [], 'every first answer replayed as it was');
    assert.equal(row.changedAnswers, 0);
    assert.equal(row.stuck, 0, 'no request id stuck after the lease');
    assert.ok(row.recoverySeconds !== undefined && row.recoverySeconds < 10, `served again within 10 s (${row.recoverySeconds})`);
  };

  test('(a) PostgreSQL restarted under load', async (t) => {
    const row = await run('PostgreSQL restart (fast)', () => bed.cluster.restart('fast'));
    holds(row, t);
    assert.equal(row.resets, 0, 'no connection reset');
  });

  test('(a) PostgreSQL stopped for 3 s under load', async (t) => {
    const row = await run('PostgreSQL stopped 3 s', async () => {
      await bed.cluster.stop('fast');
      await new Promise((r) => setTimeout(r, 3000));
      await bed.cluster.start();
    });
    holds(row, t);
    assert.ok(row.unavailable > 0, 'requests during the stop were answered 503');
    assert.equal(row.resets, 0, 'no connection reset');
  });

  test('(b) kill -9 of an API process under load, every request retried under its own id', async (t) => {
    const before = bed.workers();
    assert.equal(before.length, 2);
    const victim = before[0]!;
    const row = await run('kill -9 of an API process', async () => {
      process.kill(victim, 'SIGKILL');
      await waitFor('the process gone', () => (alive(victim) ? undefined : true), 5000);
    });
    holds(row, t);
    const after = await waitFor('a replacement API process', () => {
      const now = bed.workers();
      return now.length === 2 && !now.includes(victim) ? now : undefined;
    }, 30_000);
    assert.ok(after.includes(before[1]!), 'the other API process kept running');
  });
});
