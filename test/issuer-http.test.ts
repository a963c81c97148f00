/**
 * The issuer's HTTP API through `app.request()`: admin-token protection per operation, strict
 * JSON bodies, mint / status / revoke / verify / keys, and the shared error handler; and the
 * whole system's front door (`GET /`).
 */
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../src/errors.js';
import { errorHandler, notFound } from '../src/http/errors.js';
import { Macaroon } from '../src/index.js';
import { TTL_BOUNDS } from '../src/issuer/issuer.js';
import { GRACE_BOUNDS } from '../src/issuer/keyring.js';
import { ADMIN_CAVEATS } from '../src/issuer/routes.js';
import { durationMessage } from '../src/util/duration.js';
import { newIdentifier } from '../src/issuer/identifier.js';
import { createSystem, type System } from '../src/server/system.js';
import { ENDPOINTS, frontDoor } from '../src/server/front-door.js';
import { MasterKey, type Database } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';

let database: Database;
let system: System;
let admin: string;

beforeAll(async () => {
  database = await incidentalBackend.open();
  system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: 'http://tessera.test' });
  admin = (await system.mintAdminToken()).token;
});
afterAll(async () => {
  await system.close();
  await database.close();
});

type Json = Record<string, any>; // response bodies, read loosely in assertions

async function call(method: string, path: string, options: { token?: string; body?: unknown; raw?: string; type?: string } = {}): Promise<{ status: number; json: Json; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Macaroon ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined || options.raw !== undefined) {
    body = options.raw ?? JSON.stringify(options.body);
    headers['content-type'] = options.type ?? 'application/json';
  }
  const res = await system.app.request(path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Json), headers: res.headers };
}

const attenuate = (token: string, ...conditions: string[]): string =>
  conditions.reduce((m, c) => m.addFirstPartyCaveat(c), Macaroon.decode(token)).encode();

