/**
 * Invitation links enrolling with a passkey instead of a password (#11, item 3), in process:
 * the enrolment page offers it (a plain form, no script) where the system offers passkeys; the
 * account made is passkey-only and has no password that verifies, so a password sign-in for it
 * fails like any wrong password; the link is spent once, whichever way it is used; where
 * passkeys are unavailable the page offers none and such a POST is refused, leaving the link
 * usable. The Chromium test (passkeys-browser.test.ts) registers the passkey and approves.
 */
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { approvalPages, isPasswordHash, verifyPassword } from '../src/discharge/web/index.js';
import { createSystem, type System } from '../src/server/index.js';
import { MasterKey } from '../src/storage/index.js';
import { incidentalBackend } from './support/databases.js';
import { ORIGIN, PageClient } from './support/page-client.js';
import { TEST_SCRYPT } from './support/passwords.js';

const INVITER = { actor: 'test' } as const;
let system: System;

beforeAll(async () => {
  const database = await incidentalBackend.open();
  system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl: ORIGIN, log: () => undefined, passwordHashing: TEST_SCRYPT });
  return async () => {
    await system.close();
    await database.close();
  };
});

/** An invitation for `name` in `ops`: its secret and its link's path. */
async function invite(name: string): Promise<{ secret: string; path: string }> {
  const { token } = await system.accounts.invite({ name, groups: ['ops'] }, INVITER);
  return { secret: token, path: `/approve/enrol/${token}` };
}

/** Open the link in a fresh browser and post its form with these fields (the CSRF token added). */
async function post(app: Hono, path: string, fields: Record<string, string>): Promise<{ browser: PageClient; res: Response }> {
  const browser = new PageClient(app);
  const csrf = await browser.csrfFrom(path);
  return { browser, res: await browser.post(path, { csrf, ...fields }) };
}

