/**
 * Approval pages through `app.request()`, over the real discharge service and database
 * (`incidentalBackend`): sign-in, sessions, CSRF, rate limit, security headers, who may see and
 * decide, approve / deny / history. The browser suite (test/browser.test.ts) drives the same pages in Chromium.
 */
import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { Hono } from 'hono';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { TesseraError } from '../src/errors.js';
import { createDischargeService, encodeTicket, type DischargeService } from '../src/discharge/index.js';
import { createSystem } from '../src/server/index.js';
import { createStore, MasterKey, type Database, type RequesterInfo, type Store } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';
import { sessions as sessionsTable } from '../src/storage/schema.js';
import {
  approvalPages,
  checkNewPassword,
  describeCaveat,
  formatTime,
  hashPassword,
  isPasswordHash,
  safeNext,
  verifyPassword,
  type ApprovalPagesOptions,
  type Approver,
  type PendingView,
} from '../src/discharge/web/index.js';
import { dummyVerify } from '../src/discharge/web/passwords.js';
import { ORIGIN, PageClient as Client } from './support/page-client.js';
import { TEST_SCRYPT } from './support/passwords.js';

// ---------------------------------------------------------------------------------------------
// Fixture

const PASSWORDS = { alice: 'correct horse battery', bob: 'bob-password-1', carol: 'carol-password-1' };

let database: Database;
const masterKey = MasterKey.generate();
let store: Store;

beforeAll(async () => {
  database = await incidentalBackend.open();
  store = createStore(database, masterKey);
  await store.users.create({ name: 'alice', passwordHash: await hashPassword(PASSWORDS.alice, TEST_SCRYPT), groups: ['ops'] });
  await store.users.create({ name: 'bob', passwordHash: await hashPassword(PASSWORDS.bob, TEST_SCRYPT), groups: ['sales'] });
  await store.users.create({ name: 'carol', passwordHash: await hashPassword(PASSWORDS.carol, TEST_SCRYPT), groups: [] });
});
afterAll(async () => {
  await database.close();
});

const ALICE: Approver = { name: 'alice', groups: ['ops'] };
const REQUESTER: RequesterInfo = { name: 'build-agent-7', ip: '10.1.2.3' };
const CLAIMED = ['time-before 2030-01-01T00:00:00Z', 'ops read,write', 'frobnicate 3'];

interface Fixture {
  readonly app: Hono;
  readonly service: DischargeService;
  readonly clock: { now: Date };
  /** A pending request for `condition` (through a real ticket); its id. */
  ask(condition: string, requester?: RequesterInfo, otherCaveats?: readonly string[]): Promise<string>;
  /** The request as its addressee sees it. */
  view(id: string, approver?: Approver): Promise<PendingView | undefined>;
}

async function setup(options: Partial<ApprovalPagesOptions> = {}): Promise<Fixture> {
  const clock = { now: new Date() };
  const service = await createDischargeService({ store, location: 'http://localhost', clock: () => clock.now });
  const pages = approvalPages({
    service,
    store,
    clock: () => clock.now,
    clientIp: (c) => c.req.header('x-test-ip'),
    passwordHashing: TEST_SCRYPT, // the users' hashes are made at it
    ...options,
  });
  return {
    app: new Hono().route('/approve', pages),
    service,
    clock,
    async ask(condition, requester = REQUESTER, otherCaveats = CLAIMED) {
      const ticket = encodeTicket({ caveatKey: new Uint8Array(randomBytes(32)), condition, thirdPartyPublicKey: service.publicKey });
      const result = await service.request(ticket, requester, otherCaveats);
      if (result.status !== 'pending') throw new Error('expected a pending request');
      return result.id;
    },
    view: (id, approver = ALICE) => service.get(id, approver),
  };
}

let fx: Fixture;
beforeEach(async () => {
  fx = await setup();
});

async function signedIn(name: keyof typeof PASSWORDS, f: Fixture = fx): Promise<Client> {
  const client = new Client(f.app);
  const res = await client.login(name, PASSWORDS[name]);
  expect(res.status).toBe(303);
  return client;
}

const cookieLine = (res: Response, name: string): string | undefined => res.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));

// ---------------------------------------------------------------------------------------------

