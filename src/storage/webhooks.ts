/**
 * Webhook endpoints, the outbox of their events, and every delivery attempt.
 *
 * An endpoint's signing secret is random bytes sealed under the master key (purpose
 * 'webhook-secret', AAD bound to the endpoint id); only `create` (to show it once) and `claim`
 * (to sign) ever hold it opened. Its URL too may be a credential (a Slack incoming-webhook URL
 * is): it is sealed the same way (purpose 'webhook-url'), opened only by `claim` (to send), and
 * every other read gets the URL as listings show it (`displayUrl`). `enqueue` writes one outbox row per subscribed endpoint: call it
 * inside the `store.transaction` that changes the request, so an event exists exactly when its
 * change committed. Workers `claim` due rows under a lease (`FOR UPDATE SKIP LOCKED`, so
 * instances sharing a PostgreSQL database never take the same row), never a row of a request
 * whose earlier event to the same endpoint is still undelivered, and at most `perEndpoint` rows
 * of one endpoint at a time; then `finish` records the attempt and the row's next state.
 */
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { utf8, utf8Strict } from '../crypto/bytes.js';
import { TesseraError } from '../errors.js';
import type { MasterKey } from './keyring.js';
import { webhookAttempts, webhookEndpoints, webhookOutbox, type JsonValue, type WebhookDeliveryStatus, type WebhookFormat } from './schema.js';
import { WEBHOOK_CHANNEL, type TesseraDb } from './types.js';
import { checkDate, checkInt, checkOptionalText, checkPageSize, checkText, guard } from './util.js';

export type { WebhookDeliveryStatus, WebhookFormat } from './schema.js';

const PURPOSE = 'webhook-secret';
const URL_PURPOSE = 'webhook-url';
const MAX_URL = 2048;
const MAX_ERROR = 200;

export interface WebhookEndpoint {
  readonly id: string;
  /** The URL as shown (`displayUrl`): never a query, credentials or a token-like path segment. */
  readonly url: string;
  /** A user name or `group:<name>`; null: every request. */
  readonly addressee: string | null;
  readonly format: WebhookFormat;
  readonly createdAt: Date;
}

export interface CreateWebhookEndpointInput {
  readonly id: string;
  /** The whole URL (stored sealed; reads other than `claim` get `displayUrl(url)`). */
  readonly url: string;
  readonly addressee?: string | null;
  readonly format?: WebhookFormat;
  /** The signing secret's bytes (stored sealed). */
  readonly secret: Uint8Array;
}

export type WebhookPayload = { readonly [key: string]: JsonValue };

/** One event, fanned out to every subscribed endpoint by `enqueue`. */
export interface WebhookEventInput {
  /** The `webhook-id` (the same for every endpoint and every retry). */
  readonly eventId: string;
  readonly type: string;
  /** The request it is about (deliveries of one request go in order); null for a test event. */
  readonly requestId: string | null;
  /** The request's addressee, matched against the endpoints' filters. */
  readonly who: string;
  readonly payload: WebhookPayload;
}

/** A claimed outbox row with what sending it needs. The secret is live key material: do not log it. */
export interface ClaimedDelivery {
  readonly id: number;
  readonly eventId: string;
  readonly type: string;
  readonly requestId: string | null;
  readonly payload: WebhookPayload;
  /** Attempts so far, this one included. */
  readonly attempts: number;
  readonly createdAt: Date;
  readonly endpoint: Omit<WebhookEndpoint, 'url'> & {
    /** The whole URL, to send to: may be a credential too. */
    readonly url: string;
    readonly secret: Uint8Array;
  };
}

export interface WebhookAttemptInput {
  readonly ok: boolean;
  /** The receiver's HTTP status, or null when none came back (refused, timeout…). */
  readonly statusCode: number | null;
  readonly latencyMs: number;
  /** Why it failed, in a few words (never a secret); null when it succeeded. */
  readonly error: string | null;
}

export interface WebhookAttempt extends WebhookAttemptInput {
  readonly id: number;
  readonly outboxId: number;
  readonly endpointId: string;
  readonly eventId: string;
  readonly type: string;
  readonly at: Date;
}

/** What becomes of a row after an attempt. */
export type DeliveryOutcome =
  | { readonly status: 'delivered' }
  | { readonly status: 'failed' }
  | { readonly status: 'pending'; readonly nextAttemptAt: Date };

export interface DeliveryCounts {
  readonly pending: number;
  readonly delivered: number;
  readonly failed: number;
}

export interface ClaimOptions {
  /** Most rows to claim. */
  readonly limit: number;
  /** Most rows of one endpoint in flight at once (across instances). */
  readonly perEndpoint: number;
  /** How long the claim holds; past it the row is due again (a crashed worker's rows). */
  readonly leaseMs: number;
}

