/**
 * The issuer's HTTP API (hono), protected by Tessera's own macaroons.
 *
 *   POST /v1/tokens          mint                    op tokens:mint
 *   GET  /v1/tokens          list (filters, cursor)  op tokens:read
 *   GET  /v1/tokens/:id      status                  op tokens:read
 *   GET  /v1/audit           the audit log; `after` + `wait` follow it live   op audit:read
 *   POST /v1/tokens/revoke   revoke                  op tokens:revoke
 *   GET  /v1/keys            list root keys          op keys:read
 *   POST /v1/keys/rotate     rotate root keys        op keys:rotate
 *   users, invites and approver tokens: see users-routes.ts  ops users:read, users:write
 *   POST /v1/verify          verify a token for a request, for services in any language
 *                            (`explain: true`: every caveat with pass or fail, no use counted)
 *                                                    op verify
 *   GET  /metrics            Prometheus text format  op metrics:read
 *   GET  /healthz            liveness (no auth)
 *   /v1/webhooks…            webhook endpoints (src/webhooks/routes.ts)   ops webhooks:read, webhooks:write
 *
 * Every admin route requires an admin token (`tsa1.` identifier, signed with the admin-purpose
 * key: no token minted through this API can pass) whose caveats allow the route's operation,
 * with audience `tessera-admin`. The first-start admin token allows all of ADMIN_OPS; narrower
 * ones are made offline by attenuation, e.g. a service's verify-only credential:
 * `tessera attenuate <admin token> --caveat "ops verify"`.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { buildCondition, defaultRegistry, ops as opsCaveat, type RequestContext } from '../../caveats/index.js';
import { parseRfc3339 } from '../../caveats/rfc3339.js';
import { isTesseraError, limit } from '../errors.js';
import { parseAuthorization } from '../hono/authorization.js';
import { macaroonAuth, type ClientIpSource } from '../hono/node.js';
import { httpStatus } from '../http/status.js';
import { badRequest, booleanField, durationField, objectField, readQuery, readJsonObject, stringArrayField, stringField } from '../http/body.js';
import { Macaroon } from '../macaroon/macaroon.js';
import type { Store, TokenState } from '../storage/index.js';
import { parseDuration } from '../util/duration.js';
import { DEFAULT_LIMITS } from '../macaroon/limits.js';
import type { Verifier } from '../verifier/index.js';
import { MAX_IDENTIFIER_LENGTH } from './identifier.js';
import { GRACE_BOUNDS } from './keyring.js';
import { AuditFeed, TOKEN_STATES, listAudit, listTokens, type AuditQuery } from './listing.js';
import { MAX_LABEL_LENGTH, MAX_MINT_CAVEATS, TTL_BOUNDS, type Issuer, type MintedToken, type TokenStatus } from './issuer.js';

/** The audience of admin tokens (an `aud` caveat on them, and the admin verifier's audience). */
export const ADMIN_AUDIENCE = 'tessera-admin';

/** The operations of the admin API. */
export const ADMIN_OPS = Object.freeze({
  mint: 'tokens:mint',
  read: 'tokens:read',
  auditRead: 'audit:read',
  revoke: 'tokens:revoke',
  keysRead: 'keys:read',
  keysRotate: 'keys:rotate',
  verify: 'verify',
  webhooksRead: 'webhooks:read',
  webhooksWrite: 'webhooks:write',
  usersRead: 'users:read',
  usersWrite: 'users:write',
  metricsRead: 'metrics:read',
} as const);

/** The caveats of the first-start admin token: every admin operation, admin audience only. */
export const ADMIN_CAVEATS: readonly string[] = Object.freeze([
  buildCondition(opsCaveat, Object.values(ADMIN_OPS)),
  `aud ${ADMIN_AUDIENCE}`,
]);

/** Request bodies are small; verify bodies carry a token and its discharges. */
const MAX_BODY = 64 * 1024;
const MAX_VERIFY_BODY = 512 * 1024;
/** Longest token text accepted in a body (base64 of the largest token the decoder takes). */
export const MAX_TOKEN_TEXT = Math.ceil((DEFAULT_LIMITS.maxBytes * 4) / 3) + 4;
const MAX_CONDITION_TEXT = 4096;
const CONTEXT_FIELDS = ['operation', 'resource', 'method', 'ip', 'tool', 'audience'] as const;

