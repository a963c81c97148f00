/**
 * Invitation links (`tessera users invite`, POST /v1/invites): the enrolment page under the
 * approval pages sets the person's own password once; the link is refused the second time and
 * after 24 hours (an injected clock, not a wait). Its secret is stored only as a hash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INVITE_TTL_SECONDS, createAccounts } from '../src/discharge/accounts.js';
import { verifyPassword } from '../src/discharge/web/index.js';
import { createSystem, type System } from '../src/server/index.js';
import { MasterKey, createStore } from '../src/storage/index.js';
import { invites } from '../src/storage/schema.js';
import { hashSecret } from '../src/storage/util.js';
import { incidentalBackend, testBackends } from './support/databases.js';
import type { Database } from '../src/storage/index.js';
import { ORIGIN, PageClient } from './support/page-client.js';
import { TEST_SCRYPT } from './support/passwords.js';

let now = new Date('2026-12-01T09:00:00Z');
let database: Database;
let system: System;
let admin: string;

beforeAll(async () => {
  // Closed here, after the system (the backends' own cleanup may run first).
  database = await incidentalBackend.open();
  system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: ORIGIN, clock: () => now, log: () => undefined, passwordHashing: TEST_SCRYPT });
  admin = (await system.mintAdminToken()).token;
});
afterAll(async () => {
  await system.close();
  await database.close();
});

/** POST /v1/invites with the admin token: the link. */
async function invite(name: string, groups: string[]): Promise<{ url: string; expiresAt: string }> {
  const res = await system.app.request('/v1/invites', {
    method: 'POST',
    headers: { authorization: `Macaroon ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, groups }),
  });
  expect(res.status).toBe(201);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return (await res.json()) as { url: string; expiresAt: string };
}

const pathOf = (url: string): string => new URL(url).pathname;

/** Open the link in a fresh browser, choose a password: the answer to the form. */
async function enrol(url: string, password: string, again = password): Promise<{ browser: PageClient; res: Response }> {
  const browser = new PageClient(system.app);
  const csrf = await browser.csrfFrom(pathOf(url));
  const res = await browser.post(pathOf(url), { csrf, password, passwordAgain: again });
  return { browser, res };
}

describe('invitation links', () => {
  it('open a same-origin enrolment page; work once; the person is signed in as themselves', async () => {
    const link = await invite('alice', ['ops', 'release']);
    expect(link.url).toMatch(new RegExp(`^${ORIGIN}/approve/enrol/[A-Za-z0-9_-]{43}$`));
    expect(new Date(link.expiresAt).getTime()).toBe(now.getTime() + INVITE_TTL_SECONDS * 1000);
    // Only the hash of the secret is stored; the audit row names who invited whom, not the link.
    const secret = pathOf(link.url).split('/').pop() as string;
    expect(await system.store.invites.find(secret, now)).toMatchObject({ state: 'active', invite: { userName: 'alice', groups: ['ops', 'release'] } });
    const [event] = await system.store.audit.list({ action: 'user-invite', subject: 'alice' });
    expect(event?.actor).toMatch(/^admin:tsa1\./);
    expect(JSON.stringify(event)).not.toContain(secret);
    const rows = await system.database.db.select().from(invites);
    expect(rows.map((r) => Buffer.from(r.tokenHash).equals(hashSecret(secret)))).toContain(true);
    expect(JSON.stringify(rows)).not.toContain(secret);

    const page = await new PageClient(system.app).get(pathOf(link.url));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'none'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('<strong>alice</strong>');
    expect(html).toContain('name="passwordAgain"');
    expect(html).not.toContain('<script');

    const differ = await enrol(link.url, 'a fine password', 'another password');
    expect(differ.res.status).toBe(400);
    expect(await differ.res.text()).toContain('The two passwords differ.');
    const short = await enrol(link.url, 'short');
    expect(short.res.status).toBe(400);
    expect(await short.res.text()).toContain('at least 8');
    expect(await system.store.users.get('alice')).toBeUndefined();

    const { browser, res } = await enrol(link.url, 'alice chose this');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/approve/');
    const home = await browser.get('/approve/');
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Signed in as <strong>alice</strong>');
    const user = await system.store.users.get('alice');
    expect(user?.groups).toEqual(['ops', 'release']);
    expect(await verifyPassword('alice chose this', user?.passwordHash ?? '')).toBe(true);
    const [enrolled] = await system.store.audit.list({ action: 'user-enrol', subject: 'alice' });
    expect(enrolled).toMatchObject({ actor: 'alice', channel: 'approval-page' });
    expect(JSON.stringify(enrolled)).not.toContain('alice chose this');

    // The second time: refused, on the page and on the form; the password stays the first one.
    const again = await new PageClient(system.app).get(pathOf(link.url));
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('This invitation was already used.');
    const reuse = new PageClient(system.app);
    const csrf = await reuse.csrfFrom('/approve/login');
    const replay = await reuse.post(pathOf(link.url), { csrf, password: 'someone else now', passwordAgain: 'someone else now' });
    expect(replay.status).toBe(409);
    expect(await verifyPassword('alice chose this', (await system.store.users.get('alice'))?.passwordHash ?? '')).toBe(true);
  });

  it('expire after 24 hours', async () => {
    const link = await invite('bob', ['ops']);
    now = new Date(now.getTime() + INVITE_TTL_SECONDS * 1000 - 1000);
    expect((await new PageClient(system.app).get(pathOf(link.url))).status).toBe(200);
    const browser = new PageClient(system.app);
    const csrf = await browser.csrfFrom(pathOf(link.url));
    now = new Date(now.getTime() + 1000);
    const late = await browser.post(pathOf(link.url), { csrf, password: 'too late now', passwordAgain: 'too late now' });
    expect(late.status).toBe(409);
    expect(await late.text()).toContain('This invitation has expired.');
    expect((await new PageClient(system.app).get(pathOf(link.url))).status).toBe(409);
    expect(await system.store.users.get('bob')).toBeUndefined();
  });

  it('refuse unknown or malformed links, forms from elsewhere, and inviting an existing user', async () => {
    for (const path of ['/approve/enrol/' + 'A'.repeat(43), '/approve/enrol/short', '/approve/enrol/' + 'x'.repeat(5000)]) {
      const res = await new PageClient(system.app).get(path);
      expect(res.status, path.slice(0, 40)).toBe(404);
      expect(await res.text()).toContain('There is no such invitation.');
    }
    const link = await invite('carol', ['ops']);
    const browser = new PageClient(system.app);
    const csrf = await browser.csrfFrom(pathOf(link.url));
    expect((await browser.post(pathOf(link.url), { csrf: 'B'.repeat(43), password: 'carol password', passwordAgain: 'carol password' })).status).toBe(403);
    expect((await browser.post(pathOf(link.url), { csrf, password: 'carol password', passwordAgain: 'carol password' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect(await system.store.users.get('carol')).toBeUndefined();
    // A name taken since the invitation: refused, and the link stays usable for nobody else's sake.
    await system.accounts.add({ name: 'carol', groups: ['dev'], password: 'the first carol' }, { actor: 'test' });
    const taken = await browser.post(pathOf(link.url), { csrf, password: 'carol password', passwordAgain: 'carol password' });
    expect(taken.status).toBe(409);
    expect(await taken.text()).toContain('There is already a user carol. Ask whoever invited you for a new link.');
    expect((await system.store.users.get('carol'))?.groups).toEqual(['dev']);

    const res = await system.app.request('/v1/invites', {
      method: 'POST',
      headers: { authorization: `Macaroon ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice', groups: ['ops'] }),
    });
    expect(res.status).toBe(409);
    const bad = await system.app.request('/v1/invites', {
      method: 'POST',
      headers: { authorization: `Macaroon ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Not A Name', groups: ['ops'] }),
    });
    expect(bad.status).toBe(400);
  });
});

describe.each(testBackends('invites'))('one link, two people at once, on $name', (backend) => {
  it('exactly one of them enrols; the other is refused and nothing of theirs is kept', async () => {
    const store = createStore(await backend.open(), MasterKey.generate());
    const accounts = createAccounts({ store, scrypt: TEST_SCRYPT });
    const { token } = await accounts.invite({ name: 'hana', groups: ['ops'] }, { actor: 'test' });
    const results = await Promise.allSettled([accounts.enrol(token, 'first password'), accounts.enrol(token, 'second password')]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'ERR_CONFLICT' });
    const hana = await store.users.get('hana');
    const first = await verifyPassword('first password', hana?.passwordHash ?? '');
    const second = await verifyPassword('second password', hana?.passwordHash ?? '');
    expect([first, second].filter(Boolean)).toHaveLength(1);
    expect(await store.audit.list({ action: 'user-enrol', subject: 'hana' })).toHaveLength(1);
  });
});
