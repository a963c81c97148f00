/**
 * The revoked set, in memory, kept in step with the database so a revocation check costs a
 * Set lookup and no round trip.
 *
 * It learns of revocations three ways: LISTEN/NOTIFY (each committed revocation is pushed to
 * every process on the same PostgreSQL within milliseconds), a periodic resync from the
 * append-only log (`listSince(lastSeq)`, a safety net for lost notifications), and a resync on
 * reconnect of the listening connection. The process that revokes also adds the identifier
 * itself before acknowledging, so on the embedded database (one process) revocation is
 * immediate, and on PostgreSQL the revoking process never lags its own answer.
 *
 * Memory stays bounded by what can still verify: a revoked token whose expiry (as the issuer
 * recorded it at mint) has passed, plus the largest clock skew a verifier may allow, can never
 * verify again, so the first load leaves it out and each resync prunes it. Tokens without a
 * recorded expiry stay. Loading is incremental: each resync reads only the log after the last
 * position seen (a resync with nothing new costs one index lookup).
 */
import type { RevocationCheck } from '../verifier/index.js';
import type { Database, Store } from '../storage/index.js';

export interface RevocationSetOptions {
  /** Periodic resync interval in ms (default 30 s; 0 turns it off). */
  readonly resyncMs?: number;
  /** Called when a background resync fails (the set keeps working with what it has). */
  readonly onError?: (error: unknown) => void;
  /** The time expiries are judged at: the verifiers' clock (default: the system clock). */
  readonly clock?: () => Date;
  /**
   * Called with each identifier this set learns after its first load (from NOTIFY, this
   * process's revoke, or a resync that found what NOTIFY missed): e.g. to measure propagation.
   * Exceptions it throws are swallowed.
   */
  readonly onAdded?: (identifier: string) => void;
}

/** Kept past expiry by the largest clock skew a Verifier accepts (its `clockSkewMs` bound). */
const EXPIRY_MARGIN_MS = 300_000;
/** Expiries are held in whole minutes, rounded up (small integers: no boxed number per entry). */
const MINUTE_MS = 60_000;
/** The value of an identifier whose token has no known expiry. */
const NEVER = -1;
const expiryMinute = (expiresAt: Date | null | undefined): number =>
  expiresAt === null || expiresAt === undefined ? NEVER : Math.ceil((expiresAt.getTime() + EXPIRY_MARGIN_MS) / MINUTE_MS);
const decoder = new TextDecoder('utf-8', { fatal: true });

export class RevocationSet implements RevocationCheck {
  readonly #store: Store;
  /** Identifier to the minute from which its token can no longer verify (or NEVER). */
  readonly #revoked = new Map<string, number>();
  readonly #onError: (error: unknown) => void;
  readonly #clock: () => Date;
  readonly #onAdded: (identifier: string) => void;
  #lastSeq = 0;
  #unlisten: (() => Promise<void>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #resyncing: Promise<void> | undefined;
  #resyncAgain = false;

  private constructor(store: Store, options: RevocationSetOptions) {
    this.#store = store;
    this.#onError = options.onError ?? (() => undefined);
    this.#clock = options.clock ?? (() => new Date());
    const onAdded = options.onAdded;
    this.#onAdded = (identifier) => {
      try {
        onAdded?.(identifier);
      } catch {
        // An observer must not break revocation.
      }
    };
  }

  /**
   * Listen first, then load the whole log, so a revocation committed in between is seen by one
   * path or the other (both are idempotent).
   */
  static async start(database: Pick<Database, 'listenRevocations'>, store: Store, options: RevocationSetOptions = {}): Promise<RevocationSet> {
    const set = new RevocationSet(store, options);
    set.#unlisten = await database.listenRevocations((identifier) => set.add(identifier), {
      onReconnect: () => void set.resync().catch(set.#onError),
    });
    try {
      await set.resync();
    } catch (e) {
      await set.close();
      throw e;
    }
    const resyncMs = options.resyncMs ?? 30_000;
    if (resyncMs > 0) {
      set.#timer = setInterval(() => void set.resync().catch(set.#onError), resyncMs);
      set.#timer.unref();
    }
    return set;
  }

  /**
   * Record a revocation known to be committed (from NOTIFY, or from this process's revoke). Its
   * expiry is learnt from the log at the next resync; until then it is kept.
   */
  add(identifier: string): void {
    if (typeof identifier === 'string' && identifier.length > 0 && !this.#revoked.has(identifier)) {
      this.#revoked.set(identifier, NEVER);
      this.#onAdded(identifier);
    }
  }

  has(identifier: string): boolean {
    return this.#revoked.has(identifier);
  }

  /** The Verifier's check: a Set lookup. Non-UTF-8 identifiers were never minted here. */
  isRevoked(identifier: Uint8Array): boolean {
    let text: string;
    try {
      text = decoder.decode(identifier);
    } catch {
      return false;
    }
    return this.#revoked.has(text);
  }

  get size(): number {
    return this.#revoked.size;
  }

  /** The highest log position loaded by a resync. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /**
   * Read every revocation after the last one seen (leaving out tokens that can no longer
   * verify), then forget those that expired since. Concurrent calls coalesce.
   */
  resync(): Promise<void> {
    if (this.#resyncing !== undefined) {
      // One is running; it may have read before the latest commit, so run once more after it.
      this.#resyncAgain = true;
      return this.#resyncing;
    }
    this.#resyncing = (async () => {
      try {
        do {
          this.#resyncAgain = false;
          // Rows up to the latest seq are all committed (revocations commit in seq order), so
          // after reading them the position moves there, past the expired rows left out.
          const upTo = await this.#store.revocations.latestSeq();
          // The first load leaves out what can no longer verify (most of a long log). Later
          // loads read every new row, so an entry heard first through NOTIFY (with no expiry
          // known) gets its expiry here and is pruned like the others.
          const expiredBy = this.#lastSeq === 0 ? new Date(this.#clock().getTime() - EXPIRY_MARGIN_MS) : undefined;
          if (upTo > this.#lastSeq) {
            const rows = await this.#store.revocations.listLive(this.#lastSeq, upTo, expiredBy);
            // The log is authoritative for the expiry (an entry from NOTIFY has none yet).
            for (const r of rows) {
              const learnt = this.#lastSeq > 0 && !this.#revoked.has(r.identifier);
              this.#revoked.set(r.identifier, expiryMinute(r.expiresAt));
              if (learnt) this.#onAdded(r.identifier);
            }
            this.#lastSeq = upTo;
          }
        } while (this.#resyncAgain);
        this.#prune();
      } finally {
        this.#resyncing = undefined;
      }
    })();
    return this.#resyncing;
  }

  /** Forget identifiers whose tokens can no longer verify. */
  #prune(): void {
    const now = Math.floor(this.#clock().getTime() / MINUTE_MS);
    for (const [identifier, minute] of this.#revoked) if (minute !== NEVER && minute <= now) this.#revoked.delete(identifier);
  }

  /** Stop listening and resyncing. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    await unlisten?.().catch(() => undefined);
  }
}
