import { hostname } from 'node:os';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Who holds a run directory. */
export interface LockHolder {
  pid: number;
  host: string;
  since: string;
}

export class RunLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
  ) {
    super(
      `${dir} is in use by process ${holder.pid} on ${holder.host} (since ${holder.since}); wait for it, or stop it, or use another output directory`,
    );
    this.name = 'RunLockedError';
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function readHolder(path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Locks of this process, released on SIGTERM/SIGINT by releaseHeldLocks (see the CLI). */
const held = new Set<() => void>();

/** Releases every lock this process holds (for a signal handler: a preempted job frees its runs). */
export function releaseHeldLocks(): void {
  for (const release of [...held]) release();
}

/** Marks the lock as alive (its mtime): a lock of another host not touched for this long is stale. */
export function touchLock(dir: string): void {
  const now = new Date();
  try {
    utimesSync(join(dir, 'lock'), now, now);
  } catch {
    // gone: nothing to mark
  }
}

/** Hours after which a lock held by another host, not touched since, is taken over (TENSORIZED_LOCK_STALE_HOURS, default 6). */
const staleMs = (): number => Number(process.env['TENSORIZED_LOCK_STALE_HOURS'] ?? 6) * 3_600_000;

/** Seconds after which a takeover mutex left by a process killed inside it is removed. */
const TAKEOVER_STALE_MS = 10_000;

/** Removes the lock at `path` if it still has the stale `holder` (same pid, host and time), under a mutex. */
function removeIfStill(path: string, holder: LockHolder | undefined): void {
  const mutex = `${path}.takeover`;
  try {
    mkdirSync(mutex);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Another process is taking over: wait a moment and look again (the caller loops). A mutex
    // left by a process killed inside it is removed after a while.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    try {
      if (Date.now() - statSync(mutex).mtimeMs > TAKEOVER_STALE_MS) rmSync(mutex, { recursive: true, force: true });
    } catch {
      // gone meanwhile
    }
    return;
  }
  try {
    const now = readHolder(path);
    const same =
      now === undefined ? holder === undefined : holder !== undefined && JSON.stringify(now) === JSON.stringify(holder);
    if (same) rmSync(path, { force: true });
  } finally {
    rmSync(mutex, { recursive: true, force: true });
  }
}

/**
 * Takes `dir/lock` (created exclusively, holding the pid and host), so that a second process cannot
 * train into the same run directory. A lock whose holder is gone is taken over: on this host, its
 * pid is not running; from another host (a shared file system), it was not touched (touchLock, once
 * per epoch) for TENSORIZED_LOCK_STALE_HOURS. Returns the release function.
 */
export function lockRunDir(dir: string): () => void {
  const path = join(dir, 'lock');
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 1000; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readHolder(path);
      const age = (() => {
        try {
          return Date.now() - statSync(path).mtimeMs;
        } catch {
          return 0;
        }
      })();
      // Held: by a live process of this host, or by another host within the stale time. An
      // unreadable lock younger than a few seconds may be another process's, mid-write.
      const live = holder
        ? holder.host === me.host
          ? alive(holder.pid) && holder.pid !== process.pid
          : age < staleMs()
        : age < 5000;
      if (live) throw new RunLockedError(dir, holder ?? { pid: 0, host: 'unknown', since: 'just now' });
      // Stale: its process is gone. Two processes may both see that (two workers starting at once);
      // removing it unguarded, the slower one would remove the faster one's new lock and both would
      // train the run. So the removal happens under a takeover mutex (an exclusive mkdir), which
      // reads the lock again and removes it only if it is still the stale one.
      removeIfStill(path, holder);
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      held.delete(release);
      if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
    };
    held.add(release);
    return release;
  }
  throw new Error(`could not take the lock ${path}`);
}
