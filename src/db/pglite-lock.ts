import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

/**
 * PGlite is PostgreSQL in this process, on files: nothing stops a second process from opening the
 * same data folder, and two of them writing it break it for good (the next start aborts). So an
 * opener takes a lock file in the folder first. It names the holder (pid, host, the process's start
 * time and a nonce), so a refusal says who holds it, and a lock left by a process that died (a
 * SIGKILL, a crash) is recognized and taken over.
 */
export const LOCK_FILE = 'emboss.lock';

export interface LockHolder {
  pid: number;
  host: string;
  /** When the holding process started (ISO 8601). */
  started: string;
  /** The process's start time in clock ticks since boot (Linux /proc), to tell a reused pid. */
  procStart?: string;
  /** The holder's own mark, so a release removes its own lock and nothing else. */
  nonce: string;
}

/** The data folder is open in another process (or another open in this one). */
export class StoreLockedError extends Error {
  constructor(readonly dataDir: string, readonly holder: LockHolder) {
    super(`the embedded database in ${dataDir} is in use by process ${holder.pid}${holder.host !== hostname() ? ` on ${holder.host}` : ''} `
      + `(started ${holder.started}); PGlite allows one process at a time`);
    this.name = 'StoreLockedError';
  }
}

/** This process's start time in clock ticks since boot (field 22 of /proc/PID/stat), where there is /proc. */
function procStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether the holder still runs. `kill(pid, 0)` answers for the pid; /proc's start time tells
 * whether that pid is still the holder or was reused since by another process. A lock taken on
 * another host cannot be checked from here and counts as held.
 */
export function holderAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: the pid runs, under another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = procStartOf(holder.pid);
  return holder.procStart === undefined || now === undefined || now === holder.procStart;
}

function readHolder(file: string): { text: string; holder: LockHolder | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const holder = JSON.parse(text) as LockHolder;
    return { text, holder: Number.isInteger(holder.pid) && typeof holder.host === 'string' ? holder : undefined };
  } catch {
    // Not a lock this code wrote (locks are linked in whole): nobody can be shown to hold it.
    return { text, holder: undefined };
  }
}

/**
 * Creates `file` holding `text` only if it does not exist: of several creators, one wins. The text
 * is written to a file of this opener's own first (`wx`), then linked to the lock's name, which
 * fails if that name exists: a lock file is never seen half-written.
 */
function createExclusive(file: string, text: string, nonce: string): boolean {
  const own = `${file}.${nonce}`;
  writeFileSync(own, text, { flag: 'wx', mode: 0o600 });
  try {
    linkSync(own, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(own);
  }
}

export interface DataDirLock {
  release(): void;
}

/** Waits `ms` milliseconds, synchronously (opening a store is synchronous up to PGlite). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Removes the stale lock `file` whose text is `staleText`, unless another opener is at it. Only
 * the opener that creates the marker `<file>.takeover-<digest of that text>` exclusively may remove
 * that lock, and only while the file still holds that very text: no other opener ever removes a
 * lock, and a lock made since holds a nonce of its own, so it never has that text. (Renaming the
 * stale lock aside instead, as before, moved away a live lock when a slower opener had read the
 * stale one first; a third opener could then take the folder while the second put the first
 * one's lock back: two openers of one folder.) A marker whose opener died while at it is stale in
 * turn, and removed the same way.
 */
function removeStale(file: string, staleText: string, me: { text: string; nonce: string }, pauseMs: number): void {
  const marker = `${file}.takeover-${createHash('sha256').update(staleText).digest('hex').slice(0, 16)}`;
  if (createExclusive(marker, me.text, me.nonce)) {
    try {
      if (readHolder(file)?.text === staleText) {
        try { unlinkSync(file); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
      }
    } finally {
      unlinkSync(marker);
    }
    return;
  }
  const taker = readHolder(marker);
  if (taker === undefined) return; // done meanwhile: look at the lock again
  if (taker.holder && holderAlive(taker.holder)) {
    pause(pauseMs); // another opener is removing it: a moment, then look again
    return;
  }
  removeStale(marker, taker.text, me, pauseMs);
}

/**
 * Takes the data folder's lock, or throws StoreLockedError naming the live holder. A stale lock
 * (its holder is dead) is removed (removeStale), then the lock is created exclusively again: of
 * several openers, the one that creates it wins and the others are refused. `patience`: how many
 * times to look again, and how long to wait while another opener removes a stale lock.
 */
export function lockDataDir(dataDir: string, patience = { attempts: 100, pauseMs: 2 }): DataDirLock {
  const file = join(dataDir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid, host: hostname(), started: new Date(Date.now() - Math.round(process.uptime() * 1000)).toISOString(),
    ...(procStartOf(process.pid) !== undefined ? { procStart: procStartOf(process.pid)! } : {}),
    nonce: randomBytes(8).toString('hex'),
  };
  const text = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; ; attempt++) {
    if (createExclusive(file, text, me.nonce)) break;
    const found = readHolder(file);
    if (found === undefined) continue; // released meanwhile: try again
    if (found.holder && holderAlive(found.holder)) throw new StoreLockedError(dataDir, found.holder);
    if (attempt >= patience.attempts) throw new Error(`could not take the lock ${file}: other openers keep replacing it`);
    removeStale(file, found.text, { text, nonce: me.nonce }, patience.pauseMs);
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    // Only our own lock: a folder whose lock was removed by hand and taken by another keeps that one.
    const found = readHolder(file);
    if (found?.holder?.nonce === me.nonce) {
      try { unlinkSync(file); } catch { /* removed already */ }
    }
  };
  // A process that ends without closing the store (process.exit on an error path) frees it too;
  // one that is killed leaves a stale lock, which the next opener recognizes and replaces.
  process.once('exit', release);
  return { release };
}
