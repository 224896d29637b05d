import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs, { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
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

/**
 * Four processes, each told a folder and a moment: at that moment (to the millisecond, by a busy
 * wait) each tries to open the folder, says whether it won, and holds what it got until told to
 * let go. Started once, for every round.
 */
function racers(count: number) {
  const script = `
    import { lockDataDir } from ${JSON.stringify(new URL('./pglite-lock.ts', import.meta.url).href)};
    import { createInterface } from 'node:readline';
    let held;
    process.stdout.write('ready\\n');
    createInterface({ input: process.stdin }).on('line', (line) => {
      const [what, dir, at] = line.split(' ');
      if (what === 'release') { held?.release(); held = undefined; process.stdout.write('released\\n'); return; }
      while (Date.now() < Number(at));
      let got = false;
      try { held = lockDataDir(dir); got = true; } catch (err) { if (err.name !== 'StoreLockedError') throw err; }
      process.stdout.write(got ? 'won\\n' : 'refused\\n');
    });`;
  return Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let partial = '';
    child.stdout!.on('data', (d) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
    });
    /** The next line it says (after those already read), within 10 s. */
    let read = 0;
    const next = async () => {
      for (const deadline = Date.now() + 10_000; lines.length <= read; await new Promise((r) => setTimeout(r, 5))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no answer (exit ${child.exitCode})`);
      }
      return lines[read++]!;
    };
    return { child, next, send: (line: string) => child.stdin!.write(`${line}\n`), exited: new Promise((r) => child.once('exit', r)) };
  });
}

test('openers racing for a folder with a stale lock: exactly one gets it, round after round', async (t) => {
  const children = racers(4);
  t.after(() => { for (const c of children) c.child.kill('SIGKILL'); });
  for (const c of children) assert.equal(await c.next(), 'ready');
  const dead = deadPid();
  for (let round = 0; round < 10; round++) {
    const dir = folder();
    try {
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: dead, host: hostname(), started: '2026-01-01T00:00:00.000Z', nonce: `dead-${round}` }));
      const at = Date.now() + 50;
      for (const c of children) c.send(`try ${dir} ${at}`);
      const outcomes = await Promise.all(children.map((c) => c.next()));
      assert.deepEqual([...outcomes].sort(), ['refused', 'refused', 'refused', 'won'], `round ${round}`);
      assert.equal(holderIn(dir).pid, children[outcomes.indexOf('won')]!.child.pid, 'the lock names the winner');
      for (const c of children) c.send('release');
      for (const c of children) assert.equal(await c.next(), 'released');
      assert.deepEqual(readdirSync(dir), [], 'the winner released it; no marker is left behind');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const c of children) c.child.stdin!.end();
  await Promise.all(children.map((c) => c.exited));
});

test('a marker left by an opener that died while removing a stale lock is stale in turn: the next opener removes both and gets the folder', (t) => {
  const dir = folder();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stale = JSON.stringify({ pid: deadPid(), host: hostname(), started: '2026-01-01T00:00:00.000Z', nonce: 'dead' });
  writeFileSync(join(dir, LOCK_FILE), stale);
  const marker = `${LOCK_FILE}.takeover-${createHash('sha256').update(stale).digest('hex').slice(0, 16)}`;
  writeFileSync(join(dir, marker), JSON.stringify({ pid: deadPid(), host: hostname(), started: '2026-01-01T00:00:00.000Z', nonce: 'died-taking-over' }));
  const lock = lockDataDir(dir);
  assert.equal(holderIn(dir).pid, process.pid);
  assert.deepEqual(readdirSync(dir), [LOCK_FILE], 'the dead opener\'s marker is gone');
  lock.release();
  assert.deepEqual(readdirSync(dir), []);
});

/**
 * Openers interleaved step by step, in this process: opener B works on a folder with a stale lock,
 * and from its k-th file operation on, after each of them, another opener arrives and tries the
 * folder (to its end: the arrivals run inside B's operations). For every k, at most one opener may
 * hold the folder, and the lock file must name that one. (Renaming the stale lock aside, as the
 * takeover once did, failed here: B renamed the lock an arrival had just made, a second arrival
 * took the empty name, and B's putting the first one back failed: two holders.)
 */
test('whichever file operation a slow opener of a stale lock is at when others arrive, one opener holds the folder', (t) => {
  const real = { linkSync: fs.linkSync, unlinkSync: fs.unlinkSync, renameSync: fs.renameSync, readFileSync: fs.readFileSync, writeFileSync: fs.writeFileSync };
  t.after(() => { Object.assign(fs, real); syncBuiltinESMExports(); });
  const stale = JSON.stringify({ pid: deadPid(), host: hostname(), started: '2026-01-01T00:00:00.000Z', nonce: 'dead' });
  for (let k = 0; ; k++) {
    const dir = folder();
    writeFileSync(join(dir, LOCK_FILE), stale);
    const held: Array<{ lock: ReturnType<typeof lockDataDir>; nonce: string }> = [];
    let step = 0;
    let arriving = false;
    const tryOpen = () => {
      try {
        // Patience of a few looks: B cannot move on while an arrival waits inside it.
        const lock = lockDataDir(dir, { attempts: 3, pauseMs: 0 });
        held.push({ lock, nonce: holderIn(dir).nonce });
      } catch (err) {
        // Refused, or gave up waiting on B, which cannot move while an arrival runs inside it.
        if (!(err instanceof StoreLockedError) && !/could not take the lock/.test((err as Error).message)) throw err;
      }
    };
    for (const name of Object.keys(real) as Array<keyof typeof real>) {
      (fs as Record<string, unknown>)[name] = (...args: unknown[]) => {
        const inFolder = typeof args[0] === 'string' && args[0].startsWith(dir);
        try {
          return (real[name] as (...a: unknown[]) => unknown)(...args);
        } finally {
          if (inFolder && !arriving && step++ >= k) {
            arriving = true;
            try { tryOpen(); } finally { arriving = false; }
          }
        }
      };
    }
    syncBuiltinESMExports();
    try {
      tryOpen(); // B
    } finally {
      Object.assign(fs, real);
      syncBuiltinESMExports();
    }
    try {
      assert.equal(held.length, 1, `arrivals from B's operation ${k} on: ${held.length} openers hold the folder`);
      assert.equal(holderIn(dir).nonce, held[0]!.nonce, 'the lock names the one that holds it');
    } finally {
      for (const h of held) h.lock.release();
      rmSync(dir, { recursive: true, force: true });
    }
    if (step <= k) break; // B's operations were fewer than k: every point was tried
  }
});
