/**
 * Passkeys in a real browser (#11 "Done when"): Debian's Chromium, driven by playwright-core,
 * with the DevTools virtual authenticator (CDP `WebAuthn.enable` / `addVirtualAuthenticator`:
 * CTAP2, internal, resident keys, user verification) against the whole system served on
 * loopback, reached as http://localhost:<port> (WebAuthn needs a domain for its RP ID, not an
 * IP address; localhost is a secure context), on PGlite: one backend, as the passkey repository
 * is tested on both in storage.test (and the approval pages drive Chromium on PostgreSQL in
 * browser.test).
 *
 * alice is in `ops`, a passkey-only group. Her password lets her in once, to register a
 * passkey, and that password session cannot approve the request addressed to `ops`. She
 * registers a passkey, logs out, signs in with it, approves, and the waiting client gets its
 * discharge. Afterwards her password is refused. The pages' script runs under their CSP with
 * no violation reported.
 *
 * erin is invited (`tessera users invite`) and sets her account up with a passkey instead of a
 * password: she registers it, signs out, signs in with it and approves; her link is then refused.
 *
 * Without Chromium at CHROMIUM_PATH (default /usr/bin/chromium) nothing runs, and it says so.
 */
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { hashPassword } from '../src/discharge/web/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createSystem, type System } from '../src/server/index.js';
import { MasterKey } from '../src/storage/index.js';
import { oneBackend, type TestBackend } from './support/databases.js';
import { CHROMIUM_PATH, closeServer, sharedChromium, listen, requestDischarge, signIn, waitForDischarge, type ServedSystem } from './support/web-system.js';
import { TEST_SCRYPT } from './support/passwords.js';

const browser: Browser | undefined = await sharedChromium();
if (browser === undefined) console.warn(`passkey browser tests not run: Chromium not found at ${CHROMIUM_PATH} (apt-get install chromium)`);

const PASSWORD = 'correct horse battery';

/** The system on 127.0.0.1, its public URL http://localhost:<port> (the browser's origin and the RP ID). */
async function serveOnLocalhost(database: Awaited<ReturnType<TestBackend['open']>>): Promise<{ served: ServedSystem; publicUrl: string }> {
  let system: System | undefined;
  const { server, port } = await listen((request, env) => (system === undefined ? new Response('starting', { status: 503 }) : system.app.fetch(request, env)));
  const publicUrl = `http://localhost:${port}`;
  system = await createSystem({ database, masterKey: MasterKey.generate(), publicUrl, log: () => undefined, passwordHashing: TEST_SCRYPT });
  const built = system;
  const served: ServedSystem = {
    baseUrl: `http://127.0.0.1:${port}`, // what this process fetches (no IPv6 guess for "localhost")
    system: built,
    async mint(condition, ...caveats) {
      const minted = await built.issuer.mint({ caveats, label: 'passkey browser test' });
      return addDischargeCaveat(Macaroon.decode(minted.token), { location: publicUrl, publicKey: built.discharge.publicKey, condition });
    },
    async addApprover(name, password, groups) {
      await built.store.users.create({ name, passwordHash: await hashPassword(password, TEST_SCRYPT), groups });
    },
    async close() {
      await closeServer(server);
      await built.close();
    },
  };
  return { served, publicUrl };
}

/** Every CSP violation Chromium reports on the page. */
function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|Trusted Type/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

/** A DevTools virtual authenticator for `page`: CTAP2, internal, resident keys, user verification. */
async function virtualAuthenticator(context: BrowserContext, page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { cdp, authenticatorId };
}

/** A discharge request waiting for approval: the token, its approval page's path, the waiting client. */
async function pendingApproval(served: ServedSystem, condition: string, caveat: string): Promise<{ token: Macaroon; requestPath: string; waiting: ReturnType<typeof waitForDischarge> }> {
  const token = await served.mint(condition, caveat);
  const asked = await requestDischarge(served, token);
  expect(asked.status).toBe(202);
  const pollUrl = new URL(new URL(asked.body.pollUrl).pathname, served.baseUrl).href;
  const waiting = waitForDischarge(pollUrl);
  waiting.catch(() => undefined); // awaited later; a failure before that must not go unhandled
  return { token, requestPath: new URL(asked.body.approvalUrl).pathname, waiting };
}

/** On /approve/passkeys: register a passkey with the page's authenticator (the script shows the button when the browser can). */
async function registerPasskey(page: Page): Promise<void> {
  const register = page.getByRole('button', { name: 'Register a passkey' });
  await register.waitFor({ state: 'visible' });
  await Promise.all([page.waitForResponse((r) => r.url().endsWith('/approve/passkeys/register') && r.status() === 200), register.click()]);
  await page.locator('main table').waitFor();
}

/** Log out, then sign in with the passkey from the sign-in page and land on `path` as `name`. */
async function logOutAndSignInWithPasskey(page: Page, publicUrl: string, path: string, name: string): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL((u) => u.pathname === '/approve/login');
  await page.goto(`${publicUrl}/approve/login?next=${encodeURIComponent(path)}`);
  const passkeyButton = page.getByRole('button', { name: 'Sign in with a passkey' });
  await passkeyButton.waitFor({ state: 'visible' });
  await Promise.all([page.waitForURL((u) => u.pathname === path), passkeyButton.click()]);
  expect(await page.locator('header').innerText()).toContain(`Signed in as ${name}`);
}

