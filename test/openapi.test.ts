/**
 * The OpenAPI document against the real system: the checked-in copy is the served one; every
 * route of `createSystem(...).app` is described and nothing else is; every described operation
 * is called for real (a good request and, where it documents errors, a bad one) and each answer's
 * status must be documented and its JSON body must validate against the documented schema; every
 * error code is listed with its status; the front door's index agrees with the document.
 *
 * After adding or changing a route: describe it in src/server/openapi.ts (one PATHS entry), add a
 * good and a bad call to `CALLS` below, and refresh the copy: `npx vitest run test/openapi.test.ts -u`.
 */
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { BAKERY_TOKEN_KIND, encodeTicket, presentationFor } from '../src/discharge/index.js';
import { hashPassword } from '../src/discharge/web/index.js';
import { ERROR_STATUS } from '../src/http/status.js';
import { Macaroon } from '../src/index.js';
import { ENDPOINTS } from '../src/server/front-door.js';
import { openApiDocument, type Schema } from '../src/server/openapi.js';
import { createSystem, type System } from '../src/server/system.js';
import { MasterKey, type Database } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';
import { PageClient } from './support/page-client.js';
import { SoftAuthenticator } from './support/soft-authenticator.js';
import { TEST_SCRYPT } from './support/passwords.js';

const PUBLIC_URL = 'http://tessera.test';
const doc = openApiDocument();
type Operation = { readonly responses: Readonly<Record<string, Schema>>; readonly security?: readonly Record<string, readonly string[]>[]; readonly tags?: readonly string[] };
const operation = (method: string, path: string): Operation | undefined => doc.paths[path]?.[method.toLowerCase()] as Operation | undefined;
const OPERATIONS = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));

/**
 * Routes of the app that are not operations of their own. Middleware (`app.use`) shows in
 * `app.routes` as method ALL on a wildcard path; a GET wildcard serves the paths mapped here.
 */
const WILDCARD_PAGES: Readonly<Record<string, string>> = {
  // The approval pages' list lives at `/approve/`, which a mounted sub-app reaches only through
  // a wildcard; every other path under it answers 404.
  'GET /approve/*': 'GET /approve/',
};
const isMiddleware = (r: { method: string; path: string }): boolean => r.method === 'ALL' && r.path.endsWith('*');
const asDocumented = (r: { method: string; path: string }): string => {
  const key = `${r.method} ${r.path}`;
  // `:id` and `:id{[0-9]+}` (a hono pattern) are both `{id}` in OpenAPI.
  return WILDCARD_PAGES[key] ?? `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}')}`;
};

