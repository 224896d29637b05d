import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, byOrdinality, column, commaList } from './batcher.ts';

/** A batch function that records the batches it got and can be held open until released. */
function recorder<I>(answer: (item: I) => unknown = (item) => item) {
  const batches: I[][] = [];
  let release: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  return {
    batches,
    hold() { gate = new Promise((r) => { release = r; }); },
    release: () => release(),
    run: async (items: I[]) => { batches.push(items); await gate; return items.map(answer); },
  };
}

test('items submitted in one event-loop turn go in one batch, each gets its own result', async () => {
  const r = recorder<number>((n) => n * 10);
  const b = new Batcher(r.run, { maxBatch: 100, maxInFlight: 1 });
  const results = await Promise.all([1, 2, 3, 4].map((n) => b.submit(n)));
  assert.deepEqual(results, [10, 20, 30, 40]);
  assert.deepEqual(r.batches, [[1, 2, 3, 4]]);
});

test('items submitted while a batch is on its way wait for it and then go together', async () => {
  const r = recorder<string>();
  const b = new Batcher(r.run, { maxBatch: 100, maxInFlight: 1 });
  r.hold();
  const first = b.submit('a');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(r.batches, [['a']]);
  const later = [b.submit('b'), b.submit('c')];
  await new Promise((resolve) => setImmediate(resolve));
  const laterStill = b.submit('d');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(r.batches.length, 1, 'nothing more is sent while the one batch allowed is on its way');
  r.release();
  assert.equal(await first, 'a');
  assert.deepEqual(await Promise.all([...later, laterStill]), ['b', 'c', 'd']);
  assert.deepEqual(r.batches, [['a'], ['b', 'c', 'd']]);
});

test('a batch holds at most maxBatch items, and up to maxInFlight batches are on their way at once', async () => {
  const r = recorder<number>();
  const b = new Batcher(r.run, { maxBatch: 3, maxInFlight: 2 });
  r.hold();
  const all = Array.from({ length: 8 }, (_, i) => b.submit(i));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(r.batches, [[0, 1, 2], [3, 4, 5]]);
  r.release();
  assert.deepEqual(await Promise.all(all), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(r.batches, [[0, 1, 2], [3, 4, 5], [6, 7]]);
});

test('a batch that fails is run again item by item: only the item that fails gets the error', async () => {
  const batches: number[][] = [];
  const b = new Batcher(async (items: number[]) => {
    batches.push(items);
    // A poisoned value fails the whole statement it is in, as PostgreSQL does.
    if (items.includes(13)) throw new Error('invalid input syntax');
    return items.map((n) => n * 2);
  }, { maxBatch: 100, maxInFlight: 1 });
  const outcomes = [1, 13, 2].map((n) => b.submit(n).then((v) => v, (e: Error) => e.message));
  assert.deepEqual(await Promise.all(outcomes), [2, 'invalid input syntax', 4]);
  assert.deepEqual(batches, [[1, 13, 2], [1], [13], [2]]);
  assert.equal(await b.submit(3), 6, 'the batcher keeps working');
});

test('an outage fails every item of the batch at once, without running each alone', async () => {
  const batches: number[][] = [];
  const b = new Batcher(async (items: number[]) => {
    batches.push(items);
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  }, { maxBatch: 100, maxInFlight: 1 });
  const outcomes = [1, 2, 3].map((n) => b.submit(n).then(() => 'ok', (e: { code: string }) => e.code));
  assert.deepEqual(await Promise.all(outcomes), ['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
  assert.deepEqual(batches, [[1, 2, 3]]);
});

test('a batch function that answers the wrong number of results fails the batch', async () => {
  const b = new Batcher(async (items: number[]) => items.slice(1), { maxBatch: 100, maxInFlight: 1 });
  await assert.rejects(Promise.all([b.submit(1), b.submit(2)]), /a batch of 1 got 0 results/);
});

test('column and byOrdinality: array parameters out, answers back in key order with gaps', () => {
  const keys = [{ a: 1, b: 'x' }, { a: 2, b: 'y' }, { a: 3, b: 'z' }];
  assert.deepEqual(column(keys, 'b'), ['x', 'y', 'z']);
  // Rows come back in any order, numbered from 1; key 2 found nothing.
  const rows = [{ i: '3', v: 30 }, { i: 1, v: 10 }];
  assert.deepEqual(byOrdinality(keys.length, rows, (r) => r.v), [10, undefined, 30]);
});

test('commaList: values joined for string_to_array; an empty value or one with a comma is refused', () => {
  assert.equal(commaList(['ab12', 'Zm9v+/==', 42]), 'ab12,Zm9v+/==,42');
  assert.equal(commaList([]), '');
  assert.throws(() => commaList(['a', '']), /empty or holds a comma/);
  assert.throws(() => commaList(['a,b']), /empty or holds a comma/);
  assert.throws(() => commaList(['a', null]), /is null/);
  // Asked for, a null is an empty element (string_to_array's null string).
  assert.equal(commaList([null, 'a', null, true], true), ',a,,true');
  assert.throws(() => commaList(['a', ''], true), /empty or holds a comma/);
});
