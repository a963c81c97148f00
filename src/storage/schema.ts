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
  bigint,
  bigserial,
  boolean,
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
  /** Sign in and approve only with a passkey (see src/discharge/web/passkey-policy.ts). */
  requirePasskey: boolean('require_passkey').notNull().default(false),
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
    /** How the person signed in: a password or a passkey (what may be approved depends on it). */
    authMethod: text('auth_method').$type<AuthMethod>().notNull().default('password'),
  },
  (t) => [
    index('sessions_user_name_idx').on(t.userName),
    check('sessions_auth_method_check', sql`${t.authMethod} in ('password', 'passkey')`),
  ],
);

/** How a browser session was signed in. */
export type AuthMethod = 'password' | 'passkey';

/**
 * Approvers' WebAuthn passkeys. The public key is public (nothing sealed); `counter` is the
 * authenticator's signature counter, which only grows (a clone shows as a counter going back).
 */
export const passkeyCredentials = pgTable(
  'passkey_credentials',
  {
    /** The credential id, base64url as WebAuthn JSON carries it. */
    id: text('id').primaryKey(),
    userName: text('user_name')
      .notNull()
      .references(() => users.name, { onDelete: 'cascade' }),
    /** The COSE-encoded public key. */
    publicKey: bytea('public_key').notNull(),
    counter: bigint('counter', { mode: 'number' }).notNull(),
    transports: text('transports').array().notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    lastUsedAt: at('last_used_at'),
  },
  (t) => [index('passkey_credentials_user_name_idx').on(t.userName), check('passkey_credentials_counter_check', sql`${t.counter} >= 0`)],
);

/**
 * WebAuthn challenges in flight: one per browser binding (SHA-256 of the session id, or of the
 * sign-in form's CSRF cookie before there is a session), replaced by a newer one,
 * deleted when used (single use) and useless after `expires_at`.
 */
export const passkeyChallenges = pgTable(
  'passkey_challenges',
  {
    bindingHash: bytea('binding_hash').primaryKey(),
    purpose: text('purpose').$type<'register' | 'authenticate'>().notNull(),
    challenge: text('challenge').notNull(),
    /** The user registering (purpose register); null for a sign-in, whose user is not known yet. */
    userName: text('user_name').references(() => users.name, { onDelete: 'cascade' }),
    createdAt: at('created_at').notNull().defaultNow(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [
    index('passkey_challenges_expires_at_idx').on(t.expiresAt),
    check('passkey_challenges_purpose_check', sql`${t.purpose} in ('register', 'authenticate')`),
  ],
);

/** Groups whose members sign in and approve only with a passkey. */
export const passkeyGroups = pgTable('passkey_groups', {
  name: text('name').primaryKey(),
  createdAt: at('created_at').notNull().defaultNow(),
});

/** The discharge service's X25519 key pair; the private half is sealed. */
export const dischargerKeys = pgTable('discharger_keys', {
  id: text('id').primaryKey(),
  sealedPrivateKey: bytea('sealed_private_key').notNull(),
  publicKey: bytea('public_key').notNull(),
  createdAt: at('created_at').notNull().defaultNow(),
});
