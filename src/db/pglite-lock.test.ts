import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockDataDir, StoreLockedError, type LockHolder } from './pglite-lock.ts';

const folder = () => mkdtempSync(join(tmpdir(), 'emboss-lock-'));
const holderIn = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockHolder;
/** The pid of a process that has ended. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

test('one opener at a time: a second is refused, naming the holder; released, the folder can be opened again', (t) => {
  const dir = folder();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lock = lockDataDir(dir);
  const held = holderIn(dir);
  assert.equal(held.pid, process.pid);
  assert.equal(held.host, hostname());
  assert.throws(() => lockDataDir(dir), (err: unknown) => {
    assert.ok(err instanceof StoreLockedError);
    assert.equal(err.holder.pid, process.pid);
    assert.match(err.message, new RegExp(`in use by process ${process.pid} \\(started .*\\); PGlite allows one process at a time`));
    return true;
  });
  assert.equal(holderIn(dir).nonce, held.nonce, 'the refused opener left the lock alone');
  lock.release();
  assert.equal(existsSync(join(dir, LOCK_FILE)), false);
  lockDataDir(dir).release();
  assert.deepEqual(readdirSync(dir), [], 'nothing left behind');
});

test('a lock whose process is dead is taken over', (t) => {
  const dir = folder();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pid = deadPid();
  assert.throws(() => process.kill(pid, 0));
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, host: hostname(), started: '2026-01-01T00:00:00.000Z', nonce: 'dead' }));
  const lock = lockDataDir(dir);
  assert.equal(holderIn(dir).pid, process.pid);
  lock.release();
  assert.deepEqual(readdirSync(dir), []);
});

test('a live pid that is not the holder any more (reused since: another start time) is taken over; the same start time is not', { skip: existsSync('/proc/self/stat') ? false : 'no /proc' }, (t) => {
  const dir = folder();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: hostname(), started: '2026-01-01T00:00:00.000Z', procStart: '1', nonce: 'reused' }));
  const lock = lockDataDir(dir);
  const mine = holderIn(dir);
  assert.equal(mine.pid, process.pid);
  assert.notEqual(mine.nonce, 'reused');
  assert.ok(mine.procStart && mine.procStart !== '1');
  lock.release();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...mine, nonce: 'same-process' }));
  assert.throws(() => lockDataDir(dir), StoreLockedError);
});

test('a lock from another host cannot be checked from here and is respected; an unreadable one is replaced', (t) => {
  const dir = folder();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: `${hostname()}-elsewhere`, started: '2026-01-01T00:00:00.000Z', nonce: 'far' }));
  assert.throws(() => lockDataDir(dir), /in use by process [0-9]+ on .*-elsewhere/);
  writeFileSync(join(dir, LOCK_FILE), 'not a lock');
  const lock = lockDataDir(dir);
  assert.equal(holderIn(dir).pid, process.pid);
  lock.release();
});

test('a release removes its own lock only', (t) => {
  const dir = folder();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lock = lockDataDir(dir);
  // Removed by hand and taken by another opener meanwhile: that lock stays.
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ ...holderIn(dir), nonce: 'another' }));
  lock.release();
  assert.equal(holderIn(dir).nonce, 'another');
});

test('openers racing for a folder with a stale lock: exactly one gets it', async (t) => {
  const dir = folder();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), host: hostname(), started: '2026-01-01T00:00:00.000Z', nonce: 'dead' }));
  // Each process says when it is ready, tries when told (all at once), and holds what it got until
  // its input ends.
  const script = `
    import { lockDataDir } from ${JSON.stringify(new URL('./pglite-lock.ts', import.meta.url).href)};
    process.stdout.write('ready\\n');
    process.stdin.once('data', () => {
      let got = false;
      try { lockDataDir(${JSON.stringify(dir)}); got = true; } catch (err) { if (err.name !== 'StoreLockedError') throw err; }
      process.stdout.write(got ? 'won\\n' : 'refused\\n');
    });
    process.stdin.resume();`;
  const children = Array.from({ length: 4 }, () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const said = (word: string) => new Promise<void>((resolve, reject) => {
      const check = () => { if (out.includes(word)) resolve(); };
      child.stdout!.on('data', (d) => { out += d; check(); });
      child.once('exit', (code) => reject(new Error(`exited ${code} before saying ${word}`)));
    });
    return { child, ready: said('ready'), outcome: () => out.replace('ready\n', '').trim(), exited: new Promise((r) => child.once('exit', r)) };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.child.stdin!.write('go');
  for (const deadline = Date.now() + 10_000; !children.every((c) => c.outcome() !== '') && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
  const outcomes = children.map((c) => c.outcome()).sort();
  for (const c of children) c.child.stdin!.end();
  await Promise.all(children.map((c) => c.exited));
  assert.deepEqual(outcomes, ['refused', 'refused', 'refused', 'won']);
  assert.deepEqual(readdirSync(dir), [], 'the winner released it at its exit');
});