describe('admin API protection', () => {
  it('/healthz needs no token', async () => {
    const r = await call('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'ok', database: incidentalBackend.name });
  });

  it('refuses requests without a token, with an application token, or with a revoked admin token', async () => {
    const none = await call('POST', '/v1/tokens', { body: {} });
    expect(none.status).toBe(401);
    expect(none.json.error.code).toBe('ERR_UNAUTHENTICATED');
    expect(none.headers.get('www-authenticate')).toContain('Macaroon');

    // An application token with no caveats at all is still not an admin token.
    const appToken = (await system.issuer.mint()).token;
    const app = await call('POST', '/v1/tokens', { token: appToken, body: {} });
    expect(app.status).toBe(401);
    expect(app.json.error.code).toBe('ERR_KEY_UNKNOWN');

    const spare = await system.mintAdminToken('spare');
    expect((await call('GET', '/v1/keys', { token: spare.token })).status).toBe(200);
    await system.issuer.revoke({ identifier: spare.identifier });
    const revoked = await call('GET', '/v1/keys', { token: spare.token });
    expect(revoked.status).toBe(401);
    expect(revoked.json.error.code).toBe('ERR_REVOKED');
  });

  it('checks the operation of each route: an attenuated admin token only does what it allows', async () => {
    const verifyOnly = attenuate(admin, 'ops verify');
    const mint = await call('POST', '/v1/tokens', { token: verifyOnly, body: {} });
    expect(mint.status).toBe(403);
    expect(mint.json.error).toMatchObject({ code: 'ERR_CAVEAT_FAILED', details: { caveat: 'ops verify' } });
    const minted = await system.issuer.mint({ caveats: ['ops read'] });
    const verify = await call('POST', '/v1/verify', { token: verifyOnly, body: { token: minted.token, context: { operation: 'read' } } });
    expect(verify.status).toBe(200);
    expect(verify.json.allowed).toBe(true);
    expect((await call('GET', `/v1/tokens/${minted.identifier}`, { token: verifyOnly })).status).toBe(403);
    // Resource caveats see the request path.
    const readOne = attenuate(admin, `resource /v1/tokens/${minted.identifier}`);
    expect((await call('GET', `/v1/tokens/${minted.identifier}`, { token: readOne })).status).toBe(200);
    expect((await call('GET', '/v1/keys', { token: readOne })).status).toBe(403);
  });

  it('the first-start admin token carries the admin audience and every admin operation', () => {
    const conditions = Macaroon.decode(admin).caveats.map((c) => c.text);
    expect(conditions).toEqual([...ADMIN_CAVEATS]);
    expect(conditions.join('\n')).toContain('tokens:mint');
  });
});

describe('POST /v1/tokens', () => {
  it('mints (201) with caveats, label and ttl', async () => {
    const r = await call('POST', '/v1/tokens', { token: admin, body: { caveats: ['ops read', 'resource /docs/*'], label: 'docs reader', ttl: 600 } });
    expect(r.status).toBe(201);
    expect(r.json.identifier).toMatch(/^tsr1\./);
    expect(r.json.caveats.slice(0, 2)).toEqual(['ops read', 'resource /docs/*']);
    expect(r.json.caveats[2]).toMatch(/^time-before /);
    expect(r.json.label).toBe('docs reader');
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(Macaroon.decode(r.json.token).identifierText).toBe(r.json.identifier);
    const empty = await call('POST', '/v1/tokens', { token: admin });
    expect(empty.status).toBe(201);
  });

  it('takes ttl in the one duration syntax: seconds or 90s / 15m / 2h / 7d', async () => {
    for (const [ttl, seconds] of [[900, 900], ['900', 900], ['15m', 900], ['2h', 7200], ['7d', 604_800]] as const) {
      const before = Date.now();
      const r = await call('POST', '/v1/tokens', { token: admin, body: { ttl } });
      expect(r.status, String(ttl)).toBe(201);
      const expires = Date.parse((r.json.caveats as string[]).at(-1)!.slice('time-before '.length));
      expect(expires - before).toBeGreaterThanOrEqual(seconds * 1000 - 1000);
      expect(expires - Date.now()).toBeLessThanOrEqual(seconds * 1000 + 1000);
    }
    const bad = await call('POST', '/v1/tokens', { token: admin, body: { ttl: '15 minutes' } });
    expect(bad.json.error).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: durationMessage('ttl', TTL_BOUNDS), details: { field: 'ttl' } });
    const grace = await call('POST', '/v1/keys/rotate', { token: admin, body: { graceSeconds: '1y' } });
    expect(grace.json.error).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: durationMessage('graceSeconds', GRACE_BOUNDS) });
  });

  it('refuses bad bodies with 400 naming the field', async () => {
    const cases: [unknown, string, string][] = [
      [{ caveats: ['ops read', 'time-before soon'] }, 'ERR_INVALID_ARGUMENT', 'caveats[1]'],
      [{ caveats: ['frobnicate 3'] }, 'ERR_INVALID_ARGUMENT', 'caveats[0]'],
      [{ caveats: 'ops read' }, 'ERR_INVALID_ARGUMENT', 'caveats'],
      [{ caveats: [7] }, 'ERR_INVALID_ARGUMENT', 'caveats[0]'],
      [{ ttl: '1 hour' }, 'ERR_INVALID_ARGUMENT', 'ttl'],
      [{ ttl: -5 }, 'ERR_INVALID_ARGUMENT', 'ttl'],
      [{ label: 'x'.repeat(300) }, 'ERR_LIMIT', 'label'],
      [{ lable: 'typo' }, 'ERR_INVALID_ARGUMENT', 'lable'],
      [['ops read'], 'ERR_INVALID_ARGUMENT', 'body'],
    ];
    for (const [body, code, field] of cases) {
      const r = await call('POST', '/v1/tokens', { token: admin, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe(code);
      expect(r.json.error.details.field).toBe(field);
    }
    const caveat = await call('POST', '/v1/tokens', { token: admin, body: { caveats: ['time-before soon'] } });
    expect(caveat.json.error.details).toMatchObject({ caveat: 'time-before soon', caveatError: 'ERR_CAVEAT_MALFORMED' });
    expect((await call('POST', '/v1/tokens', { token: admin, raw: '{"caveats": [' })).json.error.code).toBe('ERR_INVALID_ARGUMENT');
    expect((await call('POST', '/v1/tokens', { token: admin, raw: '{}', type: 'text/plain' })).json.error.code).toBe('ERR_INVALID_ARGUMENT');
    const big = await call('POST', '/v1/tokens', { token: admin, body: { label: 'x'.repeat(70_000) } });
    expect(big.status).toBe(400);
    expect(big.json.error.code).toBe('ERR_LIMIT');
  });
});

