/**
 * Counting `uses n` caveats. A Verifier needs a counter to accept them at all: every discharge
 * Tessera's approval service issues carries `uses 1`, so without one a standalone service would
 * refuse every approved request.
 *
 * `MemoryUsageCounter` is the Verifier's default: it counts in this process only (N processes
 * behind a load balancer give up to N uses). For many processes, pass a shared counter such as
 * `usageCounter(store)` from `tessera/issuer` (PostgreSQL, atomic across processes).
 */
import { TesseraError, invalidArgument } from '../errors.js';

/** An atomic counter for `uses n` caveats, shared by as many verifiers as it should span. */
export interface UsageCounter {
  /**
   * Count one use of `scope`; true if it was still below `limit`. `until`, when given, is when
   * the scope's token expires (its `time-before` plus the verifier's clock skew): after it no
   * request can verify, so the count may be forgotten. A counter may ignore it.
   */
  consume(scope: string, limit: number, until?: Date): Promise<boolean>;
}

export interface MemoryUsageCounterOptions {
  /**
   * Most scopes counted at once (default 100 000, about 20 MB). When every one is still live a
   * new scope is refused (ERR_RATE_LIMITED) rather than an older count forgotten: forgetting
   * would let a holder who floods the counter with attenuations use a `uses 1` token again.
   */
  readonly maxEntries?: number;
  /** How long the count of a token without `time-before` is kept (default 24 h): its uses start again after this. */
  readonly maxAgeMs?: number;
  /** The clock entries expire by; the Verifier passes its own. */
  readonly clock?: () => Date;
}

interface Entry {
  readonly scope: string;
  readonly expiresAt: number;
  used: number;
}

const DEFAULT_MAX_ENTRIES = 100_000;
const DEFAULT_MAX_AGE_MS = 24 * 60 * 60_000;

/**
 * A bounded in-process counter. Entries sit in a map (by scope) and in a min-heap by expiry, so
 * expired entries are dropped in O(log n) each as the clock passes them, and memory stays within
 * `maxEntries` however many distinct tokens arrive. JavaScript runs `consume` to completion
 * without yielding, so counting is atomic within the process.
 */
export class MemoryUsageCounter implements UsageCounter {
  readonly #entries = new Map<string, Entry>();
  readonly #byExpiry: Entry[] = [];
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;
  readonly #clock: () => Date;

  constructor(options: MemoryUsageCounterOptions = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.#clock = options.clock ?? (() => new Date());
    if (!Number.isSafeInteger(this.#maxEntries) || this.#maxEntries < 1) throw invalidArgument('maxEntries must be a positive integer', { field: 'maxEntries' });
    if (!Number.isSafeInteger(this.#maxAgeMs) || this.#maxAgeMs < 1) throw invalidArgument('maxAgeMs must be a positive integer', { field: 'maxAgeMs' });
  }

  consume(scope: string, limit: number, until?: Date): Promise<boolean> {
    try {
      return Promise.resolve(this.#consume(scope, limit, until));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** How many scopes are counted now (expired ones are dropped as the next use arrives). */
  get size(): number {
    return this.#entries.size;
  }

  #consume(scope: string, limit: number, until: Date | undefined): boolean {
    if (typeof scope !== 'string') throw invalidArgument('scope must be a string', { field: 'scope' });
    if (!Number.isSafeInteger(limit)) throw invalidArgument('limit must be an integer', { field: 'limit' });
    const now = this.#clock().getTime();
    this.#dropExpired(now);
    const entry = this.#entries.get(scope);
    if (entry !== undefined) {
      if (entry.used >= limit) return false;
      entry.used++;
      return true;
    }
    if (limit < 1) return false;
    if (this.#entries.size >= this.#maxEntries) {
      throw new TesseraError('ERR_RATE_LIMITED', 'too many usage-limited tokens are in use in this process; try again later');
    }
    const end = until?.getTime();
    // A token already past its time cannot verify; keep its count the longest, to be safe with odd clocks.
    const expiresAt = end !== undefined && end > now ? end : now + this.#maxAgeMs;
    const added: Entry = { scope, expiresAt, used: 1 };
    this.#entries.set(scope, added);
    this.#push(added);
    return true;
  }

  #dropExpired(now: number): void {
    const heap = this.#byExpiry;
    while (heap.length > 0 && (heap[0] as Entry).expiresAt <= now) {
      this.#entries.delete((heap[0] as Entry).scope);
      const last = heap.pop() as Entry;
      if (heap.length > 0) {
        heap[0] = last;
        this.#siftDown(0);
      }
    }
  }

  #push(entry: Entry): void {
    const heap = this.#byExpiry;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Entry).expiresAt <= entry.expiresAt) break;
      heap[i] = heap[parent] as Entry;
      i = parent;
    }
    heap[i] = entry;
  }

  #siftDown(start: number): void {
    const heap = this.#byExpiry;
    const entry = heap[start] as Entry;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && (heap[child + 1] as Entry).expiresAt < (heap[child] as Entry).expiresAt) child++;
      if ((heap[child] as Entry).expiresAt >= entry.expiresAt) break;
      heap[i] = heap[child] as Entry;
      i = child;
    }
    heap[i] = entry;
  }
}
