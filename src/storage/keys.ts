/**
 * Root keys: created random, stored sealed under the master key, opened only by `get` and
 * `current` (for the issuer and verifier). `list` and `retire` never touch key bytes.
 *
 * The current key is the newest (created_at, then id) that is neither retired nor expired.
 * Rotation = `create()` a new key (it becomes current); retire old keys once tokens signed with
 * them should stop verifying.
 */
import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import { randomBytes } from '@noble/hashes/utils.js';
import { TesseraError } from '../errors.js';
import type { MasterKey } from './keyring.js';
import { rootKeys } from './schema.js';
import { KEY_CHANNEL, type TesseraDb } from './types.js';
import { checkDate, checkOptionalDate, checkText, guard } from './util.js';
import { LOCK_KEYS } from './locks.js';

/** Root key metadata (no key bytes). */
export interface RootKeyInfo {
  readonly id: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly retiredAt: Date | null;
}

/** A root key with its 32 secret bytes. Do not log it. */
export interface RootKey extends RootKeyInfo {
  readonly key: Uint8Array;
}

export interface CreateRootKeyInput {
  /** Key id (goes into token identifiers); default `rk_` + 16 random base64url characters. */
  readonly id?: string;
  /** After this instant the key is no longer current (tokens may still verify until retired). */
  readonly expiresAt?: Date | null;
}

export interface KeyRepository {
  /** Create a random 32-byte root key; it becomes current. ERR_CONFLICT if the id exists. */
  create(input?: CreateRootKeyInput): Promise<RootKey>;
  /** The current signing key, or undefined when there is none (create one). */
  current(now?: Date): Promise<RootKey | undefined>;
  /** A key by id, retired or not (the caller decides what retired means), or undefined. */
  get(id: string): Promise<RootKey | undefined>;
  /** All keys' metadata, newest first. */
  list(): Promise<RootKeyInfo[]>;
  /** Mark a key retired (idempotent: keeps the first retirement time). ERR_NOT_FOUND if unknown. */
  retire(id: string, now?: Date): Promise<RootKeyInfo>;
  /**
   * Set a key's expiry to `at`, unless it already expires earlier (an expiry is only ever
   * brought forward). Used by rotation to give old keys a verification grace period.
   * ERR_NOT_FOUND if unknown.
   */
  expire(id: string, at: Date): Promise<RootKeyInfo>;
  /**
   * Inside `store.transaction`: wait for, then hold until the transaction ends, the lock that
   * serialises key changes across processes, so a rotation sees (and expires) every key created
   * before it, and two processes never both create the first key.
   */
  lockChanges(): Promise<void>;
}

const KEY_BYTES = 32;
/** Advisory lock key serialising key changes (see `lockChanges`). */
const KEY_LOCK_KEY = LOCK_KEYS.keys;
const PURPOSE = 'root-key';

type Row = typeof rootKeys.$inferSelect;

const info = (r: Row): RootKeyInfo => ({ id: r.id, createdAt: r.createdAt, expiresAt: r.expiresAt, retiredAt: r.retiredAt });

/** Tell every process sharing the database that key `id` changed (PGlite: this process only). */
const announce = (db: TesseraDb, id: string): Promise<unknown> => db.execute(sql`select pg_notify(${KEY_CHANNEL}, ${id})`);

export function keyRepository(db: TesseraDb, masterKey: MasterKey): KeyRepository {
  const unseal = (r: Row): RootKey => ({ ...info(r), key: masterKey.open(PURPOSE, r.id, r.sealedKey) });

  return {
    create: (input = {}) =>
      guard('create root key', async () => {
        const id = input.id === undefined ? `rk_${Buffer.from(randomBytes(12)).toString('base64url')}` : checkText('id', input.id);
        const expiresAt = checkOptionalDate('expiresAt', input.expiresAt);
        const key = randomBytes(KEY_BYTES);
        const [row] = await db
          .insert(rootKeys)
          .values({ id, sealedKey: masterKey.seal(PURPOSE, id, key), expiresAt })
          .returning();
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'create root key returned no row');
        await announce(db, id);
        return { ...info(row), key };
      }),

    current: (now = new Date()) =>
      guard('read current root key', async () => {
        const [row] = await db
          .select()
          .from(rootKeys)
          .where(and(isNull(rootKeys.retiredAt), or(isNull(rootKeys.expiresAt), gt(rootKeys.expiresAt, now))))
          .orderBy(desc(rootKeys.createdAt), desc(rootKeys.id))
          .limit(1);
        return row === undefined ? undefined : unseal(row);
      }),

    get: (id) =>
      guard('read root key', async () => {
        const [row] = await db.select().from(rootKeys).where(eq(rootKeys.id, checkText('id', id)));
        return row === undefined ? undefined : unseal(row);
      }),

    list: () =>
      guard('list root keys', async () => {
        const rows = await db
          .select({ id: rootKeys.id, createdAt: rootKeys.createdAt, expiresAt: rootKeys.expiresAt, retiredAt: rootKeys.retiredAt })
          .from(rootKeys)
          .orderBy(desc(rootKeys.createdAt), desc(rootKeys.id));
        return rows.map((r) => ({ ...r }));
      }),

    retire: (id, now = new Date()) =>
      guard('retire root key', async () => {
        checkText('id', id);
        await db
          .update(rootKeys)
          .set({ retiredAt: now })
          .where(and(eq(rootKeys.id, id), isNull(rootKeys.retiredAt)));
        const [row] = await db
          .select({ id: rootKeys.id, createdAt: rootKeys.createdAt, expiresAt: rootKeys.expiresAt, retiredAt: rootKeys.retiredAt })
          .from(rootKeys)
          .where(eq(rootKeys.id, id));
        if (row === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such root key', { field: 'id' });
        await announce(db, id);
        return { ...row };
      }),

    expire: (id, at) =>
      guard('expire root key', async () => {
        checkText('id', id);
        const when = checkDate('at', at).toISOString();
        const [row] = await db
          .update(rootKeys)
          .set({ expiresAt: sql`least(coalesce(${rootKeys.expiresAt}, ${when}::timestamptz), ${when}::timestamptz)` })
          .where(eq(rootKeys.id, id))
          .returning({ id: rootKeys.id, createdAt: rootKeys.createdAt, expiresAt: rootKeys.expiresAt, retiredAt: rootKeys.retiredAt });
        if (row === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such root key', { field: 'id' });
        await announce(db, id);
        return { ...row };
      }),

    lockChanges: () =>
      guard('lock root keys', async () => {
        await db.execute(sql.raw(`select pg_advisory_xact_lock(${KEY_LOCK_KEY})`));
      }),
  };
}