describe('enrolling with a passkey through an invitation link', () => {
  it('makes a passkey-only account with no usable password, signed in to register its passkey; the link works once', async () => {
    const { secret, path } = await invite('dana');
    const page = await new PageClient(system.app).get(path);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'none'");
    const html = await page.text();
    expect(html).toContain('Set up with a passkey instead');
    expect(html).toContain('<input type="hidden" name="method" value="passkey">');
    expect(html).not.toContain('<script');

    const { browser, res } = await post(system.app, path, { method: 'passkey' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/approve/passkeys');
    const dana = await system.store.users.get('dana');
    expect(dana).toMatchObject({ groups: ['ops'], requirePasskey: true });
    // A real scrypt hash (a guess costs as much as for anyone), of nothing anyone knows.
    expect(isPasswordHash(dana?.passwordHash ?? '')).toBe(true);
    expect(await verifyPassword(secret, dana?.passwordHash ?? '')).toBe(false);
    const [enrolled] = await system.store.audit.list({ action: 'user-enrol', subject: 'dana' });
    expect(enrolled).toMatchObject({ actor: 'dana', channel: 'approval-page', details: { groups: ['ops'], invitedBy: 'test', method: 'passkey' } });

    // The session may register a passkey (the page's button is there) and cannot approve yet.
    const passkeys = await browser.get('/approve/passkeys');
    expect(passkeys.status).toBe(200);
    const passkeysHtml = await passkeys.text();
    expect(passkeysHtml).toContain('data-passkey="register"');
    expect(passkeysHtml).toContain('until then you cannot approve');

    // A password sign-in fails as a wrong password does (401, not the 403 of a right one).
    for (const guess of [secret, 'correct horse battery']) {
      const signIn = await new PageClient(system.app).login('dana', guess);
      expect(signIn.status, guess).toBe(401);
      expect(await signIn.text()).toContain('Wrong user name or password.');
    }

    // Spent: refused to a second visitor, by either method; the account stays as it was.
    expect((await new PageClient(system.app).get(path)).status).toBe(409);
    const replay = new PageClient(system.app);
    const csrf = await replay.csrfFrom('/approve/login');
    for (const fields of [{ method: 'passkey' }, { password: 'now a password', passwordAgain: 'now a password' }] as Record<string, string>[]) {
      const again = await replay.post(path, { csrf, ...fields });
      expect(again.status).toBe(409);
      expect(await again.text()).toContain('This invitation was already used.');
    }
    expect((await system.store.users.get('dana'))?.passwordHash).toBe(dana?.passwordHash);
  });

  it('one link used both ways at once: exactly one enrolment', async () => {
    const { secret } = await invite('emil');
    const results = await Promise.allSettled([system.accounts.enrol(secret, 'emil password'), system.accounts.enrolWithPasskey(secret)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_CONFLICT' });
    // Whichever won: a password account whose password verifies, or a passkey-only one whose does not.
    const emil = await system.store.users.get('emil');
    expect(emil).toBeDefined();
    expect(await verifyPassword('emil password', emil?.passwordHash ?? '')).toBe(emil?.requirePasskey === false);
    expect(await system.store.audit.list({ action: 'user-enrol', subject: 'emil' })).toHaveLength(1);
  });

  it('where the system offers no passkeys (an IP address for a public URL): not offered, a passkey POST refused, the link still usable', async () => {
    const app = new Hono().route('/approve', approvalPages({ service: system.discharge, store: system.store, accounts: system.accounts, publicUrl: 'http://127.0.0.1:8470', log: () => undefined }));
    const { path } = await invite('fern');
    const html = await (await new PageClient(app).get(path)).text();
    expect(html).toContain('name="passwordAgain"');
    expect(html).not.toContain('passkey');

    const refused = await post(app, path, { method: 'passkey' });
    expect(refused.res.status).toBe(400);
    expect(await refused.res.text()).toContain('This server offers no passkeys (its public URL has no domain name): choose a password.');
    const unknown = await post(app, path, { method: 'carrier-pigeon', password: 'fern password', passwordAgain: 'fern password' });
    expect(unknown.res.status).toBe(400);
    expect(await unknown.res.text()).toContain('Choose a password or a passkey.');
    expect(await system.store.users.get('fern')).toBeUndefined();

    const { res } = await post(app, path, { password: 'fern password', passwordAgain: 'fern password' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/approve/');
    expect(await system.store.users.get('fern')).toMatchObject({ requirePasskey: false });
  });
});

describe('a passkey enrolment never finished (no passkey registered): an invitation to finish', () => {
  const addPasskey = (userName: string, id: string) => system.store.passkeys.add({ id, userName, publicKey: new Uint8Array(77).fill(1), counter: 0 });

  it('the same name invited again, to the same groups, finishes with a password that only lets them register a passkey', async () => {
    const first = await invite('gina');
    await system.accounts.enrolWithPasskey(first.secret); // and the browser closed before the passkey
    const before = await system.store.users.get('gina');
    expect(before).toMatchObject({ requirePasskey: true });

    await expect(system.accounts.invite({ name: 'gina', groups: ['ops', 'release'] }, INVITER)).rejects.toMatchObject({ code: 'ERR_CONFLICT', details: { field: 'groups' } });
    const again = await invite('gina');
    const [audited] = await system.store.audit.list({ action: 'user-invite', subject: 'gina', limit: 1 });
    expect(audited?.details).toMatchObject({ groups: ['ops'], finishing: 'true' });

    const { browser, res } = await post(system.app, again.path, { password: 'gina finally a password', passwordAgain: 'gina finally a password' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/approve/passkeys');
    expect(await (await browser.get('/approve/passkeys')).text()).toContain('data-passkey="register"');
    const gina = await system.store.users.get('gina');
    expect(gina).toMatchObject({ requirePasskey: true, groups: ['ops'], createdAt: before?.createdAt });
    expect(await verifyPassword('gina finally a password', gina?.passwordHash ?? '')).toBe(true);
    const [enrolled] = await system.store.audit.list({ action: 'user-enrol', subject: 'gina', limit: 1 });
    expect(enrolled?.details).toMatchObject({ method: 'password', finishing: 'true' });

    // The password lets her in to register a passkey; once she has one it is refused, and so is
    // another invitation to finish.
    expect((await new PageClient(system.app).login('gina', 'gina finally a password')).headers.get('location')).toBe('/approve/passkeys');
    await addPasskey('gina', 'gina-passkey-1');
    expect((await new PageClient(system.app).login('gina', 'gina finally a password')).status).toBe(403);
    await expect(system.accounts.invite({ name: 'gina', groups: ['ops'] }, INVITER)).rejects.toMatchObject({ code: 'ERR_CONFLICT', details: { field: 'name' } });
    expect((await new PageClient(system.app).get(again.path)).status).toBe(409); // spent
  });

  it('finishing with a passkey signs them in to register it; a passkey registered after the invitation makes the link refused', async () => {
    const first = await invite('hugo');
    await system.accounts.enrolWithPasskey(first.secret);
    const hash = (await system.store.users.get('hugo'))?.passwordHash;
    const again = await invite('hugo');
    const { res } = await post(system.app, again.path, { method: 'passkey' });
    expect(res.headers.get('location')).toBe('/approve/passkeys');
    expect((await system.store.users.get('hugo'))?.passwordHash).toBe(hash); // still no usable password

    const late = await invite('hugo');
    await addPasskey('hugo', 'hugo-passkey-1'); // registered from the first session meanwhile
    const refused = await post(system.app, late.path, { password: 'hugo late password', passwordAgain: 'hugo late password' });
    expect(refused.res.status).toBe(409);
    expect(await refused.res.text()).toContain('There is already a user hugo.');
    expect((await system.store.users.get('hugo'))?.passwordHash).toBe(hash);
  });

  it('an account with a password is never invited again', async () => {
    await system.accounts.enrol((await invite('iris')).secret, 'iris own password');
    await expect(system.accounts.invite({ name: 'iris', groups: ['ops'] }, INVITER)).rejects.toMatchObject({ code: 'ERR_CONFLICT', details: { field: 'name' } });
  });
});
