/**
 * Passkeys on the approval pages, in process (`createSystem` over app.request, a software
 * authenticator): registration and sign-in work, and every way an answer can be wrong is
 * refused with a clear 4xx (never a 5xx): a replayed or expired challenge, another origin, an
 * unknown credential, no user verification, a counter going back, a malformed answer, a
 * missing CSRF token. Passkey-only users and groups: the password is refused once a passkey
 * exists, and a password session cannot approve. The Chromium test (passkeys-browser.test.ts)
 * drives the same pages with a real browser's authenticator.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { Hono } from 'hono';
import { approvalPages, hashPassword, requiresPasskey } from '../src/discharge/web/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createSystem, type System } from '../src/server/index.js';
import { MasterKey } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';
import { ORIGIN, PageClient } from './support/page-client.js';
import { SoftAuthenticator, type Bend } from './support/soft-authenticator.js';
import { TEST_SCRYPT } from './support/passwords.js';

const PASSWORD = 'correct horse battery';
const clock = { now: new Date() };

let system: System;

beforeAll(async () => {
  const database = await incidentalBackend.open();
  system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: ORIGIN, clock: () => clock.now, log: () => undefined });
  const passwordHash = await hashPassword(PASSWORD, TEST_SCRYPT);
  await system.store.users.create({ name: 'alice', passwordHash, groups: ['ops'] });
  await system.store.users.create({ name: 'bob', passwordHash, groups: ['dev'] });
  await system.store.users.create({ name: 'carol', passwordHash, groups: ['dev'], requirePasskey: true });
  await system.store.passkeys.setGroupRequirement('ops', true);
  return async () => {
    await system.close();
    await database.close();
  };
});

interface Answer {
  readonly status: number;
  readonly body: { readonly next?: string; readonly options?: { readonly challenge: string }; readonly error?: { readonly code: string; readonly message: string } };
}

/** POST JSON from the pages' origin, as passkey.js does. */
async function postJson(client: PageClient, path: string, body: unknown, contentType = 'application/json'): Promise<Answer> {
  const res = await client.request(path, {
    method: 'POST',
    headers: { 'content-type': contentType, accept: 'application/json', origin: ORIGIN },
    body: JSON.stringify(body),
  });
  expect(res.status, `${path}: ${res.status}`).toBeLessThan(500);
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** A passkey sign-in ceremony in `client`: options, then the authenticator's (bent) answer. */
async function passkeySignIn(client: PageClient, authenticator: SoftAuthenticator, bend: Bend = {}): Promise<{ answer: Answer; credential: Record<string, unknown>; csrf: string }> {
  const csrf = await client.csrfFrom('/approve/login');
  const started = await postJson(client, '/approve/login/passkey/options', { csrf });
  expect(started.status).toBe(200);
  expect(started.body.options).toMatchObject({ rpId: 'localhost', userVerification: 'required' });
  const credential = authenticator.assert(started.body.options as { challenge: string }, bend);
  return { answer: await postJson(client, '/approve/login/passkey', { csrf, next: '/approve/history', credential }), credential, csrf };
}

/** Sign in with the password and register `authenticator`'s passkey for that user. */
async function registerWithPassword(name: string, authenticator: SoftAuthenticator): Promise<PageClient> {
  const client = new PageClient(system.app);
  expect((await client.login(name, PASSWORD)).status).toBe(303);
  const csrf = await client.csrfFrom('/approve/passkeys');
  const started = await postJson(client, '/approve/passkeys/options', { csrf });
  expect(started.status).toBe(200);
  expect(started.body.options).toMatchObject({ rp: { id: 'localhost' }, authenticatorSelection: { residentKey: 'required', userVerification: 'required' } });
  const registered = await postJson(client, '/approve/passkeys/register', { csrf, credential: authenticator.register(started.body.options as { challenge: string }) });
  expect(registered).toEqual({ status: 200, body: { next: '/approve/passkeys' } });
  return client;
}

/** A pending discharge request with this condition; its page's path. */
async function ask(condition: string): Promise<string> {
  const minted = await system.issuer.mint({ caveats: [], label: 'passkey test' });
  const token = addDischargeCaveat(Macaroon.decode(minted.token), { location: ORIGIN, publicKey: system.discharge.publicKey, condition });
  const third = token.caveats.find((c) => c.location !== undefined);
  const res = await system.app.request('/v1/discharge', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: Buffer.from(third?.identifier ?? []).toString('base64url'), caveats: [] }),
  });
  expect(res.status).toBe(202);
  return new URL(((await res.json()) as { approvalUrl: string }).approvalUrl).pathname;
}

