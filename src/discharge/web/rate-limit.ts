/**
 * In-memory login throttling: counts failed logins per key (a user name, a client IP) in a fixed
 * window, and caps how many password checks run at once.
 *
 * In memory by design: it is per process and forgets on restart, which is enough to make online
 * guessing slow (5 guesses per name per 15 minutes by default) without a database write per
 * attempt. A deployment with several processes gets one budget per process. The table is
 * bounded: when full, expired entries go first, then the oldest.
 */
import { TesseraError } from '../../errors.js';

export interface FailureLimit {
  /** Failures allowed within the window; the next attempt is refused. */
  readonly maxFailures: number;
  /** Window length in seconds, counted from the first failure. */
  readonly windowSeconds: number;
}

interface Entry {
  failures: number;
  resetAt: number;
}

const MAX_ENTRIES = 10_000;

export class FailureLimiter {
  readonly #entries = new Map<string, Entry>();
  readonly #limit: FailureLimit;
  readonly #now: () => number;

  constructor(limit: FailureLimit, now: () => number = Date.now) {
    const { maxFailures, windowSeconds } = limit;
    if (!Number.isSafeInteger(maxFailures) || maxFailures < 1 || !Number.isSafeInteger(windowSeconds) || windowSeconds < 1) {
      throw new TesseraError('ERR_INVALID_ARGUMENT', 'a failure limit needs positive integer maxFailures and windowSeconds');
    }
    this.#limit = { maxFailures, windowSeconds };
    this.#now = now;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.resetAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** Seconds until `key` may try again, or 0 if it may try now. */
  retryAfter(key: string): number {
    const entry = this.#live(key);
    if (entry === undefined || entry.failures < this.#limit.maxFailures) return 0;
    return Math.max(1, Math.ceil((entry.resetAt - this.#now()) / 1000));
  }

  /** Count one failure for `key`. */
  fail(key: string): void {
    const entry = this.#live(key);
    if (entry !== undefined) {
      entry.failures++;
      return;
    }
    if (this.#entries.size >= MAX_ENTRIES) this.#evict();
    this.#entries.set(key, { failures: 1, resetAt: this.#now() + this.#limit.windowSeconds * 1000 });
  }

  /** Forget `key`'s failures (after a successful login). */
  reset(key: string): void {
    this.#entries.delete(key);
  }

  #evict(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.resetAt <= now) this.#entries.delete(key);
    // Map iteration is insertion order: the first key is the oldest.
    while (this.#entries.size >= MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}

/** At most `max` tasks at once; the rest are refused rather than queued (each costs 32 MiB). */
export class ConcurrencyGate {
  #running = 0;
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** Run `task`, or return undefined at once when `max` tasks are already running. */
  async tryRun<T>(task: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (this.#running >= this.#max) return undefined;
    this.#running++;
    try {
      return { value: await task() };
    } finally {
      this.#running--;
    }
  }
}
