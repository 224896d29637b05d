import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RESTART_POLICY, RestartPolicy } from './restart-policy.ts';

const delay = (d: ReturnType<RestartPolicy['exited']>) => ('restartInMs' in d ? d.restartInMs : 'give up');

test('restarts wait 1 s, doubling to 30 s while processes keep dying soon after they start', () => {
  const policy = new RestartPolicy();
  const waits = Array.from({ length: 8 }, () => { policy.listening(); return delay(policy.exited(2000, 1)); });
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
});

test('a process that served a while before it died starts the wait over', () => {
  const policy = new RestartPolicy();
  for (let i = 0; i < 4; i++) policy.exited(1000, 1);
  assert.equal(delay(policy.exited(DEFAULT_RESTART_POLICY.stableAfterMs, 1)), 1000);
  assert.equal(delay(policy.exited(1000, 1)), 2000);
});

test('it gives up only after 10 starts in a row that never listened, and only while nothing else serves', () => {
  const alone = new RestartPolicy();
  const waits = Array.from({ length: 10 }, () => delay(alone.exited(undefined, 0)));
  assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000, 'give up']);

  // Another process serves: it goes on trying, as long as it runs.
  const beside = new RestartPolicy();
  for (let i = 0; i < 50; i++) assert.notEqual(delay(beside.exited(undefined, 1)), 'give up');
  assert.equal(beside.failedInARow, 50);

  // A start that reached listening breaks the row.
  const broken = new RestartPolicy();
  for (let i = 0; i < 9; i++) broken.exited(undefined, 0);
  broken.listening();
  assert.equal(broken.failedInARow, 0);
  assert.notEqual(delay(broken.exited(500, 0)), 'give up');
  for (let i = 0; i < 9; i++) assert.notEqual(delay(broken.exited(undefined, 0)), 'give up');
  assert.equal(delay(broken.exited(undefined, 0)), 'give up');
});