describe('status, revoke and verify', () => {
  it('GET /v1/tokens/:id reports status; unknown is 404, malformed 400', async () => {
    const minted = await system.issuer.mint({ label: 'x' });
    const r = await call('GET', `/v1/tokens/${minted.identifier}`, { token: admin });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ identifier: minted.identifier, revoked: false, active: true, keyState: 'current', label: 'x', purpose: 'token' });
    const unknown = newIdentifier(minted.keyId); // well formed, never minted
    expect((await call('GET', `/v1/tokens/${unknown}`, { token: admin })).status).toBe(404);
    const bad = await call('GET', '/v1/tokens/not-an-identifier', { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.field).toBe('identifier');
  });

  it('POST /v1/verify answers allowed, or the failing caveat, or the revocation', async () => {
    const minted = await system.issuer.mint({ caveats: ['ops read', 'declared user alice'] });
    const ok = await call('POST', '/v1/verify', { token: admin, body: { token: minted.token, context: { operation: 'read' } } });
    expect(ok.json).toEqual({ allowed: true, identifier: minted.identifier, caveats: ['ops read', 'declared user alice'], declared: { user: 'alice' } });
    const denied = await call('POST', '/v1/verify', { token: admin, body: { token: minted.token, context: { operation: 'write' } } });
    expect(denied.status).toBe(200);
    expect(denied.json).toMatchObject({ allowed: false, error: { code: 'ERR_CAVEAT_FAILED', details: { caveat: 'ops read' } } });
    const garbage = await call('POST', '/v1/verify', { token: admin, body: { token: 'AAAA' } });
    expect(garbage.json).toMatchObject({ allowed: false, error: { code: 'ERR_MALFORMED' } });
    const badCtx = await call('POST', '/v1/verify', { token: admin, body: { token: minted.token, context: { now: '2000-01-01' } } });
    expect(badCtx.status).toBe(400);
    expect(badCtx.json.error.details.field).toBe('context.now');
    expect((await call('POST', '/v1/verify', { token: admin, body: {} })).json.error.details.field).toBe('token');

    const rev = await call('POST', '/v1/tokens/revoke', { token: admin, body: { token: attenuate(minted.token, 'ops read'), reason: 'test' } });
    expect(rev.json).toMatchObject({ identifier: minted.identifier, revoked: true, alreadyRevoked: false });
    const after = await call('POST', '/v1/verify', { token: admin, body: { token: minted.token, context: { operation: 'read' } } });
    expect(after.json).toMatchObject({ allowed: false, error: { code: 'ERR_REVOKED' } });
    const again = await call('POST', '/v1/tokens/revoke', { token: admin, body: { identifier: minted.identifier } });
    expect(again.json.alreadyRevoked).toBe(true);
    expect((await call('POST', '/v1/tokens/revoke', { token: admin, body: { identifier: minted.identifier, token: minted.token } })).status).toBe(400);
    expect((await call('GET', `/v1/tokens/${minted.identifier}`, { token: admin })).json).toMatchObject({ revoked: true, active: false, revocationReason: 'test' });
  });

  it('POST /v1/verify with explain judges every caveat and counts no use', async () => {
    const minted = await system.issuer.mint({ caveats: ['ops read', 'resource /docs/**', 'uses 1'] });
    const body = { token: minted.token, context: { operation: 'write', resource: '/docs/a' }, explain: true };
    const report = await call('POST', '/v1/verify', { token: admin, body });
    expect(report.status).toBe(200);
    expect(report.json).toMatchObject({ allowed: false, explain: true, identifier: minted.identifier });
    expect(report.json.caveats.map((c: Json) => [c.condition, c.ok, c.source])).toEqual([
      ['ops read', false, 'token'],
      ['resource /docs/**', true, 'token'],
      ['uses 1', true, 'token'],
    ]);
    expect(report.json.caveats[0].code).toBe('ERR_CAVEAT_FAILED');
    // explain counted no use: the single use is still there for a real verification.
    const real = await call('POST', '/v1/verify', { token: admin, body: { token: minted.token, context: { operation: 'read', resource: '/docs/a' } } });
    expect(real.json.allowed).toBe(true);
    const bad = await call('POST', '/v1/verify', { token: admin, body: { token: 'AAAA', explain: true } });
    expect(bad.json).toMatchObject({ allowed: false, explain: true, error: { code: 'ERR_MALFORMED' }, caveats: [] });
    expect((await call('POST', '/v1/verify', { token: admin, body: { token: minted.token, explain: 'yes' } })).status).toBe(400);
  });

  it('uses 1 through /v1/verify lets one verification through', async () => {
    const minted = await system.issuer.mint({ caveats: ['uses 1'] });
    const answers = await Promise.all(Array.from({ length: 5 }, () => call('POST', '/v1/verify', { token: admin, body: { token: minted.token } })));
    expect(answers.filter((a) => a.json.allowed === true)).toHaveLength(1);
    expect(answers.filter((a) => a.json.error?.code === 'ERR_USAGE_EXCEEDED')).toHaveLength(4);
  });
});

