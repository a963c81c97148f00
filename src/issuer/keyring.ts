/**
 * The issuer's root keys, decrypted once and kept in memory so verifying a token costs no
 * database round trip.
 *
 * Lifecycle: the newest usable key is *current* and signs new tokens. Rotation creates a new
 * current key and gives the older keys an expiry (a grace period during which the tokens they
 * signed still verify); at expiry a key counts as retired (and `retireExpired` records that).
 * A token whose key is retired fails with ERR_KEY_RETIRED; one whose key id is not known (or
 * whose identifier is not a Tessera identifier at all) with ERR_KEY_UNKNOWN.
 *
 * Admin tokens (`tsa1.` identifiers) and approver tokens (`tsp1.`) are each signed with a key
 * derived from the root key for that purpose only (see identifier.ts), so each verifier accepts
 * exactly one kind of token.
 *
 * Other processes sharing the database learn of key changes at once: storage announces every
 * created, expired or retired key on the `tessera_keys` channel and the system reloads on it
 * (src/server/system.ts). As safety nets, an unknown key id triggers a reload (at most one per
 * `missReloadMs`, so made-up key ids cannot flood the database) and `refreshMs` reloads anyway.
 */
import { utf8, utf8Strict } from '../crypto/bytes.js';
import { hmacSha256 } from '../crypto/hmac.js';
import type { KeyInput } from '../crypto/keys.js';
import { TesseraError } from '../errors.js';
import type { RootKeyInfo, Store } from '../storage/index.js';
import { parseIdentifier, type TokenPurpose } from './identifier.js';
import type { DurationBounds } from '../util/duration.js';

export interface KeyringOptions {
  readonly clock?: () => Date;
  /** How often `refresh` reloads key metadata from the database (default 30 s). */
  readonly refreshMs?: number;
  /** Least time between two reloads caused by unknown key ids (default 1 s). */
  readonly missReloadMs?: number;
}

/** A key's metadata and state, as the API shows it (no key bytes). */
export interface KeyView extends RootKeyInfo {
  readonly state: 'current' | 'verifying' | 'retired';
}

export interface RotateOptions {
  /** How long tokens signed by older keys keep verifying, in seconds (default 7 days). */
  readonly graceSeconds?: number;
  /** Retire every older key now (e.g. after a compromise): their tokens stop verifying at once. */
  readonly retireOld?: boolean;
}

export interface RotateResult {
  readonly current: KeyView;
  /** Older keys and what happened to them. */
  readonly previous: readonly KeyView[];
}

export const DEFAULT_GRACE_SECONDS = 7 * 24 * 3600;
/** The longest grace period accepted: one year. */
export const MAX_GRACE_SECONDS = 366 * 24 * 3600;
/** How long replaced keys keep verifying after a rotation, in the one duration syntax. */
export const GRACE_BOUNDS: DurationBounds = { min: 0, max: MAX_GRACE_SECONDS };

interface Entry {
  info: RootKeyInfo;
  /** The raw 32-byte key; absent for retired keys (never needed again). */
  key?: Uint8Array;
  /** The derived admin- and approver-purpose keys, computed on first use. */
  derived?: Map<TokenPurpose, Uint8Array>;
}

const PURPOSE_KEY_LABEL: Readonly<Record<Exclude<TokenPurpose, 'token'>, Uint8Array>> = Object.freeze({
  admin: utf8('tessera/admin-root-key/v1'),
  approver: utf8('tessera/approver-root-key/v1'),
});

/** The key a token of `purpose` is signed with, given the raw root key. */
export const purposeKey = (rootKey: Uint8Array, purpose: TokenPurpose): Uint8Array =>
  purpose === 'token' ? rootKey : hmacSha256(rootKey, PURPOSE_KEY_LABEL[purpose]);

const PURPOSE_NAME: Readonly<Record<TokenPurpose, string>> = Object.freeze({ token: 'an application token', admin: 'an admin token', approver: 'an approver token' });

