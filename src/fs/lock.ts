/**
 * One writer at a time per folder: `<dir>/.skycert.lock`, held with
 * proper-lockfile. The lock's mtime is refreshed while it is held, so the lock
 * of a run that was killed goes stale and the next run takes it over.
 *
 * The takeover is done here, not by proper-lockfile: it checks that a lock is
 * stale and then removes it, so two runs that both found a dead run's lock
 * could each remove it, the second removing the fresh lock the first had just
 * made, and both would write (and each clean the other's temporaries as a dead
 * run's). Here a stale lock is removed only by the holder of a guard folder
 * (`.skycert.lock.break`, made with mkdir, held for a few system calls), which
 * checks again that it is stale: a fresh lock is never removed.
 */
import { lstatSync, mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import lockfile from "proper-lockfile";
import { failure, usageError } from "../cli/errors.js";

export const LOCK_NAME = ".skycert.lock";
const GUARD_NAME = `${LOCK_NAME}.break`;

/** A killed run's lock (or takeover guard) is taken over once it has not been refreshed for this long. */
const STALE_MS = 5000;
/** How often a held lock's mtime is refreshed (proper-lockfile's default for this staleness). */
const REFRESH_MS = STALE_MS / 2;
/** Never: proper-lockfile must not take a stale lock over by itself (see above). */
const NEVER_STALE_MS = 100 * 365 * 86_400_000;

const age = (path: string) => {
  const st = lstatSync(path, { throwIfNoEntry: false });
  return st ? { dir: st.isDirectory(), kind: st.isSymbolicLink() ? "a symlink" : st.isFile() ? "a regular file" : "not a folder", ms: Date.now() - st.mtimeMs } : undefined;
};

/** Remove `lock` if it is still stale, holding the guard; false when another run holds the guard. */
function breakStale(lock: string, guard: string): boolean {
  try {
    mkdirSync(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    // A guard is held for a few system calls: one this old is a killed run's.
    const g = age(guard);
    if (g && g.ms > STALE_MS) {
      try {
        removeGuard(guard);
      } catch {
        /* not ours to remove: the lock's error says why */
      }
    }
    return false;
  }
  try {
    const l = age(lock);
    if (l?.dir && l.ms > STALE_MS) rmdirSync(lock);
  } finally {
    removeGuard(guard);
  }
  return true;
}

/** A guard is removed by its holder, or by the next lock holder once it is a killed run's. */
function removeGuard(guard: string): void {
  try {
    rmdirSync(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/** SKYCERT_LOCK_WAIT_MS, else long enough to outwait a killed run's lock going stale. */
function lockWaitMs(): number {
  const raw = process.env.SKYCERT_LOCK_WAIT_MS;
  if (raw === undefined || raw === "") return STALE_MS + 5000;
  if (!/^\d+$/.test(raw)) throw usageError(`SKYCERT_LOCK_WAIT_MS=${JSON.stringify(raw)}: not a whole number of milliseconds`);
  return Number(raw);
}

/**
 * Run `fn` holding `dir`'s lock (the folder must exist). A second run waits up
 * to SKYCERT_LOCK_WAIT_MS for the first, then refuses naming the lock.
 */
export async function withLock<T>(dir: string, fn: () => Promise<T>, waitMs = lockWaitMs()): Promise<T> {
  const lockfilePath = join(dir, LOCK_NAME);
  const deadline = Date.now() + waitMs;
  let release: () => Promise<void>;
  for (;;) {
    try {
      release = await lockfile.lock(dir, {
        lockfilePath,
        realpath: false,
        stale: NEVER_STALE_MS,
        update: REFRESH_MS,
        // proper-lockfile's default throws from a timer, killing the run halfway through a write; a refresh
        // that came late (a machine under load) is no reason to leave a half-written set.
        onCompromised: () => undefined,
      });
      // A guard left by a run killed while it took a lock over: ours to remove once it is stale.
      const guard = join(dir, GUARD_NAME);
      if ((age(guard)?.ms ?? 0) > STALE_MS) {
        try {
          removeGuard(guard);
        } catch {
          /* not ours to remove: the next holder tries again */
        }
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw failure(`cannot lock ${dir}: ${(err as Error).message}`, "check the folder's owner and mode, or choose another --out");
      const held = age(lockfilePath);
      if (held && !held.dir) throw failure(`${lockfilePath} is ${held.kind}, not a skycert lock (a folder)`, `remove it, once no skycert run is writing ${dir}`);
      if (held && held.ms > STALE_MS) {
        let broken: boolean;
        try {
          broken = breakStale(lockfilePath, join(dir, GUARD_NAME));
        } catch (e) {
          throw failure(`cannot take over the stale lock ${lockfilePath}: ${(e as Error).message}`, "check the folder's owner and mode, or choose another --out");
        }
        if (!broken) await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (Date.now() >= deadline) {
        throw failure(`another skycert run is writing ${dir}`, `wait for it to finish; a run that was killed releases the lock after ${STALE_MS / 1000} seconds (${lockfilePath})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
