import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { SoftwareSecurityModule } from './software-security-module.ts';
import { ModuleThread } from './module-thread.ts';
import type { IssueCardsRequest } from '../port.ts';

test('a module thread that stops fails the calls waiting on it; the next call starts a new thread', async () => {
  const master = randomBytes(32);
  const sm = new SoftwareSecurityModule(master);
  const [tok, dek, hmk, pvk] = await Promise.all((['TOK', 'DEK', 'HMK', 'PVK'] as const).map((type) => sm.generateKey({ type })));
  const request: IssueCardsRequest = {
    pans: Array.from({ length: 2000 }, (_, i) => String(4000000000000000 + i * 7919)),
    tok: tok!.keyBlock, dek: dek!.keyBlock, hmk: hmk!.keyBlock, pvk: pvk!.keyBlock, method: { kind: 'PVV', pvki: '1' },
    expiryYYMM: '3012', serviceCode: '201', cardholder: { surname: 'CARDHOLDER' },
  };
  const thread = new ModuleThread(master);
  const first = await thread.issueCards({ ...request, pans: request.pans.slice(0, 1) });
  assert.equal(first[0]!.token, await sm.tokenizePan({ tok: tok!.keyBlock, pan: request.pans[0]! }));

  const waiting = thread.issueCards(request);
  await (thread as unknown as { current: { worker: Worker } }).current.worker.terminate();
  await assert.rejects(waiting, /security module thread stopped/);

  const again = await thread.issueCards({ ...request, pans: request.pans.slice(0, 3) });
  assert.deepEqual(again.map((c) => c.hash), await Promise.all(request.pans.slice(0, 3).map((pan) => sm.panLookupHash(hmk!.keyBlock, pan))));

  // A thread's 'error' comes before its 'exit'; a call made in between goes to a new thread,
  // which the old thread's exit must leave alone.
  const old = (thread as unknown as { current: { worker: Worker } }).current.worker;
  const failing = thread.issueCards(request);
  old.emit('error', new Error('out of memory'));
  await assert.rejects(failing, /security module thread stopped/);
  const onNewThread = thread.issueCards(request);
  await old.terminate();
  assert.equal((await onNewThread).length, request.pans.length);
});
