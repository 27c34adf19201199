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

  /** How many keys will be wanted in all (hosts to issue). */
  setDemand(n: number): void {
    this.demand = n;
    this.fill();
  }

  /** The next key, in the order keys are found. */
  take(): Promise<KeyObject> {
    const ready = this.ready.shift();
    if (ready) return ready;
    if (this.started >= this.demand) this.setDemand(this.started + 1);
    return new Promise<Promise<KeyObject>>((resolve) => this.waiting.push(resolve)).then((p) => p);
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
