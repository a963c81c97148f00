/**
 * Tessera's storage layer: drizzle schema, PostgreSQL / PGlite drivers with migrations on open,
 * encryption at rest, and typed repositories.
 *
 * Typical use:
 *   const database = await openDatabase({ url: process.env.DATABASE_URL, dataDir });
 *   const masterKey = await resolveMasterKey({ env: process.env.TESSERA_MASTER_KEY, dataDir });
 *   const store = createStore(database, masterKey);
 */
export { openDatabase, APPROVAL_CHANNEL, AUDIT_CHANNEL, KEY_CHANNEL, REVOCATION_CHANNEL, WEBHOOK_CHANNEL } from './database.js';
export type { Database, DatabaseKind, ListenOptions, OpenDatabaseOptions } from './database.js';
export { migrate } from './migrate.js';
export { MIGRATIONS } from './migrations/index.js';
export type { Migration } from './migrations/index.js';
export {
  MASTER_KEY_ENV,
  MASTER_KEY_FILE,
  MasterKey,
  loadOrCreateKeyFile,
  parseMasterKey,
  resolveMasterKey,
} from './keyring.js';
export type { MasterKeyOptions, SealPurpose } from './keyring.js';
export { createStore } from './store.js';
export type { Store } from './store.js';
export type { TesseraDb } from './types.js';
export type { CreateRootKeyInput, KeyRepository, RootKey, RootKeyInfo } from './keys.js';
export type { ListTokensOptions, RecordTokenInput, TokenCursor, TokenRecord, TokenRepository, TokenState } from './tokens.js';
export type { LiveRevocation, Revocation, RevocationRepository, RevokeResult } from './revocations.js';
export type { UsageCounter, UsageRepository } from './usage.js';
export { channelOf } from './audit.js';
export type { AppendAuditInput, AuditAction, AuditChannel, AuditDetails, AuditEntry, AuditRepository, ListAuditOptions } from './audit.js';
export { RECOLLECT_WINDOW_MS } from './discharges.js';
export type {
  CollectedRequest,
  CreateDischargeRequestInput,
  DecideInput,
  DischargeRepository,
  DischargeRequest,
  DischargeStatus,
  ListHistoryOptions,
  ListPendingOptions,
  RequesterInfo,
} from './discharges.js';
export type { CreateUserInput, UpdateUserInput, User, UserRepository } from './users.js';
export type { CreateSessionInput, Session, SessionRepository } from './sessions.js';
export type { DischargerKey, DischargerKeyRepository } from './discharger-keys.js';
export type { CreateInviteInput, Invite, InviteRepository, InviteState } from './invites.js';
export type { CountInput, RateLimitRepository, WindowCount } from './rate-limits.js';
export type {
  ClaimOptions,
  ClaimedDelivery,
  CreateWebhookEndpointInput,
  DeliveryCounts,
  DeliveryOutcome,
  WebhookAttempt,
  WebhookAttemptInput,
  WebhookDeliveryStatus,
  WebhookEndpoint,
  WebhookEventInput,
  WebhookFormat,
  WebhookPayload,
  WebhookRepository,
} from './webhooks.js';
export type { AddPasskeyInput, ChallengePurpose, PasskeyCredential, PasskeyRepository, PutChallengeInput, TakenChallenge } from './passkeys.js';
export type { AuthMethod, JsonValue } from './schema.js';
