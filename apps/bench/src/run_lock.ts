import { hostname } from 'node:os';
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
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
    super(`${dir} is in use by process ${holder.pid} on ${holder.host} (since ${holder.since}); wait for it, or stop it, or use another output directory`);
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

/**
 * Takes `dir/lock` (created exclusively, holding the pid and host), so that a second process cannot
 * train into the same run directory. A lock whose holder is gone (same host, pid not running, or an
 * unreadable lock file from a kill mid-write) is taken over. Returns the release function.
 */
export function lockRunDir(dir: string): () => void {
  const path = join(dir, 'lock');
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readHolder(path);
      if (holder && (holder.host !== me.host || alive(holder.pid)) && holder.pid !== process.pid) throw new RunLockedError(dir, holder);
      rmSync(path, { force: true }); // stale: its process is gone
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
    };
  }
  throw new Error(`could not take the lock ${path}`);
}