// ajv (2020-12, OpenAPI 3.1's dialect) is here as a dependency of @modelcontextprotocol/sdk.
const Ajv2020 = Ajv2020Module.default;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormatsModule.default(ajv);
const DOC_ID = 'tessera:openapi';
ajv.addSchema({ ...doc, $id: DOC_ID });
const pointer = (...parts: string[]): string => `${DOC_ID}#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

let database: Database;
let system: System;
let admin: string;
/** How far the system's clock runs ahead of the real one (to reach past the collection window). */
let skewMs = 0;

beforeAll(async () => {
  database = await incidentalBackend.open(); // from the migrated template: initdb costs seconds
  system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: PUBLIC_URL, clock: () => new Date(Date.now() + skewMs), log: () => undefined, passwordHashing: TEST_SCRYPT });
  admin = (await system.mintAdminToken()).token;
});
afterAll(async () => {
  await system?.close();
  await database?.close();
});

/** Which operations were answered, by outcome: each must see a success and (if it documents any) an error. */
const seen = new Map<string, Set<'ok' | 'error'>>();

/**
 * Check one real answer against the document: its status is documented for the operation, its
 * media type is one documented for that status, a JSON body validates against that schema, a
 * documented Location header is there. Returns the parsed JSON body (or the text).
 */
async function expectDocumented(method: string, path: string, res: Response): Promise<any> {
  const op = `${method} ${path}`;
  const described = operation(method, path);
  expect(described, `${op} is not in the document`).toBeDefined();
  let entry = described?.responses[String(res.status)];
  expect(entry, `${op} answered ${res.status}, which the document does not list`).toBeDefined();
  const refName = typeof entry?.$ref === 'string' ? entry.$ref.replace('#/components/responses/', '') : undefined;
  if (refName !== undefined) entry = (doc.components.responses as Record<string, Schema>)[refName];
  const content = entry?.content as Record<string, { schema: Schema }> | undefined;
  const text = await res.text();
  if (content === undefined) {
    expect(text, `${op} ${res.status} should have no body`).toBe('');
    if ((entry?.headers as Record<string, unknown> | undefined)?.Location !== undefined) expect(res.headers.get('location'), `${op} ${res.status} Location`).toBeTruthy();
  } else {
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    expect(Object.keys(content), `${op} ${res.status} answered ${type}`).toContain(type);
    if (type === 'application/json') {
      const body: unknown = JSON.parse(text);
      const schemaAt = refName !== undefined ? pointer('components', 'responses', refName, 'content', type, 'schema') : pointer('paths', path, method.toLowerCase(), 'responses', String(res.status), 'content', type, 'schema');
      const validate = ajv.getSchema(schemaAt);
      expect(validate, schemaAt).toBeDefined();
      const ok = validate!(body);
      expect(ok ? [] : validate!.errors, `${op} ${res.status}: ${text.slice(0, 300)}`).toEqual([]);
      mark(op, res.status);
      return body;
    }
  }
  mark(op, res.status);
  return text;
}

function mark(op: string, status: number): void {
  const outcomes = seen.get(op) ?? new Set();
  outcomes.add(status < 400 ? 'ok' : 'error');
  seen.set(op, outcomes);
}

type Call = { method: string; path: string; url?: string; token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> };

/** One request to the app, checked against the document; `path` is the documented path, `url` what is asked. */
async function call(c: Call): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { accept: 'application/json', ...c.headers };
  const token = c.token === undefined ? admin : c.token;
  if (token !== null) headers.authorization = `Macaroon ${token}`;
  let body: string | undefined;
  if (c.body !== undefined || c.raw !== undefined) {
    body = c.raw ?? JSON.stringify(c.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await system.app.request(c.url ?? c.path, { method: c.method, headers, ...(body !== undefined ? { body } : {}) });
  const status = res.status;
  if (status < 400 && c.body !== undefined) {
    // What the server accepted, the documented request schema must accept too.
    const validate = ajv.getSchema(pointer('paths', c.path, c.method.toLowerCase(), 'requestBody', 'content', 'application/json', 'schema'));
    expect(validate, `${c.method} ${c.path} documents no JSON body`).toBeDefined();
    expect(validate!(c.body) ? [] : validate!.errors, `${c.method} ${c.path} request body`).toEqual([]);
  }
  return { status, body: await expectDocumented(c.method, c.path, res) };
}

describe('the OpenAPI document', () => {
  it('is checked in as openapi.json, exactly as built (refresh: npx vitest run test/openapi.test.ts -u)', async () => {
    await expect(`${JSON.stringify(doc, null, 2)}\n`).toMatchFileSnapshot('../openapi.json');
  });

  it('is served at GET /openapi.json without a credential, naming this server, cacheable', async () => {
    const res = await system.app.request('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const served = (await res.json()) as Record<string, unknown>;
    expect(served).toEqual({ ...doc, servers: [{ url: PUBLIC_URL }] });
  });

  it('is OpenAPI 3.1 whose every schema compiles and every $ref resolves, with unique operation ids', () => {
    expect(doc.openapi).toBe('3.1.0');
    const refs: string[] = [];
    const ids: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (typeof v === 'object' && v !== null) {
        for (const [k, x] of Object.entries(v)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else if (k === 'operationId' && typeof x === 'string') ids.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    expect(ids.length).toBe(OPERATIONS.length);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of new Set(refs)) {
      const at = r.replace(/^#\//, '').split('/').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
      expect(at, r).toBeDefined();
    }
    for (const name of Object.keys(doc.components.schemas as object)) expect(ajv.getSchema(pointer('components', 'schemas', name)), name).toBeDefined();
    // Path templating: each operation declares exactly its path's {names} as required path parameters.
    for (const op of OPERATIONS) {
      const [method, path] = op.split(' ') as [string, string];
      const described = operation(method, path) as Operation & { parameters?: readonly { name: string; in: string; required?: boolean; schema?: Schema }[] };
      expect(Object.keys(described.responses).length, op).toBeGreaterThan(0);
      const inPath = (described.parameters ?? []).filter((p) => p.in === 'path');
      expect(inPath.map((p) => p.name).sort(), op).toEqual([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort());
      expect(inPath.every((p) => p.required === true), op).toBe(true);
      for (const p of described.parameters ?? []) expect(p.schema, `${op} ${p.name}`).toBeDefined();
    }
  });

  it('lists every error code with its status, and one error response per status with its codes', () => {
    const schemas = doc.components.schemas as Record<string, Schema>;
    expect(schemas.ErrorCode?.enum).toEqual(Object.keys(ERROR_STATUS));
    expect(schemas.ErrorCode?.['x-tessera-status']).toEqual(ERROR_STATUS);
    const responses = doc.components.responses as Record<string, Schema>;
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      if (status < 400) continue;
      const validate = ajv.getSchema(pointer('components', 'responses', `Error${status}`, 'content', 'application/json', 'schema'));
      expect(responses[`Error${status}`], code).toBeDefined();
      expect(validate!({ error: { code, message: 'm' } }), `${code} under ${status}`).toBe(true);
      const other = Object.entries(ERROR_STATUS).find(([, s]) => s !== status && s >= 400)![0];
      expect(validate!({ error: { code: other, message: 'm' } }), `${other} under ${status}`).toBe(false);
    }
  });

  it('describes every route of the app, and no route the app does not have', () => {
    const routed = [...new Set(system.app.routes.filter((r) => !isMiddleware(r)).map(asDocumented))].sort();
    const documented = [...OPERATIONS].sort();
    // `app.all('/x')` (any method) is described by the methods it answers: at least one operation on /x.
    const pathOf = (op: string): string => op.slice(op.indexOf(' ') + 1);
    const covers = (route: string, op: string): boolean => route === op || (route.startsWith('ALL ') && pathOf(route) === pathOf(op));
    const missing = routed.filter((r) => !documented.some((d) => covers(r, d))).map((r) => (r.startsWith('ALL ') ? `${r} (document each method it answers)` : r));
    const extra = documented.filter((d) => !routed.some((r) => covers(r, d)));
    expect(missing, 'routes of the app missing from src/server/openapi.ts PATHS (add one entry each, then run this test with -u)').toEqual([]);
    expect(extra, 'operations in src/server/openapi.ts that no route of the app serves').toEqual([]);
  });

  it("agrees with the front door's index: the same routes, each needing what its security says", () => {
    const pages = (op: string): boolean => operation(...(op.split(' ') as [string, string]))?.tags?.some((t) => t.startsWith('approval pages')) === true;
    const listed = ENDPOINTS.map((e) => `${e.method} ${e.path}`);
    expect(listed.filter((e) => !OPERATIONS.includes(e)), 'in ENDPOINTS, not in the document').toEqual([]);
    // The index lists the programs' endpoints, plus the approval pages' entry; not itself.
    const expected = OPERATIONS.filter((op) => op !== 'GET /' && (!pages(op) || op === 'GET /approve/'));
    expect(expected.filter((op) => !listed.includes(op)), 'in the document, not in ENDPOINTS').toEqual([]);
    for (const e of ENDPOINTS) {
      const security = operation(e.method, e.path)?.security;
      const op = /^admin token: (.+)$/.exec(e.needs)?.[1];
      const approverOp = /^approver token: (.+)$/.exec(e.needs)?.[1];
      if (op !== undefined) expect(security, e.path).toEqual([{ macaroon: [op] }, { bearer: [op] }]);
      else if (approverOp !== undefined) expect(security, e.path).toEqual([{ approverToken: [approverOp] }]);
      else if (e.needs === 'a signed-in approver') expect(security, e.path).toEqual([{ approverSession: [] }]);
      else expect(security, `${e.path} needs ${e.needs}`).toEqual([]);
    }
  });
});

const ALICE = { name: 'alice', groups: ['ops'] } as const;

describe('every operation answers what the document says', () => {
  it('the service routes', async () => {
    expect((await call({ method: 'GET', path: '/', token: null })).body.endpoints).toEqual(ENDPOINTS);
    const page = await system.app.request('/', { headers: { accept: 'text/html' } });
    expect(await expectDocumented('GET', '/', page)).toContain('/openapi.json');
    expect((await call({ method: 'GET', path: '/openapi.json', token: null })).status).toBe(200);
    expect((await call({ method: 'GET', path: '/healthz', token: null })).body.status).toBe('ok');
  });

  it('the admin API, good and bad', async () => {
    const verifyOnly = Macaroon.decode(admin).addFirstPartyCaveat('ops verify').encode();
    const minted = await call({ method: 'POST', path: '/v1/tokens', body: { label: 'openapi', ttl: '1h', caveats: ['ops read'] } });
    expect(minted.status).toBe(201);
    expect((await call({ method: 'POST', path: '/v1/tokens', token: null, body: {} })).body.error.code).toBe('ERR_UNAUTHENTICATED');
    expect((await call({ method: 'POST', path: '/v1/tokens', body: { ttl: '1 hour' } })).status).toBe(400);
    expect((await call({ method: 'POST', path: '/v1/tokens', token: verifyOnly, body: {} })).body.error.code).toBe('ERR_CAVEAT_FAILED');

    expect((await call({ method: 'GET', path: '/v1/tokens', url: '/v1/tokens?limit=1' })).body.nextCursor).toEqual(expect.any(String));
    expect((await call({ method: 'GET', path: '/v1/tokens', url: '/v1/tokens?state=lost' })).status).toBe(400);

    const id = minted.body.identifier as string;
    expect((await call({ method: 'GET', path: '/v1/tokens/{id}', url: `/v1/tokens/${encodeURIComponent(id)}` })).body.active).toBe(true);
    expect((await call({ method: 'GET', path: '/v1/tokens/{id}', url: '/v1/tokens/nope' })).status).toBeGreaterThanOrEqual(400);

    expect((await call({ method: 'GET', path: '/v1/audit', url: '/v1/audit?action=mint' })).body.events.length).toBeGreaterThan(0);
    expect((await call({ method: 'GET', path: '/v1/audit', url: '/v1/audit?wait=5s' })).status).toBe(400);

    expect((await call({ method: 'GET', path: '/v1/keys' })).body.keys.length).toBe(1);
    expect((await call({ method: 'GET', path: '/v1/keys', headers: { authorization: 'Macaroon' }, token: null })).status).toBe(400);

    expect((await call({ method: 'GET', path: '/metrics' })).body).toContain('tessera_verify_duration_seconds');
    expect((await call({ method: 'GET', path: '/metrics', token: verifyOnly })).status).toBe(403);

    const verify = (body: unknown) => call({ method: 'POST', path: '/v1/verify', body });
    expect((await verify({ token: minted.body.token, context: { operation: 'read' } })).body.allowed).toBe(true);
    expect((await verify({ token: minted.body.token, context: { operation: 'write' } })).body.error.code).toBe('ERR_CAVEAT_FAILED');
    expect((await verify({ token: minted.body.token, context: { operation: 'write' }, explain: true })).body.caveats[0].ok).toBe(false);
    expect((await verify({ context: {} })).status).toBe(400);

    expect((await call({ method: 'POST', path: '/v1/tokens/revoke', body: { identifier: id, reason: 'done' } })).body.revoked).toBe(true);
    expect((await call({ method: 'POST', path: '/v1/tokens/revoke', body: {} })).status).toBe(400);

    // Last: the admin token dies with its key, and comes back under the new one.
    expect((await call({ method: 'POST', path: '/v1/keys/rotate', body: { graceSeconds: 'soon' } })).status).toBe(400);
    const rotated = await call({ method: 'POST', path: '/v1/keys/rotate', body: { graceSeconds: '1h' } });
    expect(rotated.body.adminToken).toEqual(expect.any(String));
    admin = rotated.body.adminToken as string;
  });

  it('the webhooks admin API, good and bad', async () => {
    const added = await call({ method: 'POST', path: '/v1/webhooks', body: { url: 'http://127.0.0.1:9/hook', group: 'ops', format: 'slack' } });
    expect(added.status).toBe(201);
    expect((await call({ method: 'POST', path: '/v1/webhooks', body: { url: 'ftp://example.com/hook' } })).status).toBe(400);
    expect((await call({ method: 'GET', path: '/v1/webhooks' })).body.webhooks[0].id).toBe(added.body.id);
    expect((await call({ method: 'GET', path: '/v1/webhooks', token: null })).status).toBe(401);
    const at = (suffix: string): string => `/v1/webhooks/${added.body.id as string}${suffix}`;
    expect((await call({ method: 'POST', path: '/v1/webhooks/{id}/test', url: at('/test') })).status).toBe(202);
    expect((await call({ method: 'POST', path: '/v1/webhooks/{id}/test', url: '/v1/webhooks/wh_nope/test' })).status).toBe(404);
    expect((await call({ method: 'GET', path: '/v1/webhooks/{id}/attempts', url: at('/attempts') })).status).toBe(200);
    expect((await call({ method: 'GET', path: '/v1/webhooks/{id}/attempts', url: at('/attempts?limit=0') })).status).toBe(400);
    expect((await call({ method: 'DELETE', path: '/v1/webhooks/{id}', url: at('') })).body.removed).toBe(true);
    expect((await call({ method: 'DELETE', path: '/v1/webhooks/{id}', url: at('') })).status).toBe(404);
  });

  it('the discharge protocol and the approval pages, good and bad', async () => {
    expect((await call({ method: 'GET', path: '/.well-known/tessera/discharger', token: null })).body.version).toBe(2);
    // `who` says who asks: the claimed caveats, a presentation (the token for this service, verified), or nothing (private).
    const ask = async (condition: string, who: 'claim' | 'presentation' | 'private' = 'claim') => {
      const token = addDischargeCaveat(Macaroon.decode((await system.issuer.mint({ caveats: ['ops read'] })).token), { location: PUBLIC_URL, publicKey: system.discharge.publicKey, condition });
      const ticket = token.caveats.find((c) => c.location !== undefined)!;
      const shown =
        who === 'claim' ? { caveats: ['ops read'] } : who === 'presentation' ? { presentation: presentationFor(token, system.discharge.location).encode(), reason: 'to answer issue #13' } : { private: true };
      return call({ method: 'POST', path: '/v1/discharge', token: null, body: { id: Buffer.from(ticket.identifier).toString('base64url'), ...shown } });
    };
    const asked = await ask('approve group:ops read the docs', 'presentation');
    expect(asked.status).toBe(202);
    expect((await call({ method: 'POST', path: '/v1/discharge', token: null, body: { id: '' } })).status).toBe(400);
    // Bakery v3: a short caveat id, the ticket apart.
    const v3 = encodeTicket({ caveatKey: new Uint8Array(24).fill(7), condition: 'approve group:ops read the v3 docs', thirdPartyPublicKey: system.discharge.publicKey, version: 3, namespace: 'std:' });
    const apart = await call({ method: 'POST', path: '/v1/discharge', token: null, body: { id: 'AwE', ticket: Buffer.from(v3).toString('base64url'), caveats: ['ops read'] } });
    expect(apart.status).toBe(202);
    await system.discharge.decide(new URL(apart.body.approvalUrl as string).pathname.split('/').pop()!, ALICE, { approve: false, reason: 'not this one' });
    const pollPath = new URL(asked.body.pollUrl as string).pathname;
    const poll = (url: string) => call({ method: 'GET', path: '/v1/discharge/poll/{secret}', url, token: null });
    expect((await poll(pollPath)).body.status).toBe('pending');
    expect((await poll('/v1/discharge/poll/nope')).status).toBe(404);

    // A person signs in and decides, through the pages.
    await system.store.users.create({ name: 'alice', passwordHash: await hashPassword('alice-password-1', TEST_SCRYPT), groups: ALICE.groups });
    const browser = new PageClient(system.app, { accept: 'text/html' });
    const page = async (method: 'GET' | 'POST', path: string, url = path, fields?: Record<string, string>) => {
      const res = fields === undefined ? await browser.get(url) : await browser.post(url, fields);
      expect(res.status, `${method} ${url}`).toBeLessThan(500);
      return { status: res.status, text: (await expectDocumented(method, path, res)) as string };
    };
    expect((await page('GET', '/approve')).status).toBe(301);
    expect((await page('GET', '/approve/')).status).toBe(303);
    expect((await page('GET', '/approve/history')).status).toBe(303);
    expect((await page('GET', '/approve/activity')).status).toBe(303);
    expect((await page('GET', '/approve/style.css')).status).toBe(200);
    expect((await page('GET', '/approve/login')).status).toBe(200);
    expect((await page('POST', '/approve/logout', '/approve/logout', { csrf: 'x' })).status).toBe(401);
    expect((await page('POST', '/approve/login', '/approve/login', { csrf: 'forged', name: 'alice', password: 'x' })).status).toBe(403);
    const loginCsrf = await browser.csrfFrom('/approve/login');
    expect((await page('POST', '/approve/login', '/approve/login', { csrf: loginCsrf, name: 'alice', password: 'wrong' })).status).toBe(401);
    expect((await page('POST', '/approve/login', '/approve/login', { csrf: loginCsrf, name: 'alice', password: 'alice-password-1' })).status).toBe(303);
    expect((await page('GET', '/approve/')).status).toBe(200);
    expect((await page('GET', '/approve/history')).status).toBe(200);
    expect((await page('GET', '/approve/activity')).status).toBe(200);
    expect((await page('GET', '/approve/login')).status).toBe(303);

    const [first, second] = (await system.discharge.listPending(ALICE)).map((r) => r.id);
    const requestUrl = (id: string, action = '') => `/approve/requests/${encodeURIComponent(id)}${action}`;
    expect((await page('GET', '/approve/requests/{id}', requestUrl(first!))).status).toBe(200);
    expect((await page('GET', '/approve/requests/{id}', requestUrl('nope'))).status).toBe(404);
    const csrf = await browser.csrfFrom(requestUrl(first!));
    expect((await page('POST', '/approve/requests/{id}/approve', requestUrl(first!, '/approve'), { csrf: 'forged' })).status).toBe(403);
    expect((await page('POST', '/approve/requests/{id}/approve', requestUrl(first!, '/approve'), { csrf })).status).toBe(303);
    expect((await page('POST', '/approve/requests/{id}/deny', requestUrl(first!, '/deny'), { csrf, reason: 'changed my mind' })).status).toBe(409);
    expect(second).toBeUndefined();
    const other = await ask('approve group:ops write the docs', 'private');
    const [pendingId] = (await system.discharge.listPending(ALICE)).map((r) => r.id);
    expect((await page('POST', '/approve/requests/{id}/deny', requestUrl(pendingId!, '/deny'), { csrf, reason: 'no' })).status).toBe(303);
    const denied = (await poll(new URL(other.body.pollUrl as string).pathname)).body.error;
    expect(denied).toMatchObject({ code: 'ERR_DENIED', details: { status: 'denied', reason: 'no', decidedBy: 'alice' } });

    // An approval not yet collected is withdrawn: its poll answers ERR_DENIED, status withdrawn.
    const third = await ask('approve group:ops delete the docs');
    const [thirdId] = (await system.discharge.listPending(ALICE)).map((r) => r.id);
    expect((await page('POST', '/approve/requests/{id}/approve', requestUrl(thirdId!, '/approve'), { csrf })).status).toBe(303);
    expect((await page('POST', '/approve/requests/{id}/withdraw', requestUrl(thirdId!, '/withdraw'), { csrf: 'forged' })).status).toBe(403);
    expect((await page('POST', '/approve/requests/{id}/withdraw', requestUrl(thirdId!, '/withdraw'), { csrf })).status).toBe(303);
    expect((await page('POST', '/approve/requests/{id}/withdraw', requestUrl(thirdId!, '/withdraw'), { csrf })).status).toBe(409);
    expect((await poll(new URL(third.body.pollUrl as string).pathname)).body.error).toMatchObject({ code: 'ERR_DENIED', details: { status: 'withdrawn', decidedBy: 'alice' } });
    expect((await page('POST', '/approve/logout', '/approve/logout', { csrf })).status).toBe(303);

    // The approved request's discharge; the same again within the collection window (retry-safe);
    // once that has passed, the poll URL is refused.
    const collected = (await poll(pollPath)).body.discharge as string;
    expect(collected).toEqual(expect.any(String));
    expect((await poll(pollPath)).body.discharge).toBe(collected);
    skewMs = 10 * 60_000;
    try {
      expect((await poll(pollPath)).body.error).toMatchObject({ code: 'ERR_FORBIDDEN', details: { status: 'collected' } });
    } finally {
      skewMs = 0;
    }
  });

  it("the bakery's discharge protocol (Go- and Python-style forms), good and bad", async () => {
    const bakery = async (method: 'GET' | 'POST', path: string, url = path, init: RequestInit = {}) => {
      const res = await system.app.request(url, { method, ...init });
      return { status: res.status, headers: res.headers, body: await expectDocumented(method, path, res) };
    };
    const info = await bakery('GET', '/discharge/info');
    expect(info.body).toEqual({ PublicKey: Buffer.from(system.discharge.publicKey).toString('base64'), Version: 3 });
    expect((await bakery('GET', '/publickey')).body).toEqual({ PublicKey: info.body.PublicKey });

    // A v3 caveat as a bakery adds it: a short id, the ticket apart (caveat64).
    let n = 0;
    const caveat = (condition: string): Record<string, string> => {
      n += 1;
      const ticket = encodeTicket({ caveatKey: new Uint8Array(24).fill(n), condition, thirdPartyPublicKey: system.discharge.publicKey, version: 3, namespace: 'std:' });
      return { id64: Buffer.from([3, 100 + n]).toString('base64url'), caveat64: Buffer.from(ticket).toString('base64url') };
    };
    // Go's httprequest: the form in the query; Python's requests: an urlencoded body.
    const goPost = (fields: Record<string, string>, version = '3') =>
      bakery('POST', '/discharge', `/discharge?${new URLSearchParams(fields).toString()}`, { headers: version === '' ? {} : { 'Bakery-Protocol-Version': version } });
    const pyPost = (fields: Record<string, string>) =>
      bakery('POST', '/discharge', '/discharge', { headers: { 'content-type': 'application/x-www-form-urlencoded', 'Bakery-Protocol-Version': '3' }, body: new URLSearchParams(fields).toString() });
    const pathOf = (url: string): string => new URL(url).pathname;
    const requestIdOf = (visitUrl: string): string => pathOf(visitUrl).split('/').pop()!;

    // Interaction required → wait for the token while a person approves → re-POST → { Macaroon }.
    const go = caveat('approve group:ops deploy web');
    const first = await goPost(go);
    expect(first.status).toBe(401);
    expect(first.headers.get('www-authenticate')).toBe('Macaroon');
    const browserWindow = first.body.Info.InteractionMethods['browser-window'] as { VisitURL: string; WaitTokenURL: string };
    const waiting = bakery('GET', '/discharge/wait-token/{secret}', pathOf(browserWindow.WaitTokenURL));
    await system.discharge.decide(requestIdOf(browserWindow.VisitURL), ALICE, { approve: true });
    const token = (await waiting).body as { kind: string; token64: string };
    expect(token.kind).toBe(BAKERY_TOKEN_KIND);
    const discharged = await pyPost({ ...go, token64: token.token64, 'token-kind': token.kind });
    expect(discharged.status).toBe(200);
    expect(discharged.body.Macaroon).toMatchObject({ v: 3, ns: 'std:' });
    // The legacy WaitURL, within the collection window: the same discharge, in the bakery's JSON.
    const legacy = await bakery('GET', '/discharge/wait/{secret}', pathOf(first.body.Info.WaitURL as string));
    expect(legacy.body.Macaroon).toEqual(discharged.body.Macaroon);

    // Protocol version 0 gets 407; a denial is permission denied with the person's reason.
    const db = caveat('approve group:ops deploy db');
    expect((await goPost(db, '')).body.Code).toBe('interaction required');
    const asked = await pyPost(db);
    expect(asked.status).toBe(401);
    const deniedWait = bakery('GET', '/discharge/wait/{secret}', pathOf(asked.body.Info.WaitURL as string));
    await system.discharge.decide(requestIdOf(asked.body.Info.VisitURL as string), ALICE, { approve: false, reason: 'not during the freeze' });
    const denied = await deniedWait;
    expect(denied.status).toBe(401);
    expect(denied.body).toMatchObject({ Code: 'permission denied', Message: expect.stringContaining('not during the freeze') });
    expect((await bakery('GET', '/discharge/wait-token/{secret}', pathOf(asked.body.Info.InteractionMethods['browser-window'].WaitTokenURL as string))).status).toBe(401);

    // Bad input, in the bakery's error shape.
    expect((await pyPost({ caveat64: go.caveat64! })).body.Code).toBe('bad request');
    expect((await goPost({ ...go, token64: token.token64 })).status).toBe(400);
    const forged = Buffer.from(Macaroon.mint({ rootKey: new Uint8Array(32), identifier: Buffer.from(go.id64!, 'base64url') }).toBytes()).toString('base64');
    expect((await pyPost({ ...go, token64: forged, 'token-kind': BAKERY_TOKEN_KIND })).body.Code).toBe('permission denied');
    expect((await bakery('GET', '/discharge/wait-token/{secret}', '/discharge/wait-token/nope')).status).toBe(404);
    expect((await bakery('GET', '/discharge/wait/{secret}', '/discharge/wait/nope')).body.Code).toBe('not found');
  });

  it('users, invitations and the approvals API, good and bad', async () => {
    const user = (name: string, action: string) => `/v1/users/${name}/${action}`;
    expect((await call({ method: 'POST', path: '/v1/users', body: { name: 'erin', groups: ['reviewers'], password: 'erins password' } })).status).toBe(201);
    expect((await call({ method: 'POST', path: '/v1/users', body: { name: 'erin', groups: ['reviewers'], password: 'erins password' } })).status).toBe(409);
    expect((await call({ method: 'GET', path: '/v1/users' })).body.users.map((u: { name: string }) => u.name)).toContain('erin');
    expect((await call({ method: 'GET', path: '/v1/users', token: null })).status).toBe(401);
    expect((await call({ method: 'POST', path: '/v1/users/{name}/password', url: user('erin', 'password'), body: { password: 'a newer password' } })).body.sessionsEnded).toBe(0);
    expect((await call({ method: 'POST', path: '/v1/users/{name}/password', url: user('nobody', 'password'), body: { password: 'a newer password' } })).status).toBe(404);
    const minted = await call({ method: 'POST', path: '/v1/users/{name}/approver-token', url: user('erin', 'approver-token'), body: { ttl: '1h' } });
    expect(minted.status).toBe(201);
    expect((await call({ method: 'POST', path: '/v1/users/{name}/approver-token', url: user('nobody', 'approver-token'), body: {} })).status).toBe(404);
    expect((await call({ method: 'POST', path: '/v1/invites', body: { name: 'frank', groups: ['ops'] } })).body.url).toMatch(/\/approve\/enrol\//);
    expect((await call({ method: 'POST', path: '/v1/invites', body: { name: 'frank' } })).status).toBe(400);
    const group = (name: string, setting: string) => `/v1/groups/${name}/${setting}`;
    expect((await call({ method: 'POST', path: '/v1/groups/{name}/{setting}', url: group('reviewers', 'require-passkey'), body: {} })).body).toEqual({ name: 'reviewers', setting: 'require-passkey', changed: true });
    expect((await call({ method: 'POST', path: '/v1/groups/{name}/{setting}', url: group('reviewers', 'frobnicate'), body: {} })).status).toBe(400);
    expect((await call({ method: 'POST', path: '/v1/groups/{name}/{setting}', url: group('nobody', 'allow-approver-tokens'), body: {} })).status).toBe(404);
    expect((await call({ method: 'GET', path: '/v1/groups' })).body.groups).toContainEqual({ name: 'reviewers', members: ['erin'], requirePasskey: true, approverTokens: false });
    expect((await call({ method: 'GET', path: '/v1/groups', token: null })).status).toBe(401);
    expect((await call({ method: 'POST', path: '/v1/groups/{name}/{setting}', url: group('reviewers', 'allow-password'), body: {} })).body.changed).toBe(true);

    // The approvals API with erin's token.
    const erin = minted.body.token as string;
    const token = addDischargeCaveat(Macaroon.decode((await system.issuer.mint({ caveats: ['ops read'] })).token), { location: PUBLIC_URL, publicKey: system.discharge.publicKey, condition: 'approve erin read' });
    const ticket = token.caveats.find((c) => c.location !== undefined)!;
    const asked = await system.discharge.request(ticket.identifier);
    const id = asked.status === 'pending' ? asked.id : '';
    expect((await call({ method: 'GET', path: '/v1/approvals', token: erin })).body.approvals.map((a: { id: string }) => a.id)).toEqual([id]);
    expect((await call({ method: 'GET', path: '/v1/approvals', token: admin })).status).toBe(401);
    expect((await call({ method: 'GET', path: '/v1/approvals/{id}', url: `/v1/approvals/${id}`, token: erin })).body.status).toBe('pending');
    expect((await call({ method: 'GET', path: '/v1/approvals/{id}', url: '/v1/approvals/nope', token: erin })).status).toBe(404);
    expect((await call({ method: 'POST', path: '/v1/approvals/{id}/deny', url: `/v1/approvals/${id}/deny`, token: erin, body: {} })).status).toBe(400);
    expect((await call({ method: 'POST', path: '/v1/approvals/{id}/approve', url: `/v1/approvals/${id}/approve`, token: erin, body: { validity: '1m' } })).body.status).toBe('approved');
    expect((await call({ method: 'POST', path: '/v1/approvals/{id}/approve', url: `/v1/approvals/${id}/approve`, token: erin, body: {} })).status).toBe(409);
    const next = await system.discharge.request(ticket.identifier);
    const nextId = next.status === 'pending' ? next.id : '';
    expect((await call({ method: 'POST', path: '/v1/approvals/{id}/deny', url: `/v1/approvals/${nextId}/deny`, token: erin, body: { reason: 'once is enough' } })).body.status).toBe('denied');

    // Remove the user last: their token stops working.
    expect((await call({ method: 'POST', path: '/v1/users/{name}/remove', url: user('erin', 'remove'), body: {} })).body.removed).toBe(true);
    expect((await call({ method: 'POST', path: '/v1/users/{name}/remove', url: user('erin', 'remove'), body: {} })).status).toBe(404);
    expect((await call({ method: 'GET', path: '/v1/approvals', token: erin })).status).toBe(403);

    // The enrolment page of an invitation link: the form, and the link spent once used.
    const link = new URL((await call({ method: 'POST', path: '/v1/invites', body: { name: 'gina', groups: ['ops'] } })).body.url as string).pathname;
    let browser = new PageClient(system.app, { accept: 'text/html' });
    const enrolPage = async (method: 'GET' | 'POST', url: string, fields?: Record<string, string>) => {
      const res = fields === undefined ? await browser.get(url) : await browser.post(url, fields);
      return { status: res.status, text: (await expectDocumented(method, '/approve/enrol/{token}', res)) as string };
    };
    expect((await enrolPage('GET', link)).status).toBe(200);
    expect((await enrolPage('GET', '/approve/enrol/nope')).status).toBe(404);
    const csrf = await browser.csrfFrom(link);
    expect((await enrolPage('POST', link, { csrf: 'forged', password: 'ginas password', passwordAgain: 'ginas password' })).status).toBe(403);
    expect((await enrolPage('POST', link, { csrf, password: 'ginas password', passwordAgain: 'ginas password' })).status).toBe(303);
    // Signed in by enrolling: gina makes herself a bot token on the pages.
    const tokens = async (method: 'GET' | 'POST', fields?: Record<string, string>) => {
      const res = fields === undefined ? await browser.get('/approve/tokens') : await browser.post('/approve/tokens', fields);
      return { status: res.status, text: (await expectDocumented(method, '/approve/tokens', res)) as string };
    };
    const sessionCsrf = await browser.csrfFrom('/approve/tokens');
    expect((await tokens('GET')).status).toBe(200);
    expect((await tokens('POST', { csrf: sessionCsrf, days: '2' })).status).toBe(400);
    const made = await tokens('POST', { csrf: sessionCsrf, days: '7' });
    expect(made.status).toBe(200);
    const ginas = /<textarea readonly rows="4" class="token">([A-Za-z0-9_-]+)<\/textarea>/.exec(made.text)?.[1] ?? '';
    expect((await call({ method: 'GET', path: '/v1/approvals', token: ginas })).body.approvals).toEqual(expect.any(Array));
    expect((await system.store.audit.list({ action: 'mint', actor: 'gina' }))[0]?.channel).toBe('approval-page');
    browser = new PageClient(system.app, { accept: 'text/html' });
    expect((await tokens('GET')).status).toBe(303);
    expect((await tokens('POST', { csrf: sessionCsrf, days: '7' })).status).toBe(401);
    const again = await browser.csrfFrom('/approve/login');
    expect((await enrolPage('POST', link, { csrf: again, password: 'ginas password', passwordAgain: 'ginas password' })).status).toBe(409);
  });

  it('the passkey routes (a software authenticator plays the browser)', async () => {
    await system.store.users.create({ name: 'pat', passwordHash: await hashPassword('pat-password-1', TEST_SCRYPT), groups: ['ops'] });
    const key = new SoftAuthenticator(PUBLIC_URL, new URL(PUBLIC_URL).hostname);
    const get = async (client: PageClient, path: string) => {
      const res = await client.get(path);
      return { status: res.status, body: await expectDocumented('GET', path, res) };
    };
    const post = async (client: PageClient, path: string, body: unknown) => {
      const res = await client.request(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
      expect(res.status, path).toBeLessThan(500);
      return { status: res.status, body: await expectDocumented('POST', path, res) };
    };
    const owner = new PageClient(system.app, { accept: 'text/html' });
    expect((await get(owner, '/approve/passkey.js')).status).toBe(200);
    expect((await get(owner, '/approve/passkeys')).status).toBe(303);
    expect((await post(owner, '/approve/passkeys/options', { csrf: 'x' })).status).toBe(401);
    expect((await owner.login('pat', 'pat-password-1')).status).toBe(303);
    expect((await get(owner, '/approve/passkeys')).status).toBe(200);
    const csrf = await owner.csrfFrom('/approve/passkeys');
    const creation = await post(owner, '/approve/passkeys/options', { csrf });
    expect(creation.status).toBe(200);
    expect((await post(owner, '/approve/passkeys/register', { csrf, credential: 'x' })).status).toBe(400);
    expect((await post(owner, '/approve/passkeys/register', { csrf, credential: key.register(creation.body.options) })).status).toBe(200);

    const visitor = new PageClient(system.app, { accept: 'text/html' });
    const loginCsrf = await visitor.csrfFrom('/approve/login');
    expect((await post(visitor, '/approve/login/passkey/options', { csrf: 'forged' })).status).toBe(403);
    const request = await post(visitor, '/approve/login/passkey/options', { csrf: loginCsrf });
    expect(request.status).toBe(200);
    expect((await post(visitor, '/approve/login/passkey', { csrf: loginCsrf, credential: 'x' })).status).toBe(400);
    expect((await post(visitor, '/approve/login/passkey', { csrf: loginCsrf, credential: key.assert(request.body.options) })).body).toEqual({ next: '/approve/' });
    const remove = async (id: string) => {
      const res = await visitor.post('/approve/passkeys/remove', { csrf: await visitor.csrfFrom('/approve/passkeys'), id });
      return { status: res.status, body: await expectDocumented('POST', '/approve/passkeys/remove', res) };
    };
    expect((await remove('no-such-passkey')).status).toBe(404);
    expect((await remove(key.id)).status).toBe(303);
  });

  it('covered every operation: a success each, and an error each where errors are documented', () => {
    const missing = OPERATIONS.flatMap((op) => {
      const [method, path] = op.split(' ') as [string, string];
      const hasErrors = Object.keys(operation(method, path)!.responses).some((s) => Number(s) >= 400 && s !== '500');
      const got = seen.get(op) ?? new Set();
      return [...(got.has('ok') ? [] : [`${op}: no success tried`]), ...(hasErrors && !got.has('error') ? [`${op}: no error tried`] : [])];
    });
    expect(missing, 'add calls for these to this file').toEqual([]);
  });
});