export interface IssuerRoutesOptions {
  readonly issuer: Issuer;
  /** Verifies admin tokens (purpose 'admin', audience ADMIN_AUDIENCE). */
  readonly adminVerifier: Verifier;
  /** Verifies application tokens for POST /v1/verify. */
  readonly verifier: Verifier;
  /** What /healthz reports beyond `status: ok` (e.g. database kind, revoked-set size). */
  readonly health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Client IP source for `client-ip` caveats on admin tokens (default: the TCP peer). */
  readonly clientIp?: ClientIpSource;
  /** The store, for listing tokens and the audit log. */
  readonly store: Store;
  /** Wakes waiting audit follows; without it `wait` returns at once. */
  readonly auditFeed?: AuditFeed;
  readonly clock?: () => Date;
  /** Told each POST /v1/verify verdict (`allowed` or the error code) and its duration in seconds. */
  readonly onVerify?: (result: string, seconds: number) => void;
  /** The body of GET /metrics (without it the route answers 404). */
  readonly metrics?: () => Promise<{ readonly contentType: string; readonly body: string }>;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export const mintedJson = (m: MintedToken) => ({
  token: m.token,
  identifier: m.identifier,
  keyId: m.keyId,
  caveats: m.caveats,
  label: m.label,
  expiresAt: iso(m.expiresAt),
});

const statusJson = (s: TokenStatus) => ({
  ...s,
  createdAt: iso(s.createdAt),
  expiresAt: iso(s.expiresAt),
  revokedAt: iso(s.revokedAt),
});

const keyJson = (k: { id: string; createdAt: Date; expiresAt: Date | null; retiredAt: Date | null; state: string }) => ({
  id: k.id,
  state: k.state,
  createdAt: iso(k.createdAt),
  expiresAt: iso(k.expiresAt),
  retiredAt: iso(k.retiredAt),
});

/**
 * The middleware guarding an admin route: an admin token whose caveats allow `operation`
 * (for other modules' admin routes, e.g. the webhooks').
 */
export const adminAuth = (adminVerifier: Verifier, clientIp?: ClientIpSource) => (operation: string) =>
  macaroonAuth({
    verifier: adminVerifier,
    context: () => ({ operation, audience: ADMIN_AUDIENCE }),
    realm: ADMIN_AUDIENCE,
    ...(clientIp !== undefined ? { clientIp } : {}),
  });

/** Refuse a request body larger than `maxSize` bytes (ERR_LIMIT) before reading it. */
export const sized = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw limit(`request body is larger than ${maxSize} bytes`, { field: 'body' });
    },
  });

/** Who made an admin request, for the audit log: the admin token's identifier (not secret). */
export const actorOf = (c: Context): string => `admin:${c.get('tessera').identifierText ?? 'unknown'}`;

/**
 * The conditions of the presented admin token, when a replacement may carry them over: no
 * third-party caveats (their discharges could not be re-bound) and no usage-limited ones
 * (a copy would reset the count).
 */
function copyableConditions(c: Context): readonly string[] | undefined {
  try {
    const { token } = parseAuthorization(c.req.header('authorization') ?? '', { maxHeaderLength: 1 << 20, maxDischarges: DEFAULT_LIMITS.maxDischarges });
    const caveats = Macaroon.decode(token).caveats;
    if (caveats.some((cv) => cv.thirdParty || cv.text === undefined)) return undefined;
    const conditions = caveats.map((cv) => cv.text as string);
    if (conditions.some((t) => defaultRegistry.parse(t).type.stateful === true)) return undefined;
    return conditions;
  } catch {
    return undefined;
  }
}

function verifyContext(body: Record<string, unknown> | undefined): RequestContext {
  if (body === undefined) return {};
  const out: Record<string, string> = {};
  for (const field of CONTEXT_FIELDS) {
    const v = stringField(body, field, { max: 1024, optional: true });
    if (v !== undefined) out[field] = v;
  }
  return out;
}

const MAX_AUDIT_WAIT_SECONDS = 60;

const pick = <K extends string>(q: Readonly<Record<string, string>>, keys: readonly K[]): Partial<Record<K, string>> =>
  Object.fromEntries(keys.filter((k) => q[k] !== undefined).map((k) => [k, q[k]])) as Partial<Record<K, string>>;

function decimal(text: string, field: string): number {
  if (!/^(0|[1-9][0-9]{0,14})$/.test(text)) throw badRequest(`${field} must be a whole number`, field);
  return Number(text);
}

const pageSize = (text: string | undefined): number => {
  const n = text === undefined ? 100 : decimal(text, 'limit');
  if (n < 1 || n > 1000) throw badRequest('limit must be from 1 to 1000', 'limit');
  return n;
};

function timeRange(q: Readonly<Record<string, string>>): { since?: Date; until?: Date } {
  const out: { since?: Date; until?: Date } = {};
  for (const field of ['since', 'until'] as const) {
    const text = q[field];
    if (text === undefined) continue;
    try {
      out[field] = parseRfc3339(text, 'floor');
    } catch {
      throw badRequest(`${field} must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z`, field);
    }
  }
  return out;
}

