/**
 * The issuer's HTTP API through `app.request()`: admin-token protection per operation, strict
 * JSON bodies, mint / status / revoke / verify / keys, and the shared error handler.
 */
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../src/errors.js';
import { notFound, onError, setErrorLogger } from '../src/http/errors.js';
import { Macaroon } from '../src/index.js';
import { ADMIN_CAVEATS } from '../src/issuer/routes.js';
import { newIdentifier } from '../src/issuer/identifier.js';
import { createSystem, type System } from '../src/server/system.js';
import { MasterKey, type Database } from '../src/storage/index.js';
import { openMemoryDatabase } from './support/databases.js';

let database: Database;
let system: System;
let admin: string;

beforeAll(async () => {
  database = await openMemoryDatabase();
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
    expect(r.json).toMatchObject({ status: 'ok', database: 'pglite' });
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

  it('refuses bad bodies with 400 naming the field', async () => {
    const cases: [unknown, string, string][] = [
      [{ caveats: ['ops read', 'time-before soon'] }, 'ERR_BAD_REQUEST', 'caveats[1]'],
      [{ caveats: ['frobnicate 3'] }, 'ERR_BAD_REQUEST', 'caveats[0]'],
      [{ caveats: 'ops read' }, 'ERR_BAD_REQUEST', 'caveats'],
      [{ caveats: [7] }, 'ERR_BAD_REQUEST', 'caveats[0]'],
      [{ ttl: '1h' }, 'ERR_BAD_REQUEST', 'ttl'],
      [{ ttl: -5 }, 'ERR_BAD_REQUEST', 'ttl'],
      [{ label: 'x'.repeat(300) }, 'ERR_LIMIT', 'label'],
      [{ lable: 'typo' }, 'ERR_BAD_REQUEST', 'lable'],
      [['ops read'], 'ERR_BAD_REQUEST', 'body'],
    ];
    for (const [body, code, field] of cases) {
      const r = await call('POST', '/v1/tokens', { token: admin, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.code).toBe(code);
      expect(r.json.error.details.field).toBe(field);
    }
    const caveat = await call('POST', '/v1/tokens', { token: admin, body: { caveats: ['time-before soon'] } });
    expect(caveat.json.error.details).toMatchObject({ caveat: 'time-before soon', caveatError: 'ERR_CAVEAT_MALFORMED' });
    expect((await call('POST', '/v1/tokens', { token: admin, raw: '{"caveats": [' })).json.error.code).toBe('ERR_BAD_REQUEST');
    expect((await call('POST', '/v1/tokens', { token: admin, raw: '{}', type: 'text/plain' })).json.error.code).toBe('ERR_BAD_REQUEST');
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

describe('onError', () => {
  it('answers TesseraErrors with their status and body, anything else with a generic 500', async () => {
    const lines: string[] = [];
    const previous = setErrorLogger((l) => lines.push(l));
    try {
      const app = new Hono();
      app.onError(onError);
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
    } finally {
      setErrorLogger(previous);
    }
  });
});
