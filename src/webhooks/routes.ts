/**
 * The webhooks' admin API (admin tokens, like the issuer's routes):
 *
 *   GET    /v1/webhooks                 list endpoints (no secrets)       op webhooks:read
 *   POST   /v1/webhooks                 add one; answers its secret once  op webhooks:write
 *   DELETE /v1/webhooks/:id             remove one                        op webhooks:write
 *   POST   /v1/webhooks/:id/test        queue a test event                op webhooks:write
 *   GET    /v1/webhooks/:id/attempts    its latest delivery attempts      op webhooks:read
 */
import { Hono } from 'hono';
import type { ClientIpSource } from '../hono/index.js';
import { badRequest, readJsonObject, readQuery, stringField } from '../http/body.js';
import { ADMIN_OPS, actorOf, adminGuards } from '../issuer/routes.js';
import type { Store, WebhookAttempt, WebhookFormat } from '../storage/index.js';
import type { Verifier } from '../verifier/index.js';
import { addWebhook, listWebhooks, removeWebhook, testWebhook, webhookAttempts, type WebhookAddressee, type WebhookListing } from './endpoints.js';

export interface WebhookRoutesOptions {
  readonly store: Store;
  readonly adminVerifier: Verifier;
  readonly clientIp?: ClientIpSource;
  /** Wake the delivery worker (a test event was queued). */
  readonly wake?: () => void;
}

const MAX_BODY = 16 * 1024;

const attemptJson = (a: WebhookAttempt) => ({
  eventId: a.eventId,
  type: a.type,
  at: a.at.toISOString(),
  ok: a.ok,
  statusCode: a.statusCode,
  latencyMs: a.latencyMs,
  error: a.error,
});

const listingJson = (w: WebhookListing) => ({
  id: w.id,
  url: w.url,
  addressee: w.addressee,
  format: w.format,
  createdAt: w.createdAt.toISOString(),
  deliveries: w.deliveries,
  lastAttempt: w.lastAttempt === null ? null : attemptJson(w.lastAttempt),
});

export function webhookRoutes(options: WebhookRoutesOptions): Hono {
  const { store } = options;
  const { auth, sized } = adminGuards({ adminVerifier: options.adminVerifier, clientIp: options.clientIp });
  const app = new Hono();

  app.get('/v1/webhooks', auth(ADMIN_OPS.webhooksRead), async (c) => {
    readQuery(c, []);
    c.header('cache-control', 'no-store');
    return c.json({ webhooks: (await listWebhooks(store)).map(listingJson) });
  });

  app.post('/v1/webhooks', auth(ADMIN_OPS.webhooksWrite), sized(MAX_BODY), async (c) => {
    const body = await readJsonObject(c, ['url', 'group', 'user', 'format']);
    const url = stringField(body, 'url', { max: 2048 });
    const group = stringField(body, 'group', { max: 64, optional: true });
    const user = stringField(body, 'user', { max: 64, optional: true });
    if (group !== undefined && user !== undefined) throw badRequest('give group or user, not both', 'group');
    const format = stringField(body, 'format', { max: 16, optional: true });
    if (format !== undefined && format !== 'standard' && format !== 'slack') throw badRequest('format must be "standard" or "slack"', 'format');
    const addressee: WebhookAddressee = group !== undefined ? { group } : user !== undefined ? { user } : 'all';
    const { endpoint, secret } = await addWebhook(store, { url, addressee, ...(format !== undefined ? { format: format as WebhookFormat } : {}) }, actorOf(c));
    c.header('cache-control', 'no-store');
    return c.json(
      { id: endpoint.id, url: endpoint.url, addressee: endpoint.addressee, format: endpoint.format, createdAt: endpoint.createdAt.toISOString(), secret },
      201,
    );
  });

  app.delete('/v1/webhooks/:id', auth(ADMIN_OPS.webhooksWrite), async (c) => {
    const id = c.req.param('id');
    await removeWebhook(store, id, actorOf(c));
    return c.json({ id, removed: true });
  });

  app.post('/v1/webhooks/:id/test', auth(ADMIN_OPS.webhooksWrite), sized(MAX_BODY), async (c) => {
    const id = c.req.param('id');
    const eventId = await testWebhook(store, id, actorOf(c));
    options.wake?.();
    return c.json({ id, eventId }, 202);
  });

  app.get('/v1/webhooks/:id/attempts', auth(ADMIN_OPS.webhooksRead), async (c) => {
    const q = readQuery(c, ['limit']);
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 100 || !/^[0-9]+$/.test(q.limit ?? '20')) throw badRequest('limit must be from 1 to 100', 'limit');
    c.header('cache-control', 'no-store');
    return c.json({ attempts: (await webhookAttempts(store, c.req.param('id'), limit)).map(attemptJson) });
  });

  return app;
}