/**
 * The admin API's two guards, for every admin route module: `auth(op)` admits an admin token
 * allowing `op`; `sized(n)` refuses a body over n bytes (ERR_LIMIT).
 */
export function adminGuards(options: { readonly adminVerifier: Verifier; readonly clientIp?: ClientIpSource | undefined }): {
  auth(operation: string): MiddlewareHandler;
  sized(maxSize: number): MiddlewareHandler;
} {
  return {
    auth: (operation) =>
      macaroonAuth({
        verifier: options.adminVerifier,
        context: () => ({ operation, audience: ADMIN_AUDIENCE }),
        realm: ADMIN_AUDIENCE,
        ...(options.clientIp !== undefined ? { clientIp: options.clientIp } : {}),
      }),
    sized: (maxSize) =>
      bodyLimit({
        maxSize,
        onError: () => {
          throw limit(`request body is larger than ${maxSize} bytes`, { field: 'body' });
        },
      }),
  };
}

export function issuerRoutes(options: IssuerRoutesOptions): Hono {
  const { issuer, adminVerifier, verifier } = options;
  const clock = options.clock ?? (() => new Date());
  const app = new Hono();
  const { auth, sized } = adminGuards({ adminVerifier, clientIp: options.clientIp });

  app.get('/healthz', async (c) => {
    const extra = options.health === undefined ? {} : await options.health();
    c.header('cache-control', 'no-store');
    return c.json({ status: 'ok', ...extra });
  });

  app.post('/v1/tokens', auth(ADMIN_OPS.mint), sized(MAX_BODY), async (c) => {
    const body = await readJsonObject(c, ['caveats', 'label', 'ttl', 'subject'], { emptyOk: true });
    const minted = await issuer.mint({
      caveats: stringArrayField(body, 'caveats', MAX_MINT_CAVEATS, MAX_CONDITION_TEXT),
      label: stringField(body, 'label', { max: MAX_LABEL_LENGTH, optional: true }),
      subject: stringField(body, 'subject', { max: MAX_LABEL_LENGTH, optional: true }),
      ttlSeconds: durationField(body, 'ttl', TTL_BOUNDS),
      actor: actorOf(c),
    });
    c.header('cache-control', 'no-store');
    return c.json(mintedJson(minted), 201);
  });

  app.post('/v1/tokens/revoke', auth(ADMIN_OPS.revoke), sized(MAX_BODY), async (c) => {
    const body = await readJsonObject(c, ['token', 'identifier', 'reason']);
    const revoked = await issuer.revoke({
      token: stringField(body, 'token', { max: MAX_TOKEN_TEXT, optional: true }),
      identifier: stringField(body, 'identifier', { max: MAX_IDENTIFIER_LENGTH, optional: true }),
      reason: stringField(body, 'reason', { max: MAX_LABEL_LENGTH, optional: true }),
      actor: actorOf(c),
    });
    return c.json({ identifier: revoked.identifier, revoked: true, revokedAt: iso(revoked.revokedAt), alreadyRevoked: !revoked.created });
  });

  app.get('/v1/tokens', auth(ADMIN_OPS.read), async (c) => {
    const q = readQuery(c, ['state', 'label', 'subject', 'keyId', 'since', 'until', 'limit', 'cursor']);
    if (q.state !== undefined && !TOKEN_STATES.includes(q.state as TokenState)) throw badRequest(`state must be one of ${TOKEN_STATES.join(', ')}`, 'state');
    const page = await listTokens(
      options.store,
      {
        ...(q.state !== undefined ? { state: q.state as TokenState } : {}),
        ...pick(q, ['label', 'subject', 'keyId', 'cursor']),
        ...timeRange(q),
        limit: pageSize(q.limit),
      },
      clock(),
    );
    c.header('cache-control', 'no-store');
    return c.json({ tokens: page.items, ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}) });
  });

  app.get('/v1/audit', auth(ADMIN_OPS.auditRead), async (c) => {
    const q = readQuery(c, ['action', 'token', 'actor', 'channel', 'since', 'until', 'limit', 'cursor', 'after', 'wait']);
    const after = q.after === undefined ? undefined : decimal(q.after, 'after');
    const waitMs = q.wait === undefined ? 0 : parseDuration(q.wait, 'wait', { max: MAX_AUDIT_WAIT_SECONDS }) * 1000;
    if (waitMs > 0 && after === undefined) throw badRequest('wait needs after (the last event id seen)', 'wait');
    const query: AuditQuery = {
      ...pick(q, ['action', 'actor', 'channel', 'cursor']),
      ...(q.token !== undefined ? { subject: q.token } : {}),
      ...(after !== undefined ? { after } : {}),
      ...timeRange(q),
      limit: pageSize(q.limit),
    };
    const feed = waitMs > 0 ? options.auditFeed : undefined;
    const deadline = Date.now() + waitMs;
    for (;;) {
      // Register before reading, so an event committed in between wakes the wait.
      const waiter = feed?.waiter(deadline - Date.now());
      try {
        const page = await listAudit(options.store, query);
        // A wake may bring nothing (a late notification of an earlier event, a reconnect): wait
        // on until the deadline, unless the feed is closing.
        if (page.items.length > 0 || waiter === undefined || feed?.closed === true || Date.now() >= deadline) {
          c.header('cache-control', 'no-store');
          return c.json({ events: page.items, ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}) });
        }
        await waiter.next;
      } finally {
        waiter?.cancel();
      }
    }
  });

  app.get('/v1/tokens/:id', auth(ADMIN_OPS.read), async (c) => {
    const id = c.req.param('id');
    if (id.length > MAX_IDENTIFIER_LENGTH) throw badRequest('identifier is not a Tessera token identifier', 'identifier');
    return c.json(statusJson(await issuer.status(id)));
  });

  app.get('/v1/keys', auth(ADMIN_OPS.keysRead), async (c) => c.json({ keys: (await issuer.listKeys()).map(keyJson) }));

  app.post('/v1/keys/rotate', auth(ADMIN_OPS.keysRotate), sized(MAX_BODY), async (c) => {
    const body = await readJsonObject(c, ['graceSeconds', 'retireOld'], { emptyOk: true });
    const graceSeconds = durationField(body, 'graceSeconds', GRACE_BOUNDS);
    const retireOld = booleanField(body, 'retireOld');
    const actor = actorOf(c);
    const result = await issuer.rotateKey({ ...(graceSeconds !== undefined ? { graceSeconds } : {}), ...(retireOld !== undefined ? { retireOld } : {}) }, actor);
    // The presented admin token dies with its key: hand back a replacement with the same
    // caveats under the new key. Revoking the old identifier revokes the replacement too.
    const conditions = copyableConditions(c);
    const replaced = c.get('tessera').identifierText;
    const adminToken =
      conditions === undefined || replaced === undefined
        ? undefined
        : await issuer.mint({ purpose: 'admin', caveats: conditions, label: 'admin token (reissued at key rotation)', replaces: replaced, actor });
    c.header('cache-control', 'no-store');
    return c.json({
      current: keyJson(result.current),
      previous: result.previous.map(keyJson),
      ...(adminToken !== undefined ? { adminToken: adminToken.token, adminIdentifier: adminToken.identifier } : {}),
    });
  });

  app.post('/v1/verify', auth(ADMIN_OPS.verify), sized(MAX_VERIFY_BODY), async (c) => {
    const body = await readJsonObject(c, ['token', 'discharges', 'context', 'explain'], { maxBytes: MAX_VERIFY_BODY });
    const token = stringField(body, 'token', { max: MAX_TOKEN_TEXT });
    const discharges = stringArrayField(body, 'discharges', DEFAULT_LIMITS.maxDischarges, MAX_TOKEN_TEXT);
    const context = verifyContext(objectField(body, 'context', CONTEXT_FIELDS));
    c.header('cache-control', 'no-store');
    if (booleanField(body, 'explain') === true) {
      // Every caveat judged, none short-circuited, no use counted: for debugging.
      const report = await verifier.explain(token, { discharges, context });
      return c.json({ allowed: report.ok, explain: true, identifier: report.identifierText ?? null, ...(report.error !== undefined ? { error: report.error } : {}), caveats: report.caveats });
    }
    const started = performance.now();
    const observe = (result: string): void => options.onVerify?.(result, (performance.now() - started) / 1000);
    try {
      const verified = await verifier.verify(token, { discharges, context });
      observe('allowed');
      return c.json({
        allowed: true,
        identifier: verified.identifierText ?? null,
        caveats: verified.caveats,
        declared: Object.fromEntries(verified.declared),
      });
    } catch (e) {
      // The token's verdict, not a failure of this request: answered 200 with the reason.
      if (!isTesseraError(e) || httpStatus(e) >= 500) throw e;
      observe(e.code);
      return c.json({ allowed: false, ...e.toJSON() });
    }
  });

  const metrics = options.metrics;
  if (metrics !== undefined) {
    app.get('/metrics', auth(ADMIN_OPS.metricsRead), async (c) => {
      const { contentType, body } = await metrics();
      c.header('cache-control', 'no-store');
      return c.body(body, 200, { 'content-type': contentType });
    });
  }

  return app;
}

