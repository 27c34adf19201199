/**
 * RSA keys for a fleet, searched for in libuv's thread pool with as many in
 * flight as there are cores (os.availableParallelism()), produced ahead of the
 * hosts that take them. Light on purpose: the init command starts it before it
 * loads the rest of skycert.
 */
import { availableParallelism } from "node:os";
import type { KeyObject } from "node:crypto";
import { generateRsaKey } from "../core/keys.js";

export class KeyPool {
  readonly parallelism: number;
  private started = 0;
  private claimed = 0;
  private demand: number;
  private readonly ready: Promise<KeyObject>[] = [];
  private inFlight = 0;
  private readonly waiting: ((p: Promise<KeyObject>) => void)[] = [];

  /**
   * `demand` is how many keys to search for before the hosts are known: by
   * default one per core, so a slow start (a passphrase prompt) wastes nothing.
   */
  constructor(
    private readonly bits: number,
    demand?: number,
    parallelism = availableParallelism(),
  ) {
    this.parallelism = Math.max(1, parallelism);
    this.demand = demand ?? this.parallelism;
    this.fill();
  }

  /** A pool that first hands out `early` keys, with every core searching from the start. */
  static withEarlyKeys(bits: number, early: Promise<KeyObject>[], parallelism = availableParallelism()): KeyPool {
    const pool = new KeyPool(bits, 0, parallelism);
    pool.adopt(early);
    pool.setDemand(Math.max(early.length, pool.parallelism));
    return pool;
  }

  /** How many keys will be wanted in all (hosts to issue). */
  setDemand(n: number): void {
    this.demand = n;
    this.fill();
  }

  /** The next key, in the order keys are found. */
  take(): Promise<KeyObject> {
    // Searches are never abandoned (exit waits for the thread pool), so only start one per key taken.
    if (++this.claimed > this.demand) this.setDemand(this.claimed);
    const ready = this.ready.shift();
    if (ready) return ready;
    return new Promise<Promise<KeyObject>>((resolve) => this.waiting.push(resolve)).then((p) => p);
  }

  /** Hand over keys already being searched for (bin/skycert starts them before the CLI loads). */
  adopt(keys: Promise<KeyObject>[]): void {
    for (const key of keys) {
      this.started++;
      this.inFlight++;
      key.then(
        (k) => this.deliver(Promise.resolve(k)),
        (err: unknown) => this.deliver(Promise.reject(err instanceof Error ? err : new Error(String(err)))),
      );
    }
  }

  private fill(): void {
    while (this.inFlight < this.parallelism && this.started < this.demand) {
      this.started++;
      this.inFlight++;
      generateRsaKey(this.bits).then(
        (key) => this.deliver(Promise.resolve(key)),
        (err: unknown) => this.deliver(Promise.reject(err instanceof Error ? err : new Error(String(err)))),
      );
    }
  }

  private deliver(p: Promise<KeyObject>): void {
    p.catch(() => undefined);
    this.inFlight--;
    const waiter = this.waiting.shift();
    if (waiter) waiter(p);
    else this.ready.push(p);
    this.fill();
  }
}

/**
 * Keys `bin/skycert` started for this command line before the CLI loaded, if
 * they are of the size wanted. Taken once.
 */
export function earlyKeys(bits: number): Promise<KeyObject>[] {
  const early = (globalThis as { skycertEarlyKeys?: { bits: number; keys: Promise<KeyObject>[] } }).skycertEarlyKeys;
  (globalThis as { skycertEarlyKeys?: unknown }).skycertEarlyKeys = undefined;
  if (!early || early.bits !== bits) return [];
  for (const k of early.keys) k.catch(() => undefined);
  return early.keys;
}

/** `n` keys for a one-off run (roles, a CA), the early ones first. */
export function roleKeys(bits: number, n: number): Promise<KeyObject>[] {
  const early = earlyKeys(bits).slice(0, n);
  const pool = new KeyPool(bits, n - early.length);
  const keys = [...early, ...Array.from({ length: n - early.length }, () => pool.take())];
  for (const k of keys) k.catch(() => undefined);
  return keys;
}
