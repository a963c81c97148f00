/**
 * `createStore`: every repository over one database and master key, as one plain object.
 *
 * Each repository method validates its arguments (ERR_INVALID_ARGUMENT / ERR_LIMIT) and reports
 * database failures as TesseraErrors (ERR_STORAGE, ERR_CONFLICT for duplicates, ERR_NOT_FOUND
 * for dangling references), never with SQL parameters in the message.
 */
import { auditRepository, type AuditRepository } from './audit.js';
import type { Database } from './database.js';
import { dischargeRepository, type DischargeRepository } from './discharges.js';
import { dischargerKeyRepository, type DischargerKeyRepository } from './discharger-keys.js';
import { keyRepository, type KeyRepository } from './keys.js';
import type { MasterKey } from './keyring.js';
import { revocationRepository, type RevocationRepository } from './revocations.js';
import { sessionRepository, type SessionRepository } from './sessions.js';
import { tokenRepository, type TokenRepository } from './tokens.js';
import type { TesseraDb } from './types.js';
import { usageRepository, type UsageRepository } from './usage.js';
import { userRepository, type UserRepository } from './users.js';

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
}

/** Build the repositories over an open database (or its drizzle instance). */
export function createStore(database: Database | TesseraDb, masterKey: MasterKey): Store {
  const db = 'db' in database && 'listenRevocations' in database ? database.db : (database as TesseraDb);
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
  });
}