describe('passwords', () => {
  it('verifies hashes made by a JavaScript scrypt (@noble/hashes, used before): the same bytes', async () => {
    const stored = 'scrypt$1024$8$1$AQIDBAUGBwgJCgsMDQ4PEA$wqhcY1IAtuprw97MI10gnV4FUc1BzWfpQBu035asZTA';
    expect(await verifyPassword('a long passphrase', stored)).toBe(true);
    expect(await verifyPassword('a long passphrasE', stored)).toBe(false);
  });

  it('hashes to scrypt$N$r$p$salt$hash with a fresh salt and verifies', async () => {
    const a = await hashPassword('a long passphrase', TEST_SCRYPT);
    const b = await hashPassword('a long passphrase', TEST_SCRYPT);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(isPasswordHash(a)).toBe(true);
    expect(await verifyPassword('a long passphrase', a)).toBe(true);
    expect(await verifyPassword('a long passphrasE', a)).toBe(false);
  });

  it('an unknown name costs a check at the cost new hashes are made at (the pages refuse a cost out of bounds when made)', async () => {
    await expect(dummyVerify('a long passphrase', TEST_SCRYPT)).resolves.toBe(false);
    await expect(dummyVerify('a long passphrase', { N: 1000, r: 8, p: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(setup({ passwordHashing: { N: 2 ** 21, r: 8, p: 1 } })).rejects.toThrow(/scrypt parameters out of range/);
  });

  it('uses N=2^15, r=8, p=1 by default', async () => {
    expect(await hashPassword('default cost password')).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it('treats composed and decomposed Unicode alike', async () => {
    const h = await hashPassword('caf\u00e9-passw0rd', TEST_SCRYPT);
    expect(await verifyPassword('cafe\u0301-passw0rd', h)).toBe(true);
  });

  it('refuses short, over-long and non-text passwords', async () => {
    expect(() => checkNewPassword('short')).toThrow(TesseraError);
    expect(() => checkNewPassword('x'.repeat(1025))).toThrow(/too long/);
    expect(() => checkNewPassword(42)).toThrow(TesseraError);
    await expect(hashPassword('1234567')).rejects.toThrow(/at least 8/);
  });

  it('answers false (never throws) for malformed or out-of-bounds stored hashes', async () => {
    const good = await hashPassword('some password', TEST_SCRYPT);
    const parts = good.split('$');
    const bad = [
      '',
      'bcrypt$...',
      good.replace('scrypt$', 'SCRYPT$'),
      good.replace('$1024$', '$1000$'), // not a power of two
      good.replace('$1024$', '$2147483648$'), // huge memory
      good.replace('$1024$', '$01024$'),
      [...parts.slice(0, 5), `${parts[5]}A`].join('$'),
      [...parts.slice(0, 4), 'c2FsdA', parts[5]].join('$'), // salt too short
      `${good}$extra`,
    ];
    for (const h of bad) {
      expect(isPasswordHash(h), h).toBe(false);
      expect(await verifyPassword('some password', h)).toBe(false);
    }
    expect(await verifyPassword('x'.repeat(2000), good)).toBe(false);
  });
});

describe('describeCaveat', () => {
  it('puts the standard caveats in plain words', () => {
    expect(describeCaveat('time-before 2026-05-01T12:00:00Z')).toBe('expires at 2026-05-01 12:00:00 UTC');
    expect(describeCaveat('time-after 2026-05-01T12:00:00Z')).toBe('not valid before 2026-05-01 12:00:00 UTC');
    expect(describeCaveat('ops read,write')).toBe('only operations: read, write');
    expect(describeCaveat('resource /docs/**')).toBe('only resources matching /docs/**');
    expect(describeCaveat('method GET,POST')).toBe('only HTTP methods: GET, POST');
    expect(describeCaveat('aud billing')).toBe('only for the service billing');
    expect(describeCaveat('client-ip 10.0.0.0/8')).toBe('only from IP addresses in 10.0.0.0/8');
    expect(describeCaveat('tool search,fetch')).toBe('only tools: fetch, search');
    expect(describeCaveat('declared user alice')).toBe('declares user = alice');
    expect(describeCaveat('uses 1')).toBe('can be used once');
    expect(describeCaveat('uses 5')).toBe('can be used at most 5 times');
  });

  it('falls back to the raw text for unknown or malformed conditions', () => {
    for (const raw of ['frobnicate 3', 'time-before yesterday', 'ops', 'uses 0', ' ops read', 'toString x', '__proto__ x']) {
      expect(describeCaveat(raw)).toBe(raw);
    }
  });
});

describe('safeNext (no open redirect)', () => {
  it('keeps plain paths under /approve/', () => {
    expect(safeNext('/approve/requests/abc-123_x')).toBe('/approve/requests/abc-123_x');
    expect(safeNext('/approve/history')).toBe('/approve/history');
  });
  it('sends everything else home', () => {
    for (const bad of [
      undefined, '', 'https://evil.example/', '//evil.example/approve/', '/\\evil.example', '/approve/../x',
      '/approve/./x', '/approve//evil', '/approve/requests/a?x=1', '/approve/%2e%2e/x', '/approvex', 'approve/history',
      '/approve/login', '/approve/logout', `/approve/${'a'.repeat(600)}`, '/approve/a\nb', '/approve/a b',
    ]) {
      expect(safeNext(bad), String(bad)).toBe('/approve/');
    }
  });
});

describe('sign-in', () => {
  it('serves a sign-in form with a pre-session CSRF cookie', async () => {
    const client = new Client(fx.app);
    const res = await client.get('/approve/login');
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('<form method="post" action="/approve/login"');
    const cookie = cookieLine(res, 'tessera_login_csrf');
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/approve/);
    expect(page).toContain(`value="${client.cookies.get('tessera_login_csrf')}"`);
  });

  it('signs in with the right password: a fresh HttpOnly, SameSite=Strict session cookie, stored hashed', async () => {
    const client = new Client(fx.app);
    const res = await client.login('alice', PASSWORDS.alice);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/approve/');
    const cookie = cookieLine(res, 'tessera_session');
    expect(cookie).toMatch(/^tessera_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/approve(;|$)/);
    expect(cookie).not.toMatch(/Secure/);
    expect(cookie).not.toMatch(/Max-Age|Expires/);
    const id = client.cookies.get('tessera_session') as string;
    const rows = await database.db.select().from(sessionsTable);
    const ids = rows.map((r) => Buffer.from(r.idHash).toString('hex'));
    expect(ids).toContain(Buffer.from(sha256(new TextEncoder().encode(id))).toString('hex'));
    expect(JSON.stringify(rows)).not.toContain(id);
    const home = await client.get('/approve/');
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Signed in as <strong>alice</strong>');
  });

  it('marks cookies Secure when served over HTTPS', async () => {
    const f = await setup({ publicUrl: 'https://tessera.example' });
    const client = new Client(f.app);
    const form = await client.get('/approve/login');
    expect(cookieLine(form, 'tessera_login_csrf')).toMatch(/Secure/);
    const res = await client.login('alice', PASSWORDS.alice);
    expect(cookieLine(res, 'tessera_session')).toMatch(/Secure/);
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
  });

  it('answers the same for an unknown user as for a wrong password, and sets no session', async () => {
    const client = new Client(fx.app);
    const wrong = await client.login('alice', 'not her password');
    const unknown = await client.login('mallory', 'whatever password');
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(await res.text()).toContain('Wrong user name or password.');
      expect(cookieLine(res, 'tessera_session')).toBeUndefined();
    }
    expect(client.cookies.has('tessera_session')).toBe(false);
  });

  it('goes back to the page that asked for sign-in, but only under /approve/', async () => {
    const id = await fx.ask('approve alice deploy');
    const client = new Client(fx.app);
    const bounce = await client.get(`/approve/requests/${id}`);
    expect(bounce.status).toBe(303);
    const login = bounce.headers.get('location') as string;
    expect(login).toBe(`/approve/login?next=${encodeURIComponent(`/approve/requests/${id}`)}`);
    const form = await (await client.get(login)).text();
    expect(form).toContain(`name="next" value="/approve/requests/${id}"`);
    const res = await client.login('alice', PASSWORDS.alice, `/approve/requests/${id}`);
    expect(res.headers.get('location')).toBe(`/approve/requests/${id}`);

    const other = new Client(fx.app);
    const evil = await other.login('alice', PASSWORDS.alice, 'https://evil.example/');
    expect(evil.headers.get('location')).toBe('/approve/');
    // Signed in already: the sign-in page forwards at once, still only to safe places.
    const again = await other.get('/approve/login?next=//evil.example');
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/approve/');
  });

  it('refuses a sign-in post without the pre-session CSRF token, or from another origin', async () => {
    const client = new Client(fx.app);
    const token = await client.csrfFrom('/approve/login');
    const noToken = await client.post('/approve/login', { name: 'alice', password: PASSWORDS.alice });
    expect(noToken.status).toBe(403);
    expect(await noToken.text()).toContain('ERR_CSRF');
    // Another valid-looking token: change the last character (a 32-byte token's last character
    // is one of 16, so pick one that differs).
    const wrong = `${token.slice(0, -1)}${token.endsWith('A') ? 'Q' : 'A'}`;
    expect(wrong).not.toBe(token);
    const wrongToken = await client.post('/approve/login', { csrf: wrong, name: 'alice', password: PASSWORDS.alice });
    expect(wrongToken.status).toBe(403);
    const crossOrigin = await client.post('/approve/login', { csrf: token, name: 'alice', password: PASSWORDS.alice }, { origin: 'http://evil.example' });
    expect(crossOrigin.status).toBe(403);
    const noOrigin = await client.post('/approve/login', { csrf: token, name: 'alice', password: PASSWORDS.alice }, {});
    expect(noOrigin.status).toBe(403);
    expect(client.cookies.has('tessera_session')).toBe(false);
    // The same form from the page's own origin goes through.
    expect((await client.post('/approve/login', { csrf: token, name: 'alice', password: PASSWORDS.alice })).status).toBe(303);
  });

  it('rate-limits failed sign-ins per user name: 429 with Retry-After, even for the right password', async () => {
    const client = new Client(fx.app, { 'x-test-ip': '192.0.2.1' });
    for (let i = 0; i < 5; i++) expect((await client.login('bob', `guess number ${i}`)).status).toBe(401);
    const limited = await client.login('bob', PASSWORDS.bob);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(await limited.text()).toContain('ERR_RATE_LIMITED');
    expect(cookieLine(limited, 'tessera_session')).toBeUndefined();
    // Another name is not blocked by bob's budget …
    expect((await client.login('carol', PASSWORDS.carol)).status).toBe(303);
    // … and bob may try again once the window has passed.
    fx.clock.now = new Date(fx.clock.now.getTime() + 15 * 60 * 1000 + 1000);
    expect((await new Client(fx.app).login('bob', PASSWORDS.bob)).status).toBe(303);
  });

  it('rate-limits failed sign-ins per client IP across user names', async () => {
    const f = await setup({ loginLimits: { perIp: { max: 3, windowSeconds: 600 } } });
    const attacker = new Client(f.app, { 'x-test-ip': '198.51.100.9' });
    // Unknown names and known ones alike (an unknown name costs a default-cost dummy check).
    for (const name of ['u1', 'bob', 'carol']) expect((await attacker.login(name, 'password1')).status).toBe(401);
    expect((await attacker.login('alice', PASSWORDS.alice)).status).toBe(429);
    // Someone else, from another address, is unaffected.
    expect((await new Client(f.app, { 'x-test-ip': '198.51.100.10' }).login('alice', PASSWORDS.alice)).status).toBe(303);
  });

  it('refuses more concurrent password checks than configured with 429', async () => {
    const f = await setup({ maxConcurrentLogins: 1 });
    const a = new Client(f.app);
    const b = new Client(f.app);
    const [ta, tb] = [await a.csrfFrom('/approve/login'), await b.csrfFrom('/approve/login')];
    const [ra, rb] = await Promise.all([
      a.post('/approve/login', { csrf: ta, name: 'mallory', password: 'default-cost dummy check' }),
      b.post('/approve/login', { csrf: tb, name: 'alice', password: PASSWORDS.alice }),
    ]);
    expect(ra.status).toBe(401);
    expect(rb.status).toBe(429);
  });
});

describe('sessions', () => {
  it('logout revokes the session: the old cookie no longer works', async () => {
    const client = await signedIn('alice');
    const id = client.cookies.get('tessera_session') as string;
    expect(await store.sessions.getActive(id)).toBeDefined();
    const csrf = await client.csrfFrom('/approve/');
    const res = await client.post('/approve/logout', { csrf });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/approve/login');
    expect(cookieLine(res, 'tessera_session')).toMatch(/Max-Age=0/);
    expect(await store.sessions.getActive(id)).toBeUndefined();
    const replay = new Client(fx.app);
    replay.cookies.set('tessera_session', id);
    const home = await replay.get('/approve/');
    expect(home.status).toBe(303);
    expect(home.headers.get('location')).toMatch(/^\/approve\/login/);
  });

  it('logout needs the CSRF token', async () => {
    const client = await signedIn('alice');
    expect((await client.post('/approve/logout', {})).status).toBe(403);
    expect(await store.sessions.getActive(client.cookies.get('tessera_session') as string)).toBeDefined();
  });

  it('ends after 30 idle minutes, slides while in use, and ends after 8 hours regardless', async () => {
    const client = await signedIn('alice');
    const start = fx.clock.now.getTime();
    const at = (minutes: number): Date => new Date(start + minutes * 60_000);
    for (let m = 20; m <= 8 * 60 - 20; m += 20) {
      fx.clock.now = at(m);
      expect((await client.get('/approve/')).status, `minute ${m}`).toBe(200);
    }
    fx.clock.now = at(8 * 60 + 1);
    expect((await client.get('/approve/')).status).toBe(303);

    const idle = await signedIn('alice');
    const t0 = fx.clock.now.getTime();
    fx.clock.now = new Date(t0 + 29 * 60_000);
    expect((await idle.get('/approve/')).status).toBe(200);
    fx.clock.now = new Date(t0 + (29 + 31) * 60_000);
    expect((await idle.get('/approve/')).status).toBe(303);
  });

  it('ignores forged or malformed session cookies', async () => {
    for (const value of ['x', 'A'.repeat(43), '../../etc', '']) {
      const client = new Client(fx.app);
      client.cookies.set('tessera_session', value);
      expect((await client.get('/approve/')).status).toBe(303);
    }
  });

  it('a removed user is signed out at once', async () => {
    await store.users.create({ name: 'temp', passwordHash: await hashPassword('temporary password', TEST_SCRYPT), groups: ['ops'] });
    const client = new Client(fx.app);
    expect((await client.login('temp', 'temporary password')).status).toBe(303);
    expect((await client.get('/approve/')).status).toBe(200);
    await store.users.remove('temp');
    expect((await client.get('/approve/')).status).toBe(303);
  });
});

describe('pages and decisions', () => {
  it('lists only what the signed-in person may decide, with who asks and when it expires', async () => {
    const forAlice = await fx.ask('approve alice read the payroll');
    const forOps = await fx.ask('approve group:ops restart the database');
    const forBob = await fx.ask('approve bob bob only');
    const alice = await signedIn('alice');
    const page = await (await alice.get('/approve/')).text();
    expect(page).toContain(`href="/approve/requests/${forAlice}"`);
    expect(page).toContain(`href="/approve/requests/${forOps}"`);
    expect(page).toContain('read the payroll');
    expect(page).toContain('build-agent-7');
    expect(page).toContain(formatTime((await fx.view(forAlice))?.expiresAt ?? new Date(NaN)));
    expect(page).not.toContain(forBob);
    expect(page).not.toContain('bob only');
    const carol = await signedIn('carol');
    expect(await (await carol.get('/approve/')).text()).toContain('Nothing is waiting for you.');
  });

  it('/approve redirects to /approve/', async () => {
    const res = await new Client(fx.app).get('/approve');
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/approve/');
  });

  it('shows one request: condition, who asks, the other caveats in words, expiry, and the two forms', async () => {
    const id = await fx.ask('approve group:ops deploy');
    const alice = await signedIn('alice');
    const page = await (await alice.get(`/approve/requests/${id}`)).text();
    expect(page).toContain('<code>approve group:ops deploy</code>');
    expect(page).toContain('<dt>name</dt><dd>build-agent-7</dd>');
    expect(page).toContain('<dt>Address</dt><dd>10.1.2.3</dd>');
    expect(page).toContain('expires at 2030-01-01 00:00:00 UTC');
    expect(page).toContain('only operations: read, write');
    expect(page).toContain('<li><code>frobnicate 3</code></li>');
    expect(page).toContain('Caveats the requester says its token has');
    expect(page).toContain('The requester showed no token, so nothing about it is verified.');
    expect(page).not.toContain('badge verified');
    expect(page).toContain('leave empty for the default, 5 minutes');
    expect(page).toContain(`action="/approve/requests/${id}/approve"`);
    expect(page).toContain(`action="/approve/requests/${id}/deny"`);
    expect(page).toContain('name="validityMinutes"');
  });

  it('escapes everything a requester controls', async () => {
    const id = await fx.ask('approve alice <script>alert(1)</script>', { '<b>k</b>': '"><img src=x onerror=alert(1)>' }, ['x <i>y</i>']);
    const alice = await signedIn('alice');
    for (const path of ['/approve/', `/approve/requests/${id}`]) {
      const page = await (await alice.get(path)).text();
      expect(page).not.toContain('<script');
      expect(page).not.toContain('<img');
      expect(page).not.toContain('<b>k');
      expect(page).not.toContain('<i>y');
      expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
  });

  it('approves with an optional shorter validity, then shows who decided; a second decision is 409', async () => {
    const id = await fx.ask('approve group:ops deploy');
    const alice = await signedIn('alice');
    const csrf = await alice.csrfFrom(`/approve/requests/${id}`);
    const res = await alice.post(`/approve/requests/${id}/approve`, { csrf, validityMinutes: '2' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/approve/requests/${id}`);
    expect(await fx.view(id)).toMatchObject({ status: 'approved', decidedBy: 'alice', validitySeconds: 120 });
    const page = await (await alice.get(`/approve/requests/${id}`)).text();
    expect(page).toContain('Approved by <strong>alice</strong>');
    expect(page).not.toContain(`action="/approve/requests/${id}/approve"`);
    const again = await alice.post(`/approve/requests/${id}/deny`, { csrf, reason: 'changed my mind' });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('ERR_CONFLICT');
  });

  it('approves for the default time when no validity is given; refuses a bad or too long one', async () => {
    const id = await fx.ask('approve alice deploy');
    const alice = await signedIn('alice');
    const csrf = await alice.csrfFrom(`/approve/requests/${id}`);
    for (const bad of ['abc', '0', '-5', '1.5', '9999999', '61']) {
      expect((await alice.post(`/approve/requests/${id}/approve`, { csrf, validityMinutes: bad })).status, bad).toBe(400);
    }
    expect(await (await alice.post(`/approve/requests/${id}/approve`, { csrf, validityMinutes: '61' })).text()).toContain('choose fewer minutes');
    expect((await fx.view(id))?.status).toBe('pending');
    expect((await alice.post(`/approve/requests/${id}/approve`, { csrf, validityMinutes: '' })).status).toBe(303);
    expect(await fx.view(id)).toMatchObject({ status: 'approved', validitySeconds: 300 });
  });

  it('denies with a reason (required); history shows who, when and why', async () => {
    const id = await fx.ask('approve alice wipe the disk');
    const alice = await signedIn('alice');
    const csrf = await alice.csrfFrom(`/approve/requests/${id}`);
    expect((await alice.post(`/approve/requests/${id}/deny`, { csrf, reason: '   ' })).status).toBe(400);
    expect((await alice.post(`/approve/requests/${id}/deny`, { csrf, reason: 'x'.repeat(501) })).status).toBe(400);
    expect((await fx.view(id))?.status).toBe('pending');
    const res = await alice.post(`/approve/requests/${id}/deny`, { csrf, reason: 'not during the freeze' });
    expect(res.status).toBe(303);
    expect(await fx.view(id)).toMatchObject({ status: 'denied', decidedBy: 'alice', reason: 'not during the freeze' });
    const history = await (await alice.get('/approve/history')).text();
    expect(history).toContain('wipe the disk');
    expect(history).toContain('denied');
    expect(history).toContain('<td>alice</td>');
    expect(history).toContain('not during the freeze');
    expect(await (await alice.get('/approve/')).text()).not.toContain('wipe the disk');
    // The activity page: the audit trail of alice's requests, with the channel each event came through.
    const activity = await (await alice.get('/approve/activity')).text();
    expect(activity).toMatch(new RegExp(`<td>deny</td><td>alice</td><td>these pages</td><td><a href="/approve/requests/${id}">`));
    expect(activity).toMatch(new RegExp(`<td>discharge-request</td><td>requester</td><td>the discharge protocol</td><td><a href="/approve/requests/${id}">`));
  });

  it('an expired request shows as expired, with no forms, and cannot be decided', async () => {
    const id = await fx.ask('approve alice too late');
    const alice = await signedIn('alice');
    const csrf = await alice.csrfFrom(`/approve/requests/${id}`);
    fx.clock.now = new Date(fx.clock.now.getTime() + 16 * 60_000); // requests wait 15 minutes
    const page = await (await alice.get(`/approve/requests/${id}`)).text();
    expect(page).toContain('Nobody decided before it expired.');
    expect(page).not.toContain(`action="/approve/requests/${id}/approve"`);
    expect((await alice.post(`/approve/requests/${id}/approve`, { csrf })).status).toBe(409);
  });

  it('someone who is neither the named person nor in the group can neither see nor decide', async () => {
    const id = await fx.ask('approve group:ops deploy');
    const bob = await signedIn('bob');
    expect(await (await bob.get('/approve/')).text()).not.toContain(id);
    expect((await bob.get(`/approve/requests/${id}`)).status).toBe(404);
    const csrf = await bob.csrfFrom('/approve/');
    const approve = await bob.post(`/approve/requests/${id}/approve`, { csrf });
    expect(approve.status).toBe(403);
    expect(await approve.text()).toContain('ERR_FORBIDDEN');
    expect((await bob.post(`/approve/requests/${id}/deny`, { csrf, reason: 'no' })).status).toBe(403);
    expect((await fx.view(id))?.status).toBe('pending');
    expect(await (await bob.get('/approve/history')).text()).not.toContain(id);
    expect(await (await bob.get('/approve/activity')).text()).not.toContain(id);
    expect((await new Client(fx.app).get('/approve/activity')).status).toBe(303);
  });

  it('decisions need a session', async () => {
    const id = await fx.ask('approve alice deploy');
    const res = await new Client(fx.app).post(`/approve/requests/${id}/approve`, { csrf: 'A'.repeat(43) });
    expect(res.status).toBe(401);
    expect((await fx.view(id))?.status).toBe('pending');
  });
});

describe('CSRF on decisions', () => {
  it('refuses a missing token, another session\'s token, and a cross-origin post; the request stays pending', async () => {
    const id = await fx.ask('approve alice deploy');
    const alice = await signedIn('alice');
    const other = await signedIn('alice');
    const mine = await alice.csrfFrom('/approve/');
    const theirs = await other.csrfFrom('/approve/');
    expect(mine).not.toBe(theirs);
    const path = `/approve/requests/${id}/approve`;
    const missing = await alice.post(path, {});
    expect(missing.status).toBe(403);
    expect(await missing.text()).toContain('ERR_CSRF');
    expect((await alice.post(path, { csrf: theirs })).status).toBe(403);
    expect((await alice.post(path, { csrf: mine }, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await alice.post(path, { csrf: mine }, { origin: 'null' })).status).toBe(403);
    expect((await alice.post(path, { csrf: mine }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // A JSON body carries no form token at all.
    const json = await alice.request(path, { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'application/json' }, body: JSON.stringify({ csrf: mine }) });
    expect(json.status).toBe(403);
    expect((await fx.view(id))?.status).toBe('pending');
    // The genuine form goes through.
    expect((await alice.post(path, { csrf: mine })).status).toBe(303);
    expect((await fx.view(id))?.status).toBe('approved');
  });

  it('accepts the configured public origin (behind a TLS proxy) and same-origin Sec-Fetch-Site', async () => {
    const f = await setup({ publicUrl: 'https://tessera.example/' });
    const first = await f.ask('approve alice deploy');
    const alice = await signedIn('alice', f);
    const csrf = await alice.csrfFrom('/approve/');
    expect((await alice.post(`/approve/requests/${first}/approve`, { csrf }, { origin: 'https://tessera.example' })).status).toBe(303);
    const second = await f.ask('approve alice deploy');
    expect((await alice.post(`/approve/requests/${second}/approve`, { csrf }, { 'sec-fetch-site': 'same-origin' })).status).toBe(303);
  });

  it('refuses bodies over 16 KiB', async () => {
    const alice = await signedIn('alice');
    const csrf = await alice.csrfFrom('/approve/');
    const res = await alice.post('/approve/logout', { csrf, pad: 'x'.repeat(20_000) });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('ERR_LIMIT');
  });
});

describe('headers', () => {
  it('every page has the security headers, a strict CSP, no-store, and no script or inline style', async () => {
    const id = await fx.ask('approve alice deploy');
    await fx.service.decide(await fx.ask('approve alice deploy'), ALICE, { approve: false, reason: 'no' });
    const alice = await signedIn('alice');
    const anonymous = new Client(fx.app);
    const pages: [Client, string][] = [
      [anonymous, '/approve/login'],
      [alice, '/approve/'],
      [alice, `/approve/requests/${id}`],
      [alice, '/approve/history'],
      [alice, '/approve/requests/nope'],
      [alice, '/approve/no-such-page'],
    ];
    for (const [client, path] of pages) {
      const res = await client.get(path);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp, path).toContain("default-src 'none'");
      expect(csp).toContain("script-src 'none'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const page = await res.text();
      expect(page).not.toMatch(/<script/i);
      expect(page).not.toMatch(/<[^>]*\sstyle=/i);
      expect(page).not.toMatch(/<[^>]*\son[a-z]+=/i);
      expect(page).toContain('<link rel="stylesheet" href="/approve/style.css">');
    }
    const css = await anonymous.get('/approve/style.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await css.text()).toContain('body');
  });

  it('a failing service gives a generic 500 page (logged), and unexpected errors go to the host app', async () => {
    const failing: DischargeService = {
      ...fx.service,
      listPending: async () => {
        throw new TesseraError('ERR_STORAGE', 'list discharge requests failed');
      },
      history: async () => {
        throw new Error('a bug');
      },
    };
    const lines: string[] = [];
    const log = { error: (l: string) => lines.push(l), warn: (l: string) => lines.push(l), info: (l: string) => lines.push(l) };
    const host = new Hono().route('/approve', approvalPages({ service: failing, store, log }));
    host.onError((_err, c) => c.text('host handler', 500));
    const alice = await signedIn('alice', { ...fx, app: host });
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const res = await alice.get('/approve/');
      expect(res.status).toBe(500);
      const page = await res.text();
      expect(page).toContain('Something went wrong on the server');
      expect(page).not.toContain('list discharge requests failed');
      expect(lines).toEqual([expect.stringContaining('ERR_STORAGE')]); // to the given logger, not the console
      expect(consoleError).not.toHaveBeenCalled();
      const bug = await alice.get('/approve/history');
      expect(bug.status).toBe(500);
      expect(await bug.text()).toBe('host handler');
    } finally {
      consoleError.mockRestore();
    }
  });

  it('answers errors as JSON when the client asks for JSON', async () => {
    const alice = await signedIn('alice');
    const res = await alice.request('/approve/requests/nope', { headers: { accept: 'application/json' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'ERR_NOT_FOUND' } });
  });
});

describe('in the whole system', () => {
  it('one logger from createSystem reaches the error handler, the discharge routes, the approval pages and the resync', async () => {
    const database2 = await incidentalBackend.open();
    const errors: string[] = [];
    const warnings: string[] = [];
    let resyncFailed: () => void = () => undefined;
    const resync = new Promise<void>((resolve) => (resyncFailed = resolve));
    const log = {
      error: (l: string) => void errors.push(l),
      warn: (l: string) => {
        warnings.push(l);
        if (l.includes('revocation resync failed')) resyncFailed();
      },
      info: () => undefined,
    };
    const consoleSpies = (['error', 'warn', 'info', 'log'] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => undefined));
    const system = await createSystem({ database: database2, masterKey: MasterKey.generate(), publicUrl: 'https://tessera.example', log, resyncMs: 50 });
    try {
      const admin = await system.mintAdminToken();
      const ticket = encodeTicket({ caveatKey: new Uint8Array(randomBytes(32)), condition: 'approve alice deploy', thirdPartyPublicKey: system.discharge.publicKey });
      await database2.close(); // from now on every database call fails
      const status = await system.app.request(`/v1/tokens/${admin.identifier}`, { headers: { authorization: `Macaroon ${admin.token}` } });
      expect(status.status).toBe(500);
      const asked = await system.app.request('/v1/discharge', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: Buffer.from(ticket).toString('base64url') }),
      });
      expect(asked.status).toBe(500);
      const page = await system.app.request('/approve/', { headers: { cookie: `tessera_session=${'A'.repeat(43)}` } });
      expect(page.status).toBe(500);
      await resync;
      expect(errors).toEqual([
        expect.stringMatching(/^tessera: GET \/v1\/tokens\/:id: ERR_STORAGE: /),
        expect.stringMatching(/^tessera: POST \/v1\/discharge: ERR_STORAGE: /),
        expect.stringMatching(/^tessera: approval pages: GET .*: ERR_STORAGE: /),
      ]);
      expect(warnings[0]).toBe('tessera: revocation resync failed: ERR_STORAGE');
      for (const spy of consoleSpies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of consoleSpies) spy.mockRestore();
      await system.close().catch(() => undefined);
    }
  });

  it('createSystem hashes new passwords at the passwordHashing cost given, and refuses one out of bounds at once', async () => {
    const system = await createSystem({ database, masterKey, publicUrl: 'https://tessera.example', log: () => undefined, passwordHashing: { N: 2 ** 11, r: 4, p: 2 } });
    try {
      await system.accounts.add({ name: 'hashing-cost', password: 'correct horse battery', groups: ['ops'] }, { actor: 'test' });
      expect((await system.store.users.get('hashing-cost'))?.passwordHash).toMatch(/^scrypt\$2048\$4\$2\$/);
      await system.store.users.remove('hashing-cost');
    } finally {
      await system.close();
    }
    for (const passwordHashing of [{ N: 1000, r: 8, p: 1 }, { N: 2 ** 21, r: 8, p: 1 }, { N: 2 ** 10, r: 0, p: 1 }]) {
      const e = await createSystem({ database, masterKey, publicUrl: 'https://tessera.example', log: () => undefined, passwordHashing }).then(
        (s) => s.close().then(() => undefined),
        (err: unknown) => err,
      );
      expect(e, JSON.stringify(passwordHashing)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
  });

  it('createSystem mounts the pages at /approve/, where the discharge service sends approvers', async () => {
    // The file's database, with its master key (the discharger key is sealed with it).
    const system = await createSystem({ database, masterKey, publicUrl: 'https://tessera.example', log: () => undefined });
    try {
      const ticket = encodeTicket({ caveatKey: new Uint8Array(randomBytes(32)), condition: 'approve alice deploy', thirdPartyPublicKey: system.discharge.publicKey });
      const asked = await system.discharge.request(ticket);
      if (asked.status !== 'pending') throw new Error('expected a pending request');
      const path = new URL(asked.approvalUrl).pathname;
      const bounce = await system.app.request(path);
      expect(bounce.status).toBe(303);
      expect(bounce.headers.get('location')).toBe(`/approve/login?next=${encodeURIComponent(path)}`);
      const login = await system.app.request('/approve/login');
      expect(login.status).toBe(200);
      expect(login.headers.get('content-security-policy')).toContain("script-src 'self'"); // the passkey script
      expect(login.headers.getSetCookie().join()).toMatch(/Secure/); // https public URL
    } finally {
      await system.close();
    }
  });
});