export interface WebhookRepository {
  /** Store an endpoint; its secret is sealed. ERR_CONFLICT if the id exists. */
  create(input: CreateWebhookEndpointInput, now?: Date): Promise<WebhookEndpoint>;
  /** Every endpoint, oldest first (never a secret). */
  list(): Promise<WebhookEndpoint[]>;
  get(id: string): Promise<WebhookEndpoint | undefined>;
  /** Delete an endpoint with its outbox and attempts. ERR_NOT_FOUND if unknown. */
  remove(id: string): Promise<void>;
  /**
   * Queue `event` for every endpoint subscribed to `event.who` (or only `endpointId`, for a test
   * event); returns how many rows were written. Tells listening workers on commit.
   */
  enqueue(event: WebhookEventInput, now?: Date, endpointId?: string): Promise<number>;
  /** Take due rows under a lease (see module comment). */
  claim(options: ClaimOptions, now?: Date): Promise<ClaimedDelivery[]>;
  /** Record an attempt on a claimed row and what becomes of the row, in one transaction. */
  finish(id: number, attempt: WebhookAttemptInput, outcome: DeliveryOutcome, now?: Date): Promise<void>;
  /** Give claimed rows back unattempted (a worker stopping): due at once, the attempt not counted. */
  release(ids: readonly number[]): Promise<void>;
  /**
   * Seal the URL of every endpoint stored before URLs were sealed (migration 11), keeping only
   * its shown form in the clear; returns how many. Idempotent, safe on several instances at once.
   */
  sealUrls(): Promise<number>;
  /** The latest attempts for an endpoint, newest first. */
  attempts(endpointId: string, limit?: number): Promise<WebhookAttempt[]>;
  /** How many of an endpoint's outbox rows (or every endpoint's) wait, were delivered, were given up on. */
  counts(endpointId?: string): Promise<DeliveryCounts>;
}

type EndpointRow = typeof webhookEndpoints.$inferSelect;

const endpointOf = (r: EndpointRow): WebhookEndpoint => ({ id: r.id, url: r.url, addressee: r.addressee, format: r.format, createdAt: r.createdAt });

const endpointColumns = {
  id: webhookEndpoints.id,
  url: webhookEndpoints.url,
  addressee: webhookEndpoints.addressee,
  format: webhookEndpoints.format,
  createdAt: webhookEndpoints.createdAt,
};

