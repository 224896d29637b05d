import { sql, type Kysely } from 'kysely';
import type { DB } from '../../db/schema.ts';
import { Batcher, column } from '../../shared/batcher.ts';

/** A count to add to a shared counter: `key` in the fixed window that ends at `untilMs`. */
export interface Hit { key: string; untilMs: number; n: number }

/** What one request asks the gate (every part optional). */
export interface AdmissionItem {
  /** A GET request's signature, accepted once: kept with its request id until `expiresMs`. */
  signature?: { value: string; requestId: string; expiresMs: number };
  hits?: Hit[];
}

export interface Admission {
  /** fresh: first seen; retry: seen before with this request id; replay: seen with another. */
  signature: 'fresh' | 'retry' | 'replay' | undefined;
  /** Per hit asked: the counter's total in its window once this request's hit is counted. */
  counts: number[];
}

/** How old what a process knows of a budget may get before it asks the database again. */
const SYNC_MS = 250;

/** A fixed window of `windowMs` containing `nowMs`: its end, the counter's `untilMs`. */
export const windowEnd = (nowMs: number, windowMs: number) => (Math.floor(nowMs / windowMs) + 1) * windowMs;

/**
 * The gate's shared state, for every API process: once-only signatures of GET requests (the
 * others' are kept with their request ids, see 0010) and counters in fixed windows (rate limits
 * and lock-outs). The questions of concurrent requests go to the database together, as one
 * statement (see Batcher).
 *
 * Counter totals are exact across processes: each hit is added by an upsert that returns the
 * total after it. The latest known totals are also kept here, so that `knownTotal` can refuse
 * traffic that is already over its limit without asking the database again (unauthenticated
 * floods must not become database load).
 */
export class RequestGate {
  private readonly batcher: Batcher<AdmissionItem, Admission>;
  private readonly known = new Map<string, { untilMs: number; total: number }>();
  /** Per key: the window, the total the database last answered, and hits admitted here since. */
  private readonly budgets = new Map<string, { untilMs: number; known: number; unsent: number; syncedAt: number; asking: number }>();

  constructor(private readonly db: Kysely<DB>, private readonly now: () => number) {
    this.batcher = new Batcher((items) => this.run(items), { maxBatch: 256, maxInFlight: 2 });
  }

  ask(item: AdmissionItem): Promise<Admission> {
    return this.batcher.submit(item);
  }

  /**
   * Counts one hit on `key` against `limit` in its window, and says whether it is within it.
   *
   * A budget is spent far more often than it runs out, so a process does not ask the database
   * for every hit: it may admit, on its own, up to half of what it knows to be left of the
   * budget divided by the number of API processes, and then tells the database (one upsert for
   * all those hits, which answers the total of every process). It also asks on a key's first
   * hit in a window, when what it knows is older than SYNC_MS, and while another of its hits is
   * asking (what it knows is about to change). So while the budget is far
   * from spent a client's requests cost the gate nothing, and near the end every hit is counted
   * in the database before it is admitted: the processes together never admit more than the
   * limit, except by what another process admitted on its own in the last SYNC_MS without having
   * told the database yet (bounded by the same share).
   */
  async spend(key: string, windowMs: number, limit: number, processes: number): Promise<{ admitted: boolean; used: number; untilMs: number }> {
    const now = this.now();
    const untilMs = windowEnd(now, windowMs);
    let b = this.budgets.get(key);
    if (!b || b.untilMs !== untilMs) {
      b = { untilMs, known: 0, unsent: 0, syncedAt: -Infinity, asking: 0 };
      this.budgets.set(key, b);
    }
    const share = Math.floor((limit - b.known - b.unsent) / (2 * processes));
    if (b.asking === 0 && b.unsent < share && now - b.syncedAt < SYNC_MS) {
      b.unsent++;
      return { admitted: true, used: b.known + b.unsent, untilMs };
    }
    // Ask, with every hit admitted here since the last time, and this one. While an answer is on
    // its way, what this process knows is stale: every hit asks (they go together, see Batcher).
    const n = b.unsent + 1;
    b.unsent = 0;
    b.syncedAt = now;
    b.asking++;
    let used: number;
    try {
      used = (await this.ask({ hits: [{ key, untilMs, n }] })).counts[0]!;
    } finally {
      b.asking--;
    }
    if (b.untilMs === untilMs) b.known = Math.max(b.known, used);
    return { admitted: used <= limit, used, untilMs };
  }

  /** The last total this process saw for a counter in its current window (0 when none). */
  knownTotal(key: string): number {
    const k = this.known.get(key);
    return k && k.untilMs > this.now() ? k.total : 0;
  }

