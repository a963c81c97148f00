/**
 * Managing webhook endpoints: add (a fresh signing secret, returned once as `whsec_…`), list
 * (never a secret, the URL's path shortened where it may hold one), remove, and queue a test
 * event. Each change is audited in the transaction that makes it.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { base64url } from '../crypto/bytes.js';
import { TesseraError, invalidArgument } from '../errors.js';
import type { DeliveryCounts, Store, WebhookAttempt, WebhookEndpoint, WebhookFormat } from '../storage/index.js';
import { displayUrl } from '../storage/webhooks.js';
import { NAME_PATTERN } from '../tickets/conditions.js';
import { checkWebhookUrl } from './deliver.js';

/** Secret bytes (Standard Webhooks: 24 to 64; we take 32). */
const SECRET_BYTES = 32;
const ENDPOINT_ID = /^wh_[A-Za-z0-9_-]{16}$/;

/** Who an endpoint hears about: requests to one group, to one user, or all of them. */
export type WebhookAddressee = { readonly group: string } | { readonly user: string } | 'all';

export interface AddWebhookInput {
  readonly url: string;
  readonly addressee?: WebhookAddressee;
  readonly format?: WebhookFormat;
}

/** An endpoint as listed: the URL with anything that may be a credential cut out. */
export interface WebhookListing {
  readonly id: string;
  readonly url: string;
  /** `group:<name>`, a user name, or null for every request. */
  readonly addressee: string | null;
  readonly format: WebhookFormat;
  readonly createdAt: Date;
  readonly deliveries: DeliveryCounts;
  readonly lastAttempt: WebhookAttempt | null;
}

function addresseeOf(a: WebhookAddressee | undefined): string | null {
  if (a === undefined || a === 'all') return null;
  const [kind, name] = 'group' in a ? ['group', a.group] : ['user', a.user];
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw invalidArgument(`the ${kind} name must match ${NAME_PATTERN.source}`, { field: kind });
  }
  return kind === 'group' ? `group:${name}` : name;
}

/** The signing secret as receivers' Standard Webhooks libraries take it. */
const secretText = (bytes: Uint8Array): string => `whsec_${Buffer.from(bytes).toString('base64')}`;

/** Add an endpoint; the answer's `secret` is the only time the signing secret is shown. */
export async function addWebhook(store: Store, input: AddWebhookInput, actor: string): Promise<{ readonly endpoint: WebhookEndpoint; readonly secret: string }> {
  const url = checkWebhookUrl(input.url);
  const format = input.format ?? 'standard';
  if (format !== 'standard' && format !== 'slack') throw invalidArgument('format must be "standard" or "slack"', { field: 'format' });
  const addressee = addresseeOf(input.addressee);
  const id = `wh_${base64url(randomBytes(12))}`;
  const secret = randomBytes(SECRET_BYTES);
  try {
    const endpoint = await store.transaction(async (tx) => {
      const created = await tx.webhooks.create({ id, url, addressee, format, secret });
      await tx.audit.append({ actor, action: 'webhook-add', subject: id, details: { url: displayUrl(url), addressee, format } });
      return created;
    });
    return { endpoint, secret: secretText(secret) };
  } finally {
    secret.fill(0);
  }
}

const checkId = (id: unknown): string => {
  if (typeof id !== 'string' || !ENDPOINT_ID.test(id)) throw new TesseraError('ERR_NOT_FOUND', 'no such webhook endpoint', { field: 'id' });
  return id;
};

/** Every endpoint with its delivery counts and last attempt. */
export async function listWebhooks(store: Store): Promise<WebhookListing[]> {
  const endpoints = await store.webhooks.list();
  return Promise.all(
    endpoints.map(async (e) => {
      const [deliveries, [lastAttempt]] = await Promise.all([store.webhooks.counts(e.id), store.webhooks.attempts(e.id, 1)]);
      // Already the shown form, except for an endpoint stored before URLs were sealed and not yet
      // sealed by a start (a command on a stopped database): cut down here too.
      return { ...e, url: displayUrl(e.url), deliveries, lastAttempt: lastAttempt ?? null };
    }),
  );
}

/** Remove an endpoint, its undelivered events and its attempts. ERR_NOT_FOUND if unknown. */
export async function removeWebhook(store: Store, id: string, actor: string): Promise<void> {
  const known = checkId(id);
  await store.transaction(async (tx) => {
    await tx.webhooks.remove(known);
    await tx.audit.append({ actor, action: 'webhook-remove', subject: known, details: {} });
  });
}

/** Queue a `webhook.test` event for one endpoint; resolves to its `webhook-id`. */
export async function testWebhook(store: Store, id: string, actor: string, now: Date = new Date()): Promise<string> {
  const known = checkId(id);
  const eventId = `msg_${base64url(randomBytes(16))}`;
  const queued = await store.transaction(async (tx) => {
    const n = await tx.webhooks.enqueue(
      { eventId, type: 'webhook.test', requestId: null, who: '*', payload: { type: 'webhook.test', timestamp: now.toISOString(), data: { endpoint: known } } },
      now,
      known,
    );
    if (n > 0) await tx.audit.append({ actor, action: 'webhook-test', subject: known, details: { eventId } });
    return n;
  });
  if (queued === 0) throw new TesseraError('ERR_NOT_FOUND', 'no such webhook endpoint', { field: 'id' });
  return eventId;
}

/** The latest attempts to one endpoint. ERR_NOT_FOUND if unknown. */
export async function webhookAttempts(store: Store, id: string, limit = 20): Promise<WebhookAttempt[]> {
  const known = checkId(id);
  if ((await store.webhooks.get(known)) === undefined) throw new TesseraError('ERR_NOT_FOUND', 'no such webhook endpoint', { field: 'id' });
  return store.webhooks.attempts(known, limit);
}