/**
 * A URL fit for listings and the audit log: no query, fragment or credentials, and path
 * segments that look like tokens (Slack's incoming-webhook URLs end in one) cut to four
 * characters.
 */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname
      .split('/')
      .map((seg) => (seg.length >= 16 ? `${seg.slice(0, 4)}…` : seg))
      .join('/');
    return `${u.protocol}//${u.host}${path}${u.search !== '' ? '?…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Rows of a raw query, whichever driver (postgres.js answers an array, PGlite `{ rows }`). */
async function rawRows(db: TesseraDb, query: ReturnType<typeof sql>): Promise<Record<string, unknown>[]> {
  const r: unknown = await db.execute(query);
  return (Array.isArray(r) ? r : (r as { rows: unknown[] }).rows) as Record<string, unknown>[];
}

const checkFormat = (format: unknown): WebhookFormat => {
  if (format !== 'standard' && format !== 'slack') throw new TesseraError('ERR_INVALID_ARGUMENT', 'format must be "standard" or "slack"', { field: 'format' });
  return format;
};

export function webhookRepository(db: TesseraDb, masterKey: MasterKey): WebhookRepository {
  const time = (d: Date): string => checkDate('now', d).toISOString();
  return {
    create: (input, now = new Date()) =>
      guard('create webhook endpoint', async () => {
        const id = checkText('id', input.id);
        if (!(input.secret instanceof Uint8Array) || input.secret.length < 16 || input.secret.length > 64) {
          throw new TesseraError('ERR_INVALID_ARGUMENT', 'secret must be 16 to 64 bytes', { field: 'secret' });
        }
        const url = checkText('url', input.url, MAX_URL);
        const [row] = await db
          .insert(webhookEndpoints)
          .values({
            id,
            url: displayUrl(url),
            sealedUrl: masterKey.seal(URL_PURPOSE, id, utf8(url)),
            addressee: checkOptionalText('addressee', input.addressee),
            format: checkFormat(input.format ?? 'standard'),
            sealedSecret: masterKey.seal(PURPOSE, id, input.secret),
            createdAt: checkDate('now', now),
          })
          .returning();
        if (row === undefined) throw new TesseraError('ERR_STORAGE', 'create webhook endpoint returned no row');
        return endpointOf(row);
      }),

    list: () =>
      guard('list webhook endpoints', async () => {
        const rows = await db.select(endpointColumns).from(webhookEndpoints).orderBy(webhookEndpoints.createdAt, webhookEndpoints.id);
        return rows.map((r) => ({ ...r }));
      }),

    get: (id) =>
      guard('read webhook endpoint', async () => {
        const [row] = await db.select(endpointColumns).from(webhookEndpoints).where(eq(webhookEndpoints.id, checkText('id', id)));
        return row === undefined ? undefined : { ...row };
      }),

    remove: (id) =>
      guard('remove webhook endpoint', async () => {
        const gone = await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, checkText('id', id))).returning({ id: webhookEndpoints.id });
        if (gone.length === 0) throw new TesseraError('ERR_NOT_FOUND', 'no such webhook endpoint', { field: 'id' });
      }),

    enqueue: (event, now = new Date(), endpointId) =>
      guard('queue webhook event', async () => {
        const at = time(now);
        const payload = JSON.stringify(event.payload);
        const who = checkText('who', event.who);
        const target = endpointId === undefined ? sql`(e.addressee is null or e.addressee = ${who})` : sql`e.id = ${checkText('endpointId', endpointId)}`;
        const written = await rawRows(
          db,
          sql`insert into webhook_outbox (endpoint_id, event_id, request_id, type, payload, created_at, next_attempt_at)
              select e.id, ${checkText('eventId', event.eventId)}, ${checkOptionalText('requestId', event.requestId)}, ${checkText('type', event.type)},
                     ${payload}::jsonb, ${at}::timestamptz, ${at}::timestamptz
              from webhook_endpoints e where ${target}
              returning id`,
        );
        if (written.length > 0) await db.execute(sql`select pg_notify(${WEBHOOK_CHANNEL}, '')`);
        return written.length;
      }),

    claim: (options, now = new Date()) =>
      guard('claim webhook deliveries', async () => {
        const limit = checkInt('limit', options.limit, 1, 1000);
        const perEndpoint = checkInt('perEndpoint', options.perEndpoint, 1, 1000);
        const at = time(now);
        const until = time(new Date(now.getTime() + checkInt('leaseMs', options.leaseMs, 1)));
        // Due: pending, its time come, not leased. The innermost query ranks due rows per
        // endpoint, skipping a request's later events while an earlier one waits; the middle
        // one keeps each endpoint under its in-flight cap and locks what it takes (SKIP LOCKED:
        // rows another instance is claiming are left to it); the conditions on `c` and on the
        // update are re-checked against a row another instance changed meanwhile.
        const claimed = await rawRows(
          db,
          sql`update webhook_outbox o set locked_until = ${until}::timestamptz, attempts = o.attempts + 1
              where o.status = 'pending' and (o.locked_until is null or o.locked_until <= ${at}::timestamptz) and o.id in (
                select c.id from webhook_outbox c
                where c.status = 'pending' and (c.locked_until is null or c.locked_until <= ${at}::timestamptz) and c.id in (
                  select d.id from (
                    select q.id, q.endpoint_id, q.next_attempt_at,
                           row_number() over (partition by q.endpoint_id order by q.next_attempt_at, q.id) as rn
                    from webhook_outbox q
                    where q.status = 'pending' and q.next_attempt_at <= ${at}::timestamptz
                      and (q.locked_until is null or q.locked_until <= ${at}::timestamptz)
                      and not exists (select 1 from webhook_outbox p
                                      where p.endpoint_id = q.endpoint_id and p.request_id = q.request_id
                                        and p.id < q.id and p.status = 'pending')
                  ) d
                  where d.rn + (select count(*) from webhook_outbox b
                                where b.endpoint_id = d.endpoint_id and b.status = 'pending' and b.locked_until > ${at}::timestamptz) <= ${perEndpoint}
                  order by d.next_attempt_at, d.id
                  limit ${limit}
                )
                for update of c skip locked
              )
              returning o.id`,
        );
        const ids = claimed.map((r) => Number(r.id));
        if (ids.length === 0) return [];
        const rows = await db
          .select({ outbox: webhookOutbox, endpoint: webhookEndpoints })
          .from(webhookOutbox)
          .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookOutbox.endpointId))
          .where(inArray(webhookOutbox.id, ids))
          .orderBy(webhookOutbox.nextAttemptAt, webhookOutbox.id);
        return rows.map(({ outbox: o, endpoint: e }) => ({
          id: o.id,
          eventId: o.eventId,
          type: o.type,
          requestId: o.requestId,
          payload: o.payload,
          attempts: o.attempts,
          createdAt: o.createdAt,
          endpoint: {
            ...endpointOf(e),
            // Not sealed yet (stored before migration 11, no start since): the column holds it whole.
            url: e.sealedUrl === null ? e.url : utf8Strict(masterKey.open(URL_PURPOSE, e.id, e.sealedUrl), 'webhook URL'),
            secret: masterKey.open(PURPOSE, e.id, e.sealedSecret),
          },
        }));
      }),

    finish: (id, attempt, outcome, now = new Date()) =>
      guard('record webhook attempt', async () => {
        checkInt('id', id, 1, Number.MAX_SAFE_INTEGER);
        const status: WebhookDeliveryStatus = outcome.status;
        await db.transaction(async (tx) => {
          const [row] = await tx
            .update(webhookOutbox)
            .set({
              status,
              lockedUntil: null,
              ...(outcome.status === 'delivered' ? { deliveredAt: now } : {}),
              ...(outcome.status === 'pending' ? { nextAttemptAt: checkDate('nextAttemptAt', outcome.nextAttemptAt) } : {}),
            })
            .where(and(eq(webhookOutbox.id, id), eq(webhookOutbox.status, 'pending')))
            .returning({ endpointId: webhookOutbox.endpointId });
          // Removed meanwhile (with its endpoint), or settled by another instance: nothing to record.
          if (row === undefined) return;
          await tx.insert(webhookAttempts).values({
            outboxId: id,
            endpointId: row.endpointId,
            at: now,
            ok: attempt.ok,
            statusCode: attempt.statusCode === null ? null : checkInt('statusCode', attempt.statusCode, 0, 999),
            latencyMs: checkInt('latencyMs', Math.max(0, Math.round(attempt.latencyMs)), 0),
            error: attempt.error === null ? null : attempt.error.slice(0, MAX_ERROR),
          });
        });
      }),

    release: (ids) =>
      guard('release webhook deliveries', async () => {
        if (ids.length === 0) return;
        await db
          .update(webhookOutbox)
          .set({ lockedUntil: null, attempts: sql`greatest(${webhookOutbox.attempts} - 1, 0)` })
          .where(and(inArray(webhookOutbox.id, [...ids]), eq(webhookOutbox.status, 'pending')));
      }),

    sealUrls: () =>
      guard('seal webhook URLs', async () => {
        const clear = await db.select({ id: webhookEndpoints.id, url: webhookEndpoints.url }).from(webhookEndpoints).where(isNull(webhookEndpoints.sealedUrl));
        let sealed = 0;
        for (const { id, url } of clear) {
          // `sealed_url is null` again: another instance may have sealed it meanwhile.
          const done = await db
            .update(webhookEndpoints)
            .set({ url: displayUrl(url), sealedUrl: masterKey.seal(URL_PURPOSE, id, utf8(url)) })
            .where(and(eq(webhookEndpoints.id, id), isNull(webhookEndpoints.sealedUrl)))
            .returning({ id: webhookEndpoints.id });
          sealed += done.length;
        }
        return sealed;
      }),

    attempts: (endpointId, limit) =>
      guard('list webhook attempts', async () => {
        const rows = await db
          .select({
            id: webhookAttempts.id,
            outboxId: webhookAttempts.outboxId,
            endpointId: webhookAttempts.endpointId,
            eventId: webhookOutbox.eventId,
            type: webhookOutbox.type,
            at: webhookAttempts.at,
            ok: webhookAttempts.ok,
            statusCode: webhookAttempts.statusCode,
            latencyMs: webhookAttempts.latencyMs,
            error: webhookAttempts.error,
          })
          .from(webhookAttempts)
          .innerJoin(webhookOutbox, eq(webhookOutbox.id, webhookAttempts.outboxId))
          .where(eq(webhookAttempts.endpointId, checkText('endpointId', endpointId)))
          .orderBy(desc(webhookAttempts.at), desc(webhookAttempts.id))
          .limit(checkPageSize(limit, 20, 1000));
        return rows.map((r) => ({ ...r }));
      }),

    counts: (endpointId) =>
      guard('count webhook deliveries', async () => {
        const rows = await db
          .select({ status: webhookOutbox.status, n: sql<number>`count(*)::int` })
          .from(webhookOutbox)
          .where(endpointId === undefined ? undefined : eq(webhookOutbox.endpointId, checkText('endpointId', endpointId)))
          .groupBy(webhookOutbox.status);
        const of = (s: WebhookDeliveryStatus): number => Number(rows.find((r) => r.status === s)?.n ?? 0);
        return { pending: of('pending'), delivered: of('delivered'), failed: of('failed') };
      }),
  };
}