describe('keys', () => {
  it('rotate returns the new key and a replacement admin token; revoking the old admin token revokes the replacement', async () => {
    const own = (await system.mintAdminToken('rotator')).token;
    const before = await call('GET', '/v1/keys', { token: own });
    expect(before.json.keys[0].state).toBe('current');
    const r = await call('POST', '/v1/keys/rotate', { token: own, body: { graceSeconds: 3600 } });
    expect(r.status).toBe(200);
    expect(r.json.current.state).toBe('current');
    expect(r.json.previous).toContainEqual(expect.objectContaining({ id: before.json.keys[0].id, state: 'verifying', expiresAt: expect.any(String) }));
    expect(r.json.previous.every((k: Json) => k.state === 'verifying' && typeof k.expiresAt === 'string')).toBe(true);
    expect(typeof r.json.adminToken).toBe('string');
    const replacement = r.json.adminToken as string;
    expect(Macaroon.decode(replacement).caveats.map((c) => c.text)).toEqual([...ADMIN_CAVEATS]);
    expect((await call('GET', '/v1/keys', { token: replacement })).status).toBe(200);
    expect((await call('GET', '/v1/keys', { token: own })).status).toBe(200); // grace period
    await call('POST', '/v1/tokens/revoke', { token: admin, body: { token: own } });
    expect((await call('GET', '/v1/keys', { token: replacement })).json.error.code).toBe('ERR_REVOKED');
    expect((await call('POST', '/v1/keys/rotate', { token: admin, body: { graceSeconds: -1 } })).json.error.details.field).toBe('graceSeconds');
    // Keep the shared admin token usable for the other tests.
    admin = (await call('POST', '/v1/keys/rotate', { token: admin, body: {} })).json.adminToken as string;
  });

  it('a usage-limited admin token gets no replacement (a copy would reset its count)', async () => {
    const limited = attenuate(admin, 'uses 5');
    const r = await call('POST', '/v1/keys/rotate', { token: limited, body: {} });
    expect(r.status).toBe(200);
    expect(r.json.adminToken).toBeUndefined();
  });
});