/** Approve on the request's page: the waiting client gets a discharge that verifies, approved by `name`. */
async function approveAndCollect(page: Page, served: ServedSystem, pending: Awaited<ReturnType<typeof pendingApproval>>, operation: string, name: string): Promise<void> {
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.waitForURL((u) => u.pathname === pending.requestPath);
  expect(await page.locator('.decision').innerText()).toMatch(new RegExp(`^Approved by ${name} at `));
  const result = await pending.waiting;
  expect(result.status).toBe(200);
  const discharge = Macaroon.decode(String(result.body.discharge));
  const verified = await served.system.verifier.verify(pending.token, { discharges: [pending.token.bindForRequest(discharge)], context: { operation } });
  expect(verified.declared.get('approved-by')).toBe(name);
}

describe.runIf(browser !== undefined).each(oneBackend('passkeys-browser', 'pglite'))('passkeys in Chromium on $name', (backend) => {
  let served: ServedSystem;
  let publicUrl: string;
  let context: BrowserContext;

  beforeAll(async () => {
    ({ served, publicUrl } = await serveOnLocalhost(await backend.open()));
    await served.addApprover('alice', PASSWORD, ['ops']);
    await served.system.store.passkeys.setGroupRequirement('ops', true);
    context = await (browser as Browser).newContext();
    return async () => {
      await context?.close();
      await served?.close();
    };
  });

  // A dozen page loads and two ceremonies: more than the default 20 s on a loaded machine.
  it('register a passkey with the virtual authenticator, sign out, sign in with it, approve', { timeout: 60_000 }, async () => {
    const pending = await pendingApproval(served, 'approve group:ops deploy the web app', 'ops deploy');
    const { requestPath } = pending;

    const page = await context.newPage();
    const violations = cspViolations(page);
    const { cdp, authenticatorId } = await virtualAuthenticator(context, page);

    // The password lets alice in only to register a passkey...
    await page.goto(`${publicUrl}/approve/login`);
    await signIn(page, 'alice', PASSWORD);
    expect(new URL(page.url()).pathname).toBe('/approve/passkeys');
    expect(await page.locator('main').innerText()).toContain('signs in and approves only with a passkey');
    // ...and that password session cannot approve for the passkey-only group.
    await page.goto(`${publicUrl}${requestPath}`);
    const refused = page.waitForResponse((r) => r.url().endsWith(`${requestPath}/approve`));
    await page.getByRole('button', { name: 'Approve' }).click();
    expect((await refused).status()).toBe(403);
    await page.waitForLoadState();
    expect(await page.locator('main').innerText()).toContain('only after signing in with a passkey');

    await page.goto(`${publicUrl}/approve/passkeys`);
    await registerPasskey(page);
    const stored = await served.system.store.passkeys.listForUser('alice');
    expect(stored).toHaveLength(1);
    expect(await page.locator('main table').innerText()).toContain(stored[0]!.id.slice(0, 16));
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });

    await logOutAndSignInWithPasskey(page, publicUrl, requestPath, 'alice');
    expect((await served.system.store.passkeys.get(stored[0]!.id))?.lastUsedAt).toBeInstanceOf(Date);

    await approveAndCollect(page, served, pending, 'deploy', 'alice');
    expect(violations).toEqual([]);
    await page.close();
  });

  it('an invitation link: set up with a passkey instead of a password, sign in with it, approve; the link then refused', { timeout: 60_000 }, async () => {
    const { token: secret } = await served.system.accounts.invite({ name: 'erin', groups: ['release'] }, { actor: 'test' });
    const link = `${publicUrl}/approve/enrol/${secret}`;
    const pending = await pendingApproval(served, 'approve group:release ship it', 'ops ship');
    const own = await (browser as Browser).newContext(); // erin's own browser: none of alice's cookies or passkeys
    try {
      const page = await own.newPage();
      const violations = cspViolations(page);
      const { cdp, authenticatorId } = await virtualAuthenticator(own, page);

      await page.goto(link);
      await Promise.all([page.waitForURL((u) => u.pathname === '/approve/passkeys'), page.getByRole('button', { name: 'Set up with a passkey instead' }).click()]);
      expect(await page.locator('main').innerText()).toContain('signs in and approves only with a passkey');
      expect(await served.system.store.users.get('erin')).toMatchObject({ groups: ['release'], requirePasskey: true });
      await registerPasskey(page);
      expect(await served.system.store.passkeys.listForUser('erin')).toHaveLength(1);
      expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials).toHaveLength(1);

      await logOutAndSignInWithPasskey(page, publicUrl, pending.requestPath, 'erin');
      await approveAndCollect(page, served, pending, 'ship', 'erin');

      const again = await page.goto(link);
      expect(again?.status()).toBe(409);
      expect(await page.locator('main').innerText()).toContain('This invitation was already used.');
      expect(violations).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it('a password sign-in for the passkey-only user is refused now that she has a passkey', async () => {
    const other = await (browser as Browser).newContext();
    try {
      const page = await other.newPage();
      await page.goto(`${publicUrl}/approve/login`);
      await page.getByLabel('User name').fill('alice');
      await page.getByLabel('Password').fill(PASSWORD);
      const answer = page.waitForResponse((r) => r.url().endsWith('/approve/login') && r.request().method() === 'POST');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      expect((await answer).status()).toBe(403);
      await page.waitForLoadState();
      expect(await page.getByRole('alert').first().innerText()).toContain('Your account signs in only with a passkey');
      expect(new URL(page.url()).pathname).toBe('/approve/login');
      await page.goto(`${publicUrl}/approve/`);
      expect(new URL(page.url()).pathname).toBe('/approve/login'); // no session was made
    } finally {
      await other.close();
    }
  });
});
