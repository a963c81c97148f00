/**
 * `createStore`: every repository over one database and master key, as one plain object.
 *
 * Each repository method validates its arguments (ERR_INVALID_ARGUMENT / ERR_LIMIT) and reports
 * database failures as TesseraErrors (ERR_STORAGE, ERR_CONFLICT for duplicates, ERR_NOT_FOUND
 * for dangling references), never with SQL parameters in the message.
 *
 * A state change and its audit row belong together: `store.transaction(fn)` hands `fn` the same
 * repositories bound to one database transaction, so they commit together or not at all.
 */
import { auditRepository, type AuditRepository } from './audit.js';
import type { Database } from './database.js';
import { dischargeRepository, type DischargeRepository } from './discharges.js';
import { dischargerKeyRepository, type DischargerKeyRepository } from './discharger-keys.js';
import { inviteRepository, type InviteRepository } from './invites.js';
import { keyRepository, type KeyRepository } from './keys.js';
import type { MasterKey } from './keyring.js';
import { rateLimitRepository, type RateLimitRepository } from './rate-limits.js';
import { passkeyRepository, type PasskeyRepository } from './passkeys.js';
import { revocationRepository, type RevocationRepository } from './revocations.js';
import { sessionRepository, type SessionRepository } from './sessions.js';
import { tokenRepository, type TokenRepository } from './tokens.js';
import type { TesseraDb } from './types.js';
import { usageRepository, type UsageRepository } from './usage.js';
import { storageError } from './util.js';
import { userRepository, type UserRepository } from './users.js';
import { webhookRepository, type WebhookRepository } from './webhooks.js';

export interface Store {
  /** Root keys (sealed at rest). */
  readonly keys: KeyRepository;
  /** Issued-token metadata. */
  readonly tokens: TokenRepository;
  /** The append-only revoked set. */
  readonly revocations: RevocationRepository;
  /** Atomic usage counters. */
  readonly usage: UsageRepository;
  /** The append-only audit log. */
  readonly audit: AuditRepository;
  /** Discharge requests of the approval service. */
  readonly discharges: DischargeRepository;
  /** Approvers. */
  readonly users: UserRepository;
  /** Approval-page sessions (hashed ids). */
  readonly sessions: SessionRepository;
  /** The discharge service's X25519 key (sealed at rest). */
  readonly dischargerKeys: DischargerKeyRepository;
  /** Webhook endpoints (secrets sealed at rest), their outbox and delivery attempts. */
  readonly webhooks: WebhookRepository;
  /** One-time enrolment links (hashed secrets). */
  readonly invites: InviteRepository;
  /** Event counts in fixed windows shared by every instance (sign-in throttles). */
  readonly rateLimits: RateLimitRepository;
  /** Approvers' passkeys, ceremonies in flight, passkey-only groups. */
  readonly passkeys: PasskeyRepository;
  /**
   * Run `fn` with these repositories bound to one transaction: everything it writes commits
   * when it resolves and is rolled back when it throws (its error is rethrown unchanged; a
   * failing BEGIN or COMMIT is ERR_STORAGE). Notifications (revocations, key changes) sent
   * inside reach listeners only on commit. Inside `fn`, use only the store it is given: the
   * outer one is another connection (PostgreSQL) or waits for the transaction to end (PGlite,
   * one connection), a deadlock. Nested calls use savepoints.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
}

/** Build the repositories over an open database (or its drizzle instance). */
export function createStore(database: Database | TesseraDb, masterKey: MasterKey): Store {
  const db = 'db' in database && 'listenRevocations' in database ? database.db : (database as TesseraDb);
  return bind(db, masterKey);
}

function bind(db: TesseraDb, masterKey: MasterKey): Store {
  return Object.freeze({
    keys: keyRepository(db, masterKey),
    tokens: tokenRepository(db),
    revocations: revocationRepository(db),
    usage: usageRepository(db),
    audit: auditRepository(db),
    discharges: dischargeRepository(db),
    users: userRepository(db),
    sessions: sessionRepository(db),
    dischargerKeys: dischargerKeyRepository(db, masterKey),
    webhooks: webhookRepository(db, masterKey),
    invites: inviteRepository(db),
    rateLimits: rateLimitRepository(db),
    passkeys: passkeyRepository(db),
    transaction: <T>(fn: (tx: Store) => Promise<T>): Promise<T> => inTransaction(db, masterKey, fn),
  });
}

async function inTransaction<T>(db: TesseraDb, masterKey: MasterKey, fn: (tx: Store) => Promise<T>): Promise<T> {
  let thrown: { readonly error: unknown } | undefined;
  try {
    return await db.transaction(async (tx) => {
      try {
        return await fn(bind(tx, masterKey));
      } catch (e) {
        thrown = { error: e };
        throw e;
      }
    });
  } catch (e) {
    if (thrown !== undefined && thrown.error === e) throw e;
    throw storageError('transaction', e);
  }
}
