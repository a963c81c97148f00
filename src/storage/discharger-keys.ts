/**
 * The discharge service's X25519 key pair, kept across restarts. The private key is sealed under
 * the master key; on load the public key is recomputed and compared, so a row whose halves do
 * not belong together is refused (ERR_CRYPTO).
 */
import { equalBytes } from '@noble/ciphers/utils.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { desc, eq } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import type { MasterKey } from './keyring.js';
import { dischargerKeys } from './schema.js';
import type { TesseraDb } from './types.js';
import { guard } from './util.js';

/** The discharger's key pair. Do not log `privateKey`. */
export interface DischargerKey {
  readonly id: string;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly createdAt: Date;
}

export interface DischargerKeyRepository {
  /**
   * The discharger's key, generating and storing one the first time. Safe under concurrency:
   * processes racing to create it all end up with the same stored key.
   */
  ensure(): Promise<DischargerKey>;
  /** The newest stored key, or undefined if none yet. */
  current(): Promise<DischargerKey | undefined>;
}

const PURPOSE = 'discharger-key';
const FIRST_ID = 'dk_1';

type Row = typeof dischargerKeys.$inferSelect;

export function dischargerKeyRepository(db: TesseraDb, masterKey: MasterKey): DischargerKeyRepository {
  const unseal = (r: Row): DischargerKey => {
    const privateKey = masterKey.open(PURPOSE, r.id, r.sealedPrivateKey);
    if (!equalBytes(x25519.getPublicKey(privateKey), r.publicKey)) {
      throw new TesseraError('ERR_CRYPTO', 'the stored discharger key pair does not match');
    }
    return { id: r.id, privateKey, publicKey: r.publicKey, createdAt: r.createdAt };
  };

  const current = (): Promise<DischargerKey | undefined> =>
    guard('read discharger key', async () => {
      const [row] = await db.select().from(dischargerKeys).orderBy(desc(dischargerKeys.createdAt), desc(dischargerKeys.id)).limit(1);
      return row === undefined ? undefined : unseal(row);
    });

  return {
    current,
    ensure: () =>
      guard('create discharger key', async () => {
        const existing = await current();
        if (existing !== undefined) return existing;
        const privateKey = x25519.utils.randomSecretKey();
        await db
          .insert(dischargerKeys)
          .values({ id: FIRST_ID, sealedPrivateKey: masterKey.seal(PURPOSE, FIRST_ID, privateKey), publicKey: x25519.getPublicKey(privateKey) })
          .onConflictDoNothing({ target: dischargerKeys.id });
        const [row] = await db.select().from(dischargerKeys).where(eq(dischargerKeys.id, FIRST_ID));
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'discharger key vanished');
        return unseal(row);
      }),
  };
}
