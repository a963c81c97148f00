/**
 * Tessera's database schema: one drizzle `pg-core` definition used for both real PostgreSQL
 * (postgres.js) and embedded PGlite.
 *
 * The SQL that creates these tables lives in `./migrations/` (applied by `./migrate.ts`); a test
 * checks that the migrated database and this file agree, so change both together.
 *
 * Secrets are never stored in the clear: root keys, the discharger private key and webhook signing secrets are sealed
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
    /**
     * When its expiry was announced to the webhook outbox (once, by whichever instance swept it
     * first), whatever path marked it expired; null while not announced.
     */
    expiryAnnouncedAt: at('expiry_announced_at'),
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

/**
 * One-time enrolment links (`tessera users invite`): the person named sets their own password.
 * Only the SHA-256 of the link's secret is kept; `used_at` is set once, by the one redemption.
 */
export const invites = pgTable(
  'invites',
  {
    tokenHash: bytea('token_hash').primaryKey(),
    userName: text('user_name').notNull(),
    // No column default, as for users.groups (drizzle-orm#4231).
    groups: text('groups').array().notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    expiresAt: at('expires_at').notNull(),
    usedAt: at('used_at'),
  },
  (t) => [index('invites_user_name_idx').on(t.userName)],
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

/**
 * Groups whose members sign in and approve only with a passkey; `allowApproverTokens` lets
 * their approver tokens (the approvals API, for bots) decide anyway, when a group chooses so.
 */
export const passkeyGroups = pgTable('passkey_groups', {
  name: text('name').primaryKey(),
  allowApproverTokens: boolean('allow_approver_tokens').notNull().default(false),
  createdAt: at('created_at').notNull().defaultNow(),
});

/** The discharge service's X25519 key pair; the private half is sealed. */
export const dischargerKeys = pgTable('discharger_keys', {
  id: text('id').primaryKey(),
  sealedPrivateKey: bytea('sealed_private_key').notNull(),
  publicKey: bytea('public_key').notNull(),
  createdAt: at('created_at').notNull().defaultNow(),
});

/** How an endpoint wants its body: Standard Webhooks JSON, or Slack's `{ "text": … }`. */
export type WebhookFormat = 'standard' | 'slack';

/** Receivers of webhook notifications. */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    /**
     * The URL as listings show it (`displayUrl`: no query, credentials or token-like path
     * segments). Before migration 11 it held the whole URL, until the next start sealed it.
     */
    url: text('url').notNull(),
    /**
     * The whole URL, sealed with AAD binding (purpose 'webhook-url', id): a Slack incoming-webhook
     * URL is itself the credential. Null only on an endpoint added before migration 11 and not
     * yet sealed (`sealUrls`, at every system start).
     */
    sealedUrl: bytea('sealed_url'),
    /** Only requests addressed to this (a user name or `group:<name>`); null: every request. */
    addressee: text('addressee'),
    format: text('format').$type<WebhookFormat>().notNull().default('standard'),
    /** The signing secret's bytes, sealed with AAD binding (purpose 'webhook-secret', id). */
    sealedSecret: bytea('sealed_secret').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [check('webhook_endpoints_format_check', sql`${t.format} in ('standard', 'slack')`)],
);

/** State of one outbox row: waiting (or in flight), delivered, or given up on. */
export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/**
 * The outbox: one row per endpoint and event, written in the transaction that changed the
 * request, so an event exists exactly when its change committed. Rows of one endpoint and one
 * request are delivered in `id` order.
 */
export const webhookOutbox = pgTable(
  'webhook_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    /** The `webhook-id`: one per event, the same on every retry. */
    eventId: text('event_id').notNull(),
    /** The discharge request it is about; null for a test event. */
    requestId: text('request_id'),
    type: text('type').notNull(),
    /** The event as sent (never a secret). */
    payload: jsonb('payload').$type<{ readonly [key: string]: JsonValue }>().notNull(),
    status: text('status').$type<WebhookDeliveryStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    createdAt: at('created_at').notNull().defaultNow(),
    nextAttemptAt: at('next_attempt_at').notNull().defaultNow(),
    /** A worker's lease while it sends; past it, another worker may take the row again. */
    lockedUntil: at('locked_until'),
    deliveredAt: at('delivered_at'),
  },
  (t) => [
    index('webhook_outbox_due_idx').on(t.status, t.nextAttemptAt),
    index('webhook_outbox_request_idx').on(t.endpointId, t.requestId),
    check('webhook_outbox_status_check', sql`${t.status} in ('pending', 'delivered', 'failed')`),
  ],
);

/** Every delivery attempt: its HTTP status (null when none came back), latency and error. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    outboxId: bigint('outbox_id', { mode: 'number' })
      .notNull()
      .references(() => webhookOutbox.id, { onDelete: 'cascade' }),
    endpointId: text('endpoint_id').notNull(),
    at: at('at').notNull().defaultNow(),
    ok: boolean('ok').notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    error: text('error'),
  },
  (t) => [index('webhook_attempts_outbox_idx').on(t.outboxId), index('webhook_attempts_endpoint_idx').on(t.endpointId, t.at)],
);

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
