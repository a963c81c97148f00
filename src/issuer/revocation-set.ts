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
 */
import type { RevocationCheck } from '../verifier/index.js';
import type { Database, Store } from '../storage/index.js';

export interface RevocationSetOptions {
  /** Periodic resync interval in ms (default 30 s; 0 turns it off). */
  readonly resyncMs?: number;
  /** Called when a background resync fails (the set keeps working with what it has). */
  readonly onError?: (error: unknown) => void;
}

const PAGE = 5000;
const decoder = new TextDecoder('utf-8', { fatal: true });

export class RevocationSet implements RevocationCheck {
  readonly #store: Store;
  readonly #revoked = new Set<string>();
  readonly #onError: (error: unknown) => void;
  #lastSeq = 0;
  #unlisten: (() => Promise<void>) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #resyncing: Promise<void> | undefined;
  #resyncAgain = false;

  private constructor(store: Store, onError: (error: unknown) => void) {
    this.#store = store;
    this.#onError = onError;
  }

  /**
   * Listen first, then load the whole log, so a revocation committed in between is seen by one
   * path or the other (both are idempotent).
   */
  static async start(database: Pick<Database, 'listenRevocations'>, store: Store, options: RevocationSetOptions = {}): Promise<RevocationSet> {
    const set = new RevocationSet(store, options.onError ?? (() => undefined));
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

  /** Record a revocation known to be committed (from NOTIFY, or from this process's revoke). */
  add(identifier: string): void {
    if (typeof identifier === 'string' && identifier.length > 0) this.#revoked.add(identifier);
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

  /** Read every revocation after the last one seen. Concurrent calls coalesce. */
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
          for (;;) {
            const rows = await this.#store.revocations.listSince(this.#lastSeq, PAGE);
            for (const r of rows) {
              this.#revoked.add(r.identifier);
              if (r.seq > this.#lastSeq) this.#lastSeq = r.seq;
            }
            if (rows.length < PAGE) break;
          }
        } while (this.#resyncAgain);
      } finally {
        this.#resyncing = undefined;
      }
    })();
    return this.#resyncing;
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
