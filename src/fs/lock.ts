/**
 * One writer at a time per folder: `<dir>/.skycert.lock`, held with
 * proper-lockfile. The lock's mtime is refreshed while it is held, so the lock
 * of a run that was killed goes stale and the next run takes it over.
 */
import { join } from "node:path";
import lockfile from "proper-lockfile";
import { failure, usageError } from "../cli/errors.js";

export const LOCK_NAME = ".skycert.lock";

/** proper-lockfile's smallest staleness: a killed run's lock is taken over after this. */
const STALE_MS = 5000;

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
        stale: STALE_MS,
        // proper-lockfile's default throws from a timer, killing the run halfway through a write; a refresh
        // that came late (a machine under load) is no reason to leave a half-written set.
        onCompromised: () => undefined,
      });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw failure(`cannot lock ${dir}: ${(err as Error).message}`, "check the folder's owner and mode, or choose another --out");
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
