import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of the processes under test, read from Linux /proc (empty elsewhere): less sensitive
 * to other load on the machine than requests per second.
 */

/** CPU seconds used so far, per process: the server and its children (the API processes), and the PostgreSQL backends of its database. */
export interface CpuSnapshot { api: Map<string, number>; pg: Map<string, number> }

export function cpuSnapshot(server: { pid: number | undefined; database: string | undefined } | undefined): CpuSnapshot {
  const snapshot: CpuSnapshot = { api: new Map(), pg: new Map() };
  if (!server) return snapshot;
  let pids: string[] = [];
  try { pids = readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)); } catch { return snapshot; }
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
      if (server.pid !== undefined && (p === String(server.pid) || fields[1] === String(server.pid))) snapshot.api.set(p, seconds);
      else if (server.database) {
        const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        if (cmdline.startsWith('postgres: ') && cmdline.includes(` ${server.database} `)) snapshot.pg.set(p, seconds);
      }
    } catch { /* gone meanwhile */ }
  }
  return snapshot;
}

/** CPU used between two snapshots, process by process (a process that ended in between is not counted). */
export function cpuUsed(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

/**
 * The PostgreSQL CPU of a database over a run whose backends come and go (a job that opens and
 * closes its own connections): sampled every 100 ms, each backend counted up to its last sample.
 */
export function watchPostgresCpu(database: string): { stop(): number } {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const sample = () => {
    for (const [pid, seconds] of cpuSnapshot({ pid: undefined, database }).pg) {
      if (!first.has(pid)) first.set(pid, 0); // a backend born during the run counts from zero
      last.set(pid, seconds);
    }
  };
  for (const [pid, seconds] of cpuSnapshot({ pid: undefined, database }).pg) { first.set(pid, seconds); last.set(pid, seconds); }
  const timer = setInterval(sample, 100);
  return { stop() { clearInterval(timer); sample(); return cpuUsed(first, last); } };
}

/** The machine's CPU time counters (/proc/stat, all CPUs): total and stolen by the hypervisor. */
export interface MachineTicks { total: number; steal: number }

export function machineTicks(): MachineTicks {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
  } catch {
    return { total: 0, steal: 0 };
  }
}

/**
 * The share of the machine's CPU time the hypervisor gave to other guests between two readings
 * (percent; undefined off Linux): on a shared virtual machine, the part of a slow run that is not ours.
 */
export function stolenPercent(before: MachineTicks, after: MachineTicks): number | undefined {
  const total = after.total - before.total;
  return total > 0 ? Math.round((100 * (after.steal - before.steal)) / total) : undefined;
}

const MAX_STOLEN_PERCENT = Number(process.env.BENCH_MAX_STOLEN_PERCENT ?? 5);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));

/**
 * Runs a measurement again while it lost more than BENCH_MAX_STOLEN_PERCENT (default 5) of the
 * machine's CPU time to other guests, up to BENCH_RUNS runs in all (default 3), and gives the
 * quietest: on a shared virtual machine, a run slowed by steal says little about the software.
 */
export async function quietestRun<R extends { stolen?: number | undefined }>(measure: () => Promise<R>): Promise<R> {
  let best = await measure();
  for (let run = 1; run < RUNS && (best.stolen ?? 0) > MAX_STOLEN_PERCENT; run++) {
    const again = await measure();
    if ((again.stolen ?? 0) < (best.stolen ?? 0)) best = again;
  }
  return best;
}
