/**
 * In-memory throttling for the unauthenticated HTTP surfaces: counts events per key (a discharge
 * request or a long-poll per client IP) in a fixed window, and caps how many expensive tasks
 * (password checks) run at once.
 *
 * In memory by design: it is per process and forgets on restart, which is enough to make floods
 * expensive without a database write per request; a deployment with several processes gets one
 * budget per process. Sign-in failures are different (a password guesser must get one budget,
 * however many instances): they are counted in the database, see src/discharge/web/throttle.ts.
 * The table is bounded: when full, expired entries go first, then the oldest.
 */
import { TesseraError } from '../errors.js';

export interface WindowLimit {
  /** Events allowed within the window; the next attempt is refused. */
  readonly max: number;
  /** Window length in seconds, counted from the first event. */
  readonly windowSeconds: number;
}

interface Entry {
  events: number;
  resetAt: number;
}

const MAX_ENTRIES = 10_000;

export class WindowLimiter {
  readonly #entries = new Map<string, Entry>();
  readonly #limit: WindowLimit;
  readonly #now: () => number;

  constructor(limit: WindowLimit, now: () => number = Date.now) {
    const { max, windowSeconds } = limit;
    if (!Number.isSafeInteger(max) || max < 1 || !Number.isSafeInteger(windowSeconds) || windowSeconds < 1) {
      throw new TesseraError('ERR_INVALID_ARGUMENT', 'a window limit needs positive integer max and windowSeconds');
    }
    this.#limit = { max, windowSeconds };
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
    if (entry === undefined || entry.events < this.#limit.max) return 0;
    return Math.max(1, Math.ceil((entry.resetAt - this.#now()) / 1000));
  }

  /** Count one event for `key`. */
  count(key: string): void {
    const entry = this.#live(key);
    if (entry !== undefined) {
      entry.events++;
      return;
    }
    if (this.#entries.size >= MAX_ENTRIES) this.#evict();
    this.#entries.set(key, { events: 1, resetAt: this.#now() + this.#limit.windowSeconds * 1000 });
  }

  /** Forget `key`'s events (e.g. after a successful sign-in). */
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
