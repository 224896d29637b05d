/**
 * A small time-bounded cache for configuration-like rows (organizations, logos, clients) that
 * change only when an operator re-applies the bootstrap file; other processes see a change
 * within the TTL.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; until: number }>();
  constructor(private readonly ttlMs: number, private readonly maxEntries = 10_000) {}

  get(key: K, now = Date.now()): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= now) { this.entries.delete(key); return undefined; }
    return e.value;
  }

  set(key: K, value: V, now = Date.now(), ttlMs = this.ttlMs): void {
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { value, until: now + ttlMs });
  }

  clear(): void { this.entries.clear(); }
}
