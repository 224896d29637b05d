import { isStoreUnavailable } from './store-unavailable.ts';

/**
 * Natural batching ("group commit") of small, independent database statements made by concurrent
 * requests: items submitted while a batch is on its way wait for it to return and then go together,
 * as one statement. Alone, an item waits for nothing but the end of the current event-loop turn;
 * under load, a batch gathers the requests that arrived during one round trip. The cost per round
 * trip (a system call each way, a statement for the database to run and, for a write, a commit
 * and its WAL flush) is then shared by all of them, instead of paid by each.
 *
 * `run` gets the items in submission order and must answer one result per item, in the same
 * order. A batch statement should not fail because of one item (use ON CONFLICT, look-ups that may
 * find nothing, values checked at the edge), but if it throws anyway, each item of the batch is
 * run again alone, so only the item that fails gets an error and the other requests are answered
 * as if they had come alone. The one exception is an outage (the store cannot be reached): every
 * item gets that error at once, rather than each waiting for its own failed attempt.
 */
export interface BatcherOptions {
  /** Most items per statement (bounds its size and the wait of the last one). */
  maxBatch: number;
  /** Batches on their way at once (at most the connections one may take from the pool). */
  maxInFlight: number;
}

interface Pending<I, O> { item: I; resolve(value: O): void; reject(reason: unknown): void }

export class Batcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly run: (items: I[]) => Promise<O[]>, private readonly options: BatcherOptions = { maxBatch: 128, maxInFlight: 2 }) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // setImmediate, not a microtask: requests whose data arrived in the same event-loop turn join.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.send(batch);
    }
  }

  private async send(batch: Pending<I, O>[]): Promise<void> {
    try {
      await this.answer(batch);
    } catch (err) {
      if (batch.length === 1 || isStoreUnavailable(err)) {
        for (const p of batch) p.reject(err);
      } else {
        // One item may have failed the statement for all: each runs again alone, one after the
        // other in this batch's place (the statement failed as a whole, so nothing of it was kept).
        for (const p of batch) await this.answer([p]).catch((e: unknown) => p.reject(e));
      }
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }

  private async answer(batch: Pending<I, O>[]): Promise<void> {
    const results = await this.run(batch.map((p) => p.item));
    if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} got ${results.length} results`);
    batch.forEach((p, i) => p.resolve(results[i]!));
  }
}


/**
 * Values that never hold a comma (hex, base64, digits, identifiers) as one text parameter for
 * `string_to_array(…, ',')`, in bulk writes: for PostgreSQL a cheaper parse than an array literal
 * (which it scans for quotes and escapes character by character; array_in was 8 % of its time in
 * a mass issue), and for node-postgres a join instead of quoting every element. A value that is
 * empty or holds a comma would change the list: refused. With `nulls`, a null travels as an empty
 * element, which `string_to_array(…, ',', '')` reads as NULL (a list of one null alone reads as
 * no element: such a list must have another).
 */
export function commaList(values: ReadonlyArray<string | number | boolean | null>, nulls = false): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    let v = '';
    if (value === null) {
      if (!nulls) throw new Error('commaList: a value is null');
    } else {
      v = String(value);
      if (v === '' || v.includes(',')) throw new Error('commaList: a value is empty or holds a comma');
    }
    out += i === 0 ? v : `,${v}`;
  }
  return out;
}

/** One field of every item of a batch, in order: an array parameter for `unnest(…)`. */
export function column<T, K extends keyof T>(items: readonly T[], key: K): Array<T[K]> {
  // A loop, not a callback made per call (whose optimized code a collection drops): hot in bulk writes.
  const values: Array<T[K]> = [];
  for (const item of items) values.push(item[key]);
  return values;
}

/**
 * The answers of a look-up that numbered its keys `with ordinality` (column `i`, from 1): for
 * each key, in order, its row made into a value, or undefined when nothing was found.
 */
export function byOrdinality<R extends { i: string | number }, V>(count: number, rows: readonly R[], value: (row: Omit<R, 'i'>) => V): Array<V | undefined> {
  const found = new Map<number, V>();
  for (const { i, ...row } of rows) found.set(Number(i), value(row));
  return Array.from({ length: count }, (_, index) => found.get(index + 1));
}