  /** Removes signatures whose timestamp left the window and counters of past windows. */
  async purgePast(): Promise<{ signatures: number; counters: number }> {
    const now = this.now();
    const s = await this.db.deleteFrom('client_signatures').where('expires_at', '<', new Date(now)).executeTakeFirst();
    const c = await this.db.deleteFrom('rate_counters').where('until_ms', '<', String(now)).executeTakeFirst();
    for (const [key, k] of this.known) if (k.untilMs <= now) this.known.delete(key);
    for (const [key, b] of this.budgets) if (b.untilMs <= now) this.budgets.delete(key);
    return { signatures: Number(s.numDeletedRows), counters: Number(c.numDeletedRows) };
  }

  private async run(items: AdmissionItem[]): Promise<Admission[]> {
    const now = this.now();

    // A signature twice in one batch: only its first sending goes to the database; the others
    // are judged against it, as they would be against a stored one.
    const firstOf = new Map<string, AdmissionItem['signature'] & object>();
    for (const i of items) if (i.signature && !firstOf.has(i.signature.value)) firstOf.set(i.signature.value, i.signature);
    const signatures = [...firstOf.values()];

    // Hits on one counter are added as one row: an upsert may touch a row once per statement.
    const sums = new Map<string, Hit>();
    for (const i of items) {
      for (const h of i.hits ?? []) {
        const id = `${h.untilMs}|${h.key}`;
        const s = sums.get(id);
        if (s) s.n += h.n; else sums.set(id, { ...h });
      }
    }
    const counters = [...sums.values()];

    const rows = await sql<{ kind: 'f' | 's' | 'c'; k: string; v: string | null; total: number | null }>`
      with fresh as (
        insert into client_signatures (signature, request_id, expires_at)
        select s, r, to_timestamp(e / 1000.0)
        from unnest(${column(signatures, 'value')}::text[], ${column(signatures, 'requestId')}::text[], ${column(signatures, 'expiresMs')}::bigint[]) as v(s, r, e)
        on conflict (signature) do nothing
        returning signature
      ), counted as (
        insert into rate_counters (key, until_ms, hits)
        select * from unnest(${column(counters, 'key')}::text[], ${column(counters, 'untilMs')}::bigint[], ${column(counters, 'n')}::int[])
        on conflict (key, until_ms) do update set hits = rate_counters.hits + excluded.hits
        returning key, until_ms, hits
      )
      select 'f' as kind, signature as k, null as v, null::int as total from fresh
      -- The statement's snapshot: signatures stored before it (with their request ids), not this batch's.
      union all select 's', signature, request_id, null from client_signatures where signature = any(${column(signatures, 'value')}::text[])
      union all select 'c', until_ms::text || '|' || key, null, hits from counted
    `.execute(this.db);

    const fresh = new Set<string>();
    const seenWith = new Map<string, string>();
    const totals = new Map<string, number>();
    for (const r of rows.rows) {
      if (r.kind === 'f') fresh.add(r.k);
      else if (r.kind === 's') seenWith.set(r.k, r.v ?? '');
      else totals.set(r.k, Number(r.total));
    }
    if (this.known.size > 100_000) for (const [key, k] of this.known) if (k.untilMs <= now) this.known.delete(key);
    for (const h of counters) {
      const total = totals.get(`${h.untilMs}|${h.key}`) ?? 0;
      const k = this.known.get(h.key);
      if (!k || k.untilMs < h.untilMs || (k.untilMs === h.untilMs && k.total < total)) this.known.set(h.key, { untilMs: h.untilMs, total });
    }

    // Each item's count is the total before this batch plus the hits up to and including its own.
    const before = new Map<string, number>();
    for (const h of counters) { const id = `${h.untilMs}|${h.key}`; before.set(id, (totals.get(id) ?? 0) - h.n); }
    return items.map((i) => {
      let signature: Admission['signature'];
      if (i.signature) {
        const first = firstOf.get(i.signature.value)!;
        if (first !== i.signature) signature = first.requestId === i.signature.requestId ? 'retry' : 'replay';
        else if (fresh.has(i.signature.value)) signature = 'fresh';
        // Not inserted: stored before (a retry when with the same request id), or being inserted
        // right now by another process, which counts as a replay (the sender may try again).
        else signature = seenWith.get(i.signature.value) === i.signature.requestId ? 'retry' : 'replay';
      }
      const counts = (i.hits ?? []).map((h) => {
        const id = `${h.untilMs}|${h.key}`;
        const c = (before.get(id) ?? 0) + h.n;
        before.set(id, c);
        return c;
      });
      return { signature, counts };
    });
  }
}
