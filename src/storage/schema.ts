/**
 * Tessera's database schema: one drizzle `pg-core` definition used for both real PostgreSQL
 * (postgres.js) and embedded PGlite.
 *
 * The SQL that creates these tables lives in `./migrations/` (applied by `./migrate.ts`); a test
 * checks that the migrated database and this file agree, so change both together.
 *
 * Secrets are never stored in the clear: root keys and the discharger private key are sealed
 * (XChaCha20-Poly1305 under the master key, see `./keyring.ts`); poll tokens, session ids and
 * CSRF tokens are stored only as SHA-256 hashes.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

/** PostgreSQL `bytea`, mapped to `Uint8Array` on both drivers. */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType() {
    return 'bytea';
  },
  toDriver(value: Uint8Array): Uint8Array {
    // postgres.js only recognises Buffer as bytea; PGlite accepts either.
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  },
  fromDriver(value: Uint8Array): Uint8Array {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  },
});

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** JSON values that may go into a `jsonb` column. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Root keys that sign macaroons. `current` = newest (created_at, then id) not retired nor expired. */
export const rootKeys = pgTable(
  'root_keys',
  {
    id: text('id').primaryKey(),
    /** The 32-byte root key, sealed with AAD binding (purpose 'root-key', id). */
    sealedKey: bytea('sealed_key').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    expiresAt: at('expires_at'),
    retiredAt: at('retired_at'),
  },
  (t) => [index('root_keys_created_at_idx').on(t.createdAt)],
);

/** Tokens the issuer minted (metadata only, never the token itself). */
export const tokens = pgTable(
  'tokens',
  {
    identifier: text('identifier').primaryKey(),
    rootKeyId: text('root_key_id')
      .notNull()
      .references(() => rootKeys.id),
    subject: text('subject'),
    label: text('label'),
    createdAt: at('created_at').notNull().defaultNow(),
    expiresAt: at('expires_at'),
    revokedAt: at('revoked_at'),
  },
  (t) => [index('tokens_subject_idx').on(t.subject), index('tokens_root_key_id_idx').on(t.rootKeyId), index('tokens_created_at_idx').on(t.createdAt)],
);

/**
 * Append-only source of truth for the revoked set. `seq` grows in commit order (revocations are
 * serialised by an advisory lock) so "everything after seq N" never misses a row.
 */
export const revocations = pgTable('revocations', {
  seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
  identifier: text('identifier').primaryKey(),
  revokedAt: at('revoked_at').notNull().defaultNow(),
  reason: text('reason'),
});

/** Usage counters for usage-limited tokens and discharges. */
export const usageCounters = pgTable(
  'usage_counters',
  {
    scope: text('scope').primaryKey(),
    used: integer('used').notNull(),
    limit: integer('limit').notNull(),
    updatedAt: at('updated_at').notNull().defaultNow(),
  },
  (t) => [check('usage_counters_used_nonneg', sql`${t.used} >= 0`)],
);

/** Append-only audit trail. `details` must never hold a secret. */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: at('at').notNull().defaultNow(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    subject: text('subject'),
    details: jsonb('details').$type<{ readonly [key: string]: JsonValue }>().notNull().default({}),
    /** Where it came from: see AuditChannel in ../storage/audit.ts. */
    channel: text('channel').notNull().default('system'),
  },
  (t) => [index('audit_log_action_idx').on(t.action), index('audit_log_subject_idx').on(t.subject), index('audit_log_at_idx').on(t.at)],
);

/**
 * Status of a discharge request: `withdrawn` is an approval taken back before collection,
 * `lapsed` one nobody collected while it was valid.
 */
export type DischargeStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'collected' | 'withdrawn' | 'lapsed';

/** Third-party discharge requests awaiting (or past) a human decision. */
export const dischargeRequests = pgTable(
  'discharge_requests',
  {
    id: text('id').primaryKey(),
    /** SHA-256 of the unguessable poll secret handed to the requester. */
    pollTokenHash: bytea('poll_token_hash').notNull().unique(),
    /** SHA-256 of the third-party caveat id the request is for. */
    caveatIdHash: bytea('caveat_id_hash').notNull(),
    /**
     * The third-party caveat id itself (sealed to the discharger's key), kept only until the
     * request is settled so the discharge can be minted at collection; then cleared.
     */
    caveatId: bytea('caveat_id'),
    condition: text('condition').notNull(),
    who: text('who').notNull(),
    what: text('what').notNull(),
    requester: jsonb('requester').$type<{ readonly [key: string]: JsonValue }>().notNull().default({}),
    status: text('status').$type<DischargeStatus>().notNull().default('pending'),
    createdAt: at('created_at').notNull().defaultNow(),
    expiresAt: at('expires_at').notNull(),
    decidedAt: at('decided_at'),
    decidedBy: text('decided_by'),
    decisionReason: text('decision_reason'),
    validitySeconds: integer('validity_seconds').notNull(),
    collectedAt: at('collected_at'),
    /** Facts verified from the requester's presentation (never the presentation itself), or null. */
    verified: jsonb('verified').$type<{ readonly [key: string]: JsonValue }>(),
  },
  (t) => [
    index('discharge_requests_status_idx').on(t.status),
    check(
      'discharge_requests_status_check',
      sql`${t.status} in ('pending', 'approved', 'denied', 'expired', 'collected', 'withdrawn', 'lapsed')`,
    ),
  ],
);

/** People who may approve discharges. */
export const users = pgTable('users', {
  name: text('name').primaryKey(),
  /** scrypt hash, self-describing (salt and parameters encoded in the string). */
  passwordHash: text('password_hash').notNull(),
  // No column default: drizzle-kit 0.31 misreads array defaults (drizzle-orm#4231); we always set it.
  groups: text('groups').array().notNull(),
  createdAt: at('created_at').notNull().defaultNow(),
});

/** Browser sessions of the approval page. Only hashes of the session id and CSRF token are kept. */
export const sessions = pgTable(
  'sessions',
  {
    idHash: bytea('id_hash').primaryKey(),
    userName: text('user_name')
      .notNull()
      .references(() => users.name, { onDelete: 'cascade' }),
    csrfHash: bytea('csrf_hash').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    expiresAt: at('expires_at').notNull(),
    revokedAt: at('revoked_at'),
  },
  (t) => [index('sessions_user_name_idx').on(t.userName)],
);

/** The discharge service's X25519 key pair; the private half is sealed. */
export const dischargerKeys = pgTable('discharger_keys', {
  id: text('id').primaryKey(),
  sealedPrivateKey: bytea('sealed_private_key').notNull(),
  publicKey: bytea('public_key').notNull(),
  createdAt: at('created_at').notNull().defaultNow(),
});

/**
 * Event counts in fixed windows, shared by every instance (sign-in failures per account and
 * address, per address). `key` names what is counted; rows past `reset_at` are dead and pruned.
 */
export const rateLimits = pgTable(
  'rate_limits',
  {
    key: text('key').primaryKey(),
    events: integer('events').notNull(),
    resetAt: at('reset_at').notNull(),
  },
  (t) => [index('rate_limits_reset_at_idx').on(t.resetAt), check('rate_limits_events_positive', sql`${t.events} > 0`)],
);
