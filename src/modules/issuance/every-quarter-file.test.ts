import { test } from 'node:test';
import assert from 'node:assert/strict';
import { everyQuarterFile } from './issuance.service.ts';
import { MAX_RECORDS_PER_FILE } from '../personalization/index.ts';

test('the bureau files are looked at on the first chunk, after each quarter file of cards, and on the last chunk', async () => {
  const total = 3 * MAX_RECORDS_PER_FILE + 500;
  const progress = Array.from({ length: Math.ceil(total / 1000) }, (_, i) => Math.min((i + 1) * 1000, total));
  const calls: number[] = [];
  let done = 0;
  const alongside = everyQuarterFile(async () => { calls.push(done); });
  for (done of progress) await alongside({ status: 'RUNNING', done, total, cardsPerSecond: 0, etaSeconds: null });

  const quarter = MAX_RECORDS_PER_FILE / 4;
  assert.equal(calls[0], 1000);
  assert.equal(calls.at(-1), total);
  for (let i = 1; i < calls.length - 1; i++) assert.equal(calls[i]! - calls[i - 1]!, quarter, `call ${i} at ${calls[i]}`);
  assert.equal(calls.length, 2 + Math.floor((total - 1000 - 1) / quarter));
});
