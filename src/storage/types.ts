/** The drizzle database type shared by both drivers (postgres.js and PGlite). */
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema.js';

/** A drizzle database over Tessera's schema, whichever driver is underneath. */
export type TesseraDb = PgDatabase<PgQueryResultHKT, typeof schema>;

/** LISTEN/NOTIFY channel carrying revoked identifiers (payload: the identifier). */
export const REVOCATION_CHANNEL = 'tessera_revocations';

/** LISTEN/NOTIFY channel carrying root key changes (payload: the key id): created, expired, retired. */
export const KEY_CHANNEL = 'tessera_keys';

/** LISTEN/NOTIFY channel carrying new audit events (payload: the event id), sent by a trigger. */
export const AUDIT_CHANNEL = 'tessera_audit';
/**
 * LISTEN/NOTIFY channel carrying decided discharge requests (payload: the request id), sent once
 * the decision has committed, so every instance wakes its long-polls waiting for that request.
 */
export const APPROVAL_CHANNEL = 'tessera_approvals';
/**
 * LISTEN/NOTIFY channel telling every instance's webhook worker that outbox rows were written
 * (sent in the writing transaction, so heard once they have committed; no payload).
 */
export const WEBHOOK_CHANNEL = 'tessera_webhooks';