describe('GET / (the front door)', () => {
  const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

  it('answers a person with a page leading to the approval pages, the discharger key and health', async () => {
    for (const accept of [BROWSER, '*/*']) {
      const res = await system.app.request('/', { headers: { accept } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const page = await res.text();
      for (const href of ['/approve/', '/.well-known/tessera/discharger', '/healthz']) expect(page).toContain(`href="${href}"`);
      expect(page).toContain('<code>http://tessera.test</code>');
      expect(page).not.toMatch(/<script|\son[a-z]+=|style=/i);
    }
  });

  it('carries the approval pages\' security headers (of a page without script), and only on its own route', async () => {
    const [door, approve, health] = await Promise.all(['/', '/approve/history', '/healthz'].map((p) => system.app.request(p, { headers: { accept: BROWSER } })));
    const csp = door!.headers.get('content-security-policy');
    expect(csp).toContain("script-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    for (const h of ['content-security-policy', 'x-frame-options', 'referrer-policy', 'x-content-type-options', 'cross-origin-opener-policy']) {
      expect(door!.headers.get(h), h).toBe(approve!.headers.get(h));
      expect(door!.headers.get(h), h).not.toBeNull();
    }
    expect(health!.headers.get('content-security-policy')).toBeNull();
  });

  it('answers a program with a JSON index of the endpoints, each of which is routed', async () => {
    const res = await system.app.request('/', { headers: { accept: 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('vary')).toContain('Accept');
    const index = (await res.json()) as Json;
    expect(index).toMatchObject({
      service: 'tessera',
      location: 'http://tessera.test',
      links: { approve: 'http://tessera.test/approve/', discharger: 'http://tessera.test/.well-known/tessera/discharger', health: 'http://tessera.test/healthz' },
    });
    expect(index.endpoints).toEqual(ENDPOINTS);
    expect(index.endpoints.map((e: Json) => `${e.method} ${e.path}`)).toEqual(expect.arrayContaining(['POST /v1/verify', 'POST /v1/discharge', 'GET /approve/']));
    for (const e of ENDPOINTS) {
      const r = await system.app.request(e.path.replace(/\{[a-z]+\}/g, 'x'), { method: e.method, headers: { accept: 'application/json' } });
      const body = r.headers.get('content-type')?.includes('json') ? ((await r.json()) as Json) : {};
      expect(body.error?.message, `${e.method} ${e.path}`).not.toBe('no such route');
    }
  });

  it('escapes what it shows and trims the public URL', async () => {
    const res = await frontDoor({ publicUrl: 'https://x.test/<b>/' }).request('/');
    const page = await res.text();
    expect(page).toContain('<code>https://x.test/&lt;b&gt;</code>');
    expect(res.headers.get('strict-transport-security')).toContain('max-age=');
  });
});

describe('errorHandler', () => {
  it('answers TesseraErrors with their status and body, anything else with a generic 500 (logged as an error)', async () => {
    const lines: string[] = [];
    const other: string[] = [];
    const app = new Hono();
    app.onError(errorHandler({ error: (l) => lines.push(l), warn: (l) => other.push(l), info: (l) => other.push(l) }));
    app.notFound(notFound);
    app.get('/tessera', () => {
      throw new TesseraError('ERR_CONFLICT', 'already decided', { field: 'id' });
    });
    app.get('/bug', () => {
      throw new Error('secret-value-in-message');
    });
    const t = await app.request('/tessera');
    expect(t.status).toBe(409);
    expect(await t.json()).toEqual({ error: { code: 'ERR_CONFLICT', message: 'already decided', details: { field: 'id' } } });
    const b = await app.request('/bug');
    expect(b.status).toBe(500);
    const text = await b.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'ERR_INTERNAL', message: 'internal server error' } });
    expect(lines.join('\n')).toContain('GET /bug');
    expect(lines.join('\n')).not.toContain('secret-value-in-message');
    const missing = await app.request('/nowhere');
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe('ERR_NOT_FOUND');
    expect(other).toEqual([]);
  });
});