export class Keyring {
  readonly #store: Store;
  readonly #clock: () => Date;
  readonly #missReloadMs: number;
  readonly #entries = new Map<string, Entry>();
  #lastMissReload = Number.NEGATIVE_INFINITY;
  #reloading: Promise<void> | undefined;
  /** A reload was asked for while one ran. */
  #again = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store, options: KeyringOptions = {}) {
    this.#store = store;
    this.#clock = options.clock ?? (() => new Date());
    this.#missReloadMs = options.missReloadMs ?? 1000;
    const refreshMs = options.refreshMs ?? 30_000;
    if (refreshMs > 0) {
      this.#timer = setInterval(() => void this.reload().catch(() => undefined), refreshMs);
      this.#timer.unref();
    }
  }

  /** Stop the periodic refresh. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Reload every key's metadata, and the bytes of usable keys not yet in memory. */
  async reload(): Promise<void> {
    // A change announced while a reload runs may have committed after that reload read the
    // keys: ask for one more pass instead of dropping it (a retired key must not linger).
    if (this.#reloading !== undefined) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#loadOnce();
        } while (this.#again);
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  async #loadOnce(): Promise<void> {
    const infos = await this.#store.keys.list();
    const now = this.#clock();
    for (const info of infos) {
      const entry = this.#entries.get(info.id);
      if (isRetired(info, now)) {
        this.#entries.set(info.id, { info });
        continue;
      }
      if (entry?.key !== undefined) {
        entry.info = info;
        continue;
      }
      const full = await this.#store.keys.get(info.id);
      if (full !== undefined) this.#entries.set(info.id, { info: strip(full), key: full.key });
    }
  }

  /**
   * The root key for a token identifier of the given purpose (the Verifier's `rootKeyFor`).
   * Throws ERR_KEY_UNKNOWN or ERR_KEY_RETIRED. Answers synchronously from memory; only a key id
   * new to this process costs a (bounded) database reload, and so a promise.
   */
  rootKeyFor(identifier: Uint8Array | string, purpose: TokenPurpose = 'token'): KeyInput | Promise<KeyInput> {
    let keyId: string;
    let tokenPurpose: TokenPurpose;
    try {
      ({ keyId, purpose: tokenPurpose } = parseIdentifier(typeof identifier === 'string' ? identifier : utf8Strict(identifier, 'identifier')));
    } catch {
      throw new TesseraError('ERR_KEY_UNKNOWN', 'no root key is known for this token (not a Tessera identifier)');
    }
    if (tokenPurpose !== purpose) {
      throw new TesseraError('ERR_KEY_UNKNOWN', `this is not ${PURPOSE_NAME[purpose]}`);
    }
    const entry = this.#entries.get(keyId);
    if (entry !== undefined) return this.#keyOf(entry, keyId, purpose);
    if (performance.now() - this.#lastMissReload < this.#missReloadMs) {
      throw new TesseraError('ERR_KEY_UNKNOWN', 'no root key is known for this token', { keyId });
    }
    // A key id new to this process: another process may have just rotated. Bounded, so a
    // flood of tokens naming made-up keys costs at most one reload per missReloadMs.
    this.#lastMissReload = performance.now();
    return this.reload().then(() => {
      const loaded = this.#entries.get(keyId);
      if (loaded === undefined) throw new TesseraError('ERR_KEY_UNKNOWN', 'no root key is known for this token', { keyId });
      return this.#keyOf(loaded, keyId, purpose);
    });
  }

  #keyOf(entry: Entry, keyId: string, purpose: TokenPurpose): KeyInput {
    if (entry.key === undefined || isRetired(entry.info, this.#clock())) {
      throw new TesseraError('ERR_KEY_RETIRED', 'the root key of this token has been retired', { keyId });
    }
    if (purpose === 'token') return { raw: entry.key };
    entry.derived ??= new Map();
    let key = entry.derived.get(purpose);
    if (key === undefined) entry.derived.set(purpose, (key = purposeKey(entry.key, purpose)));
    return { raw: key };
  }

  /** The key that signs new tokens (the raw root key), creating the first one if there is none. */
  async current(): Promise<{ readonly id: string; readonly key: Uint8Array }> {
    let key = await this.#store.keys.current(this.#clock());
    // No key yet: create it with its audit row, under the key lock (another process may be
    // creating one right now: then use that one).
    key ??= await this.#store.transaction(async (tx) => {
      await tx.keys.lockChanges();
      const existing = await tx.keys.current(this.#clock());
      if (existing !== undefined) return existing;
      const created = await tx.keys.create();
      await tx.audit.append({ actor: 'issuer', action: 'key-create', subject: created.id });
      return created;
    });
    const entry = this.#entries.get(key.id);
    if (entry?.key === undefined) this.#entries.set(key.id, { info: strip(key), key: key.key });
    return { id: key.id, key: key.key };
  }

  /**
   * Create a new current key; older keys get `graceSeconds` to live, or are retired now. One
   * transaction under the key lock: every older key, also one another process created a moment
   * ago, gets its expiry, and a failure part way leaves the keys as they were.
   */
  async rotate(options: RotateOptions = {}, actor = 'issuer'): Promise<RotateResult> {
    const grace = options.graceSeconds ?? DEFAULT_GRACE_SECONDS;
    if (!Number.isSafeInteger(grace) || grace < 0 || grace > MAX_GRACE_SECONDS) {
      throw new TesseraError('ERR_INVALID_ARGUMENT', `graceSeconds must be an integer from 0 to ${MAX_GRACE_SECONDS}`, { field: 'graceSeconds' });
    }
    const now = this.#clock();
    const { created, previous, retired } = await this.#store.transaction(async (tx) => {
      await tx.keys.lockChanges();
      const before = (await tx.keys.list()).filter((k) => !isRetired(k, now));
      const created = await tx.keys.create();
      const previous: RootKeyInfo[] = [];
      for (const old of before) {
        previous.push(
          options.retireOld === true || grace === 0
            ? await tx.keys.retire(old.id, now)
            : await tx.keys.expire(old.id, new Date(now.getTime() + grace * 1000)),
        );
      }
      await tx.audit.append({
        actor,
        action: 'key-rotate',
        subject: created.id,
        details: { previous: previous.map((k) => k.id), graceSeconds: options.retireOld === true ? 0 : grace },
      });
      return { created, previous, retired: await retireDue(tx, actor, now) };
    });
    this.#entries.set(created.id, { info: strip(created), key: created.key });
    for (const info of [...previous, ...retired]) this.#update(info);
    return Object.freeze({ current: this.#view(created, created.id), previous: Object.freeze(previous.map((k) => this.#view(k, created.id))) });
  }

  /** Mark keys whose expiry has passed as retired (bookkeeping: they already fail to verify). */
  async retireExpired(actor = 'issuer'): Promise<readonly string[]> {
    const now = this.#clock();
    const retired = await this.#store.transaction(async (tx) => {
      await tx.keys.lockChanges();
      return retireDue(tx, actor, now);
    });
    for (const info of retired) this.#update(info);
    return Object.freeze(retired.map((k) => k.id));
  }

  /** Every key's metadata and state, newest first. */
  async list(): Promise<readonly KeyView[]> {
    const now = this.#clock();
    const infos = await this.#store.keys.list();
    const current = await this.#store.keys.current(now);
    return Object.freeze(infos.map((k) => this.#view(k, current?.id)));
  }

  #update(info: RootKeyInfo): void {
    const entry = this.#entries.get(info.id);
    if (isRetired(info, this.#clock())) this.#entries.set(info.id, { info });
    else if (entry !== undefined) entry.info = info;
  }

  #view(info: RootKeyInfo, currentId: string | undefined): KeyView {
    const state = isRetired(info, this.#clock()) ? 'retired' : info.id === currentId ? 'current' : 'verifying';
    return Object.freeze({ ...strip(info), state });
  }
}

/** Retire (and audit) every key whose expiry has passed, inside the caller's transaction. */
async function retireDue(tx: Store, actor: string, now: Date): Promise<RootKeyInfo[]> {
  const due = (await tx.keys.list()).filter((k) => k.retiredAt === null && k.expiresAt !== null && k.expiresAt <= now);
  const retired: RootKeyInfo[] = [];
  for (const k of due) {
    retired.push(await tx.keys.retire(k.id, now));
    await tx.audit.append({ actor, action: 'key-retire', subject: k.id, details: { reason: 'expired' } });
  }
  return retired;
}

const isRetired = (info: RootKeyInfo, now: Date): boolean =>
  info.retiredAt !== null || (info.expiresAt !== null && info.expiresAt <= now);

const strip = (k: RootKeyInfo): RootKeyInfo => ({ id: k.id, createdAt: k.createdAt, expiresAt: k.expiresAt, retiredAt: k.retiredAt });