describe('passkeys on the approval pages (in process)', () => {
  const bobKey = new SoftAuthenticator(ORIGIN, 'localhost');

  it('the pages allow their own script file and nothing inline', async () => {
    const res = await system.app.request('/approve/login');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toContain('unsafe');
    const page = await res.text();
    expect(page).toContain('<script src="/approve/passkey.js" defer></script>');
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
    expect((await system.app.request('/approve/history')).headers.get('content-security-policy')).toContain("script-src 'none'");
    const script = await system.app.request('/approve/passkey.js');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('parseRequestOptionsFromJSON');
  });

  it('no passkeys where WebAuthn cannot work: a public URL whose host is an IP address', async () => {
    const app = new Hono().route('/approve', approvalPages({ service: system.discharge, store: system.store, publicUrl: 'http://127.0.0.1:8470', log: () => undefined }));
    const login = await app.request('/approve/login');
    expect(login.headers.get('content-security-policy')).toContain("script-src 'none'");
    expect(await login.text()).not.toContain('passkey');
    expect((await app.request('/approve/passkey.js')).status).toBe(404);
    const client = new PageClient(app);
    const signedIn = await client.login('carol', PASSWORD); // passkey-only, but no passkeys here
    expect(signedIn.headers.get('location')).toBe('/approve/');
    expect(await (await client.get('/approve/')).text()).not.toContain('/approve/passkeys');
  });

  it('register with a password session, then sign in with the passkey: the session says passkey', async () => {
    const registered = await registerWithPassword('bob', bobKey);
    expect(await (await registered.get('/approve/passkeys')).text()).toContain(bobKey.id.slice(0, 16));
    const stored = await system.store.passkeys.get(bobKey.id);
    expect(stored).toMatchObject({ userName: 'bob', counter: 0, transports: ['internal'] });

    const browser = new PageClient(system.app);
    const { answer } = await passkeySignIn(browser, bobKey);
    expect(answer).toEqual({ status: 200, body: { next: '/approve/history' } });
    const home = await browser.get('/approve/');
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Signed in as <strong>bob</strong>');
    expect((await system.store.passkeys.get(bobKey.id))?.counter).toBe(bobKey.counter);
    const audit = await system.store.audit.list({ actor: 'bob' });
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['passkey-register', 'login']));
  });

  it('a replayed answer is refused: its challenge was used', async () => {
    const first = new PageClient(system.app);
    const { answer, credential, csrf } = await passkeySignIn(first, bobKey);
    expect(answer.status).toBe(200);
    // The same answer again from another browser with its own ceremony: another challenge.
    const other = new PageClient(system.app);
    const otherCsrf = await other.csrfFrom('/approve/login');
    expect((await postJson(other, '/approve/login/passkey/options', { csrf: otherCsrf })).status).toBe(200);
    const replayed = await postJson(other, '/approve/login/passkey', { csrf: otherCsrf, credential });
    expect(replayed.status).toBe(401);
    expect(replayed.body.error).toMatchObject({ code: 'ERR_UNAUTHENTICATED', message: expect.stringMatching(/another challenge/) });
    // And in a browser with no ceremony in flight (the first one's challenge was taken).
    const stale = new PageClient(system.app);
    stale.cookies.set('tessera_login_csrf', csrf);
    const again = await postJson(stale, '/approve/login/passkey', { csrf, credential });
    expect(again.status).toBe(401);
    expect(again.body.error?.message).toMatch(/No passkey sign-in is in progress/);
  });

  it('a failed answer uses its challenge up; an expired challenge is refused', async () => {
    const browser = new PageClient(system.app);
    const wrong = await passkeySignIn(browser, bobKey, { origin: 'http://evil.example' });
    expect(wrong.answer.status).toBe(401);
    expect(wrong.answer.body.error).toMatchObject({ code: 'ERR_UNAUTHENTICATED', message: expect.stringMatching(/another web address \(origin\)/) });
    expect(wrong.answer.body.error?.message).not.toContain('evil.example');

    const csrf = await browser.csrfFrom('/approve/login');
    const started = await postJson(browser, '/approve/login/passkey/options', { csrf });
    clock.now = new Date(clock.now.getTime() + 301_000);
    try {
      const late = await postJson(browser, '/approve/login/passkey', { csrf, credential: bobKey.assert(started.body.options as { challenge: string }) });
      expect(late.status).toBe(401);
      expect(late.body.error?.message).toMatch(/No passkey sign-in is in progress/);
    } finally {
      clock.now = new Date();
    }
  });

  it('an unknown credential, a missing user verification and a counter going back are refused', async () => {
    const stranger = new SoftAuthenticator(ORIGIN, 'localhost');
    const unknown = await passkeySignIn(new PageClient(system.app), stranger);
    expect(unknown.answer).toMatchObject({ status: 401, body: { error: { code: 'ERR_UNAUTHENTICATED', message: expect.stringMatching(/not registered here/) } } });

    const noUv = await passkeySignIn(new PageClient(system.app), bobKey, { userVerified: false });
    expect(noUv.answer).toMatchObject({ status: 401, body: { error: { message: expect.stringMatching(/did not verify you/) } } });

    const cloned = await passkeySignIn(new PageClient(system.app), bobKey, { counter: 1 });
    expect(cloned.answer).toMatchObject({ status: 401, body: { error: { message: expect.stringMatching(/counter went backwards/) } } });

    const otherSite = new SoftAuthenticator(ORIGIN, 'evil.example');
    const wrongRp = await passkeySignIn(new PageClient(system.app), otherSite, { id: bobKey.id });
    expect(wrongRp.answer).toMatchObject({ status: 401, body: { error: { message: expect.stringMatching(/another site \(RP ID\)/) } } });
  });

  it('malformed answers, forms from elsewhere and missing CSRF tokens are refused without a 5xx', async () => {
    const browser = new PageClient(system.app);
    const csrf = await browser.csrfFrom('/approve/login');
    expect((await postJson(browser, '/approve/login/passkey/options', { csrf })).status).toBe(200);
    for (const credential of [undefined, 'x', { id: 'a', rawId: 'b', type: 'public-key', response: {} }, { id: '!!', rawId: '!!', type: 'public-key', response: {} }, { id: 'a'.repeat(5000), type: 'public-key', response: {} }]) {
      const r = await postJson(browser, '/approve/login/passkey', { csrf, credential });
      expect(r.status).toBe(400);
      expect(r.body.error?.code).toBe('ERR_INVALID_ARGUMENT');
    }
    expect((await postJson(browser, '/approve/login/passkey/options', { csrf: 'A'.repeat(43) })).body.error?.code).toBe('ERR_CSRF');
    expect((await postJson(browser, '/approve/login/passkey/options', {})).status).toBe(403);
    const asText = await postJson(browser, '/approve/login/passkey/options', { csrf }, 'text/plain');
    expect(asText).toMatchObject({ status: 400, body: { error: { code: 'ERR_INVALID_ARGUMENT', message: 'Send this as application/json.' } } });
    // What a cross-site page can send without a preflight: a "simple" content type, refused by the origin check.
    const crossSite = await browser.request('/approve/login/passkey/options', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', accept: 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify({ csrf }),
    });
    expect(crossSite.status).toBe(403);
    expect(((await crossSite.json()) as Answer['body']).error?.code).toBe('ERR_CSRF');
    const signedOut = await postJson(new PageClient(system.app), '/approve/passkeys/options', { csrf });
    expect(signedOut.body.error?.code).toBe('ERR_UNAUTHENTICATED');
  });

  it('a registration answer works once', async () => {
    const key = new SoftAuthenticator(ORIGIN, 'localhost');
    const client = new PageClient(system.app);
    expect((await client.login('bob', PASSWORD)).status).toBe(303);
    const csrf = await client.csrfFrom('/approve/passkeys');
    const started = await postJson(client, '/approve/passkeys/options', { csrf });
    expect(started.body.options).toMatchObject({ excludeCredentials: [{ id: bobKey.id }] });
    const credential = key.register(started.body.options as { challenge: string });
    expect((await postJson(client, '/approve/passkeys/register', { csrf, credential })).status).toBe(200);
    const again = await postJson(client, '/approve/passkeys/register', { csrf, credential });
    expect(again).toMatchObject({ status: 400, body: { error: { code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/No passkey registration is in progress/) } } });
    const elsewhere = await postJson(client, '/approve/passkeys/options', { csrf });
    const wrongOrigin = await postJson(client, '/approve/passkeys/register', { csrf, credential: new SoftAuthenticator('http://evil.example', 'localhost').register(elsewhere.body.options as { challenge: string }) });
    expect(wrongOrigin).toMatchObject({ status: 400, body: { error: { message: expect.stringMatching(/could not be registered: it was made on another web address/) } } });
  });

  it('passkey-only: the password is refused once a passkey exists, and a password session cannot approve', async () => {
    // carol requires a passkey and has none: the password lets her in, to register one.
    const carol = new PageClient(system.app);
    const first = await carol.login('carol', PASSWORD);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/approve/passkeys');
    const page = await (await carol.get('/approve/passkeys')).text();
    expect(page).toContain('signs in and approves only with a passkey');
    const carolRequest = await ask('approve carol restart the cache');
    const refused = await carol.post(`${carolRequest}/approve`, { csrf: await carol.csrfFrom(carolRequest) });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('Passkey required');

    const carolKey = new SoftAuthenticator(ORIGIN, 'localhost');
    const csrf = await carol.csrfFrom('/approve/passkeys');
    const started = await postJson(carol, '/approve/passkeys/options', { csrf });
    expect((await postJson(carol, '/approve/passkeys/register', { csrf, credential: carolKey.register(started.body.options as { challenge: string }) })).status).toBe(200);
    const second = await new PageClient(system.app).login('carol', PASSWORD);
    expect(second.status).toBe(403);
    expect(await second.text()).toContain('Your account signs in only with a passkey');
    const wrong = await new PageClient(system.app).login('carol', 'not the password');
    expect(wrong.status).toBe(401); // a wrong password learns nothing about passkeys

    const withPasskey = new PageClient(system.app);
    expect((await passkeySignIn(withPasskey, carolKey)).answer.status).toBe(200);
    const approved = await withPasskey.post(`${carolRequest}/approve`, { csrf: await withPasskey.csrfFrom(carolRequest) });
    expect(approved.status).toBe(303);

    // Her passkeys are hers to remove, but only from a passkey session (the enrolling password session cannot).
    const fromPassword = await carol.post('/approve/passkeys/remove', { csrf: await carol.csrfFrom('/approve/passkeys'), id: carolKey.id });
    expect(fromPassword.status).toBe(403);
    const others = await withPasskey.post('/approve/passkeys/remove', { csrf: await withPasskey.csrfFrom('/approve/passkeys'), id: bobKey.id });
    expect(others.status).toBe(404);
    expect(await system.store.passkeys.get(bobKey.id)).toBeDefined();
    const removed = await withPasskey.post('/approve/passkeys/remove', { csrf: await withPasskey.csrfFrom('/approve/passkeys'), id: carolKey.id });
    expect(removed.status).toBe(303);
    expect(await system.store.passkeys.countForUser('carol')).toBe(0);
    expect((await system.store.audit.list({ action: 'passkey-remove' })).map((e) => e.actor)).toEqual(['carol']);
  });

  it('a request to a passkey-only group cannot be approved from a password session; requiresPasskey says why', async () => {
    await expect(requiresPasskey(system.store, 'alice', 'group:ops')).resolves.toBe(true);
    await expect(requiresPasskey(system.store, 'bob', 'group:dev')).resolves.toBe(false);
    await expect(requiresPasskey(system.store, 'bob', 'carol')).resolves.toBe(true);
    await expect(requiresPasskey(system.store, 'nobody', 'group:dev')).resolves.toBe(true);
    await expect(requiresPasskey(system.store, 'bob', 'group:NOT VALID')).resolves.toBe(true);

    const request = await ask('approve group:ops deploy');
    const alice = new PageClient(system.app);
    expect((await alice.login('alice', PASSWORD)).headers.get('location')).toBe('/approve/passkeys');
    const refused = await alice.post(`${request}/approve`, { csrf: await alice.csrfFrom(request) });
    expect(refused.status).toBe(403);
    const id = request.split('/').at(-1) as string;
    expect((await system.discharge.get(id, { name: 'alice', groups: ['ops'] }))?.status).toBe('pending');
    // Deny stays possible: it grants nothing.
    const denied = await alice.post(`${request}/deny`, { csrf: await alice.csrfFrom(request), reason: 'not now' });
    expect(denied.status).toBe(303);
  });
});
